#!/usr/bin/env bash
# worker_stop.sh: SIGTERM mid-job lets the job finish and the worker exit 0;
# a job longer than stop_grace is handed back (fail, retryable) and another
# worker finishes it; a worker with no queue keeps retrying and still stops
# cleanly on SIGTERM.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/runtime_lib.sh"
t_setup

# 1. No queue yet: the worker logs, backs off, stays up.
QURL="ipc://$T/var/run/q.ipc"
printf '[queue]\nlisten = %s\n[test-worker]\nclaim_wait = 200ms\n' "$QURL" > early.conf
t_start early test-worker -c early.conf
t_wait "early worker reports the queue unreachable twice" \
  eval '[ "$(count event=queue_unreachable early.log)" -ge 2 ]'
kill -0 "$PID_early" || t_fail "worker exited while the queue was down"
kill -TERM "$PID_early"
wait "$PID_early"; rc=$?
[ $rc = 0 ] || t_fail "worker stopped with no queue: exit got $rc want 0"

start_queue

# 2. SIGTERM while a 1.5 s job runs: it finishes, then the worker exits 0.
t_start w1 test-worker -c opsbot.conf --sleep-ms 1500 --log jobs.log
job=$(submit_job detect)
t_wait "w1 starts job $job" grep -q "start job=$job .*pid=$PID_w1" jobs.log
kill -TERM "$PID_w1"
wait "$PID_w1"; rc=$?
[ $rc = 0 ] || t_fail "w1 exit got $rc want 0"
grep -q "done job=$job .*pid=$PID_w1" jobs.log || t_fail "w1 did not finish job $job before exiting"
t_wait "job $job done in the queue" eval '[ "$(job_field '"$job"' state)" = done ]'

# 3. A job longer than stop_grace (500 ms here) is handed back.
sed -i 's/^stop_grace = .*/stop_grace = 500ms/' opsbot.conf
t_start w2 test-worker -c opsbot.conf --sleep-ms 60000 --log jobs.log
job=$(submit_job detect)
t_wait "w2 starts job $job" grep -q "start job=$job .*pid=$PID_w2" jobs.log
kill -TERM "$PID_w2"
wait "$PID_w2"; rc=$?
[ $rc = 0 ] || t_fail "w2 exit got $rc want 0"
grep -q "event=job_handed_back job=$job" w2.log || t_fail "w2 did not hand job $job back"
t_start w3 test-worker -c opsbot.conf --sleep-ms 10 --log jobs.log
t_wait "w3 finishes job $job" grep -q "done job=$job .*pid=$PID_w3" jobs.log
[ "$(count "done job=$job " jobs.log)" = 1 ] || t_fail "job $job done more than once"
echo "ok worker_stop"
