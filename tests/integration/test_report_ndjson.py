"""volley report and volley compare on json-out's raw NDJSON, checked
against the result file (--result) of the same run.

One run of a two-scenario spec against the test nginx (2 workers) writes
its result file and four json-out streams at once: plain, gzip, filtered
(metrics: [http_req_duration]) and unordered (reorder_window: 0, so the
workers' batches interleave out of time order). Then:
- the page of the plain stream: requests per name and scenario equal the
  result's totals exactly, http_req_duration's p95 is within the histogram
  bound (0.4%) of the result's, the charts' data is there, and the page
  says it has no verdicts;
- the gzip stream reads as the plain one; the filtered one has the
  per-name percentiles and no request counts;
- the unordered stream: each point in the window of its own time (the
  windows' request counts equal a count by the points' own times), none
  counted late;
- a malformed line, a line of another type, a point before its Metric
  line: exit 104 and the line's number;
- the page in headless chromium (tests/report/check_report.mjs), as
  test_report.py does for a result file's."""
import datetime
import gzip
import json
import os
import re
import shutil
import subprocess
import unittest

from volleytest import SOURCE, VolleyCase

SPEC = """\
version: 1
name: ndjson-report
scenarios:
  api:
    executor: constant-vus
    vus: 3
    duration: 2s
    flow:
      - http: { name: home, url: "${env.NGINX}/fast" }
        check:
          - { name: status is 200, status: 200 }
      - http: { name: missing, url: "${env.NGINX}/notfound" }
      - sleep: 1ms
  other:
    executor: constant-vus
    vus: 2
    duration: 2s
    flow:
      - http: { name: lookup, url: "${env.NGINX}/delay10" }
thresholds:
  http_req_duration: ["p(95)<5000"]
  http_req_failed: ["rate<0.9"]
"""

NPM = os.environ.get("VOLLEY_NPM_DIR") or os.path.join(SOURCE, ".tools", "npm")
CHROMIUM = os.environ.get("VOLLEY_CHROMIUM", "/usr/bin/chromium")
NAMES = ("home", "missing", "lookup")


