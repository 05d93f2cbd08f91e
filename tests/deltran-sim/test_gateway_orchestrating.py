"""The orchestrating gateway (cmd/main.go): login and HS256 JWTs, the
401 text bodies, transfer validation and read-back, the per-connection
token bucket (20 burst, applied before auth, /health exempt), and the
downstream failure, blocked and circuit-breaker emulation."""
import hashlib
import hmac
import time
import unittest

from simtest import SECRET, TRANSFER, Client, Sim, SimCase, b64url, call, jwt_claims, mint


class Login(SimCase):
    def test_login_issues_hs256_token(self):
        r = call("gateway", "POST", "/api/v1/auth/login", {"bank_id": "HDFC", "password": "demo"})
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(set(body), {"token", "bank_id", "expires_in"})
        self.assertEqual((body["bank_id"], body["expires_in"]), ("HDFC", 86400))
        tok = body["token"]
        head, payload, sig = tok.split(".")
        want = hmac.new(SECRET.encode(), ("%s.%s" % (head, payload)).encode(), hashlib.sha256).digest()
        self.assertEqual(sig, b64url(want))
        claims = jwt_claims(tok)
        self.assertEqual((claims["bank_id"], claims["role"], claims["iss"]), ("HDFC", "bank", "deltran-gateway"))
        self.assertEqual(claims["exp"] - claims["iat"], 86400)
        self.assertLess(abs(claims["iat"] - time.time()), 5)

    def test_wrong_password_and_bad_body(self):
        r = call("gateway", "POST", "/api/v1/auth/login", {"bank_id": "HDFC", "password": "nope"})
        self.assertEqual((r.status, r.json()), (401, {"error": "error", "message": "Invalid credentials", "code": 401}))
        r = call("gateway", "POST", "/api/v1/auth/login", "{not json")
        self.assertEqual((r.status, r.json()["message"]), (400, "Invalid request body"))


class Auth(SimCase):
    def get(self, auth):
        return call("gateway", "GET", "/api/v1/banks", headers={"Authorization": auth} if auth is not None else None)

    def test_401_text_bodies(self):
        cases = [(None, "Missing authorization header"),
                 ("Basic abc", "Invalid authorization header format"),
                 ("Bearer", "Invalid authorization header format"),
                 ("Bearer a b", "Invalid authorization header format"),
                 ("Bearer not.a.jwt", "Invalid or expired token"),
                 ("Bearer " + mint({"bank_id": "X", "exp": time.time() + 60}, secret="other"), "Invalid or expired token"),
                 ("Bearer " + mint({"bank_id": "X", "exp": int(time.time()) - 10}), "Invalid or expired token")]
        for auth, msg in cases:
            r = self.get(auth)
            self.assertEqual(r.status, 401, auth)
            self.assertEqual(r.text, msg + "\n", auth)
            self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")

    def test_valid_tokens_pass(self):
        self.assertEqual(self.get("Bearer " + self.token()).status, 200)
        # any HMAC method verifies, as golang-jwt does for a []byte key
        self.assertEqual(self.get("Bearer " + mint({"bank_id": "X", "exp": time.time() + 60}, alg="HS512")).status, 200)

    def test_public_routes(self):
        self.assertEqual(call("gateway", "GET", "/health").status, 200)

    def test_lists_with_token(self):
        h = {"Authorization": "Bearer " + self.token()}
        banks = call("gateway", "GET", "/api/v1/banks", headers=h).json()
        self.assertEqual([b["code"] for b in banks], ["ICICI", "ENBD", "ADCB", "AXIS", "HDFC"])
        self.assertEqual(set(banks[0]), {"id", "code", "name", "country", "active"})
        corr = call("gateway", "GET", "/api/v1/corridors", headers=h).json()
        self.assertEqual([(c["name"], c["max_amount"]) for c in corr],
                         [("INR-AED", 1000000), ("AED-INR", 100000), ("USD-AED", 500000)])
        rate = call("gateway", "GET", "/api/v1/rates/INR-AED", headers=h).json()
        self.assertEqual((rate["corridor"], rate["rate"], rate["spread"]), ("INR-AED", 0.044, 0.001))
        self.assertEqual(call("gateway", "GET", "/api/v1/rates/XXX-YYY", headers=h).json()["rate"], 1)


