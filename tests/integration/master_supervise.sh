#!/usr/bin/env bash
# master_supervise.sh: opsbot starts its [daemons] table, reports a program
# that is not built without restarting it, restarts a killed daemon with a
# doubling delay, refuses a second master, reloads on SIGHUP, and stops
# everything on SIGTERM.  No queue here: the test workers keep retrying it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/runtime_lib.sh"
t_setup

write_conf() {
  cat > opsbot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
[master]
restart_min = 200ms
restart_max = 800ms
stable_after = 6s
stop_timeout = 5s
[daemons]
$1
CONF
}
# A bad table stops start-up with file:line.
printf '[daemons]\nq = opsbot-queue\nq = test-worker\n' > bad.conf
opsbot -c bad.conf >bad.out 2>&1; rc=$?
[ $rc = 1 ] || t_fail "bad table: exit got $rc want 1"
grep -q "bad.conf:3: q: listed twice" bad.out || t_fail "bad table: got '$(cat bad.out)' want file:line"
printf '[master]\nrestart_minn = 1s\n[daemons]\nq = opsbot-queue\n' > bad.conf
opsbot -c bad.conf >bad.out 2>&1
grep -q "bad.conf:2: .*restart_minn" bad.out || t_fail "typo in [master]: got '$(cat bad.out)'"

write_conf "a = test-worker --kind detect
b = test-worker --kind plan
gone = opsbot-not-built-yet"

t_start master opsbot -c opsbot.conf
t_wait "a and b running" eval 'drunning a && drunning b'
[ "$(dfield gone state)" = missing ] || t_fail "gone: state got $(dfield gone state) want missing"
grep -q 'event=daemon_missing daemon=gone .*not built' master.log ||
  t_fail "no clear daemon_missing line for gone in master.log"

# A second master on the same state directory is refused.
if opsbot -c opsbot.conf >second.log 2>&1; then t_fail "second master: got exit 0 want 1"; fi
grep -q "already runs" second.log || t_fail "second master: got '$(cat second.log)' want 'already runs'"

# opsbotctl status shows the table (the queue part fails: no queue here).
opsbotctl -c opsbot.conf status >status.out 2>&1
grep -Eq '^  a +running' status.out || t_fail "status: got '$(cat status.out)' want a running"
grep -q 'not built yet' status.out || t_fail "status: missing daemon not explained: $(cat status.out)"
grep -q 'queue is not answering' status.out || t_fail "status: got '$(cat status.out)' want the queue-down hint"

# Kill a three times: each restart waits twice as long (200, 400, 800 ms).
for want in 200 400 800; do
  pid=$(dfield a pid)
  kill -KILL "$pid"
  t_wait "a restarted after kill of $pid" eval "drunning a $pid"
  grep -q "event=daemon_exited daemon=a pid=$pid .*restart_in_ms=$want" master.log ||
    t_fail "restart of a after pid $pid: want restart_in_ms=$want"
done
[ "$(dfield a restarts)" = 3 ] || t_fail "a restarts: got $(dfield a restarts) want 3"

# Up longer than stable_after (6 s; long enough that a loaded machine does not
# reach it between the kills above): the delay starts over at 200 ms.
pid=$(dfield a pid)
t_wait "a up for stable_after" eval '[ $(( $(date +%s%3N) - $(dfield a since_ms) )) -gt 6300 ]'
kill -KILL "$pid"
t_wait "a restarted after kill of $pid" eval "drunning a $pid"
grep -q "event=daemon_exited daemon=a pid=$pid .*restart_in_ms=200" master.log ||
  t_fail "restart after a stable run: want restart_in_ms=200 (backoff reset)"
[ "$(count 'event=daemon_missing daemon=gone' master.log)" = 1 ] ||
  t_fail "gone was looked for $(count 'event=daemon_missing daemon=gone' master.log) times want 1"

# SIGHUP: c is added, b removed, a keeps its process.
apid=$(dfield a pid); bpid=$(dfield b pid)
write_conf "a = test-worker --kind detect
c = test-worker --kind retrieve"
kill -HUP "$PID_master"
t_wait "c running after reload" drunning c
t_wait "b gone from the table" eval '[ -z "$(dfield b state)" ]'
kill -0 "$bpid" 2>/dev/null && t_fail "b (pid $bpid) still runs after it was removed"
[ "$(dfield a pid)" = "$apid" ] || t_fail "a was restarted by reload: pid $apid -> $(dfield a pid)"
t_wait "a reloads on the forwarded SIGHUP" grep -q "prog=test-worker pid=$apid event=reloaded" master.log

# A changed command line restarts that daemon at once.
write_conf "a = test-worker --kind detect --sleep-ms 5
c = test-worker --kind retrieve"
kill -HUP "$PID_master"
t_wait "a restarted with its new command" eval "drunning a $apid"
[ "$(dfield a command)" = "test-worker --kind detect --sleep-ms 5" ] ||
  t_fail "a command after reload: got '$(dfield a command)'"
apid=$(dfield a pid)

# SIGTERM stops everything and exits 0.
cpid=$(dfield c pid)
kill -TERM "$PID_master"
wait "$PID_master"; rc=$?
[ $rc = 0 ] || t_fail "master exit: got $rc want 0"
for p in $apid $cpid; do kill -0 "$p" 2>/dev/null && t_fail "daemon pid $p still runs after stop"; done
[ -e var/run/opsbot-master.json ] && t_fail "status file left behind after a clean stop"
grep -q 'event=stopped' master.log || t_fail "no event=stopped from the master"
echo "ok master_supervise"
