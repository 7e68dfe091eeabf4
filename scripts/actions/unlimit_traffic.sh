#!/usr/bin/env bash
# unlimit_traffic.sh SERVICE: admit all requests to a service again (opsbot-sim).
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "unlimit_traffic.sh SERVICE"
sim_check service "$1" "$SVC_RE"
sim_act unlimit_traffic "$1"
