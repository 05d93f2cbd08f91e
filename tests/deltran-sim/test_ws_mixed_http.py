"""http and ws steps sharing one worker's loop, under fd churn, against the
fixture stand-in: every iteration opens and closes sockets of both
libraries (keep-alive and Connection: close http, on the fast path and on
curl; ws sessions that are answered, refused, closed at once, and long
ones cancelled by a hard stop), so fd numbers freed by one library are
reused by the other within the same loop turn.

Before the engine's end gate, runs like these hung an http step or
aborted (an assertion in lws' fd table, libuv's abort on a poll of a
closed fd, uv_poll_start on a closing handle) in 1 run in 10 with live
targets and 4 in 10 with a dead one: libwebsockets 4.1.6 closes its event
fd twice when a worker destroys its context, and a socket another worker
had opened in between was closed under it. Each run here must end by
itself, with exact counts, on one and on two workers and with both http
clients; test_dead_target is the case that failed most (a refused ws
connect at ~100k/s on two workers, the workers finishing at different
moments). VOLLEY_MIXED_RUNS=N repeats every case N times (default 2) for
a longer local stress."""
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

from simtest import HOST, SimCase, port, summary_checks

VOLLEY = os.environ.get("VOLLEY_BIN", "build/volley")
RUNS = int(os.environ.get("VOLLEY_MIXED_RUNS", "2"))
VUS, ITERS = 40, 15

SPEC = """
version: 1
name: ws-mixed-http
scenarios:
  churn:
    executor: per-vu-iterations
    vus: %(vus)d
    iterations: %(iters)d
    max_duration: 30s
    flow:
      - http: { url: "http://${env.HOST}:${env.GW}/health", timeout: 5s }
        check: [ { name: gateway up, status: 200 } ]
      - ws:
          url: ws://${env.HOST}:${env.NOTIF}/ws
          query: { user_id: "mix-${vu.id}" }
          connect_timeout: 5s
          send_on_open: [ { type: ping } ]
          expect: { match: { json: { path: type, equals: pong } }, timeout: 5s }
        check: [ { name: pong, status: 101 } ]
      - http:
          url: "http://${env.HOST}:${env.NOTIF}/health"
          headers: { Connection: close }
          timeout: 5s
        check: [ { name: notification up, status: 200 } ]
      - ws: { name: dead, url: "ws://${env.HOST}:${env.DEAD}/ws", connect_timeout: 2s }
      - http: { name: dead, url: "http://${env.HOST}:${env.DEAD}/", timeout: 2s }
      - ws:
          url: ws://${env.HOST}:${env.NOTIF}/ws
          query: { user_id: "mix-${vu.id}" }
          close_after: 1ms
  cancelled:
    executor: constant-vus
    vus: 20
    duration: 1500ms
    graceful_stop: 0s
    flow:
      - http: { url: "http://${env.HOST}:${env.GW}/health", headers: { Connection: close } }
      - ws:
          url: ws://${env.HOST}:${env.NOTIF}/ws
          query: { user_id: "long-${vu.id}" }
          send_every: { interval: 20ms, message: { type: ping } }
          ping_every: 50ms
          close_after: 800ms
"""


def closed_port():
    """A port bound but not listening: connects to it are refused, and no
    other process can take it while the socket is held."""
    s = socket.socket()
    s.bind((HOST, 0))
    return s


class WsMixedHttp(SimCase):
    def run_case(self, workers, env):
        dead = closed_port()
        tmp = tempfile.mkdtemp(prefix="ws-mixed-")
        spec = os.path.join(tmp, "spec.yaml")
        with open(spec, "w") as f:
            f.write(SPEC % {"vus": VUS, "iters": ITERS})
        summary = os.path.join(tmp, "summary.json")
        t0 = time.monotonic()
        try:
            p = subprocess.run([VOLLEY, "run", "-q", "--workers", str(workers), "--summary-export", summary,
                                "-e", "HOST=" + HOST, "-e", "GW=%d" % port("gateway"),
                                "-e", "NOTIF=%d" % port("notification"),
                                "-e", "DEAD=%d" % dead.getsockname()[1], spec],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90,
                               env=dict(os.environ, **env))
        finally:
            dead.close()
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertLess(took, 45, "the run did not end by itself in time")
        with open(summary) as f:
            s = json.load(f)
        m = s["metrics"]
        n = VUS * ITERS
        # every iteration of churn completed: 3 http requests and 3 ws
        # sessions each; cancelled adds whole and interrupted iterations.
        checks = summary_checks(s)
        for name in ["gateway up", "pong", "notification up"]:
            self.assertEqual(checks[name], (n, 0), name)
        self.assertGreaterEqual(m["iterations"]["count"], n)
        self.assertGreaterEqual(m["http_reqs"]["count"], 3 * n)
        self.assertGreaterEqual(m["ws_sessions"]["count"], 3 * n)
        # the dead port: one refused ws session and one failed request per
        # churn iteration, nothing else failed in churn
        self.assertEqual(m["http_req_failed"]["passes"], n)
        fails = int(m["ws_session_failed"]["passes"])
        self.assertGreaterEqual(fails, n)
        self.assertLessEqual(fails, n + 20)   # + sessions cut by the hard stop
        self.assertGreater(m["ws_msgs_received"]["count"], n)

    def test_mixed(self):
        cases = [(1, {}), (2, {}), (2, {"VOLLEY_HTTP_CLIENT": "curl"})]
        for _ in range(RUNS):
            for workers, env in cases:
                with self.subTest(workers=workers, env=env):
                    self.run_case(workers, env)

    def test_dead_target(self):
        spec_text = ("version: 1\nname: ws-dead\nscenarios:\n  s:\n    executor: constant-vus\n"
                     "    vus: 60\n    duration: 2s\n    flow:\n"
                     "      - ws: { url: \"ws://${env.HOST}:${env.DEAD}/ws\", connect_timeout: 1s }\n"
                     "      - http: { url: \"http://${env.HOST}:${env.DEAD}/\", timeout: 1s }\n")
        tmp = tempfile.mkdtemp(prefix="ws-dead-")
        spec = os.path.join(tmp, "spec.yaml")
        with open(spec, "w") as f:
            f.write(spec_text)
        for _ in range(2 * RUNS):
            dead = closed_port()
            summary = os.path.join(tmp, "summary.json")
            try:
                p = subprocess.run([VOLLEY, "run", "-q", "--workers", "2", "--summary-export", summary,
                                    "-e", "HOST=" + HOST, "-e", "DEAD=%d" % dead.getsockname()[1], spec],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            finally:
                dead.close()
            self.assertEqual(p.returncode, 0, p.stdout)
            with open(summary) as f:
                m = json.load(f)["metrics"]
            # every session and every request failed, and each was counted
            n = m["iterations"]["count"]
            self.assertGreater(n, 1000)
            self.assertEqual(m["ws_sessions"]["count"], n)
            self.assertEqual(m["ws_session_failed"]["passes"], n)
            self.assertEqual(m["http_req_failed"]["passes"], n)


if __name__ == "__main__":
    unittest.main()
