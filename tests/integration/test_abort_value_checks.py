"""Two flow steps without a request, from k6's examples: `abort: REASON`
(exec.test.abort, examples/enhanced/abort.ts) stops the test with exit 108
and says why; a step with only `check:` checks values (check(null, ...),
check(Math.random(), ...), examples/es6sample.js) with the `value` key,
recording `checks` like any check. Against the test nginx."""
import json
import os
import re
import unittest

from volleytest import VolleyCase


class AbortStep(VolleyCase):
    def test_abort_stops_the_test_with_its_reason(self):
        out_file = os.path.join(self.tmp, "out.ndjson")
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 2
                duration: 20s
                flow:
                  - http: { name: before, url: "${env.NGINX}/reflect" }
                  - abort: "failed for VU ${vu.id}"
                  - http: { name: after, url: "${env.NGINX}/" }
              late:
                executor: per-vu-iterations
                start_time: 10s
                flow:
                  - http: { name: late, url: "${env.NGINX}/" }
            """, "--out", "json-out=" + out_file, timeout=30)
        self.assertEqual(rc, 108, out + err)
        m = re.search(r"     ✗ aborted: (failed for VU [12] \(abort at \S+spec\.yaml:10:9\))\n", out)
        self.assertIsNotNone(m, out)
        self.assertIn("(aborted by an abort step)", out)
        self.assertIn("volley: test aborted: " + m.group(1), err)
        run = s["run"]
        self.assertTrue(run["aborted"])
        self.assertEqual(run["abort_reason"], m.group(1))
        self.assertEqual(run["verdict"], "aborted")
        self.assertEqual(run["exit_code"], 108)
        self.assertLess(run["duration_s"], 5)
        names = [p["data"]["tags"]["name"] for p in self.read_ndjson(out_file)
                 if p["type"] == "Point" and p["metric"] == "http_reqs"]
        # each VU got to the abort at most once; nothing after it, and the
        # scenario that had not started never does
        self.assertGreaterEqual(names.count("before"), 1)
        self.assertLessEqual(names.count("before"), 2)
        self.assertNotIn("after", names)
        self.assertNotIn("late", names)

    def test_abort_in_setup(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            setup:
              flow:
                - abort: no token
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http: { url: "${env.NGINX}/" }
            """)
        self.assertEqual(rc, 108, out + err)
        self.assertRegex(err, r"setup failed, no load was started: setup: no token \(abort at "
                              r"\S+spec\.yaml:5:7\)")
        self.assertEqual(s["metrics"].get("http_reqs"), None)

    def test_abort_in_an_if_and_checks_in_loops(self):
        """The steps compose with control steps: an abort under an if, a
        check step in a loop; a check step leaves the last status as it
        was (it made no request)."""
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                iterations: 5
                flow:
                  - http: { url: "${env.NGINX}/reflect" }
                  - check: { name: always, value: true }
                  - if: { status: 200 }
                    steps:
                      - check: { name: status kept, value: true }
                  - repeat: 3
                    steps:
                      - check: { name: pass index, value: "${loop.index}" }
                  - if: { value: "${vu.iteration}", equals: 2 }
                    steps:
                      - abort: "stop at iteration ${vu.iteration}"
            """)
        self.assertEqual(rc, 108, out + err)
        self.assertEqual(s["run"]["abort_reason"].split(" (abort at ")[0], "stop at iteration 2")
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 3)
        marks = {m.group(2): m.group(1) == "✓" for m in re.finditer(r"(?m)^\s+([✓✗]) (.+?)\s*$", out)}
        self.assertTrue(marks["status kept"], out)
        # loop.index 0 is falsy, 1 and 2 are not: 3 iterations of 3 passes
        self.assertIn("pass index\n      ↳  66% — ✓ 6 / ✗ 3", out)

    def test_abort_errors(self):
        path = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - abort: [x]
                  - { abort: x, tags: { a: b } }
                  - abort: "${nope}"
            """)
        rc, out, err = self.volley("validate", path)
        self.assertEqual(rc, 104, err)
        self.assertRegex(err, r"spec\.yaml:7:16: error: scenarios\.s\.flow\[0\]\.abort: expected the "
                              r"reason \(a string\), got sequence")
        self.assertRegex(err, r"spec\.yaml:8:9: error: scenarios\.s\.flow\[1\]: an abort step takes "
                              r"no other keys")
        self.assertRegex(err, r"spec\.yaml:9:16: error: scenarios\.s\.flow\[2\]\.abort: unknown template "
                              r"name \"nope\"")


