"""The ws plugin through the real volley binary, against tests/ws/wsserver.py
on 127.0.0.1: an echo session with every sending option, checks on each
message, expect with a capture used by a later step, reply times, and each
failure a measured, tagged failure within its timeout (refused, 400
instead of 101, closed by the server with a code, dropped, a frame over
max_message_size, invalid UTF-8, a server that never answers the
handshake)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

from volleytest import SOURCE, VOLLEY, VolleyCase


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class WsServer:
    def __init__(self, *args):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(SOURCE, "tests", "ws", "wsserver.py"), str(self.port)] + list(args),
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError("wsserver did not start: " + line)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


class WsCase(VolleyCase):
    @classmethod
    def setUpClass(cls):
        cls.server = WsServer()
        cls.url = "ws://127.0.0.1:%d" % cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def run_ws(self, flow, extra="", timeout=60):
        """Runs one VU, one iteration of flow; returns (rc, stderr, summary,
        points) where points are the ndjson samples as (metric, value, tags)."""
        out = os.path.join(self.tmp, "out.ndjson")
        spec = ("version: 1\nname: ws\nscenarios:\n  s:\n    executor: per-vu-iterations\n"
                "    vus: 1\n    iterations: 1\n    flow:\n" + flow + extra)
        rc, _, err, summary = self.run_spec(spec, "--out", "json-out=" + out, timeout=timeout,
                                            env={"WS": self.url})
        points = []
        if os.path.exists(out):
            for d in self.read_ndjson(out):
                if d.get("type") == "Point":
                    points.append((d["metric"], d["data"]["value"], d["data"]["tags"] or {}))
        return rc, err, summary, points

    @staticmethod
    def of(points, metric):
        return [p for p in points if p[0] == metric]

    def session(self, points):
        s = self.of(points, "ws_sessions")
        self.assertEqual(len(s), 1, points)
        return s[0][2]


class TestEcho(WsCase):
    def test_echo_session(self):
        t0 = time.monotonic()
        rc, err, summary, points = self.run_ws("""\
      - ws:
          name: echo
          url: ${env.WS}/hello
          headers: { X-Test: "vu${vu.id}", Origin: "http://volley.test" }
          query: { user_id: "u ${vu.id}", bank: "a&b" }
          subprotocols: [json, chat]
          send_on_open: [ { type: subscribe, channels: [a, b] }, "plain text ${vu.id}" ]
          send_every: { interval: 100ms, message: { type: tick, vu: "${vu.id}" } }
          ping_every: 150ms
          close_after: 1s
          check_each_message:
            - { name: is json, json: { path: $, exists: true } }
        check:
          - { name: opened, status: 101 }
