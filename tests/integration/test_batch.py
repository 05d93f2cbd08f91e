"""`batch:` (k6's http.batch): the steps of a batch go out at once, each
measured as its own request with its own checks and captures, on
connections of the VU's lanes; max_parallel and max_parallel_per_host
(k6's batch=20, batchPerHost=6) limit them; a batch with `group:` is timed
in group_duration. As k6 runs a batch on the VU's own transport, one
request of a batch runs on the VU itself (its first on the VU's idle
keep-alive connection), and the batch shares the VU's cookie jar.
Against the loopback nginx (/delay100 answers after 100 ms, /slow after
3 s, /conn names the connection of the request, /cookies echoes the
Cookie header, /cookies/set and /cookies/logout set and remove cookies)
and the recording server of volleytest.py. Timing bounds are generous: they tell
one delay from several, not a fast machine from a slow one."""
import base64
import hashlib
import hmac
import json
import os
import time
import unittest

from volleytest import NGINX, Recorder, VolleyCase

CLIENTS = ("auto", "curl")   # the fast path and VOLLEY_HTTP_CLIENT=curl

HEAD = """
version: 1
services:
  api: %s
scenarios:
  s:
    executor: per-vu-iterations
    vus: 1
    iterations: %d
    flow:
"""


def steps(n, path="/delay100", indent=12):
    pad = " " * indent
    return "".join('%s- http: { name: r%d, url: "${services.api}%s" }\n' % (pad, i, path)
                   for i in range(n))


