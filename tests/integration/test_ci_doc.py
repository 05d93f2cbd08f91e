"""docs/ci.md against the real binary: its ```yaml blocks (a GitHub Actions
workflow and a GitLab CI file) parse; they run one job per spec of a matrix,
publish results/NAME.junit.xml and keep results/ as artifacts; they install
the .deb that `cpack -G DEB` builds; every `volley` subcommand and --option
they name is listed by `volley --help` (and `volley run --help`), and every
`--out NAME=` names a plugin that `volley plugins` lists (a `junit` plugin
not built here is skipped with a note). When specs/deltran/ exists, every
spec of the matrices is there."""
import os
import re
import shlex
import subprocess
import unittest

from volleytest import SOURCE, VolleyCase

try:
    import yaml
except ImportError:   # tools/setup installs python3-yaml
    yaml = None

DOC = os.path.join(SOURCE, "docs", "ci.md")


def yaml_blocks():
    with open(DOC) as f:
        text = f.read()
    return re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)


def commands(script):
    """Each `volley ...` command of a shell script (a string or list of
    lines), with GitHub's ${{ matrix.x }} and GitLab's $X left as words."""
    if isinstance(script, list):
        script = "\n".join(script)
    out = []
    for line in script.replace("\\\n", " ").split("\n"):
        for part in re.split(r"&&|;|\|", line):
            words = shlex.split(part.strip()) if part.strip() else []
            if words and words[0] == "volley":
                out.append(words)
    return out


