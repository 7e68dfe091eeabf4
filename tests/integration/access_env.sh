#!/usr/bin/env bash
# access_env.sh: the master gives each daemon only the secrets it uses
# (lib/secenv.h) and umask 077.  Test workers stand in for the bot, the
# planner and the executor under those program names (symlinks); their
# environments are read back from /proc.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/runtime_lib.sh"
t_setup
mkdir -p "$T/bin"
for p in opsbot-bot opsbot-plan opsbot-exec; do ln -s "$OPSBOT_BIN/test-worker" "$T/bin/$p"; done
cat > opsbot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/q.db
[master]
run_dir = $T/var/run
stop_timeout = 5s
[test-worker]
claim_wait = 200ms
[daemons]
queue = opsbot-queue
bot = $T/bin/opsbot-bot --kind b
plan = $T/bin/opsbot-plan --kind p
exec = $T/bin/opsbot-exec --kind e
CONF
export SLACK_BOT_TOKEN=xoxb-test SLACK_APP_TOKEN=xapp-test DISCORD_BOT_TOKEN=dtest \
  OPSBOT_LLM_API_KEY=llm-test OPSBOT_SMTP_PASSWORD=smtp-test OPSBOT_HOOK_TOKEN=hook-test
t_start master bash -c "umask 000; exec opsbot -c '$T/opsbot.conf'"
all_running() { local d; for d in queue bot plan exec; do drunning $d || return 1; done; }
t_wait "all daemons running" all_running
envof() { tr '\0' '\n' < "/proc/$(dfield "$1" pid)/environ" | sed 's/=.*//' | grep -E 'TOKEN|SECRET|API_KEY|PASSWORD' | sort | tr '\n' ' '; }
check() {
  local got; got=$(envof "$1")
  [ "$got" = "$2" ] || t_fail "$1's secrets: got '$got' want '$2'"
  grep -q "^Umask:.*0077" "/proc/$(dfield "$1" pid)/status" || t_fail "$1's umask: $(grep Umask "/proc/$(dfield "$1" pid)/status")"
}
check queue ""
check bot "DISCORD_BOT_TOKEN OPSBOT_HOOK_TOKEN SLACK_APP_TOKEN SLACK_BOT_TOKEN "
check plan "OPSBOT_LLM_API_KEY "
check exec ""
[ "$(stat -c %a "$T/var/q.db")" = 600 ] || t_fail "queue db mode $(stat -c %a "$T/var/q.db")"
echo ok
