#!/usr/bin/env bash
# retrieve_queue.sh: the retrieve and index jobs through the real queue.
# opsbot-queue and opsbot-retrieve run as processes on a socket in $T; an
# incident submitted with opsbotctl goes retrieving -> (plan and execute
# passed through) -> resolved -> index.  The retrieve result cites the
# right runbook section with a reason; the index job turns the incident into
# memory that "kb search" then finds; SIGTERM stops the worker cleanly.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/runtime_lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
command -v opsbot-queue >/dev/null || t_skip "opsbot-queue is not built"
command -v jq >/dev/null || t_skip "jq is not installed"
t_setup
cp -r "$REPO/knowledge" "$T/knowledge"
start_queue "[pipeline]
stages = retrieve index
[retrieve]
db = $T/var/knowledge.db
knowledge = $T/knowledge
synonyms = $T/knowledge/synonyms.tsv
stopwords = $T/knowledge/stopwords.txt
catalog = $T/no-catalog.conf
claim_wait = 200ms
lease = 5s"
t_start retrieve opsbot-retrieve -c "$T/opsbot.conf"
t_wait "the retrieve worker indexed the runbooks" grep -q 'event=kb_indexed scanned=29' retrieve.log

ctl() { opsbotctl -c "$T/opsbot.conf" "$@"; }
ctl submit --service checkout --title "FATAL: sorry, too many clients already" \
  --summary "orders api cannot get a database connection" >submit.out 2>&1 ||
  t_fail "submit: $(cat submit.out)"
inc=$(grep -oE '[0-9]+' submit.out | head -1)
[ -n "$inc" ] || t_fail "no incident id in: $(cat submit.out)"

retrieve_result() {
  rpc query "{\"what\":\"timeline\"}" "$inc" |
    jq -e '[.items[] | select(.name == "job.finished" and .data.kind == "retrieve")][0].data.result'
}
t_wait "the retrieve job finished" retrieve_result
retrieve_result >result.json
src=$(jq -r '.passages[0].source' result.json)
[ "$src" = runbooks/db-connection-exhaustion.md ] ||
  t_fail "top passage: got $src want runbooks/db-connection-exhaustion.md ($(cat result.json))"
for f in source section title score why text; do
  jq -e ".passages[0] | has(\"$f\")" result.json >/dev/null || t_fail "passage lacks $f"
done
jq -e '.passages[0].why | test("matched")' result.json >/dev/null ||
  t_fail "why does not say what matched: $(jq -r '.passages[0].why' result.json)"
jq -e '.summary | test("db-connection-exhaustion")' result.json >/dev/null ||
  t_fail "summary: $(jq -r .summary result.json)"

# Resolved (plan/execute not enabled) -> the index job -> memory.
indexed() { grep -q "event=kb_incident incident=$inc " retrieve.log; }
t_wait "the index job stored incident $inc" indexed
opsbot-retrieve -c "$T/opsbot.conf" kb search --json "too many clients orders" >mem.json ||
  t_fail "kb search after index: $(cat mem.json)"
jq -e --arg s "incident:$inc" '[.passages[].source] | index($s) != null' mem.json >/dev/null ||
  t_fail "incident:$inc not found by kb search: $(jq -c '[.passages[].source]' mem.json)"

# A job with a bad input is refused permanently with a reason naming the field.
job=$(rpc submit '{"what":"job","job":{"kind":"retrieve","input":{"incident":7}}}' 0 | jq -r .job)
[ -n "$job" ] && [ "$job" != null ] || t_fail "could not submit a raw retrieve job"
dead() { [ "$(job_field "$job" state)" = dead ]; }
t_wait "the bad job is dead-lettered" dead
job_field "$job" error | grep -q "field 'incident'" ||
  t_fail "dead job error: $(job_field "$job" error)"

kill -TERM "$PID_retrieve"
stopped() { ! kill -0 "$PID_retrieve" 2>/dev/null; }
t_wait "opsbot-retrieve stops on SIGTERM" stopped
grep -q 'event=stopped' retrieve.log || t_fail "no clean stop in the log"
echo "ok: retrieve and index jobs through the queue"
