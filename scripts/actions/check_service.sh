#!/usr/bin/env bash
# check_service.sh SERVICE: verification; exits 0 when the service meets its
# objectives in opsbot-sim (p95, errors, CPU, memory), 1 with what is wrong.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "check_service.sh SERVICE"
sim_check service "$1" "$SVC_RE"
sim_http GET "/control/health?service=$1"
if [ "$SIM_CODE" != 200 ]; then echo "cannot check $1: $(sim_field .error)"; exit 1; fi
if [ "$(sim_field .healthy)" = true ]; then echo "$1 is healthy ($(sim_field .why))"; exit 0; fi
echo "$1 is still unhealthy: $(sim_field .why)"
exit 1
