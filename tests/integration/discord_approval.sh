#!/usr/bin/env bash
# discord_approval.sh: a plan that needs approval shows Approve/Reject
# buttons in the incident's thread (custom_id carries incident, action and
# plan hash); a click is acknowledged at once, forwarded to the queue with
# the user, the recorded approval appears in the thread, the plan message is
# redrawn in place with the tally and who approved, and the decision
# buttons are taken off once the incident leaves awaiting_approval.  Reject
# asks for a reason first: the click is answered with a modal (type 9).  Test workers
# (their results say so) stand in for detect, retrieve and plan.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_lib.sh"
t_setup
# Discord user 88000 is carol, an approver; the plan needs approval.
d_approval_stack

d_cmd 42 declare '[{"name":"title","type":3,"value":"needs a restart"}]' >/dev/null || t_fail "inject"
t_wait "thread made" d_has_thread
TH=$(d_thread_id)
t_wait "plan with buttons in the thread" d_has "$TH" 'ob:1:approve:h-test-1'
PM=$(d_msgs "$TH" | jq -r '[.[] | select(.content | contains("Plan proposed"))][0].id')
d_msgs "$TH" | jq -r --arg id "$PM" '.[] | select(.id == $id) | .components[0].components[1].custom_id' \
  | grep -qx 'ob:1:reject:h-test-1' || t_fail "no Reject button next to Approve"
d_get "/_fake/channels/$TH/messages" | grep -q 'restart' || t_fail "plan step not listed"
t_wait "awaiting approval in the embed" d_state_is "$TH" 'awaiting\_approval'

cl=$(d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"$TH\",\"message_id\":\"$PM\",\"custom_id\":\"ob:1:approve:h-test-1\",\"user\":{\"id\":\"88000\",\"username\":\"carol\"}}") || t_fail "click approve"
cid=$(echo "$cl" | jq -r .id)
t_wait "click acknowledged" d_answered "$cid" 6
t_wait "approval recorded in the thread" d_has "$TH" 'approve by carol'
t_wait "executing after approval" d_has "$TH" '_approval → executing'
plan_rows() { d_msgs "$TH" | jq -r --arg id "$PM" '.[] | select(.id == $id) | .components | length'; }
no_plan_buttons() { [ "$(plan_rows)" = 0 ]; }
t_wait "Approve/Reject taken off once decided" no_plan_buttons
plan_text() { d_msgs "$TH" | jq -r --arg id "$PM" '.[] | select(.id == $id) | .content'; }
tally_shown() { plan_text | grep -q 'Approved so far: 1 by carol'; }
t_wait "tally redrawn in the plan message" tally_shown
[ "$(d_count "$TH" 'Plan proposed')" = 1 ] || t_fail "the plan was posted again instead of edited"

# a second incident: Reject answers with the reason modal
d_cmd 43 declare '[{"name":"title","type":3,"value":"second one"}]' >/dev/null || t_fail "inject 2"
th2() { d_get /_fake/channels | jq -r '[.[] | select(.type == 11 and (.name | startswith("#2 ")))][0].id // empty'; }
has_th2() { [ -n "$(th2)" ]; }
t_wait "second thread" has_th2
TH2=$(th2)
t_wait "plan with buttons in the second thread" d_has "$TH2" 'ob:2:reject:h-test-1'
PM2=$(d_msgs "$TH2" | jq -r '[.[] | select(.content | contains("Plan proposed"))][0].id')
cl=$(d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"$TH2\",\"message_id\":\"$PM2\",\"custom_id\":\"ob:2:reject:h-test-1\",\"user\":{\"id\":\"89\",\"username\":\"dave\"}}") || t_fail "click reject"
t_wait "reject answered with the reason modal" d_answered "$(echo "$cl" | jq -r .id)" 9
d_count "$TH2" 'reject by' | grep -qx 0 || t_fail "a reject without its reason was recorded"
# the modal's submission is judged by the queue: dave is in no policy, so
# only he hears why (ephemeral) and the thread shows nothing
ml=$(d_post /_fake/interactions "{\"kind\":\"modal\",\"channel\":\"$TH2\",\"message_id\":\"$PM2\",\"custom_id\":\"obr:2:h-test-1\",\"values\":{\"reason\":\"too risky now\"},\"user\":{\"id\":\"89\",\"username\":\"dave\"}}") || t_fail "submit modal"
t_wait "modal submission deferred" d_answered "$(echo "$ml" | jq -r .id)" 5
refused_to_dave() { [ "$(d_msgs "$TH2" | jq '[.[] | select((.content | contains("could not do that")) and (.content | contains("not a person in the approval policy")) and (.flags % 128 >= 64))] | length')" -ge 1 ]; }
t_wait "refusal shown to dave only" refused_to_dave
[ "$(d_count "$TH2" 'reject by')" = 0 ] || t_fail "a refused reject shows in the thread"
# carol may reject: her reason goes with it
ml=$(d_post /_fake/interactions "{\"kind\":\"modal\",\"channel\":\"$TH2\",\"message_id\":\"$PM2\",\"custom_id\":\"obr:2:h-test-1\",\"values\":{\"reason\":\"wrong service\"},\"user\":{\"id\":\"88000\",\"username\":\"carol\"}}") || t_fail "submit modal 2"
t_wait "rejection in the second thread" d_has "$TH2" 'reject by carol'
t_wait "the reason in the thread" d_has "$TH2" 'wrong service'
t_wait "second plan's buttons off" bash -c "[ \"\$(curl -sf $DB/_fake/channels/$TH2/messages | jq -r --arg id $PM2 '.[] | select(.id == \$id) | .components | length')\" = 0 ]"

# What a person sees, kept with T_KEEP=1 for a look.
d_msgs "$TH" | jq -r '.[] | .content + "  " + ([.components[].components[].custom_id] | tostring)' > "$T/thread.txt"
echo ok
