#!/usr/bin/env bash
# plan_queue_test.sh: incidents planned end to end through the real queue.
# opsbot-queue + test workers standing in for detect, retrieve, execute and
# verify (their results are fixtures) + opsbot-plan.  First with the
# playbook planner: the plan lands on the incident, approval is asked,
# the approved plan runs and verifies, and opsbot-plan learns that from the
# event log (the next plan honours the cooldown).  Then with the LLM
# planner against fake-llm, and with a model that only answers 500.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
command -v jq >/dev/null || t_skip "jq is not installed"
for b in opsbot-queue opsbotctl test-worker; do
  command -v $b >/dev/null || t_skip "$b is not built"
done
QURL="ipc://$T/var/run/q.ipc"

jq '.detect' "$REPO/tests/data/plan/latency.json" >detect.json
jq '.retrieve' "$REPO/tests/data/plan/latency.json" >retrieve.json
echo '{"steps":[{"action":"scale_service","ok":true,"output":"scaled"}],"summary":"fixture: scaled"}' >execute.json
echo '{"ok":true,"summary":"fixture: healthy"}' >verify.json

base_conf() {
  cat <<CONF
[queue]
listen = $QURL
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
[pipeline]
stages = detect retrieve plan execute verify
approval_expiry = 5m
[test-worker]
lease = 2s
claim_wait = 200ms
[plan]
catalog = $REPO/config/actions.conf
policy = $REPO/config/policy.conf
db = $T/var/plan.db
learn_interval = 200ms
claim_wait = 200ms
CONF
}
base_conf >opsbot.conf
ctl() { opsbotctl -c opsbot.conf "$@"; }
state() { ctl --json show "$1" | jq -r .incident.state; }
plan_of() { ctl --json show "$1" | jq '.incident.results.plan'; }

t_start queue opsbot-queue -c opsbot.conf
t_wait "the queue answers" ctl incidents
for k in detect retrieve execute verify; do
  t_start "tw-$k" test-worker -c opsbot.conf --kind $k --result-file "$T/$k.json"
done
t_start plan opsbot-plan -c opsbot.conf

# --- playbook planner
ctl submit --service checkout --title "checkout p99 latency over 2s" --severity high \
  --summary "p99 above 2s for 10 minutes" >s1.out || t_fail "submit: $(cat s1.out)"
id=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' s1.out)
t_wait "incident $id awaiting approval" eval '[ "$(state '"$id"')" = awaiting_approval ]'
plan_of "$id" >p1.json
jq -e '.plan.planner == "playbook" and .needs_approval == true and .plan.signature == "checkout/latency"' p1.json >/dev/null ||
  t_fail "plan 1: $(jq -c '.plan | {planner, signature}' p1.json)"
[ "$(jq -r '[.plan.steps[].action] | join(" ")' p1.json)" = "scale_service rollback_deploy clear_cache" ] ||
  t_fail "plan 1 steps: $(jq -c '[.plan.steps[].action]' p1.json)"
ctl show "$id" >show1.out
grep -q "Plan (playbook): 1. scale_service checkout" show1.out || t_fail "summary not on the timeline: $(cat show1.out)"
ctl events --since 0 | grep -q "plan.proposed" || t_fail "no plan.proposed event"

# approve with the hash the plan carries; execute and verify run (fixtures)
hash=$(jq -r .plan.hash p1.json)
# (config/policy.conf: rollback_deploy is high risk, two sre-leads approve)
ctl approve "$id" --plan "$hash" --as slack:U0ALICE >appr.out 2>&1 || t_fail "approve: $(cat appr.out)"
ctl approve "$id" --plan "$hash" --as slack:U0BOB >appr.out 2>&1 || t_fail "approve: $(cat appr.out)"
t_wait "incident $id resolved" eval '[ "$(state '"$id"')" = resolved ]'

# opsbot-plan learned from the events: scale_service on checkout just ran
t_wait "the run is learned" eval \
  "sqlite3 '$T/var/plan.db' \"select count(*) from runs where action='scale_service' and target='service=checkout'\" | grep -qx 1"
t_wait "the outcome is learned" eval \
  "sqlite3 '$T/var/plan.db' \"select runs||'/'||wins from arms where signature='checkout/latency' and action='scale_service'\" | grep -qx 1/1"

