#!/usr/bin/env bash
# noop.sh [REASON]: do nothing on purpose (watch and wait), recorded like any action.
. "$(dirname "$0")/lib.sh"
[ $# -le 1 ] || sim_usage "noop.sh [REASON]"
sim_log "reason=${1:-}"
sim_record "" "${1:-}"
echo "no change made${1:+: $1}"
