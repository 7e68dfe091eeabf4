#!/usr/bin/env bash
# approvalui_slack.sh: a click carries the incident of the message it was
# on.  Two incidents await approval; an Approve button naming incident 2,
# delivered on incident 1's plan message (a crafted block_actions, as a
# hostile or confused client could send), is refused by the queue as
# wrong_incident: the reason goes to the clicker only (ephemeral), the
# refusal is recorded (approval.refused), nothing changes and nothing shows
# in either thread.  The same button on incident 2's own message approves,
# so the refusal came from the message, not from the person.  A Reject
# carries the message too (through the reason modal's metadata, or without
# the form when it cannot open).  Test workers stand in for detect,
# retrieve and plan.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
cat > "$T/plan.json" <<'JSON'
{"plan":{"id":"p1","hash":"h-test-1","planner":"test-worker",
 "steps":[{"action":"restart_service","params":{"service":"checkout"},"risk":"medium",
 "rationale":"test worker step","citations":[],"approval":"required"}],"notes":[]},
 "needs_approval":true,"summary":"test worker plan: restart checkout"}
JSON
cat > "$T/policy.conf" <<'CONF'
[policy]
auto_risk = low
approvers = ops
[person bob]
slack = U0BOB
[group ops]
members = bob
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

Q="ipc://$T/var/run/q.ipc"
plan_msg() { thread "$CH" "$(parent_ts "$1")" | jq -c '[.[] | select(.text | startswith("Plan proposed"))][0] // empty'; }
has_plan() { [ -n "$(plan_msg "$1")" ]; }
plan_ts() { plan_msg "$1" | jq -r .ts; }
inc_state() { wirecat "$Q" "{\"type\":\"query\",\"what\":\"incident\",\"incident\":$1}" | jq -r .incident.state; }
events() { wirecat "$Q" "{\"type\":\"query\",\"what\":\"timeline\",\"incident\":$1}" | jq -c --arg n "$2" '[.items[] | select(.name == $n) | .data]'; }
ephemerals() { fs_get "/control/ephemeral?channel=$CH" | jq -c --arg u "$1" '[.messages[] | select(.user == $u) | .text]'; }
# raw_click ENVELOPE USER MESSAGE_TS THREAD_TS VALUE: block_actions as Slack sends it
raw_click() {
  fs_post /control/raw "$(jq -nc --arg e "$1" --arg u "$2" --arg ts "$3" --arg th "$4" --arg v "$5" --arg c "$CH" \
    '{envelope_id:$e, type:"interactive", accepts_response_payload:false,
      payload:{type:"block_actions", user:{id:$u}, channel:{id:$c}, trigger_id:("t." + $e),
      container:{type:"message", message_ts:$ts, channel_id:$c, thread_ts:$th},
      message:{type:"message", ts:$ts, thread_ts:$th},
      actions:[{action_id:"opsbot_approve", value:$v, action_ts:($e + ".1"), type:"button"}]}}')" >/dev/null ||
    t_fail "raw click $1"
}

env=$(slash U0ALICE $CH "declare checkout p99 latency over 2s"); wait_acked "$env"
t_wait "plan of incident 1" has_plan 1
env=$(slash U0ALICE $CH "declare search index lagging"); wait_acked "$env"
t_wait "plan of incident 2" has_plan 2
[ "$(inc_state 2)" = awaiting_approval ] || t_fail "incident 2: $(inc_state 2)"
n1=$(thread_len "$(parent_ts 1)"); n2=$(thread_len "$(parent_ts 2)")

