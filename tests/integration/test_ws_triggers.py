"""ws sends triggered by a received message or a timer, durations drawn per
session, and several sessions per step, through the real volley binary
against tests/ws/wsserver.py: k6's socket.on('message') + send,
socket.setTimeout, setInterval with a random interval, and several
sockets in one iteration (examples/websocket.js, examples/websockets/ws.js).
Counts come from json-out's samples."""
import re
import unittest

from test_ws import WsCase


class TestOnMessage(WsCase):
    def test_reply_to_matching_messages(self):
        """The server pushes 3 "q" messages; each gets an ack, which the
        server echoes (acks do not match: no loop). A second item sends on
        every message, 50 ms later."""
        rc, err, _, points = self.run_ws("""\
      - ws:
          url: ${env.WS}/push?n=3&every=40&type=q
          on_message:
            - match: { json: { path: type, equals: q } }
              send: { type: ack, vu: "${vu.id}" }
            - match: { json: { path: type, equals: ack } }
              send: [ seen, again ]
              after: 50ms
          close_after: 600ms
""")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("error_code", self.session(points))
        # 3 acks + 2 x 3 "seen"/"again" (their echoes match nothing)
        self.assertEqual(len(self.of(points, "ws_msgs_sent")), 9)
        # 3 pushes + 3 acks + 6 echoes
        self.assertEqual(len(self.of(points, "ws_msgs_received")), 12)

    def test_k6_websocket_js(self):
        """examples/websocket.js: send the time on open, then on each
        message the time again 100 ms later (setTimeout), pings every
        100 ms, close after 1 s."""
        rc, err, _, points = self.run_ws("""\
      - ws:
          url: ${env.WS}/echo
          send_on_open: [ "${now.ms}" ]
          ping_every: 100ms
          on_message:
            - { send: "${now.ms}", after: 100ms }
          close_after: 1s
        check:
          - { name: status is 101, status: 101 }
""")
        self.assertEqual(rc, 0, err)
        sent = len(self.of(points, "ws_msgs_sent"))
        recv = len(self.of(points, "ws_msgs_received"))
        self.assertTrue(7 <= sent <= 11, sent)        # one per ~100 ms + the echo's way
        self.assertIn(recv, (sent - 1, sent))         # the last may cross our close
        self.assertGreaterEqual(len(self.of(points, "ws_ping")), 8)
        self.assertEqual([c[1] for c in self.of(points, "checks")], [1])

    def test_nothing_sent_once_closing(self):
        """expect met without close_after closes the session: the item's
        send does not go out after the close frame."""
        rc, err, _, points = self.run_ws("""\
      - ws:
          url: ${env.WS}/push?n=2&every=30&type=q
          expect: { match: { json: { path: type, equals: q } } }
          on_message: [ { send: late, after: 200ms } ]
""")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.of(points, "ws_msgs_sent")), 0)
        self.assertEqual(len(self.of(points, "ws_msgs_received")), 1)


