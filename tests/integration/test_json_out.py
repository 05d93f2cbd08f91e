"""json-out's options in real runs against the test nginx: filters keep
exactly the lines of an unfiltered output of the same run, drop_tags only
removes tags, a .gz path writes gzip that decompresses to the same lines
(and a SIGKILLed run leaves a readable prefix), lines of a 2-worker run are
in time order, and bad options are errors at their place in the spec."""
import gzip
import os
import re
import signal
import subprocess
import time
import unittest
import zlib
from datetime import datetime

from volleytest import NGINX, VOLLEY, VolleyCase

# Two named requests, one failing with 404, so filters have something to tell apart.
TWO_STEPS = """
version: 1
scenarios:
  s:
    executor: per-vu-iterations
    vus: 3
    iterations: 20
    flow:
      - http: { name: login, url: "${env.NGINX}/fast" }
        check: [ { name: ok, status: 200 } ]
      - http: { name: home, url: "${env.NGINX}/notfound?x=1" }
        check: [ { name: found, status: 200 } ]
outputs:
  - json-out: { path: "%(dir)s/all.ndjson" }
  - json-out:
      path: "%(dir)s/some.ndjson"
      metrics: [http_req_duration, checks, http_reqs]
      tags: { name: login, status: 200 }
  - json-out: { path: "%(dir)s/nourl.ndjson", drop_tags: [url] }
  - json-out: { path: "%(dir)s/all.ndjson.gz" }
"""


def points(lines):
    return [o for o in lines if o["type"] == "Point"]


def unix_ns(t):
    """RFC 3339 with nanoseconds and an offset, as unix nanoseconds."""
    m = re.match(r"(.*T\d\d:\d\d:\d\d)\.(\d{9})([+-]\d\d:\d\d)$", t)
    base = datetime.strptime(m.group(1) + m.group(3), "%Y-%m-%dT%H:%M:%S%z")
    return int(base.timestamp()) * 10**9 + int(m.group(2))


def out_of_order(lines):
    """Point lines whose time is before the previous Point line's."""
    prev, n = None, 0
    for o in points(lines):
        t = unix_ns(o["data"]["time"])
        if prev is not None and t < prev:
            n += 1
        prev = t
    return n


