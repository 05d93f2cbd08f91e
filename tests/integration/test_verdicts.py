"""Threshold verdicts through the real binary against the test nginx: pass,
fail and "no data" (a trend, rate or gauge metric or sub-metric that got no
sample), in the text summary, the --summary-export JSON and the exit code;
allow_no_data; a counter without samples is 0 and judged; abort_on_fail
never aborts on no data."""
import unittest

from volleytest import NGINX, VolleyCase

BASE = """
version: 1
services:
  web: { url: "${env.NGINX}" }
metrics:
  queue_depth: gauge
scenarios:
  main:
    executor: shared-iterations
    vus: 2
    iterations: 6
    flow:
      - group: pay
        steps:
          - http: { name: transfer, url: "${services.web}/fast" }
thresholds:
"""


def spec(thresholds):
    return BASE + "".join("  %s\n" % line for line in thresholds)


class VerdictTest(VolleyCase):
    def test_typo_in_a_name_filter_fails_with_no_data(self):
        """The k6 bug (grafana/k6#1346): p(95) of nothing is not 0."""
        rc, out, err, s = self.run_spec(spec([
            '"http_req_duration{name:trasnfer}": ["p(95)<0.001"]',
            '"http_req_duration{name:transfer}": ["p(95)<5000"]']))
        self.assertEqual(rc, 99, out + err)
        self.assertRegex(out, r"\n     ✗ \{ name:trasnfer \}\.+: no data\n")
        self.assertRegex(out, r"\n     ✓ \{ name:transfer \}\.+: avg=")
        self.assertIn("\n     thresholds not passed:\n"
                      "       ✗ http_req_duration{name:trasnfer} \"p(95)<0.001\": no data\n", out)
        self.assertIn("✗ 1 of 2 thresholds failed, 1 of them for no data", out)
        typo = s["metrics"]["http_req_duration{name:trasnfer}"]
        self.assertIs(typo["no_data"], True)
        self.assertEqual(typo["thresholds"], {"p(95)<0.001": True})   # k6's export: true = failed
        self.assertEqual(typo["p(95)"], 0)                              # k6's shape kept
        ok = s["metrics"]["http_req_duration{name:transfer}"]
        self.assertNotIn("no_data", ok)
        self.assertEqual(ok["thresholds"], {"p(95)<5000": False})

    def test_allow_no_data_passes_and_still_says_no_data(self):
        rc, out, err, s = self.run_spec(spec([
            '"http_req_duration{status:500}": [{ threshold: "p(95)<1", allow_no_data: true }]',
            'queue_depth: [{ threshold: "value<5", allow_no_data: true }]',
            '"http_req_failed{name:transfer}": ["rate<0.01"]']))
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"\n     - \{ status:500 \}\.+: no data\n")
        self.assertRegex(out, r"\n   - queue_depth\.+: no data\n")
        self.assertIn('       - http_req_duration{status:500} "p(95)<1": no data (allow_no_data)\n', out)
        self.assertIn('       - queue_depth "value<5": no data (allow_no_data)\n', out)
        self.assertNotIn("thresholds failed", out)
        m = s["metrics"]
        self.assertIs(m["http_req_duration{status:500}"]["no_data"], True)
        self.assertEqual(m["http_req_duration{status:500}"]["thresholds"], {"p(95)<1": False})
        self.assertIs(m["queue_depth"]["no_data"], True)
        self.assertEqual(m["queue_depth"]["thresholds"], {"value<5": False})
        self.assertNotIn("no_data", m["http_req_failed{name:transfer}"])

    def test_rate_and_gauge_without_samples_fail(self):
        rc, out, err, s = self.run_spec(spec([
            '"http_req_failed{group:::pya}": ["rate<0.5"]',
            'queue_depth: ["value<5"]']))
        self.assertEqual(rc, 99, out + err)
        self.assertIn('       ✗ http_req_failed{group:::pya} "rate<0.5": no data\n', out)
        self.assertIn('       ✗ queue_depth "value<5": no data\n', out)
        self.assertIn("✗ 2 of 2 thresholds failed, 2 of them for no data", out)
        self.assertIs(s["metrics"]["queue_depth"]["no_data"], True)
        self.assertEqual(s["metrics"]["http_req_failed{group:::pya}"]["thresholds"], {"rate<0.5": True})

    def test_counter_without_samples_is_zero(self):
        """A count of 0 is a value: judged, never "no data"."""
        rc, out, err, s = self.run_spec(spec(['"http_reqs{status:500}": ["count==0"]']))
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]["http_reqs{status:500}"]
        self.assertEqual(m["count"], 0)
        self.assertNotIn("no_data", m)
        self.assertEqual(m["thresholds"], {"count==0": False})
        self.assertRegex(out, r"\n     ✓ \{ status:500 \}\.+: 0 ")
        rc, out, err, s = self.run_spec(spec(['"http_reqs{status:500}": ["count>0", "rate<1"]']))
        self.assertEqual(rc, 99, out + err)
        self.assertIn('       ✗ http_reqs{status:500} "count>0": count=0\n', out)
        self.assertIn("✗ 1 of 2 thresholds failed\n", out)
        self.assertNotIn("no data", out)
        self.assertEqual(s["metrics"]["http_reqs{status:500}"]["thresholds"],
                         {"count>0": True, "rate<1": False})

    def test_failed_threshold_shows_what_it_read(self):
        rc, out, err, s = self.run_spec(spec([
            'http_reqs: ["count<2"]', '"http_req_duration{name:transfer}": ["max<0"]']))
        self.assertEqual(rc, 99, out + err)
        self.assertIn('       ✗ http_reqs "count<2": count=6\n', out)
        self.assertRegex(out, r'       ✗ http_req_duration\{name:transfer\} "max<0": max=\d[\d.]*(µs|ms)\n')
        self.assertIn("✗ 2 of 2 thresholds failed\n", out)

    def test_all_passed_prints_no_verdict_section(self):
        rc, out, err, s = self.run_spec(spec(['"http_req_duration{name:transfer}": ["p(95)<5000"]']))
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("thresholds not passed", out)
        self.assertNotIn("no data", out)

    def test_abort_on_fail_does_not_abort_on_no_data(self):
        """Judged every 2 s during the run, a sub-metric without samples is
        skipped (samples may still come); at the end it is no data: the run
        went to its end and fails with 99."""
        rc, out, err, s = self.run_spec("""
            version: 1
            services:
              web: { url: "${env.NGINX}" }
            scenarios:
              main:
                executor: constant-vus
                vus: 1
                duration: 3s
                flow:
                  - http: { name: transfer, url: "${services.web}/fast" }
                  - sleep: 100ms
            thresholds:
              "http_req_duration{name:trasnfer}": [{ threshold: "p(95)<1", abort_on_fail: true }]
            """)
        self.assertEqual(rc, 99, out + err)
        self.assertNotIn("aborting the test", err)
        self.assertNotIn("aborted by a threshold", out)
        self.assertRegex(out, r"running \([23]\.\ds\)")
        self.assertIn('       ✗ http_req_duration{name:trasnfer} "p(95)<1": no data\n', out)
        self.assertIs(s["metrics"]["http_req_duration{name:trasnfer}"]["no_data"], True)


