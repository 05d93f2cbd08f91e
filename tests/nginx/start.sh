#!/usr/bin/env bash
# Start the test nginx on 127.0.0.1:PORT with its runtime files under DIR.
# Usage: start.sh PORT DIR [TLS_PORT [WS_PORT]]
# With TLS_PORT it also answers https there: DIR/tls/ holds a private CA
# (ca.pem, the file a client trusts with tls.ca_file) and a server
# certificate for 127.0.0.1 and localhost, RSA-2048, made by openssl when
# missing. Nothing is added to the system's trust store. With WS_PORT,
# location /ws (on both ports) proxies the WebSocket upgrade to a
# tests/ws/wsserver.py the caller runs there.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${1:?port}"; DIR="${2:?run dir}"; TLS_PORT="${3:-}"; WS_PORT="${4:-}"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$NGINX" ] || { echo "nginx is not installed (tools/test installs it)" >&2; exit 1; }
if [ -f "$DIR/nginx.pid" ] && kill -0 "$(cat "$DIR/nginx.pid")" 2>/dev/null; then
    "$HERE/stop.sh" "$DIR" >/dev/null
fi
mkdir -p "$DIR/logs" "$DIR/tmp"

# A CA and a server certificate it signed, valid 30 days (remade when
# either is missing or expires within a day).
make_certs() {
    local t="$DIR/tls"
    mkdir -p "$t"
    if [ -f "$t/server.pem" ] && [ -f "$t/server.key" ] && [ -f "$t/ca.pem" ] &&
        openssl x509 -checkend 86400 -noout -in "$t/server.pem" >/dev/null 2>&1; then
        return 0
    fi
    local log="$t/openssl.log"
    {
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out "$t/ca.pem" \
            -days 30 -subj "/CN=Volley Test nginx CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" &&
        openssl req -newkey rsa:2048 -nodes -keyout "$t/server.key" -out "$t/server.csr" \
            -subj "/CN=localhost" &&
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
            > "$t/server.ext" &&
        openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" \
            -CAcreateserial -out "$t/server.pem" -days 30 -extfile "$t/server.ext"
    } >"$log" 2>&1 || { cat "$log" >&2; echo "could not make the test certificates" >&2; exit 1; }
}

# /basic-auth's user (user:passwd, as k6's http_basic_auth.js example).
[ -f "$DIR/htpasswd" ] || printf 'user:%s\n' "$(openssl passwd -apr1 passwd)" > "$DIR/htpasswd"

if [ -n "$WS_PORT" ]; then ws=(-e "s/@WS_PORT@/$WS_PORT/g"); else ws=(-e "/# ws$/d"); fi
if [ -n "$TLS_PORT" ]; then
    make_certs
    sed "${ws[@]}" -e "s/@PORT@/$PORT/g" -e "s/@TLS_PORT@/$TLS_PORT/g" "$HERE/nginx.conf" > "$DIR/nginx.conf"
else
    sed "${ws[@]}" -e "/# tls$/d" -e "s/@PORT@/$PORT/g" "$HERE/nginx.conf" > "$DIR/nginx.conf"
fi
"$NGINX" -p "$DIR/" -c "$DIR/nginx.conf" -e "$DIR/logs/error.log" \
    -g "pid $DIR/nginx.pid; worker_processes 1;"
for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null &&
        { [ -z "$TLS_PORT" ] || (exec 3<>"/dev/tcp/127.0.0.1/$TLS_PORT") 2>/dev/null; }; then
        echo "test nginx up on 127.0.0.1:$PORT${TLS_PORT:+ (https on $TLS_PORT)}"; exit 0
    fi
    sleep 0.1
done
echo "test nginx did not start; see $DIR/logs/error.log" >&2
exit 1
