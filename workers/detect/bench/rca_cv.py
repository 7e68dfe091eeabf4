#!/usr/bin/env python3
# rca_cv.py: cross-validation over the output of rca_sweep.sh -- for each
# choice of training data sets, the settings with the best AC@1 there (ties
# kept; AC@3 breaks them), and what those settings score on the held-out
# data set (mean, min, max over the ties).
# Usage: python3 workers/detect/bench/rca_cv.py var/rca_sweep.txt
import re
import statistics
import sys

rows = []
for line in open(sys.argv[1]):
    if not line.startswith('rel='):
        continue
    spec, rest = line.split(' ', 1)
    d = {k: (float(a), float(b)) for k, a, b in re.findall(r'(\w+)=([\d.]+)/([\d.]+)', rest)}
    rows.append((spec, d))


def score(r, sets):
    return sum(r[1][k][0] for k in sets) + 0.01 * sum(r[1][k][1] for k in sets)


names = ['sockshop', 'nezha_ob', 'nezha_tt']
print('%d settings' % len(rows))
for test in names:
    others = [n for n in names if n != test]
    for train in [[others[0]], [others[1]], others]:
        best = max(score(r, train) for r in rows)
        ties = [r for r in rows if score(r, train) == best]
        vals = [r[1][test][0] for r in ties]
        print('tune on %-18s test %-9s AC@1 mean %.2f (min %.2f, max %.2f) over %d tied settings, e.g. %s'
              % ('+'.join(train), test, statistics.mean(vals), min(vals), max(vals), len(ties),
                 ties[0][0]))
best = max(rows, key=lambda r: score(r, names))
print('best in sample on all three:', best[0], best[1])
