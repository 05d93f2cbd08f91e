"""Each k6 executor against a real loopback nginx: iteration counts, VU
counts over time (from the json-out vus gauge), open-model arrivals with
dropped iterations, graceful ramp-down and --stage."""
import os
import time
import unittest

from volleytest import VolleyCase


def gauge_points(lines, metric):
    return [(o["data"]["time"], o["data"]["value"]) for o in lines
            if o["type"] == "Point" and o["metric"] == metric]


class ExecutorTest(VolleyCase):
    def test_ramping_vus_follows_its_stages(self):
        nd = os.path.join(self.tmp, "ramp.ndjson")
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              ramp:
                executor: ramping-vus
                start_vus: 0
                stages:
                  - { duration: 2s, target: 8 }
                  - { duration: 2s, target: 8 }
                  - { duration: 1s, target: 2 }
                graceful_ramp_down: 1s
                flow:
                  - http: { url: "${env.NGINX}/delay10" }
                  - sleep: 40ms
            """, "--out", "json-out=" + nd)
        self.assertEqual(rc, 0, out + err)
        vus = [v for _, v in gauge_points(self.read_ndjson(nd), "vus")]
        self.assertEqual(max(vus), 8)
        self.assertIn(8, vus[2:5])          # the plateau
        self.assertLessEqual(vus[-1], 4)    # ramped down towards 2
        self.assertEqual(s["metrics"]["vus_max"]["value"], 8)
        n = s["metrics"]["iterations"]["count"]
        # ~ (8 VUs avg over 1 s + 8 over 2 s + ~5 over 1 s) / 50 ms
        self.assertGreater(n, 250)
        self.assertLess(n, 650)

    def test_constant_arrival_rate_is_exact(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              car:
                executor: constant-arrival-rate
                rate: 300
                time_unit: 1s
                duration: 3s
                pre_allocated_vus: 10
                max_vus: 60      # room for a 200 ms stall of a busy machine
                flow: [ { http: { url: "${env.NGINX}/delay10" } } ]
            thresholds:
              iterations: ["count==900"]
              dropped_iterations: ["count==0"]
              volley_schedule_lag: ["p(95)<50"]
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 900)
        self.assertEqual(s["metrics"]["dropped_iterations"]["count"], 0)

    def test_open_model_drops_when_vus_run_out(self):
        """A slow target with too few VUs: iterations are dropped and
        counted, never queued; iteration_duration is measured from when the
        iteration was due."""
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              open:
                executor: constant-arrival-rate
                rate: 50
                duration: 2s
                pre_allocated_vus: 2
                max_vus: 3
                flow: [ { http: { url: "${env.NGINX}/delay100" } } ]
            """)
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        started = m["iterations"]["count"]
        dropped = m["dropped_iterations"]["count"]
        self.assertEqual(started + dropped, 100)
        # 3 VUs * 2 s / ~100 ms per iteration ~ 60 at most
        self.assertLess(started, 70)
        self.assertGreater(dropped, 30)
        self.assertEqual(m["vus_max"]["max"], 3)
        self.assertGreaterEqual(m["iteration_duration"]["min"], 95)

    def test_ramping_arrival_rate_total(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              rar:
                executor: ramping-arrival-rate
                start_rate: 0
                time_unit: 1s
                stages:
                  - { duration: 2s, target: 200 }
                  - { duration: 1s, target: 200 }
                pre_allocated_vus: 10
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            """)
        self.assertEqual(rc, 0, out + err)
        # area: 0 -> 200/s over 2 s (200) + 200/s for 1 s (200)
        m = s["metrics"]
        self.assertEqual(m["iterations"]["count"] + m.get("dropped_iterations", {}).get("count", 0), 400)
        self.assertGreaterEqual(m["iterations"]["count"], 390)

    def test_zero_length_stages_jump(self):
        """k6's instant load increase: a 0s stage jumps to its target, in
        ramping-vus (all VUs from the first second) and in
        ramping-arrival-rate (the rate, so the arrival count is exact)."""
        nd = os.path.join(self.tmp, "jump.ndjson")
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              vus:
                executor: ramping-vus
                start_vus: 0
                stages:
                  - { duration: 0s, target: 6 }
                  - { duration: 2s, target: 6 }
                flow:
                  - http: { url: "${env.NGINX}/fast" }
                  - sleep: 50ms
            """, "--out", "json-out=" + nd)
        self.assertEqual(rc, 0, out + err)
        vus = [v for _, v in gauge_points(self.read_ndjson(nd), "vus")]
        # 6 at the end of the first second (a 2 s ramp would be at 3 there)
        self.assertTrue(len(vus) >= 2 and vus[1] == 6, vus)
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              rate:
                executor: ramping-arrival-rate
                start_rate: 0
                stages:
                  - { duration: 0s, target: 100 }
                  - { duration: 1s, target: 100 }
                  - { duration: 0s, target: 0 }
                  - { duration: 1s, target: 0 }
                pre_allocated_vus: 10
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            """)
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        started = m["iterations"]["count"]
        self.assertEqual(started + m.get("dropped_iterations", {}).get("count", 0), 100)
        self.assertGreaterEqual(started, 95)

    def test_graceful_stop_interrupts_long_iterations(self):
        start = time.time()
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 3
                duration: 1s
                graceful_stop: 500ms
                flow:
                  - http: { url: "${env.NGINX}/slow", timeout: 10s }
            """)
        took = time.time() - start
        self.assertEqual(rc, 0, out + err)
        self.assertLess(took, 4)              # /slow needs 3 s; 1 s + 0.5 s grace
        self.assertIn("0 complete and 3 interrupted iterations", out)

    def test_cli_stage_override(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 1
                duration: 1m
                flow: [ { http: { url: "${env.NGINX}/fast" } }, { sleep: 100ms } ]
            """, "--stage", "1s:4", "--stage", "500ms:0")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["vus_max"]["value"], 4)
        self.assertGreater(s["metrics"]["iterations"]["count"], 10)

    def test_iterations_that_never_wait_run_on_every_vu(self):
        # a flow with no step that waits: the first VU finishes all its
        # iterations before the others start, which must not end the scenario
        text = """
            version: 1
            scenarios:
              pv: { executor: per-vu-iterations, vus: 4, iterations: 5, flow: [ { log: "x" } ] }
              si: { executor: shared-iterations, vus: 3, iterations: 7, flow: [ { log: "y" } ] }
            """
        for workers in ("1", "2"):
            rc, _, err, summary = self.run_spec(text, "--workers", workers)
            self.assertEqual(rc, 0, err)
            self.assertEqual(summary["metrics"]["iterations"]["count"], 27, workers)
            self.assertEqual(err.count("x "), 20, workers)

    def test_executor_option_errors(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              a: { executor: ramping-vus, vus: 3, flow: [ { sleep: 1s } ] }
              b: { executor: constant-arrival-rate, rate: 10, flow: [ { sleep: 1s } ] }
              c:
                executor: ramping-arrival-rate
                pre_allocated_vus: 1
                stages: [ { duration: 1s } ]
                flow: [ { sleep: 1s } ]
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104)
        self.assertIn("scenarios.a.vus: does not apply to executor ramping-vus", err)
        self.assertIn('scenarios.a: executor ramping-vus needs "stages"', err)
        self.assertIn('scenarios.b: executor constant-arrival-rate needs "duration"', err)
        self.assertIn('scenarios.b: executor constant-arrival-rate needs "pre_allocated_vus"', err)
        self.assertIn('scenarios.c.stages[0]: missing required key "target"', err)


    ENV_SHAPED = """
            version: 1
            scenarios:
              car:
                executor: constant-arrival-rate
                rate: ${env.RATE:-300}
                time_unit: "${env.UNIT:-1s}"
                duration: ${env.DURATION:-3s}
                pre_allocated_vus: ${env.VUS:-10}
                max_vus: "${env.MAX_VUS:-20}"
                flow: [ { http: { url: "${env.NGINX}/delay10", timeout: "${env.TIMEOUT:-5s}" } } ]
              ramp:
                executor: ramping-vus
                start_vus: ${env.START:-0}
                start_time: ${env.RAMP_AT:-0s}
                stages:
                  - { duration: "${env.RAMP:-1s}", target: "${env.PEAK:-2}" }
                flow: [ { http: { url: "${env.NGINX}/delay10" } }, { sleep: 50ms } ]
            """

    def test_load_shape_from_the_environment(self):
        """Executor numbers and durations take ${env.X:-default}, folded at
        load time: the defaults give one load, -e another."""
        rc, out, err, s = self.run_spec(self.ENV_SHAPED + """
            thresholds:
              "iterations{scenario:car}": ["count==900"]
            """)
        self.assertEqual(rc, 0, out + err)
        rc, out, err, s = self.run_spec(self.ENV_SHAPED + """
            thresholds:
              "iterations{scenario:car}": ["count==100"]
              vus_max: ["value<=6"]
            """, "-e", "RATE=50", "-e", "DURATION=2s", "-e", "PEAK=3", "-e", "VUS=3", "-e", "MAX_VUS=3")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["vus_max"]["value"], 6)   # 3 + the ramp's 3

    def test_load_shape_errors_name_the_template(self):
        spec = self.write_spec(self.ENV_SHAPED)
        rc, out, err = self.volley("validate", "-e", "RATE=fast", "-e", "DURATION=3x", "-e", "PEAK=2.5",
                                   "-e", "UNIT=0s", "-e", "VUS=${vu.id}", spec)
        self.assertEqual(rc, 104, err)
        self.assertRegex(err, r'spec\.yaml:6:\d+: error: scenarios\.car\.rate: expected an integer, got string '
                              r'"fast" \(from \$\{env\.RATE:-300\}\)')
        self.assertIn('scenarios.car.duration: expected a duration such as 500ms, 10s, 1m30s or 2h; got "3x"', err)
        self.assertIn("(from ${env.DURATION:-3s})", err)
        self.assertIn('scenarios.ramp.stages[0].target: expected an integer, got number "2.5" '
                      '(from ${env.PEAK:-2})', err)
        self.assertIn("scenarios.car.time_unit: ", err)
        self.assertIn("(from ${env.UNIT:-1s})", err)
        self.assertIn('scenarios.car.pre_allocated_vus: expected an integer, got string "${vu.id}" '
                      '(from ${env.VUS:-10})', err)
        # A run-time name written in the spec itself cannot be folded.
        spec = self.write_spec(self.ENV_SHAPED.replace("${env.RATE:-300}", "${vu.id}"), "b.yaml")
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn('scenarios.car.rate: "${vu.id}" needs a value known only at run time', err)


class AbortAndSignalTest(VolleyCase):
    def test_abort_on_fail_stops_the_run_early(self):
        start = time.time()
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 2
                duration: 30s
                flow: [ { http: { url: "http://127.0.0.1:1/dead", timeout: 1s } }, { sleep: 50ms } ]
            thresholds:
              http_req_failed:
                - { threshold: "rate<0.5", abort_on_fail: true, delay_abort_eval: 1s }
            """)
        took = time.time() - start
        self.assertEqual(rc, 99, out + err)
        self.assertLess(took, 10)
        self.assertIn('threshold "rate<0.5" on http_req_failed failed', err)
        self.assertIn("aborted by a threshold", out)
        self.assertEqual(s["metrics"]["http_req_failed"]["thresholds"], {"rate<0.5": True})

    def test_delay_abort_eval_waits(self):
        start = time.time()
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 1
                duration: 20s
                flow: [ { http: { url: "http://127.0.0.1:1/dead", timeout: 1s } }, { sleep: 50ms } ]
            thresholds:
              http_req_failed:
                - { threshold: "rate<0.5", abort_on_fail: true, delay_abort_eval: 3s }
            """)
        took = time.time() - start
        self.assertEqual(rc, 99, out + err)
        self.assertGreaterEqual(took, 3)
        self.assertLess(took, 12)

    def test_second_sigint_exits_at_once(self):
        import signal
        import subprocess
        from volleytest import VOLLEY, NGINX
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 2
                duration: 60s
                graceful_stop: 30s
                flow: [ { http: { url: "${env.NGINX}/slow", timeout: 20s } } ]
            """)
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 105)
        self.assertIn("SIGINT", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
