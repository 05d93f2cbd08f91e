"""The Volley twins of k6's own examples (tests/k6/twins/, catalogued in
tests/k6/CATALOG.md) run against the local stand-in (tests/k6/standin.py)
and do what the k6 scripts do: the same requests, checks and verdicts.

Each twin runs with `volley run --summary-export --summary-json --out
json-out` and is
judged on its exit code, its request count, the passes and fails of each
check (by k6's path, ::group::name) and, where the script tags or counts
something, the tags and metrics of its samples. A twin whose first lines
say `# needs: FEATURE` waits for a feature still being built: it is
skipped with that reason (and not counted as passing) until the line goes."""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from volleytest import SOURCE, VOLLEY  # noqa: E402
import tlspki  # noqa: E402

K6 = os.path.join(SOURCE, "tests", "k6")
TWINS = os.path.join(K6, "twins")
sys.path.insert(0, K6)
import standin  # noqa: E402


def needs(path):
    """The `# needs:` reasons in a twin's leading comment lines."""
    out = []
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            m = re.match(r"#\s*needs:\s*(.+)", line)
            if m:
                out.append(m.group(1).strip())
    return out


def checks_of(group, out=None):
    """{path: (passes, fails)} of every check in a --summary-json root_group
    (k6's handleSummary shape: one check per path, however many steps
    have a check of that name; --summary-export keeps only one of them)."""
    out = {} if out is None else out
    for c in group.get("checks", []):
        out[c["path"]] = (c["passes"], c["fails"])
    for g in group.get("groups", []):
        checks_of(g, out)
    return out


# A log step's line: k6's console shape, LEVEL[SECONDS] TEXT  source=console
CONSOLE = re.compile(r"^(INFO|WARN|ERRO|DEBU)\[(\d{4,})\] (.*?) +source=console$")


def console_lines(stderr):
    """[(LEVEL, text)] of the console lines in a run's stderr."""
    return [(m.group(1), m.group(3)) for m in map(CONSOLE.match, stderr.splitlines()) if m]


def all_pass(*paths, n=1):
    return {p: (n, 0) for p in paths}


# What each twin must do. rc: exit code (rc_in: one of these, for a script
# whose verdict is random); aborted: the start of run.abort_reason; reqs:
# http_reqs count (an int, or (min, max)); wire: the requests the stand-in
# saw, when not reqs; checks: {path: (passes, fails)}
# exactly, or with "min" the passes at least and no fails; checks_sum:
# {path: passes + fails} of a check on a random value (left out of
# checks); checks_total: how many checks, each passing; metrics /
# metrics_min: {key: {stat: value or least}} of the export; export: a
# function of the export's metrics that must hold; tagged: (metric, tag,
# value) that some json-out sample carries; untagged: (metric, tag) that
# no sample of the metric carries; logged: [(LEVEL, text)], exactly the
# console lines on stderr (log steps: k6's console.log), in order; sent:
# a function of the
# stand-in's requests (standin.Request: method, path, headers, body). A
# key NAME@CASE runs twins/NAME.yaml again with the -e values of
# EXTRA_ENV[NAME@CASE], to take a branch the default run does not.
# -e values per twin: timing limits loosened where a busy (or sanitized) CI
# machine, not Volley, would decide the verdict; a shop's chances set to
# 1 or 0 so that every branch is taken or none.
EXTRA_ENV = {"localhost": {"K6_AVG_MS": "2000", "K6_IMG_AVG_MS": "2000", "K6_MIN_RATE": "0.1"},
             "graphql@unauthorized": {"GITHUB_ACCESS_TOKEN": "expired"},
             "pantheon": {"THINK": "10ms"},
             "pantheon@every-product": {"THINK": "10ms", "CATEGORY_CHANCE": "1", "PRODUCT_CHANCE": "1"},
             "pantheon@no-category": {"THINK": "10ms", "CATEGORY_CHANCE": "0"}}

SHOP = "/pantheon"
STATIC = ("/modules/", "/misc/", "/profiles/", "/sites/")


def pages(r):
    """The shop's page requests (method, path below /pantheon), static
    files left out."""
    return [(q.method, q.path[len(SHOP):]) for q in r
            if q.path.startswith(SHOP) and not q.path[len(SHOP):].startswith(STATIC)]


