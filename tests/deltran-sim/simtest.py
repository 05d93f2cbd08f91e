"""Shared helpers for the deltran-sim tests: HTTP over http.client, a
minimal RFC 6455 client on the socket module (so tests can see control
frames and send malformed ones), HS256 tokens minted with hmac, and a
context manager that runs a private deltran-sim with its own flags.

The ctest fixture (start.sh/stop.sh) runs one sim with default flags at
DELTRAN_SIM_OFFSET; tests that need other flags start their own. Offsets
are 20000-24600 in steps of 100, one per private sim, so every port stays
below Linux's ephemeral range (32768+), where a client socket of the
same test run could already hold it."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import select
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

SIM = os.environ.get("DELTRAN_SIM_BIN", "build/tools/deltran-sim/deltran-sim")
OFFSET = int(os.environ.get("DELTRAN_SIM_OFFSET", "20000"))
SECRET = "deltran-secret-key-change-in-production"
HOST = "127.0.0.1"

PORTS = {"gateway": 8080, "token": 8081, "obligation": 8082, "liquidity": 8083, "risk": 8084,
         "clearing": 8085, "compliance": 8086, "reporting": 8087, "settlement": 8088,
         "notification": 8089, "ws-alias": 8090, "analytics": 8093}


def port(service, offset=None):
    return PORTS[service] + (OFFSET if offset is None else offset)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def text(self):
        return self.body.decode()

    def json(self):
        return json.loads(self.body)


class Client:
    """One keep-alive connection to one service."""

    def __init__(self, service, offset=None, timeout=5):
        self.conn = http.client.HTTPConnection(HOST, port(service, offset), timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def call(service, method, path, body=None, headers=None, offset=None, timeout=5):
    """One request on a fresh connection."""
    with Client(service, offset, timeout) as c:
        return c.request(method, path, body, headers)


def summary_checks(summary):
    """{check name: (passes, fails)} from a volley --summary-export."""
    out = {}

    def walk(g):
        for c in g.get("checks", {}).values():
            out[c["name"]] = (c["passes"], c["fails"])
        for sub in g.get("groups", {}).values():
            walk(sub)
    walk(summary["root_group"])
    return out


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(claims, secret=SECRET, alg="HS256"):
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), ("%s.%s" % (head, body)).encode(), digest).digest()
    return "%s.%s.%s" % (head, body, b64url(sig))


def jwt_claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class WsClosed(Exception):
    pass


class WebSocket:
    """A minimal masked-frame client: text/ping/close out, frames in."""

    def __init__(self, path, service="notification", offset=None, timeout=5):
        self.sock = socket.create_connection((HOST, port(service, offset)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (path, HOST, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WsClosed("closed during handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.accept_ok = self.headers.get("sec-websocket-accept") == want.decode()

    def send_frame(self, opcode, payload=b"", fin=True):
        if isinstance(payload, str):
            payload = payload.encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send_text(self, text):
        self.send_frame(1, text)

    def send_json(self, obj):
        self.send_frame(1, json.dumps(obj))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WsClosed("connection closed")
            self.buf += chunk

    def recv_frame(self, timeout=5):
        """(opcode, payload bytes) of the next frame, control frames included."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        op, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        if self.buf[1] & 0x80:
            raise AssertionError("server frames must not be masked")
        hl = 2
        if n == 126:
            self._need(4, deadline)
            n, hl = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, hl = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(hl + n, deadline)
        payload, self.buf = self.buf[hl:hl + n], self.buf[hl + n:]
        return op, payload

    def recv_json(self, timeout=5):
        """The next text message; answers pings on the way."""
        deadline = time.monotonic() + timeout
        while True:
            op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == 9:
                self.send_frame(10, payload)
                continue
            if op == 8:
                raise WsClosed("close frame %r" % payload)
            if op == 1:
                return json.loads(payload)

    def expect_silence(self, seconds):
        """True if no data frame arrives within `seconds`."""
        try:
            self.recv_json(seconds)
            return False
        except TimeoutError:
            return True

    def closed_by_server(self, timeout=5):
        """Waits for the server's close frame or EOF."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                op, _ = self.recv_frame(max(0.01, deadline - time.monotonic()))
                if op == 8:
                    return True
        except WsClosed:
            return True
        except TimeoutError:
            return False
        return False

    def close(self):
        try:
            self.send_frame(8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_http(service, data, offset=None, timeout=5):
    """Sends raw bytes and returns everything read until the server is quiet."""
    s = socket.create_connection((HOST, port(service, offset)), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            r, _, _ = select.select([s], [], [], 0.5)
            if not r:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class Sim:
    """A private deltran-sim with extra flags at its own port offset."""

    def __init__(self, offset, *args):
        self.offset = offset
        self.args = [SIM, "--port-offset", str(offset)] + list(args)
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.ready = self._wait_ready()

    def _wait_ready(self, timeout=10):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if r else ""
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError("deltran-sim did not start: %r %s" % (line, self.stderr()))
        return line

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def stop(self):
        """SIGTERM; returns (exit code, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode, self.stderr()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        rc, err = self.stop()
        self.err.close()
        if exc[0] is None:
            if rc != 0:
                raise AssertionError("deltran-sim exited %d: %s" % (rc, err))
            for mark in SANITIZER_MARKS:
                if mark in err:
                    raise AssertionError("sanitizer report from deltran-sim:\n" + err)


class SimCase(unittest.TestCase):
    maxDiff = None

    def token(self, bank="ICICI", offset=None):
        r = call("gateway", "POST", "/api/v1/auth/login", {"bank_id": bank, "password": "demo"}, offset=offset)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["token"]


TRANSFER = {"sender_bank": "ICICI", "receiver_bank": "ENBD", "amount": 5000, "from_currency": "INR",
            "to_currency": "AED", "sender_account": "ACC1", "receiver_account": "ACC2"}


def uuid4():
    import uuid
    return str(uuid.uuid4())
