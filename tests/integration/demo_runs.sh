#!/usr/bin/env bash
# demo_runs.sh: `make demo` keeps working: scripts/demo.sh finishes by
# itself, exits 0, plays the incident through the Slack stand-in and every
# stage this build has, labels stages without a worker, no daemon crashes
# on the way, and opsbot stops cleanly.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
OPSBOT_DEMO_DIR="$T/demo" timeout 90 bash "$root/scripts/demo.sh" >demo.log 2>&1; rc=$?
cp "$T/demo/opsbot.log" "$T/demo-opsbot.log" 2>/dev/null
[ $rc = 0 ] || t_fail "demo.sh exit: got $rc want 0"
wants=("opsbot exited 0" "What you saw")
if [ -x "$OPSBOT_BIN/fake-slack" ] && [ -x "$OPSBOT_BIN/opsbot-bot" ]; then
  wants+=("Alice declares an incident" "Incident opened by <@U0ALICE>")
else
  wants+=("Opening an incident" "incident.opened")
fi
[ -x "$OPSBOT_BIN/opsbot-detect" ] && wants+=("Most likely cause: payment")
[ -x "$OPSBOT_BIN/opsbot-retrieve" ] && wants+=("Retrieve finished" "runbooks/")
[ -x "$OPSBOT_BIN/opsbot-plan" ] && wants+=("Plan proposed" "Plan approved by <@U0BOB>")
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
echo "ok demo_runs"
