#!/usr/bin/env bash
# discord_http.sh: interactions over HTTP (no gateway): Ed25519 signatures
# checked (401 on a bad, missing or stale one), PING answered with PONG, a
# slash command answered inline (help: ephemeral type 4; declare: deferred
# type 5, then the answer edited through the webhook with the incident);
# a channel name resolved over REST when there is no gateway; the reject
# modal's submission (type 5) is deferred inline and goes to the queue as a
# reject (refused here: incident 1 awaits no approval).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_env.sh"
command -v openssl >/dev/null || t_skip "openssl CLI not installed"
t_setup
openssl genpkey -algorithm ed25519 -out "$T/key.pem" 2>/dev/null || t_skip "openssl without ed25519"
PUB=$(openssl pkey -in "$T/key.pem" -pubout -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')
d_fake
d_queue
d_bot "gateway = no" "public_key = $PUB" "interactions_path = /discord/interactions"
URL="http://127.0.0.1:$BP/discord/interactions"

# sign TS BODYFILE -> hex signature of TS||body
sign() { { printf '%s' "$1"; cat "$2"; } > "$T/msg"; openssl pkeyutl -sign -inkey "$T/key.pem" -rawin -in "$T/msg" | od -An -tx1 | tr -d ' \n'; }
# post BODYFILE [sig] [ts] -> "status body"
post() {
  local ts=${3:-$(date +%s)} sig=${2:-}
  [ -n "$sig" ] || sig=$(sign "$ts" "$1")
  curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' -H "X-Signature-Ed25519: $sig" \
    -H "X-Signature-Timestamp: $ts" --data-binary @"$1" "$URL"
}

printf '{"type":1,"id":"1","token":"t","application_id":"%s","version":1}' "$APP" > "$T/ping.json"
out=$(post "$T/ping.json"); [ "$(echo "$out" | tail -1)" = 200 ] || t_fail "PING: $out"
echo "$out" | head -1 | grep -q '"type":1' || t_fail "PING answer: $out"

bad=$(printf '%0128d' 0)
out=$(post "$T/ping.json" "$bad"); [ "$(echo "$out" | tail -1)" = 401 ] || t_fail "bad signature: got $out"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T/ping.json" "$URL")
[ "$code" = 401 ] || t_fail "no signature: got $code"
old=$(( $(date +%s) - 3600 ))
out=$(post "$T/ping.json" "" "$old"); [ "$(echo "$out" | tail -1)" = 401 ] || t_fail "stale timestamp: got $out"
# one byte changed after signing
ts=$(date +%s); sig=$(sign "$ts" "$T/ping.json"); sed 's/"t"/"u"/' "$T/ping.json" > "$T/ping2.json"
out=$(post "$T/ping2.json" "$sig" "$ts"); [ "$(echo "$out" | tail -1)" = 401 ] || t_fail "changed body: got $out"

# help, inline and ephemeral
d_post /_fake/interactions '{"kind":"command","deliver":"return","options":[{"name":"help","type":1}]}' | jq -c .payload > "$T/help.json"
out=$(post "$T/help.json"); [ "$(echo "$out" | tail -1)" = 200 ] || t_fail "help: $out"
echo "$out" | head -1 | jq -r '.type == 4 and .data.flags == 64' | grep -qx true || t_fail "help answer: $out"

# declare: deferred inline, then the webhook edit names the incident
d_post /_fake/interactions '{"kind":"command","deliver":"return","user":{"id":"9","username":"http-user"},"options":[{"name":"declare","type":1,"options":[{"name":"title","type":3,"value":"http mode incident"}]}]}' | jq -c .payload > "$T/declare.json"
out=$(post "$T/declare.json"); [ "$(echo "$out" | tail -1)" = 200 ] || t_fail "declare: $out"
echo "$out" | head -1 | jq -r .type | grep -qx 5 || t_fail "declare answer: $out"
t_wait "follow-up names the incident" d_has ops 'Incident #1 is open'
t_wait "incident message posted" d_has ops 'http mode incident'
# No gateway, so no GUILD_CREATE: the channel name was looked up over REST,
# and an alert incident still lands in it.
wirecat "ipc://$T/var/run/q.ipc" '{"type":"submit","what":"incident","key":"a1","spec":{"title":"http mode alert","service":"db","severity":"high","source":"alertmanager"}}' >/dev/null \
  || t_fail "submit an alert incident"
t_wait "alert incident in the named channel" d_has ops 'Incident #2: http mode alert'
# no channel (or no user): refused at the door, nothing reaches the queue
jq -c 'del(.channel_id) | .id = "990003"' "$T/declare.json" > "$T/nochan.json"
out=$(post "$T/nochan.json"); echo "$out" | head -1 | jq -e '.type == 4 and .data.flags == 64 and (.data.content | test("could not tell who"))' >/dev/null \
  || t_fail "no channel: $out"
n=$(wirecat "ipc://$T/var/run/q.ipc" '{"type":"query","what":"incidents"}' | jq '.items | length')
[ "$n" = 2 ] || t_fail "an interaction without a channel reached the queue ($n incidents)"

# the reject modal's submission, as Discord sends it
CHID=$(d_get /_fake/channels | jq -r '[.[] | select(.name == "ops")][0].id')
jq -nc --arg app "$APP" --arg ch "$CHID" '{type:5, id:"990001", token:"modal-token-1", application_id:$app,
  channel_id:$ch, version:1, member:{user:{id:"9", username:"http-user"}},
  data:{custom_id:"obr:1:h-test-1", components:[{type:1, components:[{type:4, custom_id:"reason", value:"too risky"}]}]}}' > "$T/modal.json"
out=$(post "$T/modal.json"); [ "$(echo "$out" | tail -1)" = 200 ] || t_fail "modal submit: $out"
echo "$out" | head -1 | jq -e '.type == 5 and .data.flags == 64' >/dev/null || t_fail "modal answer: $out"
t_wait "reject reached the queue and its refusal came back" grep -q 'event=discord_queue_refused what=reject' bot.log
# a modal that is not ours
jq '.data.custom_id = "xyz:1" | .id = "990002"' "$T/modal.json" > "$T/modal2.json"
out=$(post "$T/modal2.json"); echo "$out" | head -1 | jq -e '.type == 4 and .data.flags == 64' >/dev/null || t_fail "foreign modal: $out"
echo ok
