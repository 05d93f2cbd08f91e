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

from volleytest import SOURCE, VolleyCase

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

NPM = os.environ.get("VOLLEY_NPM_DIR") or os.path.join(SOURCE, ".tools", "npm")
CHROMIUM = os.environ.get("VOLLEY_CHROMIUM", "/usr/bin/chromium")


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
        # --noise 10: api's p95 (~10.9 ms) is flagged only past 12 ms; the
        # regression is +800%.
        rc, out, err = self.compare("base", "slow", "--fail-on-regression", "20", "--noise", "10")
        self.assertEqual(rc, 99, out + err)
        lines = out.splitlines()

        def line(series, figure):
            found = [l for l in lines if re.match(r"%s\s+%s\s" % (re.escape(series), re.escape(figure)), l)]
            self.assertEqual(len(found), 1, (series, figure, out))
            return found[0]

        self.assertTrue(line("scenario: other", "p95").endswith("REGRESSION"))
        self.assertTrue(line("name: lookup", "p95").endswith("REGRESSION"))
        self.assertTrue(line("threshold: http_req_duration", "p95").endswith("REGRESSION"))
        self.assertNotIn("REGRESSION", line("scenario: api", "p95"))
        self.assertNotIn("REGRESSION", line("scenario: api", "p50"))
        self.assertNotIn("REGRESSION", line("threshold: http_req_failed", "failed %"))
        self.assertRegex(out, r"\n\d+ regressions? over 20% \(p95 or failed %\)")
        # Without --fail-on-regression the table is information: exit 0.
        rc, out2, err = self.compare("base", "slow")
        self.assertEqual(rc, 0, err)
        self.assertIn("REGRESSION", out2)

    def test_compare_same_spec_passes(self):
        rc, out, err = self.compare("base", "same", "--fail-on-regression", "20")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("no regression over 20%", out)

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
                                   "--noise", "10")
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
