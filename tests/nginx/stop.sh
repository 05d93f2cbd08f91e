#!/usr/bin/env bash
# Stop the test nginx started by start.sh (by its pid file only).
set -uo pipefail
DIR="${1:?run dir}"
PIDFILE="$DIR/nginx.pid"
[ -f "$PIDFILE" ] || { echo "test nginx not running"; exit 0; }
PID="$(cat "$PIDFILE")"
if kill -0 "$PID" 2>/dev/null; then
    kill -QUIT "$PID"
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
fi
rm -f "$PIDFILE"
echo "test nginx stopped"
