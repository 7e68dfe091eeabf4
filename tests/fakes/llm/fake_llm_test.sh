#!/usr/bin/env bash
# fake_llm_test.sh: fake-llm speaks the OpenAI shapes and misbehaves on cue.
. "$(dirname "$0")/../../lib.sh"
t_setup
command -v jq >/dev/null || t_skip "jq is not installed"

t_start fake fake-llm -p "$T/port" -P "$T/pid" -k sk-test
t_wait "fake-llm port file" test -s "$T/port"
U="http://127.0.0.1:$(cat "$T/port")"
AUTH=(-H "Authorization: Bearer sk-test" -H "Content-Type: application/json")

chat() { # chat BODY [extra curl args] -> prints "STATUS BODY" lines into files
  curl -s -o "$T/out" -w '%{http_code}' -D "$T/hdr" "${AUTH[@]}" "${@:2}" \
    -d "$1" "$U/v1/chat/completions"
}
SCHEMA='"response_format":{"type":"json_schema","json_schema":{"name":"plan","schema":{"type":"object"}}}'
MSG='"messages":[{"role":"system","content":"plan"},{"role":"user","content":"incident {\"service\":\"checkout\"} [P1] runbook"}]'

# valid, json_schema: the content is the plan itself
code=$(chat "{\"model\":\"m\",$MSG,$SCHEMA}")
[ "$code" = 200 ] || t_fail "valid: status got $code want 200: $(cat "$T/out")"
svc=$(jq -r '.choices[0].message.content | fromjson | .steps[0].params.service' "$T/out")
[ "$svc" = checkout ] || t_fail "valid: service got '$svc' want checkout"
cite=$(jq -r '.choices[0].message.content | fromjson | .steps[0].citations[0]' "$T/out")
[ "$cite" = P1 ] || t_fail "valid: citation got '$cite' want P1"
pt=$(jq '.usage.prompt_tokens' "$T/out"); ct=$(jq '.usage.completion_tokens' "$T/out")
[ "$pt" -gt 0 ] && [ "$ct" -gt 0 ] || t_fail "usage got prompt=$pt completion=$ct want > 0"

# no response_format: JSON inside prose, as real models answer
chat "{\"model\":\"m\",$MSG}" >/dev/null
jq -r '.choices[0].message.content' "$T/out" | grep -q '```json' ||
  t_fail "text mode: want a fenced json block, got $(cat "$T/out")"

# key checked
code=$(curl -s -o "$T/out" -w '%{http_code}' -d "{\"model\":\"m\",$MSG}" "$U/v1/chat/completions")
[ "$code" = 401 ] || t_fail "no key: status got $code want 401"

# per-request header and model name pick the behaviour
code=$(chat "{\"model\":\"m\",$MSG,$SCHEMA}" -H "X-Fake-Mode: malformed")
jq -r '.choices[0].message.content' "$T/out" | jq . >/dev/null 2>&1 &&
  t_fail "malformed: content parsed as JSON: $(cat "$T/out")"
code=$(chat "{\"model\":\"fake-server_error\",$MSG}")
[ "$code" = 500 ] || t_fail "fake-server_error: status got $code want 500"
code=$(chat "{\"model\":\"fake-unknown_action\",$MSG,$SCHEMA}")
a=$(jq -r '.choices[0].message.content | fromjson | .steps[0].action' "$T/out")
[ "$a" = reboot_datacenter ] || t_fail "unknown_action: got '$a'"
code=$(chat "{\"model\":\"fake-no_schema\",$MSG,$SCHEMA}")
[ "$code" = 400 ] || t_fail "no_schema with json_schema: status got $code want 400"

# a script is consumed one entry per request, then the mode applies
curl -sf -d '{"script":["rate_limit","server_error"],"retry_after":"2"}' "$U/_fake/mode" >/dev/null ||
  t_fail "control: set script"
