#!/usr/bin/env bash
# page_oncall.sh TEAM [MESSAGE]: page a team's on-call person (simulated pager).
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] && [ $# -le 2 ] || sim_usage "page_oncall.sh TEAM [MESSAGE]"
sim_check team "$1" '[a-z][a-z0-9-]{0,39}'
sim_maybe_fail "$1"
printf '%s %s\n' "$1" "${2:-}" >>"$SIM/pages.log"
sim_log "team=$1"
sim_record "$1" "${2:-}"
echo "paged the $1 on-call"
