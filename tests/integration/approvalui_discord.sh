#!/usr/bin/env bash
# approvalui_discord.sh: a Discord click carries the incident of the message
# it was on (the interaction's message, or the thread it is in: a thread's
# id is its parent message's id).  Incident 2's Approve, pressed on
# incident 1's plan message, is refused as wrong_incident: the reason goes
# to the clicker only (an ephemeral follow-up), the refusal is recorded,
# nothing changes.  The same button in incident 2's own thread approves.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_lib.sh"
t_setup
# Discord user 88000 is carol, an approver; the plan needs approval.
d_approval_stack
Q="ipc://$T/var/run/q.ipc"
inc_state() { wirecat "$Q" "{\"type\":\"query\",\"what\":\"incident\",\"incident\":$1}" | jq -r .incident.state; }
refusals() { wirecat "$Q" "{\"type\":\"query\",\"what\":\"timeline\",\"incident\":$1}" | jq '[.items[] | select(.name == "approval.refused" and .data.error == "wrong_incident")] | length'; }
thread_of() { d_get /_fake/channels | jq -r --arg p "#$1 " '[.[] | select(.type == 11 and (.name | startswith($p)))][0].id // empty'; }
has_thread() { [ -n "$(thread_of "$1")" ]; }
plan_of() { d_msgs "$1" | jq -r '[.[] | select(.content | contains("Plan proposed"))][0].id // empty'; }
click() { # CHANNEL MESSAGE CUSTOM_ID
  d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"$1\",\"message_id\":\"$2\",\"custom_id\":\"$3\",\"user\":{\"id\":\"88000\",\"username\":\"carol\"}}" || t_fail "click $3"
}

d_cmd 42 declare '[{"name":"title","type":3,"value":"first one"}]' >/dev/null || t_fail "inject 1"
t_wait "thread 1" has_thread 1
TH1=$(thread_of 1)
t_wait "plan in thread 1" d_has "$TH1" 'ob:1:approve:h-test-1'
d_cmd 43 declare '[{"name":"title","type":3,"value":"second one"}]' >/dev/null || t_fail "inject 2"
t_wait "thread 2" has_thread 2
TH2=$(thread_of 2)
t_wait "plan in thread 2" d_has "$TH2" 'ob:2:approve:h-test-1'
PM1=$(plan_of "$TH1"); PM2=$(plan_of "$TH2")

# Incident 2's Approve on incident 1's plan message.
cl=$(click "$TH1" "$PM1" "ob:2:approve:h-test-1")
t_wait "click acknowledged" d_answered "$(echo "$cl" | jq -r .id)" 6
t_wait "refusal recorded" eval '[ "$(refusals 2)" = 1 ]'
told() { [ "$(d_msgs "$TH1" | jq '[.[] | select((.content | contains("belongs to incident 2 but was pressed on the message of incident 1")) and (.flags % 128 >= 64))] | length')" = 1 ]; }
t_wait "the reason to carol only (ephemeral)" told
[ "$(inc_state 2)" = awaiting_approval ] || t_fail "incident 2 changed: $(inc_state 2)"
[ "$(d_count "$TH2" 'approve by')" = 0 ] || t_fail "an approval shows in thread 2"
[ "$(d_msgs "$TH1" | jq '[.[] | select((.content | contains("belongs to")) and (.flags % 128 < 64))] | length')" = 0 ] ||
  t_fail "the refusal was posted for everyone"

# In incident 2's own thread it approves.
cl=$(click "$TH2" "$PM2" "ob:2:approve:h-test-1")
t_wait "approval in thread 2" d_has "$TH2" 'approve by carol'
[ "$(refusals 2)" = 1 ] || t_fail "refusals after the right click: $(refusals 2)"
[ "$(inc_state 1)" = awaiting_approval ] || t_fail "incident 1 changed: $(inc_state 1)"
echo ok
