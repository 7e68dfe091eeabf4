#!/usr/bin/env bash
# demo.sh: the opsbot demo (make demo).
#
# Starts the whole stack with `opsbot` on a fresh state directory
# (./var/demo) against the local Slack stand-in (fake-slack, the demo's
# workspace) and the simulated production system (opsbot-sim: frontend ->
# api -> cache, db, payment).  After a quiet minute of simulated traffic a
# fault is injected into the simulator; opsbot's metric watch (opsbot-detect
# watch) notices it and opens an incident by itself; its Slack thread fills
# in (detection and root cause, runbooks, the plan); a teammate approves;
# the action runs against the simulator and is verified; then everything
# stops cleanly and the demo prints the thread as a transcript.
#
#   make demo                  the watch scrapes the simulator's /metrics
#   make demo PROMETHEUS=1     a real Prometheus scrapes it; the watch and
#                              detection read /api/v1/query_range
#   make demo INTERACTIVE=1    prints the Slack stand-in's page and waits for
#                              a person to press Approve in a browser
#   OPSBOT_DEMO_FAULT=KIND[:SERVICE]   another fault (default
#                              db_conn_exhaustion; see sim/model.h)
#
# Without opsbot-sim in the build the older story plays instead: Alice
# declares a checkout incident with a slash command and detection reads
# small CSV files written for the run.  Without fake-slack the incident is
# opened with opsbotctl.  Finishes by itself well within two minutes and
# exits 0 (1 when something did not work, with the logs shown).
#
# Extending it: a stage is enabled here as soon as its worker binary is
# built (STAGES below: stage name, program).  Other daemons (the chat
# stand-ins, opsbot-bot) go in EXTRA_DAEMONS with the config they need in
# EXTRA_CONFIG; the steps after "submit" stay the same.
set -u

