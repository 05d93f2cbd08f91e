"""The Rust engines: actix JSON extraction (content type, serde errors,
UUIDs and rust_decimal amounts), non-UUID path ids as 404, the domain
error envelope, and in-memory state that reads back."""
import unittest

from simtest import SimCase, call, uuid4

JSON = {"Content-Type": "application/json"}


class Validation(SimCase):
    def mint(self, **kw):
        body = {"currency": "INR", "amount": "1000.50", "bank_id": uuid4(), "reference": "r1"}
        body.update(kw)
        return call("token", "POST", "/api/v1/tokens/mint", body)

    def test_mint_ok(self):
        bank = uuid4()
        r = self.mint(bank_id=bank)
        self.assertEqual(r.status, 200, r.body)
        t = r.json()
        self.assertEqual((t["currency"], t["amount"], t["bank_id"], t["status"], t["transaction_reference"]),
                         ("xINR", "1000.50", bank, "ACTIVE", "r1"))
        self.assertEqual(len(t["id"]), 36)
        self.assertEqual(self.mint(amount=250).json()["amount"], "250")  # numbers deserialise too

    def test_bad_uuid_and_decimal(self):
        r = self.mint(bank_id="bank-1")
        self.assertEqual(r.status, 400)
        self.assertTrue(r.text.startswith("Json deserialize error: "), r.text)
        self.assertIn("bank-1", r.text)
        for bad in ("12abc", "1.2.3", "", True):
            r = self.mint(amount=bad)
            self.assertEqual(r.status, 400, bad)
            self.assertTrue(r.text.startswith("Json deserialize error: "), r.text)
        r = self.mint(bank_id=None)
        self.assertEqual((r.status, r.text), (400, "Json deserialize error: invalid type: null, expected a UUID string"))

    def test_missing_field(self):
        r = call("token", "POST", "/api/v1/tokens/mint", {"currency": "INR", "amount": "1", "reference": "x"})
        self.assertEqual(r.status, 400)
        self.assertIn("missing field `bank_id`", r.text)

    def test_content_type_and_bad_json(self):
        r = call("token", "POST", "/api/v1/tokens/mint", '{"currency":"INR"}', headers={"Content-Type": "text/plain"})
        self.assertEqual((r.status, r.text), (400, "Content type error"))
        r = call("token", "POST", "/api/v1/tokens/mint", "{oops", headers=JSON)
        self.assertEqual(r.status, 400)
        self.assertTrue(r.text.startswith("Json deserialize error: "))

    def test_domain_errors(self):
        r = self.mint(currency="RUPEES")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["type"], "validation_error")
        r = self.mint(amount="-5")
        self.assertEqual(r.json()["error"]["code"], 400)

    def test_k6_stress_bodies_are_400(self):
        # high-load-3000tps.js sends non-UUID ids and partial bodies
        r = call("token", "POST", "/api/v1/tokens/mint", {"bank_id": "bank-1", "amount": 1000, "currency": "INR"})
        self.assertEqual(r.status, 400)
        r = call("liquidity", "POST", "/api/v1/liquidity/predict", {"corridor": "INR-AED", "amount": 1000})
        self.assertEqual(r.status, 400)
        self.assertIn("missing field", r.text)

    def test_non_uuid_path_is_404(self):
        r = call("token", "GET", "/api/v1/tokens/balance/bank-1")
        self.assertEqual((r.status, r.body), (404, b""))
        self.assertEqual(call("obligation", "GET", "/api/v1/obligations/not-a-uuid").status, 404)
        self.assertEqual(call("risk", "GET", "/api/v1/risk/limits/xyz/INR-AED").status, 404)


