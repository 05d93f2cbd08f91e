"""schemas/volley-spec.schema.json with a real validator beside the loader.

ajv-cli 5 (JSON Schema 2020-12, strict mode, ajv-formats) and `volley
validate` must agree on every spec of the repository:

- the schema compiles in ajv's strict mode;
- every spec under specs/ except specs/invalid/ passes both, and ajv also
  accepts every ```yaml spec of docs/spec-reference.md (test_docs.py runs
  them through volley). Specs are the .yaml files directly in a folder of
  specs/; included fragments and data files live in subfolders
  (specs/examples/data/, specs/invalid/include/);
- every specs/invalid/*.yaml starts with
      # expect: <the start of what volley validate prints>
      # ajv: <instancePath> <keyword>
  and both hold: volley exits 104 and its stderr starts with the expected
  text; ajv rejects the file with an error of that keyword at that
  instancePath ("" for the root). `# ajv: valid` says the mistake is beyond
  a schema (an unknown template name, a pool that does not exist, an
  include cycle): ajv accepts the file and only volley rejects it.
  `# ajv: yaml-error` says the file is not YAML at all.

ajv is .tools/npm/node_modules/.bin/ajv (tools/setup installs it) or
$VOLLEY_AJV. Without it these tests are skipped, unless VOLLEY_REQUIRE_AJV=1
(tools/test sets it), which makes a missing ajv a failure."""
import re
import glob
import json
import os
import subprocess
import unittest

import test_docs
from volleytest import SOURCE, VOLLEY, VolleyCase

SCHEMA = os.path.join(SOURCE, "schemas", "volley-spec.schema.json")
INVALID = os.path.join(SOURCE, "specs", "invalid")


def find_ajv():
    path = os.environ.get("VOLLEY_AJV") or os.path.join(SOURCE, ".tools", "npm", "node_modules",
                                                        ".bin", "ajv")
    return path if os.access(path, os.X_OK) else None