BIN=${OPSBOT_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
DEMO=${OPSBOT_DEMO_DIR:-$(pwd)/var/demo}
DEADLINE_S=${OPSBOT_DEMO_DEADLINE:-60}
export PATH="$BIN:$PATH"

# stage:program, in pipeline order.
STAGES=(detect:opsbot-detect retrieve:opsbot-retrieve plan:opsbot-plan
  execute:opsbot-exec verify:opsbot-exec report:opsbot-report index:opsbot-retrieve)
EXTRA_DAEMONS=""
EXTRA_CONFIG=""
# opsbot-plan reads the catalog and policy of this checkout, opsbot-retrieve its
# runbooks; their memory and index live with the demo.
REPO=$(cd "$(dirname "$0")/.." && pwd)
EXTRA_CONFIG+="[plan]
catalog = $REPO/config/actions.conf
policy = $REPO/config/policy.conf
db = $DEMO/var/plan.db
[retrieve]
knowledge = $REPO/knowledge
synonyms = $REPO/knowledge/synonyms.tsv
stopwords = $REPO/knowledge/stopwords.txt
catalog = $REPO/config/actions.conf
db = $DEMO/var/knowledge.db
"

if [ -t 1 ]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  say() { printf '\n== %s\n' "$*"; }
fi
die() {
  printf '\ndemo: %s\n' "$*" >&2
  if [ -f "$DEMO/opsbot.log" ]; then
    echo "--- last lines of $DEMO/opsbot.log" >&2
    tail -n 25 "$DEMO/opsbot.log" >&2
  fi
  exit 1
}
ms() { echo $(($(date +%s%N) / 1000000)); }

for p in opsbot opsbot-queue opsbotctl; do
  [ -x "$BIN/$p" ] || die "$BIN/$p is missing; run 'make' first (or set OPSBOT_BIN)"
done
command -v jq >/dev/null || die "jq is needed (bash scripts/deps.sh installs it)"

rm -rf "$DEMO" && mkdir -p "$DEMO/var/run" || die "cannot create $DEMO"
cd "$DEMO" || exit 1
MASTER="" FAKE="" PIDS=()
# Whatever happens, stop what this script started (only those processes).
stop_all() {
  if [ -n "$MASTER" ] && kill -0 "$MASTER" 2>/dev/null; then
    kill -TERM "$MASTER" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$MASTER" 2>/dev/null
  fi
  [ -n "$FAKE" ] && kill -TERM "$FAKE" 2>/dev/null
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap stop_all EXIT
# ^C or a kill stops what it started too (bash skips the EXIT trap on a
# signal it has no trap for).
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the metrics the detector reads ---------------------------------------
SIMULATOR=0
wait_file() { # wait_file FILE SECONDS WHAT
  local t0; t0=$(ms)
  until [ -s "$1" ]; do
    [ $(($(ms) - t0)) -lt $(($2 * 1000)) ] || die "$3 did not start (see $DEMO/*.log)"
    sleep 0.05
  done
}
if [ -x "$BIN/opsbot-sim" ] && [ -x "$BIN/opsbot-detect" ]; then
  SIMULATOR=1
  # Five simulated seconds per real second; a row of history every 500 ms.
  opsbot-sim --port 0 --port-file "$DEMO/var/run/sim.port" --seed "${OPSBOT_DEMO_SEED:-7}" \
    --accel "${OPSBOT_DEMO_ACCEL:-5}" --history "$DEMO/sim-history.csv" --history-every 500 \
    >sim.log 2>&1 &
  PIDS+=($!)
  wait_file "$DEMO/var/run/sim.port" 5 "opsbot-sim"
  export OPSBOT_SIM_URL="http://127.0.0.1:$(cat "$DEMO/var/run/sim.port")"
  # The action scripts find the simulator through OPSBOT_SIM_URL, or through
  # $OPSBOT_SIM_STATE/url (the catalog passes OPSBOT_SIM_STATE on to them).
  export OPSBOT_SIM_STATE="$DEMO/sim"
  mkdir -p "$OPSBOT_SIM_STATE" && echo "$OPSBOT_SIM_URL" >"$OPSBOT_SIM_STATE/url"
  # The watch reads its own config (watch.conf, below): the symptoms it
  # scrapes, not the history file's change log (deployed versions).
  EXTRA_DAEMONS+="watch = opsbot-detect -c $DEMO/watch.conf watch"$'\n'
  EXTRA_CONFIG+="
[detect]
window = 3m
lead = 30s
after = 0s
step = 500ms
watch_interval = 500ms
watch_warmup = 24
watch_open_points = 2
watch_close_points = 10
watch_severity = high
# Who calls whom, also through api: the watch's alerts for db, api and
# frontend are one failure and join one incident (group_window below).
[services]
frontend = api, cache, db, payment
api = cache, db, payment
"
  if [ "${PROMETHEUS:-0}" = 1 ]; then
    command -v prometheus >/dev/null || die "PROMETHEUS=1 needs Debian's prometheus (bash scripts/deps.sh)"
    cat >prometheus.yml <<YML
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: sim
    static_configs:
      - targets: ['127.0.0.1:$(cat "$DEMO/var/run/sim.port")']
YML
    for try in 1 2 3 4 5; do
      pport=$((20000 + RANDOM % 40000))
      prometheus --config.file=prometheus.yml --storage.tsdb.path="$DEMO/prometheus" \
        --web.listen-address=127.0.0.1:$pport --log.level=warn >prometheus.log 2>&1 &
      PROM=$!
      t0=$(ms)
      until curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null || ! kill -0 $PROM 2>/dev/null; do
        [ $(($(ms) - t0)) -lt 15000 ] || die "Prometheus was not ready within 15 s"
        sleep 0.1
      done
      kill -0 $PROM 2>/dev/null && break
      [ $try = 5 ] && die "Prometheus would not start (see $DEMO/prometheus.log)"
    done
    PIDS+=($PROM)
    PROM_URL="http://127.0.0.1:$pport"
    EXTRA_CONFIG+="
[source prometheus]
type = prometheus
url = $PROM_URL
query = sim_latency_p95_seconds
query = sim_error_ratio
query = sim_cpu_utilization_ratio
query = sim_memory_utilization_ratio
query = sim_requests_per_second
query = sim_db_connections_in_use
query = sim_cache_hit_ratio
"
  else
    # The watch scrapes /metrics (and keeps what it saw); the detect stage,
    # a separate process, reads the simulator's history file.
    EXTRA_CONFIG+="
[source sim]
type = scrape
url = $OPSBOT_SIM_URL/metrics
[source history]
type = csv
path = $DEMO/sim-history.csv
"
  fi
else
# One hour at 15 s steps ending now: payment's CPU climbs 6 minutes ago and
# checkout's p99 latency follows 2 minutes later; catalogue stays quiet.
now=$(date +%s)
awk -v now="$now" 'BEGIN {
  srand(7); n = 240
  print "time,checkout_latency_p99" > "symptom.csv"
  print "time,payment_cpu,payment_latency_p99,catalogue_cpu,checkout_cpu" > "services.csv"
  for (i = n; i >= 0; i--) {
    t = now - i * 15; ts = strftime("%Y-%m-%dT%H:%M:%SZ", t, 1)
    pay = 35 + 4 * rand(); pl = 80 + 10 * rand(); cat_ = 30 + 4 * rand()
    co = 40 + 4 * rand(); lat = 300 + 25 * rand()
    if (i <= 24) { pay = 93 + 3 * rand(); pl = 900 + 80 * rand() }
    if (i <= 16) { lat = 2400 + 150 * rand(); co = 44 + 4 * rand() }
    printf "%s,%.1f\n", ts, lat > "symptom.csv"
    printf "%s,%.1f,%.1f,%.1f,%.1f\n", ts, pay, pl, cat_, co > "services.csv"
  }
}'
EXTRA_CONFIG+="
[source symptom]
type = csv
path = $DEMO/symptom.csv
symptom = yes
[source services]
type = csv
path = $DEMO/services.csv
[services]
checkout = payment, catalogue
"

fi

# ---- the Slack workspace (fake-slack) -------------------------------------
SLACK=0
CH=C0INCIDENT
if [ -x "$BIN/fake-slack" ] && [ -x "$BIN/opsbot-bot" ]; then
  SLACK=1
  export SLACK_BOT_TOKEN=xoxb-fake SLACK_APP_TOKEN=xapp-fake
  fake-slack --port 0 --port-file "$DEMO/var/run/fake-slack.port" --post-rate 0 \
    >fake-slack.log 2>&1 &
  FAKE=$!
  for _ in $(seq 100); do [ -s "$DEMO/var/run/fake-slack.port" ] && break; sleep 0.05; done
  [ -s "$DEMO/var/run/fake-slack.port" ] || die "fake-slack did not start (see $DEMO/fake-slack.log)"
  FS="http://127.0.0.1:$(cat "$DEMO/var/run/fake-slack.port")"
  EXTRA_DAEMONS+="bot = opsbot-bot"$'\n'
  EXTRA_CONFIG+="
[bot]
state = $DEMO/var/bot.db
[http]
listen = 127.0.0.1:0
port_file = $DEMO/var/run/bot.port
[slack]
mode = socket
api_url = $FS/api/
channel = $CH
templates = $REPO/templates/slack
channel_rate = 0
"
fi

# ---- the executor (acts on the simulator through scripts/actions) ----------
if [ -x "$BIN/opsbot-exec" ]; then
  EXTRA_CONFIG+="
[exec]
catalog = $REPO/config/actions.conf
workdir = $REPO
verify_window = 60s
verify_interval = 1s
# The symptom re-check counts an anomaly that ended 30 simulated seconds
# ago as over: 6 s of real time at the simulator's 5x.
settle = 6s
"
fi

# ---- the report: PDF summary and email (opsbot-report, a local SMTP server) -
MAILDIR=""
if [ -x "$BIN/opsbot-report" ]; then
  mkdir -p "$DEMO/reports"
  EXTRA_CONFIG+="
[report]
dir = $DEMO/reports
db = $DEMO/var/report.db
templates = $REPO/templates/email
"
  # Debian's aiosmtpd (python3-aiosmtpd) behind the report tests' server:
  # every accepted message is stored as a .eml file.
  if [ -f "$REPO/workers/report/smtpd.py" ] && /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
    mkdir -p "$DEMO/mail"
    /usr/bin/python3 "$REPO/workers/report/smtpd.py" --store "$DEMO/mail" \
      --port-file "$DEMO/var/run/smtp.port" --port 0 >smtpd.log 2>&1 &
    PIDS+=($!)
    wait_file "$DEMO/var/run/smtp.port" 10 "the local SMTP server"
    MAILDIR=$DEMO/mail
    EXTRA_CONFIG+="
[email]
smtp = 127.0.0.1:$(cat "$DEMO/var/run/smtp.port")
from = opsbot <opsbot@localhost>
starttls = no
route = oncall@example.com
"
  fi
fi

# ---- which stages does this build have? -----------------------------------
enabled=() daemons="" seen=" "
for sp in "${STAGES[@]}"; do
  stage=${sp%%:*} prog=${sp#*:}
  if [ -x "$BIN/$prog" ]; then
    enabled+=("$stage")
    case "$seen" in *" $prog "*) ;; *)
      daemons+="${stage} = ${prog}"$'\n'; seen+="$prog " ;;
    esac
  fi
