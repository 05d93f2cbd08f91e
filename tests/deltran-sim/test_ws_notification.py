"""The real DelTran notification WebSocket protocol (deltran-api.md §5)
through volley's ws step, against the fixture stand-in (notification on
DELTRAN_SIM_OFFSET + 8089): a subscriber session pings the engine with a
JSON ping and times the pong (reply_match next), pings with control
frames (ws_ping), and waits for a notification that the test POSTs for
its user_id, capturing a value from it that a later step uses; a session
without user_id is refused with 400 before the upgrade.

The notification is POSTed by a second scenario of the same spec (an http
step starting 1 s in), the publisher/subscriber shape a QA spec would use."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from simtest import HOST, SimCase, port, summary_checks

VOLLEY = os.environ.get("VOLLEY_BIN", "build/volley")

SPEC = """
version: 1
name: ws-notification
scenarios:
  subscriber:
    executor: per-vu-iterations
    vus: 1
    iterations: 1
    max_duration: 20s
    flow:
      - ws:
          name: subscriber
          url: ws://${env.HOST}:${env.PORT}/ws
          query: { user_id: "${env.USER}" }
          send_on_open: [ { type: ping } ]    # the engine answers {type: pong}
          reply_match: { next: true }          # the next frame answers it
          ping_every: 200ms
          check_each_message:
            - { name: frame has type, json: { path: type, exists: true } }
            - { name: frame has payload key, json: { path: payload, exists: true } }
          expect:
            match: { json: { path: type, equals: notification } }
            timeout: 8s
            capture: { ref: json.payload.ref }
        check:
          - { name: subscribed, status: 101 }
          - { name: notification for us, json: { path: payload.ref, equals: r-42 } }
      - ws:
          name: no user_id
          url: ws://${env.HOST}:${env.PORT}/ws
          query: { ref: "${ref}" }           # the captured value, in a later step
        check: [ { name: refused with 400, status: 400 } ]
  publisher:
    executor: per-vu-iterations
    vus: 1
    iterations: 1
    start_time: 1s
    flow:
      - http:
          method: POST
          url: http://${env.HOST}:${env.PORT}/api/v1/notifications
          json: { user_id: "${env.USER}", type: websocket, data: { ref: r-42 } }
        check: [ { name: published, status: 200 } ]
thresholds:
  "ws_sessions{status:400}": ["count==1"]
  "ws_sessions{error_code:handshake}": ["count==1"]
  "ws_sessions{status:101}": ["count==1"]
  ws_msg_reply_time: ["max<2000"]
  ws_ping: ["max<2000"]
"""


class WsNotification(SimCase):
    def test_protocol(self):
        tmp = tempfile.mkdtemp(prefix="ws-notification-")
        spec = os.path.join(tmp, "spec.yaml")
        with open(spec, "w") as f:
            f.write(SPEC)
        summary = os.path.join(tmp, "summary.json")
        user = "ws-user-%d-%d" % (os.getpid(), int(time.time()))
        t0 = time.monotonic()
        p = subprocess.run([VOLLEY, "run", "-q", "--summary-export", summary, "-e", "HOST=" + HOST,
                            "-e", "PORT=%d" % port("notification"), "-e", "USER=" + user, spec],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertLess(time.monotonic() - t0, 20)
        self.assertEqual(p.returncode, 0, p.stdout)
        with open(summary) as f:
            s = json.load(f)
        checks = summary_checks(s)
        for name in ["published", "subscribed", "notification for us", "refused with 400",
                     "frame has type", "frame has payload key"]:
            self.assertIn(name, checks, checks)
            self.assertGreater(checks[name][0], 0, name)
            self.assertEqual(checks[name][1], 0, name)
        # captures are reported apart from the checks
        self.assertEqual([(c["name"], c["fails"]) for c in s["captures"]], [("ref", 0)])
        self.assertGreater(s["captures"][0]["passes"], 0)
        # the pong and the notification (the stand-in delivers once)
        m = s["metrics"]
        self.assertGreaterEqual(m["ws_msgs_received"]["count"], 2)
        self.assertIn("ws_msg_reply_time", m)      # ping -> pong, paired by order
        self.assertGreater(m["ws_ping"]["max"], 0)


if __name__ == "__main__":
    unittest.main()
