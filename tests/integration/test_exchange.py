"""Checks and records on the exchange, not only the body (issue 17, items 3,
9 and 10), against the loopback nginx (its /redirect and /redirect2) and an
HTTP/2 nginx this test starts itself:
  - check keys proto, url, timings and bytes (k6's r.proto, r.url,
    r.timings, the exchange's sizes) on both http clients, the fast path
    and curl (VOLLEY_HTTP_CLIENT=curl);
  - record sources timings.NAME and bytes.sent/received, equal to what the
    http_req_* trends and data_* counters got for the same requests;
  - capture NAME: url, the final URL after redirects;
  - a step's tags on its `checks` samples (checks{my_tag:x} can pass);
  - captures kept out of `checks`: their own `captures` rate, summary
    lines, --summary-export/--summary-json keys, junit testcases and
    report table."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

from volleytest import DEAD, NGINX, VolleyCase

NGINX_CA = os.environ.get("TEST_NGINX_TLS_CA")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


EXCHANGE = """
version: 1
metrics:
  t_wait: { type: trend, contains: time }
  t_dur: { type: trend, contains: time }
  t_conn: { type: trend, contains: time }
  b_in: { type: counter, contains: data }
  b_out: { type: counter, contains: data }
scenarios:
  main:
    executor: per-vu-iterations
    vus: 1
    iterations: 4
    flow:
      - http: { name: direct, url: "${env.NGINX}/json" }
        tags: { my_tag: x }
        check:
          - { name: h1, proto: HTTP/1.1 }
          - { name: asked url, url: "${env.NGINX}/json" }
          - { name: quick, timings: { waiting: { lt: 5s }, duration: { lte: 5s }, sending: { gte: 0 } } }
          - { name: sizes, bytes: { received: { gt: 100 }, sent: { gt: 20, lt: 4096 } } }
        record:
          t_wait: timings.waiting
          t_dur: timings.duration
          b_in: bytes.received
          b_out: bytes.sent
      - http: { name: hops, url: "${env.NGINX}/redirect2" }
        tags: { my_tag: y }
        check:
          - { name: landed, url: { equals: "${env.NGINX}/json", contains: "/json", matches: "/json$" } }
          - { name: not the first, url: { contains: redirect } }
          - { name: reused, timings: { connecting: { eq: 0 } } }
        capture: { final: url }
        record: { t_conn: timings.connecting }
      - http: { name: again, url: "${final}?again=1" }
        check: [ { name: went there, url: { matches: "/json\\\\?again=1$" } } ]
thresholds:
  "checks{my_tag:x}": ["rate==1"]
  "checks{my_tag:y}": ["rate>0.6", "rate<0.7"]
  "captures{capture:final}": ["rate==1"]
  "http_req_duration{name:direct}": ["max>=0"]
