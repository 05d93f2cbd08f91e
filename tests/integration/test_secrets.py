"""Secrets (docs/spec-reference.md#secrets): ${env.*} values whose names
contain TOKEN, SECRET, PASSWORD or KEY, and the values of Authorization,
Proxy-Authorization, Cookie and Set-Cookie headers, are sent as they are
but never shown: not on stdout or stderr, not in json-out's NDJSON, the
--summary-export JSON or analytics-sink's event. The real volley binary
against a recording server that echoes what it got, so a check that fails
on an echoed secret has it to quote."""
import http.server
import json
import os
import threading
import unittest
import urllib.parse

from test_ws import WsServer
from volleytest import DEAD, VolleyCase

TOKEN = "s3cr3t-tok-4711"
API_KEY = "k3y/v+alue="                 # changes when URL-encoded
DB_PASSWORD = 'pw-9x!"quoted"'          # changes when JSON-escaped
COOKIE = "sid=cookie-v4lue-77"          # only ever in a Set-Cookie header
LITERAL_AUTH = "Basic bGl0ZXJhbDphdXRo"  # an Authorization written as it is
REGION = "eu-west-9"                    # not a secret: shown as it is

ENV = {"API_TOKEN": TOKEN, "API_KEY": API_KEY, "DB_PASSWORD": DB_PASSWORD, "REGION": REGION}


def forms(value):
    """A value as it may appear in shown text: as is, URL-encoded two ways,
    JSON-escaped."""
    out = {value, urllib.parse.quote_plus(value, safe=""), urllib.parse.quote(value, safe=""),
           json.dumps(value)[1:-1]}
    return out


SECRETS = set().union(forms(TOKEN), forms(API_KEY), forms(DB_PASSWORD), forms(COOKIE),
                      forms(LITERAL_AUTH), {"cookie-v4lue-77"})


class EchoServer:
    """Records every request; /echo answers with what it got (the
    Authorization and X-Session headers in the JSON body and in headers) and
    sets a cookie; anything else answers {}."""

    def __init__(self):
        rec = self
        self.requests = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
                with rec.lock:
                    rec.requests.append({"method": self.command, "path": self.path,
                                         "headers": dict(self.headers), "body": body})
                extra = {}
                if self.path.startswith("/echo"):
                    out = json.dumps({"auth": self.headers.get("Authorization", ""),
                                      "session": self.headers.get("X-Session", ""),
                                      "password": DB_PASSWORD, "region": REGION})
                    extra["Set-Cookie"] = COOKIE + "; Path=/"
                    extra["X-Auth-Echo"] = self.headers.get("Authorization", "")
                else:
                    out = "{}"
                data = out.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def taken(self):
        with self.lock:
            return list(self.requests)


