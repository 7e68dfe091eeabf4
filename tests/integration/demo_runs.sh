#!/usr/bin/env bash
# demo_runs.sh: `make demo` keeps working: scripts/demo.sh finishes by
# itself, exits 0, labels stages without a worker, and stops opsbot cleanly.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
OPSBOT_DEMO_DIR="$T/demo" timeout 60 bash "$root/scripts/demo.sh" >demo.log 2>&1; rc=$?
[ $rc = 0 ] || t_fail "demo.sh exit: got $rc want 0"
for want in "Opening an incident" "incident.opened" "incident 1: Checkout p99 latency above 2s" \
  "opsbot exited 0" "What you saw"; do
  grep -q -- "$want" demo.log || t_fail "demo output: want '$want'"
done
for prog in opsbot-detect opsbot-retrieve opsbot-plan opsbot-exec opsbot-report; do
  if [ ! -x "$OPSBOT_BIN/$prog" ]; then
    grep -q "skipped: stage not enabled ($prog is not built yet)" demo.log ||
      t_fail "demo does not label $prog as not built"
  fi
done
pgrep -f "$T/demo/demo.conf" >/dev/null && t_fail "demo left processes running"
echo "ok demo_runs"
