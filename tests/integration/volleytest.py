"""Shared helpers for the integration tests: run the real volley binary
(VOLLEY_BIN) against the loopback test nginx (TEST_NGINX_URL) that ctest
starts as a fixture, and read what it wrote."""
import json
import os
import subprocess
import tempfile
import textwrap
import unittest

VOLLEY = os.environ.get("VOLLEY_BIN", "build/volley")
NGINX = os.environ.get("TEST_NGINX_URL", "http://127.0.0.1:18181")
SOURCE = os.environ.get("VOLLEY_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEAD = "http://127.0.0.1:1"      # nothing listens on port 1


class VolleyCase(unittest.TestCase):
    def setUp(self):
        base = os.environ.get("VOLLEY_TEST_TMP")
        if base:
            os.makedirs(base, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=self.id().split(".")[-1] + "-", dir=base)

    def write_spec(self, text, name="spec.yaml"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def volley(self, *args, timeout=120, env=None):
        e = dict(os.environ)
        e["NGINX"] = NGINX
        if env:
            e.update(env)
        p = subprocess.run([VOLLEY] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, env=e)
        return p.returncode, p.stdout, p.stderr

    def run_spec(self, text, *args, timeout=120):
        """Runs a spec with --summary-export; returns (rc, stdout, stderr, summary)."""
        spec = self.write_spec(text)
        summary = os.path.join(self.tmp, "summary.json")
        rc, out, err = self.volley("run", "-q", "--summary-export", summary, *args, spec, timeout=timeout)
        data = None
        if os.path.exists(summary):
            with open(summary) as f:
                data = json.load(f)
        return rc, out, err, data

    @staticmethod
    def read_ndjson(path):
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
