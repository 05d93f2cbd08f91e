#!/usr/bin/env python3
"""A fault-injection server for Volley's hostile-peer tests (stdlib only).

One process, three ports on 127.0.0.1 (four with --tls):

  main        HTTP/1.1 and WebSocket; the request path selects the fault
  tls_garbage accepts TCP, reads the ClientHello, answers bytes that are not
              a TLS record, then holds the connection open
  tls_stall   accepts TCP and never answers the ClientHello
  main_tls    with --tls CERT KEY: main's faults over TLS (https://)

The catalog (what each path does, what each client path should report and
the bounds the tests hold it to) is README.md beside this file; `--list`
prints the paths. Each connection has its own thread and blocking socket,
so a fault can sleep, drip or write forever without slowing the others;
a writer ends when the client goes away.

Usage: faultserver.py [--port N] [--tls CERT KEY] [--list]. GET /_log?id=X
answers what the WebSocket faults saw of the session whose url had ?id=X.
Prints one line when listening:
  ready {"main": P, "tls_garbage": P2, "tls_stall": P3[, "main_tls": P4]}
"""
import base64
import hashlib
import json
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CHUNK = 64 * 1024
BLOB = b"x" * CHUNK
HOLD = 120          # seconds a connection is held open at most

# What the WebSocket faults saw of the client, by the request's ?id=
# (GET /_log?id=X answers it as JSON): {"close": code} when a close frame
# came, {"pings": n} pings seen.
LOG = {}
LOG_LOCK = threading.Lock()


def log(q, **kv):
    key = q.get("id")
    if key:
        with LOG_LOCK:
            LOG.setdefault(key, {}).update(kv)


# --------------------------------------------------------------------------
# socket helpers

def send(c, data):
    c.sendall(data)


def reset(c):
    """Ends the connection with a TCP RST (SO_LINGER 0, then close)."""
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def hold(c):
    """Keeps the connection open and reads (and drops) whatever comes, until
    the client closes it or HOLD seconds pass."""
    c.settimeout(HOLD)
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass


def endless(c, piece, first=b""):
    """Writes first, then piece forever, as fast as the socket takes them."""
    send(c, first)
    while True:
        send(c, piece)


def read_head(c, buf=b""):
    """The request head (up to the blank line) and what followed it."""
    while b"\r\n\r\n" not in buf:
        data = c.recv(65536)
        if not data:
            raise ConnectionError("closed before the request head ended")
        buf += data
        if len(buf) > 1 << 20:
            raise ConnectionError("request head too large")
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def parse_head(head):
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    target = parts[1] if len(parts) > 1 else "/"
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    url = urllib.parse.urlsplit(target)
    return url.path, dict(urllib.parse.parse_qsl(url.query)), headers


def read_body(c, headers, rest):
    n = int(headers.get("content-length", "0") or 0)
    while len(rest) < n:
        data = c.recv(65536)
        if not data:
            break
        rest += data
    return rest[n:]


# --------------------------------------------------------------------------
# HTTP faults: each gets the socket after the request was read

def ok_response(body=b"ok", extra=""):
    return ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n"
            % (len(body), extra)).encode() + body


def h_ok(c, q):
    """/ok: a normal 200 with a 2-byte body; the connection is kept."""
    send(c, ok_response())
    return "keep"


