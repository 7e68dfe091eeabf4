#!/usr/bin/env bash
# flush_queue_consumers.sh QUEUE: restart the consumers of a simulated queue.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || sim_usage "flush_queue_consumers.sh QUEUE"
sim_check queue "$1" '[a-z][a-z0-9._-]{0,62}'
sim_maybe_fail "$1"
sim_set "queues/$1/consumers_restarted" "$(date -u +%s)"
sim_set "queues/$1/lag" 0
sim_log "queue=$1"
sim_record "$1" "consumers restarted"
echo "restarted the consumers of queue $1"
