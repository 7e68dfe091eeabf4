#!/usr/bin/env bash
# storm.sh: `make bench BENCH=storm` -- an alert storm into the stack.
#
# fake-slack with its default limits (chat.postMessage: 1 per second per
# channel, bursts of 3, 429 with Retry-After beyond that), opsbot-queue and
# opsbot-bot with the shipped config/opsbot.conf + config/slack.example.conf
# (sync = full, group_window = 10m, channel_rate = 1, method_limits = yes;
# see bench_lib.sh for the few keys a run must change).  No pipeline worker
# runs: this measures intake, grouping and the chat side, and a worker's
# step updates would only add chat traffic.
#
# storm_drive.py sends ALERTS (1000) Alertmanager notifications evenly over
# DURATION (60) seconds across SERVICES (200) services and prints one JSON
# line: {"bench":"storm","alerts":..,"incidents":..,
# "new_incident_visible_p50_ms":..,"new_incident_visible_p99_ms":..,
# "chat_calls":..,"rate_limited":..,"lost":..} plus a few more figures
# (storm_drive.py says what each means).  A new incident still not visible
# DEADLINE (300) seconds after the last send counts as lost, and a
# percentile that falls on one is null.
# Routing (ROUTING=teams, the default): the 200 services belong to 10
# teams (payments-00 .. growth-19, storm_drive.py), and the config routes
# each team's services to its own on-call channel, as an org with team
# channels would ([slack] route = C0PAYMENTS payments-*, ...; bot/route.h).
# ROUTING=one sends every incident to the one default channel (#incidents),
# the setup before routing existed.  "Visible" is the incident's parent
# message stored in its channel by the stand-in.
# Quick run: ALERTS=100 DURATION=10 make bench BENCH=storm.  STORM_LIMITS=off
# lifts the posting limits on both sides (storm_smoke.sh, in make test).
# Needs no dataset.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/bench_lib.sh"
export SLACK_BOT_TOKEN=xoxb-fake SLACK_APP_TOKEN=xapp-fake
export OPSBOT_HOOK_TOKEN=storm-bench-$$
CH=C0INCIDENT
bench_setup
T_DEADLINE=30

TEAMS_ALL="payments checkout search catalog identity messaging data platform mobile growth"
limits=() chans="" routes=""
[ "${STORM_LIMITS:-on}" = off ] && limits=(--post-rate 0)
if [ "${ROUTING:-teams}" = teams ]; then
  for team in $TEAMS_ALL; do
    id=C0$(tr '[:lower:]' '[:upper:]' <<<"$team")
    limits+=(--channel "$id=$team-oncall")
    chans="$chans${chans:+,}$team=$id"
    routes="${routes}route = $id $team-*"$'\n'
  done
else
  chans=$CH
fi
t_start fake-slack fake-slack --port-file "$T/var/run/fs.port" "${limits[@]}"
t_wait "fake-slack port" test -s "$T/var/run/fs.port"
FS_PORT=$(cat "$T/var/run/fs.port")
{
  printf '[slack]\n%s' "$routes"
  [ "${STORM_LIMITS:-on}" = off ] && printf 'channel_rate = 0\nmethod_limits = no\n'
} | shipped_conf "$FS_PORT" >"$T/opsbot.conf" || t_fail "could not write the config"
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue socket" test -S "$T/var/run/opsbot-queue.ipc"
t_start bot opsbot-bot -c "$T/opsbot.conf"
t_wait "bot http port" test -s "$T/var/run/bot.port"
connected() { [ "$(curl -sf "http://127.0.0.1:$FS_PORT/control/stats" | jq .connections)" -ge 1 ]; }
t_wait "Socket Mode connection" connected

python3 "$BENCH_SRC/tests/bench/storm_drive.py" "http://127.0.0.1:$(cat "$T/var/run/bot.port")" \
  "http://127.0.0.1:$FS_PORT" "$chans" "$T" >"$T/storm.json" || t_fail "storm driver failed"
kill -0 "$PID_bot" 2>/dev/null || t_fail "opsbot-bot died during the storm"
kill -0 "$PID_queue" 2>/dev/null || t_fail "opsbot-queue died during the storm"
# python keeps the driver's key order ("bench" first); gojq, which the test
# runner may put in jq's place, would sort the keys.
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["bot_rss_mb"], d["queue_rss_mb"] = json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(json.dumps(d, separators=(",", ":")))' "$T/storm.json" "$(rss_mb "$PID_bot")" "$(rss_mb "$PID_queue")"