class BatchTest(VolleyCase):
    def group_ms(self, s, name):
        return s["metrics"]["group_duration{group:::%s}" % name]["max"]

    def test_requests_go_out_at_once(self):
        spec = HEAD % (NGINX, 2) + """
      - http: { name: first, url: "${services.api}/post", method: POST }
        capture: { id: json.id }
      - batch:
          group: assets
          steps:
            - http: { name: d1, url: "${services.api}/delay100?id=${id}" }
              check: { name: d1 ok, status: 200 }
              capture: { ms: json.delay_ms }
            - http: { name: d2, url: "${services.api}/delay100" }
              check: { name: d2 ok, status: 200 }
            - http: { name: d3, url: "${services.api}/delay100" }
              tags: { asset: "yes" }
            - http: { name: missing, url: "${services.api}/notfound" }
              check: { name: missing is 404, status: 404 }
      - http: { name: after, method: POST, url: "${services.api}/echo", body: "ms=${ms}" }
        check: { name: capture of the batch seen after it, body: { contains: "ms=100" } }
thresholds:
  "group_duration{group:::assets}": ["max<100000"]
"""
        out = os.path.join(self.tmp, "out.ndjson")
        rc, o, err, s = self.run_spec(spec, "--out", "json-out=" + out)
        self.assertEqual(rc, 0, o + err)
        m = s["metrics"]
        self.assertEqual(m["http_reqs"]["count"], 2 * 6)
        self.assertEqual(m["iterations"]["count"], 2)
        # Three requests of 100 ms at once: about one delay, not three.
        ms = self.group_ms(s, "assets")
        self.assertGreaterEqual(ms, 99)
        self.assertLess(ms, 250, "the batch took %.1f ms: its requests did not overlap" % ms)
        # Every step's checks and the capture made in the batch (used after it).
        self.assertEqual(m["checks"]["fails"], 0)
        # per iteration: 4 checks; the captures id and ms are counted apart
        self.assertEqual(m["checks"]["passes"], 2 * 4)
        self.assertEqual(m["captures"]["passes"], 2 * 2)
        # Each request is its own sample, with its own name and the group.
        pts = [p for p in self.read_ndjson(out)
               if p.get("type") == "Point" and p["metric"] == "http_req_duration"]
        by_name = {}
        for p in pts:
            by_name.setdefault(p["data"]["tags"]["name"], []).append(p["data"])
        self.assertEqual(sorted(by_name), ["after", "d1", "d2", "d3", "first", "missing"])
        for n in ("d1", "d2", "d3", "missing"):
            self.assertEqual(len(by_name[n]), 2)
            self.assertTrue(all(d["tags"]["group"] == "::assets" for d in by_name[n]), by_name[n])
        self.assertTrue(all(d["tags"].get("asset") == "yes" for d in by_name["d3"]))
        self.assertNotIn("asset", by_name["d2"][0]["tags"])
        self.assertEqual(by_name["after"][0]["tags"]["group"], "")
        self.assertEqual(by_name["missing"][0]["tags"]["status"], "404")

    def test_limits(self):
        spec = HEAD % (NGINX, 1) + "      - batch:\n          group: per_host\n          steps:\n" + steps(8) + \
            "      - batch:\n          group: serial\n          max_parallel: 1\n          steps:\n" + steps(3) + \
            "      - batch:\n          group: unlimited\n          max_parallel_per_host: 0\n" \
            "          steps:\n" + steps(8) + \
            "      - batch:\n          group: two\n          max_parallel: 2\n" \
            "          max_parallel_per_host: 0\n          steps:\n" + steps(4) + """
thresholds:
  "group_duration{group:::per_host}": ["max<100000"]
  "group_duration{group:::serial}": ["max<100000"]
  "group_duration{group:::unlimited}": ["max<100000"]
  "group_duration{group:::two}": ["max<100000"]
"""
        rc, o, err, s = self.run_spec(spec)
        self.assertEqual(rc, 0, o + err)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 23)
        # k6's batchPerHost default, 6: eight requests to one host take two rounds.
        self.assertGreaterEqual(self.group_ms(s, "per_host"), 198)
        self.assertLess(self.group_ms(s, "per_host"), 290)
        self.assertGreaterEqual(self.group_ms(s, "serial"), 297)
        self.assertGreaterEqual(self.group_ms(s, "two"), 198)
        self.assertLess(self.group_ms(s, "two"), 290)
        self.assertLess(self.group_ms(s, "unlimited"), 190)

    def test_lanes_keep_their_connections(self):
        rec = Recorder()
        try:
            spec = HEAD % (NGINX, 3) + """
      - batch:
          - http: { url: "${services.api}/conn" }
            capture: { c1: json.connection }
          - http: { url: "${services.api}/conn" }
            capture: { c2: json.connection }
          - http: { url: "${services.api}/conn" }
            capture: { c3: json.connection }
      - http: { method: POST, url: "%s/seen", body: "${c1} ${c2} ${c3}" }
""" % rec.url
            rc, o, err, s = self.run_spec(spec)
            self.assertEqual(rc, 0, o + err)
            seen = [r["body"].split() for r in rec.taken() if r["path"] == "/seen"]
        finally:
            rec.stop()
        self.assertEqual(len(seen), 3)
        for conns in seen:   # three requests at once: three connections
            self.assertEqual(len(set(conns)), 3, seen)
        # ...kept alive by the lanes from one iteration to the next
        self.assertEqual(set(seen[0]), set(seen[1]), seen)
        self.assertEqual(set(seen[0]), set(seen[2]), seen)

    def test_first_request_reuses_the_vus_connection(self):
        # k6's examples/thresholds_readme_example.js: r[0].timings.connecting
        # == 0 from the VU's first iteration, after a request to the host.
        for client in CLIENTS:
            rec = Recorder()
            out = os.path.join(self.tmp, "conn-%s.ndjson" % client)
            try:
                spec = HEAD % (NGINX, 1) + """
      - http: { name: page, url: "${services.api}/conn" }
        capture: { c0: json.connection }
      - batch:
          - http: { name: b0, url: "${services.api}/conn" }
            capture: { c1: json.connection }
            check: { name: reused connection, timings: { connecting: { eq: 0 } } }
          - http: { name: b1, url: "${services.api}/conn" }
            capture: { c2: json.connection }
          - http: { name: b2, url: "${services.api}/conn" }
            capture: { c3: json.connection }
      - http: { name: seen, method: POST, url: "%s/seen", body: "${c0} ${c1} ${c2} ${c3}" }
""" % rec.url
                rc, o, err, s = self.run_spec(spec, "--out", "json-out=" + out,
                                              env={"VOLLEY_HTTP_CLIENT": client})
                self.assertEqual(rc, 0, o + err)
                seen = [r["body"].split() for r in rec.taken() if r["path"] == "/seen"]
            finally:
                rec.stop()
            self.assertEqual(s["metrics"]["checks"]["passes"], 1, client)
            self.assertEqual(s["metrics"]["checks"]["fails"], 0, client)
            self.assertEqual(len(seen), 1)
            c0, c1, c2, c3 = seen[0]
            # the batch's first request on the page's connection, the
            # others at once on two new ones (on curl too, whose lanes pool
            # their connections apart from the VUs')
            self.assertEqual(c1, c0, (client, seen))
            self.assertEqual(len({c0, c2, c3}), 3, (client, seen))
            conn = {p["data"]["tags"]["name"]: p["data"]["value"] for p in self.read_ndjson(out)
                    if p.get("type") == "Point" and p["metric"] == "http_req_connecting"}
            self.assertEqual(sorted(conn), ["b0", "b1", "b2", "page", "seen"], client)
            self.assertEqual(conn["b0"], 0, (client, conn))

    def test_cookies_are_the_vus(self):
        # k6's http.batch sends the VU's cookies and keeps what its
        # responses set in the VU's jar (emptied when an iteration starts).
        spec = HEAD % (NGINX, 2) + """
      - batch:
          - http: { name: first, url: "${services.api}/delay100" }
          - http: { name: fresh, url: "${services.api}/cookies" }
            check: { name: a new iteration starts with an empty jar, body: { not_contains: "session" } }
      - http: { name: login, url: "${services.api}/cookies/set" }
      - batch:
""" + "".join("""          - http: { name: b%d, url: "${services.api}/cookies" }
            check:
              - { name: b%d sends the session, body: { contains: "session=abc123" } }
              - { name: b%d sends the theme, body: { contains: "theme=dark" } }
              - { name: b%d sees the jar, cookie: { name: session, equals: abc123, jar: true } }
""" % (i, i, i, i) for i in range(3)) + """
      - batch:
          - http: { name: slow, url: "${services.api}/delay100" }
          - http: { name: logout, url: "${services.api}/cookies/logout" }
      - http: { name: after_logout, url: "${services.api}/cookies" }
        check:
          - { name: the batch's Set-Cookie reached the VU, body: { not_contains: "session" } }
          - { name: the rest stays, body: { contains: "theme=dark" } }
      - batch:
          - http: { name: first2, url: "${services.api}/delay100" }
          - http: { name: relogin, url: "${services.api}/cookies/set" }
      - http: { name: after_relogin, url: "${services.api}/cookies" }
        check: { name: the batch's new cookie is sent after it, body: { contains: "session=abc123" } }
"""
        for client in CLIENTS:
            rc, o, err, s = self.run_spec(spec, env={"VOLLEY_HTTP_CLIENT": client})
            self.assertEqual(rc, 0, o + err)
            m = s["metrics"]
            self.assertEqual(m["http_reqs"]["count"], 2 * 12, client)
            self.assertEqual(m["checks"]["fails"], 0, (client, o))
            self.assertEqual(m["checks"]["passes"], 2 * (1 + 9 + 2 + 1), client)

    def test_a_lanes_secret_derived_value_stays_hidden(self):
        # What a lane derives from a secret (an hmac with a secret key) is
        # kept by the lane, and the VU's failure reasons hide it as they
        # hide what the VU derives (six lanes: more than a VU keeps).
        key = "k3y-for-signing"

        def sig(msg):
            mac = hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()
            return base64.urlsafe_b64encode(mac).decode()
        spec = HEAD % (NGINX, 2) + """
      - batch:
          - http: { name: own, url: "${services.api}/reflect?sig=${hmac('sha256', env.SIGNING_KEY, 'own:' + vu.iteration, 'base64url')}" }
""" + "".join("""          - http: { name: lane%d, url: "${services.api}/reflect?sig=${hmac('sha256', env.SIGNING_KEY, 'lane%d:' + vu.iteration, 'base64url')}" }
            check: { name: never %d, json: { path: args, equals: nothing } }
""" % (i, i, i) for i in range(6))
        rc, o, err, s = self.run_spec(spec, env={"SIGNING_KEY": key})
        self.assertEqual(rc, 0, o + err)
        self.assertEqual(s["metrics"]["checks"]["fails"], 12)
        for i in range(6):
            for it in range(2):
                self.assertNotIn(sig("lane%d:%d" % (i, it)), o + err)
        self.assertEqual(o.count('first failure: json: args: "sig=***" (expected "nothing")'), 6, o)

    def test_step_tags_reach_their_checks(self):
        # k6's thresholds_readme_example: a batch request's tags are on its
        # check's samples too (checks{staticAsset:yes}), as outside a batch.
        spec = HEAD % (NGINX, 1) + """
      - batch:
          - http: { name: css, url: "${services.api}/json" }
            tags: { staticAsset: "yes" }
            check: { name: css ok, status: 200 }
          - http: { name: js, url: "${services.api}/json" }
            tags: { staticAsset: "yes", kind: js }
            check: { name: js ok, status: 200 }
          - http: { name: api, url: "${services.api}/json" }
            check: { name: api ok, status: 200 }
thresholds:
  "checks{staticAsset:yes}": ["rate==1"]
"""
        out = os.path.join(self.tmp, "tags.ndjson")
        rc, o, err, s = self.run_spec(spec, "--out", "json-out=" + out)
        self.assertEqual(rc, 0, o + err)
        tags = {p["data"]["tags"]["check"]: p["data"]["tags"] for p in self.read_ndjson(out)
                if p.get("type") == "Point" and p["metric"] == "checks"}
        self.assertEqual(tags["css ok"].get("staticAsset"), "yes", tags)
        self.assertEqual(tags["js ok"].get("kind"), "js", tags)
        self.assertNotIn("staticAsset", tags["api ok"])
        self.assertEqual(s["metrics"]["checks{staticAsset:yes}"]["passes"], 2)

    def test_stop_iteration_ends_after_the_batch(self):
        spec = HEAD % (NGINX, 2) + """
      - batch:
          - http: { name: nf, url: "${services.api}/notfound" }
            check: { name: nf is 200, status: 200 }
            on_check_fail: stop_iteration
          - http: { name: slower, url: "${services.api}/delay100" }
            check: { name: slower ok, status: 200 }
      - http: { name: after, url: "${services.api}/json" }
"""
        rc, o, err, s = self.run_spec(spec)
        self.assertEqual(rc, 0, o + err)
        m = s["metrics"]
        # The whole batch ran (the slower step too), the step after it did not.
        self.assertEqual(m["http_reqs"]["count"], 4)
        self.assertEqual(m["checks"]["passes"], 2)
        self.assertEqual(m["checks"]["fails"], 2)
        self.assertEqual(m["iterations"]["count"], 2)

    def test_status_after_a_batch_is_its_last_steps(self):
        # `if: { status }` after a batch reads its last step as written
        # (k6's responses[responses.length - 1]), not the response that
        # came in last: here the last step (a 404) ends first, 100 ms
        # before the first one (a 200).
        spec = HEAD % (NGINX, 3) + """
      - batch:
          - http: { name: slow200, url: "${services.api}/delay100" }
          - http: { name: quick404, url: "${services.api}/notfound" }
      - if: { status: 404 }
        steps: [ { http: { name: saw404, url: "${services.api}/json" } } ]
        else: [ { http: { name: sawOther, url: "${services.api}/json" } } ]
"""
        out = os.path.join(self.tmp, "status.ndjson")
        rc, o, err, s = self.run_spec(spec, "--out", "json-out=" + out)
        self.assertEqual(rc, 0, o + err)
        names = [p["data"]["tags"]["name"] for p in self.read_ndjson(out)
                 if p.get("type") == "Point" and p["metric"] == "http_reqs"]
        self.assertEqual(names.count("saw404"), 3, names)
        self.assertEqual(names.count("sawOther"), 0, names)
        # the 404 did end before the 200 (else this test proves nothing)
        self.assertLess(names.index("quick404"), names.index("slow200"), names)

    def test_a_stopped_run_cancels_the_batch(self):
        spec = """
version: 1
services:
  api: %s
scenarios:
  s:
    executor: constant-vus
    vus: 3
    duration: 1s
    graceful_stop: 0s
    flow:
      - batch:
          - http: { name: slow1, url: "${services.api}/slow" }
          - http: { name: slow2, url: "${services.api}/slow" }
          - http: { name: quick, url: "${services.api}/json" }
""" % NGINX
        t0 = time.monotonic()
        rc, o, err = self.volley("run", self.write_spec(spec))
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, o + err)
        self.assertLess(took, 2.8, "the slow requests were not cancelled at the stop")
        self.assertIn("0 complete and 3 interrupted iterations", o)
        self.assertRegex(o, r"http_reqs\.+: 3 ")   # only the quick ones ended

    def test_load_errors(self):
        spec = self.write_spec(HEAD % (NGINX, 1) + """
      - batch:
          - http: { url: "${services.api}/json" }
            capture: { tok: json.ok }
          - http: { url: "${services.api}/json?t=${tok}" }
          - ws: { url: "ws://127.0.0.1:1/ws" }
          - sleep: 1s
      - batch: []
      - batch: { max_parallel: 0, steps: [ { http: { url: "${services.api}/json" } } ] }
      - batch: { max_parallel: 2 }
      - http: { url: "${services.api}/json?t=${tok}" }
""")
        rc, out, err = self.volley("validate", spec)
        self.assertNotEqual(rc, 0)
        want = [
            ":15:26: error: scenarios.s.flow[0].batch[1].http.url: \"${tok}\" is captured by another "
            "step of the same batch; the steps of a batch run at once, so what they capture is "
            "visible after the batch",
            ":16:13: error: scenarios.s.flow[0].batch[2]: a \"ws\" step cannot run in a batch (its "
            "plugin, ws, does not support batches)",
            ":17:13: error: scenarios.s.flow[0].batch[3]: a batch holds requests only (such as http "
            "steps); \"sleep\" cannot be in a batch",
            ":18:16: error: scenarios.s.flow[1].batch: expected a non-empty list of steps",
            ":19:32: error: scenarios.s.flow[2].batch.max_parallel: expected a value between 1 and 1024, got 0",
            ":20:16: error: scenarios.s.flow[3].batch: missing required key \"steps\"",
        ]
        for w in want:
            self.assertIn(spec + w, err)
        # The batch's capture is visible after it: line 21 is fine.
        self.assertNotIn(":21:", err)
        self.assertIn(": 6 errors", err)


if __name__ == "__main__":
    unittest.main()
