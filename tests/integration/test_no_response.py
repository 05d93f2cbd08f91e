"""Requests that got no response (no status line: refused, a silent server
past the timeout) add no sample to the http_req_* timing trends, on the
fast path and on curl (VOLLEY_HTTP_CLIENT=curl): a threshold on
http_req_duration over a run whose every request failed has no data
(exit 99), and in a mixed run each trend counts the responses only, in
--summary-export and in the json-out NDJSON. The iterations still count
and are timed. docs/spec-reference.md, "Requests without a response"."""
import json
import os
import re
import subprocess
import sys
import unittest

from volleytest import DEAD, SOURCE, VolleyCase

TIMINGS = ("http_req_duration", "http_req_blocked", "http_req_connecting",
           "http_req_tls_handshaking", "http_req_sending", "http_req_waiting",
           "http_req_receiving")
CLIENTS = ("fast", "curl")


def client_env(client):
    return {"VOLLEY_HTTP_CLIENT": "curl"} if client == "curl" else {}


class NoResponse(VolleyCase):
    def run_out(self, text, client, *args):
        """Runs with --summary-export and json-out; (rc, stdout, stderr,
        summary, points as (metric, value, tags))."""
        nd = os.path.join(self.tmp, "out-%s.ndjson" % client)
        rc, out, err, s = self.run_spec(text, "--out", "json-out=" + nd, *args,
                                        env=client_env(client))
        points = [(d["metric"], d["data"]["value"], d["data"]["tags"] or {})
                  for d in self.read_ndjson(nd) if d["type"] == "Point"]
        return rc, out, err, s, points

    @staticmethod
    def of(points, metric):
        return [p for p in points if p[0] == metric]

    def test_dead_target_has_no_data(self):
        spec = """
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 5
                flow:
                  - http: { url: "%s/x", timeout: 2s }
            thresholds:
              http_req_duration: [%s]
            """
        for client in CLIENTS:
            with self.subTest(client=client):
                rc, out, err, s, points = self.run_out(spec % (DEAD, '"p(95)<500"'), client)
                what = out + err
                self.assertEqual(rc, 99, what)
                # the summary names the threshold and its verdict
                self.assertRegex(out, r'✗ http_req_duration "p\(95\)<500": no data', what)
                self.assertRegex(out, r"✗ http_req_duration\.+: no data", what)
                m = s["metrics"]
                self.assertTrue(m["http_req_duration"]["no_data"], m)
                self.assertIs(m["http_req_duration"]["thresholds"]["p(95)<500"], True)   # failed
                self.assertEqual(m["http_reqs"]["count"], 10)
                self.assertEqual(m["http_req_failed"]["passes"], 10)
                for t in TIMINGS[1:]:   # no threshold: not shown, not exported
                    self.assertNotIn(t, m)
                    self.assertNotRegex(out, r"\b%s\.+:" % t)
                # the iterations happened and are timed
                self.assertEqual(m["iterations"]["count"], 10)
                self.assertNotIn("no_data", m["iteration_duration"])
                self.assertEqual(len(self.of(points, "iteration_duration")), 10)
                reqs = self.of(points, "http_reqs")
                self.assertEqual(len(reqs), 10)
                self.assertTrue(all(p[2].get("error_code") == "1212" for p in reqs), reqs)
                for t in TIMINGS:
                    self.assertEqual(self.of(points, t), [], t)

        # no data is accepted where the threshold says it may be
        rc, out, err, s, _ = self.run_out(
            spec % (DEAD, '{ threshold: "p(95)<500", allow_no_data: true }'), "fast")
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(s["metrics"]["http_req_duration"]["no_data"])

    def test_duration_check_fails_without_a_response(self):
        """duration_lt on a refused request: its 0 ms is no fast answer."""
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                flow:
                  - http: { url: "%s/x", timeout: 2s }
                    check:
                      - { name: quick, duration_lt: 500 }
            """ % DEAD)
        for client in CLIENTS:
            with self.subTest(client=client):
                rc, out, err = self.volley("run", spec, env=client_env(client))
                self.assertEqual(rc, 0, out + err)
                self.assertRegex(out, r"✗ quick\n\s+↳  0% — ✓ 0 / ✗ 3\n\s+first failure: duration_lt: no response: ", out)

    def test_all_failed_warning_says_what_happened(self):
        # k6's thresholds doc asks for /status/500 on purpose: the target
        # answered, so the warning must not ask whether it is up
        flow = """
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                iterations: 2
                flow:
            %s
            """
        cases = (
            ('      - http: { url: "${env.NGINX}/error500" }',
             "WARNING: every one of the 2 HTTP requests failed (http_req_failed 100%): 2 got a "
             "response, with a status not in expected_statuses (200-399 unless set)\n"),
            ('      - http: { url: "%s/x" }' % DEAD,
             "WARNING: none of the 2 HTTP requests got a response (http_req_failed 100%): "
             "is the target up?\n"),
            ('      - http: { url: "${env.NGINX}/error500" }\n                  - http: { url: "%s/x" }' % DEAD,
             "WARNING: every one of the 4 HTTP requests failed (http_req_failed 100%): 2 got a "
             "response, with a status not in expected_statuses (200-399 unless set), the others none\n"),
            ('      - http: { url: "${env.NGINX}/json" }\n                  - http: { url: "%s/x" }' % DEAD,
             None),
        )
        for steps, want in cases:
            with self.subTest(steps=steps):
                rc, out, err, s, points = self.run_out(flow % steps, "fast")
                if want:
                    self.assertIn(want, out)
                self.assertEqual(out.count("WARNING: "), 1 if want else 0, out)

    def test_mixed_run_counts_responses_only(self):
        spec = """
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 5
                flow:
                  - http: { name: down, url: "%s/x", timeout: 2s }
                  - http: { name: up, url: "${env.NGINX}/delay10" }
            thresholds:
              http_req_duration: ["p(95)<500"]
              "http_req_duration{name:down}": [{ threshold: "max<1", allow_no_data: true }]
            """ % DEAD
        for client in CLIENTS:
            with self.subTest(client=client):
                rc, out, err, s, points = self.run_out(spec, client)
                what = out + err
                self.assertEqual(rc, 0, what)
                m = s["metrics"]
                self.assertEqual(m["http_reqs"]["count"], 20)
                self.assertEqual(m["http_req_failed"]["passes"], 10)   # the refused ones
                self.assertEqual(m["http_req_failed"]["fails"], 10)
                refused = [p for p in self.of(points, "http_reqs") if p[2].get("name") == "down"]
                self.assertEqual(len(refused), 10)
                self.assertTrue(all(p[2].get("error_code") == "1212" for p in refused))
                # every timing trend: one sample per response, http_reqs minus
                # the refused, all of them the answered step's
                for t in TIMINGS:
                    got = self.of(points, t)
                    self.assertEqual(len(got), 20 - len(refused), t)
                    self.assertTrue(all(p[2].get("name") == "up" and p[2].get("status") == "200"
                                        for p in got), t)
                durations = [p[1] for p in self.of(points, "http_req_duration")]
                # nginx answers /delay10 after 10 ms: a 0 ms sample of a
                # refused request would show as the minimum and pull the
                # median down
                d = m["http_req_duration"]
                self.assertGreaterEqual(min(durations), 9.0, durations)
                self.assertAlmostEqual(d["min"], min(durations), delta=min(durations) * 0.01)
                self.assertAlmostEqual(d["max"], max(durations), delta=max(durations) * 0.01)
                self.assertGreaterEqual(d["med"], 9.0, d)
                self.assertIs(d["thresholds"]["p(95)<500"], False)
                self.assertTrue(m["http_req_duration{name:down}"]["no_data"], m)
                self.assertEqual(len(self.of(points, "iteration_duration")), 10)

    def test_silent_server_times_out_without_timings(self):
        """A server that accepts and never answers: the timeout comes
        before any byte (faultserver's tls_stall port, spoken to in plain
        HTTP)."""
        fs = subprocess.Popen([sys.executable, os.path.join(SOURCE, "tests", "hostile",
                                                            "faultserver.py")],
                              stdout=subprocess.PIPE, text=True)
        self.addCleanup(fs.wait, 10)
        self.addCleanup(fs.stdout.close)
        self.addCleanup(fs.terminate)
        line = fs.stdout.readline()
        self.assertTrue(line.startswith("ready "), line)
        port = json.loads(line[6:])["tls_stall"]
        spec = """
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 2
                flow:
                  - http: { url: "http://127.0.0.1:%d/", timeout: 400ms }
            thresholds:
              http_req_duration: ["p(95)<500"]
            """ % port
        for client in CLIENTS:
            with self.subTest(client=client):
                rc, out, err, s, points = self.run_out(spec, client)
                what = out + err
                self.assertEqual(rc, 99, what)
                self.assertRegex(out, r'✗ http_req_duration "p\(95\)<500": no data', what)
                self.assertTrue(s["metrics"]["http_req_duration"]["no_data"])
                reqs = self.of(points, "http_reqs")
                self.assertEqual(len(reqs), 4)
                self.assertTrue(all(p[2].get("error_code") == "1050" for p in reqs), reqs)
                for t in TIMINGS:
                    self.assertEqual(self.of(points, t), [], t)
                # each iteration waited for its timeout, and says so
                its = [p[1] for p in self.of(points, "iteration_duration")]
                self.assertEqual(len(its), 4)
                self.assertTrue(all(i >= 380 for i in its), its)
                self.assertGreater(s["metrics"]["data_sent"]["count"], 0)


if __name__ == "__main__":
    unittest.main()