"""


class ExchangeChecksTest(VolleyCase):
    def run_exchange(self, client):
        env = {"VOLLEY_HTTP_CLIENT": client} if client else None
        rc, out, err, s = self.run_spec(EXCHANGE, env=env)
        self.assertEqual(rc, 0, out + err)
        return out, s

    def check_exchange(self, out, s):
        checks = {c["name"]: (c["passes"], c["fails"]) for c in s["root_group"]["checks"].values()}
        self.assertEqual(checks, {"h1": (4, 0), "asked url": (4, 0), "quick": (4, 0),
                                  "sizes": (4, 0), "landed": (4, 0), "not the first": (0, 4),
                                  "reused": (4, 0), "went there": (4, 0)})
        m = s["metrics"]
        # the step tags reached `checks`: x has 4 checks x 4, y 3 x 4 (one fails)
        self.assertEqual((m["checks{my_tag:x}"]["passes"], m["checks{my_tag:x}"]["fails"]), (16, 0))
        self.assertEqual((m["checks{my_tag:y}"]["passes"], m["checks{my_tag:y}"]["fails"]), (8, 4))
        self.assertEqual(m["captures"]["passes"], 4)
        self.assertEqual(m["captures{capture:final}"]["thresholds"], {"rate==1": False})
        # the records got the very values the http_req_* trends got for the
        # step (the only one of its name; no redirect on it)
        self.assertAlmostEqual(m["t_dur"]["max"], m["http_req_duration{name:direct}"]["max"], places=6)
        self.assertAlmostEqual(m["t_dur"]["min"], m["http_req_duration{name:direct}"]["min"], places=6)
        self.assertGreater(m["t_wait"]["max"], 0)
        self.assertLessEqual(m["t_wait"]["max"], m["t_dur"]["max"])
        # the last hop of a redirect reused the connection its hop before opened
        self.assertEqual(m["t_conn"]["max"], 0)
        # data_* count every hop: 4 x (direct + 3 hops + again); the records
        # only the direct step's, which answers the same bytes each time
        self.assertEqual(m["b_in"]["count"] % 4, 0)
        self.assertGreater(m["b_in"]["count"], 4 * 100)
        self.assertLess(m["b_in"]["count"], m["data_received"]["count"] / 3)
        self.assertGreater(m["b_out"]["count"], 4 * 20)
        self.assertLess(m["b_out"]["count"], m["data_sent"]["count"])
        # the failed url check says what the url was
        self.assertIn('url "%s/json" does not contain "redirect"' % NGINX, out)

    def test_fast_path(self):
        self.check_exchange(*self.run_exchange(None))

    def test_curl(self):
        out, s = self.run_exchange("curl")
        self.check_exchange(out, s)

    def test_no_response(self):
        """A request without a response has no timings and no protocol: such
        checks fail with the transport error, timing records record nothing;
        its bytes are known."""
        rc, out, err, s = self.run_spec("""
            version: 1
            metrics:
              t_wait: { type: trend, contains: time }
              b_out: { type: counter, contains: data }
            scenarios:
              main:
                executor: per-vu-iterations
                vus: 1
                iterations: 2
                flow:
                  - http: { url: "%s/x" }
                    check:
                      - { name: proto, proto: [HTTP/1.1, HTTP/2.0] }
                      - { name: timings, timings: { duration: { lt: 10s } } }
                      - { name: bytes, bytes: { received: { eq: 0 } } }
                    record: { t_wait: timings.waiting, b_out: bytes.sent }
            """ % DEAD)
        self.assertEqual(rc, 0, out + err)
        checks = {c["name"]: (c["passes"], c["fails"]) for c in s["root_group"]["checks"].values()}
        self.assertEqual(checks, {"proto": (0, 2), "timings": (0, 2), "bytes": (2, 0)})
        self.assertNotIn("t_wait", s["metrics"])
        self.assertEqual(s["metrics"]["b_out"]["count"], 0)
        self.assertIn("first failure: proto: no response: dial: connection refused", out)

    def test_load_errors(self):
        rc, out, err = self.volley("validate", self.write_spec("""
            version: 1
            metrics: { m: trend }
            scenarios:
              main:
                executor: per-vu-iterations
                flow:
                  - http: { url: "http://127.0.0.1:1/" }
                    check:
                      - { name: a, timings: { waiting: 200ms } }
                      - { name: b, timings: {} }
                      - { name: c, proto: http2 }
                      - { name: d, bytes: { received: { lt: -1 } } }
                      - { name: e, url: {} }
                      - { name: f, timings: { waitin: { lt: 1s } } }
                    record: { m: timings.wait }
            """))
        self.assertEqual(rc, 104, err)
        self.assertRegex(err, r"spec\.yaml:10:\d+: error: .*check\[0\]\.timings\.waiting: expected a mapping")
        self.assertIn("check[1].timings: timings: expected a limit, e.g. timings: { waiting: { lt: 200ms } }", err)
        self.assertIn('check[2].proto: proto: expected a protocol as k6 names it (HTTP/1.0, HTTP/1.1, '
                      'HTTP/2.0, HTTP/3.0), got "http2"', err)
        self.assertIn("check[3].bytes: bytes.received.lt: expected 0 or more", err)
        self.assertIn("check[4].url: url: expected at least one of equals, contains, matches", err)
        self.assertIn('check[5].timings: unknown key "waitin" (did you mean "waiting"?); valid keys: '
                      'blocked, connecting, tls_handshaking, sending, waiting, receiving, duration', err)
        self.assertIn('record.m: expected checks, checks_failed, duration, elapsed, status, timings.NAME '
                      '(blocked, connecting, tls_handshaking, sending, waiting, receiving, duration), '
                      'bytes.sent, bytes.received, a number, a ${...} template or { value, when, tags }, '
                      'got "timings.wait"', err)


@unittest.skipUnless(NGINX_CA and shutil.which("nginx"), "nginx and the test nginx's CA (ctest)")
class Http2Test(VolleyCase):
    """k6's examples/http_2.js: r.proto is HTTP/2.0 when the server chose it
    (ALPN), on a redirect's last hop too; HTTP/1.1 on the test nginx."""

    def setUp(self):
        super().setUp()
        tls = os.path.dirname(NGINX_CA)
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="h2-", dir=self.tmp)
        os.makedirs(os.path.join(self.dir, "logs"))
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""
error_log logs/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;
    uwsgi_temp_path tmp; scgi_temp_path tmp;
    server {
        listen 127.0.0.1:%d ssl http2;
        ssl_certificate %s/server.pem;
        ssl_certificate_key %s/server.key;
        location = /json { default_type application/json; return 200 '{"ok":true}'; }
        location = /redirect { return 302 /json; }
    }
}
""" % (self.port, tls, tls))
        subprocess.run(["nginx", "-p", self.dir + "/", "-c", conf, "-e", self.dir + "/logs/error.log",
                        "-g", "pid %s/nginx.pid; worker_processes 1;" % self.dir], check=True)
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

    def tearDown(self):
        with open(os.path.join(self.dir, "nginx.pid")) as f:
            os.kill(int(f.read().strip()), 15)

    def test_proto(self):
        for client in ("auto", "curl"):
            rc, out, err, s = self.run_spec("""
                version: 1
                defaults: { tls: { ca_file: "%s" } }
                scenarios:
                  main:
                    executor: per-vu-iterations
                    iterations: 2
                    flow:
                      - http: { url: "https://127.0.0.1:%d/redirect" }
                        check:
                          - { name: http2 is used, proto: HTTP/2.0 }
                          - { name: landed, url: "https://127.0.0.1:%d/json" }
                          - { name: handshake, timings: { tls_handshaking: { gte: 0 } } }
                      - http: { url: "%s/json" }
                        check: [ { name: not http2, proto: HTTP/2.0 } ]
                """ % (NGINX_CA, self.port, self.port, NGINX), env={"VOLLEY_HTTP_CLIENT": client})
            self.assertEqual(rc, 0, out + err)
            checks = {c["name"]: (c["passes"], c["fails"]) for c in s["root_group"]["checks"].values()}
            self.assertEqual(checks, {"http2 is used": (2, 0), "landed": (2, 0), "handshake": (2, 0),
                                      "not http2": (0, 2)}, client)
            self.assertIn("first failure: proto: proto HTTP/1.1 is not HTTP/2.0", out)


CAPTURES = """
version: 1
name: captures
scenarios:
  main:
    executor: per-vu-iterations
    vus: 1
    iterations: 3
    flow:
      - http: { url: "${env.NGINX}/json" }
        check: [ { name: ok, status: 200 } ]
        capture:
          id: json.id
          nope: json.not_there