def statics(r):
    return [q for q in r if q.path.startswith(SHOP) and q.path[len(SHOP):].startswith(STATIC)]


def form_of(q):
    return dict(urllib.parse.parse_qsl(q.body.decode(), keep_blank_values=True))


CART_ADDS = ["/bags-cases/commerce-guys-laptop-bag", "/bags-cases/drupal-commerce-messenger-bag",
             "/drinks/drupal-commerce-wake-you", "/drinks/guy-mug"]
CHECKOUT = [("POST", "/cart"), ("GET", "/checkout/7"), ("POST", "/checkout/7"), ("GET", "/checkout/7/shipping"),
            ("POST", "/checkout/7/shipping"), ("GET", "/checkout/7/review"), ("POST", "/checkout/7/review"),
            ("GET", "/checkout/7/payment"), ("GET", "/checkout/7/paypal_ec"), ("GET", "/checkout/7/complete")]


# pantheon.js's checks, by path; those of every visit first
SHOP_ALWAYS = ["::front page::title is correct", "::login page::title is correct",
               "::login page::login::login succeeded", "::checkout::Checkout 1: review cart::title is correct",
               "::logout::logout succeeded"]
SHOP_CHECKS = SHOP_ALWAYS + [
    "::%s::title is correct" % g for g in (
        "To Carry", "To Carry::Laptop bag", "To Carry::Drupal Bag", "To Drink With",
        "To Drink With::Drupal Commerce to Wake You Up", "To Drink With::The Guy Mug")] + [
    "::%s::add to cart::add to cart succeeded" % g for g in (
        "To Carry::Laptop bag", "To Carry::Drupal Bag", "To Drink With::Drupal Commerce to Wake You Up",
        "To Drink With::The Guy Mug")] + [
    "::checkout::Checkout 2: submit cart::cart submit succeeded",
    "::checkout::Checkout 3: billing details::billing details succeeded",
    "::checkout::Checkout 4: shipping options::shipping options succeeded",
    "::checkout::Checkout 5: review and submit::Checkout 6: checkout complete"]


def shop_visit(r):
    """pantheon.js's path through the shop, whatever its random picks: the
    front page and its 85 static files, login (redirected to the user's
    page), the categories and products picked, the checkout only when
    something was added to the cart, and the logout; every form posted
    with the hidden fields of the page before it (the stand-in re-shows a
    form whose build id it did not give); the static files with the
    session cookie the front page set, as k6's batch sends the VU's."""
    p = pages(r)
    head = [("GET", "/"), ("GET", "/user/login"), ("POST", "/user/login"), ("GET", "/users/testuser1")]
    if p[:4] != head or p[-1] != ("GET", "/user/logout") or len(statics(r)) != 85:
        return False
    session = [q for q in r if q.path == SHOP + "/user/login"][0].headers.get("Cookie", "")
    if not session.startswith("SESS=") or any(q.headers.get("Cookie") != session for q in statics(r)):
        return False
    adds = [path for m, path in p if m == "POST" and path in CART_ADDS]
    tail = p[p.index(("GET", "/cart")):-1]
    return tail[1:] == (CHECKOUT if adds else [])

