"""volley run over several specs or a directory (issue 14, item 2): the
directory's specs in name order with include-only files skipped, one health
scan of the union of their services first (stops the run when one is down,
unless --no-scan), --results-dir per spec, the final table, the exit code
by severity (103 > 104 > 105 > 108 > 107 > 100 > 101 > 99 > 0), SIGINT, and
a single spec exactly as before (no scan, no table)."""
import json
import os
import signal
import subprocess
import textwrap
import time
import unittest

from volleytest import DEAD, NGINX, VOLLEY, VolleyCase

SERVICES = """
services:
  web:
    url: ${env.NGINX}
    health: /health
"""

PASSING = """
version: 1
include: services.yaml
scenarios:
  main:
    executor: shared-iterations
    vus: 1
    iterations: 5
    flow:
      - http: { url: "${services.web}/fast" }
        check: [ { name: ok, status: 200 } ]
thresholds:
  http_req_failed: ["rate<0.5"]
"""

FAILING = """
version: 1
include: services.yaml
scenarios:
  main:
    executor: shared-iterations
    vus: 1
    iterations: 4
    flow:
      - http: { url: "${services.web}/fast" }
        check: [ { name: ok, status: 200 } ]
      - http: { url: "${services.web}/notfound" }
        check: [ { name: found, status: 200 } ]
thresholds:
  http_req_failed: ["rate<0.9"]
  http_reqs: ["count>1000"]
"""

DOWN = """
version: 1
services:
  dead:
    url: %s
    health: /health
scenarios:
  main:
    executor: shared-iterations
    vus: 1
    iterations: 1
    flow:
      - http: { url: "${services.dead}/x" }
""" % DEAD

TABLE_ROW = r"\n  %s +%s  %s +(\S+|-) +(\S+|-)"


