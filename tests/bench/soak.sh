#!/usr/bin/env bash
# soak.sh: `make soak` -- a simulated week of steady alerts at accelerated
# time, under the master (build/bin/opsbot), to see that the databases stay
# bounded once retention applies.  Not part of make test or make bench.
#
# The master runs opsbot-queue and opsbot-bot from a config the script makes
# from the shipped config/opsbot.conf + config/slack.example.conf, with time
# scaled by SCALE = one week / (SOAK_MINUTES * 60 s) (5 minutes: 2016x):
#   retain_jobs, retain_events, retain_keys, and [bot] retain_posts
#                                             SOAK_RETAIN (1d) scaled, so
#       retention applies from the second simulated day (the shipped 7d/30d
#       would first prune after the week);
#   prune_interval 1h (queue and bot), group_window 10m, approval_expiry 30m   scaled;
#   Slack's per-second posting limits cannot be scaled with the clock, so
#       they are off on both sides (fake-slack --post-rate 0, channel_rate 0,
#       method_limits no): the chat side keeps up and what is measured is
#       storage.
# No pipeline worker for detect .. verify runs: an incident's first job waits
# until its group resolves, which cancels it; the jobs a resolution starts
# (report, index) are completed by test-worker (tests/tools), the real
# worker loop over the real queue, standing in for stages with no worker in
# this build.  Finished jobs then age out under retain_jobs.
#
# soak_drive.py sends the traffic (EPISODES_PER_DAY, default 288 simulated:
# firing, +1 alert after 5 min, resolved after 20 min) and samples sizes and
# row counts at each simulated day.  Prints one JSON line:
# {"bench":"soak", ..., "db_bytes_start", "db_bytes_end", "bot_db_bytes_start",
#  "bot_db_bytes_end", "rss_mb": {"master","queue","bot"}, "bounded": true|false}
# and exits 1 when not bounded:
#   - rows retention prunes (finished jobs, standalone events, idempotency
#     keys) at the end exceed 1.5x their count on day 2, plus 100; or
#   - bot.db's per-post rows (post intents + posted) at the end exceed 1.5x
#     their count on day 2, plus 100; or
#   - opsbot.db (+ -wal) or bot.db (+ -wal) grew faster than the incidents
#     they keep: end size > day-2 size x incidents(end)/incidents(day 2)
#     x 1.25 + 4 MiB (WAL and page slack).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/bench_lib.sh"
export SLACK_BOT_TOKEN=xoxb-fake SLACK_APP_TOKEN=xapp-fake
export OPSBOT_HOOK_TOKEN=soak-bench-$$
MIN=${SOAK_MINUTES:-5}
REAL=$(awk -v m="$MIN" 'BEGIN { printf "%d", m * 60 }')
[ "$REAL" -ge 30 ] || { echo "soak: SOAK_MINUTES must be at least 0.5" >&2; exit 2; }
SCALE=$(awk -v r="$REAL" 'BEGIN { printf "%.3f", 604800 / r }')
# a duration in simulated seconds -> milliseconds of real time
scaled() { awk -v s="$1" -v k="$SCALE" 'BEGIN { v = s * 1000 / k; printf "%dms", (v < 1 ? 1 : v) }'; }
secs() {  # 1d, 7d, 12h, 30m, 45s -> seconds
  case $1 in
    *d) echo $((${1%d} * 86400)) ;; *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;; *s) echo "${1%s}" ;; *) echo "$1" ;;
  esac
}
RETAIN=$(scaled "$(secs "${SOAK_RETAIN:-1d}")")
bench_setup
T_DEADLINE=30

t_start fake-slack fake-slack --port-file "$T/var/run/fs.port" --post-rate 0
t_wait "fake-slack port" test -s "$T/var/run/fs.port"
FS_PORT=$(cat "$T/var/run/fs.port")
shipped_conf "$FS_PORT" >"$T/opsbot.conf" <<CONF || t_fail "could not write the config"
[queue]
retain_jobs = $RETAIN
retain_events = $RETAIN
retain_keys = $RETAIN
prune_interval = $(scaled 3600)
[bot]
retain_posts = $RETAIN
prune_interval = $(scaled 3600)
[pipeline]
group_window = $(scaled 600)
approval_expiry = $(scaled 1800)
[slack]
channel_rate = 0
method_limits = no
[master]
stop_timeout = 10s
[daemons]
queue = opsbot-queue
bot = opsbot-bot
# stands in for the report worker and the index stage (no worker for their
# jobs in this build): completes them at once, so they finish and age out
stages_after = test-worker --kind report --kind index
CONF

