#!/usr/bin/env bash
# fake_slack_test.sh: fake-slack answers as Slack documents it (Slack's API
# reference and recorded payloads), on the points the
# official SDKs showed it got wrong: envelope ids are UUIDs; events carry
# authorizations and event_context; a click reports the button's own label,
# value and block_id plus state/enterprise/is_enterprise_install; stored
# blocks get block_ids; channel names resolve for chat.postMessage and
# unknown ids are channel_not_found; the declared upload length is the
# file's size; response_url honours replace_original/delete_original and
# works 5 times; users.info, chat.getPermalink, chat.delete; injected
# messages are stored (their thread can be replied to); views.open takes a
# trigger id once; after link_disabled no more connection tickets.
. "$(dirname "$0")/../../lib.sh"
t_setup
t_start fake-slack fake-slack --port-file "$T/fs.port" --post-rate 0 --channel C0OPS=ops
t_wait "fake-slack port" test -s "$T/fs.port"
P=$(cat "$T/fs.port")
B="Authorization: Bearer xoxb-fake"
api() { curl -s -H "$B" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$P/api/$1"; }
ctl() { curl -s -X POST -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$P/control/$1"; }
get() { curl -s "http://127.0.0.1:$P$1"; }
expect() { # description json jq-filter
  echo "$2" | jq -e "$3" >/dev/null || t_fail "$1: got $2, want $3"
}
UUID='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

# channels: names resolve for chat.postMessage, ids must exist
expect "post to #incidents" "$(api chat.postMessage '{"channel":"#incidents","text":"x"}')" '.ok and .channel == "C0INCIDENT"'
expect "post to a name without #" "$(api chat.postMessage '{"channel":"ops","text":"x"}')" '.ok and .channel == "C0OPS"'
expect "unknown name" "$(api chat.postMessage '{"channel":"#nope","text":"x"}')" '.error == "channel_not_found"'
expect "unknown id" "$(api chat.postMessage '{"channel":"C0NOPE1","text":"x"}')" '.error == "channel_not_found"'
expect "update takes ids only" "$(api chat.update '{"channel":"#incidents","ts":"1.1","text":"x"}')" '.error == "channel_not_found"'
expect "conversations.info name" "$(api conversations.info '{"channel":"C0INCIDENT"}')" '.channel.name == "incidents"'

# blocks without a block_id get one; given ones are kept
blocks='[{"type":"section","text":{"type":"mrkdwn","text":"hi"}},{"type":"actions","block_id":"acts","elements":[{"type":"button","text":{"type":"plain_text","text":"Acknowledge"},"action_id":"opsbot_ack","value":"7"},{"type":"button","text":{"type":"plain_text","text":"Resolve"},"action_id":"opsbot_resolve","value":"7","style":"danger"}]}]'
post=$(api chat.postMessage "$(jq -nc --argjson b "$blocks" '{channel:"C0INCIDENT",text:"incident 7",blocks:$b}')")
expect "block ids" "$post" '(.message.blocks[0].block_id | type) == "string" and (.message.blocks[0].block_id | length) > 0 and .message.blocks[1].block_id == "acts"'
ts=$(echo "$post" | jq -r .ts)

# slash command: UUID envelope id, response_url, trigger_id
env=$(ctl slash '{"user":"U0ALICE","channel":"C0INCIDENT","text":"help"}')
echo "$env" | jq -r .envelope_id | grep -Eq "$UUID" || t_fail "envelope id not a UUID: $env"
sp=$(get "/control/envelope?id=$(echo "$env" | jq -r .envelope_id)" | jq .payload)
expect "slash payload" "$sp" '.channel_name == "incidents" and (.response_url | startswith("http")) and (.trigger_id | length) > 10'

# a click: the button's label, value and block_id from the stored message
env=$(ctl click "$(jq -nc --arg ts "$ts" '{user:"U0BOB",channel:"C0INCIDENT",message_ts:$ts,action_id:"opsbot_resolve"}')")
cp=$(get "/control/envelope?id=$(echo "$env" | jq -r .envelope_id)" | jq .payload)
expect "click action" "$cp" '.actions[0].text.text == "Resolve" and .actions[0].value == "7" and .actions[0].block_id == "acts" and .actions[0].style == "danger"'
expect "click extras" "$cp" '.state == {values:{}} and .enterprise == null and .is_enterprise_install == false and .message.ts != null and .container.message_ts != null'
expect "no such button" "$(ctl click "$(jq -nc --arg ts "$ts" '{channel:"C0INCIDENT",message_ts:$ts,action_id:"nope"}')")" '.ok == false'
expect "no such message" "$(ctl click '{"channel":"C0INCIDENT","message_ts":"1.000001","action_id":"opsbot_ack"}')" '.ok == false'

# response_url: replace_original edits the clicked message; 5 uses at most
rurl=$(echo "$cp" | jq -r .response_url)
r() { curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$1" "$rurl"; }
[ "$(r '{"replace_original":true,"text":"resolved by bob"}')" = 200 ] || t_fail "replace_original refused"
get "/control/messages?channel=C0INCIDENT" | jq -e --arg ts "$ts" '.messages[] | select(.ts == $ts) | .text == "resolved by bob"' >/dev/null ||
  t_fail "replace_original did not edit the message"
[ "$(r '{"text":"only you see this"}')" = 200 ] || t_fail "ephemeral response refused"
get "/control/ephemeral?channel=C0INCIDENT" | jq -e '[.messages[] | select(.text == "only you see this" and .user == "U0BOB")] | length == 1' >/dev/null ||
  t_fail "ephemeral response not recorded for the clicking user"
[ "$(r '{"response_type":"in_channel","text":"in the thread","thread_ts":"'"$ts"'"}')" = 200 ] || t_fail "in_channel response refused"
get "/control/messages?channel=C0INCIDENT&thread=$ts" | jq -e '[.messages[] | select(.text == "in the thread")] | length == 1' >/dev/null ||
  t_fail "in_channel response with thread_ts not in the thread"
r '{"text":"4"}' >/dev/null; r '{"text":"5"}' >/dev/null
[ "$(r '{"text":"6"}')" = 404 ] || t_fail "response_url worked a 6th time"

# delete_original, chat.delete, getPermalink, users.info
m2=$(api chat.postMessage '{"channel":"C0INCIDENT","text":"tmp","blocks":[{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"X"},"action_id":"x"}]}]}' | jq -r .ts)
cp2=$(get "/control/envelope?id=$(ctl click "$(jq -nc --arg ts "$m2" '{channel:"C0INCIDENT",message_ts:$ts,action_id:"x"}')" | jq -r .envelope_id)" | jq .payload)
curl -sf -H 'Content-Type: application/json' -d '{"delete_original":true}' "$(echo "$cp2" | jq -r .response_url)" >/dev/null || t_fail "delete_original refused"
get "/control/messages?channel=C0INCIDENT" | jq -e --arg ts "$m2" '[.messages[] | select(.ts == $ts)] | length == 0' >/dev/null || t_fail "delete_original kept the message"
m3=$(api chat.postMessage '{"channel":"C0INCIDENT","text":"gone soon"}' | jq -r .ts)
expect "permalink" "$(api chat.getPermalink "{\"channel\":\"C0INCIDENT\",\"message_ts\":\"$m3\"}")" '.ok and (.permalink | test("/archives/C0INCIDENT/p[0-9]+$"))'
expect "chat.delete" "$(api chat.delete "{\"channel\":\"C0INCIDENT\",\"ts\":\"$m3\"}")" ".ok and .ts == \"$m3\""
expect "chat.delete again" "$(api chat.delete "{\"channel\":\"C0INCIDENT\",\"ts\":\"$m3\"}")" '.error == "message_not_found"'
expect "users.info" "$(api users.info '{"user":"U0BOB"}')" '.ok and .user.id == "U0BOB" and .user.is_bot == false'
expect "users.info bot" "$(api users.info '{"user":"U0OPSBOT"}')" '.user.is_bot'
expect "users.info unknown" "$(api users.info '{"user":"U0NOBODY"}')" '.error == "user_not_found"'

# an injected message event: authorizations, event_context, and stored
env=$(ctl event '{"event":{"type":"message","user":"U0CAROL","channel":"C0INCIDENT","text":"db is slow"}}')
ep=$(get "/control/envelope?id=$(echo "$env" | jq -r .envelope_id)" | jq .payload)
expect "event wrapper" "$ep" '.authorizations[0].user_id == "U0OPSBOT" and .authorizations[0].is_bot and (.event_context | length) > 0 and (.event.ts | length) > 0'
ets=$(echo "$ep" | jq -r .event.ts)
expect "reply in an injected message's thread" "$(api chat.postMessage "{\"channel\":\"C0INCIDENT\",\"text\":\"looking\",\"thread_ts\":\"$ets\"}")" '.ok'
expect "chat.delete of a person's message" "$(api chat.delete "{\"channel\":\"C0INCIDENT\",\"ts\":\"$ets\"}")" '.error == "cant_delete_message"'

# uploads: the declared length is the size; multipart bodies are unwrapped
up=$(curl -s -H "$B" -d filename=a.txt -d length=5 "http://127.0.0.1:$P/api/files.getUploadURLExternal")
url=$(echo "$up" | jq -r .upload_url); fid=$(echo "$up" | jq -r .file_id)
printf hello > a.txt
curl -sf -F "file=@a.txt" "$url" | grep -q 'OK - 5' || t_fail "multipart upload counted the envelope, not the file"
expect "size is the declared length" "$(api files.completeUploadExternal "{\"files\":[{\"id\":\"$fid\"}],\"channel_id\":\"C0INCIDENT\"}")" '.files[0].size == 5'
expect "upload to unknown channel" "$(api files.completeUploadExternal "{\"files\":[{\"id\":\"$fid\"}],\"channel_id\":\"C0NOPE2\"}")" '.error == "channel_not_found"'

# views.open: a trigger id works once and for 3 s, then a submission goes out
fresh_trigger() {
  get "/control/envelope?id=$(ctl slash '{"user":"U0ALICE","channel":"C0INCIDENT","text":"x"}' | jq -r .envelope_id)" | jq -r .payload.trigger_id
}
trig=$(fresh_trigger)
view='{"type":"modal","callback_id":"reject","title":{"type":"plain_text","text":"Reject plan"},"submit":{"type":"plain_text","text":"Reject"},"blocks":[{"type":"input","block_id":"why","label":{"type":"plain_text","text":"Reason"},"element":{"type":"plain_text_input","action_id":"reason"}}]}'
vo=$(api views.open "$(jq -nc --arg t "$trig" --argjson v "$view" '{trigger_id:$t,view:$v}')")
expect "views.open" "$vo" '.ok and (.view.id | startswith("V")) and .view.callback_id == "reject" and .view.state == {values:{}}'
expect "trigger used twice" "$(api views.open "$(jq -nc --arg t "$trig" --argjson v "$view" '{trigger_id:$t,view:$v}')")" '.error == "expired_trigger_id"'
expect "bad trigger" "$(api views.open "$(jq -nc --argjson v "$view" '{trigger_id:"1.2.3",view:$v}')")" '.error == "invalid_trigger_id"'
ctl config '{"trigger_ttl_ms":1}' >/dev/null
old=$(fresh_trigger)
t_wait "a trigger id older than the ttl" bash -c "curl -s -H '$B' -H 'Content-Type: application/json' -d '$(jq -nc --arg t "$old" --argjson v "$view" '{trigger_id:$t,view:$v}')' http://127.0.0.1:$P/api/views.open | jq -e '.error == \"expired_trigger_id\"'"
ctl config '{"trigger_ttl_ms":3000}' >/dev/null
vid=$(echo "$vo" | jq -r .view.id)
env=$(ctl submit "$(jq -nc --arg v "$vid" '{view_id:$v,user:"U0ALICE",inputs:{reason:"too risky"}}')")
vp=$(get "/control/envelope?id=$(echo "$env" | jq -r .envelope_id)" | jq .payload)
expect "view_submission" "$vp" '.type == "view_submission" and .view.id != null and .view.state.values.why.reason.value == "too risky" and .view.state.values.why.reason.type == "plain_text_input"'

# link_disabled: Socket Mode is off, no more connection tickets
ctl disconnect '{"reason":"link_disabled"}' >/dev/null
expect "no ticket after link_disabled" "$(curl -s -d token=xapp-fake "http://127.0.0.1:$P/api/apps.connections.open")" '.ok == false'
ctl config '{"socket_mode":true}' >/dev/null
expect "ticket again once switched on" "$(curl -s -d token=xapp-fake "http://127.0.0.1:$P/api/apps.connections.open")" '.ok'
echo ok
