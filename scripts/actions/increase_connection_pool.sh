#!/usr/bin/env bash
# increase_connection_pool.sh SERVICE SIZE: set a simulated service's connection pool size.
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "increase_connection_pool.sh SERVICE SIZE"
sim_check service "$1" "$SVC_RE"
sim_check size "$2" '[0-9]{1,4}'
sim_maybe_fail "$1"
old=$(sim_get "services/$1/pool_size" 50)
sim_set "services/$1/pool_size" "$2"
sim_log "service=$1 pool=$old->$2"
echo "connection pool of $1 from $old to $2"
