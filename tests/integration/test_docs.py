"""The documentation against the real loader.

docs/spec-reference.md: every ```yaml block is a complete spec that
`volley validate` accepts. schemas/volley-spec.schema.json: a 2020-12
schema, every key it defines has a description and is documented in the
reference, and the keys it lists for the top level, scenarios, http steps
and check items are accepted by `volley validate` (the schema promises
nothing the loader rejects). When Python's jsonschema and PyYAML are
installed, the schema also accepts every documented and example spec and
rejects the schema-level mistakes in specs/invalid/.

docs/plugin-guide.md: its complete C examples compile with -Werror, its
mock-host test passes, volley loads the example plugins and runs every
```yaml block of the guide with them."""
import glob
import json
import os
import re
import shutil
import subprocess
import unittest

from volleytest import SOURCE, VOLLEY, VolleyCase

DOC = os.path.join(SOURCE, "docs", "spec-reference.md")
SCHEMA = os.path.join(SOURCE, "schemas", "volley-spec.schema.json")
GUIDE = os.path.join(SOURCE, "docs", "plugin-guide.md")
# A complete C example of the plugin guide starts with "/* NAME.c: ...".
C_EXAMPLE = re.compile(r"^```c[ \t]*\n(/\* ([A-Za-z0-9_-]+\.c): .*?)^```[ \t]*$", re.M | re.S)
YAML_BLOCK = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
# specs/invalid/ files whose mistake the schema itself can see.
SCHEMA_LEVEL_INVALID = ["unknown-key.yaml", "wrong-type.yaml", "unknown-executor.yaml",
                        "version-missing.yaml", "unknown-check.yaml", "negative-duration.yaml",
                        "bad-threshold.yaml"]
