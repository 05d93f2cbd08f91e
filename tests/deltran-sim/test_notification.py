"""The notification engine: HTTP routes, the per-user dispatch limit, and
/ws — user_id required, gorilla's handshake refusals, fan-out by user,
bank and broadcast with "payload", JSON ping -> pong, subscribe ignored,
close on a malformed frame, server ping frames and the read deadline —
plus the 8090 alias and an interop check with websocket-client."""
import json
import struct
import sys
import time
import unittest

from simtest import HOST, Sim, SimCase, WebSocket, WsClosed, call, port, raw_http, uuid4


def notify(user=None, bank=None, data=None, type_="websocket", offset=None):
    body = {"type": type_, "content": "hello"}
    if user:
        body["user_id"] = user
    if bank:
        body["bank_id"] = bank
    if data is not None:
        body["data"] = data
    return call("notification", "POST", "/api/v1/notifications", body, offset=offset)


class Http(SimCase):
    def test_send_and_list(self):
        user = "u-" + uuid4()
        r = notify(user, data={"k": 1}, type_="email")
        self.assertEqual(r.status, 200)
        self.assertEqual(set(r.json()), {"id", "status"})
        self.assertEqual(r.json()["status"], "sent")
        listed = call("notification", "GET", "/api/v1/notifications?user_id=" + user).json()
        self.assertEqual([n["id"] for n in listed], [r.json()["id"]])
        self.assertEqual((listed[0]["type"], listed[0]["status"], listed[0]["metadata"]), ("email", "sent", {"k": 1}))

    def test_errors(self):
        r = call("notification", "GET", "/api/v1/notifications")
        self.assertEqual((r.status, r.text), (400, "user_id required\n"))
        r = call("notification", "POST", "/api/v1/notifications", "{bad", headers={"Content-Type": "application/json"})
        self.assertEqual((r.status, r.text), (400, "Invalid request\n"))
        r = notify("u-" + uuid4(), type_="pigeon")
        self.assertEqual((r.status, r.text), (500, "Failed to send notification\n"))

    def test_per_user_limit(self):
        user = "u-" + uuid4()
        codes = [notify(user, type_="sms").status for _ in range(11)]
        self.assertEqual(codes, [200] * 10 + [500])
        self.assertEqual(notify("u-" + uuid4(), type_="sms").status, 200)

    def test_stats(self):
        before = call("notification", "GET", "/api/v1/stats").json()
        self.assertEqual(set(before), {"connected_clients", "timestamp"})
        with WebSocket("/ws?user_id=stats-" + uuid4()) as ws:
            self.assertEqual(ws.status, 101)
            time.sleep(0.05)
            now = call("notification", "GET", "/api/v1/stats").json()["connected_clients"]
            self.assertEqual(now, before["connected_clients"] + 1)


