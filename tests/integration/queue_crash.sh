#!/usr/bin/env bash
# queue_crash.sh: opsbot-queue killed with SIGKILL right after replying to N
# submits; after a restart all N are there and none is duplicated.  Also: the
# same idempotency key from two clients at once makes one incident.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
t_setup
. "$HERE/queue_common.sh"
q_config
q_start

N=40
submit() {
  wirecat -t 20000 "$Q_URL" "{\"type\":\"submit\",\"what\":\"incident\",\"key\":\"crash-$1\",\"spec\":{\"title\":\"t$1\",\"service\":\"api\",\"severity\":\"low\",\"source\":\"cli\"}}"
}
# Many clients at once, so the replies come from group commits.
pids=()
for i in $(seq $N); do submit "$i" >"$T/sub-$i.json" & pids+=($!); done
wait "${pids[@]}"
ok=$(grep -l '"created":true' "$T"/sub-*.json | wc -l)
[ "$ok" = $N ] || t_fail "submits: got $ok created replies, want $N"
kill -KILL "$PID_queue"
wait "$PID_queue" 2>/dev/null

q_start
r=$(q '{"type":"query","what":"incidents","limit":1000}')
[ "$(jget "$r" 'len(d["items"])')" = $N ] || t_fail "after restart: got $(jget "$r" 'len(d["items"])') incidents, want $N"
# Every acknowledged id is there, and a retry of each key creates nothing.
pids=()
for i in $(seq $N); do submit "$i" >"$T/retry-$i.json" & pids+=($!); done
wait "${pids[@]}"
python3 - "$T" $N <<'PY' || t_fail "retries after restart did not return the acknowledged incidents"
import json, sys
t, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    first = json.load(open(f"{t}/sub-{i}.json"))
    again = json.load(open(f"{t}/retry-{i}.json"))
    if again.get("incident") != first["incident"] or again.get("created") is not False:
        print(f"key crash-{i}: got {again}, want incident {first['incident']} created false")
        sys.exit(1)
PY
r=$(q '{"type":"query","what":"stats"}')
[ "$(jget "$r" 'd["stats"]["incidents"]["detecting"]')" = $N ] || t_fail "stats: got $r, want $N detecting"
[ "$(jget "$r" 'd["stats"]["jobs"]["detect"]["ready"]')" = $N ] || t_fail "stats: got $r, want $N detect jobs (one each)"

# The same key from many clients at once: one incident.
pids=()
for i in $(seq 10); do
  wirecat -t 20000 "$Q_URL" '{"type":"submit","what":"incident","key":"race","spec":{"title":"race","service":"api","severity":"low","source":"slack"}}' >"$T/race-$i.json" &
  pids+=($!)
done
wait "${pids[@]}"
replied=$(grep -l '"ok":true' "$T"/race-*.json | wc -l)
[ "$replied" = 10 ] || t_fail "same key: got $replied ok replies, want 10"
ids=$(for i in $(seq 10); do jget "$(cat "$T/race-$i.json")" 'd["incident"]'; done | sort -u)
[ "$(echo "$ids" | wc -l)" = 1 ] || t_fail "same key: got incidents $ids, want one"
created=$(grep -l '"created":true' "$T"/race-*.json | wc -l)
[ "$created" = 1 ] || t_fail "same key: got $created created:true replies, want 1"
r=$(q '{"type":"query","what":"incidents","limit":1000}')
[ "$(jget "$r" 'len(d["items"])')" = $((N + 1)) ] || t_fail "after race: got $(jget "$r" 'len(d["items"])') incidents, want $((N + 1))"

# A lease survives a queue crash: claimed before SIGKILL, completed after the
# restart.  The complete is sent while the queue is down; rpc's resend
# delivers it once the queue is back.
job=$(jget "$(q '{"type":"submit","what":"job","job":{"kind":"survive"}}')" 'd["job"]')
r=$(q '{"type":"claim","kinds":["survive"],"worker":"w","wait_ms":1000,"lease_ms":60000}')
lease=$(jget "$r" 'd["job"]["lease"]')
kill -KILL "$PID_queue"
wait "$PID_queue" 2>/dev/null
wirecat -t 1000 -r 20 "$Q_URL" "{\"type\":\"complete\",\"job\":$job,\"lease\":\"$lease\",\"result\":{}}" >"$T/late-complete.json" &
cpid=$!
q_start
wait $cpid || t_fail "complete across the restart: got $(cat "$T/late-complete.json"), want ok"
grep -q '"duplicate":false' "$T/late-complete.json" || t_fail "complete across the restart: got $(cat "$T/late-complete.json")"
r=$(q '{"type":"query","what":"jobs","state":"done"}')
[ "$(jget "$r" 'len(d["items"])')" = 1 ] || t_fail "done jobs after restart: got $r, want 1"
echo "ok: nothing lost or duplicated across SIGKILL; one incident per key; leases survive a restart"
