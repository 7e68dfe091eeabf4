#!/usr/bin/env bash
# open_ticket.sh PRIORITY TITLE: open a ticket in the simulated tracker.
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || sim_usage "open_ticket.sh PRIORITY TITLE"
sim_check priority "$1" 'p[1-4]'
sim_maybe_fail "$1"
n=$(( $(sim_get tickets/next 100) + 1 ))
sim_set tickets/next "$n"
printf '%s %s %s\n' "OPS-$n" "$1" "$2" >>"$SIM/tickets.log"
sim_log "ticket=OPS-$n priority=$1"
sim_record "OPS-$n" "$1 $2"
echo "opened ticket OPS-$n ($1)"