EXPECT = {
    "http_get": dict(reqs=1, checks={}, sent=lambda r: [m for m, p, *_ in r] == ["GET"]),
    "http_verbs": dict(reqs=5, checks={
        **all_pass(*["::%s::status is 200" % v for v in ("GET", "POST", "PUT", "PATCH", "DELETE")]),
        **all_pass(*["::%s::is verb correct" % v for v in ("GET", "POST", "PUT", "PATCH", "DELETE")])},
        sent=lambda r: [m for m, p, *_ in r] == ["GET", "POST", "PUT", "PATCH", "DELETE"]),
    "json": dict(reqs=1, checks=all_pass("::status is 200", "::is key correct"),
                 sent=lambda r: r[0][2].get("Content-Type") == "application/json"),
    "stages": dict(reqs=(50, None), checks_min={"::status is 200": 50},
                   metrics={"vus_max": {"value": 5}}),
    "thresholds": dict(reqs=2, checks={},
                       metrics={"http_req_duration{name:http://httpbin.org/post}": {"thresholds": {"max<1000": False}},
                                "http_req_duration": {"thresholds": {"p(95)<500": False}}},
                       sent=lambda r: [(m, p) for m, p, *_ in r] == [("GET", "/"), ("POST", "/post")]),
    "localhost": dict(reqs=3, checks=all_pass("::front page::status is 200", "::stylesheet::status is 200",
                                              "::image::status is 200"),
                      metrics={"http_reqs": {"thresholds": {"rate>0.1": False}},
                               "http_req_duration{kind:css}": {"thresholds": {"avg<=2000": False}}},
                      tagged=[("http_req_duration", "kind", "img")]),
    "tls_skip_cert_verification": dict(reqs=1, checks=all_pass("::status is 200")),
    "http_basic_auth": dict(reqs=2, checks=all_pass("::status is 200", "::is authenticated",
                                                    "::is correct user", n=2),
                            sent=lambda r: [h.get("Authorization") for _, _, h, *_ in r] ==
                            ["Basic dXNlcjpwYXNzd2Q="] * 2),
    "enhanced-abort": dict(rc=108, reqs=0, checks={}, aborted="failed (abort at "),
    # random values: the top-level check passes or fails, my_rate's one
    # sample decides its threshold (so the exit code), as in k6
    "es6sample": dict(rc_in=(0, 99), reqs=2, checks_sum={"::top-level test": 1}, checks={
        **all_pass("::my group::random value is < 0.5", "::my group::json::status is 200",
                   "::my group::json::X-Test header is correct", "::my group::html::status is 200",
                   "::my group::html::content type is html",
                   "::my group::html::welcome message is correct", "::my group::nested::always passes"),
        "::my group::nested::always fails": (0, 1)},
        metrics={"my_counter": {"count": 1}}, tagged=[("my_counter", "tag", "test")],
        untagged=[("my_rate", "tag"), ("checks", "tag")],   # mCounter.add(1, { tag: "test" }) only
        logged=[("INFO", standin.TESTK6_DESCRIPTION)],
        sent=lambda r: [(p, h.get("X-Test")) for _, p, h, *_ in r] == [("/get", "abc123"), ("/test.k6.io/", None)]),
    # console.log of three digests, computed here with hashlib
    "crypto": dict(reqs=0, checks={}, logged=[
        ("INFO", hashlib.sha1(b"some text").hexdigest()),
        ("INFO", hashlib.sha1(b"some other text").hexdigest()),
        ("INFO", base64.b64encode(hashlib.sha1(b"some other text").digest()).decode())]),
    "tlsconfig": dict(reqs=1, checks=all_pass("::is TLSv1.2", "::is sha256 cipher suite"),
                      tagged=[("http_reqs", "tls_version", "tls1.2")]),
    "ocsp": dict(reqs=1, checks=all_pass("::is OCSP response good")),
    # --- twins that wait for features being built (# needs: in the file) ---
    # k6 (Go's url.Values) sorts the keys; the twin sends them in the
    # order written, with the list's values in its order
    "html_form_post": dict(reqs=1, checks=all_pass(
        "::status is 200", "::has correct name", "::has correct telephone number", "::has correct email",
        "::has correct comment", "::has correct toppings"),
        sent=lambda r: r[0].method == "POST" and r[0].body ==
        b"name=Test+Name&telephone=123456789&email=test%40example.com&comment=Hello+world%21"
        b"&topping=onion&topping=bacon&topping=cheese"),
    "http_batch": dict(reqs=2, checks=all_pass("::main page 200", "::pi page 200",
                                               "::pi page has right content")),
    # the challenge and the answer: two requests on the wire, measured as
    # one (k6 records the 401 too: the departure in spec-reference's auth)
    "http_digest_auth": dict(reqs=1, wire=2, checks=all_pass("::status is 200", "::is authenticated",
                                                             "::is correct user"),
                             sent=lambda r: "Authorization" not in r[0].headers and
                             r[1].headers.get("Authorization", "").startswith('Digest username="user"')),
    "http_2": dict(reqs=1, checks=all_pass("::status is 200", "::protocol is HTTP/2")),
    "docker-compose-influxdb-v1": dict(reqs=1, checks=all_pass("::status is 200", "::protocol is HTTP/2")),
    "docker-compose-opentelemetry": dict(reqs=(20, None), checks_min={"::status is 200": 20,
                                                                     "::protocol is HTTP/2": 20}),
    "redirects": dict(reqs=8, checks=all_pass("::is status 302", "::is status 200", "::url is correct")),
    "graphql": dict(reqs=2, checks={}, sent=lambda r: [p for _, p, *_ in r] == ["/graphql", "/graphql"] and
                    all(q.headers.get("Authorization") == "Bearer YOUR_GITHUB_ACCESS_TOKEN" and
                        q.headers.get("Content-Type") == "application/json" for q in r) and
                    b"query FindFirstIssue" in r[0].body and
                    b'subjectId:\\"MDU6SXNzdWUxNzA1MzA4OTE=\\",content:HOORAY' in r[1].body),
    # a 401 to the query: no mutation (the script's `if (res.status === 200)`)
    "graphql@unauthorized": dict(reqs=1, checks={}, sent=lambda r: b"query FindFirstIssue" in r[0].body),
    "tagging": dict(reqs=1, checks=all_pass("::status is 200"),
                    tagged=[("http_reqs", "my_tag", "I'm a tag"), ("checks", "my_tag", "I'm a tag"),
                            ("my_trend", "my_tag", "I'm a tag")]),
    # one iteration: the gauge's one value is the running max's; over
    # http:// the TLS handshake adds 0 to connecting
    "custom_metrics": dict(reqs=1, checks=all_pass("::status is 200"),
                           metrics={"my_counter": {"count": 1}, "my_rate": {"value": 1}},
                           export=lambda m: m["my_gauge"]["value"] == m["http_req_duration"]["max"] > 0 and
                           m["my_trend"]["max"] == m["http_req_connecting"]["max"] and
                           m["http_req_tls_handshaking"]["max"] == 0),
    # the local jars' requests send their own cookies only, not the VU jar's name3/name4
    "cookies": dict(reqs=7, checks_total=25,
                    sent=lambda r: [q.headers.get("Cookie") for q in r if q.path == "/cookies"] ==
                    ["name=value1; name2=value2", "name3=value3; name4=value4", "name5=value5; name6=value6",
                     "name7=value7; name8=value8", "name9=value9; name3=value3; name4=value4",
                     "name9=value9; name3=value3; name4=value4"]),
    "websocket": dict(checks=all_pass("::status is 101"), metrics={"ws_sessions": {"count": 1}},
                      metrics_min={"ws_msgs_sent": {"count": 3}, "ws_msgs_received": {"count": 3},
                                   "ws_ping": {"max": 0}},
                      tagged=[("ws_sessions", "my_tag", "hello")]),
    "websockets-test-echo": dict(checks={}, metrics={"ws_sessions": {"count": 1}},
                                 metrics_min={"ws_msgs_sent": {"count": 3}, "ws_msgs_received": {"count": 3}}),
    "websockets-ws": dict(checks={}, metrics={"ws_sessions": {"count": 4}},
                          metrics_min={"ws_msgs_sent": {"count": 8}}),   # SET_NAME and LEAVE on each
    "thresholds_readme_example": dict(reqs=(8, None), checks_min={"::status is 200": 2, "::http2 is used": 2,
                                                                  "::content is present": 2,
                                                                  "::Static Assets::reused connection": 2}),
    "base64": dict(reqs=0, checks=all_pass(*["::is %s %s correct" % (e, d) for e in ("std", "rawstd", "url", "rawurl")
                                               for d in ("encoding", "decoding")])),
    # random picks: every check run passes, and the path is consistent
    "pantheon": dict(reqs=(91, 111), checks_min={p: 1 for p in SHOP_ALWAYS}, sent=shop_visit),
    "pantheon@every-product": dict(reqs=111, checks=all_pass(*SHOP_CHECKS), metrics={"captures": {"fails": 0}},
        sent=lambda r: shop_visit(r) and [path for m, path in pages(r) if m == "POST"][1:5] == CART_ADDS and
        form_of([q for q in r if q.method == "POST" and q.path == SHOP + "/checkout/7/shipping"][0])
        ["commerce_shipping[shipping_service]"] == "express_shipping"),
    # Volley lists a check that never ran (0 passes, 0 fails); k6 cannot
    "pantheon@no-category": dict(reqs=91, checks={p: (1, 0) if p in SHOP_ALWAYS else (0, 0) for p in SHOP_CHECKS},
                                 metrics={"captures": {"fails": 0}},
        sent=lambda r: shop_visit(r) and ("POST", "/cart") not in pages(r)),
    # 12 pages, 11 times the 85 static files (304s: If-Modified-Since),
    # the login's and the checkout's redirect hops
    "pantheontest": dict(reqs=954, checks=all_pass(
        "::1: first page content OK", "::2: login page OK", "::3: login succeeded", "::4: carry page OK",
        "::5: drupal bag page OK", "::6: add to cart succeeded", "::7: shopping cart page OK",
        "::8: cart submit succeeded", "::9: checkout succeeded", "::10: select shipping succeeded",
        "::11: checkout complete", "::12: logout succeeded"),
        metrics={"captures": {"fails": 0}},
        sent=lambda r: len(statics(r)) == 935 and
        all(q.headers.get("If-Modified-Since") == "Tue, 21 Feb 2017 14:24:11 GMT" and
            q.headers.get("User-Agent", "").startswith("Mozilla/5.0 (Macintosh") for q in r) and
        "Referer" not in r[0].headers and "Cookie" not in r[0].headers and
        all(q.headers.get("Cookie", "").startswith("SESS=") for q in r[1:]) and
        [q.headers.get("Referer", "").split(SHOP)[-1] for q in statics(r)[::85]] ==
        ["/", "/user/login", "/users/testuser1", "/collection/carry", "/bags-cases/drupal-commerce-messenger-bag",
         "/bags-cases/drupal-commerce-messenger-bag", "/cart", "/checkout/7", "/checkout/7/shipping",
         "/checkout/7/review", "/checkout/7/complete"] and
        [("Content-Type" in q.headers) for q in statics(r)[::85]] == [False, False] + [True] * 9),
}


