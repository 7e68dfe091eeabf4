#!/usr/bin/env bash
# chat_slack.sh: benchmark of the Slack front-end on loopback, opsbot beside
# the official Bolt framework, in the same run.
#
# Rounds alternate (ROUNDS times): opsbot, Bolt acking at once, Bolt acking
# after an fsync'd SQLite insert.  Each round starts its own fake-slack
# (posting limits off: this measures the ack path, not Slack's limits) and
# injects the same N slash commands (/incident declare ...) one after
# another with curl; latencies are read on the stand-in's own clock.
#
#   opsbot  fake-slack + opsbot-queue + opsbot-bot, the queue with
#           sync = full (what config/opsbot.conf ships):
#             ack   injection -> the bot's Socket Mode ack (the bot acks
#                   once the declaration is fsync'd in its inbox)
#             post  injection -> the incident's parent message posted
#                   (after the queue committed the incident), matched to
#                   its command by the title
#             rss   the bot's resident set at the end
#   bolt    tests/sdk/bench/bolt_ack.js: @slack/bolt 5.1.0 in Socket Mode
#           (pinned with its lock file in tests/sdk/bench), mode "now"
#           (ack at once) and "fsync" (better-sqlite3, WAL, synchronous =
#           FULL, INSERT then ack); rss is the node process's at the end.
#
# Prints one JSON line with the median over the rounds of each figure:
# {"bench":"chat_slack","n":..,"ack_p50_ms":..,"ack_p99_ms":..,"post_p50_ms":..,
#  "post_p99_ms":..,"rss_mb":..,"bolt_ack_p50_ms":..,"bolt_ack_p99_ms":..,
#  "bolt_fsync_ack_p50_ms":..,"bolt_fsync_ack_p99_ms":..,"bolt_rss_mb":..,
#  "bolt_fsync_store":"sqlite"|"file","sync":"full","rounds":..}
# Without node/npm (or when the packages cannot be installed) the bolt keys
# are null and stderr says why.
# Env: CHAT_SLACK_N (1000), ROUNDS (3).  Needs no dataset.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../integration/slack_lib.sh"
. "$(dirname "$0")/bench_lib.sh"
N=${CHAT_SLACK_N:-1000}
ROUNDS=${ROUNDS:-3}
T_DEADLINE=180
BOLT_DIR=$SRC/tests/sdk/bench
bench_setup
ROOT=$T

# The queue runs with the durable setting users get by default, whatever
# slack_lib.sh writes for the integration tests.
eval "slack_lib_$(declare -f write_conf)"
write_conf() {
  slack_lib_write_conf
  sed -i 's/^sync = .*/sync = full/' "$T/opsbot.conf"
  grep -qx 'sync = full' "$T/opsbot.conf" || t_fail "could not set sync = full in $T/opsbot.conf"
}
SLACK_EXTRA_CONF="channel_rate = 0
method_limits = no"

# --- Bolt: node 20+, npm, and the pinned packages (npm ci when stale)
bolt_why=
bolt_setup() {
  command -v node >/dev/null 2>&1 || { bolt_why="node is not installed (scripts/deps.sh installs nodejs)"; return 1; }
  command -v npm >/dev/null 2>&1 || { bolt_why="npm is not installed (scripts/deps.sh installs npm)"; return 1; }
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 20 ] 2>/dev/null || { bolt_why="node $(node --version) is too old: Bolt 5 needs 20 or later"; return 1; }
  local stamp=$BOLT_DIR/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ "$BOLT_DIR/package-lock.json" -nt "$stamp" ]; then
    echo "chat_slack: npm ci in tests/sdk/bench (pinned Bolt and better-sqlite3; the first build of better-sqlite3 takes a few minutes)" >&2
    if ! (cd "$BOLT_DIR" && nice npm ci --no-audit --no-fund --loglevel=error) >"$BOLT_DIR/.npm-ci.log" 2>&1; then
      # better-sqlite3's native build may fail: Bolt alone still runs, and
      # bolt_ack.js falls back to append + fsync on a file.
      echo "chat_slack: npm ci failed (see tests/sdk/bench/.npm-ci.log); retrying without install scripts" >&2
      (cd "$BOLT_DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >>"$BOLT_DIR/.npm-ci.log" 2>&1 ||
        { bolt_why="npm ci failed (is the npm registry reachable?); see tests/sdk/bench/.npm-ci.log"; return 1; }
    fi
  fi
  return 0
}
have_bolt=1
bolt_setup || { have_bolt=0; echo "chat_slack: no Bolt figures: $bolt_why" >&2; }

inject() {
  local i
  for i in $(seq "$N"); do
    curl -sf -X POST -H 'Content-Type: application/json' \
      -d "{\"user\":\"U0BENCH\",\"channel\":\"$CH\",\"text\":\"declare bench$((i % 50)) benchmark incident $i\"}" \
      "http://127.0.0.1:$FS_PORT/control/slash" >/dev/null || t_fail "inject $i"
  done
}
all_acked() { fs_get /control/stats | jq -e --argjson n "$N" '.acked >= $n' >/dev/null; }
all_posted() { fs_get /control/stats | jq -e --argjson n "$N" '.acked >= $n and .messages >= 2 * $n' >/dev/null; }
# stop this round's processes (by the PIDs t_start recorded) and wait for them
stop_pids() {
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
  for p in "$@"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null
  done
  local keep=() q
  for q in "${T_PIDS[@]}"; do
    case " $* " in *" $q "*) ;; *) keep+=("$q") ;; esac
  done
  T_PIDS=("${keep[@]}")
}
new_round_dir() {
  T=$ROOT/$1
  mkdir -p "$T/var/run"
}
PCT='def pct(a; q): if (a | length) == 0 then null
  else a[([((a | length) * q / 100 | floor), (a | length) - 1] | min)] * 100 | round / 100 end;'

