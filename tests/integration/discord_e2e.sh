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
t_wait "commands registered" bash -c "curl -sf $DB/_fake/commands | grep -q '\"declare\"'"
d_get /_fake/commands | d_js 'd["guild"][0]["name"]' | grep -qx incident || t_fail "guild command not registered"
[ "$(d_stat intents)" = 1 ] || t_fail "intents got $(d_stat intents) want 1 (GUILDS only)"

inj=$(d_cmd 42 declare '[{"name":"title","type":3,"value":"checkout 5xx *spike*"},{"name":"service","type":3,"value":"checkout"},{"name":"severity","type":3,"value":"high"}]') || t_fail "inject"
iid=$(echo "$inj" | d_js 'd["id"]')
t_wait "deferred answer" d_answered "$iid" 5
lat=$(d_inter "$iid" | d_js 'd["callback_latency_us"]')
[ "$lat" -lt 3000000 ] || t_fail "answer after ${lat}us, over the 3 s deadline"

msgs() { d_get "/_fake/channels/$1/messages"; }
t_wait "answer edited with the incident number" bash -c "curl -sf $DB/_fake/channels/ops/messages | grep -q 'Incident #1 is open'"
parent_id() { msgs ops | d_js '[m["id"] for m in d if m["embeds"]][0]'; }
t_wait "incident message with embed" parent_id
PID=$(parent_id)
msgs ops | d_js "[m for m in d if m['id']=='$PID'][0]" > "$T/parent.py"
grep -q "Incident #1: checkout 5xx" "$T/parent.py" || t_fail "embed title: $(head -c 400 "$T/parent.py")"
grep -q '\\\\\*spike' "$T/parent.py" || grep -q '\\\*spike' "$T/parent.py" || t_fail "markdown in the title not escaped: $(head -c 300 "$T/parent.py")"
grep -q "ob:1:ack" "$T/parent.py" || t_fail "no Acknowledge button"
t_wait "thread on the message" bash -c "curl -sf $DB/_fake/channels | grep -q '\"id\":\"$PID\",.*\"type\":11' || curl -sf $DB/_fake/channels | python3 -c 'import json,sys; sys.exit(0 if any(c[\"id\"]==\"$PID\" and c[\"type\"]==11 for c in json.load(sys.stdin)) else 1)'"
t_wait "opened step in the thread" bash -c "curl -sf $DB/_fake/channels/$PID/messages | grep -q 'Incident opened by user42'"
t_wait "stage step in the thread" bash -c "curl -sf $DB/_fake/channels/$PID/messages | grep -q 'State: open'"
t_wait "embed shows the new state" bash -c "curl -sf $DB/_fake/channels/ops/messages | python3 -c 'import json,sys; d=json.load(sys.stdin); m=[m for m in d if m[\"id\"]==\"$PID\"][0]; sys.exit(0 if m[\"embeds\"][0][\"fields\"][0][\"value\"]==\"detecting\" else 1)'"

# A click on Acknowledge: deferred update (6), then the command in the thread.
cl=$(d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"ops\",\"message_id\":\"$PID\",\"custom_id\":\"ob:1:ack\",\"user\":{\"id\":\"77\",\"username\":\"bob\"}}") || t_fail "click"
cid=$(echo "$cl" | d_js 'd["id"]')
t_wait "click acknowledged" d_answered "$cid" 6
t_wait "ack recorded in the thread with the user" bash -c "curl -sf $DB/_fake/channels/$PID/messages | grep -q 'ack by bob'"

# /incident status and list answer with what the queue knows (ephemeral edit).
sid=$(d_cmd 42 status '[{"name":"id","type":4,"value":1}]' | d_js 'd["id"]')
t_wait "status answered" bash -c "curl -sf $DB/_fake/channels/ops/messages | grep -q 'Incident #1: checkout 5xx .*— state detecting'"
d_get /_fake/channels/ops/messages | grep -q 'Incident #1: checkout 5xx \\\\\*spike' || t_fail "status: title markdown not escaped"
d_cmd 42 list >/dev/null
t_wait "list answered" bash -c "curl -sf $DB/_fake/channels/ops/messages | grep -q '#1 checkout 5xx'"

# Resolve by button; then a click the queue refuses gets an ephemeral reason.
d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"ops\",\"message_id\":\"$PID\",\"custom_id\":\"ob:1:resolve\",\"user\":{\"id\":\"77\",\"username\":\"bob\"}}" >/dev/null
t_wait "resolved in the thread" bash -c "curl -sf $DB/_fake/channels/$PID/messages | grep -q 'Resolved'"
t_wait "embed resolved, buttons gone" bash -c "curl -sf $DB/_fake/channels/ops/messages | python3 -c 'import json,sys; d=json.load(sys.stdin); m=[m for m in d if m[\"id\"]==\"$PID\"][0]; sys.exit(0 if m[\"embeds\"][0][\"fields\"][0][\"value\"]==\"resolved\" and not m[\"components\"] else 1)'"
d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"ops\",\"message_id\":\"$PID\",\"custom_id\":\"ob:1:pause\",\"user\":{\"id\":\"77\",\"username\":\"bob\"}}" >/dev/null
t_wait "refusal shown to the clicker only" bash -c "curl -sf $DB/_fake/channels/ops/messages | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(\"could not do that\" in m[\"content\"] and m[\"flags\"] & 64 for m in d) else 1)'"

# An incident from an alert (no Discord surface) goes to [discord] channel.
wirecat "ipc://$T/var/run/q.ipc" '{"type":"submit","what":"incident","key":"alert-1","spec":{"title":"disk full on db-2","service":"db","severity":"critical","source":"alertmanager"}}' >/dev/null \
  || t_fail "submit an alert incident"
t_wait "alert incident in the default channel" bash -c "curl -sf $DB/_fake/channels/ops/messages | grep -q 'Incident #2: disk full'"

# Every REST call carried the bot token and a DiscordBot User-Agent.
[ "$(d_stat bad_user_agent)" = 0 ] || t_fail "calls without a DiscordBot User-Agent: $(d_stat bad_user_agent)"
[ "$(d_stat responses_401)" = 0 ] || t_fail "calls refused 401: $(d_stat responses_401)"

# Each event posted once: no doubles in the thread.
n=$(msgs "$PID" | d_js 'sum(1 for m in d if "Incident opened" in m["content"])')
[ "$n" = 1 ] || t_fail "opened step posted $n times"
[ "$(d_inter "$iid" | d_js 'd["second_callbacks"]')" = 0 ] || t_fail "a second callback was sent"
echo ok
