#!/usr/bin/env bash
# discord_share_limits.sh: the summary upload and the Discord surface's REST
# calls share Discord's rate-limit buckets (bot/discord_rest.c registry).
# Against fake-discord, with discord-share-probe driving the real clients in
# one process:
#   upload-first  the file post into a channel is given a 429 (retry_after
#                 1 s); the JSON post into that channel made after it must not
#                 reach Discord before the 429's window ends;
#   json-first    the same the other way round.
# When each request arrived is read from the stand-in's request log.  A client
# that kept its own limits sends the second post at once, inside the window.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_env.sh"
command -v jq >/dev/null || t_skip "jq not installed"
t_setup
T_DEADLINE=30
d_fake --heartbeat-ms 5000 --bucket-limit 50
CH=$(d_get /_fake/channels | jq -r '[.[] | select(.type == 0 and .name == "ops")][0].id // empty')
[ -n "$CH" ] || t_fail "no ops channel in fake-discord"

# check PHASE FROM: of the stand-in's requests from index FROM on, the POSTs
# to /channels/$CH/messages: one 429 at time T, and every later one came at
# least retry_after (1 s, less 50 ms of clock slack) after T, answered 200.
check() {
  d_get /_fake/requests | jq -c --arg p "/api/v10/channels/$CH/messages" --argjson b "$2" \
    '[.[$b:][] | select(.method == "POST" and .path == $p)]' > "req-$1.json"
  local n429 t429 early
  n429=$(jq '[.[] | select(.status == 429)] | length' "req-$1.json")
  [ "$n429" = 1 ] || t_fail "$1: $n429 429s on the channel, want the one forced: $(cat "req-$1.json")"
  t429=$(jq '[.[] | select(.status == 429)][0].at_us' "req-$1.json")
  early=$(jq --argjson t "$t429" '[.[] | select(.at_us > $t and .at_us < $t + 950000)] | length' "req-$1.json")
  [ "$early" = 0 ] || t_fail "$1: $early request(s) went inside the 429's window: $(cat "req-$1.json")"
  [ "$(jq --argjson t "$t429" '[.[] | select(.at_us > $t and .status == 200)] | length' "req-$1.json")" = 2 ] ||
    t_fail "$1: want both posts answered 200 after the window: $(cat "req-$1.json")"
}

# 1. the upload is given the 429; the JSON post waits it out
before=$(d_get /_fake/requests | jq length)
d_post /_fake/ratelimit '{"n":1,"scope":"route","multipart":true,"retry_after":1.0}' >/dev/null ||
  t_fail "force a 429 on the upload"
discord-share-probe "$DB/api/v10" "$CH" upload-first > probe1.out 2> probe1.err ||
  t_fail "probe upload-first: $(cat probe1.err)"
grep -q '^ok json=[0-9]* file=[0-9]*$' probe1.out || t_fail "probe 1: $(cat probe1.out)"
check upload-first "$before"

# 2. a JSON post is given the 429; the upload waits it out
before=$(d_get /_fake/requests | jq length)
d_post /_fake/ratelimit "{\"n\":1,\"scope\":\"route\",\"match\":\"/channels/$CH/messages\",\"retry_after\":1.0}" >/dev/null ||
  t_fail "force a 429 on the JSON post"
discord-share-probe "$DB/api/v10" "$CH" json-first > probe2.out 2> probe2.err ||
  t_fail "probe json-first: $(cat probe2.err)"
grep -q '^ok json=[0-9]* file=[0-9]*$' probe2.out || t_fail "probe 2: $(cat probe2.out)"
check json-first "$before"
echo "ok: upload and REST calls share Discord's buckets"
