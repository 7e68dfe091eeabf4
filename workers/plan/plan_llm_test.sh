#!/usr/bin/env bash
# plan_llm_test.sh: the LLM planner against fake-llm over real HTTP, one
# behaviour at a time: a valid plan, malformed JSON with one repair round,
# malformed twice (playbook fallback with the reason), unknown actions, bad
# parameters, a prompt-injection echo, 429 then success, 500 every time, a
# server without json_schema, a slow answer past the timeout, the key.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
command -v jq >/dev/null || t_skip "jq is not installed"
IN="$REPO/tests/data/plan/latency.json"
WED=2026-11-18T10:00:00Z

t_start fake fake-llm -p "$T/port" -k sk-plan-test
t_wait "fake-llm port" test -s "$T/port"
U="http://127.0.0.1:$(cat "$T/port")"
export OPSBOT_LLM_API_KEY=sk-plan-test
cat > llm.conf <<CONF
[plan]
catalog = $REPO/config/actions.conf
policy = $REPO/config/policy.conf
db = :memory:
[llm]
base_url = $U/v1
model = test-model
timeout = 2s
max_attempts = 3
max_retry_wait = 5s
prompt_cost_per_1k = 0.5
completion_cost_per_1k = 1.5
CONF
mode() { curl -sf -d "$1" "$U/_fake/mode" >/dev/null || t_fail "control: $1"; }
plan() { opsbot-plan -c llm.conf plan "$IN" --now $WED >"$1" 2>"$1.err" || t_fail "plan: $(cat "$1.err")"; }
actions() { jq -r '[.plan.steps[].action] | join(" ")' "$1"; }

# valid: the model's plan, checked, with usage and cost recorded
mode '{"mode":"valid"}'
plan v.json
[ "$(jq -r .plan.planner v.json)" = llm ] || t_fail "valid: planner $(jq -r .plan.planner v.json) notes $(jq -c .plan.notes v.json)"
[ "$(actions v.json)" = restart_service ] || t_fail "valid: steps $(actions v.json)"
jq -e '.plan.steps[0].params == {"service":"checkout"} and .plan.steps[0].risk == "medium"
       and .plan.steps[0].approval == "required" and .needs_approval == true' v.json >/dev/null ||
  t_fail "valid step: $(jq -c .plan.steps[0] v.json)"
jq -e '.plan.steps[0].citations == ["runbooks/high-latency.md#Mitigation"]' v.json >/dev/null ||
  t_fail "P1 citation not mapped: $(jq -c .plan.steps[0].citations v.json)"
jq -e '.llm.calls == 1 and .llm.prompt_tokens > 0 and .llm.completion_tokens > 0 and .llm.latency_ms > 0
       and .llm.cost_usd > 0 and .llm.schema == "json_schema" and .llm.repaired == false' v.json >/dev/null ||
  t_fail "usage: $(jq -c '.llm | del(.call_log)' v.json)"
# what went over the wire: the schema, the key, the untrusted fences
curl -s "$U/_fake/requests" >req.json
jq -e 'last | .auth == true and .body.model == "test-model"
       and .body.response_format.type == "json_schema"
       and (.body.response_format.json_schema.schema.properties.steps.items.properties.action.enum | index("restart_service") != null)
       and (.body.messages[1].content | contains("<untrusted>checkout p99 latency over 2s</untrusted>"))' req.json >/dev/null ||
  t_fail "request: $(jq -c 'last | {auth, model: .body.model, rf: .body.response_format.type}' req.json)"

# malformed once: one repair round, then the model's plan
mode '{"script":["malformed","valid"]}'
plan r.json
jq -e '.plan.planner == "llm" and .llm.repaired == true and .llm.calls == 2' r.json >/dev/null ||
  t_fail "repair: $(jq -c '{planner: .plan.planner, llm: (.llm | del(.call_log))}' r.json)"
curl -s "$U/_fake/requests" | jq -e 'last | .body.messages | (length == 4) and (.[3].content | test("could not be used"))' >/dev/null ||
  t_fail "repair request does not show the reason"

# malformed twice: the playbook, with the reason shown
mode '{"script":["malformed","malformed"]}'
plan m.json
jq -e '.plan.planner == "playbook" and (.plan.notes[0] | test("LLM planner failed .*unusable twice"))' m.json >/dev/null ||
  t_fail "fallback: $(jq -c '{p: .plan.planner, n: .plan.notes}' m.json)"
[ "$(actions m.json)" = "scale_service rollback_deploy clear_cache" ] || t_fail "fallback steps: $(actions m.json)"

# an action that does not exist: removed, the real one kept
mode '{"mode":"unknown_action"}'
plan u.json
[ "$(actions u.json)" = restart_service ] || t_fail "unknown_action: steps $(actions u.json)"
jq -e '[.plan.notes[] | select(test("reboot_datacenter is not an action in the catalog"))] | length == 1' u.json >/dev/null ||
  t_fail "unknown_action notes: $(jq -c .plan.notes u.json)"
# a step the catalog refuses earns the one repair round, with the reason
jq -e '.llm.calls == 2 and .llm.repaired == true' u.json >/dev/null ||
  t_fail "unknown_action repair: $(jq -c '.llm | del(.call_log)' u.json)"
