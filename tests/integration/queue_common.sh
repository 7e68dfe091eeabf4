# queue_common.sh: shared set-up for the opsbot-queue integration tests
# (sourced after tests/lib.sh and t_setup).
#   q_config [extra [queue] lines...]   write $T/opsbot.conf
#   q_start                             start opsbot-queue, wait until it answers
#   q URL-less wirecat call: q '{"type":"query","what":"stats"}'
#   jget FILE-or-JSON EXPR              python3 expression on the JSON as d

Q_URL="ipc://$T/var/run/q.ipc"
EV_URL="ipc://$T/var/run/ev.ipc"

q_config() {
  {
    echo "[queue]"
    echo "listen = $Q_URL"
    echo "events = $EV_URL"
    echo "db = $T/var/q.db"
    local l; for l in "$@"; do echo "$l"; done
    echo "[pipeline]"
    echo "stages = detect retrieve plan execute verify report index"
  } >"$T/opsbot.conf"
}

q() { wirecat -t 20000 "$Q_URL" "$1"; }

q_start() {
  t_start queue opsbot-queue -c "$T/opsbot.conf"
  t_wait "opsbot-queue answers" q '{"type":"query","what":"stats"}'
}

jget() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }
