#!/usr/bin/env bash
# Start the test nginx on 127.0.0.1:PORT with its runtime files under DIR.
# Usage: start.sh PORT DIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${1:?port}"; DIR="${2:?run dir}"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$NGINX" ] || { echo "nginx is not installed (tools/test installs it)" >&2; exit 1; }
if [ -f "$DIR/nginx.pid" ] && kill -0 "$(cat "$DIR/nginx.pid")" 2>/dev/null; then
    "$HERE/stop.sh" "$DIR" >/dev/null
fi
mkdir -p "$DIR/logs" "$DIR/tmp"
sed "s/@PORT@/$PORT/g" "$HERE/nginx.conf" > "$DIR/nginx.conf"
"$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/logs/error.log" \
    -g "pid $DIR/nginx.pid; worker_processes 1;"
for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "test nginx up on 127.0.0.1:$PORT"; exit 0
    fi
    sleep 0.1
done
echo "test nginx did not start; see $DIR/logs/error.log" >&2
exit 1
