#!/usr/bin/env bash
# approvalui_exec_discord.sh: "step N may or may not have run" answered in
# the Discord thread, with the real opsbot-exec SIGKILLed mid-step.  The
# question shows with Retry / Skip / Abort (custom_id ob:<incident>:
# step_<choice>:<step_key>); a person not in policy is refused (ephemeral,
# nothing changes); Carol's Skip becomes a ledger decide, the incident goes
# on and resolves, the thread says "carol chose Skip for step 1"; a second
# click is refused to that user only and changes nothing.
D=$(cd "$(dirname "$0")" && pwd)
. "$D/../lib.sh"
. "$D/runtime_lib.sh"
. "$D/exec_lib.sh"
. "$D/discord_env.sh"
exec_t_setup
exec_setup
trap 't_cleanup_orphans; t_cleanup' EXIT
t_cleanup_orphans() { local p; for p in $(cat "$T/runs.log.pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; }

d_fake --heartbeat-ms 5000
exec_start
d_bot
t_wait "gateway connected" d_connected

exec_plan "$T/plan.json" slow '{"name":"one"}' touch_again '{"name":"after-one"}'
exec_incident; id=$ID
thread_of() { d_get /_fake/channels | jq -r --arg p "#$1 " '[.[] | select(.type == 11 and (.name | startswith($p)))][0].id // empty'; }
has_thread() { [ -n "$(thread_of "$1")" ]; }
t_wait "incident $id's thread" has_thread "$id"
TH=$(thread_of "$id")
ctl approve "$id" --plan "$(plan_hash "$id")" >/dev/null || t_fail "approve $id"
t_wait "step 1 of $id started" eval '[ "$(runs "slow one")" -ge 1 ]'
kill -9 "$PID_exec"; wait "$PID_exec" 2>/dev/null
t_start exec opsbot-exec -c "$T/opsbot.conf"
t_wait "incident $id asks" eval '[ -n "$(ev '"$id"' action.unknown)" ]'
key=$(ev "$id" action.unknown | jq -r .step_key)

q_id() { d_msgs "$TH" | jq -r '[.[] | select(.content | contains("may or may not have run"))][0].id // empty'; }
has_q() { [ -n "$(q_id)" ]; }
t_wait "the question in the thread" has_q
QM=$(q_id)
ids=$(d_msgs "$TH" | jq -r --arg m "$QM" '.[] | select(.id == $m) | [.components[].components[].custom_id] | join(" ")')
[ "$ids" = "ob:$id:step_retry:$key ob:$id:step_skip:$key ob:$id:step_abort:$key" ] || t_fail "question buttons: '$ids'"
d_msgs "$TH" | jq -r --arg m "$QM" '.[] | select(.id == $m) | .content' | grep -q 'Step 1 (slow) may or may not have run' ||
  t_fail "question text: $(d_msgs "$TH" | jq -r --arg m "$QM" '.[] | select(.id == $m) | .content')"
click() { # USER_ID NAME CUSTOM_ID
  d_post /_fake/interactions "{\"kind\":\"button\",\"channel\":\"$TH\",\"message_id\":\"$QM\",\"custom_id\":\"$3\",\"user\":{\"id\":\"$1\",\"username\":\"$2\"}}" ||
    t_fail "click $3"
}
private() { # TEXT: ephemeral messages in the thread containing TEXT
  d_msgs "$TH" | jq --arg s "$1" '[.[] | select((.content | contains($s)) and (.flags % 128 >= 64))] | length'
}
public() { d_msgs "$TH" | jq --arg s "$1" '[.[] | select((.content | contains($s)) and (.flags % 128 < 64))] | length'; }

# Dave is in no policy: refused, to him only, nothing changes.
cl=$(click 89 dave "ob:$id:step_skip:$key")
t_wait "click acknowledged" d_answered "$(echo "$cl" | jq -r .id)" 6
t_wait "Dave is told why, privately" eval '[ "$(private "could not do that")" = 1 ]'
[ "$(state "$id")" = executing ] || t_fail "state after Dave: $(state "$id")"
[ -z "$(ev "$id" action.decided)" ] || t_fail "Dave's answer was taken: $(ev "$id" action.decided)"

# Carol answers Skip.
click 200000000000000003 carol "ob:$id:step_skip:$key" >/dev/null
t_wait "incident $id resolved after skip" eval '[ "$(state '"$id"')" = resolved ]'
[ "$(ev "$id" action.decided | jq -r '[.decision,.surface,.user]|join(",")')" = "skip,discord,200000000000000003" ] ||
  t_fail "action.decided: $(ev "$id" action.decided)"
[ "$(runs 'slow one')" = 1 ] || t_fail "the skipped step ran again"
[ "$(runs 'touch after-one')" = 1 ] || t_fail "step 2 ran $(runs 'touch after-one') times, want 1"
t_wait "the answer in the thread" eval '[ "$(public "carol chose Skip for step 1 (slow)")" = 1 ]'
# the question itself now shows the answer and has no buttons left to click
q_buttons() { d_msgs "$TH" | jq -r --arg m "$QM" '.[] | select(.id == $m) | [.components[]?.components[]?] | length'; }
t_wait "the question's buttons are gone" eval '[ "$(q_buttons)" = 0 ]'
d_msgs "$TH" | jq -r --arg m "$QM" '.[] | select(.id == $m) | .content' | grep -q 'Answered: Skip by carol' ||
  t_fail "answered question: $(d_msgs "$TH" | jq -r --arg m "$QM" '.[] | select(.id == $m) | .content')"
# Dave's refused answer is in the timeline (opsbotctl show, the PDF), not in the thread
r=$(ev "$id" approval.refused | jq -c 'select(.step_key != null)' | head -1)
[ "$(jq -r '[.decision, .surface, .user, .error, .step] | join(",")' <<<"$r")" = "skip,discord,89,forbidden,1" ] ||
  t_fail "Dave's refusal in the timeline: $r"
ctl show "$id" | grep -q "skip for step 1 (slow) by discord 89 refused (forbidden): discord 89 is not a person" ||
  t_fail "opsbotctl show lacks Dave's refusal: $(ctl show "$id" | grep -i refused)"
if command -v pdftotext >/dev/null; then
  ctl report "$id" --pdf "$T/r.pdf" >/dev/null 2>&1 || t_fail "opsbotctl report $id"
  pdftotext "$T/r.pdf" - | tr '\n' ' ' | grep -q "answer refused.*skip by discord 89" ||
    t_fail "the PDF's timeline lacks Dave's refused answer"
fi

# A second click: refused to the clicker only; nothing runs.
click 200000000000000003 carol "ob:$id:step_retry:$key" >/dev/null
t_wait "Carol is told it was already answered" eval '[ "$(private "already decided: skip")" = 1 ]'
[ "$(public "already decided")" = 0 ] || t_fail "the refusal was posted for everyone"
[ "$(ev "$id" action.decided | wc -l)" = 1 ] || t_fail "a second decision: $(ev "$id" action.decided)"
t_wait "Carol's late click is in the timeline" eval \
  '[ "$(ev "$id" approval.refused | jq -r "select(.error == \"wrong_state\") | .person")" = carol ]'

[ "$(runs 'slow one')" = 1 ] || t_fail "the retry click ran the step"
echo ok
