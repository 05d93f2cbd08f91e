"""The analytics collector: rows stored and read back with the table's
columns, bare-array listing with its filters (and no transaction_id
filter), pydantic 422s, the 500s of the real code paths, the dashboard
and test-run views, and --fix-event-updates."""
import time
import unittest
from datetime import datetime, timezone

from simtest import Sim, SimCase, call, uuid4

COLUMNS = {"id", "transaction_id", "timestamp", "sender_id", "receiver_id", "amount", "currency",
           "gateway_received_at", "clearing_started_at", "clearing_completed_at", "settlement_started_at",
           "settlement_completed_at", "gateway_latency", "clearing_latency", "settlement_latency", "total_latency",
           "status", "error_message", "retry_count", "test_run_id", "test_scenario", "load_level", "risk_score",
           "compliance_status", "liquidity_source", "token_id", "token_type", "raw_request", "raw_response",
           "created_at", "updated_at"}


def now_iso():
    return datetime.now(timezone.utc).isoformat()


def create(**kw):
    body = {"transaction_id": "TXN-" + uuid4(), "sender_id": "S1", "receiver_id": "R1", "amount": 1234.567}
    body.update(kw)
    return body, call("analytics", "POST", "/transactions", body)


class Store(SimCase):
    def test_create_and_read_back(self):
        body, r = create(currency="AED", test_run_id="RUN-" + uuid4(), test_scenario="smoke", load_level="low")
        self.assertEqual((r.status, r.json()), (201, {"status": "created", "transaction_id": body["transaction_id"]}))
        row = call("analytics", "GET", "/transactions/" + body["transaction_id"]).json()
        self.assertEqual(set(row), COLUMNS)
        self.assertEqual((row["status"], row["amount"], row["currency"], row["sender_id"], row["test_scenario"]),
                         ("pending", 1234.57, "AED", "S1", "smoke"))
        self.assertIsNotNone(row["gateway_received_at"])
        self.assertIsNone(row["total_latency"])
        self.assertTrue(row["timestamp"].endswith("+00:00"))
        # duplicates are silently ignored
        r = call("analytics", "POST", "/transactions", dict(body, amount=1))
        self.assertEqual(r.status, 201)
        self.assertEqual(call("analytics", "GET", "/transactions/" + body["transaction_id"]).json()["amount"], 1234.57)

    def test_default_currency_and_long_currency(self):
        body, r = create()
        self.assertEqual(call("analytics", "GET", "/transactions/" + body["transaction_id"]).json()["currency"], "USD")
        _, r = create(currency="USDT")
        self.assertEqual(r.status, 500)
        self.assertEqual(r.json(), {"detail": "Failed to create transaction: value too long for type character varying(3)"})

    def test_unknown_is_404(self):
        r = call("analytics", "GET", "/transactions/TXN-nope")
        self.assertEqual((r.status, r.json()), (404, {"detail": "Transaction not found"}))

    def test_list_filters(self):
        run = "RUN-" + uuid4()
        ids = [create(test_run_id=run)[0]["transaction_id"] for _ in range(3)]
        rows = call("analytics", "GET", "/transactions?test_run_id=" + run).json()
        self.assertIsInstance(rows, list)  # a bare array, not {transactions: [...]}
        self.assertEqual(sorted(r["transaction_id"] for r in rows), sorted(ids))
        self.assertEqual(len(call("analytics", "GET", "/transactions?test_run_id=%s&limit=2" % run).json()), 2)
        self.assertEqual(len(call("analytics", "GET", "/transactions?test_run_id=%s&offset=2" % run).json()), 1)
        pend = call("analytics", "GET", "/transactions?status=pending&limit=1000").json()
        self.assertTrue(all(r["status"] == "pending" for r in pend))
        # the brief's ?transaction_id= is not a filter: latest rows of anything
        rows = call("analytics", "GET", "/transactions?transaction_id=" + ids[0]).json()
        self.assertLessEqual(len(rows), 100)
        r = call("analytics", "GET", "/transactions?limit=abc")
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json()["detail"][0]["loc"], ["query", "limit"])

    def test_seed_rows(self):
        row = call("analytics", "GET", "/transactions/TXN-SAMPLE-001").json()
        self.assertEqual((row["status"], row["test_run_id"]), ("completed", "TEST-001"))


