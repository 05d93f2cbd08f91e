"""setup: and teardown: (k6's setup() and teardown()): run once before the
scenarios and once after them all; what setup captures every VU and teardown
read as ${setup.NAME}; a failed setup starts no load (exit 107, 100 on its
timeout), a failed teardown is said (107, 101 on its timeout). Against the
recording server of volleytest.py (/token answers "token=abc123; ok",
/status/N answers N) and the loopback nginx (/slow takes 3 s)."""
import json
import os
import signal
import subprocess
import time
import unittest

from volleytest import NGINX, VOLLEY, Recorder, VolleyCase

SPEC = """
version: 1
setup:
  - http: { method: POST, url: "@REC@/token" }
    capture: { tok: { regex: "token=([a-z0-9]+)" } }
    check: [ { name: login, status: 200 } ]
scenarios:
  s:
    executor: per-vu-iterations
    vus: 3
    iterations: 2
    flow:
      - http:
          method: POST
          url: "@REC@/work"
          headers: { Authorization: "Bearer ${setup.tok}" }
          json: { vu: "${vu.id}" }
        check: [ { name: has the token, json: { path: vu, exists: true } } ]
teardown:
  timeout: 10s
  flow:
    - http: { method: DELETE, url: "@REC@/session/${setup.tok}" }
"""


