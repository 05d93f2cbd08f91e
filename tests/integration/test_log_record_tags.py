"""Log steps (k6's console.log) and tags on one record entry (k6's
metric.add(value, tags)), through the real binary against the test nginx:
the lines a run writes on stderr, with the values each VU rendered and
its secrets hidden; the samples of a tagged entry, and thresholds on them."""
import hashlib
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from volleytest import VolleyCase  # noqa: E402

CONSOLE = re.compile(r"^(INFO|WARN|ERRO|DEBU)\[(\d{4,})\] (.*?) +source=console$")


def console(stderr):
    """[(LEVEL, seconds, text)] of the console lines of a run's stderr."""
    return [(m.group(1), int(m.group(2)), m.group(3)) for m in map(CONSOLE.match, stderr.splitlines()) if m]


LOG_SPEC = """\
version: 1
services:
  api: ${env.NGINX}
scenarios:
  s:
    executor: per-vu-iterations
    vus: 2
    iterations: 2
    flow:
      - http: { method: POST, url: "${services.api}/echo", body: "sess-${vu.id}-${vu.iteration}" }
        capture: { session_token: { regex: "(.*)" }, plain: { regex: "^sess-([0-9]+)" } }
      - log: "vu ${vu.id} it ${vu.iteration} sha1 ${sha1(vu.id)} got ${plain} tok ${session_token} key ${env.API_TOKEN}"
      - group: g
        steps:
          - log: "careful ${vu.id}-${vu.iteration}"
            level: warn
      - log: "bad ${vu.id}-${vu.iteration}"
        level: error
      - log: "details ${vu.id}"
        level: debug
"""


class LogStep(VolleyCase):
    def test_lines_rendered_per_vu_with_secrets_hidden(self):
        rc, out, err, _ = self.run_spec(LOG_SPEC, "-e", "API_TOKEN=tok-s3cr3t-value")
        self.assertEqual(rc, 0, err)
        lines = console(err)
        self.assertNotIn("tok-s3cr3t-value", err)
        info = sorted(t for lv, _, t in lines if lv == "INFO")
        want = sorted("vu %d it %d sha1 %s got %d tok *** key ***" %
                      (vu, it, hashlib.sha1(str(vu).encode()).hexdigest(), vu)
                      for vu in (1, 2) for it in (0, 1))
        self.assertEqual(info, want, err)
        self.assertNotIn("sess-", err)   # the captured secret
        pairs = ["%d-%d" % (vu, it) for vu in (1, 2) for it in (0, 1)]
        self.assertEqual(sorted(t for lv, _, t in lines if lv == "WARN"), ["careful " + p for p in pairs])
        self.assertEqual(sorted(t for lv, _, t in lines if lv == "ERRO"), ["bad " + p for p in pairs])
        self.assertEqual([lv for lv, _, _ in lines if lv == "DEBU"], [], "debug lines only with -v")
        self.assertTrue(all(s == 0 for _, s, _ in lines), lines)   # a run of well under a second
        # each iteration's lines in its flow's order
        for vu in (1, 2):
            for it in (0, 1):
                mine = [lv for lv, _, t in lines if t.startswith("vu %d it %d " % (vu, it)) or
                        t.endswith(" %d-%d" % (vu, it))]
                self.assertEqual(mine, ["INFO", "WARN", "ERRO"], lines)

    def test_debug_lines_with_verbose(self):
        spec = self.write_spec(LOG_SPEC)
        rc, out, err = self.volley("run", "-q", "-v", "-e", "API_TOKEN=x", spec)
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(t for lv, _, t in console(err) if lv == "DEBU"),
                         ["details 1", "details 1", "details 2", "details 2"])

    def test_long_text_is_one_cut_line(self):
        big = "é" * 3000   # 6000 bytes
        rc, out, err, _ = self.run_spec("""\
            version: 1
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - log: "${env.BIG}"
                  - log: after
            """, "-e", "BIG=" + big)
        self.assertEqual(rc, 0, err)
        raw = [ln for ln in err.encode().split(b"\n") if ln.startswith(b"INFO[")]
        self.assertEqual(len(raw), 2, err[:300])
        # at most 4 KiB with its newline (less the part of a sequence not kept)
        self.assertIn(len(raw[0]) + 1, (4095, 4096))
        self.assertTrue(raw[0].endswith(b"...  source=console"), raw[0][-40:])
        raw[0].decode("utf-8")                          # no sequence cut in two
        self.assertIn(b"\xc3\xa9" * 100, raw[0])
        self.assertEqual(console(err)[1][2], "after")

    def test_log_in_setup_and_loops(self):
        rc, out, err, _ = self.run_spec("""\
            version: 1
            setup:
              - log: "setup runs"
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - for_each: [a, b, c]
                    steps:
                      - log: "item ${item} at ${loop.index}"
            """)
        self.assertEqual(rc, 0, err)
        self.assertEqual([t for _, _, t in console(err)],
                         ["setup runs", "item a at 0", "item b at 1", "item c at 2"])


class RecordTags(VolleyCase):
    def test_entry_tags_reach_its_samples_and_thresholds(self):
        samples = os.path.join(self.tmp, "out.ndjson")
        rc, out, err, data = self.run_spec("""\
            version: 1
            metrics: { my_counter: counter, my_rate: rate }
            thresholds:
              "my_counter{tag:test}": ["count==3"]
              "my_counter{flow:own}": ["count==3"]
              "my_counter{flow:step}": ["count==0"]
              "my_rate{tag:test}": [{ threshold: "rate==1", allow_no_data: true }]
              "checks{tag:test}": [{ threshold: "rate==1", allow_no_data: true }]
            scenarios:
              s:
                executor: per-vu-iterations
                iterations: 3
                flow:
                  - group: my group
                    steps:
                      - check: { name: always, value: true }
                        tags: { flow: step }
                        record:
                          my_counter: { value: 1, tags: { tag: test, flow: own } }
                          my_rate: 1
            """, "--out", "json-out=" + samples)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("can get no sample", err)   # the filter warning knows the entry's tags
        m = data["metrics"]
        self.assertEqual(m["my_counter{tag:test}"]["count"], 3)
        self.assertEqual(m["my_counter{flow:own}"]["count"], 3)
        self.assertEqual(m["my_counter{flow:step}"]["count"], 0)
        points = [p for p in self.read_ndjson(samples) if p.get("type") == "Point"]
        counter = [p["data"]["tags"] for p in points if p["metric"] == "my_counter"]
        rate = [p["data"]["tags"] for p in points if p["metric"] == "my_rate"]
        checks = [p["data"]["tags"] for p in points if p["metric"] == "checks"]
        self.assertEqual(len(counter), 3)
        for t in counter:
            self.assertEqual((t["tag"], t["flow"], t["group"]), ("test", "own", "::my group"))
        self.assertEqual(len(rate), 3)
        for t in rate + checks:
            self.assertNotIn("tag", t)
            self.assertEqual(t["flow"], "step")

    def test_a_filter_value_no_entry_sets_warns(self):
        spec = self.write_spec("""\
            version: 1
            metrics: { c: counter }
            thresholds:
              "c{tag:tset}": ["count==0"]
            scenarios:
              s:
                executor: per-vu-iterations
                flow:
                  - check: { name: x, value: true }
                    record: { c: { value: 1, tags: { tag: test } } }
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 0, err)
        self.assertIn('no step or scenario sets tag tag to "tset" (its values: test)', err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
