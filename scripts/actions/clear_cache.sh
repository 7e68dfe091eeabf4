#!/usr/bin/env bash
# clear_cache.sh SERVICE CACHE: empty a simulated cache of a service.
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "clear_cache.sh SERVICE CACHE"
sim_check service "$1" "$SVC_RE"
sim_check cache "$2" 'all|redis|cdn|local'
sim_maybe_fail "$1"
sim_set "services/$1/cache_cleared_$2" "$(date -u +%s)"
sim_log "service=$1 cache=$2"
echo "cleared the $2 cache of $1"
