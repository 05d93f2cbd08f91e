"""Thresholds relative to an earlier run: `p(95)<baseline*1.5` with
`volley run --baseline OLD` (OLD written by --result). Real runs against
the loopback nginx: a regression fails although the absolute limit holds,
the same speed passes, and without a baseline nothing is judged."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from volleytest import VolleyCase  # noqa: E402

SPEC = """
    version: 1
    scenarios:
      main:
        executor: constant-vus
        vus: 2
        duration: 1500ms
        flow:
          - http: { name: api, url: "${env.NGINX}/%s" }
    thresholds:
      http_req_duration:
        - "p(95)<5000"
        - "p(95)<baseline*1.5"
      "http_req_duration{name:api}": ["avg<=baseline+20%%"]
      http_reqs: ["count>=baseline*0.2"]
      %s
"""


class BaselineTest(VolleyCase):
    BASE = None    # one baseline run for the class: the tests only read it

    def baseline(self):
        if BaselineTest.BASE is None:
            out = os.path.join(self.tmp, "base.ndjson")
            rc, o, e, s = self.run_spec(SPEC % ("delay10", ""), "--result", out)
            self.assertEqual(rc, 0, o + e)   # no baseline yet: relative ones not judged
            self.assertIn("not judged without --baseline", e)
            self.assertRegex(o, r"✓ http_req_duration\.+:")   # its absolute threshold passed
            BaselineTest.BASE = out
        return BaselineTest.BASE

    def test_a_regression_fails_although_the_absolute_limit_holds(self):
        base = self.baseline()
        rc, out, err, s = self.run_spec(SPEC % ("delay100", ""), "--baseline", base)
        self.assertEqual(rc, 99, out + err)
        m = s["metrics"]["http_req_duration"]
        self.assertFalse(m["thresholds"]["p(95)<5000"])      # held
        self.assertTrue(m["thresholds"]["p(95)<baseline*1.5"])  # failed (legacy shape: true = failed)
        # the summary says what the limit came to
        self.assertRegex(out, r'http_req_duration "p\(95\)<baseline\*1\.5": p\(95\)=\d+(\.\d+)?ms, '
                              r'baseline 1\d(\.\d+)?ms, limit 1\d(\.\d+)?ms')
        self.assertIn('"avg<=baseline+20%"', out)

    def test_the_same_speed_passes(self):
        base = self.baseline()
        rc, out, err, s = self.run_spec(SPEC % ("delay10", ""), "--baseline", base)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("not judged", err)

    def test_without_a_baseline_nothing_relative_is_judged(self):
        spec = SPEC % ("delay10", 'vus: ["value<baseline", {threshold: "value<baseline", abort_on_fail: true}]')
        rc, out, err, s = self.run_spec(spec)
        self.assertEqual(rc, 0, out + err)     # not aborted, not failed
        self.assertIn("not judged: no --baseline run to compare with", out)

    def test_a_series_the_baseline_has_no_data_for(self):
        base = self.baseline()
        spec = SPEC % ("delay10", '"http_req_duration{status:404}": ["p(95)<baseline"]')
        rc, out, err, s = self.run_spec(spec, "--baseline", base)
        self.assertEqual(rc, 99, out + err)
        self.assertIn("no data in the --baseline run", out)

    def test_result_and_baseline_compose(self):
        """The run with --baseline writes its own result: the end line has
        the judged value against the baseline's limit."""
        base = self.baseline()
        res = os.path.join(self.tmp, "new.ndjson")
        rc, out, err, s = self.run_spec(SPEC % ("delay100", ""), "--baseline", base, "--result", res)
        self.assertEqual(rc, 99, out + err)
        with open(res) as f:
            end = [json.loads(l) for l in f][-1]
        t = [x for x in end["thresholds"] if x["verdict"] == "fail"]
        self.assertTrue(any("baseline" in x["judged"] and "limit" in x["judged"] for x in t), t)

    def test_bad_baselines(self):
        spec = SPEC % ("delay10", "")
        bad = os.path.join(self.tmp, "bad.ndjson")
        with open(bad, "w") as f:
            f.write('{"type":"meta"}\n{"type":"window"}\n')   # a run that died: no end line
        rc, out, err, s = self.run_spec(spec, "--baseline", bad)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("not a result file of a finished run", err)
        rc, out, err, s = self.run_spec(spec, "--baseline", os.path.join(self.tmp, "none.ndjson"))
        self.assertEqual(rc, 104, out + err)
        self.assertIn("cannot open it", err)
        rc, out, err = self.volley("validate", self.write_spec(
            SPEC % ("delay10", 'checks: ["rate>baseline-1"]')))
        self.assertEqual(rc, 104, out + err)
        self.assertIn("baseline*1.1", err)


if __name__ == "__main__":
    unittest.main()
