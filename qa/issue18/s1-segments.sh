#!/usr/bin/env bash
# Scenario 1: one run of mix.yaml vs 3 segments + volley merge (all outputs).
# Usage: s1-segments.sh OUTDIR   (needs V=installed volley, nginx on 18441)
set -u
V=${V:-/tmp/qa18-prefix/bin/volley}
O=${1:?outdir}; mkdir -p "$O"
cd "$(dirname "$0")"
timeout 60 "$V" run --quiet --seed 7 -e RUN=single --summary-by name \
  --result "$O/single.ndjson" --summary-export "$O/single-export.json" mix.yaml >"$O/single.log" 2>&1
echo "single rc=$?"
start=$(date -u -d '+4 seconds' +%Y-%m-%dT%H:%M:%SZ)
for i in 0 1 2; do
  timeout 60 "$V" run --quiet --seed 7 -e RUN=seg --summary-by name \
    --execution-segment "$i/3:$((i + 1))/3" --execution-segment-sequence 0,1/3,2/3,1 \
    --start-at "$start" --result "$O/r$i.ndjson" --summary-export "$O/export-$i.json" \
    mix.yaml >"$O/i$i.log" 2>&1 &
  eval "p$i=$!"
done
for i in 0 1 2; do eval "wait \$p$i"; echo "instance $i rc=$?"; done
timeout 60 "$V" merge --summary-export "$O/m-export.json" --summary-json "$O/m-data.json" \
  --out "junit=$O/m-junit.xml" --report "$O/m-report.html" --result "$O/merged.ndjson" \
  "$O"/r0.ndjson "$O"/r1.ndjson "$O"/r2.ndjson >"$O/merge.log" 2>&1
echo "merge rc=$?"
