#!/usr/bin/env bash
# rollback_deploy.sh SERVICE [VERSION]: roll a service back to its previous version (opsbot-sim).
# The simulator keeps one previous version; a named VERSION must be that one.
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] && [ $# -le 2 ] || sim_usage "rollback_deploy.sh SERVICE [VERSION]"
sim_check service "$1" "$SVC_RE"
if [ -n "${2:-}" ]; then
  sim_check version "$2" 'v?[0-9][0-9a-z.-]{0,39}'
  sim_http GET /control/state
  prev=$(printf '%s' "$SIM_BODY" | jq -r --arg s "$1" '.services[] | select(.name == $s) | .previous_version' 2>/dev/null)
  want="v${2#v}"
  if [ -n "$prev" ] && [ "$want" != "$prev" ]; then
    echo "cannot roll $1 back to $want: the previous version is $prev"; sim_log "refused service=$1 version=$want"; exit 1
  fi
fi
sim_act rollback "$1"
