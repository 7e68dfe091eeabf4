#!/usr/bin/env bash
# free_disk_space.sh NODE PATH: delete old rotated files under one allowed path of a simulated node.
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "free_disk_space.sh NODE PATH"
sim_check node "$1" "$NODE_RE"
sim_check path "$2" '/var/log|/tmp|/var/cache'
sim_maybe_fail "$1"
used=$(sim_get "nodes/$1/disk_used_pct" 95)
now=$(( used > 30 ? used - 25 : used ))
sim_set "nodes/$1/disk_used_pct" "$now"
sim_log "node=$1 path=$2 used=$used->$now"
sim_record "$1" "freed $2: ${used}% -> ${now}%"
echo "freed space under $2 on $1: ${used}% -> ${now}% used"
