#!/usr/bin/env bash
# slack_http.sh: Slack HTTP mode on the bot's listener: a v0-signed slash
# command declares an incident and the HTTP answer is the ack; a bad or
# stale signature gets 401 and does nothing; url_verification echoes the
# challenge; a signed button click is forwarded.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
export SLACK_SIGNING_SECRET=test-signing-secret-1234
SLACK_EXTRA_CONF="mode = both
channel_rate = 0"
slack_stack --post-rate 0
BP=$(cat var/run/bot.port)

sign() { printf 'v0:%s:%s' "$1" "$2" | openssl dgst -sha256 -hmac "$SLACK_SIGNING_SECRET" | sed 's/^.* /v0=/'; }
post() { # path body ts [signature]
  local sig=${4:-$(sign "$3" "$2")}
  curl -s -w '\n%{http_code}' -H "X-Slack-Request-Timestamp: $3" -H "X-Slack-Signature: $sig" \
    --data-binary "$2" "http://127.0.0.1:$BP$1"
}
now=$(date +%s)
body="token=x&team_id=T0OPSBOT&channel_id=$CH&user_id=U0HTTP&command=%2Fincident&text=declare+billing+invoices+stuck&trigger_id=tr.1&response_url=http%3A%2F%2F127.0.0.1%2Fx"

out=$(post /slack/commands "$body" "$now" v0=0000000000000000000000000000000000000000000000000000000000000000)
[ "$(echo "$out" | tail -n1)" = 401 ] || t_fail "bad signature: got $(echo "$out" | tail -n1), want 401"
stale=$((now - 600))
out=$(post /slack/commands "$body" "$stale")
[ "$(echo "$out" | tail -n1)" = 401 ] || t_fail "stale timestamp: got $(echo "$out" | tail -n1), want 401"
n=$(wirecat "ipc://$T/var/run/q.ipc" '{"type":"query","what":"incidents"}' | jq '.items | length')
[ "$n" = 0 ] || t_fail "refused requests created $n incidents"

out=$(post /slack/commands "$body" "$now")
[ "$(echo "$out" | tail -n1)" = 200 ] || t_fail "signed command: got HTTP $(echo "$out" | tail -n1)"
echo "$out" | head -n1 | jq -e '.text | test("Declaring an incident on billing")' >/dev/null \
  || t_fail "signed command answer: got $(echo "$out" | head -n1)"
t_wait "parent of incident 1" has_parent 1

out=$(post /slack/events '{"token":"x","challenge":"chal-123","type":"url_verification"}' "$now")
[ "$(echo "$out" | head -n1)" = chal-123 ] || t_fail "url_verification: got '$(echo "$out" | head -n1)'"

payload=$(jq -nc --arg ts "$(parent_ts 1)" '{type:"block_actions", user:{id:"U0HTTP"}, channel:{id:"C0INCIDENT"}, actions:[{action_id:"opsbot_ack", value:"1", action_ts:"1.1"}]}')
body="payload=$(printf '%s' "$payload" | jq -sRr @uri)"
out=$(post /slack/interactive "$body" "$now")
[ "$(echo "$out" | tail -n1)" = 200 ] || t_fail "signed click: got HTTP $(echo "$out" | tail -n1)"
t_wait "click shows in the parent" bash -c "curl -sf 'http://127.0.0.1:$FS_PORT/control/messages?channel=$CH' | jq -e '.messages[0].text | test(\"acknowledged by <@U0HTTP>\")'"
echo ok
