"""The end-of-test summary and --summary-export against the loopback nginx:
--summary-trend-stats and --summary-time-unit, per request name and per
scenario breakdowns (--summary-by), whole-number trends, the export's run
metadata, and why a run stopped early (abort_on_fail, abort_test) in both."""
import datetime
import os
import re
import subprocess
import unittest

from volleytest import DEAD, NGINX, SOURCE, VOLLEY, VolleyCase

NAMED = """
version: 1
name: named-requests
services:
  web: { url: "${env.NGINX}" }
scenarios:
  counted:
    executor: per-vu-iterations
    vus: 1
    iterations: 5
    flow:
      - http: { name: create transfer, url: "${services.web}/json" }
      - http: { name: get status, url: "${services.web}/fast" }
      - http: { name: get status, url: "${services.web}/notfound" }
      - http: { url: "${services.web}/text" }
thresholds:
  "http_reqs{name:create transfer}": ["count==5"]
"""

TWO_SCENARIOS = """
version: 1
services:
  web: { url: "${env.NGINX}" }
scenarios:
  one:
    executor: per-vu-iterations
    vus: 1
    iterations: 3
    flow: [ { http: { name: a, url: "${services.web}/fast" } } ]
  two:
    executor: per-vu-iterations
    vus: 1
    iterations: 4
    flow: [ { http: { name: a, url: "${services.web}/fast" } } ]
"""


def metric_line(out, label):
    """The summary line whose dotted label starts with `label`."""
    for line in out.splitlines():
        if re.match(r"\s*[✓✗-]?\s*" + re.escape(label) + r"\.{3,}: ", line):
            return line
    raise AssertionError("no line for %s in:\n%s" % (label, out))


