#!/usr/bin/env python3
"""conf_merge.py: opsbot config files, merged into one, for the benchmarks.

    conf_merge.py [--drop SECTION]... FILE... < OVERRIDES

Prints the files one after another with every section once (opsbot's
config refuses a section that appears again): a key set again replaces the
earlier line in place, a new key goes at the end of its section, a new
section at the end.  A key that repeats within one input (a list, like
[slack] route) keeps every line: the input's lines replace the earlier
file's lines of that key.  OVERRIDES (stdin, same format) is merged last.
--drop leaves a section of the files out (the caller writes its own).
Comments and blank lines of the files are kept, so the result reads like
the shipped file with the benchmark's changes.
"""
import re
import sys

SEC = re.compile(r"^\s*\[([^\]]+)\]\s*$")
KEY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=")


def main():
    args = sys.argv[1:]
    drop = set()
    files = []
    while args:
        a = args.pop(0)
        if a == "--drop":
            drop.add(args.pop(0))
        else:
            files.append(a)
    order = []  # section names in first-seen order ("" = before any header)
    lines = {"": []}  # section -> list of lines (the header excluded)
    where = {}  # (section, key) -> index in lines[section]

    def feed(text, dropping):
        sec = ""
        mine = set()  # (section, key) set by this input
        for raw in text.splitlines():
            m = SEC.match(raw)
            if m:
                sec = " ".join(m.group(1).split())
                if sec in dropping:
                    continue
                if sec not in lines:
                    lines[sec] = []
                    order.append(sec)
                continue
            if sec in dropping:
                continue
            k = KEY.match(raw)
            key = (sec, k.group(1)) if k else None
            if key and key in where and key not in mine:
                lines[sec][where[key]] = raw
                mine.add(key)
                continue
            if key and key in mine:
                at = where[key] + 1
                for other, idx in where.items():
                    if other[0] == sec and idx >= at:
                        where[other] = idx + 1
                where[key] = at
                lines[sec].insert(at, raw)
                continue
            if key:
                where[key] = len(lines[sec])
                mine.add(key)
            lines[sec].append(raw)

    for f in files:
        with open(f) as fh:
            feed(fh.read(), drop)
    feed(sys.stdin.read(), set())
    out = list(lines[""])
    for sec in order:
        body = lines[sec]
        while body and not body[-1].strip():
            body.pop()
        out.append("[%s]" % sec)
        out.extend(body)
        out.append("")
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
