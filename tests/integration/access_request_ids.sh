#!/usr/bin/env bash
# access_request_ids.sh: a request resent after the queue died between its
# COMMIT and the reply acts once, without the caller passing --key.  The
# queue's test-only hook OPSBOT_QUEUE_TEST_EXIT_AFTER_COMMIT=TYPE makes it
# exit right after committing a batch holding a TYPE request, before any
# reply; opsbotctl (lib/rpc.c) keys the request with its request id and
# resends it to the restarted queue.  Checked for submit (one incident) and
# approve (one approval, not a refusal as a repeated click).
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/../lib.sh"
t_setup
QURL="ipc://$T/var/run/q.ipc"
cat > policy.conf <<'CONF'
[policy]
approvers = ops
[person al]
slack = UAL
[person bo]
slack = UBO
[group ops]
members = al, bo
[approval high]
distinct_approvers = 2
CONF
cat > opsbot.conf <<CONF
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/q.db
policy = $T/policy.conf
catalog = $REPO/config/actions.conf
[pipeline]
stages = plan execute
CONF
ctl() { opsbotctl -c "$T/opsbot.conf" "$@"; }
raw() { wirecat -t 5000 "$QURL" "$1"; }
incidents() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from incidents').fetchone()[0])" "$T/var/q.db"; }
approvals() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from approvals').fetchone()[0])" "$T/var/q.db"; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# crash_once TYPE CMD...: run CMD against a queue that exits after committing TYPE,
# restart the queue once it did, and wait for CMD to finish; CMD's output in cmd.out.
crash_once() {
  local type=$1; shift
  OPSBOT_QUEUE_TEST_EXIT_AFTER_COMMIT=$type t_start queue opsbot-queue -c "$T/opsbot.conf"
  local qpid=$PID_queue
  t_wait "queue answers" raw '{"type":"query","what":"stats"}'
  OPSBOT_LOG_LEVEL=debug "$@" > cmd.out 2>&1 &
  local cpid=$!
  t_wait "queue exited after committing the $type" gone "$qpid"
  grep -q "event=test_exit_after_commit type=$type" queue.log || t_fail "the queue died another way"
  gone "$cpid" && t_fail "the client finished while the queue was down: $(cat cmd.out)"
  t_start queue opsbot-queue -c "$T/opsbot.conf"
  t_wait "the client got its answer from the restarted queue" gone "$cpid"
  wait "$cpid" || t_fail "client failed: $(cat cmd.out)"
}

crash_once submit ctl submit --service checkout --title "resent after a crash"
grep -q "^incident 1 opened" cmd.out || t_fail "submit: got $(cat cmd.out)"
[ "$(incidents)" = 1 ] || t_fail "incidents after the resend: got $(incidents) want 1"

# The plan: a high-risk step, two people.
c=$(raw '{"type":"claim","kinds":["plan"],"worker":"t","wait_ms":3000}')
job=$(echo "$c" | jq .job.id); lease=$(echo "$c" | jq -r .job.lease)
raw "{\"type\":\"complete\",\"job\":$job,\"lease\":\"$lease\",\"result\":{\"plan\":{\"id\":\"p\",\"hash\":\"h1\",\"steps\":[{\"action\":\"rollback_deploy\",\"params\":{\"service\":\"checkout\"}}]},\"needs_approval\":true}}" >/dev/null
kill -TERM "$PID_queue"; t_wait "queue stopped" gone "$PID_queue"

crash_once approve ctl approve 1 --plan h1 --as slack:UAL
grep -q "approved: 1 of 2 approvals so far (al)" cmd.out || t_fail "approve resent: got $(cat cmd.out)"
[ "$(approvals)" = 1 ] || t_fail "approvals after the resend: got $(approvals) want 1"
ctl show 1 | grep -q "already_approved" && t_fail "the resend was taken for a second click: $(ctl show 1)"
echo ok
