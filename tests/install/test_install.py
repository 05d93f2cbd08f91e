#!/usr/bin/env python3
"""Volley as the two other kinds of users get it, from the outside:

  a user      `cmake --install BUILD --prefix P` (libdir lib/)
  a packager  a Release build with the default options and
              -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu,
              staged with DESTDIR as a Debian package is (and the same with
              clang-14 and lib64), which must build without a warning

and for each layout a plugin author's out-of-tree build of
examples/plugins/csv-out against the *installed* SDK only (pkg-config
volley-plugin and volley-testhost from the staged prefix; the source and
build trees are not on any include path), its unit test on the installed
test host, and the installed volley running a spec with it:

  - the installed volley finds its own plugins (relative to the executable,
    wherever the tree was staged) and says where it looked;
  - the .pc files point at the staged headers, test host and plugin dir;
  - csv-out's rows match json-out's points from the same run, one for one.

Run by tools/test after ctest (it needs a second, Release build of its own):
  tests/install/test_install.py BUILD_DIR [--skip-packager] [--packager-build DIR]
--packager-build DIR makes the GCC packager build in DIR (emptied first)
and keeps it: tools/test makes the Debian package from it next
(tests/package/test_deb.sh). Bounded: the packager builds are the long part
(about 20 s each here; the whole test about 80 s)."""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(SOURCE, "examples", "plugins", "csv-out")
BUILD = None
SKIP_PACKAGER = False
PACKAGER_BUILD = None      # where the GCC packager build goes and stays (--packager-build)
MULTIARCH = "lib/x86_64-linux-gnu"

SPEC = textwrap.dedent("""\
    version: 1
    name: install-check
    scenarios:
      s:
        executor: per-vu-iterations
        vus: 3
        iterations: 4
        flow:
          - group: g
            steps:
              - sleep: 30ms
    """)


def run(cmd, env=None, cwd=None, timeout=600):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                       cwd=cwd, timeout=timeout)
    return p.returncode, p.stdout


class Layout:
    """An installed tree: where volley, the .pc files and the plugins are."""

    def __init__(self, root, prefix, libdir):
        self.root = root                      # what DESTDIR (or --prefix) made
        self.bin = os.path.join(root, "bin", "volley") if prefix is None else \
            os.path.join(root, prefix.lstrip("/"), "bin", "volley")
        base = root if prefix is None else os.path.join(root, prefix.lstrip("/"))
        self.base = base
        self.libdir = os.path.join(base, libdir)
        self.pcdir = os.path.join(self.libdir, "pkgconfig")
        self.plugindir = os.path.join(self.libdir, "volley", "plugins")


