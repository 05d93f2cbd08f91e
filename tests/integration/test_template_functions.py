"""Template functions (docs/spec-reference.md#template-functions) end to
end: the real volley against the loopback nginx's /reflect, which answers
with the Authorization header and the query it got, so checks see what was
sent. Values computed here with Python's hashlib/hmac/base64, not by
volley. A result derived from a secret never shows: not on stdout/stderr,
in json-out's NDJSON or the --summary-export JSON."""
import base64
import hashlib
import hmac
import json
import os
import unittest
import urllib.parse

from volleytest import VolleyCase

USER, PASSWORD, SIGNING_KEY = "qa", "pw-7:x", "k3y-for-signing"
ENV = {"API_USER": USER, "API_PASSWORD": PASSWORD, "SIGNING_KEY": SIGNING_KEY}


def sig(vu_id, iteration):
    mac = hmac.new(SIGNING_KEY.encode(), f"{vu_id}:{iteration}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()


class TemplateFunctionsTest(VolleyCase):
    def test_values_reach_the_server_and_secrets_stay_hidden(self):
        basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        # vu 1, iteration 0
        args = ("d=" + hashlib.sha256(b"abc").hexdigest() +
                "&u=" + urllib.parse.quote("a b/\u00e91", safe="-_.!~*'()") +
                "&sig=" + sig(1, 0) +
                "&h=" + hashlib.md5(b"0").hexdigest())
        nd = os.path.join(self.tmp, "out.ndjson")
        rc, out, err, s = self.run_spec("""
            version: 1
            services:
              api: { url: "${env.NGINX}" }
            defaults:
              headers:
                Authorization: "Basic ${base64(env.API_USER + ':' + env.API_PASSWORD)}"
            scenarios:
              fn:
                executor: per-vu-iterations
                flow:
                  - http:
                      name: reflect
                      url: "${services.api}/reflect?d=${sha256('abc')}&u=${urlencode('a b/\u00e9' + vu.id)}&sig=${hmac('sha256', env.SIGNING_KEY, vu.id + ':' + vu.iteration, 'base64url')}&h=${hex(md5(vu.iteration, 'binary'))}"
                    check:
                      - name: basic auth
                        json: { path: auth, equals: "Basic %s" }
                      - name: query
                        json: { path: args, equals: "%s" }
            thresholds:
              checks: ["rate==1"]
            """ % (basic, args), "--out", "json-out=" + nd, env=ENV)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(s["metrics"]["checks"]["passes"], 2)
        with open(nd) as f:
            shown = out + err + f.read() + json.dumps(s)
        for secret in (PASSWORD, SIGNING_KEY, basic, sig(1, 0)):
            self.assertNotIn(secret, shown)
        # The url tag shows the call as written, not its value.
        urls = {o["data"]["tags"].get("url") for o in self.read_ndjson(nd)
                if o["type"] == "Point" and o["metric"] == "http_reqs"}
        self.assertEqual(len(urls), 1, urls)
        self.assertIn("sig=${hmac('sha256', env.SIGNING_KEY, vu.id + ':' + vu.iteration, 'base64url')}",
                      urls.pop())

    def test_failure_reason_hides_a_run_time_hmac(self):
        """A check that quotes a value derived per request from a secret
        key shows *** in its first failure reason."""
        spec = """
            version: 1
            scenarios:
              fn:
                executor: per-vu-iterations
                flow:
                  - http:
                      url: "${env.NGINX}/reflect?sig=${hmac('sha256', env.SIGNING_KEY, vu.id + ':' + vu.iteration, 'base64url')}"
                    check:
                      - name: never
                        json: { path: args, equals: "nothing" }
            """
        rc, out, err = self.volley("run", self.write_spec(spec), env=ENV)
        self.assertEqual(rc, 0, out + err)   # no threshold: checks do not fail the run
        self.assertNotIn(sig(1, 0), out + err)
        self.assertIn('first failure: json: args: "sig=***" (expected "nothing")', out)

    def test_load_time_errors_name_the_place(self):
        spec = """
            version: 1
            scenarios:
              fn:
                executor: per-vu-iterations
                flow:
                  - http: { url: "${env.NGINX}/fast?x=${base64(vu.id, 'base32')}" }
            """
        rc, out, err = self.volley("validate", self.write_spec(spec))
        self.assertEqual(rc, 104, out + err)
        self.assertRegex(err, r"spec\.yaml:7:\d+: error: .*unknown encoding: expected base64\(VALUE\) "
                              r"or base64\(VALUE, ENCODING\) with ENCODING std, rawstd, url or rawurl, "
                              r"got \"\$\{base64\(vu\.id, 'base32'\)\}\"")


if __name__ == "__main__":
    unittest.main()