def point_ns(s):
    """An RFC 3339 time with nanoseconds (json-out's) as ns since the epoch."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", s)
    base = datetime.datetime.strptime(m.group(1) + (m.group(3).replace("Z", "+00:00")), "%Y-%m-%dT%H:%M:%S%z")
    frac = (m.group(2) or "").ljust(9, "0")[:9]
    return int(base.timestamp()) * 10**9 + int(frac)


def page_data(page):
    m = re.search(r'<script type="application/json" id="volley-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def group_rows(page):
    """The requests table: {label: [count, rate, failed %, p50, p95, p99]}."""
    rows = re.findall(r'<tr class="group-row"><td>([^<]*)</td>(.*?)</tr>', page)
    return {label: re.findall(r'<td class="num">([^<]*)</td>', cells) for label, cells in rows}


class ReportNdjsonTest(VolleyCase):
    @classmethod
    def setUpClass(cls):
        case = cls("test_counts_and_p95_match_the_result")
        case.setUp()
        cls.dir = d = case.tmp
        spec = case.write_spec(SPEC)
        cls.result = os.path.join(d, "r.ndjson")
        cls.plain = os.path.join(d, "x.ndjson")
        cls.gz = os.path.join(d, "x.ndjson.gz")
        cls.filtered = os.path.join(d, "f.ndjson")
        cls.unordered = os.path.join(d, "o.ndjson")
        rc, out, err = case.volley(
            "run", "--workers", "2", "--result", cls.result, "--out", "json-out=" + cls.plain,
            "--out", "json-out=" + cls.gz,
            "--out", "json-out={path: %s, metrics: [http_req_duration]}" % cls.filtered,
            "--out", "json-out={path: %s, reorder_window: 0}" % cls.unordered, spec)
        assert rc == 0, (rc, out, err)
        # Every sample reached every stream, else counts could not agree.
        written = re.findall(r"^\s*output json-out=.*: (\d+) samples sent to it, (\d+) dropped$", out, re.M)
        assert len(written) == 4 and all(x[1] == "0" for x in written), out
        lines = case.read_ndjson(cls.result)
        cls.meta, cls.end = lines[0], lines[-1]
        assert cls.end["type"] == "end"
        cls.ids = {s["key"]: str(s["id"]) for s in cls.meta["series"]}

    def total(self, key):
        return self.end["totals"][self.ids[key]]

    def report(self, src, name):
        path = os.path.join(self.tmp, name + ".html")
        rc, out, err = self.volley("report", src, "-o", path)
        self.assertEqual(rc, 0, err)
        with open(path, encoding="utf-8") as f:
            return path, f.read()

    def test_counts_and_p95_match_the_result(self):
        _, page = self.report(self.plain, "plain")
        rows = group_rows(page)
        labels = ["name: " + n for n in NAMES] + ["scenario: api", "scenario: other"]
        self.assertEqual(sorted(rows), sorted(labels))
        for label in labels:
            key = "http_reqs{%s}" % label.replace(": ", ":")
            self.assertEqual(int(rows[label][0]), self.total(key)["sum"], label)
        self.assertIn('<div class="tl">requests</div><div class="tv">%d</div>' % self.total("http_reqs")["sum"], page)
        # http_req_duration's p95 past the exact range (more than 4,096
        # values): from the histogram, as the run's.
        dur = self.total("http_req_duration")
        self.assertGreater(dur["n"], 4096)
        rc, out, err = self.volley("compare", self.plain, self.result, "--noise", "0")
        self.assertEqual(rc, 0, err)
        self.assertIn("verdict none (raw NDJSON)", out)
        for series in ("threshold: http_req_duration", "name: home", "name: lookup", "scenario: api"):
            m = re.search(r"^%s\s+p95\s+\S+\s+\S+\s+([-+]\d+\.\d)%%" % re.escape(series), out, re.M)
            self.assertTrue(m, (series, out))
            self.assertLessEqual(abs(float(m.group(1))), 0.4, (series, out))
            m = re.search(r"^%s\s+count\s+(\d+)\s+(\d+)\s" % re.escape(series), out, re.M)
            self.assertEqual(m.group(1), m.group(2), (series, out))
        self.assertNotIn("REGRESSION", out)
        # Failed requests: the 404s, per name and by status.
        failed = self.total("http_req_failed")
        self.assertEqual(failed["nz"], self.total("http_reqs{name:missing}")["sum"])
        data = page_data(page)
        self.assertTrue(data["raw"])
        by_key = {s["key"]: s for s in data["series"].values()}
        self.assertEqual(sum(by_key["http_reqs{status:404}"]["cols"]["sum"]), failed["nz"])
        self.assertEqual([data["series"][str(i)]["key"] for i in data["fail_by"]], ["http_reqs{status:404}"])
        # The charts' data: a window per second, percentiles in each.
        self.assertGreaterEqual(len(data["t0"]), 2)
        p95 = data["series"][str(data["roles"]["dur"])]["cols"]["p95"]
        self.assertTrue(all(v is not None and v > 0 for v in p95[:2]), p95)
        self.assertEqual(sum(data["series"][str(data["roles"]["reqs"])]["cols"]["sum"]), self.total("http_reqs")["sum"])
        self.assertEqual(len(data["groups"]), 5)
        self.assertTrue(all(v is None for v in data["runner"]["cpu_pct"]))
        self.assertEqual(max(v for v in data["runner"]["vus"] if v is not None), 5)
        # Checks from the check points; the page says what it cannot know.
        self.assertRegex(page, r'<td>status is 200</td><td class="num">%d</td><td class="num">0</td>'
                         % self.total("http_reqs{name:home}")["sum"])
        self.assertIn('id="raw-ndjson">From a raw NDJSON stream: no verdicts; write <code>--result</code> for them.',
                      page)
        self.assertIn('id="no-verdicts"', page)
        self.assertIn('no verdict (raw NDJSON)</span>', page)
        self.assertNotIn("th-row", page)
        self.assertNotIn("out of time order", page)

    def test_gzip_reads_as_plain(self):
        _, a = self.report(self.plain, "a")
        _, b = self.report(self.gz, "b")
        self.assertEqual(group_rows(a), group_rows(b))
        self.assertEqual(page_data(a)["series"], page_data(b)["series"])

    def test_filtered_stream(self):
        _, page = self.report(self.filtered, "filtered")
        data = page_data(page)
        self.assertEqual(sorted({s["metric"] for s in data["series"].values()}), ["http_req_duration"])
        self.assertEqual(data["roles"]["reqs"], -1)
        rows = group_rows(page)
        for name in NAMES:
            # No http_reqs: the count is the duration's; no failed %.
            self.assertEqual(int(rows["name: " + name][0]), self.total("http_reqs{name:%s}" % name)["sum"])
            self.assertEqual(rows["name: " + name][2], "-")
        self.assertIn("The stream has no check points.", page)
        self.assertNotIn('<div class="tl">requests</div>', page)

    def test_points_out_of_time_order(self):
        times, reqs = [], []
        with open(self.unordered) as f:
            for line in f:
                o = json.loads(line)
                if o["type"] == "Point":
                    t = point_ns(o["data"]["time"])
                    times.append(t)
                    if o["metric"] == "http_reqs":
                        reqs.append((t, o["data"]["value"]))
        late, newest = 0, times[0]
        for t in times:
            newest = max(newest, t)
            late = max(late, newest - t)
        self.assertGreater(late, 0, "the stream is in time order: nothing to test")
        self.assertLess(late, 10**9)
        first = times[0]
        want = {}
        for t, v in reqs:
            w = max(0, (t - first) // 10**9)
            want[w] = want.get(w, 0) + v
        _, page = self.report(self.unordered, "unordered")
        data = page_data(page)
        got = data["series"][str(data["roles"]["reqs"])]["cols"]["sum"]
        self.assertEqual(got, [want.get(w, 0) for w in range(len(got))])
        self.assertEqual(sum(got), self.total("http_reqs")["sum"])
        self.assertEqual(data["t0"], list(range(len(got))))
        self.assertNotIn("out of time order", page)

    def test_bad_lines(self):
        with open(self.plain) as f:
            head = [next(f) for _ in range(40)]
        cases = [
            (head[:20] + ['{"type":"Point","data":{"time":"2026-12-07T01:02:03Z","value":1\n'] + head[20:],
             ":21: not JSON"),
            (head[:30] + ['{"type":"Summary","data":{}}\n'] + head[30:],
             ':31: a line of type "Summary" (json-out\'s NDJSON has Metric and Point lines only)'),
            (head[:5] + ['{"type":"Point","data":{"time":"2026-12-07T01:02:03Z","value":1,"tags":{}},'
                         '"metric":"nope"}\n'] + head[5:],
             ':6: a Point of metric "nope" before its Metric line'),
        ]
        first = next(i for i, l in enumerate(head) if json.loads(l)["type"] == "Metric")
        metric = json.loads(head[first])["data"]["name"]
        cases.append((head[:first + 1] + ['{"type":"Point","data":{"time":"yesterday","value":1,"tags":{}},'
                                          '"metric":"%s"}\n' % metric],
                      ':%d: data.time "yesterday" is not an RFC 3339 time' % (first + 2)))
        for i, (lines, msg) in enumerate(cases):
            path = os.path.join(self.tmp, "bad%d.ndjson" % i)
            with open(path, "w") as f:
                f.writelines(lines)
            rc, out, err = self.volley("report", path)
            self.assertEqual(rc, 104, (msg, out, err))
            self.assertIn(path + msg, err)
            rc, out, err = self.volley("compare", self.result, path)
            self.assertEqual(rc, 104)
            self.assertIn(path + msg, err)
        # Neither a result file nor a stream.
        path = os.path.join(self.tmp, "other.ndjson")
        with open(path, "w") as f:
            f.write('{"type":"window"}\n')
        rc, out, err = self.volley("report", path)
        self.assertEqual(rc, 104)
        self.assertIn(":1: not a volley result file nor json-out's NDJSON", err)

    def test_page_in_a_browser(self):
        node = shutil.which("node")
        missing = [what for what, ok in (("node", node), ("chromium (" + CHROMIUM + ")", os.path.exists(CHROMIUM)),
                                         ("puppeteer-core in " + NPM, os.path.exists(
                                             os.path.join(NPM, "node_modules", "puppeteer-core", "package.json"))))
                   if not ok]
        if missing:
            msg = "missing " + ", ".join(missing) + " (tools/setup installs them)"
            if os.environ.get("VOLLEY_REQUIRE_AJV") == "1":
                self.fail(msg + "; VOLLEY_REQUIRE_AJV=1 requires them")
            self.skipTest(msg)
        path, _ = self.report(self.gz, "browser")
        expect = {
            "thresholds": 0,
            "charts_min": 7,
            "group_charts": 5,   # names home, missing, lookup; scenarios api, other
            "texts": ["From a raw NDJSON stream: no verdicts", "status is 200", "not in a raw NDJSON stream"],
            "cells": {"#verdict": "no verdict (raw NDJSON)"},
        }
        with open(os.path.join(self.tmp, "expect.json"), "w") as f:
            json.dump(expect, f)
        shot = os.path.join(self.tmp, "report-ndjson.png")
        p = subprocess.run([node, os.path.join(SOURCE, "tests", "report", "check_report.mjs"), path, shot,
                            os.path.join(self.tmp, "expect.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60, env=dict(os.environ, VOLLEY_NPM_DIR=NPM))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        seen = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertTrue(seen["ok"], seen)
        self.assertGreater(os.path.getsize(shot), 10000)
        art = os.environ.get("VOLLEY_ARTIFACTS")
        if art:
            os.makedirs(art, exist_ok=True)
            shutil.copy(shot, os.path.join(art, "report-ndjson.png"))


if __name__ == "__main__":
    unittest.main()
