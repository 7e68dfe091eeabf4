#!/usr/bin/env bash
# restart_service.sh SERVICE: rolling restart of every replica of a service (opsbot-sim).
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "restart_service.sh SERVICE"
sim_check service "$1" "$SVC_RE"
sim_act restart "$1"
