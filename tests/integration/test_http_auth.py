"""Auth schemes and bodies of the http plugin (issue 17, item 8): basic
against the test nginx's auth_basic, digest and the NTLM handshake against
authserver.py (which checks the digest response hash itself and decodes
NTLM's messages), multipart/form-data with a file from disk parsed by the
server, and repeated keys in form and query."""
import base64
import hashlib
import os
import struct
import unittest

from authserver import AuthServer
from volleytest import VolleyCase


class HttpAuthTest(VolleyCase):
    def setUp(self):
        super().setUp()
        self.srv = AuthServer()

    def tearDown(self):
        self.srv.stop()

    @staticmethod
    def checks(summary):
        return {c["name"]: (c["passes"], c["fails"]) for c in summary["root_group"]["checks"].values()}

    def run_srv(self, spec, *args):
        return self.run_spec(spec.replace("@SRV@", self.srv.url).replace(
            "@HOSTPORT@", self.srv.url[len("http://"):]), *args)

    def test_basic_in_url_and_as_option(self):
        """k6's http_basic_auth.js: credentials in the url (sent as basic,
        as curl and k6 do), or auth: basic with username and password."""
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 2
                flow:
                  - http: { url: "http://user:passwd@127.0.0.1:${env.PORT}/basic-auth" }
                    check: [ { name: url creds, status: 200, json: { path: user, equals: user } } ]
                  - http:
                      url: "http://127.0.0.1:${env.PORT}/basic-auth"
                      auth: { scheme: basic, username: user, password: "${env.PASS}" }
                    check: [ { name: option creds, status: 200, json: { path: authenticated, equals: true } } ]
                  - http: { url: "http://user:wrong@127.0.0.1:${env.PORT}/basic-auth" }
                    check: [ { name: wrong, status: 401 } ]
        """, env={"PORT": os.environ.get("TEST_NGINX_URL", "http://127.0.0.1:18181").rsplit(":", 1)[1],
                  "PASS": "passwd"})
        self.assertEqual(rc, 0, err)
        got = self.checks(s)
        self.assertEqual(got["url creds"], (2, 0))
        self.assertEqual(got["option creds"], (2, 0))
        self.assertEqual(got["wrong"], (2, 0))

    def test_digest(self):
        """k6's http_digest_auth.js: auth: digest with the url's
        credentials; the server verifies the response hash. A wrong password
        ends on the server's 401. One sample per step (the 401 round trip
        included)."""
        rc, out, err, s = self.run_srv("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 2
                flow:
                  - http:
                      url: "http://user:passwd@@HOSTPORT@/digest-auth/auth/user/passwd"
                      auth: digest
                    check:
                      - name: is authenticated
                        status: 200
                        json: { path: authenticated, equals: true }
                  - http:
                      url: "@SRV@/digest-auth/auth/bob/s3cret?x=1"
                      auth: { scheme: digest, username: bob, password: s3cret }
                    check: [ { name: option creds, status: 200, json: { path: user, equals: bob } } ]
                  - http:
                      url: "@SRV@/digest-auth/auth/bob/s3cret"
                      auth: { scheme: digest, username: bob, password: nope }
                      expected_statuses: [401]
                    check: [ { name: wrong password, status: 401 } ]
        """)
        self.assertEqual(rc, 0, err)
        got = self.checks(s)
        self.assertEqual(got["is authenticated"], (4, 0))
        self.assertEqual(got["option creds"], (4, 0))
        self.assertEqual(got["wrong password"], (4, 0))
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 12)
        reqs = self.srv.taken()
        # a step's first request goes without credentials and gets the
        # challenge; curl then answers it (and may answer a later one of the
        # same VU at once with the nonce it holds): every step sent a
        # Digest answer, and only after a challenge
        auths = [r["headers"].get("Authorization", "") for r in reqs]
        self.assertGreaterEqual(sum(a.startswith("Digest ") for a in auths), 12)
        self.assertFalse([a for a in auths if a and not a.startswith("Digest ")])
        self.assertEqual(auths[0], "")

    def test_ntlm(self):
        """auth: ntlm runs NTLM's three messages on one connection: the
        type-1 message (Authorization: NTLM TlRMTVNTUAAB...), the server's
        challenge, the type-3 message naming the user and domain."""
        rc, out, err, s = self.run_srv("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                flow:
                  - http:
                      url: "@SRV@/ntlm"
                      auth: { scheme: ntlm, username: 'CORP\\alice', password: pw }
                    check:
                      - { name: ntlm, status: 200, json: { path: user, equals: alice } }
                      - { name: domain, json: { path: domain, equals: CORP } }
        """)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.checks(s)["ntlm"], (1, 0))
        self.assertEqual(self.checks(s)["domain"], (1, 0))
        reqs = self.srv.taken()
        self.assertEqual(len(reqs), 2)
        # curl opens with the type-1 message (it asks for NTLM alone)
        auths = [r["headers"].get("Authorization", "") for r in reqs]
        self.assertTrue(auths[0].startswith("NTLM TlRMTVNTUAAB"), auths[0])
        t1 = base64.b64decode(auths[0][5:])
        self.assertEqual(struct.unpack_from("<I", t1, 8)[0], 1)
        t3 = base64.b64decode(auths[1][5:])
        self.assertEqual(struct.unpack_from("<I", t3, 8)[0], 3)
        # the handshake's messages on one connection
        self.assertEqual(reqs[0]["conn"], reqs[1]["conn"])

    def test_multipart_with_a_file(self):
        """k6's http.file(): a file from disk (read once at load time), a
        templated value and a plain one, parsed by the server."""
        data = bytes(range(256)) * 64 + b"\r\n--not-the-boundary\r\n"
        with open(os.path.join(self.tmp, "upload.bin"), "wb") as f:
            f.write(data)
        rc, out, err, s = self.run_srv("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 2
                iterations: 1
                flow:
                  - http:
                      method: POST
                      url: "@SRV@/multipart"
                      multipart:
                        - { name: field, value: "this is a standard form field" }
                        - { name: vu, value: "vu-${vu.id}" }
                        - { name: file, file: upload.bin, filename: 'te"st.bin' }
                        - { name: doc, file: upload.bin, content_type: application/pdf }
                    check:
                      - { name: parsed, status: 200, json: { path: "parts[0].value", equals: "this is a standard form field" } }
                      - { name: file sha, json: { path: "parts[2].sha256", equals: "@SHA@" } }
                      - { name: file name, json: { path: "parts[2].filename", equals: 'te"st.bin' } }
                      - { name: file type, json: { path: "parts[2].content_type", equals: application/octet-stream } }
                      - { name: default name, json: { path: "parts[3].filename", equals: upload.bin } }
                      - { name: own type, json: { path: "parts[3].content_type", equals: application/pdf } }
                      - { name: templated, json: { path: "parts[1].value", contains: "vu-" } }
                  - http:
                      method: POST
                      url: "@SRV@/multipart"
                      multipart:
                        - { name: a, value: "1" }
                        - { name: b, file: upload.bin }
                    check:
                      - { name: constant body, status: 200, json: { path: "parts[1].size", equals: @SIZE@ } }
        """.replace("@SHA@", hashlib.sha256(data).hexdigest()).replace("@SIZE@", str(len(data))))
        self.assertEqual(rc, 0, err)
        for name, got in self.checks(s).items():
            self.assertEqual(got[1], 0, (name, got))
        self.assertEqual(self.checks(s)["parsed"], (2, 0))
        self.assertEqual(self.checks(s)["constant body"], (2, 0))

    def test_repeated_keys(self):
        """k6's html_form_post.js: topping: [onion, bacon, cheese] gives the
        key once per value, in form bodies and queries."""
        rc, out, err, s = self.run_srv("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                flow:
                  - http:
                      method: POST
                      url: "@SRV@/post?x=0"
                      query: { tag: [a, "b c"], one: "${vu.id}" }
                      form: { name: Test Name, topping: [onion, bacon, cheese] }
                    check:
                      - { name: query, json: { path: query, equals: "x=0&tag=a&tag=b+c&one=1" } }
                      - { name: form, json: { path: body, equals: "name=Test+Name&topping=onion&topping=bacon&topping=cheese" } }
                      - { name: ctype, json: { path: ctype, equals: application/x-www-form-urlencoded } }
        """)
        self.assertEqual(rc, 0, err)
        for name in ("query", "form", "ctype"):
            self.assertEqual(self.checks(s)[name], (1, 0), (name, out))

    def test_load_errors(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                flow:
                  - http: { url: "http://127.0.0.1:1/x", auth: digest }
                  - http: { url: "http://127.0.0.1:1/x", auth: kerberos }
                  - http: { url: "http://127.0.0.1:1/x", method: POST, multipart: [ { name: f, file: nope.bin } ] }
                  - http: { url: "http://127.0.0.1:1/x", method: POST, multipart: [ { name: f, value: a, file: spec.yaml } ] }
                  - http: { url: "http://127.0.0.1:1/x", method: POST, form: { a: b }, multipart: [ { name: f, value: a } ] }
                  - http: { url: "http://127.0.0.1:1/x", form: { a: [b, { c: d }] } }
        """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("auth: digest needs credentials: in the url (http://user:pass@host/) or username "
                      "and password", err)
        self.assertIn("kerberos", err)
        self.assertIn("multipart[0].file: cannot read", err)
        self.assertIn("multipart[0] (f): give either value or file", err)
        self.assertIn("body, json, form and multipart cannot be used together", err)
        self.assertIn("form.a[1]: expected a string or a list of strings", err)


if __name__ == "__main__":
    unittest.main()