class Token(SimCase):
    def test_balances_transfer_burn_convert(self):
        a, b = uuid4(), uuid4()
        tok = call("token", "POST", "/api/v1/tokens/mint",
                   {"currency": "AED", "amount": "500.00", "bank_id": a, "reference": "m"}).json()
        bal = call("token", "GET", "/api/v1/tokens/balance/" + a).json()
        self.assertEqual(bal["bank_id"], a)
        self.assertEqual([(x["currency"], x["available_balance"]) for x in bal["balances"]], [("xAED", "500.00")])
        r = call("token", "POST", "/api/v1/tokens/transfer",
                 {"from_bank_id": a, "to_bank_id": b, "currency": "AED", "amount": "200", "reference": "t"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(call("token", "GET", "/api/v1/tokens/balance/" + a).json()["balances"][0]["available_balance"],
                         "300.00")
        all_b = call("token", "GET", "/api/v1/tokens/balances/" + b + "/").json()  # trailing slash trimmed
        self.assertEqual((all_b["total_currencies"], all_b["balances"][0]["total_balance"]), (1, "200.00"))
        r = call("token", "POST", "/api/v1/tokens/transfer",
                 {"from_bank_id": a, "to_bank_id": b, "currency": "AED", "amount": "9999", "reference": "t"})
        self.assertEqual((r.status, r.json()["error"]["type"]), (400, "insufficient_balance"))
        r = call("token", "POST", "/api/v1/tokens/burn",
                 {"token_id": tok["id"], "amount": "100", "reference": "b", "destination_account": "acc"})
        self.assertEqual((r.status, r.json()["amount"]), (200, "400.00"))
        r = call("token", "POST", "/api/v1/tokens/burn",
                 {"token_id": uuid4(), "amount": "1", "reference": "b", "destination_account": "acc"})
        self.assertEqual((r.status, r.json()["error"]["type"]), (404, "not_found"))
        r = call("token", "POST", "/api/v1/tokens/convert",
                 {"bank_id": a, "from_currency": "AED", "to_currency": "USD", "amount": "100", "reference": "c"})
        self.assertEqual((r.status, r.json()["currency"]), (200, "xUSD"))
        r = call("token", "POST", "/api/v1/tokens/convert",
                 {"bank_id": a, "from_currency": "AED", "to_currency": "JPY", "amount": "1", "reference": "c"})
        self.assertEqual(r.json()["error"]["type"], "invalid_currency")


class Obligation(SimCase):
    def body(self, **kw):
        b = {"transaction_id": uuid4(), "bank_debtor_id": uuid4(), "bank_creditor_id": uuid4(), "corridor": "INR-AED",
             "amount_sent": "100000.00", "amount_credited": "4400.00", "sent_currency": "INR",
             "credited_currency": "AED", "reference": "ref"}
        b.update(kw)
        return b

    def test_create_read_window_netting(self):
        body = self.body()
        r = call("obligation", "POST", "/api/v1/obligations/create", body)
        self.assertEqual(r.status, 200, r.body)
        ob = r.json()["obligation"]
        self.assertEqual((ob["status"], ob["amount_sent"], ob["transaction_id"]), ("PENDING", "100000.00",
                                                                                   body["transaction_id"]))
        self.assertEqual(ob["clearing_window"] % 6, 0)
        self.assertIn("can_settle_instant", r.json()["instant_settlement"])
        got = call("obligation", "GET", "/api/v1/obligations/" + ob["id"]).json()
        self.assertEqual(got["id"], ob["id"])
        cur = call("obligation", "GET", "/api/v1/obligations/current-window").json()
        self.assertEqual(cur["current_window"], ob["clearing_window"])
        win = call("obligation", "GET", "/api/v1/obligations/window/%d" % ob["clearing_window"]).json()
        self.assertIn(ob["id"], [o["id"] for o in win["obligations"]])
        net = call("obligation", "POST", "/api/v1/obligations/netting/%d" % ob["clearing_window"]).json()
        self.assertGreaterEqual(net["total_obligations"], 1)
        self.assertIn(body["bank_debtor_id"], [p["bank_id"] for p in net["net_positions"]])
        r = call("obligation", "POST", "/api/v1/obligations/create", body)
        self.assertEqual((r.status, r.json()["error"]["code"]), (409, 409))
        self.assertEqual(call("obligation", "GET", "/api/v1/obligations/" + uuid4()).status, 404)

    def test_brief_shaped_body_is_400(self):
        r = call("obligation", "POST", "/api/v1/obligations/create",
                 {"payer_bank": "ICICI", "payee_bank": "ENBD", "amount": 1000, "currency": "INR"})
        self.assertEqual(r.status, 400)

    def test_settle(self):
        r = call("obligation", "POST", "/api/v1/obligations/settle", {"clearing_window": 6, "force_settlement": True})
        self.assertEqual((r.status, r.json()["status"]), (200, "SETTLED"))


class OtherEngines(SimCase):
    def test_liquidity(self):
        r = call("liquidity", "POST", "/api/v1/liquidity/predict",
                 {"corridor": "INR-AED", "amount": "50000", "bank_id": uuid4(), "time_horizon_hours": 6})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("can_instant_settle", r.json())
        self.assertEqual(call("liquidity", "GET", "/api/v1/liquidity/optimize/INR/AED").json()["route"],
                         ["INR", "USD", "AED"])
        r = call("liquidity", "GET", "/api/v1/liquidity/optimize/INR/XXX")
        self.assertEqual((r.status, r.json()), (404, {"error": "No conversion path found"}))

    def test_risk(self):
        body = {"transaction_id": uuid4(), "sender_bank_id": uuid4(), "receiver_bank_id": uuid4(), "amount": "5000",
                "from_currency": "INR", "to_currency": "AED", "sender_country": "IN", "receiver_country": "AE",
                "transaction_type": "B2B"}
        r = call("risk", "POST", "/api/v1/risk/evaluate", body)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(r.json()["decision"], ("Approve", "ApproveWithLimit", "Review", "Reject"))
        r = call("risk", "POST", "/api/v1/risk/evaluate", dict(body, transaction_type="P2P"))
        self.assertEqual(r.status, 400)
        self.assertIn("unknown variant", r.text)
        bank = uuid4()
        self.assertEqual(call("risk", "PUT", "/api/v1/risk/limits/" + bank,
                              {"corridor": "INR-AED", "base_limit": "750000"}).json(), {"status": "updated"})
        self.assertEqual(call("risk", "GET", "/api/v1/risk/limits/%s/INR-AED" % bank).json()["base_limit"],
                         "750000.00")
        self.assertGreaterEqual(call("risk", "GET", "/api/v1/risk/metrics").json()["total_evaluated"], 1)
        self.assertEqual(call("risk", "POST", "/api/v1/risk/circuit-breaker/reset").json(), {"status": "reset"})

    def test_compliance(self):
        body = {"transaction_id": uuid4(), "sender_bank_id": uuid4(), "receiver_bank_id": uuid4(),
                "sender_name": "A", "sender_account": "1", "sender_country": "IN", "receiver_name": "B",
                "receiver_account": "2", "receiver_country": "AE", "amount": "1000", "currency": "INR"}
        r = call("compliance", "POST", "/api/v1/compliance/check", body)
        self.assertEqual((r.status, r.json()["overall_status"]), (200, "Approved"))
        r = call("compliance", "POST", "/api/v1/compliance/check", dict(body, receiver_name="Sanctioned Corp"))
        self.assertEqual(r.json()["overall_status"], "Rejected")

    def test_clearing_stubs(self):
        self.assertEqual(call("clearing", "GET", "/api/v1/clearing/windows").json(), {"windows": []})
        w = call("clearing", "GET", "/api/v1/clearing/windows/current").json()["window"]
        self.assertEqual((w["status"], w["total_volume"]), ("Open", "0.00"))
        self.assertEqual(call("clearing", "GET", "/api/v1/clearing/metrics").json(),
                         {"total_windows": 0, "active_windows": 0, "netting_efficiency": 0.0})

    def test_settlement_accounts(self):
        for kind in ("nostro", "vostro"):
            accts = call("settlement", "GET", "/api/v1/accounts/" + kind).json()
            self.assertTrue(accts)
            self.assertIsInstance(accts[0]["ledger_balance"], str)

    def test_reporting(self):
        r = call("reporting", "POST", "/api/v1/reports/generate",
                 {"type": "aml", "period_start": "2025-11-01T00:00:00Z", "period_end": "2025-11-02T00:00:00Z"})
        self.assertEqual((r.status, r.json()), (202, {"message": "Report generation started", "status": "processing"}))
        self.assertEqual(call("reporting", "POST", "/api/v1/reports/generate", {"type": "aml"}).status, 400)
        self.assertEqual(call("reporting", "POST", "/api/v1/reports/generate",
                              {"type": "tax", "period_start": "2025-11-01T00:00:00Z",
                               "period_end": "2025-11-02T00:00:00Z"}).status, 400)
        reports = call("reporting", "GET", "/api/v1/reports").json()
        rid = reports[0]["id"]
        self.assertEqual(call("reporting", "GET", "/api/v1/reports/" + rid).json()["type"], "aml")
        self.assertIn(rid, call("reporting", "GET", "/api/v1/reports/%s/download" % rid).text)
        self.assertEqual(call("reporting", "DELETE", "/api/v1/reports/" + rid).status, 204)
        self.assertEqual(call("reporting", "GET", "/api/v1/reports/" + rid).status, 404)


if __name__ == "__main__":
    unittest.main()
