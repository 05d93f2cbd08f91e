"""k6's tlsVersion, tlsCipherSuites and OCSP stapling (k6 examples
tlsconfig.js and ocsp.js): tls.max_version, tls.min_version 1.0/1.1 and
tls.cipher_suites on http (fast path and curl) and ws steps, and the
`tls` check key (version, cipher_suite, ocsp_status) on their responses.

Against the test nginx's TLS port (TLS 1.2 and 1.3, RSA certificate; its
/tls location answers the protocol and OpenSSL cipher name it saw), a
Python server that speaks TLS 1.0 only (at OpenSSL's security level 0),
the ws server of test_ws.py over TLS, and an nginx started here that
staples OCSP responses made here with `openssl ocsp` (good, revoked,
unknown) from files (ssl_stapling_file), so nothing leaves the machine."""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from tlspki import HttpsServer, Pki
from test_ws import WsServer
from volleytest import VolleyCase

TLS_URL = os.environ.get("TEST_NGINX_TLS_URL", "https://127.0.0.1:19181")
TLS_CA = os.environ.get("TEST_NGINX_TLS_CA", "build/test-nginx/tls/ca.pem")
CLIENTS = ("curl", "auto")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Tls10Server:
    """HTTPS/1.1 on 127.0.0.1 that speaks TLS 1.0 only (security level 0,
    as Debian 12's OpenSSL needs for it) and answers 200 with its version."""

    def __init__(self, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.ctx = ctx
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        try:
            t = self.ctx.wrap_socket(c, server_side=True)
            t.recv(4096)
            body = json.dumps({"version": t.version()}).encode()
            t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            t.close()
        except (ssl.SSLError, OSError):
            time.sleep(0.2)
            c.close()

    def stop(self):
        self.stopping = True
        self.sock.close()


class StaplingNginx:
    """An nginx on 127.0.0.1 with one TLS port per stapled OCSP response
    (good, revoked, unknown) and one that staples nothing, all with the
    test nginx's certificate; the responses are signed by its CA."""

    def __init__(self, d, tls_dir):
        self.dir = d
        ca, cakey = os.path.join(tls_dir, "ca.pem"), os.path.join(tls_dir, "ca.key")
        cert, key = os.path.join(tls_dir, "server.pem"), os.path.join(tls_dir, "server.key")
        p = lambda n: os.path.join(d, n)  # noqa: E731
        serial = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-serial"], check=True,
                                capture_output=True, text=True).stdout.strip().split("=")[1]
        subprocess.run(["openssl", "ocsp", "-issuer", ca, "-cert", cert, "-no_nonce",
                        "-reqout", p("req.der")], check=True, capture_output=True)
        rows = {"good": "V\t301231000000Z\t\t%s\tunknown\t/CN=localhost\n" % serial,
                "revoked": "R\t301231000000Z\t240101000000Z,keyCompromise\t%s\tunknown\t/CN=localhost\n"
                           % serial,
                "unknown": ""}
        for name, row in rows.items():
            with open(p("index-%s.txt" % name), "w") as f:
                f.write(row)
            subprocess.run(["openssl", "ocsp", "-index", p("index-%s.txt" % name), "-rsigner", ca,
                            "-rkey", cakey, "-CA", ca, "-reqin", p("req.der"),
                            "-respout", p(name + ".der"), "-ndays", "1"],
                           check=True, capture_output=True)
        with open(p("chain.pem"), "w") as out:
            for f in (cert, ca):
                with open(f) as src:
                    out.write(src.read())
        self.ports = {n: free_port() for n in ("good", "revoked", "unknown", "none")}
        servers = ""
        for name, port in self.ports.items():
            staple = "ssl_stapling on; ssl_stapling_file %s;" % p(name + ".der") if name != "none" else ""
            servers += ("server { listen 127.0.0.1:%d ssl; ssl_certificate %s; ssl_certificate_key %s; "
                        "%s location / { return 200 '%s'; } }\n" % (port, p("chain.pem"), key, staple, name))
        os.makedirs(p("logs"), exist_ok=True)
        with open(p("nginx.conf"), "w") as f:
            f.write("error_log %s warn;\nevents { worker_connections 64; }\nhttp {\naccess_log off;\n"
                    "client_body_temp_path %s;\n%s}\n" % (p("logs/error.log"), p("tmp"), servers))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-p", d + "/", "-c", p("nginx.conf"), "-e", p("logs/error.log"),
                        "-g", "pid %s; worker_processes 1;" % p("nginx.pid")], check=True)
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", self.ports["none"]), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

    def stop(self):
        try:
            with open(os.path.join(self.dir, "nginx.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 3)   # SIGQUIT: graceful
        except (OSError, ValueError):
            pass


PKI = None
WSS = None


def setUpModule():
    global PKI, WSS
    PKI = Pki(tempfile.mkdtemp(prefix="tls-suites-pki-", dir=os.environ.get("VOLLEY_TEST_TMP")))
    WSS = WsServer("--tls", PKI.path("server.pem"), PKI.path("server.key"))


def tearDownModule():
    WSS.stop()


class SuitesCase(VolleyCase):
    def run_flow(self, flow, head="", env=None):
        """One VU, one iteration. Returns (rc, stdout, stderr, by_name):
        by_name maps each step name to the tags of its http_reqs (or
        ws_sessions) sample."""
        out = os.path.join(self.tmp, "out.ndjson")
        spec = ("version: 1\n" + head + "scenarios:\n  s:\n    executor: per-vu-iterations\n"
                "    flow:\n" + flow)
        rc, stdout, stderr = self.volley("run", "--out", "json-out=" + out, self.write_spec(spec),
                                         env=env)
        by_name = {}
        if os.path.exists(out):
            for p in self.read_ndjson(out):
                if p["type"] == "Point" and p["metric"] in ("http_reqs", "ws_sessions"):
                    by_name[p["data"]["tags"]["name"]] = p["data"]["tags"]
        return rc, stdout, stderr, by_name

    @staticmethod
    def checks(stdout):
        """{check name: True when it always passed}, from the summary."""
        return {m.group(2): m.group(1) == "✓"
                for m in re.finditer(r"(?m)^\s+([✓✗]) (.+?)\s*$", stdout)}


class VersionsAndSuites(SuitesCase):
    def test_max_version_and_suites_on_both_clients(self):
        head = 'defaults:\n  tls: { ca_file: "%s" }\n' % TLS_CA
        url = TLS_URL + "/tls"
        flow = f"""
      - http: {{ name: default, url: "{url}" }}
        check: {{ name: default is tls1.3, tls: {{ version: tls1.3, cipher_suite: TLS_AES_128_GCM_SHA256 }}, json: {{ path: protocol, equals: TLSv1.3 }} }}
      - http: {{ name: max12, url: "{url}", tls: {{ max_version: "1.2" }} }}
        check: {{ name: max12 is tls1.2, tls: {{ version: tls1.2 }}, json: {{ path: protocol, equals: TLSv1.2 }} }}
      - http:
          name: tlsconfig
          url: "{url}"
          tls:
            min_version: "1.0"
            max_version: "1.2"
            cipher_suites: [TLS_RSA_WITH_RC4_128_SHA, TLS_RSA_WITH_AES_128_GCM_SHA256]
        check:
          - {{ name: is TLSv1.2, tls: {{ version: tls1.2 }} }}
          - {{ name: is sha256 cipher suite, tls: {{ cipher_suite: TLS_RSA_WITH_AES_128_GCM_SHA256 }}, json: {{ path: cipher, equals: AES128-GCM-SHA256 }} }}
      - http: {{ name: ecdhe, url: "{url}", tls: {{ max_version: "1.2", cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384] }} }}
        check: {{ name: ecdhe suite, tls: {{ cipher_suite: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 }}, json: {{ path: cipher, equals: ECDHE-RSA-AES256-GCM-SHA384 }} }}
      - http: {{ name: chacha13, url: "{url}", tls: {{ cipher_suites: [TLS_CHACHA20_POLY1305_SHA256] }} }}
        check: {{ name: tls13 suite, tls: {{ version: tls1.3, cipher_suite: TLS_CHACHA20_POLY1305_SHA256 }}, json: {{ path: cipher, equals: TLS_CHACHA20_POLY1305_SHA256 }} }}
      - http: {{ name: chacha12, url: "{url}", tls: {{ max_version: "1.2", cipher_suites: [TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305] }} }}
        check: {{ name: k6 name of chacha, tls: {{ cipher_suite: TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305 }} }}
      - http: {{ name: gorder, url: "{url}", tls: {{ max_version: "1.2" }} }}
        check: {{ name: k6 default order, tls: {{ cipher_suite: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 }}, json: {{ path: cipher, equals: ECDHE-RSA-AES128-GCM-SHA256 }} }}
      - http: {{ name: wrong, url: "{url}", tls: {{ max_version: "1.2" }} }}
        check: {{ name: wrong version fails, tls: {{ version: tls1.3 }} }}
      - http: {{ name: plain, url: "${{env.NGINX}}/tls" }}
        check: {{ name: plain is not tls, tls: {{ version: tls1.2 }} }}
"""
        for client in CLIENTS:
            with self.subTest(client=client):
                rc, out, err, r = self.run_flow(flow, head, env={"VOLLEY_HTTP_CLIENT": client})
                c = self.checks(out)
                for name in ("default is tls1.3", "max12 is tls1.2", "is TLSv1.2",
                             "is sha256 cipher suite", "ecdhe suite", "tls13 suite",
                             "k6 name of chacha", "k6 default order"):
                    # k6 default order: with no cipher_suites, Go's order
                    # (AES-128-GCM first), which nginx takes (the client's)
                    self.assertTrue(c.get(name), name + "\n" + out + err)
                self.assertFalse(c["wrong version fails"])
                self.assertFalse(c["plain is not tls"])
                self.assertIn("the TLS version is tls1.2, not tls1.3", out)
                self.assertIn("tls: the response did not come over TLS", out)
                # k6's tls_version tag on the samples
                self.assertEqual(r["default"]["tls_version"], "tls1.3")
                self.assertEqual(r["max12"]["tls_version"], "tls1.2")
                self.assertEqual(r["tlsconfig"]["tls_version"], "tls1.2")
                self.assertNotIn("tls_version", r["plain"])
                # Debian's OpenSSL has no RC4: said once, at its place
                self.assertRegex(err, r"volley: warning: \S+spec\.yaml:\d+:\d+: tls\.cipher_suites: "
                                      r"this OpenSSL \(\S+\) does not offer TLS_RSA_WITH_RC4_128_SHA; "
                                      r"the other suites are offered")

    def test_tls10_needs_asking_for(self):
        srv = Tls10Server(PKI.path("server.pem"), PKI.path("server.key"))
        try:
            url = "https://127.0.0.1:%d/" % srv.port
            head = 'defaults:\n  tls: { ca_file: "%s" }\n' % PKI.path("ca.pem")
            flow = f"""
      - http: {{ name: asked, url: "{url}", tls: {{ min_version: "1.0", max_version: "1.2" }} }}
        check: {{ name: tls1.0 when asked, tls: {{ version: tls1.0 }}, json: {{ path: version, equals: TLSv1 }} }}
      - http: {{ name: default, url: "{url}" }}
"""
            for client in CLIENTS:
                with self.subTest(client=client):
                    rc, out, err, r = self.run_flow(flow, head, env={"VOLLEY_HTTP_CLIENT": client})
                    self.assertTrue(self.checks(out).get("tls1.0 when asked"), out + err)
                    self.assertEqual(r["asked"]["tls_version"], "tls1.0")
                    self.assertEqual(r["asked"]["status"], "200")
                    # OpenSSL's defaults refuse TLS 1.0: no response
                    self.assertEqual(r["default"]["status"], "")
                    self.assertNotIn("tls_version", r["default"])
        finally:
            srv.stop()

    def test_ws_honours_suites_and_versions(self):
        ca = PKI.path("ca.pem")
        url = "wss://127.0.0.1:%d/echo" % WSS.port
        # The ws server (Python's defaults) has no RSA key exchange; its
        # certificate is EC.
        flow = f"""
      - ws: {{ name: ecdsa, url: "{url}", close_after: 50ms, tls: {{ ca_file: "{ca}", max_version: "1.2", cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256] }} }}
        check: {{ name: ecdsa suite, status: 101 }}
      - ws: {{ name: rsa, url: "{url}", close_after: 50ms, tls: {{ ca_file: "{ca}", max_version: "1.2", cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256] }} }}
        check: {{ name: rsa suite, status: 101 }}
      - ws: {{ name: max11, url: "{url}", close_after: 50ms, tls: {{ ca_file: "{ca}", max_version: "1.1" }} }}
        check: {{ name: tls1.1, status: 101 }}
"""
        rc, out, err, r = self.run_flow(flow)
        c = self.checks(out)
        self.assertTrue(c["ecdsa suite"], out + err)
        self.assertFalse(c["rsa suite"], out + err)
        self.assertFalse(c["tls1.1"], out + err)
        self.assertEqual(r["ecdsa"]["status"], "101")
        self.assertEqual(r["rsa"]["status"], "")

    def test_spec_errors(self):
        path = self.write_spec(f"""
            version: 1
            defaults:
              tls: {{ max_version: "1.4" }}
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - http: {{ url: "{TLS_URL}/", tls: {{ cipher_suites: [TLS_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_GCM_SHA512] }} }}
                  - http: {{ url: "{TLS_URL}/", tls: {{ min_version: "1.3", max_version: "1.2" }} }}
                  - http: {{ url: "{TLS_URL}/", tls: {{ cipher_suites: [TLS_RSA_WITH_RC4_128_SHA] }} }}
                  - check: {{ name: bad, tls: {{ version: "1.2" }} }}
            """)
        rc, out, err = self.volley("validate", path)
        self.assertEqual(rc, 104, out + err)
        self.assertRegex(err, r"spec\.yaml:4:23: error: defaults\.tls\.max_version: unknown value \"1\.4\"; "
                              r"expected one of: 1\.0, 1\.1, 1\.2, 1\.3")
        self.assertRegex(err, r"spec\.yaml:9:\d+: error: scenarios\.s\.flow\[0\]\.http\.tls\.cipher_suites: "
                              r"unknown cipher suite \"TLS_RSA_WITH_AES_128_GCM_SHA512\"; the names \(k6's\) "
                              r"are: TLS_RSA_WITH_RC4_128_SHA, .*TLS_RSA_WITH_AES_128_GCM_SHA256, .*"
                              r"TLS_CHACHA20_POLY1305_SHA256\n")
        self.assertRegex(err, r"spec\.yaml:10:\d+: error: scenarios\.s\.flow\[1\]\.http\.tls\.max_version: "
                              r"1\.2 is below tls\.min_version 1\.3")
        self.assertRegex(err, r"spec\.yaml:11:\d+: error: scenarios\.s\.flow\[2\]\.http\.tls\.cipher_suites: "
                              r"this OpenSSL \(\S+\) offers none of the TLS 1\.2 suites named here \(RC4-SHA\)")
        self.assertRegex(err, r"spec\.yaml:12:\d+: error: scenarios\.s\.flow\[3\]\.check\[0\]\.tls\.version: "
                              r"unknown value \"1\.2\"; expected one of: tls1\.0, tls1\.1, tls1\.2, tls1\.3")


class OcspStapling(SuitesCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ocsp-", dir=os.environ.get("VOLLEY_TEST_TMP"))
        cls.nginx = StaplingNginx(cls.dir, os.path.dirname(TLS_CA))

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def test_status_of_the_stapled_response(self):
        ports = self.nginx.ports
        head = 'defaults:\n  tls: { ca_file: "%s" }\n' % TLS_CA
        u = lambda n: "https://127.0.0.1:%d/" % ports[n]  # noqa: E731
        flow = f"""
      - http: {{ name: good, url: "{u('good')}" }}
        check: [ {{ name: is OCSP response good, tls: {{ ocsp_status: good }}, body: good }} ]
      - http: {{ name: revoked, url: "{u('revoked')}" }}
        check: [ {{ name: revoked is revoked, tls: {{ ocsp_status: revoked }} }} ]
      - http: {{ name: revoked-good, url: "{u('revoked')}", tls: {{ session_resumption: false }} }}
        check: [ {{ name: revoked is not good, tls: {{ ocsp_status: good }} }} ]
      - http: {{ name: unknown, url: "{u('unknown')}" }}
        check: [ {{ name: unknown is not good, tls: {{ ocsp_status: good }} }}, {{ name: unknown is unknown, tls: {{ ocsp_status: unknown }} }} ]
      - http: {{ name: none, url: "{u('none')}" }}
        check: [ {{ name: none stapled is unknown, tls: {{ ocsp_status: unknown }} }} ]
      - http: {{ name: good12, url: "{u('good')}", tls: {{ max_version: "1.2" }} }}
        check: [ {{ name: good over tls1.2, tls: {{ ocsp_status: good, version: tls1.2 }} }} ]
"""
        for client in CLIENTS:
            with self.subTest(client=client):
                rc, out, err, r = self.run_flow(flow, head, env={"VOLLEY_HTTP_CLIENT": client})
                c = self.checks(out)
                for name in ("is OCSP response good", "revoked is revoked", "unknown is unknown",
                             "none stapled is unknown", "good over tls1.2"):
                    self.assertTrue(c.get(name), name + "\n" + out + err)
                self.assertFalse(c["revoked is not good"])
                self.assertFalse(c["unknown is not good"])
                self.assertIn("the OCSP status is revoked, not good", out)

    def test_resumed_sessions_keep_the_status(self):
        """A resumed session gets no stapled response; as in k6 (Go keeps
        it in the session) the full handshake's status is told again."""
        port = self.nginx.ports["revoked"]
        head = ('defaults:\n  tls: { ca_file: "%s" }\n  connection_reuse: close\n' % TLS_CA)
        flow = "".join(f"""
      - http: {{ name: r{i}, url: "https://127.0.0.1:{port}/" }}
        check: [ {{ name: revoked on connection {i}, tls: {{ ocsp_status: revoked }} }} ]
""" for i in range(3))
        for client in CLIENTS:
            with self.subTest(client=client):
                rc, out, err, r = self.run_flow(flow, head, env={"VOLLEY_HTTP_CLIENT": client})
                c = self.checks(out)
                for i in range(3):
                    self.assertTrue(c.get("revoked on connection %d" % i), out + err)


if __name__ == "__main__":
    unittest.main()