# 1. Incident 2's Approve, pressed on incident 1's plan message (in incident 1's thread).
raw_click e-cross-1 U0BOB "$(plan_ts 1)" "$(parent_ts 1)" "2:h-test-1"
t_wait "refusal recorded" bash -c "[ \"\$(wirecat '$Q' '{\"type\":\"query\",\"what\":\"timeline\",\"incident\":2}' | jq '[.items[] | select(.name == \"approval.refused\" and .data.error == \"wrong_incident\")] | length')\" = 1 ]"
t_wait "reason to the clicker" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/ephemeral?channel=$CH' | jq -e '[.messages[] | select(.user == \"U0BOB\" and (.text | test(\"Could not approve incident #2: that button belongs to incident 2 but was pressed on the message of incident 1\")))] | length == 1' >/dev/null"
grep -q 'event=slack_click incident=2 action=approve user="\?U0BOB' bot.log || t_fail "click not logged"
[ "$(inc_state 2)" = awaiting_approval ] || t_fail "incident 2 changed: $(inc_state 2)"
[ "$(events 2 approval.recorded)" = "[]" ] || t_fail "an approval was recorded: $(events 2 approval.recorded)"
[ "$(fs_get "/control/ephemeral?channel=$CH" | jq '[.messages[] | select(.user != "U0BOB" and (.text | test("Could not")))] | length')" = 0 ] ||
  t_fail "someone else was told: $(fs_get "/control/ephemeral?channel=$CH")"

# 2. The same, pressed on incident 1's parent message (message ts = thread root).
raw_click e-cross-2 U0BOB "$(parent_ts 1)" "" "2:h-test-1"
t_wait "second refusal recorded" bash -c "[ \"\$(wirecat '$Q' '{\"type\":\"query\",\"what\":\"timeline\",\"incident\":2}' | jq '[.items[] | select(.name == \"approval.refused\" and .data.error == \"wrong_incident\")] | length')\" = 2 ]"
[ "$(inc_state 2)" = awaiting_approval ] || t_fail "incident 2 changed: $(inc_state 2)"

# 2b. Incident 2's Reject on incident 1's plan message.  Its trigger is not
# one Slack issued, so the reason form cannot open and the click counts as
# a reject without a reason: still carrying the message, still refused.
fs_post /control/raw "$(jq -nc --arg ts "$(plan_ts 1)" --arg th "$(parent_ts 1)" --arg c "$CH" \
  '{envelope_id:"e-cross-rej", type:"interactive", accepts_response_payload:false,
    payload:{type:"block_actions", user:{id:"U0BOB"}, channel:{id:$c}, trigger_id:"t.cross-rej",
    container:{type:"message", message_ts:$ts, channel_id:$c, thread_ts:$th},
    actions:[{action_id:"opsbot_reject", value:"2:h-test-1", action_ts:"7.7", type:"button"}]}}')" >/dev/null ||
  t_fail "raw reject"
t_wait "the form could not open" grep -q 'event=slack_modal_failed incident=2' bot.log
t_wait "the reject is refused too" bash -c "[ \"\$(wirecat '$Q' '{\"type\":\"query\",\"what\":\"timeline\",\"incident\":2}' | jq '[.items[] | select(.name == \"approval.refused\" and .data.error == \"wrong_incident\" and .data.decision == \"reject\")] | length')\" = 1 ]"
[ "$(inc_state 2)" = awaiting_approval ] || t_fail "incident 2 changed by the reject: $(inc_state 2)"

# 3. A message opsbot does not know: nothing is claimed, the queue judges as before.
raw_click e-unknown-3 U0BOB "1.000001" "" "2:h-test-1"
t_wait "approved from an unknown message" bash -c "[ \"\$(wirecat '$Q' '{\"type\":\"query\",\"what\":\"incident\",\"incident\":2}' | jq -r .incident.state)\" != awaiting_approval ]"
[ "$(events 2 approval.recorded | jq length)" = 1 ] || t_fail "approval: $(events 2 approval.recorded)"

# 4. Incident 1's own button on its own message approves it (the same person).
raw_click e-own-4 U0BOB "$(plan_ts 1)" "$(parent_ts 1)" "1:h-test-1"
t_wait "incident 1 approved on its own message" bash -c "[ \"\$(wirecat '$Q' '{\"type\":\"query\",\"what\":\"incident\",\"incident\":1}' | jq -r .incident.state)\" != awaiting_approval ]"
[ "$(events 1 approval.refused)" = "[]" ] || t_fail "incident 1 refused: $(events 1 approval.refused)"
# the refusals never showed in a thread
thread "$CH" "$(parent_ts 1)" | jq -e '[.[] | select(.text | test("refused|belongs to"))] | length == 0' >/dev/null ||
  t_fail "a refusal shows in incident 1's thread"
thread "$CH" "$(parent_ts 2)" | jq -e '[.[] | select(.text | test("refused|belongs to"))] | length == 0' >/dev/null ||
  t_fail "a refusal shows in incident 2's thread"
: "$n1" "$n2"
# 5. The reason form remembers the message it came from: a Reject on incident
# 3's own message opens a modal whose metadata names incident 3's message,
# and its submission rejects incident 3.
env=$(slash U0ALICE $CH "declare payments queue backing up"); wait_acked "$env"
t_wait "plan of incident 3" has_plan 3
fs_post /control/config '{"trigger_ttl_ms":30000}' >/dev/null || t_fail "config"
fs_post /control/click "$(jq -nc --arg ts "$(plan_ts 3)" '{user:"U0BOB", channel:"C0INCIDENT", message_ts:$ts, action_id:"opsbot_reject"}')" >/dev/null ||
  t_fail "click reject 3"
view_id() { fs_get /control/views | jq -r '[.. | objects | select(.callback_id? == "opsbot_reject") | .id][0] // empty'; }
has_view() { [ -n "$(view_id)" ]; }
t_wait "reason modal open" has_view
meta=$(fs_get /control/views | jq -r '[.. | objects | select(.callback_id? == "opsbot_reject") | .private_metadata][0]')
[ "$meta" = "3:h-test-1:$CH:3" ] || t_fail "modal metadata: got '$meta', want 3:h-test-1:$CH:3"
fs_post /control/submit "$(jq -nc --arg v "$(view_id)" '{view_id:$v, user:"U0BOB", inputs:{reason:"not now"}}')" >/dev/null ||
  t_fail "submit the modal"
t_wait "incident 3 rejected" bash -c "[ \"\$(wirecat '$Q' '{\"type\":\"query\",\"what\":\"incident\",\"incident\":3}' | jq -r .incident.state)\" = rejected ]"
echo ok