class Transfer(SimCase):
    def post(self, body, token=None):
        return call("gateway", "POST", "/api/v1/transfer", body,
                    headers={"Authorization": "Bearer " + (token or self.token())})

    def test_transfer_and_read_back(self):
        tok = self.token()
        r = self.post(dict(TRANSFER, amount=7777, test_run_id="ignored"), tok)
        self.assertEqual(r.status, 202, r.body)
        body = r.json()
        self.assertRegex(body["transaction_id"], r"^TXN-[0-9a-f]{8}$")
        self.assertEqual((body["status"], body["message"]), ("PROCESSING", "Transaction initiated successfully"))
        self.assertTrue(body["instant_settlement"])
        self.assertEqual(body["estimated_time"], "5-30 seconds")
        self.assertTrue(body["compliance_check"]["passed"])
        self.assertTrue(body["risk_score"]["approved"])
        got = call("gateway", "GET", "/api/v1/transaction/" + body["transaction_id"],
                   headers={"Authorization": "Bearer " + tok}).json()
        self.assertEqual(got["id"], body["transaction_id"])  # G1 keys it "id"
        self.assertEqual((got["amount"], got["sender_bank"], got["status"]), (7777, "ICICI", "COMPLETED"))
        listed = call("gateway", "GET", "/api/v1/transactions", headers={"Authorization": "Bearer " + tok}).json()
        self.assertIn(body["transaction_id"], [t["id"] for t in listed])

    def test_unknown_id_is_the_mock(self):
        got = call("gateway", "GET", "/api/v1/transaction/TXN-unknown",
                   headers={"Authorization": "Bearer " + self.token()})
        self.assertEqual(got.status, 200)
        self.assertEqual((got.json()["amount"], got.json()["fx_rate"]), (100000, 0.044))

    def test_validation(self):
        tok = self.token()
        for field, msg in [("sender_bank", "sender_bank is required"), ("amount", "amount must be positive"),
                           ("to_currency", "to_currency is required"),
                           ("receiver_account", "receiver_account is required")]:
            body = dict(TRANSFER)
            del body[field]
            r = self.post(body, tok)
            self.assertEqual((r.status, r.json()), (400, {"error": "error", "message": msg, "code": 400}), field)
        self.assertEqual(self.post(dict(TRANSFER, amount=-5), tok).json()["message"], "amount must be positive")
        self.assertEqual(self.post(dict(TRANSFER, amount="5000"), tok).json()["message"], "Invalid request body")
        self.assertEqual(self.post("[1,2]", tok).json()["message"], "Invalid request body")
        # the brief's stress body has no accounts: 400 from the real gateway too
        brief = {"sender_bank": "ICICI", "receiver_bank": "ENBD", "amount": 1000, "from_currency": "INR",
                 "to_currency": "AED"}
        self.assertEqual(self.post(brief, tok).json()["message"], "sender_account is required")

    def test_large_amount_waits_for_clearing(self):
        body = self.post(dict(TRANSFER, amount=250000)).json()
        self.assertFalse(body["instant_settlement"])
        self.assertEqual(body["estimated_time"], "6 hours (next clearing window)")


class RateLimit(SimCase):
    def test_token_bucket_per_connection(self):
        tok = self.token()
        with Client("gateway") as c:
            codes = [c.request("GET", "/api/v1/banks", headers={"Authorization": "Bearer " + tok}).status
                     for _ in range(25)]
            self.assertEqual(codes[:20], [200] * 20)
            self.assertEqual(codes[20:], [429] * 5)
            r = c.request("GET", "/api/v1/banks")
            self.assertEqual(r.status, 429)
            self.assertEqual(r.text, "Rate limit exceeded. Please try again later.\n")
            self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
            self.assertIsNone(r.header("Retry-After"))
            self.assertIsNone(r.header("X-RateLimit-Limit"))
            # /health is exempt
            self.assertEqual(c.request("GET", "/health").status, 200)
        # a new connection is a new client (RemoteAddr is IP:port)
        self.assertEqual(call("gateway", "GET", "/api/v1/banks", headers={"Authorization": "Bearer " + tok}).status, 200)

    def test_limiter_runs_before_auth(self):
        with Client("gateway") as c:
            codes = [c.request("POST", "/api/v1/transfer", TRANSFER).status for _ in range(22)]
        self.assertEqual(codes, [401] * 20 + [429] * 2)

    def test_unmatched_paths_are_not_limited(self):
        with Client("gateway") as c:
            self.assertEqual({c.request("GET", "/nope").status for _ in range(30)}, {404})

    def test_refill(self):
        with Sim(21500, "--rate-rpm", "6000", "--rate-burst", "2") as sim, Client("gateway", sim.offset) as c:
            codes = [c.request("GET", "/api/v1/banks").status for _ in range(3)]
            self.assertEqual(codes, [401, 401, 429])
            time.sleep(0.05)  # 100/s refill
            self.assertEqual(c.request("GET", "/api/v1/banks").status, 401)


class Downstream(SimCase):
    def test_real_engines_reject_the_gateway(self):
        with Sim(21600, "--downstream", "fail") as sim:
            tok = self.token(offset=sim.offset)
            for _ in range(12):
                r = call("gateway", "POST", "/api/v1/transfer", TRANSFER, offset=sim.offset,
                         headers={"Authorization": "Bearer " + tok})
                self.assertEqual(r.status, 500)
                self.assertTrue(r.json()["message"].startswith(
                    "Transfer processing failed: compliance check failed: compliance returned error status 400"))

    def test_blocked(self):
        with Sim(21700, "--blocked-rate", "1") as sim:
            tok = self.token(offset=sim.offset)
            r = call("gateway", "POST", "/api/v1/transfer", TRANSFER, offset=sim.offset,
                     headers={"Authorization": "Bearer " + tok})
            self.assertEqual(r.status, 403)
            self.assertEqual(r.json()["status"], "BLOCKED")
            self.assertFalse(r.json()["compliance_check"]["passed"])

    def test_circuit_opens_after_failures(self):
        with Sim(21800, "--error-rate", "1", "--rate-limit", "off") as sim:
            tok = mint({"bank_id": "X", "exp": time.time() + 600})  # login is failing too
            msgs = [call("gateway", "POST", "/api/v1/transfer", TRANSFER, offset=sim.offset,
                         headers={"Authorization": "Bearer " + tok}).json()["message"] for _ in range(12)]
            self.assertIn("request failed: injected by deltran-sim", msgs[0])
            self.assertTrue(msgs[-1].endswith("circuit breaker open for compliance: hystrix: circuit open"), msgs)


if __name__ == "__main__":
    unittest.main()