class SetupTeardownTest(VolleyCase):
    def setUp(self):
        super().setUp()
        self.rec = Recorder()

    def tearDown(self):
        self.rec.stop()

    def run_rec(self, spec, *args):
        return self.run_spec(spec.replace("@REC@", self.rec.url), *args)

    def test_setup_values_reach_every_vu_and_teardown(self):
        rc, out, err, s = self.run_rec(SPEC)
        self.assertEqual(rc, 0, out + err)
        reqs = self.rec.taken()
        paths = [r["path"] for r in reqs]
        self.assertEqual(paths[0], "/token")              # first, before any load
        self.assertEqual(paths[-1], "/session/abc123")    # last, after it all
        work = [r for r in reqs if r["path"] == "/work"]
        self.assertEqual(len(work), 6)
        self.assertTrue(all(r["headers"].get("Authorization") == "Bearer abc123" for r in work))
        # Setup's and teardown's requests count, in scenarios of their own.
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 8)
        self.assertEqual(s["metrics"]["checks"]["fails"], 0)

    def test_setup_token_in_defaults_and_service_headers(self):
        # A shared header naming ${setup.tok} is left out of setup's own
        # steps (which make the value), as a header naming a capture is
        # left out of the steps before the capture.
        spec = SPEC.replace("version: 1\n", """version: 1
services:
  rec: { url: "@REC@", headers: { X-Session: "${setup.tok}" } }
defaults:
  headers: { Authorization: "Bearer ${setup.tok}" }
""").replace('headers: { Authorization: "Bearer ${setup.tok}" }\n          json', "json")
        spec = spec.replace('url: "@REC@/work"', 'url: "${services.rec}/work"')
        rc, out, err, s = self.run_rec(spec)
        self.assertEqual(rc, 0, out + err)
        reqs = self.rec.taken()
        self.assertNotIn("Authorization", reqs[0]["headers"])     # setup's login
        work = [r for r in reqs if r["path"] == "/work"]
        self.assertEqual(len(work), 6)
        self.assertTrue(all(r["headers"].get("Authorization") == "Bearer abc123" and
                            r["headers"].get("X-Session") == "abc123" for r in work))
        self.assertEqual(reqs[-1]["headers"].get("Authorization"), "Bearer abc123")  # teardown

    def test_two_workers(self):
        rc, out, err, s = self.run_rec(SPEC, "--workers", "2")
        self.assertEqual(rc, 0, out + err)
        paths = [r["path"] for r in self.rec.taken()]
        self.assertEqual((paths[0], paths[-1], len(paths)), ("/token", "/session/abc123", 8))

    def test_failed_setup_starts_no_load(self):
        rc, out, err, s = self.run_rec(SPEC.replace('"@REC@/token"', '"@REC@/status/500"'))
        self.assertEqual(rc, 107, out + err)
        self.assertIn("setup failed, no load was started: setup: check \"login\" failed: status: status 500 not in [200]",
                      err)
        paths = [r["path"] for r in self.rec.taken()]
        self.assertEqual(paths, ["/status/500"])           # no load, no teardown

    def test_setup_timeout(self):
        spec = SPEC.replace('setup:\n  - http: { method: POST, url: "@REC@/token" }',
                            'setup:\n  timeout: 500ms\n  flow:\n  - http: { url: "%s/slow" }' % NGINX)
        rc, out, err, s = self.run_rec(spec)
        self.assertEqual(rc, 100, out + err)
        self.assertIn("setup did not finish within its timeout of 500ms", err)
        self.assertEqual(self.rec.taken(), [])

    def test_teardown_failure_and_timeout(self):
        spec = SPEC.replace("    - http: { method: DELETE, url: \"@REC@/session/${setup.tok}\" }",
                            "    - http: { url: \"@REC@/status/503\" }\n"
                            "      check: [ { name: cleaned up, status: 200 } ]")
        rc, out, err, s = self.run_rec(spec)
        self.assertEqual(rc, 107, out + err)
        self.assertIn("teardown failed: teardown: check \"cleaned up\" failed: status: status 503", err)
        self.assertEqual(len([r for r in self.rec.taken() if r["path"] == "/work"]), 6)
        spec = SPEC.replace("  timeout: 10s\n  flow:\n    - http: { method: DELETE, url: \"@REC@/session/${setup.tok}\" }",
                            "  timeout: 300ms\n  flow:\n    - http: { url: \"%s/slow\" }" % NGINX)
        rc, out, err, s = self.run_rec(spec)
        self.assertEqual(rc, 101, out + err)
        self.assertIn("teardown did not finish within its timeout of 300ms", err)

    def teardowns(self):
        return [r for r in self.rec.taken() if r["path"].startswith("/session/")]

    def test_teardown_runs_after_an_abort(self):
        # k6: "teardown will still be called after test.abort()"
        # (javascript-api/k6-execution); the exit code stays 108
        spec = SPEC.replace("    flow:\n      - http:\n          method: POST\n          url: \"@REC@/work\"",
                            "    flow:\n      - abort: enough\n      - http:\n          method: POST\n"
                            "          url: \"@REC@/work\"")
        rc, out, err, s = self.run_rec(spec)
        self.assertEqual(rc, 108, out + err)
        self.assertIn("volley: test aborted: enough", err)
        self.assertEqual(len(self.teardowns()), 1, out + err)
        # on_check_fail: abort_test the same; a teardown that then fails is
        # said, and the run still exits 108
        spec = SPEC.replace("check: [ { name: has the token, json: { path: vu, exists: true } } ]",
                            "check: [ { name: never, status: 599 } ]\n        on_check_fail: abort_test")
        spec = spec.replace("    - http: { method: DELETE, url: \"@REC@/session/${setup.tok}\" }",
                            "    - http: { method: DELETE, url: \"@REC@/session/${setup.tok}\" }\n"
                            "      check: [ { name: cleaned up, status: 201 } ]")
        rc, out, err, s = self.run_rec(spec)
        self.assertEqual(rc, 108, out + err)
        self.assertIn("(on_check_fail: abort_test)", err)
        self.assertIn("teardown failed: teardown: check \"cleaned up\" failed", err)
        self.assertEqual(len(self.teardowns()), 1, out + err)

    def test_teardown_runs_after_abort_on_fail_and_sigint(self):
        # k6 runs teardown on its global context, "so it isn't interrupted
        # by thresholds or test.abort() or even Ctrl+C (unless used twice)"
        # (internal/execution/scheduler.go)
        long = SPEC.replace("    executor: per-vu-iterations\n    vus: 3\n    iterations: 2",
                            "    executor: constant-vus\n    vus: 2\n    duration: 60s")
        spec = long + "thresholds:\n  checks: [ { threshold: 'rate>2', abort_on_fail: true } ]\n"
        rc, out, err, s = self.run_rec(spec)
        self.assertEqual(rc, 99, out + err)
        self.assertIn("aborting the test (abort_on_fail)", err)
        self.assertEqual(len(self.teardowns()), 1, out + err)
        path = self.write_spec(long.replace("@REC@", self.rec.url))
        p = subprocess.Popen([VOLLEY, "run", "-q", path], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 105, out + err)
        self.assertEqual(len(self.teardowns()), 1, out + err)

    def test_no_teardown_after_a_stopped_setup(self):
        # k6 returns before teardown when setup() ends with an error
        spec = SPEC.replace('setup:\n  - http: { method: POST, url: "@REC@/token" }',
                            'setup:\n  - abort: no token\n  - http: { method: POST, url: "@REC@/token" }')
        rc, out, err, s = self.run_rec(spec)
        self.assertNotEqual(rc, 0, out + err)
        self.assertEqual(self.teardowns(), [])

    def test_setup_file_belongs_to_its_spec(self):
        """volley setup -o stamps the spec's sha256 (the --result meta
        line's) and the time; run/teardown --setup-data refuse another
        spec's file (104) and read an older file without it with a warning."""
        spec = self.write_spec(SPEC.replace("@REC@", self.rec.url))
        data = os.path.join(self.tmp, "setup.json")
        res = os.path.join(self.tmp, "r.ndjson")
        rc, out, err = self.volley("setup", spec, "-o", data)
        self.assertEqual(rc, 0, out + err)
        with open(data) as f:
            made = json.load(f)
        self.assertEqual(made["values"], {"tok": "abc123"})
        self.assertRegex(made["made"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        rc, out, err = self.volley("run", "-q", "--no-teardown", "--setup-data", data, "--result", res, spec)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("warning", err)
        with open(res) as f:
            self.assertEqual(json.loads(f.readline())["spec"]["sha256"], made["spec_sha256"])
        other = self.write_spec(SPEC.replace("@REC@", self.rec.url).replace("iterations: 2", "iterations: 3"),
                                "other.yaml")
        for cmd in (("run", "-q"), ("teardown",)):
            rc, out, err = self.volley(*cmd, "--setup-data", data, other)
            self.assertEqual(rc, 104, (cmd, out + err))
            self.assertIn("--setup-data %s was made by volley setup from a different spec (sha256 %s..., made %s; "
                          "this spec's is " % (data, made["spec_sha256"][:12], made["made"]), err)
            self.assertIn("run volley setup with this spec", err)
        paths = [r["path"] for r in self.rec.taken()]
        self.assertEqual(paths.count("/work"), 6)   # the refused runs sent nothing
        self.assertEqual([p for p in paths if p.startswith("/session")], [])
        del made["spec_sha256"], made["made"]       # as an older volley wrote it
        with open(data, "w") as f:
            json.dump(made, f)
        rc, out, err = self.volley("teardown", "--setup-data", data, other)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("volley: warning: --setup-data %s does not say which spec made it (an older volley "
                      "setup): not checked against this spec" % data, err)
        self.assertIn("/session/abc123", [r["path"] for r in self.rec.taken()])

    def test_load_time_errors(self):
        spec = self.write_spec(SPEC.replace("Bearer ${setup.tok}", "Bearer ${setup.tokk}")
                               .replace('capture: { tok: { regex: "token=([a-z0-9]+)" } }',
                                        'capture: { tok: { regex: "token=([a-z0-9]+)" } }\n'
                                        '  - http: { url: "@REC@/again/${setup.tok}" }'))
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("${setup.tok}: setup's values exist only after setup ran; inside setup use the "
                      "captured name itself (${tok})", err)
        self.assertIn('${setup.tokk}: setup captures no "tokk" (did you mean "tok"?); it captures: tok', err)
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow: [ { http: { url: "http://127.0.0.1:1/${setup.x}" } } ]
            """, "b.yaml")
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("${setup.x}: the spec has no setup: flow to capture it", err)
        spec = self.write_spec("""
            version: 1
            setup: { flw: [] }
            scenarios:
              s: { executor: per-vu-iterations, flow: [ { sleep: 1ms } ] }
            """, "c.yaml")
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn('setup: unknown key "flw" (did you mean "flow"?)', err)
        self.assertIn('setup: missing required key "flow"', err)


if __name__ == "__main__":
    unittest.main()
