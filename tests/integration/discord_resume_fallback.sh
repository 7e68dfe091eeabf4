#!/usr/bin/env bash
# discord_resume_fallback.sh: when READY's resume_gateway_url cannot be
# reached (here: a port nothing listens on; in life a host that no longer
# resolves), the bot does not retry it forever in silence: each failed
# resume is logged, and after three it asks GET /gateway/bot again and
# identifies a new session there, after which interactions are answered.
# Also: a resume URL no connection can even start to counts as a failed resume.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/discord_env.sh"
t_setup
d_fake --heartbeat-ms 600
# a port that refuses: bind one, note it, let it go
dead=$(t_port)
d_post /_fake/gateway/resume_url "{\"url\":\"ws://127.0.0.1:$dead\"}" >/dev/null || t_fail "set resume url"
d_queue
d_bot
t_wait "gateway connected" d_connected
lookups() { d_get /_fake/requests | jq '[.[] | select(.path == "/api/v10/gateway/bot")] | length'; }
before=$(lookups)

# the connection drops; the resume URL refuses
d_post /_fake/gateway/resume_url '{"url":""}' >/dev/null # later READYs name a good one
d_post /_fake/gateway/drop >/dev/null || t_fail "drop"
t_wait "three failed resumes logged" bash -c "[ \$(grep -c 'event=discord_resume_failed' '$T/bot.log') -ge 3 ]"
t_wait "resume given up" grep -q 'event=discord_resume_abandoned' "$T/bot.log"
t_wait "identified a new session" d_stat_is identifies 2
t_wait "connected again" d_connected
[ "$(lookups)" -gt "$before" ] || t_fail "no fresh GET /gateway/bot before the new identify"
grep -q 'event=discord_gateway_url_refreshed' "$T/bot.log" || t_fail "URL refresh not logged"
[ "$(d_stat resumes)" = 0 ] || t_fail "a resume succeeded at an unreachable URL?"
grep 'event=discord_resume_failed' "$T/bot.log" | head -1 | grep -q "attempt=1 of=3" || t_fail "attempts not counted in the log"
id=$(d_cmd 8 help | jq -r .id)
t_wait "answered on the new session" d_answered "$id" 4

# the new session resumes normally at the good URL
d_post /_fake/gateway/drop >/dev/null || t_fail "drop 2"
t_wait "resumed at the good URL" d_stat_is resumes 1
[ "$(d_stat identifies)" = 2 ] || t_fail "identified again instead of resuming"

# a resume URL lws cannot even start a connection to (port out of range):
# failed resumes, then a new session
d_post /_fake/gateway/resume_url '{"url":"ws://127.0.0.1:99999/gw"}' >/dev/null      # the next READY ...
d_post /_fake/gateway/invalid_session '{"resumable":false}' >/dev/null # ... names this
t_wait "identified (3)" d_stat_is identifies 3
t_wait "connected (3)" d_connected
d_post /_fake/gateway/resume_url '{"url":""}' >/dev/null
n=$(grep -c 'event=discord_resume_abandoned' "$T/bot.log")
d_post /_fake/gateway/drop >/dev/null || t_fail "drop 3"
t_wait "bad URL given up" bash -c "[ \$(grep -c 'event=discord_resume_abandoned' '$T/bot.log') -gt $n ]"
t_wait "identified (4)" d_stat_is identifies 4
kill -0 "$PID_bot" || t_fail "bot died"
echo ok
