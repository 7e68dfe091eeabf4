#!/usr/bin/env bash
# kill_slow_queries.sh CLUSTER MIN_SECONDS: end db sessions open longer than that (opsbot-sim's db).
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "kill_slow_queries.sh CLUSTER MIN_SECONDS"
sim_check cluster "$1" '[a-z][a-z0-9-]{0,39}'
sim_check min_seconds "$2" '[0-9]{1,5}'
sim_act kill_queries "$1"
