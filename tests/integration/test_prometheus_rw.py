"""The prometheus-rw output (plugins/prometheus-rw) through the real binary
against the test nginx, pushing to a real Prometheus (Debian's
/usr/bin/prometheus, started here on a free loopback port with
--web.enable-remote-write-receiver, a temporary storage folder and no
scrapes): what Prometheus's query API then answers equals the summary
export's numbers, under k6's names and with every tag a label. Also: a
dead receiver never fails or slows the run and its losses are in the
summary; a 503 is retried (a small Python receiver); SIGINT still makes
the last push; bad options are load errors at their place. With
segments, three instances push to one Prometheus, each under its
`instance` label, and PromQL sums over them equal `volley merge`'s
export of their results."""
import base64
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

from volleytest import NGINX, VOLLEY, LoopbackHttpServer, VolleyCase

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
HAVE_PROM = os.access(PROMETHEUS, os.X_OK)
PLUGIN_DIR = os.environ.get("VOLLEY_PLUGIN_DIR", "build/plugins")
HAVE_PLUGIN = os.path.exists(os.path.join(PLUGIN_DIR, "volley-prometheus-rw.so"))
NO_PLUGIN = "volley-prometheus-rw.so was not built (libsnappy-dev, libprotobuf-c-dev, protobuf-c-compiler: tools/setup)"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A Prometheus of its own for the tests: loopback, temporary storage."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "prometheus")
        os.makedirs(self.dir)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")   # no scrape_configs: nothing scraped
        for _ in range(3):   # a port taken between free_port() and the bind: another
            self.port = free_port()
            self.url = "http://127.0.0.1:%d" % self.port
            self.log = open(os.path.join(self.dir, "log"), "w")
            self.proc = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port, "--web.enable-remote-write-receiver",
                 "--enable-feature=native-histograms"],
                stdout=self.log, stderr=subprocess.STDOUT)
            deadline = time.time() + 15
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                        if r.status == 200:
                            return
                except OSError:
                    time.sleep(0.1)
            self.stop()
        raise RuntimeError("prometheus did not start; see " + self.log.name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def query(self, q):
        """[(labels, value)] of an instant query; a native histogram's value
        is Prometheus' JSON of it (count, sum, buckets)."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(url, timeout=5) as r:
            data = json.load(r)
        assert data["status"] == "success", data
        return [(x["metric"], float(x["value"][1]) if "value" in x else x["histogram"][1])
                for x in data["data"]["result"]]


SPEC = """
version: 1
name: prw
services:
  web: { url: "${env.NGINX}" }
scenarios:
  main:
    executor: constant-arrival-rate
    rate: 40
    duration: %(duration)s
    pre_allocated_vus: 4
    flow:
      - http: { name: fast, url: "${services.web}/fast" }
        check: { name: fast ok, status: 200 }
      - http: { name: boom, url: "${services.web}/error500" }
        check: { name: boom ok, status: 200 }
thresholds:
  "http_req_duration{name:fast}": ["p(95)<5000"]
outputs:
  - prometheus-rw: %(output)s
"""

SEG_SPEC = """
version: 1
name: prw-segments
scenarios:
  pass:
    executor: shared-iterations
    vus: 4
    iterations: 301
    flow:
      - http: { name: pass, url: "${env.NGINX}/fast" }
        check: { name: ok, status: 200 }
  fail:
    executor: per-vu-iterations
    vus: 3
    iterations: 10
    flow:
      - http: { name: fail, url: "${env.NGINX}/error500" }
        check: { name: ok, status: 200 }
outputs:
  - prometheus-rw: { url: "%s/api/v1/write", push_interval: 500ms, rate_counts: true,
                     trend_stats: [count, "p(95)"] }
"""


@unittest.skipUnless(HAVE_PLUGIN, NO_PLUGIN)
@unittest.skipUnless(HAVE_PROM, "prometheus is not installed (tools/setup installs it)")
class PrometheusRwTest(VolleyCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        base = os.environ.get("VOLLEY_TEST_TMP")
        if base:
            os.makedirs(base, exist_ok=True)
        cls.ptmp = tempfile.mkdtemp(prefix="prw-", dir=base)
        cls.prom = Prometheus(cls.ptmp)

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()
        shutil.rmtree(cls.ptmp, ignore_errors=True)

    def series(self, q):
        got = self.prom.query(q)
        self.assertTrue(got, "no series for " + q)
        return got

    def test_queried_totals_equal_the_summary(self):
        out_opts = ('{ url: "%s/api/v1/write", push_interval: 500ms, trend_stats: ["p(99)", max, count, '
                    '"p(99.9)"] }' % self.prom.url)
        rc, out, err, s = self.run_spec(SPEC % {"duration": "2s", "output": out_opts},
                                        "--tag", "testcase=totals", timeout=60)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("WARNING: prometheus-rw", out)
        m = s["metrics"]
        sel = '{testcase="totals"}'
        # counters: cumulative, _total
        reqs = self.series("sum(k6_http_reqs_total%s)" % sel)
        self.assertEqual(reqs[0][1], m["http_reqs"]["count"])
        self.assertEqual(self.series("sum(k6_iterations_total%s)" % sel)[0][1], m["iterations"]["count"])
        # every tag a label (sorted, empty ones such as group left out)
        fast = self.series('k6_http_reqs_total{testcase="totals",name="fast"}')
        self.assertEqual(len(fast), 1)
        labels, value = fast[0]
        self.assertEqual(labels, {"__name__": "k6_http_reqs_total", "scenario": "main", "name": "fast",
                                  "status": "200", "method": "GET", "url": NGINX + "/fast",
                                  "expected_response": "true", "testcase": "totals"})
        boom = self.series('k6_http_reqs_total{testcase="totals",name="boom"}')
        self.assertEqual(boom[0][0]["status"], "500")
        self.assertEqual(value + boom[0][1], m["http_reqs"]["count"])
        # rates: _rate, each check's as the summary's
        checks = s["root_group"]["checks"]
        for name in ("fast ok", "boom ok"):
            c = checks[name]
            got = self.series('k6_checks_rate{testcase="totals",check="%s"}' % name)
            self.assertEqual(got[0][0]["scenario"], "main")
            self.assertAlmostEqual(got[0][1], c["passes"] / (c["passes"] + c["fails"]), places=9)
        failed = self.series('k6_http_req_failed_rate{testcase="totals",name="boom"}')
        self.assertEqual(failed[0][1], 1.0)
        # trends: one gauge per stat, times in seconds
        dur = m["http_req_duration"]
        top = self.series("max(k6_http_req_duration_max%s)" % sel)[0][1]
        self.assertAlmostEqual(top, dur["max"] / 1000.0, places=9)
        self.assertEqual(self.series("sum(k6_http_req_duration_count%s)" % sel)[0][1], m["http_reqs"]["count"])
        p99 = self.series('k6_http_req_duration_p99{testcase="totals",name="fast"}')[0][1]
        p999 = self.series('k6_http_req_duration_p999{testcase="totals",name="fast"}')[0][1]
        fast_max = self.series('k6_http_req_duration_max{testcase="totals",name="fast"}')[0][1]
        self.assertGreater(p99, 0)
        self.assertLessEqual(p99, p999)
        self.assertLessEqual(p999, fast_max)
        self.assertLess(fast_max, 1.0, "seconds, not milliseconds")
        # a gauge as it is
        self.assertEqual(self.series('k6_vus_max%s' % sel)[0][1], m["vus_max"]["value"])
        # a trend's p99 of one series equals the summary's within the histogram bound
        rc, out, err, s1 = self.run_spec(
            SPEC.replace("      - http: { name: boom, url: \"${services.web}/error500\" }\n"
                         "        check: { name: boom ok, status: 200 }\n", "")
            % {"duration": "1s", "output": out_opts},
            "--tag", "testcase=p99", "--summary-trend-stats", "p(99),max", timeout=60)
        self.assertEqual(rc, 0, out + err)
        want = s1["metrics"]["http_req_duration"]["p(99)"] / 1000.0
        got = self.series('k6_http_req_duration_p99{testcase="p99"}')[0][1]
        self.assertAlmostEqual(got, want, delta=want * 0.01 + 2e-6)

    def test_segments_sum_to_the_merged_result(self):
        # Scenario "pass" splits its VUs 2:1:1 and "fail" 1:1:1, so the
        # instances' check rates differ and only counts add up: the merged
        # rate is sum(passes) / sum(passes + fails), never an average of rates.
        spec = self.write_spec(SEG_SPEC % self.prom.url)
        procs, results = [], []
        for i, seg in enumerate(["0:1/3", "1/3:2/3", "2/3:1"]):
            res = os.path.join(self.tmp, "result-%d.ndjson" % i)
            results.append(res)
            procs.append(subprocess.Popen(
                [VOLLEY, "run", "-q", "--execution-segment", seg, "--execution-segment-sequence", "0,1/3,2/3,1",
                 "--tag", "testcase=segments", "--result", res,
                 "--summary-export", os.path.join(self.tmp, "summary-%d.json" % i), spec],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, NGINX=NGINX)))
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, out + err)
            self.assertNotIn("WARNING: prometheus-rw", out)
        export = os.path.join(self.tmp, "merged.json")
        rc, out, err = self.volley("merge", "--summary-export", export, *results)
        self.assertEqual(rc, 0, out + err)
        with open(export) as f:
            m = json.load(f)["metrics"]
        sel = '{testcase="segments"}'
        self.assertEqual(self.series("sum(k6_http_reqs_total%s)" % sel)[0][1], m["http_reqs"]["count"])
        self.assertEqual(m["http_reqs"]["count"], 301 + 3 * 10)
        self.assertEqual(self.series("sum(k6_iterations_total%s)" % sel)[0][1], m["iterations"]["count"])
        self.assertEqual(self.series("sum(k6_http_req_duration_count%s)" % sel)[0][1],
                         m["http_req_duration"]["count"] if "count" in m["http_req_duration"]
                         else m["http_reqs"]["count"])
        # exactly three instances, labelled by their place in the sequence
        per = self.series("count by (instance) (sum by (instance) (k6_iterations_total%s))" % sel)
        self.assertEqual(sorted(l["instance"] for l, _ in per), ["0", "1", "2"])
        # checks: the counters add up; their ratio is the merged rate
        passes = self.series("sum(k6_checks_passes_total%s)" % sel)[0][1]
        fails = self.series("sum(k6_checks_fails_total%s)" % sel)[0][1]
        self.assertEqual((passes, fails), (m["checks"]["passes"], m["checks"]["fails"]))
        rate = self.series("sum(k6_checks_passes_total%s) / (sum(k6_checks_passes_total%s) + "
                           "sum(k6_checks_fails_total%s))" % (sel, sel, sel))[0][1]
        self.assertEqual(rate, 301 / 331)
        self.assertAlmostEqual(rate, m["checks"]["value"], places=14)   # the export prints 15 digits
        # ...while the average of the instances' rates (a dashboard's avg()) is not it
        rates = self.series("sum by (instance) (k6_checks_passes_total%s) / (sum by (instance) "
                            "(k6_checks_passes_total%s) + sum by (instance) (k6_checks_fails_total%s))"
                            % (sel, sel, sel))
        self.assertNotAlmostEqual(sum(v for _, v in rates) / 3, rate, places=3)
        # a series of instance 1 carries instance="1" and holds instance 1's own count
        one = self.series('k6_http_reqs_total{testcase="segments",instance="1",name="pass"}')
        self.assertEqual(len(one), 1)
        self.assertEqual(one[0][0]["instance"], "1")
        self.assertEqual(one[0][0]["scenario"], "pass")
        with open(os.path.join(self.tmp, "summary-1.json")) as f:
            own = json.load(f)["metrics"]
        self.assertEqual(self.series('sum(k6_http_reqs_total{testcase="segments",instance="1"})')[0][1],
                         own["http_reqs"]["count"])
        self.assertEqual(one[0][1], 75)   # 301 iterations over 4 VUs striped 2:1:1
        # the k6-named ratio is there too, per instance and check
        ratio = self.series('k6_checks_rate{testcase="segments",instance="1",scenario="pass"}')
        self.assertEqual(ratio[0][1], 1.0)

    def test_native_histograms(self):
        out_opts = '{ url: "%s/api/v1/write", push_interval: 500ms, trend_as_native_histogram: true }' % self.prom.url
        rc, out, err, s = self.run_spec(SPEC % {"duration": "2s", "output": out_opts}, "--tag", "testcase=native",
                                        "--summary-trend-stats", "avg,p(95),max,count", timeout=60)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("WARNING: prometheus-rw", out)
        m = s["metrics"]
        dur = m["http_req_duration"]
        h = 'sum(k6_http_req_duration_seconds{testcase="native"})'
        self.assertEqual(self.series("histogram_count(%s)" % h)[0][1], dur["count"])
        self.assertEqual(dur["count"], m["http_reqs"]["count"])
        total = self.series("histogram_sum(%s)" % h)[0][1]
        self.assertAlmostEqual(total, dur["avg"] * dur["count"] / 1000.0, delta=total * 1e-6)
        # the p95 lies in the bucket of the summary's p95 or a neighbour
        # (the two rank the values a little apart): buckets 2^(1/8) wide
        want = dur["p(95)"] / 1000.0
        got = self.series("histogram_quantile(0.95, %s)" % h)[0][1]
        bucket = lambda v: math.ceil(math.log2(v) * 8 - 1e-9)
        self.assertLessEqual(abs(bucket(got) - bucket(want)), 1, (got, want))
        self.assertLessEqual(got, 2 ** (1 / 8) * dur["max"] / 1000.0)
        # one series per tag set, named with the unit; no trend_stats gauges
        fast = self.series('k6_http_req_duration_seconds{testcase="native",name="fast"}')
        self.assertEqual(fast[0][0]["status"], "200")
        self.assertEqual(float(fast[0][1]["count"]), self.series(
            'sum(k6_http_reqs_total{testcase="native",name="fast"})')[0][1])
        self.assertEqual(self.prom.query('k6_http_req_duration_p99{testcase="native"}'), [])
        # a data trend would be _bytes; counters and rates as before
        self.assertEqual(self.series('sum(k6_http_reqs_total{testcase="native"})')[0][1], m["http_reqs"]["count"])

    def test_sigint_still_pushes_the_end(self):
        # push_interval 1h: the one push is the last one, made by close()
        out_opts = '{ url: "%s/api/v1/write", push_interval: 1h }' % self.prom.url
        spec = self.write_spec(SPEC % {"duration": "60s", "output": out_opts})
        summary = os.path.join(self.tmp, "summary.json")
        p = subprocess.Popen([VOLLEY, "run", "-q", "--summary-export", summary, "--tag", "testcase=sigint",
                              spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, NGINX=NGINX))
        time.sleep(1.5)
        t0 = time.time()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertLess(time.time() - t0, 10)
        self.assertEqual(p.returncode, 105, out + err)
        with open(summary) as f:
            m = json.load(f)["metrics"]
        got = self.series('sum(k6_http_reqs_total{testcase="sigint"})')[0][1]
        self.assertEqual(got, m["http_reqs"]["count"])
        self.assertGreater(got, 20)

    def test_dead_receiver_costs_the_run_nothing(self):
        port = free_port()   # closed again: connections are refused
        out_opts = ('{ url: "http://127.0.0.1:%d/api/v1/write", push_interval: 200ms, timeout: 1s, '
                    'max_queue: 2, max_retries: 5, retry_backoff: 300ms }' % port)
        t0 = time.time()
        rc, out, err, s = self.run_spec(SPEC % {"duration": "2s", "output": out_opts}, timeout=60)
        took = time.time() - t0
        self.assertEqual(rc, 0, out + err)
        self.assertLess(took, 8, "2s of load and at most 1s of flushing")
        # the load as planned: 40/s for 2s, none dropped
        self.assertEqual(s["metrics"]["iterations"]["count"], 80)
        self.assertNotIn("dropped_iterations", s["metrics"])
        self.assertIn("prometheus-rw: push to http://127.0.0.1:%d/api/v1/write failed" % port, err)
        self.assertIn("WARNING: prometheus-rw: push to http://127.0.0.1:%d/api/v1/write failed" % port, out)
        line = [l for l in out.splitlines() if "WARNING: prometheus-rw:" in l and "pushes to" in l]
        self.assertEqual(len(line), 1, out)
        import re
        g = re.search(r"(\d+) of (\d+) pushes to \S+ failed, (\d+) dropped \(queue full\), (\d+) retries; "
                      r"(\d+) time series lost; 0 of (\d+) samples delivered, (\d+) lost; first error: (.*)",
                      line[0])
        self.assertIsNotNone(g, line[0])
        failed, made, dropped, retries, lost = (int(g.group(i)) for i in range(1, 6))
        self.assertGreaterEqual(made, 8)      # every 200 ms, and the last one
        self.assertEqual(failed + dropped, made)
        self.assertGreater(dropped, 0)
        self.assertGreater(retries, 0)
        self.assertGreater(lost, 0)
        self.assertRegex(g.group(8), r"(?i)connect|refused")
        # every sample volley handed it is counted lost, none delivered
        handed = int(re.search(r"output prometheus-rw: (\d+) samples sent to it", out).group(1))
        self.assertGreater(handed, 100)
        self.assertEqual((int(g.group(6)), int(g.group(7))), (handed, handed))

    def test_503_is_retried(self):
        class Receiver(LoopbackHttpServer):
            def __init__(self):
                import http.server
                import threading
                rec = self
                self.requests = []
                self.lock = threading.Lock()

                class Handler(http.server.BaseHTTPRequestHandler):
                    protocol_version = "HTTP/1.1"

                    def log_message(self, *a):
                        pass

                    def do_POST(self):
                        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                        with rec.lock:
                            rec.requests.append((dict(self.headers), body))
                            first = len(rec.requests) == 1
                        self.send_response(503 if first else 204)
                        reply = b"busy" if first else b""
                        self.send_header("Content-Length", str(len(reply)))
                        self.end_headers()
                        self.wfile.write(reply)

                self.serve(Handler)

        r = Receiver()
        try:
            out_opts = ('{ url: "%s/api/v1/write", push_interval: 300ms, retry_backoff: 50ms, '
                        'headers: { X-Scope-OrgID: tenant-1 }, bearer_token: s3cret }' % r.url)
            rc, out, err, s = self.run_spec(SPEC % {"duration": "1s", "output": out_opts}, timeout=60)
        finally:
            r.stop()
        self.assertEqual(rc, 0, out + err)
        reqs = r.taken()
        self.assertGreaterEqual(len(reqs), 3, out + err)
        (h0, b0), (h1, b1) = reqs[0], reqs[1]
        self.assertEqual(b0, b1, "the batch the 503 refused is sent again")
        self.assertGreater(len(b0), 20)
        for h, _ in reqs:
            self.assertEqual(h["Content-Encoding"], "snappy")
            self.assertEqual(h["Content-Type"], "application/x-protobuf")
            self.assertEqual(h["X-Prometheus-Remote-Write-Version"], "0.1.0")
            self.assertEqual(h["X-Scope-OrgID"], "tenant-1")
            self.assertEqual(h["Authorization"], "Bearer s3cret")
        import re
        handed = int(re.search(r"output prometheus-rw: (\d+) samples sent to it", out).group(1))
        self.assertRegex(out, r"WARNING: prometheus-rw: 0 of %d pushes to \S+ failed, 0 dropped \(queue full\), "
                              r"1 retries; 0 time series lost; %d of %d samples delivered, 0 lost; "
                              r"first error: HTTP 503: busy" % (len(reqs) - 1, handed, handed))

    def test_username_alone_is_an_empty_password(self):
        """As k6's output (and curl): a username without a password sends
        basic auth with an empty password."""
        class Receiver(LoopbackHttpServer):
            def __init__(self):
                import http.server
                rec = self
                self.auth = []

                class Handler(http.server.BaseHTTPRequestHandler):
                    protocol_version = "HTTP/1.1"

                    def log_message(self, *a):
                        pass

                    def do_POST(self):
                        self.rfile.read(int(self.headers.get("Content-Length") or 0))
                        rec.auth.append(self.headers.get("Authorization"))
                        self.send_response(204)
                        self.send_header("Content-Length", "0")
                        self.end_headers()

                self.serve(Handler)

        r = Receiver()
        try:
            out_opts = '{ url: "%s/api/v1/write", username: loader }' % r.url
            rc, out, err, s = self.run_spec(SPEC % {"duration": "1s", "output": out_opts}, timeout=60)
        finally:
            r.stop()
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(r.auth, out + err)
        want = "Basic " + base64.b64encode(b"loader:").decode()
        self.assertEqual(set(r.auth), {want})

    def test_bad_options_are_load_errors_at_their_place(self):
        cases = [
            ('{ url: "ftp://x/api/v1/write" }', r"url: expected an http:// or https:// URL"),
            ('{ trend_stats: ["p(99)", "p(101)"] }', r'trend_stats: invalid percentile "p\(101\)"'),
            ('{ trend_stats: [p99] }', r'trend_stats: unknown stat "p99"'),
            ("{ push_interval: 10ms }", r"push_interval: expected a duration between"),
            ("{ push_interval: soon }", r"push_interval"),
            ("{ prefix: 9lives_ }", r"prefix: \"9lives_\" is not the start"),
            ("{ retry_backoff: 1m }", r"retry_backoff: .*30"),
        ]
        for opts, want in cases:
            with self.subTest(opts=opts):
                spec = self.write_spec(SPEC % {"duration": "1s", "output": opts})
                rc, out, err = self.volley("validate", spec)
                self.assertEqual(rc, 104, out + err)
                self.assertRegex(err, r"%s:2\d:\d+: error: .*%s" % (os.path.basename(spec), want))
        # the command line's shorthand is the url
        spec = self.write_spec(SPEC.replace("outputs:\n  - prometheus-rw: %(output)s\n", "")
                               % {"duration": "1s"})
        rc, out, err = self.volley("validate", "-o", "prometheus-rw=localhost:9090", spec)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("url: expected an http:// or https:// URL", err)


if __name__ == "__main__":
    unittest.main()
