#!/usr/bin/env bash
# scale_service.sh SERVICE REPLICAS: set a simulated service's replica count.
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "scale_service.sh SERVICE REPLICAS"
sim_check service "$1" "$SVC_RE"
sim_check replicas "$2" '[0-9]{1,3}'
sim_maybe_fail "$1"
old=$(sim_get "services/$1/replicas" 2)
sim_set "services/$1/replicas" "$2"
sim_log "service=$1 replicas=$old->$2"
echo "scaled $1 from $old to $2 replicas"
