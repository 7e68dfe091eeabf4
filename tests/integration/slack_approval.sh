#!/usr/bin/env bash
# slack_approval.sh: Slack gets what Discord has.  A plan that needs approval
# is one thread message with its steps (action, parameters, risk, rationale,
# runbook), the approval it needs and Approve / Reject / Dry run buttons
# (a confirm dialog on Approve, since a step is high risk).  A click goes to
# the queue as an approve request; the message is redrawn in place with the
# tally and who approved, and loses its buttons once decided.  Reject asks
# for a reason (views.open; when the form cannot open, the click still
# rejects); the modal's submission rejects with its reason.  A click the
# queue refuses is explained to the clicking person only (ephemeral).  Test
# workers (their results say so) stand in for detect, retrieve and plan.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
cat > "$T/plan.json" <<'JSON'
{"plan":{"id":"p1","hash":"h-test-1","planner":"test-worker",
 "steps":[{"action":"restart_service","params":{"service":"checkout"},"risk":"high",
 "rationale":"test worker step","citations":[{"source":"checkout.md","section":"Restart"}],
 "approval":"required","approvers":["sre-leads"],"distinct_approvers":1,
 "requester_may_approve":false}],"notes":[]},
 "needs_approval":true,"summary":"test worker plan: restart checkout"}
JSON
# The queue judges the clicks: Bob, Carol and Erin approve; Dave is in no policy.
cat > "$T/policy.conf" <<'CONF'
[policy]
auto_risk = low
approvers = ops
[person bob]
slack = U0BOB
[person carol]
slack = U0CAROL
[person erin]
slack = U0ERIN
[group ops]
members = bob carol erin
CONF
SLACK_EXTRA_CONF="channel_rate = 0"
slack_stack --post-rate 0
sed -i "/^\[queue\]/a policy = $T/policy.conf\ncatalog = $SRC/config/actions.conf" opsbot.conf
cat >> opsbot.conf <<CONF
[pipeline]
stages = detect retrieve plan execute
[test-worker]
claim_wait = 200ms
CONF
stop_bot
kill -TERM "$PID_queue"; t_wait "queue gone" bash -c "! kill -0 $PID_queue 2>/dev/null"
t_start queue opsbot-queue -c "$T/opsbot.conf"
t_wait "queue socket" test -S "$T/var/run/q.ipc"
start_bot
t_start wdetect test-worker -c "$T/opsbot.conf" --kind detect
t_start wretrieve test-worker -c "$T/opsbot.conf" --kind retrieve
t_start wplan test-worker -c "$T/opsbot.conf" --kind plan --result-file "$T/plan.json"

plan_msg() { thread "$CH" "$(parent_ts "$1")" | jq -c '[.[] | select(.text | startswith("Plan proposed"))][0] // empty'; }
has_plan() { [ -n "$(plan_msg "$1")" ]; }
plan_has() { plan_msg "$1" | grep -q -- "$2"; }
plan_buttons() { plan_msg "$1" | jq -r '[.blocks[] | .elements[]? | .action_id // empty] | join(" ")'; }
no_plan_buttons() { [ -z "$(plan_buttons "$1")" ]; }
plan_ts() { plan_msg "$1" | jq -r .ts; }
click() { # user incident action_id value: a button of the incident's plan message
  fs_post /control/click "$(jq -nc --arg u "$1" --arg ts "$(plan_ts "$2")" --arg a "$3" --arg v "$4" \
    '{user:$u, channel:"C0INCIDENT", message_ts:$ts, action_id:$a, value:$v}')" >/dev/null || t_fail "click $3"
}
in_thread() { thread "$CH" "$(parent_ts "$1")" | jq -e --arg s "$2" '[.[] | select(.text | contains($s))] | length >= 1' >/dev/null; }

env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
t_wait "plan message in incident 1's thread" has_plan 1
[ "$(plan_buttons 1)" = "opsbot_approve opsbot_reject opsbot_dryrun" ] || t_fail "plan buttons: got '$(plan_buttons 1)'"
m=$(plan_msg 1)
for want in restart_service '`{\"service\":\"checkout\"}`' 'Risk: high' 'test worker step' 'checkout.md § Restart' \
  '1 of sre-leads, not the requester' 'Approved so far: 0'; do
  echo "$m" | grep -qF -- "$want" || t_fail "plan message lacks '$want': $m"
done
echo "$m" | jq -e '[.blocks[] | .elements[]? | select(.action_id == "opsbot_approve") | .confirm.title.text] | .[0] | test("high-risk")' >/dev/null \
  || t_fail "Approve has no confirm dialog: $m"
