#!/usr/bin/env bash
# report_pdf_test.sh: incident summaries as a reader gets them.
#  - the sample incident in A4 and US Letter: page size, page count, the
#    text of every section (pdftotext), Unicode intact, page numbers;
#  - every page rendered (pdftoppm): none empty, no ink in the side margins
#    (nothing runs past the text width);
#  - a 200-event incident: more pages, still numbered "page N of M";
#  - missing data is said plainly (no execution, no metric samples);
#  - opsbotctl report ID --pdf for an incident that is still open, from a
#    real queue; an unknown incident is a clear error.
. "$(dirname "$0")/../../tests/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
t_setup

cat > opsbot.conf <<CONF
[queue]
listen = ipc://$T/var/run/q.ipc
events = ipc://$T/var/run/ev.ipc
db = $T/var/opsbot.db
[pipeline]
stages = detect report
[report]
dir = $T/var/reports
db = $T/var/report.db
templates = $REPO/templates/email
CONF
R() { opsbot-report -c opsbot.conf "$@"; }

# pages_ok PDF: every page renders, has ink, and none in the outer margins.
pages_ok() {
  local pdf=$1 n
  n=$(pdfinfo "$pdf" | awk '/^Pages:/ {print $2}')
  rm -rf png && mkdir png
  pdftoppm -gray -r 36 "$pdf" png/p || t_fail "pdftoppm $pdf"
  [ "$(ls png | wc -l)" = "$n" ] || t_fail "$pdf: $(ls png | wc -l) pages rendered, want $n"
  /usr/bin/python3 - "$pdf" png/*.pgm <<'PY' || t_fail "$pdf: page check failed"
import sys
def pgm(path):
    d = open(path, "rb").read()
    parts = d.split(maxsplit=4)
    assert parts[0] == b"P5"
    w, h = int(parts[1]), int(parts[2])
    return w, h, parts[4][: w * h]
for p in sys.argv[2:]:
    w, h, px = pgm(p)
    dark = sum(1 for b in px if b < 200)
    if dark < 200:
        sys.exit("%s: page is (nearly) empty: %d dark pixels" % (p, dark))
    m = int(w * 36 / 612)  # 36 pt of the 54 pt margin, on both sides
    for y in range(h):
        row = px[y * w:(y + 1) * w]
        if any(b < 160 for b in row[:m]) or any(b < 160 for b in row[w - m:]):
            sys.exit("%s: ink in the side margin at row %d of %d (overflow)" % (p, y, h))
PY
}

# --- the sample incident, A4 and Letter ---
R render "$REPO/tests/data/report/incident.json" --out a4.pdf --now 2025-12-03T09:45:00Z >r.out ||
  t_fail "render: $(cat r.out)"
R render "$REPO/tests/data/report/incident.json" --out letter.pdf --paper letter \
  --now 2025-12-03T09:45:00Z >/dev/null || t_fail "render letter"
pdfinfo a4.pdf | grep -q 'Page size: *595.* x 841.* pts (A4)' || t_fail "a4.pdf: $(pdfinfo a4.pdf | grep 'Page size')"
pdfinfo letter.pdf | grep -q 'Page size: *612 x 792 pts (letter)' || t_fail "letter.pdf: $(pdfinfo letter.pdf | grep 'Page size')"
pdfinfo a4.pdf | grep -q '^Title: *Incident 12: Checkout p99' || t_fail "no PDF title"
for f in a4.pdf letter.pdf; do
  pdftotext -layout "$f" "$f.txt"
  tr -s ' \n' '  ' < "$f.txt" > "$f.flat"
  for want in "Incident 12: Checkout p99 latency above 2s — Kasse langsam" \
    "severity: high" "state: resolved" "time to detect 20.0 s" "time to resolve 11 min 0 s" \
    "by U0BOB (Bob Müller) via slack" "checkout_latency_p99_ms (ms)" "payment_errors (errors/s)" \
    "time (UTC, 2025-12-03)" "anomaly" "Root-cause ranking" "payment 71%" "Runbooks cited" \
    "payment-errors.md" "Zahlungsanbieter timeouts (déjà vu)" "Plan and approval" \
    "restart_service" "1. restart_service service=payment namespace=prod → ok, took 42.0 s" \
    "more line(s) not shown" "Verification" "verified: checkout p99 back under 2s" \
    "LLM usage" "prompt tokens 2841" "latency 1840 ms" "Timeline" "→ executing" \
    "日本語のユーザーも" "page 1 of" ; do
    grep -qF -- "$want" "$f.flat" || t_fail "$f: text lacks '$want'"
  done
  n=$(pdfinfo "$f" | awk '/^Pages:/ {print $2}')
  grep -qF "page $n of $n" "$f.flat" || t_fail "$f: no 'page $n of $n'"
  pages_ok "$f"
done

# --- a long incident (200 events) ---
/usr/bin/python3 - "$REPO/tests/data/report/incident.json" long.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t0 = d["incident"]["created_ms"]
for i in range(200):
    d["timeline"].append({"seq": 100 + i, "incident": 12, "name": "command.recorded", "at_ms": t0 + i * 3000,
        "data": {"user": "U0CAROL", "surface": "slack", "action": "note",
                 "note": "note %d: " % i + "checked the dashboards again; still elevated " * (1 + i % 4)}})
json.dump(d, open(sys.argv[2], "w"))
PY
R render long.json --out long.pdf >/dev/null || t_fail "render long"
n=$(pdfinfo long.pdf | awk '/^Pages:/ {print $2}')
[ "$n" -ge 8 ] || t_fail "long.pdf has $n pages, want >= 8"
pdftotext long.pdf - | tr -s ' \n' '  ' | grep -qF "page $n of $n" || t_fail "long.pdf: no 'page $n of $n'"
pdftotext long.pdf - | grep -qF "note 199:" || t_fail "long.pdf: the last event is missing"
pages_ok long.pdf

# --- missing data, said plainly ---
R render "$REPO/tests/data/report/open.json" --out open.pdf --now 2025-12-03T09:40:00Z >/dev/null ||
  t_fail "render open"
pdftotext -layout open.pdf - | tr -s ' \n' '  ' > open.flat
for want in "This incident is still open (state awaiting_approval)" "No metric samples are stored with this incident" \
  "No action output: no action has run yet." "not verified yet" "needed; nobody has approved yet" "Resolved not yet"; do
  grep -qF -- "$want" open.flat || t_fail "open.pdf lacks '$want'"
done
pages_ok open.pdf

# --- from a real queue: an open incident, by opsbotctl ---
t_start queue opsbot-queue -c opsbot.conf
ctl() { opsbotctl -c opsbot.conf "$@"; }
t_wait "queue answers" ctl incidents
ctl submit --service checkout --severity high --title "Checkout errors ✗ mid-incident" >/dev/null
ctl report 1 --pdf handover.pdf --paper letter >h.out 2>&1 || t_fail "opsbotctl report: $(cat h.out)"
grep -q "handover.pdf: [0-9]* page" h.out || t_fail "report output: $(cat h.out)"
pdfinfo handover.pdf | grep -q '612 x 792' || t_fail "handover.pdf is not US Letter"
pdftotext -layout handover.pdf - | tr -s ' \n' '  ' > h.flat
for want in "Incident 1: Checkout errors ✗" "still open (state detecting)" \
  "Detection has not finished yet." "No plan has been proposed yet." "open → detecting"; do
  grep -qF -- "$want" h.flat || t_fail "handover.pdf lacks '$want'"
done
pages_ok handover.pdf
ctl report 99 --pdf nope.pdf >n.out 2>&1 && t_fail "report of a missing incident succeeded"
grep -q "incident 99" n.out || t_fail "missing incident: $(cat n.out)"
[ ! -e nope.pdf ] || t_fail "a PDF was written for a missing incident"
ctl report 1 >u.out 2>&1; [ $? = 2 ] || t_fail "report without --pdf: want usage (exit 2)"

# --- the digest of this hour: the incident, and an alert repeat that opened none ---
wirecat "ipc://$T/var/run/q.ipc" '{"v":1,"type":"command","id":"n1","incident":1,"action":"note",
  "user":"alertmanager","surface":"alertmanager","note":"still firing","key":"am:t:note:1"}' >note.out ||
  t_fail "note: $(cat note.out)"
jq -e .ok note.out >/dev/null || t_fail "note refused: $(cat note.out)"
next=$(date -u -d '+1 hour' +%Y-%m-%dT%H:00:00Z)
R digest hourly --at "$next" --out digest.pdf >digest.json || t_fail "digest: $(cat digest.json)"
[ "$(jq -c '[(.opened | length), .alerts.repeats, .alerts.by_source[0].name, (.open | length)]' digest.json)" = \
  '[1,1,"alertmanager",1]' ] || t_fail "digest: $(jq -c '{opened, alerts}' digest.json)"
jq -r '.alerts.noisiest[0].name' digest.json | grep -q "Checkout errors" || t_fail "noisiest: $(jq -c .alerts digest.json)"
pdftotext -layout digest.pdf - | tr -s ' \n' '  ' > d.flat
for want in "opsbot hourly digest" "Opened 1" "Still open 1" "Top services" "checkout 1" \
  "Alerts that opened no incident" "Repeats of a known alert 1" "Filtered 0 (below"; do
  grep -qF -- "$want" d.flat || t_fail "digest.pdf lacks '$want'"
done
pages_ok digest.pdf
echo "ok: report pdf"