ctl submit --service checkout --title "checkout p99 latency over 2s again" --severity high >s2.out
id2=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' s2.out)
t_wait "incident $id2 awaiting approval" eval '[ "$(state '"$id2"')" = awaiting_approval ]'
plan_of "$id2" >p2.json
jq -e '[.plan.steps[].action] | index("scale_service") == null' p2.json >/dev/null ||
  t_fail "cooldown ignored: $(jq -c '[.plan.steps[].action]' p2.json)"
jq -e '[.plan.notes[] | select(test("scale_service ran on service=checkout"))] | length == 1' p2.json >/dev/null ||
  t_fail "cooldown note: $(jq -c .plan.notes p2.json)"
ctl reject "$id2" --plan "$(jq -r .plan.hash p2.json)" --as slack:U0BOB >/dev/null || t_fail "reject $id2"

# --- LLM planner: the same worker binary, configured with [llm]
kill -TERM "$PID_plan"
t_wait "opsbot-plan stopped" eval '! kill -0 '"$PID_plan"' 2>/dev/null'
t_start fake fake-llm -p "$T/port"
t_wait "fake-llm port" test -s "$T/port"
U="http://127.0.0.1:$(cat "$T/port")"
{ base_conf; printf '[llm]\nbase_url = %s/v1\nmodel = test-model\ntimeout = 3s\nmax_attempts = 2\n' "$U"; } >opsbot.conf
t_start plan2 opsbot-plan -c opsbot.conf

ctl submit --service payments --title "payments errors after release" --severity critical >s3.out
id3=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' s3.out)
t_wait "incident $id3 awaiting approval" eval '[ "$(state '"$id3"')" = awaiting_approval ]'
plan_of "$id3" >p3.json
jq -e '.plan.planner == "llm" and .plan.steps[0].action == "restart_service"
       and .plan.steps[0].params.service == "payments" and .llm.calls == 1' p3.json >/dev/null ||
  t_fail "llm plan: $(jq -c '{p: .plan.planner, s: .plan.steps, n: .plan.notes}' p3.json)"
curl -s "$U/_fake/requests" | jq -e 'last.body.messages[1].content | contains("<untrusted>payments errors after release</untrusted>")' >/dev/null ||
  t_fail "the incident did not reach the model as untrusted text"
curl -s "$U/_fake/requests" | jq -e 'last.body.messages[1].content | contains("- incident.stage: <untrusted>retrieve finished</untrusted>")' >/dev/null ||
  t_fail "the incident's timeline did not reach the model: $(curl -s "$U/_fake/requests" | jq -r 'last.body.messages[1].content' | tail -5)"

# a model that fails every time: the incident still gets a plan, from the playbook
curl -sf -d '{"mode":"server_error"}' "$U/_fake/mode" >/dev/null
ctl submit --service checkout --title "checkout latency" --severity high >s4.out
id4=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' s4.out)
t_wait "incident $id4 awaiting approval" eval '[ "$(state '"$id4"')" = awaiting_approval ]'
plan_of "$id4" >p4.json
jq -e '.plan.planner == "playbook" and (.plan.notes[0] | test("LLM planner failed"))' p4.json >/dev/null ||
  t_fail "fallback through the queue: $(jq -c '{p: .plan.planner, n: .plan.notes}' p4.json)"
# SIGHUP: a broken config is refused and the old one kept; a good one applies
{ base_conf; echo "fallback = reboot_everything"; printf '[llm]\nbase_url = %s/v1\nmodel = test-model\n' "$U"; } >opsbot.conf
kill -HUP "$PID_plan2"
t_wait "bad reload refused" grep -q "event=reload_failed.*fallback reboot_everything is not in the catalog" plan2.log
{ base_conf; echo "planner = playbook"; printf '[llm]\nbase_url = %s/v1\nmodel = test-model\n' "$U"; } >opsbot.conf
curl -sf -d '{"mode":"valid"}' "$U/_fake/mode" >/dev/null
kill -HUP "$PID_plan2"
t_wait "good reload applied" grep -q "event=reloaded" plan2.log
ctl submit --service checkout --title "checkout latency" --severity high >s5.out
id5=$(sed -n 's/^incident \([0-9]*\) opened.*/\1/p' s5.out)
t_wait "incident $id5 awaiting approval" eval '[ "$(state '"$id5"')" = awaiting_approval ]'
plan_of "$id5" | jq -e '.plan.planner == "playbook" and (.llm == null)' >/dev/null ||
  t_fail "after reload to planner = playbook: $(plan_of "$id5" | jq -c '{p: .plan.planner}')"
echo "plan queue: ok"