class TestTimers(WsCase):
    def test_send_after_then_close(self):
        rc, err, _, points = self.run_ws("""\
      - ws:
          url: ${env.WS}/echo
          send_after:
            - { after: 100ms, message: a }
            - { after: 300ms, message: [ b, { c: 1 } ], close_after: 100ms }
          close_after: 5s
""")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.of(points, "ws_msgs_sent")), 3)
        self.assertEqual(len(self.of(points, "ws_msgs_received")), 3)
        dur = self.of(points, "ws_session_duration")[0][1]
        self.assertTrue(395 <= dur < 1000, dur)      # 300 + 100, not 5 s

    def test_stop_send_every(self):
        """k6's clearInterval before a LEAVE: ticks every 50 ms until the
        LEAVE at 275 ms, none after it, the close 300 ms later."""
        rc, err, _, points = self.run_ws("""\
      - ws:
          url: ${env.WS}/echo
          send_every: { interval: 50ms, message: tick }
          send_after:
            - { after: 275ms, message: LEAVE, stop_send_every: true, close_after: 300ms }
""")
        self.assertEqual(rc, 0, err)
        sent = len(self.of(points, "ws_msgs_sent"))
        self.assertIn(sent, (5, 6))                  # 4-5 ticks (a late turn skips one), LEAVE
        dur = self.of(points, "ws_session_duration")[0][1]
        self.assertTrue(570 <= dur < 1200, dur)

    def test_durations_drawn_per_session(self):
        """close_after and send_every's interval from ${random.int}: each
        session draws its own; all within the range."""
        out = self.run_spec("""\
version: 1
scenarios:
  s:
    executor: per-vu-iterations
    vus: 4
    iterations: 2
    flow:
      - ws:
          url: ${env.WS}/echo
          send_every: { interval: "${random.int(40, 60)}ms", message: x }
          close_after: "${random.int(200, 400)}ms"
""", "--out", "json-out=" + self.tmp + "/o.ndjson", env={"WS": self.url})
        self.assertEqual(out[0], 0, out[2])
        durs = [d["data"]["value"] for d in self.read_ndjson(self.tmp + "/o.ndjson")
                if d.get("type") == "Point" and d["metric"] == "ws_session_duration"]
        self.assertEqual(len(durs), 8)
        self.assertTrue(all(199 <= d < 900 for d in durs), durs)
        self.assertGreater(len({round(d / 10) for d in durs}), 1, durs)
        self.assertEqual(out[3]["metrics"]["ws_session_failed"]["passes"], 0)

    def test_bad_duration_at_run_time(self):
        """A drawn duration out of range fails that session before it
        connects (error_code duration), with the value in the reason."""
        rc, err, _, points = self.run_ws("""\
      - ws:
          url: ${env.WS}/echo
          close_after: "${random.int(0, 0)}ms"
        check:
          - { name: opened, status: 101 }
""")
        self.assertEqual(rc, 0, err)
        tags = self.session(points)
        self.assertEqual(tags.get("error_code"), "duration")
        self.assertEqual(self.of(points, "ws_connecting"), [])
        self.assertEqual(self.of(points, "ws_session_failed")[0][1], 1)
        rc, out, err, _ = self.run_spec(
            "version: 1\nscenarios:\n  s:\n    executor: per-vu-iterations\n    flow:\n"
            "      - ws: { url: \"${env.WS}/echo\", send_after: [ { after: \"${vu.id}x\", "
            "message: m } ] }\n        check: { name: opened, status: 101 }\n",
            env={"WS": self.url})
        self.assertEqual(rc, 0, err)
        self.assertIn('send_after[0].after: "${vu.id}x" rendered "1x": expected a duration such '
                      'as 500ms, 10s, 1m30s or 2h; got "1x" (unknown unit', out)

    def test_bad_duration_is_said_without_a_check(self):
        """With no check the reason is still visible: once per step on
        stderr and among the summary's warnings, secrets hidden."""
        rc, out, err, _ = self.run_spec(
            "version: 1\nscenarios:\n  s:\n    executor: per-vu-iterations\n    vus: 2\n"
            "    iterations: 3\n    flow:\n"
            "      - ws: { name: bad, url: \"${env.WS}/echo\", "
            "close_after: \"${random.int(0, 0)}${env.WS_TOKEN}ms\" }\n"
            "      - ws: { name: good, url: \"${env.WS}/echo\", close_after: 10ms }\n",
            env={"WS": self.url, "WS_TOKEN": "s3cr3t"})
        self.assertEqual(rc, 0, err)
        said = 'ws step bad: close_after: "${random.int(0, 0)}***ms" rendered "0***ms": '

        lines = [l for l in err.splitlines() if "ws step bad:" in l]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("volley: warning: " + said, lines[0])
        self.assertIn("its sessions fail (error_code duration; said once)", lines[0])
        self.assertIn("     WARNING: " + said, out)
        self.assertNotIn("s3cr3t", out + err)
        self.assertNotIn("ws step good", out + err)


class TestConfigErrors(WsCase):
    def test_load_time_errors_at_their_place(self):
        spec = self.write_spec("""\
version: 1
scenarios:
  s:
    executor: per-vu-iterations
    flow:
      - ws:
          url: ${env.WS}/echo
          close_after: 0
          send_every: { interval: fast, message: x }
          send_after:
            - { after: 1s }
            - { after: "-1s", message: x, close_after: 8d }
          on_message:
            - { after: 2x, send: y }
            - { match: { body: { contains: a } }, send: z, after: "${vu.id}s" }
""")
        rc, _, err = self.volley("validate", spec, env={"WS": self.url})
        self.assertEqual(rc, 104, err)
        for want in (
                r':8:24: error: scenarios\.s\.flow\[0\]\.ws\.close_after: expected a duration '
                r'from 1us to 7 days, got "0"',
                r':9:35: error: .*send_every\.interval: expected a duration such as 500ms, 10s, '
                r'1m30s or 2h; got "fast" \(a number must come first\)',
                r':11:24: error: .*send_after\[0\]\.after: nothing to do then: give message, '
                r'close_after or stop_send_every',
                r':12:24: error: .*send_after\[1\]\.after: .*"-1s" \(negative durations',
                r':12:56: error: .*send_after\[1\]\.close_after: .*"8d" \(unknown unit',
                r':14:24: error: .*on_message\[0\]\.after: .*"2x" \(unknown unit'):
            self.assertRegex(err, want)
        self.assertIn("6 errors", err)

    def test_sockets_and_send_are_checked(self):
        spec = self.write_spec("""\
version: 1
scenarios:
  s:
    executor: per-vu-iterations
    flow:
      - ws: { url: "${env.WS}/echo", sockets: 0, on_message: [ { after: 1s } ] }
""")
        rc, _, err = self.volley("validate", spec, env={"WS": self.url})
        self.assertEqual(rc, 104, err)
        self.assertIn("ws.sockets: expected a value between 1 and 1000, got 0", err)
        self.assertIn('ws.on_message[0]: missing required key "send"', err)


