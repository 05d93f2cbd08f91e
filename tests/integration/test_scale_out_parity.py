"""Scale-out parity (issue 18, "Tests and numbers"): N = 3 volley
processes on this machine, each with its execution segment of
0,1/3,2/3,1 and started together with --start-at, against one process
running the same spec, all against the loopback nginx.

One spec runs every executor at once (about 3 s):
- shared-iterations and per-vu-iterations: the instances' iteration
  counts add up exactly to the single run's;
- constant-arrival-rate (300/s for 3 s on /delay10) and
  ramping-arrival-rate: iteration starts (iterations + dropped) add up to
  the single run's, the constant rate's within 0.5% (and exactly: volley
  fires a planned tick or counts it dropped);
- both arrival rates keep the single plan's tick schedule: each instance
  fires exactly the global ticks k6 gives its segment, each at the
  global tick's time (when it was due: a started or dropped iteration's
  volley_schedule_lag sample is its start less the lag);
- ramping-vus: the VUs each instance ran (seen by a recording server:
  each request says its process and ${vu.id}) add up to the single
  plan's;
- each instance's own share -- VUs of every scenario, iterations, ticks
  -- is the one k6 plans for that segment, computed here independently
  by k6stripe.py (k6's striping, including the re-split of iterations
  and ticks by the VUs' split), not only their sums;
- the merged p50/p95/p99 of /delay10 are the union's percentiles within
  the histogram's bound (against every instance's raw samples), and the
  single run's within that bound plus the single run's noise;
- a threshold that passes in every instance but fails in the aggregate
  (iterations{scenario:car} count<600) fails the merge (exit 99);
- every sample of an instance carries its `instance` tag (the segment's
  place in the sequence), its --result meta line its segment and
  sequence; the single run has none; an instance with no share of a
  scenario (2 VUs over 3) says so.

The single run starts with the instances (the same --start-at), so the
shared machine's drift reaches both sides alike (run one after the
other, a busy neighbour moved a 900-sample p95 by more than 10 ms
between them). The single run's noise for a percentile: the 99%
bootstrap half-width of its samples and of the union's (the sampling
noise of a 900-sample percentile) and 3% of the value for the process
layout (one process at 300/s beside three at 100/s each on the same two
cores)."""
import datetime
import json
import os
import random
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from volleytest import NGINX, VOLLEY, Recorder, VolleyCase  # noqa: E402
import k6stripe  # noqa: E402

N = 3
SEQUENCE = "0,1/3,2/3,1"
SEGMENTS = ["0:1/3", "1/3:2/3", "2/3:1"]

SPEC = """
version: 1
name: scale-out-parity
scenarios:
  si:
    executor: shared-iterations
    vus: 4
    iterations: 301
    flow:
      - http: { name: si, url: "${env.NGINX}/fast" }
  pvi:
    executor: per-vu-iterations
    vus: 5
    iterations: 7
    flow:
      - http: { name: pvi, url: "${env.NGINX}/fast" }
  tiny:
    executor: per-vu-iterations
    vus: 2
    iterations: 3
    flow:
      - http: { name: tiny, url: "${env.NGINX}/fast" }
  car:
    executor: constant-arrival-rate
    rate: 300
    time_unit: 1s
    duration: 3s
    pre_allocated_vus: 5
    max_vus: 10
    flow:
      - http: { name: delay10, url: "${env.NGINX}/delay10" }
  rar:
    executor: ramping-arrival-rate
    start_rate: 0
    time_unit: 1s
    pre_allocated_vus: 8
    max_vus: 8
    stages:
      - { duration: 1s, target: 100 }
      - { duration: 1s, target: 100 }
      - { duration: 1s, target: 1 }
    flow:
      - http: { name: rar, url: "${env.NGINX}/fast" }
  rvu:
    executor: ramping-vus
    start_vus: 0
    stages:
      - { duration: 0.5s, target: 7 }
      - { duration: 1.5s, target: 7 }
      - { duration: 0.5s, target: 0 }
    flow:
      - http: { name: rvu, url: "${env.REC}/rvu?inst=${env.INST}&vu=${vu.id}" }
      - sleep: 100ms
thresholds:
  "iterations{scenario:car}": ["count<600"]
  "http_req_duration{scenario:car}": ["p(99)<5000"]
"""



