"""The junit output (plugins/junit) through the real binary against the test
nginx: one testsuite per spec, a testcase per threshold expression and per
check, read back with a real consumer (junitparser, Debian's
python3-junitparser) and counted the way GitLab's and Jenkins' readers see
them (GitLab: testcase classname, name, time and the failure's text;
Jenkins: classname and the failure's message). A run stopped with SIGINT
still writes the report."""
import os
import signal
import sys
import subprocess
import time
import unittest
import xml.etree.ElementTree as ET

from volleytest import NGINX, VOLLEY, VolleyCase

try:
    from junitparser import Failure, JUnitXml, Skipped
except ImportError:
    # Debian's python3-junitparser (tools/setup) when this python is not
    # Debian's own (pyenv)
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from junitparser import Failure, JUnitXml, Skipped
    except ImportError:
        JUnitXml = None
NO_PARSER = "python3-junitparser is not installed (tools/setup installs it)"

MIXED = """
version: 1
name: e2e-transaction
services:
  web: { url: "${env.NGINX}" }
scenarios:
  main:
    executor: shared-iterations
    vus: 2
    iterations: 20
    flow:
      - group: pay
        steps:
          - http: { name: transfer, url: "${services.web}/fast" }
            check: { name: "status is 200", status: 200 }
      - http: { name: boom, url: "${services.web}/error500" }
        check: [ { name: "boom & <ok>", status: [200] } ]
thresholds:
  "http_req_duration{name:transfer}": ["p(95)<5000", "p(95)<0.001"]
  "http_req_duration{name:trasnfer}": ["p(95)<500"]
  "http_req_duration{status:404}": [{ threshold: "p(95)<1", allow_no_data: true }]
  http_req_failed: ["rate<0.01"]
  checks: ["rate>0.4"]
outputs:
  - junit: %s
"""


def cases(path):
    """{(classname, name): TestCase} of the only suite, read by junitparser."""
    xml = JUnitXml.fromfile(path)
    suites = list(xml)
    return suites, {(c.classname, c.name): c for s in suites for c in s}


