"""--start-at TIME: the run sets up, waits for the wall-clock instant and
starts the load on it (scale-out: instances start together). Against the
loopback nginx; the start is read from the --result file's meta line.
Setup once: volley setup -o FILE, run --setup-data FILE, volley teardown."""
import datetime
import json
import os
import signal
import subprocess
import time
import unittest

from volleytest import NGINX, VOLLEY, VolleyCase

SPEC = """
version: 1
scenarios:
  s:
    executor: per-vu-iterations
    vus: 2
    iterations: 3
    flow:
      - http: { url: "${env.NGINX}/" }
        check: [ { name: ok, status: 200 } ]
"""


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class StartAt(VolleyCase):
    def run_at(self, at, *extra):
        spec = self.write_spec(SPEC)
        result = os.path.join(self.tmp, "result.ndjson")
        rc, out, err = self.volley("run", "--result", result, "--start-at", at, *extra, spec)
        return rc, out, err, result

    def start_ms(self, result):
        meta = [r for r in self.read_ndjson(result) if r.get("type") == "meta"]
        self.assertEqual(len(meta), 1, meta)
        return meta[0]["start_unix_ms"]

    def test_rfc3339_start_on_the_instant(self):
        at = time.time() + 2.0
        t_begin = time.time()
        rc, out, err, result = self.run_at(rfc3339(at))
        self.assertEqual(rc, 0, err)
        self.assertIn("start at: ", out)
        self.assertIn("set up now, then wait", out)
        start = self.start_ms(result) / 1000.0
        self.assertLess(abs(start - at), 0.2, (start, at))
        self.assertLess(t_begin, at)   # it did wait: the load began 2 s after we started it
        self.assertIn("6 complete", out)

    def test_epoch_with_offset_and_fraction(self):
        at = time.time() + 1.5
        rc, out, err, result = self.run_at("%.3f" % at, "-q")
        self.assertEqual(rc, 0, err)
        self.assertLess(abs(self.start_ms(result) / 1000.0 - at), 0.2)
        # the same instant written with a +02:00 offset
        at = time.time() + 1.5
        local = datetime.datetime.fromtimestamp(at, datetime.timezone(datetime.timedelta(hours=2)))
        rc, out, err, result = self.run_at(local.isoformat(timespec="milliseconds"), "-q")
        self.assertEqual(rc, 0, err)
        self.assertLess(abs(self.start_ms(result) / 1000.0 - at), 0.2)

    def test_past_and_far_times_are_input_errors(self):
        spec = self.write_spec(SPEC)
        past = rfc3339(time.time() - 60)
        rc, out, err = self.volley("run", "--start-at", past, spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("--start-at: ", err)
        self.assertIn("is in the past (now is 20", err)
        self.assertIn(past[:19], err)
        rc, out, err = self.volley("run", "--start-at", "%d" % (time.time() + 25 * 3600), spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("more than 24h ahead", err)
        rc, out, err = self.volley("run", "--start-at", "tomorrow", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn('expected an RFC 3339 time', err)
        self.assertIn('got "tomorrow"', err)
        rc, out, err = self.volley("run", "--start-at", "%d" % (time.time() + 60), spec, spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("--start-at starts one spec", err)

    def test_sigint_while_waiting_starts_no_load(self):
        spec = self.write_spec(SPEC)
        summary = os.path.join(self.tmp, "summary.json")
        result = os.path.join(self.tmp, "result-1.ndjson")
        with open(result, "w") as f:
            f.write("an older run's file, truncated by the new run\n")
        e = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", "-q", "--summary-export", summary, "--result", result,
                              "--start-at", "%d" % (time.time() + 60), spec],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        time.sleep(1.0)
        t = time.time()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertLess(time.time() - t, 5)
        self.assertEqual(p.returncode, 105, err)
        self.assertIn("interrupted before the start", out)
        self.assertIn("no load was started", out)
        self.assertFalse(os.path.exists(summary))   # nothing measured, no summary of zeros
        # no empty result file for `volley merge` to trip on: the segment is missing
        self.assertFalse(os.path.exists(result))


SETUP_SPEC = """
version: 1
setup:
  - http: { url: "${env.NGINX}/created" }
    capture: { id: json.id, made: json.created }
    check: [ { name: made, status: 201 } ]
scenarios:
  s:
    executor: per-vu-iterations
    vus: 2
    iterations: 2
    flow:
      - http:
          method: POST
          url: "${env.NGINX}/echo"
          json:
            id: "${setup.id}"
            made: ${setup.made}                  # a JSON capture: stays true, not "true"
        check:
          - { name: sent the setup id, json: { path: id, equals: "abc-123" } }
          - { name: sent made, json: { path: made, equals: true } }
teardown:
  - http: { url: "${env.NGINX}/json?id=${setup.id}" }
    check: [ { name: teardown ok, status: 200 } ]
"""


class SetupOnce(VolleyCase):
    def setup_file(self, text=SETUP_SPEC, name="spec.yaml"):
        spec = self.write_spec(text, name)
        data = os.path.join(self.tmp, "setup.json")
        rc, out, err = self.volley("setup", spec, "-o", data)
        self.assertEqual(rc, 0, err)
        self.assertIn("setup ran once; its 2 captures written to", out)
        return spec, data

    def test_setup_writes_its_captures(self):
        spec, data = self.setup_file()
        with open(data) as f:
            got = json.load(f)
        self.assertEqual(got["volley_setup_data"], 1)
        self.assertEqual(got["values"], {"id": "abc-123", "made": True})

    def test_run_with_setup_data_sends_them_and_runs_no_setup(self):
        # a threshold: its metric's per-scenario series are exported even empty
        spec, data = self.setup_file(SETUP_SPEC + "thresholds:\n  http_req_duration: [\"p(95)<5000\"]\n",
                                     "thresholds.yaml")
        summary = os.path.join(self.tmp, "summary.json")
        sj = os.path.join(self.tmp, "summary-data.json")
        result = os.path.join(self.tmp, "r.ndjson")
        html = os.path.join(self.tmp, "r.html")
        rc, out, err = self.volley("run", "--summary-export", summary, "--summary-json", sj,
                                   "--result", result, "--report", html, "--summary-by", "scenario",
                                   "--setup-data", data, spec)
        self.assertEqual(rc, 0, err + out)
        with open(summary) as f:
            s = json.load(f)
        checks = s["root_group"]["checks"]
        self.assertEqual(checks["sent the setup id"]["passes"], 4)
        self.assertEqual(checks["sent made"]["passes"], 4)
        self.assertEqual(checks["made"]["passes"] + checks["made"]["fails"], 0)   # setup never ran
        self.assertEqual(checks["teardown ok"]["passes"], 1)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 5)   # 4 iterations + teardown, no setup
        # setup ran elsewhere: said so, never a setup scenario of 0 iterations
        said = "setup: from %s (not run here)" % data
        self.assertIn("* " + said, out)                   # the header
        self.assertIn("       " + said + "\n", out)       # the summary's scenarios
        self.assertNotIn("setup (per-vu-iterations)", out)
        self.assertNotIn("{ scenario:setup }", out)
        self.assertIn("s (per-vu-iterations):  iterations=4", out)
        self.assertIn("{ scenario:s }", out)               # --summary-by scenario shows the others
        self.assertEqual(s["run"]["setup_data"], data)
        self.assertFalse([k for k in s["metrics"] if "scenario:setup" in k], list(s["metrics"]))
        self.assertIn("iterations{scenario:s}", s["metrics"])
        with open(sj) as f:
            metrics = json.load(f)["metrics"]
        self.assertFalse([k for k in metrics if "scenario:setup" in k], list(metrics))
        scs = {x["name"]: x for x in self.read_ndjson(result)[0]["scenarios"]}
        self.assertEqual(scs["setup"]["setup_data"], data)
        self.assertNotIn("setup_data", scs["s"])
        with open(html) as f:
            page = f.read()
        self.assertIn("<b>setup</b>: from %s (not run here)" % data, page)
        # a run that ran its setup says nothing of the kind
        rc, out, err = self.volley("run", "--summary-by", "scenario", "--summary-export", summary, spec)
        self.assertEqual(rc, 0, err + out)
        self.assertNotIn("not run here", out)
        self.assertIn("setup (per-vu-iterations):  iterations=1", out)
        with open(summary) as f:
            self.assertNotIn("setup_data", json.load(f)["run"])

    def test_teardown_alone(self):
        spec, data = self.setup_file()
        rc, out, err = self.volley("teardown", spec, "--setup-data", data)
        self.assertEqual(rc, 0, err)
        self.assertIn("teardown ran", out)
        rc, out, err = self.volley("teardown", spec)
        self.assertEqual(rc, 104)
        self.assertIn("give them with --setup-data FILE", err)

    def test_a_missing_name_is_an_error_before_any_load(self):
        spec = self.write_spec(SETUP_SPEC)
        data = os.path.join(self.tmp, "setup.json")
        with open(data, "w") as f:
            json.dump({"volley_setup_data": 1, "values": {"id": "abc-123"}}, f)
        rc, out, err = self.volley("run", "--setup-data", data, spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("no value for ${setup.made} (the file has: id)", err)
        self.assertNotIn("http_reqs", out)
        rc, out, err = self.volley("run", "--setup-data", os.path.join(self.tmp, "none.json"), spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("--setup-data ", err)

    def test_setup_that_fails_writes_nothing(self):
        spec = self.write_spec(SETUP_SPEC.replace("status: 201", "status: 200"))
        data = os.path.join(self.tmp, "setup.json")
        rc, out, err = self.volley("setup", spec, "-o", data)
        self.assertEqual(rc, 107, err)
        self.assertIn("setup failed", err)
        self.assertFalse(os.path.exists(data))


if __name__ == "__main__":
    unittest.main()