def RAR_AREA(t):
    """rar's arrivals due by t seconds (its stages' area): volley's k-th
    arrival (from 0) is due when the area reaches k."""
    if t <= 1:
        return 50 * t * t
    if t <= 2:
        return 50 + 100 * (t - 1)
    u = t - 2
    return 150 + 100 * u - 49.5 * u * u


# The plan of each scenario as k6stripe needs it.
PLAN = {
    "si": ("shared-iterations", {"vus": 4, "iterations": 301}),
    "pvi": ("per-vu-iterations", {"vus": 5, "iterations": 7}),
    "tiny": ("per-vu-iterations", {"vus": 2, "iterations": 3}),
    "car": ("constant-arrival-rate", {"max_vus": 10, "pre_allocated_vus": 5}),
    "rar": ("ramping-arrival-rate", {"max_vus": 8, "pre_allocated_vus": 8}),
    "rvu": ("ramping-vus", {"max_vus": 7}),
}


def pct(values, q):
    """Nearest rank, as hdr.c and test_merge."""
    rank = max(1, int(q * len(values) + 0.5))
    return values[rank - 1]


def bootstrap_halfwidth(values, q, rounds=200):
    """Half the 99% range of the percentile over resamples of the run's
    own samples (seeded: the same samples give the same width)."""
    rnd = random.Random(18)
    n = len(values)
    got = sorted(pct(sorted(values[rnd.randrange(n)] for _ in range(n)), q) for _ in range(rounds))
    return (got[int(0.995 * rounds) - 1] - got[int(0.005 * rounds)]) / 2


