#!/usr/bin/env bash
# uncordon_node.sh NODE: let a simulated node take work again.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "uncordon_node.sh NODE"
sim_check node "$1" "$NODE_RE"
sim_maybe_fail "$1"
sim_set "nodes/$1/state" ready
sim_log "node=$1"
sim_record "$1" "takes work again"
echo "node $1 takes work again"