""")
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - t0, 15)
        tags = self.session(points)
        self.assertEqual(tags.get("status"), "101")
        self.assertNotIn("error_code", tags)
        self.assertEqual(tags.get("name"), "echo")
        sent = len(self.of(points, "ws_msgs_sent"))
        recv = len(self.of(points, "ws_msgs_received"))
        self.assertGreaterEqual(sent, 2 + 8)          # on open + ~9 periodic
        self.assertEqual(recv, sent + 1)               # the hello, then echoes
        self.assertGreaterEqual(len(self.of(points, "ws_ping")), 4)
        self.assertEqual(len(self.of(points, "ws_connecting")), 1)
        dur = self.of(points, "ws_session_duration")[0][1]
        self.assertTrue(990 <= dur < 1500, dur)
        self.assertEqual(self.of(points, "ws_session_failed")[0][1], 0)
        checks = self.of(points, "checks")
        # "plain text 1" echoed back is not JSON: one failed check per run
        self.assertEqual(sum(1 for c in checks if c[2].get("check") == "is json" and c[1] == 0), 1)
        self.assertTrue(any(c[2].get("check") == "opened" and c[1] == 1 for c in checks))

    def test_handshake_request(self):
        """The handshake carries the query (URL-encoded), headers, Origin,
        Host and the subprotocols; captured from the server's hello."""
        rc, err, summary, points = self.run_ws("""\
      - ws:
          url: ${env.WS}/hello?x=1
          headers: { X-Test: "vu${vu.id}" }
          query: { user_id: "u ${vu.id}", bank: "a&b" }
          subprotocols: [json, chat]
          expect:
            match: { json: { path: path, exists: true } }
            timeout: 2s
            capture: { hello: json.path, proto: json.protocol, hdr: json.headers.x-test }
      - ws:
          url: ${env.WS}/hello
          headers: { X-Seen: "${hello}|${proto}|${hdr}", Origin: "https://volley.test" }
          expect:
            match: { json: { path: headers.x-seen, exists: true } }
            capture: { seen: json.headers.x-seen }
        check:
          - { name: saw first, json: { path: headers.x-seen, equals: "/hello?x=1&user_id=u+1&bank=a%26b|json|vu1" } }
          - { name: origin, json: { path: headers.origin, equals: "https://volley.test" } }
""")
        self.assertEqual(rc, 0, err)
        checks = {c[2].get("check"): c[1] for c in self.of(points, "checks")}
        self.assertEqual(checks.get("saw first"), 1, err)
        self.assertEqual(checks.get("origin"), 1)
        self.assertNotIn("capture hello", checks)   # captures are not checks
        caps = {c[2].get("capture"): c[1] for c in self.of(points, "captures")}
        self.assertEqual(caps.get("hello"), 1)

    def test_handshake_response_headers(self):
        """The step's checks see the handshake response's headers, on a 101
        and on a refused upgrade; a header the server did not send fails."""
        rc, err, summary, points = self.run_ws("""\
      - ws: { url: "${env.WS}/echo", subprotocols: [chat, json], close_after: 50ms }
        check:
          - { name: negotiated, header: { name: sec-websocket-protocol, equals: chat } }
          - { name: upgrade, header: { name: Upgrade, equals: websocket } }
          - { name: accept, header: { name: Sec-WebSocket-Accept, exists: true } }
          - { name: no cookie, header: { name: Set-Cookie, exists: true } }
          - { name: its url, url: { matches: "^ws://127[.]0[.]0[.]1:[0-9]+/echo$" } }
          - { name: its bytes, bytes: { sent: { gt: 100 }, received: { gt: 100 } } }
          - { name: no http timings, timings: { duration: { gte: 0 } } }
      - ws: { url: "${env.WS}/reject400" }
        check:
          - { name: rejected, status: 400 }
          - { name: text body, header: { name: Content-Type, contains: text/plain } }
""")
        self.assertEqual(rc, 0, err)
        checks = {c[2].get("check"): c[1] for c in self.of(points, "checks")}
        # revision 7: a session tells its url (constant here) and its bytes
        # (as data_sent/data_received), not HTTP timings
        self.assertEqual(checks, {"negotiated": 1, "upgrade": 1, "accept": 1, "no cookie": 0,
                                  "its url": 1, "its bytes": 1, "no http timings": 0,
                                  "rejected": 1, "text body": 1})

    def test_run_time_values_in_expect_and_message_checks(self):
        """expect's conditions and check_each_message compare with values of
        the VU and of earlier captures, rendered per message."""
        rc, err, summary, points = self.run_ws("""\
      - ws:
          name: first
          url: ${env.WS}/echo
          send_on_open: [ { id: "tx-${vu.id}-${vu.iteration}", n: 1 } ]
          expect:
            match: { json: { path: id, equals: "tx-${vu.id}-${vu.iteration}" } }
            timeout: 2s
            capture: { tx: json.id }
      - ws:
          name: second
          url: ${env.WS}/echo
          send_on_open: [ "other", { id: "${tx}" } ]
          check_each_message:
            - { name: echoes the capture, body: { contains: "${tx}" } }
          expect:
            match: { body: { contains: "${tx}" } }
            timeout: 2s
      - ws:
          name: never
          url: ${env.WS}/echo
          send_on_open: [ "tx-9" ]
          expect:
            match: { body: { contains: "${tx}-not" } }
            timeout: 300ms
""")
        self.assertEqual(rc, 0, err)
        sess = {p[2]["name"]: p[2] for p in self.of(points, "ws_sessions")}
        self.assertNotIn("error_code", sess["first"])
        self.assertNotIn("error_code", sess["second"])
        self.assertEqual(sess["never"].get("error_code"), "expect_timeout")
        checks = [c for c in self.of(points, "checks") if c[2].get("check") == "echoes the capture"]
        self.assertEqual([c[1] for c in checks], [0, 1])   # "other" does not hold it
        self.assertIn("tx", {c[2].get("capture") for c in self.of(points, "captures")})

    def test_expect_and_reply_times(self):
        rc, err, summary, points = self.run_ws("""\
      - ws:
          name: expect
          url: ${env.WS}/push?n=5&every=30&type=note
          expect:
            match: { json: { path: i, equals: 3 } }
            timeout: 3s
            capture: { nth: json.i }
        check: [ { name: got it, json: { path: type, equals: note } } ]
      - ws:
          name: reply
          url: ${env.WS}/reply?delay=30
          send_on_open: [ { id: "r${nth}" } ]
          send_every: { interval: 50ms, message: { id: "${uuid()}" } }
          reply_match: { request: id, reply: re }
          close_after: 400ms
      - ws:
          name: next
          url: ${env.WS}/echo
          send_every: { interval: 50ms, message: "x" }
          reply_match: { next: true }
          close_after: 300ms
""")
        self.assertEqual(rc, 0, err)
        sess = {p[2]["name"]: p for p in self.of(points, "ws_sessions")}
        self.assertNotIn("error_code", sess["expect"][2])
        # expect met before the push ended: the session closed early
        d = [p for p in self.of(points, "ws_session_duration") if p[2]["name"] == "expect"][0][1]
        self.assertLess(d, 1000)
        rt = [p for p in self.of(points, "ws_msg_reply_time") if p[2]["name"] == "reply"]
        self.assertGreaterEqual(len(rt), 5)
        self.assertTrue(all(25 <= p[1] < 500 for p in rt), rt)
        nx = [p for p in self.of(points, "ws_msg_reply_time") if p[2]["name"] == "next"]
        self.assertGreaterEqual(len(nx), 3)
        self.assertEqual(summary["metrics"]["checks"]["fails"], 0)


    def test_reply_match_next_shorthand(self):
        # `reply_match: next` is { next: true }, not a JSON path named next
        rc, err, _, points = self.run_ws("""\
      - ws:
          name: short
          url: ${env.WS}/echo
          send_every: { interval: 30ms, message: "x" }
          reply_match: next
          close_after: 330ms
      - ws:
          name: field
          url: ${env.WS}/echo
          send_on_open: [ { next: 1 }, { next: 2 } ]
          reply_match: { request: next, reply: next }
          close_after: 200ms
""")
        self.assertEqual(rc, 0, err)
        rt = self.of(points, "ws_msg_reply_time")
        short = [p for p in rt if p[2]["name"] == "short"]
        self.assertGreaterEqual(len(short), 5, points)
        self.assertTrue(all(p[1] > 0 for p in short), short)
        self.assertEqual(len([p for p in rt if p[2]["name"] == "field"]), 2, points)


    def test_data_sent_and_received(self):
        # a ws-only run counts its bytes as k6 does: handshake and frames
        spec = ("version: 1\nscenarios:\n  s:\n    executor: per-vu-iterations\n    flow:\n"
                "      - ws: { url: \"${env.WS}/close?code=1000&after=1\", send_on_open: [abc], "
                "close_after: 5s }\n")
        rc, out, err, s = self.run_spec(spec, env={"WS": self.url})
        self.assertEqual(rc, 0, err)
        m = s["metrics"]
        # 129 bytes of handshake answer, then a close frame of 7 (1000 "bye");
        # the server also answers our echo of its close with a close frame
        # of 4, which may arrive before the session's end or not
        self.assertIn(m["data_received"]["count"], (129 + 7, 129 + 7 + 4))
        # the upgrade request (about 200 bytes here), "abc" in a masked
        # frame (9), the close frame echoed (8)
        self.assertGreater(m["data_sent"]["count"], 150 + 9 + 8)
        self.assertLess(m["data_sent"]["count"], 400)
        self.assertRegex(out, r"data_received\.+: 1(36|40) B ")
        self.assertRegex(out, r"data_sent\.+: \d+ B ")