done

cat > demo.conf <<CONF
# Written by scripts/demo.sh for one demo run; safe to delete.
[queue]
listen = ipc://$DEMO/var/run/opsbot-queue.ipc
events = ipc://$DEMO/var/run/opsbot-events.ipc
db = $DEMO/var/opsbot.db

[pipeline]
# Only stages with a worker in this build; the queue records the others as
# skipped instead of waiting for a worker that does not exist.
stages = ${enabled[*]}
# The watch's alerts for services that call each other ([services]) join
# the first one's incident instead of opening one each.
group_window = 10m

[master]
run_dir = $DEMO/var/run
restart_min = 200ms
restart_max = 2s
stop_timeout = 5s

[daemons]
queue = opsbot-queue
${daemons}${EXTRA_DAEMONS}
${EXTRA_CONFIG}
CONF

# The watch's config: the same, without the history file (a detect-stage source).
awk '/^\[/ { skip = ($0 == "[source history]") } !skip' demo.conf >watch.conf

say "This build of opsbot"
for sp in "${STAGES[@]}"; do
  stage=${sp%%:*} prog=${sp#*:}
  if [ -x "$BIN/$prog" ]; then
    printf '  %-9s enabled  (%s)\n' "$stage" "$prog"
  else
    printf '  %-9s skipped: stage not enabled (%s is not built yet)\n' "$stage" "$prog"
  fi
done

# ---- start --------------------------------------------------------------------
say "Starting opsbot (state in $DEMO, log in $DEMO/opsbot.log)"
opsbot -c demo.conf >opsbot.log 2>&1 &
MASTER=$!

ctl() { opsbotctl -c demo.conf "$@"; }
# The incident's state as `opsbotctl show` prints it ("  state:    open");
# empty when the query failed.  (awk, not jq: the loops below ask often.)
inc_state() { ctl show "$id" 2>/dev/null | awk '$1 == "state:" { print $2; exit }'; }
# The incident's state; a query that fails on a busy machine is asked again.
cur_state() {
  local s i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    s=$(inc_state)
    [ -n "$s" ] && { echo "$s"; return 0; }
    sleep 0.2
  done
  echo unknown
}
end=$(($(ms) + 15000))
until ctl --json status >/dev/null 2>&1; do
  kill -0 "$MASTER" 2>/dev/null || die "opsbot exited during start"
  [ "$(ms)" -lt $end ] || die "the queue did not answer within 15 s"
  sleep 0.1
done
ctl status

# ---- one incident -----------------------------------------------------------------
fs_get() { curl -sf --max-time 5 "$FS$1"; }
fs_post() { curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' -d "$2" "$FS$1"; }
sim_get() { curl -sf --max-time 5 "$OPSBOT_SIM_URL$1"; }
sim_post() { curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' -d "$2" "$OPSBOT_SIM_URL$1"; }
thread_shown=" " pts=""
# The incident's part of the channel dump: its parent message (text and
# buttons change in place) and its thread, one reply per step.
incident_dump() {
  fs_get "/control/dump?channel=$CH" |
    awk -v ts="[$pts]" 'substr($0, 1, 1) == "#" {on = index($0, ts) > 0} on'
}
# Print the replies not shown yet (by their ts: a reply edited in place,
# like the plan losing its buttons, must not hide the next one).
show_thread() {
  local dump
  dump=$(incident_dump | sed -n '/└/,$p') || return 0
  dump=$(printf '%s\n' "$dump" | grep . | awk -v shown="$thread_shown" '
    /└ \[/ { ts = $0; sub(/.*└ \[/, "", ts); sub(/\].*/, "", ts); keep = index(shown, " " ts " ") == 0 }
    keep { print }')
  [ -n "$dump" ] || return 0
  printf '%s\n' "$dump" | sed 's/^    /  /'
  thread_shown="$thread_shown$(printf '%s\n' "$dump" | sed -n 's/.*└ \[\([^]]*\)\].*/\1/p' | tr '\n' ' ')"
}
show_parent() { incident_dump | sed '/└/,$d' | sed 's/^/  /'; }
# The ts of incident $1's message in the channel (its text starts "#ID ").
find_parent() {
  fs_get "/control/messages?channel=$CH" |
    jq -r --arg p "#$1 " '[.messages[] | select(.text | startswith($p))][0].ts // empty'
}
wait_parent() {
  local t0; t0=$(ms)
  until pts=$(find_parent "$id") && [ -n "$pts" ]; do
    [ $(($(ms) - t0)) -lt 10000 ] || die "no message for incident $id in Slack within 10 s"
    sleep 0.1
  done
}
sim_services() { # one line per service: name, health and the numbers behind it
  sim_get /control/state | jq -r '.services[] |
    "  \(.name | . + " " * (9 - length)) \(if .healthy then "healthy  " else "UNHEALTHY" end)  p95 \(.p95_ms) ms  errors \(.error_pct)%  cpu \(.cpu_pct)%  mem \(.memory_pct)%\(if .healthy then "" else "  (" + .why + ")" end)"'
}

if [ $SLACK = 1 ]; then
  t0=$(ms)
  until [ -s "$DEMO/var/run/bot.port" ] && grep -q 'event=slack_hello' opsbot.log; do
    [ $(($(ms) - t0)) -lt 15000 ] || die "opsbot-bot did not connect to the Slack stand-in within 15 s"
    sleep 0.1
  done
  if [ "${INTERACTIVE:-0}" = 1 ]; then
    say "Watch it in a browser"
    echo "  $FS/page?channel=$CH"
    echo "  (the Slack stand-in's page: the channel, every thread, working buttons)"
  fi
fi
if [ $SIMULATOR = 1 ]; then
  say "The simulated shop (opsbot-sim at $OPSBOT_SIM_URL, 5x real time)"
  echo "  frontend -> api -> cache, db, payment; p95 latency, errors, CPU, memory, requests"
  if [ -n "${PROM_URL:-}" ]; then
    echo "  Prometheus ($PROM_URL) scrapes it every 500 ms; the watch reads query_range."
  else
    echo "  opsbot's watch scrapes its /metrics every 500 ms."
  fi
  sim_services
  # The watch needs a baseline before it judges anything (watch_warmup
  # polls); give it that plus a margin, while the traffic is normal.
  t0=$(ms)
  until grep -q 'event=watch_started' opsbot.log; do
    [ $(($(ms) - t0)) -lt 15000 ] || die "the watch (opsbot-detect watch) did not start"
    sleep 0.1
  done
  say "Letting the watch learn what normal looks like (15 s of traffic)"
  while [ $(($(ms) - t0)) -lt 15000 ]; do sleep 0.5; done
  n=$(ctl --json incidents 2>/dev/null | jq '.items | length')
  echo "  $n incident(s) opened while everything was healthy."
  fault=${OPSBOT_DEMO_FAULT:-db_conn_exhaustion}
  fkind=${fault%%:*} fsvc=""
  [ "$fkind" != "$fault" ] && fsvc=${fault#*:}
  say "A fault is injected into the simulator: $fkind${fsvc:+ on $fsvc}"
  body=$(jq -nc --arg k "$fkind" --arg s "$fsvc" '{kind: $k, severity: 0.8} + (if $s == "" then {} else {service: $s} end)')
  echo "  \$ curl -X POST $OPSBOT_SIM_URL/control/fault -d '$body'"
  out=$(sim_post /control/fault "$body") || die "the simulator refused the fault: $body"
  fsvc=$(jq -r .service <<<"$out")
  tf=$(ms)
  until id=$(ctl --json incidents 2>/dev/null |
      jq -r '[.items[] | select(.source == "watch")] | sort_by(.id) | .[0].id // empty') && [ -n "$id" ]; do
    [ $(($(ms) - tf)) -lt 40000 ] || die "the watch opened no incident within 40 s of the fault"
    sleep 0.2
  done
  title=$(ctl --json show "$id" | jq -r .incident.title)
  say "The watch opened incident $id by itself, $(( ($(ms) - tf) / 100 ))00 ms after the fault"
  echo "  $title"
  if [ $SLACK = 1 ]; then
    wait_parent
    say "The incident's message in #incidents (the Slack stand-in)"
    show_parent
    say "Its thread, as it fills in (one reply per step)"
  else
    say "Following incident $id (each line is one event on its timeline)"
  fi
elif [ $SLACK = 1 ]; then
  say "Alice declares an incident in #incidents (a Slack slash command)"
  echo '  /incident declare checkout p99 latency above 2s since 04:52'
  env=$(fs_post /control/slash "{\"user\":\"U0ALICE\",\"channel\":\"$CH\",\"text\":\"declare checkout p99 latency above 2s since 04:52\"}" |
    jq -r .envelope_id) || die "fake-slack refused the slash command"
  t0=$(ms)
  until [ "$(fs_get "/control/envelope?id=$env" | jq -r '.acked // false')" = true ]; do
    [ $(($(ms) - t0)) -lt 5000 ] || die "the slash command was not acknowledged within 5 s"
    sleep 0.05
  done
  echo "  (acknowledged in $(($(ms) - t0)) ms, after the incident was stored in the queue)"
  t0=$(ms)
  until id=$(ctl --json incidents 2>/dev/null | jq -r '.items[0].id // empty') && [ -n "$id" ]; do
    [ $(($(ms) - t0)) -lt 5000 ] || die "no incident in the queue after the slash command"
    sleep 0.1
  done
  wait_parent
  say "The incident's message in #incidents (the Slack stand-in)"
  show_parent
  say "Its thread, as it fills in (one reply per step)"
else
  say "Opening an incident from the command line (no Slack stand-in in this build)"
  echo '$ opsbotctl submit --service checkout --title "Checkout p99 latency above 2s" --severity high'
  out=$(ctl --json submit --service checkout --title "Checkout p99 latency above 2s" \
    --severity high --summary "p99 of POST /checkout went from 300 ms to 2.4 s at 04:52") ||
    die "submit failed: $out"
  id=$(jq -r .incident <<<"$out")
  [ -n "$id" ] && [ "$id" != null ] || die "submit gave no incident id: $out"
  echo "incident $id opened"
  say "Following incident $id (each line is one event on its timeline)"
fi

# Follow until the incident waits for a person, ends, or stops moving.
follow() {
  local shown=0 lines n last_change end
  last_change=$(ms) end=$(($(ms) + DEADLINE_S * 1000))
  while [ "$(ms)" -lt $end ]; do
    if [ $SLACK = 1 ]; then
      n0=$thread_shown; show_thread; [ "$thread_shown" != "$n0" ] && last_change=$(ms)
    else
      lines=$(ctl show "$id" 2>/dev/null | sed -n '/^timeline:/,$p' | tail -n +2)
      n=$(printf '%s' "$lines" | grep -c . || true)
      if [ "$n" -gt "$shown" ]; then
        printf '%s\n' "$lines" | tail -n $((n - shown))
        shown=$n last_change=$(ms)
      fi
    fi
    # (a busy machine may make one query fail: keep the last state seen)
    s=$(inc_state)
    [ -n "$s" ] && state=$s
    case "$state" in
      resolved | failed | rejected | expired | awaiting_approval)
        [ $SLACK = 1 ] && [ $(($(ms) - last_change)) -lt 1500 ] || return 0 ;;
    esac
    # Nothing new for 5 s: the incident waits for a stage no worker serves.
    # A stage with a worker may take longer on a busy machine (or run and
    # verify an action): wait for it, up to the deadline.
    case "$state" in
      detecting) busy=detect ;; retrieving) busy=retrieve ;; planning) busy=plan ;;
      executing) busy=execute ;; verifying) busy=verify ;; *) busy="" ;;
    esac
    case " ${enabled[*]} " in *" $busy "*) [ -n "$busy" ] && last_change=$(ms) ;; esac
    [ $(($(ms) - last_change)) -lt 5000 ] || return 0
    sleep 0.2
  done
}
state=""
follow

