"""Check values known only at run time (issue 12, item 1): a check compares
a response with a value captured earlier in the iteration, with the pool
row's expected status, with the VU; rendered per response, and a failure
reports both values. Against the recording server of volleytest.py, which
answers /tx with a fresh id, /status/N with N and echoes anything else."""
import json
import os
import unittest

from volleytest import Recorder, VolleyCase


class CheckValuesTest(VolleyCase):
    def setUp(self):
        super().setUp()
        self.rec = Recorder()

    def tearDown(self):
        self.rec.stop()

    def run_rec(self, spec, *args):
        return self.run_spec(spec.replace("@REC@", self.rec.url), *args)

    @staticmethod
    def checks(summary):
        return {c["name"]: (c["passes"], c["fails"]) for c in summary["root_group"]["checks"].values()}

    def test_correlation_with_a_captured_value(self):
        """The status call returns the id the transfer gave: json equals,
        body contains and a header compared with run-time values."""
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 3
                flow:
                  - http: { method: POST, url: "@REC@/tx", json: { amount: 5 } }
                    capture: { tx_id: json.id, trace: header.X-Trace }
                  - http:
                      method: POST
                      url: "@REC@/status-of"
                      json: { id: "${tx_id}", trace: "${trace}", vu: "${vu.id}" }
                    check:
                      - { name: same id, json: { path: id, equals: "${tx_id}" } }
                      - { name: id in the body, body: { contains: "${tx_id}" } }
                      - { name: not another id, json: { path: id, not_equals: "tx-0${tx_id}" } }
                      - { name: vu number, json: { path: vu, equals: "${vu.id}" } }
                      - name: vu as a number
                        json:
                          path: vu
                          equals: ${vu.id}
                      - { name: trace, json: { path: trace, contains: "${trace}" } }
                      - name: echoed type
                        header: { name: Content-Type, equals: "application/${env.SUBTYPE:-json}" }
            """)
        self.assertEqual(rc, 0, out + err)
        c = self.checks(s)
        self.assertEqual(c["same id"], (6, 0))
        self.assertEqual(c["id in the body"], (6, 0))
        self.assertEqual(c["not another id"], (6, 0))
        self.assertEqual(c["vu number"], (6, 0))
        # ${vu.id} unquoted renders as the number 1 or 2; the echo holds "1"
        # (a string), and a string never equals a number.
        self.assertEqual(c["vu as a number"], (0, 6))
        self.assertEqual(c["trace"], (6, 0))
        self.assertEqual(c["echoed type"], (6, 0))

    def test_a_failed_comparison_reports_both_values(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                flow:
                  - http: { method: POST, url: "@REC@/tx" }
                    capture: { tx_id: json.id }
                  - http: { method: POST, url: "@REC@/echo", json: { id: "x${tx_id}" } }
                    check:
                      - { name: same id, json: { path: id, equals: "${tx_id}" } }
                      - { name: body has it alone, body: { matches: "^\\\\{\\"id\\": \\"${tx_id}" } }
            thresholds:
              checks: ["rate>0.99"]
            """)
        self.assertEqual(rc, 99, out + err)
        self.assertIn('id: "xtx-1" (expected "tx-1" from ${tx_id})', out)
        # The pattern as rendered, then as written.
        self.assertIn('body (14 bytes) does not match "^\\\\{\\"id\\": \\"tx-1" (from ^\\{"id": "${tx_id})', out)

    def test_expected_status_per_pool_row(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            pools:
              cases:
                pick: sequential
                rows:
                  - { path: /status/200, expected_status: 200 }
                  - { path: /status/404, expected_status: 404 }
                  - { path: /status/201, expected_status: "201" }
                  - { path: /status/503, expected_status: 200 }
            scenarios:
              s:
                executor: shared-iterations
                vus: 1
                iterations: 8
                use: cases
                flow:
                  - http: { url: "@REC@${row.path}", expected_statuses: ["200-599"] }
                    check:
                      - { name: expected status, status: "${row.expected_status}" }
                      - { name: listed, status: [500, "${row.expected_status}"] }
            """)
        self.assertEqual(rc, 0, out + err)
        c = self.checks(s)
        self.assertEqual(c["expected status"], (6, 2))
        self.assertEqual(c["listed"], (6, 2))
        self.assertIn("status 503 not in [200 from ${row.expected_status}]", out)

    def test_a_rendered_status_that_is_not_a_code_fails_the_check(self):
        rc, out, err, s = self.run_rec("""
            version: 1
            pools:
              cases: { rows: [ { want: abc } ] }
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                use: cases
                flow:
                  - http: { url: "@REC@/status/200" }
                    check: [ { name: expected status, status: "${row.want}" } ]
            """)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.checks(s)["expected status"], (0, 1))
        self.assertIn('status: ${row.want} is "abc", not a status code from 100 to 599', out)

    def test_names_are_checked_at_load_time(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http: { url: "http://127.0.0.1:1/a" }
                    capture: { tx_id: json.id }
                    check: [ { name: own, json: { path: id, equals: "${tx_id}" } } ]
                  - http: { url: "http://127.0.0.1:1/b" }
                    check:
                      - { name: typo, json: { path: id, equals: "${tx_idd}" } }
                      - { name: later, body: { contains: "${later}" } }
                      - { name: row without a pool, status: "${row.expected}" }
                      - { name: not a code, status: 700 }
                  - http: { url: "http://127.0.0.1:1/c" }
                    capture: { later: json.id }
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertRegex(err, r'spec\.yaml:9:\d+: error: scenarios\.s\.flow\[0\]\.check\[0\]\.json\.equals: '
                              r'"\$\{tx_id\}" is captured by this same step')
        self.assertRegex(err, r'spec\.yaml:12:\d+: error: .*check\[0\]\.json\.equals: unknown template name "tx_idd"')
        self.assertRegex(err, r'spec\.yaml:13:\d+: error: .*check\[1\]\.body\.contains: "\$\{later\}" is captured '
                              r'only by a later step')
        self.assertRegex(err, r'spec\.yaml:14:\d+: error: .*check\[2\]\.status(\.in)?: ')
        self.assertRegex(err, r'spec\.yaml:15:\d+: error: .*check\[3\]\.status\.in: expected a value between 100 '
                              r'and 599, got 700')
        self.assertIn("5 errors", err)


if __name__ == "__main__":
    unittest.main()
