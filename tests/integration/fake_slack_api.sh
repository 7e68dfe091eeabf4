#!/usr/bin/env bash
# fake_slack_api.sh: the Slack stand-in itself behaves like Slack's Web API:
# tokens (Bearer and form), ok:false with HTTP 200, Block Kit limits
# (invalid_blocks), the per-channel posting limit (429 + Retry-After),
# chat.update / postEphemeral / reactions.add / conversations.info, the
# three-step file upload, injected 429/500, single-use Socket Mode tickets
# and at most 10 sockets.
. "$(dirname "$0")/../lib.sh"
t_setup
t_start fake-slack fake-slack --port-file "$T/fs.port" --post-rate 1 --post-burst 2 \
  --channel C0A=a --channel C0RATE=rate --channel C0OTHER=other --channel C0MSG=msg --channel C0X=x
t_wait "fake-slack port" test -s "$T/fs.port"
P=$(cat "$T/fs.port")
B="Authorization: Bearer xoxb-fake"
api() { curl -s -H "$B" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$P/api/$1"; }
expect() { # description json jq-filter
  echo "$2" | jq -e "$3" >/dev/null || t_fail "$1: got $2, want $3"
}

expect "no token" "$(curl -s -d channel=C1 "http://127.0.0.1:$P/api/chat.postMessage")" '.ok == false and .error == "not_authed"'
expect "bad token" "$(curl -s -d token=xoxb-nope "http://127.0.0.1:$P/api/auth.test")" '.error == "invalid_auth"'
expect "form token" "$(curl -s -d token=xoxb-fake "http://127.0.0.1:$P/api/auth.test")" '.ok and .user_id == "U0OPSBOT"'
expect "app token on a bot method" "$(curl -s -d token=xapp-fake "http://127.0.0.1:$P/api/auth.test")" '.error == "not_allowed_token_type"'
expect "unknown method" "$(api nope.nope '{}')" '.error == "unknown_method"'
expect "bad JSON" "$(api chat.postMessage '{"channel":')" '.error == "invalid_json"'
expect "no text" "$(api chat.postMessage '{"channel":"C0A"}')" '.error == "no_text"'
expect "bad channel" "$(api chat.postMessage '{"channel":"nope","text":"x"}')" '.error == "channel_not_found"'
expect "unknown channel id" "$(api chat.postMessage '{"channel":"C0NOSUCH","text":"x"}')" '.error == "channel_not_found"'

# Block Kit limits, one table row each
btn() { jq -nc --arg t "$1" --arg a "$2" --arg v "$3" '[{type:"actions",elements:[{type:"button",text:{type:"plain_text",text:$t},action_id:$a,value:$v}]}]'; }
s() { head -c "$1" /dev/zero | tr '\0' a; }
row=0
while IFS='|' read -r name blocks want; do
  row=$((row + 1))   # a channel per row: the posting limit is not under test here
  curl -sf -X POST -d "{\"id\":\"C0BLOCKS$row\"}" "http://127.0.0.1:$P/control/channel" >/dev/null || t_fail "make channel C0BLOCKS$row"
  got=$(api chat.postMessage "$(jq -nc --argjson b "$blocks" --arg c "C0BLOCKS$row" '{channel:$c,text:"t",blocks:$b}')" | jq -r '.error // "ok"')
  [ "$got" = "$want" ] || t_fail "blocks '$name': got $got, want $want"
done <<ROWS
ok button|$(btn "$(s 75)" "$(s 255)" "$(s 2000)")|ok
button text 76|$(btn "$(s 76)" a v)|invalid_blocks
action_id 256|$(btn t "$(s 256)" v)|invalid_blocks
value 2001|$(btn t a "$(s 2001)")|invalid_blocks
section 3000|$(jq -nc --arg t "$(s 3000)" '[{type:"section",text:{type:"mrkdwn",text:$t}}]')|ok
section 3001|$(jq -nc --arg t "$(s 3001)" '[{type:"section",text:{type:"mrkdwn",text:$t}}]')|invalid_blocks
50 blocks|$(jq -nc '[range(50) | {type:"divider"}]')|ok
51 blocks|$(jq -nc '[range(51) | {type:"divider"}]')|invalid_blocks
unknown type|[{"type":"carousel"}]|invalid_blocks
mrkdwn button|[{"type":"actions","elements":[{"type":"button","text":{"type":"mrkdwn","text":"x"},"action_id":"a"}]}]|invalid_blocks
ROWS

# per-channel limit: burst 2, then 429 with Retry-After and "ratelimited".  The
# refill is slowed to one post a minute meanwhile: at 1/s a loaded machine
# could take over a second for the three posts, and the third would pass.
curl -sf -X POST -d '{"post_rate":0.0167}' "http://127.0.0.1:$P/control/config" >/dev/null || t_fail "slow the refill"
for i in 1 2; do expect "post $i" "$(api chat.postMessage '{"channel":"C0RATE","text":"x"}')" '.ok'; done
hdr=$(curl -s -D - -o body.json -H "$B" -H 'Content-Type: application/json' -d '{"channel":"C0RATE","text":"x"}' "http://127.0.0.1:$P/api/chat.postMessage")
echo "$hdr" | head -n1 | grep -q ' 429' || t_fail "third post: got '$(echo "$hdr" | head -n1)', want 429"
echo "$hdr" | grep -qi '^retry-after: [0-9]' || t_fail "429 without Retry-After: $hdr"
expect "429 body" "$(cat body.json)" '.error == "ratelimited"'
expect "other channel unaffected" "$(api chat.postMessage '{"channel":"C0OTHER","text":"x"}')" '.ok'
curl -sf -X POST -d '{"post_rate":1}' "http://127.0.0.1:$P/control/config" >/dev/null || t_fail "restore the refill"

# update, ephemeral, reactions, conversations.info, threads
ts=$(api chat.postMessage '{"channel":"C0MSG","text":"parent"}' | jq -r .ts)
expect "reply" "$(api chat.postMessage "{\"channel\":\"C0MSG\",\"text\":\"r\",\"thread_ts\":\"$ts\"}")" '.message.thread_ts != null'
expect "update" "$(api chat.update "{\"channel\":\"C0MSG\",\"ts\":\"$ts\",\"text\":\"parent v2\"}")" '.ok and .text == "parent v2"'
expect "update missing" "$(api chat.update '{"channel":"C0MSG","ts":"1.2","text":"x"}')" '.error == "message_not_found"'
expect "ephemeral" "$(api chat.postEphemeral '{"channel":"C0MSG","user":"U1","text":"psst"}')" '.ok and .message_ts != null'
expect "reaction" "$(api reactions.add "{\"channel\":\"C0MSG\",\"timestamp\":\"$ts\",\"name\":\"eyes\"}")" '.ok'
expect "reaction again" "$(api reactions.add "{\"channel\":\"C0MSG\",\"timestamp\":\"$ts\",\"name\":\"eyes\"}")" '.error == "already_reacted"'
expect "conversations.info" "$(api conversations.info '{"channel":"C0MSG"}')" '.channel.id == "C0MSG" and .channel.is_member'
expect "thread listing" "$(curl -s "http://127.0.0.1:$P/control/messages?channel=C0MSG&thread=$ts")" '(.messages | length) == 2 and .messages[0].text == "parent v2"'

# the three-step upload
up=$(curl -s -H "$B" -d filename=summary.pdf -d length=5 "http://127.0.0.1:$P/api/files.getUploadURLExternal")
url=$(echo "$up" | jq -r .upload_url); fid=$(echo "$up" | jq -r .file_id)
expect "complete before upload" "$(api files.completeUploadExternal "{\"files\":[{\"id\":\"$fid\"}]}")" '.error == "file_not_found"'
curl -sf -X POST --data-binary 'hello' "$url" | grep -q 'OK - 5' || t_fail "upload POST"
expect "complete" "$(api files.completeUploadExternal "{\"files\":[{\"id\":\"$fid\",\"title\":\"Summary\"}],\"channel_id\":\"C0MSG\",\"thread_ts\":\"$ts\"}")" '.ok and .files[0].title == "Summary"'

# injected faults
curl -sf -X POST -d '{"status":500,"count":1}' "http://127.0.0.1:$P/control/fail" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "$B" -d channel=C0X "http://127.0.0.1:$P/api/auth.test")" = 500 ] || t_fail "injected 500 not served"
expect "after the injected 500" "$(api auth.test '{}')" '.ok'

