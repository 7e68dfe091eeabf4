#!/usr/bin/env bash
# plan_cli_test.sh: opsbot-plan's offline planner through its command line:
# config/catalog/policy errors name file:line, the playbook plan's shape,
# freezes by the clock, cooldowns from recorded runs, and the bandit.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
command -v jq >/dev/null || t_skip "jq is not installed"
IN="$REPO/tests/data/plan/latency.json"
WED=2026-11-18T10:00:00Z
FRI=2026-11-20T16:00:00Z

conf() { # conf NAME [EXTRA [plan] LINES]
  cat > "$T/$1.conf" <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
[plan]
catalog = ${CATALOG:-$REPO/config/actions.conf}
policy = ${POLICY:-$REPO/config/policy.conf}
db = $T/var/$1.db
${2:-}
CONF
}
plan() { opsbot-plan -c "$T/$1.conf" plan "$IN" --now "$2"; }

# --- errors name the file and line
conf ok
opsbot-plan -c "$T/ok.conf" check >out 2>&1 || t_fail "check on the shipped files: $(cat out)"
cp "$REPO/config/actions.conf" bad-actions.conf
sed -i 's/^param = replicas default=6 int 1..50$/param = replicas default=60 int 1..50/' bad-actions.conf
line=$(grep -n 'default=60' bad-actions.conf | cut -d: -f1)
CATALOG=$T/bad-actions.conf conf badcat
opsbot-plan -c "$T/badcat.conf" check >out 2>&1 && t_fail "bad default accepted"
grep -q "bad-actions.conf:$line: default of replicas" out || t_fail "catalog error: got '$(cat out)' want bad-actions.conf:$line"
cp "$REPO/config/policy.conf" bad-policy.conf
sed -i 's/^members = alice, bob, carol$/members = alice, mallory/' bad-policy.conf
line=$(grep -n 'mallory' bad-policy.conf | cut -d: -f1)
POLICY=$T/bad-policy.conf conf badpol
opsbot-plan -c "$T/badpol.conf" check >out 2>&1 && t_fail "unknown group member accepted"
grep -q "bad-policy.conf:$line: member \"mallory\" is not a \[person\]" out ||
  t_fail "policy error: got '$(cat out)' want bad-policy.conf:$line"
conf typo "planer = llm"
opsbot-plan -c "$T/typo.conf" check >out 2>&1 && t_fail "typo in [plan] accepted"
grep -q "typo.conf:7: unknown key \"planer\" in \[plan\]" out || t_fail "typo: got '$(cat out)'"
conf nofallback "fallback = reboot"
opsbot-plan -c "$T/nofallback.conf" check >out 2>&1 && t_fail "unknown fallback accepted"
grep -q "fallback reboot is not in the catalog" out || t_fail "fallback: got '$(cat out)'"

{ conf nomodel; printf '[llm]\nbase_url = http://127.0.0.1:9/v1\n' >>"$T/nomodel.conf"; }
opsbot-plan -c "$T/nomodel.conf" check >out 2>&1 && t_fail "[llm] without a model accepted"
grep -q "nomodel.conf:9: base_url: needs a model too" out || t_fail "no model: got '$(cat out)'"
{ conf scheme; printf '[llm]\nbase_url = ftp://x/v1\nmodel = m\n' >>"$T/scheme.conf"; }
opsbot-plan -c "$T/scheme.conf" check >out 2>&1 && t_fail "ftp base_url accepted"
grep -q "scheme.conf:9: base_url: must start with http:// or https://" out || t_fail "scheme: got '$(cat out)'"
{ conf llmtypo; printf '[llm]\nbase_url = http://x/v1\nmodel = m\ntemprature = 0\n' >>"$T/llmtypo.conf"; }
opsbot-plan -c "$T/llmtypo.conf" check >out 2>&1 && t_fail "typo in [llm] accepted"
grep -q "llmtypo.conf:11: unknown key \"temprature\" in \[llm\]" out || t_fail "llm typo: got '$(cat out)'"

