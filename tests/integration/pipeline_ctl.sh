#!/usr/bin/env bash
# pipeline_ctl.sh: the whole backbone under the master.  opsbot starts the
# queue first, then test workers standing in for detect, retrieve and plan
# (clearly test workers: their results say so); an incident submitted with
# opsbotctl walks detect -> retrieve -> plan -> awaiting approval; opsbotctl
# status/show/incidents/events/approve/dead-letters/retry/pause/resume/
# resolve work against it; SIGTERM stops the workers, then the queue.
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/runtime_lib.sh"
t_setup
QURL="ipc://$T/var/run/q.ipc"

cat > plan.json <<'JSON'
{"plan":{"id":"p1","hash":"h-test-1","planner":"test-worker",
 "steps":[{"action":"restart_service","params":{"service":"checkout"},"risk":"medium",
 "rationale":"test worker step","citations":[],"approval":"required"}],"notes":[]},
 "needs_approval":true,"summary":"test worker plan: restart checkout"}
JSON
# The approval policy knows the account running this test as person "me".
cat > policy.conf <<CONF
[policy]
auto_risk = low
approvers = ops
requester_may_approve = yes
[person me]
unix = $(id -un)
[group ops]
members = me
CONF
cat > opsbot.conf <<CONF
[plan]
catalog = $REPO/config/actions.conf
policy = $T/policy.conf
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
max_attempts = 2
retry_base = 100ms
[pipeline]
stages = detect retrieve plan
[master]
restart_min = 200ms
stop_timeout = 5s
run_dir = $T/var/run
[test-worker]
lease = 2s
claim_wait = 200ms
[daemons]
queue = opsbot-queue
detect = test-worker --kind detect --log $T/jobs.log
retrieve = test-worker --kind retrieve --log $T/jobs.log
plan = test-worker --kind plan --result-file $T/plan.json --log $T/jobs.log
broken = test-worker --kind index --fail-times 99 --permanent --log $T/jobs.log
CONF
ctl() { opsbotctl -c opsbot.conf "$@"; }

# Before start: a clear one-line hint, exit 3.
ctl incidents >down.out 2>&1; rc=$?
[ $rc = 3 ] || t_fail "incidents with no queue: exit got $rc want 3"
grep -q "opsbot -c opsbot.conf" down.out || t_fail "no start hint: $(cat down.out)"

t_start master opsbot -c opsbot.conf
all_running() { local d; for d in queue detect retrieve plan broken; do drunning $d || return 1; done; }
t_wait "all daemons running" all_running
# The queue first; the others only after it answered.
qready=$(grep -n 'event=queue_ready' master.log | head -1 | cut -d: -f1)
first=$(grep -n 'event=daemon_started daemon=detect' master.log | head -1 | cut -d: -f1)
[ -n "$qready" ] && [ "$qready" -lt "$first" ] ||
  t_fail "detect started (line $first) before the queue answered (line $qready)"

ctl status >status.out 2>&1 || t_fail "status: exit $? ($(cat status.out))"
for want in '^master: pid' '^  queue +running' '^  plan +running' 'answering' 'leases:' 'dead_letters:'; do
  grep -Eq -- "$want" status.out || t_fail "status: want /$want/ in: $(cat status.out)"
done

[ "$(ctl --json status | jq -r '[.master.alive, (.master.daemons | length), .queue.stats.dead_letters] | @tsv')" = "$(printf 'true\t5\t0')" ] ||
  t_fail "status --json: got $(ctl --json status | jq -c '[.master.alive, (.master.daemons | length), .queue.stats.dead_letters]') want [true,5,0]"

# A follower started before the incident sees its events live.
t_start follow opsbotctl -c opsbot.conf events --follow

# One incident through the enabled stages.
ctl submit --service checkout --title "Checkout p99 above 2s" --severity high \
  --summary "from the test" >submit.out || t_fail "submit: $(cat submit.out)"
id=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' submit.out)
[ -n "$id" ] || t_fail "submit: got '$(cat submit.out)' want 'incident N opened'"
t_wait "incident $id awaiting approval" eval \
  '[ "$(ctl --json show '"$id"' | jq -r .incident.state)" = awaiting_approval ]'