# Socket Mode tickets are single use; at most 10 sockets
ws() { curl -s -N -m "${WS_WAIT:-3}" -o "$2" -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$1"; }
url=$(curl -s -d token=xapp-fake "http://127.0.0.1:$P/api/apps.connections.open" | jq -r .url | sed 's/^ws:/http:/')
got=$(WS_WAIT=6 ws "$url" first.out); [ "$got" = 101 ] || t_fail "first use of a ticket: got $got, want 101"
grep -q '"type":"hello"' first.out || t_fail "no hello on the socket: $(cat first.out)"
got=$(ws "$url" second.out); [ "$got" = 101 ] && t_fail "second use of a ticket: got 101, want a refusal"
pids=()
for i in $(seq 10); do
  u=$(curl -s -d token=xapp-fake "http://127.0.0.1:$P/api/apps.connections.open" | jq -r .url | sed 's/^ws:/http:/')
  curl -s -N -m 20 -o /dev/null -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$u" & pids+=($!)
done
t_wait "10 sockets open" bash -c "[ \$(curl -s http://127.0.0.1:$P/control/stats | jq .connections) = 10 ]"
u=$(curl -s -d token=xapp-fake "http://127.0.0.1:$P/api/apps.connections.open" | jq -r .url | sed 's/^ws:/http:/')
got=$(ws "$u" eleventh.out); [ "$got" = 101 ] && t_fail "11th socket: got 101, want a refusal"
kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
echo ok
