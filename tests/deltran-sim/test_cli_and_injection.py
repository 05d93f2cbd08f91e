"""deltran-sim's command line and the --latency/--jitter/--error-rate
knobs: bad flags exit 2 with a reason, the ready line, a clean SIGTERM,
delays held by timers (the loop keeps serving meanwhile), injected 500s
in each service's shape with /health spared, and --seed."""
import socket
import subprocess
import threading
import time
import unittest

from simtest import SIM, TRANSFER, Sim, SimCase, call, mint


class Cli(SimCase):
    def run_sim(self, *args):
        return subprocess.run([SIM] + list(args), capture_output=True, text=True, timeout=10)

    def test_bad_flags_exit_2(self):
        for args, needle in [(["--latency", "fast"], "--latency"), (["--error-rate", "2"], "--error-rate"),
                             (["--profile", "simple"], "--profile"), (["--services", "gateway,bogus"], "bogus"),
                             (["--port-offset", "x"], "--port-offset"), (["--nope"], "--nope"),
                             (["--latency"], "needs a value"), (["extra"], "extra"), (["--auth", "yes"], "--auth")]:
            p = self.run_sim(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(needle, p.stderr, args)
            self.assertTrue(p.stderr.startswith("deltran-sim: "), p.stderr)

    def test_help(self):
        p = self.run_sim("--help")
        self.assertEqual(p.returncode, 0)
        for flag in ("--profile", "--latency", "--jitter", "--error-rate", "--seed", "--port-offset", "--services"):
            self.assertIn(flag, p.stdout)

    def test_ready_line_and_subset(self):
        with Sim(24100, "--services", "gateway,analytics", "--profile", "enhanced") as sim:
            self.assertTrue(sim.ready.startswith("ready: deltran-sim profile=enhanced"))
            self.assertIn("gateway=127.0.0.1:32180", sim.ready)
            self.assertIn("analytics=127.0.0.1:32193", sim.ready)
            self.assertNotIn("token=", sim.ready)
            s = socket.socket()
            self.assertNotEqual(s.connect_ex(("127.0.0.1", 32181)), 0)
            s.close()

    def test_port_in_use(self):
        with Sim(24200, "--services", "token"):
            p = self.run_sim("--port-offset", "24200", "--services", "token")
            self.assertEqual(p.returncode, 1)
            self.assertIn("cannot listen", p.stderr)

    def test_compose_port_map(self):
        with Sim(24300, "--port-map", "compose", "--services", "reporting,settlement") as sim:
            self.assertEqual(call("reporting", "GET", "/health", offset=sim.offset).json()["service"],
                             "settlement-engine")  # 8087 in the compose map

    def test_sigterm_with_open_connections(self):
        sim = Sim(24400)
        socks = [socket.create_connection(("127.0.0.1", 32480)) for _ in range(5)]
        ws = socket.create_connection(("127.0.0.1", 32489))
        rc, err = sim.stop()
        for s in socks + [ws]:
            s.close()
        sim.err.close()
        self.assertEqual(rc, 0, err)
        self.assertIn("stopped after", err)


class Latency(SimCase):
    def test_latency_and_jitter(self):
        with Sim(20100, "--latency", "80ms", "--jitter", "20ms", "--seed", "7") as sim:
            times = []
            for _ in range(6):
                t0 = time.monotonic()
                self.assertEqual(call("token", "GET", "/health", offset=sim.offset).status, 200)
                times.append(time.monotonic() - t0)
            self.assertGreaterEqual(min(times), 0.058)
            self.assertLess(max(times), 0.5)
            self.assertGreater(max(times) - min(times), 0.002)  # jitter varies it

    def test_delays_do_not_block_the_loop(self):
        with Sim(20200, "--latency", "300ms") as sim:
            results = []

            def one():
                t0 = time.monotonic()
                call("token", "GET", "/health", offset=sim.offset)
                results.append(time.monotonic() - t0)
            threads = [threading.Thread(target=one) for _ in range(20)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            self.assertEqual(len(results), 20)
            self.assertLess(time.monotonic() - t0, 2.0)  # concurrent, not 20 x 300 ms
            self.assertGreaterEqual(min(results), 0.29)


class Errors(SimCase):
    def test_error_rate_one(self):
        with Sim(20300, "--error-rate", "1", "--profile", "enhanced", "--rate-limit", "off") as sim:
            o = sim.offset
            for svc in ("gateway", "token", "notification", "analytics", "risk"):
                self.assertEqual(call(svc, "GET", "/health", offset=o).status, 200, svc)  # spared
            r = call("gateway", "POST", "/api/v1/transfer", TRANSFER, offset=o)
            self.assertEqual((r.status, r.json()), (500, {"code": "500", "error": "injected by deltran-sim"}))
            r = call("token", "GET", "/api/v1/tokens/balances/" + "0" * 32, offset=o)
            self.assertEqual((r.status, r.json()["error"]["type"]), (500, "database_error"))
            r = call("analytics", "GET", "/transactions", offset=o)
            self.assertEqual((r.status, r.json()), (500, {"detail": "injected by deltran-sim"}))
            r = call("risk", "GET", "/api/v1/risk/metrics", offset=o)
            self.assertEqual(r.json()["error"], "DATABASE_ERROR")
            r = call("notification", "POST", "/api/v1/notifications", {"type": "sms", "user_id": "u"}, offset=o)
            self.assertEqual((r.status, r.text), (500, "Failed to send notification\n"))
            # unmatched paths are still the framework's 404
            self.assertEqual(call("token", "GET", "/nope", offset=o).status, 404)

    def test_error_rate_share_and_seed(self):
        def run():
            with Sim(20400, "--error-rate", "0.3", "--seed", "42", "--services", "clearing") as sim:
                return [call("clearing", "GET", "/api/v1/clearing/windows", offset=sim.offset).status
                        for _ in range(200)]
        a, b = run(), run()
        self.assertEqual(a, b)  # same seed, same choices
        share = a.count(500) / len(a)
        self.assertGreater(share, 0.18)
        self.assertLess(share, 0.42)
        self.assertEqual(set(a), {200, 500})

    def test_orchestrating_injection_is_a_downstream_failure(self):
        with Sim(20500, "--error-rate", "1", "--rate-limit", "off", "--services", "gateway") as sim:
            tok = mint({"bank_id": "X", "exp": time.time() + 60})
            r = call("gateway", "POST", "/api/v1/transfer", TRANSFER, offset=sim.offset,
                     headers={"Authorization": "Bearer " + tok})
            self.assertEqual(r.status, 500)
            self.assertTrue(r.json()["message"].startswith("Transfer processing failed: compliance check failed"))
            # validation still comes first
            r = call("gateway", "POST", "/api/v1/transfer", {}, offset=sim.offset,
                     headers={"Authorization": "Bearer " + tok})
            self.assertEqual(r.status, 400)


if __name__ == "__main__":
    unittest.main()
