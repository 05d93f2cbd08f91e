"""Certificates and TLS servers for the TLS tests, made at test time.

Pki(dir) writes, with the openssl command line (EC P-256 keys, 2 days):
  ca.pem / ca.key            a private CA ("Volley Test CA")
  server.pem / server.key    signed by it, SAN DNS:localhost and IP:127.0.0.1
  named.pem / named.key      signed by it, SAN DNS:localhost only (so a
                             client that checks 127.0.0.1 refuses it)
  client-ca.pem              the CA of the client certificates
  client.pem / client.key    signed by client-ca, CN "volley-client"
  other.key                  a key that belongs to no certificate
  other-ca.pem               an unrelated CA
Pki.rsa_server() makes server-rsa.pem / server-rsa.key on first use: as
server.pem but RSA-2048, for the cipher suites with RSA key exchange.

HttpsServer(cert, key, client_ca=None, max_tls12=False, alpn=None) is an
HTTPS/1.1 server on 127.0.0.1 that answers every request with 200 and a
JSON body {"path", "host", "sni", "client", "resumed", "version"}: the
request path, its Host header, the SNI name of the connection, the client
certificate's CN, whether the connection resumed a TLS session and its TLS
version. With client_ca it requires a client certificate issued by that
CA; alpn is the list of ALPN protocols it picks from (it only speaks
HTTP/1.1 whatever it picks). A client
that fails the handshake gets the server's alert and, 0.3 s later, the
connection closed."""
import http.server
import json
import os
import ssl
import subprocess
import threading
import time


def _openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


class Pki:
    def __init__(self, d):
        self.dir = d
        self._ca("ca", "Volley Test CA")
        self._ca("client-ca", "Volley Test Client CA")
        self._ca("other-ca", "Unrelated CA")
        self._leaf("server", "ca", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                   "extendedKeyUsage=serverAuth\n")
        self._leaf("named", "ca", "localhost", "subjectAltName=DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n")
        self._leaf("client", "client-ca", "volley-client", "extendedKeyUsage=clientAuth\n")
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", self.path("other.key"))

    def path(self, name):
        return os.path.join(self.dir, name)

    def rsa_server(self):
        """(cert, key) of an RSA-2048 server certificate for 127.0.0.1 and
        localhost, signed by ca.pem; made on first use."""
        cert, key = self.path("server-rsa.pem"), self.path("server-rsa.key")
        if not os.path.exists(cert):
            ext_file = self.path("server-rsa.ext")
            with open(ext_file, "w") as f:
                f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                     "-out", self.path("server-rsa.csr"), "-subj", "/CN=localhost")
            _openssl("x509", "-req", "-in", self.path("server-rsa.csr"), "-CA", self.path("ca.pem"),
                     "-CAkey", self.path("ca.key"), "-CAcreateserial", "-out", cert, "-days", "2",
                     "-extfile", ext_file)
        return cert, key

    def _ca(self, name, cn):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self.path(name + ".key"), "-out", self.path(name + ".pem"), "-days", "2",
                 "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _leaf(self, name, ca, cn, ext):
        ext_file = self.path(name + ".ext")
        with open(ext_file, "w") as f:
            f.write(ext)
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self.path(name + ".key"), "-out", self.path(name + ".csr"),
                 "-subj", "/CN=" + cn)
        _openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path(ca + ".pem"),
                 "-CAkey", self.path(ca + ".key"), "-CAcreateserial", "-out",
                 self.path(name + ".pem"), "-days", "2", "-extfile", ext_file)


def server_context(cert, key, client_ca=None, max_tls12=False, alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    if max_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class HttpsServer:
    def __init__(self, cert, key, client_ca=None, max_tls12=False, alpn=None):
        ctx = server_context(cert, key, client_ca, max_tls12, alpn)
        server = self
        self.requests = []
        self.seen = []          # (path, whether its connection resumed a session)
        self.lock = threading.Lock()

        def remember_sni(sock, name, c):
            sock.volley_sni = name
        ctx.sni_callback = remember_sni

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                peer = self.connection.getpeercert()
                client = dict(x[0] for x in peer["subject"]).get("commonName") if peer else None
                body = json.dumps({"path": self.path, "host": self.headers.get("Host"),
                                   "sni": getattr(self.connection, "volley_sni", None),
                                   "client": client,
                                   "resumed": self.connection.session_reused,
                                   "version": self.connection.version()}).encode()
                with server.lock:
                    server.requests.append(self.path)
                    server.seen.append((self.path, self.connection.session_reused))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                # The handshake runs in the request's thread (finish_request),
                # so a client that fails it does not stall the others.
                sock, addr = self.socket.accept()
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def finish_request(self, request, client_address):
                try:
                    request.do_handshake()
                except (ssl.SSLError, OSError):
                    # The alert is sent; closing at once could reset the
                    # connection before the client reads it (a TLS 1.3
                    # client has already sent its request).
                    time.sleep(0.3)
                    return
                super().finish_request(request, client_address)

            def handle_error(self, request, client_address):
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
