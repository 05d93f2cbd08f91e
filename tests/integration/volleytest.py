"""Shared helpers for the integration tests: run the real volley binary
(VOLLEY_BIN) against the loopback test nginx (TEST_NGINX_URL) that ctest
starts as a fixture, and read what it wrote."""
import json
import os
import socket
import subprocess
import tempfile
import textwrap
import threading
import unittest

VOLLEY = os.environ.get("VOLLEY_BIN", "build/volley")
NGINX = os.environ.get("TEST_NGINX_URL", "http://127.0.0.1:18181")
SOURCE = os.environ.get("VOLLEY_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEAD = "http://127.0.0.1:1"      # nothing listens on port 1


def timed(case):
    """Marks a case that compares times or rates with limits another
    test's CPU use can break. A file with such cases among untimed ones is
    run twice by ctest (SPLIT_INTEGRATION_TESTS in tests/CMakeLists.txt):
    VOLLEY_TIMED=only runs the marked cases, alone on the machine;
    VOLLEY_TIMED=skip the others, beside other tests. Unset: all of them."""
    case.volley_timed = True
    return case


class VolleyCase(unittest.TestCase):
    def setUp(self):
        mode = os.environ.get("VOLLEY_TIMED")
        if mode in ("only", "skip"):
            is_timed = getattr(getattr(self, self._testMethodName), "volley_timed", False)
            if is_timed != (mode == "only"):
                self.skipTest("VOLLEY_TIMED=%s: run by the file's other ctest entry" % mode)
        base = os.environ.get("VOLLEY_TEST_TMP")
        if base:
            os.makedirs(base, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=self.id().split(".")[-1] + "-", dir=base)

    def write_spec(self, text, name="spec.yaml"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def volley(self, *args, timeout=120, env=None):
        e = dict(os.environ)
        e["NGINX"] = NGINX
        if env:
            e.update(env)
        p = subprocess.run([VOLLEY] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, env=e)
        return p.returncode, p.stdout, p.stderr

    def run_spec(self, text, *args, timeout=120, env=None):
        """Runs a spec with --summary-export; returns (rc, stdout, stderr, summary)."""
        spec = self.write_spec(text)
        summary = os.path.join(self.tmp, "summary.json")
        rc, out, err = self.volley("run", "-q", "--summary-export", summary, *args, spec, timeout=timeout,
                                   env=env)
        data = None
        if os.path.exists(summary):
            with open(summary) as f:
                data = json.load(f)
        return rc, out, err, data

    @staticmethod
    def read_ndjson(path):
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


class LoopbackHttpServer:
    """What the test HTTP servers share: a threading server on a free
    127.0.0.1 port, and the requests its handler kept (under .lock)."""

    def serve(self, handler):
        import http.server
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None   # clients that reset at exit
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def taken(self):
        with self.lock:
            out = list(self.requests)
            self.requests.clear()
        return out


class Recorder(LoopbackHttpServer):
    """A small HTTP/1.1 server on 127.0.0.1 that records every request
    (method, path, headers, body) and answers by path:
      /tx...      200 {"id": "tx-<n>", "amount": 125.5, "items": [...]} and X-Trace
      /token      200 text/plain "token=abc123; ok"
      /status/N   status N
      /redirect   302 to /landing
      anything else: 200 echoing the request body (201 for POST)."""

    def __init__(self):
        import http.server
        import threading
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
                    count = len(rec.requests)
                status, ctype, extra = 200, "application/json", {}
                if self.path.startswith("/tx"):
                    out = json.dumps({"id": "tx-%d" % count, "amount": 125.5,
                                      "items": [{"n": 1}, {"n": 2}], "ok": True})
                    extra["X-Trace"] = "trace-%d" % count
                elif self.path.startswith("/token"):
                    ctype, out = "text/plain", "token=abc123; ok"
                elif self.path.startswith("/status/"):
                    status, out = int(self.path.split("/")[2]), "{}"
                elif self.path.startswith("/redirect"):
                    status, out = 302, "{}"
                    extra["Location"] = "/landing"
                else:
                    status, out = (201 if self.command == "POST" else 200), body or "{}"
                data = out.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

        self.serve(Handler)


class RawHttpServer:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that reads each request
    whole as bytes (head, and a Content-Length body), one thread per
    connection. A subclass answers: respond(head, body, port) returns the
    response bytes and whether to close the connection after them (port is
    the client's); opened(port) and closed(port) hear of connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def respond(self, head, body, port):
        raise NotImplementedError

    def opened(self, port):
        pass

    def closed(self, port):
        pass

    def accept(self):
        while not self.stopping:
            try:
                c, addr = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(30)
            self.conns.append(c)
            self.opened(addr[1])
            threading.Thread(target=self.serve, args=(c, addr[1]), daemon=True).start()

    def serve(self, c, port):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
                head, rest = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    key, _, value = line.partition(b":")
                    if key.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    data = c.recv(65536)
                    if not data:
                        return
                    rest += data
                buf = rest[length:]
                out, close = self.respond(head, rest[:length], port)
                c.sendall(out)
                if close:
                    return
        except OSError:
            return
        finally:
            c.close()
            self.closed(port)

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
