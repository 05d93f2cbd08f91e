#!/usr/bin/env python3
"""A local stand-in for the hosts k6's examples call (httpbin.org,
quickpizza.grafana.com's test.k6.io pages, the pantheon shop, a GraphQL
API, a WebSocket echo), so the Volley twins in tests/k6/twins/ run with no
network. Standard library only.

  http       httpbin's paths: /get /post /put /patch /delete /anything[/...]
             (args, form with repeated keys as lists, json, data, files,
             headers), /cookies /cookies/set /cookies/delete,
             /basic-auth/U/P, /digest-auth/auth/U/P, /status/N,
             /redirect/N, /delay/S, /headers, /html, / (an HTML page);
             /test.k6.io/ and its static files, /pi.php; /style.css and
             /teddy.jpg (localhost.js's site);
             /pantheon/... a small shop (login form, categories,
             products, cart, a checkout that redirects through its steps);
             /graphql
  https      the same over TLS (HTTP/1.1), with a certificate the caller
             gives (the twins that skip verification use one nobody trusts)
  ws         tests/ws/wsserver.py's paths (/echo, ...) on its own port

As a program: standin.py [--http PORT] [--https PORT --cert PEM --key KEY
[--rsa-cert PEM --rsa-key KEY]] [--ws PORT] (a second, RSA certificate
for the suites with RSA key exchange); 0 picks a free port (default: http on 18900, the twins'
default). It prints "ready http=URL https=URL ws=URL", serves until
SIGTERM or SIGINT, then shuts down cleanly and prints "stopped". tests/integration/test_k6_twins.py
uses the StandIn class directly."""
import asyncio
import base64
import hashlib
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import namedtuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ws"))
import wsserver  # noqa: E402  (the WebSocket echo of the ws plugin's tests)

# One request the stand-in saw, as StandIn.taken() returns it.
Request = namedtuple("Request", "method path headers body")

SHOP_TITLE = "David li commerce-test"
CHECKOUT_ID = "7"
DIGEST_REALM = "me@kennethreitz.com"
# test.k6.io's p.description (es6sample.js logs it)
TESTK6_DESCRIPTION = "This is a replacement of the service test.k6.io, which is now QuickPizza."


def _title_case(name):
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


def _multi(pairs):
    """httpbin's dict of a query or form: a repeated key becomes a list."""
    out = {}
    for k, v in pairs:
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return out


def _page(title, body):
    return ("<!DOCTYPE html>\n<html><head><title>%s</title></head>\n<body>\n%s\n</body></html>\n"
            % (title, body)).encode()


def _hidden(name, value):
    return '<input type="hidden" name="%s" value="%s" />' % (name, value)


