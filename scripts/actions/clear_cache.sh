#!/usr/bin/env bash
# clear_cache.sh SERVICE CACHE: flush the cache a service reads through (opsbot-sim's cache tier).
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "clear_cache.sh SERVICE CACHE"
sim_check service "$1" "$SVC_RE"
sim_check cache "$2" 'all|redis|cdn|local'
sim_act clear_cache "$1"
