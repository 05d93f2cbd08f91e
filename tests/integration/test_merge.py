"""`volley merge RESULT...`: the union of runs of one spec (written by
`volley run --result`), against the loopback nginx. Counts add up, the
merged p95 is the p95 of the union of both runs' samples (within the
histogram's bound, hdr.h), and thresholds are judged again over the
merged data: one that fails in each run alone passes in the union, one
that passes alone fails it."""
import json
import os
import re
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from volleytest import NGINX, VOLLEY, VolleyCase  # noqa: E402

SPEC = """
    version: 1
    name: %s
    scenarios:
      main:
        executor: shared-iterations
        vus: 4
        iterations: 200
        flow:
          - http: { name: api, url: "${env.NGINX}/fast" }
            check:
              - { name: status is 200, status: 200 }
    thresholds:
      http_reqs: ["%s"]
      http_req_duration: ["p(95)<5000"]
"""

TIMED = """
    version: 1
    name: timed
    scenarios:
      main:
        executor: constant-arrival-rate
        rate: 100
        duration: 2s
        pre_allocated_vus: 4
        flow:
          - http: { name: api, url: "${env.NGINX}/fast" }
            check:
              - { name: status is 200, status: 200 }
    thresholds:
      http_req_duration: ["p(95)<5000"]
"""