class _State:
    """What the shop remembers, per session cookie."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sessions = {}      # id -> {"user": name or None, "cart": int, "forms": build ids given}
        self.next_id = 1
        self.requests = 0
        self.log = []           # a Request for every request

    def new_session(self):
        with self.lock:
            sid = "s%d" % self.next_id
            self.next_id += 1
            self.sessions[sid] = {"user": None, "cart": 0, "forms": set()}
            return sid


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k6-standin/1"
    # The head and the body are two writes: without TCP_NODELAY the body
    # waits for the client's delayed ACK (40 ms a response on Linux).
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    # --- plumbing -------------------------------------------------------
    def _send(self, status, body=b"", ctype="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = (json.dumps(body, indent=2) + "\n").encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, location, status=302, headers=()):
        self._send(status, b"", "text/html; charset=utf-8", [("Location", location)] + list(headers))

    def _cookies(self):
        out = {}
        for line in self.headers.get_all("Cookie") or []:
            for part in line.split(";"):
                if "=" in part:
                    k, v = part.strip().split("=", 1)
                    # Go's net/http (quickpizza's httpbin) unquotes a value
                    if len(v) > 1 and v[0] == v[-1] == '"':
                        v = v[1:-1]
                    out[k] = v
        return out

    def _url(self):
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        return "%s://%s%s" % (scheme, self.headers.get("Host", ""), self.path)

    def _echo(self):
        """httpbin's answer to /anything: what the request was."""
        u = urllib.parse.urlsplit(self.path)
        ctype = self.headers.get("Content-Type", "")
        form, data, js, files = {}, "", None, {}
        if ctype.startswith("application/x-www-form-urlencoded"):
            form = _multi(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
        elif ctype.startswith("multipart/form-data"):
            form, files = self._multipart(ctype)
        else:
            data = self.body.decode("utf-8", "replace")
            if data:
                try:
                    js = json.loads(data)
                except ValueError:
                    js = None
        return {"args": _multi(urllib.parse.parse_qsl(u.query, keep_blank_values=True)),
                "data": data, "files": files, "form": form,
                "headers": {_title_case(k): v for k, v in self.headers.items()},
                "json": js, "method": self.command, "origin": self.client_address[0],
                "url": self._url()}

    def _multipart(self, ctype):
        boundary = ctype.split("boundary=", 1)[-1].strip('"').encode()
        form, files = [], []
        # every delimiter is CRLF--boundary (RFC 2046), the first one too
        # once a CRLF is put before the body
        for part in (b"\r\n" + self.body).split(b"\r\n--" + boundary)[1:]:
            if part.startswith(b"--"):
                break
            # the CRLF after the delimiter only: a value keeps its own newlines
            head, _, value = part[2:].partition(b"\r\n\r\n")
            disp = [ln for ln in head.decode("utf-8", "replace").split("\r\n")
                    if ln.lower().startswith("content-disposition")]
            params = dict(p.strip().split("=", 1) for p in disp[0].split(";")[1:] if "=" in p) if disp else {}
            name = params.get("name", "").strip('"')
            (files if "filename" in params else form).append((name, value.decode("utf-8", "replace")))
        # a repeated part name becomes a list, as a repeated form key does
        return _multi(form), _multi(files)

    # --- routes ---------------------------------------------------------
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(n) if n else b""
        with self.server.state.lock:
            self.server.state.requests += 1
            self.server.state.log.append(Request(self.command, self.path, dict(self.headers), self.body))
        u = urllib.parse.urlsplit(self.path)
        path, query = u.path, urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        parts = [p for p in path.split("/") if p]
        head = parts[0] if parts else ""
        if path == "/":
            return self._send(200, _page("httpbin stand-in", "<h1>httpbin stand-in</h1>"), "text/html; charset=utf-8")
        if path in ("/get", "/post", "/put", "/patch", "/delete"):
            if path[1:].upper() != self.command:
                return self._send(405, {"error": "method not allowed"})
            return self._send(200, self._echo())
        if head == "anything":
            return self._send(200, self._echo())
        if path == "/headers":
            return self._send(200, {"headers": {_title_case(k): v for k, v in self.headers.items()}})
        if path == "/html":
            return self._send(200, _page("Herman Melville", "<h1>Herman Melville - Moby-Dick</h1>"),
                              "text/html; charset=utf-8")
        if head == "status" and len(parts) == 2 and parts[1].isdigit():
            return self._send(int(parts[1]), b"", "text/plain")
        if head == "delay" and len(parts) == 2:
            time.sleep(min(float(parts[1]), 10.0))
            return self._send(200, self._echo())
        if head == "redirect" and len(parts) == 2 and parts[1].isdigit():
            left = int(parts[1]) - 1
            return self._redirect("/get" if left <= 0 else "/redirect/%d" % left)
        if path == "/cookies":
            return self._send(200, {"cookies": self._cookies()})
        if path == "/cookies/set":
            return self._redirect("/cookies", headers=[("Set-Cookie", "%s=%s; Path=/" % kv) for kv in query])
        if path == "/cookies/delete":
            return self._redirect("/cookies", headers=[
                ("Set-Cookie", "%s=; Expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=0; Path=/" % k)
                for k, _ in query])
        if head == "basic-auth" and len(parts) == 3:
            return self._basic(parts[1], parts[2])
        if head == "digest-auth" and len(parts) == 4:
            return self._digest(parts[1], parts[2], parts[3])
        if path in ("/style.css", "/teddy.jpg"):      # localhost.js's site
            return self._send(200, b"x" * 512, "text/css" if path.endswith("css") else "image/jpeg")
        if path == "/pi.php":
            return self._send(200, b"3.14", "text/html; charset=UTF-8")
        if head == "test.k6.io":
            return self._testk6(path[len("/test.k6.io"):])
        if head == "pantheon":
            return self._shop(path[len("/pantheon"):] or "/")
        if path == "/graphql":
            return self._graphql()
        return self._send(404, {"error": "not found", "path": path})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    def _basic(self, user, passwd):
        want = "Basic " + base64.b64encode(("%s:%s" % (user, passwd)).encode()).decode()
        if self.headers.get("Authorization") == want:
            return self._send(200, {"authenticated": True, "user": user})
        return self._send(401, b"", headers=[("WWW-Authenticate", 'Basic realm="Fake Realm"')])

    def _digest(self, qop, user, passwd):
        """RFC 7616 with MD5 and qop=auth, as httpbin's /digest-auth."""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Digest "):
            fields = {}
            for item in urllib.request.parse_http_list(auth[7:]):
                k, _, v = item.partition("=")
                fields[k.strip()] = v.strip().strip('"')
            md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
            ha1 = md5("%s:%s:%s" % (user, DIGEST_REALM, passwd))
            ha2 = md5("%s:%s" % (self.command, fields.get("uri", "")))
            want = md5(":".join([ha1, fields.get("nonce", ""), fields.get("nc", ""),
                                 fields.get("cnonce", ""), fields.get("qop", ""), ha2]))
            if fields.get("username") == user and fields.get("response") == want:
                return self._send(200, {"authenticated": True, "user": user})
        nonce = hashlib.md5(str(time.time()).encode()).hexdigest()
        challenge = ('Digest realm="%s", nonce="%s", qop="%s", opaque="%s", algorithm=MD5, stale=FALSE'
                     % (DIGEST_REALM, nonce, qop, hashlib.md5(b"opaque").hexdigest()))
        return self._send(401, b"", headers=[("WWW-Authenticate", challenge)])

    def _testk6(self, rest):
        if rest in ("", "/"):
            return self._send(200, _page("Demo website for load testing",
                                         '<p class="description">%s</p>' % TESTK6_DESCRIPTION),
                              "text/html; charset=utf-8")
        if rest.startswith("/static/"):
            ctype = {"css": "text/css", "ico": "image/x-icon", "js": "application/javascript"}.get(
                rest.rsplit(".", 1)[-1], "application/octet-stream")
            return self._send(200, b"/* static */\n", ctype)
        return self._send(404, b"", "text/plain")

    def _graphql(self):
        try:
            q = json.loads(self.body or b"{}").get("query", "")
        except ValueError:
            return self._send(400, {"errors": [{"message": "body is not JSON"}]})
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth == "Bearer expired":
            return self._send(401, {"message": "This endpoint requires you to be authenticated."})
        if "mutation" in q:
            subject = q.split('subjectId:"', 1)[-1].split('"', 1)[0]
            return self._send(200, {"data": {"addReaction": {"reaction": {"content": "HOORAY"},
                                                             "subject": {"id": subject}}}})
        return self._send(200, {"data": {"repository": {"issues": {"edges": [
            {"node": {"id": "MDU6SXNzdWUxNzA1MzA4OTE=", "number": 1, "title": "Website"}}]}}}})

    # --- the pantheon shop ---------------------------------------------
    def _session(self):
        sid = self._cookies().get("SESS")
        st = self.server.state
        with st.lock:
            if sid in st.sessions:
                return sid, st.sessions[sid], []
        sid = st.new_session()
        return sid, st.sessions[sid], [("Set-Cookie", "SESS=%s; Path=/pantheon; HttpOnly" % sid)]

    def _form(self):
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def _shop_page(self, title, body, cookies):
        return self._send(200, _page("%s | %s" % (title, SHOP_TITLE), body), "text/html; charset=utf-8", cookies)

    def _form_fields(self, sess, form_id):
        """A form's hidden fields, one per line as Drupal writes them (so
        JavaScript's `value="(.*)"` stops at the line's end). The build
        id is new each time and remembered by the session."""
        with self.server.state.lock:
            self.server.state.next_id += 1
            build = "form-b%d" % self.server.state.next_id
            sess["forms"].add(build)
        return "\n".join([_hidden("form_build_id", build), _hidden("form_id", form_id),
                          _hidden("form_token", "tok-%s" % form_id)])

    def _form_ok(self, sess, f, form_id, token=True):
        """Drupal's form validation: a build id this session was given,
        the form's id and (but for the login form) its token."""
        return (f.get("form_build_id") in sess["forms"] and f.get("form_id") == form_id
                and (not token or f.get("form_token") == "tok-%s" % form_id))

    def _shop(self, rest):
        if rest.startswith(("/modules/", "/misc/", "/profiles/", "/sites/")):
            if self.headers.get("If-Modified-Since"):
                return self._send(304, b"", "text/css")
            return self._send(200, b"/* asset */\n", "text/css")
        sid, sess, cookies = self._session()
        base = "/pantheon"
        products = {"/bags-cases/commerce-guys-laptop-bag": "Commerce Guys Laptop Bag",
                    "/bags-cases/drupal-commerce-messenger-bag": "Drupal Commerce Messenger Bag",
                    "/drinks/drupal-commerce-wake-you": "Drupal Commerce to Wake You Up",
                    "/drinks/guy-mug": '"The Guy" Mug '}
        categories = {"/collection/carry": "To carry", "/collection/drink": "To drink with"}
        co = "/checkout/" + CHECKOUT_ID
        steps = {co: ("Checkout", "commerce_checkout_form_checkout", co + "/shipping"),
                 co + "/shipping": ("Shipping", "commerce_checkout_form_shipping", co + "/review"),
                 co + "/review": ("Review order", "commerce_checkout_form_review", co + "/payment")}
        post = self.command == "POST"
        f = self._form() if post else {}
        if rest == "/":
            return self._shop_page("Welcome to %s" % SHOP_TITLE, '<a href="/user/login">Log in</a>', cookies)
        if rest == "/user/login":
            if post and self._form_ok(sess, f, "user_login", token=False) and f.get("name") \
                    and f.get("name") == f.get("pass") and f.get("op") == "Log in":
                sess["user"] = f["name"]
                return self._redirect(base + "/users/" + f["name"], headers=cookies)
            err = "<p>Sorry, unrecognized username or password.</p>" if post else ""
            return self._shop_page("User account", '%s<form method="post">\n%s\n</form>'
                                   % (err, self._form_fields(sess, "user_login")), cookies)
        if rest.startswith("/users/"):
            return self._shop_page(rest[len("/users/"):], "<p>Member for 1 year</p>", cookies)
        if rest in categories:
            return self._shop_page(categories[rest], "<ul><li>products</li></ul>", cookies)
        if rest in products:
            form = '<form method="post">\n%s\n%s\n</form>' % (
                self._form_fields(sess, "commerce_cart_add_to_cart_form"), _hidden("product_id", "2"))
            if post and self._form_ok(sess, f, "commerce_cart_add_to_cart_form") and f.get("product_id") == "2" \
                    and f.get("op") == "Add to cart":
                sess["cart"] += int(f.get("quantity") or 1)
                form = "<p>Item successfully added to your cart</p>\n" + form
            return self._shop_page(products[rest], form, cookies)
        if rest == "/cart":
            form_id = "views_form_commerce_cart_form_default"
            if post and sess["cart"] and self._form_ok(sess, f, form_id) and f.get("op") == "Checkout":
                return self._redirect(base + co, headers=cookies)
            if not sess["cart"]:
                return self._shop_page("Shopping cart", "<p>Your shopping cart is empty.</p>", cookies)
            return self._shop_page("Shopping cart", '<form method="post">\n%s\n</form>'
                                   % self._form_fields(sess, form_id), cookies)
        if rest in steps:
            title, form_id, nxt = steps[rest]
            if post and sess["cart"] and self._form_ok(sess, f, form_id) and f.get("op") == "Continue to next step":
                return self._redirect(base + nxt, headers=cookies)
            return self._shop_page(title, '<form method="post">\n%s\n</form>' % self._form_fields(sess, form_id),
                                   cookies)
        if rest == co + "/payment":
            return self._redirect(base + co + "/paypal_ec", headers=cookies)
        if rest == co + "/paypal_ec":
            return self._redirect(base + co + "/complete", headers=cookies)
        if rest == co + "/complete":
            sess["cart"] = 0
            return self._shop_page("Checkout complete", "<h1>Checkout complete</h1>", cookies)
        if rest == "/user/logout":
            sess["user"] = None
            return self._shop_page("Welcome to %s" % SHOP_TITLE, '<a href="/user/login">Log in</a>', cookies)
        return self._send(404, _page("Page not found", "<p>not found</p>"), "text/html; charset=utf-8")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass    # clients that reset the connection when a run ends


class StandIn:
    """Starts the http (and https, and ws) servers on 127.0.0.1; stop()
    shuts them down and joins their threads."""

    def __init__(self, http_port=0, https_port=None, cert=None, key=None, ws_port=None,
                 rsa_cert=None, rsa_key=None):
        self.state = _State()
        self.servers, self.threads = [], []
        self.http = self._serve(http_port, None)
        self.https = None
        if https_port is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            # OpenSSL's default suites, RSA key exchange among them (Python
            # leaves it out), with an RSA certificate beside the EC one:
            # what a public site such as badssl.com offers (tlsconfig.js)
            ctx.set_ciphers("DEFAULT")
            if rsa_cert:
                ctx.load_cert_chain(rsa_cert, rsa_key)
            self.https = self._serve(https_port, ctx)
        self.ws = None
        self._ws_loop = None
        if ws_port is not None:
            self._start_ws(ws_port)

    def _serve(self, port, ctx):
        srv = _Server(("127.0.0.1", port), _Handler)
        srv.state = self.state
        if ctx is not None:
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        t.start()
        self.servers.append(srv)
        self.threads.append(t)
        return "%s://127.0.0.1:%d" % ("https" if ctx else "http", srv.server_address[1])

    def _start_ws(self, port):
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._ws_loop = loop

        def run():
            asyncio.set_event_loop(loop)
            srv = loop.run_until_complete(asyncio.start_server(wsserver.handle, "127.0.0.1", port))
            self._ws_server = srv
            self.ws = "ws://127.0.0.1:%d" % srv.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            srv.close()
            loop.run_until_complete(srv.wait_closed())
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)
        if not ready.wait(10):
            raise RuntimeError("the ws stand-in did not start")

    def taken(self):
        """The requests since the last call: a Request (method, path,
        headers, body) each."""
        with self.state.lock:
            out, self.state.log = self.state.log, []
        return out

    def stop(self):
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
        if self._ws_loop is not None:
            self._ws_loop.call_soon_threadsafe(self._ws_loop.stop)
        for t in self.threads:
            t.join(5)


def main(argv):
    if "--help" in argv or "-h" in argv:
        print(__doc__)
        return
    def opt(name, default=None):
        return argv[argv.index(name) + 1] if name in argv else default
    https = opt("--https")
    ws = opt("--ws")
    s = StandIn(int(opt("--http", "18900")), int(https) if https is not None else None,
                opt("--cert"), opt("--key"), int(ws) if ws is not None else None,
                opt("--rsa-cert"), opt("--rsa-key"))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *a: done.set())
    print("ready http=%s https=%s ws=%s" % (s.http, s.https or "-", s.ws or "-"), flush=True)
    done.wait()
    s.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
