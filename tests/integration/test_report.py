"""volley report and volley compare on real runs against the test nginx.

Three runs of one spec with --result (two scenarios, so the result has
per-scenario breakdowns, and a threshold on one request name): `base` and
`same` GET /delay10 in both scenarios; `slow` sends scenario `other` to
/delay100 instead, a regression of ~90 ms at p95 while scenario `api` is
unchanged. Both scenarios wait for nginx's 10 ms timer, not for the CPU,
so a busy machine (an ASan build, other tests) moves their p95 by far less
than the 20% and 1 ms a flag needs. Then:
- the page of a run: a row per threshold with the end line's verdict and
  what it read, the numbers of the end line (requests, p95);
- volley compare: the regression flagged, the unchanged scenario not;
  --fail-on-regression 20 exits 99 on base/slow and 0 on base/same;
- volley compare on two runs of one build mixing /fast and /delay10 (1,000
  requests per name; QA's case, where a bimodal median and the p99 of
  1,000 samples used to be flagged): nothing flagged, every judged line
  "within noise", the median's intervals spanning the gap between the two
  clusters. The two runs are made at the same time, so they share the
  machine's state: the intervals cover sampling noise, and two runs made
  apart on a busy machine also differ for real (docs/reporting.md), which
  is --noise's to cover, not this test's; without histograms the table
  says it judged by the allowances alone;
- volley report --baseline: the same decisions in the page;
- volley run --report without --result: the page, no temporary file left;
- a result without its end line (a run that died): the page says so;
- the page in headless chromium (tests/report/check_report.mjs with
  puppeteer-core): no request, no console error, the charts drawn, the
  DOM's threshold rows and numbers; a screenshot in the test's directory
  and in $VOLLEY_ARTIFACTS when set. Without node, puppeteer-core or
  chromium that test is skipped, unless VOLLEY_REQUIRE_AJV=1 (tools/test
  sets it), which makes it a failure."""
import glob
import gzip
import html
import json
import os
import re
import shutil
import subprocess
import unittest

from volleytest import NGINX, SOURCE, VOLLEY, VolleyCase

SPEC = """\
version: 1
name: report-test
scenarios:
  api:
    executor: constant-vus
    vus: 2
    duration: 2s
    flow:
      - http: { name: home, url: "${env.NGINX}/delay10" }
        check:
          - { name: status is 200, status: 200 }
      - sleep: 2ms
  other:
    executor: constant-vus
    vus: 2
    duration: 2s
    flow:
      - http: { name: lookup, url: "${env.NGINX}${env.SLOW_PATH}" }
      - sleep: 2ms
thresholds:
  http_req_duration: ["p(95)<5000", "p(99)<8000"]
  "http_req_duration{name:lookup}": ["p(95)<5000"]
  http_req_failed: ["rate<0.01"]
  checks: ["rate>0.99"]
"""

# QA's case: two requests per iteration, half the samples ~0.2 ms, half
# ~10.5 ms; 1,000 of each.
MIX = """\
version: 1
name: mix
scenarios:
  mix:
    executor: shared-iterations
    vus: 10
    iterations: 1000
    max_duration: 30s
    flow:
      - http: { name: home, url: "${env.NGINX}/fast" }
      - http: { name: lookup, url: "${env.NGINX}/delay10" }
thresholds:
  http_req_duration: ["p(95)<5000"]
  http_req_failed: ["rate<0.01"]
"""

