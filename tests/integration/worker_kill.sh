#!/usr/bin/env bash
# worker_kill.sh: heartbeats keep a job longer than its lease with its
# worker; a worker killed with SIGKILL mid-job loses its lease; the job is
# claimed again after the lease and completes exactly once.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/runtime_lib.sh"
t_setup
start_queue

# A 2.5 s job under a 1 s lease: the heartbeat thread keeps it (attempt 1, once).
t_start w0 test-worker -c opsbot.conf --kind detect --sleep-ms 2500 --log jobs.log
job=$(submit_job detect)
t_wait "w0 completes job $job" grep -q "done job=$job .*attempt=1 pid=$PID_w0" jobs.log
t_wait "the queue records job $job done" eval '[ "$(job_field '"$job"' state)" = done ]'
[ "$(job_field "$job" attempt)" = 1 ] || t_fail "job $job: attempt got $(job_field "$job" attempt) want 1"
[ "$(count "start job=$job " jobs.log)" = 1 ] ||
  t_fail "job $job started $(count "start job=$job " jobs.log) times under heartbeats want 1"
grep -q "event=complete_refused" w0.log && t_fail "w0's complete was refused: the lease was lost"
kill -TERM "$PID_w0"
wait "$PID_w0"

t_start w1 test-worker -c opsbot.conf --kind detect --sleep-ms 30000 --log jobs.log
job=$(submit_job detect)
[ -n "$job" ] && [ "$job" != null ] || t_fail "submit job: got '$job' want an id"
t_wait "w1 starts job $job" grep -q "start job=$job .*attempt=1 pid=$PID_w1" jobs.log
kill -KILL "$PID_w1"

# Nobody holds the job now; a second worker gets it once the lease runs out.
t_start w2 test-worker -c opsbot.conf --kind detect --sleep-ms 100 --log jobs.log
t_wait "w2 completes job $job" grep -q "done job=$job .*pid=$PID_w2" jobs.log
grep -q "start job=$job .*attempt=2 pid=$PID_w2" jobs.log ||
  t_fail "w2 got job $job with attempt $(grep "start job=$job .*pid=$PID_w2" jobs.log) want attempt=2"
t_wait "the queue records job $job done" eval '[ "$(job_field '"$job"' state)" = done ]'
n=$(count "done job=$job " jobs.log)
[ "$n" = 1 ] || t_fail "job $job completed $n times want 1"
echo "ok worker_kill"
