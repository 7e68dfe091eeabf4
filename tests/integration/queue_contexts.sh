#!/usr/bin/env bash
# queue_contexts.sh: long-polling claims cannot take every context; a submit
# still gets through, and the oldest claims beyond the limit return job:null.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
t_setup
. "$HERE/queue_common.sh"
q_config "contexts = 8"
q_start

pids=()
for i in 1 2 3 4 5 6; do
  wirecat -t 30000 "$Q_URL" '{"type":"claim","kinds":["none"],"worker":"w","wait_ms":25000}' >"$T/claim-$i.json" &
  pids+=($!)
  # one at a time, so "oldest" is well defined
  t_wait "claim $i parked or answered" bash -c "
    [ -s '$T/claim-$i.json' ] || wirecat '$Q_URL' '{\"type\":\"query\",\"what\":\"stats\"}' | grep -Eq '\"parked_claims\":($i|4)'"
done
# 8 contexts keep max(4, 8/8) = 4 free: 4 claims park, the 2 oldest were answered.
r=$(q '{"type":"submit","what":"job","job":{"kind":"other"}}') || t_fail "submit with parked claims: $r"
r=$(q '{"type":"query","what":"stats"}')
[ "$(jget "$r" 'd["stats"]["parked_claims"]')" = 4 ] || t_fail "parked: got $r, want 4"
for i in 1 2; do
  t_wait "claim $i answered" test -s "$T/claim-$i.json"
  grep -q '"job":null' "$T/claim-$i.json" || t_fail "claim $i: got $(cat "$T/claim-$i.json"), want job null"
done
for i in 3 4 5 6; do
  [ -s "$T/claim-$i.json" ] && t_fail "claim $i: answered early: $(cat "$T/claim-$i.json")"
done
kill "${pids[@]}" 2>/dev/null
echo "ok: claims leave contexts free for other requests"
