#!/usr/bin/env bash
# bot_http_hostile.sh: opsbot-bot's HTTP listener against hostile clients
# (tests/integration/http_attack.py), one case at a time, checking after each
# that the bot still runs and /healthz answers:
#   - connections closed before a request (crashed the bot with SIGSEGV)
#   - an idle socket and trickled headers/bodies: 408 within the timeouts
#   - headers over 4 KB, garbage bytes, a TLS ClientHello: refused, no crash
#   - two pipelined POSTs: the first answered with Connection: close, and
#     the loop does not spin afterwards (CPU stays low, /healthz answers)
#   - a hook without its token and a 50 MB Content-Length: 401 before any
#     body byte; "Bearer <token>\0junk": 401
#   - 2,000 concurrent /metrics: each gets 200 or 503, none a silent close
# The queue is not running: hooks answer 503 after their retries ([hooks]
# queue_timeout = 1s: three calls, not 15 s), /metrics says opsbot_queue_up
# 0 -- both are answers.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
t_setup
ATTACK="python3 $HERE/http_attack.py"
TOKEN=hostile-token-123
cat > bot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
[bot]
state = $T/var/bot.db
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
max_body = 65536
header_timeout = 2s
body_timeout = 2s
max_connections = 128
[hooks]
queue_timeout = 1s
CONF
OPSBOT_HOOK_TOKEN=$TOKEN t_start bot opsbot-bot -c bot.conf
t_wait "bot port file" test -s var/run/bot.port
P=$(cat var/run/bot.port)

alive() {
  kill -0 "$PID_bot" 2>/dev/null || t_fail "opsbot-bot died after case '$1'"
  local got
  got=$(curl -s -m 5 "http://127.0.0.1:$P/healthz")
  [ "$got" = ok ] || t_fail "healthz after case '$1': got '$got'"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID_bot/stat"; }

run() {
  local out
  out=$(timeout 90 $ATTACK "$P" "$@" 2>&1) || t_fail "case $*: $out"
  echo "$out"
  alive "$1"
}

run early_close 100
run idle 6
run big_headers 8
run garbage 20
run tls_hello
run slow_headers 6
OPSBOT_HOOK_TOKEN=$TOKEN run slow_body 6
run noauth_body
run bearer_nul "$TOKEN"

run pipelined "$TOKEN"
# a spinning loop burns a core: over ~1 s of wall time it may use a little
t0=$(cpu_ticks); w0=$(date +%s%N)
for _ in $(seq 10); do curl -s -m 5 -o /dev/null "http://127.0.0.1:$P/healthz"; done
t_wait "one second passes" bash -c "[ \$(( (\$(date +%s%N) - $w0) / 1000000 )) -ge 1000 ]"
t1=$(cpu_ticks)
[ $((t1 - t0)) -lt 40 ] || t_fail "event loop spins after pipelined requests: $((t1 - t0)) ticks of CPU in ~1s"
alive pipelined-cpu

run concurrent 2000 /metrics

# the log says what happened, and nothing crashed
grep -q 'event=http_header_timeout' bot.log || t_fail "no http_header_timeout logged"
grep -q 'event=http_busy' bot.log || t_fail "no http_busy logged for the 2,000 connections"
kill -TERM "$PID_bot"
t_wait "bot exits on SIGTERM" bash -c "! kill -0 $PID_bot"
echo ok
