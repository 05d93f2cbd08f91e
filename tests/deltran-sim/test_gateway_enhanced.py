"""The enhanced gateway (main_enhanced.go): tiered fixed-window limits
chosen by the client's X-User-Role, keyed by X-Forwarded-For / X-Real-IP /
IP:port, the JSON 429 with X-RateLimit-* and Retry-After, security
headers, transfers with X-Transaction-Id reported to the collector, and
the optional JWT check."""
import time
import unittest

from simtest import TRANSFER, Client, Sim, SimCase, call, mint

OFF = 22000
AUTH_OFF = 22100


class Enhanced(SimCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(OFF, "--profile", "enhanced")

    @classmethod
    def tearDownClass(cls):
        cls.sim.__exit__(None, None, None)

    def get(self, path, ip, role=None, method="GET", body=None, extra=None):
        h = {"X-Forwarded-For": ip}
        if role:
            h["X-User-Role"] = role
        h.update(extra or {})
        return call("gateway", method, path, body, headers=h, offset=OFF)

    def test_health_shape_and_limit_headers(self):
        r = self.get("/health", "10.0.0.1")
        self.assertEqual(r.status, 200)
        self.assertEqual((r.json()["service"], r.json()["version"]), ("gateway-enhanced", "2.0.0"))
        self.assertEqual(r.header("X-RateLimit-Tier"), "anonymous")
        self.assertEqual(r.header("X-RateLimit-Limit"), "10")
        self.assertEqual(r.header("X-RateLimit-Remaining"), "9")
        self.assertAlmostEqual(int(r.header("X-RateLimit-Reset")), time.time() + 60, delta=3)
        self.assertEqual(r.header("X-Frame-Options"), "DENY")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")

    def test_anonymous_tier_429(self):
        codes = [self.get("/api/v1/banks", "10.0.0.2").status for _ in range(10)]
        self.assertEqual(codes, [200] * 10)
        r = self.get("/health", "10.0.0.2")  # /health is limited too
        self.assertEqual(r.status, 429)
        self.assertEqual(r.json(), {"error": "Rate limit exceeded", "limit": 10, "retry_after": 60, "tier": "anonymous"})
        self.assertEqual(r.header("Retry-After"), "60")
        self.assertEqual(r.header("X-RateLimit-Remaining"), "0")
        self.assertEqual(r.header("X-RateLimit-Tier"), "anonymous")
        self.assertEqual(r.header("Content-Type"), "application/json")
        # another client address has its own window
        self.assertEqual(self.get("/api/v1/banks", "10.0.0.3").status, 200)
        # the first X-Forwarded-For entry is the key
        self.assertEqual(self.get("/api/v1/banks", "10.0.0.2, 10.9.9.9").status, 429)

    def test_tiers_by_role(self):
        for role, tier, limit in [("user", "basic", 100), ("basic", "basic", 100), ("premium", "premium", 1000),
                                  ("admin", "admin", 10000), ("root", "anonymous", 10)]:
            r = self.get("/api/v1/corridors", "10.1.0.1", role)
            self.assertEqual((r.header("X-RateLimit-Tier"), r.header("X-RateLimit-Limit")), (tier, str(limit)), role)
        codes = [self.get("/api/v1/banks", "10.1.0.2", "basic").status for _ in range(101)]
        self.assertEqual(codes.count(200), 100)
        self.assertEqual(codes[-1], 429)
        self.assertEqual(self.get("/api/v1/banks", "10.1.0.2", "basic").json()["tier"], "basic")
        # each tier counts separately
        self.assertEqual(self.get("/api/v1/banks", "10.1.0.2", "premium").status, 200)

    def test_x_real_ip_and_connection_keys(self):
        for _ in range(10):
            call("gateway", "GET", "/api/v1/banks", headers={"X-Real-IP": "10.2.0.1"}, offset=OFF)
        self.assertEqual(call("gateway", "GET", "/api/v1/banks", headers={"X-Real-IP": "10.2.0.1"}, offset=OFF).status, 429)
        with Client("gateway", OFF) as c:
            codes = [c.request("GET", "/api/v1/banks").status for _ in range(11)]
        self.assertEqual(codes, [200] * 10 + [429])

    def test_transfer(self):
        r = self.get("/api/v1/transfer", "10.3.0.1", "admin", "POST", dict(TRANSFER, sender_account="S-1"))
        self.assertEqual(r.status, 202, r.body)
        body = r.json()
        self.assertRegex(body["transaction_id"], r"^TXN-\d{18,}$")
        self.assertEqual(r.header("X-Transaction-Id"), body["transaction_id"])
        self.assertEqual(set(body), {"transaction_id", "status", "message", "instant_settlement", "estimated_time",
                                     "created_at"})
        got = self.get("/api/v1/transaction/" + body["transaction_id"], "10.3.0.1", "admin").json()
        self.assertEqual(got["transaction_id"], body["transaction_id"])  # G3 keys it transaction_id
        self.assertEqual((got["amount"], got["status"]), (5000, "COMPLETED"))
        # the gateway reported it to the collector: a pending row
        row = call("analytics", "GET", "/transactions/" + body["transaction_id"], offset=OFF).json()
        self.assertEqual((row["status"], row["sender_id"], row["amount"], row["currency"]),
                         ("pending", "S-1", 5000.0, "INR"))
        # and recorded a "gateway" event row for each request under its own id
        gw = call("analytics", "GET", "/transactions?status=gateway&limit=1000", offset=OFF).json()
        self.assertTrue(any(r["raw_request"] and "/api/v1/transfer" in r["raw_request"] for r in gw))

    def test_transfer_validation(self):
        r = self.get("/api/v1/transfer", "10.3.0.2", "admin", "POST", dict(TRANSFER, amount=0))
        self.assertEqual((r.status, r.json()), (400, {"code": "400", "error": "Amount must be positive"}))
        body = dict(TRANSFER)
        del body["receiver_bank"]
        r = self.get("/api/v1/transfer", "10.3.0.2", "admin", "POST", body)
        self.assertEqual(r.json()["error"], "Sender and receiver banks are required")
        # accounts are not required here
        r = self.get("/api/v1/transfer", "10.3.0.2", "admin", "POST",
                     {"sender_bank": "A", "receiver_bank": "B", "amount": 1})
        self.assertEqual(r.status, 202)

    def test_no_login_route(self):
        self.assertEqual(self.get("/api/v1/auth/login", "10.4.0.1", method="POST", body={}).status, 404)
        self.assertEqual(self.get("/api/v1/transactions", "10.4.0.1").status, 404)

    def test_banks_and_corridors_shapes(self):
        banks = self.get("/api/v1/banks", "10.5.0.1", "admin").json()
        self.assertEqual(set(banks[0]), {"code", "name", "country"})
        corr = self.get("/api/v1/corridors", "10.5.0.1", "admin").json()
        self.assertEqual(set(corr[0]), {"corridor", "active", "instant_settlement", "max_amount"})


class EnhancedAuth(SimCase):
    def test_jwt_when_enabled(self):
        with Sim(AUTH_OFF, "--profile", "enhanced", "--auth", "on", "--rate-limit", "off") as sim:
            def post(auth):
                h = {"Authorization": auth} if auth else {}
                return call("gateway", "POST", "/api/v1/transfer", TRANSFER, headers=h, offset=sim.offset)
            r = post(None)
            self.assertEqual((r.status, r.json()), (401, {"code": "401", "error": "Missing authorization header"}))
            self.assertEqual(post("Token x").json()["error"], "Invalid authorization format")
            self.assertEqual(post("Bearer abc").json()["error"],
                             "Invalid token: token is malformed: token contains an invalid number of segments")
            bad = mint({"sub": "u", "exp": time.time() + 60}, secret="wrong")
            self.assertEqual(post("Bearer " + bad).json()["error"],
                             "Invalid token: token signature is invalid: signature is invalid")
            old = mint({"sub": "u", "exp": int(time.time()) - 5})
            self.assertEqual(post("Bearer " + old).json()["error"],
                             "Invalid token: token has invalid claims: token is expired")
            good = mint({"sub": "u", "role": "user", "permissions": ["transactions:read"], "exp": time.time() + 60})
            self.assertEqual(post("Bearer " + good).status, 202)  # the permission check is never reached
            # banks, corridors and health stay public
            for path in ("/api/v1/banks", "/api/v1/corridors", "/health"):
                self.assertEqual(call("gateway", "GET", path, offset=sim.offset).status, 200, path)
            self.assertEqual(call("gateway", "GET", "/api/v1/rates/INR-AED", offset=sim.offset).status, 401)


if __name__ == "__main__":
    unittest.main()