# The Approve button of the incident's plan card, when this build draws one:
# "ts value" of the first message in the thread that has one.
approve_button() {
  fs_get "/control/messages?channel=$CH&thread=$pts" | jq -r '[.messages[] | . as $m |
    (.blocks // [])[] | (.elements // [])[] | select(.action_id == "opsbot_approve") |
    "\($m.ts) \(.value // "")"][0] // empty'
}
round=0
while [ "$state" = awaiting_approval ] && [ $round -lt 3 ]; do
  round=$((round + 1)) again=""
  [ $round -gt 1 ] && again=" (the new plan, round $round)"
  hash=$(ctl --json events 2>/dev/null | jq -r --argjson id "$id" \
    '[.items[] | select(.incident == $id and .name == "plan.proposed")] | last | .data.plan.hash // empty')
  btn=""
  [ $SLACK = 1 ] && btn=$(approve_button)
  if [ "${INTERACTIVE:-0}" = 1 ] && [ $SLACK = 1 ]; then
    say "Your turn: approve the plan$again"
    echo "  Open $FS/page?channel=$CH"
    if [ -n "$btn" ]; then
      echo "  and press Approve on incident $id's plan as U0BOB, then as U0CAROL if it"
      echo "  asks for a second approver (type the user id at the top of the page)."
    else
      echo "  This build draws no Approve button yet; approve from another shell:"
      echo "    $BIN/opsbotctl -c $DEMO/demo.conf approve $id --plan $hash --as slack:U0BOB"
      echo "  (and --as slack:U0CAROL when a second approver is needed)"
    fi
    echo "  Waiting up to 10 minutes..."
    t0=$(ms)
    while [ "$(cur_state)" = awaiting_approval ]; do
      [ $(($(ms) - t0)) -lt 600000 ] || die "nobody approved within 10 minutes"
      show_thread
      sleep 0.5
    done
  elif [ -n "$btn" ]; then
    # config/policy.conf may ask for two approvers (two sre-leads, never the
    # requester): Bob presses Approve, and Carol too while it still waits.
    for who in U0BOB:Bob U0CAROL:Carol; do
      uid=${who%%:*} name=${who#*:}
      [ "$(cur_state)" = awaiting_approval ] || break
      btn=$(approve_button)
      [ -n "$btn" ] || break
      say "$name presses Approve in the thread$again"
      read -r bts bval <<<"$btn"
      click=$(jq -nc --arg u "$uid" --arg c "$CH" --arg t "$bts" --arg v "$bval" \
        '{user: $u, channel: $c, message_ts: $t, action_id: "opsbot_approve", value: $v}')
      env=$(fs_post /control/click "$click" | jq -r .envelope_id) || die "the Slack stand-in refused the click"
      echo "  (a block_actions payload from $uid, delivered to opsbot-bot over Socket Mode)"
      t0=$(ms)
      until [ "$(fs_get "/control/envelope?id=$env" | jq -r '.acked // false')" = true ]; do
        [ $(($(ms) - t0)) -lt 10000 ] || die "the bot did not take $name's click within 10 s"
        sleep 0.1
      done
      # the queue has the approval once the plan card or the state says so
      t0=$(ms)
      until [ "$(cur_state)" != awaiting_approval ] ||
        fs_get "/control/messages?channel=$CH&thread=$pts" | grep -q "<@$uid>"; do
        [ $(($(ms) - t0)) -lt 10000 ] || break
        sleep 0.2
      done
      show_thread
    done
  elif [ -n "$hash" ]; then
    say "Bob approves the plan$again"
    echo "  \$ opsbotctl approve $id --plan $hash --as slack:U0BOB"
    echo "  (this build draws no Approve button yet; a teammate approves from the"
    echo "   command line, checked against the plan hash)"
    ctl --json approve "$id" --plan "$hash" --as slack:U0BOB >"$DEMO/approve.json" ||
      die "approve was refused: $(jq -r .message "$DEMO/approve.json" 2>/dev/null)"
    if [ "$(jq -r .state "$DEMO/approve.json")" = awaiting_approval ]; then
      say "Carol approves too ($(jq -r '"\(.have) of \(.need)"' "$DEMO/approve.json") so far)"
      echo "  (config/policy.conf: high-risk steps need two sre-leads, and never the"
      echo "   person who opened the incident; the queue counts people, not clicks.)"
      echo "  \$ opsbotctl approve $id --plan $hash --as slack:U0CAROL"
      ctl approve "$id" --plan "$hash" --as slack:U0CAROL >/dev/null || die "Carol's approve was refused"
    fi
  else
    break
  fi
  follow
done
# The incident may still be finishing (a stage, the last thread replies).
t0=$(ms)
while :; do
  s=$(inc_state)
  [ -n "$s" ] && state=$s
  case "$state" in resolved | failed | rejected | expired | awaiting_approval) break ;; esac
  [ $(($(ms) - t0)) -lt 15000 ] || break
  sleep 0.2