class TrendStatsTest(VolleyCase):
    def test_default_stats_are_k6s(self):
        rc, out, err, s = self.run_spec(NAMED)
        self.assertEqual(rc, 0, out + err)
        d = s["metrics"]["http_req_duration"]
        self.assertEqual(sorted(d), sorted(["avg", "min", "med", "max", "p(90)", "p(95)"]))
        line = metric_line(out, "http_req_duration")
        self.assertIn("p(95)=", line)
        self.assertNotIn("p(99)=", line)
        self.assertEqual(s["run"]["summary_trend_stats"], ["avg", "min", "med", "max", "p(90)", "p(95)"])

    def test_chosen_stats_in_text_and_export(self):
        rc, out, err, s = self.run_spec(NAMED, "--summary-trend-stats",
                                        "avg,min,med,max,p(90),p(95),p(99),count")
        self.assertEqual(rc, 0, out + err)
        line = metric_line(out, "http_req_duration")
        cells = re.findall(r"(\S+?)=(\S+)", line.split(": ", 1)[1])
        self.assertEqual([c[0] for c in cells],
                         ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"])
        self.assertEqual(cells[-1][1], "20")
        d = s["metrics"]["http_req_duration"]
        self.assertEqual(sorted(d), sorted(["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"]))
        self.assertEqual(d["count"], 20)
        self.assertIsInstance(d["count"], int)
        self.assertLessEqual(d["p(95)"], d["p(99)"])
        self.assertLessEqual(d["p(99)"], d["max"])
        self.assertEqual(s["metrics"]["iteration_duration"]["count"], 5)

    def test_bad_stat_is_named(self):
        spec = self.write_spec(NAMED)
        for bad, shown in (("avg,p(101)", '"p(101)"'), ("p99", '"p99"'), ("avg,,max", "an empty item"),
                           ("mean", '"mean"')):
            rc, out, err = self.volley("run", "-q", "--summary-trend-stats", bad, spec)
            self.assertEqual(rc, 104, bad + out + err)
            self.assertIn("--summary-trend-stats: " + shown + " is not a trend stat", err)
            self.assertIn("avg, min, med, max, count or p(N) with N from 0 to 100", err)
            self.assertEqual(out, "")   # nothing ran

    def test_time_unit(self):
        rc, out, err, s = self.run_spec(NAMED, "--summary-time-unit", "ms",
                                        "--summary-trend-stats", "min,med,max,count")
        self.assertEqual(rc, 0, out + err)
        for metric in ("http_req_duration", "http_req_waiting", "iteration_duration"):
            cells = re.findall(r"(\S+?)=(\S+)", metric_line(out, metric).split(": ", 1)[1])
            for stat, value in cells[:-1]:
                self.assertRegex(value, r"^\d+(\.\d{1,2})?ms$", metric + " " + stat)
            self.assertEqual(cells[-1][0], "count")
        # the export stays in milliseconds as numbers, as k6's
        self.assertIsInstance(s["metrics"]["http_req_duration"]["max"], float)
        rc, out, err = self.volley("run", "-q", "--summary-time-unit", "m", self.write_spec(NAMED))
        self.assertEqual(rc, 104)
        self.assertIn("--summary-time-unit: expected s, ms or us, got \"m\"", err)


class BreakdownTest(VolleyCase):
    def test_not_shown_unless_asked(self):
        rc, out, err, s = self.run_spec(NAMED)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("{ name:get status }", out)
        self.assertNotIn("http_reqs{name:get status}", s["metrics"])
        # a threshold's sub-metric is shown as always
        self.assertIn("{ name:create transfer }", metric_line(out, "{ name:create transfer }"))
        self.assertEqual(s["metrics"]["http_reqs{name:create transfer}"]["count"], 5)

    def test_by_name(self):
        rc, out, err, s = self.run_spec(NAMED, "--summary-by", "name")
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        url = NGINX + "/text"
        self.assertEqual(m["http_reqs{name:create transfer}"]["count"], 5)
        self.assertEqual(m["http_reqs{name:get status}"]["count"], 10)   # two steps, one name
        self.assertEqual(m["http_reqs{name:%s}" % url]["count"], 5)       # unnamed: its url
        self.assertEqual(m["http_req_failed{name:get status}"]["passes"], 5)   # the 404s
        self.assertEqual(m["http_req_failed{name:get status}"]["fails"], 5)
        self.assertEqual(m["http_req_failed{name:create transfer}"]["passes"], 0)
        self.assertIn("p(95)", m["http_req_duration{name:get status}"])
        self.assertEqual(sum(v["count"] for k, v in m.items() if k.startswith("http_reqs{name:")),
                         m["http_reqs"]["count"])
        # the text: indented lines under their metric, in the spec's order
        lines = out.splitlines()
        start = lines.index(metric_line(out, "http_reqs"))
        self.assertRegex(lines[start + 1], r"^\s+✓ \{ name:create transfer \}\.+: 5 ")
        self.assertRegex(lines[start + 2], r"^\s+\{ name:get status \}\.+: 10 ")
        self.assertIn("{ name:%s }" % url, lines[start + 3])
        failed = lines.index(metric_line(out, "http_req_failed"))
        self.assertRegex(lines[failed + 2], r"\{ name:get status \}\.+: 50\.00% ✓ 5 +✗ 5$")
        # every row's columns line up with the metric's
        dur = lines.index(metric_line(out, "http_req_duration"))
        col = lines[dur].index("avg=")
        for row in lines[dur + 1:dur + 4]:
            self.assertEqual(row.index("avg="), col, row)
        self.assertNotIn("{ scenario:", out)

    def test_by_scenario(self):
        rc, out, err, s = self.run_spec(TWO_SCENARIOS, "--summary-by", "scenario")
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        self.assertEqual(m["http_reqs{scenario:one}"]["count"], 3)
        self.assertEqual(m["http_reqs{scenario:two}"]["count"], 4)
        self.assertEqual(m["iterations{scenario:two}"]["count"], 4)
        self.assertIn("p(95)", m["http_req_duration{scenario:one}"])
        lines = out.splitlines()
        reqs = lines.index(metric_line(out, "http_reqs"))
        self.assertRegex(lines[reqs + 1], r"^\s+\{ scenario:one \}\.+: 3 ")
        self.assertRegex(lines[reqs + 2], r"^\s+\{ scenario:two \}\.+: 4 ")
        self.assertNotIn("http_reqs{name:a}", m)
        rc, out, err, s = self.run_spec(TWO_SCENARIOS, "--summary-by", "name,scenario")
        self.assertEqual(s["metrics"]["http_reqs{name:a}"]["count"], 7)
        self.assertEqual(s["metrics"]["http_reqs{scenario:one}"]["count"], 3)
        # without --summary-by: the scenarios section, no breakdown lines;
        # the export keeps its per-scenario sub-metrics, as it always had
        rc, out, err, s = self.run_spec(TWO_SCENARIOS)
        self.assertNotIn("{ scenario:one }", out)
        self.assertIn("one (per-vu-iterations):", out)
        self.assertEqual(s["metrics"]["http_reqs{scenario:one}"]["count"], 3)
        self.assertNotIn("http_reqs{name:a}", s["metrics"])

    def test_bad_kind(self):
        rc, out, err = self.volley("run", "-q", "--summary-by", "group", self.write_spec(NAMED))
        self.assertEqual(rc, 104)
        self.assertIn("--summary-by: expected name, scenario or name,scenario; got \"group\"", err)

    def test_at_most_200_names(self):
        steps = "".join('      - http: { name: "r%03d", url: "${services.web}/fast" }\n' % i
                        for i in range(1, 203))
        text = ("version: 1\nservices:\n  web: { url: \"${env.NGINX}\" }\nscenarios:\n  s:\n"
                "    executor: per-vu-iterations\n    vus: 1\n    iterations: 1\n    flow:\n" + steps)
        rc, out, err, s = self.run_spec(text, "--summary-by", "name")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("scenarios: 2 more request names past the first 200: they are not broken down "
                      "per name", err)
        m = s["metrics"]
        self.assertEqual(m["http_reqs{name:r200}"]["count"], 1)
        self.assertNotIn("http_reqs{name:r201}", m)
        self.assertEqual(m["http_reqs"]["count"], 202)

    def test_ws_sessions_by_name(self):
        import sys
        import socket
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        server = subprocess.Popen([sys.executable, os.path.join(SOURCE, "tests", "ws", "wsserver.py"),
                                   str(port)], stdout=subprocess.PIPE, text=True)
        try:
            self.assertTrue(server.stdout.readline().startswith("ready"))
            rc, out, err, s = self.run_spec("""
                version: 1
                scenarios:
                  s:
                    executor: per-vu-iterations
                    vus: 1
                    iterations: 2
                    flow:
                      - ws: { name: feed, url: "ws://127.0.0.1:%d/echo", close_after: 50ms }
                      - http: { name: poll, url: "${env.NGINX}/fast" }
                """ % port, "--summary-by", "name")
        finally:
            server.terminate()
            server.wait(timeout=10)
            server.stdout.close()
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        self.assertEqual(m["ws_sessions{name:feed}"]["count"], 2)
        self.assertEqual(m["ws_session_failed{name:feed}"]["passes"], 0)
        self.assertIn("p(95)", m["ws_session_duration{name:feed}"])
        self.assertEqual(m["http_reqs{name:poll}"]["count"], 2)
        self.assertNotIn("http_reqs{name:feed}", m)
        self.assertNotIn("ws_sessions{name:poll}", m)


class WholeNumbersTest(VolleyCase):
    def test_percentiles_of_whole_values_are_whole(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            metrics:
              amount: trend
              part: trend
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 4
                flow:
                  - http: { url: "${env.NGINX}/fast" }
                    record:
                      amount: "4974${vu.iteration}"
                      part: "${vu.iteration}.25"
            """)
        self.assertEqual(rc, 0, out + err)
        m = s["metrics"]
        values = sorted(49740 + i for i in range(4)) if m["amount"]["min"] == 49740 else \
            sorted(49741 + i for i in range(4))
        self.assertEqual(m["amount"]["min"], values[0])
        # k6 interpolates med to x.5; all samples whole: shown rounded
        self.assertEqual(m["amount"]["med"], round((values[1] + values[2]) / 2 + 0.1))
        self.assertEqual(m["amount"]["med"] % 1, 0)
        self.assertEqual(m["amount"]["p(90)"] % 1, 0)
        self.assertEqual(m["amount"]["avg"], sum(values) / 4)   # a mean stays a mean
        line = metric_line(out, "amount")
        self.assertIn("med=%d " % m["amount"]["med"], line)
        self.assertNotRegex(line, r"(med|p\(\d+\))=\d+\.\d")
        part = metric_line(out, "part")
        self.assertRegex(part, r"med=\d\.75 ")
        self.assertEqual(m["part"]["med"] % 1, 0.75)


class RunMetadataTest(VolleyCase):
    def test_run_object(self):
        spec = self.write_spec(NAMED)
        export = os.path.join(self.tmp, "summary.json")
        before = datetime.datetime.now(datetime.timezone.utc)
        rc, out, err = self.volley("run", "-q", "--seed", "42", "--tag", "env=ci", "--tag", "team=qa",
                                   "--workers", "1", "--summary-export", export, spec)
        after = datetime.datetime.now(datetime.timezone.utc)
        self.assertEqual(rc, 0, out + err)
        import json
        with open(export) as f:
            run = json.load(f)["run"]
        _, version, _ = self.volley("version")
        self.assertIn("volley %s " % run["volley"], version)
        self.assertEqual(run["spec"], {"name": "named-requests", "path": spec})
        start = datetime.datetime.strptime(run["start"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
        end = datetime.datetime.strptime(run["end"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
        self.assertLessEqual(before - datetime.timedelta(seconds=1), start)
        self.assertLessEqual(end, after + datetime.timedelta(seconds=1))
        self.assertAlmostEqual((end - start).total_seconds(), run["duration_s"], delta=0.002)
        self.assertEqual(run["seed"], 42)
        self.assertEqual(run["workers"], 1)
        self.assertEqual(run["run_tags"], {"env": "ci", "team": "qa"})
        self.assertEqual(run["iterations"], {"complete": 5, "interrupted": 0})
        self.assertEqual(run["vus_max"], 1)
        self.assertFalse(run["interrupted"])
        self.assertFalse(run["aborted"])
        self.assertIsNone(run["abort_reason"])
        self.assertEqual(run["verdict"], "pass")
        self.assertEqual(run["exit_code"], 0)
        self.assertEqual(run["thresholds"], {"total": 1, "failed": 0})
        self.assertEqual(run["failed_thresholds"], [])

    def test_failed_threshold_named_with_value_and_limit(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                vus: 1
                iterations: 3
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            thresholds:
              http_req_duration: ["p(99)<0.001", "max<10000"]
              http_reqs: ["count>5"]
            """)
        self.assertEqual(rc, 99, out + err)
        run = s["run"]
        self.assertEqual(run["verdict"], "fail")
        self.assertEqual(run["exit_code"], rc)
        self.assertEqual(run["thresholds"], {"total": 3, "failed": 2})
        by_expr = {t["expression"]: t for t in run["failed_thresholds"]}
        self.assertEqual(sorted(by_expr), ["count>5", "p(99)<0.001"])
        p99 = by_expr["p(99)<0.001"]
        self.assertEqual(p99["metric"], "http_req_duration")
        self.assertEqual(p99["limit"], 0.001)
        self.assertGreater(p99["value"], 0.001)
        self.assertTrue(p99["observed"].startswith("p(99)="))
        self.assertFalse(p99["aborted_run"])
        self.assertEqual(by_expr["count>5"]["value"], 3)
        self.assertEqual(by_expr["count>5"]["observed"], "count=3")
        # the text says the same
        self.assertIn('✗ http_req_duration "p(99)<0.001": ' + p99["observed"] + "\n", out)
        self.assertIn('✗ http_reqs "count>5": count=3\n', out)


class AbortReasonTest(VolleyCase):
    def test_abort_on_fail_line_has_the_unit(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 1
                duration: 30s
                flow: [ { http: { url: "${env.NGINX}/delay10" } } ]
            thresholds:
              http_req_duration: [ { threshold: "p(99)<1", abort_on_fail: true } ]
            """)
        self.assertEqual(rc, 99, out + err)
        m = re.search(r'volley: threshold "p\(99\)<1" on http_req_duration failed '
                      r'\((p\(99\)=[0-9.]+ms)\): aborting the test \(abort_on_fail\)\n', err)
        self.assertIsNotNone(m, err)

    def test_abort_on_fail_in_summary_and_export(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 2
                duration: 30s
                flow: [ { http: { url: "%s/dead", timeout: 1s } }, { sleep: 50ms } ]
            thresholds:
              http_req_failed:
                - { threshold: "rate<0.5", abort_on_fail: true, delay_abort_eval: 1s }
              iterations: ["count>0"]
            """ % DEAD)
        self.assertEqual(rc, 99, out + err)
        self.assertIn("(aborted by a threshold)\n"
                      '     ✗ aborted: threshold http_req_failed "rate<0.5" failed during the run '
                      "(abort_on_fail)\n", out)
        self.assertIn('       ✗ http_req_failed "rate<0.5": rate=1 at the end; it stopped the run '
                      "(abort_on_fail)\n", out)
        # stderr shows the value as the summary does
        self.assertIn('volley: threshold "rate<0.5" on http_req_failed failed (rate=1): aborting the '
                      "test (abort_on_fail)\n", err)
        run = s["run"]
        self.assertTrue(run["aborted"])
        self.assertEqual(run["abort_reason"],
                         'threshold http_req_failed "rate<0.5" failed during the run (abort_on_fail)')
        self.assertEqual(run["verdict"], "fail")
        self.assertEqual(run["exit_code"], 99)
        [t] = run["failed_thresholds"]
        self.assertEqual((t["metric"], t["expression"], t["limit"], t["value"], t["aborted_run"]),
                         ("http_req_failed", "rate<0.5", 0.5, 1.0, True))
        self.assertEqual(s["metrics"]["http_req_failed"]["thresholds"], {"rate<0.5": True})

    def test_abort_test_reason_in_summary_and_export(self):
        rc, out, err, s = self.run_spec("""
            version: 1
            scenarios:
              s:
                executor: constant-vus
                vus: 1
                duration: 20s
                flow:
                  - http: { url: "${env.NGINX}/notfound" }
                    check: { name: found, status: 200 }
                    on_check_fail: abort_test
            """)
        self.assertEqual(rc, 108, out + err)
        m = re.search(r"     ✗ aborted: (a check or capture failed at \S+spec\.yaml:\d+:\d+ "
                      r"\(on_check_fail: abort_test\))\n", out)
        self.assertIsNotNone(m, out)
        run = s["run"]
        self.assertTrue(run["aborted"])
        self.assertEqual(run["abort_reason"], m.group(1))
        self.assertEqual(run["verdict"], "aborted")
        self.assertEqual(run["exit_code"], 108)


if __name__ == "__main__":
    unittest.main()
