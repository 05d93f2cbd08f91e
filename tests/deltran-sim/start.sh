#!/usr/bin/env bash
# Starts the fixture deltran-sim: start.sh SIM_BINARY PORT_OFFSET RUN_DIR [flags...]
# Waits for its "ready" line; the pid goes to RUN_DIR/sim.pid, its stderr
# to RUN_DIR/sim.log (stop.sh fails the run on a sanitizer report there).
set -euo pipefail
SIM="${1:?sim binary}"; OFFSET="${2:?port offset}"; DIR="${3:?run dir}"; shift 3
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$DIR"
if [ -f "$DIR/sim.pid" ] && kill -0 "$(cat "$DIR/sim.pid")" 2>/dev/null; then
    "$HERE/stop.sh" "$DIR" >/dev/null || true
fi
rm -f "$DIR/sim.out"
setsid "$SIM" --port-offset "$OFFSET" "$@" >"$DIR/sim.out" 2>"$DIR/sim.log" </dev/null &
echo $! >"$DIR/sim.pid"
for _ in $(seq 1 100); do
    if grep -q '^ready' "$DIR/sim.out" 2>/dev/null; then
        echo "deltran-sim up at port offset $OFFSET (pid $(cat "$DIR/sim.pid"))"
        exit 0
    fi
    kill -0 "$(cat "$DIR/sim.pid")" 2>/dev/null || break
    sleep 0.1
done
echo "deltran-sim did not start; its stderr:" >&2
cat "$DIR/sim.log" >&2
exit 1