code=$(chat "{\"model\":\"m\",$MSG}")
[ "$code" = 429 ] || t_fail "script 1: status got $code want 429"
grep -qi '^Retry-After: 2' "$T/hdr" || t_fail "429 without Retry-After: $(cat "$T/hdr")"
code=$(chat "{\"model\":\"m\",$MSG}")
[ "$code" = 500 ] || t_fail "script 2: status got $code want 500"
code=$(chat "{\"model\":\"m\",$MSG}")
[ "$code" = 200 ] || t_fail "after script: status got $code want 200"
code=$(curl -s -o /dev/null -w '%{http_code}' -d '{"mode":"nonsense"}' "$U/_fake/mode")
[ "$code" = 400 ] || t_fail "unknown mode: status got $code want 400"

# a slow answer does not hold up other clients
curl -sf -d '{"delay_ms":1500}' "$U/_fake/mode" >/dev/null
chat "{\"model\":\"fake-slow\",$MSG}" -o "$T/slow" >/dev/null &
slow=$!
t_wait "slow request recorded" sh -c "curl -s '$U/_fake/requests' | jq -e 'map(select(.mode==\"slow\"))|length==1'"
code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" -d "{\"model\":\"m\",$MSG}" "$U/v1/chat/completions")
[ "$code" = 200 ] || t_fail "fast beside slow: status got $code"
kill -0 $slow 2>/dev/null || t_fail "slow answer came back before the fast one"
wait $slow || t_fail "slow request failed"

# bad requests are clear 400s
code=$(chat '{"model":"m","messages":[]}')
[ "$code" = 400 ] || t_fail "empty messages: status got $code want 400"
code=$(chat 'not json')
[ "$code" = 400 ] || t_fail "not json: status got $code want 400"

# embeddings: shape, dimension, determinism, similarity
emb() { curl -sf "${AUTH[@]}" -d "$1" "$U/v1/embeddings"; }
emb '{"model":"e","input":["checkout latency spike","high latency on checkout","disk full on /var"]}' >"$T/e" ||
  t_fail "embeddings request failed"
[ "$(jq '.data|length' "$T/e")" = 3 ] || t_fail "embeddings: want 3 vectors"
[ "$(jq '.data[0].embedding|length' "$T/e")" = 256 ] || t_fail "embeddings: want dim 256"
near=$(jq '[.data[0].embedding,.data[1].embedding]|transpose|map(.[0]*.[1])|add' "$T/e")
far=$(jq '[.data[0].embedding,.data[2].embedding]|transpose|map(.[0]*.[1])|add' "$T/e")
jq -en "$near > $far" >/dev/null || t_fail "embeddings: near $near not above far $far"
emb '{"model":"e","input":"checkout latency spike","dimensions":64}' >"$T/e2"
[ "$(jq '.data[0].embedding|length' "$T/e2")" = 64 ] || t_fail "dimensions 64 not honoured"
a=$(emb '{"model":"e","input":"same text"}' | jq -c '.data[0].embedding')
b=$(emb '{"model":"e","input":"same text"}' | jq -c '.data[0].embedding')
[ "$a" = "$b" ] || t_fail "embeddings differ for the same text"
code=$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" -d '{"model":"e","input":[1,2]}' "$U/v1/embeddings")
[ "$code" = 400 ] || t_fail "token-array input: status got $code want 400"

# "Expect: 100-continue" gets its 100 before the body is sent (curl asks for
# it before bodies over 1 MiB and would otherwise wait a second), then the answer
exec 3<>"/dev/tcp/127.0.0.1/$(cat "$T/port")"
printf 'POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\nContent-Length: 32\r\nExpect: 100-continue\r\n\r\n' >&3
IFS= read -r -t 10 line <&3 || t_fail "no 100 Continue before the body"
[ "${line%$'\r'}" = "HTTP/1.1 100 Continue" ] || t_fail "Expect: 100-continue got '$line'"
printf '{"model":"e","input":"continue"}' >&3
status=""
while IFS= read -r -t 10 line <&3; do
  case $line in "HTTP/1.1 100"*) ;; HTTP/1.1*) status=${line%$'\r'}; break ;; esac
done
exec 3<&-
[ "$status" = "HTTP/1.1 200 OK" ] || t_fail "after 100 Continue: got '$status' want 200"

# the request log shows what was asked
n=$(curl -s "$U/_fake/stats" | jq '.chat')
[ "$n" -ge 10 ] || t_fail "stats chat got $n want >= 10"
echo "fake-llm: ok"
