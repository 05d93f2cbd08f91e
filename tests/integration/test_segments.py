"""--execution-segment / --execution-segment-sequence: three instances
(processes, a third each) against the loopback nginx split every executor
as k6 does: shared iterations add up exactly, per-VU iterations equal the
one-machine count, VUs split, a zero share is skipped and said, unique pool
rows are disjoint and cover the pool, every sample carries the `instance`
tag, and the result and export record the segment. Bad values exit 104.
(The N-instances-vs-one comparison of rates and percentiles is
tests/integration/test_scaletest*.)"""
import collections
import json
import os
import re
import subprocess
import unittest

from volleytest import VOLLEY, VolleyCase

SEQ = "0,1/3,2/3,1"
SEGS = ["0:1/3", "1/3:2/3", "2/3:1"]

SPEC = """
version: 1
name: segments
pools:
  ids:
    rows: [{n: 0}, {n: 1}, {n: 2}, {n: 3}, {n: 4}, {n: 5}, {n: 6}, {n: 7}, {n: 8}, {n: 9}, {n: 10}]
    pick: unique
scenarios:
  shared:
    executor: shared-iterations
    vus: 4
    iterations: 301
    flow:
      - http: { url: "${env.NGINX}/fast" }
  pervu:
    executor: per-vu-iterations
    vus: 5
    iterations: 3
    flow:
      - http: { url: "${env.NGINX}/fast" }
  steady:
    executor: constant-vus
    vus: 5
    duration: 1s
    flow:
      - sleep: 200ms
  pair:
    executor: per-vu-iterations
    vus: 2
    iterations: 2
    flow:
      - sleep: 1ms
  arrivals:
    executor: constant-arrival-rate
    rate: 30
    time_unit: 1s
    duration: 1s
    pre_allocated_vus: 3
    max_vus: 3
    flow:
      - http: { url: "${env.NGINX}/fast" }
  uniq:
    executor: shared-iterations
    vus: 3
    iterations: 100
    use: ids
    flow:
      - log: "row=${row.n}"
"""