class MergeTest(VolleyCase):
    def two_runs(self, name, threshold, want_rc):
        """Two runs of one spec; their result and json-out files."""
        spec = self.write_spec(SPEC % (name, threshold), name + ".yaml")
        files = []
        for i in range(2):
            res = os.path.join(self.tmp, "%s-%d.ndjson" % (name, i))
            pts = os.path.join(self.tmp, "%s-%d.points.ndjson" % (name, i))
            rc, out, err = self.volley("run", "-q", "--result", res, "--out", "json-out=" + pts, spec)
            self.assertEqual(rc, want_rc, out + err)
            files.append((res, pts))
        return files

    def merge(self, *args):
        export = os.path.join(self.tmp, "merged.json")
        if os.path.exists(export):
            os.remove(export)
        rc, out, err = self.volley("merge", "--summary-export", export, *args)
        data = None
        if os.path.exists(export):
            with open(export) as f:
                data = json.load(f)
        return rc, out, err, data

    def test_threshold_failing_alone_passes_merged_and_p95_exact(self):
        files = self.two_runs("apart", "count>300", 99)   # 200 each: fails alone
        rc, out, err, s = self.merge(*[f[0] for f in files])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 400)
        self.assertFalse(s["metrics"]["http_reqs"]["thresholds"]["count>300"])
        self.assertEqual(s["run"]["exit_code"], 0)
        self.assertEqual(s["root_group"]["checks"]["status is 200"]["passes"], 400)
        self.assertIn('✓ http_reqs "count>300": count=400', out)
        self.assertIn("✓ status is 200", out)
        self.assertRegex(out, r"http_reqs\.+: 400 ")
        # p95 of the union of both runs' samples (nearest rank, as hdr.c)
        values = []
        for _, pts in files:
            for p in self.read_ndjson(pts):
                if p.get("type") == "Point" and p.get("metric") == "http_req_duration":
                    values.append(p["data"]["value"])
        self.assertEqual(len(values), 400)
        values.sort()
        rank = max(1, int(0.95 * len(values) + 0.5))
        want = values[rank - 1]
        got = s["metrics"]["http_req_duration"]["p(95)"]
        # a slot is at most 1/256 of its values wide; 1 us the resolution
        self.assertLessEqual(abs(got - want), want / 256 + 0.001, (got, want))
        # min and max are exact (kept beside the histogram)
        self.assertAlmostEqual(s["metrics"]["http_req_duration"]["max"], values[-1], delta=1e-9)
        self.assertAlmostEqual(s["metrics"]["http_req_duration"]["min"], values[0], delta=1e-9)

    def test_threshold_passing_alone_fails_merged(self):
        files = self.two_runs("together", "count<300", 0)
        rc, out, err, s = self.merge(*[f[0] for f in files])
        self.assertEqual(rc, 99, out + err)
        self.assertTrue(s["metrics"]["http_reqs"]["thresholds"]["count<300"])
        self.assertIn('✗ http_reqs "count<300": count=400', out)
        self.assertIn("1 of 2 thresholds failed", out)
        # one file alone is its own union: passes as the run did
        rc, out, err, s = self.merge(files[0][0])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 200)

    def test_bad_files(self):
        files = self.two_runs("one", "count>300", 99)
        rc, out, err, _ = self.merge(files[0][0], os.path.join(self.tmp, "missing.ndjson"))
        self.assertEqual(rc, 104, out + err)
        self.assertIn("volley merge:", err)
        self.assertIn("missing.ndjson", err)
        junk = os.path.join(self.tmp, "junk.ndjson")
        with open(junk, "w") as f:
            f.write("not json\n")
        rc, out, err, _ = self.merge(files[0][0], junk)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("junk.ndjson", err)
        # json-out's points are no result file
        rc, out, err, _ = self.merge(files[0][0], files[0][1])
        self.assertEqual(rc, 104, out + err)
        self.assertIn("not a result file", err)
        # runs of another spec
        other = self.two_runs("two", "count<300", 0)
        rc, out, err, _ = self.merge(files[0][0], other[0][0])
        self.assertEqual(rc, 104, out + err)
        self.assertIn("merge only runs of one spec", err)
        # a died run (no end line)
        cut = os.path.join(self.tmp, "cut.ndjson")
        with open(files[0][0]) as f:
            lines = f.readlines()
        with open(cut, "w") as f:
            f.writelines(lines[:-1])
        rc, out, err, _ = self.merge(files[0][0], cut)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("no end line", err)
        self.assertIn("cut.ndjson", err)
        rc, out, err, _ = self.merge()
        self.assertEqual(rc, 104, out + err)
        self.assertIn("at least one RESULT", err)

    def outputs(self, files, *extra):
        """merge with every output; their paths."""
        o = {k: os.path.join(self.tmp, "m." + k) for k in ("json", "xml", "html", "ndjson")}
        for p in o.values():
            if os.path.exists(p):
                os.remove(p)
        rc, out, err = self.volley("merge", "--summary-json", o["json"], "--out", "junit=" + o["xml"],
                                   "--report", o["html"], "--result", o["ndjson"], *extra, *files)
        return rc, out, err, o

    def test_outputs_of_the_union(self):
        files = [f[0] for f in self.two_runs("outs", "count>300", 99)]
        rc, out, err, o = self.outputs(files)
        self.assertEqual(rc, 0, out + err)
        with open(o["json"]) as f:
            sj = json.load(f)
        # handleSummary's shape, as volley run --summary-json writes it
        self.assertEqual(sj["metrics"]["http_reqs"]["type"], "counter")
        self.assertEqual(sj["metrics"]["http_reqs"]["values"]["count"], 400)
        self.assertEqual(sj["metrics"]["http_reqs"]["thresholds"], {"count>300": {"ok": True}})
        self.assertEqual(sj["root_group"]["checks"][0]["name"], "status is 200")
        self.assertEqual(sj["root_group"]["checks"][0]["passes"], 400)
        self.assertEqual(sj["options"]["summaryTrendStats"], ["avg", "min", "med", "max", "p(90)", "p(95)"])
        # junit: one testcase per threshold and check, none failed
        suite = ET.parse(o["xml"]).getroot().find("testsuite")
        cases = {c.get("name"): c for c in suite.iter("testcase")}
        self.assertIn("count>300", cases)
        self.assertIn("status is 200", cases)
        self.assertIsNone(cases["count>300"].find("failure"))
        self.assertEqual(suite.get("failures"), "0")
        # the report of the union
        with open(o["html"]) as f:
            html = f.read()
        self.assertIn("<html", html)
        self.assertIn('<td class="num">count=400</td>', html)
        # the merged result file: report and merge read it as a run's
        rc, out, err = self.volley("report", o["ndjson"], "-o", os.path.join(self.tmp, "again.html"))
        self.assertEqual(rc, 0, out + err)
        rc, out, err, s = self.merge(o["ndjson"])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 400)
        self.assertEqual(s["root_group"]["checks"]["status is 200"]["passes"], 400)
        rc, out, err, s = self.merge(o["ndjson"], files[0])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 600)
        # p95 of the re-merge is the p95 of the histogram the merged file keeps
        rc, out, err, s1 = self.merge(*files)
        rc, out, err, s2 = self.merge(o["ndjson"])
        self.assertEqual(s1["metrics"]["http_req_duration"]["p(95)"], s2["metrics"]["http_req_duration"]["p(95)"])

    def test_junit_fails_as_the_merge(self):
        files = [f[0] for f in self.two_runs("jfail", "count<300", 0)]   # passes alone
        rc, out, err, o = self.outputs(files)
        self.assertEqual(rc, 99, out + err)
        suite = ET.parse(o["xml"]).getroot().find("testsuite")
        cases = {c.get("name"): c for c in suite.iter("testcase")}
        fail = cases["count<300"].find("failure")
        self.assertIsNotNone(fail)
        self.assertIn("400", fail.get("message", "") + (fail.text or ""))
        self.assertIsNone(cases["p(95)<5000"].find("failure"))
        with open(o["json"]) as f:
            self.assertEqual(json.load(f)["metrics"]["http_reqs"]["thresholds"], {"count<300": {"ok": False}})
        end = self.read_ndjson(o["ndjson"])[-1]
        self.assertEqual((end["verdict"], end["exit_code"]), ("fail", 99))
        # --report alone: from a temporary merged result, removed after
        tmpdir = os.path.join(self.tmp, "tmpdir")
        os.makedirs(tmpdir)
        html = os.path.join(self.tmp, "alone.html")
        rc, out, err = self.volley("merge", "--report", html, *files, env={"TMPDIR": tmpdir})
        self.assertEqual(rc, 99, out + err)
        with open(html) as f:
            self.assertIn('<td class="num">count=400</td>', f.read())
        self.assertEqual(os.listdir(tmpdir), [])
        # only junit takes a merge's verdicts
        rc, out, err = self.volley("merge", "--out", "json-out=x.ndjson", *files)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("only junit", err)

    def test_timeline_windows_add_up(self):
        """Two runs at once (2 s each): the merged windows' counts add up to
        the end totals and to the runs' own; windows with histograms are
        added slot by slot."""
        spec = self.write_spec(TIMED, "timed.yaml")
        res = [os.path.join(self.tmp, "t%d.ndjson" % i) for i in range(2)]
        env = dict(os.environ, NGINX=NGINX)
        procs = [subprocess.Popen([VOLLEY, "run", "-q", "--result-histograms", "--result", r, spec], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in res]
        for p in procs:
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
        rc, out, err, o = self.outputs(res)
        self.assertEqual(rc, 0, out + err)
        lines = self.read_ndjson(o["ndjson"])
        meta, windows, end = lines[0], lines[1:-1], lines[-1]
        self.assertEqual(meta["type"], "meta")
        self.assertEqual(end["type"], "end")
        self.assertGreaterEqual(len(windows), 2)
        ids = {s["key"]: str(s["id"]) for s in meta["series"]}
        runs = [self.read_ndjson(r) for r in res]
        for key in ("http_reqs", "http_req_duration", "checks"):
            sid = ids[key]
            in_windows = sum(w["s"].get(sid, {}).get("n", 0) for w in windows)
            self.assertEqual(in_windows, end["totals"][sid]["n"], key)
            own = 0
            for r in runs:
                rid = {s["key"]: str(s["id"]) for s in r[0]["series"]}[key]
                own += r[-1]["totals"][rid]["n"]
            self.assertEqual(in_windows, own, key)
        # the windows' histograms were added: each has as many values as n
        sid = ids["http_req_duration"]
        for w in windows:
            st = w["s"].get(sid)
            if st:
                self.assertEqual(sum(c for _, c in st["h"]), st["n"])
                self.assertLessEqual(st["p"]["50"], st["p"]["99"])
        # windows are on the earliest start's clock, in order
        t0s = [w["t0"] for w in windows]
        self.assertEqual(t0s, sorted(t0s))
        self.assertEqual(meta["start_unix_ms"], min(r[0]["start_unix_ms"] for r in runs))

    def edit_meta(self, path, out, **fields):
        """A copy of a result file with its meta line changed (None: removed)."""
        lines = self.read_ndjson(path)
        for k, v in fields.items():
            target = lines[0]
            if k == "sha256":
                target = lines[0]["spec"]
            if v is None:
                target.pop(k, None)
            else:
                target[k] = v
        dst = os.path.join(self.tmp, out)
        with open(dst, "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        return dst

    def test_spec_hash(self):
        files = [f[0] for f in self.two_runs("hash", "count>300", 99)]
        meta = self.read_ndjson(files[0])[0]
        self.assertRegex(meta["spec"]["sha256"], r"^[0-9a-f]{64}$")
        # the spec changed between the runs (same name, same thresholds)
        spec = os.path.join(self.tmp, "hash.yaml")
        with open(spec, "a") as f:
            f.write("# edited\n")
        other = os.path.join(self.tmp, "hash-edited.ndjson")
        rc, out, err = self.volley("run", "-q", "--result", other, spec)
        self.assertEqual(rc, 99, out + err)
        self.assertNotEqual(self.read_ndjson(other)[0]["spec"]["sha256"], meta["spec"]["sha256"])
        rc, out, err, _ = self.merge(files[0], other)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("different specs", err)
        self.assertIn(files[0], err)
        self.assertIn(other, err)
        # a file without the hash (an older volley): name and thresholds decide
        old = self.edit_meta(other, "old.ndjson", sha256=None)
        rc, out, err, s = self.merge(files[0], old)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 400)

    def test_spec_hash_covers_included_files(self):
        """spec.sha256 is the spec file's bytes and then each included file's,
        in load order: merge refuses runs whose included file changed."""
        base = os.path.join(self.tmp, "base.yaml")
        inner = os.path.join(self.tmp, "inner.yaml")
        with open(inner, "w") as f:
            f.write("services:\n  other: http://127.0.0.1:1\n")
        with open(base, "w") as f:
            f.write("include: inner.yaml\nservices:\n  api: ${env.NGINX}\n")
        spec = self.write_spec((SPEC % ("inc", "count>300")).replace(
            "    version: 1\n", "    version: 1\n    include: [base.yaml]\n").replace(
            'url: "${env.NGINX}/fast"', 'url: "${services.api}/fast"'), "inc.yaml")
        res = [os.path.join(self.tmp, "inc-%d.ndjson" % i) for i in range(3)]
        for r in res[:2]:
            rc, out, err = self.volley("run", "-q", "--result", r, spec)
            self.assertEqual(rc, 99, out + err)
        import hashlib
        h = hashlib.sha256()
        for path in (spec, base, inner):   # load order: the spec, base, what base includes
            with open(path, "rb") as f:
                h.update(f.read())
        meta = self.read_ndjson(res[0])[0]
        self.assertEqual(meta["spec"]["sha256"], h.hexdigest())
        rc, out, err, s = self.merge(res[0], res[1])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 400)
        # an included file (not the spec) changed between the runs
        with open(inner, "a") as f:
            f.write("# edited\n")
        rc, out, err = self.volley("run", "-q", "--result", res[2], spec)
        self.assertEqual(rc, 99, out + err)
        self.assertNotEqual(self.read_ndjson(res[2])[0]["spec"]["sha256"], meta["spec"]["sha256"])
        rc, out, err, _ = self.merge(res[0], res[2])
        self.assertEqual(rc, 104, out + err)
        self.assertIn("different specs", err)
        self.assertIn("files they include", err)

    def test_dead_run(self):
        files = [f[0] for f in self.two_runs("dead", "count>300", 99)]
        cut = os.path.join(self.tmp, "dead-cut.ndjson")
        with open(files[1]) as f:
            lines = f.readlines()
        with open(cut, "w") as f:
            f.writelines(lines[:-1])
        rc, out, err, _ = self.merge(files[0], cut)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("dead-cut.ndjson: no end line", err)
        self.assertIn("--allow-partial", err)
        res = os.path.join(self.tmp, "partial.ndjson")
        rc, out, err, s = self.merge("--allow-partial", "--result", res, files[0], cut)
        self.assertIn(rc, (0, 99), out + err)
        self.assertIn("partial: 1 run died", out)
        self.assertIn("died: no end line", out)
        self.assertIn("verdict: %s, partial" % ("pass" if rc == 0 else "fail"), out)
        self.assertTrue(s["run"]["partial"])
        # what the dead run's windows hold is merged: its requests count
        in_windows = 0
        lines = self.read_ndjson(cut)
        sid = {x["key"]: str(x["id"]) for x in lines[0]["series"]}["http_reqs"]
        for w in lines[1:]:
            in_windows += w["s"].get(sid, {}).get("n", 0)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 200 + in_windows)
        self.assertTrue(self.read_ndjson(res)[-1]["partial"])

    def test_segments(self):
        files = [f[0] for f in self.two_runs("seg", "count>300", 99)]
        seq = "0,1/3,2/3,1"
        a = self.edit_meta(files[0], "seg-a.ndjson", segment="0:1/3", sequence=seq)
        b = self.edit_meta(files[1], "seg-b.ndjson", segment="2/3:1", sequence=seq)
        b2 = self.edit_meta(files[1], "seg-b2.ndjson", segment="0:1/3", sequence=seq)
        c = self.edit_meta(files[1], "seg-c.ndjson", segment="1/2:1", sequence="0,1/2,1")
        # the same instance twice
        rc, out, err, _ = self.merge(a, b2)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("both ran execution segment 0:1/3", err)
        self.assertIn("seg-a.ndjson", err)
        self.assertIn("seg-b2.ndjson", err)
        # a segment missing: a warning, the exit code as without segments
        rc, out, err, s = self.merge(a, b)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("merged 2 of 3 segments: 1/3:2/3 missing", out)
        self.assertEqual(s["run"]["warnings"], ["merged 2 of 3 segments: 1/3:2/3 missing"])
        # different sequences
        rc, out, err, _ = self.merge(a, c)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("different sequences", err)
        # a segment and a whole run
        rc, out, err, _ = self.merge(a, files[1])
        self.assertEqual(rc, 104, out + err)
        self.assertIn("without one", err)

    def test_partial_merge_merged_again_with_the_rest(self):
        """A merged file of 0:1/3 and 1/3:2/3 records what it covers; merged
        later with 2/3:1 the coverage is the union's; overlaps refused."""
        files = [f[0] for f in self.two_runs("part", "count>300", 99)]
        seq = "0,1/3,2/3,1"
        a = self.edit_meta(files[0], "part-a.ndjson", segment="0:1/3", sequence=seq,
                           run_tags={"instance": "0"})
        mid = self.edit_meta(files[1], "part-m.ndjson", segment="1/3:2/3", sequence=seq,
                             run_tags={"instance": "1"})
        c = self.edit_meta(files[0], "part-c.ndjson", segment="2/3:1", sequence=seq,
                           run_tags={"instance": "2"})
        ab = os.path.join(self.tmp, "part-ab.ndjson")
        rc, out, err, s = self.merge("--result", ab, mid, a)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("merged 2 of 3 segments: 2/3:1 missing", out)
        self.assertEqual(s["run"]["segments"], ["0:1/3", "1/3:2/3"])
        self.assertEqual(s["run"]["sequence"], seq)
        meta = self.read_ndjson(ab)[0]
        self.assertEqual(meta["segments"], ["0:1/3", "1/3:2/3"])
        self.assertEqual(meta["sequence"], seq)
        self.assertEqual(meta["instances"], ["1", "0"])
        self.assertNotIn("instance", meta["run_tags"])   # two of them: the list says which
        self.assertNotIn("segment", meta)
        # with the missing segment: the whole sequence, no warning
        sj = os.path.join(self.tmp, "part-sj.json")
        rc, out, err, s = self.merge("--summary-json", sj, ab, c)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("missing", out)
        self.assertNotIn("warnings", s["run"])
        self.assertEqual(s["run"]["segments"], ["0:1/3", "1/3:2/3", "2/3:1"])
        self.assertEqual(s["run"]["instances"], ["1", "0", "2"])
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 600)
        with open(sj) as f:
            state = json.load(f)["state"]
        self.assertEqual(state["executionSegments"], ["0:1/3", "1/3:2/3", "2/3:1"])
        self.assertEqual(state["executionSegmentSequence"], seq)
        self.assertEqual(state["instances"], ["1", "0", "2"])
        # a segment the merged file has already: refused, naming both
        rc, out, err, _ = self.merge(ab, a)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("both ran execution segment 0:1/3", err)
        self.assertIn("part-ab.ndjson", err)
        # a merged file beside a whole run, or of another sequence
        rc, out, err, _ = self.merge(ab, files[1])
        self.assertEqual(rc, 104, out + err)
        self.assertIn("without one", err)
        half = self.edit_meta(files[1], "part-h.ndjson", segment="1/2:1", sequence="0,1/2,1")
        rc, out, err, _ = self.merge(ab, half)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("different sequences", err)

    def test_trend_stats_and_time_unit(self):
        """--summary-trend-stats and --summary-time-unit as volley run's: the
        merged p(99) in the summary, the export and --summary-json is the
        merged histogram's (the merged result file keeps it), and the p(99)
        of the union of both runs' samples within the histogram's bound."""
        files = self.two_runs("stats", "count>300", 99)
        res = os.path.join(self.tmp, "stats-merged.ndjson")
        sj = os.path.join(self.tmp, "stats-sj.json")
        stats = "avg, med,p(99),max,count"
        rc, out, err, s = self.merge("--summary-trend-stats", stats, "--summary-time-unit=us",
                                     "--result", res, "--summary-json", sj, *[f[0] for f in files])
        self.assertEqual(rc, 0, out + err)
        d = s["metrics"]["http_req_duration"]
        self.assertEqual(sorted(d), ["avg", "count", "max", "med", "p(99)", "thresholds"])
        self.assertEqual(d["count"], 400)
        self.assertEqual(s["run"]["summary_trend_stats"], ["avg", "med", "p(99)", "max", "count"])
        lines = self.read_ndjson(res)
        sid = {x["key"]: str(x["id"]) for x in lines[0]["series"]}["http_req_duration"]
        from_hist = lines[-1]["totals"][sid]["p"]["99"]
        self.assertAlmostEqual(d["p(99)"], from_hist, delta=abs(from_hist) * 1e-9)
        values = sorted(p["data"]["value"] for _, pts in files for p in self.read_ndjson(pts)
                        if p.get("type") == "Point" and p.get("metric") == "http_req_duration")
        want = values[max(1, int(0.99 * len(values) + 0.5)) - 1]
        self.assertLessEqual(abs(d["p(99)"] - want), want / 256 + 0.001, (d["p(99)"], want))
        # the text: the stats asked for, in that order, times in microseconds
        line = next(x for x in out.splitlines() if re.match(r"\s+\S*\s*http_req_duration\.", x))
        cells = re.findall(r"(\w+(?:\([\d.]+\))?)=(\S+)", line)
        self.assertEqual([k for k, _ in cells], ["avg", "med", "p(99)", "max", "count"], line)
        shown = dict(cells)
        self.assertTrue(shown["p(99)"].endswith("µs"), line)
        self.assertAlmostEqual(float(shown["p(99)"][:-2]), d["p(99)"] * 1000, delta=0.01)
        self.assertEqual(shown["count"], "400")
        with open(sj) as f:
            data = json.load(f)
        self.assertEqual(data["options"]["summaryTrendStats"], ["avg", "med", "p(99)", "max", "count"])
        self.assertEqual(data["options"]["summaryTimeUnit"], "us")
        self.assertAlmostEqual(data["metrics"]["http_req_duration"]["values"]["p(99)"], d["p(99)"],
                               delta=abs(d["p(99)"]) * 1e-9)
        self.assertEqual(data["metrics"]["http_req_duration"]["values"]["count"], 400)
        # a bad value: exit 104 with volley run's message
        spec = os.path.join(self.tmp, "stats.yaml")
        for opt, bad in (("--summary-trend-stats", "avg,p99"), ("--summary-time-unit", "min")):
            rc, out, err = self.volley("run", opt, bad, spec)
            self.assertEqual(rc, 104, err)
            run_msg = err.strip().splitlines()[0].split("volley: ", 1)[1]
            rc, out, err, _ = self.merge(opt, bad, files[0][0])
            self.assertEqual(rc, 104, out + err)
            self.assertEqual(err.strip().splitlines()[0], "volley merge: " + run_msg)


