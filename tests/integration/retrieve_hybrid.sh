#!/usr/bin/env bash
# retrieve_hybrid.sh: dense retrieval against the local LLM stand-in.
# fake-llm serves /v1/embeddings (and demands a key); kb index stores a
# vector per section, a hybrid search fuses words and vectors (the reason
# says so), a re-index embeds only what changed, and when the endpoint fails
# a search still answers from words and says why.
. "$(dirname "$0")/../lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
command -v fake-llm >/dev/null || t_skip "fake-llm is not built"
t_setup
cp -r "$REPO/knowledge" knowledge
t_start fake fake-llm -p "$T/fake.port" -d 128 -k test-key-123
t_wait "fake-llm listens" test -s "$T/fake.port"
PORT=$(cat "$T/fake.port")
cat > opsbot.conf <<CONF
[retrieve]
db = $T/var/knowledge.db
knowledge = $T/knowledge
synonyms = $T/knowledge/synonyms.tsv
stopwords = $T/knowledge/stopwords.txt
catalog = $T/none.conf
embed_url = http://127.0.0.1:$PORT/v1
embed_model = fake-embed-128
embed_timeout = 5s
CONF
export OPSBOT_LLM_API_KEY=test-key-123
kb() { opsbot-retrieve -c opsbot.conf kb "$@"; }
stats() { curl -sf "http://127.0.0.1:$PORT/_fake/stats"; }

kb index >index1.log 2>&1 || t_fail "index: $(cat index1.log)"
grep -Eq "146 sections written, 146 embedded" index1.log || t_fail "index: $(cat index1.log)"
n=$(sqlite3 var/knowledge.db "select count(*) from sections where length(embedding) = 128 * 4")
[ "$n" = 146 ] || t_fail "float32 vectors stored: got $n want 146"

kb search --mode hybrid --json "pods keep getting OOMKilled" >h.json 2>h-err.log || t_fail "hybrid: $(cat h-err.log)"
[ ! -s h-err.log ] || t_fail "hybrid search warned: $(cat h-err.log)"
# The stand-in's vectors are hashed words, not meaning: ask only for the top 3.
jq -e '[.passages[:3][].source] | index("runbooks/memory-leak-oom.md") != null' h.json >/dev/null ||
  t_fail "hybrid top 3: $(jq -c '[.passages[].source]' h.json)"
jq -e '[.passages[].why | test("similar meaning")] | any' h.json >/dev/null ||
  t_fail "no vector contribution: $(jq -c '[.passages[].why]' h.json)"

# Only the changed section is embedded again.
before=$(stats | jq .embeddings)
printf '\n## Extra\nA new section about heap dumps.\n' >>knowledge/runbooks/memory-leak-oom.md
kb index >index2.log 2>&1 || t_fail "re-index: $(cat index2.log)"
grep -q "1 changed, 28 unchanged" index2.log || t_fail "re-index: $(cat index2.log)"
grep -Eq "[0-9]+ sections written, 7 embedded" index2.log || t_fail "re-embed: $(cat index2.log)"

# The endpoint fails: words still answer, the reason is on stderr.
curl -sf -X POST -d '{"embed_mode":"server_error"}' "http://127.0.0.1:$PORT/_fake/mode" >/dev/null ||
  t_fail "could not switch fake-llm to server_error"
kb search --mode hybrid --json "pods keep getting OOMKilled" >f.json 2>f-err.log ||
  t_fail "search with a failing endpoint exited non-zero: $(cat f-err.log)"
grep -q "vector search skipped" f-err.log || t_fail "no fallback note: $(cat f-err.log)"
jq -e '.passages[0].source == "runbooks/memory-leak-oom.md"' f.json >/dev/null ||
  t_fail "fallback top: $(jq -c '[.passages[].source]' f.json)"

# A wrong key is refused by the stand-in; index says so and exits 1.
curl -sf -X POST -d '{"embed_mode":"valid"}' "http://127.0.0.1:$PORT/_fake/mode" >/dev/null
printf '\nmore\n' >>knowledge/runbooks/disk-full.md
OPSBOT_LLM_API_KEY=wrong kb index >bad.log 2>&1 && t_fail "index with a wrong key exited 0"
grep -q "HTTP 401" bad.log || t_fail "wrong key: $(cat bad.log)"
echo "ok: hybrid retrieval with the stand-in"