class InstallTest(unittest.TestCase):
    layouts = {}

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="volley-install-")
        # A user's install from the build tree.
        user = os.path.join(cls.work, "user")
        rc, out = run(["cmake", "--install", BUILD, "--prefix", user])
        assert rc == 0, out
        cls.layouts["user"] = Layout(user, None, "lib")
        if SKIP_PACKAGER:
            return
        # A packager's Release build with the default options, staged: GCC
        # with Debian's multiarch libdir, and clang with lib64.
        cls.packager("packager", None, MULTIARCH, PACKAGER_BUILD)
        if shutil.which("clang-14"):
            cls.packager("packager-clang", "clang-14", "lib64")

    @classmethod
    def packager(cls, name, cc, libdir, keep=None):
        pkg = keep or os.path.join(cls.work, name + "-build")
        if keep:
            shutil.rmtree(keep, ignore_errors=True)   # fresh, as a packager's is
        env = dict(os.environ)
        if cc:
            env["CC"] = cc
        rc, out = run(["cmake", "-S", SOURCE, "-B", pkg, "-DCMAKE_BUILD_TYPE=Release",
                       "-DCMAKE_INSTALL_PREFIX=/usr", "-DCMAKE_INSTALL_LIBDIR=" + libdir,
                       "-DVOLLEY_TESTS=OFF"], env=env)
        assert rc == 0, out
        rc, out = run(["cmake", "--build", pkg, "-j%d" % (os.cpu_count() or 2)], timeout=1200)
        assert rc == 0, out
        # A default build has no -Werror; it must still be free of warnings.
        assert "warning:" not in out, out
        stage = os.path.join(cls.work, name + "-stage")
        rc, out = run(["cmake", "--install", pkg], env=dict(os.environ, DESTDIR=stage))
        assert rc == 0, out
        cls.layouts[name] = Layout(stage, "/usr", libdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def each_layout(self, check):
        for name in sorted(self.layouts):
            with self.subTest(layout=name):
                check(name, self.layouts[name])

    def pkgconfig(self, lay, *args):
        env = dict(os.environ, PKG_CONFIG_PATH=lay.pcdir, PKG_CONFIG_LIBDIR=lay.pcdir)
        return run(["pkg-config"] + list(args), env=env)

    def test_installed_volley_finds_its_plugins(self):
        self.each_layout(self.finds_its_plugins)

    def finds_its_plugins(self, name, lay):
        env = dict(os.environ)
        env.pop("VOLLEY_PLUGIN_PATH", None)
        rc, out = run([lay.bin, "plugins", "-v"], env=env)
        self.assertEqual(rc, 0, out)
        plugins = ("http", "ws", "checks-basic", "checks-json", "checks-html", "json-out", "analytics-sink",
                   "junit", "prometheus-rw")
        for plugin in plugins:
            self.assertRegex(out, r"(?m)^%s\s+\S+\s+\S+\s+1\.\d+\s+%s/volley-%s\.so$" % (
                plugin, os.path.realpath(lay.plugindir), plugin))
        self.assertIn("(installed, relative to the executable; %d plugin files)" % len(plugins), out)

    def test_scale_out_launcher_installed(self):
        self.each_layout(self.scale_out_launcher)

    def scale_out_launcher(self, name, lay):
        """docs/scale-out.md's launcher and manifests are installed, and the
        launcher finds the manifests and volley relative to itself."""
        launcher = os.path.join(os.path.dirname(lay.bin), "volley-scale-out")
        manifests = os.path.join(lay.base, "share", "volley", "deploy", "kubernetes")
        for f in ("kustomization.yaml", "run-config.yaml", "results-pvc.yaml", "setup-job.yaml",
                  "runner-job.yaml", "merge-job.yaml", "teardown-job.yaml"):
            self.assertTrue(os.path.isfile(os.path.join(manifests, f)), f)
        self.assertTrue(os.access(launcher, os.X_OK), launcher)
        rc, out = run([launcher, "k8s", "--help"])
        self.assertEqual(rc, 0, out)
        self.assertIn("usage: volley-scale-out k8s", out)
        spec = os.path.join(self.work, "scale-%s.yaml" % name)
        with open(spec, "w") as f:
            f.write(SPEC)
        rc, out = run([launcher, "k8s", "--spec", spec, "-n", "2"])
        self.assertEqual(rc, 0, out)
        self.assertIn("kind: Job", out)
        self.assertIn("completions: 2", out)
        self.assertIn("VOLLEY_START_AT", out)
        # local: the volley beside it (not one on PATH), which prints its plan
        env = dict(os.environ, PATH="/usr/bin:/bin")
        env.pop("VOLLEY_BIN", None)
        rc, out = run([launcher, "local", "--spec", spec, "-n", "2", "--results",
                       os.path.join(self.work, "scale-res-" + name), "--start-in", "1s"], env=env, timeout=60)
        self.assertEqual(rc, 0, out)
        self.assertIn("iterations", out)

    def test_pc_files_point_into_the_staged_tree(self):
        self.each_layout(self.pc_files)

    def pc_files(self, name, lay):
        rc, cflags = self.pkgconfig(lay, "--cflags", "volley-plugin")
        self.assertEqual(rc, 0, cflags)
        inc = cflags.split()[0]
        self.assertTrue(inc.startswith("-I"), cflags)
        self.assertTrue(os.path.isfile(os.path.join(inc[2:], "volley", "plugin.h")), cflags)
        self.assertTrue(os.path.isfile(os.path.join(inc[2:], "volley", "testhost.h")), cflags)
        rc, plugindir = self.pkgconfig(lay, "--variable=plugindir", "volley-plugin")
        self.assertEqual(os.path.realpath(plugindir.strip()), os.path.realpath(lay.plugindir))
        rc, libs = self.pkgconfig(lay, "--libs", "volley-testhost")
        self.assertEqual(rc, 0, libs)
        libdir = [w[2:] for w in libs.split() if w.startswith("-L")][0]
        self.assertTrue(os.path.exists(os.path.join(libdir, "libvolley-testhost.so")), libs)
        self.assertEqual(os.path.realpath(libdir), os.path.realpath(lay.libdir))

    def test_out_of_tree_plugin_builds_tests_and_runs(self):
        self.each_layout(self.out_of_tree_plugin)

    def out_of_tree_plugin(self, name, lay):
        build = os.path.join(self.work, "csv-out-" + name)
        env = dict(os.environ, PKG_CONFIG_PATH=lay.pcdir, PKG_CONFIG_LIBDIR=lay.pcdir)
        # Nothing of the source tree: the example is copied out first.
        src = os.path.join(self.work, "csv-out-src-" + name)
        shutil.copytree(EXAMPLE, src)
        rc, out = run(["cmake", "-S", src, "-B", build, "-DCMAKE_C_FLAGS=-Werror"], env=env)
        self.assertEqual(rc, 0, out)
        rc, out = run(["cmake", "--build", build], env=env)
        self.assertEqual(rc, 0, out)
        self.assertNotIn(SOURCE + "/core", out)
        rc, out = run(["ctest", "--output-on-failure"], cwd=build)
        self.assertEqual(rc, 0, out)
        self.assertIn("100% tests passed", out)

        spec = os.path.join(self.work, "spec-%s.yaml" % name)
        with open(spec, "w") as f:
            f.write(SPEC)
        rows_path = os.path.join(self.work, "rows-%s.csv" % name)
        nd = os.path.join(self.work, "points-%s.ndjson" % name)
        rc, out = run([lay.bin, "run", "-q", "--plugin-path", build,
                       "--out", "csv-out={file_name: %s, save_interval: 100ms, time_format: unix_nano}"
                       % rows_path, "--out", "json-out=" + nd, spec])
        self.assertEqual(rc, 0, out)
        with open(rows_path, newline="") as f:
            rows = list(csv.DictReader(f))
        with open(nd) as f:
            points = [json.loads(l) for l in f if '"Point"' in l]
        self.assertEqual(len(rows), len(points))
        self.assertEqual(sum(1 for r in rows if r["metric_name"] == "iterations"), 12)
        self.assertTrue(all(r["scenario"] == "s" for r in rows if r["metric_name"] == "iterations"))
        self.assertTrue(any(r["group"] == "::g" for r in rows if r["metric_name"] == "group_duration"))
        # A misspelt option is refused with its place in the argument.
        rc, out = run([lay.bin, "validate", "--plugin-path", build, "--out",
                       "csv-out={file_name: x.csv, time_fromat: unix}", spec])
        self.assertEqual(rc, 104, out)
        self.assertIn('--out csv-out:1:20: error: --out csv-out={file_name: x.csv, time_fromat: unix}: '
                      'unknown key "time_fromat" (did you mean "time_format"?)', out)


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--skip-packager" in args:
        SKIP_PACKAGER = True
        args.remove("--skip-packager")
    if "--packager-build" in args:
        i = args.index("--packager-build")
        if i + 1 >= len(args):
            sys.exit(__doc__)
        PACKAGER_BUILD = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    BUILD = os.path.abspath(args[0])
    unittest.main(argv=[sys.argv[0], "-v"])