class TestFailures(WsCase):
    def fails(self, step, code, status="101", within=10):
        t0 = time.monotonic()
        rc, err, summary, points = self.run_ws("      - ws: " + step + "\n")
        self.assertLess(time.monotonic() - t0, within)
        self.assertEqual(rc, 0, err)
        tags = self.session(points)
        self.assertEqual(tags.get("error_code"), code, points)
        self.assertEqual(tags.get("status", ""), status)
        self.assertEqual(self.of(points, "ws_session_failed")[0][1], 1)
        return tags, points

    def no_timings(self, points):
        """A session that never opened has no ws_connecting or
        ws_session_duration sample (no 0 ms in the trends)."""
        self.assertEqual(self.of(points, "ws_connecting"), [])
        self.assertEqual(self.of(points, "ws_session_duration"), [])

    def test_refused(self):
        _, points = self.fails('{ url: "ws://127.0.0.1:%d/x" }' % free_port(), "refused", status="")
        self.no_timings(points)

    def test_400_instead_of_101(self):
        _, points = self.fails('{ url: "${env.WS}/reject400" }', "handshake", status="400")
        self.no_timings(points)

    def test_closed_by_server_with_code(self):
        self.fails('{ url: "${env.WS}/close?code=4001&after=1", send_on_open: [a], close_after: 5s }',
                   "close_4001")

    def test_normal_server_close_is_no_failure(self):
        rc, err, _, points = self.run_ws(
            '      - ws: { url: "${env.WS}/close?code=1000&after=1", send_on_open: [a], close_after: 5s }\n')
        self.assertEqual(rc, 0, err)
        self.assertNotIn("error_code", self.session(points))
        self.assertEqual(self.of(points, "ws_session_failed")[0][1], 0)

    def test_dropped_without_close_frame(self):
        self.fails('{ url: "${env.WS}/drop?after=1", send_on_open: [a], close_after: 5s }',
                   "close_1006")

    def test_message_too_big(self):
        self.fails('{ url: "${env.WS}/big?size=300000", max_message_size: 100000, close_after: 5s }',
                   "too_big")

    def test_invalid_utf8(self):
        self.fails('{ url: "${env.WS}/badutf8", close_after: 5s }', "protocol")

    def test_handshake_never_answered(self):
        t0 = time.monotonic()
        _, points = self.fails('{ url: "${env.WS}/hang", connect_timeout: 500ms }', "timeout",
                               status="")
        self.assertGreater(time.monotonic() - t0, 0.5)
        self.no_timings(points)

    def test_pong_timeout_needs_ping_every(self):
        spec = self.write_spec("version: 1\nscenarios:\n  s:\n    executor: per-vu-iterations\n"
                               "    flow:\n      - ws: { url: \"${env.WS}/echo\", pong_timeout: 1s }\n")
        rc, _, err = self.volley("validate", spec, env={"WS": self.url})
        self.assertEqual(rc, 104, err)
        self.assertIn("pong_timeout: needs ping_every", err)

    def test_pongs_answered_in_time_are_no_failure(self):
        rc, err, _, points = self.run_ws('      - ws: { url: "${env.WS}/echo", ping_every: 50ms, '
                                         'pong_timeout: 500ms, close_after: 400ms }\n')
        self.assertEqual(rc, 0, err)
        self.assertNotIn("error_code", self.session(points))
        self.assertGreaterEqual(len(self.of(points, "ws_ping")), 5)

    def test_expect_timeout(self):
        self.fails('{ url: "${env.WS}/echo", expect: { match: { body: { contains: never } }, '
                   'timeout: 300ms } }', "expect_timeout")

    def test_expect_timeout_is_the_checks_reason(self):
        # no message came: the step's checks fail because expect timed out,
        # not because an empty body "is not JSON"
        spec = ("version: 1\nscenarios:\n  s:\n    executor: per-vu-iterations\n    flow:\n"
                "      - ws:\n"
                "          url: ${env.WS}/echo\n"
                "          expect: { match: { json: { path: type, equals: note } }, timeout: 300ms }\n"
                "        check:\n"
                "          - { name: got it, json: { path: type, equals: note } }\n"
                "          - { name: upgraded, status: 101 }\n")
        rc, out, err, s = self.run_spec(spec, env={"WS": self.url})
        self.assertEqual(rc, 0, err)
        self.assertEqual(s["metrics"]["checks"]["fails"], 1)
        self.assertRegex(out, r"✗ got it\n.*\n\s+first failure: json: expect: no matching message "
                              r"within 0\.3s\n")
        self.assertNotIn("not JSON", out)

    def test_threshold_on_failed_sessions(self):
        rc, err, summary, _ = self.run_ws(
            '      - ws: { url: "${env.WS}/reject400" }\n',
            extra='thresholds:\n  "ws_sessions{status:400}": ["count<1"]\n'
                  '  ws_session_failed: ["rate<0.5"]\n')
        self.assertEqual(rc, 99, err)
        th = summary["metrics"]["ws_sessions{status:400}"]["thresholds"]
        self.assertTrue(th["count<1"])   # k6's export: true = failed


