#!/usr/bin/env bash
# limit_traffic.sh SERVICE PERCENT: admit only PERCENT of requests to a simulated service.
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "limit_traffic.sh SERVICE PERCENT"
sim_check service "$1" "$SVC_RE"
sim_check percent "$2" '[0-9]{1,3}'
sim_maybe_fail "$1"
sim_set "services/$1/traffic_pct" "$2"
sim_log "service=$1 percent=$2"
echo "$1 now admits ${2}% of requests"
