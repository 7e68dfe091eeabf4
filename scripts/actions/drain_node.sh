#!/usr/bin/env bash
# drain_node.sh NODE: move simulated work off a node and mark it unschedulable.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "drain_node.sh NODE"
sim_check node "$1" "$NODE_RE"
sim_maybe_fail "$1"
sim_set "nodes/$1/state" drained
sim_log "node=$1"
sim_record "$1" "drained"
echo "drained node $1"
