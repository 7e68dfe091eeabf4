#!/usr/bin/env python3
# rca_metric_ranks.py: on a Nezha fault day, the rank of the faulty service
# in each pod metric taken alone (robust z of its largest deviation in the 4
# minutes after injection against the 5 minutes before, scale floored at 5%
# of the level as rca.c does), and how many cases have the faulty service
# first in at least one metric.  It shows how much the metrics can say at
# all, whatever way a ranker weighs them.  Node-level metrics are left out.
# Usage: python3 workers/detect/bench/rca_metric_ranks.py ../shared/datasets/rca-nezha/2023-01-29
import csv
import datetime
import glob
import json
import math
import os
import statistics
import sys

base = sys.argv[1].rstrip('/')
day = os.path.basename(base)


def utc(text):
    return datetime.datetime.strptime(text[:19], '%Y-%m-%d %H:%M:%S').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def service(pod):
    return '-'.join(pod.split('-')[:-2])


pods, metrics = {}, []
for f in sorted(glob.glob(base + '/metric/*_metric.csv')):
    rows = list(csv.reader(open(f)))
    metrics = rows[0][3:]
    pods[service(rows[1][2])] = [
        (utc(r[0]), [float(x) if x else math.nan for x in r[3:]]) for r in rows[1:]]
faults = sorted((utc(f['inject_time']), service(f['inject_pod']), f['inject_type'])
                for hour in json.load(open('%s/%s-fault_list.json' % (base, day))).values()
                for f in hour)


def window(svc, lo, hi):
    return [v for t, v in pods[svc] if lo <= t < hi]


def z(normal, anom, m):
    n = [x[m] for x in normal if not math.isnan(x[m])]
    a = [x[m] for x in anom if not math.isnan(x[m])]
    if len(n) < 2 or not a:
        return 0.0
    med = statistics.median(n)
    mad = 1.4826 * statistics.median([abs(x - med) for x in n])
    scale = max(mad, 0.05 * abs(med), 1e-4 * max(abs(x) for x in n + a), 1e-9)
    return max(abs(x - med) for x in a) / scale


keep = [m for m in range(len(metrics)) if not metrics[m].startswith('Node')]
first = total = 0
for i, (t, truth, kind) in enumerate(faults):
    lo = max(t - 300, faults[i - 1][0] + 240 if i else 0)
    if t - lo < 120:
        continue  # no clean normal window
    ranks = {}
    for m in keep:
        zs = {s: z(window(s, lo, t), window(s, t, t + 240), m) for s in pods}
        # ties count against the faulty service (a metric flat everywhere says nothing)
        ranks[metrics[m]] = 1 + sum(zs[s] >= zs[truth] for s in zs if s != truth)
    best = min(ranks.values())
    total += 1
    first += best == 1
    print('%-14s %-30s best rank %2d (%s)' % (kind, truth, best,
          ', '.join(k for k, r in ranks.items() if r == best)))
print('%d of %d cases: the faulty service moved most in at least one metric' % (first, total))