class ValueChecks(VolleyCase):
    def test_es6sample_checks(self):
        """es6sample.js: checks on constants and on random values, a rate
        fed by one of them, groups, next to a request's checks."""
        sj = os.path.join(self.tmp, "summary-k6.json")
        rc, out, err, s = self.run_spec("""
            version: 1
            metrics: { my_rate: rate }
            thresholds:
              my_rate: ["rate>=0.4"]
            scenarios:
              s:
                executor: per-vu-iterations
                iterations: 400
                flow:
                  - check: { name: top-level test, value: { of: "${random.float(0, 1)}", lt: 0.3333 } }
                  - group: my group
                    steps:
                      - check: { name: "random value is < 0.5", value: { of: "${random.float(0, 1)}", lt: 0.5 } }
                        record: { my_rate: checks }
                        tags: { tag: test }
                      - group: nested
                        steps:
                          - check:
                              - { name: always passes, value: true }
                              - { name: always fails, value: false }
                      - http: { name: json, url: "${env.NGINX}/reflect" }
                        check: { name: status is 200, status: 200 }
            """, "--summary-json", sj, "--seed", "7")
        self.assertEqual(rc, 0, out + err)
        with open(sj) as f:
            root = json.load(f)["root_group"]

        def checks(g, acc):
            for c in g.get("checks", []):
                acc[c["path"]] = (c["passes"], c["fails"])
            for sub in g.get("groups", []):
                checks(sub, acc)
            return acc
        c = checks(root, {})
        self.assertEqual(c["::my group::nested::always passes"], (400, 0))
        self.assertEqual(c["::my group::nested::always fails"], (0, 400))
        self.assertEqual(c["::my group::status is 200"], (400, 0))
        # random values: about a third and a half pass (400 draws: within
        # 6 standard deviations), and each check is counted every time
        top = c["::top-level test"]
        half = c["::my group::random value is < 0.5"]
        self.assertEqual(sum(top), 400)
        self.assertEqual(sum(half), 400)
        self.assertTrue(77 <= top[0] <= 190, top)
        self.assertTrue(140 <= half[0] <= 260, half)
        # my_rate got one sample per check, its passes the check's
        rate = s["metrics"]["my_rate"]
        self.assertEqual(rate["passes"], half[0])
        self.assertEqual(rate["fails"], half[1])
        checks_m = s["metrics"]["checks"]
        self.assertEqual(checks_m["passes"] + checks_m["fails"], 5 * 400)
        self.assertIn("first failure: value: false is not truthy", out)
        self.assertRegex(out, r"first failure: value: 0\.\d+ \(of \$\{random\.float\(0, 1\)\}\) is "
                              r"not less than 0\.3333")

    def test_value_conditions(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http: { url: "${env.NGINX}/reflect?x=abc", name: r }
                    capture: { m: json.method }
                  - check:
                      - { name: capture equals, value: { of: "${m}", equals: GET } }
                      - { name: vu is 1, value: { of: "${vu.id}", equals: 1, gte: 1, lte: 1 } }
                      - { name: not equals, value: { of: "${m}", not_equals: POST } }
                      - { name: matches, value: { of: "${m}", matches: "^G.T$", contains: ET } }
                      - { name: number text, value: { of: "${vu.id}.5", gt: 1.2 } }
                      - { name: quoted number text, value: { of: "0.25", gt: 0.2 } }
                      - { name: zero is falsy, value: 0 }
                      - { name: empty is falsy, value: "" }
                      - { name: string not number, value: { of: abc, lt: 1 } }
                      - { name: int equals float, value: { of: 2, equals: 2.0 } }
                      - { name: number text equals int, value: { of: "2", equals: 2 } }
                      - { name: text is no number, value: { of: "2x", equals: 2 } }
                    on_check_fail: stop_iteration
                  - http: { url: "${env.NGINX}/", name: never }
            """)
        self.assertEqual(rc, 0, out + err)
        marks = {m.group(2): m.group(1) == "✓" for m in re.finditer(r"(?m)^\s+([✓✗]) (.+?)\s*$", out)}
        for name in ("capture equals", "vu is 1", "not equals", "matches", "number text",
                     "int equals float", "quoted number text", "number text equals int"):
            self.assertTrue(marks[name], name + "\n" + out)
        for name in ("zero is falsy", "empty is falsy", "string not number", "text is no number"):
            self.assertFalse(marks[name], name + "\n" + out)
        self.assertIn('value: "abc" is not a number', out)
        self.assertIn('value: "2x" is not 2', out)
        # on_check_fail works on a check step: the last request never ran
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 1)

    def test_captured_json_strings_compare_as_if_does(self):
        # k6: check(res.json().id, { 'is 12': (v) => v === '12' }) passes for
        # the JSON string "12"; `value` and `if:` compare the same way: the
        # same text, or the same JSON number
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http:
                      method: POST
                      url: "${env.NGINX}/echo"
                      json: { id: "12", zip: "01234", n: 12, f: 1.5 }
                    capture: { id: json.id, zip: json.zip, n: json.n, f: json.f }
                  - if: { value: "${id}", equals: "12" }
                    steps: [ { check: { name: if id "12", value: true } } ]
                  - if: { value: "${zip}", not_equals: "01234" }
                    steps: [ { check: { name: if zip not "01234", value: true } } ]
                  - check:
                      - { name: id equals "12", value: { of: "${id}", equals: "12" } }
                      - { name: id equals 12, value: { of: "${id}", equals: 12 } }
                      - { name: n equals 12, value: { of: "${n}", equals: 12.0 } }
                      - { name: f equals "1.50", value: { of: "${f}", equals: "1.50" } }
                      - { name: zip equals "01234", value: { of: "${zip}", equals: "01234" } }
                      - { name: zip not_equals "01234", value: { of: "${zip}", not_equals: "01234" } }
                      - { name: zip equals 1234, value: { of: "${zip}", equals: 1234 } }
                      - { name: id is not "13", value: { of: "${id}", equals: "13" } }
            """)
        self.assertEqual(rc, 0, out + err)
        marks = {m.group(2): m.group(1) == "✓" for m in re.finditer(r"(?m)^\s+([✓✗]) (.+?)\s*$", out)}
        for name in ('if id "12"', 'id equals "12"', "id equals 12", "n equals 12",
                     'f equals "1.50"', 'zip equals "01234"'):
            self.assertTrue(marks.get(name), name + "\n" + out)
        for name in ('zip not_equals "01234"', "zip equals 1234", 'id is not "13"'):
            self.assertFalse(marks.get(name), name + "\n" + out)
        self.assertNotIn('if zip not "01234"', marks, out)
        self.assertIn('first failure: value: 12 (of ${id}) is not "13"', out)
        self.assertIn('first failure: value: "01234" (of ${zip}) is, and must not be, "01234"', out)

    def test_check_step_errors(self):
        path = self.write_spec("""
            version: 1
            metrics: { t: trend }
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - check: { name: s, status: 200 }
                  - check: { name: v, value: 1 }
                    capture: { x: json.a }
                  - check: { name: v, value: 1 }
                    record: { t: duration }
                  - check: { name: v, value: { lt: 1 } }
            """)
        rc, out, err = self.volley("validate", path)
        self.assertEqual(rc, 104, err)
        self.assertRegex(err, r"spec\.yaml:8:35: error: scenarios\.s\.flow\[0\]\.check\[0\]\.status: a "
                              r"check step makes no request, so its checks are on values \(value: "
                              r"\{ of: \.\.\. \}\); \"status\" reads a response")
        self.assertRegex(err, r"spec\.yaml:10:18: error: scenarios\.s\.flow\[1\]\.capture: a check step "
                              r"makes no request: there is nothing to capture")
        self.assertRegex(err, r"spec\.yaml:12:17: error: scenarios\.s\.flow\[2\]\.record: a check step "
                              r"makes no request: it has no duration or status to record")
        self.assertRegex(err, r"spec\.yaml:13:34: error: scenarios\.s\.flow\[3\]\.check\[0\]\.value: "
                              r"missing required key \"of\"")


if __name__ == "__main__":
    unittest.main()
