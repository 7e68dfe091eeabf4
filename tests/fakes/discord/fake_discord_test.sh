#!/usr/bin/env bash
# fake_discord_test.sh: fake-discord over real sockets, driven by gwprobe and
# curl: discovery, identify, heartbeat ACK, an injected slash command and its
# callback (second one refused), a dropped socket resumed with the missed
# event replayed, op 7 on request, and the server closing a silent client.
. "$(dirname "$0")/../../lib.sh"
t_setup

t_start fake fake-discord --port-file "$T/fd.port" --heartbeat-ms 3000
t_wait "fake-discord port file" test -s "$T/fd.port"
P=$(cat "$T/fd.port")
B="http://127.0.0.1:$P"
UA='User-Agent: DiscordBot (https://opsbot.invalid, 0.1)'
AU='Authorization: Bot fake-bot-token'

j() { jq -r "$1"; }

url=$(curl -sf -H "$UA" -H "$AU" "$B/api/v10/gateway/bot" | j .url) || t_fail "gateway/bot"
[ "$url" = "ws://127.0.0.1:$P/gateway" ] || t_fail "gateway url got $url"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$UA" "$B/api/v10/gateway/bot")
[ "$code" = 401 ] || t_fail "no token: got $code want 401"

# probe N: a gwprobe whose stdin is fd 3N... keep it simple: one fifo per probe.
probe() {
  local n=$1 u=$2
  mkfifo "$T/in$n"
  gwprobe "$u" <"$T/in$n" >"$T/out$n" 2>&1 &
  T_PIDS+=("$!")
  eval "exec {FD$n}>\"\$T/in$n\""
}
send() { local fd; eval "fd=\$FD$1"; printf '%s\n' "$2" >&"$fd"; }
has() { grep -q -- "$2" "$T/out$1"; }
count() { grep -c -- "$2" "$T/out$1"; }

IDENT='{"op":2,"d":{"token":"fake-bot-token","intents":1,"properties":{"os":"linux","browser":"t","device":"t"}}}'
probe 1 "$url?v=10&encoding=json"
t_wait "hello" has 1 '"op":10'
send 1 "$IDENT"
t_wait "READY" has 1 '"t":"READY","s":1'
t_wait "GUILD_CREATE" has 1 '"t":"GUILD_CREATE","s":2'
send 1 '{"op":1,"d":2}'
t_wait "heartbeat ack" has 1 '{"t":null,"s":null,"op":11,"d":null}'

inj=$(curl -sf -X POST -d '{"kind":"command","user":{"id":"42","username":"ann"},"options":[{"name":"declare","type":1,"options":[{"name":"title","type":3,"value":"db slow"}]}]}' "$B/_fake/interactions") || t_fail "inject"
iid=$(echo "$inj" | j .id); tok=$(echo "$inj" | j .token)
t_wait "INTERACTION_CREATE" has 1 '"t":"INTERACTION_CREATE","s":3'
for k in entitlements authorizing_integration_owners app_permissions locale attachment_size_limit '"version":1' application_id; do
  grep INTERACTION_CREATE "$T/out1" | grep -q -- "$k" || t_fail "INTERACTION_CREATE lacks $k"
done
cb="$B/api/v10/interactions/$iid/$tok/callback"
c1=$(curl -s -o /dev/null -w '%{http_code}' -H "$UA" -H 'Content-Type: application/json' -d '{"type":4,"data":{"content":"ok","flags":64}}' "$cb")
[ "$c1" = 204 ] || t_fail "callback got $c1 want 204"
c2=$(curl -s -H "$UA" -H 'Content-Type: application/json' -d '{"type":4,"data":{"content":"ok"}}' "$cb" | j .code)
[ "$c2" = 40060 ] || t_fail "second callback code got $c2 want 40060"

# Drop the socket (no close frame); inject while offline; resume and see it replayed.
send 1 '{"op":1,"d":3}'
sid=$(grep '"READY"' "$T/out1" | j .d.session_id)
rurl=$(grep '"READY"' "$T/out1" | j .d.resume_gateway_url)
curl -sf -X POST "$B/_fake/gateway/drop" >/dev/null || t_fail "drop"
t_wait "probe 1 closed" has 1 '^CLOSE'
curl -sf -X POST -d '{"kind":"command","options":[{"name":"help","type":1}]}' "$B/_fake/interactions" >/dev/null || t_fail "inject offline"
probe 2 "$rurl?v=10&encoding=json"
t_wait "hello 2" has 2 '"op":10'
send 2 "{\"op\":6,\"d\":{\"token\":\"fake-bot-token\",\"session_id\":\"$sid\",\"seq\":3}}"
t_wait "RESUMED" has 2 '"t":"RESUMED","s":5'
has 2 '"t":"INTERACTION_CREATE","s":4' || t_fail "missed interaction not replayed"
[ "$(count 2 INTERACTION_CREATE)" = 1 ] || t_fail "replay doubled: $(count 2 INTERACTION_CREATE)"