opsbot_round() {
  new_round_dir "opsbot$1"
  slack_stack --post-rate 0 >/dev/null
  inject
  t_wait "every command acked and every parent posted" all_posted
  local rss
  rss=$(rss_mb "$PID_bot")
  fs_get /control/envelopes >"$T/envs.json"
  fs_get "/control/messages?channel=$CH" >"$T/msgs.json"
  stop_pids "$PID_bot" "$PID_queue" "$PID_fake_slack"
  jq -nc --slurpfile e "$T/envs.json" --slurpfile m "$T/msgs.json" --argjson rss "$rss" "$PCT"'
    ($m[0].messages | map(select(.text | startswith("#")))
       | map({key: (.text | capture("benchmark incident (?<i>[0-9]+)") | .i), value: .posted_us})
       | from_entries) as $parent
    | ($e[0].envelopes | map(select(.type == "slash_commands"))) as $E
    | ($E | map((.ack_us - .injected_us) / 1000) | sort) as $acks
    | ($E | map((.payload.text | capture("benchmark incident (?<i>[0-9]+)") | .i) as $i
                | select($parent[$i] != null) | ($parent[$i] - .injected_us) / 1000) | sort) as $posts
    | {ack_p50_ms: pct($acks; 50), ack_p99_ms: pct($acks; 99),
       post_p50_ms: pct($posts; 50), post_p99_ms: pct($posts; 99),
       posts_matched: ($posts | length), rss_mb: $rss}' >>"$ROOT/opsbot.jsonl"
}

bolt_round() {  # bolt_round ROUND MODE
  local mode=$2
  new_round_dir "bolt-$mode$1"
  t_start fake-slack fake-slack --port-file "$T/var/run/fs.port" --post-rate 0
  t_wait "fake-slack port" test -s "$T/var/run/fs.port"
  FS_PORT=$(cat "$T/var/run/fs.port")
  t_start bolt node "$BOLT_DIR/bolt_ack.js" "$mode" "http://127.0.0.1:$FS_PORT/api/" \
    "$T/var/run/bolt.ready" "$T/var"
  t_wait "Bolt's Socket Mode connection" test -s "$T/var/run/bolt.ready"
  inject
  t_wait "Bolt acked every command" all_acked
  local rss store
  rss=$(rss_mb "$PID_bolt")
  store=$(jq -r .store "$T/var/run/bolt.ready")
  fs_get /control/envelopes >"$T/envs.json"
  stop_pids "$PID_bolt" "$PID_fake_slack"
  jq -nc --slurpfile e "$T/envs.json" --argjson rss "$rss" --arg store "$store" "$PCT"'
    ($e[0].envelopes | map(select(.type == "slash_commands" and .acked))
      | map((.ack_us - .injected_us) / 1000) | sort) as $acks
    | {p50: pct($acks; 50), p99: pct($acks; 99), n: ($acks | length), rss_mb: $rss,
       store: $store}' >>"$ROOT/bolt-$mode.jsonl"
}

for r in $(seq "$ROUNDS"); do
  opsbot_round "$r"
  if [ $have_bolt = 1 ]; then
    bolt_round "$r" now
    bolt_round "$r" fsync
  fi
done
T=$ROOT

[ -f bolt-now.jsonl ] || : >bolt-now.jsonl
[ -f bolt-fsync.jsonl ] || : >bolt-fsync.jsonl
# per-round figures, for whoever wants the spread
for f in opsbot bolt-now bolt-fsync; do
  [ -s $f.jsonl ] && sed "s/^/chat_slack round $f: /" $f.jsonl >&2
done
jq -nc --slurpfile o opsbot.jsonl --slurpfile bn bolt-now.jsonl --slurpfile bf bolt-fsync.jsonl \
  --argjson n "$N" --argjson rounds "$ROUNDS" '
  def med(a): (a | map(select(. != null)) | sort) as $s
    | if ($s | length) == 0 then null else $s[(($s | length) - 1) / 2 | floor] end;
  {bench: "chat_slack", n: $n,
   ack_p50_ms: med($o | map(.ack_p50_ms)), ack_p99_ms: med($o | map(.ack_p99_ms)),
   post_p50_ms: med($o | map(.post_p50_ms)), post_p99_ms: med($o | map(.post_p99_ms)),
   rss_mb: med($o | map(.rss_mb)),
   bolt_ack_p50_ms: med($bn | map(.p50)), bolt_ack_p99_ms: med($bn | map(.p99)),
   bolt_fsync_ack_p50_ms: med($bf | map(.p50)), bolt_fsync_ack_p99_ms: med($bf | map(.p99)),
   bolt_rss_mb: med(($bn + $bf) | map(.rss_mb)),
   bolt_fsync_store: ($bf[0].store // null),
   sync: "full", rounds: $rounds}'
