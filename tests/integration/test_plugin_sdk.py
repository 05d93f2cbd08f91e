"""What a plugin author and a user with a stray plugin see, through the real
binary: broken plugins that stop nothing unless a spec needs them, where
volley looked when a kind is missing, a plugin built against the revision-0
header running in today's core, output options on the command line, and
an output's own config check run by `volley validate`."""
import os
import re
import shutil
import unittest

from volleytest import NGINX, VOLLEY, VolleyCase

TEST_PLUGINS = os.environ.get("VOLLEY_TEST_PLUGIN_DIR", "build/test-plugins")

ONE_GET = """
version: 1
scenarios:
  s:
    executor: per-vu-iterations
    vus: 2
    iterations: 3
    flow:
      - http: { url: "${env.NGINX}/fast" }
        check: [ { name: ok, status: 200 } ]
"""


class BrokenPluginTest(VolleyCase):
    def plugin_dir(self, *names):
        d = os.path.join(self.tmp, "plugins")
        os.makedirs(d, exist_ok=True)
        for n in names:
            shutil.copy(os.path.join(TEST_PLUGINS, "volley-%s.so" % n), d)
        return d

    def test_a_broken_plugin_stops_only_the_spec_that_needs_it(self):
        d = self.plugin_dir("badabi")      # a check plugin (key "never") of ABI 999
        rc, out, err = self.volley("plugins", "--plugin-path", d)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^badabi\s+check\s+BROKEN\s+-\s+\S+/volley-badabi\.so$")
        self.assertIn("plugin built for Volley plugin ABI 999, this volley speaks ABI 1", out)

        # A spec that does not need it runs, with one warning.
        spec = self.write_spec(ONE_GET)
        rc, out, err = self.volley("run", "-q", "--plugin-path", d, spec)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err.count("warning: skipped a plugin that does not load"), 1, err)
        self.assertIn("volley-badabi.so", err)

        # A spec that uses its key fails at that key, saying why it is
        # unknown; the installation is at fault, not the spec: 103, as for
        # any plugin that does not load (DESIGN.md).
        spec = self.write_spec(ONE_GET.replace("status: 200", "never: {}"), name="needs.yaml")
        rc, out, err = self.volley("validate", "--plugin-path", d, spec)
        self.assertEqual(rc, 103, err)
        self.assertRegex(err, r'needs\.yaml:\d+:\d+: error: .*unknown check "never".*; plugin badabi could '
                              r'not be loaded: \S+volley-badabi\.so: plugin built for Volley plugin ABI 999')
        rc, out, err = self.volley("run", "-q", "--plugin-path", d, spec)
        self.assertEqual(rc, 103, err)
        # A typo is still the spec's own error (104), with the broken plugin
        # named as a possible reason.
        typo = self.write_spec(ONE_GET.replace("status: 200", "stauts: 200"), name="typo.yaml")
        rc, out, err = self.volley("validate", "--plugin-path", d, typo)
        self.assertEqual(rc, 104, err)
        self.assertIn('unknown check "stauts" (did you mean "status"?)', err)

    def test_no_protocol_plugin_says_where_it_looked(self):
        # An executable with no plugins beside it (as an installed volley
        # whose plugin folder went missing).
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        exe = os.path.join(bindir, "volley")
        shutil.copy(VOLLEY, exe)
        installed = [p for p in ("/usr/local/lib/volley/plugins",) if os.path.isdir(p) and os.listdir(p)]
        if installed:
            self.skipTest("plugins installed system-wide in %s" % installed[0])
        spec = self.write_spec(ONE_GET)
        env = dict(os.environ, VOLLEY_PLUGIN_PATH="")
        import subprocess
        p = subprocess.run([exe, "validate", spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 103, p.stderr)
        self.assertIn('unknown step key "http"', p.stderr)
        self.assertIn("no protocol plugin was loaded (searched: %s/plugins (missing)" % bindir, p.stderr)
        p = subprocess.run([exe, "plugins"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("no plugins found", p.stdout)
        self.assertIn("searched, in this order", p.stdout)
        self.assertIn("%s/plugins  (build tree: plugins/ beside the executable; missing)" % bindir, p.stdout)


class RevisionTest(VolleyCase):
    def test_plugin_built_against_revision_0_runs(self):
        """volley-oldout.so was compiled against tests/data/sdk-r0 (the header
        as released at ABI 1 revision 0): today's core lists it as 1.0 and
        feeds it every sample of a real run, as json-out sees them."""
        rc, out, err = self.volley("plugins", "--plugin-path", TEST_PLUGINS)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^oldout\s+output\s+0\.0\.1\s+1\.0\s+")
        self.assertRegex(out, r"(?m)^future\s+output\s+9\.0\.0\s+1\.99\s+")
        self.assertRegex(out, r"(?m)^json-out\s+output\s+\S+\s+1\.[1-9]\d*\s+")
        count = os.path.join(self.tmp, "count.txt")
        nd = os.path.join(self.tmp, "all.ndjson")
        rc, out, err, summary = self.run_spec(ONE_GET, "--plugin-path", TEST_PLUGINS, "--out",
                                              "oldout=" + count, "--out", "json-out=" + nd)
        self.assertEqual(rc, 0, err)
        points = [l for l in self.read_ndjson(nd) if l["type"] == "Point"]
        with open(count) as f:
            lines = f.read().split("\n")
        self.assertEqual(lines[0], "samples %d" % len(points))
        self.assertGreater(len(points), 6 * 10)
        self.assertIn("metric http_reqs", lines)
        self.assertIn("metric checks", lines)


class OutOptionsTest(VolleyCase):
    def test_out_takes_a_mapping_of_options(self):
        spec = self.write_spec(ONE_GET)
        nd = os.path.join(self.tmp, "sub", "x.ndjson")
        rc, out, err = self.volley("run", "-q", "--out", "json-out={path: %s}" % nd, spec)
        self.assertEqual(rc, 0, err)
        self.assertTrue(any(l["metric"] == "http_reqs" for l in self.read_ndjson(nd)))

    def test_out_mapping_errors_point_into_the_argument(self):
        spec = self.write_spec(ONE_GET)
        rc, out, err = self.volley("validate", "--out", "json-out={pth: x.ndjson}", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn('--out json-out:1:2: error: --out json-out={pth: x.ndjson}: unknown key "pth" '
                      '(did you mean "path"?); valid keys: path', err)
        rc, out, err = self.volley("validate", "--out", "json-out={path: [x", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn("--out json-out:", err)
        self.assertIn("invalid YAML", err)
        rc, out, err = self.volley("validate", "--out", "json-out={}", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn('missing required key "path"', err)
        rc, out, err = self.volley("validate", "--out", "json-out=[a, b]", spec)
        self.assertEqual(rc, 0, err)     # a shorthand value is taken as written

    def test_shorthand_with_more_options_is_refused(self):
        # analytics-sink's shorthand is url; "test_run_id" is another option.
        spec = self.write_spec(ONE_GET)
        rc, out, err = self.volley("validate", "--out",
                                   "analytics-sink=http://127.0.0.1:1/e,test_run_id=r1", spec)
        self.assertEqual(rc, 104, err)
        self.assertIn('error: --out analytics-sink=http://127.0.0.1:1/e,test_run_id=r1: "test_run_id" is an '
                      "option of analytics-sink, but NAME=VALUE sets only url; give several options as a "
                      "mapping: --out 'analytics-sink={url: ..., test_run_id: ...}'", err)
        rc, out, err = self.volley("validate", "--out",
                                   "analytics-sink={url: 'http://127.0.0.1:1/e', test_run_id: r1}", spec)
        self.assertEqual(rc, 0, err)

    def test_validate_runs_the_outputs_config_check(self):
        spec = self.write_spec(ONE_GET + """
outputs:
  - json-out: { path: "" }
""")
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 104, err)
        self.assertRegex(err, r"spec\.yaml:\d+:\d+: error: outputs\[0\]\.json-out: path: must not be empty")
        rc, out, err = self.volley("validate", "--out", "json-out=" + self.tmp, self.write_spec(ONE_GET, "b.yaml"))
        self.assertEqual(rc, 104, err)
        self.assertIn('path: "%s" is a folder; name a file in it' % self.tmp, err)


if __name__ == "__main__":
    unittest.main()