class Segments(VolleyCase):
    @classmethod
    def setUpClass(cls):
        """One run of three instances, shared by the tests below."""
        case = cls("test_shared_iterations_sum_exactly")
        case.setUp()
        cls.tmp_dir = case.tmp
        spec = case.write_spec(SPEC)
        env = dict(os.environ)
        env["NGINX"] = os.environ.get("TEST_NGINX_URL", "http://127.0.0.1:18181")
        procs = []
        for i, seg in enumerate(SEGS):
            d = os.path.join(case.tmp, str(i))
            os.makedirs(d)
            args = [VOLLEY, "run", "--execution-segment", seg, "--execution-segment-sequence", SEQ,
                    "-o", "json-out=" + os.path.join(d, "out.ndjson"),
                    "--summary-export", os.path.join(d, "summary.json"),
                    "--result", os.path.join(d, "result.ndjson"), spec]
            procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, env=env))
        cls.runs = []
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=60)
            d = os.path.join(case.tmp, str(i))
            points = [r for r in cls.read_ndjson(os.path.join(d, "out.ndjson")) if r.get("type") == "Point"]
            with open(os.path.join(d, "summary.json")) as f:
                summary = json.load(f)
            meta = cls.read_ndjson(os.path.join(d, "result.ndjson"))[0]
            cls.runs.append({"rc": p.returncode, "out": out, "err": err, "points": points,
                             "summary": summary, "meta": meta})

    def iterations(self, run):
        c = collections.Counter()
        for p in run["points"]:
            if p["metric"] == "iterations":
                c[p["data"]["tags"]["scenario"]] += 1
        return c

    def test_all_instances_pass(self):
        for i, r in enumerate(self.runs):
            self.assertEqual(r["rc"], 0, (i, r["err"]))

    def test_shared_iterations_sum_exactly(self):
        per = [self.iterations(r)["shared"] for r in self.runs]
        self.assertEqual(sum(per), 301, per)
        # 4 VUs over thirds: 2, 1, 1 (k6's striping); the iterations follow the VUs
        self.assertEqual(per, [151, 75, 75])
        self.assertEqual(sum(r["summary"]["metrics"]["iterations"]["count"] for r in self.runs),
                         sum(sum(self.iterations(r).values()) for r in self.runs))

    def test_per_vu_iterations_scale_vus_not_iterations(self):
        per = [self.iterations(r)["pervu"] for r in self.runs]
        self.assertEqual(per, [6, 6, 3])   # VUs 2, 2, 1, three iterations each
        self.assertEqual(sum(per), 15)

    def test_constant_vus_split(self):
        vus = []
        for r in self.runs:
            m = re.search(r"\* steady: (\d+) looping VUs", r["out"])
            self.assertIsNotNone(m, r["out"])
            vus.append(int(m.group(1)))
        self.assertEqual(sum(vus), 5, vus)
        self.assertEqual(vus, [2, 2, 1])

    def test_arrivals_split_from_the_global_schedule(self):
        started = [self.iterations(r)["arrivals"] for r in self.runs]
        dropped = [sum(p["data"]["value"] for p in r["points"]
                       if p["metric"] == "dropped_iterations") for r in self.runs]
        # 30 arrivals in the second, a third each (one VU each of 3 max VUs)
        self.assertEqual([s + d for s, d in zip(started, dropped)], [10, 10, 10], (started, dropped))
        for r in self.runs:
            self.assertIn("(this instance: 1 of every 3 arrivals)", r["out"])

    def test_zero_share_is_skipped_and_said(self):
        last = self.runs[2]
        self.assertIn("scenario pair: execution segment 2/3:1 has no share of its VUs (2 in all): "
                      "skipped on this instance", last["err"])
        self.assertIn("* pair: no share for segment 2/3:1: skipped", last["out"])
        self.assertIn("WARNING: scenario pair: execution segment 2/3:1 has no share", last["out"])
        self.assertEqual(self.iterations(last)["pair"], 0)
        self.assertEqual([self.iterations(r)["pair"] for r in self.runs[:2]], [2, 2])
        self.assertNotIn("no share", self.runs[0]["err"])

    def test_unique_rows_disjoint_and_cover_the_pool(self):
        seen = []
        for r in self.runs:
            rows = [int(x) for x in re.findall(r"row=(\d+)", r["err"])]
            self.assertEqual(len(rows), len(set(rows)), rows)
            seen.append(set(rows))
        for i in range(3):
            for j in range(i):
                self.assertFalse(seen[i] & seen[j], seen)
        self.assertEqual(set().union(*seen), set(range(11)))
        # striped as the VUs are: instance i takes rows i, i+3, ...
        self.assertEqual(seen[0], {0, 3, 6, 9})

    def test_instance_tag_on_every_sample(self):
        for i, r in enumerate(self.runs):
            self.assertTrue(r["points"])
            tags = {p["data"]["tags"].get("instance") for p in r["points"]}
            self.assertEqual(tags, {str(i)})

    def test_segment_in_result_meta_and_export(self):
        for i, r in enumerate(self.runs):
            self.assertEqual(r["meta"]["type"], "meta")
            self.assertEqual(r["meta"]["segment"], SEGS[i])
            self.assertEqual(r["meta"]["sequence"], SEQ)
            self.assertEqual(r["meta"]["run_tags"]["instance"], str(i))
            self.assertEqual(r["summary"]["run"]["segment"], SEGS[i])
            self.assertEqual(r["summary"]["run"]["sequence"], SEQ)
            self.assertIn("segment: %s of %s (instance %d)" % (SEGS[i], SEQ, i), r["out"])


def _rows(n):
    return "[" + ", ".join("{n: %d}" % i for i in range(n)) + "]"


