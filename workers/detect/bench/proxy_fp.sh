#!/usr/bin/env bash
# proxy_fp.sh: false alarms per 10,000 points of opsbot-detect score on the
# synthetic series of proxy_gen.py (after NAB's probation of min(15%, 750)
# rows), at threshold THETA with detector overrides PARAMS.
# Usage: bash workers/detect/bench/proxy_fp.sh DIR THETA [PARAMS]
set -eu
dir=$1 theta=$2 params=${3:-}
bin=${B:-build}/bin/opsbot-detect
for f in "$dir"/*.csv; do
  if [ -n "$params" ]; then "$bin" score -p "$params" "$f"; else "$bin" score "$f"; fi |
    awk -F, -v t="$theta" -v name="$(basename "$f")" '
      NR > 1 { n++; s[n] = $3 }
      END { p = int(0.15 * n); if (p > 750) p = 750
            for (i = p + 1; i <= n; i++) if (s[i] >= t) a++
            printf "%s %d alarms in %d points\n", name, a, n - p }'
done | awk '{ print; a += $2; n += $5 } END { printf "total %d alarms, %.1f per 10k points\n", a, 1e4 * a / n }'