class TestContexts(WsCase):
    def test_sessions_spread_over_contexts(self):
        """VOLLEY_WS_CONTEXTS sets the lws contexts per worker (VUs take them in
        turn); every count works, and a bad value is a clear engine error."""
        spec = ("version: 1\nname: ws\nscenarios:\n  s:\n    executor: per-vu-iterations\n"
                "    vus: 30\n    iterations: 2\n    flow:\n"
                "      - ws: { url: \"${env.WS}/echo\", send_on_open: [ \"hello\" ], "
                "expect: { match: { body: { contains: hello } }, timeout: 5s } }\n")
        for n in ("1", "5", "64"):
            rc, _, err, summary = self.run_spec(spec, "--workers", "2", timeout=60,
                                                env={"WS": self.url, "VOLLEY_WS_CONTEXTS": n})
            self.assertEqual(rc, 0, err)
            m = summary["metrics"]
            self.assertEqual(m["ws_sessions"]["count"], 60, n)
            self.assertEqual(m["ws_session_failed"]["passes"], 0, n)
            self.assertEqual(m["ws_msgs_received"]["count"], 60, n)
        rc, _, err, _ = self.run_spec(spec, timeout=60, env={"WS": self.url, "VOLLEY_WS_CONTEXTS": "0"})
        self.assertEqual(rc, 103, err)
        self.assertIn('VOLLEY_WS_CONTEXTS: expected a number of contexts from 1 to 64, got "0"', err)


