#!/usr/bin/env bash
# queue_batch_crash.sh: batched submits (submit "jobs") survive SIGKILL.
#  1. 12 clients each submit a batch of 16 jobs at once; the queue is killed
#     with SIGKILL right after the replies; after a restart every
#     acknowledged job is there, ready, exactly once, and a resend of each
#     batch returns the same ids with created:false.
#  2. The queue exits right after COMMITting a batch and before replying
#     (OPSBOT_QUEUE_TEST_EXIT_AFTER_COMMIT=submit): the client resends the
#     same request after the restart and gets the committed ids, nothing twice.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
t_setup
. "$HERE/queue_common.sh"
q_config
q_start

C=12
B=16
batch() { # client number -> the request (its key names the client)
  local i items=
  for i in $(seq 0 $((B - 1))); do
    items="$items${items:+,}{\"kind\":\"bk\",\"input\":{\"c\":$1,\"i\":$i}}"
  done
  echo "{\"type\":\"submit\",\"what\":\"job\",\"key\":\"batch-$1\",\"jobs\":[$items]}"
}
pids=()
for c in $(seq $C); do wirecat -t 20000 "$Q_URL" "$(batch "$c")" >"$T/sub-$c.json" & pids+=($!); done
wait "${pids[@]}" || t_fail "a batched submit failed: $(cat "$T"/sub-*.json)"
kill -KILL "$PID_queue"
wait "$PID_queue" 2>/dev/null

q_start
for c in $(seq $C); do wirecat -t 20000 "$Q_URL" "$(batch "$c")" >"$T/again-$c.json" || t_fail "resend $c failed"; done
r=$(q '{"type":"query","what":"jobs","state":"ready","limit":1000}')
echo "$r" >"$T/ready.json"
python3 - "$T" $C $B <<'PY' || t_fail "acknowledged batched jobs were lost or duplicated"
import json, sys
t, c, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ready = {j["id"] for j in json.load(open(f"{t}/ready.json"))["items"]}
acked = []
for n in range(1, c + 1):
    first = json.load(open(f"{t}/sub-{n}.json"))
    again = json.load(open(f"{t}/again-{n}.json"))
    ids = [x["job"] for x in first["results"]]
    if len(ids) != b or not all(x["created"] for x in first["results"]):
        sys.exit(f"client {n}: got {first}, want {b} created jobs")
    if [x["job"] for x in again["results"]] != ids or any(x["created"] for x in again["results"]):
        sys.exit(f"client {n}: resend got {again}, want the same ids with created false")
    acked += ids
if len(set(acked)) != c * b:
    sys.exit(f"got {len(set(acked))} distinct acknowledged ids, want {c * b}")
if ready != set(acked):
    sys.exit(f"after SIGKILL: {len(set(acked) - ready)} acknowledged jobs missing, "
             f"{len(ready - set(acked))} unexpected")
PY

# 2. Exit after COMMIT, before the reply: the resend is answered from the commit.
kill "$PID_queue"
wait "$PID_queue" 2>/dev/null
OPSBOT_QUEUE_TEST_EXIT_AFTER_COMMIT=submit t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "opsbot-queue answers" q '{"type":"query","what":"stats"}'
# wirecat resends the same bytes (same id and key) until a queue answers.
wirecat -t 1000 -r 30 "$Q_URL" "$(batch 99)" >"$T/late.json" &
cpid=$!
wait "$PID_queue" 2>/dev/null
rc=$?
[ $rc = 70 ] || t_fail "the test hook should have stopped the queue with 70 after COMMIT, got $rc"
kill -0 $cpid 2>/dev/null || t_fail "the client finished while the queue was down: $(cat "$T/late.json")"
q_start
wait $cpid || t_fail "batched submit across the exit: got $(cat "$T/late.json"), want ok"
r=$(q '{"type":"query","what":"stats"}')
[ "$(jget "$r" 'd["stats"]["jobs"]["bk"]["ready"]')" = $(((C + 1) * B)) ] ||
  t_fail "after the exit: got $r, want $(((C + 1) * B)) ready bk jobs (nothing twice)"
# NNG resent the same request (same wire id): it is answered from the
# first commit as the request that created the jobs, the same 16 ids
[ "$(jq '[.results[] | select(.created == true) | .job] | unique | length' "$T/late.json")" = "$B" ] ||
  t_fail "the resent batch should be answered from the first commit, created by it: got $(cat "$T/late.json")"
echo "ok: batched submits: nothing acknowledged lost or duplicated across SIGKILL and an exit after COMMIT"
