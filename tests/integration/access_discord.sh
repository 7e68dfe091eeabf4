#!/usr/bin/env bash
# access_discord.sh: Discord clicks through the stand-in meet the queue's
# policy.  A user not in policy.conf presses Approve: the click is
# acknowledged, the reason comes back to that user only (an ephemeral
# follow-up), nothing is posted in the thread, the incident still waits and
# its timeline records the refusal with the identity.  Then carol (an
# approver) approves and the plan moves on; her second click is refused.
# Test workers (their results say so) stand in for detect, retrieve, plan.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_lib.sh"
t_setup
# Discord user 88000 is carol, an approver; the plan needs approval.
d_approval_stack
ctl() { opsbotctl -c "$T/queue.conf" "$@"; }
state_is() { [ "$(ctl show 1 | awk '$1 == "state:" { print $2; exit }')" = "$1" ]; }

d_cmd 42 declare '[{"name":"title","type":3,"value":"needs a restart"}]' >/dev/null || t_fail "inject"
t_wait "thread made" d_has_thread
TH=$(d_thread_id)
t_wait "plan with buttons in the thread" d_has "$TH" 'ob:1:approve:h-test-1'
PM=$(d_msgs "$TH" | jq -r '[.[] | select(.content | contains("Plan proposed"))][0].id')
click() {
  d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"$TH\",\"message_id\":\"$PM\",\"custom_id\":\"ob:1:approve:h-test-1\",\"user\":{\"id\":\"$1\",\"username\":\"$2\"}}" | jq -r .id
}
ephemeral_has() { d_msgs "$TH" | jq -e --arg s "$1" '[.[] | select(((.flags // 0) / 64 | floor) % 2 == 1 and (.content | contains($s)))] | length > 0' >/dev/null; }
public_has() { d_msgs "$TH" | jq -e --arg s "$1" '[.[] | select(((.flags // 0) / 64 | floor) % 2 == 0 and (.content | contains($s)))] | length > 0' >/dev/null; }

cid=$(click 99999 mallory) || t_fail "click as mallory"
t_wait "click acknowledged" d_answered "$cid" 6
t_wait "the refusal shown to mallory only" ephemeral_has "discord 99999 is not a person in the approval policy"
t_wait "the refusal in the timeline" eval 'ctl show 1 | grep -qF "approve by discord 99999 (not in policy) on plan h-test-1 refused (forbidden)"'
state_is awaiting_approval || t_fail "mallory's click moved the incident"
public_has "99999" && t_fail "the refusal was posted in the thread: $(d_msgs "$TH" | jq -c '[.[].content]')"

cid=$(click 88000 carol) || t_fail "click as carol"
t_wait "approved by carol in the thread" d_has "$TH" 'approve by carol'
t_wait "executing after approval" state_is executing
ctl show 1 | grep -qF "carol approved plan h-test-1 (from discord: discord 88000 = carol), 1 of 1" ||
  t_fail "show: $(ctl show 1)"
cid=$(click 88000 carol) || t_fail "second click"
t_wait "carol's second click refused to her" ephemeral_has "is executing, not awaiting approval"
echo ok