echo "$m" | jq -e '[.blocks[] | .elements[]? | .value // empty] | unique == ["1:h-test-1"]' >/dev/null || t_fail "button values: $m"

# Dry run: a dryrun job for the incident, nothing refused
click U0BOB 1 opsbot_dryrun "1:h-test-1"
t_wait "dryrun job queued" bash -c "wirecat 'ipc://$T/var/run/q.ipc' '{\"type\":\"query\",\"what\":\"jobs\",\"incident\":1}' | jq -e '[.items[] | select(.kind == \"dryrun\")] | length == 1' >/dev/null"

# Approve: recorded, tally and who in the same message, buttons off once decided
click U0BOB 1 opsbot_approve "1:h-test-1"
t_wait "approval in the thread" in_thread 1 "Plan approved by <@U0BOB>"
t_wait "tally redrawn in place" plan_has 1 'Approved so far: 1 by <@U0BOB>'
t_wait "buttons off once decided" no_plan_buttons 1
[ "$(thread "$CH" "$(parent_ts 1)" | jq '[.[] | select(.text | startswith("Plan proposed"))] | length')" = 1 ] \
  || t_fail "the plan was posted again instead of edited"

# a late click is refused by the queue, and only the clicker hears why
# (the stand-in checks clicks against the stored message, whose buttons are
# gone now: the refused click is sent as Slack would for a stale message)
fs_post /control/raw "$(jq -nc --arg ts "$(plan_ts 1)" '{envelope_id:"e-late-1", type:"interactive", accepts_response_payload:false,
  payload:{type:"block_actions", user:{id:"U0DAVE"}, channel:{id:"C0INCIDENT"}, trigger_id:"t.late",
  container:{type:"message", message_ts:$ts, channel_id:"C0INCIDENT"},
  actions:[{action_id:"opsbot_approve", value:"1:h-test-1", action_ts:"9.9", type:"button"}]}}')" >/dev/null || t_fail "late click"
t_wait "refusal to the clicker" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/ephemeral?channel=$CH' | jq -e '[.messages[] | select(.user == \"U0DAVE\" and (.text | test(\"Could not approve incident #1\")))] | length == 1' >/dev/null"
in_thread 1 "<@U0DAVE>" && t_fail "the refused click shows in the thread"

# Reject asks why: a modal; its submission rejects with the reason
env=$(slash U0ALICE $CH "declare search index lagging"); wait_acked "$env"
t_wait "plan message in incident 2's thread" has_plan 2
# (Slack's triggers live 3 s; a loaded test machine gets more, the expired
# case is checked below)
fs_post /control/config '{"trigger_ttl_ms":30000}' >/dev/null || t_fail "config"
click U0CAROL 2 opsbot_reject "2:h-test-1"
view_id() { fs_get /control/views | jq -r '[.. | objects | select(.callback_id? == "opsbot_reject") | .id][0] // empty'; }
has_view() { [ -n "$(view_id)" ]; }
t_wait "reason modal open" has_view
in_thread 2 "Plan rejected" && t_fail "rejected before the reason was given"
fs_post /control/submit "$(jq -nc --arg v "$(view_id)" '{view_id:$v, user:"U0CAROL", inputs:{reason:"too risky during the sale"}}')" >/dev/null \
  || t_fail "submit the modal"
t_wait "rejected from the modal" in_thread 2 "Plan rejected by <@U0CAROL>"
t_wait "the reason in the thread" in_thread 2 "too risky during the sale"
t_wait "incident 2 rejected" bash -c "wirecat 'ipc://$T/var/run/q.ipc' '{\"type\":\"query\",\"what\":\"incident\",\"incident\":2}' | jq -e '.incident.state == \"rejected\"' >/dev/null"
t_wait "incident 2 buttons off" no_plan_buttons 2

# When the form cannot open (the trigger expired), the click still rejects
env=$(slash U0ALICE $CH "declare payments queue backing up"); wait_acked "$env"
t_wait "plan message in incident 3's thread" has_plan 3
fs_post /control/config '{"trigger_ttl_ms":0}' >/dev/null || t_fail "config"
click U0ERIN 3 opsbot_reject "3:h-test-1"
t_wait "modal could not open, logged" grep -q 'event=slack_modal_failed incident=3' bot.log
t_wait "rejected without a form" in_thread 3 "Plan rejected by <@U0ERIN>"
echo ok
