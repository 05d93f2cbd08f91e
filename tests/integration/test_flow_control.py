"""Flow control end to end (issue 17, item 5): repeat and for_each loops,
if/else conditions and weighted choose, run by the real volley binary
against a recording server (volleytest.Recorder: what was sent) and the
loopback nginx (counts). Counts are exact where the flow fixes them and
within a binomial bound where the VU's seeded stream picks."""
import json
import math
import os
import signal
import subprocess
import time
import unittest

from volleytest import NGINX, VOLLEY, VolleyCase, Recorder


def count(s, key):
    m = s["metrics"].get(key)
    return m["count"] if m else 0


class FlowControlTest(VolleyCase):
    def setUp(self):
        super().setUp()
        self.rec = Recorder()

    def tearDown(self):
        self.rec.stop()

    def run_rec(self, text, *args):
        return self.run_spec(text.replace("@REC@", self.rec.url), *args)

    def test_repeat_fixed_templated_and_bounded(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            pools:
              counts:
                rows: [ { n: 2 }, { n: 0 }, { n: 5000 } ]
                pick: sequential
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                use: counts
                flow:
                  - repeat: 3
                    as: i
                    steps:
                      - http: { name: fixed, url: "@REC@/fixed/${vu.iteration}/${i}/${loop.index}" }
                  - repeat: "${row.n}"
                    max: 4
                    steps:
                      - http: { name: templated, url: "@REC@/row/${vu.iteration}/${loop.index}" }
                  - http: { name: after, url: "@REC@/after" }
            thresholds:
              "http_reqs{name:fixed}": ["count==9"]
              "http_reqs{name:templated}": ["count==6"]
              "http_reqs{name:after}": ["count==3"]
            """)
        self.assertEqual(rc, 0, out + err)
        paths = [r["path"] for r in self.rec.taken()]
        want = []
        for it, n in ((0, 2), (1, 0), (2, 4)):   # 5000 is cut to max: 4
            want += ["/fixed/%d/%d/%d" % (it, i, i) for i in range(3)]
            want += ["/row/%d/%d" % (it, i) for i in range(n)]
            want.append("/after")
        self.assertEqual(paths, want)
        self.assertIn("repeat: 5000 passes is more than the loop's max (4); it made 4 (said once)", err)
        self.assertEqual(count(s, "http_reqs{name:templated}"), 6)

    def test_for_each_yaml_list_captured_array_and_nesting(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 2
                flow:
                  - http: { url: "@REC@/tx/new" }
                    capture: { items: json.items }
                  - for_each: "${items}"
                    steps:
                      - http:
                          method: POST
                          url: "@REC@/item/${loop.index}"
                          json:
                            n: ${item.n}
                            raw: ${item}
                            missing: ${item.nope}
                            text: "n=${item.n}"
                  - for_each:
                      - { user: "a\\"b", tags: [x, y] }
                      - { user: c, tags: [] }
                    as: u
                    steps:
                      - for_each: "${u.tags}"
                        as: tag
                        steps:
                          - http: { url: "@REC@/u/${u.user}/${tag}/${loop.index}" }
                      - http: { url: "@REC@/done/${loop.index}" }
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(err.strip(), "")
        reqs = self.rec.taken()
        self.assertEqual(len(reqs), 2 * (1 + 2 + 2 + 2))
        for it in range(2):
            r = reqs[7 * it:7 * it + 7]
            self.assertEqual(r[0]["path"], "/tx/new")
            for k in range(2):
                self.assertEqual(r[1 + k]["path"], "/item/%d" % k)
                body = json.loads(r[1 + k]["body"])
                # a single template keeps the element's JSON type
                self.assertEqual(body, {"n": k + 1, "raw": {"n": k + 1}, "missing": None,
                                        "text": "n=%d" % (k + 1)})
            self.assertEqual([x["path"] for x in r[3:]],
                             ['/u/a"b/x/0', '/u/a"b/y/1', "/done/0", "/done/1"])

    def test_bad_list_warns_once_and_the_flow_goes_on(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                flow:
                  - http: { url: "@REC@/tx/new" }
                    capture: { id: json.id }
                  - for_each: "${id}"
                    steps:
                      - http: { url: "@REC@/never" }
                  - http: { name: after, url: "@REC@/after" }
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual([r["path"] for r in self.rec.taken()], ["/tx/new", "/after"] * 3)
        self.assertEqual(err.count("for_each: the value is not a JSON array; the loop stopped "
                                   "(said once)"), 1, err)

    def test_if_else_on_status_values_and_iteration(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 4
                flow:
                  - http: { url: "@REC@/status/503" }
                  - if: { status: { gte: 500, lt: 600 } }
                    steps: [ { http: { url: "@REC@/5xx" } } ]
                  - http: { url: "@REC@/status/404" }
                  - if: { status: 503 }
                    steps: [ { http: { url: "@REC@/wrong" } } ]
                    else: [ { http: { url: "@REC@/not503" } } ]
                  - http: { url: "@REC@/tx/new" }
                    capture: { id: json.id, amount: json.amount }
                  - if: { status: [200, 201] }
                    steps: [ { http: { url: "@REC@/ok" } } ]
                  - if: { value: "${vu.iteration}", equals: 0 }
                    steps: [ { http: { url: "@REC@/first" } } ]
                    else:
                      - if: { value: "${vu.iteration}", in: [1, 2] }
                        steps: [ { http: { url: "@REC@/middle" } } ]
                        else: [ { http: { url: "@REC@/last" } } ]
                  - if:
                      - { value: "${id}", matches: "^tx-[0-9]+$" }
                      - { value: "${amount}", gt: 100, lte: 125.5 }
                      - { value: "${id}", not_contains: "zz", empty: false }
                    steps: [ { http: { url: "@REC@/all/${id}" } } ]
                  - if: { value: "${amount}", equals: 125 }
                    steps: [ { http: { url: "@REC@/wrong" } } ]
            """)
        self.assertEqual(rc, 0, out + err)
        paths = [r["path"] for r in self.rec.taken()]
        self.assertNotIn("/wrong", paths)
        want = []
        for it, where in enumerate(["/first", "/middle", "/middle", "/last"]):
            n = 8 * it + 5     # the Recorder's request number of /tx/new
            want += ["/status/503", "/5xx", "/status/404", "/not503", "/tx/new", "/ok", where,
                     "/all/tx-%d" % n]
        self.assertEqual(paths, want)

    def test_choose_and_chance_follow_weights_and_the_seed(self):
        spec = """
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 1000
                flow:
                  - choose:
                      - weight: 3
                        steps: [ { http: { name: browse, url: "${env.NGINX}/fast" } } ]
                      - weight: 7
                        steps: [ { http: { name: buy, url: "${env.NGINX}/fast" } } ]
                  - if: { chance: 0.25 }
                    steps: [ { http: { name: lucky, url: "${env.NGINX}/fast" } } ]
                  - choose:
                      - { weight: 1, steps: [ { http: { name: rare, url: "${env.NGINX}/fast" } } ] }
                      - { weight: 9 }
            thresholds:
              "http_reqs{name:browse}": ["count>=0"]
              "http_reqs{name:buy}": ["count>=0"]
              "http_reqs{name:lucky}": ["count>=0"]
              "http_reqs{name:rare}": ["count>=0"]
            """
        runs = []
        for _ in range(2):
            rc, out, err, s = self.run_spec(spec, "--seed", "42")
            self.assertEqual(rc, 0, out + err)
            runs.append({k: count(s, "http_reqs{name:%s}" % k) for k in ("browse", "buy", "lucky", "rare")})
        n = 2000
        got = runs[0]
        self.assertEqual(got["browse"] + got["buy"], n)
        for name, p in (("browse", 0.3), ("lucky", 0.25), ("rare", 0.1)):
            sd = math.sqrt(n * p * (1 - p))
            self.assertLess(abs(got[name] - n * p), 4.5 * sd, (name, got))
        # The same seed, the same choices.
        self.assertEqual(runs[0], runs[1])

    def test_groups_and_captures_inside_loops(self):
        nd = os.path.join(self.tmp, "out.ndjson")
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 2
                flow:
                  - repeat: 3
                    steps:
                      - group: page
                        steps:
                          - http: { name: tx, url: "@REC@/tx/new" }
                            capture: { tx_id: json.id }
                  - http: { url: "@REC@/use/${tx_id}" }
            thresholds:
              "http_reqs{group:::page}": ["count==6"]
            """, "--out", "json-out=" + nd)
        self.assertEqual(rc, 0, out + err)
        paths = [r["path"] for r in self.rec.taken()]
        # latest wins: the id of the loop's last pass
        self.assertEqual(paths, ["/tx/new"] * 3 + ["/use/tx-3"] + ["/tx/new"] * 3 + ["/use/tx-7"])
        self.assertEqual(count(s, "http_reqs{group:::page}"), 6)
        points = [p for p in self.read_ndjson(nd) if p.get("type") == "Point"]
        groups = [p["data"]["tags"].get("group") for p in points if p["metric"] == "group_duration"]
        self.assertEqual(groups, ["::page"] * 6)
        reqs = [p["data"]["tags"].get("group") for p in points if p["metric"] == "http_reqs"]
        self.assertEqual(sorted(reqs), [""] * 2 + ["::page"] * 6)

    def test_loop_without_waits_yields_and_finishes(self):
        # A million passes whose body never sends: the VU yields to its
        # loop now and then, and the run ends with the right counts.
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 2
                flow:
                  - repeat: 1000000
                    max: 1000000
                    steps:
                      - if: { value: "${loop.index}", equals: 999999 }
                        steps: [ { http: { name: end, url: "${env.NGINX}/fast" } } ]
            thresholds:
              "http_reqs{name:end}": ["count==4"]
            """, timeout=60)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(count(s, "iterations"), 4)

    def test_interrupted_mid_loop_ends_cleanly(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 2
                duration: 1s
                graceful_stop: 0s
                flow:
                  - repeat: 1000
                    steps:
                      - group: g
                        steps: [ { http: { url: "${env.NGINX}/delay100" } } ]
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(count(s, "iterations"), 0)
        self.assertIn("0 complete and 2 interrupted iterations", out)
        self.assertGreater(count(s, "http_reqs"), 4)

    def test_sigint_mid_loop(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 2
                duration: 1m
                flow:
                  - for_each: [a, b, c]
                    steps:
                      - repeat: 1000
                        steps: [ { http: { url: "${env.NGINX}/delay10?${item}" } } ]
            """)
        e = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=e)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 105, out + err)
        self.assertIn("SIGINT received", err)
        self.assertIn("interrupted iterations", out)


if __name__ == "__main__":
    unittest.main()
