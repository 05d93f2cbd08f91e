"""The analytics-sink output against the fixture stand-in's analytics
collector (8093 + offset): a run records one event whose data holds the
run's totals, readable at GET /transactions/{test_run_id}, equal to the
summary export's numbers; a collector that answers 404 or is down is
reported on stderr and does not change the run's exit code."""
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from simtest import HOST, SimCase, call, port

VOLLEY = os.environ.get("VOLLEY_BIN", "build/volley")

SPEC = """
version: 1
name: sink
services:
  gateway: { url: "http://${env.HOST}:${env.GW}" }
  analytics: { url: "http://${env.HOST}:${env.AN}" }
scenarios:
  s:
    executor: per-vu-iterations
    vus: 2
    iterations: 7
    flow:
      - http: { url: "${services.gateway}/health" }
        check: [ { name: up, status: 200 } ]
outputs:
  - analytics-sink:
      url: "${env.SINK_URL}"
      test_run_id: "${env.RUN}"
      test_scenario: health check
      load_level: smoke
"""


def significant(text):
    """The significant digits of a number's text: "3.0068856799999999"
    -> "30068856799999999", "1.5e-05" -> "15", "200.0" -> "2"."""
    mantissa = text.lower().lstrip("-").split("e")[0].replace(".", "")
    return mantissa.strip("0") or "0"


class AnalyticsSink(SimCase):
    def run_sink(self, run_id, url=None):
        url = url or "http://%s:%d/events/transaction" % (HOST, port("analytics"))
        tmp = tempfile.mkdtemp(prefix="sink-")
        spec = os.path.join(tmp, "spec.yaml")
        with open(spec, "w") as f:
            f.write(SPEC)
        summary = os.path.join(tmp, "summary.json")
        p = subprocess.run([VOLLEY, "run", "-q", "--summary-export", summary, "-e", "HOST=" + HOST,
                            "-e", "GW=%d" % port("gateway"), "-e", "AN=%d" % port("analytics"),
                            "-e", "RUN=" + run_id, "-e", "SINK_URL=" + url, spec],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        with open(summary) as f:
            return p.returncode, p.stderr, json.load(f)

    def test_run_recorded_with_its_totals(self):
        run_id = "volley-test-%d-%d" % (os.getpid(), int(time.time() * 1000))
        rc, err, s = self.run_sink(run_id)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("not recorded", err)
        r = call("analytics", "GET", "/transactions/" + run_id)
        self.assertEqual(r.status, 200, r.text)
        row = r.json()
        self.assertEqual(row["status"], "load_test_run")
        data = json.loads(row["raw_request"])
        self.assertEqual(data["test_run_id"], run_id)
        self.assertEqual(data["test_scenario"], "health check")
        self.assertEqual(data["load_level"], "smoke")
        m, want = data["metrics"], s["metrics"]
        self.assertEqual(m["http_reqs"]["count"], want["http_reqs"]["count"])
        self.assertEqual(m["http_reqs"]["count"], 14)
        self.assertEqual(m["iterations"]["count"], 14)
        self.assertEqual((m["checks"]["passes"], m["checks"]["fails"]), (14, 0))
        self.assertEqual(m["http_req_failed"]["passes"], 0)
        self.assertAlmostEqual(m["http_req_duration"]["max"], want["http_req_duration"]["max"], places=3)
        self.assertAlmostEqual(m["http_req_duration"]["avg"], want["http_req_duration"]["avg"], places=3)
        self.assertGreaterEqual(data["duration_seconds"], 0)

    def test_reals_in_their_shortest_text(self):
        """Every real of the event as the shortest text that reads back as
        the same double: 3.00688568, not 3.0068856799999999. The body as
        sent (the stand-in collector re-serializes what it keeps)."""
        bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                bodies.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

        srv = http.server.HTTPServer((HOST, 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            rc, err, s = self.run_sink("volley-test-short", "http://%s:%d/events/transaction"
                                       % (HOST, srv.server_address[1]))
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(bodies), 1, err)
        reals = []
        ev = json.loads(bodies[0], parse_float=lambda t: reals.append(t) or float(t))
        self.assertIn("duration_seconds", ev["data"])
        self.assertGreater(len(reals), 20)
        for t in reals:
            self.assertEqual(significant(t), significant(repr(float(t))), bodies[0])
        # still the summary's numbers
        m = ev["data"]["metrics"]
        self.assertEqual(m["http_reqs"]["count"], 14)
        self.assertAlmostEqual(m["http_req_duration"]["max"], s["metrics"]["http_req_duration"]["max"], places=3)

    def test_collector_errors_do_not_fail_the_run(self):
        s = socket.socket()
        s.bind((HOST, 0))
        dead = s.getsockname()[1]
        try:
            for url, said in [("http://%s:%d/events/test-run" % (HOST, port("analytics")), "HTTP 404"),
                              ("http://%s:%d/x" % (HOST, dead), "Couldn't connect")]:
                rc, err, _ = self.run_sink("volley-test-bad", url)
                self.assertEqual(rc, 0, err)
                self.assertIn("analytics-sink: run volley-test-bad not recorded: POST " + url, err)
                self.assertIn(said, err)
        finally:
            s.close()

    def test_bad_url_is_a_spec_error_before_any_traffic(self):
        tmp = tempfile.mkdtemp(prefix="sink-")
        spec = os.path.join(tmp, "spec.yaml")
        with open(spec, "w") as f:
            f.write(SPEC)
        p = subprocess.run([VOLLEY, "run", "-q", "-e", "HOST=" + HOST, "-e", "GW=%d" % port("gateway"),
                            "-e", "AN=%d" % port("analytics"), "-e", "RUN=r", "-e", "SINK_URL=ftp://x", spec],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        # The plugin's config_check runs at load time: an invalid spec (104)
        # at the output's place, and `volley validate` says the same.
        self.assertEqual(p.returncode, 104, p.stderr)
        self.assertRegex(p.stderr, r'spec\.yaml:\d+:\d+: error: outputs\[0\]\.analytics-sink: '
                         r'url: expected an http:// or https:// URL such as '
                         r'http://localhost:8093/events/transaction, got "ftp://x"')
        self.assertNotIn("http_reqs", p.stdout)
        v = subprocess.run([VOLLEY, "validate", "-e", "HOST=" + HOST, "-e", "GW=1", "-e", "AN=1",
                            "-e", "RUN=r", "-e", "SINK_URL=ftp://x", spec],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(v.returncode, 104, v.stderr)
        self.assertIn('got "ftp://x"', v.stderr)


if __name__ == "__main__":
    unittest.main()
