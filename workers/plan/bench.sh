#!/usr/bin/env bash
# bench.sh: `make bench BENCH=plan`.  Playbook planning latency (p50/p99 of
# whole plan jobs: playbook, bandit lookup in SQLite, critic, policy, hash)
# and the LLM planner's own overhead per job excluding the model's time
# (prompt, schema, parsing, critic; measured as job time minus the HTTP
# call time), against a local fake-llm.  Input: tests/data/plan/latency.json.
# Prints one JSON line.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${OPSBOT_BIN:-$REPO/build/bin}
T=$(mktemp -d /tmp/opsbot-bench-plan.XXXXXX)
FAKE=
cleanup() { [ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
IN=$REPO/tests/data/plan/latency.json
N_PLAYBOOK=${N_PLAYBOOK:-2000}
N_LLM=${N_LLM:-300}

cat > "$T/pb.conf" <<CONF
[plan]
catalog = $REPO/config/actions.conf
policy = $REPO/config/policy.conf
db = $T/plan.db
CONF
pb=$("$BIN/opsbot-plan" -c "$T/pb.conf" bench "$N_PLAYBOOK" "$IN" 2>>"$T/plan.log") || { echo '{"bench":"plan","error":"playbook run failed"}'; exit 1; }

"$BIN/fake-llm" -p "$T/port" 2>"$T/fake.log" &
FAKE=$!
for _ in $(seq 200); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || { echo '{"bench":"plan","error":"fake-llm did not start"}'; exit 1; }
cp "$T/pb.conf" "$T/llm.conf"
printf '[llm]\nbase_url = http://127.0.0.1:%s/v1\nmodel = bench\n' "$(cat "$T/port")" >>"$T/llm.conf"
llm=$("$BIN/opsbot-plan" -c "$T/llm.conf" bench "$N_LLM" "$IN" 2>>"$T/plan.log") || { echo '{"bench":"plan","error":"llm run failed"}'; exit 1; }

jq -cn --argjson pb "$pb" --argjson llm "$llm" '{bench: "plan",
  playbook_p50_ms: $pb.p50_ms, playbook_p99_ms: $pb.p99_ms,
  llm_overhead_p50_ms: $llm.overhead_p50_ms, llm_job_p50_ms: $llm.p50_ms,
  playbook_n: $pb.n, llm_n: $llm.n}'
