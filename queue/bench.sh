#!/usr/bin/env bash
# queue/bench.sh: opsbot-queue against Redis on the same workload, in
# alternating rounds, so the ratio is read in one run on a noisy machine.
#
# Each round starts opsbot-queue on a fresh database (sync = full) in a
# temporary directory on the build disk and runs queue_bench over ipc://;
# then, when redis-server is installed, a fresh Redis with appendonly yes and
# appendfsync always on a unix socket, and runs redis_bench (queue/
# redis_bench.c: the same lifecycle as Redis scripts).  Prints ONE JSON line:
# the queue's figures from its median round (by jobs/s), plus
# redis_jobs_per_s (median) and ratio_vs_redis, or null for both when
# redis-server is missing (scripts/deps.sh bench installs it).
#
# JOBS (default 50000) jobs per round; ROUNDS (default 5) rounds each: on
# this shared 2-core machine single rounds swing 2x with the load, so the
# medians need more than 3.  load_avg is the 1-minute load average at the
# start and at the end of the run, to read the figures by.
# queue_bench sends submits of up to QB_SUBMIT_BATCH (16) jobs; Redis gets one
# script call per job, pipelined (RB_SUBMIT_BATCH=16 gives it batched calls too).
set -u
B=$1
JOBS=${JOBS:-50000}
ROUNDS=${ROUNDS:-5}
load_start=$(cut -d' ' -f1 /proc/loadavg)
work=$(mktemp -d "$(cd "$B" && pwd)/bench-queue.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

queue_round() {
  local dir=$work/q$1 qpid rc
  mkdir -p "$dir"
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
  pids+=("$qpid")
  for _ in $(seq 100); do [ -S "$dir/q.ipc" ] && break; sleep 0.05; done
  "$B/bench/queue_bench" "ipc://$dir/q.ipc" "$qpid" "$dir" "$JOBS" >>"$work/queue.jsonl"
  rc=$?
  # Batching and CPU as the queue saw them (stderr, for tuning).
  "$B/bin/wirecat" "ipc://$dir/q.ipc" '{"type":"query","what":"stats"}' |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["stats"]; print("queue: commits=%d requests=%d (%.1f per commit)" % (s["commits"], s["requests"], s["requests"]/max(1,s["commits"])), file=sys.stderr)' || true
  awk '{printf "queue: cpu user=%.2fs sys=%.2fs\n", $14/100, $15/100}' "/proc/$qpid/stat" >&2
  kill "$qpid"; wait "$qpid" 2>/dev/null
  [ $rc -eq 0 ] || { tail -n 20 "$dir/queue.log" >&2; exit $rc; }
}

redis_round() {
  local dir=$work/r$1 rpid rc
  mkdir -p "$dir"
  redis-server --port 0 --unixsocket "$dir/redis.sock" --dir "$dir" --save '' \
    --appendonly yes --appendfsync always --daemonize no --loglevel warning \
    >"$dir/redis.log" 2>&1 &
  rpid=$!
  pids+=("$rpid")
  for _ in $(seq 100); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
  "$B/bench/redis_bench" "$dir/redis.sock" "$rpid" "$JOBS" >>"$work/redis.jsonl"
  rc=$?
  awk '{printf "redis: cpu user=%.2fs sys=%.2fs\n", $14/100, $15/100}' "/proc/$rpid/stat" >&2
  kill "$rpid"; wait "$rpid" 2>/dev/null
  [ $rc -eq 0 ] || { tail -n 20 "$dir/redis.log" >&2; exit $rc; }
}

have_redis=0
if command -v redis-server >/dev/null && [ -x "$B/bench/redis_bench" ]; then
  have_redis=1
else
  echo "queue bench: redis-server or redis_bench missing; no Redis comparison (make bench installs it)" >&2
fi
for r in $(seq "$ROUNDS"); do
  queue_round "$r"
  [ $have_redis = 1 ] && redis_round "$r"
done

python3 - "$work/queue.jsonl" "$work/redis.jsonl" "$ROUNDS" "$load_start" <<'PY'
import json, sys, statistics
q = [json.loads(l) for l in open(sys.argv[1])]
try:
    r = [json.loads(l) for l in open(sys.argv[2])]
except FileNotFoundError:
    r = []
q.sort(key=lambda x: x["jobs_per_s"])
out = dict(q[len(q) // 2])
out["bench"] = "queue"
out["rounds"] = int(sys.argv[3])
out["jobs_per_s_all"] = [x["jobs_per_s"] for x in q]
out["load_avg"] = [float(sys.argv[4]), float(open("/proc/loadavg").read().split()[0])]
if r:
    rj = statistics.median(x["jobs_per_s"] for x in r)
    out["redis_jobs_per_s"] = round(rj)
    out["redis_submit_p50_ms"] = statistics.median(x["submit_p50_ms"] for x in r)
    out["redis_submit_p99_ms"] = statistics.median(x["submit_p99_ms"] for x in r)
    out["redis_rss_mb"] = max(x["rss_mb"] for x in r)
    out["redis_submit_batch"] = r[0].get("submit_batch", 1)
    out["redis_jobs_per_s_all"] = sorted(x["jobs_per_s"] for x in r)
    out["ratio_vs_redis"] = round(statistics.median(x["jobs_per_s"] for x in q) / rj, 2)
else:
    out["redis_jobs_per_s"] = None
    out["ratio_vs_redis"] = None
print(json.dumps(out, separators=(",", ":")))
PY