def parse_ms(text):
    """A summary time ("11.34ms", "980.5µs", "1.2s") in ms, and half its
    last printed digit (the rounding)."""
    m = re.fullmatch(r"([\d.]+)(µs|ms|s)", text)
    assert m, text
    unit = {"µs": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    decimals = len(m.group(1).split(".")[1]) if "." in m.group(1) else 0
    return float(m.group(1)) * unit, 0.5 * 10 ** -max(decimals, 2) * unit


class Run:
    """One volley run's files, read."""

    def __init__(self, result, points, rc, out, err):
        self.path, self.rc, self.out, self.err = result, rc, out, err
        lines = VolleyCase.read_ndjson(result)
        self.meta, self.end = lines[0], lines[-1]
        assert self.meta["type"] == "meta" and self.end["type"] == "end", (result, self.end)
        self.ids = {s["key"]: str(s["id"]) for s in self.meta["series"]}
        self.points = [p for p in VolleyCase.read_ndjson(points) if p.get("type") == "Point"]

    def total(self, key, field="sum"):
        sid = self.ids.get(key)
        if sid is None or sid not in self.end["totals"]:
            return 0
        return self.end["totals"][sid].get(field, 0)

    def iterations(self, sc):
        return int(self.total("iterations{scenario:%s}" % sc))

    def starts(self, sc):
        """Iteration starts of an arrival-rate scenario: ran or dropped."""
        return self.iterations(sc) + int(self.total("dropped_iterations{scenario:%s}" % sc))

    def planned_vus(self, sc):
        for s in self.meta["scenarios"]:
            if s["name"] == sc:
                return s["max_vus"]
        return 0

    def due_ms(self, sc):
        """When each iteration of an arrival-rate scenario was due, in ms
        since the run's start: a started or dropped iteration's
        volley_schedule_lag sample is taken at its start, lag = start - due."""
        out = []
        for p in self.points:
            if p["metric"] == "volley_schedule_lag" and p["data"]["tags"].get("scenario") == sc:
                t = p["data"]["time"]   # 2026-12-07T06:47:05.798771840+00:00
                sec = datetime.datetime.fromisoformat(t[:19] + "+00:00").timestamp()
                out.append(sec * 1000 + int(t[20:29].ljust(9, "0")) / 1e6 - p["data"]["value"] -
                           self.meta["start_unix_ms"])
        return sorted(out)

    def durations(self, sc):
        return [p["data"]["value"] for p in self.points
                if p["metric"] == "http_req_duration" and p["data"]["tags"].get("scenario") == sc]


class ScaleOutParity(VolleyCase):
    @classmethod
    def setUpClass(cls):
        k6stripe.self_check()   # the reference itself against k6's own examples

    def setUp(self):
        super().setUp()
        self.rec = Recorder()
        self.addCleanup(self.rec.stop)

    def vus_seen(self, tag):
        """The distinct VUs of one process that sent rvu's requests."""
        return len({r["path"] for r in self.requests if "inst=%s&" % tag in r["path"]})

    def launch(self, spec, tag, extra):
        result = os.path.join(self.tmp, tag + ".result.ndjson")
        points = os.path.join(self.tmp, tag + ".points.ndjson")
        args = [VOLLEY, "run", "--result", result, "--out", "json-out=" + points] + extra + [spec]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, NGINX=NGINX, REC=self.rec.url, INST=tag))
        return p, result, points

    def collect(self, launched):
        p, result, points = launched
        out, err = p.communicate(timeout=120)
        self.assertTrue(os.path.exists(result), "no result file: rc %d\n%s%s" % (p.returncode, out, err))
        return Run(result, points, p.returncode, out, err)

    def test_instances_add_up_to_one_run(self):
        spec = self.write_spec(SPEC)
        # The instances and the single run start together (--start-at, 2 s
        # ahead so all four are set up): the same machine, the same
        # moments, so a shared machine's drift reaches both sides alike.
        at = "%.3f" % (time.time() + 2.0)
        launched = [self.launch(spec, "inst%d" % i,
                                ["--start-at", at, "--execution-segment", SEGMENTS[i],
                                 "--execution-segment-sequence", SEQUENCE])
                    for i in range(N)]
        alone = self.launch(spec, "single", ["--start-at", at])
        inst = [self.collect(x) for x in launched]
        for i, r in enumerate(inst):
            # car: 360/270/270 iterations, each under the threshold's 600
            self.assertEqual(r.rc, 0, "instance %d\n%s%s" % (i, r.out, r.err))
        one = self.collect(alone)
        self.assertEqual(one.rc, 99, one.out + one.err)   # car's 900 >= 600
        self.requests = self.rec.taken()

        # The instance tag on every sample of an instance, one value each;
        # none without segments.
        seen = []
        for i, r in enumerate(inst):
            values = {p["data"]["tags"].get("instance") for p in r.points}
            self.assertEqual(len(values), 1, ("instance %d" % i, values))
            self.assertIsNotNone(next(iter(values)), "instance %d: samples without the instance tag" % i)
            seen.append(values.pop())
        self.assertEqual(seen, [str(i) for i in range(N)])   # the segment's place in the sequence
        for i, r in enumerate(inst):
            self.assertEqual((r.meta.get("segment"), r.meta.get("sequence"), r.meta["run_tags"].get("instance")),
                             (SEGMENTS[i], SEQUENCE, str(i)))
        self.assertNotIn("segment", one.meta)
        self.assertFalse([p for p in one.points if "instance" in p["data"]["tags"]][:1])

        # The single plan, from the single run.
        self.assertEqual(one.iterations("si"), 301)
        self.assertEqual(one.iterations("pvi"), 35)
        self.assertEqual(one.iterations("tiny"), 6)
        self.assertEqual(one.starts("car"), 900)   # ticks at 0, 1/300 s, ... < 3 s
        ticks = {"car": one.starts("car"), "rar": one.starts("rar")}
        self.assertGreater(ticks["rar"], 190)
        self.assertEqual(self.vus_seen("single"), 7)

        # Each instance's share, as k6 plans it.
        for sc, (executor, cfg) in PLAN.items():
            if sc in ticks:
                cfg = dict(cfg, ticks=ticks[sc])
            want = k6stripe.instance_shares(SEQUENCE.split(","), executor, **cfg)
            got = []
            for r in inst:
                g = {"vus": r.planned_vus(sc)}
                if "iterations" in want[0]:
                    g["iterations"] = r.iterations(sc)
                if "ticks" in want[0]:
                    g["ticks"] = r.starts(sc)
                got.append(g)
            want = [{k: w[k] for k in g} for w, g in zip(want, got)]
            self.assertEqual(got, want, "%s (%s): instances vs k6's plan" % (sc, executor))

        # Sums against the single run.
        for sc in ("si", "pvi", "tiny"):
            self.assertEqual(sum(r.iterations(sc) for r in inst), one.iterations(sc), sc)
        car = sum(r.starts("car") for r in inst)
        self.assertLessEqual(abs(car - one.starts("car")), 0.005 * one.starts("car"), (car, one.starts("car")))
        self.assertEqual(car, one.starts("car"))
        self.assertEqual(sum(r.starts("rar") for r in inst), one.starts("rar"))
        self.assertEqual([self.vus_seen("inst%d" % i) for i in range(N)],
                         [w["vus"] for w in k6stripe.instance_shares(SEQUENCE.split(","), "ramping-vus",
                                                                     max_vus=7)])
        self.assertEqual(sum(self.vus_seen("inst%d" % i) for i in range(N)), self.vus_seen("single"))
        # the looping VUs' iterations follow the VUs (timing, not a plan)
        rvu = sum(r.iterations("rvu") for r in inst)
        self.assertLessEqual(abs(rvu - one.iterations("rvu")), 0.15 * one.iterations("rvu"),
                             (rvu, one.iterations("rvu")))
        # The arrival rates keep the single plan's tick schedule: an
        # instance fires the global ticks it owns (k6's stripes of the
        # sequence re-split by max_vus), at the global ticks' times.
        for sc, area in (("car", lambda t: 300 * t), ("rar", RAR_AREA)):
            single_ticks = [area(d / 1000) for d in one.due_ms(sc)]
            self.assertEqual([round(k) for k in single_ticks], list(range(ticks[sc])), sc)
            seq = k6stripe.Striping(SEQUENCE.split(","))
            for i, r in enumerate(inst):
                g, k = seq.regrouped(PLAN[sc][1]["max_vus"], i)
                got = [area(d / 1000) for d in r.due_ms(sc)]
                # start_unix_ms is in whole ms: a tick index within 0.4
                self.assertLess(max(abs(x - round(x)) for x in got), 0.4, (sc, i, got[:5]))
                self.assertEqual([round(x) for x in got], g.elements(k, ticks[sc]),
                                 "%s: instance %d's ticks" % (sc, i))
        # tiny's 2 VUs over 3 instances: the last has no share and says so
        self.assertEqual(inst[2].iterations("tiny"), 0)
        self.assertRegex(inst[2].err, r"scenario tiny: execution segment 2/3:1 has no share")
        self.assertNotIn("no share", inst[0].err + inst[1].err)

        # The merge: counts, the aggregate-only threshold, percentiles.
        export = os.path.join(self.tmp, "merged.json")
        rc, out, err = self.volley("merge", "--summary-export", export, *[r.path for r in inst])
        self.assertEqual(rc, 99, out + err)
        with open(export) as f:
            merged = json.load(f)
        car_ran = sum(r.iterations("car") for r in inst)   # started less dropped
        self.assertEqual(merged["metrics"]["iterations{scenario:car}"]["count"], car_ran)
        self.assertTrue(merged["metrics"]["iterations{scenario:car}"]["thresholds"]["count<600"])
        self.assertIn('✗ iterations{scenario:car} "count<600": count=%d' % car_ran, out)
        self.assertEqual(merged["metrics"]["iterations"]["count"],
                         sum(r.end["iterations"]["complete"] for r in inst))

        m = re.search(r'http_req_duration\{scenario:car\} "p\(99\)<5000": p\(99\)=(\S+)', out)
        self.assertTrue(m, out)
        p99, p99_rounding = parse_ms(m.group(1))
        md = merged["metrics"]["http_req_duration{scenario:car}"]
        got = {0.50: (md["med"], 0), 0.95: (md["p(95)"], 0), 0.99: (p99, p99_rounding)}
        union = sorted(v for r in inst for v in r.durations("car"))
        single = sorted(one.durations("car"))
        self.assertEqual(len(union), car_ran)
        self.assertEqual(len(single), one.iterations("car"))
        for q, (value, rounding) in got.items():
            # exact: the union of the instances' samples, to the bound
            want = pct(union, q)
            bound = want / 256 + 0.001
            self.assertLessEqual(abs(value - want), bound + rounding,
                                 "merged p%g %.4f vs the union's %.4f" % (q * 100, value, want))
            # parity: the single run's, to the bound plus its noise
            single_q = pct(single, q)
            noise = bootstrap_halfwidth(single, q) + bootstrap_halfwidth(union, q) + 0.03 * single_q
            self.assertLessEqual(abs(value - single_q), single_q / 256 + 0.001 + rounding + noise,
                                 "merged p%g %.4f vs the single run's %.4f (noise %.4f)"
                                 % (q * 100, value, single_q, noise))

    def test_unequal_segments_follow_k6(self):
        """Segments of unequal length (0,0.3,0.5,1: LCD 10, the biggest
        dealt first): each instance's counts are k6's and add up to the
        plan; and a segment given alone (0.5:1, which k6 fills to 0,0.5,1,
        striped otherwise) gets k6's share of that sequence. Counts only,
        so no --start-at."""
        spec = self.write_spec(UNEQUAL)
        seq = ["0", "0.3", "0.5", "1"]
        runs = [self.launch(spec, "u%d" % i, ["--execution-segment", "%s:%s" % (seq[i], seq[i + 1]),
                                              "--execution-segment-sequence", ",".join(seq)])
                for i in range(3)]
        runs.append(self.launch(spec, "alone", ["--execution-segment", "0.5:1"]))
        runs = [self.collect(x) for x in runs]
        for i, r in enumerate(runs):
            self.assertEqual(r.rc, 0, "run %d\n%s%s" % (i, r.out, r.err))
        plans = {"si": ("shared-iterations", {"vus": 7, "iterations": 53}),
                 "pvi": ("per-vu-iterations", {"vus": 9, "iterations": 2}),
                 "car": ("constant-arrival-rate", {"max_vus": 7, "ticks": 100})}
        for sc, (executor, cfg) in plans.items():
            want = k6stripe.instance_shares(seq, executor, **cfg) + \
                k6stripe.instance_shares(["0.5", "1"], executor, **cfg)[1:]
            key = "ticks" if "ticks" in want[0] else "iterations"
            got = [{"vus": r.planned_vus(sc),
                    key: r.starts(sc) if key == "ticks" else r.iterations(sc)} for r in runs]
            self.assertEqual(got, [{"vus": w["vus"], key: w[key]} for w in want],
                             "%s (%s): instances vs k6's plan" % (sc, executor))
            self.assertEqual(sum(g[key] for g in got[:3]), cfg.get("ticks", cfg.get("iterations")) *
                             (cfg["vus"] if executor == "per-vu-iterations" else 1))


UNEQUAL = """
version: 1
name: scale-out-unequal
scenarios:
  si:
    executor: shared-iterations
    vus: 7
    iterations: 53
    flow:
      - http: { url: "${env.NGINX}/fast" }
  pvi:
    executor: per-vu-iterations
    vus: 9
    iterations: 2
    flow:
      - http: { url: "${env.NGINX}/fast" }
  car:
    executor: constant-arrival-rate
    rate: 100
    time_unit: 1s
    duration: 1s
    pre_allocated_vus: 7
    max_vus: 7
    flow:
      - http: { url: "${env.NGINX}/fast" }
"""

if __name__ == "__main__":
    unittest.main()
