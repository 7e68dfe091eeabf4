#!/usr/bin/env bash
# discord_crash_window.sh: Slack's exactly-once recovery, on Discord.  The
# bot is SIGKILLed inside the window where Discord has stored a post but
# bot.db has not recorded it (fake-discord stores the POST and never answers
# it).  After a restart the bot finds the post among the channel's recent
# messages and does not POST it again (Discord's enforce_nonce would only
# cover a few minutes): for a thread step and for an incident's parent
# message.  Then /healthz: a Gateway closed for good (4004) is reported as
# Slack's surface reports a disabled socket.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_env.sh"
t_setup
d_fake --heartbeat-ms 5000
d_queue
d_bot
t_wait "gateway connected" d_connected
stalled() { [ "$(d_stat stalled_posts)" -ge "$1" ]; }
kill_bot() {
  kill -KILL "$PID_bot"
  t_wait "bot gone" bash -c "! kill -0 $PID_bot 2>/dev/null"
}
restart_bot() { rm -f "$T/var/run/bot.port"; d_bot; t_wait "gateway connected again" d_connected; }
note() {
  wirecat "ipc://$T/var/run/q.ipc" "$(jq -nc --argjson i "$1" --arg n "$2" \
    '{type:"command", incident:$i, action:"note", user:"U0NOTES", surface:"cli", note:$n}')" >/dev/null \
    || t_fail "note $2 refused by the queue"
}
# POSTs to a channel's messages as the stand-in logged them
posts_to() { d_get /_fake/requests | jq --arg p "/api/v10/channels/$1/messages" '[.[] | select(.method == "POST" and .path == $p)] | length'; }

d_cmd 42 declare '[{"name":"title","type":3,"value":"crash window"}]' >/dev/null || t_fail "inject"
t_wait "thread made" d_has_thread
TH=$(d_thread_id)
note 1 noteone
t_wait "noteone" d_has "$TH" 'noteone'

# 1. a thread step, stored by Discord, the bot killed before it heard so
d_post /_fake/stall '{"posts":1}' >/dev/null
before=$(posts_to "$TH")
note 1 notetwo
t_wait "notetwo stored and its answer held" stalled 1
d_has "$TH" 'notetwo' || t_fail "the stalled post was not stored"
kill_bot
restart_bot
t_wait "post found again after the restart" grep -q 'event=discord_post_recovered key="ev:[0-9]*"' bot.log
note 1 notethree
t_wait "notethree" d_has "$TH" 'notethree'
[ "$(d_count "$TH" 'notetwo')" = 1 ] || t_fail "notetwo: got $(d_count "$TH" 'notetwo') messages, want 1"
[ "$(posts_to "$TH")" = $((before + 2)) ] \
  || t_fail "POSTs to the thread: got $(( $(posts_to "$TH") - before )), want 2 (notetwo once, notethree)"

# 2. an incident's parent message
OPS=$(d_get /_fake/channels | jq -r '[.[] | select(.name == "ops")][0].id')
d_post /_fake/stall '{"posts":1}' >/dev/null
d_cmd 42 declare '[{"name":"title","type":3,"value":"second parent"}]' >/dev/null || t_fail "inject 2"
t_wait "parent stored and its answer held" stalled 2
kill_bot
restart_bot
t_wait "parent found again" grep -q 'event=discord_post_recovered key="inc:2:parent"' bot.log
t_wait "incident 2's thread" bash -c "curl -sf $DB/_fake/channels | jq -e '[.[] | select(.type == 11)] | length == 2' >/dev/null"
[ "$(d_count ops '')" -ge 0 ] || true
n=$(d_msgs ops | jq '[.[] | select(.embeds[0].title // "" | contains("second parent"))] | length')
[ "$n" = 1 ] || t_fail "parent of incident 2: got $n messages, want 1"

# 3. /healthz names a Gateway closed for good
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BP/healthz")
[ "$code" = 200 ] || t_fail "healthz before: got $code"
d_post /_fake/gateway/close '{"code":4004}' >/dev/null || t_fail "close 4004"
t_wait "healthz 503" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$BP/healthz) = 503 ]"
curl -s "http://127.0.0.1:$BP/healthz" | grep -q 'discord: the Discord Gateway closed for good (code 4004)' \
  || t_fail "healthz text: $(curl -s "http://127.0.0.1:$BP/healthz")"
echo ok
