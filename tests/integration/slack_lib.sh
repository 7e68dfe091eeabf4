# slack_lib.sh: the Slack stack for integration tests (source after lib.sh):
# fake-slack, opsbot-queue and opsbot-bot as real processes in $T.
#
#   slack_stack [fake-slack flags...]   start all three; wait until the bot's
#                                       Socket Mode connection is up
#   fs_get PATH / fs_post PATH JSON     the stand-in's control API
#   slash USER CHANNEL TEXT             inject /incident TEXT, print envelope id
#   wait_acked ENVELOPE                 until the stand-in got its ack
#   top_messages CHANNEL / thread CHANNEL TS   message arrays (JSON)
#   start_bot / stop_bot                (re)start the bot alone
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CH=C0INCIDENT
export SLACK_BOT_TOKEN=xoxb-fake SLACK_APP_TOKEN=xapp-fake

fs_get() { curl -sf "http://127.0.0.1:$FS_PORT$1"; }
fs_post() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$FS_PORT$1"; }

slash() {
  fs_post /control/slash "$(jq -nc --arg u "$1" --arg c "$2" --arg t "$3" \
    '{user:$u, channel:$c, text:$t}')" | jq -r .envelope_id
}
acked() { [ "$(fs_get "/control/envelope?id=$1" | jq -r .acked)" = true ]; }
wait_acked() { t_wait "ack of envelope $1" acked "$1"; }
ack_text() { fs_get "/control/envelope?id=$1" | jq -r '.ack_payload.text // ""'; }
top_messages() { fs_get "/control/messages?channel=$1" | jq -c .messages; }
thread() { fs_get "/control/messages?channel=$1&thread=$2" | jq -c .messages; }
# (one jq a helper where one does: tests poll these, and each jq costs ~20 ms
# of CPU)
n_top() { fs_get "/control/messages?channel=$1" | jq '.messages | length'; }
# parent ts of incident N in channel CH (from the button value)
parent_ts() {
  fs_get "/control/messages?channel=$CH" | jq -r --arg id "$1" \
    '[.messages[] | select(.text | startswith("#" + $id + " "))][0].ts // empty'
}
# for t_wait: re-reads the stand-in on every try ($(parent_ts N) as an
# argument would be read once, before the wait)
has_parent() { [ -n "$(parent_ts "$1")" ]; }
thread_len() { fs_get "/control/messages?channel=$CH&thread=$1" | jq '.messages | length'; }
# The stand-in saw no API call for 1.2 s (longer than a channel's 1 s
# posting interval): the bot has posted everything it had queued.
slack_settled() {
  local a b
  a=$(fs_get /control/stats | jq -c .calls) || return 1
  sleep 1.2
  b=$(fs_get /control/stats | jq -c .calls) || return 1
  [ "$a" = "$b" ]
}
connected() { [ "$(fs_get /control/stats | jq .connections)" -ge 1 ]; }

write_conf() {
  cat > "$T/opsbot.conf" <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
sync = normal
[bot]
state = $T/var/bot.db
catchup_interval = 1s
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
[slack]
api_url = http://127.0.0.1:$FS_PORT/api/
channel = $CH
templates = $SRC/templates/slack
${SLACK_EXTRA_CONF:-}
CONF
}

start_bot() {
  rm -f "$T/var/run/bot.port"
  t_start bot opsbot-bot -c "$T/opsbot.conf"
  t_wait "bot http port" test -s "$T/var/run/bot.port"
  t_wait "Socket Mode connection" connected
}

stop_bot() {
  kill -TERM "$PID_bot" 2>/dev/null
  t_wait "bot exits" bash -c "! kill -0 $PID_bot 2>/dev/null"
}

slack_stack() {
  t_start fake-slack fake-slack --port-file "$T/var/run/fs.port" "$@"
  t_wait "fake-slack port" test -s "$T/var/run/fs.port"
  FS_PORT=$(cat "$T/var/run/fs.port")
  write_conf
  t_start queue opsbot-queue -c "$T/opsbot.conf"
  t_wait "queue socket" test -S "$T/var/run/q.ipc"
  start_bot
}

# A note on incident $1 through the queue (becomes command.recorded -> a reply).
note() {
  wirecat "ipc://$T/var/run/q.ipc" "$(jq -nc --argjson i "$1" --arg n "$2" \
    '{type:"command", incident:$i, action:"note", user:"U0NOTES", surface:"cli", note:$n}')" >/dev/null \
    || t_fail "note $2 refused by the queue"
}
# The notes (n<k>) seen in incident $1's thread, in order, one per line.
thread_notes() {
  fs_get "/control/messages?channel=$CH&thread=$(parent_ts "$1")" | jq -r '.messages[] | .text' |
    grep -o 'n[0-9]\+$' || true
}
# want_notes INCIDENT FROM TO: the thread has exactly nFROM..nTO, once each, in order
want_notes() {
  local got want
  got=$(thread_notes "$1" | tr '\n' ' ')
  want=$(seq -f 'n%g' "$2" "$3" | tr '\n' ' ')
  [ "$got" = "$want" ] || t_fail "incident $1 thread notes: got '$got', want '$want'"
}
has_notes() { [ "$(thread_notes "$1" | wc -l)" -ge "$2" ]; }