class SecretsTest(VolleyCase):
    def setUp(self):
        super().setUp()
        self.srv = EchoServer()
        self.env = dict(ENV, TARGET=self.srv.url)

    def tearDown(self):
        self.srv.stop()

    def assertHidden(self, text, where):
        for s in SECRETS:
            self.assertNotIn(s, text, "%r shown in %s:\n%s" % (s, where, text))

    def test_run_shows_no_secret_but_sends_them(self):
        ndjson = os.path.join(self.tmp, "out.ndjson")
        summary = os.path.join(self.tmp, "summary.json")
        spec = self.write_spec("""
            version: 1
            services:
              api: { url: "${env.TARGET}" }
            defaults:
              headers:
                Authorization: "Bearer ${env.API_TOKEN}"
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 2
                flow:
                  - http:
                      url: "${services.api}/echo?key=${env.API_KEY}&region=${env.REGION}"
                    check:
                      - { name: auth header, header: { name: X-Auth-Echo, equals: "Bearer ${env.API_TOKEN}x" } }
                      - { name: auth echoed, json: { path: auth, equals: "${env.API_TOKEN}" } }
                      - { name: password, json: { path: password, equals: "x${env.DB_PASSWORD}" } }
                      - { name: password in body, body: { contains: "${env.DB_PASSWORD}" } }
                      - { name: cookie, header: { name: Set-Cookie, contains: nothing-like-it } }
                      - { name: region, json: { path: region, equals: "${env.REGION}-x" } }
                    capture:
                      session: header.Set-Cookie
                  - http:
                      name: with session
                      url: ${services.api}/echo
                      headers: { X-Session: "${session}" }
                    check:
                      - { name: session echoed, json: { path: session, equals: "${session}x" } }
                      - { name: session in body, body: { not_contains: "${session}" } }
                  - http:
                      url: ${services.api}/echo
                      query: { key: "${env.API_KEY}", region: "${env.REGION}" }
                      headers: { Authorization: "%s" }
                    check:
                      - { name: literal auth, json: { path: auth, equals: other } }
                  - http: { url: "%s/x?token=${env.API_TOKEN}" }
                    check:
                      - { name: transport, status: 200 }
            outputs:
              - json-out: %s
              - analytics-sink:
                  url: "${services.api}/events?key=${env.API_KEY}"
                  test_run_id: "run-${env.API_TOKEN}"
                  test_scenario: "${env.REGION}"
                  load_level: "pw ${env.DB_PASSWORD}"
            """ % (LITERAL_AUTH, DEAD, ndjson))
        rc, out, err = self.volley("run", "-v", "--summary-export", summary, spec, env=self.env)
        self.assertEqual(rc, 0, err)

        # The wire is unchanged: the server got every secret.
        reqs = self.srv.taken()
        paths = [r["path"] for r in reqs]
        self.assertIn("/echo?key=%s&region=%s" % (API_KEY, REGION), paths)
        self.assertIn("/echo?key=%s&region=%s" % (urllib.parse.quote_plus(API_KEY, safe=""), REGION),
                      paths)
        auths = {r["headers"].get("Authorization") for r in reqs}
        self.assertIn("Bearer " + TOKEN, auths)
        self.assertIn(LITERAL_AUTH, auths)
        self.assertIn(COOKIE + "; Path=/", {r["headers"].get("X-Session") for r in reqs})
        events = [r for r in reqs if r["path"].startswith("/events")]
        self.assertEqual(len(events), 1, paths)
        self.assertEqual(events[0]["path"], "/events?key=" + API_KEY)   # its url, as written

        # Nothing shown holds one.
        with open(ndjson) as f:
            nd = f.read()
        with open(summary) as f:
            export = f.read()
        event = events[0]["body"]
        for text, where in ((out, "stdout"), (err, "stderr"), (nd, "NDJSON"),
                            (export, "--summary-export"), (event, "analytics-sink's event")):
            self.assertHidden(text, where)

        # ...where they are shown as ***, and other values as they are.
        urls = {p["data"]["tags"].get("url") for p in self.read_ndjson(ndjson) if p["type"] == "Point"}
        self.assertIn("%s/echo?key=***&region=%s" % (self.srv.url, REGION), urls)
        self.assertIn("%s/echo?key=***&region=%s" % (self.srv.url, REGION), urls)
        self.assertIn("%s/x?token=***" % DEAD, urls)
        names = {p["data"]["tags"].get("name") for p in self.read_ndjson(ndjson) if p["type"] == "Point"}
        self.assertIn("%s/echo?key=***&region=%s" % (self.srv.url, REGION), names)
        self.assertIn("with session", names)
        # "Bearer <token>" is a secret as a whole too (an Authorization value)
        self.assertIn('first failure: header: header X-Auth-Echo: "***" is not "***x"', out)
        self.assertIn('first failure: json: auth: "***" (expected "***")', out)
        self.assertIn('first failure: json: password: "***" (expected "x***")', out)
        self.assertRegex(out, r'first failure: body: body \(\d+ bytes\) does not contain "\*\*\*"')
        self.assertRegex(out, r'first failure: body: body \(\d+ bytes\) contains "\*\*\*" \(from \$\{session\}\)')
        self.assertIn('first failure: header: header Set-Cookie: "***" does not contain "***"', out)
        self.assertIn('first failure: json: region: "%s" (expected "%s-x")' % (REGION, REGION), out)
        self.assertIn('first failure: json: session: "***" (expected "***x" from ${session}x)', out)
        self.assertIn('first failure: json: auth: "***" (expected "other")', out)
        ev = json.loads(event)
        self.assertEqual(ev["transaction_id"], "run-***")
        self.assertEqual(ev["data"]["test_scenario"], REGION)
        self.assertEqual(ev["data"]["load_level"], "pw ***")
        self.assertIn("analytics-sink: run run-*** recorded", err)

    def test_load_time_messages_hide_folded_values(self):
        spec = self.write_spec("""
            version: 1
            services:
              api: { url: "${env.SVC_TOKEN}" }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: ${env.PORT_KEY}
                iterations: ${env.REGION}
                flow:
                  - http: { url: "http://127.0.0.1:1/x?key=${env.API_KEY} x" }
                  - http: { url: "http://127.0.0.1:1/x" }
                    check:
                      - { name: re, body: { matches: "${env.RE_SECRET}" } }
            """)
        env = dict(self.env, SVC_TOKEN="ftp://svc-" + TOKEN, PORT_KEY="port-" + TOKEN,
                   RE_SECRET="([" + TOKEN)
        for cmd in ("validate", "run"):
            rc, out, err = self.volley(cmd, spec, env=env)
            self.assertEqual(rc, 104, err)
            self.assertHidden(out + err, "volley " + cmd)
            self.assertIn('services.api.url: expected an http://, https://, ws:// or wss:// URL, got "***"',
                          err)
            self.assertIn('scenarios.s.vus: expected an integer, got string "***" (from ${env.PORT_KEY})', err)
            # not a secret: the folded value is quoted as it is
            self.assertIn('scenarios.s.iterations: expected an integer, got string "%s" (from ${env.REGION})'
                          % REGION, err)
            self.assertIn('invalid regular expression "***"', err)
            self.assertIn("key=*** x", err)

    def test_scan_hides_secrets(self):
        spec = self.write_spec("""
            version: 1
            services:
              up: { url: "${env.TARGET}/echo?key=${env.API_KEY}&region=${env.REGION}" }
              down: { url: "%s/h?token=${env.API_TOKEN}" }
              tok: { url: "http://127.0.0.1:${env.TOKEN_PORT}/t" }
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http: { url: "${services.up}" }
            """ % DEAD)
        rc, out, err = self.volley("scan", spec, env=dict(self.env, TOKEN_PORT="1"))
        self.assertEqual(rc, 1, out + err)
        self.assertIn("http://127.0.0.1:1/t", out)   # a port, not a secret
        self.assertHidden(out + err, "volley scan")
        self.assertIn("/echo?key=***&region=%s" % REGION, out)
        self.assertIn("%s/h?token=***" % DEAD, out)
        self.assertIn("/echo?key=%s&region=%s" % (API_KEY, REGION), [r["path"] for r in self.srv.taken()])

    def test_setup_failure_reason_hides_secrets(self):
        spec = self.write_spec("""
            version: 1
            services:
              api: { url: "${env.TARGET}" }
            setup:
              - http: { url: "${services.api}/echo", headers: { Authorization: "Bearer ${env.API_TOKEN}" } }
                check:
                  - { name: token echoed, json: { path: auth, equals: "${env.API_TOKEN}" } }
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http: { url: "${services.api}/x" }
            """)
        rc, out, err = self.volley("run", "-q", spec, env=self.env)
        self.assertEqual(rc, 107, err)
        self.assertHidden(out + err, "a failed setup")
        self.assertIn('check "token echoed" failed: json: auth: "***" (expected "***")', err)

    def test_ws_session_shows_no_secret(self):
        ws = WsServer()
        self.addCleanup(ws.stop)
        ndjson = os.path.join(self.tmp, "ws.ndjson")
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - ws:
                      url: "${env.WS}/hello?token=${env.API_TOKEN}&region=${env.REGION}"
                      headers: { Authorization: "Bearer ${env.API_TOKEN}" }
                      close_after: 300ms
                      check_each_message:
                        - { name: hello path, json: { path: path, equals: nope } }
                        - { name: hello auth, json: { path: headers.authorization, equals: nope } }
            """)
        rc, out, err = self.volley("run", "--out", "json-out=" + ndjson, spec,
                                   env=dict(self.env, WS="ws://127.0.0.1:%d" % ws.port))
        self.assertEqual(rc, 0, err)
        with open(ndjson) as f:
            nd = f.read()
        for text, where in ((out, "stdout"), (err, "stderr"), (nd, "NDJSON")):
            self.assertHidden(text, where)
        urls = {p["data"]["tags"].get("url") for p in self.read_ndjson(ndjson) if p["type"] == "Point"}
        self.assertIn("ws://127.0.0.1:%d/hello?token=***&region=%s" % (ws.port, REGION), urls)
        self.assertIn('first failure: json: path: "/hello?token=***&region=%s" (expected "nope")' % REGION,
                      out)
        self.assertIn('first failure: json: headers.authorization: "***" (expected "nope")', out)


class UrlCredentialsTest(VolleyCase):
    """http://user:password@host/ authenticates (curl sends basic auth)
    and is shown as http://****:****@host/ as k6 shows it: the name and
    url tags, so json-out and the summary never carry the credentials."""

    def test_credentials_in_urls_are_masked_and_sent(self):
        from volleytest import NGINX
        hostport = NGINX.split("://", 1)[1]
        nd = os.path.join(self.tmp, "out.ndjson")
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              creds:
                executor: per-vu-iterations
                flow:
                  - http: { url: "http://user:passwd@%s/reflect" }
                    check:
                      - { name: basic auth sent, json: { path: auth, equals: "Basic dXNlcjpwYXNzd2Q=" } }
                  - http: { url: "http://only-user@%s/reflect?v=${vu.id}" }
                    check:
                      - { name: user sent, json: { path: auth, equals: "Basic b25seS11c2VyOg==" } }
            thresholds:
              checks: ["rate==1"]
              "http_reqs{name:http://****:****@%s/reflect}": ["count==1"]
            """ % (hostport, hostport, hostport), "--out", "json-out=" + nd, env={})
        self.assertEqual(rc, 0, out + err)
        with open(nd) as f:
            text = f.read()
        self.assertNotIn("passwd", text + out + err + json.dumps(s))
        self.assertNotIn("only-user", text)
        tags = {(o["data"]["tags"]["name"], o["data"]["tags"]["url"]) for o in self.read_ndjson(nd)
                if o["type"] == "Point" and o["metric"] == "http_reqs"}
        self.assertEqual(tags, {("http://****:****@%s/reflect" % hostport,) * 2,
                                ("http://****@%s/reflect?v=${vu.id}" % hostport,) * 2})


if __name__ == "__main__":
    unittest.main()
