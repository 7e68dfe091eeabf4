#!/usr/bin/env bash
# failover_database.sh CLUSTER: promote the simulated replica of a database cluster.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "failover_database.sh CLUSTER"
sim_check cluster "$1" '[a-z][a-z0-9-]{0,39}'
sim_maybe_fail "$1"
p=$(sim_get "db/$1/primary" "$1-a")
if [ "$p" = "$1-a" ]; then n="$1-b"; else n="$1-a"; fi
sim_set "db/$1/primary" "$n"
sim_log "cluster=$1 primary=$p->$n"
echo "failed $1 over from $p to $n"
