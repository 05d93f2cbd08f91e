"""A small HTTP/1.1 server on 127.0.0.1 for the http plugin's auth schemes
and bodies (tests/integration/test_http_auth.py), with checks of its own:

  /digest-auth/[auth/]USER/PASS  HTTP Digest (RFC 7616: MD5, qop=auth): a 401 with
                           a fresh nonce, then the client's response hash is
                           computed here from USER/PASS and compared; 200
                           {"authenticated": true, "user": USER} when it
                           matches, 401 again when not (as httpbin's, which
                           k6's http_digest_auth.js example calls)
  /ntlm                    the NTLM handshake on one connection: a 401
                           `WWW-Authenticate: NTLM`; a type-1 message gets a
                           type-2 challenge; a type-3 message is decoded and
                           the user and domain it names are answered (200
                           {"user": ..., "domain": ..., "nt_response_len": N}).
                           The password's hash is not checked: that needs
                           MD4, which Python's hashlib lacks under OpenSSL 3
  /multipart               parses a multipart/form-data body with the email
                           package and answers its parts as JSON: name,
                           filename, content type, size, sha256 and (for small
                           text) the value
  anything else            200 {"method", "path", "query", "body", "ctype"}

Every request's method, path and headers are kept in .requests."""
import base64
import hashlib
import json
import os
import struct
import threading
import http.server
from email.parser import BytesParser
from email.policy import HTTP

from volleytest import LoopbackHttpServer


def _md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def _digest_params(value):
    out = {}
    for part in _split_commas(value):
        k, _, v = part.strip().partition("=")
        v = v.strip()
        if v.startswith('"') and v.endswith('"'):
            v = v[1:-1]
        out[k.strip().lower()] = v
    return out


def _split_commas(s):
    parts, cur, quoted = [], "", False
    for ch in s:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def _ntlm_field(msg, at):
    length, _, offset = struct.unpack_from("<HHI", msg, at)
    return msg[offset:offset + length]


class AuthServer(LoopbackHttpServer):
    def __init__(self):
        srv = self
        self.requests = []
        self.lock = threading.Lock()
        self.nonces = set()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, obj, extra=()):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with srv.lock:
                    srv.requests.append({"method": self.command, "path": self.path,
                                         "headers": dict(self.headers),
                                         "conn": id(self.connection)})
                path, _, query = self.path.partition("?")
                if path.startswith("/digest-auth/"):
                    return self.digest(path)
                if path == "/ntlm":
                    return self.ntlm()
                if path == "/multipart":
                    return self.multipart(body)
                self.reply(200, {"method": self.command, "path": path, "query": query,
                                 "body": body.decode("utf-8", "replace"),
                                 "ctype": self.headers.get("Content-Type", "")})

            def digest(self, path):
                # /digest-auth/USER/PASS, or httpbin's /digest-auth/QOP/USER/PASS
                user, password = path.split("/")[-2:]
                realm = "volley@test"
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Digest "):
                    p = _digest_params(auth[7:])
                    ha1 = _md5("%s:%s:%s" % (user, realm, password))
                    ha2 = _md5("%s:%s" % (self.command, p.get("uri", "")))
                    want = _md5(":".join([ha1, p.get("nonce", ""), p.get("nc", ""),
                                          p.get("cnonce", ""), p.get("qop", ""), ha2]))
                    if (p.get("username") == user and p.get("nonce") in srv.nonces and
                            p.get("qop") == "auth" and p.get("response") == want and
                            p.get("uri") == self.path):
                        return self.reply(200, {"authenticated": True, "user": user})
                nonce = base64.b64encode(os.urandom(12)).decode()
                with srv.lock:
                    srv.nonces.add(nonce)
                challenge = 'Digest realm="%s", qop="auth", nonce="%s", opaque="%s", algorithm=MD5' % (
                    realm, nonce, _md5(realm))
                self.reply(401, {"authenticated": False}, [("WWW-Authenticate", challenge)])

            def ntlm(self):
                auth = self.headers.get("Authorization", "")
                msg = base64.b64decode(auth[5:]) if auth.startswith("NTLM ") else b""
                if len(msg) >= 12 and msg[:8] == b"NTLMSSP\0":
                    kind = struct.unpack_from("<I", msg, 8)[0]
                    if kind == 1:
                        # type 2: no target name, flags (unicode, NTLM, always
                        # sign), an 8-byte challenge, no target info
                        flags = 0x00000001 | 0x00000200 | 0x00008000
                        t2 = (b"NTLMSSP\0" + struct.pack("<I", 2) + struct.pack("<HHI", 0, 0, 48) +
                              struct.pack("<I", flags) + os.urandom(8) + b"\0" * 8 +
                              struct.pack("<HHI", 0, 0, 48))
                        return self.reply(401, {"step": 2},
                                          [("WWW-Authenticate", "NTLM " + base64.b64encode(t2).decode())])
                    if kind == 3 and len(msg) >= 52:
                        nt = _ntlm_field(msg, 20)
                        domain = _ntlm_field(msg, 28).decode("utf-16-le", "replace")
                        user = _ntlm_field(msg, 36).decode("utf-16-le", "replace")
                        return self.reply(200, {"user": user, "domain": domain,
                                                "nt_response_len": len(nt)})
                self.reply(401, {"step": 0}, [("WWW-Authenticate", "NTLM")])

            def multipart(self, body):
                ctype = self.headers.get("Content-Type", "")
                msg = BytesParser(policy=HTTP).parsebytes(
                    b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
                parts = []
                if msg.is_multipart():
                    for part in msg.iter_parts():
                        data = part.get_payload(decode=True) or b""
                        item = {"name": part.get_param("name", header="content-disposition"),
                                "filename": part.get_filename(),
                                "content_type": part.get("Content-Type"),
                                "size": len(data),
                                "sha256": hashlib.sha256(data).hexdigest()}
                        if len(data) < 200:
                            item["value"] = data.decode("utf-8", "replace")
                        parts.append(item)
                self.reply(200 if parts else 400, {"ctype": ctype, "parts": parts,
                                                    "length": len(body)})

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

        self.serve(Handler)


if __name__ == "__main__":
    s = AuthServer()
    print(s.url, flush=True)
    threading.Event().wait()