class Ws(SimCase):
    def test_user_id_required(self):
        out = raw_http("notification", b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 Bad Request"), out)
        self.assertTrue(out.endswith(b"user_id required\n"), out)

    def test_handshake_refusals(self):
        r = call("notification", "GET", "/ws?user_id=x")
        self.assertEqual(r.status, 400)
        self.assertIn("'upgrade' token not found in 'Connection' header", r.text)
        out = raw_http("notification", b"GET /ws?user_id=x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                       b"Connection: Upgrade\r\nSec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 8\r\n\r\n")
        self.assertIn(b"unsupported version", out)

    def test_fan_out_by_user(self):
        u1, u2 = "u-" + uuid4(), "u-" + uuid4()
        with WebSocket("/ws?user_id=" + u1) as a, WebSocket("/ws?user_id=%s&bank_id=ENBD" % u2) as b:
            self.assertEqual((a.status, a.accept_ok), (101, True))
            self.assertEqual(notify(u1, data={"transaction_id": "TXN-1", "amount": 5}).status, 200)
            msg = a.recv_json()
            self.assertEqual((msg["type"], msg["user_id"], msg["payload"]),
                             ("notification", u1, {"transaction_id": "TXN-1", "amount": 5}))
            self.assertNotIn("data", msg)  # the real key is payload, not the brief's data
            self.assertRegex(msg["timestamp"], r"^\d{4}-\d\d-\d\dT")
            self.assertTrue(b.expect_silence(0.3))
            # by bank
            notify(bank="ENBD", data={"n": 2})
            self.assertEqual(b.recv_json()["payload"], {"n": 2})
            self.assertTrue(a.expect_silence(0.3))
            # email notifications are not pushed
            notify(u1, type_="email", data={"n": 3})
            self.assertTrue(a.expect_silence(0.3))

    def test_broadcast(self):
        with WebSocket("/ws?user_id=b1-" + uuid4()) as a, WebSocket("/ws?user_id=b2-" + uuid4()) as b:
            notify(data={"all": True})
            self.assertEqual(a.recv_json()["payload"], {"all": True})
            self.assertEqual(b.recv_json()["payload"], {"all": True})

    def test_ping_pong_and_subscribe(self):
        with WebSocket("/ws?user_id=p-" + uuid4()) as ws:
            ws.send_json({"type": "subscribe", "channels": ["transactions"]})
            self.assertTrue(ws.expect_silence(0.3))
            ws.send_json({"type": "ping", "timestamp": "2025-11-11T10:00:00Z"})
            pong = ws.recv_json()
            self.assertEqual((pong["type"], pong["payload"]), ("pong", None))
            self.assertNotEqual(pong["timestamp"], "2025-11-11T10:00:00Z")
            # control ping frames get pong frames with the same payload
            ws.send_frame(9, b"abc")
            self.assertEqual(ws.recv_frame(), (10, b"abc"))
            # a fragmented text message is reassembled
            ws.send_frame(1, '{"type":"pi', fin=False)
            ws.send_frame(0, 'ng"}', fin=True)
            self.assertEqual(ws.recv_json()["type"], "pong")

    def test_malformed_frame_closes(self):
        # the repo's k6 script sends the timestamp as a number
        with WebSocket("/ws?user_id=m-" + uuid4()) as ws:
            ws.send_json({"type": "ping", "timestamp": 1731312000000})
            self.assertTrue(ws.closed_by_server())
        with WebSocket("/ws?user_id=m-" + uuid4()) as ws:
            ws.send_text("not json")
            self.assertTrue(ws.closed_by_server())

    def test_unmasked_frame_is_a_protocol_error(self):
        with WebSocket("/ws?user_id=x-" + uuid4()) as ws:
            ws.sock.sendall(b"\x81\x02{}")
            op, payload = ws.recv_frame()
            self.assertEqual((op, struct.unpack(">H", payload[:2])[0]), (8, 1002))

    def test_client_close(self):
        with WebSocket("/ws?user_id=c-" + uuid4()) as ws:
            ws.send_frame(8, struct.pack(">H", 1000))
            op, payload = ws.recv_frame()
            self.assertEqual((op, payload[:2]), (8, struct.pack(">H", 1000)))


class Alias(SimCase):
    def test_alias_without_user_id_gets_broadcasts(self):
        with WebSocket("/", service="ws-alias") as ws:
            self.assertEqual(ws.status, 101)
            ws.send_json({"type": "subscribe", "channels": ["transactions", "settlements"]})
            notify(data={"via": "alias"})
            self.assertEqual(ws.recv_json()["payload"], {"via": "alias"})
        with WebSocket("/ws?user_id=al-1", service="ws-alias") as ws:
            notify("al-1", data={"to": "al-1"})
            self.assertEqual(ws.recv_json()["payload"], {"to": "al-1"})

    def test_strict_alias_and_no_alias(self):
        with Sim(23100, "--ws-alias-strict") as sim:
            ws = WebSocket("/", service="ws-alias", offset=sim.offset)
            self.assertEqual(ws.status, 400)
            ws.sock.close()
            out = raw_http("ws-alias", b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                       b"Sec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5aw==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                           offset=sim.offset)
            self.assertTrue(out.startswith(b"HTTP/1.1 400"))
        with Sim(23200, "--services", "notification") as sim:
            import socket
            s = socket.socket()
            self.assertNotEqual(s.connect_ex((HOST, port("ws-alias", sim.offset))), 0)
            s.close()


class Keepalive(SimCase):
    def test_server_pings_and_read_deadline(self):
        with Sim(23300, "--ws-ping-interval", "100ms", "--ws-read-timeout", "400ms") as sim:
            with WebSocket("/ws?user_id=k1", offset=sim.offset) as ws:
                op, _ = ws.recv_frame(2)
                self.assertEqual(op, 9)
                # answering pings keeps it open past the deadline
                t0 = time.monotonic()
                while time.monotonic() - t0 < 0.8:
                    op, payload = ws.recv_frame(1)
                    self.assertEqual(op, 9)
                    ws.send_frame(10, payload)
            with WebSocket("/ws?user_id=k2", offset=sim.offset) as ws:
                # never answering: closed after the read timeout
                t0 = time.monotonic()
                self.assertTrue(ws.closed_by_server(3))
                self.assertGreater(time.monotonic() - t0, 0.3)

    def test_duplicate_delivery(self):
        with Sim(23400, "--ws-duplicate") as sim, WebSocket("/ws?user_id=d1", offset=sim.offset) as ws:
            notify("d1", data={"x": 1}, offset=sim.offset)
            self.assertEqual(ws.recv_json()["payload"], {"x": 1})
            self.assertEqual(ws.recv_json()["payload"], {"x": 1})


class Interop(SimCase):
    """The same protocol through an independent client (Debian's
    python3-websocket, installed by tools/setup) when it is importable."""

    def test_websocket_client(self):
        try:
            import websocket
        except ImportError:
            sys.path.append("/usr/lib/python3/dist-packages")
            try:
                import websocket
            except ImportError:
                self.skipTest("python3-websocket is not installed")
        ws = websocket.create_connection("ws://%s:%d/ws?user_id=interop" % (HOST, port("notification")), timeout=5)
        try:
            ws.send(json.dumps({"type": "ping"}))
            self.assertEqual(json.loads(ws.recv())["type"], "pong")
            notify("interop", data={"ok": True})
            self.assertEqual(json.loads(ws.recv())["payload"], {"ok": True})
            ws.ping("hi")
            op, data = ws.recv_data(control_frame=True)
            self.assertEqual((op, data), (websocket.ABNF.OPCODE_PONG, b"hi"))
        finally:
            ws.close()
        with self.assertRaises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection("ws://%s:%d/ws" % (HOST, port("notification")), timeout=5)
        self.assertEqual(e.exception.status_code, 400)


if __name__ == "__main__":
    unittest.main()
