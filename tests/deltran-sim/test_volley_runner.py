"""The Volley runner itself against the stand-in: a spec shaped like the
brief's integration scan and e2e flow (health of every service, a JWT
transfer read back, a collector row) run by build/volley, every check
passing."""
import json
import os
import subprocess
import tempfile
import textwrap
import unittest

from simtest import HOST, SimCase, port

VOLLEY = os.environ.get("VOLLEY_BIN", "build/volley")

SPEC = """
version: 1
name: deltran-sim
services:
  gateway:
    url: ${env.GW}
    headers: { Authorization: "Bearer ${env.TOKEN}" }
  analytics: ${env.AN}
defaults:
  headers: { Content-Type: application/json, Accept: application/json }
  timeout: 5s
scenarios:
  scan:
    executor: per-vu-iterations
    vus: 4
    iterations: 5
    flow:
      - group: health
        steps:
%(health)s
      - group: transfer
        steps:
          - http:
              name: transfer
              method: POST
              url: "${services.gateway}/api/v1/transfer"
              json: { sender_bank: ICICI, receiver_bank: ENBD, amount: 5000, from_currency: INR,
                      to_currency: AED, sender_account: ACC1, receiver_account: ACC2 }
            check:
              - { name: transfer accepted, status: 202 }
              - { name: has transaction_id, json: { path: transaction_id, exists: true } }
              - { name: processing, json: { path: status, equals: PROCESSING } }
          - http:
              name: collector row
              method: POST
              url: "${services.analytics}/transactions"
              json: { transaction_id: "VOLLEY-${vu.id}-${vu.iteration}", sender_id: ACC1, receiver_id: ACC2,
                      amount: 5000, currency: INR, test_run_id: volley-sim }
            check:
              - { name: row created, status: 201 }
thresholds:
  checks: ["rate==1"]
  http_req_failed: ["rate==0"]
"""

HEALTH = """          - http: { name: "health %(svc)s", url: "http://%(host)s:%(port)d/health" }
            check:
              - { name: "%(svc)s is up", status: 200 }
              - { name: "%(svc)s is healthy", json: { path: status, equals: healthy } }"""


class VolleyRunner(SimCase):
    def test_spec_against_the_stand_in(self):
        if not os.path.exists(VOLLEY):
            self.skipTest("volley is not built")
        services = ["gateway", "token", "obligation", "liquidity", "risk", "clearing", "compliance", "reporting",
                    "settlement", "notification", "analytics"]
        health = "\n".join(HEALTH % {"svc": s, "host": HOST, "port": port(s)} for s in services)
        tmp = tempfile.mkdtemp(prefix="volley-sim-")
        spec = os.path.join(tmp, "spec.yaml")
        with open(spec, "w") as f:
            f.write(textwrap.dedent(SPEC) % {"health": health})
        summary = os.path.join(tmp, "summary.json")
        env = dict(os.environ, GW="http://%s:%d" % (HOST, port("gateway")),
                   AN="http://%s:%d" % (HOST, port("analytics")), TOKEN=self.token())
        p = subprocess.run([VOLLEY, "run", "-q", "--summary-export", summary, spec], capture_output=True,
                           text=True, timeout=120, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(summary) as f:
            s = json.load(f)
        m = s["metrics"]
        self.assertEqual(m["http_reqs"]["count"], 4 * 5 * (len(services) + 2))
        checks = s["root_group"]["groups"]["transfer"]["checks"]
        self.assertEqual(checks["transfer accepted"]["passes"], 20)
        self.assertEqual(checks["transfer accepted"]["fails"], 0)
        runs = json.load(__import__("urllib.request").request.urlopen(
            "http://%s:%d/metrics/performance/volley-sim" % (HOST, port("analytics")), timeout=5))
        self.assertEqual(runs["total_requests"], 20)


if __name__ == "__main__":
    unittest.main()
