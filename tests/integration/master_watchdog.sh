#!/usr/bin/env bash
# master_watchdog.sh: the master restarts an opsbot-bot whose event loop is
# stuck although the process lives (the pipelined-request spin was such a
# case).  The bot beats a heartbeat file every second from its loop; a test
# hook (OPSBOT_TEST_WEDGE=1, then SIGUSR2) wedges the loop for good; the
# master sees the beat go stale after [master] heartbeat_timeout, kills the
# bot, restarts it, and /healthz answers again from the new process.
. "$(dirname "$0")/../lib.sh"
t_setup
command -v jq >/dev/null || t_skip "jq not installed"
cat > opsbot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
[master]
restart_min = 200ms
restart_max = 800ms
run_dir = $T/var/run
heartbeat_timeout = 2s
[bot]
state = $T/var/bot.db
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
[daemons]
bot = opsbot-bot
CONF
OPSBOT_TEST_WEDGE=1 t_start master opsbot -c opsbot.conf
status() { jq -r ".daemons[] | select(.name == \"bot\") | .$1" var/run/opsbot-master.json; }
running() { [ "$(status state)" = running ] && [ "$(status pid)" -gt 0 ]; }
t_wait "the bot runs" running
t_wait "the bot's port" test -s var/run/bot.port
healthy() { [ "$(curl -s -m 2 "http://127.0.0.1:$(cat var/run/bot.port)/healthz")" = ok ]; }
t_wait "healthz" healthy
t_wait "the bot beats" test -e var/run/heartbeat-bot
pid1=$(status pid)
[ "$(status restarts)" = 0 ] || t_fail "restarts before the wedge: $(status restarts)"

rm -f var/run/bot.port
kill -USR2 "$pid1"
# the wedged process lives on: only the watchdog can end it
t_wait "the master reports a stuck bot" grep -q 'event=daemon_stuck daemon=bot' master.log
restarted() { running && [ "$(status pid)" != "$pid1" ] && [ "$(status restarts)" = 1 ]; }
t_wait "the bot restarted" restarted
kill -0 "$pid1" 2>/dev/null && t_fail "the wedged bot $pid1 still runs"
t_wait "the new bot's port" test -s var/run/bot.port
t_wait "healthz from the new bot" healthy
grep -q 'event=daemon_exited daemon=bot.*status="signal 9"' master.log || t_fail "no exit logged"
kill -TERM "$PID_master"
t_wait "master stops" bash -c "! kill -0 $PID_master"
echo ok
