"""Cookies (k6's VU jar, params.cookies, jar.set/delete/clear, res.cookies,
jar.cookiesForURL) through the real volley binary on both http clients
(VOLLEY_HTTP_CLIENT=curl and the default fast path): a recording server on
127.0.0.1 sets cookies by path and keeps every request's Cookie lines; the
test nginx's /cookies locations for a real server."""
import json
import os
import threading
import unittest

from volleytest import NGINX, RawHttpServer, VolleyCase

CLIENTS = ("curl", "auto")

# Set-Cookie lines by path (a path not here sets none)
SETS = {
    "/login": ["session=abc123; Path=/; HttpOnly", "theme=dark; Path=/app"],
    "/jar": ["jar=1; Path=/"],
    "/logout": ["session=; Max-Age=0; Path=/"],
    "/attrs": ["sec=1; Path=/; Secure", "other=1; Domain=example.com",
               "gone=1; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "spaced=\"a b\"; Path=/"],
}


class CookieServer(RawHttpServer):
    """Answers 200 {"cookie": [its Cookie lines]} after setting the
    cookies SETS gives its path; /hop answers 302 to /landing and sets
    hop=1 on the way; records every request's path and Cookie lines."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        super().__init__()

    def respond(self, head, body, port):
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        cookies = [l.split(":", 1)[1].strip() for l in lines[1:]
                   if l.split(":", 1)[0].strip().lower() == "cookie"]
        with self.lock:
            self.requests.append({"path": path, "cookies": cookies})
        sets = SETS.get(path.split("?")[0], [])
        status = "200 OK"
        extra = ""
        if path.startswith("/hop"):
            status, sets, extra = "302 Found", ["hop=1; Path=/"], "Location: /landing\r\n"
        out = json.dumps({"cookie": cookies}).encode()
        head = "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s" % (
            status, len(out), extra)
        head += "".join("Set-Cookie: %s\r\n" % s for s in sets)
        return head.encode() + b"\r\n" + out, False

    def take(self):
        with self.lock:
            out, self.requests = self.requests, []
        return out


class CookiesTest(VolleyCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = CookieServer()
        cls.url = "http://127.0.0.1:%d" % cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def run_both(self, flow, extra="", iterations=1, expect_rc=0, ordered=True):
        """Runs the flow on each client; returns {client: (requests, checks)}.
        ordered=False: the clients' requests are compared as sets (a batch's
        go out in any order)."""
        out = {}
        for client in CLIENTS:
            spec = ("version: 1\n%s"
                    "scenarios:\n  c:\n    executor: per-vu-iterations\n    iterations: %d\n"
                    "    flow:\n%s") % (extra, iterations, flow.replace("URL", self.url))
            self.srv.take()
            rc, out_, err, summary = self.run_spec(spec, env={"VOLLEY_HTTP_CLIENT": client})
            self.assertEqual(rc, expect_rc, client + ": " + err)
            checks = {c["name"]: (c["passes"], c["fails"])
                      for c in summary["root_group"]["checks"].values()} if summary else {}
            # captures are reported apart from checks, as "capture NAME" here
            checks.update({"capture " + c["name"]: (c["passes"], c["fails"])
                           for c in (summary or {}).get("captures", [])})
            out[client] = (self.srv.take(), checks, err, out_)
        same = (lambda q: q) if ordered else (lambda q: sorted(json.dumps(r) for r in q))
        self.assertEqual(same(out["curl"][0]), same(out["auto"][0]),
                         "both clients send the same cookies")
        return out

    def test_one_cookie_line_with_a_cookie_header(self):
        """The defect: a step's Cookie header and the jar's cookie go on one
        line, the header's first (k6: AddCookie appends to it)."""
        r = self.run_both("""
      - http: { url: "URL/jar" }
      - http: { url: "URL/echo", headers: { Cookie: "mine=2" } }
""")
        for client, (reqs, _, _, _) in r.items():
            self.assertEqual(reqs[0]["cookies"], [])
            self.assertEqual(reqs[1]["cookies"], ["mine=2; jar=1"], client)

    def test_request_cookies_merge_and_replace(self):
        """cookies: after the Cookie header, before the jar's; replace
        leaves out the jar's of that name; quoting as Go's."""
        r = self.run_both("""
      - http: { url: "URL/login" }
      - http:
          url: "URL/app/page"
          headers: { Cookie: "h=0" }
          cookies:
            r1: "v ${vu.id}"
            session: { value: mine, replace: true }
            theme: other
""")
        for client, (reqs, _, _, _) in r.items():
            self.assertEqual(reqs[1]["cookies"],
                             ['h=0; r1="v 1"; session=mine; theme=other; theme=dark'], client)

    def test_request_cookies_stay_out_of_the_jar(self):
        r = self.run_both("""
      - http: { url: "URL/a", cookies: { once: "1" } }
      - http: { url: "URL/b" }
""")
        for client, (reqs, _, _, _) in r.items():
            self.assertEqual(reqs[0]["cookies"], ["once=1"])
            self.assertEqual(reqs[1]["cookies"], [], client)

    def test_jar_rules(self):
        """Path, Secure over http, another domain, expired, Max-Age=0, quotes."""
        r = self.run_both("""
      - http: { url: "URL/login" }
      - http: { url: "URL/attrs" }
      - http: { url: "URL/app/x" }
      - http: { url: "URL/other" }
      - http: { url: "URL/logout" }
      - http: { url: "URL/app/y" }
""")
        for client, (reqs, _, _, _) in r.items():
            # /app first (longer path), then / in the order set; sec (Secure)
            # is not sent over http://, other (example.com) and gone (expired)
            # were not kept
            self.assertEqual(reqs[2]["cookies"], ['theme=dark; session=abc123; spaced="a b"'], client)
            self.assertEqual(reqs[3]["cookies"], ['session=abc123; spaced="a b"'])
            self.assertEqual(reqs[5]["cookies"], ['theme=dark; spaced="a b"'])

    def test_jar_operations(self):
        r = self.run_both("""
      - http: { url: "URL/login" }
      - http:
          url: "URL/app/x"
          jar:
            delete: [theme]
            set:
              - { name: my_cookie, value: "hello world", path: /, max_age: 600 }
              - { name: dom, value: "d${vu.id}", domain: 127.0.0.1 }
              - { name: far, value: "1", url: "http://example.com/" }
              - { name: s, value: "1", secure: true }
              - { name: old, value: "1", expires: "Thu, 01 Jan 1970 00:00:00 GMT" }
      - http:
          url: "URL/next"
          jar: { delete: [ { name: my_cookie, url: "URL/" } ] }
      - http:
          url: "URL/after"
          jar: { clear: "URL/" }
""")
        for client, (reqs, _, _, _) in r.items():
            # jar.set's default path is the url's directory: /app for /app/x
            self.assertEqual(reqs[1]["cookies"],
                             ['dom=d1; session=abc123; my_cookie="hello world"'], client)
            self.assertEqual(reqs[2]["cookies"], ["session=abc123"])
            self.assertEqual(reqs[3]["cookies"], [])

    def test_jar_lifetime(self):
        """k6 empties the jar when an iteration starts; per_vu keeps it."""
        flow = """
      - http: { url: "URL/read" }
      - http: { url: "URL/jar" }
"""
        r = self.run_both(flow, iterations=2)
        for client, (reqs, _, _, _) in r.items():
            self.assertEqual([q["cookies"] for q in reqs], [[], [], [], []], client)
        r = self.run_both(flow, extra="defaults: { cookie_jar: per_vu }\n", iterations=2)
        for client, (reqs, _, _, _) in r.items():
            self.assertEqual([q["cookies"] for q in reqs], [[], [], ["jar=1"], ["jar=1"]], client)

    def test_redirect_hop_cookies(self):
        """A Set-Cookie on a 302 goes into the jar before the next hop."""
        r = self.run_both("""
      - http: { url: "URL/hop" }
        check:
          - { name: hop in jar, cookie: { name: hop, jar: true, equals: "1" } }
          - { name: not on the final response, cookie: { name: hop, exists: false } }
""")
        for client, (reqs, checks, _, _) in r.items():
            self.assertEqual([q["path"] for q in reqs], ["/hop", "/landing"])
            self.assertEqual(reqs[1]["cookies"], ["hop=1"], client)
            self.assertEqual(checks, {"hop in jar": (1, 0), "not on the final response": (1, 0)})

    def test_checks_and_captures(self):
        r = self.run_both("""
      - http: { url: "URL/login" }
        check:
          - { name: session set, cookie: { name: session, equals: abc123 } }
          - { name: shorthand, cookie: theme }
          - { name: in jar for url, cookie: { name: session, jar: true, contains: abc } }
          - { name: theme not for /, cookie: { name: theme, jar: true, exists: false } }
          - { name: wrong, cookie: { name: session, equals: nope } }
          - { name: missing, cookie: { name: nothing } }
          - { name: attrs, cookie: { name: session, path: /, http_only: true, secure: false, domain: "" } }
          - { name: wrong path, cookie: { name: theme, path: /, equals: dark } }
        capture:
          sid: cookie.session
          jsid: jar_cookie.session
      - http: { url: "URL/use", headers: { X-Sid: "${sid}-${jsid}" } }
        capture:
          none: jar_cookie.theme
""", expect_rc=0)
        for client, (reqs, checks, err, out) in r.items():
            self.assertEqual(checks["session set"], (1, 0))
            self.assertEqual(checks["shorthand"], (1, 0))
            self.assertEqual(checks["in jar for url"], (1, 0))
            self.assertEqual(checks["theme not for /"], (1, 0))
            self.assertEqual(checks["wrong"], (0, 1))
            self.assertEqual(checks["missing"], (0, 1))
            self.assertEqual(checks["attrs"], (1, 0))
            self.assertEqual(checks["wrong path"], (0, 1))
            self.assertEqual(checks["capture sid"], (1, 0))
            self.assertEqual(checks["capture jsid"], (1, 0))
            self.assertEqual(checks["capture none"], (0, 1))
        # the captured values were sent, and are never shown
        spec = self.write_spec("""
version: 1
scenarios:
  c:
    executor: per-vu-iterations
    flow:
      - http: { url: "%s/login" }
        check:
          - { name: wrong, cookie: { name: session, equals: nope } }
          - { name: path, cookie: { name: theme, path: / } }
        capture: { sid: cookie.session }
      - http: { url: "%s/use?s=${sid}" }
        check: { name: echo, body: { contains: "${sid}x" } }
""" % (self.url, self.url))
        self.srv.take()
        rc, out, err = self.volley("run", spec)
        self.assertEqual(rc, 0, err)
        self.assertIn('cookie session: "***" is not "***"', out)
        self.assertIn('cookie theme: path is "/app", not "/"', out)
        self.assertNotIn("abc123", out + err)
        self.assertEqual(self.srv.take()[1]["path"], "/use?s=abc123")

    def test_named_jars(self):
        """jar: NAME (k6's local new http.CookieJar() as params.jar): the
        step sends from and stores into the VU's jar of that name, never
        the VU's own; checks read the step's jar (jar: true) or the VU's
        own (jar: vu); a batch's requests use the VU's named jars; every
        jar is new in the next iteration (per_iteration)."""
        r = self.run_both("""
      - http: { url: "URL/login" }
      - http:
          url: "URL/jar"
          jar: { use: local, set: [ { name: l7, value: "7", path: / } ] }
        check:
          - { name: local has l7, cookie: { name: l7, jar: true, equals: "7" } }
          - { name: local has jar, cookie: { name: jar, jar: true } }
          - { name: local has no session, cookie: { name: session, jar: true, exists: false } }
          - { name: vu has session, cookie: { name: session, jar: vu, equals: abc123 } }
          - { name: vu has no l7, cookie: { name: l7, jar: vu, exists: false } }
          - { name: vu has no jar, cookie: { name: jar, jar: vu, exists: false } }
        capture: { l: jar_cookie.l7 }
      - http: { url: "URL/own" }
        check:
          - { name: own has no l7, cookie: { name: l7, jar: true, exists: false } }
          - { name: vu is own, cookie: { name: session, jar: vu } }
      - http: { url: "URL/again", jar: local, headers: { X-L: "${l}" } }
      - http: { url: "URL/other", jar: other }
      - batch:
          - http: { url: "URL/b1", jar: local }
          - http: { url: "URL/b2" }
      - http: { url: "URL/vu", jar: { use: vu } }
""", iterations=2, ordered=False)
        for client, (reqs, checks, _, _) in r.items():
            got = [(q["path"], q["cookies"]) for q in reqs]
            it = [("/login", []), ("/jar", ["l7=7"]),
                  ("/own", ["session=abc123"]),
                  ("/again", ["l7=7; jar=1"]), ("/other", [])]
            batch = sorted([("/b1", ["l7=7; jar=1"]), ("/b2", ["session=abc123"])])
            last = [("/vu", ["session=abc123"])]
            one = got[:5] + sorted(got[5:7]) + got[7:8]
            two = got[8:13] + sorted(got[13:15]) + got[15:16]
            self.assertEqual(one, it + batch + last, client)
            self.assertEqual(two, it + batch + last, client)   # every jar new
            for name in ("local has l7", "local has jar", "local has no session",
                         "vu has session", "vu has no l7", "vu has no jar", "own has no l7",
                         "vu is own", "capture l"):
                self.assertEqual(checks[name], (2, 0), client + ": " + name)

    def test_named_jars_per_vu(self):
        """cookie_jar: per_vu keeps a named jar across iterations too (k6: a
        CookieJar made in the init context lives as long as its VU)."""
        r = self.run_both("""
      - http: { url: "URL/read", jar: mine }
      - http: { url: "URL/jar", jar: mine }
""", extra="defaults: { cookie_jar: per_vu }\n", iterations=2)
        for client, (reqs, _, _, _) in r.items():
            self.assertEqual([q["cookies"] for q in reqs], [[], [], ["jar=1"], ["jar=1"]], client)

    def test_load_errors(self):
        spec = self.write_spec("""
version: 1
scenarios:
  c:
    executor: per-vu-iterations
    flow:
      - http:
          url: http://127.0.0.1:1/
          cookies: { ok: { value: 1, replace: maybe } }
        check:
          - { name: c, cookie: { name: x, exists: false, equals: y } }
          - { name: d, cookie: { name: x, jar: true, path: / } }
        capture: { v: cookie.a=b }
      - http:
          url: http://127.0.0.1:1/
          cookies: { "bad name": x }
      - http:
          url: http://127.0.0.1:1/
          jar: { set: [ { name: a, value: b, expires: someday } ] }
      - http:
          url: http://127.0.0.1:1/
          jar: { set: [ { name: a, value: b }, { name: c, value: d, path: "/a b" } ] }
      - http: { url: http://127.0.0.1:1/, jar: "my jar" }
        check: { name: e, cookie: { name: x, jar: mine } }
""" + "".join("""      - http: { url: http://127.0.0.1:1/, jar: j%d }
""" % i for i in range(9)))
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("cookies.ok.replace: expected true or false", err)
        self.assertIn('cookies: "bad name" is not a cookie name', err)
        # at the value's place, not the jar's
        lines = open(spec).read().split("\n")
        def at(needle):
            row = next(i for i, l in enumerate(lines) if needle in l)
            return "spec.yaml:%d:%d: error: " % (row + 1, lines[row].index(needle) + 1)
        self.assertIn(at("someday") + 'scenarios.c.flow[2].http.jar.set[0].expires: "someday" is '
                      "not a date", err)
        self.assertIn(at('"/a b"') + 'scenarios.c.flow[3].http.jar.set[1].path: "/a b" cannot '
                      "hold a space", err)
        self.assertIn('"a=b" is not a cookie name', err)
        self.assertIn('"exists: false" cannot be combined', err)
        self.assertIn("cookie: path, domain, secure and http_only are a Set-Cookie's attributes: "
                      "not with jar: true", err)
        self.assertIn('jar.use: "my jar" is not a jar name', err)
        self.assertIn("cookie: jar: expected true, false or vu", err)
        self.assertIn('jar.use: "j8" is a named jar too many: a spec may name at most 8', err)

    def test_foreign_domain_is_said_at_load_time(self):
        # k6's jar (Go's) drops a jar.set cookie whose domain does not cover
        # the url's host, silently; known at load time, volley says so
        spec = self.write_spec("""
version: 1
scenarios:
  c:
    executor: per-vu-iterations
    flow:
      - http:
          url: http://127.0.0.1:1/
          jar: { set: [ { name: a, value: b, domain: example.com } ] }
      - http:
          url: http://127.0.0.1:1/
          jar: { set: [ { name: a, value: b, url: "http://shop.example.com/", domain: example.com }, { name: c, value: d, domain: .127.0.0.1 } ] }
""")
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r'volley: warning: \S+spec\.yaml:\d+:\d+: "example\.com" does not cover '
                              r"127\.0\.0\.1, the host of the step's url: the jar drops this "
                              r"cookie, as k6's jar\.set does \(jar\.set\[0\]\)\n")
        self.assertEqual(err.count("does not cover"), 1, err)

    def test_nginx(self):
        """The test nginx: a real server's Set-Cookie, and the one line it got."""
        spec = self.write_spec("""
version: 1
scenarios:
  c:
    executor: per-vu-iterations
    flow:
      - http: { url: "%s/cookies/set" }
        check: { name: set, cookie: { name: session, equals: abc123 } }
      - http: { url: "%s/cookies", headers: { Cookie: "mine=2" } }
        check: { name: one line, body: { contains: '{"cookie":"mine=2; theme=dark; session=abc123"}' } }
      - http: { url: "%s/cookies/logout" }
      - http: { url: "%s/cookies" }
        check: { name: logged out, body: { contains: '{"cookie":"theme=dark"}' } }
      - http: { url: "%s/cookies/set", jar: mine }
      - http: { url: "%s/cookies", jar: mine }
        check:
          - { name: named jar, body: { contains: '{"cookie":"theme=dark; session=abc123"}' } }
          - { name: vu jar apart, cookie: { name: session, jar: vu, exists: false } }
""" % (NGINX, NGINX, NGINX, NGINX, NGINX, NGINX))
        for client in CLIENTS:
            summary = os.path.join(self.tmp, "s-%s.json" % client)
            rc, out, err = self.volley("run", "-q", "--summary-export", summary, spec,
                                       env={"VOLLEY_HTTP_CLIENT": client})
            self.assertEqual(rc, 0, err)
            with open(summary) as f:
                checks = {c["name"]: (c["passes"], c["fails"])
                          for c in json.load(f)["root_group"]["checks"].values()}
            self.assertEqual(checks, {"set": (1, 0), "one line": (1, 0), "logged out": (1, 0),
                                      "named jar": (1, 0), "vu jar apart": (1, 0)}, client)

    @unittest.skipUnless(os.environ.get("TEST_NGINX_TLS_URL") and os.environ.get("TEST_NGINX_TLS_CA"),
                         "the test nginx's https port (ctest sets TEST_NGINX_TLS_URL)")
    def test_secure_over_https(self):
        """A Secure cookie goes over https:// only (k6), on the fast path's
        TLS and on curl; a cookie of the http:// origin goes to https:// of
        the same host too (cookies ignore the port)."""
        tls, ca = os.environ["TEST_NGINX_TLS_URL"], os.environ["TEST_NGINX_TLS_CA"]
        spec = self.write_spec("""
version: 1
defaults: { tls: { ca_file: "%s" } }
scenarios:
  c:
    executor: per-vu-iterations
    flow:
      - http:
          url: "%s/cookies"
          jar: { set: [ { name: s, value: "1", secure: true, path: / }, { name: p, value: "2", path: / } ] }
        check: { name: http, body: { contains: '{"cookie":"p=2"}' } }
      - http: { url: "%s/cookies" }
        check:
          - { name: https, body: { contains: '{"cookie":"s=1; p=2"}' } }
          - { name: jar view, cookie: { name: s, jar: true, equals: "1" } }
""" % (ca, NGINX, tls))
        for client in CLIENTS:
            summary = os.path.join(self.tmp, "s-%s.json" % client)
            rc, out, err = self.volley("run", "-q", "--summary-export", summary, spec,
                                       env={"VOLLEY_HTTP_CLIENT": client})
            self.assertEqual(rc, 0, err)
            with open(summary) as f:
                checks = {c["name"]: (c["passes"], c["fails"])
                          for c in json.load(f)["root_group"]["checks"].values()}
            self.assertEqual(checks, {"http": (1, 0), "https": (1, 0), "jar view": (1, 0)}, client)


if __name__ == "__main__":
    unittest.main()