thresholds:
  checks: ["rate==1.00"]
outputs:
  - junit: "%s/junit.xml"
  - json-out: "%s/raw.ndjson"
"""


class CapturesAreNotChecksTest(VolleyCase):
    """k6 parity: a ported `checks: rate==1.00` counts checks only; a
    capture that fails is reported on its own (and still honoured by
    on_check_fail)."""

    def test_reported_apart(self):
        sj = os.path.join(self.tmp, "sj.json")
        res = os.path.join(self.tmp, "r.ndjson")
        rc, out, err, s = self.run_spec(CAPTURES % (self.tmp, self.tmp), "--summary-json", sj, "--result", res)
        self.assertEqual(rc, 0, out + err)   # checks all passed
        self.assertEqual((s["metrics"]["checks"]["passes"], s["metrics"]["checks"]["fails"]), (3, 0))
        self.assertEqual((s["metrics"]["captures"]["passes"], s["metrics"]["captures"]["fails"]), (3, 3))
        self.assertEqual(list(s["root_group"]["checks"]), ["ok"])
        self.assertEqual(s["captures"], [
            {"name": "id", "group": "", "passes": 3, "fails": 0, "first_failure": None},
            {"name": "nope", "group": "", "passes": 0, "fails": 3,
             "first_failure": "json path not_there: missing"}])
        self.assertIn("     captures that failed\n     ✗ nope\n      ↳  0% — ✓ 0 / ✗ 3\n"
                      "         first failure: json path not_there: missing\n", out)
        self.assertNotIn("✓ id", out)   # captures that worked are not listed
        with open(sj) as f:
            j = json.load(f)
        self.assertEqual([c["name"] for c in j["root_group"]["checks"]], ["ok"])
        self.assertEqual([(c["name"], c["fails"]) for c in j["captures"]], [("id", 0), ("nope", 3)])
        # junit: the captures as testcases of their own
        root = ET.parse(os.path.join(self.tmp, "junit.xml")).getroot()
        cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
        self.assertIn(("captures.checks", "ok"), cases)
        self.assertIn(("captures.captures", "id"), cases)
        fail = cases[("captures.captures", "nope")].find("failure")
        self.assertEqual(fail.get("type"), "capture")
        self.assertIn("3 of 3 failed", fail.get("message"))
        self.assertEqual(root.get("failures"), "1")
        # the result file and the report
        with open(res) as f:
            end = [json.loads(l) for l in f if '"type": "end"' in l or '"type":"end"' in l][-1]
        self.assertEqual([c["name"] for c in end["checks"]], ["ok"])
        self.assertEqual([c["name"] for c in end["captures"]], ["id", "nope"])
        html = os.path.join(self.tmp, "r.html")
        rc, rout, rerr = self.volley("report", res, "-o", html)
        self.assertEqual(rc, 0, rout + rerr)
        with open(html) as f:
            page = f.read()
        self.assertIn('<section id="captures"><h2>Captures</h2>', page)
        self.assertIn('<tr class="capture-row v-fail"><td>-</td><td>nope</td>', page)
        self.assertNotIn("<td>capture nope</td>", page)
        # json-out's samples: `captures` tagged capture=NAME, no check tag;
        # the report made from them has the same table
        raw = self.read_ndjson(os.path.join(self.tmp, "raw.ndjson"))
        caps = [p["data"] for p in raw if p.get("type") == "Point" and p["metric"] == "captures"]
        self.assertEqual(sorted((c["tags"]["capture"], c["value"]) for c in caps),
                         [("id", 1)] * 3 + [("nope", 0)] * 3)
        self.assertFalse(any("check" in c["tags"] for c in caps))
        rc, rout, rerr = self.volley("report", os.path.join(self.tmp, "raw.ndjson"), "-o", html)
        self.assertEqual(rc, 0, rout + rerr)
        with open(html) as f:
            page = f.read()
        self.assertIn('<tr class="capture-row v-fail"><td>-</td><td>nope</td><td class="num">0</td>'
                      '<td class="num">3</td>', page)
        self.assertIn('<tr class="check-row v-pass"><td>-</td><td>ok</td>', page)

    def test_threshold_and_on_check_fail(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              main:
                executor: per-vu-iterations
                iterations: 2
                flow:
                  - http: { url: "${env.NGINX}/json" }
                    capture: { nope: json.not_there }
                    on_check_fail: stop_iteration
                  - http: { url: "${env.NGINX}/never" }
            thresholds:
              captures: ["rate==1"]
            """)
        self.assertEqual(rc, 99, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 2)   # stopped each iteration
        self.assertNotIn("checks", s["metrics"])


if __name__ == "__main__":
    unittest.main()
