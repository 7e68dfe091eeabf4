#!/usr/bin/env bash
# failover_database.sh CLUSTER: promote the replica of a database (opsbot-sim's db).
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "failover_database.sh CLUSTER"
sim_check cluster "$1" '[a-z][a-z0-9-]{0,39}'
sim_act failover "$1"
