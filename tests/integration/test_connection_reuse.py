"""connection_reuse (k6's noConnectionReuse / noVUConnectionReuse) through
the real volley binary, on both http clients (VOLLEY_HTTP_CLIENT=curl and
the default fast path): a recording server on 127.0.0.1 notes the client
port of every request and how many connections were open when it came, and
json-out gives each request's http_req_connecting."""
import os
import threading
import unittest

from volleytest import RawHttpServer, VolleyCase

CLIENTS = ("curl", "auto")


class ConnRecorder(RawHttpServer):
    """Answers every request 200 {"ok":true}, keeping the connection unless
    the request says Connection: close (then it closes after the answer,
    as servers do), and records per request its path, the client port, its
    Connection header and how many connections were open when it came."""

    def __init__(self):
        self.requests = []
        self.open = 0
        self.max_open = 0
        self.last_max_open = 0
        self.lock = threading.Lock()
        super().__init__()

    def opened(self, port):
        with self.lock:
            self.open += 1
            self.max_open = max(self.max_open, self.open)

    def closed(self, port):
        with self.lock:
            self.open -= 1

    def respond(self, head, body, port):
        lines = head.split(b"\r\n")
        conn = ""
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"connection":
                conn = v.strip().decode()
        with self.lock:
            self.requests.append({"path": lines[0].split(b" ")[1].decode(), "port": port,
                                  "connection": conn, "open": self.open})
        close = conn.lower() == "close"
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n" +
                (b"Connection: close\r\n" if close else b"") + b"\r\n{\"ok\":true}"), close

    def take(self):
        """The requests so far; the most connections open at once since the
        last take is then in last_max_open."""
        with self.lock:
            out, self.requests = self.requests, []
            self.last_max_open, self.max_open = self.max_open, self.open
        return out


# One VU, three iterations; the sleep lets a connection closed at the start
# of an iteration reach the server before the iteration's next request.
ONE_VU = """
version: 1
services:
  rec: { url: "http://127.0.0.1:${env.REC_PORT}" %(service)s }
defaults:
  timeout: 5s
  %(defaults)s
scenarios:
  s:
    executor: per-vu-iterations
    vus: 1
    iterations: 3
    flow:
      - http: { url: "${services.rec}/a?it=${vu.iteration}", name: a %(step)s }
      - sleep: 150ms
      - http: { url: "${services.rec}/b", name: b %(step)s }
      - http: { method: POST, url: "${services.rec}/c", json: { it: "${vu.iteration}" }, name: c %(step)s }
outputs:
  - json-out: { path: "%(out)s" }
"""

MANY_VUS = """
version: 1
services:
  rec: { url: "http://127.0.0.1:${env.REC_PORT}" }
defaults:
  connection_reuse: per_iteration
scenarios:
  s:
    executor: per-vu-iterations
    vus: 4
    iterations: 10
    flow:
      - http: { url: "${services.rec}/a" }
      - http: { url: "${services.rec}/b" }
      - sleep: 20ms
outputs:
  - json-out: { path: "%(out)s" }
"""