# op 7 on request, then the server closes.
curl -sf -X POST "$B/_fake/gateway/reconnect" >/dev/null || t_fail "reconnect"
t_wait "op 7" has 2 '"op":7'

# A client that stops heartbeating is closed with 4009.
probe 3 "$url?v=10&encoding=json"
t_wait "hello 3" has 3 '"op":10'
t_wait "silent client closed with 4009" has 3 '^CLOSE 4009'

# Bad token -> 4004.
probe 4 "$url?v=10&encoding=json"
t_wait "hello 4" has 4 '"op":10'
send 4 '{"op":2,"d":{"token":"bad","intents":1,"properties":{}}}'
t_wait "4004" has 4 '^CLOSE 4004'

# Files over the real socket (curl builds the multipart body): an upload's
# bytes come back equal from the attachment url; 10 MiB passes, one byte more
# is 413/40005, and so is a request over 25 MiB; a broken body is 50035.
OPS=$(curl -sf "$B/_fake/channels" | jq -r '.[] | select(.name == "ops") | .id')
M="$B/api/v10/channels/$OPS/messages"
head -c 300000 /dev/urandom > "$T/r.pdf"
up=$(curl -sf -H "$UA" -H "$AU" -F 'payload_json={"content":"report","attachments":[{"id":0,"filename":"incident-1.pdf"}]};type=application/json' \
  -F "files[0]=@$T/r.pdf;filename=x.pdf;type=application/pdf" "$M") || t_fail "multipart upload"
[ "$(echo "$up" | j '.attachments[0].size')" = 300000 ] || t_fail "attachment size: $up"
[ "$(echo "$up" | j '.attachments[0].filename')" = incident-1.pdf ] || t_fail "attachment name: $up"
curl -sf -o "$T/back.pdf" "$(echo "$up" | j '.attachments[0].url')" || t_fail "download by url"
cmp -s "$T/r.pdf" "$T/back.pdf" || t_fail "downloaded bytes differ"
curl -sf -o "$T/back2.pdf" "$B/_fake/attachments/$(echo "$up" | j '.attachments[0].id')" || t_fail "download by id"
cmp -s "$T/r.pdf" "$T/back2.pdf" || t_fail "downloaded bytes differ (by id)"
mid=$(echo "$up" | j .id)
[ "$(curl -sf "$B/_fake/channels/$OPS/messages" | jq --arg id "$mid" '[.[] | select(.id == $id) | .attachments[0].size][0]')" = 300000 ] ||
  t_fail "stored message lacks the attachment"
head -c $((10 << 20)) /dev/zero > "$T/ten"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$UA" -H "$AU" -F "files[0]=@$T/ten;filename=ten.bin" "$M")
[ "$code" = 200 ] || t_fail "10 MiB file got $code want 200"
head -c $(((10 << 20) + 1)) /dev/zero > "$T/ten1"
res=$(curl -s -w ' %{http_code}' -H "$UA" -H "$AU" -F "files[0]=@$T/ten1;filename=ten1.bin" "$M")
[ "$res" = '{"message":"Request entity too large","code":40005} 413' ] || t_fail "10 MiB + 1 got $res"
head -c $((26 << 20)) /dev/zero > "$T/big"
res=$(curl -s -w ' %{http_code}' -H "$UA" -H "$AU" -F "files[0]=@$T/big;filename=big.bin" "$M")
[ "${res##* }" = 413 ] && [ "$(echo "${res% *}" | j .code)" = 40005 ] || t_fail "26 MiB request got $res"
res=$(curl -s -w ' %{http_code}' -H "$UA" -H "$AU" -H 'Content-Type: multipart/form-data; boundary=b' --data-binary 'nothing here' "$M")
[ "${res##* }" = 400 ] && [ "$(echo "${res% *}" | j .code)" = 50035 ] || t_fail "broken multipart got $res"
rm -f "$T/ten" "$T/ten1" "$T/big"

echo "fake-discord: ok"
