"""`volley run --summary-json FILE`: the object k6 passes to
handleSummary(data), checked field by field against the same run's
--summary-export (k6's legacy shape, whose numbers the other tests check),
then read by a tool written for k6: k6-html-reporter 1.0.5 (npm), whose
generateSummaryReport must render Volley's metrics, checks and threshold
counts.

k6-html-reporter is .tools/npm/node_modules/k6-html-reporter (tools/setup
installs it) or $VOLLEY_K6_HTML_REPORTER (its package directory). Without
it (or without node) the reporter test is skipped, unless
VOLLEY_REQUIRE_AJV=1 (tools/test sets it), which makes it a failure as for
the schema tests' ajv."""
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import textwrap
import unittest

from volleytest import NGINX, SOURCE, VolleyCase

# A nested group, a group, the top level; a check that always fails; a
# sub-metric with one passing and one failing threshold; a failing checks
# threshold; a sub-metric with no data, accepted and not.
SPEC = """
version: 1
name: summary-json
scenarios:
  s:
    executor: per-vu-iterations
    vus: 2
    iterations: 5
    flow:
      - group: outer
        steps:
          - group: inner
            steps:
              - http: { name: fast, url: "${env.NGINX}/fast" }
                check:
                  - { name: status is 200, status: 200 }
          - http: { name: missing, url: "${env.NGINX}/notfound" }
            check:
              - { name: found, status: 200 }
      - http: { name: top, url: "${env.NGINX}/fast" }
        check: [ { name: top ok, status: 200 } ]
thresholds:
  http_req_duration: ["p(95)<5000"]
  "http_req_duration{name:fast}": ["p(95)<5000", "max<0"]
  checks: ["rate>0.99"]
  "http_req_waiting{name:nothing}": [ { threshold: "p(95)<5", allow_no_data: true } ]
  "http_req_receiving{name:nothing}": ["max<5"]
"""

TREND_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)"]
VALUE_KEYS = {"counter": {"count", "rate"}, "gauge": {"value", "min", "max"},
              "rate": {"rate", "passes", "fails"}, "trend": set(TREND_STATS)}


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def find_reporter():
    """The k6-html-reporter package directory and node, or None."""
    pkg = os.environ.get("VOLLEY_K6_HTML_REPORTER") or os.path.join(
        SOURCE, ".tools", "npm", "node_modules", "k6-html-reporter")
    node = shutil.which("node")
    if not node or not os.path.isfile(os.path.join(pkg, "package.json")):
        return None
    return node, pkg