class ConnectionReuseTest(VolleyCase):
    def setUp(self):
        super().setUp()
        self.rec = ConnRecorder()

    def tearDown(self):
        self.rec.close()

    def run_client(self, client, spec, **fmt):
        """Runs spec on a client; returns (requests the server saw, the
        http_req_connecting values in request order)."""
        out = os.path.join(self.tmp, "%s-%d.ndjson" % (client, len(os.listdir(self.tmp))))
        fmt.setdefault("service", "")
        fmt.setdefault("defaults", "")
        fmt.setdefault("step", "")
        path = self.write_spec(spec % dict(fmt, out=out), name="spec-%s.yaml" % client)
        self.rec.take()
        rc, so, se = self.volley("run", "-q", path,
                                 env={"VOLLEY_HTTP_CLIENT": client, "REC_PORT": str(self.rec.port)})
        self.assertEqual(rc, 0, so + se)
        points = [p for p in self.read_ndjson(out)
                  if p["type"] == "Point" and p["metric"] == "http_req_connecting"]
        return self.rec.take(), [p["data"]["value"] for p in points]

    def test_keep_is_the_default(self):
        for client in CLIENTS:
            reqs, connecting = self.run_client(client, ONE_VU)
            self.assertEqual(len(reqs), 9, client)
            self.assertEqual(len({r["port"] for r in reqs}), 1, client)
            self.assertEqual(sum(1 for v in connecting if v > 0), 1, client)
            self.assertEqual({r["connection"] for r in reqs}, {""}, client)

    def test_close(self):
        """defaults.connection_reuse: close: every request on a new
        connection that says Connection: close (as k6's Go client does)."""
        for client in CLIENTS:
            reqs, connecting = self.run_client(client, ONE_VU, defaults="connection_reuse: close")
            self.assertEqual(len(reqs), 9, client)
            self.assertEqual(len({r["port"] for r in reqs}), 9, client)
            self.assertEqual({r["connection"] for r in reqs}, {"close"}, client)
            self.assertEqual(len(connecting), 9, client)
            self.assertTrue(all(v > 0 for v in connecting), (client, connecting))
            self.assertTrue(all(r["open"] == 1 for r in reqs if r["path"] == "/b"), (client, reqs))

    def test_per_iteration(self):
        """services.rec.connection_reuse: per_iteration: the requests of an
        iteration share one connection, the next iteration opens another,
        and the last one is closed by then."""
        for client in CLIENTS:
            reqs, connecting = self.run_client(client, ONE_VU,
                                               service=", connection_reuse: per_iteration")
            self.assertEqual(len(reqs), 9, client)
            ports = [r["port"] for r in reqs]
            for it in range(3):
                self.assertEqual(len(set(ports[3 * it:3 * it + 3])), 1, (client, ports))
            self.assertEqual(len(set(ports)), 3, (client, ports))
            self.assertEqual([v > 0 for v in connecting], [True, False, False] * 3, (client, connecting))
            self.assertEqual({r["connection"] for r in reqs}, {""}, client)
            # the client closed the last iteration's connection itself
            self.assertEqual([r["open"] for r in reqs if r["path"] == "/b"], [1, 1, 1], (client, reqs))

    def test_step_wins_over_service_and_defaults(self):
        for client in CLIENTS:
            reqs, connecting = self.run_client(client, ONE_VU, defaults="connection_reuse: close",
                                               service=", connection_reuse: close",
                                               step=", connection_reuse: keep")
            self.assertEqual(len({r["port"] for r in reqs}), 1, client)
            self.assertEqual(sum(1 for v in connecting if v > 0), 1, client)

    def test_per_iteration_many_vus(self):
        """One new connection per VU and iteration on both clients (curl
        pools connections per group of VUs and closes a VU's last ones when
        it starts another iteration): never more open than two per VU."""
        for client in CLIENTS:
            reqs, connecting = self.run_client(client, MANY_VUS)
            max_open = self.rec.last_max_open
            self.assertEqual(len(reqs), 80, client)
            self.assertEqual(len({r["port"] for r in reqs}), 40, client)
            self.assertEqual(sum(1 for v in connecting if v > 0), 40, client)
            self.assertLessEqual(max(r["open"] for r in reqs), 8, client)
            self.assertLessEqual(max_open, 8, client)

    def test_invalid_value(self):
        spec = self.write_spec("""
            version: 1
            defaults: { connection_reuse: never }
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http: { url: "http://127.0.0.1:1/", connection_reuse: reuse }
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, out + err)
        self.assertIn('defaults.connection_reuse: unknown value "never"; expected one of: keep, close, '
                      'per_iteration', err)
        self.assertIn('connection_reuse: unknown value "reuse"', err)


if __name__ == "__main__":
    unittest.main()
