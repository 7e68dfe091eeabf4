#!/usr/bin/env bash
# score_speed.sh: `make bench BENCH=score` -- opsbot-detect score end to end
# (read, detect, write) on a generated 1,000,000-row series of NAB's shape
# ("YYYY-MM-DD HH:MM:SS,value", values with 3 decimals or full precision),
# so every part runs with full 4096-point windows.  CPU time (user + sys) of
# 5 runs; prints the median as rows per second per core.
# Usage: score_speed.sh BIN_DIR
set -eu
bin=${1:-build/bin}/opsbot-detect
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
rows=1000000
awk -v n=$rows 'BEGIN {
  srand(7); print "timestamp,value"; t = 1388534400
  for (i = 0; i < n; i++) {
    u = rand(); w = rand(); g = sqrt(-2 * log(u + 1e-12)) * cos(6.283185307 * w)
    v = 50 + 10 * g + (i % 50000 == 0 ? 200 : 0)
    s = strftime("%Y-%m-%d %H:%M:%S", t + 300 * i, 1)
    if (i % 3) printf "%s,%.3f\n", s, v; else printf "%s,%.15g\n", s, v
  } }' > "$dir/in.csv"
TIMEFORMAT='%3U %3S'
runs=()
for k in 1 2 3 4 5; do
  t=$( { time "$bin" score "$dir/in.csv" > "$dir/out.csv"; } 2>&1 )
  runs+=("$(awk '{ print $1 + $2 }' <<< "$t")")
  [ "$(wc -l < "$dir/out.csv")" = $((rows + 1)) ] || { echo "score_speed: short output" >&2; exit 1; }
done
med=$(printf '%s\n' "${runs[@]}" | sort -g | sed -n 3p)
awk -v r=$rows -v m="$med" -v all="${runs[*]}" 'BEGIN {
  gsub(/ /, ",", all)
  printf "{\"bench\":\"score\",\"rows\":%d,\"cpu_s_median\":%.3f,\"rows_per_s\":%d,\"cpu_s_runs\":[%s]}\n", r, m, r / m, all }'
