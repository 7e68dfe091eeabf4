#!/usr/bin/env bash
# unlimit_traffic.sh SERVICE: admit all requests to a simulated service again.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "unlimit_traffic.sh SERVICE"
sim_check service "$1" "$SVC_RE"
sim_maybe_fail "$1"
sim_set "services/$1/traffic_pct" 100
sim_log "service=$1"
echo "$1 admits all requests again"
