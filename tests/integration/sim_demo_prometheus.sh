#!/usr/bin/env bash
# sim_demo_prometheus.sh: `make demo PROMETHEUS=1` keeps working: a real
# Prometheus scrapes the simulator, the watch and the detect stage read its
# query_range, the watch opens the incident, detection ranks db first, and
# the demo exits 0 leaving no Prometheus or simulator behind.
. "$(dirname "$0")/../lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
command -v prometheus >/dev/null || t_skip "prometheus not installed"
[ -x "$OPSBOT_BIN/opsbot-sim" ] || t_skip "opsbot-sim not built"
PROMETHEUS=1 OPSBOT_DEMO_DIR="$T/demo" timeout 180 bash "$root/scripts/demo.sh" >demo.log 2>&1; rc=$?
[ $rc = 0 ] || t_fail "demo.sh PROMETHEUS=1 exit: got $rc want 0"
for want in "scrapes it every 500 ms; the watch reads query_range" "The watch opened incident" \
  "Most likely cause: db" "instance=" "opsbot exited 0"; do
  grep -qF -- "$want" demo.log || t_fail "demo output: want '$want'"
done
pgrep -f "$T/demo/prometheus" >/dev/null && t_fail "demo left Prometheus running"
pgrep -f "$T/demo/var/run/sim.port" >/dev/null && t_fail "demo left opsbot-sim running"
echo "ok: $(grep -m1 'after the fault' demo.log | sed 's/^== //')"