class JsonOutTest(VolleyCase):
    def test_filters_keep_exactly_the_matching_lines(self):
        spec = self.write_spec(TWO_STEPS % {"dir": self.tmp})
        rc, out, err = self.volley("run", "-q", spec)
        self.assertEqual(rc, 0, out + err)
        every = self.read_ndjson(os.path.join(self.tmp, "all.ndjson"))
        some = self.read_ndjson(os.path.join(self.tmp, "some.ndjson"))
        keep = {"http_req_duration", "checks", "http_reqs"}

        def matches(o):
            tags = o["data"]["tags"]
            return o["metric"] in keep and tags.get("name") == "login" and tags.get("status") == "200"
        want = [o for o in points(every) if matches(o)]
        # 60 logins, each an http_req_duration and an http_reqs line; the
        # checks lines carry no status tag, so none of them match.
        self.assertEqual(len(want), 120)
        self.assertEqual(points(some), want)
        self.assertEqual(sorted(o["metric"] for o in some if o["type"] == "Metric"),
                         ["http_req_duration", "http_reqs"])
        self.assertEqual(len(points(every)) - len(want) > 500, True)

        # drop_tags: every line, the url tag gone and nothing else changed.
        nourl = self.read_ndjson(os.path.join(self.tmp, "nourl.ndjson"))
        self.assertEqual(len(nourl), len(every))
        for a, b in zip(points(every), points(nourl)):
            a["data"]["tags"].pop("url", None)
            self.assertEqual(a, b)
        self.assertLess(os.path.getsize(os.path.join(self.tmp, "nourl.ndjson")),
                        os.path.getsize(os.path.join(self.tmp, "all.ndjson")) * 0.9)

        # gzip: the same bytes as the plain file of the same run.
        with gzip.open(os.path.join(self.tmp, "all.ndjson.gz"), "rb") as f:
            unzipped = f.read()
        with open(os.path.join(self.tmp, "all.ndjson"), "rb") as f:
            self.assertEqual(unzipped, f.read())
        self.assertLess(os.path.getsize(os.path.join(self.tmp, "all.ndjson.gz")) * 5, len(unzipped))

    def test_sigkill_leaves_a_readable_gzip_prefix(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              long:
                executor: constant-vus
                vus: 4
                duration: 60s
                flow:
                  - http: { url: "${env.NGINX}/fast" }
                  - sleep: 1ms
            """)
        gz = os.path.join(self.tmp, "r.ndjson.gz")
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", "-q", "--out", "json-out=" + gz, spec],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(3)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        with open(gz, "rb") as f:
            data = f.read()
        with self.assertRaises(EOFError):     # no gzip trailer: the run was killed
            with gzip.open(gz, "rb") as f:
                f.read()
        text = zlib.decompressobj(31).decompress(data)
        lines = text.split(b"\n")
        whole = lines[:-1]       # the last one may be cut
        self.assertGreater(len(whole), 1000)
        import json
        parsed = [json.loads(line) for line in whole]
        reqs = [o for o in parsed if o["type"] == "Point" and o["metric"] == "http_reqs"]
        self.assertGreater(len(reqs), 100)
        # Within one flush period (200 ms) and the reorder window (1 s) of the kill.
        last = unix_ns(points(parsed)[-1]["data"]["time"])
        first = unix_ns(points(parsed)[0]["data"]["time"])
        self.assertGreater(last - first, 1.0e9)

    def test_lines_of_two_workers_are_in_time_order(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              open:
                executor: constant-arrival-rate
                rate: 2000
                duration: 3s
                pre_allocated_vus: 50
                flow:
                  - http: { url: "${env.NGINX}/fast" }
            outputs:
              - json-out: "%(dir)s/ordered.ndjson"
              - json-out: { path: "%(dir)s/raw.ndjson", reorder_window: 0 }
            """ % {"dir": self.tmp})
        rc, out, err = self.volley("run", "-q", "--workers", "2", spec)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("out of time order", err)
        ordered = self.read_ndjson(os.path.join(self.tmp, "ordered.ndjson"))
        raw = self.read_ndjson(os.path.join(self.tmp, "raw.ndjson"))
        self.assertGreater(len(points(ordered)), 5000)
        self.assertEqual(out_of_order(ordered), 0)
        # The same samples; as they came, the two workers' batches overlap.
        self.assertGreater(out_of_order(raw), 0)
        key = lambda o: (o["data"]["time"], o["metric"], o["data"]["value"])
        self.assertEqual(sorted(map(key, points(ordered))), sorted(map(key, points(raw))))

    def test_bad_options_are_errors_at_their_place(self):
        base = """
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            outputs:
              - json-out:
                  path: x.ndjson
                  %s
            """
        # After dedent the option is on line 10 at column 7, its value after
        # "KEY: "; json-out's mapping (where config_check's errors go)
        # starts on line 9, column 7.
        cases = [
            ("compress: zip", r":10:17: error: outputs\[0\]\.json-out\.compress: unknown value \"zip\"; "
                              r"expected one of: none, gzip"),
            ("reorder_window: 2m",
             r":10:23: error: outputs\[0\]\.json-out\.reorder_window: expected a duration between 0s and 60s"),
            ("tags: [name]", r":10:13: error: outputs\[0\]\.json-out\.tags: expected a mapping"),
            ('metrics: ["http_req_duration{name:a}"]',
             r":9:7: error: outputs\[0\]\.json-out: metrics\[0\]: \"http_req_duration\{name:a\}\" is not a "
             r"metric name: name the metric alone and select samples by tag with tags:"),
            ("drop_tags: [url, '']", r":9:7: error: outputs\[0\]\.json-out: drop_tags\[1\]: a tag name must not be empty"),
            ('tags: { name: "${vu.id}" }', r":\d+:\d+: error: .*vu\.id"),
        ]
        for i, (line, want) in enumerate(cases):
            spec = self.write_spec(base % line, "bad%d.yaml" % i)
            rc, out, err = self.volley("validate", spec)
            self.assertEqual(rc, 104, line + ": " + err)
            self.assertRegex(err, re.escape(spec) + want, line)

    def test_unknown_metric_name_warns_and_matches_nothing(self):
        out_path = os.path.join(self.tmp, "f.ndjson")
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                iterations: 3
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            outputs:
              - json-out: { path: "%s", metrics: [http_req_duraton, http_reqs] }
            """ % out_path)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 0, err)       # not known at load time
        rc, out, err = self.volley("run", "-q", spec)
        self.assertEqual(rc, 0, err)
        self.assertIn('json-out: metrics: "http_req_duraton" is no metric of this run: it matches nothing',
                      err)
        self.assertNotIn('"http_reqs" is no metric', err)
        lines = self.read_ndjson(out_path)
        self.assertEqual([o["metric"] for o in points(lines)], ["http_reqs"] * 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)
