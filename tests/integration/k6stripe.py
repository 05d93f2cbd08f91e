"""k6's execution-segment striping, written again from its semantics
(grafana/k6 lib/execution_segment.go and lib/executor/*.go) so the
scale-out tests can say what each instance's share must be without
asking volley: test_scale_out_parity.py checks volley's segments against
these numbers, not only against their sum.

The semantics, in short:
- A sequence "0,1/3,2/3,1" cuts (0,1] into segments; the LCD of their
  lengths' denominators is the cycle length. Each cycle of LCD elements
  is dealt out so that a segment of normalised length n/LCD owns n of
  them, spread as far apart as possible: positions 0..LCD-1 in turn go to
  the first segment (biggest first, ties in sequence order) whose next
  element is due, i.e. whose count so far times LCD/n is <= the position.
- An integer (VUs, iterations, arrival ticks) is scaled for a segment by
  counting the elements of 0..value-1 it owns (the whole value when the
  sequence is a single segment).
- shared-iterations splits its iterations, and the arrival-rate
  executors their ticks, over the sequence made again from the VUs'
  split (VUs for shared-iterations, maxVUs for arrival rates): a segment
  that got k of V VUs is k/V long there, and one that got none has no
  work. per-vu-iterations and ramping-vus scale VUs only."""
from fractions import Fraction
from math import lcm


def parse_rat(text):
    """A k6 segment point: 1/3, 0.5 or 50%."""
    text = text.strip()
    if text.endswith("%"):
        return Fraction(int(text[:-1]), 100)
    return Fraction(text)


class Striping:
    def __init__(self, points):
        points = [p if isinstance(p, Fraction) else parse_rat(str(p)) for p in points]
        if points[0] != 0 or points[-1] != 1:
            # k6 fills the gaps around a partial sequence
            points = ([Fraction(0)] if points[0] != 0 else []) + points + \
                     ([Fraction(1)] if points[-1] != 1 else [])
        self.points = points
        lengths = [b - a for a, b in zip(points, points[1:])]
        assert all(length > 0 for length in lengths), points
        self.lcd = lcm(*[length.denominator for length in lengths])
        share = [length.numerator * (self.lcd // length.denominator) for length in lengths]
        order = sorted(range(len(lengths)), key=lambda i: -share[i])   # stable: ties keep order
        self.owned = [[] for _ in lengths]
        for pos in range(self.lcd):
            for i in order:
                if len(self.owned[i]) < share[i] and \
                        Fraction(len(self.owned[i]) * self.lcd, share[i]) <= pos:
                    self.owned[i].append(pos)
                    break
            else:
                raise AssertionError("position %d owned by no segment" % pos)

    def __len__(self):
        return len(self.owned)

    def scale(self, index, value):
        """This segment's share of an integer value."""
        if len(self.owned) == 1:
            return value
        whole, rest = divmod(value, self.lcd)
        return whole * len(self.owned[index]) + sum(1 for p in self.owned[index] if p < rest)

    def elements(self, index, value):
        """The 0-based elements of 0..value-1 this segment owns."""
        return [c * self.lcd + p for c in range(value // self.lcd + 1)
                for p in self.owned[index] if c * self.lcd + p < value]

    def regrouped(self, value, index):
        """The sequence made again from value's split, and index's place in
        it; None when this segment's share of value is zero (no work)."""
        if value % self.lcd == 0:
            return self, index
        shares = [self.scale(i, value) for i in range(len(self.owned))]
        if shares[index] == 0:
            return None
        points, at, new_index = [Fraction(0)], 0, None
        for i, s in enumerate(shares):
            if s == 0:
                continue
            if i == index:
                new_index = len(points) - 1
            at += s
            points.append(Fraction(at, value))
        return Striping(points), new_index


def instance_shares(points, executor, **cfg):
    """What each instance of the sequence runs of one scenario, as k6 plans
    it: a list of dicts with vus (planned VUs, max_vus for arrival rates),
    and iterations (shared-iterations, per-vu-iterations: totals) or ticks
    (arrival rates: given the single plan's ticks)."""
    seq = Striping(points)
    out = []
    for i in range(len(seq)):
        if executor == "shared-iterations":
            vus = seq.scale(i, cfg["vus"])
            g = seq.regrouped(cfg["vus"], i)
            its = g[0].scale(g[1], cfg["iterations"]) if g else 0
            out.append({"vus": vus, "iterations": its if vus else 0})
        elif executor == "per-vu-iterations":
            vus = seq.scale(i, cfg["vus"])
            out.append({"vus": vus, "iterations": vus * cfg["iterations"]})
        elif executor == "ramping-vus":
            out.append({"vus": seq.scale(i, cfg["max_vus"])})
        elif executor in ("constant-arrival-rate", "ramping-arrival-rate"):
            vus = seq.scale(i, cfg["max_vus"])
            g = seq.regrouped(cfg["max_vus"], i)
            ticks = g[0].scale(g[1], cfg["ticks"]) if g else 0
            out.append({"vus": vus, "ticks": ticks,
                        "pre_allocated_vus": seq.scale(i, cfg.get("pre_allocated_vus", cfg["max_vus"]))})
        else:
            raise ValueError(executor)
    return out


def self_check():
    """k6's own documented examples (execution_segment.go's comments and
    its tests' tables), so a slip here is not mistaken for volley's."""
    s = Striping(["0", "1/2", "3/4", "1"])
    assert [s.elements(i, 12) for i in range(3)] == [[0, 2, 4, 6, 8, 10], [1, 5, 9], [3, 7, 11]]
    assert [[s.scale(i, v) for v in range(1, 13)] for i in range(3)] == [
        [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6],
        [0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3],
        [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]]
    t = Striping(["0", "1/3", "2/3", "1"])
    assert [t.scale(i, 4) for i in range(3)] == [2, 1, 1]
    assert [t.scale(i, 5) for i in range(3)] == [2, 2, 1]
    g, k = t.regrouped(4, 2)
    assert g.points == [0, Fraction(1, 2), Fraction(3, 4), 1] and k == 2
    assert t.regrouped(2, 2) is None          # 2 VUs over 3: the last gets none
    g, k = t.regrouped(20, 0)                 # k6's TestGetNewExecutionTupleBesedOnValue
    assert g.points == [0, Fraction(7, 20), Fraction(7, 10), 1] and k == 0
    # k6's TestGetStripedOffsets: 0.3:0.5 of 0,0.3,0.5,0.6,...,1 starts at 1, steps 4, 6
    w = Striping(["0", "0.3", "0.5", "0.6", "0.7", "0.8", "0.9", "1"])
    assert w.lcd == 10 and w.owned[0] == [0, 4, 7] and w.owned[1] == [1, 5]
    u = Striping(["0", "3/5", "1"])            # lengths 3/5 and 2/5: LCD 5
    assert u.owned == [[0, 2, 4], [1, 3]]
    for v in range(0, 200):
        assert sum(t.scale(i, v) for i in range(3)) == v
        assert sum(s.scale(i, v) for i in range(3)) == v
    assert parse_rat("50%") == Fraction(1, 2) and parse_rat("0.25") == Fraction(1, 4)
