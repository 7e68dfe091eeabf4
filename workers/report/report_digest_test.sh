#!/usr/bin/env bash
# report_digest_test.sh: the digest schedule across restarts.  With 1-second
# "hourly" periods: each ended period gets exactly one digest job; periods
# that end while opsbot-report is stopped are queued when it is back (no gap,
# no duplicate); each digest job renders its PDF.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
t_setup
cat > opsbot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
[report]
dir = $T/var/reports
db = $T/var/report.db
templates = $REPO/templates/email
digests = hourly
hourly_length = 1s
digest_check = 100ms
claim_wait = 200ms
CONF
t_start queue opsbot-queue -c opsbot.conf
t_wait "queue answers" opsbotctl -c opsbot.conf incidents
t_start report opsbot-report -c opsbot.conf
# period starts (epoch seconds) of the digest PDFs written, sorted
froms() {
  ls var/reports 2>/dev/null | sed -n 's/^digest-hourly-\([0-9]\{8\}\)T\([0-9]\{6\}\)Z\.pdf$/\1 \2/p' |
    while read -r d t; do date -u -d "$d ${t:0:2}:${t:2:2}:${t:4:2}" +%s; done | sort -n
}
njobs() {
  wirecat "ipc://$T/var/run/q.ipc" '{"v":1,"type":"query","id":"q","what":"jobs","limit":10000}' |
    jq '[.items[] | select(.kind == "digest")] | length'
}
t_wait "three digests" eval '[ "$(froms | wc -l)" -ge 3 ]'
kill -TERM "$PID_report"; wait "$PID_report" 2>/dev/null
before=$(froms | tail -1)
jobs_before=$(njobs)
now_ms() { date +%s%3N; }
stopped=$(now_ms)
t_wait "3 periods pass with the worker stopped" eval '[ $(( $(now_ms) - stopped )) -ge 3100 ]'
[ "$(njobs)" = "$jobs_before" ] || t_fail "digests were queued while the worker was stopped"
t_start report2 opsbot-report -c opsbot.conf
t_wait "the missed periods are queued and rendered" eval '[ "$(froms | tail -1)" -ge $((before + 4)) ]'
froms > f.txt
awk 'NR > 1 && $1 != prev + 1 { print "gap or duplicate: " prev " -> " $1; bad = 1 } { prev = $1 } END { exit bad }' f.txt ||
  t_fail "digest periods are not contiguous: $(tr '\n' ' ' < f.txt)"
t_wait "every digest job done" eval '[ "$(njobs)" -le "$(froms | wc -l)" ]'
[ "$(njobs)" -ge "$(wc -l < f.txt)" ] || t_fail "$(njobs) digest jobs for $(wc -l < f.txt) PDFs"
pdftotext "var/reports/$(ls var/reports | grep '^digest-hourly-' | head -1)" - | grep -q "opsbot hourly digest" ||
  t_fail "a digest PDF lacks its title"
echo "ok: report digest schedule"
