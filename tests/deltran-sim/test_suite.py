"""The DelTran suite (specs/deltran/) against the stand-in: every spec run
with CI-short durations must exit 0 (the stress spec documents that the
stand-in does not break within its ramp), and every route of the real
contract (shared/reference/deltran-api.md, or the coverage table in
specs/deltran/README.md when the note is not beside the repository) is the
`name` of some step of the suite."""
import glob
import json
import os
import re
import subprocess
import tempfile
import unittest

from simtest import PORTS, OFFSET, Sim

VOLLEY = os.environ.get("VOLLEY_BIN", "build/volley")
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUITE = os.path.join(SOURCE, "specs", "deltran")
ENHANCED_OFFSET = 24600
SHORT = ["E2E_RAMP=2s", "E2E_HOLD=3s", "E2E_VUS_LOW=2", "E2E_VUS=4", "E2E_WATCH=7s",
         "E2E_THINK1=100ms", "E2E_THINK2=100ms",
         "LOAD_RATE=40", "LOAD_DURATION=3s", "LOAD_VUS=8", "LOAD_MAX_VUS=40",
         "STRESS_FIRST=2s", "STRESS_STEP=1s", "STRESS_DOWN=1s", "STRESS_S1=10", "STRESS_S2=20",
         "STRESS_S3=30", "STRESS_S4=40", "STRESS_S5=50"]
URL_VARS = {"GATEWAY": "gateway", "TOKEN": "token", "OBLIGATION": "obligation", "LIQUIDITY": "liquidity",
            "RISK": "risk", "CLEARING": "clearing", "COMPLIANCE": "compliance", "REPORTING": "reporting",
            "SETTLEMENT": "settlement", "NOTIFICATION": "notification", "ANALYTICS": "analytics"}


def specs():
    return sorted(p for p in glob.glob(os.path.join(SUITE, "*.yaml")) if not p.endswith("services.yaml"))


class Suite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.enhanced = Sim(ENHANCED_OFFSET, "--profile", "enhanced", "--services", "gateway",
                           "--analytics", "off", "-q")

    @classmethod
    def tearDownClass(cls):
        cls.enhanced.__exit__(None, None, None)

    def run_spec(self, path):
        name = os.path.basename(path)[:-5]
        tmp = tempfile.mkdtemp(prefix="suite-")
        summary = os.path.join(tmp, "summary.json")
        args = [VOLLEY, "run", "-q", "--summary-export", summary]
        for var, svc in URL_VARS.items():
            off = ENHANCED_OFFSET if (name == "gateway-enhanced" and svc == "gateway") else OFFSET
            args += ["-e", "%s_URL=http://127.0.0.1:%d" % (var, PORTS[svc] + off)]
        args += ["-e", "NOTIFICATION_WS_URL=ws://127.0.0.1:%d" % (PORTS["notification"] + OFFSET),
                 "-e", "WS_USER=ctest-%d" % os.getpid(), "-e", "TEST_RUN_ID=ctest-%d" % os.getpid()]
        for kv in SHORT:
            args += ["-e", kv]
        p = subprocess.run(args + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=120)
        with open(summary) as f:
            return p.returncode, p.stdout + p.stderr, json.load(f)

    def test_every_spec_passes(self):
        self.assertGreaterEqual(len(specs()), 15)
        for path in specs():
            with self.subTest(spec=os.path.basename(path)):
                rc, out, s = self.run_spec(path)
                self.assertEqual(rc, 0, out)
                self.assertGreater(s["metrics"]["checks"]["passes"], 0)
                self.assertEqual(s["metrics"]["checks"]["fails"], 0, out)


# -- route coverage ---------------------------------------------------------

SECTIONS = {"3.1": "gateway", "4.1": "token", "4.2": "obligation", "4.3": "liquidity", "4.4": "risk",
            "4.5": "clearing", "4.6": "compliance", "4.7": "settlement", "4.8": "reporting",
            "5.1": "notification", "6": "analytics"}
FILES = {"gateway": ["gateway-orchestrating", "gateway-enhanced"]}
METHODS = "GET|POST|PUT|DELETE|PATCH"


def doc_routes(text):
    """{(service, "METHOD /path")} from the first cells of the note's route
    tables in the sections above (queries dropped, GET/DELETE and GET|POST
    split, `POST …/reset` relative to the route before it)."""
    out, service = set(), None
    for line in text.splitlines():
        m = re.match(r"#+ (\d+(?:\.\d+)?)[ .]", line)
        if m:
            service = SECTIONS.get(m.group(1))
            continue
        if not service or not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        last = None
        for cell in re.findall(r"`([^`]+)`", first):
            m = re.match(r"((?:%s)(?:[/|](?:%s))*)? ?(\S+)$" % (METHODS, METHODS), cell.strip())
            if not m:
                continue
            methods = re.split(r"[/|]", m.group(1)) if m.group(1) else ["GET"]
            path = m.group(2).split("?")[0]
            if path.startswith("…") and last:
                path = last.rsplit("/", 1)[0] + path[1:]
            if not path.startswith("/"):
                continue
            last = path
            for meth in methods:
                out.add((service, "%s %s" % (meth, path)))
    return out


def spec_step_names(service):
    names = set()
    for f in FILES.get(service, [service]):
        with open(os.path.join(SUITE, f + ".yaml")) as fh:
            for m in re.finditer(r"name: (?:\"([A-Z]+ /[^\"]*)\"|([A-Z]+ /[^,}\n]*))", fh.read()):
                names.add((m.group(1) or m.group(2)).split("?")[0].strip())
    return names


class Coverage(unittest.TestCase):
    def covered(self, routes):
        missing = []
        for service, route in sorted(routes):
            names = spec_step_names(service)
            if not any(n == route or n.startswith(route + " ") for n in names):
                missing.append("%s: %s" % (service, route))
        self.assertEqual(missing, [], "routes of the contract no step of specs/deltran/ is named after")

    def test_readme_table_is_covered(self):
        with open(os.path.join(SUITE, "README.md")) as f:
            rows = re.findall(r"^\| (\w+) \| `([A-Z]+ /[^`]*)` \|", f.read(), re.M)
        self.assertGreater(len(rows), 60)
        self.covered(set(rows))

    def test_contract_routes_are_in_the_table(self):
        note = os.path.join(SOURCE, "..", "shared", "reference", "deltran-api.md")
        if not os.path.exists(note):
            self.skipTest("shared/reference/deltran-api.md is not beside the repository")
        with open(note) as f:
            routes = doc_routes(f.read())
        self.assertGreater(len(routes), 60)
        with open(os.path.join(SUITE, "README.md")) as f:
            table = set(re.findall(r"^\| (\w+) \| `([A-Z]+ /[^`]*)` \|", f.read(), re.M))
        self.assertEqual(sorted(routes - table), [], "routes of deltran-api.md missing from the README's table")
        self.covered(routes)


if __name__ == "__main__":
    unittest.main()
