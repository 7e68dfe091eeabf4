#!/usr/bin/env bash
# restart_service.sh SERVICE: restart every instance of a simulated service.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "restart_service.sh SERVICE"
sim_check service "$1" "$SVC_RE"
sim_maybe_fail "$1"
n=$(sim_get "services/$1/restarts" 0)
sim_set "services/$1/restarts" $((n + 1))
rm -f "$SIM/services/$1/unhealthy"
sim_log "service=$1"
echo "restarted $1 (restart $((n + 1)))"
