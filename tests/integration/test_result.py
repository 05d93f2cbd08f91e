"""volley run --result FILE (docs/results-format.md): the run over time.

Real runs against the loopback nginx. The windows must add up to the
run's totals exactly, be the run's whole seconds, carry the generator's
health, and what a killed run leaves must be readable."""
import gzip
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from volleytest import NGINX, VOLLEY, VolleyCase, timed  # noqa: E402

SPEC = """
    version: 1
    name: result-test
    scenarios:
      main:
        executor: constant-arrival-rate
        rate: 100
        time_unit: 1s
        duration: 2s
        pre_allocated_vus: 5
        max_vus: 10
        flow:
          - group: g
            steps:
              - http: { name: fast, url: "${env.NGINX}/fast" }
                check:
                  - { name: ok, status: 200 }
              - http: { name: missing, url: "${env.NGINX}/notfound" }
                check:
                  - { name: found, status: 200 }
    thresholds:
      http_req_duration: ["p(95)<500"]
      "http_req_duration{name:fast}": ["p(99)<1000"]
      "http_req_duration{status:599}": ["p(95)<1"]
      http_req_failed: ["rate<0.01"]
"""


def by_key(meta):
    return {s["key"]: str(s["id"]) for s in meta["series"]}


def hist_percentile(h, p, scale=1000):
    """The value at rank p of a histogram [[slot, count], ...] (volley-hdr-1):
    the slot's midpoint, as hdr.c reports it."""
    total = sum(c for _, c in h)
    want = max(1, -(-total * p // 100))
    seen = 0
    for slot, c in h:
        seen += c
        if seen >= want:
            # slot -> its lowest value and width (hdr.h geometry, HALF 256)
            half = 256
            b = slot // half - 1
            if b <= 0:
                lo, width = slot, 1
            else:
                lo, width = (slot - (b + 1) * half + half) << b, 1 << b
            return (lo + (width - 1) / 2) / scale
    return None


class ResultTest(VolleyCase):
    def run_result(self, *extra, name="r.ndjson"):
        path = os.path.join(self.tmp, name)
        rc, out, err, s = self.run_spec(SPEC, "--result", path, *extra)
        return rc, out, err, s, path

    def lines(self, path):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt") as f:
            return [json.loads(l) for l in f if l.strip()]

    @timed
    def test_windows_add_up_to_the_totals(self):
        rc, out, err, s, path = self.run_result()
        self.assertEqual(rc, 99, out + err)   # the 404s fail http_req_failed's threshold
        lines = self.lines(path)
        meta, windows, end = lines[0], lines[1:-1], lines[-1]
        self.assertEqual(meta["type"], "meta")
        self.assertEqual(meta["format"], "volley-result")
        self.assertEqual(meta["spec"]["name"], "result-test")
        self.assertTrue(meta["spec"]["path"].endswith("spec.yaml"))
        self.assertIn("--result", meta["command"])
        self.assertEqual(meta["window_s"], 1)
        self.assertGreaterEqual(meta["cores"], 1)
        self.assertEqual([t["expr"] for t in meta["thresholds"]],
                         ["p(95)<500", "p(99)<1000", "p(95)<1", "rate<0.01"])
        self.assertEqual(end["type"], "end")
        self.assertTrue(all(w["type"] == "window" for w in windows))
        # whole seconds from 0, in order; the last one ends with the run
        self.assertIn(len(windows), (2, 3), [(w["t0"], w["t1"]) for w in windows])
        for k, w in enumerate(windows):
            self.assertEqual(w["t0"], k)
            if k < len(windows) - 1:
                self.assertEqual(w["t1"], k + 1)
        self.assertAlmostEqual(windows[-1]["t1"], end["duration_s"], places=3)

        ids = by_key(meta)
        reqs, dur, failed = ids["http_reqs"], ids["http_req_duration"], ids["http_req_failed"]
        total = sum(w["s"].get(reqs, {}).get("sum", 0) for w in windows)
        self.assertEqual(total, end["totals"][reqs]["sum"])
        self.assertEqual(total, s["metrics"]["http_reqs"]["count"])
        self.assertEqual(sum(w["s"].get(dur, {}).get("n", 0) for w in windows),
                         end["totals"][dur]["n"])
        self.assertEqual(sum(w["s"].get(failed, {}).get("nz", 0) for w in windows),
                         s["metrics"]["http_req_failed"]["passes"])
        # 100 iterations a second, 2 requests each: the windows are the run's seconds
        for w in windows[:2]:
            if w["t1"] - w["t0"] == 1:
                self.assertAlmostEqual(w["s"][reqs]["sum"], 200, delta=30, msg=w)
        # the summary's numbers in the end line
        t = end["totals"][dur]
        self.assertAlmostEqual(t["p"]["95"], s["metrics"]["http_req_duration"]["p(95)"], places=6)
        self.assertEqual(sum(c for _, c in t["h"]), t["n"])
        # The histogram's p95 (a sample's slot) against the exact p95
        # (interpolated between two samples, which may be µs apart in a
        # sparse tail): close, not equal.
        approx = hist_percentile(t["h"], 95)
        self.assertLessEqual(abs(approx - t["p"]["95"]), max(0.01, t["p"]["95"] * 0.05))
        self.assertGreaterEqual(approx, t["p"]["90"] * 0.99)
        self.assertLessEqual(approx, t["p"]["99"] * 1.01)
        verdicts = [(x["verdict"], x["judged"]) for x in end["thresholds"]]
        self.assertEqual(verdicts[0][0], "pass")
        self.assertEqual(verdicts[2], ("no_data", "no data"))
        self.assertEqual(verdicts[3][0], "fail")
        self.assertEqual(end["verdict"], "fail")
        self.assertEqual(end["exit_code"], 99)
        checks = {(c["group"], c["name"]): c for c in end["checks"]}
        self.assertEqual(checks[("::g", "found")]["passes"], 0)
        self.assertIn("404", checks[("::g", "found")]["first_failure"])
        self.assertEqual(checks[("::g", "ok")]["fails"], 0)
        self.assertEqual(checks[("::g", "ok")]["passes"], s["metrics"]["http_reqs"]["count"] / 2)
        # the generator's health in every window
        for w in windows:
            r = w["runner"]
            self.assertGreaterEqual(r["cpu_pct"], 0)
            self.assertEqual(r["cores"], meta["cores"])
            self.assertIsNotNone(r["lag_p95_ms"])      # an open model: lag measured
            self.assertFalse(r["behind"], w)
            self.assertEqual(r["vus_max"], 5)
        self.assertIsNotNone(windows[0]["runner"]["busiest_worker_pct"])
        self.assertEqual(end["windows_behind"], 0)

    def test_histograms_and_gzip(self):
        rc, out, err, s, path = self.run_result("--result-histograms", name="r.ndjson.gz")
        self.assertEqual(rc, 99, out + err)
        with open(path, "rb") as f:
            self.assertEqual(f.read(2), b"\x1f\x8b")
        lines = self.lines(path)
        ids = by_key(lines[0])
        dur = ids["http_req_duration"]
        for w in lines[1:-1]:
            if dur in w["s"]:
                self.assertEqual(sum(c for _, c in w["s"][dur]["h"]), w["s"][dur]["n"])

    def test_a_killed_run_leaves_what_it_measured(self):
        spec = self.write_spec(SPEC.replace("duration: 2s", "duration: 20s"))
        path = os.path.join(self.tmp, "killed.ndjson.gz")
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", "-q", "--result", path, spec], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.6)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        with open(path, "rb") as f:
            raw = f.read()
        # a gzip stream cut anywhere: its sync-flushed part reads back
        text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw).decode()
        lines = [json.loads(l) for l in text.splitlines() if l.strip()]
        self.assertEqual(lines[0]["type"], "meta")
        windows = [l for l in lines if l["type"] == "window"]
        self.assertGreaterEqual(len(windows), 2, text[:300])
        self.assertFalse(any(l["type"] == "end" for l in lines))

    def test_sigint_writes_the_end_line(self):
        spec = self.write_spec(SPEC.replace("duration: 2s", "duration: 20s"))
        path = os.path.join(self.tmp, "int.ndjson")
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", "-q", "--result", path, spec], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=40), 105)
        end = self.lines(path)[-1]
        self.assertEqual(end["type"], "end")
        self.assertTrue(end["interrupted"])
        self.assertEqual(end["exit_code"], 105)
        self.assertEqual(end["verdict"], "error")

    def test_cpu_is_measured_against_the_affinity(self):
        """Pinned to one CPU, the runner's CPU share is of 1 core."""
        if not os.path.exists("/usr/bin/taskset"):
            self.skipTest("taskset (util-linux) is not installed")
        spec = self.write_spec(SPEC)
        path = os.path.join(self.tmp, "pinned.ndjson")
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.run(["/usr/bin/taskset", "-c", "0", VOLLEY, "run", "--result", path, spec],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 99, p.stdout + p.stderr)
        self.assertEqual(self.lines(path)[0]["cores"], 1)
        self.assertRegex(p.stdout, r"runner: \d+ workers?, CPU [\d.]+s \(\d+% of 1 core\)")

    def test_bad_options(self):
        spec = self.write_spec(SPEC)
        rc, out, err = self.volley("run", "--result-window", "1.5s", "--result", "x.ndjson", spec)
        self.assertEqual(rc, 104)
        self.assertIn("--result-window: expected whole seconds", err)
        rc, out, err = self.volley("run", "--result", os.path.join(self.tmp, "no", "such", "x"), spec)
        self.assertEqual(rc, 103)
        self.assertIn("cannot create it", err)

    @timed
    def test_windows_after_many_samples(self):
        """Past 4,096 samples a worker keeps its trends in histograms only;
        a window fed by it must read them (QA: 100 ms requests showed as
        p95 0.06 ms, the fast second's values kept earlier)."""
        spec = self.write_spec("""
            version: 1
            scenarios:
              fast:
                executor: constant-vus
                vus: 4
                duration: 2s
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
              slow:
                executor: constant-vus
                vus: 10
                start_time: 2s
                duration: 2s
                flow: [ { http: { url: "${env.NGINX}/delay100" } } ]
            """)
        path = os.path.join(self.tmp, "shift.ndjson")
        rc, out, err = self.volley("run", "-q", "--workers", "1", "--result", path, spec)
        self.assertEqual(rc, 0, out + err)
        lines = self.lines(path)
        dur = by_key(lines[0])["http_req_duration"]
        windows = {w["t0"]: w["s"][dur] for w in lines[1:-1] if dur in w["s"]}
        self.assertGreater(windows[0]["n"], 4096, "the fast second must pass the limit")
        slow = windows[3]      # only /delay100 in the 4th second
        for stat in (slow["p"]["50"], slow["p"]["95"], slow["min"], slow["avg"]):
            self.assertGreater(stat, 95, slow)
        self.assertAlmostEqual(slow["sum"] / slow["n"], slow["avg"], delta=0.5)

    @timed
    def test_a_stalled_generator_is_named(self):
        """SIGSTOP the runner for 1.5 s: the arrivals due meanwhile are
        late or dropped, that second is "behind", its drops are put down to
        lag, and the warning says the process did not get the CPU (its
        workers were idle), not to add workers."""
        spec = self.write_spec("""
            version: 1
            scenarios:
              open:
                executor: constant-arrival-rate
                rate: 200
                time_unit: 1s
                duration: 4s
                pre_allocated_vus: 5
                max_vus: 5
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            """)
        path = os.path.join(self.tmp, "stalled.ndjson")
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", "--result", path, spec], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.6)
        p.send_signal(signal.SIGSTOP)
        time.sleep(1.5)
        p.send_signal(signal.SIGCONT)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, out + err)
        windows = [l for l in self.lines(path) if l["type"] == "window"]
        behind = [w for w in windows if w["runner"]["behind"]]
        self.assertTrue(behind, [w["runner"] for w in windows])
        self.assertTrue(any(w["runner"]["drop_cause"] == "lag" for w in behind), behind)
        self.assertGreater(max(w["runner"]["lag_max_ms"] or 0 for w in behind), 500)
        self.assertIn("     output: --result %s\n" % path, out)   # the run header names it
        self.assertRegex(out, r"WARNING: the load generator fell behind in \d+ of \d+ seconds")
        self.assertIn("did not get the CPU it needed", out)

    def test_window_of_two_seconds(self):
        spec = self.write_spec(SPEC.replace("duration: 2s", "duration: 3s"))
        path = os.path.join(self.tmp, "w2.ndjson")
        rc, out, err = self.volley("run", "-q", "--result-window", "2s", "--result", path, spec)
        self.assertEqual(rc, 99, out + err)
        lines = self.lines(path)
        self.assertEqual(lines[0]["window_s"], 2)
        windows = lines[1:-1]
        self.assertEqual(windows[0]["t0"], 0)
        self.assertEqual(windows[0]["t1"], 2)
        self.assertEqual(len(windows), 2)


if __name__ == "__main__":
    unittest.main()