def h_reset_headers(c, q):
    """/reset-headers: half a header block, then a TCP RST."""
    send(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Partial: aaaa")
    time.sleep(0.05)
    reset(c)


def h_reset_body(c, q):
    """/reset-body: headers promising 1 MB, 64 KiB of body, then a TCP RST."""
    send(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n")
    send(c, BLOB)
    time.sleep(0.05)
    reset(c)


def h_half_close(c, q):
    """/half-close: no answer; the server shuts its sending side (FIN) and
    keeps the connection open, reading."""
    c.shutdown(socket.SHUT_WR)
    hold(c)


def h_half_close_body(c, q):
    """/half-close-body: headers promising 1 MB, 64 KiB of body, FIN, and the
    connection held open."""
    send(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n")
    send(c, BLOB)
    c.shutdown(socket.SHUT_WR)
    hold(c)


def h_endless_body(c, q):
    """/endless-body: a chunked 200 whose 64 KiB chunks never end, written as
    fast as the socket takes them."""
    chunk = b"%x\r\n" % CHUNK + BLOB + b"\r\n"
    endless(c, chunk, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")


def h_endless_body_close(c, q):
    """/endless-body-close: a 200 without a length (the body runs to the
    close) that never closes, as fast as the socket takes it."""
    endless(c, BLOB, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     b"Connection: close\r\n\r\n")


def h_big_body(c, q):
    """/big-body?size=N: a 200 with Content-Length N (default 20 MiB), sent
    whole as fast as the socket takes it."""
    size = int(q.get("size", str(20 << 20)))
    send(c, b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % size)
    while size > 0:
        n = min(size, CHUNK)
        send(c, BLOB[:n])
        size -= n
    return "keep"


def h_endless_headers(c, q):
    """/endless-headers: a status line, then 1 KB header lines forever."""
    send(c, b"HTTP/1.1 200 OK\r\n")
    i = 0
    line = b"a" * 1000
    while True:
        send(c, b"X-Filler-%08d: " % i + line + b"\r\n")
        i += 1


def h_huge_header_line(c, q):
    """/huge-header-line: one header line that never ends."""
    endless(c, b"a" * CHUNK, b"HTTP/1.1 200 OK\r\nX-Huge: ")


def h_drip(c, q):
    """/drip?every=MS: the status line one byte every MS ms (default 1000)."""
    every = int(q.get("every", "1000")) / 1000
    for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        send(c, bytes([b]))
        time.sleep(every)
    return "keep"


def h_bad_status(c, q):
    """/bad-status: an HTTP/1.1 status line whose code is not three digits."""
    send(c, b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok")
    hold(c)


def h_not_http(c, q):
    """/not-http: an answer that is not HTTP at all."""
    send(c, b"SSH-2.0-OpenSSH_9.2\r\n")
    hold(c)


def h_huge_chunk(c, q):
    """/huge-chunk: a chunked 200 whose first chunk size is ffffffffffffffff,
    then data forever."""
    endless(c, BLOB, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"ffffffffffffffff\r\n")


def h_cl_short(c, q):
    """/cl-short: Content-Length 1000, 10 bytes of body, then silence with
    the connection held open."""
    send(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
            b"0123456789")
    hold(c)


def h_cl_short_close(c, q):
    """/cl-short-close: Content-Length 1000, 10 bytes of body, then close."""
    send(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
            b"0123456789")
    c.shutdown(socket.SHUT_WR)
    time.sleep(0.05)


def h_cl_long(c, q):
    """/cl-long: Content-Length 10 and 1,000 bytes after the headers; the
    connection is then held open (the excess is no response to anything)."""
    send(c, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n"
            b"0123456789" + b"HTTP/1.1 200 OK\r\nX-Smuggled: yes\r\n\r\n" + b"y" * 955)
    hold(c)


def h_1xx_flood(c, q):
    """/1xx-flood: 100 Continue responses forever, never a final one."""
    endless(c, b"HTTP/1.1 100 Continue\r\n\r\n" * 256)


HTTP = {
    "/ok": h_ok,
    "/reset-headers": h_reset_headers,
    "/reset-body": h_reset_body,
    "/half-close": h_half_close,
    "/half-close-body": h_half_close_body,
    "/endless-body": h_endless_body,
    "/endless-body-close": h_endless_body_close,
    "/big-body": h_big_body,
    "/endless-headers": h_endless_headers,
    "/huge-header-line": h_huge_header_line,
    "/drip": h_drip,
    "/bad-status": h_bad_status,
    "/not-http": h_not_http,
    "/huge-chunk": h_huge_chunk,
    "/cl-short": h_cl_short,
    "/cl-short-close": h_cl_short_close,
    "/cl-long": h_cl_long,
    "/1xx-flood": h_1xx_flood,
}


# --------------------------------------------------------------------------
# WebSocket faults (after a good 101, except /ws/hang)

def ws_head(n, opcode, fin=True):
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        return struct.pack("!BB", b0, n)
    if n < 65536:
        return struct.pack("!BBH", b0, 126, n)
    return struct.pack("!BBQ", b0, 127, n)


def ws_frame(opcode, payload, fin=True):
    return ws_head(len(payload), opcode, fin) + payload


def ws_recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        data = c.recv(n - len(buf))
        if not data:
            raise ConnectionError("closed")
        buf += data
    return buf


def ws_read_frame(c):
    b0, b1 = ws_recv_exact(c, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", ws_recv_exact(c, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", ws_recv_exact(c, 8))[0]
    mask = ws_recv_exact(c, 4) if b1 & 0x80 else b"\0\0\0\0"
    data = ws_recv_exact(c, n)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return b0 & 0x0F, data


def ws_accept(c, headers):
    key = headers.get("sec-websocket-key", "")
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    send(c, ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())


def ws_loop(c, q, pong=True):
    """Reads frames: answers pings (when pong) and a close; echoes nothing.
    Logs the close code and the pings seen."""
    c.settimeout(HOLD)
    pings = 0
    try:
        while True:
            op, data = ws_read_frame(c)
            if op == 8:
                log(q, close=struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005)
                send(c, ws_frame(8, data[:2]))
                return
            if op == 9:
                pings += 1
                log(q, pings=pings)
                if pong:
                    send(c, ws_frame(10, data))
    except (OSError, ValueError):
        log(q, ended="connection lost: %r" % (sys.exc_info()[1],))


def w_hang(c, q, headers):
    """/ws/hang: reads the upgrade request and never answers it."""
    hold(c)


def w_no_pong(c, q, headers):
    """/ws/no-pong: a good session that never answers a ping (and never
    sends anything); it answers a close."""
    ws_accept(c, headers)
    ws_loop(c, q, pong=False)


def w_huge_frame(c, q, headers):
    """/ws/huge-frame?size=N: one text frame of N bytes (default 100 MB),
    header first, then the payload as fast as the socket takes it; then
    answers a close."""
    size = int(q.get("size", str(100 * 1000 * 1000)))
    ws_accept(c, headers)
    # the client's close comes while the frame is still being written
    reader = threading.Thread(target=ws_loop, args=(c, q), daemon=True)
    reader.start()
    try:
        send(c, ws_head(size, 1))
        left = size
        while left > 0:
            n = min(left, CHUNK)
            send(c, BLOB[:n])
            left -= n
    except OSError:
        pass    # the client cut the connection: the reader has its last words
    reader.join(HOLD)


def w_fragments(c, q, headers):
    """/ws/fragments?size=S&total=T: one text message sent as fragments of S
    bytes (default 1024) until T bytes (default 0: forever) were sent, the
    last with FIN; then answers a close."""
    size = int(q.get("size", "1024"))
    total = int(q.get("total", "0"))
    piece = b"y" * size
    ws_accept(c, headers)
    reader = threading.Thread(target=ws_loop, args=(c, q), daemon=True)
    reader.start()
    sent, op = 0, 1
    try:
        while not total or sent + size < total:
            send(c, ws_frame(op, piece, fin=False))
            op = 0
            sent += size
        send(c, ws_frame(op, b"y" * (total - sent), fin=True))
    except OSError:
        pass    # the client cut the connection: the reader has its last words
    reader.join(HOLD)


def w_echo(c, q, headers):
    """/ws/echo: a well-behaved peer: answers pings and a close, echoes
    nothing (the baseline for the RSS bound)."""
    ws_accept(c, headers)
    ws_loop(c, q)


WS = {
    "/ws/hang": w_hang,
    "/ws/no-pong": w_no_pong,
    "/ws/huge-frame": w_huge_frame,
    "/ws/fragments": w_fragments,
    "/ws/echo": w_echo,
}


def serve_main(c):
    buf = b""
    try:
        while True:
            head, rest = read_head(c, buf)
            path, q, headers = parse_head(head)
            if path == "/_log":
                with LOG_LOCK:
                    out = json.dumps(LOG.get(q.get("id"), {})).encode()
                send(c, ok_response(out, "Connection: close\r\n"))
                return
            if path in WS:
                WS[path](c, q, headers)
                return
            handler = HTTP.get(path)
            if handler is None:
                send(c, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                buf = read_body(c, headers, rest)
                continue
            buf = read_body(c, headers, rest)
            if handler(c, q) != "keep":
                return
    except OSError:
        pass
    finally:
        try:
            c.close()
        except OSError:
            pass


def serve_tls_garbage(c):
    """Reads the ClientHello, answers garbage, holds the connection."""
    try:
        c.settimeout(HOLD)
        c.recv(65536)
        send(c, b"\x00\x01garbage, not a ServerHello\r\n" * 64)
        hold(c)
    except OSError:
        pass
    finally:
        c.close()


def serve_tls_stall(c):
    """Takes the ClientHello and never answers."""
    try:
        hold(c)
    finally:
        c.close()


def serve_main_tls(ctx):
    """main's faults after a TLS handshake (the handshake in the
    connection's own thread)."""
    def serve(c):
        try:
            c.settimeout(HOLD)
            c = ctx.wrap_socket(c, server_side=True)
            c.settimeout(None)
        except (OSError, ssl.SSLError):
            c.close()
            return
        serve_main(c)
    return serve


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(512)
    return s


def accept_loop(s, serve):
    while True:
        try:
            c, _ = s.accept()
        except OSError:
            return
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def main():
    if "--list" in sys.argv:
        for table in (HTTP, WS):
            for path, fn in table.items():
                print("%-20s %s" % (path, " ".join(fn.__doc__.split())))
        return
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    socks = {"main": listener(port), "tls_garbage": listener(0), "tls_stall": listener(0)}
    serve = {"main": serve_main, "tls_garbage": serve_tls_garbage, "tls_stall": serve_tls_stall}
    if "--tls" in sys.argv:
        i = sys.argv.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
        socks["main_tls"] = listener(0)
        serve["main_tls"] = serve_main_tls(ctx)
    for name, s in socks.items():
        threading.Thread(target=accept_loop, args=(s, serve[name]), daemon=True).start()
    print("ready " + json.dumps({k: s.getsockname()[1] for k, s in socks.items()}), flush=True)
    try:
        threading.Event().wait()   # until SIGTERM or SIGINT
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
