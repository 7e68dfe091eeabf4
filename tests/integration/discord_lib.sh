# discord_lib.sh: the Discord approval stack for integration tests (source
# after tests/lib.sh and t_setup; it sources discord_env.sh).
#
#   d_approval_stack   fake-discord, opsbot-queue with a policy (Discord user
#                      88000 is carol, an approver) and the action catalog,
#                      test workers for detect, retrieve and plan (the plan
#                      is $T/plan.json: one medium-risk restart of checkout,
#                      hash h-test-1, approval required), and opsbot-bot;
#                      returns once the bot's Gateway session is up.
. "$(dirname "${BASH_SOURCE[0]}")/discord_env.sh"

d_approval_stack() {
  cat > "$T/policy.conf" <<'CONF'
[policy]
auto_risk = low
approvers = ops
[person carol]
discord = 88000
[group ops]
members = carol
CONF
  cat > "$T/plan.json" <<'JSON'
{"plan":{"id":"p1","hash":"h-test-1","planner":"test-worker",
 "steps":[{"action":"restart_service","params":{"service":"checkout"},"risk":"medium",
 "rationale":"test worker step","citations":[],"approval":"required"}],"notes":[]},
 "needs_approval":true,"summary":"test worker plan: restart checkout"}
JSON
  d_fake --heartbeat-ms 5000
  cat > "$T/queue.conf" <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
sync = normal
policy = $T/policy.conf
catalog = $REPO/config/actions.conf
[pipeline]
stages = detect retrieve plan execute
[test-worker]
claim_wait = 200ms
CONF
  t_start queue opsbot-queue -c "$T/queue.conf"
  t_wait "queue socket" test -S "$T/var/run/q.ipc"
  t_start wdetect test-worker -c "$T/queue.conf" --kind detect
  t_start wretrieve test-worker -c "$T/queue.conf" --kind retrieve
  t_start wplan test-worker -c "$T/queue.conf" --kind plan --result-file "$T/plan.json"
  d_bot
  t_wait "gateway connected" d_connected
}
