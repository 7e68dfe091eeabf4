#!/usr/bin/env bash
# rollback_deploy.sh SERVICE [VERSION]: go back to the previous (or a named) version.
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] && [ $# -le 2 ] || sim_usage "rollback_deploy.sh SERVICE [VERSION]"
sim_check service "$1" "$SVC_RE"
sim_maybe_fail "$1"
cur=$(sim_get "services/$1/version" v2)
to=${2:-$(sim_get "services/$1/previous_version" v1)}
sim_check version "$to" 'v?[0-9a-z.-]{1,40}'
sim_set "services/$1/previous_version" "$cur"
sim_set "services/$1/version" "$to"
sim_log "service=$1 version=$cur->$to"
echo "rolled $1 back from $cur to $to"