BASE_URL = "http://127.0.0.1:18080"


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def yaml_blocks(text):
    """(line number of the opening fence, block text) of every ```yaml block."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in YAML_BLOCK.finditer(text)]


def property_maps(node, path="#"):
    """Yields (schema path, properties mapping) for every "properties" in the schema."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "properties" and isinstance(v, dict):
                yield path + "/properties", v
            yield from property_maps(v, path + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from property_maps(v, "%s/%d" % (path, i))


def resolve(schema, node):
    while isinstance(node, dict) and "$ref" in node and "examples" not in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    return node


def samples(schema, node):
    """Values of a property that the schema itself offers: its examples, or
    its enum / const."""
    node = resolve(schema, node)
    if not isinstance(node, dict):
        return []
    if "examples" in node:
        return list(node["examples"])
    if "enum" in node:
        return list(node["enum"])
    if "const" in node:
        return [node["const"]]
    return []


class DocsTest(VolleyCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = read(DOC)
        cls.schema = json.loads(read(SCHEMA))

    def validate_all(self, specs):
        """Writes {label: text} specs and runs one `volley validate` on all of
        them. Returns ({label: True/False}, stderr lines by label). Variables
        the docs name in ${env.X} are removed so their defaults apply."""
        env = dict(os.environ)
        for name in set(re.findall(r"\$\{ *env\.([A-Za-z0-9_-]+)", self.doc)):
            env.pop(name, None)
        paths = {}
        for label, text in specs.items():
            path = os.path.join(self.tmp, re.sub(r"[^A-Za-z0-9_.-]", "_", label) + ".yaml")
            self.assertNotIn(path, paths.values(), "two specs map to one file: " + label)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            paths[label] = path
        p = subprocess.run([VOLLEY, "validate"] + list(paths.values()), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120, env=env)
        ok = {label: ("%s: ok (" % path) in p.stdout for label, path in paths.items()}
        errors = {label: [l for l in p.stderr.splitlines() if l.startswith(path + ":")]
                  for label, path in paths.items()}
        expected_rc = 0 if all(ok.values()) else 104
        self.assertEqual(p.returncode, expected_rc, p.stderr)
        return ok, errors

    # (a) every ```yaml block of the reference is a spec volley accepts
    def test_every_yaml_example_validates(self):
        blocks = yaml_blocks(self.doc)
        self.assertGreaterEqual(len(blocks), 10, "the reference should show many examples")
        specs = {"spec-reference.md-line-%d" % line: text for line, text in blocks}
        ok, errors = self.validate_all(specs)
        failed = ["%s:\n    %s" % (label, "\n    ".join(errors[label]) or "(no message)")
                  for label in specs if not ok[label]]
        self.assertEqual(failed, [], "yaml examples that volley validate rejects:\n" + "\n".join(failed))

    # (b) every key the schema defines is documented, with a description
    def test_schema_properties_are_documented(self):
        missing, undescribed = set(), []
        for path, props in property_maps(self.schema):
            for name, sub in props.items():
                if "`%s`" % name not in self.doc:
                    missing.add(name)
                # if/then/not only restrict keys defined elsewhere
                conditional = re.search(r"/(if|then|else|not)(/|$)", path)
                if isinstance(sub, dict) and not conditional and "description" not in sub:
                    undescribed.append("%s/%s" % (path, name))
        self.assertEqual(sorted(missing), [], "schema keys not in docs/spec-reference.md as `name`")
        self.assertEqual(undescribed, [], "schema keys without a description")

    # (b) the keys the schema lists are accepted by the loader
    def test_schema_keys_are_accepted_by_volley(self):
        s = self.schema
        service = {"api": BASE_URL}
        http_step = {"http": {"url": BASE_URL + "/"}}

        def spec(**top):
            doc = {"version": 1, "services": dict(service),
                   "scenarios": {"s": {"executor": "per-vu-iterations", "flow": [http_step]}}}
            doc.update(top)
            return json.dumps(doc, ensure_ascii=False) + "\n"   # JSON is YAML

        scenario_props = s["$defs"]["scenario"]["properties"]

        def needs(executor):
            """The keys the schema requires for this executor (its if/then rules)."""
            for rule in s["$defs"]["scenario"].get("allOf", []):
                cond = rule.get("if", {}).get("properties", {}).get("executor", {})
                if cond.get("const") == executor:
                    return rule.get("then", {}).get("required", [])
            return []

        def scenario(executor, **keys):
            sc = {"executor": executor, "flow": [http_step]}
            for key in needs(executor):   # e.g. rate, duration, pre_allocated_vus
                sc[key] = (samples(s, scenario_props[key]) or [None])[0]
            sc.update(keys)
            return spec(scenarios={"s": sc})

        specs, groups, no_sample = {}, {}, []

        def add(group, label, text):
            specs[label] = text
            groups.setdefault(group, []).append(label)

        for key, sub in s["properties"].items():
            values = samples(s, sub)
            if not values:
                no_sample.append("top level: " + key)
            for i, v in enumerate(values[:1]):
                add("top level: " + key, "top-%s-%d" % (key, i), spec(**{key: v}))

        executors = s["$defs"]["scenario"]["properties"]["executor"]["enum"]
        for key, sub in s["$defs"]["scenario"]["properties"].items():
            if key == "executor":
                for ex in executors:   # every executor must load
                    add("scenario executor " + ex, "scenario-executor-" + ex, scenario(ex))
                continue
            values = samples(s, sub)
            if not values:
                no_sample.append("scenario: " + key)
            for ex in executors:   # a key is fine when some executor takes it
                add("scenario: " + key, "scenario-%s-%s" % (key, ex), scenario(ex, **{key: values[0]}))

        for key, sub in s["$defs"]["http"]["properties"].items():
            values = samples(s, sub)
            if not values:
                no_sample.append("http: " + key)
                continue
            step = {"http": {"url": BASE_URL + "/", key: values[0]}}
            if key == "method":
                step["http"]["method"] = "POST"
            add("http: " + key, "http-" + key,
                spec(scenarios={"s": {"executor": "per-vu-iterations", "flow": [step]}}))

        for key, sub in s["$defs"]["checkItem"]["properties"].items():
            if key == "name":
                continue   # every item below has one
            values = samples(s, sub)
            if not values:
                no_sample.append("check: " + key)
            for i, v in enumerate(values):
                step = {"http": {"url": BASE_URL + "/"}, "check": [{"name": "c", key: v}]}
                add("check: " + key, "check-%s-%d" % (key, i),
                    spec(scenarios={"s": {"executor": "per-vu-iterations", "flow": [step]}}))

        self.assertEqual(no_sample, [], "schema keys without examples/enum to try them with")
        ok, errors = self.validate_all(specs)
        rejected = []
        for group, labels in sorted(groups.items()):
            if group.startswith("scenario: "):
                good = any(ok[l] for l in labels)   # executor-specific keys
            else:
                good = all(ok[l] for l in labels)
            if not good:
                rejected.append("%s\n    %s" % (group, "\n    ".join(
                    e for l in labels for e in errors[l])))
        self.assertEqual(rejected, [], "keys the schema lists but volley validate rejects:\n" +
                         "\n".join(rejected))

    # (c) the schema is JSON Schema 2020-12
    def test_schema_is_draft_2020_12(self):
        self.assertEqual(self.schema.get("$schema"), "https://json-schema.org/draft/2020-12/schema")
        self.assertEqual(self.schema.get("type"), "object")
        self.assertEqual(sorted(self.schema.get("required", [])), ["scenarios", "version"])

    # (d) optional: the schema itself against documented, example and invalid specs
    def test_schema_accepts_examples_and_rejects_schema_level_mistakes(self):
        try:
            import jsonschema
            import yaml
        except ImportError as e:
            self.skipTest("needs python3-jsonschema and python3-yaml (%s)" % e)
        jsonschema.Draft202012Validator.check_schema(self.schema)
        v = jsonschema.Draft202012Validator(self.schema)
        problems = []
        docs = [("spec-reference.md line %d" % line, text) for line, text in yaml_blocks(self.doc)]
        files = sorted(glob.glob(os.path.join(SOURCE, "specs", "examples", "*.yaml")) +
                       glob.glob(os.path.join(SOURCE, "specs", "bench", "*.yaml")))
        for label, text in docs + [(f, read(f)) for f in files]:
            for err in v.iter_errors(yaml.safe_load(text)):
                problems.append("%s: %s: %s" % (label, "/".join(map(str, err.absolute_path)),
                                                err.message))
        self.assertEqual(problems, [], "specs volley accepts but the schema rejects")
        for name in SCHEMA_LEVEL_INVALID:
            path = os.path.join(SOURCE, "specs", "invalid", name)
            if os.path.exists(path):
                self.assertFalse(v.is_valid(yaml.safe_load(read(path))),
                                 "the schema accepts " + path)

    # (e) the plugin guide's complete examples compile, load and run
    def test_plugin_guide_examples_build_and_run(self):
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler")
        guide = read(GUIDE)
        sources = {m.group(2): m.group(1) for m in C_EXAMPLE.finditer(guide)}
        self.assertTrue({"volley-wait.c", "volley-lines.c", "volley-csv-out.c",
                         "test_lines.c"} <= set(sources), sorted(sources))
        plugdir = os.path.join(self.tmp, "plugins")
        os.makedirs(plugdir)
        flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-I" + os.path.join(SOURCE, "core", "include")]
        for name, text in sorted(sources.items()):
            src = os.path.join(self.tmp, name)
            with open(src, "w", encoding="utf-8") as f:
                f.write(text)
            if name.startswith("volley-"):
                out = os.path.join(plugdir, name[:-2] + ".so")
                cmd = [cc] + flags + ["-fPIC", "-shared", "-fvisibility=hidden", src, "-o", out]
                if "<uv.h>" in text:
                    cmd.append("-luv")
            else:
                out = os.path.join(self.tmp, name[:-2])
                cmd = [cc] + flags + [src, "-o", out, "-ldl"]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.assertEqual(p.returncode, 0, "%s does not compile:\n%s" % (name, p.stdout))
        p = subprocess.run([os.path.join(self.tmp, "test_lines"),
                            os.path.join(plugdir, "volley-lines.so")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "ok"), p.stdout)
        rc, out, err = self.volley("plugins", "--plugin-path", plugdir)
        self.assertEqual(rc, 0, err)
        for name, kind in (("wait", "protocol"), ("lines", "check"), ("csv-out", "output")):
            self.assertRegex(out, r"(?m)^%s\s+%s\s+0\.1\.0\s+1\s+%s/" % (name, kind, re.escape(plugdir)))
        # Every spec in the guide runs with the example plugins.
        for line, text in yaml_blocks(guide):
            spec = self.write_spec(text, "guide-line-%d.yaml" % line)
            p = subprocess.run([VOLLEY, "run", "-q", "--plugin-path", plugdir, spec],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=120, cwd=self.tmp)
            self.assertEqual(p.returncode, 0, "plugin-guide.md line %d:\n%s%s" % (line, p.stdout, p.stderr))
        with open(os.path.join(self.tmp, "samples.csv")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "metric,time_ns,value,tags")
        self.assertTrue(any(l.startswith("vus,") for l in lines[1:]), lines[:5])


if __name__ == "__main__":
    unittest.main()
