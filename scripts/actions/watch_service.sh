#!/usr/bin/env bash
# watch_service.sh SERVICE: changes nothing.  A plan adds it for a service
# the incident touches but no other step acts on, so that verification
# (check_service.sh SERVICE, the catalog's verify) also waits for that
# service to meet its objectives again.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "watch_service.sh SERVICE"
sim_check service "$1" "$SVC_RE"
sim_log "service=$1"
sim_record "$1" "verification checks it"
echo "no change to $1; verification checks that it meets its objectives"