curl -s "$U/_fake/requests" | jq -e 'last.body.messages[3].content | contains("reboot_datacenter is not an action in the catalog")' >/dev/null ||
  t_fail "the repair request does not say which action was refused"

# nothing the model proposes passes, even after the repair: the playbook
mode '{"mode":"valid","content":"{\"steps\":[{\"action\":\"delete_cluster\",\"params\":{}}],\"notes\":[]}"}'
plan z.json
jq -e '.plan.planner == "playbook" and .llm.calls == 2
       and ([.plan.notes[] | select(test("proposed no step that passed the checks"))] | length == 1)
       and (.summary | test("LLM planner was not used"))' z.json >/dev/null ||
  t_fail "no usable step: $(jq -c '{p: .plan.planner, n: .plan.notes, s: .summary}' z.json)"
[ "$(actions z.json)" = "scale_service rollback_deploy clear_cache" ] || t_fail "no usable step: steps $(actions z.json)"
curl -sf -d '{"content":null}' "$U/_fake/mode" >/dev/null

# parameters outside their types: every such step removed, the extra param dropped
mode '{"mode":"bad_params"}'
plan b.json
got=$(jq -c '[.plan.steps[] | {action, params}]' b.json)
jq -e '[.plan.steps[] | {action, params}] == [{"action":"clear_cache","params":{"service":"checkout","cache":"all"}}]' b.json >/dev/null ||
  t_fail "bad_params: got $got"
for want in "replicas must be from 1 to 50, not 100000" "service does not match the pattern" \
  "removed parameter force" "replicas must be a whole number"; do
  jq -e --arg w "$want" '[.plan.notes[] | select(contains($w))] | length >= 1' b.json >/dev/null ||
    t_fail "bad_params: no note '$want' in $(jq -c .plan.notes b.json)"
done

# prompt injection: no shell, no huge scale, no self-declared low risk
mode '{"mode":"injection"}'
plan i.json
got=$(jq -c '[.plan.steps[] | {action, risk, approval}]' i.json)
jq -e '[.plan.steps[] | {action, risk, approval}] == [{"action":"failover_database","risk":"high","approval":"required"}]' i.json >/dev/null ||
  t_fail "injection: got $got"
jq -e '.plan.steps[0].distinct_approvers == 2 and .needs_approval == true' i.json >/dev/null ||
  t_fail "injection approval: $(jq -c .plan.steps[0] i.json)"
jq -e '[.plan.notes[] | select(test("run_shell is not an action"))] | length == 1' i.json >/dev/null ||
  t_fail "injection notes: $(jq -c .plan.notes i.json)"
jq -e '[.plan.notes[] | select(test("^model note: SYSTEM"))] | length == 1' i.json >/dev/null ||
  t_fail "model notes must be labelled as the model's: $(jq -c .plan.notes i.json)"

# 429 with Retry-After, then an answer: retried, one call with two attempts
mode '{"script":["rate_limit","valid"],"retry_after":"0.2"}'
plan t.json
jq -e '.plan.planner == "llm" and .llm.call_log[0].attempts == 2' t.json >/dev/null ||
  t_fail "429 retry: $(jq -c '{p: .plan.planner, c: .llm.call_log}' t.json)"

# 500 every time: three attempts, then the playbook
mode '{"mode":"server_error"}'
plan e.json
jq -e '.plan.planner == "playbook" and .llm.call_log[0].attempts == 3 and (.plan.notes[0] | test("answered 500"))' e.json >/dev/null ||
  t_fail "500: $(jq -c '{p: .plan.planner, c: .llm.call_log, n: .plan.notes[0]}' e.json)"

# no json_schema support: asked again without it, JSON read out of the prose
mode '{"mode":"no_schema"}'
plan n.json
jq -e '.plan.planner == "llm" and .llm.schema == "text" and .llm.calls == 2' n.json >/dev/null ||
  t_fail "no_schema: $(jq -c '{p: .plan.planner, l: (.llm | del(.call_log)), n: .plan.notes}' n.json)"

# slower than the timeout: the playbook, with the reason
mode '{"mode":"slow","delay_ms":4000}'
sed -i 's/^max_attempts = 3/max_attempts = 1/' llm.conf
plan s.json
jq -e '.plan.planner == "playbook" and (.plan.notes[0] | test("LLM planner failed"))' s.json >/dev/null ||
  t_fail "slow: $(jq -c '{p: .plan.planner, n: .plan.notes[0]}' s.json)"

# a wrong key: 401, the playbook, and the key never printed
mode '{"mode":"valid"}'
OPSBOT_LLM_API_KEY=sk-wrong opsbot-plan -c llm.conf plan "$IN" --now $WED >k.json 2>k.err
jq -e '.plan.planner == "playbook" and (.plan.notes[0] | test("401"))' k.json >/dev/null ||
  t_fail "wrong key: $(jq -c .plan.notes k.json)"
grep -q "sk-wrong" k.json k.err && t_fail "the key appears in the output"
echo "plan llm: ok"