# Every scenario has its own unique pool (mixed: one pool, two scenarios
# whose VUs split differently). Row counts: psi 40 > 31 iterations, short
# ones fewer rows than iterations (the pool is the limit).
UNIQUE = """
version: 1
name: unique-segments
pools:
  psi: {rows: %s, pick: unique}
  psishort: {rows: %s, pick: unique}
  ppv: {rows: %s, pick: unique}
  ppvshort: {rows: %s, pick: unique}
  pcar: {rows: %s, pick: unique}
  pcarshort: {rows: %s, pick: unique}
  pcv: {rows: %s, pick: unique}
  mixed: {rows: %s, pick: unique}
scenarios:
  si: {executor: shared-iterations, vus: 4, iterations: 31, use: psi, flow: [{log: "si row=${row.n}"}]}
  sishort: {executor: shared-iterations, vus: 4, iterations: 31, use: psishort,
            flow: [{log: "sishort row=${row.n}"}]}
  pv: {executor: per-vu-iterations, vus: 4, iterations: 5, use: ppv, flow: [{log: "pv row=${row.n}"}]}
  pvshort: {executor: per-vu-iterations, vus: 4, iterations: 5, use: ppvshort,
            flow: [{log: "pvshort row=${row.n}"}]}
  car: {executor: constant-arrival-rate, rate: 30, time_unit: 1s, duration: 1s, pre_allocated_vus: 4,
        max_vus: 4, use: pcar, flow: [{log: "car row=${row.n}"}]}
  carshort: {executor: constant-arrival-rate, rate: 30, time_unit: 1s, duration: 1s,
             pre_allocated_vus: 4, max_vus: 4, use: pcarshort, flow: [{log: "carshort row=${row.n}"}]}
  cv: {executor: constant-vus, vus: 4, duration: 1s, use: pcv, flow: [{log: "cv row=${row.n}"}, {sleep: 20ms}]}
  mix1: {executor: shared-iterations, vus: 4, iterations: 10, use: mixed, flow: [{log: "mixed row=${row.n}"}]}
  mix2: {executor: per-vu-iterations, vus: 3, iterations: 3, use: mixed, flow: [{log: "mixed row=${row.n}"}]}
""" % (_rows(40), _rows(25), _rows(30), _rows(14), _rows(35), _rows(12), _rows(12), _rows(40))


