"""volley run against a real loopback nginx: request counts, checks,
thresholds and exit codes, summary export, failures that are measured."""
import json
import os
import re
import time
import unittest

from volleytest import DEAD, NGINX, SOURCE, VolleyCase

ITERATIONS_SPEC = """
version: 1
services:
  web: { url: "${env.NGINX}" }
scenarios:
  counted:
    executor: per-vu-iterations
    vus: 3
    iterations: 5
    flow:
      - group: api
        steps:
          - http: { name: json, url: "${services.web}/json" }
            check:
              - { name: status is 200, status: 200 }
              - { name: has id, json: { path: id, equals: tx-42 } }
              - { name: never true, json: { path: id, equals: nope } }
      - http: { method: POST, url: "${services.web}/echo", json: { a: 1, vu: "${vu.id}" } }
        check:
          - { name: echoed, body: { contains: '"a":1' } }
thresholds:
  http_reqs: ["count==30"]
  iterations: ["count==15"]
  "http_req_duration{name:json}": ["p(95)<2000"]
  "checks{check:has id}": ["rate==1"]
"""


class RunTest(VolleyCase):
    def test_exact_counts_checks_and_thresholds(self):
        rc, out, err, s = self.run_spec(ITERATIONS_SPEC)
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        self.assertEqual(m["http_reqs"]["count"], 30)
        self.assertEqual(m["iterations"]["count"], 15)
        self.assertEqual(m["http_req_failed"]["passes"], 0)
        self.assertEqual(m["http_req_failed"]["fails"], 30)
        self.assertEqual(m["http_req_duration{name:json}"]["thresholds"], {"p(95)<2000": False})
        checks = s["root_group"]["groups"]["api"]["checks"]
        self.assertEqual(checks["status is 200"]["passes"], 15)
        self.assertEqual(checks["has id"]["passes"], 15)
        self.assertEqual(checks["never true"]["fails"], 15)
        self.assertEqual(s["root_group"]["checks"]["echoed"]["passes"], 15)
        # checks rate: 45 passes of 60
        self.assertEqual(m["checks"]["passes"], 45)
        self.assertEqual(m["checks"]["fails"], 15)
        for k in ("http_req_blocked", "http_req_connecting", "http_req_waiting",
                  "http_req_receiving", "http_req_sending", "iteration_duration"):
            self.assertIn("p(95)", m[k], k)
        self.assertGreater(m["data_received"]["count"], 30 * 60)
        self.assertGreater(m["data_sent"]["count"], 30 * 30)

    def test_a_few_failures_are_not_shown_as_100_percent(self):
        # 398 passes and 2 failures of one check: printf's rounding said
        # "100%" (99.5); k6 rounds down.
        rows = "[" + ", ".join(["{ p: health }"] * 199 + ["{ p: notfound }"]) + "]"
        spec = self.write_spec("""
            version: 1
            pools:
              paths: { rows: %s, pick: sequential }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 400
                use: paths
                flow:
                  - http: { url: "%s/${row.p}" }
                    check: [ { name: mostly, status: 200 } ]
            """ % (rows, NGINX))
        rc, out, err = self.volley("run", spec)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"✗ mostly\n\s+↳  99% — ✓ 398 / ✗ 2")
        self.assertRegex(out, r"checks\.+: 99\.50% ✓ 398 +✗ 2")

    def test_a_few_failures_are_not_shown_as_0_percent(self):
        # The mirror: 1 failed request of 12,000 is 0.0083%; rounded down
        # it read "0.00%" beside ✓ 1 (QA). A share that is not 0 reads <0.01%.
        rows = "[" + ", ".join(["{ p: health }"] * 11999 + ["{ p: notfound }"]) + "]"
        spec = self.write_spec("""
            version: 1
            pools:
              paths: { rows: %s, pick: sequential }
            scenarios:
              s:
                executor: shared-iterations
                vus: 4
                iterations: 12000
                use: paths
                flow:
                  - http: { url: "%s/${row.p}" }
            """ % (rows, NGINX))
        rc, out, err = self.volley("run", spec)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"http_req_failed\.+: <0\.01% ✓ 1 +✗ 11999")
        self.assertRegex(err, r"running \(.*, 1 failed \(<0\.01%\)$")

    def test_text_summary(self):
        spec = self.write_spec(ITERATIONS_SPEC)
        rc, out, err = self.volley("run", spec)
        self.assertEqual(rc, 0, err)
        self.assertIn("scenarios: 1 scenario, 3 max VUs", out)
        self.assertIn("█ api", out)
        self.assertRegex(out, r"✓ status is 200")
        self.assertRegex(out, r"✗ never true\n\s+↳  0% — ✓ 0 / ✗ 15")
        # the first reason it failed, from the check plugin
        self.assertRegex(out, r"↳  0% — ✓ 0 / ✗ 15\n\s+first failure: json: id\b.*tx-42")
        self.assertRegex(out, r"✓ http_reqs\.+: 30 ")
        self.assertRegex(out, r"http_req_duration\.+: avg=\S+ +min=\S+ +med=\S+ +max=\S+ +p\(90\)=\S+ +p\(95\)=\S+")
        self.assertRegex(out, r"✓ \{ name:json \}\.+: avg=")
        self.assertIn("15 complete and 0 interrupted iterations", out)

    def test_failed_threshold_exits_99(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 3
                flow: [ { http: { url: "${env.NGINX}/delay10" } } ]
            thresholds:
              http_req_duration: ["p(50)<1", "max<5000"]
              http_reqs: ["count>=6"]
            """)
        self.assertEqual(rc, 99, out + err)
        th = s["metrics"]["http_req_duration"]["thresholds"]
        self.assertEqual(th, {"p(50)<1": True, "max<5000": False})   # true = failed (k6 legacy)
        # nginx's echo_sleep runs on its millisecond timer: ~10 ms, never much less
        self.assertGreaterEqual(s["metrics"]["http_req_duration"]["min"], 8.0)

    def test_constant_vus_runs_for_its_duration(self):
        start = time.time()
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 4
                duration: 2s
                flow:
                  - http: { url: "${env.NGINX}/delay10" }
                  - sleep: 40ms
            """)
        took = time.time() - start
        self.assertEqual(rc, 0, out + err)
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, 10)
        n = s["metrics"]["iterations"]["count"]
        # each iteration takes ~50 ms: 4 VUs * 2 s / 50 ms = 160 at most
        self.assertGreater(n, 60)
        self.assertLessEqual(n, 170)
        self.assertEqual(s["metrics"]["vus_max"]["value"], 4)

    def test_progress_rate_is_the_summarys(self):
        """The progress line's req/s is the summary's http_reqs rate over
        the same window (requests since the start): a steady 10/s run
        ends at 10 req/s, not 0 (the last tick's samples not yet merged)
        nor a spike (two seconds' worth over one short tick)."""
        for rate, duration in ((10, "3s"), (50, "2s")):
            spec = self.write_spec("""
                version: 1
                scenarios:
                  s:
                    executor: constant-arrival-rate
                    rate: %d
                    duration: %s
                    pre_allocated_vus: 4
                    flow: [ { http: { url: "${env.NGINX}/fast" } } ]
                """ % (rate, duration))
            summary = os.path.join(self.tmp, "summary.json")
            rc, out, err = self.volley("run", "--summary-export", summary, spec)
            self.assertEqual(rc, 0, out + err)
            with open(summary) as f:
                want = json.load(f)["metrics"]["http_reqs"]["rate"]
            self.assertAlmostEqual(want, rate, delta=rate * 0.1)
            shown = re.findall(r"running \(.*, (\S+) req/s(?:, p95 \S+)?, 0 failed$", err, re.M)
            self.assertTrue(shown, err)
            text = "%.1f" % want
            self.assertEqual(shown[-1], text[:-2] if text.endswith(".0") else text, err)
            for r in shown:      # every line on the way: never 0 or a spike
                self.assertTrue(0 < float(r) < rate * 1.5, err)

    def test_refused_connections_are_measured(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 4
                flow:
                  - http: { url: "%s/x", timeout: 2s }
                    check: [ { name: ok, status: 200 } ]
            """ % DEAD)
        self.assertEqual(rc, 0, out + err)    # no thresholds: measured, not an error
        m = s["metrics"]
        self.assertEqual(m["http_reqs"]["count"], 8)
        self.assertEqual(m["http_req_failed"]["passes"], 8)
        self.assertEqual(s["root_group"]["checks"]["ok"]["fails"], 8)
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow: [ { http: { url: "%s/x" } } ]
            thresholds:
              http_req_failed: ["rate<0.01"]
            """ % DEAD, "dead2.yaml")
        rc, out, err = self.volley("run", spec)
        self.assertEqual(rc, 99)
        self.assertIn("none of the 1 HTTP requests got a response (http_req_failed 100%): is the target up?", out)

    def test_timeout_fires(self):
        start = time.time()
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                flow: [ { http: { url: "${env.NGINX}/slow", timeout: 300ms } } ]
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertLess(time.time() - start, 2.5)      # /slow answers after 3 s
        self.assertEqual(s["metrics"]["http_req_failed"]["passes"], 2)

    def test_server_errors_are_failed_requests(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                iterations: 3
                flow:
                  - http: { url: "${env.NGINX}/error500" }
                  - http: { url: "${env.NGINX}/garbage" }
                    check: [ { name: parses, json: { path: x, exists: true } } ]
            thresholds:
              "http_req_failed{status:500}": ["rate==1"]
              "http_reqs{expected_response:false}": ["count==3"]
            """)
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        self.assertEqual(m["http_req_failed"]["passes"], 3)
        self.assertEqual(m["http_req_failed"]["fails"], 3)
        self.assertEqual(s["root_group"]["checks"]["parses"]["fails"], 3)

    def test_cli_overrides(self):
        spec_text = """
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 1
                duration: 1m
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            """
        rc, out, err, s = self.run_spec(spec_text, "--iterations", "7", "--vus", "2")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 7)
        start = time.time()
        rc, out, err, s = self.run_spec(spec_text, "--duration", "1s")
        self.assertEqual(rc, 0, out + err)
        self.assertLess(time.time() - start, 10)

    def test_multiple_scenarios_with_start_time(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              first:
                executor: per-vu-iterations
                vus: 2
                iterations: 2
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
              later:
                executor: shared-iterations
                vus: 3
                iterations: 10
                start_time: 500ms
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            thresholds:
              "http_reqs{scenario:first}": ["count==4"]
              "http_reqs{scenario:later}": ["count==10"]
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 14)
        self.assertGreaterEqual(s["metrics"]["iterations"]["count"], 14)

    def test_headers_and_defaults_reach_the_server(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            services:
              web:
                url: "${env.NGINX}"
            defaults:
              headers: { Authorization: "Bearer ${env.TOKEN:-t0k}", X-Test: default }
              timeout: 5s
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http:
                      url: "${services.web}/reflect?q=1"
                      headers: { X-Test: mine }
                    check:
                      - { name: auth, json: { path: auth, equals: Bearer t0k } }
                      - { name: step header wins, json: { path: x_test, equals: mine } }
                      - { name: query, json: { path: args, equals: q=1 } }
            thresholds:
              checks: ["rate==1"]
            """)
        self.assertEqual(rc, 0, out + err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
