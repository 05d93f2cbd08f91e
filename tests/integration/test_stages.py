"""Stress tests: the per-stage table of ramping scenarios and the breaking
point, in the text summary and the --summary-export JSON (issue 14).

Deterministic stage by stage: one VU on /delay100 serves at most ~10
iterations/s, so an arrival rate of 2/s drops nothing while a ramp to 60/s
drops iterations, and a dropped_iterations threshold is crossed in that
stage only (with one worker: arrivals are split over the workers, and a
worker without the VU would drop its share)."""
import re
import unittest

from volleytest import VolleyCase

STRESS = """
    version: 1
    scenarios:
      stress:
        executor: ramping-arrival-rate
        start_rate: 2
        stages:
          - { duration: 1s, target: 2 }
          - { duration: 1s, target: 2 }
          - { duration: 1s, target: %(last)s }
        pre_allocated_vus: 1
        max_vus: 1
        flow:
          - http: { url: "${env.NGINX}/delay100" }
      other:
        executor: constant-vus
        vus: 1
        duration: 1s
        flow:
          - http: { url: "${env.NGINX}/fast" }
    thresholds:
      dropped_iterations: ["count<1"]
      "http_req_duration{scenario:stress}": ["p(95)<5000"]
      "http_req_duration{scenario:other}": ["p(95)<5000"]
    """


def table_rows(out, scenario):
    """The rows of a scenario's stage table: lists of cells split on 2+ spaces."""
    lines = out.splitlines()
    start = lines.index("     stages of %s (%s):" % scenario)
    rows = []
    for line in lines[start + 2:]:
        if not re.match(r"^       \d", line):
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


class StagesTest(VolleyCase):
    def test_breaking_point_in_the_last_stage(self):
        rc, out, err, s = self.run_spec(STRESS % {"last": 60}, "--workers", "1")
        self.assertEqual(rc, 99, out + err)   # dropped_iterations fails the run as well
        rows = table_rows(out, ("stress", "ramping-arrival-rate"))
        self.assertEqual([r[0] for r in rows], ["1", "2", "3"], out)
        self.assertEqual([r[2] for r in rows], ["2/s", "2/s", "60/s"], out)
        self.assertEqual(rows[0][-1], "-", out)
        self.assertEqual(rows[1][-1], "-", out)
        self.assertRegex(rows[2][-1], r'^✗ dropped_iterations "count<1" \(count=\d+\)$', out)
        self.assertRegex(out, r'breaking point: stage 3 \(target 60/s\): dropped_iterations '
                              r'"count<1" crossed \(observed count=\d+\)')
        self.assertNotIn("stages of other", out)   # constant-vus: no table

        st = s["stages"]
        self.assertEqual(list(st), ["stress"])
        sc = st["stress"]
        self.assertEqual(sc["executor"], "ramping-arrival-rate")
        self.assertEqual(sc["target_unit"], "iterations/s")
        stages = sc["stages"]
        self.assertEqual([x["stage"] for x in stages], [1, 2, 3])
        self.assertEqual([x["target"] for x in stages], [2, 2, 60])
        self.assertEqual([x["start_s"] for x in stages], [0, 1, 2])
        for x in stages[:2]:
            self.assertEqual(x["iterations"], 2, x)       # 2/s for 1 s, none dropped
            self.assertEqual(x["dropped_rate"], 0, x)
            self.assertEqual(x["http_reqs_rate"], 2, x)
            self.assertEqual(x["thresholds_crossed"], [], x)
            self.assertGreaterEqual(x["http_req_duration_p95"], 95)
            self.assertEqual(x["http_req_failed_rate"], 0)
        last = stages[2]
        self.assertLessEqual(last["iterations"], 15, last)   # one VU, 100 ms each
        crossed = last["thresholds_crossed"]
        self.assertEqual([(c["metric"], c["threshold"]) for c in crossed],
                         [("dropped_iterations", "count<1")], last)
        self.assertGreaterEqual(crossed[0]["value"], 10)
        # the run's dropped iterations are all in stage 3
        self.assertEqual(crossed[0]["value"], s["metrics"]["dropped_iterations"]["count"])
        self.assertEqual(last["dropped_iterations"], crossed[0]["value"])
        # achieved + dropped: what the ramp from 2/s to 60/s offered in 1 s (~31)
        self.assertAlmostEqual(last["iterations_rate"] + last["dropped_rate"], 31, delta=3)
        bp = sc["breaking_point"]
        self.assertEqual(bp["stage"], 3)
        self.assertEqual(bp["target"], 60)
        self.assertEqual(bp["thresholds"], crossed)

    def test_no_breaking_point(self):
        rc, out, err, s = self.run_spec(STRESS % {"last": 2}, "--workers", "1")
        self.assertEqual(rc, 0, out + err)
        rows = table_rows(out, ("stress", "ramping-arrival-rate"))
        self.assertEqual(len(rows), 3, out)
        self.assertTrue(all(r[-1] == "-" for r in rows), out)
        self.assertIn("     no breaking point: every stage met every threshold\n", out)
        sc = s["stages"]["stress"]
        self.assertIsNone(sc["breaking_point"])
        self.assertEqual(sum(x["iterations"] for x in sc["stages"]),
                         s["metrics"]["iterations{scenario:stress}"]["count"])

    def test_ramping_vus(self):
        # 1 VU for 1 s (~10 iterations of /delay100), then up to 10 VUs
        # (~50): a per-stage count threshold breaks in stage 2.
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              ramp:
                executor: ramping-vus
                start_vus: 1
                stages:
                  - { duration: 1s, target: 1 }
                  - { duration: 1s, target: 10 }
                flow:
                  - http: { url: "${env.NGINX}/delay100" }
            thresholds:
              "iterations{scenario:ramp}": ["count<25"]
            """)
        self.assertEqual(rc, 99, out + err)
        rows = table_rows(out, ("ramp", "ramping-vus"))
        self.assertEqual([r[2] for r in rows], ["1 VU", "10 VUs"], out)
        self.assertEqual(rows[0][-1], "-", out)
        self.assertIn('breaking point: stage 2 (target 10 VUs): iterations{scenario:ramp} "count<25" '
                      'crossed', out)
        sc = s["stages"]["ramp"]
        self.assertEqual(sc["target_unit"], "vus")
        self.assertEqual([x["from"] for x in sc["stages"]], [1, 1])
        self.assertLessEqual(sc["stages"][0]["iterations"], 12)
        self.assertEqual(sc["breaking_point"]["stage"], 2)

    def test_no_table_without_ramping(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              flat:
                executor: constant-arrival-rate
                rate: 5
                duration: 1s
                pre_allocated_vus: 1
                flow:
                  - http: { url: "${env.NGINX}/fast" }
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("stages of", out)
        self.assertNotIn("breaking point", out)
        self.assertNotIn("stages", s)


if __name__ == "__main__":
    unittest.main()