def _asan():
    """A sanitizer build (as test_hostile.py tells it)."""
    if os.environ.get("ASAN_OPTIONS"):
        return True
    try:
        out = subprocess.run(["ldd", VOLLEY], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libasan" in out


ASAN = _asan()

NPM = os.environ.get("VOLLEY_NPM_DIR") or os.path.join(SOURCE, ".tools", "npm")
CHROMIUM = os.environ.get("VOLLEY_CHROMIUM", "/usr/bin/chromium")


def parse_time(text):
    """A time as summary.c writes it ("329µs", "9.73ms", "0s") in ms."""
    m = re.match(r"^([\d.]+)(ns|µs|ms|s)$", text)
    assert m, text
    return float(m.group(1)) * {"ns": 1e-6, "µs": 1e-3, "ms": 1, "s": 1000}[m.group(2)]


def compare_lines(out):
    """volley compare's table: {(series, figure): {old, new, change, judged, old_ci, new_ci}}."""
    rows = {}
    lines = out.splitlines()
    head = next(i for i, l in enumerate(lines) if l.startswith("SERIES "))
    for l in lines[head + 1:]:
        if not l.strip():
            break
        f = re.split(r"\s{2,}", l.strip())
        f += [""] * (8 - len(f))
        rows[(f[0], f[1])] = dict(zip(("old", "new", "change", "judged", "old_ci", "new_ci"), f[2:]))
    return rows


def fmt_time(ms):
    """summary.c's fmt_time: how the page writes a time in milliseconds."""
    if ms == 0:
        return "0s"
    if ms < 0.001:
        s = "%.0fns" % (ms * 1e6)
    elif ms < 1:
        s = "%.2fµs" % (ms * 1000)
    elif ms < 1000:
        s = "%.2fms" % ms
    else:
        s = "%.2fs" % (ms / 1000)
    return re.sub(r"\.?0+(?=[a-zµ]+$)", "", s) if "." in s else s


class ReportTest(VolleyCase):
    runs = {}

    @classmethod
    def setUpClass(cls):
        # One set of runs for every test: base, same (base again), slow.
        case = cls("test_page_of_a_run")
        case.setUp()
        cls.dir = case.tmp
        spec = case.write_spec(SPEC)
        for name, path in (("base", "/delay10"), ("same", "/delay10"), ("slow", "/delay100")):
            result = os.path.join(cls.dir, name + ".ndjson")
            rc, out, err = case.volley("run", "-q", "-e", "SLOW_PATH=" + path, "--result", result, spec)
            assert rc == 0, (rc, out, err)
            with open(result) as f:
                lines = [json.loads(l) for l in f]
            cls.runs[name] = result, lines
        # QA's case: two runs of one spec, at the same time.
        mix = case.write_spec(MIX, "mix.yaml")
        procs = []
        for name in ("mix_a", "mix_b"):
            result = os.path.join(cls.dir, name + ".ndjson")
            procs.append((name, result, subprocess.Popen(
                [VOLLEY, "run", "-q", "--result", result, mix], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=dict(os.environ, NGINX=NGINX))))
        for name, result, p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, (p.returncode, out, err)
            with open(result) as f:
                cls.runs[name] = result, [json.loads(l) for l in f]

    def page(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def test_page_of_a_run(self):
        result, lines = self.runs["base"]
        meta, end = lines[0], lines[-1]
        self.assertEqual(end["type"], "end")
        rc, out, err = self.volley("report", result)
        self.assertEqual(rc, 0, err)
        path = os.path.join(self.dir, "base.html")
        self.assertIn("wrote " + path, out)
        page = self.page(path)
        rows = re.findall(r'<tr class="th-row v-(\w+)"[^>]*>(.*?)</tr>', page)
        self.assertEqual(len(rows), len(meta["thresholds"]))
        for th, judged, (cls, row) in zip(meta["thresholds"], end["thresholds"], rows):
            self.assertIn("<td>%s</td>" % html.escape(th["key"]), row)
            self.assertIn("<code>%s</code>" % html.escape(th["expr"]), row)
            self.assertIn(html.escape(judged["judged"]), row)
            self.assertEqual(cls, judged["verdict"])
        # The p95 threshold's row carries the end line's value exactly.
        keys = {s["key"]: str(s["id"]) for s in meta["series"]}
        p95 = end["totals"][keys["http_req_duration"]]["p"]["95"]
        self.assertEqual(end["thresholds"][0]["value"], p95)
        self.assertRegex(page, r'<tr class="th-row v-pass" data-value="%s">' % re.escape("%.10g" % p95))
        self.assertIn('<div class="tl">http_req_duration p95</div><div class="tv">%s</div>' % fmt_time(p95), page)
        reqs = end["totals"][keys["http_reqs"]]["sum"]
        self.assertIn('<div class="tl">requests</div><div class="tv">%d</div>' % reqs, page)
        # Checks, scenarios and the header.
        self.assertIn("<td>status is 200</td>", page)
        for label in ("scenario: api", "scenario: other", "name: lookup"):
            self.assertIn('<tr class="group-row"><td>%s</td>' % label, page)
        self.assertIn("passed &middot; exit 0", page)
        self.assertIn("%d" % meta["seed"], page)
        # Self-contained: no URL to fetch anything from.
        self.assertNotRegex(page, r'(src|href)="')
        self.assertIn("default-src 'none'", page)

    def compare(self, old, new, *args):
        return self.volley("compare", self.runs[old][0], self.runs[new][0], *args)

    def test_compare_flags_the_regression_only(self):
        # --noise 30: base and slow are two runs made apart, so api's p95
        # (~10.9 ms, the same spec both times) may drift on a busy machine
        # (measured up to 15%): only past 14 ms would it be flagged; the
        # regression is +800%. Sampling noise alone is test_compare.c's
        # (synthetic histograms) and the two runs made at once below.
        rc, out, err = self.compare("base", "slow", "--fail-on-regression", "20", "--noise", "30")
        self.assertEqual(rc, 99, out + err)
        lines = out.splitlines()

        def line(series, figure):
            found = [l for l in lines if re.match(r"%s\s+%s\s" % (re.escape(series), re.escape(figure)), l)]
            self.assertEqual(len(found), 1, (series, figure, out))
            return found[0]

        for series in ("scenario: other", "name: lookup", "threshold: http_req_duration"):
            self.assertRegex(line(series, "p95"), r"\sREGRESSION\s", series)
        rows = compare_lines(out)
        for series, figure in (("scenario: api", "p95"), ("scenario: api", "p50"),
                               ("threshold: http_req_failed", "failed %")):
            self.assertNotEqual(rows[(series, figure)]["judged"], "REGRESSION", (series, figure, out))
        # /delay10 -> /delay100: the intervals are far apart.
        other = rows[("scenario: other", "p95")]
        self.assertLess(parse_time(other["old_ci"].split("..")[1]), parse_time(other["new_ci"].split("..")[0]))
        self.assertRegex(out, r"\n\d+ regressions? over 20% \(p95 or failed %\)")
        # Without --fail-on-regression the table is information: exit 0.
        rc, out2, err = self.compare("base", "slow")
        self.assertEqual(rc, 0, err)
        self.assertIn("REGRESSION", out2)

    def test_compare_same_spec_passes(self):
        rc, out, err = self.compare("base", "same", "--fail-on-regression", "20")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("no regression over 20%", out)

    def test_compare_two_runs_of_one_build(self):
        rc, out, err = self.compare("mix_a", "mix_b", "--fail-on-regression", "10")
        self.assertIn("flagged when the two runs' 99% intervals do not overlap", out)
        self.assertNotIn("without an interval", out)
        rows = compare_lines(out)
        judged = [(k, r) for k, r in rows.items() if k[1] not in ("count", "rate/s")]
        # every name and the threshold's metric: failed %, avg, p50, p95, p99
        self.assertGreaterEqual(len(judged), 2 * 5 + 4 + 1)
        # Under ASan the generator's own CPU is most of a /fast request's
        # time and much of /delay10's tail, so two processes at once
        # differ for real (measured: 2 to 4 of 8 such pairs had a flag on a
        # busy machine; 0 of 12 without ASan). The rest holds either way.
        if not ASAN:
            self.assertEqual(rc, 0, out + err)
            self.assertIn("no regression over 10% (p95 or failed %)", out)
            self.assertNotIn("REGRESSION", out)
            self.assertNotIn("improvement", out)
            for key, r in judged:
                self.assertEqual(r["judged"], "within noise", (key, out))
        # The median of a 50/50 mix of ~0.2 ms (/fast) and ~10.5 ms: each
        # run's interval reaches from one cluster into the other (its low
        # end is /fast's p94, below /fast's p99).
        p50 = rows[("threshold: http_req_duration", "p50")]
        for side in ("old", "new"):
            lo, hi = (parse_time(v) for v in p50[side + "_ci"].split(".."))
            self.assertLess(lo, parse_time(rows[("name: home", "p99")][side]), out)
            self.assertGreater(hi, 9, out)
        # lookup's p99 is its 10th-worst of 1,000: an interval, not a point.
        p99 = rows[("name: lookup", "p99")]
        lo, hi = (parse_time(v) for v in p99["old_ci"].split(".."))
        self.assertLessEqual(lo, parse_time(p99["old"]))
        self.assertGreaterEqual(hi, parse_time(p99["old"]))

    def test_compare_without_histograms(self):
        # A result whose end line has no histograms (as a reader of
        # json-out's NDJSON leaves it): judged by the allowances alone,
        # and the table says so.
        result, lines = self.runs["mix_a"]
        bare = os.path.join(self.tmp, "bare.ndjson")
        with open(bare, "w") as f:
            for l in lines:
                if l["type"] == "end":
                    l = json.loads(json.dumps(l))
                    for t in l["totals"].values():
                        t.pop("h", None)
                f.write(json.dumps(l) + "\n")
        rc, out, err = self.volley("compare", bare, self.runs["base"][0])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"\d+ figures without an interval \(no histogram in %s" % re.escape(bare))
        rows = compare_lines(out)
        r = rows[("threshold: http_req_duration", "p95")]
        self.assertEqual(r["old_ci"], "-", out)
        self.assertRegex(r["new_ci"], r"^\S+\.\.\S+$")

    def test_compare_bad_input(self):
        rc, out, err = self.volley("compare", self.runs["base"][0])
        self.assertEqual(rc, 104)
        self.assertIn("usage: volley compare OLD NEW", err)
        rc, out, err = self.volley("compare", self.runs["base"][0], "/nonexistent.ndjson")
        self.assertEqual(rc, 104)
        self.assertIn("/nonexistent.ndjson: cannot open", err)
        rc, out, err = self.compare("base", "same", "--fail-on-regression", "x")
        self.assertEqual(rc, 104)
        self.assertIn("--fail-on-regression: expected a percentage", err)

    def comparison_page(self):
        path = os.path.join(self.tmp, "cmp.html")
        rc, out, err = self.volley("report", "--baseline", self.runs["base"][0], self.runs["slow"][0], "-o", path,
                                   "--noise", "30")
        self.assertEqual(rc, 0, err)
        return path

    def test_report_with_baseline(self):
        page = self.page(self.comparison_page())
        rows = dict(re.findall(r'<tr class="cmp-row" data-label="([^"]*)">(.*?)</tr>', page))
        p95 = lambda label: re.search(r'<td class="num (\w+)" data-col="p95"', rows[label]).group(1)
        self.assertEqual(p95("scenario: other"), "regression")
        self.assertEqual(p95("http_req_duration"), "regression")
        self.assertEqual(p95("scenario: api"), "same")
        self.assertIn("Compared with the baseline", page)
        # The rule, and each cell's verdict and intervals.
        self.assertIn("Flagged when the two runs&#39; 99% intervals do not overlap", page)
        verdict = lambda label, col: re.search(r'data-col="%s" data-verdict="([^"]*)"' % re.escape(col),
                                               rows[label]).group(1)
        self.assertEqual(verdict("scenario: other", "p95"), "REGRESSION")
        self.assertEqual(verdict("scenario: api", "p95"), "within noise")
        self.assertEqual(verdict("scenario: api", "count"), "")
        self.assertRegex(rows["scenario: api"], r'data-col="p95".*?<span class="chg ci">[^<]+&ndash;[^<]+&rarr;')

    def test_run_report_without_result(self):
        spec = self.write_spec(SPEC)
        path = os.path.join(self.tmp, "run.html")
        rc, out, err = self.volley("run", "-q", "-e", "SLOW_PATH=/delay10", "--duration", "1s", "--report", path, spec,
                                   env={"TMPDIR": self.tmp})
        self.assertEqual(rc, 0, err)
        page = self.page(path)
        self.assertEqual(len(re.findall(r'<tr class="th-row', page)), 5)
        self.assertEqual(glob.glob(os.path.join(self.tmp, "volley-result-*")), [])   # the temporary result

    def test_gzip_and_a_run_that_died(self):
        result, lines = self.runs["base"]
        died = os.path.join(self.tmp, "died.ndjson.gz")
        with gzip.open(died, "wt") as f:
            for l in lines[:-1]:
                f.write(json.dumps(l) + "\n")
        rc, out, err = self.volley("report", died)
        self.assertEqual(rc, 0, err)
        page = self.page(os.path.join(self.tmp, "died.html"))
        self.assertIn('id="incomplete"', page)
        self.assertIn("incomplete</span>", page)
        self.assertIn("%d windows recorded" % (len(lines) - 2), page)

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
        path = self.comparison_page()
        meta, end = self.runs["slow"][1][0], self.runs["slow"][1][-1]
        expect = {
            "thresholds": len(meta["thresholds"]),
            "charts_min": 7,
            "group_charts": 4,   # names home and lookup, scenarios api and other
            "texts": ["Compared with the baseline", "status is 200"],
            "cells": {"#thresholds-table tr.th-row:nth-child(1) td.num": end["thresholds"][0]["judged"],
                      "#verdict": "exit 0"},
        }
        with open(os.path.join(self.tmp, "expect.json"), "w") as f:
            json.dump(expect, f)
        shot = os.path.join(self.tmp, "report.png")
        p = subprocess.run([node, os.path.join(SOURCE, "tests", "report", "check_report.mjs"), path, shot,
                            os.path.join(self.tmp, "expect.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60, env=dict(os.environ, VOLLEY_NPM_DIR=NPM))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        seen = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertTrue(seen["ok"], seen)
        self.assertEqual(seen["seen"]["thresholds"], 5)
        self.assertGreater(os.path.getsize(shot), 10000)
        art = os.environ.get("VOLLEY_ARTIFACTS")
        if art:
            os.makedirs(art, exist_ok=True)
            shutil.copy(shot, os.path.join(art, "report.png"))


if __name__ == "__main__":
    unittest.main()
