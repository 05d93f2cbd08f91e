#!/usr/bin/env python3
"""A small WebSocket server (stdlib only, asyncio) for the ws plugin's tests
and benchmark. Every behaviour is chosen by the request path, so one server
serves all the cases:

  /echo          echoes every text/binary message; pings get pongs (any path)
  /hello         first sends {"path", "headers", "protocol"} of the handshake,
                 then echoes
  /push?n=N&every=MS&type=T
                 sends N messages {"type": T, "i": i} every MS ms, then echoes
  /reply?delay=MS
                 answers each JSON message {"id": X, ...} with
                 {"type": "reply", "re": X} after MS ms
  /reject400     answers the upgrade with HTTP 400 "user_id required"
  /close?code=C&after=N
                 closes with code C after N received messages (0: at once)
  /drop?after=N  drops the TCP connection without a close frame
  /big?size=N    sends one text frame of N bytes
  /badutf8       sends a text frame that is not UTF-8
  /hang          reads the handshake and never answers
  /chat?room=R   a chat room (k6's examples/websockets/ws.js): JSON messages
                 {"event": "SET_NAME", "new_name": N} names the socket,
                 {"event": "SAY", "message": M} goes to every socket of the
                 room (the sender too) as {"event": "CHAT_MSG", "user": N,
                 "message": M}, {"event": "LEAVE"} leaves the room (the
                 others get {"event": "USER_LEFT", "user": N}); anything
                 else gets {"event": "ERROR", "message": ...}

Usage: wsserver.py PORT [--reuseport] [--tls CERT KEY [--tls-client-ca CA]
[--tls-max 1.2]]. Prints "ready PORT" when listening. --reuseport lets
several processes share the port (the benchmark's); --tls serves wss://
with that certificate; --tls-client-ca requires a client certificate
issued by CA (mutual TLS); --tls-max 1.2 speaks TLS 1.2 at most. /hello
then also reports the SNI name the client sent ("sni") and the client
certificate's common name ("client").
"""
import asyncio
import base64
import hashlib
import json
import struct
import sys
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ROOMS = {}   # room name -> {writer: user name}


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if b1 & 0x80 else None
    data = await reader.readexactly(n)
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data)) if n < 64 else \
            (int.from_bytes(data, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
    return b0 & 0x0F, data


def chat(name, writer, data):
    room = ROOMS.setdefault(name, {})
    try:
        msg = json.loads(data)
        event = msg.get("event")
    except (ValueError, AttributeError):
        msg, event = {}, None
    if event == "SET_NAME":
        room[writer] = str(msg.get("new_name", ""))
    elif event == "SAY" and writer in room:
        out = frame(1, json.dumps({"event": "CHAT_MSG", "user": room[writer],
                                   "message": msg.get("message")}).encode())
        for w in room:
            w.write(out)
    elif event == "LEAVE" and writer in room:
        user = room.pop(writer)
        out = frame(1, json.dumps({"event": "USER_LEFT", "user": user}).encode())
        for w in room:
            w.write(out)
    else:
        writer.write(frame(1, json.dumps({"event": "ERROR",
                                          "message": "unknown or early event %r" % event}).encode()))


async def handle(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    url = urllib.parse.urlsplit(target)
    q = dict(urllib.parse.parse_qsl(url.query))
    path = url.path
    if path == "/hang":
        try:
            await reader.read()   # until the client gives up
        except ConnectionError:
            pass
        writer.close()
        return
    if path == "/reject400":
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 16\r\nConnection: close\r\n\r\nuser_id required")
        await writer.drain()
        writer.close()
        return
    key = headers.get("sec-websocket-key", "")
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    proto = headers.get("sec-websocket-protocol", "").split(",")[0].strip()
    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\n")
    if proto:
        resp += f"Sec-WebSocket-Protocol: {proto}\r\n"
    writer.write((resp + "\r\n").encode())
    send = writer.write
    tasks = []
    if path == "/hello":
        hello = {"path": target, "headers": headers, "protocol": proto}
        ssl_obj = writer.get_extra_info("ssl_object")
        if ssl_obj is not None:
            hello["sni"] = getattr(ssl_obj, "volley_sni", None)
            peer = ssl_obj.getpeercert()
            hello["client"] = dict(x[0] for x in peer["subject"]).get("commonName") if peer else None
        send(frame(1, json.dumps(hello).encode()))
    elif path == "/big":
        send(frame(1, b"x" * int(q.get("size", "2000000"))))
    elif path == "/badutf8":
        send(frame(1, b'{"bad":"\xff\xfe"}'))
    elif path == "/push":
        async def pusher():
            for i in range(int(q.get("n", "1"))):
                await asyncio.sleep(int(q.get("every", "50")) / 1000)
                send(frame(1, json.dumps({"type": q.get("type", "tick"), "i": i}).encode()))
        tasks.append(asyncio.ensure_future(pusher()))
    after = int(q.get("after", "0"))
    if path == "/close" and after == 0:
        send(frame(8, struct.pack("!H", int(q.get("code", "1000"))) + b"bye"))
    if path == "/drop" and after == 0:
        writer.transport.abort()
        return
    received = 0
    try:
        while True:
            op, data = await read_frame(reader)
            if op == 8:
                send(frame(8, data[:2]))
                break
            if op == 9:
                send(frame(10, data))
                continue
            if op not in (1, 2):
                continue
            received += 1
            if path == "/close" and received >= after:
                send(frame(8, struct.pack("!H", int(q.get("code", "1000"))) + b"bye"))
                continue
            if path == "/drop" and received >= after:
                writer.transport.abort()
                return
            if path == "/chat":
                chat(q.get("room", "main"), writer, data)
                continue
            if path == "/reply":
                try:
                    rid = json.loads(data).get("id")
                except ValueError:
                    continue
                delay = int(q.get("delay", "0")) / 1000

                async def answer(rid=rid, delay=delay):
                    await asyncio.sleep(delay)
                    send(frame(1, json.dumps({"type": "reply", "re": rid}).encode()))
                tasks.append(asyncio.ensure_future(answer()))
                continue
            send(frame(op, data))
            if writer.transport.get_write_buffer_size() > 1 << 20:
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    for room in ROOMS.values():
        room.pop(writer, None)
    for t in tasks:
        t.cancel()
    try:
        await writer.drain()
        writer.close()
    except ConnectionError:
        pass


async def main():
    port = int(sys.argv[1])
    tls = None
    if "--tls" in sys.argv:
        import ssl
        i = sys.argv.index("--tls")
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[i + 1], sys.argv[i + 2])
        if "--tls-client-ca" in sys.argv:
            tls.verify_mode = ssl.CERT_REQUIRED
            tls.load_verify_locations(sys.argv[sys.argv.index("--tls-client-ca") + 1])
        if "--tls-max" in sys.argv and sys.argv[sys.argv.index("--tls-max") + 1] == "1.2":
            tls.maximum_version = ssl.TLSVersion.TLSv1_2

        def remember_sni(sock, name, ctx):
            sock.volley_sni = name
        tls.sni_callback = remember_sni
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096,
                                        reuse_port="--reuseport" in sys.argv, ssl=tls)
    print(f"ready {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