@unittest.skipIf(yaml is None, "python3-yaml is not installed (tools/setup installs it)")
class CiDocTest(VolleyCase):
    @classmethod
    def setUpClass(cls):
        blocks = yaml_blocks()
        cls.docs = [yaml.safe_load(b) for b in blocks]
        cls.github = next(d for d in cls.docs if "jobs" in d)
        cls.gitlab = next(d for d in cls.docs if "stages" in d)

    def help_text(self):
        rc, out, err = self.volley("--help")
        self.assertEqual(rc, 0, err)
        rc2, out2, err2 = self.volley("run", "--help")
        self.assertEqual(rc2, 0, err2)
        return out + out2

    def plugins(self):
        rc, out, err = self.volley("plugins")
        self.assertEqual(rc, 0, err)
        return {line.split()[0] for line in out.splitlines()[1:] if line.strip() and not line.startswith(" ")}

    def all_volley_commands(self):
        cmds = []
        for job in self.github["jobs"].values():
            for step in job.get("steps", []):
                if "run" in step:
                    cmds += commands(step["run"])
        for name, job in self.gitlab.items():
            if isinstance(job, dict):
                for key in ("before_script", "script", "after_script"):
                    if key in job:
                        cmds += commands(job[key])
        return cmds

    def test_two_blocks_parse(self):
        self.assertEqual(len(self.docs), 2)

    def test_github_runs_a_matrix_of_specs_and_publishes_junit(self):
        load = self.github["jobs"]["load"]
        self.assertFalse(load["strategy"]["fail-fast"])
        specs = load["strategy"]["matrix"]["spec"]
        self.assertGreaterEqual(len(specs), 2)
        self.assertEqual(load["needs"], "package")
        runs = " ".join(s.get("run", "") for s in load["steps"])
        self.assertIn("volley run --quiet --results-dir results specs/deltran/${{ matrix.spec }}.yaml", runs)
        self.assertIn("apt-get install -y ./volley_*.deb", runs)
        uploads = [s for s in load["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
        self.assertEqual(uploads[0]["with"]["path"], "results/")
        self.assertEqual(uploads[0]["if"], "always()")
        junit = [s for s in load["steps"] if "report_paths" in s.get("with", {})]
        self.assertEqual(junit[0]["with"]["report_paths"], "results/${{ matrix.spec }}.junit.xml")
        self.assertEqual(junit[0]["if"], "always()")
        package = " ".join(s.get("run", "") for s in self.github["jobs"]["package"]["steps"])
        self.assertIn("cpack -G DEB", package)
        self.assertIn("-DCMAKE_INSTALL_PREFIX=/usr", package)

    def test_gitlab_runs_a_matrix_of_specs_and_reports_junit(self):
        load = self.gitlab["load"]
        specs = load["parallel"]["matrix"][0]["SPEC"]
        self.assertGreaterEqual(len(specs), 2)
        self.assertEqual(load["needs"], ["package"])
        script = " ".join(load["script"])
        self.assertIn("specs/deltran/$SPEC.yaml", script)
        self.assertIn("--out junit=results/$SPEC.junit.xml", script)
        self.assertIn("apt-get install -y ./build-deb/volley_*.deb", " ".join(load["before_script"]))
        art = load["artifacts"]
        self.assertEqual(art["when"], "always")
        self.assertIn("results/", art["paths"])
        self.assertEqual(art["reports"]["junit"], "results/*.junit.xml")
        self.assertIn("cd build-deb && cpack -G DEB", self.gitlab["package"]["script"])
        self.assertEqual(self.gitlab["package"]["artifacts"]["paths"], ["build-deb/volley_*.deb"])
        self.assertEqual(self.github["jobs"]["load"]["strategy"]["matrix"]["spec"], specs)

    def test_every_subcommand_and_option_exists(self):
        help_text = self.help_text()
        subcommands = set(re.findall(r"^  (\w+) ", help_text.split("options:")[0], re.M))
        options = set(re.findall(r"(--[a-z][a-z-]*)", help_text))
        plugins = self.plugins()
        cmds = self.all_volley_commands()
        self.assertGreaterEqual(len(cmds), 5)
        skipped = []
        for words in cmds:
            self.assertIn(words[1], subcommands, words)
            for i, w in enumerate(words[2:], 2):
                if not w.startswith("--"):
                    continue
                self.assertIn(w.split("=")[0], options, words)
                if w == "--out":
                    name = words[i + 1].split("=")[0]
                    if name == "junit" and "junit" not in plugins:
                        skipped.append(words[i + 1])
                        continue
                    self.assertIn(name, plugins, words)
        if skipped:
            print("note: no junit plugin in this build; not checked: --out " + ", ".join(skipped))

    def test_package_jobs_install_every_build_library(self):
        """Each pkg-config module a CMakeLists.txt looks for comes from a
        Debian package that both package jobs install (found by dpkg -S on
        this machine, where tools/setup installed them all)."""
        mods = set()
        for root, dirs, files in os.walk(SOURCE):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build")) and d not in ("tests", "examples")]
            if "CMakeLists.txt" in files:
                with open(os.path.join(root, "CMakeLists.txt")) as f:
                    for args in re.findall(r"pkg_check_modules\(([^)]*)\)", f.read()):
                        mods.update(w for w in args.split()[1:] if w.islower() or "-" in w or "." in w)
        self.assertIn("libxml-2.0", mods)
        jobs = [" ".join(s["run"] for s in self.github["jobs"]["package"]["steps"] if "run" in s),
                " ".join(self.gitlab["package"]["script"])]
        for mod in sorted(mods):
            pc = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True, text=True)
            self.assertEqual(pc.returncode, 0, f"pkg-config does not know {mod}")
            path = os.path.join(pc.stdout.strip(), mod + ".pc")
            owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            self.assertEqual(owner.returncode, 0, owner.stderr)
            pkg = owner.stdout.split(":")[0]
            for job in jobs:
                self.assertIn(pkg, job.split(), f"docs/ci.md's package job does not install {pkg} ({mod})")

    def test_matrix_specs_exist(self):
        folder = os.path.join(SOURCE, "specs", "deltran")
        if not os.path.isdir(folder):
            self.skipTest("specs/deltran/ is not in this tree")
        for spec in self.github["jobs"]["load"]["strategy"]["matrix"]["spec"]:
            self.assertTrue(os.path.exists(os.path.join(folder, spec + ".yaml")), spec)


if __name__ == "__main__":
    unittest.main()
