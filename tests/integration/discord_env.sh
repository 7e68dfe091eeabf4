# discord_env.sh: shared set-up for the Discord integration tests (source it
# after tests/lib.sh and t_setup).  Starts fake-discord, optionally
# opsbot-queue, and opsbot-bot with a [discord] section pointing at the fake.
#
#   d_fake [fake-discord args...]   start the stand-in; sets $DP and $DB (base URL)
#   d_queue                         start opsbot-queue (pipeline: detect only)
#   d_bot [extra [discord] lines]   write bot.conf, start opsbot-bot
#   d_get PATH / d_post PATH [JSON] the control API
#   d_jq 'jq filter'                read JSON from stdin (jq -r)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
APP=1380486651436073092
GUILD=1380488052169769110

d_fake() {
  t_start fake fake-discord --port-file "$T/fd.port" "$@"
  t_wait "fake-discord port file" test -s "$T/fd.port"
  DP=$(cat "$T/fd.port")
  DB="http://127.0.0.1:$DP"
}

d_queue() {
  cat > "$T/queue.conf" <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
sync = normal
[pipeline]
stages = detect
CONF
  t_start queue opsbot-queue -c "$T/queue.conf"
  t_wait "queue socket" test -S "$T/var/run/q.ipc"
}

d_bot() {
  {
    cat <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
[bot]
state = $T/var/bot.db
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
[discord]
api = $DB/api/v10
application_id = $APP
guild_id = $GUILD
channel = ops
templates = $REPO/templates/discord
identify_gap = 100ms
invalid_session_wait_min = 50ms
invalid_session_wait_max = 150ms
CONF
    for l in "$@"; do echo "$l"; done
  } > "$T/bot.conf"
  DISCORD_BOT_TOKEN=${D_TOKEN:-fake-bot-token} t_start bot opsbot-bot -c "$T/bot.conf"
  t_wait "bot http port" test -s "$T/var/run/bot.port"
  BP=$(cat "$T/var/run/bot.port")
}

d_get() { curl -sf "$DB$1"; }
d_post() { curl -sf -X POST -d "${2:-{\}}" "$DB$1"; }
d_jq() { jq -r "$@"; }
d_stat() { d_get /_fake/stats | jq -r ".$1"; }
# true when stat $1 compares to $2 with jq operator $3 (default ==)
d_stat_is() { [ "$(d_get /_fake/stats | jq -r "(.$1 ${3:-==} $2)")" = true ]; }
d_connected() { [ "$(d_stat connected)" = true ]; }
# inject a slash command: d_cmd USER_ID SUB 'options JSON array'
d_cmd() {
  d_post /_fake/interactions "{\"kind\":\"command\",\"user\":{\"id\":\"$1\",\"username\":\"user$1\"},\"options\":[{\"name\":\"$2\",\"type\":1,\"options\":${3:-[]}}]}"
}
d_inter() { d_get "/_fake/interactions/$1"; }
d_answered() { [ "$(d_inter "$1" | jq -r .callback_type)" = "$2" ]; }
# channel messages (id or name) and one message's fields
d_msgs() { d_get "/_fake/channels/$1/messages"; }
d_has() { d_msgs "$1" | grep -q -- "$2"; }                  # raw JSON contains text
d_count() { d_msgs "$1" | jq --arg s "$2" '[.[] | select(.content | contains($s))] | length'; }
# the state field of an incident message's embed, and its number of button rows
d_state() { d_msgs ops | jq -r --arg id "$1" '.[] | select(.id == $id) | .embeds[0].fields[0].value'; }
d_rows() { d_msgs ops | jq -r --arg id "$1" '.[] | select(.id == $id) | .components | length'; }
d_state_is() { [ "$(d_state "$1")" = "$2" ]; }
d_final() { d_state_is "$1" "$2" && [ "$(d_rows "$1")" = 0 ]; }
d_thread_id() { d_get /_fake/channels | jq -r '[.[] | select(.type == 11)][0].id // empty'; }
d_has_thread() { [ -n "$(d_thread_id)" ]; }
