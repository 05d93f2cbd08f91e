"""`volley merge RESULT...`: the union of runs of one spec (written by
`volley run --result`), against the loopback nginx. Counts add up, the
merged p95 is the p95 of the union of both runs' samples (within the
histogram's bound, hdr.h), and thresholds are judged again over the
merged data: one that fails in each run alone passes in the union, one
that passes alone fails it."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from volleytest import VolleyCase  # noqa: E402

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
        rc, out, err, _ = self.merge()
        self.assertEqual(rc, 104, out + err)
        self.assertIn("at least one RESULT", err)


if __name__ == "__main__":
    unittest.main()
