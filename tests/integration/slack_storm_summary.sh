#!/usr/bin/env bash
# slack_storm_summary.sh: routing and the storm summary, at Slack's limits
# (the stand-in's and the bot's defaults: one post a second per channel,
# bursts of 3).
#
#   [slack] route = C0TEAMA a-*: 12 alerts on a-1 .. a-12 (sent at once) go
#   to #team-a, 2 on b-1, b-2 to the default #incidents.  More new
#   incidents wait in #team-a than its limit lets post, so one summary
#   message ("*Alert storm:* ...") lists the waiting ones at once, each with
#   its own "#<id> title (severity, service): state" line and the command
#   to see it; then every incident's own parent message still arrives, once.
#   No incident is listed in two summaries; none lands in the wrong channel.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slack_lib.sh"
command -v jq >/dev/null || t_skip "jq not installed"
t_setup
T_DEADLINE=40
export OPSBOT_HOOK_TOKEN=t0ken-for-tests-$$
TA=C0TEAMA
SLACK_EXTRA_CONF="route = $TA a-*"
slack_stack --channel "$TA=team-a"
B="http://127.0.0.1:$(cat "$T/var/run/bot.port")"
alert() {
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $OPSBOT_HOOK_TOKEN" \
    --data-binary "{\"title\":\"$1 errors\",\"service\":\"$1\",\"severity\":\"high\",\"key\":\"$1\"}" \
    "$B/hooks/generic"
}
pids=()
for s in $(seq -f 'a-%g' 1 12) b-1 b-2; do alert "$s" >> codes.txt & pids+=($!); done
wait "${pids[@]}"
[ "$(grep -c '^201$' codes.txt)" = 14 ] || t_fail "alerts not all accepted: $(sort codes.txt | uniq -c | tr '\n' ' ')"

# own parents: top-level messages starting "#<id> "; summaries start "*Alert storm:*"
parents_in() { top_messages "$1" | jq '[.[] | select(.text | test("^#[0-9]+ "))]'; }
n_parents() { parents_in "$1" | jq length; }
all_in() { [ "$(n_parents $TA)" -ge 12 ] && [ "$(n_parents $CH)" -ge 2 ]; }
t_wait "every incident's own parent message" all_in
[ "$(n_parents $TA)" = 12 ] || t_fail "#team-a has $(n_parents $TA) parents, want 12"
[ "$(n_parents $CH)" = 2 ] || t_fail "#incidents has $(n_parents $CH) parents, want 2"
parents_in $TA | jq -e 'all(.[]; .text | test("\\(high, a-[0-9]+\\)"))' >/dev/null ||
  t_fail "a parent in #team-a is not an a-* incident: $(parents_in $TA | jq -c '[.[].text]')"
parents_in $CH | jq -e 'all(.[]; .text | test("\\(high, b-[0-9]\\)"))' >/dev/null ||
  t_fail "a parent in #incidents is not a b-* incident"

top_messages $TA > ta.json
jq '[.[] | select(.text | startswith("*Alert storm:*"))]' ta.json > sums.json
[ "$(jq length sums.json)" -ge 1 ] || t_fail "no storm summary in #team-a: $(jq -c '[.[].text]' ta.json)"
# every listed line is an incident of this channel, with its command, once
jq -r '.[].text | split("\n")[] | select(startswith("#"))' sums.json > listed.txt
[ -s listed.txt ] || t_fail "the summary lists no incident"
grep -vqE '^#([0-9]+) a-[0-9]+ errors \(high, a-[0-9]+\): .*`/incident status \1`$' listed.txt &&
  t_fail "a summary line is not '#id title (severity, service): state /incident status id': $(cat listed.txt)"
dups=$(cut -d' ' -f1 listed.txt | sort | uniq -d)
[ -z "$dups" ] || t_fail "incidents listed twice: $dups"
# a listed incident was shown before its own parent message came
first=$(jq -r '.[0].ts' sums.json)
id=$(head -n1 listed.txt | cut -d' ' -f1)
pts=$(jq -r --arg id "$id " '[.[] | select(.text | startswith($id))][0].ts' ta.json)
awk -v a="$first" -v b="$pts" 'BEGIN { exit !(a < b) }' ||
  t_fail "summary ($first) came after the parent of $id ($pts)"
[ "$(grep -c 'Alert storm' <(top_messages $CH))" = 0 ] || t_fail "a summary in #incidents (2 incidents fit its burst)"
echo "summaries $(jq length sums.json), listed $(wc -l < listed.txt) of 12"
echo ok
