#!/usr/bin/env bash
# demo_interactive.sh: `make demo INTERACTIVE=1` lets a person do the
# clicking: the demo prints the Slack stand-in's page and waits; headless
# Chromium opens that page and presses Approve on the plan as U0BOB (and
# U0CAROL when the policy wants a second person); the bot gets the
# block_actions payload, the queue counts it and the incident goes on to
# execution, which the demo shows.  Then the test stops the demo, which
# must stop everything it started.  Skips (77) without chromium.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || t_skip "chromium is not installed (bash scripts/deps.sh installs it)"
command -v jq >/dev/null || t_skip "jq not installed"
for p in fake-slack opsbot-bot opsbot-sim opsbot-detect opsbot-plan; do
  [ -x "$OPSBOT_BIN/$p" ] || t_skip "$p is not built"
done
T_DEADLINE=45
INTERACTIVE=1 OPSBOT_DEMO_DIR="$T/demo" bash "$root/scripts/demo.sh" >demo.log 2>&1 &
DEMO=$!
T_PIDS+=("$DEMO")

chrome() { # chrome ARGS...: one headless run with a fresh profile
  local prof; prof=$(mktemp -d "$T/chrome.XXXXXX")
  timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --no-first-run --user-data-dir="$prof" "$@" 2>>"$T/chrome.log"
}
# the demo waits for a person: its prompt names the page and the incident
t_wait "the demo's prompt to approve in the browser" grep -q 'Your turn: approve the plan' demo.log
grep -q 'press Approve on incident' demo.log ||
  t_fail "the demo offers no Approve button: $(sed -n '/Your turn/,$p' demo.log)"
page=$(sed -n '/Your turn/,$p' demo.log | grep -o 'http://127\.0\.0\.1:[0-9]*/page?channel=[A-Z0-9]*' | head -n 1)
[ -n "$page" ] || t_fail "the prompt names no page: $(sed -n '/Your turn/,$p' demo.log)"
id=$(sed -n 's/.*press Approve on incident \([0-9]*\).s plan.*/\1/p' demo.log | head -n 1)
[ -n "$id" ] || t_fail "the prompt names no incident"

click() { # click USER: press Approve in the page as USER; prints the envelope id
  chrome --virtual-time-budget=6000 --dump-dom "$page&user=$1&autoclick=approve" >"click-$1.html"
  grep -o '<div id="clicked">clicked opsbot_approve envelope [^<]*' "click-$1.html" | awk '{print $NF}'
}
env=$(click U0BOB)
[ -n "$env" ] || t_fail "the page did not press Approve: $(grep -o '<div id="status">[^<]*' click-U0BOB.html)"
DEMOLOG=$T/demo/opsbot.log
t_wait "the bot takes U0BOB's click" grep -q 'action=approve user="U0BOB"' "$DEMOLOG"
executing() { grep -q 'awaiting_approval → executing' demo.log; }
counted() { executing || grep -q 'approved by bob\|Plan approved by <@U0BOB>' demo.log; }
t_wait "the demo shows U0BOB's approval in the thread" counted
# Whether a second person must approve is the queue's answer to Bob's click
# ("have=1 need=2"), not a guess from the demo's output: the plan's own text
# ("needs approval); 2. ...") matches a loose pattern, and the state line may
# not be printed yet, which once sent Carol to a plan that had no buttons left.
bob_counted() { grep "event=approval incident=$id identity=\"slack U0BOB" "$DEMOLOG" | grep -q 'decision=approve have='; }
t_wait "the queue counts U0BOB's approval" bob_counted
tally=$(grep "event=approval incident=$id identity=\"slack U0BOB" "$DEMOLOG" | tail -n 1)
have=$(sed -n 's/.* have=\([0-9]*\).*/\1/p' <<<"$tally")
need=$(sed -n 's/.* need=\([0-9]*\).*/\1/p' <<<"$tally")
[ -n "$have" ] && [ -n "$need" ] || t_fail "no tally in the queue's log line: $tally"
if [ "$have" -lt "$need" ]; then
  env2=$(click U0CAROL)
  [ -n "$env2" ] || t_fail "the page did not press Approve as U0CAROL (queue: $tally)"
fi
t_wait "the approval moves incident $id on to execution" executing
# stopping the demo stops what it started (the EXIT trap runs on TERM too)
master=$(cat "$T/demo/var/run/opsbot.pid" 2>/dev/null)
[ -n "$master" ] || t_fail "no opsbot.pid in the demo's state"
kill -TERM "$DEMO"
t_wait "the demo stops" bash -c "! kill -0 $DEMO 2>/dev/null"
t_wait "opsbot stops with the demo" bash -c "! kill -0 $master 2>/dev/null"
echo "ok: incident $id approved in the browser (envelope $env)"
