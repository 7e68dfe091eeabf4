#!/usr/bin/env bash
# check_service.sh SERVICE: verification; exits 0 when the simulated service is healthy.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "check_service.sh SERVICE"
sim_check service "$1" "$SVC_RE"
if [ -e "$SIM/services/$1/unhealthy" ]; then echo "$1 is still unhealthy"; exit 1; fi
echo "$1 is healthy"
