# discord_env.sh: shared set-up for the Discord integration tests (source it
# after tests/lib.sh and t_setup).  Starts fake-discord, optionally
# opsbot-queue, and opsbot-bot with a [discord] section pointing at the fake.
#
#   d_fake [fake-discord args...]   start the stand-in; sets $DP and $DB (base URL)
#   d_queue                         start opsbot-queue (pipeline: detect only)
#   d_bot [extra [discord] lines]   write bot.conf, start opsbot-bot
#   d_get PATH / d_post PATH [JSON] the control API
#   d_js 'python expr on d'         read JSON from stdin
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
d_js() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
d_stat() { d_get /_fake/stats | d_js "d['$1']"; }
# true when stat $1 compares to $2 with python operator $3 (default ==)
d_stat_is() { [ "$(d_get /_fake/stats | d_js "int(d['$1'] ${3:-==} $2)")" = 1 ]; }
d_connected() { [ "$(d_stat connected)" = True ]; }
# inject a slash command: d_cmd USER_ID SUB 'options JSON array'
d_cmd() {
  d_post /_fake/interactions "{\"kind\":\"command\",\"user\":{\"id\":\"$1\",\"username\":\"user$1\"},\"options\":[{\"name\":\"$2\",\"type\":1,\"options\":${3:-[]}}]}"
}
d_inter() { d_get "/_fake/interactions/$1"; }
d_answered() { [ "$(d_inter "$1" | d_js 'd["callback_type"]')" = "$2" ]; }
