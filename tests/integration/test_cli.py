"""The command line: validate, invalid specs (exact errors, exit 104),
plugins, plugin load errors (103), json-out NDJSON, SIGINT (105)."""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

from volleytest import NGINX, SOURCE, VOLLEY, VolleyCase

RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d$")


class CliTest(VolleyCase):
    def test_version_and_help(self):
        rc, out, _ = self.volley("version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^volley \d+\.\d+\.\d+ \(plugin ABI 1")
        rc, out, _ = self.volley("--help")
        self.assertEqual(rc, 0)
        self.assertIn("validate", out)
        rc, _, err = self.volley("frobnicate")
        self.assertEqual(rc, 104)
        self.assertIn('unknown command "frobnicate"', err)
        rc, _, err = self.volley("run", "--vus", "zero", "x.yaml")
        self.assertEqual(rc, 104)
        self.assertIn("--vus: expected a whole number", err)

    def test_plugins_lists_every_kind(self):
        rc, out, err = self.volley("plugins")
        self.assertEqual(rc, 0, err)
        for name, kind in (("http", "protocol"), ("checks-basic", "check"),
                           ("checks-json", "check"), ("json-out", "output")):
            self.assertRegex(out, r"(?m)^%s\s+%s\s+\S+\s+1\.\d+\s+/" % (name, kind))

    def test_example_specs_validate(self):
        specs = sorted(glob.glob(os.path.join(SOURCE, "specs", "examples", "*.yaml")) +
                       glob.glob(os.path.join(SOURCE, "specs", "bench", "*.yaml")))
        self.assertTrue(specs)
        rc, out, err = self.volley("validate", *specs)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count(": ok ("), len(specs))

    def test_invalid_specs_report_the_exact_error(self):
        """Each file in specs/invalid/ starts with '# expect: <error prefix>'."""
        files = sorted(glob.glob(os.path.join(SOURCE, "specs", "invalid", "*.yaml")))
        self.assertGreaterEqual(len(files), 8)
        for path in files:
            with open(path) as f:
                first = f.readline()
            self.assertTrue(first.startswith("# expect: "), path)
            expected = first[len("# expect: "):].strip()
            d = os.path.dirname(path)
            p = subprocess.run([VOLLEY, "validate", os.path.basename(path)], cwd=d,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(p.returncode, 104, path)
            self.assertTrue(p.stderr.startswith(expected),
                            "%s\nexpected: %s\ngot:      %s" % (path, expected, p.stderr))
            # `run` refuses the same spec before any traffic
            p = subprocess.run([VOLLEY, "run", os.path.basename(path)], cwd=d,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
            self.assertEqual(p.returncode, 104, path)

    def test_all_errors_in_one_pass(self):
        spec = self.write_spec("""
            version: 2
            scenarios:
              a:
                executor: constant-vus
                flow: [ { sleep: forever } ]
              b:
                executor: per-vu-iterations
                vus: -1
                flow: []
            thresholds:
              nope: ["count>1"]
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104)
        lines = [l for l in err.splitlines() if ": error: " in l]
        self.assertEqual(len(lines), 6, err)
        self.assertIn("spec.yaml:2:10: error: version: expected 1", lines[0])
        self.assertTrue(all(re.match(r"^\S+spec\.yaml:\d+:\d+: error: ", l) for l in lines), err)

    def test_unreadable_file(self):
        rc, out, err = self.volley("validate", os.path.join(self.tmp, "missing.yaml"))
        self.assertEqual(rc, 104)
        self.assertIn("missing.yaml", err)

    def test_plugin_that_is_not_ours_is_listed_as_broken(self):
        # A file that does not load stops nothing: `volley plugins` lists it
        # as broken with the reason (tests/integration/test_plugin_sdk.py has
        # the rest: runs that need it or not).
        bad = os.path.join(self.tmp, "plugins")
        os.makedirs(bad)
        with open(os.path.join(bad, "volley-junk.so"), "w") as f:
            f.write("not an ELF file")
        rc, out, err = self.volley("plugins", "--plugin-path", bad)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^\?\s+\?\s+BROKEN\s+-\s+\S+/volley-junk\.so$")
        self.assertIn("volley-junk.so: cannot load plugin", out)
        self.assertRegex(out, r"(?m)^http\s+protocol\s")      # the others still load
        # a real shared object without the entry point
        shutil.copy("/lib/x86_64-linux-gnu/libm.so.6" if os.path.exists("/lib/x86_64-linux-gnu/libm.so.6")
                    else glob.glob("/lib/*/libm.so.6")[0], os.path.join(bad, "volley-junk.so"))
        rc, out, err = self.volley("plugins", "--plugin-path", bad)
        self.assertEqual(rc, 0, err)
        self.assertIn("not a Volley plugin", out)

    def test_output_that_cannot_start_is_an_engine_error(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            thresholds:
              http_reqs: ["count==1"]
            """)
        rc, out, err = self.volley("run", "-q", "--out", "json-out=/proc/nope/x.ndjson", spec)
        self.assertEqual(rc, 103, out + err)
        self.assertIn('cannot create folder "/proc/nope"', err)
        self.assertNotIn("http_reqs", out)      # no summary of a run that never ran

    def test_json_out_is_k6_ndjson(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 5
                flow:
                  - group: g
                    steps:
                      - http: { name: fast, url: "${env.NGINX}/fast" }
                        check: [ { name: ok, status: 200 } ]
            thresholds:
              http_req_duration: ["p(95)<5000"]
            """)
        nd = os.path.join(self.tmp, "out", "r.ndjson")
        summary = os.path.join(self.tmp, "s.json")
        rc, out, err = self.volley("run", "-q", "--out", "json-out=" + nd, "--summary-export", summary, spec)
        self.assertEqual(rc, 0, err)
        lines = self.read_ndjson(nd)
        seen = set()
        points = {}
        for obj in lines:
            self.assertIn(obj["type"], ("Metric", "Point"))
            name = obj["metric"]
            if obj["type"] == "Metric":
                self.assertNotIn(name, seen, "one Metric line per metric")
                seen.add(name)
                self.assertIn(obj["data"]["type"], ("counter", "gauge", "rate", "trend"))
                self.assertIn(obj["data"]["contains"], ("default", "time", "data"))
            else:
                self.assertIn(name, seen, "Metric line before its first Point")
                self.assertRegex(obj["data"]["time"], RFC3339_NS)
                self.assertIsInstance(obj["data"]["value"], (int, float))
                points.setdefault(name, []).append(obj["data"])
        metric_line = next(o for o in lines if o["type"] == "Metric" and o["metric"] == "http_req_duration")
        self.assertEqual(metric_line["data"]["thresholds"], ["p(95)<5000"])
        self.assertEqual(len(points["http_reqs"]), 10)
        self.assertEqual(len(points["checks"]), 10)
        tags = points["http_req_duration"][0]["tags"]
        self.assertEqual(tags["name"], "fast")
        self.assertEqual(tags["method"], "GET")
        self.assertEqual(tags["status"], "200")
        self.assertEqual(tags["group"], "::g")
        self.assertEqual(tags["scenario"], "s")
        self.assertEqual(tags["expected_response"], "true")
        self.assertEqual(points["checks"][0]["tags"]["check"], "ok")
        with open(summary) as f:
            s = json.load(f)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 10)
        self.assertRegex(out, r"output json-out=\S+: \d+ samples sent to it, 0 dropped")

    def test_sigint_writes_summary_and_outputs(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              long:
                executor: constant-vus
                vus: 5
                duration: 60s
                flow:
                  - http: { url: "${env.NGINX}/delay10" }
            """)
        nd = os.path.join(self.tmp, "int.ndjson")
        summary = os.path.join(self.tmp, "int.json")
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", "--out", "json-out=" + nd, "--summary-export", summary, spec],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 105, err)
        self.assertIn("SIGINT received", err)
        self.assertIn("http_reqs", out)
        self.assertIn("(interrupted)", out)
        lines = self.read_ndjson(nd)    # every line parses
        reqs = [o for o in lines if o["type"] == "Point" and o["metric"] == "http_reqs"]
        with open(summary) as f:
            s = json.load(f)
        self.assertGreater(len(reqs), 20)
        self.assertEqual(len(reqs), s["metrics"]["http_reqs"]["count"])

    def test_run_tags_reach_samples_and_thresholds(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                iterations: 3
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            thresholds:
              "http_reqs{env:staging}": ["count==3"]
              "http_reqs{env:prod}": ["count==0"]
            """)
        nd = os.path.join(self.tmp, "tags.ndjson")
        summary = os.path.join(self.tmp, "tags.json")
        rc, out, err = self.volley("run", "-q", "--tag", "env=staging", "--tag", "team=qa",
                                   "--out", "json-out=" + nd, "--summary-export", summary, spec)
        self.assertEqual(rc, 0, out + err)
        pts = [o for o in self.read_ndjson(nd) if o["type"] == "Point" and o["metric"] == "http_reqs"]
        self.assertEqual(len(pts), 3)
        self.assertEqual(pts[0]["data"]["tags"]["env"], "staging")
        self.assertEqual(pts[0]["data"]["tags"]["team"], "qa")
        self.assertEqual(list(pts[0]["data"]["tags"]), sorted(pts[0]["data"]["tags"]))
        rc, out, err = self.volley("validate", "--tag", "scenario=x", spec)
        self.assertEqual(rc, 104)
        self.assertIn("a built-in tag", err)
        rc, out, err = self.volley("validate", "--tag", "novalue", spec)
        self.assertEqual(rc, 104)
        self.assertIn("expected NAME=VALUE", err)


class ScanTest(VolleyCase):
    def test_scan_reports_every_service(self):
        spec = self.write_spec("""
            version: 1
            services:
              api: { url: "${env.NGINX}", health: /health }
              missing: { url: "${env.NGINX}", health: /notfound }
              dead: { url: "http://127.0.0.1:1", health: /health }
              bare: "${env.NGINX}/fast"
            scenarios:
              s: { executor: shared-iterations, flow: [ { sleep: 1ms } ] }
            """)
        rc, out, err = self.volley("scan", spec)
        self.assertEqual(rc, 1, out + err)
        rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
        self.assertRegex(rows["api"], r"/health +200 .* up$")
        self.assertRegex(rows["missing"], r"/notfound +404 .* DOWN \(status\)$")
        self.assertRegex(rows["dead"], r"DOWN: .*(Couldn't connect|refused)")
        self.assertRegex(rows["bare"], r"/fast +200 .* up$")      # no health path: the url itself
        self.assertIn("2 of 4 up", out)
        ok = self.write_spec("""
            version: 1
            services: { api: { url: "${env.NGINX}", health: health } }
            scenarios:
              s: { executor: shared-iterations, flow: [ { sleep: 1ms } ] }
            """, "ok.yaml")
        rc, out, err = self.volley("scan", ok)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("1 of 1 up", out)

    def test_scan_ws_services_with_a_handshake(self):
        """ws:// and wss:// services get a WebSocket handshake (101 is up),
        all at once: a server that never answers costs the timeout, not
        the others' time."""
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers = []
        try:
            ports = []
            for extra in ([], ["--tls", cert, key]):
                sock = socket.socket()
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
                sock.close()
                srv = subprocess.Popen([sys.executable, os.path.join(SOURCE, "tests", "ws", "wsserver.py"),
                                        str(port)] + extra, stdout=subprocess.PIPE, text=True)
                servers.append(srv)
                self.assertTrue(srv.stdout.readline().startswith("ready"))
                ports.append(port)
            spec = self.write_spec("""
                version: 1
                services:
                  echo: ws://127.0.0.1:%(ws)d/echo
                  health: { url: "ws://127.0.0.1:%(ws)d", health: "/echo?x=1" }
                  rejected: ws://127.0.0.1:%(ws)d/reject400
                  dead: ws://127.0.0.1:1/x
                  silent: ws://127.0.0.1:%(ws)d/hang
                  untrusted: wss://127.0.0.1:%(wss)d/echo
                  http: "${env.NGINX}/health"
                scenarios:
                  s: { executor: shared-iterations, flow: [ { sleep: 1ms } ] }
                """ % {"ws": ports[0], "wss": ports[1]})
            t0 = time.monotonic()
            rc, out, err = self.volley("scan", spec)
            self.assertLess(time.monotonic() - t0, 9)
            self.assertEqual(rc, 1, out + err)
            self.assertNotIn("not supported", out)
            rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
            self.assertRegex(rows["echo"], r"ws://127\.0\.0\.1:\d+/echo +101 .* up$")
            self.assertRegex(rows["health"], r"/echo\?x=1 +101 .* up$")
            self.assertRegex(rows["rejected"], r" 400 .* DOWN \(status: no WebSocket upgrade\)$")
            self.assertRegex(rows["dead"], r"DOWN: .*(Couldn't connect|refused)")
            self.assertRegex(rows["silent"], r" 5000\.0ms +DOWN: no WebSocket handshake answer within 5000 ms$")
            self.assertRegex(rows["untrusted"], r"DOWN: SSL certificate problem")
            self.assertRegex(rows["http"], r" 200 .* up$")
            self.assertIn("3 of 7 up", out)
        finally:
            for srv in servers:
                srv.terminate()
                srv.wait(timeout=10)
                srv.stdout.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