class JunitTest(VolleyCase):
    def run_mixed(self):
        report = os.path.join(self.tmp, "results", "e2e.junit.xml")
        rc, out, err, _ = self.run_spec(MIXED % report)
        self.assertEqual(rc, 99, out + err)
        self.assertTrue(os.path.exists(report), err)
        self.assertFalse(os.path.exists(report + ".tmp"))
        return report, out

    @unittest.skipIf(JUnitXml is None, NO_PARSER)
    def test_thresholds_and_checks_as_testcases(self):
        report, out = self.run_mixed()
        suites, by = cases(report)
        self.assertEqual(len(suites), 1)
        suite = suites[0]
        self.assertEqual(suite.name, "e2e-transaction")
        # 6 threshold expressions + 2 checks; failures: p(95)<0.001, the
        # no-data typo, http_req_failed, the boom check; skipped: allow_no_data
        self.assertEqual((suite.tests, suite.failures, suite.errors, suite.skipped), (8, 4, 0, 1))
        self.assertEqual(len(by), 8)
        ok = by[("e2e-transaction.http_req_duration{name:transfer}", "p(95)<5000")]
        self.assertEqual(ok.result, [])
        self.assertTrue(ok.is_passed)
        slow = by[("e2e-transaction.http_req_duration{name:transfer}", "p(95)<0.001")]
        [f] = slow.result
        self.assertIsInstance(f, Failure)
        self.assertRegex(f.text, r"^observed p\(95\)=[0-9.]+(µs|ms), limit 0\.001$")
        self.assertEqual(f.message, f.text)
        self.assertEqual(f.type, "threshold")
        [nd] = by[("e2e-transaction.http_req_duration{name:trasnfer}", "p(95)<500")].result
        self.assertIsInstance(nd, Failure)
        self.assertEqual(nd.text, "no data: no samples for http_req_duration{name:trasnfer}")
        self.assertEqual(nd.type, "no_data")
        [allowed] = by[("e2e-transaction.http_req_duration{status:404}", "p(95)<1")].result
        self.assertIsInstance(allowed, Skipped)
        [fr] = by[("e2e-transaction.http_req_failed", "rate<0.01")].result
        self.assertEqual(fr.text, "observed rate=0.5, limit 0.01")
        self.assertEqual(by[("e2e-transaction.checks", "rate>0.4")].result, [])
        self.assertTrue(by[("e2e-transaction.checks.pay", "status is 200")].is_passed)
        [cf] = by[("e2e-transaction.checks", "boom & <ok>")].result
        self.assertEqual(cf.text, "20 of 20 failed (100.0%); first failure: status: status 500 not in [200]")
        self.assertEqual(cf.message, cf.text)
        # every testcase's time is the run's seconds, as the suite's
        times = {c.time for c in by.values()}
        self.assertEqual(len(times), 1, times)
        self.assertAlmostEqual(times.pop(), suite.time, places=3)
        props = {p.name: p.value for p in suite.properties()}
        self.assertEqual(props["exit_code"], "99")
        self.assertEqual(props["interrupted"], "false")
        self.assertRegex(props["seed"], r"^\d+$")
        self.assertRegex(out, r"output junit: \d+ samples sent to it, 0 dropped")

    def test_what_gitlab_and_jenkins_read(self):
        """GitLab (lib/gitlab/ci/parsers/test/junit.rb) takes each testcase's
        classname, name and time and the failure's text; Jenkins
        (CaseResult.java) groups by classname, (root) when it is missing,
        and shows the failure's message. k6's jUnit() gives neither."""
        report, _ = self.run_mixed()
        root = ET.parse(report).getroot()
        self.assertEqual(root.tag, "testsuites")
        tcs = root.findall("./testsuite/testcase")
        self.assertEqual(len(tcs), 8)
        gitlab = [(t.get("classname"), t.get("name"), float(t.get("time")),
                   (t.find("failure").text if t.find("failure") is not None else None)) for t in tcs]
        self.assertTrue(all(c and n and tm >= 0 for c, n, tm, _ in gitlab), gitlab)
        failed_text = [txt for *_, txt in gitlab if txt is not None]
        self.assertEqual(len(failed_text), 4)
        self.assertTrue(all(txt.strip() for txt in failed_text))
        jenkins_classes = {t.get("classname") or "(root)" for t in tcs}
        self.assertNotIn("(root)", jenkins_classes)
        # two expressions share http_req_duration{name:transfer}, and the
        # threshold on the checks metric shares "SPEC.checks" with the
        # checks outside any group
        self.assertEqual(len(jenkins_classes), 6, jenkins_classes)
        messages = [t.find("failure").get("message") for t in tcs if t.find("failure") is not None]
        self.assertEqual(len(messages), 4)
        self.assertTrue(all(m for m in messages))

    @unittest.skipIf(JUnitXml is None, NO_PARSER)
    def test_out_on_the_command_line(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                flow:
                  - http: { url: "${env.NGINX}/fast" }
                    check: { name: ok, status: 200 }
            thresholds:
              http_req_duration: ["p(95)<5000"]
            """)
        report = os.path.join(self.tmp, "cli.junit.xml")
        rc, out, err = self.volley("run", "-q", "--out", "junit=" + report, spec)
        self.assertEqual(rc, 0, out + err)
        suites, by = cases(report)
        self.assertEqual(suites[0].name, "spec.yaml")   # no name: the file's
        self.assertEqual((suites[0].tests, suites[0].failures), (2, 0))
        self.assertIn(("spec.yaml.checks", "ok"), by)
        self.assertEqual({p.name: p.value for p in suites[0].properties()}["exit_code"], "0")

    def test_a_folder_is_refused_before_the_run(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 1
                flow:
                  - http: { url: "${env.NGINX}/fast" }
            """)
        rc, out, err = self.volley("validate", "--out", "junit=" + self.tmp, spec)
        self.assertEqual(rc, 104, out + err)
        self.assertIn("is a folder", err)

    @unittest.skipIf(JUnitXml is None, NO_PARSER)
    def test_sigint_still_writes_the_report(self):
        report = os.path.join(self.tmp, "int.junit.xml")
        spec = self.write_spec("""
            version: 1
            name: long
            scenarios:
              long:
                executor: constant-vus
                vus: 3
                duration: 60s
                flow:
                  - http: { url: "${env.NGINX}/delay10" }
                    check: { name: ok, status: 200 }
            thresholds:
              http_req_duration: ["p(95)<5000"]
            outputs:
              - junit: %s
            """ % report)
        env = dict(os.environ, NGINX=NGINX)
        p = subprocess.Popen([VOLLEY, "run", "-q", spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
        time.sleep(2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 105, err)
        self.assertIn("(interrupted)", out)
        suites, by = cases(report)
        props = {pr.name: pr.value for pr in suites[0].properties()}
        self.assertEqual(props["exit_code"], "105")
        self.assertEqual(props["interrupted"], "true")
        self.assertEqual((suites[0].tests, suites[0].failures), (2, 0))
        self.assertGreater(suites[0].time, 1.0)
        self.assertLess(suites[0].time, 30.0)


if __name__ == "__main__":
    unittest.main()
