#!/usr/bin/env bash
# scale_service.sh SERVICE REPLICAS: set a service's replica count (opsbot-sim).
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "scale_service.sh SERVICE REPLICAS"
sim_check service "$1" "$SVC_RE"
sim_check replicas "$2" '[0-9]{1,3}'
sim_act scale "$1" replicas "$((10#$2))"
