#!/usr/bin/env bash
# kill_slow_queries.sh CLUSTER MIN_SECONDS: end simulated queries running longer than that.
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "kill_slow_queries.sh CLUSTER MIN_SECONDS"
sim_check cluster "$1" '[a-z][a-z0-9-]{0,39}'
sim_check min_seconds "$2" '[0-9]{1,5}'
sim_maybe_fail "$1"
n=$(sim_get "db/$1/slow_queries" 3)
sim_set "db/$1/slow_queries" 0
sim_log "cluster=$1 min_seconds=$2 killed=$n"
echo "ended $n queries on $1 running longer than ${2}s"
