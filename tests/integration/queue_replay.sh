#!/usr/bin/env bash
# queue_replay.sh: a subscriber that was not listening catches up with
# query what:"events" since:N, and the replay matches what PUB sends.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
t_setup
. "$HERE/queue_common.sh"
q_config
q_start

# Events happen while nobody listens.
for i in 1 2 3; do
  q "{\"type\":\"submit\",\"what\":\"incident\",\"spec\":{\"title\":\"t$i\",\"service\":\"api\",\"severity\":\"low\",\"source\":\"cli\"}}" >/dev/null
done
r=$(q '{"type":"query","what":"events","since":0}')
n=$(jget "$r" 'len(d["items"])')
[ "$n" = 6 ] || t_fail "replay: got $n events, want 6 (opened + stage for 3 incidents)"
jget "$r" 'all(b["seq"] > a["seq"] for a, b in zip(d["items"], d["items"][1:]))' | grep -q True ||
  t_fail "replay: seq not strictly increasing: $r"
last=$(jget "$r" 'd["items"][-1]["seq"]')
r=$(q "{\"type\":\"query\",\"what\":\"events\",\"since\":$((last - 2))}")
[ "$(jget "$r" 'len(d["items"])')" = 2 ] || t_fail "since $((last - 2)): got $r, want 2 events"

# A subscriber now listens; the next events arrive on PUB with the next seqs,
# and the same events replayed from the store are identical.
t_start sub wirecat -s -n 50 -t 15000 "$EV_URL"
t_wait "subscriber sees an event" bash -c "
  wirecat '$Q_URL' '{\"type\":\"command\",\"incident\":1,\"action\":\"note\",\"user\":\"U\",\"surface\":\"cli\",\"note\":\"ping\"}' >/dev/null
  grep -q command.recorded '$T/sub.log'"
first=$(head -n 1 "$T/sub.log")
seq=$(jget "$first" 'd["seq"]')
[ "$seq" -gt "$last" ] || t_fail "live seq: got $seq, want > $last"
r=$(q "{\"type\":\"query\",\"what\":\"events\",\"since\":$((seq - 1)),\"limit\":1}")
jget "$r" "d['items'][0] == json.loads(sys.argv[2])" "$first" 2>/dev/null | grep -q True ||
  python3 - "$r" "$first" <<'PY' || t_fail "replayed event differs from the published one"
import json, sys
a = json.loads(sys.argv[1])["items"][0]; b = json.loads(sys.argv[2])
sys.exit(0 if a == b else 1)
PY
echo "ok: events replay after a missed PUB"
