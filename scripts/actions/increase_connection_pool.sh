#!/usr/bin/env bash
# increase_connection_pool.sh SERVICE SIZE: set the db connection pool a service uses (opsbot-sim).
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "increase_connection_pool.sh SERVICE SIZE"
sim_check service "$1" "$SVC_RE"
sim_check size "$2" '[0-9]{1,4}'
sim_act pool "$1" size "$((10#$2))"
