"""The http plugin's fast path against its curl path, through the real
volley binary: the same spec run with VOLLEY_HTTP_CLIENT=curl and with the
fast path must put the same bytes on the wire (a recording server on
127.0.0.1) and count the same requests, bytes and statuses against nginx."""
import json
import os
import socket
import threading
import unittest

from volleytest import NGINX, VolleyCase


class Recorder:
    """A keep-alive HTTP/1.1 server that records every request as bytes
    (head and Content-Length body) and answers 200 with a small body."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(30)
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
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
                with self.lock:
                    self.requests.append(head + b"\r\n\r\n" + rest[:length])
                buf = rest[length:]
                if head.startswith(b"HEAD "):
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
                else:
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
        except OSError:
            return
        finally:
            c.close()

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


BYTES_SPEC = """
version: 1
services:
  rec: { url: "http://127.0.0.1:${env.REC_PORT}" }
  local: { url: "http://localhost:${env.REC_PORT}", headers: { X-Service: local } }
defaults:
  headers: { X-Default: d }
scenarios:
  bytes:
    executor: per-vu-iterations
    vus: 2
    iterations: 2
    flow:
      - http: { url: "${services.rec}/get" }
      - http: { method: HEAD, url: "${services.rec}/head" }
      - http: { method: DELETE, url: "${services.rec}/del?id=${vu.id}" }
      - http: { method: OPTIONS, url: "${services.rec}/opt" }
      - http: { method: POST, url: "${services.rec}/empty" }
      - http: { method: POST, url: "${services.rec}/form", body: "a=1&b=${vu.iteration}" }
      - http: { method: PUT, url: "${services.rec}/put", body: "fixed body" }
      - http: { method: PATCH, url: "${services.rec}/patch", json: { a: 1, vu: "${vu.id}", l: [x, null] } }
      - http: { method: POST, url: "${services.rec}/json", json: { a: 1 }, headers: { Content-Type: application/vnd.x+json } }
      - http:
          url: "${services.rec}/h?q=a/b?c&d=%41"
          headers: { User-Agent: "ua/${vu.id}", Accept: text/plain, Host: example.com, X-Empty: "", X-Blank: " " }
      - http: { url: "${services.local}/local/${vu.id}?it=${vu.iteration}", name: local }
      - http: { url: "${services.rec}/a/${vu.id}/../b", name: dots }
"""

NGINX_SPEC = """
version: 1
services:
  web: { url: "${env.NGINX}" }
scenarios:
  counted:
    executor: per-vu-iterations
    vus: 4
    iterations: 10
    flow:
      - http: { url: "${services.web}/fast" }
      - http: { method: POST, url: "${services.web}/echo", json: { vu: "${vu.id}", it: "${vu.iteration}" } }
      - http: { url: "${services.web}/reflect?vu=${vu.id}", name: reflect, headers: { X-Test: "t${vu.id}" } }
      - http: { method: HEAD, url: "${services.web}/json" }
      - http: { url: "${services.web}/notfound" }
      - http: { url: "${services.web}/error500" }
      - http: { url: "${services.web}/delay10" }
thresholds:
  "http_reqs{status:200}": ["count>0"]
  "http_reqs{status:404}": ["count>0"]
  "http_reqs{status:500}": ["count>0"]
"""


class FastPathTest(VolleyCase):
    def run_both(self, spec, extra_env=None):
        out = {}
        for client in ("curl", "auto"):
            env = dict(extra_env or {})
            env["VOLLEY_HTTP_CLIENT"] = client
            path = self.write_spec(spec, name="spec-%s.yaml" % client)
            summary = os.path.join(self.tmp, "summary-%s.json" % client)
            rc, so, se = self.volley("run", "-q", "--summary-export", summary, path, env=env)
            self.assertIn(rc, (0, 99), so + se)
            with open(summary) as f:
                out[client] = json.load(f)["metrics"]
        return out["curl"], out["auto"]

    def test_same_request_bytes(self):
        rec = Recorder()
        seen = {}
        try:
            for client in ("curl", "auto"):
                rec.requests = []
                path = self.write_spec(BYTES_SPEC, name="bytes-%s.yaml" % client)
                rc, so, se = self.volley("run", "-q", path,
                                         env={"VOLLEY_HTTP_CLIENT": client, "REC_PORT": str(rec.port)})
                self.assertEqual(rc, 0, so + se)
                seen[client] = sorted(rec.requests)
        finally:
            rec.close()
        self.assertEqual(len(seen["curl"]), 2 * 2 * 12)
        for a, b in zip(seen["curl"], seen["auto"]):
            self.assertEqual(a, b)
        self.assertEqual(seen["curl"], seen["auto"])
        some = b"\n".join(seen["auto"])
        self.assertIn(b"GET /h?q=a/b?c&d=%41 HTTP/1.1\r\nHost: example.com\r\n", some)
        self.assertIn(b"\r\nX-Empty:\r\n", some)
        self.assertIn(b"GET /a/b HTTP/1.1\r\n", some)   # curl removed the dot segments

    def test_same_counts_against_nginx(self):
        curl, fast = self.run_both(NGINX_SPEC)
        for key in ("http_reqs", "data_sent", "data_received", "http_reqs{status:200}",
                    "http_reqs{status:404}", "http_reqs{status:500}"):
            self.assertEqual(curl[key]["count"], fast[key]["count"], key)
        self.assertEqual(fast["http_reqs"]["count"], 4 * 10 * 7)
        self.assertEqual(fast["http_reqs{status:404}"]["count"], 40)
        self.assertEqual(curl["http_req_failed"]["passes"], fast["http_req_failed"]["passes"])
        # The fast path ran them: its reused connections are ready at once.
        self.assertEqual(fast["http_req_blocked"]["med"], 0.0)
        self.assertGreater(curl["http_req_blocked"]["med"], 0.0)


if __name__ == "__main__":
    unittest.main()