class Validation(SimCase):
    def test_event_without_timestamp(self):
        r = call("analytics", "POST", "/events/transaction",
                 {"transaction_id": "T", "event_type": "gateway", "service": "gateway"})
        self.assertEqual(r.status, 422)
        d = r.json()["detail"]
        self.assertEqual([(e["type"], e["loc"]) for e in d], [("missing", ["body", "timestamp"])])
        self.assertEqual(d[0]["msg"], "Field required")

    def test_all_errors_collected(self):
        r = call("analytics", "POST", "/transactions", {"transaction_id": 5, "amount": "lots"})
        self.assertEqual(r.status, 422)
        got = [(e["type"], e["loc"][-1]) for e in r.json()["detail"]]
        self.assertEqual(got, [("string_type", "transaction_id"), ("missing", "sender_id"), ("missing", "receiver_id"),
                               ("float_parsing", "amount")])

    def test_bad_bodies(self):
        r = call("analytics", "POST", "/transactions", "{nope", headers={"Content-Type": "application/json"})
        self.assertEqual((r.status, r.json()["detail"][0]["type"]), (422, "json_invalid"))
        r = call("analytics", "POST", "/transactions", "[1]", headers={"Content-Type": "application/json"})
        self.assertEqual(r.json()["detail"][0]["type"], "model_attributes_type")
        r = call("analytics", "POST", "/events/transaction",
                 {"transaction_id": "T", "event_type": "x", "service": "s", "timestamp": "yesterday"})
        self.assertEqual(r.json()["detail"][0]["loc"], ["body", "timestamp"])
        r = call("analytics", "POST", "/events/transaction",
                 {"transaction_id": "T", "event_type": "x", "service": "s", "timestamp": now_iso(), "data": [1]})
        self.assertEqual(r.json()["detail"][0]["type"], "dict_type")


class Events(SimCase):
    def event(self, txid, type_, offset=None, data=None):
        body = {"transaction_id": txid, "event_type": type_, "timestamp": now_iso(), "service": "gateway"}
        if data is not None:
            body["data"] = data
        return call("analytics", "POST", "/events/transaction", body, offset=offset)

    def test_first_event_inserts_updates_fail(self):
        txid = "TXN-" + uuid4()
        r = self.event(txid, "gateway", data={"path": "/x"})
        self.assertEqual((r.status, r.json()), (201, {"status": "recorded", "transaction_id": txid, "event_type": "gateway"}))
        row = call("analytics", "GET", "/transactions/" + txid).json()
        self.assertEqual((row["status"], row["raw_request"]), ("gateway", '{"path":"/x"}'))
        r = self.event(txid, "completed")
        self.assertEqual(r.status, 500)
        self.assertTrue(r.json()["detail"].startswith("Failed to record event: the server expects"))
        self.assertEqual(self.event(txid, "note").status, 201)  # other types on an existing id: no-op
        self.assertEqual(call("analytics", "GET", "/transactions/" + txid).json()["status"], "gateway")

    def test_fixed_updates(self):
        with Sim(24000, "--fix-event-updates", "--services", "analytics") as sim:
            txid = "TXN-" + uuid4()
            call("analytics", "POST", "/transactions",
                 {"transaction_id": txid, "sender_id": "a", "receiver_id": "b", "amount": 10, "test_run_id": "R9"},
                 offset=sim.offset)
            time.sleep(0.02)
            self.assertEqual(self.event(txid, "settlement_complete", sim.offset).status, 201)
            self.assertEqual(self.event(txid, "completed", sim.offset).status, 201)
            row = call("analytics", "GET", "/transactions/" + txid, offset=sim.offset).json()
            self.assertEqual(row["status"], "completed")
            self.assertIsNotNone(row["total_latency"])
            dash = call("analytics", "GET", "/metrics/dashboard", offset=sim.offset).json()
            self.assertEqual((dash["total_transactions"], dash["completed"]), (1, 1))
            self.assertIsNotNone(dash["p95_latency"])
            perf = call("analytics", "GET", "/metrics/performance/R9", offset=sim.offset).json()
            self.assertEqual((perf["total_requests"], perf["successful"]), (1, 1))


class Views(SimCase):
    def test_dashboard_shape(self):
        create(sender_id="dash-" + uuid4())
        d = call("analytics", "GET", "/metrics/dashboard").json()
        self.assertEqual(set(d), {"total_transactions", "completed", "failed", "pending", "avg_latency", "median_latency",
                                  "p95_latency", "p99_latency", "max_latency", "total_volume", "unique_senders",
                                  "unique_receivers"})
        self.assertGreaterEqual(d["pending"], 1)
        self.assertIsNone(d["avg_latency"])  # no row has both timestamps
        self.assertIsInstance(d["total_volume"], float)

    def test_runs(self):
        run = "RUN-" + uuid4()
        for _ in range(2):
            create(test_run_id=run, test_scenario="load", load_level="high")
        p = call("analytics", "GET", "/metrics/performance/" + run).json()
        self.assertEqual((p["test_run_id"], p["total_requests"], p["successful"], p["failed"]), (run, 2, 0, 0))
        self.assertEqual(set(p), {"test_run_id", "test_scenario", "load_level", "total_requests", "successful", "failed",
                                  "avg_latency", "p95_latency", "test_start", "test_end", "duration_seconds"})
        r = call("analytics", "GET", "/metrics/performance/RUN-none")
        self.assertEqual((r.status, r.json()), (404, {"detail": "Test run not found"}))
        runs = call("analytics", "GET", "/metrics/test-runs?limit=50").json()
        self.assertIn(run, [x["test_run_id"] for x in runs])
        self.assertLessEqual(len(call("analytics", "GET", "/metrics/test-runs?limit=1").json()), 1)

    def test_cleanup_fails_as_the_real_one(self):
        r = call("analytics", "DELETE", "/transactions/cleanup?days=1")
        self.assertEqual(r.status, 500)


if __name__ == "__main__":
    unittest.main()
