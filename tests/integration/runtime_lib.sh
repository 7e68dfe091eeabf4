# tests/integration/runtime_lib.sh: helpers shared by the runtime's tests
# (master, workers, opsbotctl).  Source after tests/lib.sh.

# Field of one daemon in the master's status file: dfield NAME FIELD
dfield() {
  jq -r --arg n "$1" --arg f "$2" '.daemons[] | select(.name == $n) | .[$f]' \
    "$T/var/run/opsbot-master.json" 2>/dev/null
}

# True when daemon NAME is running with a pid other than $2 (when given).
drunning() {
  [ "$(dfield "$1" state)" = running ] || return 1
  local pid; pid=$(dfield "$1" pid)
  [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "${2:-}" ] && kill -0 "$pid" 2>/dev/null
}

# count PATTERN FILE: how many lines match (0 when the file is missing).
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }

# rpc TYPE FIELDS [INCIDENT]: one raw request to the test's queue; prints the reply.
rpc() {
  wirecat "$QURL" "$(jq -cn --arg t "$1" --argjson f "$2" --argjson i "${3:-0}" \
    '$f + {type: $t, incident: $i}')"
}

# start_queue [EXTRA CONFIG LINES]: write $T/opsbot.conf with a queue on a
# socket in $T and the test worker's short lease, start opsbot-queue, wait
# until it answers.  Sets QURL.
start_queue() {
  QURL="ipc://$T/var/run/q.ipc"
  cat > "$T/opsbot.conf" <<CONF
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
[test-worker]
lease = 1s
claim_wait = 200ms
stop_grace = 10s
${1:-}
CONF
  t_start queue opsbot-queue -c "$T/opsbot.conf"
  t_wait "the queue answers" rpc query '{"what":"stats"}'
}

# submit_job KIND [INCIDENT]: a raw job; prints its id.
submit_job() {
  rpc submit "{\"what\":\"job\",\"job\":{\"kind\":\"$1\",\"input\":{}}}" "${2:-0}" | jq -r .job
}

# job_field ID FIELD: from query jobs.
job_field() {
  rpc query '{"what":"jobs"}' | jq -r --argjson id "$1" --arg f "$2" '.items[] | select(.id == $id) | .[$f]'
}
