"""The documentation against the real loader.

docs/spec-reference.md: every ```yaml block is a complete spec that
`volley validate` accepts, except blocks that start with `# file: PATH`:
those are files that the specs include (written to PATH beside the specs
first). The specs find the data files of specs/examples/data/ as data/.
schemas/volley-spec.schema.json: a 2020-12 schema, every key it defines has
a description and is documented in the reference, and the keys it lists
for the top level, pools, custom metrics, scenarios, steps, http steps and
check items are accepted by `volley validate` (the schema promises nothing
the loader rejects). When Python's jsonschema and PyYAML are installed, the
schema also accepts every documented and example spec and rejects the
schema-level mistakes in specs/invalid/ (test_schema.py does the same with
ajv).

docs/plugin-guide.md: its complete C examples compile with -Werror, its
tests pass (the mock-host one, and the one on the test host when volley was
built with it, as libvolley-testhost in the build's lib/), volley loads the
example plugins and runs every ```yaml block of the guide with them, and
the output example's file holds the rows of that run, RFC 4180-quoted where
a field needs it."""
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import unittest

from volleytest import NGINX, SOURCE, VOLLEY, VolleyCase

DOC = os.path.join(SOURCE, "docs", "spec-reference.md")
SCHEMA = os.path.join(SOURCE, "schemas", "volley-spec.schema.json")
GUIDE = os.path.join(SOURCE, "docs", "plugin-guide.md")
# A complete C example of the plugin guide starts with "/* NAME.c: ...".
C_EXAMPLE = re.compile(r"^```c[ \t]*\n(/\* ([A-Za-z0-9_-]+\.c): .*?)^```[ \t]*$", re.M | re.S)
YAML_BLOCK = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
HELPER_FILE = re.compile(r"\A# file: ([A-Za-z0-9_./-]+)[ \t]*\n")
DATA = os.path.join(SOURCE, "specs", "examples", "data")
INVALID = os.path.join(SOURCE, "specs", "invalid")
BASE_URL = "http://127.0.0.1:18080"
# The build's libvolley-testhost (absent with -DVOLLEY_SDK_TESTHOST=OFF).
TESTHOST_LIB = os.path.join(os.path.dirname(os.path.abspath(VOLLEY)), "lib")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def yaml_blocks(text):
    """(line number of the opening fence, block text) of every ```yaml block."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in YAML_BLOCK.finditer(text)]


def helper_file(block):
    """The path of a block that starts with "# file: PATH" (a file that specs
    include, not a spec of its own), else None."""
    m = HELPER_FILE.match(block)
    return m.group(1) if m else None


def schema_level_invalid():
    """specs/invalid/ files whose mistake the schema itself sees: their
    "# ajv:" line names an error (not valid, yaml-error or a format)."""
    out = []
    for path in sorted(glob.glob(os.path.join(INVALID, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            ajv = [l[len("# ajv: "):].strip() for l in f.read().splitlines()[:5] if l.startswith("# ajv: ")]
        if ajv and ajv[0] not in ("valid", "yaml-error") and not ajv[0].endswith(" format"):
            out.append(path)
    return out


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

    def validate_all(self, specs, helpers=None):
        """Writes {label: text} specs, and {path: text} helper files beside
        them, and runs one `volley validate` on all the specs. Returns
        ({label: True/False}, stderr lines by label). Variables the docs name
        in ${env.X} are removed so their defaults apply. The data files of
        specs/examples/data/ are in data/ beside the specs."""
        env = dict(os.environ)
        for name in set(re.findall(r"\$\{ *env\.([A-Za-z0-9_-]+)", self.doc)):
            env.pop(name, None)
        if os.path.isdir(DATA) and not os.path.exists(os.path.join(self.tmp, "data")):
            shutil.copytree(DATA, os.path.join(self.tmp, "data"))
        for rel, text in (helpers or {}).items():
            path = os.path.join(self.tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
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
        helpers = {helper_file(text): text for _, text in blocks if helper_file(text)}
        specs = {"spec-reference.md-line-%d" % line: text for line, text in blocks
                 if not helper_file(text)}
        ok, errors = self.validate_all(specs, helpers)
        failed = ["%s:\n    %s" % (label, "\n    ".join(errors[label]) or "(no message)")
                  for label in specs if not ok[label]]
        self.assertEqual(failed, [], "yaml examples that volley validate rejects:\n" + "\n".join(failed))

    # The check examples that target the test nginx's paths pass when run
    # there as written (only the port changes): a check that cannot pass
    # on http:// (HTTP/2.0) does not belong in one.
    def test_timings_example_passes_against_nginx(self):
        sec = self.doc[self.doc.index("\n### timings\n"):]
        block = yaml_blocks(sec)[0][1]
        path = os.path.join(self.tmp, "timings.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(block.replace(BASE_URL, NGINX))
        p = subprocess.run([VOLLEY, "run", "-q", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"checks\.+: 100\.00% ✓ \d+ +✗ 0\n", p.stdout)

    # The template table agrees with the capture section: service and
    # default headers take every template, captured names included (the
    # example under the table uses them and validates above).
    def test_header_templates_agree_with_capture(self):
        row = re.search(r"^\| `services\.NAME\.headers`, `defaults\.headers` \| (.*) \|$", self.doc, re.M)
        self.assertIsNotNone(row)
        self.assertNotRegex(row.group(1), r"\bbut\b|captured names")
        self.assertIn("A header from `defaults` or from a service's `headers` that names a\n  capture",
                      self.doc)

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
        defs = s["$defs"]
        top = s["properties"]
        http_step = {"http": {"url": BASE_URL + "/"}}
        # Every spec below declares the schema's own example pool and custom
        # metrics, so the examples of `use` and `record` have something to name.
        base_pools = samples(s, top["pools"])[0]
        base_metrics = samples(s, top["metrics"])[0]
        helpers = {}   # files that the include examples name

        def spec(**keys):
            doc = {"version": 1, "services": {"api": BASE_URL}, "pools": base_pools,
                   "metrics": base_metrics,
                   "scenarios": {"s": {"executor": "per-vu-iterations", "flow": [http_step]}}}
            doc.update(keys)
            return json.dumps(doc, ensure_ascii=False) + "\n"   # JSON is YAML

        def flow_spec(*steps):
            return spec(scenarios={"s": {"executor": "per-vu-iterations", "flow": list(steps)}})

        scenario_props = defs["scenario"]["properties"]

        def needs(executor):
            """The keys the schema requires for this executor (its if/then rules)."""
            for rule in defs["scenario"].get("allOf", []):
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

        def each_key(where, props, skip=()):
            """(key, its sample values) of a properties mapping."""
            for key, sub in props.items():
                if key in skip:
                    continue
                values = samples(s, sub)
                if not values:
                    no_sample.append("%s: %s" % (where, key))
                yield key, values

        for key, values in each_key("top level", top):
            for i, v in enumerate(values[:1]):
                if key == "include":
                    for name in ([v] if isinstance(v, str) else v):
                        helpers[name] = "defaults: { timeout: 5s }\n"
                add("top level: " + key, "top-%s-%d" % (key, i), spec(**{key: v}))

        executors = scenario_props["executor"]["enum"]
        for key, values in each_key("scenario", scenario_props):
            if key == "executor":
                for ex in executors:   # every executor must load
                    add("scenario executor " + ex, "scenario-executor-" + ex, scenario(ex))
                continue
            for ex in executors:   # a key is fine when some executor takes it
                add("scenario: " + key, "scenario-%s-%s" % (key, ex), scenario(ex, **{key: values[0]}))

        # pools: every key with each of its samples (pick: every mode)
        for key, values in each_key("pool", defs["pool"]["properties"]):
            for i, v in enumerate(defs["pool"]["properties"][key].get("enum", values)):
                pool = {"rows": [{"a": 1}]} if key != "rows" else {}
                if key == "file":
                    pool = {}
                pool[key] = v
                add("pool: " + key, "pool-%s-%d" % (key, i), spec(pools={"p": pool}))
        for i, v in enumerate(samples(s, defs["pool"])):
            add("pool examples", "pool-example-%d" % i, spec(pools={"p": v}))

        # custom metrics: each form, each type and contains
        metric_obj = defs["customMetric"]["anyOf"][1]["properties"]
        for i, t in enumerate(defs["metricType"]["enum"]):
            add("metric: type", "metric-type-%d" % i, spec(metrics={"m": t}))
        for key, values in each_key("metric", metric_obj):
            for i, v in enumerate(metric_obj[key].get("enum", values)):
                m = {"type": "trend"}
                m[key] = v
                add("metric: " + key, "metric-%s-%d" % (key, i), spec(metrics={"m": m}))
        for i, v in enumerate(samples(s, defs["customMetric"])):
            add("metric examples", "metric-example-%d" % i, spec(metrics={"m": v}))

        # step keys beside http (check is tried per check key below)
        for key, values in each_key("step", defs["step"]["properties"], skip=("http", "ws", "check")):
            for i, v in enumerate(defs["step"]["properties"][key].get("enum", values)):
                if key == "sleep":
                    step = {"sleep": v}
                elif key == "group":
                    step = {"group": v, "steps": [http_step]}
                elif key == "steps":
                    step = {"group": "g", "steps": v}
                elif key == "once":
                    step = {"once": v}
                elif key in ("if", "repeat", "for_each"):
                    step = {key: v, "steps": [http_step]}
                elif key == "else":
                    step = {"if": {"status": 200}, "steps": [http_step], "else": v}
                elif key == "choose":
                    step = {"choose": v}
                elif key in ("as", "max"):
                    step = {"for_each": [1, 2], key: v, "steps": [http_step]}
                elif key == "batch":
                    step = {"batch": v}
                elif key == "abort":
                    step = {"abort": v}
                elif key == "log":
                    step = {"log": v}
                elif key == "level":
                    step = {"log": "x", "level": v}
                else:
                    step = dict(http_step, **{key: v})
                add("step: " + key, "step-%s-%d" % (key, i), flow_spec(step))
        for i, v in enumerate(samples(s, defs["captureSource"])):
            add("capture examples", "capture-example-%d" % i, flow_spec(dict(http_step, capture={"c": v})))
        for key, values in each_key("capture", defs["captureSource"]["anyOf"][1]["properties"]):
            add("capture: " + key, "capture-" + key, flow_spec(dict(http_step, capture={"c": {key: values[0]}})))
        for i, v in enumerate(samples(s, defs["recordSource"])):
            # a template needs a name it knows: capture one first
            step = dict(http_step, capture={"amount": "json.amount"}, record={"tx_count": v})
            add("record examples", "record-example-%d" % i, flow_spec(step))

        for key, values in each_key("http", defs["http"]["properties"]):
            if not values:
                continue
            step = {"http": {"url": BASE_URL + "/", key: values[0]}}
            if key == "method":
                step["http"]["method"] = "POST"
            add("http: " + key, "http-" + key, flow_spec(step))

        for key, values in each_key("ws", defs["ws"]["properties"]):
            if not values:
                continue
            step = {"ws": {"url": "ws://127.0.0.1:18080/ws", key: values[0]}}
            if key == "pong_timeout":
                step["ws"]["ping_every"] = "1s"   # waits for the pings of ping_every
            add("ws: " + key, "ws-" + key, flow_spec(step))
        for i, v in enumerate(samples(s, defs["step"]["properties"]["ws"])):
            add("ws examples", "ws-example-%d" % i, flow_spec({"ws": v}))

        for key, values in each_key("check", defs["checkConditions"]["properties"], skip=("name",)):
            for i, v in enumerate(values):
                step = {"http": {"url": BASE_URL + "/"}, "check": [{"name": "c", key: v}]}
                add("check: " + key, "check-%s-%d" % (key, i), flow_spec(step))

        self.assertEqual(no_sample, [], "schema keys without examples/enum to try them with")
        ok, errors = self.validate_all(specs, helpers)
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

    # (c) the schema is JSON Schema 2020-12; version and scenarios are
    # required unless the spec includes files (which may hold them)
    def test_schema_is_draft_2020_12(self):
        self.assertEqual(self.schema.get("$schema"), "https://json-schema.org/draft/2020-12/schema")
        self.assertEqual(self.schema.get("type"), "object")
        self.assertEqual(self.schema.get("if", {}).get("required"), ["include"])
        self.assertEqual(sorted(self.schema.get("else", {}).get("required", [])), ["scenarios", "version"])

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
        docs = [("spec-reference.md line %d" % line, text) for line, text in yaml_blocks(self.doc)
                if not helper_file(text)]
        files = sorted(p for p in glob.glob(os.path.join(SOURCE, "specs", "*", "*.yaml"))
                       if os.path.dirname(p) != INVALID and "\nscenarios:" in "\n" + read(p))
        for label, text in docs + [(f, read(f)) for f in files]:
            for err in v.iter_errors(yaml.safe_load(text)):
                problems.append("%s: %s: %s" % (label, "/".join(map(str, err.absolute_path)),
                                                err.message))
        self.assertEqual(problems, [], "specs volley accepts but the schema rejects")
        invalid = schema_level_invalid()
        self.assertGreaterEqual(len(invalid), 10)
        for path in invalid:
            self.assertFalse(v.is_valid(yaml.safe_load(read(path))), "the schema accepts " + path)

    def build_guide_examples(self):
        """Compiles every complete C example of the plugin guide with -Werror:
        volley-NAME.c into plugins/volley-NAME.so, a test into an executable
        in self.tmp. A test on the test host (it includes volley/testhost.h)
        links the build's libvolley-testhost; without that library it is
        only compiled. Returns (sources by file name, plugin dir)."""
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler")
        sources = {m.group(2): m.group(1) for m in C_EXAMPLE.finditer(read(GUIDE))}
        self.assertTrue({"volley-wait.c", "volley-lines.c", "volley-mini-csv.c",
                         "test_lines.c", "test_mini_csv.c"} <= set(sources), sorted(sources))
        plugdir = os.path.join(self.tmp, "plugins")
        os.makedirs(plugdir)
        flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-I" + os.path.join(SOURCE, "core", "include")]
        have_testhost = os.path.exists(os.path.join(TESTHOST_LIB, "libvolley-testhost.so"))
        for name, text in sorted(sources.items()):
            src = os.path.join(self.tmp, name)
            with open(src, "w", encoding="utf-8") as f:
                f.write(text)
            if name.startswith("volley-"):
                out = os.path.join(plugdir, name[:-2] + ".so")
                cmd = [cc] + flags + ["-fPIC", "-shared", "-fvisibility=hidden", src, "-o", out]
                if "<uv.h>" in text:
                    cmd.append("-luv")
            elif '"volley/testhost.h"' in text:
                out = os.path.join(self.tmp, name[:-2])
                if have_testhost:
                    cmd = [cc] + flags + [src, "-o", out, "-L" + TESTHOST_LIB,
                                          "-Wl,-rpath," + TESTHOST_LIB, "-lvolley-testhost"]
                else:
                    cmd = [cc] + flags + ["-c", src, "-o", out + ".o"]
            else:
                out = os.path.join(self.tmp, name[:-2])
                cmd = [cc] + flags + [src, "-o", out, "-ldl"]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.assertEqual(p.returncode, 0, "%s does not compile:\n%s" % (name, p.stdout))
        return sources, plugdir

    # (e) the plugin guide's complete examples compile, load and run
    def test_plugin_guide_examples_build_and_run(self):
        guide = read(GUIDE)
        sources, plugdir = self.build_guide_examples()
        p = subprocess.run([os.path.join(self.tmp, "test_lines"),
                            os.path.join(plugdir, "volley-lines.so")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "ok"), p.stdout)
        rc, out, err = self.volley("plugins", "--plugin-path", plugdir)
        self.assertEqual(rc, 0, err)
        for name, kind in (("wait", "protocol"), ("lines", "check"), ("mini-csv", "output")):
            self.assertRegex(out, r"(?m)^%s\s+%s\s+0\.1\.0\s+1\.[1-9]\d*\s+%s/" % (name, kind, re.escape(plugdir)))
        # Every spec in the guide runs with the example plugins.
        for line, text in yaml_blocks(guide):
            spec = self.write_spec(text, "guide-line-%d.yaml" % line)
            p = subprocess.run([VOLLEY, "run", "-q", "--plugin-path", plugdir, spec],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=120, cwd=self.tmp)
            self.assertEqual(p.returncode, 0, "plugin-guide.md line %d:\n%s%s" % (line, p.stdout, p.stderr))
        # The output example's file: a header, a row per sample, and the
        # group name with a comma and quotes quoted as RFC 4180 says.
        with open(os.path.join(self.tmp, "samples.csv"), newline="") as f:
            text = f.read()
        lines = text.splitlines()
        self.assertEqual(lines[0], "metric,time_ns,value,scenario,group,status")
        self.assertTrue(any(l.startswith("vus,") for l in lines[1:]), lines[:5])
        quoted = [l for l in lines if l.startswith("group_duration,")]
        self.assertTrue(quoted, text)
        self.assertTrue(quoted[0].endswith(',s,"::browse, then ""buy""",'), quoted[0])
        rows = list(csv.reader(text.splitlines(True), strict=True))
        self.assertEqual({len(r) for r in rows}, {6}, rows)
        groups = {r[4] for r in rows[1:] if r[0] == "group_duration"}
        self.assertEqual(groups, {'::browse, then "buy"'})

    # (e) the guide's test on the test host passes against the output example
    def test_plugin_guide_test_host_example_passes(self):
        if not os.path.exists(os.path.join(TESTHOST_LIB, "libvolley-testhost.so")):
            self.skipTest("volley was built without its test host (-DVOLLEY_SDK_TESTHOST=OFF)")
        sources, plugdir = self.build_guide_examples()
        p = subprocess.run([os.path.join(self.tmp, "test_mini_csv"),
                            os.path.join(plugdir, "volley-mini-csv.so")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
                           cwd=self.tmp)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "ok"), p.stdout)


if __name__ == "__main__":
    unittest.main()