BREAKDOWN = """
    version: 1
    name: bd
    setup:
      flow:
        - http: { name: login, url: "${env.NGINX}/fast?setup=1" }
          check: [ { name: logged in, status: 200 } ]
    scenarios:
      a:
        executor: shared-iterations
        vus: 2
        iterations: 12
        flow:
          - http: { name: one, url: "${env.NGINX}/fast" }
            check:
              - { name: ok1, status: 200 }
              - { name: is 404, status: 404 }
      b:
        executor: shared-iterations
        vus: 1
        iterations: 5
        flow:
          - http: { name: two, url: "${env.NGINX}/fast" }
    teardown:
      - http: { name: logout, url: "${env.NGINX}/fast?teardown=1" }
        check: { name: logged out, status: 200 }
"""


class MergeFindingsTest(VolleyCase):
    """QA findings of issue 18 on `volley merge` (qa/issue18-findings.md)."""
    merge = MergeTest.merge
    edit_meta = MergeTest.edit_meta

    def bd_runs(self, *extra):
        spec = self.write_spec(BREAKDOWN, "bd.yaml")
        files = []
        for i in range(2):
            res = os.path.join(self.tmp, "bd-%d.ndjson" % i)
            rc, out, err = self.volley("run", "-q", "--seed", "7", "--result", res, *extra, spec)
            self.assertEqual(rc, 0, out + err)
            files.append(res)
        # side by side: the windows of both on one clock (as --start-at gives)
        start = self.read_ndjson(files[0])[0]["start_unix_ms"]
        return [self.edit_meta(f, "bd-al-%d.ndjson" % i, start_unix_ms=start)
                for i, f in enumerate(files)], spec

    def test_breakdowns_merged_by_key(self):
        files, _ = self.bd_runs()
        sj = os.path.join(self.tmp, "bd-sj.json")
        rc, out, err, s = self.merge("--summary-by", "name", "--summary-json", sj, *files)
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        self.assertEqual(m["http_reqs{name:one}"]["count"], 24)
        self.assertEqual(m["http_reqs{name:two}"]["count"], 10)
        self.assertEqual(m["iterations{scenario:a}"]["count"], 24)
        self.assertEqual(m["iterations{scenario:b}"]["count"], 10)
        self.assertEqual(m["http_req_failed{name:one}"]["fails"], 24)
        self.assertIn("http_req_duration{name:two}", m)
        self.assertRegex(out, r"\{ name:one \}\.+: 24 ")
        with open(sj) as f:
            self.assertEqual(json.load(f)["metrics"]["http_reqs{name:two}"]["values"]["count"], 10)
        # as volley run: per-name ones only with --summary-by name; per-scenario in the export
        rc, out, err, s = self.merge(*files)
        self.assertNotIn("http_reqs{name:one}", s["metrics"])
        self.assertEqual(s["metrics"]["http_reqs{scenario:a}"]["count"], 24)
        self.assertNotIn("{ name:one }", out)
        rc, out, err, s = self.merge("--summary-by", "scenario", *files)
        self.assertRegex(out, r"\{ scenario:b \}\.+: 10 ")
        rc, out, err, _ = self.merge("--summary-by", "url", *files)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("--summary-by", err)

    def test_vus_checks_rates_and_seed(self):
        """vus_max is the peak of the windows' sums (the footer says the
        same); a 2-of-3 rate prints as volley run prints it; the seed is
        carried when the runs agree."""
        files, spec = self.bd_runs()
        junit = os.path.join(self.tmp, "bd.xml")
        rc, out, err, s = self.merge("--out", "junit=" + junit, *files)
        self.assertEqual(rc, 0, out + err)
        # each run: 2 + 1 VUs of its scenarios, 1 of setup, 1 of teardown
        one = self.read_ndjson(files[0])[-1]["vus_max"]
        self.assertEqual(s["metrics"]["vus_max"]["max"], 2 * one)
        self.assertEqual(s["metrics"]["vus_max"]["value"], 2 * one)
        self.assertIn("%d VUs at most (vus_max" % (2 * one), out)
        # 28 of 52 checks pass (12 ok1, setup's and teardown's a run): 53.84% as
        # volley run writes it (rounded down), not printf's 53.85%
        self.assertRegex(out, r"checks\.+: 53\.84% ")
        rc1, out1, err1 = self.volley("run", "-q", spec)
        self.assertRegex(out1, r"checks\.+: 53\.84% ")
        root = ET.parse(junit).getroot()
        seed = [p.get("value") for p in root.iter("property") if p.get("name") == "seed"]
        self.assertEqual(seed, ["7"])
        other = self.edit_meta(files[1], "bd-seed8.ndjson", seed=8)
        rc, out, err, s = self.merge("--out", "junit=" + junit, files[0], other)
        seed = [p.get("value") for p in ET.parse(junit).getroot().iter("property")
                if p.get("name") == "seed"]
        self.assertEqual(seed, ["0"])

    def test_setup_elsewhere_not_counted(self):
        spec = self.write_spec(BREAKDOWN, "bd.yaml")
        sd = os.path.join(self.tmp, "bd-setup.json")
        rc, out, err = self.volley("setup", spec, "-o", sd)
        self.assertEqual(rc, 0, out + err)
        files = []
        for i in range(2):
            res = os.path.join(self.tmp, "bds-%d.ndjson" % i)
            rc, out, err = self.volley("run", "-q", "--setup-data", sd, "--no-teardown",
                                       "--result", res, spec)
            self.assertEqual(rc, 0, out + err)
            files.append(res)
        start = self.read_ndjson(files[0])[0]["start_unix_ms"]
        files = [self.edit_meta(f, "bds-al-%d.ndjson" % i, start_unix_ms=start)
                 for i, f in enumerate(files)]
        rc, out, err, s = self.merge(*files)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("✓ logged in", out)
        self.assertNotIn("✓ logged out", out)
        self.assertIn("- logged in (never evaluated)", out)
        # 3 VUs of the scenarios in each run; setup's and teardown's ran elsewhere
        self.assertEqual(s["metrics"]["vus_max"]["max"], 6)
        self.assertIn("6 VUs at most", out)

    def test_geometry_and_versions(self):
        files, _ = self.bd_runs()
        meta = self.read_ndjson(files[1])[0]
        for field, value in (("half_log2", 7), ("max_log2", 30), ("geometry", "volley-hdr-2")):
            hist = dict(meta["hist"])
            hist[field] = value
            other = self.edit_meta(files[1], "bd-geo.ndjson", hist=hist)
            rc, out, err, _ = self.merge(files[0], other)
            self.assertEqual(rc, 104, out + err)
            self.assertIn("different histogram geometries", err)
            self.assertIn("bd-geo.ndjson", err)
            self.assertIn(os.path.basename(files[0]), err)
            self.assertIn("%s=%s" % (field, value) if field != "geometry" else value, err)
        other = self.edit_meta(files[1], "bd-ver.ndjson", volley="9.0.0")
        rc, out, err, s = self.merge(files[0], other)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(err.count("different volley versions"), 1, err)
        self.assertIn("9.0.0", err)
        self.assertEqual(s["metrics"]["iterations"]["count"], 38)   # setup and teardown too

    def test_partial_warnings_collapsed(self):
        files, _ = self.bd_runs()
        cut = os.path.join(self.tmp, "bd-cut.ndjson")
        with open(files[1]) as f:
            lines = f.readlines()
        with open(cut, "w") as f:
            f.writelines(lines[:-1])
        rc, out, err, _ = self.merge("--allow-partial", files[0], cut)
        self.assertIn(rc, (0, 99), out + err)
        self.assertEqual(out.count("leave out the runs that died"), 1, out)
        self.assertIn("percentiles of ", out)
        self.assertIn("http_req_duration", out)
        self.assertIn("the end lines of the runs that have one", out)


if __name__ == "__main__":
    unittest.main()
