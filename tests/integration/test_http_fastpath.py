"""The http plugin's fast path against its curl path, through the real
volley binary: the same spec run with VOLLEY_HTTP_CLIENT=curl and with the
fast path must put the same bytes on the wire (a recording server on
127.0.0.1) and count the same requests, bytes and statuses against nginx."""
import json
import os
import threading
import unittest

from volleytest import NGINX, RawHttpServer, VolleyCase


class Recorder(RawHttpServer):
    """Records every request as bytes (head and Content-Length body) and
    answers 200 with a small body, keeping the connection."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        super().__init__()

    def respond(self, head, body, port):
        with self.lock:
            self.requests.append(head + b"\r\n\r\n" + body)
        if head.startswith(b"HEAD "):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", False
        return b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", False


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
