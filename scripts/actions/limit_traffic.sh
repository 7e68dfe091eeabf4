#!/usr/bin/env bash
# limit_traffic.sh SERVICE PERCENT: admit only PERCENT of requests to a service (opsbot-sim).
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "limit_traffic.sh SERVICE PERCENT"
sim_check service "$1" "$SVC_RE"
sim_check percent "$2" '[0-9]{1,3}'
sim_act limit_traffic "$1" percent "$((10#$2))"