def header(path):
    """The '# key: value' comment lines at the top of a spec, as a dict."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("# "):
                break
            key, sep, value = line[2:].partition(": ")
            if sep:
                out.setdefault(key.strip(), value.strip())
    return out


# Folders of included fragments and data, not specs of their own.
FRAGMENT_DIRS = {"common", "data", "include"}


def include_only(path):
    with open(path) as f:
        return not re.search(r"^scenarios:", f.read(), re.M)


def valid_specs():
    """Every spec of the repository but the invalid ones, at any depth;
    folders named common/, data/ or include/ hold fragments, and so does a
    file without scenarios (specs/deltran/services.yaml: include-only)."""
    out = []
    for p in glob.glob(os.path.join(SOURCE, "specs", "**", "*.yaml"), recursive=True):
        parts = os.path.relpath(p, os.path.join(SOURCE, "specs")).split(os.sep)
        if parts[0] != "invalid" and not FRAGMENT_DIRS & set(parts[:-1]) and include_only(p) is False:
            out.append(p)
    return sorted(out)


class SchemaTest(VolleyCase):
    @classmethod
    def setUpClass(cls):
        cls.ajv = find_ajv()

    def setUp(self):
        super().setUp()
        if not self.ajv:
            msg = ("ajv-cli not found (run tools/setup, which installs it into .tools/npm, "
                   "or set VOLLEY_AJV)")
            if os.environ.get("VOLLEY_REQUIRE_AJV") == "1":
                self.fail(msg + "; VOLLEY_REQUIRE_AJV=1 requires it")
            self.skipTest(msg)

    def run_ajv(self, command, *args):
        cmd = [self.ajv, command, "--spec=draft2020", "--strict=true", "-c", "ajv-formats",
               "-s", SCHEMA] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120, cwd=SOURCE)
        return p.returncode, p.stdout, p.stderr

    def validate(self, files):
        """ajv on files (YAML): ({file: [errors]} of the invalid ones, rc, stderr)."""
        args = ["--errors=line", "--all-errors"]
        for f in files:
            args += ["-d", f]
        rc, out, err = self.run_ajv("validate", *args)
        invalid, lines = {}, err.splitlines()
        for i, line in enumerate(lines):
            if line.endswith(" invalid") and i + 1 < len(lines) and lines[i + 1].startswith("["):
                invalid[line[:-len(" invalid")]] = json.loads(lines[i + 1])
        valid = [l[:-len(" valid")] for l in out.splitlines() if l.endswith(" valid")]
        self.assertEqual(len(valid) + len(invalid), len(files), "ajv said nothing about some files:\n" + err)
        return invalid, rc, err

    def test_schema_compiles_in_strict_mode(self):
        rc, out, err = self.run_ajv("compile")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("is valid", out + err)

    def test_every_spec_passes_ajv_and_volley(self):
        specs = valid_specs()
        self.assertGreaterEqual(len(specs), 6)
        invalid, rc, err = self.validate(specs)
        self.assertEqual(invalid, {}, "specs that ajv rejects")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.volley("validate", *specs)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count(": ok ("), len(specs), out)

    def test_every_docs_example_passes_ajv(self):
        doc = test_docs.read(test_docs.DOC)
        files = []
        for line, text in test_docs.yaml_blocks(doc):
            if test_docs.helper_file(text):
                continue   # an included fragment, not a spec
            path = os.path.join(self.tmp, "spec-reference-line-%d.yaml" % line)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            files.append(path)
        self.assertGreaterEqual(len(files), 10)
        invalid, rc, err = self.validate(files)
        report = ["%s: %s" % (os.path.basename(f), json.dumps(e)) for f, e in sorted(invalid.items())]
        self.assertEqual(report, [], "docs/spec-reference.md examples that ajv rejects")

    def test_invalid_specs_fail_both_as_stated(self):
        files = sorted(glob.glob(os.path.join(INVALID, "*.yaml")))
        self.assertGreaterEqual(len(files), 20)
        expected, problems = {}, []
        for path in files:
            h = header(path)
            name = os.path.basename(path)
            if "expect" not in h or "ajv" not in h:
                problems.append("%s: needs '# expect: ...' and '# ajv: ...' lines at the top" % name)
                continue
            expected[path] = h["ajv"]
            p = subprocess.run([VOLLEY, "validate", name], cwd=INVALID, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=30)
            if p.returncode != 104 or not p.stderr.startswith(h["expect"]):
                problems.append("%s: volley exited %d\n  expected: %s\n  got:      %s" %
                                (name, p.returncode, h["expect"], p.stderr.strip()))

        parseable = [p for p, a in expected.items() if a != "yaml-error"]
        invalid, _, err = self.validate(parseable)
        for path, want in sorted(expected.items()):
            name = os.path.basename(path)
            if want == "yaml-error":
                rc, out, err = self.run_ajv("validate", "-d", path)
                if rc == 0 or "error:" not in err:
                    problems.append("%s: ajv read it (%d): %s" % (name, rc, out + err))
                continue
            errors = invalid.get(path)
            if want == "valid":
                if errors is not None:
                    problems.append("%s: '# ajv: valid' but ajv rejects it: %s" % (name, json.dumps(errors)))
                continue
            where, _, keyword = want.rpartition(" ")
            where = "" if where == '""' else where
            if errors is None:
                problems.append("%s: ajv accepts it; expected %s at %r" % (name, keyword, where))
            elif not any(e["instancePath"] == where and e["keyword"] == keyword for e in errors):
                problems.append("%s: expected ajv error %s at %r; got:\n    %s" % (
                    name, keyword, where, "\n    ".join("%s %s" % (e["instancePath"] or '""', e["keyword"])
                                                       for e in errors)))
        self.assertEqual(problems, [], "\n".join(problems))


if __name__ == "__main__":
    unittest.main()
