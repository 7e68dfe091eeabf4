#!/usr/bin/env bash
# bot_httpd.sh: opsbot-bot's HTTP listener: random port written to the port
# file, /healthz, 404 for an unknown path, 405 for a wrong method, 413 for a
# body over [http] max_body, and the process stops cleanly on SIGTERM.
. "$(dirname "$0")/../lib.sh"
t_setup
cat > bot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
[bot]
state = $T/var/bot.db
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
max_body = 4096
CONF
t_start bot opsbot-bot -c bot.conf
t_wait "bot port file" test -s var/run/bot.port
P=$(cat var/run/bot.port)
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
got=$(curl -s "http://127.0.0.1:$P/healthz"); [ "$got" = ok ] || t_fail "healthz: got '$got', want 'ok'"
got=$(code "http://127.0.0.1:$P/nope"); [ "$got" = 404 ] || t_fail "unknown path: got $got, want 404"
got=$(code -X POST -d x=1 "http://127.0.0.1:$P/healthz"); [ "$got" = 405 ] || t_fail "wrong method: got $got, want 405"
got=$(head -c 5000 /dev/zero | code -X POST --data-binary @- "http://127.0.0.1:$P/healthz")
[ "$got" = 413 ] || t_fail "big body: got $got, want 413"
got=$(code -X POST -H 'Transfer-Encoding: chunked' -d x=1 "http://127.0.0.1:$P/healthz")
[ "$got" = 411 ] || t_fail "chunked body: got $got, want 411"
# still serving after the 413 and 411
got=$(curl -s "http://127.0.0.1:$P/healthz"); [ "$got" = ok ] || t_fail "healthz after 413: got '$got'"
kill -TERM "$PID_bot"
t_wait "bot exits on SIGTERM" bash -c "! kill -0 $PID_bot"
grep -q 'event=stopping' bot.log || t_fail "no event=stopping in the log"
echo ok
