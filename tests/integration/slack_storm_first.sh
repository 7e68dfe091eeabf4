#!/usr/bin/env bash
# slack_storm_first.sh: in a storm a new incident's parent goes before the
# chat.update calls (and thread replies) of older incidents in the same
# channel: with 30 incidents' acks queued, at Slack's limits (the stand-in's
# and the bot's defaults), the new parent appears before they drain.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
T_DEADLINE=20
# set-up at full speed: 30 incidents, limits off
SLACK_EXTRA_CONF="channel_rate = 0"
slack_stack --post-rate 0
for i in $(seq 1 30); do slash U0ALICE $CH "declare storm service $i down" >/dev/null; done
t_wait "30 parents" bash -c "[ \$(curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH' | jq '[.messages[] | select(.bot_id)] | length') = 30 ]"

# now the default limits on both sides
stop_bot
SLACK_EXTRA_CONF=""
write_conf
fs_post /control/config '{"post_rate":1,"post_burst":3}' >/dev/null
start_bot
for i in $(seq 1 30); do
  wirecat "ipc://$T/var/run/q.ipc" "$(jq -nc --argjson i "$i" \
    '{type:"command", incident:$i, action:"ack", user:"U0ACK", surface:"cli"}')" >/dev/null \
    || t_fail "ack of $i refused by the queue"
done
acked_parents() { top_messages $CH | jq '[.[] | select(.text | test("acknowledged by"))] | length'; }
env=$(slash U0ALICE $CH "declare checkout down after the storm")
T_DEADLINE=10 t_wait "parent of the new incident" has_parent 31
a=$(acked_parents)
[ "$a" -lt 30 ] || t_fail "all 30 updates went before the new parent (got $a acked parents)"
replies=$(fs_get /control/stats | jq '.calls["chat.postMessage"] // 0')
echo "new parent after $a of 30 parent updates; postMessage calls so far $replies"
# the bot waits for the limits instead of hitting them (a rare 429 from
# clock jitter between its bucket and the stand-in's is retried)
rl=$(fs_get /control/stats | jq .rate_limited)
[ "$rl" -le 3 ] || t_fail "the stand-in refused $rl posts (429), want at most 3"
echo ok
