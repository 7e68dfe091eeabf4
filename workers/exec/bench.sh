#!/usr/bin/env bash
# workers/exec/bench.sh: make bench BENCH=exec.  A real opsbot-queue (default
# sync = full), the test-worker as planner (one plan of two no-op steps that
# needs approval) and a real opsbot-exec, in a temporary directory; then
# exec_bench times N approvals (see workers/exec/bench.c).  One JSON line.
set -u
B=${1:?build dir}
N=${EXEC_BENCH_N:-50}
BIN=$(cd "$B/bin" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/exec-bench.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/var/run" "$T/scripts/actions"
ln -s /bin/true "$T/scripts/actions/noop"
cat > "$T/actions.conf" <<'CONF'
[action noop]
description = Nothing, as fast as a process can do it.
run = scripts/actions/noop {reason}
param = reason default=bench pattern [a-z]{1,20}
risk = low
idempotent = yes
CONF
cat > "$T/plan.json" <<'JSON'
{"plan":{"id":"b","hash":"h-bench","planner":"test-worker","signature":"bench",
 "steps":[{"action":"noop","params":{},"risk":"low","rationale":"bench","citations":[],"approval":"required"},
          {"action":"noop","params":{"reason":"again"},"risk":"low","rationale":"bench","citations":[],"approval":"required"}],
 "notes":[]},"needs_approval":true,"summary":"bench plan"}
JSON
# The queue judges approvals: the account running the bench is its approver.
cat > "$T/policy.conf" <<CONF
[policy]
approvers = ops
distinct_approvers = 1
requester_may_approve = yes
approval_expiry = 30m
timezone = UTC
[person me]
unix = $(id -un)
[group ops]
members = me
CONF
cat > "$T/opsbot.conf" <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
policy = $T/policy.conf
catalog = $T/actions.conf
[pipeline]
stages = plan execute
[test-worker]
claim_wait = 1s
[exec]
catalog = $T/actions.conf
workdir = $T
claim_wait = 5s
recheck = no
CONF
cd "$T" || exit 1
"$BIN/opsbot-queue" -c opsbot.conf 2>queue.log & PIDS+=($!)
for _ in $(seq 200); do
  "$BIN/wirecat" "ipc://$T/var/run/q.ipc" '{"v":1,"type":"query","id":"b","what":"stats"}' >/dev/null 2>&1 && break
  sleep 0.05
done
"$BIN/test-worker" -c opsbot.conf --kind plan --result-file plan.json 2>plan.log & PIDS+=($!)
"$BIN/opsbot-exec" -c opsbot.conf 2>exec.log & PIDS+=($!)
if ! "$BIN/exec_bench" "ipc://$T/var/run/q.ipc" "ipc://$T/var/run/ev.ipc" "$N"; then
  echo "exec bench failed; last lines of the logs:" >&2
  tail -n 5 queue.log exec.log plan.log >&2
  exit 1
fi