# --- the playbook plan on a Wednesday
plan ok $WED >p.json || t_fail "plan failed"
jq -e '.plan.planner == "playbook" and .plan.signature == "checkout/latency" and .needs_approval == true' p.json >/dev/null ||
  t_fail "plan header: $(jq -c '.plan | {planner, signature}' p.json)"
got=$(jq -r '[.plan.steps[] | "\(.action):\(.risk):\(.approval)"] | join(" ")' p.json)
want="scale_service:medium:required rollback_deploy:high:required clear_cache:low:auto"
[ "$got" = "$want" ] || t_fail "steps: got '$got' want '$want'"
jq -e '.plan.hash | test("^[0-9a-f]{32}$")' p.json >/dev/null || t_fail "hash: $(jq .plan.hash p.json)"
jq -e '.plan.steps[0].citations == ["runbooks/high-latency.md#Mitigation"]' p.json >/dev/null ||
  t_fail "citations: $(jq -c .plan.steps[0].citations p.json)"
h1=$(jq -r .plan.hash p.json)
plan ok $WED | jq -r .plan.hash >h2
[ "$h1" = "$(cat h2)" ] || t_fail "same input, different hash: $h1 vs $(cat h2)"

# --- Friday afternoon in Berlin: medium and high risk steps are frozen
plan ok $FRI >f.json
got=$(jq -r '[.plan.steps[].action] | join(" ")' f.json)
[ "$got" = "clear_cache" ] || t_fail "freeze: steps got '$got' want 'clear_cache'"
jq -e '[.plan.notes[] | select(test("change freeze friday-afternoon"))] | length == 2' f.json >/dev/null ||
  t_fail "freeze notes: $(jq -c .plan.notes f.json)"
jq -e '.needs_approval == false' f.json >/dev/null || t_fail "only an auto step left, yet needs_approval"
[ "$(jq -r .plan.hash f.json)" != "$h1" ] || t_fail "a different plan kept the same hash"

# --- a run five minutes ago puts scale_service on cooldown for checkout
opsbot-plan -c "$T/ok.conf" ran scale_service "service=checkout" --at 2026-11-18T09:55:00Z ||
  t_fail "ran failed"
plan ok $WED >c.json
jq -e '[.plan.steps[].action] | index("scale_service") == null' c.json >/dev/null ||
  t_fail "cooldown: scale_service still planned: $(jq -c '[.plan.steps[].action]' c.json)"
jq -e '[.plan.notes[] | select(test("scale_service ran on service=checkout 300 s ago"))] | length == 1' c.json >/dev/null ||
  t_fail "cooldown note: $(jq -c .plan.notes c.json)"

# --- the bandit: rollbacks fixed it before, scaling did not
conf learn
for i in 1 2 3 4 5; do
  opsbot-plan -c "$T/learn.conf" record checkout/latency rollback_deploy win || t_fail "record"
  opsbot-plan -c "$T/learn.conf" record checkout/latency scale_service loss || t_fail "record"
done
plan learn $WED >l.json
got=$(jq -r '[.plan.steps[].action] | join(" ")' l.json)
[ "${got%% *}" = rollback_deploy ] || t_fail "bandit: first step got '${got%% *}' want rollback_deploy ($got)"
jq -e '.plan.steps[0].rationale | test("fixed 5 of 5 past checkout/latency")' l.json >/dev/null ||
  t_fail "bandit rationale: $(jq -r .plan.steps[0].rationale l.json)"

# --- bad input is refused with the reason, not planned
echo '{"detect":{}}' > noinc.json
opsbot-plan -c "$T/ok.conf" plan noinc.json >out 2>&1 && t_fail "input without incident planned"
grep -q "field 'incident' must be the incident record" out || t_fail "no-incident: $(cat out)"
echo "plan cli: ok"
