#!/usr/bin/env bash
# The ThreadSanitizer stage of tools/test: runs tests/tsan/mixed.yaml (http
# on the fast path and on libcurl, ws sessions, setup/teardown, two
# workers, json-out, thresholds with abort_on_fail) with a volley built with
# -DVOLLEY_TSAN=ON against a loopback nginx (tests/nginx) and the test
# WebSocket server (tests/ws/wsserver.py), twice: to its end (exit 0, every
# threshold passed, json-out's points agreeing with the summary's counts)
# and stopped by SIGINT in the middle (exit 105). Any ThreadSanitizer report
# fails the stage: TSan's exit code 66, and its report on stderr is checked
# for too.
#   tests/tsan/run.sh [BUILD_DIR]        (default build-tsan)
# Bounded: each run is killed after 60 s; the whole takes about 10 s.
# (timeout --foreground: otherwise timeout passes SIGINT on to its process
# group as well, and volley, interrupted twice, exits at once.)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE="$(cd "$HERE/../.." && pwd)"
BUILD="$(cd "${1:-$SOURCE/build-tsan}" && pwd)"
VOLLEY="$BUILD/volley"
[ -x "$VOLLEY" ] || { echo "tests/tsan/run.sh: no $VOLLEY (tools/test builds it)" >&2; exit 1; }
grep -qa __tsan_init "$VOLLEY" || { echo "tests/tsan/run.sh: $VOLLEY is not a -DVOLLEY_TSAN=ON build" >&2; exit 1; }

