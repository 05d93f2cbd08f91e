"""The spec language end to end (issue 4): captures feeding later steps,
on_check_fail, --seed reproducibility of random templates, custom metrics
fed by record, include, templated sleeps, nested groups, pools. Requests go
to a recording server on 127.0.0.1 (volleytest.Recorder) so what volley
actually sent is checked, and to the loopback nginx."""
import json
import os
import re
import unittest

from volleytest import NGINX, VolleyCase, Recorder


class SpecLanguageTest(VolleyCase):
    def setUp(self):
        super().setUp()
        self.rec = Recorder()

    def tearDown(self):
        self.rec.stop()

    def run_rec(self, text, *args):
        return self.run_spec(text.replace("@REC@", self.rec.url), *args)

    def test_capture_json_header_regex_feed_later_steps(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              flow:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                flow:
                  - http: { url: "@REC@/tx/new" }
                    capture:
                      tx_id: json.id
                      amount: { json: amount }
                      second: json.items[-1].n
                      trace: header.x-trace
                  - http: { url: "@REC@/token" }
                    capture: { token: { regex: 'token=([a-z0-9]+);' } }
                  - http:
                      method: POST
                      url: "@REC@/use/${tx_id}?t=${trace}"
                      json:
                        tx: ${tx_id}
                        amount: ${amount}
                        n: ${second}
                        token: ${token}
                        label: amount ${amount}
            """)
        self.assertEqual(rc, 0, out + err)
        reqs = self.rec.taken()
        self.assertEqual(len(reqs), 9)
        for i in range(3):
            first, _, use = reqs[3 * i:3 * i + 3]
            n = 3 * i + 1
            self.assertEqual(use["path"], "/use/tx-%d?t=trace-%d" % (n, n))
            body = json.loads(use["body"])
            # a single template keeps the captured value's JSON type
            self.assertEqual(body, {"tx": "tx-%d" % n, "amount": 125.5, "n": 2, "token": "abc123",
                                    "label": "amount 125.5"})
        # captures are not checks (k6 has none): their own rate metric
        self.assertNotIn("checks", s["metrics"])
        self.assertEqual(s["metrics"]["captures"]["fails"], 0)
        self.assertEqual(s["metrics"]["captures"]["passes"], 15)
        self.assertEqual({c["name"]: c["passes"] for c in s["captures"]},
                         {"tx_id": 3, "amount": 3, "second": 3, "trace": 3, "token": 3})

    def test_load_time_templates_in_check_and_output_options(self):
        """${env.*} in a check's or an output's plain string options is folded
        in at load time (it was taken as written); a run-time name there is a
        load error with its place."""
        nd = os.path.join(self.tmp, "run-abc.ndjson")
        spec = """
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 2
                flow:
                  - http: { url: "@REC@/tx/new" }
                    check:
                      - { name: prefix, body: { contains: "${env.PREFIX}" } }
                      - name: amount
                        json:
                          path: amount
                          equals: ${env.AMOUNT:-125.5}
                      - { name: quoted is a string, json: { path: amount, equals: "${env.AMOUNT:-125.5}" } }
                      - { name: header, header: { name: "X-${env.HDR}", exists: true } }
                      - { name: not there, body: { contains: "${env.MISSING:-no such text}" } }
            outputs:
              - json-out: { path: "%s/run-${env.RUN}.ndjson" }
            """ % self.tmp
        rc, out, err, s = self.run_rec(spec, "-e", "PREFIX=tx-", "-e", "HDR=Trace", "-e", "RUN=abc")
        self.assertEqual(rc, 0, out + err)
        checks = {c["name"]: (c["passes"], c["fails"]) for c in s["root_group"]["checks"].values()}
        self.assertEqual(checks, {"prefix": (2, 0), "amount": (2, 0), "header": (2, 0),
                                  "quoted is a string": (0, 2), "not there": (0, 2)})
        self.assertTrue(os.path.exists(nd))
        # A check's expected values may be run-time ones (test_check_values.py);
        # what a check reads once at load time, like a header's name, may not.
        rc, out, err, _ = self.run_rec(spec.replace('"X-${env.HDR}"', '"X-${vu.id}"'),
                                       "-e", "PREFIX=tx-", "-e", "RUN=abc")
        self.assertEqual(rc, 104, err)
        self.assertIn('check[3].header.name: "X-${vu.id}" needs a value known only at run time', err)

    def test_failed_capture_and_on_check_fail(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              stop:
                executor: per-vu-iterations
                vus: 1
                iterations: 4
                flow:
                  - http: { url: "@REC@/status/404" }
                    capture: { tx_id: json.id }
                    on_check_fail: stop_iteration
                  - http: { url: "@REC@/never/${tx_id}" }
              go_on:
                executor: per-vu-iterations
                vus: 1
                iterations: 2
                flow:
                  - http: { url: "@REC@/status/200" }
                    check: [ { name: is 201, status: 201 } ]
                  - http: { url: "@REC@/after-continue" }
            """)
        self.assertEqual(rc, 0, out + err)
        paths = [r["path"] for r in self.rec.taken()]
        self.assertNotIn("/never/", " ".join(paths))
        self.assertEqual(paths.count("/after-continue"), 2)   # continue is the default
        self.assertEqual(s["metrics"]["iterations"]["count"], 6)
        self.assertIn("captures that failed\n     ✗ tx_id", out)
        self.assertRegex(out, r"json path id: missing")

        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              abort:
                executor: constant-vus
                vus: 2
                duration: 20s
                flow:
                  - http: { url: "@REC@/status/500" }
                    check: [ { name: ok, status: 200 } ]
                    on_check_fail: abort_test
                  - sleep: 100ms
            """)
        self.assertEqual(rc, 108, out + err)   # k6's exit code for an aborted script
        self.assertIn("test aborted", err)
        self.assertLess(len(self.rec.taken()), 20)

    def test_seed_makes_random_values_reproducible(self):
        spec = """
            version: 1
            scenarios:
              r:
                executor: per-vu-iterations
                vus: 3
                iterations: 4
                flow:
                  - http:
                      method: POST
                      url: "@REC@/r/${random.int(1, 1000000)}"
                      json:
                        id: ${uuid()}
                        n: ${random.int(1000, 11000)}
                        f: ${random.float(1, 4)}
                        cur: ${random.pick(INR, AED, USD)}
                        s: ${random.string(8)}
                        vu: ${vu.id}
                        it: ${vu.iteration}
            """

        def bodies(*args):
            rc, out, err, s = self.run_rec(spec, *args)
            self.assertEqual(rc, 0, out + err)
            reqs = self.rec.taken()
            self.assertEqual(len(reqs), 12)
            got = sorted((json.loads(r["body"])["vu"], json.loads(r["body"])["it"], r["path"], r["body"])
                         for r in reqs)
            return got

        a = bodies("--seed", "42")
        b = bodies("--seed", "42", "--workers", "2")
        c = bodies("--seed", "43")
        self.assertEqual(a, b)        # per VU, whatever the threads do
        self.assertNotEqual(a, c)
        for _, _, path, body in a:
            d = json.loads(body)
            self.assertRegex(d["id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            self.assertTrue(1000 <= d["n"] <= 11000)
            self.assertIsInstance(d["f"], float)
            self.assertIn(d["cur"], ["INR", "AED", "USD"])
            self.assertRegex(d["s"], r"^[A-Za-z0-9]{8}$")
        self.assertEqual(len({x[3] for x in a}), 12)   # all different
        # Without --seed the summary says which seed was used, and it repeats.
        rc, out, err = self.volley("run", self.write_spec(spec.replace("@REC@", self.rec.url)))
        m = re.search(r"seed (\d+)", out)
        self.assertTrue(m, out)
        first = sorted(r["body"] for r in self.rec.taken())
        self.volley("run", "-q", "--seed", m.group(1), self.write_spec(spec.replace("@REC@", self.rec.url)))
        self.assertEqual(first, sorted(r["body"] for r in self.rec.taken()))

    def test_record_warning_shows_this_iteration(self):
        """A record: template that gives no number warns with what it gave
        in this iteration: a capture that worked in the first iteration
        and failed in the second is unset, not its earlier value."""
        spec = """
            version: 1
            pools:
              paths: { rows: [ { p: tx }, { p: "status/200" } ] }
            metrics:
              tx_amount: trend
            scenarios:
              m:
                executor: per-vu-iterations
                use: paths
                iterations: 2
                flow:
                  - http: { url: "@REC@/${row.p}" }
                    capture: { amount: json.amount }
                    record: { tx_amount: "${amount}" }
            """
        rc, out, err, s = self.run_rec(spec)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["tx_amount"]["max"], 125.5)   # the first one
        self.assertEqual([c["fails"] for c in s["captures"] if c["name"] == "amount"], [1])
        warn = [l for l in err.splitlines() if "record:" in l]
        self.assertEqual(len(warn), 1, err)
        self.assertRegex(warn[0], r"spec\.yaml:\d+:\d+: record: \$\{amount\} is empty: a capture "
                                  r"it reads failed or has not run", err)
        self.assertNotIn("125.5", err)
        # a value that is there but no number is shown as it is now
        rc, out, err, s = self.run_rec(spec.replace("json.amount", "json.id")
                                           .replace("{ p: tx }, ", "{ p: tx }, { p: tx }, "))
        warn = [l for l in err.splitlines() if "record:" in l]
        self.assertEqual(len(warn), 1, err)
        self.assertRegex(warn[0], r'record: "tx-\d+" is not a number; not recorded \(said once\)')

    def test_custom_metrics_record_and_thresholds(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            metrics:
              tx_ok: rate
              tx_count: counter
              tx_amount: trend
              tx_time: { type: trend, contains: time }
              last_status: gauge
              fails_only: counter
              errors: rate
              passes_only: counter
              flow_ms: { type: trend, contains: time }
            scenarios:
              m:
                executor: per-vu-iterations
                vus: 2
                iterations: 5
                flow:
                  - http: { url: "@REC@/tx" }
                    check: [ { name: ok, status: 200 } ]
                    capture: { amount: json.amount }
                    record:
                      tx_ok: checks
                      tx_count: 1
                      tx_amount: ${amount}
                      tx_time: duration
                      last_status: status
                      fails_only: { value: 1, when: failed }
                      passes_only: { value: 1, when: passed }
                  - sleep: 20ms
                  - http: { url: "@REC@/status/500" }
                    check: [ { name: is 200, status: 200 } ]
                    record:
                      fails_only: { value: 1, when: failed }
                      flow_ms: elapsed
                      errors: checks_failed
            thresholds:
              tx_ok: ["rate==1"]
              tx_count: ["count==10"]
              tx_amount: ["avg==125.5"]
              "tx_time{scenario:m}": ["p(95)<5000"]
              last_status: ["value==200"]
            """)
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        self.assertEqual(m["tx_count"]["count"], 10)
        self.assertEqual(m["tx_ok"]["value"], 1)
        self.assertEqual(m["tx_amount"]["avg"], 125.5)
        self.assertEqual(m["last_status"]["value"], 200)
        self.assertEqual(m["fails_only"]["count"], 10)
        self.assertEqual(m["passes_only"]["count"], 10)
        self.assertEqual(m["errors"]["value"], 1)
        self.assertGreaterEqual(m["flow_ms"]["min"], 19)        # since the iteration began
        self.assertIn("tx_time", out)

    def test_small_trend_is_exact_as_in_k6(self):
        # 6 x 75000 and 4 x 1000000 over two workers: the histogram said
        # med=75104.256 and p(90)=999292.928; k6 keeps every value
        rc, out, err, s = self.run_rec("""
            version: 1
            metrics: { amount: trend }
            pools:
              tx:
                rows: [ {a: 75000}, {a: 1000000}, {a: 75000}, {a: 75000}, {a: 1000000},
                        {a: 75000}, {a: 1000000}, {a: 75000}, {a: 75000}, {a: 1000000} ]
                pick: sequential
            scenarios:
              m:
                executor: shared-iterations
                vus: 2
                iterations: 10
                use: tx
                flow:
                  - http: { url: "@REC@/fast" }
                    record: { amount: "${row.a}" }
            thresholds:
              amount: ["med==75000", "p(90)==1000000", "p(50.5)<75001"]
            """, "--workers", "2")
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]["amount"]
        self.assertEqual((m["min"], m["med"], m["avg"], m["max"], m["p(90)"], m["p(95)"]),
                         (75000, 75000, 445000, 1000000, 1000000, 1000000))
        self.assertRegex(out, r"amount\.+: avg=445000 +min=75000 +med=75000 +max=1000000 +"
                              r"p\(90\)=1000000 +p\(95\)=1000000")

    def test_include_merges_with_this_file_winning(self):
        os.makedirs(os.path.join(self.tmp, "shared"))
        self.write_spec("""
            include: [more.yaml]
            services:
              rec: { url: "http://127.0.0.1:1" }
              other: { url: "@REC@" }
            defaults:
              headers: { X-Suite: shared }
            """.replace("@REC@", self.rec.url), "shared/services.yaml")
        self.write_spec("""
            defaults:
              headers: { X-More: more }
            """, "shared/more.yaml")
        rc, out, err, s = self.run_rec("""
            version: 1
            include: shared/services.yaml
            services:
              rec: { url: "@REC@" }
            defaults:
              headers: { X-Own: own }
            scenarios:
              i:
                executor: shared-iterations
                iterations: 2
                flow:
                  - http: { url: "${services.rec}/a" }
                  - http: { url: "${services.other}/b" }
            """)
        self.assertEqual(rc, 0, out + err)
        reqs = self.rec.taken()
        self.assertEqual(sorted(r["path"] for r in reqs), ["/a", "/a", "/b", "/b"])
        h = reqs[0]["headers"]
        self.assertEqual((h.get("X-Suite"), h.get("X-More"), h.get("X-Own")), ("shared", "more", "own"))

        self.write_spec("include: [b.yaml]\n", "a.yaml")
        self.write_spec("include: a.yaml\n", "b.yaml")
        spec = self.write_spec("""
            version: 1
            include: [a.yaml]
            scenarios: { s: { executor: shared-iterations, flow: [ { sleep: 1ms } ] } }
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, out + err)
        self.assertRegex(err, r"b\.yaml:1:10: error: include: a\.yaml includes itself \(an include cycle\)")
        spec = self.write_spec("""
            version: 1
            include: nope.yaml
            scenarios: { s: { executor: shared-iterations, flow: [ { sleep: 1ms } ] } }
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104)
        self.assertRegex(err, r"spec\.yaml:3:10: error: include: cannot read .*nope\.yaml: No such file or directory")

    def test_errors_in_a_request_do_not_hide_its_checks_errors(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              a:
                executor: per-vu-iterations
                flow:
                  - http: { url: "${NGINX}/x", headers: { Authorization: "Bearer ${nosuch1}" } }
                    check:
                      - { name: c, body: { contains: "${nosuch2}" } }
            """.replace("${NGINX}", NGINX))
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("headers.Authorization: unknown template name \"nosuch1\"", err)
        self.assertIn("check[0].body.contains: unknown template name \"nosuch2\"", err)
        self.assertIn("2 errors", err)

    def test_templated_sleep_and_nested_groups(self):
        nd = os.path.join(self.tmp, "g.ndjson")
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              g:
                executor: per-vu-iterations
                vus: 2
                iterations: 3
                flow:
                  - group: outer
                    steps:
                      - http: { url: "@REC@/o" }
                      - group: inner
                        steps:
                          - http: { url: "@REC@/i" }
                          - sleep: ${random.int(20, 40)}ms
            """, "--out", "json-out=" + nd)
        self.assertEqual(rc, 0, out + err)
        groups = {o["data"]["tags"].get("group") for o in self.read_ndjson(nd)
                  if o["type"] == "Point" and o["metric"] == "http_reqs"}
        self.assertEqual(groups, {"::outer", "::outer::inner"})
        gd = [o for o in self.read_ndjson(nd) if o["type"] == "Point" and o["metric"] == "group_duration"]
        inner = [o["data"]["value"] for o in gd if o["data"]["tags"]["group"] == "::outer::inner"]
        self.assertEqual(len(inner), 6)
        self.assertTrue(all(v >= 19 for v in inner), inner)

    def test_pools_bind_rows_per_iteration(self):
        with open(os.path.join(self.tmp, "users.csv"), "w") as f:
            f.write('name,amount,note\r\nalice,5000,"a, quoted"\r\nbob,12.5,plain\r\n"carol",007,"line\nbreak"\r\n')
        rc, out, err, s = self.run_rec("""
            version: 1
            pools:
              users: { file: users.csv }
              seq: { rows: [ { k: a }, { k: b }, { k: c } ], pick: sequential }
              vus: { rows: [ { k: v0 }, { k: v1 } ], pick: per-vu }
              once: { rows: [ { k: u1 }, { k: u2 }, { k: u3 }, { k: u4 }, { k: u5 } ], pick: unique }
              rnd: { rows: [ { k: r1 }, { k: r2 }, { k: r3 } ], pick: random }
            scenarios:
              csv:
                executor: shared-iterations
                iterations: 3
                use: users
                flow:
                  - http:
                      method: POST
                      url: "@REC@/csv/${row.name}"
                      json:
                        amount: ${row.amount}
                        note: ${row.note}
              seq:
                executor: shared-iterations
                iterations: 6
                use: seq
                flow: [ { http: { url: "@REC@/seq/${row.k}" } } ]
              vus:
                executor: per-vu-iterations
                vus: 2
                iterations: 3
                use: vus
                flow: [ { http: { url: "@REC@/vus/${vu.id}/${row.k}" } } ]
              once:
                executor: shared-iterations
                vus: 2
                iterations: 20
                use: once
                flow: [ { http: { url: "@REC@/once/${row.k}" } } ]
              rnd:
                executor: shared-iterations
                iterations: 30
                use: rnd
                flow: [ { http: { url: "@REC@/rnd/${row.k}" } } ]
            """, "--seed", "5")
        self.assertEqual(rc, 0, out + err)
        reqs = self.rec.taken()
        csv = sorted((r["path"], r["body"]) for r in reqs if r["path"].startswith("/csv/"))
        self.assertEqual([p for p, _ in csv], ["/csv/alice", "/csv/bob", "/csv/carol"])
        bodies = {p: json.loads(b) for p, b in csv}
        self.assertEqual(bodies["/csv/alice"], {"amount": 5000, "note": "a, quoted"})
        self.assertEqual(bodies["/csv/bob"], {"amount": 12.5, "note": "plain"})
        self.assertEqual(bodies["/csv/carol"], {"amount": "007", "note": "line\nbreak"})
        seq = sorted(r["path"] for r in reqs if r["path"].startswith("/seq/"))
        self.assertEqual(seq, ["/seq/a", "/seq/a", "/seq/b", "/seq/b", "/seq/c", "/seq/c"])
        vus = {r["path"] for r in reqs if r["path"].startswith("/vus/")}
        self.assertEqual(len(vus), 2)                       # each VU keeps its own row
        self.assertEqual({p.split("/")[3] for p in vus}, {"v0", "v1"})
        once = sorted(r["path"] for r in reqs if r["path"].startswith("/once/"))
        self.assertEqual(once, ["/once/u%d" % i for i in range(1, 6)])   # each row once
        self.assertIn("pool once is used up (pick: unique, 5 rows)", err)
        rnd = [r["path"] for r in reqs if r["path"].startswith("/rnd/")]
        self.assertEqual(len(rnd), 30)
        self.assertEqual(set(rnd), {"/rnd/r1", "/rnd/r2", "/rnd/r3"})

    def test_a_scenario_uses_several_pools(self):
        """use: [cases, accounts]: a row of each per iteration, each picked as
        its pool says; a field of one pool by its name, a field both have as
        ${row.POOL.FIELD}."""
        rc, out, err, s = self.run_rec("""
            version: 1
            pools:
              cases: { rows: [ { id: c1, amount: 5 }, { id: c2, amount: 7 } ], pick: sequential }
              accounts: { rows: [ { id: a1, bank: ICICI }, { id: a2, bank: ENBD } ], pick: per-vu }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 2
                use: [cases, accounts]
                flow:
                  - http:
                      method: POST
                      url: "@REC@/t/${row.cases.id}/${row.accounts.id}"
                      json:
                        amount: ${row.amount}
                        bank: "${row.bank}"
                        vu: "${vu.id}"
                    check:
                      - { name: echoed, json: { path: bank, equals: "${row.bank}" } }
            """)
        self.assertEqual(rc, 0, out + err)
        reqs = [r for r in self.rec.taken() if r["path"].startswith("/t/")]
        self.assertEqual(len(reqs), 4)
        # cases: sequential over all iterations; accounts: one row per VU
        self.assertEqual(sorted(r["path"].split("/")[2] for r in reqs), ["c1", "c1", "c2", "c2"])
        by_vu = {}
        for r in reqs:
            b = json.loads(r["body"])
            by_vu.setdefault(b["vu"], set()).add((r["path"].split("/")[3], b["bank"]))
            self.assertEqual(b["amount"], 5 if "/c1/" in r["path"] else 7)
        self.assertEqual(sorted(len(v) for v in by_vu.values()), [1, 1])
        self.assertEqual({next(iter(v)) for v in by_vu.values()}, {("a1", "ICICI"), ("a2", "ENBD")})
        self.assertEqual(s["metrics"]["checks"]["fails"], 0)

        spec = self.write_spec("""
            version: 1
            pools:
              cases: { rows: [ { id: c1 } ] }
              accounts: { rows: [ { id: a1, bank: x } ] }
            scenarios:
              s:
                executor: per-vu-iterations
                use: [cases, accounts, cases, nope]
                flow: [ { http: { url: "${env.NGINX}/${row.id}/${row.bnak}/${row.cases.bank}" } } ]
              t:
                executor: per-vu-iterations
                use: [cases, accounts]
                flow:
                  - http: { url: "${env.NGINX}/${row.id}" }
                  - http: { url: "${env.NGINX}/${row.bnak}" }
                  - http: { url: "${env.NGINX}/${row.cases.bank}" }
            """, "bad.yaml")
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn('scenarios.s.use[2]: pool "cases" is used twice', err)
        self.assertIn('scenarios.s.use[3]: no pool named "nope"', err)
        self.assertIn('${row.id}: pools cases and accounts both have a field "id"; say which: '
                      '${row.cases.id} or ${row.accounts.id}', err)
        self.assertIn('${row.bnak}: none of the scenario\'s pools has a field "bnak" (did you mean "bank"?)', err)
        self.assertIn('${row.cases.bank}: none of the scenario\'s pools has a field "cases.bank"', err)

    def test_pacing_stops_the_hot_loop(self):
        """A failing step with on_check_fail: stop_iteration skips the rest of
        the iteration, sleeps included: without pacing 2 VUs loop as fast as
        the server answers; with pacing 500ms each starts at most one
        iteration every 500 ms, whatever stopped the last one."""
        spec = """
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 2
                duration: 2s
                @PACING@
                flow:
                  - http: { url: "@REC@/status/429" }
                    check: [ { name: ok, status: 200 } ]
                    on_check_fail: stop_iteration
                  - sleep: 1s
            """
        rc, out, err, hot = self.run_rec(spec.replace("@PACING@", ""))
        self.assertEqual(rc, 0, out + err)
        self.assertGreater(hot["metrics"]["iterations"]["count"], 30)   # the trap (as fast as the server answers)
        rc, out, err, paced = self.run_rec(spec.replace("@PACING@", "pacing: 500ms"))
        self.assertEqual(rc, 0, out + err)
        n = paced["metrics"]["iterations"]["count"]
        self.assertGreaterEqual(n, 6)      # 2 VUs x 4 starts in 2 s (0, .5, 1, 1.5)
        self.assertLessEqual(n, 10)
        self.assertGreaterEqual(paced["metrics"]["iteration_duration"]["min"], 0)
        spec_bad = self.write_spec("""
            version: 1
            scenarios:
              a:
                executor: constant-arrival-rate
                rate: 1
                duration: 1s
                pre_allocated_vus: 1
                pacing: 1s
                flow: [ { sleep: 1ms } ]
            """, "bad.yaml")
        rc, out, err = self.volley("validate", spec_bad)
        self.assertEqual(rc, 104, err)
        self.assertIn("scenarios.a.pacing: does not apply to executor constant-arrival-rate", err)

    def test_once_per_vu_login(self):
        """once: steps run in a VU's first iteration (a login per VU, as the
        DelTran gateway limits per connection); what they capture stays the
        VU's for its later iterations. A once: block that did not complete is
        tried again in the next iteration."""
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 3
                flow:
                  - once:
                      - http: { method: POST, url: "@REC@/token?vu=${vu.id}" }
                        capture: { tok: { regex: "token=([a-z0-9]+)" } }
                  - http:
                      method: POST
                      url: "@REC@/work"
                      headers: { Authorization: "Bearer ${tok}" }
                      json: { vu: "${vu.id}", it: "${vu.iteration}" }
              flaky:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                flow:
                  - once:
                      - http: { url: "@REC@/status/503" }
                        check: [ { name: login ok, status: 200 } ]
                        on_check_fail: stop_iteration
                  - http: { url: "@REC@/after" }
            """)
        self.assertEqual(rc, 0, out + err)
        reqs = self.rec.taken()
        logins = [r for r in reqs if r["path"].startswith("/token")]
        self.assertEqual(sorted(r["path"] for r in logins), ["/token?vu=1", "/token?vu=2"])
        work = [r for r in reqs if r["path"] == "/work"]
        self.assertEqual(len(work), 6)
        self.assertTrue(all(r["headers"].get("Authorization") == "Bearer abc123" for r in work), work)
        # The failed once: block ran in every iteration and stopped each one.
        self.assertEqual(len([r for r in reqs if r["path"] == "/status/503"]), 3)
        self.assertEqual(len([r for r in reqs if r["path"] == "/after"]), 0)

    def test_pool_errors_name_the_data_file(self):
        with open(os.path.join(self.tmp, "bad.csv"), "w") as f:
            f.write("a,b\n1,2\n3\n")
        spec = self.write_spec("""
            version: 1
            pools:
              bad: { file: bad.csv }
              missing: { file: nope.json }
              inline: { rows: [ { a: 1 }, 7 ] }
              both: { rows: [ { a: 1 } ], file: x.csv }
            scenarios:
              s:
                executor: shared-iterations
                use: bad
                flow: [ { http: { url: "${env.NGINX}/${row.c}" } } ]
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, out + err)
        self.assertRegex(err, r"bad\.csv:3:1: error: pools\.bad\.file: expected 2 fields")
        self.assertRegex(err, r"spec\.yaml:5:20: error: pools\.missing\.file: cannot read .*nope\.json")
        self.assertRegex(err, r"spec\.yaml:6:31: error: pools\.inline\.rows\[1\]: expected a mapping")
        self.assertRegex(err, r"spec\.yaml:7:9: error: pools\.both: expected exactly one of rows")
        self.assertNotIn("row.c", err)   # a pool that failed to load is reported once

    def test_step_tags_on_samples_and_sub_metrics(self):
        nd = os.path.join(self.tmp, "t.ndjson")
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              t:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                flow:
                  - http: { url: "@REC@/a" }
                    tags: { flow: checkout, env: "${env.STAGE:-dev}" }
                  - http: { url: "@REC@/b" }
            thresholds:
              "http_reqs{flow:checkout}": ["count==3"]
              "http_req_duration{flow:checkout,env:dev}": ["p(95)<5000"]
            """, "--out", "json-out=" + nd, "--tag", "env=ci")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["http_reqs{flow:checkout}"]["count"], 3)
        reqs = [o["data"]["tags"] for o in self.read_ndjson(nd)
                if o["type"] == "Point" and o["metric"] == "http_reqs"]
        a = [t for t in reqs if t["url"].endswith("/a")]
        b = [t for t in reqs if t["url"].endswith("/b")]
        self.assertEqual({(t["flow"], t["env"]) for t in a}, {("checkout", "dev")})   # the step wins
        self.assertEqual({(t.get("flow"), t["env"]) for t in b}, {(None, "ci")})
        spec = self.write_spec("""
            version: 1
            scenarios:
              t:
                executor: shared-iterations
                flow:
                  - http: { url: "${env.NGINX}/" }
                    tags: { status: x, id: "${vu.id}" }
            thresholds:
              "http_reqs{nope:1}": ["count>0"]
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104)
        self.assertRegex(err, r"spec\.yaml:8:17: error: scenarios\.t\.flow\[0\]\.tags\.status: \"status\" is a tag the runner sets itself")
        self.assertRegex(err, r"spec\.yaml:8:32: error: scenarios\.t\.flow\[0\]\.tags\.id: a tag value is fixed at load time")
        self.assertRegex(err, r"unknown tag \"nope\" in sub-metric filter")

    def test_flow_names_in_defaults_and_service_headers(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            services:
              rec: { url: "@REC@", headers: { X-Row: "${row.k}" } }
            defaults:
              headers: { X-Scenario: "${scenario.name}", X-Tx: "${tx}" }
            pools:
              p: { rows: [ { k: r1 } ] }
            scenarios:
              named:
                executor: per-vu-iterations
                use: p
                flow:
                  - http: { url: "${services.rec}/tx" }
                    capture: { tx: json.id }
                  - http: { url: "${services.rec}/b" }
            """)
        self.assertEqual(rc, 0, out + err)
        a, b = self.rec.taken()
        self.assertEqual((a["headers"]["X-Scenario"], a["headers"]["X-Row"]), ("named", "r1"))
        # a default header naming a capture waits for the step after the capture
        self.assertNotIn("X-Tx", a["headers"])
        self.assertEqual(b["headers"]["X-Tx"], "tx-1")

    def test_unique_pool_ends_an_arrival_rate_scenario(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            pools:
              p: { rows: [ { k: a }, { k: b }, { k: c } ], pick: unique }
            scenarios:
              s:
                executor: constant-arrival-rate
                rate: 20
                duration: 2s
                pre_allocated_vus: 2
                max_vus: 4
                use: p
                flow: [ { http: { url: "@REC@/u/${row.k}" } } ]
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(sorted(r["path"] for r in self.rec.taken()), ["/u/a", "/u/b", "/u/c"])
        self.assertEqual(s["metrics"]["iterations"]["count"], 3)
        self.assertEqual(s["metrics"].get("dropped_iterations", {}).get("count", 0), 0)
        self.assertIn("pool p is used up (pick: unique, 3 rows): scenario s stops", err)

    def test_http_query_form_redirects_expected_statuses(self):
        spec = """
            version: 1
            scenarios:
              h:
                executor: per-vu-iterations
                vus: 1
                iterations: 2
                flow:
                  - http:
                      url: "@REC@/q?a=1#frag"
                      query: { q: "x y&z", n: "${vu.iteration}", e: "é/" }
                  - http: { url: "@REC@/c", query: { k: v w } }
                  - http:
                      method: POST
                      url: "@REC@/f"
                      form: { user: "vu ${vu.id}", pass: "a&b=c" }
                  - http: { method: PUT, url: "@REC@/f2", form: { a: "1" } }
                  - http: { url: "@REC@/redirect", redirects: 0 }
                    check: [ { name: not followed, status: 302 } ]
                  - http: { url: "@REC@/redirect" }
                    check: [ { name: followed, status: 200 } ]
                  - http: { url: "@REC@/status/404", expected_statuses: [404, "200-299"] }
                  - http: { url: "@REC@/status/404" }
            """
        for client in ("auto", "curl"):
            rc, out, err, s = self.run_spec(spec.replace("@REC@", self.rec.url), env={"VOLLEY_HTTP_CLIENT": client})
            self.assertEqual(rc, 0, out + err)
            reqs = self.rec.taken()
            paths = [r["path"] for r in reqs]
            self.assertEqual(paths[:3], ["/q?a=1&q=x+y%26z&n=0&e=%C3%A9%2F", "/c?k=v+w", "/f"], client)
            self.assertIn("/q?a=1&q=x+y%26z&n=1&e=%C3%A9%2F", paths)
            f = reqs[2]
            self.assertEqual(f["body"], "user=vu+1&pass=a%26b%3Dc")
            self.assertEqual(f["headers"]["Content-Type"], "application/x-www-form-urlencoded")
            self.assertEqual((reqs[3]["method"], reqs[3]["body"]), ("PUT", "a=1"))
            self.assertEqual(paths.count("/landing"), 2)          # only the default step follows
            self.assertEqual(paths.count("/redirect"), 4)
            self.assertEqual(s["metrics"]["checks"]["fails"], 0)
            # 2 x (302 not followed counts as expected, 404 expected by the step) -> only the plain 404 fails
            self.assertEqual(s["metrics"]["http_req_failed"]["passes"], 2, client)

        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: shared-iterations
                flow:
                  - http: { url: "${env.NGINX}/", expected_statuses: ["20x"] }
                  - http: { url: "${env.NGINX}/", form: { a: 1 }, json: { a: 1 } }
                  - http: { url: "${env.NGINX}/", redirects: 101 }
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104)
        self.assertIn('expected_statuses: "20x" is not a status (100-599) or a range such as 200-299', err)
        self.assertIn("body, json, form and multipart cannot be used together", err)
        self.assertRegex(err, r"redirects: expected .*100")

    def test_check_item_errors_in_one_pass(self):
        # a missing name hides no other error of the same item (nor of the
        # items after it), in a step's check list and a ws plugin's
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: shared-iterations
                flow:
                  - http: { url: "${env.NGINX}/" }
                    check:
                      - status: [abc]
                        bogus: 1
                      - name: ok
                        json: { equals: 1 }
                  - ws:
                      url: ws://127.0.0.1:1/
                      check_each_message:
                        - body: { contains: 1, matches: "(" }
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, out + err)
        for want in [r"spec\.yaml:9:13: error: scenarios\.s\.flow\[0\]\.check\[0\]: missing required key \"name\"",
                     r"spec\.yaml:9:22: error: scenarios\.s\.flow\[0\]\.check\[0\]\.status\.in: expected an integer",
                     r"spec\.yaml:10:13: error: scenarios\.s\.flow\[0\]\.check\[0\]: unknown check \"bogus\"",
                     r"spec\.yaml:12:19: error: scenarios\.s\.flow\[0\]\.check\[1\]\.json: missing required key \"path\"",
                     r"spec\.yaml:16:15: error: scenarios\.s\.flow\[1\]\.ws\.check_each_message\[0\]: missing required key \"name\"",
                     r"spec\.yaml:16:21: error: scenarios\.s\.flow\[1\]\.ws\.check_each_message\[0\]\.body: "]:
            self.assertRegex(err, want)
        self.assertRegex(err, r": 6 errors")

    def test_load_time_errors(self):
        cases = [
            ("- http: { url: \"${env.NGINX}/${tx_id}\" }\n"
             "                  - http: { url: \"${env.NGINX}/\" }\n"
             "                    capture: { tx_id: json.id }",
             r"spec\.yaml:8:22: error: scenarios\.s\.flow\[0\]\.http\.url: \"\$\{tx_id\}\" is captured only by a later step"),
            ("- http: { url: \"${env.NGINX}/\" }\n"
             "                    capture: { tx_id: xml.id }",
             r"spec\.yaml:9:27: error: scenarios\.s\.flow\[0\]\.capture\.tx_id: expected json\.PATH, header\.NAME"),
            ("- http: { url: \"${env.NGINX}/\" }\n"
             "                    capture: { tx: { regex: '(' } }",
             r"spec\.yaml:9:33: error: scenarios\.s\.flow\[0\]\.capture\.tx: invalid regular expression"),
            ("- http: { url: \"${env.NGINX}/\" }\n"
             "                    record: { nope: checks }",
             r"spec\.yaml:9:19: error: scenarios\.s\.flow\[0\]\.record\.nope: \"nope\" is not a custom metric"),
            ("- http: { url: \"${env.NGINX}/\" }\n"
             "                    on_check_fail: explode",
             r"spec\.yaml:9:24: error: scenarios\.s\.flow\[0\]\.on_check_fail: expected continue, stop_iteration or abort_test"),
            ("- sleep: ${random.int(5, 1)}ms",
             r"spec\.yaml:8:16: error: scenarios\.s\.flow\[0\]\.sleep: expected random\.int\(MIN, MAX\)"),
            ("- http: { url: \"${env.NGINX}/${tok}\" }\n"
             "  capture: { tok: json.id }",
             r"spec\.yaml:8:22: error: scenarios\.s\.flow\[0\]\.http\.url: \"\$\{tok\}\" is captured by this same step"),
            ("- http: { url: \"${env.NGINX}/${row.id}\" }",
             r"spec\.yaml:8:22: error: scenarios\.s\.flow\[0\]\.http\.url: \$\{row\.id\}: a pool row is only known in a scenario with `use: POOL`"),
        ]
        for flow, want in cases:
            steps = "\n".join("      " + line.strip() if line.strip().startswith("- ") else "        " + line.strip()
                              for line in flow.split("\n"))
            spec = self.write_spec("version: 1\n"
                                   "metrics: { ok_rate: rate }\n"
                                   "scenarios:\n"
                                   "  s:\n"
                                   "    executor: shared-iterations\n"
                                   "    iterations: 1\n"
                                   "    flow:\n" + steps + "\n")
            rc, out, err = self.volley("validate", spec)
            self.assertEqual(rc, 104, flow + out + err)
            self.assertRegex(err, want)


if __name__ == "__main__":
    unittest.main()
