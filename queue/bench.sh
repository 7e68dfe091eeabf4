#!/usr/bin/env bash
# queue/bench.sh: start opsbot-queue on a fresh database in a temporary
# directory on the build disk and run queue_bench against it over ipc://.
# Prints the one JSON line of queue_bench.  JOBS (default 50000) sets the size.
set -u
B=$1
dir=$(mktemp -d "$B/bench-queue.XXXXXX")
cleanup() { [ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
cat >"$dir/opsbot.conf" <<EOC
[queue]
listen = ipc://$dir/q.ipc
events = ipc://$dir/ev.ipc
db = $dir/q.db
contexts = 256
sync = ${QB_SYNC:-full}
EOC
OPSBOT_LOG_LEVEL=warn "$B/bin/opsbot-queue" -c "$dir/opsbot.conf" 2>"$dir/queue.log" &
qpid=$!
for _ in $(seq 100); do [ -S "$dir/q.ipc" ] && break; sleep 0.05; done
"$B/bench/queue_bench" "ipc://$dir/q.ipc" "$qpid" "$dir" "${JOBS:-50000}"
rc=$?
# Batching as the queue saw it (stderr, for tuning; stdout stays one line).
"$B/bin/wirecat" "ipc://$dir/q.ipc" '{"type":"query","what":"stats"}' |
  python3 -c 'import json,sys; s=json.load(sys.stdin)["stats"]; print("queue: commits=%d requests=%d (%.1f per commit)" % (s["commits"], s["requests"], s["requests"]/max(1,s["commits"])), file=sys.stderr)' || true
# The queue's CPU (utime, stime in clock ticks) and context switches.
awk '{printf "queue: cpu user=%.2fs sys=%.2fs\n", $14/100, $15/100}' "/proc/$qpid/stat" >&2
grep ctxt "/proc/$qpid/status" | tr '\n' ' ' >&2; echo >&2
[ $rc -eq 0 ] || tail -n 20 "$dir/queue.log" >&2
exit $rc
