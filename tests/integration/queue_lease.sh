#!/usr/bin/env bash
# queue_lease.sh: a worker that claims and dies without completing; after its
# lease expires the job is claimed again and completes exactly once.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
t_setup
. "$HERE/queue_common.sh"
q_config "lease = 400ms" "max_attempts = 3"
q_start

job=$(jget "$(q '{"type":"submit","what":"job","job":{"kind":"work"}}')" 'd["job"]')
# The doomed worker: a separate process that claims, then is killed with SIGKILL.
cat >"$T/doomed.sh" <<EOS
wirecat '$Q_URL' '{"type":"claim","kinds":["work"],"worker":"doomed","wait_ms":2000}' >'$T/doomed.json'
sleep 60
EOS
bash "$T/doomed.sh" & doomed=$!
t_wait "doomed worker claimed" grep -q '"lease"' "$T/doomed.json"
kill -KILL $doomed
old=$(jget "$(cat "$T/doomed.json")" 'd["job"]["lease"]')

# The job comes back after the lease: a second worker gets it, attempt 2.
r=$(wirecat -t 20000 "$Q_URL" '{"type":"claim","kinds":["work"],"worker":"second","wait_ms":15000,"lease_ms":20000}')
[ "$(jget "$r" 'd["job"]["id"]')" = "$job" ] || t_fail "re-claim: got $r, want job $job"
[ "$(jget "$r" 'd["job"]["attempt"]')" = 2 ] || t_fail "re-claim: got $r, want attempt 2"
new=$(jget "$r" 'd["job"]["lease"]')

# The dead worker's lease is refused; the live one completes; a repeat is a duplicate.
r=$(q "{\"type\":\"complete\",\"job\":$job,\"lease\":\"$old\",\"result\":{\"by\":\"doomed\"}}")
[ $? -eq 1 ] && echo "$r" | grep -q lease_lost || t_fail "stale complete: got $r, want lease_lost"
q "{\"type\":\"complete\",\"job\":$job,\"lease\":\"$new\",\"result\":{\"by\":\"second\"}}" >/dev/null || t_fail "complete failed"
r=$(q "{\"type\":\"complete\",\"job\":$job,\"lease\":\"$new\",\"result\":{\"by\":\"second\"}}")
[ "$(jget "$r" 'd["duplicate"]')" = True ] || t_fail "repeat: got $r, want duplicate"

r=$(q '{"type":"query","what":"jobs","state":"done"}')
[ "$(jget "$r" 'len(d["items"])')" = 1 ] || t_fail "done jobs: got $r, want exactly 1"
r=$(q '{"type":"query","what":"stats"}')
[ "$(jget "$r" 'd["stats"]["leases"]')" = 0 ] || t_fail "leases: got $r, want 0"
echo "ok: lease expiry re-delivers, completes once"