class RunAllTest(VolleyCase):
    def suite(self, **extra):
        d = os.path.join(self.tmp, "suite")
        os.makedirs(d, exist_ok=True)
        files = {"services.yaml": SERVICES, "a-pass.yaml": PASSING, "b-fail.yml": FAILING}
        files.update(extra)
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(textwrap.dedent(text))
        return d

    def test_directory_runs_specs_in_order_skips_include_files_and_ends_with_a_table(self):
        d = self.suite()
        rc, out, err = self.volley("run", "-q", d)
        self.assertEqual(rc, 99, out + err)
        self.assertIn("services.yaml: skipped, not a spec", err)
        # one scan of the union first: the shared service once
        self.assertIn("health of the services of 2 specs", out)
        self.assertEqual(out.count("/health "), 1, out)
        self.assertIn("1 of 1 up", out)
        self.assertLess(out.index("1 of 1 up"), out.index("spec 1 of 2: " + d + "/a-pass.yaml"))
        self.assertLess(out.index("spec 1 of 2"), out.index("spec 2 of 2: " + d + "/b-fail.yml"))
        self.assertIn("2 specs run of 2", out)
        self.assertRegex(out, TABLE_ROW % (d + "/a-pass.yaml", "0", "1 passed, 0 failed") + r" *\n")
        self.assertRegex(out, r"1 passed, 0 failed +100.00%")
        self.assertRegex(out, TABLE_ROW % (d + "/b-fail.yml", "99", "1 passed, 1 failed"))
        self.assertRegex(out, r"1 passed, 1 failed +50.00%")
        self.assertIn("exit code: 99", out)

    def test_a_down_service_stops_the_run_before_any_spec(self):
        d = self.suite(**{"c-down.yaml": DOWN})
        rc, out, err = self.volley("run", "-q", d)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("health of the services of 3 specs", out)
        self.assertRegex(out, r"dead +http://127.0.0.1:1/health +- +\S+ +DOWN")
        self.assertIn("1 of 2 up", out)
        self.assertIn("1 service is not up: no spec was run", err)
        self.assertNotIn("spec 1 of", out)
        self.assertNotIn("http_reqs", out)

    def test_no_scan_runs_them_anyway(self):
        d = self.suite(**{"c-down.yaml": DOWN})
        rc, out, err = self.volley("run", "-q", "--no-scan", d)
        self.assertEqual(rc, 99, out + err)
        self.assertNotIn("health of the services", out)
        self.assertIn("3 specs run of 3", out)
        self.assertRegex(out, TABLE_ROW % (d + "/c-down.yaml", "0", "0 passed, 0 failed"))

    def test_several_files_scan_too_and_a_service_without_health_is_not_scanned(self):
        d = self.suite()
        other = self.write_spec("""
            version: 1
            services:
              plain: { url: "%s" }
            scenarios:
              main:
                executor: shared-iterations
                iterations: 1
                flow:
                  - http: { url: "${services.plain}/fast" }
            """ % NGINX, name="plain.yaml")
        rc, out, err = self.volley("run", "-q", os.path.join(d, "a-pass.yaml"), other)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("health of the services of 2 specs", out)
        self.assertNotIn(" plain ", out.split("spec 1 of 2")[0])
        self.assertIn("2 specs run of 2", out)

    def test_results_dir(self):
        d = self.suite()
        res = os.path.join(self.tmp, "out", "results")      # created, parents too
        rc, out, err = self.volley("run", "-q", "--results-dir", res, d)
        self.assertEqual(rc, 99, out + err)
        names = sorted(os.listdir(res))
        junit = "junit" in self.volley("plugins")[1].split()
        want = ["a-pass-summary.json", "a-pass.ndjson", "b-fail-summary.json", "b-fail.ndjson",
                "a-pass-summary-data.json", "b-fail-summary-data.json",
                "a-pass-result.ndjson", "b-fail-result.ndjson", "a-pass-report.html", "b-fail-report.html"]
        if junit:
            want += ["a-pass.junit.xml", "b-fail.junit.xml"]
        self.assertEqual(names, sorted(want))
        for stem, reqs in (("a-pass", 5), ("b-fail", 8)):
            lines = self.read_ndjson(os.path.join(res, stem + ".ndjson"))
            points = [o for o in lines if o["type"] == "Point" and o["metric"] == "http_reqs"]
            self.assertEqual(len(points), reqs)
            with open(os.path.join(res, stem + "-summary.json")) as f:
                self.assertEqual(json.load(f)["metrics"]["http_reqs"]["count"], reqs)
        if not junit:
            print("note: no junit plugin in this build; DIR/NAME.junit.xml not checked")

    def test_results_dir_refuses_two_specs_of_one_name(self):
        d = self.suite()
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        with open(os.path.join(other, "a-pass.yaml"), "w") as f:
            f.write(textwrap.dedent(PASSING))
        rc, out, err = self.volley("run", "-q", "--results-dir", os.path.join(self.tmp, "r"),
                                   os.path.join(d, "a-pass.yaml"), os.path.join(other, "a-pass.yaml"))
        self.assertEqual(rc, 104, out + err)
        self.assertIn("would write the same files (a-pass.*)", err)

    def test_exit_code_is_the_worst_by_severity_not_by_number(self):
        # 103 (an output that cannot start) beats 104 (an invalid spec),
        # though 104 is the higher number; a 103 does not stop the next spec.
        d = self.suite(**{
            "c-engine.yaml": PASSING + "outputs:\n  - json-out: /proc/nonexistent/x.ndjson\n",
            "d-invalid.yaml": "version: 1\nscenarios:\n  main:\n    executor: constant-vu\n"})
        rc, out, err = self.volley("run", "-q", "--no-scan", d)
        self.assertEqual(rc, 103, out + err)
        self.assertIn("4 specs run of 4", out)
        self.assertRegex(out, r"c-engine.yaml +103 ")
        self.assertRegex(out, r"d-invalid.yaml +104 +- ")
        self.assertIn("exit code: 103", out)

    def test_an_invalid_spec_beats_a_failed_threshold(self):
        d = self.suite(**{"c-invalid.yaml": "version: 1\nscenarios: {}\n"})
        rc, out, err = self.volley("run", "-q", d)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("3 specs run of 3", out)

    def test_sigint_stops_the_remaining_specs_and_prints_the_table(self):
        d = self.suite(**{"0-long.yaml": """
            version: 1
            include: services.yaml
            scenarios:
              long:
                executor: constant-vus
                vus: 2
                duration: 60s
                flow:
                  - http: { url: "${services.web}/delay10" }
            """})
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", "-q", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
        time.sleep(3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 105, out + err)
        self.assertIn("1 spec run of 3", out)
        self.assertRegex(out, r"0-long.yaml +105 ")
        self.assertRegex(out, r"a-pass.yaml +- .*\(not run\)")
        self.assertRegex(out, r"b-fail.yml +- .*\(not run\)")

    def test_an_empty_directory_is_an_error(self):
        d = os.path.join(self.tmp, "empty")
        os.makedirs(d)
        with open(os.path.join(d, "services.yaml"), "w") as f:
            f.write(textwrap.dedent(SERVICES))
        rc, out, err = self.volley("run", d)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("no spec files", err)

    def test_a_single_spec_is_unchanged(self):
        # a dead health URL: a single spec is not scanned, and no table
        spec = self.write_spec(textwrap.dedent(PASSING).replace("include: services.yaml\n", textwrap.dedent(
            """
            services:
              web: { url: "${env.NGINX}" }
              dead: { url: "%s", health: /health }
            """ % DEAD)))
        rc, out, err = self.volley("run", "-q", spec)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("health of the services", out)
        self.assertNotIn("spec 1 of", out)
        self.assertNotIn("specs run of", out)
        self.assertNotIn("exit code:", out)
        self.assertIn("http_reqs", out)


if __name__ == "__main__":
    unittest.main()