done
if [ $SLACK = 1 ]; then
  show_thread
  say "The incident's message now reads"
  show_parent
fi

say "Where incident $id stands"
ctl show "$id" | sed -n '1,/^timeline:/p' | sed '$d'
case "$state" in
  resolved)
    if [ ${#enabled[@]} -eq 0 ]; then
      echo "No stage has a worker in this build yet, so every stage was skipped and the"
      echo "incident was closed as 'not verified'.  That is the honest result today: the"
      echo "queue, its state machine and the master work; the workers come next."
    else
      case " ${enabled[*]} " in
        *" execute "*) echo "It went through the enabled stages (${enabled[*]}) and was resolved." ;;
        *) echo "It went through the enabled stages (${enabled[*]}). This build has no executor"
           echo "yet, so nothing ran after the approval and it was closed as 'not verified'." ;;
      esac
    fi ;;
  awaiting_approval) echo "It stops at the approval step: a person decides (opsbotctl approve $id --plan HASH)." ;;
  failed) echo "A stage failed; 'opsbotctl dead-letters' shows which job and why." ;;
  *) echo "It is now '$state': the next stage has no worker in this build yet." ;;
esac

if [ $SIMULATOR = 1 ]; then
  say "The simulated shop now"
  sim_services
  echo "  What happened in the simulator (t = simulated seconds since it started):"
  sim_get /control/state | jq -r '.events[] | "    t=\(.tick)s  \(.text)"' | tail -n 12
  others=$(ctl --json incidents 2>/dev/null | jq -r --argjson id "$id" \
    '[.items[] | select(.source == "watch" and .id != $id) | "\(.id) (\(.service))"] | join(", ")')
  [ -n "$others" ] && echo "  The watch also opened incident(s) $others: the same fault seen from the services that call $fsvc."
  sick=$(sim_get /control/state | jq -r '[.services[] | select(.healthy | not) | .name] | join(", ")')
  [ -n "$sick" ] && echo "  Still unhealthy: $sick. The watch's incidents for them stay open; a person (or the next plan) takes it from here."
