#!/usr/bin/env bash
# worker_kill.sh: a worker killed with SIGKILL mid-job loses its lease; the
# job is claimed again after the lease and completes exactly once.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/runtime_lib.sh"
t_setup
start_queue

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
