#!/usr/bin/env bash
# approvalui_exec_slack.sh: "step N may or may not have run" answered in the
# Slack thread, with the real opsbot-exec.  The executor is SIGKILLed in the
# middle of a step that is not idempotent; the queue asks (action.unknown)
# and the thread shows the question with Retry / Skip / Abort.  A person not
# in policy is refused (to them only, nothing changes); Bob's Skip becomes a
# ledger decide, the incident goes on and resolves, the thread says "Skip
# chosen", the question loses its buttons; a second click is refused to
# that user only and changes nothing.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
. "$D/runtime_lib.sh"
. "$D/exec_lib.sh"
. "$D/slack_lib.sh"
exec_t_setup
exec_setup
trap 't_cleanup_orphans; t_cleanup' EXIT
t_cleanup_orphans() { local p; for p in $(cat "$T/runs.log.pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; }

t_start fake-slack fake-slack --port-file "$T/var/run/fs.port" --post-rate 0
t_wait "fake-slack port" test -s "$T/var/run/fs.port"
FS_PORT=$(cat "$T/var/run/fs.port")
cat >> "$T/opsbot.conf" <<CONF
[bot]
state = $T/var/bot.db
catchup_interval = 1s
[http]
listen = 127.0.0.1:0
port_file = $T/var/run/bot.port
[slack]
api_url = http://127.0.0.1:$FS_PORT/api/
channel = $CH
templates = $SRC/templates/slack
channel_rate = 0
CONF
exec_start
start_bot

exec_plan "$T/plan.json" slow '{"name":"one"}' touch_again '{"name":"after-one"}'
exec_incident; id=$ID
t_wait "incident $id's parent message" has_parent "$id"
ctl approve "$id" --plan "$(plan_hash "$id")" >/dev/null || t_fail "approve $id"
t_wait "step 1 of $id started" eval '[ "$(runs "slow one")" -ge 1 ]'
kill -9 "$PID_exec"; wait "$PID_exec" 2>/dev/null
t_start exec opsbot-exec -c "$T/opsbot.conf"
t_wait "incident $id asks" eval '[ -n "$(ev '"$id"' action.unknown)" ]'
key=$(ev "$id" action.unknown | jq -r .step_key)

q_msg() { thread "$CH" "$(parent_ts "$id")" | jq -c '[.[] | select(.text | contains("may or may not have run"))][0] // empty'; }
has_q() { [ -n "$(q_msg)" ]; }
q_buttons() { q_msg | jq -r '[.blocks[] | .elements[]? | .action_id // empty] | join(" ")'; }
in_thread() { thread "$CH" "$(parent_ts "$id")" | jq -e --arg s "$1" '[.[] | select(.text | contains($s))] | length >= 1' >/dev/null; }
told() { # USER REGEX: ephemeral messages to USER matching REGEX
  fs_get "/control/ephemeral?channel=$CH" | jq --arg u "$1" --arg r "$2" '[.messages[] | select(.user == $u and (.text | test($r)))] | length'
}
click() { # USER ACTION_ID: press a button of the question message
  fs_post /control/click "$(jq -nc --arg u "$1" --arg ts "$(q_msg | jq -r .ts)" --arg a "$2" \
    '{user:$u, channel:"C0INCIDENT", message_ts:$ts, action_id:$a}')" >/dev/null || t_fail "click $2 by $1"
}

t_wait "the question in incident $id's thread" has_q
[ "$(q_buttons)" = "opsbot_step_retry opsbot_step_skip opsbot_step_abort" ] || t_fail "question buttons: got '$(q_buttons)'"
q_msg | jq -e --arg v "$id:$key" '[.blocks[] | .elements[]? | .value // empty] | unique == [$v]' >/dev/null ||
  t_fail "button values: $(q_msg)"
q_msg | grep -q 'Step 1 (slow) may or may not have run' || t_fail "question text: $(q_msg | jq -r .text)"
q_msg | jq -e '[.blocks[] | .elements[]? | select(.action_id == "opsbot_step_abort") | .confirm] | length == 1' >/dev/null ||
  t_fail "Abort has no confirm dialog"

# Dave is in no policy: refused, to Dave only, nothing changes.
click U0DAVE opsbot_step_skip
t_wait "Dave is told why" eval '[ "$(told U0DAVE "Your answer for incident #'"$id"' was not taken")" = 1 ]'
[ "$(state "$id")" = executing ] || t_fail "state after Dave: $(state "$id")"
[ "$(ctl --json show "$id" | jq -r .incident.job.state)" = held ] || t_fail "job after Dave: $(ctl --json show "$id" | jq -c .incident.job)"
[ -z "$(ev "$id" action.decided)" ] || t_fail "Dave's answer was taken: $(ev "$id" action.decided)"
[ "$(runs 'slow one')" = 1 ] || t_fail "step 1 ran again"

# Bob answers Skip: the incident goes on with step 2 and resolves.
click U0BOB opsbot_step_skip
t_wait "incident $id resolved after skip" eval '[ "$(state '"$id"')" = resolved ]'
[ "$(ev "$id" action.decided | jq -r '[.decision,.surface,.user]|join(",")')" = "skip,slack,U0BOB" ] ||
  t_fail "action.decided: $(ev "$id" action.decided)"
[ "$(runs 'slow one')" = 1 ] || t_fail "the skipped step ran again: $(runs 'slow one')"
[ "$(runs 'touch after-one')" = 1 ] || t_fail "step 2 ran $(runs 'touch after-one') times, want 1"
t_wait "the answer in the thread" in_thread "Step 1 (slow): Skip chosen by <@U0BOB>"
t_wait "the question loses its buttons" eval '[ -z "$(q_buttons)" ]'
q_msg | grep -q 'Answered: Skip by bob' || t_fail "answered question: $(q_msg | jq -r .text)"
[ "$(told U0BOB .)" = 0 ] || t_fail "Bob was told something: $(fs_get "/control/ephemeral?channel=$CH")"

# A second click (a stale client still shows the buttons): refused to Bob only.
fs_post /control/raw "$(jq -nc --arg ts "$(q_msg | jq -r .ts)" --arg th "$(parent_ts "$id")" --arg v "$id:$key" \
  '{envelope_id:"e-again-1", type:"interactive", accepts_response_payload:false,
    payload:{type:"block_actions", user:{id:"U0BOB"}, channel:{id:"C0INCIDENT"}, trigger_id:"t.again",
    container:{type:"message", message_ts:$ts, channel_id:"C0INCIDENT", thread_ts:$th},
    actions:[{action_id:"opsbot_step_retry", value:$v, action_ts:"9.9", type:"button"}]}}')" >/dev/null ||
  t_fail "second click"
t_wait "Bob is told it was already answered" eval '[ "$(told U0BOB "already decided: skip")" = 1 ]'
[ "$(ev "$id" action.decided | wc -l)" = 1 ] || t_fail "a second decision: $(ev "$id" action.decided)"
[ "$(runs 'slow one')" = 1 ] || t_fail "the retry click ran the step"
[ "$(fs_get "/control/ephemeral?channel=$CH" | jq '[.messages[] | select(.user != "U0BOB" and .user != "U0DAVE")] | length')" = 0 ] ||
  t_fail "someone else was told: $(fs_get "/control/ephemeral?channel=$CH")"
in_thread "already decided" && t_fail "the refusal shows in the thread"
# A step this incident does not have (a crafted value): not_found, to Bob only.
fs_post /control/raw "$(jq -nc --arg ts "$(q_msg | jq -r .ts)" --arg v "$id:999/1/1" \
  '{envelope_id:"e-nostep-1", type:"interactive", accepts_response_payload:false,
    payload:{type:"block_actions", user:{id:"U0BOB"}, channel:{id:"C0INCIDENT"}, trigger_id:"t.nostep",
    container:{type:"message", message_ts:$ts, channel_id:"C0INCIDENT"},
    actions:[{action_id:"opsbot_step_abort", value:$v, action_ts:"9.8", type:"button"}]}}')" >/dev/null ||
  t_fail "click on a missing step"
t_wait "Bob is told there is no such step" eval '[ "$(told U0BOB "has no ledger step 999/1/1")" = 1 ]'
[ "$(state "$id")" = resolved ] || t_fail "state after a missing step: $(state "$id")"
echo ok
