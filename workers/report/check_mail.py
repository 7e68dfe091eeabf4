#!/usr/bin/python3
"""check_mail.py EML [--subject S] [--to ADDR] [--pdf-text T ...] [--text T ...]

Parses one stored message with Python's email package and checks its
structure: multipart/mixed holding multipart/alternative (text/plain then
text/html) and, when --pdf-text is given, an application/pdf attachment
whose pdftotext output contains every given text.  Checks Date (parses, has
a zone), Message-ID (<local@domain>), MIME-Version, the decoded Subject and
To.  Prints the Message-ID; exit 1 with the reason on the first mismatch.
"""
import argparse
import email
import email.policy
import email.utils
import os
import re
import subprocess
import sys
import tempfile


def fail(why):
    print("check_mail: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("eml")
    ap.add_argument("--subject")
    ap.add_argument("--subject-has", action="append", default=[])
    ap.add_argument("--to")
    ap.add_argument("--pdf-text", action="append", default=[])
    ap.add_argument("--text", action="append", default=[])
    ap.add_argument("--html", action="append", default=[])
    a = ap.parse_args()
    raw = open(a.eml, "rb").read()
    if b"\r\n" not in raw and b"\n" in raw:
        pass  # the server may normalise line ends
    m = email.message_from_bytes(raw, policy=email.policy.default)
    if m.get_content_type() != "multipart/mixed":
        fail("top type %s, want multipart/mixed" % m.get_content_type())
    for h in ("Date", "From", "To", "Subject", "Message-ID", "MIME-Version"):
        if m[h] is None:
            fail("no %s header" % h)
    d = email.utils.parsedate_to_datetime(str(m["Date"]))
    if d is None or d.tzinfo is None:
        fail("Date %r does not parse with a zone" % m["Date"])
    mid = str(m["Message-ID"]).strip()
    if not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mid):
        fail("Message-ID %r is not <local@domain>" % mid)
    raw_subject = raw.split(b"\r\n\r\n", 1)[0]
    for line in raw_subject.split(b"\r\n"):
        if any(c >= 0x80 for c in line):
            fail("a header line has raw 8-bit bytes: %r" % line[:80])
        if len(line) > 998:
            fail("a header line is longer than 998 characters")
    subj = str(m["Subject"])
    if a.subject is not None and subj != a.subject:
        fail("Subject %r, want %r" % (subj, a.subject))
    for s in a.subject_has:
        if s not in subj:
            fail("Subject %r lacks %r" % (subj, s))
    if a.to and a.to not in str(m["To"]):
        fail("To %r lacks %r" % (str(m["To"]), a.to))
    parts = list(m.iter_parts())
    alt = parts[0]
    if alt.get_content_type() != "multipart/alternative":
        fail("first part %s, want multipart/alternative" % alt.get_content_type())
    ap_ = list(alt.iter_parts())
    types = [p.get_content_type() for p in ap_]
    if types != ["text/plain", "text/html"]:
        fail("alternative parts %s, want text/plain, text/html" % types)
    text = ap_[0].get_content()
    html = ap_[1].get_content()
    for t in a.text:
        if t not in text:
            fail("text/plain lacks %r:\n%s" % (t, text))
    for t in a.html:
        if t not in html:
            fail("text/html lacks %r" % t)
    if a.pdf_text:
        if len(parts) != 2:
            fail("%d top parts, want 2 (alternative + PDF)" % len(parts))
        att = parts[1]
        if att.get_content_type() != "application/pdf":
            fail("attachment %s, want application/pdf" % att.get_content_type())
        if att.get_content_disposition() != "attachment" or not att.get_filename():
            fail("the PDF is not an attachment with a file name")
        data = att.get_content()
        if not data.startswith(b"%PDF-"):
            fail("attachment does not decode to a PDF")
        with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
            f.write(data)
            f.flush()
            out = subprocess.run(["pdftotext", "-layout", f.name, "-"], capture_output=True,
                                 check=True).stdout.decode()
        flat = " ".join(out.split())
        for t in a.pdf_text:
            if " ".join(t.split()) not in flat:
                fail("PDF text lacks %r" % t)
    print(mid)


if __name__ == "__main__":
    main()