class FilterWarningTest(VolleyCase):
    """`volley validate` (and `volley run`) warn on stderr about a threshold
    filter on a step name, group or scenario that nothing in the spec
    produces; the spec stays valid (exit 0)."""
    SPEC = """
        version: 1
        scenarios:
          main:
            executor: shared-iterations
            iterations: 2
            flow:
              - group: pay
                steps:
                  - http: { name: transfer, url: "${env.NGINX}/fast" }
              - http: { url: "${env.NGINX}/health" }
              - ws: { name: feed, url: "ws://127.0.0.1:1/x", close_after: 1s }
        thresholds:
          "http_req_duration{name:trasnfer}": ["p(95)<500"]
          "http_req_duration{name:transfer}": ["p(95)<500"]
          "http_req_duration{name:${NGINX}/health}": ["p(95)<500"]
          "ws_session_duration{name:fede}": ["p(95)<500"]
          "group_duration{group:pay}": ["p(95)<500"]
          "http_reqs{scenario:mian}": ["count>0"]
        """

    def test_validate_warns_with_did_you_mean(self):
        spec = self.write_spec(self.SPEC.replace("${NGINX}", NGINX))
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("ok (1 scenario", out)
        warnings = [l for l in err.splitlines() if ": warning: " in l]
        self.assertEqual(len(warnings), 4, err)
        self.assertRegex(warnings[0], r'spec\.yaml:14:3: warning: thresholds\."http_req_duration\{name:trasnfer\}": '
                         r'no step is named "trasnfer" \(did you mean "transfer"\?\): this sub-metric can get no '
                         r'sample, so its thresholds will have no data and fail the run$')
        self.assertIn('no step is named "fede" (did you mean "feed"?)', warnings[1])   # ws steps too
        self.assertIn('no group "pay" (did you mean "::pay"? a group tag is the group\'s path', warnings[2])
        self.assertIn('no scenario "mian" (did you mean "main"?): this sub-metric can get no sample, '
                      'so it will count 0', warnings[3])
        self.assertNotIn("error", err)

    def test_run_warns_too_and_the_typo_fails_with_no_data(self):
        rc, out, err, s = self.run_spec(self.SPEC.replace(
            '              - ws: { name: feed, url: "ws://127.0.0.1:1/x", close_after: 1s }\n', "")
            .replace('          "ws_session_duration{name:fede}": ["p(95)<500"]\n', "")
            .replace("${NGINX}", "x"))
        self.assertEqual(rc, 99, out + err)
        self.assertIn('no step is named "trasnfer" (did you mean "transfer"?)', err)
        self.assertIn('       ✗ http_req_duration{name:trasnfer} "p(95)<500": no data\n', out)
        self.assertIn('       ✗ group_duration{group:pay} "p(95)<500": no data\n', out)
        self.assertIs(s["metrics"]["group_duration{group:pay}"]["no_data"], True)
        self.assertEqual(s["metrics"]["http_reqs{scenario:mian}"]["thresholds"], {"count>0": True})


if __name__ == "__main__":
    unittest.main()
