#!/usr/bin/env bash
# demo_runs.sh: `make demo` keeps working: scripts/demo.sh finishes by
# itself, exits 0, plays the incident (a simulator fault the watch detects,
# or without opsbot-sim Alice's declared one) through the Slack stand-in
# and every stage this build has, labels stages without a worker, no daemon crashes
# on the way, and opsbot stops cleanly.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
OPSBOT_DEMO_DIR="$T/demo" timeout 180 bash "$root/scripts/demo.sh" >demo.log 2>&1; rc=$?
cp "$T/demo/opsbot.log" "$T/demo-opsbot.log" 2>/dev/null
[ $rc = 0 ] || t_fail "demo.sh exit: got $rc want 0"
wants=("opsbot exited 0" "What you saw")
slack=0
[ -x "$OPSBOT_BIN/fake-slack" ] && [ -x "$OPSBOT_BIN/opsbot-bot" ] && slack=1
if [ -x "$OPSBOT_BIN/opsbot-sim" ] && [ -x "$OPSBOT_BIN/opsbot-detect" ]; then
  # the simulator's story: a fault, the watch opens the incident by itself
  wants+=("A fault is injected into the simulator: db_conn_exhaustion"
    "The watch opened incident" "Most likely cause: db" "The simulated shop now")
  [ $slack = 1 ] && wants+=("Incident opened: opsbot's metric watch saw" "Transcript of incident")
  # the approved actions ran against the simulator and were checked
  [ -x "$OPSBOT_BIN/opsbot-exec" ] && wants+=("Execute finished" "Verify finished" "took effect")
elif [ $slack = 1 ]; then
  wants+=("Alice declares an incident" "Incident opened by <@U0ALICE>" "Most likely cause: payment")
else
  wants+=("Opening an incident" "incident.opened")
fi
[ -x "$OPSBOT_BIN/opsbot-retrieve" ] && wants+=("Retrieve finished" "runbooks/")
[ -x "$OPSBOT_BIN/opsbot-plan" ] && wants+=("Plan proposed")
# The report: the PDF's path, and the email the local SMTP server got.
if [ -x "$OPSBOT_BIN/opsbot-report" ]; then
  pdf=$(grep -o 'PDF:   [^ ]*\.pdf' demo.log | awk '{print $2}')
  [ -s "$pdf" ] || t_fail "demo output: want the PDF's path ($(grep -A3 'incident report' demo.log))"
  if /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
    mail=$(grep -o 'Email: [^ ]*\.eml' demo.log | awk '{print $2}')
    [ -s "$mail" ] || t_fail "demo output: want the email's path"
  fi
fi
# Bob approves: with the Approve button (a block_actions click) where the
# plan card has one, else from the command line.
if [ -x "$OPSBOT_BIN/opsbot-plan" ]; then
  grep -qF "Plan approved by <@U0BOB>" demo.log || grep -qF "Bob presses Approve in the thread" demo.log ||
    t_fail "demo output: want Bob's approval"
  grep -q "awaiting_approval → executing" demo.log || t_fail "demo output: the approval did not move the incident on"
fi
for want in "${wants[@]}"; do
  grep -qF -- "$want" demo.log || t_fail "demo output: want '$want'"
done
for prog in opsbot-detect opsbot-retrieve opsbot-plan opsbot-exec opsbot-report; do
  if [ ! -x "$OPSBOT_BIN/$prog" ]; then
    grep -q "skipped: stage not enabled ($prog is not built yet)" demo.log ||
      t_fail "demo does not label $prog as not built"
  fi
done
# A daemon that died and was restarted during the demo is a failure even
# when the demo's output looks fine.
if grep 'event=daemon_exited' "$T/demo-opsbot.log" | grep -v 'status="exit 0"' | grep -q .; then
  t_fail "a daemon exited during the demo: $(grep 'event=daemon_exited' "$T/demo-opsbot.log" | head -3)"
fi
pgrep -f "$T/demo/demo.conf" >/dev/null && t_fail "demo left processes running"
pgrep -f "$T/demo/var/run/fake-slack.port" >/dev/null && t_fail "demo left fake-slack running"
pgrep -f "$T/demo/var/run/sim.port" >/dev/null && t_fail "demo left opsbot-sim running"
echo "ok demo_runs"