class TestStop(WsCase):
    def test_sigint_writes_summary_and_outputs(self):
        """SIGINT in the middle of open sessions (http steps beside them, two
        workers): exit 105 within seconds, the summary and the json-out file
        written, the sessions cut by the stop counted, not failed."""
        spec = self.write_spec(
            "version: 1\nname: ws-sigint\nscenarios:\n  s:\n    executor: constant-vus\n"
            "    vus: 40\n    duration: 60s\n    flow:\n"
            "      - ws: { url: \"${env.WS}/echo\", send_every: { interval: 50ms, message: m }, "
            "close_after: 30s }\n"
            "      - http: { url: \"http://127.0.0.1:%d/\", timeout: 1s }\n" % free_port())
        nd = os.path.join(self.tmp, "sigint.ndjson")
        summary = os.path.join(self.tmp, "sigint.json")
        p = subprocess.Popen([VOLLEY, "run", "--workers", "2", "--out", "json-out=" + nd,
                              "--summary-export", summary, spec],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, WS=self.url))
        time.sleep(2)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(p.returncode, 105, err)
        self.assertIn("ws_msgs_received", out)
        with open(summary) as f:
            m = json.load(f)["metrics"]
        # every session that opened ends counted once (a slow machine may
        # still have some connecting: those are cut before they count)
        points = [d for d in self.read_ndjson(nd) if d["type"] == "Point"]
        n_conn = sum(1 for d in points if d["metric"] == "ws_connecting")
        self.assertGreaterEqual(n_conn, 20)
        self.assertEqual(sum(1 for d in points if d["metric"] == "ws_sessions"), n_conn)
        self.assertEqual(m["ws_sessions"]["count"], n_conn)
        self.assertEqual(m["ws_session_failed"]["passes"], 0)    # cut by the stop: not failed
        self.assertGreater(m["ws_msgs_received"]["count"], n_conn * 5)

    def test_graceful_stop_closes_open_sessions(self):
        """Sessions without close_after end when the test does."""
        spec = ("version: 1\nname: ws\nscenarios:\n  s:\n    executor: constant-vus\n"
                "    vus: 20\n    duration: 1s\n    graceful_stop: 500ms\n    flow:\n"
                "      - ws: { url: \"${env.WS}/echo\", send_every: { interval: 100ms, message: m } }\n")
        t0 = time.monotonic()
        rc, _, err, summary = self.run_spec(spec, env={"WS": self.url}, timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(summary["metrics"]["ws_sessions"]["count"], 20)
        self.assertGreater(summary["metrics"]["ws_msgs_received"]["count"], 100)


class TestWss(VolleyCase):
    """wss:// against the test server with a self-signed certificate made
    here (openssl), trusted through the step's tls.ca_file, with two
    workers: each worker's lws context is made before any session starts
    (engine_worker.c start_gate). test_tls.py has the other tls: options."""

    def test_wss_sessions_verify_the_certificate(self):
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = WsServer("--tls", cert, key)
        try:
            spec = """
                version: 1
                scenarios:
                  s:
                    executor: per-vu-iterations
                    vus: 4
                    iterations: 3
                    flow:
                      - ws:
                          url: wss://127.0.0.1:%d/echo
                          send_on_open: [ { type: hi } ]
                          reply_match: { next: true }
                          close_after: 100ms
                          check_each_message: [ { name: echoed, json: { path: type, equals: hi } } ]
                          %s
                        check: [ { name: upgraded, status: 101 } ]
                """
            trusted = "tls: { ca_file: %s }" % cert
            rc, out, err, s = self.run_spec(spec % (server.port, trusted), "--workers", "2")
            self.assertEqual(rc, 0, out + err)
            m = s["metrics"]
            self.assertEqual(m["ws_sessions"]["count"], 12)
            self.assertEqual(m["ws_session_failed"]["value"], 0)
            self.assertEqual(m["ws_msgs_received"]["count"], 12)
            self.assertEqual(m["checks"]["fails"], 0)
            # Without the certificate trusted the handshake fails, measured.
            rc, out, err, s = self.run_spec(spec % (server.port, ""), "--workers", "2")
            self.assertEqual(s["metrics"]["ws_session_failed"]["value"], 1)
            self.assertEqual(s["metrics"]["checks"]["passes"], 0)
            self.assertIn("x509: unknown authority", out)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