t_wait "events --follow prints the live stage changes" \
  grep -q "#$id  *incident.stage  *planning -> awaiting_approval" follow.log
ctl show "$id" >show.out
for want in "incident $id: Checkout p99 above 2s" "state: +awaiting_approval" \
  "open -> detecting" "detecting -> retrieving" "retrieving -> planning" \
  "planning -> awaiting_approval" "detect: test worker finished detect job" \
  "test worker plan: restart checkout"; do
  grep -Eq -- "$want" show.out || t_fail "show: want /$want/ in: $(cat show.out)"
done

# Approval: a stale hash is refused with the reason, the right one resolves
# (execute and verify are not enabled here, so they are skipped).
ctl approve "$id" --plan wrong-hash >appr.out 2>&1; rc=$?
[ $rc = 1 ] || t_fail "approve with a stale hash: exit got $rc want 1"
grep -q "plan changed" appr.out || t_fail "stale approve: got '$(cat appr.out)' want 'plan changed'"
ctl approve "$id" --plan h-test-1 >appr.out 2>&1 || t_fail "approve: $(cat appr.out)"
grep -q "approved: incident $id is now resolved" appr.out || t_fail "approve: got '$(cat appr.out)'"
# The follower printed earlier events already, so these can only come live.
t_wait "events --follow prints the approval live" \
  grep -q "#$id  *approval.recorded  *me approved plan h-test-1" follow.log
ctl show "$id" >show.out
grep -q "skipped: stage not enabled" show.out || t_fail "show: skipped stages not labelled: $(cat show.out)"
ctl incidents --state resolved | grep -Eq "^$id +resolved +high +checkout" ||
  t_fail "incidents --state resolved: $(ctl incidents --state resolved)"

# Idempotent submit from a file.
printf '{"spec":{"title":"Disk full","service":"db","severity":"critical"},"key":"alert-42"}' >inc.json
ctl submit --file inc.json >s1.out || t_fail "submit --file: $(cat s1.out)"
ctl submit --file inc.json >s2.out || t_fail "submit --file again: $(cat s2.out)"
id2=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' s1.out)
grep -q "incident $id2 already exists" s2.out || t_fail "same key twice: got '$(cat s2.out)'"

# pause / resume / resolve by hand.
t_wait "incident $id2 waits for approval" eval \
  '[ "$(ctl --json show '"$id2"' | jq -r .incident.state)" = awaiting_approval ]'
ctl pause "$id2" | grep -q "is now paused" || t_fail "pause $id2"
ctl resume "$id2" | grep -q "is now awaiting_approval" || t_fail "resume $id2"
ctl resolve "$id2" "fixed by hand" | grep -q "is now resolved" || t_fail "resolve $id2"

# A job that always fails permanently is dead-lettered; retry queues it again.
job=$(rpc submit '{"what":"job","job":{"kind":"index","input":{}}}' | jq -r .job)
t_wait "job $job dead-lettered" eval 'ctl dead-letters | grep -Eq "^$job +index"'
ctl retry "$job" | grep -q "job $job queued again" || t_fail "retry $job"
t_wait "job $job runs again" eval '[ "$(count "start job=$job " jobs.log)" -ge 2 ]'

ctl events --since 0 | grep -q "#$id  *incident.opened" || t_fail "events: no incident.opened for $id"
[ "$(ctl --json incidents | jq '.items | length')" -ge 2 ] || t_fail "incidents --json: fewer than 2"

# Stop: the workers first, the queue last, exit 0.
kill -TERM "$PID_master"
wait "$PID_master"; rc=$?
[ $rc = 0 ] || t_fail "master exit: got $rc want 0"
qstop=$(grep -n 'event=daemon_stopped daemon=queue' master.log | cut -d: -f1)
for d in detect retrieve plan broken; do
  l=$(grep -n "event=daemon_stopped daemon=$d " master.log | cut -d: -f1)
  [ -n "$l" ] && [ "$l" -lt "$qstop" ] || t_fail "$d stopped (line $l) after the queue (line $qstop)"
done
ctl status >status.out 2>&1
grep -q "master: not running" status.out || t_fail "status after stop: $(cat status.out)"
echo "ok pipeline_ctl"
