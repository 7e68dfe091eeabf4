#!/usr/bin/env bash
# discord_storm_channels.sh: Discord posts go out per channel: a 429 on one
# channel holds only that channel, and nothing is lost or posted twice when
# the bot dies while a channel is held.
#
#   [discord] route sends service slow* to #general (by id); everything
#   else goes to #ops.  fake-discord answers the next 2 posts to #general
#   with 429 (retry_after 8 s).  An alert on slowapi comes first; once its
#   first post got the 429, an alert on fastapi follows.
#   - fastapi's incident is posted in #ops (with its thread) while slowapi's
#     post is still waiting out its 429: the request log shows fastapi's
#     200 before slowapi's 200 (one lane for all channels posts them the
#     other way round, ~16 s apart).
#   - the bot is SIGKILLed while slowapi still waits (fastapi's later seq
#     ended first, so the bot must not have stored it as done) and
#     restarted: slowapi's incident is posted in #general, fastapi's is not
#     posted again: one message each.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_env.sh"
command -v jq >/dev/null || t_skip "jq not installed"
t_setup
T_DEADLINE=40
export OPSBOT_HOOK_TOKEN=t0ken-for-tests-$$
d_fake
d_queue
GEN=$(d_get /_fake/channels | jq -r '.[] | select(.name == "general") | .id')
[ -n "$GEN" ] || t_fail "fake-discord has no #general"
d_bot "route = $GEN slow*" "senders = 4"
t_wait "gateway connected" d_connected

alert() { # alert SERVICE -> HTTP code
  curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $OPSBOT_HOOK_TOKEN" \
    --data-binary "{\"title\":\"$1 is down\",\"service\":\"$1\",\"severity\":\"high\",\"key\":\"$1\"}" \
    "http://127.0.0.1:$BP/hooks/generic"
}
# incident messages in channel $1 whose embed title mentions $2
n_inc() { d_msgs "$1" | jq --arg s "$2" '[.[] | select((.embeds | length > 0) and (.embeds[0].title | contains($s)))] | length'; }
has_inc() { [ "$(n_inc "$1" "$2")" -ge 1 ]; }
# request-log index of the first answer with status $2 to POST /channels/$1/messages
req_at() {
  d_get /_fake/requests | jq --arg p "/api/v10/channels/$1/messages" --argjson s "$2" \
    '[to_entries[] | select(.value.method == "POST" and .value.path == $p and .value.status == $s)][0].key // empty'
}
got_429() { [ -n "$(req_at "$GEN" 429)" ]; }

d_post /_fake/ratelimit "{\"n\":2,\"scope\":\"route\",\"match\":\"/channels/$GEN/messages\",\"retry_after\":8}" >/dev/null ||
  t_fail "could not arm the 429s"
[ "$(alert slowapi)" = 201 ] || t_fail "alert slowapi refused"
t_wait "slowapi's first post answered 429" got_429
[ "$(alert fastapi)" = 201 ] || t_fail "alert fastapi refused"
t_wait "fastapi's incident in #ops" has_inc ops fastapi
OPS=$(d_get /_fake/channels | jq -r '.[] | select(.name == "ops") | .id')
fast_ok=$(req_at "$OPS" 200)
slow_ok=$(req_at "$GEN" 200)
[ -z "$slow_ok" ] || [ "$fast_ok" -lt "$slow_ok" ] ||
  t_fail "fastapi (#ops) was posted after slowapi (#general): request $fast_ok vs $slow_ok"
has_inc general slowapi && t_fail "slowapi posted before its 429s ran out (the test cannot tell the lanes apart)"

# fastapi's seq ended, slowapi's (earlier) did not: die now, come back.
kill -KILL "$PID_bot"
wait "$PID_bot" 2>/dev/null
rm -f "$T/var/run/bot.port"
DISCORD_BOT_TOKEN=fake-bot-token t_start bot opsbot-bot -c "$T/bot.conf"
t_wait "bot back" test -s "$T/var/run/bot.port"
t_wait "slowapi's incident in #general after the restart" has_inc general slowapi
t_wait "slowapi's thread" d_has general '"thread"'
[ "$(n_inc general slowapi)" = 1 ] || t_fail "slowapi posted $(n_inc general slowapi) times"
[ "$(n_inc ops fastapi)" = 1 ] || t_fail "fastapi posted $(n_inc ops fastapi) times"
[ "$(n_inc ops slowapi)" = 0 ] || t_fail "slowapi went to #ops, not its route's channel"
echo ok