fi
# The report stage's files (opsbot-report), when this build has it: the PDF
# is written once the incident is resolved, then the email leaves.
if [ -x "$BIN/opsbot-report" ] && [ "$state" = resolved ]; then
  say "The incident report"
  pdf="$DEMO/reports/incident-$id.pdf"
  t0=$(ms)
  # (a deadline, not a pause: on a starved machine the report job can
  # outlive its 30 s lease and run again)
  until [ -s "$pdf" ] || [ $(($(ms) - t0)) -ge 60000 ]; do sleep 0.2; done
  if [ -s "$pdf" ]; then
    pages=$(pdfinfo "$pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
    echo "  PDF:   $pdf${pages:+ ($pages page(s))}"
  else
    echo "  no PDF at $pdf after 60 s (see $DEMO/opsbot.log)"
  fi
  if [ -n "$MAILDIR" ]; then
    t0=$(ms)
    until ls "$MAILDIR"/*.eml >/dev/null 2>&1 || [ $(($(ms) - t0)) -ge 60000 ]; do sleep 0.2; done
    for m in "$MAILDIR"/*.eml; do
      [ -f "$m" ] || { echo "  no email reached the local SMTP server within 60 s"; break; }
      subj=$(/usr/bin/python3 -c 'import email, email.header, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
print(str(email.header.make_header(email.header.decode_header(m["Subject"] or ""))))' "$m" 2>/dev/null)
      echo "  Email: $m (to $(paste -sd, "${m%.eml}.rcpt" 2>/dev/null): ${subj:-no subject})"
    done
  else
    echo "  (no local SMTP server: python3-aiosmtpd or workers/report/smtpd.py missing; no email sent)"
  fi
elif [ ! -x "$BIN/opsbot-report" ]; then
  # TODO(report): opsbot-report is not in this build; once it is, the PDF
  # and email paths are printed here (see the block above).
  :
fi
if [ $SLACK = 1 ]; then
  say "Transcript of incident $id's thread"
  fs_get "/control/messages?channel=$CH&thread=$pts" | jq -r '.messages[] |
    (.text // "" | gsub("<@(?<u>[A-Za-z0-9_.-]+)>"; "@\(.u)") | gsub("&lt;"; "<") | gsub("&gt;"; ">") | gsub("&amp;"; "&")) as $t |
    ($t | split("\n")) as $l | "  \($l[0])" + (if ($l | length) > 1 then "\n" + ($l[1:] | map("      " + .) | join("\n")) else "" end)'
fi

# ---- stop ------------------------------------------------------------------------
say "Stopping opsbot (SIGTERM: workers first, the queue last)"
kill -TERM "$MASTER"
rc=0
wait "$MASTER" || rc=$?
trap - EXIT
if [ -n "${FAKE:-}" ]; then kill -TERM "$FAKE" 2>/dev/null; wait "$FAKE" 2>/dev/null; fi
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
[ $rc = 0 ] || die "opsbot exited with $rc"
n=$(grep -c 'event=daemon_stopped' opsbot.log)
echo "$n daemon(s) stopped cleanly; opsbot exited 0."

say "What you saw"
if [ $SIMULATOR = 1 ]; then
  src="scraped its /metrics"
  [ -n "${PROM_URL:-}" ] && src="read Prometheus' query_range"
  acted="this build has no executor yet, so nothing ran after the approval"
  [ -x "$BIN/opsbot-exec" ] && acted="opsbot-exec ran the approved action (scripts/actions/) against the simulator and verified the service"
cat <<TXT
  - opsbot-sim ran a small shop (frontend -> api -> cache, db, payment) at 5x
    real time; a $fkind fault was injected into $fsvc.
  - opsbot's watch (opsbot-detect watch) $src, saw $fsvc leave its
    usual range and opened incident $id by itself; no one declared it.
  - opsbot-detect ranked the likely cause from the simulator's history,
    opsbot-retrieve cited the matching runbooks, opsbot-plan proposed steps
    from config/actions.conf checked against config/policy.conf, and the
    risky ones waited for a person (Bob).
  - After the approval, $acted.
  - Every step was one reply in the incident's Slack thread; the parent
    message was edited in place as the state changed.
  - Stages without a worker yet are shown as "skipped: stage not enabled".
  - SIGTERM stopped the workers, then the queue, and opsbot exited 0.
  Rehearse other faults: OPSBOT_DEMO_FAULT=cpu_hog:api make demo (kinds in sim/model.h).
TXT
elif [ $SLACK = 1 ]; then
cat <<TXT
  - opsbot (the master) read the [daemons] table in $DEMO/demo.conf,
    started opsbot-queue first, then the bot and each worker this build has.
  - Alice's slash command reached opsbot-bot over Socket Mode; it was acked
    only after the queue had stored the incident in SQLite.
  - opsbot-detect read the metrics in $DEMO/*.csv and ranked payment as the
    likely cause; opsbot-retrieve cited the runbook sections that match;
    opsbot-plan proposed steps from config/actions.conf, checked against
    config/policy.conf, and the risky ones waited for a person.
  - Every step was one reply in the incident's Slack thread; the parent
    message was edited in place as the state changed.
  - Stages without a worker yet are shown as "skipped: stage not enabled".
  - The resolved incident was indexed, so the next similar incident finds it.
  - SIGTERM stopped the workers, then the queue, and opsbot exited 0.
TXT
else
cat <<TXT
  - opsbot (the master) read the [daemons] table in $DEMO/demo.conf,
    started opsbot-queue first, waited until it answered, then started
    each worker this build has.
  - opsbotctl submit put one incident into the queue; every stage change
    was written to SQLite ($DEMO/var/opsbot.db) before it was shown.
  - Stages without a worker yet are listed as "skipped: stage not enabled".
  - SIGTERM stopped the workers, then the queue, and opsbot exited 0.
TXT
fi
cat <<TXT

Next:
  make test                                   the whole test suite
  $BIN/opsbot -c $DEMO/demo.conf
                                              run the same stack yourself (^C stops it)
  $BIN/opsbotctl -c $DEMO/demo.conf status
  $BIN/opsbotctl -c $DEMO/demo.conf show $id
                                              (in another shell, while it runs)
TXT
exit 0
