#!/usr/bin/env bash
# slack_commands.sh: slash commands are checked at the door.  A command the
# bot did not register (/hello) gets a clear refusal and does nothing; one
# with an empty user_id or channel_id is refused before it reaches the
# queue; in HTTP mode two distinct commands without trigger_id are two
# incidents (they used to share the key "slack-cmd:" and the second was
# dropped as a duplicate), while the very same request sent twice is one;
# a title with an invalid UTF-8 byte is stored with U+FFFD in its place.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
t_setup
export SLACK_SIGNING_SECRET=test-signing-secret-1234
SLACK_EXTRA_CONF="mode = both
channel_rate = 0"
slack_stack --post-rate 0
BP=$(cat var/run/bot.port)
incidents() { wirecat "ipc://$T/var/run/q.ipc" '{"type":"query","what":"incidents"}' | jq '.items | length'; }
has_incidents() { [ "$(incidents)" = "$1" ]; }

# a command the bot did not register
env=$(fs_post /control/slash '{"user":"U0ALICE","channel":"C0INCIDENT","command":"/hello","text":"declare checkout boom"}' | jq -r .envelope_id)
wait_acked "$env"
case "$(ack_text "$env")" in *"answers only /incident"*"/hello"*) ;; *) t_fail "/hello: got '$(ack_text "$env")'";; esac
[ "$(incidents)" = 0 ] || t_fail "/hello created an incident"

# empty user_id and empty channel_id, straight onto the socket
for who in '"user_id":"","channel_id":"C0INCIDENT"' '"user_id":"U0ALICE","channel_id":""'; do
  id="e-empty-$RANDOM"
  fs_post /control/raw "{\"envelope_id\":\"$id\",\"type\":\"slash_commands\",\"accepts_response_payload\":true,\"payload\":{\"command\":\"/incident\",\"text\":\"declare checkout boom\",$who,\"trigger_id\":\"t.$id\"}}" >/dev/null \
    || t_fail "raw envelope"
  t_wait "refusal logged for $who" grep -q 'event=slack_bad_command error="text, user_id and channel_id must be non-empty strings"' bot.log
done
[ "$(incidents)" = 0 ] || t_fail "an empty user or channel created an incident"

# HTTP mode, no trigger_id: distinct commands are distinct incidents
sign() { printf 'v0:%s:%s' "$1" "$2" | openssl dgst -sha256 -hmac "$SLACK_SIGNING_SECRET" | sed 's/^.* /v0=/'; }
post() { curl -s -H "X-Slack-Request-Timestamp: $2" -H "X-Slack-Signature: $(sign "$2" "$1")" \
  --data-binary "$1" "http://127.0.0.1:$BP/slack/commands"; }
now=$(date +%s)
b1="team_id=T0OPSBOT&channel_id=$CH&user_id=U0HTTP&command=%2Fincident&text=declare+billing+invoices+stuck"
b2="team_id=T0OPSBOT&channel_id=$CH&user_id=U0HTTP&command=%2Fincident&text=declare+search+index+lagging"
a1=$(post "$b1" "$now"); a2=$(post "$b2" "$now")
echo "$a1" | jq -e '.text | test("Declaring an incident on billing")' >/dev/null || t_fail "first: got $a1"
echo "$a2" | jq -e '.text | test("Declaring an incident on search")' >/dev/null || t_fail "second distinct command: got $a2"
t_wait "two incidents" has_incidents 2
# the same signed request again (a resend) stays one incident, and says so
a3=$(post "$b2" "$now")
echo "$a3" | jq -e '.text | test("already declared as incident #2")' >/dev/null || t_fail "resend: got $a3"
[ "$(incidents)" = 2 ] || t_fail "incidents: got $(incidents), want 2"
# the one UTF-8 rule at the door (lib/utf8.h): an invalid byte becomes U+FFFD
b5="team_id=T0OPSBOT&channel_id=$CH&user_id=U0HTTP&command=%2Fincident&text=declare+billing+caf%FF+down"
a5=$(post "$b5" "$now")
echo "$a5" | jq -e '.text | test("Declaring an incident on billing")' >/dev/null || t_fail "invalid UTF-8: got $a5"
t_wait "incident 3" has_incidents 3
t3=$(wirecat "ipc://$T/var/run/q.ipc" '{"type":"query","what":"incident","incident":3}' | jq -r .incident.title)
case "$t3" in *$'caf\xef\xbf\xbd'*) ;; *) t_fail "title 3 not repaired: $(printf %s "$t3" | od -c | head -2)";; esac
# an unregistered command over HTTP is refused too
a4=$(post "team_id=T&channel_id=$CH&user_id=U0HTTP&command=%2Fdeploy&text=now" "$now")
echo "$a4" | jq -e '.text | test("answers only /incident")' >/dev/null || t_fail "/deploy over HTTP: got $a4"
[ "$(incidents)" = 3 ] || t_fail "/deploy created an incident"
echo ok