t_start master opsbot -c "$T/opsbot.conf"
dpid() { jq -r --arg n "$1" '.daemons[] | select(.name == $n and .state == "running") | .pid' \
  "$T/var/run/opsbot-master.json" 2>/dev/null; }
up() { [ -n "$(dpid queue)" ] && [ -n "$(dpid bot)" ] && [ -s "$T/var/run/bot.port" ]; }
t_wait "the master runs queue and bot" up
connected() { [ "$(curl -sf "http://127.0.0.1:$FS_PORT/control/stats" | jq .connections)" -ge 1 ]; }
t_wait "Socket Mode connection" connected
qpid=$(dpid queue) bpid=$(dpid bot)
echo "soak: $MIN min real = 7 simulated days (x$SCALE); retention $RETAIN real; $T" >&2

python3 "$BENCH_SRC/tests/bench/soak_drive.py" "http://127.0.0.1:$(cat "$T/var/run/bot.port")" \
  "$T" "$SCALE" "$REAL" >"$T/drive.json" || t_fail "soak driver failed"

[ "$(dpid queue)" = "$qpid" ] || t_fail "opsbot-queue was restarted during the soak (pid $qpid -> $(dpid queue))"
[ "$(dpid bot)" = "$bpid" ] || t_fail "opsbot-bot was restarted during the soak (pid $bpid -> $(dpid bot))"
pruned=$(wirecat "ipc://$T/var/run/opsbot-queue.ipc" '{"type":"query","what":"stats"}' | jq -c .stats.pruned)
refused=$(grep -c 'event=hook_note_refused' "$T/master.log")
jq -c --argjson qrss "$(rss_mb "$qpid")" --argjson brss "$(rss_mb "$bpid")" \
  --argjson mrss "$(rss_mb "$PID_master")" --argjson pruned "${pruned:-null}" \
  --argjson refused "$refused" --argjson real "$REAL" --argjson scale "$SCALE" '
  .samples as $s | ($s[0]) as $a | ($s[-1]) as $z
  | ([$s[] | select(.day == 2)][0]) as $d2
  | def prunable(x): (x.jobs + x.standalone_events + x.keys);
    def botrows(x): ((x.bot_intents // 0) + (x.bot_posted // 0));
    def grown(k): ($z[k] > ($d2[k] * ($z.incidents / ([$d2.incidents, 1] | max)) * 1.25 + 4194304));
    (if $d2 == null then ["fewer than 3 simulated days sampled"] else
      [(if prunable($z) > prunable($d2) * 1.5 + 100 then
          "rows retention prunes grew from \(prunable($d2)) (day 2) to \(prunable($z))" else empty end),
       (if botrows($z) > botrows($d2) * 1.5 + 100 then
          "bot.db post intents + posted rows grew from \(botrows($d2)) (day 2) to \(botrows($z))" else empty end),
       (if grown("db_bytes") then "opsbot.db grew from \($d2.db_bytes) (day 2) to \($z.db_bytes) bytes, faster than its incidents (\($d2.incidents) -> \($z.incidents))" else empty end),
       (if grown("bot_db_bytes") then "bot.db grew from \($d2.bot_db_bytes) (day 2) to \($z.bot_db_bytes) bytes, faster than the incidents (\($d2.incidents) -> \($z.incidents))" else empty end)]
     end) as $why
  | {bench: "soak", simulated_days: .simulated_days, real_s: $real, scale: $scale,
     episodes: .episodes, notifications: .notifications, http_codes: .http_codes,
     incidents: $z.incidents, open_incidents: $z.open_incidents, notes_refused: $refused,
     db_bytes_start: $a.db_bytes, db_bytes_end: $z.db_bytes, wal_bytes_end: $z.wal_bytes,
     bot_db_bytes_start: $a.bot_db_bytes, bot_db_bytes_end: $z.bot_db_bytes,
     prunable_rows_day2: (if $d2 then prunable($d2) else null end), prunable_rows_end: prunable($z),
     events_end: $z.events, pruned: $pruned,
     bot_post_rows_day2: (if $d2 then botrows($d2) else null end), bot_post_rows_end: botrows($z),
     bot_intents_end: $z.bot_intents,
     rss_mb: {master: $mrss, queue: $qrss, bot: $brss},
     bounded: (($why | length) == 0), why: $why}' "$T/drive.json" >"$T/soak.json" ||
  t_fail "could not summarise $T/drive.json"
cat "$T/soak.json"
if [ "$(jq -r .bounded "$T/soak.json")" != true ]; then
  jq -r '.why[] | "soak: FAIL: " + .' "$T/soak.json" >&2
  exit 1
fi
