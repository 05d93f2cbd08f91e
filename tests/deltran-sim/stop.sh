#!/usr/bin/env bash
# Stops the fixture deltran-sim started by start.sh (by its pid file only)
# and fails if it left a sanitizer report in its log.
set -uo pipefail
DIR="${1:?run dir}"
PIDFILE="$DIR/sim.pid"
[ -f "$PIDFILE" ] || { echo "deltran-sim not running"; exit 0; }
PID="$(cat "$PIDFILE")"
# Alive and not a zombie waiting for a slow reaper.
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
if alive "$PID"; then
    kill -TERM "$PID"
    for _ in $(seq 1 100); do alive "$PID" || break; sleep 0.05; done
    alive "$PID" && { echo "deltran-sim ignored SIGTERM" >&2; kill -KILL "$PID"; rm -f "$PIDFILE"; exit 1; }
fi
rm -f "$PIDFILE"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$DIR/sim.log" 2>/dev/null; then
    echo "deltran-sim reported sanitizer errors:" >&2
    cat "$DIR/sim.log" >&2
    exit 1
fi
echo "deltran-sim stopped: $(tail -1 "$DIR/sim.log" 2>/dev/null)"
