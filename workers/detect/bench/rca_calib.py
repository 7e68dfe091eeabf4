#!/usr/bin/env python3
# rca_calib.py: fit the root-cause confidence (a logistic map of the top
# service's votes s1, its margin over the runner-up s2 and the number of
# services n) on the bench's cases, leaving one data set out at a time, and
# print the held-out calibration.  Input: the stderr of
#   OPSBOT_RCA_VERBOSE=1 build/bench/detect_rca ../shared/datasets
# Usage: python3 workers/detect/bench/rca_calib.py var/rca_cases.txt
import math
import re
import sys

rows = []
for line in open(sys.argv[1]):
    m = re.search(r'^(\S+).*rank=(\d+).*s1=([\d.]+) s2=([\d.]+) sum=([\d.]+) n=(\d+)', line)
    if m:
        rows.append((m.group(1), int(m.group(2)) == 1, float(m.group(3)), float(m.group(4)),
                     int(m.group(6))))


def feats(s1, s2, n):
    return [1.0, s1, math.log((s1 + 0.05) / (s2 + 0.05)), math.log(max(n, 2))]


def fit(data, iters=4000, lr=0.1, l2=0.01):
    w = [0.0] * 4
    for _ in range(iters):
        g = [0.0] * 4
        for _, y, s1, s2, n in data:
            x = feats(s1, s2, n)
            p = 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, x))))
            for i in range(4):
                g[i] += (p - y) * x[i]
        for i in range(4):
            w[i] -= lr * (g[i] / len(data) + l2 * w[i])
    return w


def pred(w, s1, s2, n):
    return 1 / (1 + math.exp(-sum(a * b for a, b in zip(w, feats(s1, s2, n)))))


def report(name, w, test):
    b = {}
    for _, y, s1, s2, n in test:
        k = min(int(pred(w, s1, s2, n) * 5), 4)
        b.setdefault(k, [0, 0])
        b[k][0] += 1
        b[k][1] += y
    hi = [y for _, y, s1, s2, n in test if pred(w, s1, s2, n) >= 0.8]
    print('%-28s w=%s buckets %s conf>=0.8: %d cases, %s right' % (
        name, ['%.3f' % x for x in w],
        {'%.1f' % (k / 5): (v[0], round(v[1] / v[0], 2)) for k, v in sorted(b.items())},
        len(hi), '%.2f' % (sum(hi) / len(hi)) if hi else '-'))


sets = sorted(set(r[0] for r in rows))
report('in-sample (all)', fit(rows), rows)
for ho in sets:
    report('held out ' + ho, fit([r for r in rows if r[0] != ho]), [r for r in rows if r[0] == ho])