class SummaryJsonTest(VolleyCase):
    @classmethod
    def setUpClass(cls):
        cls.reporter = find_reporter()

    def run_both(self, text=SPEC):
        spec = self.write_spec(text)
        exp = os.path.join(self.tmp, "export.json")
        hs = os.path.join(self.tmp, "out", "summary-data.json")
        os.makedirs(os.path.dirname(hs))
        rc, out, err = self.volley("run", "-q", "--summary-export", exp, "--summary-json", hs, spec)
        with open(exp) as f:
            export = json.load(f)
        with open(hs) as f:
            data = json.load(f)
        return rc, out + err, export, data, hs

    def test_shape_and_numbers_match_the_export(self):
        rc, out, export, data, _ = self.run_both()
        self.assertEqual(rc, 99, out)   # max<0 and rate>0.99 fail; receiving{name:nothing} has no data
        self.assertEqual(set(data), {"root_group", "options", "state", "metrics"})   # no setup_data

        self.assertEqual(data["options"], {"summaryTrendStats": TREND_STATS, "summaryTimeUnit": "",
                                           "noColor": True})
        state = data["state"]
        self.assertEqual(set(state), {"isStdOutTTY", "isStdErrTTY", "testRunDurationMs"})
        self.assertIs(state["isStdOutTTY"], False)   # pipes here
        self.assertIs(state["isStdErrTTY"], False)
        dur_s = state["testRunDurationMs"] / 1000
        self.assertGreater(dur_s, 0)
        self.assertLess(dur_s, 60)

        metrics = data["metrics"]
        self.assertEqual(set(metrics), set(export["metrics"]), "the same metrics and sub-metrics")
        for name, want_type, want_contains in (
                ("http_reqs", "counter", "default"), ("data_received", "counter", "data"),
                ("http_req_duration", "trend", "time"), ("http_req_duration{name:fast}", "trend", "time"),
                ("checks", "rate", "default"), ("http_req_failed", "rate", "default"),
                ("vus_max", "gauge", "default"), ("iterations", "counter", "default")):
            self.assertEqual((metrics[name]["type"], metrics[name]["contains"]), (want_type, want_contains), name)

        for name, m in metrics.items():
            old = export["metrics"][name]
            self.assertLessEqual(set(m), {"type", "contains", "values", "thresholds", "no_data"}, name)
            self.assertIn(m["contains"], ("default", "time", "data"), name)
            values = m["values"]
            self.assertEqual(set(values), VALUE_KEYS[m["type"]], name)
            for k, v in values.items():
                self.assertIsInstance(v, (int, float), name + "." + k)
                # the legacy shape calls a rate's rate "value"
                self.assertEqual(v, old["value" if m["type"] == "rate" and k == "rate" else k], name + "." + k)
            if m["type"] == "counter":
                self.assertAlmostEqual(values["rate"], values["count"] / dur_s, delta=values["rate"] * 1e-9)
            # k6's thresholds: {"expr": {"ok": passed}}; the legacy ones: {"expr": failed}
            self.assertEqual(m.get("thresholds"),
                             {k: {"ok": not v} for k, v in old["thresholds"].items()} if "thresholds" in old
                             else None, name)
            self.assertEqual(m.get("no_data", False), old.get("no_data", False), name)

        self.assertEqual(metrics["http_reqs"]["values"]["count"], 30)
        self.assertEqual(metrics["iterations"]["values"]["count"], 10)
        self.assertEqual((metrics["checks"]["values"]["passes"], metrics["checks"]["values"]["fails"]), (20, 10))
        self.assertAlmostEqual(metrics["checks"]["values"]["rate"], 20 / 30, places=12)
        self.assertEqual(metrics["checks"]["thresholds"], {"rate>0.99": {"ok": False}})
        self.assertEqual(metrics["http_req_duration{name:fast}"]["thresholds"],
                         {"p(95)<5000": {"ok": True}, "max<0": {"ok": False}})
        # no data: accepted by allow_no_data (ok), or failing the run (not ok)
        self.assertEqual(metrics["http_req_waiting{name:nothing}"]["thresholds"], {"p(95)<5": {"ok": True}})
        self.assertEqual(metrics["http_req_receiving{name:nothing}"]["thresholds"], {"max<5": {"ok": False}})
        self.assertIs(metrics["http_req_receiving{name:nothing}"]["no_data"], True)

        # root_group: k6's arrays, ids the md5 of the path, as in k6
        root = data["root_group"]
        self.assertEqual((root["name"], root["path"], root["id"]), ("", "", "d41d8cd98f00b204e9800998ecf8427e"))
        seen = []

        def walk(g, legacy):
            self.assertEqual(set(g), {"name", "path", "id", "groups", "checks"})
            self.assertEqual(g["id"], md5(g["path"]))
            self.assertIsInstance(g["groups"], list)
            self.assertIsInstance(g["checks"], list)
            self.assertEqual([c["name"] for c in g["checks"]], list(legacy["checks"]))
            self.assertEqual([s["name"] for s in g["groups"]], list(legacy["groups"]))
            for c in g["checks"]:
                self.assertEqual(set(c), {"name", "path", "id", "passes", "fails"})
                self.assertEqual(c["path"], g["path"] + "::" + c["name"])
                self.assertEqual(c["id"], md5(c["path"]))
                old = legacy["checks"][c["name"]]
                self.assertEqual((c["passes"], c["fails"], c["path"]), (old["passes"], old["fails"], old["path"]))
                seen.append((c["path"], c["passes"], c["fails"]))
            for s in g["groups"]:
                self.assertEqual(s["path"], g["path"] + "::" + s["name"])
                walk(s, legacy["groups"][s["name"]])

        walk(root, export["root_group"])
        self.assertEqual(sorted(seen), [("::outer::found", 0, 10), ("::outer::inner::status is 200", 10, 0),
                                        ("::top ok", 10, 0)])
        self.assertEqual(root["groups"][0]["groups"][0]["path"], "::outer::inner")
        self.assertEqual(sum(p for _, p, _ in seen), metrics["checks"]["values"]["passes"])

    def test_k6_html_reporter_renders_it(self):
        if not self.reporter:
            msg = ("k6-html-reporter or node not found (run tools/setup, which installs it into "
                   ".tools/npm, or set VOLLEY_K6_HTML_REPORTER)")
            if os.environ.get("VOLLEY_REQUIRE_AJV") == "1":
                self.fail(msg + "; VOLLEY_REQUIRE_AJV=1 requires it")
            self.skipTest(msg)
        node, pkg = self.reporter
        rc, out, export, data, hs = self.run_both()
        self.assertEqual(rc, 99, out)
        outdir = os.path.join(self.tmp, "report")
        script = ("require(process.argv[1]).generateSummaryReport("
                  "{jsonFile: process.argv[2], output: process.argv[3]});")
        p = subprocess.run([node, "-e", script, pkg, hs, outdir], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stderr, "")   # it prints template errors and goes on
        with open(os.path.join(outdir, "report.html"), encoding="utf-8") as f:
            text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", f.read())))

        for name in data["metrics"]:
            if name != "checks":   # the reporter shows checks as the checks section
                self.assertIn(" " + name + " ", text)
        # checks, with their group path as it writes it
        for path in ("top ok", "outer ⇀ found", "outer ⇀ inner ⇀ status is 200"):
            self.assertIn(" " + path + " ", text)
        self.assertIn("passes: 20 fails: 10 pass rate: 66.67%", text)
        # thresholds: its pass/fail counts are the export's verdicts
        verdicts = [failed for m in export["metrics"].values() for failed in m.get("thresholds", {}).values()]
        passes, fails = verdicts.count(False), verdicts.count(True)
        self.assertEqual((passes, fails), (3, 3))
        self.assertIn("%d thresholds were not met passes: %d fails: %d" % (fails, passes, fails), text)
        for expr in ("rate>0.99", "max<0", "p(95)<5000", "max<5"):
            self.assertIn(" " + expr + " ", text)
        # values it read: http_reqs' count in the counters table
        self.assertRegex(text, r" http_reqs 30 [0-9.]+ ")

    def test_results_dir_writes_it_per_spec(self):
        d = os.path.join(self.tmp, "suite")
        os.makedirs(d)
        for stem, url in (("a", "/fast"), ("b", "/notfound")):
            with open(os.path.join(d, stem + ".yaml"), "w") as f:
                f.write(textwrap.dedent("""
                    version: 1
                    scenarios:
                      s:
                        executor: shared-iterations
                        iterations: 3
                        flow:
                          - http: { url: "%s%s" }
                            check: [ { name: ok, status: 200 } ]
                    """ % (NGINX, url)))
        res = os.path.join(self.tmp, "results")
        rc, out, err = self.volley("run", "-q", "--no-scan", "--results-dir", res, d)
        self.assertEqual(rc, 0, out + err)
        for stem, passes in (("a", 3), ("b", 0)):
            with open(os.path.join(res, stem + "-summary-data.json")) as f:
                data = json.load(f)
            self.assertEqual(data["metrics"]["http_reqs"]["values"]["count"], 3)
            self.assertEqual([(c["name"], c["passes"], c["fails"]) for c in data["root_group"]["checks"]],
                             [("ok", passes, 3 - passes)])
        # an explicit --summary-json FILE is used instead, as --summary-export's
        res2 = os.path.join(self.tmp, "results2")
        mine = os.path.join(self.tmp, "mine.json")
        rc, out, err = self.volley("run", "-q", "--no-scan", "--results-dir", res2, "--summary-json", mine,
                                   os.path.join(d, "a.yaml"))
        self.assertEqual(rc, 0, out + err)
        self.assertFalse(os.path.exists(os.path.join(res2, "a-summary-data.json")))
        with open(mine) as f:
            self.assertEqual(json.load(f)["metrics"]["http_reqs"]["values"]["count"], 3)

    def test_trend_stats_and_time_unit_reach_it(self):
        spec = self.write_spec(SPEC)
        hs = os.path.join(self.tmp, "opts.json")
        rc, out, err = self.volley("run", "-q", "--summary-json", hs, "--summary-time-unit", "ms",
                                   "--summary-trend-stats", "avg,p(99),count", spec)
        self.assertIn(rc, (0, 99), out + err)
        with open(hs) as f:
            data = json.load(f)
        self.assertEqual(data["options"]["summaryTimeUnit"], "ms")
        self.assertEqual(data["options"]["summaryTrendStats"], ["avg", "p(99)", "count"])
        self.assertEqual(sorted(data["metrics"]["http_req_duration"]["values"]), ["avg", "count", "p(99)"])

    def test_segment_and_instance_in_state(self):
        """With --execution-segment: which part of the test this instance ran
        (k6's option names) and its instance tag, as the export's run object
        has them; without one: neither."""
        spec = self.write_spec(SPEC)
        hs = os.path.join(self.tmp, "seg.json")
        exp = os.path.join(self.tmp, "seg-export.json")
        rc, out, err = self.volley("run", "-q", "--summary-json", hs, "--summary-export", exp,
                                   "--execution-segment", "1/3:2/3",
                                   "--execution-segment-sequence", "0,1/3,2/3,1", spec)
        self.assertIn(rc, (0, 99), out + err)
        with open(hs) as f:
            state = json.load(f)["state"]
        with open(exp) as f:
            run = json.load(f)["run"]
        self.assertEqual(state["executionSegment"], "1/3:2/3")
        self.assertEqual(state["executionSegmentSequence"], "0,1/3,2/3,1")
        self.assertEqual(state["instance"], "1")
        self.assertEqual((run["segment"], run["sequence"], run["run_tags"]["instance"]),
                         (state["executionSegment"], state["executionSegmentSequence"], state["instance"]))
        self.assertIn("testRunDurationMs", state)   # k6's keys stay
        rc, out, err = self.volley("run", "-q", "--summary-json", hs, spec)
        with open(hs) as f:
            state = json.load(f)["state"]
        self.assertEqual(sorted(state), ["isStdErrTTY", "isStdOutTTY", "testRunDurationMs"])

    def test_unwritable_file_is_an_engine_error(self):
        spec = self.write_spec(SPEC)
        bad = os.path.join(self.tmp, "no", "such", "dir", "x.json")
        rc, out, err = self.volley("run", "-q", "--summary-json", bad, spec)
        self.assertEqual(rc, 103, out + err)
        self.assertIn(bad + ": cannot write the summary JSON", err)


if __name__ == "__main__":
    unittest.main()
