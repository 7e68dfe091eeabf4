#!/usr/bin/env bash
# discord_e2e.sh: a slash command becomes an incident: deferred answer within
# the deadline, the answer edited with the incident number, the incident's
# message (embed + buttons) in the channel, a thread on it (thread id =
# message id), queue events as thread messages, the embed following the
# state, and a button click acknowledged and recorded with the user.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_env.sh"
t_setup
d_fake --heartbeat-ms 5000
d_queue
d_bot
t_wait "gateway connected" d_connected
cmd_registered() { d_get /_fake/commands | grep -q '"declare"'; }
t_wait "commands registered" cmd_registered
d_get /_fake/commands | jq -r '.guild[0].name' | grep -qx incident || t_fail "guild command not registered"
[ "$(d_stat intents)" = 1 ] || t_fail "intents got $(d_stat intents) want 1 (GUILDS only)"

inj=$(d_cmd 42 declare '[{"name":"title","type":3,"value":"checkout 5xx *spike*"},{"name":"service","type":3,"value":"checkout"},{"name":"severity","type":3,"value":"high"}]') || t_fail "inject"
iid=$(echo "$inj" | jq -r .id)
t_wait "deferred answer" d_answered "$iid" 5
lat=$(d_inter "$iid" | jq -r .callback_latency_us)
[ "$lat" -lt 3000000 ] || t_fail "answer after ${lat}us, over the 3 s deadline"

t_wait "answer edited with the incident number" d_has ops 'Incident #1 is open'
parent_id() { d_msgs ops | jq -r '[.[] | select(.embeds | length > 0)][0].id // empty'; }
has_parent() { [ -n "$(parent_id)" ]; }
t_wait "incident message with embed" has_parent
PID=$(parent_id)
d_msgs ops | jq --arg id "$PID" '.[] | select(.id == $id)' > "$T/parent.json"
jq -r '.embeds[0].title' "$T/parent.json" | grep -q '^Incident #1: checkout 5xx \\\*spike\\\*$' ||
  t_fail "embed title (markdown escaped): $(jq -r '.embeds[0].title' "$T/parent.json")"
jq -r '.components[0].components[].custom_id' "$T/parent.json" | grep -qx 'ob:1:ack' || t_fail "no Acknowledge button"
is_thread() { [ "$(d_get /_fake/channels | jq -r --arg id "$PID" '.[] | select(.id == $id) | .type')" = 11 ]; }
t_wait "thread on the message (thread id = message id)" is_thread
t_wait "opened step in the thread" d_has "$PID" 'Incident opened by user42'
t_wait "stage step in the thread" d_has "$PID" 'State: open'
t_wait "embed shows the new state" d_state_is "$PID" detecting

# A click on Acknowledge: deferred update (6), then the command in the thread.
cl=$(d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"ops\",\"message_id\":\"$PID\",\"custom_id\":\"ob:1:ack\",\"user\":{\"id\":\"77\",\"username\":\"bob\"}}") || t_fail "click"
cid=$(echo "$cl" | jq -r .id)
t_wait "click acknowledged" d_answered "$cid" 6
t_wait "ack recorded in the thread with the user" d_has "$PID" 'ack by bob'

# /incident status and list answer with what the queue knows (ephemeral edit).
d_cmd 42 status '[{"name":"id","type":4,"value":1}]' >/dev/null
t_wait "status answered" d_has ops 'Incident #1: checkout 5xx .*— state detecting'
d_msgs ops | jq -r '.[].content' | grep -q 'Incident #1: checkout 5xx \\\*spike' || t_fail "status: title markdown not escaped"
d_cmd 42 list >/dev/null
t_wait "list answered" d_has ops '#1 checkout 5xx'

# Resolve by button; then a click the queue refuses gets an ephemeral reason.
d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"ops\",\"message_id\":\"$PID\",\"custom_id\":\"ob:1:resolve\",\"user\":{\"id\":\"77\",\"username\":\"bob\"}}" >/dev/null
t_wait "resolved in the thread" d_has "$PID" 'Resolved'
t_wait "embed resolved, buttons gone" d_final "$PID" resolved
d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"ops\",\"message_id\":\"$PID\",\"custom_id\":\"ob:1:pause\",\"user\":{\"id\":\"77\",\"username\":\"bob\"}}" >/dev/null
refused() { [ "$(d_msgs ops | jq '[.[] | select((.content | contains("could not do that")) and (.flags % 128 >= 64))] | length')" -ge 1 ]; }
t_wait "refusal shown to the clicker only (ephemeral)" refused

# An incident from an alert (no Discord surface) goes to [discord] channel.
wirecat "ipc://$T/var/run/q.ipc" '{"type":"submit","what":"incident","key":"alert-1","spec":{"title":"disk full on db-2","service":"db","severity":"critical","source":"alertmanager"}}' >/dev/null \
  || t_fail "submit an alert incident"
t_wait "alert incident in the default channel" d_has ops 'Incident #2: disk full'

# Every REST call carried the bot token and a DiscordBot User-Agent.
[ "$(d_stat bad_user_agent)" = 0 ] || t_fail "calls without a DiscordBot User-Agent: $(d_stat bad_user_agent)"
[ "$(d_stat responses_401)" = 0 ] || t_fail "calls refused 401: $(d_stat responses_401)"

# Each event posted once: no doubles in the thread.
n=$(d_count "$PID" "Incident opened")
[ "$n" = 1 ] || t_fail "opened step posted $n times"
[ "$(d_inter "$iid" | jq -r .second_callbacks)" = 0 ] || t_fail "a second callback was sent"
echo ok