WORK="$(mktemp -d /tmp/volley-tsan.XXXXXX)"
WS_PID=""
cleanup() {
    set +e
    if [ -n "$WS_PID" ]; then kill "$WS_PID" 2>/dev/null; wait "$WS_PID" 2>/dev/null; fi
    "$SOURCE/tests/nginx/stop.sh" "$WORK/nginx" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT="$(free_port)"; WS_PORT="$(free_port)"
"$SOURCE/tests/nginx/start.sh" "$HTTP_PORT" "$WORK/nginx" >/dev/null
python3 "$SOURCE/tests/ws/wsserver.py" "$WS_PORT" >"$WORK/ws.log" 2>&1 &
WS_PID=$!
for _ in $(seq 1 50); do grep -q '^ready' "$WORK/ws.log" && break; sleep 0.1; done
grep -q '^ready' "$WORK/ws.log" || { echo "wsserver did not start:" >&2; cat "$WORK/ws.log" >&2; exit 1; }

# Every report is fatal; history_size 4 keeps the second stack of a race
# (the earlier access) for reports of a longer run.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 history_size=4 second_deadlock_stack=1"
unset VOLLEY_PLUGIN_PATH
# Newer kernels with more mmap randomness (vm.mmap_rnd_bits > 28) break
# the TSan runtimes of GCC 12 and clang 14 ("unexpected memory mapping");
# then the runs go without address randomization.
RUN=()
if ! "$VOLLEY" --version >/dev/null 2>"$WORK/probe.txt"; then
    if grep -q "unexpected memory mapping" "$WORK/probe.txt"; then
        RUN=(setarch "$(uname -m)" -R)
        echo "tsan: running under setarch -R (TSan cannot map its shadow with this kernel's ASLR)"
    else
        cat "$WORK/probe.txt" >&2; exit 1
    fi
fi

ARGS=(--workers 2 -e "HTTP_URL=http://127.0.0.1:$HTTP_PORT" -e "WS_URL=ws://127.0.0.1:$WS_PORT")

no_report() {   # FILE: fail on any sanitizer report in a run's stderr
    if grep -q "ThreadSanitizer" "$1"; then
        echo "tsan: ThreadSanitizer reported (stderr of the run follows)" >&2
        cat "$1" >&2
        exit 1
    fi
}

echo "-- tsan: mixed http+ws spec, 2 workers, json-out, thresholds"
t0=$SECONDS
rc=0
timeout --foreground -s KILL 60 "${RUN[@]}" "$VOLLEY" run -q "${ARGS[@]}" --out "json-out=$WORK/points.ndjson" \
    --result "$WORK/result.ndjson" --summary-export "$WORK/summary.json" "$HERE/mixed.yaml" >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
no_report "$WORK/err.txt"
if [ "$rc" != 0 ]; then
    echo "tsan: volley exited $rc, expected 0" >&2
    cat "$WORK/out.txt" "$WORK/err.txt" >&2
    exit 1
fi
# The hand-off from two workers to the main thread and to json-out's
# thread lost nothing: the same counts in both, and every threshold passed.
python3 - "$WORK/summary.json" "$WORK/points.ndjson" "$WORK/result.ndjson" <<'EOF'
import collections, json, sys
m = json.load(open(sys.argv[1]))["metrics"]
# --result: the windows the main thread cut add up to the summary's counts
lines = [json.loads(l) for l in open(sys.argv[3])]
ids = {s["key"]: str(s["id"]) for s in lines[0]["series"]}
windows = [l for l in lines if l["type"] == "window"]
points = collections.Counter()
for line in open(sys.argv[2]):
    d = json.loads(line)
    if d.get("type") == "Point":
        points[d["metric"]] += 1
bad = []
for name in ("http_reqs", "iterations", "ws_sessions", "ws_msgs_sent", "ws_msgs_received", "echoed"):
    if points[name] != m[name]["count"]:
        bad.append("%s: %d points in json-out, %d in the summary" % (name, points[name], m[name]["count"]))
for name in ("checks", "http_req_failed", "step_ok", "ws_session_failed"):
    if points[name] != m[name]["passes"] + m[name]["fails"]:
        bad.append("%s: %d points in json-out, %d in the summary" % (
            name, points[name], m[name]["passes"] + m[name]["fails"]))
failed = [(k, t) for k, v in m.items() for t, f in v.get("thresholds", {}).items() if f]
if failed:
    bad.append("thresholds failed: %r" % failed)
for name in ("http_reqs", "ws_sessions"):
    n = sum(w["s"].get(ids[name], {}).get("sum", 0) for w in windows)
    if n != m[name]["count"]:
        bad.append("%s: %d in --result's windows, %d in the summary" % (name, n, m[name]["count"]))
if m["http_reqs"]["count"] < 500 or m["ws_sessions"]["count"] < 12:
    bad.append("too little traffic: %d requests, %d ws sessions" % (
        m["http_reqs"]["count"], m["ws_sessions"]["count"]))
if bad:
    sys.exit("tsan: " + "; ".join(bad))
print("   %d requests, %d ws sessions, %d json-out points, no TSan report" % (
    m["http_reqs"]["count"], m["ws_sessions"]["count"], sum(points.values())))
EOF
echo "   (${SECONDS}s so far, run took $((SECONDS - t0))s)"

echo "-- tsan: the same spec stopped by SIGINT mid-run"
rc=0
timeout --foreground -s KILL 60 "${RUN[@]}" "$VOLLEY" run -q "${ARGS[@]}" --out "json-out=$WORK/sigint.ndjson" \
    --summary-export "$WORK/sigint.json" "$HERE/mixed.yaml" >"$WORK/out2.txt" 2>"$WORK/err2.txt" &
pid=$!
sleep 1.5
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || rc=$?
no_report "$WORK/err2.txt"
if [ "$rc" != 105 ] || [ ! -s "$WORK/sigint.json" ] || [ ! -s "$WORK/sigint.ndjson" ]; then
    echo "tsan: SIGINT run exited $rc (expected 105 with the summary and json-out written)" >&2
    cat "$WORK/out2.txt" "$WORK/err2.txt" >&2
    exit 1
fi
echo "   exit 105, summary and json-out written, no TSan report"
echo "tsan: passed in ${SECONDS}s"