class TestSockets(WsCase):
    def test_chat_room_k6_ws_js(self):
        """examples/websockets/ws.js on a smaller scale: 3 sockets per VU in
        one room, each names itself, says something, leaves and closes.
        Every SAY reaches the 3 sockets; the LEAVEs reach 2, then 1, then
        nobody. The step ends once all three have ended, its check runs once."""
        rc, err, _, points = self.run_ws("""\
      - ws:
          name: chat
          url: ${env.WS}/chat?room=vu${vu.id}
          sockets: 3
          send_on_open: [ { event: SET_NAME, new_name: "VU ${vu.id}:${uuid()}" } ]
          send_after:
            - { after: 150ms, message: { event: SAY, message: "I'm saying ${random.string(5)}" } }
            - { after: 300ms, message: { event: LEAVE }, close_after: 100ms }
          check_each_message:
            - { name: no error, json: { path: event, not_equals: ERROR } }
        check:
          - { name: all opened, status: 101 }
      - ws: { name: after, url: "${env.WS}/echo", send_on_open: [ z ], close_after: 50ms }
""")
        self.assertEqual(rc, 0, err)
        chat = [p for p in points if p[2].get("name") == "chat"]
        self.assertEqual(len(self.of(chat, "ws_sessions")), 3)
        self.assertEqual(len(self.of(chat, "ws_connecting")), 3)
        self.assertEqual([p[1] for p in self.of(chat, "ws_session_failed")], [0, 0, 0])
        self.assertEqual(len(self.of(chat, "ws_msgs_sent")), 9)
        self.assertEqual(len(self.of(chat, "ws_msgs_received")), 9 + 3)
        self.assertTrue(all(390 <= p[1] < 1000 for p in self.of(chat, "ws_session_duration")))
        checks = self.of(points, "checks")
        self.assertEqual([c[1] for c in checks if c[2].get("check") == "all opened"], [1])
        self.assertEqual(sum(1 for c in checks if c[2].get("check") == "no error"), 12)
        self.assertTrue(all(c[1] == 1 for c in checks), checks)
        # the next step ran after the three sessions
        self.assertEqual(len(self.of([p for p in points if p[2].get("name") == "after"],
                                     "ws_sessions")), 1)

    def test_failed_sockets_and_many_vus(self):
        """Every socket is measured: 3 refused upgrades are 3 failed
        sessions and the step's status is the failure's (400). Then 6 VUs x
        2 iterations x 4 sockets on two workers."""
        rc, err, _, points = self.run_ws("""\
      - ws: { url: "${env.WS}/reject400", sockets: 3 }
        check:
          - { name: refused, status: 400 }
""")
        self.assertEqual(rc, 0, err)
        failed = self.of(points, "ws_session_failed")
        self.assertEqual([p[1] for p in failed], [1, 1, 1])
        self.assertTrue(all(p[2].get("error_code") == "handshake" and p[2].get("status") == "400"
                            for p in failed))
        self.assertEqual([c[1] for c in self.of(points, "checks")], [1])
        rc, _, err, s = self.run_spec("""\
version: 1
scenarios:
  s:
    executor: per-vu-iterations
    vus: 6
    iterations: 2
    flow:
      - ws:
          url: ${env.WS}/echo
          sockets: 4
          send_on_open: [ a ]
          on_message: [ { match: { body: a }, send: b } ]
          expect: { match: { body: b }, timeout: 5s }
""", "--workers", "2", env={"WS": self.url})
        self.assertEqual(rc, 0, err)
        m = s["metrics"]
        self.assertEqual(m["ws_sessions"]["count"], 48)
        self.assertEqual(m["ws_session_failed"]["passes"], 0)
        self.assertEqual(m["ws_msgs_sent"]["count"], 96)
        self.assertEqual(m["ws_msgs_received"]["count"], 96)
        self.assertEqual(m["iterations"]["count"], 12)


if __name__ == "__main__":
    unittest.main()
