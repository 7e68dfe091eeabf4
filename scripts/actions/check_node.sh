#!/usr/bin/env bash
# check_node.sh NODE: verification; exits 0 when the simulated node's disk is under 90% used.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "check_node.sh NODE"
sim_check node "$1" "$NODE_RE"
used=$(sim_get "nodes/$1/disk_used_pct" 50)
if [ "$used" -ge 90 ]; then echo "$1 disk still ${used}% used"; exit 1; fi
echo "$1 disk ${used}% used"