class UniquePoolsFollowTheIterations(VolleyCase):
    """pick: unique under segments: the instances' rows are the one-machine
    run's rows, none taken twice, and each instance runs its whole share
    when the pool is large enough (rows split as the iterations do)."""

    @classmethod
    def setUpClass(cls):
        case = cls("test_union_is_the_single_run")
        case.setUp()
        cls.tmp_dir = case.tmp
        spec = case.write_spec(UNIQUE)
        runs = [[]] + [["--execution-segment", seg, "--execution-segment-sequence", SEQ]
                       for seg in SEGS]
        procs = [subprocess.Popen([VOLLEY, "run", "-q", *args, spec], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for args in runs]
        cls.rows = []   # [single, seg0, seg1, seg2]: {scenario-label: [rows]}
        cls.errs = []
        for p in procs:
            _, err = p.communicate(timeout=60)
            case.assertEqual(p.returncode, 0, err)
            got = collections.defaultdict(list)
            for label, n in re.findall(r"(\w+) row=(\d+)", err):
                got[label].append(int(n))
            cls.rows.append(got)
            cls.errs.append(err)

    def split(self, label):
        return [self.rows[i + 1][label] for i in range(3)]

    def test_no_row_twice(self):
        for label in ("si", "sishort", "pv", "pvshort", "car", "carshort", "cv", "mixed"):
            per = self.split(label)
            every = [r for rows in per for r in rows]
            self.assertEqual(len(every), len(set(every)), (label, per))
            single = self.rows[0][label]
            self.assertEqual(len(single), len(set(single)), (label, single))

    def test_union_is_the_single_run(self):
        # the iterations (or the pool) are the limit: the same rows as one machine
        for label, n in (("si", 31), ("sishort", 25), ("pv", 20), ("pvshort", 14), ("car", 30),
                         ("carshort", 12), ("cv", 12)):
            single = sorted(self.rows[0][label])
            self.assertEqual(single, list(range(n)), label)
            union = sorted(r for rows in self.split(label) for r in rows)
            self.assertEqual(union, single, (label, self.split(label)))

    def test_each_instance_runs_its_share(self):
        # 4 VUs over thirds: 2, 1, 1, so the iterations are 16, 8, 7 of 31 and
        # 10, 5, 5 of 20; with 40 and 30 rows none runs short
        self.assertEqual([len(r) for r in self.split("si")], [16, 8, 7])
        self.assertEqual([len(r) for r in self.split("pv")], [10, 5, 5])
        self.assertEqual(sum(len(r) for r in self.split("car")), 30)
        for err in self.errs:
            for sc in ("si:", "pv:", "car:"):
                self.assertNotIn("scenario " + sc.rstrip(":") + " stops", err)

    def test_a_short_pool_is_used_up_everywhere(self):
        for label in ("sishort", "pvshort", "carshort", "cv"):
            for i, err in enumerate(self.errs[1:]):
                self.assertRegex(err, r"pool \w+ is used up \(pick: unique, \d+ rows\): "
                                 r"scenario %s stops" % label, (label, i))


RANDOM = """
version: 1
pools:
  r: {rows: %s, pick: random}
scenarios:
  before: {executor: per-vu-iterations, vus: 2, iterations: 1, flow: [{sleep: 1ms}]}
  pv: {executor: per-vu-iterations, vus: 5, iterations: 6, use: r, flow: [{log: "pv row=${row.n}"}]}
""" % _rows(1000)


class RandomPicksFollowTheGlobalVU(VolleyCase):
    def test_split_draws_what_one_machine_draws(self):
        # --seed: each VU's stream is that of the one-machine run's VU of the
        # same global number, so the instances' picks together are the
        # single run's (per-vu-iterations: the same iterations per VU)
        spec = self.write_spec(RANDOM)
        runs = [[]] + [["--execution-segment", seg, "--execution-segment-sequence", SEQ]
                       for seg in SEGS]
        got = []
        for args in runs:
            rc, _, err = self.volley("run", "-q", "--seed", "7", *args, spec)
            self.assertEqual(rc, 0, err)
            got.append(sorted(int(n) for n in re.findall(r"pv row=(\d+)", err)))
        self.assertEqual(len(got[0]), 30)
        self.assertEqual(sorted(got[1] + got[2] + got[3]), got[0])
        self.assertEqual([len(g) for g in got[1:]], [12, 12, 6])


SMALL = """
version: 1
scenarios:
  s:
    executor: shared-iterations
    vus: 2
    iterations: 9
    flow:
      - http: { url: "${env.NGINX}/fast" }
"""


class SegmentOptions(VolleyCase):
    def test_tag_overrides_instance_and_forms_normalize(self):
        out = os.path.join(self.tmp, "o.ndjson")
        rc, _, err, summary = self.run_spec(SMALL, "--execution-segment", "50%", "--tag", "instance=east",
                                            "-o", "json-out=" + out)
        self.assertEqual(rc, 0, err)
        pts = [r for r in self.read_ndjson(out) if r.get("type") == "Point"]
        self.assertEqual({p["data"]["tags"]["instance"] for p in pts}, {"east"})
        self.assertEqual(summary["run"]["segment"], "0:1/2")
        self.assertEqual(summary["run"]["sequence"], "0,1/2,1")
        self.assertEqual(summary["metrics"]["iterations"]["count"], 5)   # 1 of 2 VUs: 5 of 9

    def test_no_segment_no_instance_tag(self):
        out = os.path.join(self.tmp, "o.ndjson")
        rc, _, err, summary = self.run_spec(SMALL, "-o", "json-out=" + out)
        self.assertEqual(rc, 0, err)
        pts = [r for r in self.read_ndjson(out) if r.get("type") == "Point"]
        self.assertTrue(pts)
        self.assertFalse(any("instance" in p["data"]["tags"] for p in pts))
        self.assertNotIn("segment", summary["run"])
        self.assertEqual(summary["metrics"]["iterations"]["count"], 9)

    def test_bad_values_exit_104(self):
        spec = self.write_spec(SMALL)
        bad = [
            (["--execution-segment", "1a5"], "--execution-segment", "not a valid"),
            (["--execution-segment", "55%:50%"], "--execution-segment", "must be less than its end"),
            (["--execution-segment", "0:5/4"], "--execution-segment", "can't be more than 1"),
            (["--execution-segment", "33.3%"], "--execution-segment", "whole percents"),
            (["--execution-segment", "1/3", "--execution-segment-sequence", "0,1/2,1/4,1"],
             "--execution-segment-sequence", "must be less than its end"),
            (["--execution-segment", "1/3", "--execution-segment-sequence", "1/2"],
             "--execution-segment-sequence", "at least 2 points"),
            (["--execution-segment", "1/3:2/3", "--execution-segment-sequence", "0,1/4,1"],
             "--execution-segment", "not one of the sequence's segments"),
            (["--execution-segment-sequence", "0,1/2,1"], "--execution-segment-sequence",
             "needs --execution-segment"),
        ]
        for args, opt, why in bad:
            rc, out, err = self.volley("run", "-q", *args, spec)
            self.assertEqual(rc, 104, (args, err))
            self.assertIn("volley: " + opt, err)
            self.assertIn(why, err)
            if "needs" not in why and "not one of" not in why:
                self.assertIn("expected ", err)
                self.assertIn("e.g. ", err)
            self.assertEqual(out, "")
        rc, out, err = self.volley("validate", "--execution-segment", "2:3", spec)
        self.assertEqual(rc, 104, err)


if __name__ == "__main__":
    unittest.main()
