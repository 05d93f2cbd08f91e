"""Every service's /health in its real shape, the 404/405 of each web
framework, and the ports that are (not) HTTP."""
import re
import unittest

from simtest import PORTS, SimCase, call, port, raw_http

GO_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"


class Health(SimCase):
    def health(self, service):
        r = call(service, "GET", "/health")
        self.assertEqual(r.status, 200, service)
        self.assertTrue(r.header("Content-Type").startswith("application/json"), service)
        return r.json()

    def test_gateway(self):
        h = self.health("gateway")
        self.assertEqual(set(h), {"status", "service", "version", "uptime"})
        self.assertEqual((h["status"], h["service"], h["version"]), ("healthy", "gateway", "1.0.0"))
        self.assertRegex(h["uptime"], r"^(\d+h)?(\d+m)?[\d.]+(s|ms|µs|ns)$")

    def test_engines_with_service_field(self):
        for svc, name, version in [("token", "token-engine", "1.0.0"), ("obligation", "obligation-engine", "1.0.0"),
                                   ("liquidity", "liquidity-router", "1.0.0"), ("clearing", "clearing-engine", "0.1.0")]:
            self.assertEqual(self.health(svc), {"status": "healthy", "service": name, "version": version})

    def test_risk_and_compliance_have_no_service_field(self):
        for svc in ("risk", "compliance"):
            h = self.health(svc)
            self.assertEqual(set(h), {"status", "version", "uptime_seconds"}, svc)
            self.assertEqual(h["status"], "healthy")
            self.assertGreater(h["uptime_seconds"], 1.7e9)  # seconds since the epoch, as the real one

    def test_settlement_has_database(self):
        self.assertEqual(self.health("settlement"),
                         {"status": "healthy", "service": "settlement-engine", "version": "0.1.0", "database": True})

    def test_reporting_has_time(self):
        h = self.health("reporting")
        self.assertEqual(set(h), {"status", "service", "version", "time"})
        self.assertEqual(h["service"], "reporting-engine")
        self.assertRegex(h["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_notification(self):
        self.assertEqual(self.health("notification"), {"status": "healthy", "service": "notification-engine"})

    def test_analytics_has_database(self):
        self.assertEqual(self.health("analytics"),
                         {"status": "healthy", "service": "analytics-collector", "database": "connected"})

    def test_secondary_health_routes(self):
        self.assertEqual(call("token", "GET", "/api/v1/tokens/health").status, 200)
        self.assertEqual(call("obligation", "GET", "/api/v1/obligations/health").status, 200)
        self.assertEqual(call("liquidity", "GET", "/api/v1/liquidity/health").status, 200)
        self.assertEqual(call("reporting", "GET", "/api/v1/health").json()["service"], "reporting-engine")

    def test_go_mux_404_and_405(self):
        r = call("gateway", "GET", "/nope")
        self.assertEqual((r.status, r.text), (404, "404 page not found\n"))
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        r = call("gateway", "DELETE", "/health")
        self.assertEqual((r.status, r.body), (405, b""))
        # the brief's paths that do not exist
        self.assertEqual(call("notification", "GET", "/notifications").status, 404)
        self.assertEqual(call("notification", "POST", "/notifications/send", {}).status, 404)

    def test_actix_404_is_empty(self):
        for svc, path in [("token", "/tokens"), ("token", "/tokens/mint"), ("obligation", "/obligations"),
                          ("clearing", "/windows"), ("settlement", "/settlements"), ("settlement", "/settlements/x/status")]:
            r = call(svc, "GET", path)
            self.assertEqual((r.status, r.body), (404, b""), (svc, path))
        self.assertEqual(call("token", "GET", "/api/v1/tokens/mint").status, 405)

    def test_fastapi_404_and_405(self):
        r = call("analytics", "GET", "/nope")
        self.assertEqual((r.status, r.json()), (404, {"detail": "Not Found"}))
        r = call("analytics", "PUT", "/transactions")
        self.assertEqual((r.status, r.json()), (405, {"detail": "Method Not Allowed"}))

    def test_metrics_where_they_exist(self):
        for svc in ("token", "obligation", "clearing"):
            r = call(svc, "GET", "/metrics")
            self.assertEqual(r.status, 200, svc)
            self.assertIn("# TYPE", r.text, svc)
        self.assertEqual(call("settlement", "GET", "/metrics").text, "# Prometheus metrics\n")
        self.assertEqual(call("liquidity", "GET", "/metrics").json()["service"], "liquidity-router")
        for svc in ("risk", "compliance", "notification", "gateway"):
            self.assertEqual(call(svc, "GET", "/metrics").status, 404, svc)

    def test_ws_alias_is_not_http(self):
        self.assertEqual(call("ws-alias", "GET", "/health").status, 404)

    def test_unused_ports_refuse(self):
        import socket
        for p in (8091, 8092):
            s = socket.socket()
            self.assertNotEqual(s.connect_ex(("127.0.0.1", port("gateway") - 8080 + p)), 0)
            s.close()

    def test_keep_alive_pipelining_and_bad_requests(self):
        two = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = raw_http("token", two)
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 2)
        self.assertIn(b"Connection: close", out)
        self.assertTrue(raw_http("token", b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400"))
        chunked = b"POST /transactions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        self.assertTrue(raw_http("analytics", chunked).startswith(b"HTTP/1.1 411"))
        cont = raw_http("analytics", b"POST /transactions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                                     b"Content-Length: 2\r\n\r\n")
        self.assertTrue(cont.startswith(b"HTTP/1.1 100 Continue"))

    def test_all_ports_listed(self):
        self.assertEqual(len(PORTS), 12)


if __name__ == "__main__":
    unittest.main()