class K6Twins(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        base = os.environ.get("VOLLEY_TEST_TMP")
        if base:
            os.makedirs(base, exist_ok=True)
        cls.tmp = tempfile.mkdtemp(prefix="k6twins-", dir=base)
        os.makedirs(os.path.join(cls.tmp, "pki"))
        cls.pki = tlspki.Pki(os.path.join(cls.tmp, "pki"))
        cls.standin = standin.StandIn(0, 0, cls.pki.path("server.pem"), cls.pki.path("server.key"), 0,
                                      *cls.pki.rsa_server())
        cls.h2 = None
        cls.ocsp = None
        cls.env = {"K6_STANDIN": cls.standin.http, "K6_STANDIN_HOST": cls.standin.http[len("http://"):],
                   "K6_STANDIN_TLS": cls.standin.https, "K6_STANDIN_WS": cls.standin.ws,
                   "K6_STANDIN_CA": cls.pki.path("ca.pem")}

    @classmethod
    def tearDownClass(cls):
        if cls.h2:
            cls.stop_h2()
        if cls.ocsp:
            cls.stop_h2(cls.ocsp)
        cls.standin.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def start_h2(cls):
        """An nginx that speaks HTTP/2 over TLS (ALPN h2) in front of the
        stand-in, for the twins that check r.proto == "HTTP/2.0"."""
        if cls.h2:
            return
        d = os.path.join(cls.tmp, "h2")
        os.makedirs(os.path.join(d, "logs"))
        cls.h2 = d
        cls.env["K6_STANDIN_H2"] = cls.nginx_front(d, "ssl http2", cls.pki.path("server.pem"),
                                                   cls.pki.path("server.key"))

    @classmethod
    def nginx_front(cls, d, listen, cert, key, extra=""):
        """Starts an nginx in d over TLS on a free port in front of the
        stand-in (`listen` options, `extra` server lines); its https url
        once it accepts connections."""
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("events {}\nhttp {\n access_log off;\n server {\n"
                    "  listen 127.0.0.1:%d %s;\n  ssl_certificate %s;\n  ssl_certificate_key %s;\n%s"
                    "  location / { proxy_pass %s; proxy_set_header Host $http_host; }\n }\n}\n"
                    % (port, listen, cert, key, extra, cls.standin.http))
        subprocess.run(["nginx", "-p", d + "/", "-c", d + "/nginx.conf", "-e", d + "/logs/error.log",
                        "-g", "pid %s/nginx.pid; worker_processes 1;" % d], check=True)
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        return "https://127.0.0.1:%d" % port

    @classmethod
    def start_ocsp(cls):
        """An nginx over TLS in front of the stand-in that staples an OCSP
        response (status good) for its certificate, made here with
        `openssl ocsp` and the private CA, for ocsp.js's r.ocsp.status."""
        if cls.ocsp:
            return
        d = os.path.join(cls.tmp, "ocsp")
        os.makedirs(os.path.join(d, "logs"))
        pki = cls.pki.path
        serial = subprocess.run(["openssl", "x509", "-in", pki("server.pem"), "-noout", "-serial"],
                                check=True, capture_output=True, text=True).stdout.strip().split("=")[1]
        with open(os.path.join(d, "index.txt"), "w") as f:
            f.write("V\t301231000000Z\t\t%s\tunknown\t/CN=localhost\n" % serial)
        subprocess.run(["openssl", "ocsp", "-issuer", pki("ca.pem"), "-cert", pki("server.pem"),
                        "-no_nonce", "-reqout", os.path.join(d, "req.der")], check=True, capture_output=True)
        subprocess.run(["openssl", "ocsp", "-index", os.path.join(d, "index.txt"), "-rsigner", pki("ca.pem"),
                        "-rkey", pki("ca.key"), "-CA", pki("ca.pem"), "-reqin", os.path.join(d, "req.der"),
                        "-respout", os.path.join(d, "good.der"), "-ndays", "1"], check=True, capture_output=True)
        with open(os.path.join(d, "chain.pem"), "w") as out:
            for name in ("server.pem", "ca.pem"):
                with open(pki(name)) as f:
                    out.write(f.read())
        cls.ocsp = d
        cls.env["K6_STANDIN_OCSP"] = cls.nginx_front(
            d, "ssl", os.path.join(d, "chain.pem"), pki("server.key"),
            "  ssl_stapling on;\n  ssl_stapling_file %s;\n" % os.path.join(d, "good.der"))

    @classmethod
    def stop_h2(cls, d=None):
        """Stops the nginx start_h2 (or start_ocsp: its d) started (by its
        pid) and waits for it."""
        import signal
        try:
            with open(os.path.join(d or cls.h2, "nginx.pid")) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            return
        os.kill(pid, signal.SIGQUIT)
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def run_twin(self, name):
        path = os.path.join(TWINS, twin_of(name) + ".yaml")
        with open(path) as f:
            text = f.read()
        if "K6_STANDIN_H2" in text:
            self.start_h2()
        if "K6_STANDIN_OCSP" in text:
            self.start_ocsp()
        summary = os.path.join(self.tmp, name + "-summary.json")
        handle = os.path.join(self.tmp, name + "-summary-data.json")
        samples = os.path.join(self.tmp, name + ".ndjson")
        args = [VOLLEY, "run", "-q", "--summary-export", summary, "--summary-json", handle,
                "--out", "json-out=" + samples]
        for k, v in sorted(self.env.items()):
            args += ["-e", "%s=%s" % (k, v)]
        for k, v in sorted(EXTRA_ENV.get(name, {}).items()):
            args += ["-e", "%s=%s" % (k, v)]
        self.standin.taken()
        start = time.monotonic()
        p = subprocess.run(args + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=60)
        took = time.monotonic() - start
        with open(summary) as f:
            data = json.load(f)
        with open(handle) as f:
            data["root_group"] = json.load(f)["root_group"]
        return p, data, samples, self.standin.taken(), took

    def judge(self, name):
        want = EXPECT[name]
        p, data, samples, sent, took = self.run_twin(name)
        why = "%s: rc %d\n%s\n%s" % (name, p.returncode, p.stdout[-3000:], p.stderr[-2000:])
        if "rc_in" in want:
            self.assertIn(p.returncode, want["rc_in"], why)
        else:
            self.assertEqual(p.returncode, want.get("rc", 0), why)
        if "aborted" in want:
            self.assertTrue(data["run"]["aborted"], why)
            self.assertTrue(data["run"]["abort_reason"].startswith(want["aborted"]), why)
        self.assertLess(took, 10, "%s took %.1fs: a twin runs in seconds" % (name, took))
        reqs = data["metrics"].get("http_reqs", {}).get("count", 0)
        if isinstance(want.get("reqs"), tuple):
            lo, hi = want["reqs"]
            self.assertGreaterEqual(reqs, lo, why)
            if hi is not None:
                self.assertLessEqual(reqs, hi, why)
        elif "reqs" in want:
            self.assertEqual(reqs, want["reqs"], why)
            self.assertEqual(len(sent), want.get("wire", want["reqs"]), "the stand-in saw %d requests" % len(sent))
        got = checks_of(data["root_group"])
        for path, n in want.get("checks_sum", {}).items():
            self.assertEqual(sum(got.pop(path, (0, 0))), n, why)   # passes + fails
        if "checks" in want:
            self.assertEqual(got, want["checks"], why)
        for path, least in want.get("checks_min", {}).items():
            self.assertIn(path, got, why)
            self.assertGreaterEqual(got[path][0], least, why)
            self.assertEqual(got[path][1], 0, why)
        if "checks_total" in want:
            self.assertEqual(len(got), want["checks_total"], why)
            self.assertTrue(all(p >= 1 and f == 0 for p, f in got.values()), why)
        for key, stats in want.get("metrics_min", {}).items():
            for stat, least in stats.items():
                self.assertGreaterEqual(data["metrics"].get(key, {}).get(stat, -1), least, "%s %s\n%s" % (key, stat, why))
        for key, stats in want.get("metrics", {}).items():
            self.assertIn(key, data["metrics"], why)
            for stat, value in stats.items():
                self.assertEqual(data["metrics"][key][stat], value, "%s %s\n%s" % (key, stat, why))
        if "export" in want:
            self.assertTrue(want["export"](data["metrics"]), "%s: %r" % (name, data["metrics"]))
        if "sent" in want:
            self.assertTrue(want["sent"](sent), "%s: the stand-in saw %r" % (name, sent[:10]))
        if "tagged" in want or "untagged" in want:
            with open(samples) as f:
                points = [json.loads(ln) for ln in f if '"Point"' in ln]
            for metric, tag, value in want.get("tagged", []):
                self.assertTrue(any(pt["metric"] == metric and pt["data"]["tags"].get(tag) == value
                                    for pt in points), "%s: no %s sample tagged %s=%s" % (name, metric, tag, value))
            for metric, tag in want.get("untagged", []):
                of = [pt for pt in points if pt["metric"] == metric]
                self.assertTrue(of, "%s: no %s sample" % (name, metric))
                self.assertFalse([pt for pt in of if tag in pt["data"]["tags"]],
                                 "%s: a %s sample is tagged %s" % (name, metric, tag))
        self.assertEqual(console_lines(p.stderr), want.get("logged", []), why)

    def test_catalog_lists_every_twin(self):
        with open(os.path.join(K6, "CATALOG.md")) as f:
            catalog = f.read()
        files = sorted(f[:-5] for f in os.listdir(TWINS) if f.endswith(".yaml"))
        for name in files:
            self.assertIn("twins/%s.yaml" % name, catalog, "CATALOG.md does not list twins/%s.yaml" % name)
            self.assertIn(name, EXPECT, "test_k6_twins.py has no expectations for twins/%s.yaml" % name)
            waits = needs(os.path.join(TWINS, name + ".yaml"))
            row = [ln for ln in catalog.splitlines() if "twins/%s.yaml" % name in ln][0]
            self.assertEqual(bool(waits), "needs:" in row,
                             "twins/%s.yaml and its CATALOG.md row disagree on `needs:`" % name)
        for name in re.findall(r"twins/([\w.-]+)\.yaml", catalog):
            self.assertIn(name, files, "CATALOG.md names twins/%s.yaml, which does not exist" % name)

    def test_enabled_twins_validate(self):
        for name in sorted({twin_of(n) for n in EXPECT}):
            path = os.path.join(TWINS, name + ".yaml")
            if needs(path):
                continue
            args = [VOLLEY, "validate"] + sum((["-e", "%s=%s" % kv] for kv in sorted(self.env.items())), [])
            p = subprocess.run(args + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)


def twin_of(name):
    """The twin file a key of EXPECT runs: NAME@CASE runs NAME."""
    return name.split("@")[0]


def _make(name):
    def test(self):
        waits = needs(os.path.join(TWINS, twin_of(name) + ".yaml"))
        if waits:
            self.skipTest("needs " + "; ".join(waits))
        self.judge(name)
    test.__name__ = "test_twin_" + re.sub(r"[-@]", "_", name)
    return test


for _name in sorted(EXPECT):
    setattr(K6Twins, "test_twin_" + re.sub(r"[-@]", "_", _name), _make(_name))


if __name__ == "__main__":
    unittest.main(verbosity=2)
