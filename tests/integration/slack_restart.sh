#!/usr/bin/env bash
# slack_restart.sh: the bot stops (SIGTERM) and is killed (SIGKILL) while an
# incident goes on; events it missed are caught up from the queue after it
# comes back, and nothing already posted is posted again.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
SLACK_EXTRA_CONF="channel_rate = 0"
slack_stack --post-rate 0

env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
t_wait "parent" has_parent 1
for i in 1 2 3; do note 1 "n$i"; done
t_wait "n1..n3" has_notes 1 3

stop_bot
for i in 4 5 6; do note 1 "n$i"; done      # published while nobody listens
start_bot
t_wait "n4..n6 caught up after a restart" has_notes 1 6
want_notes 1 1 6

for i in 7 8 9 10 11 12; do note 1 "n$i"; done
kill -KILL "$PID_bot"
t_wait "bot gone" bash -c "! kill -0 $PID_bot 2>/dev/null"
for i in 13 14; do note 1 "n$i"; done
start_bot
t_wait "n7..n14 after kill -9" has_notes 1 14
want_notes 1 1 14
# the parent is still the one message, and updates still reach it
[ "$(n_top $CH)" = 1 ] || t_fail "top-level messages: got $(n_top $CH), want 1"
click=$(fs_post /control/click "$(jq -nc --arg ts "$(parent_ts 1)" '{user:"U0BOB", channel:"C0INCIDENT", message_ts:$ts, action_id:"opsbot_ack", value:"1"}')" | jq -r .envelope_id)
wait_acked "$click"
t_wait "parent updated after restarts" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH' | jq -e '.messages[0].text | test(\"acknowledged by <@U0BOB>\")'"

# a bot with no memory (bot.db gone, as when Slack is switched on for an
# install that already has history) starts at the queue's last event: the
# old incident is not posted again, new ones are
stop_bot
rm -f var/bot.db var/bot.db-wal var/bot.db-shm
start_bot
t_wait "first start logged" grep -q 'event=surface_first_start surface=slack' bot.log
env=$(slash U0ALICE $CH "declare api fresh start"); wait_acked "$env"
t_wait "parent of incident 2" has_parent 2
[ "$(n_top $CH)" = 2 ] || t_fail "top-level messages after a fresh bot.db: got $(n_top $CH), want 2 (history not replayed)"
echo ok
