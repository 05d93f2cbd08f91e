"""k6's per-scenario `env` and `tags`, and the stage tag of ramping
executors (`tag_stage: true`, jslib's tagWithCurrentStageIndex), through
the real volley binary against the loopback nginx (and the ws test
server): what json-out's samples carry, and thresholds on the tagged
sub-metrics that pass (docs/spec-reference.md#scenario-env-tags-and-the-stage-tag)."""
import collections
import os
import textwrap
import unittest

from test_ws import WsServer
from volleytest import NGINX, VolleyCase

TOKEN = "tok-9a8b7c-scenario"


def points(case, path):
    """(metric, tags, time) of every Point line."""
    return [(d["metric"], d["data"]["tags"] or {}, d["data"]["time"])
            for d in case.read_ndjson(path) if d.get("type") == "Point"]


class ScenarioTagsTest(VolleyCase):
    def test_tags_reach_every_sample_of_the_scenario(self):
        ws = WsServer()
        self.addCleanup(ws.stop)
        out = os.path.join(self.tmp, "out.ndjson")
        rc, stdout, err, _ = self.run_spec("""
            version: 1
            metrics: { tx_ms: trend }
            scenarios:
              shop:
                executor: per-vu-iterations
                vus: 2
                iterations: 2
                tags: { team: checkout, kind: "${scenario.name}" }
                flow:
                  - group: pay
                    steps:
                      - http: { url: "${env.NGINX}/created", method: POST }
                        check: { name: created, status: 201 }
                        capture: { id: json.id }
                        record: { tx_ms: duration }
                      - http: { url: "${env.NGINX}/health" }
                        tags: { team: platform }
                  - ws:
                      url: "${env.WS}/hello"
                      close_after: 100ms
              other:
                executor: per-vu-iterations
                flow:
                  - http: { url: "${env.NGINX}/fast" }
            thresholds:
              "http_reqs{team:checkout}": ["count==4"]
              "http_reqs{team:platform}": ["count==4"]
              "http_reqs{kind:shop}": ["count==8"]
              "checks{team:checkout}": ["rate==1"]
              "captures{kind:shop}": ["rate==1"]
              "tx_ms{team:checkout}": ["max<5000"]
              "iterations{team:checkout}": ["count==4"]
              "group_duration{team:checkout,group:::pay}": ["max<5000"]
              "ws_sessions{team:checkout}": ["count==4"]
              "http_reqs{run:ci}": ["count==9"]
            """, "--out", "json-out=" + out, "--tag", "run=ci", "--tag", "team=cli",
            env={"WS": "ws://127.0.0.1:%d" % ws.port})
        self.assertEqual(rc, 0, stdout + err)
        seen = collections.Counter()
        for metric, tags, _ in points(self, out):
            if metric in ("vus", "vus_max"):   # no scenario: the run's tags only
                self.assertEqual(tags, {"run": "ci", "team": "cli"})
                continue
            self.assertEqual(tags.get("run"), "ci", (metric, tags))
            if tags.get("scenario") == "other":
                # a --tag where the scenario sets none
                self.assertEqual(tags.get("team"), "cli", (metric, tags))
                self.assertNotIn("kind", tags)
                continue
            self.assertEqual(tags.get("kind"), "shop", (metric, tags))
            # the step's own tag wins over the scenario's, which wins over --tag
            if "url" in tags:
                want = {"platform" if tags["url"].endswith("/health") else "checkout"}
            elif metric in ("data_sent", "data_received"):   # no url: either step's
                want = {"platform", "checkout"}
            else:
                want = {"checkout"}
            self.assertIn(tags.get("team"), want, (metric, tags))
            seen[metric] += 1
        for metric in ("http_reqs", "http_req_duration", "checks", "captures", "tx_ms", "iterations",
                       "iteration_duration", "group_duration", "ws_sessions", "ws_session_duration",
                       "data_sent"):
            self.assertGreater(seen[metric], 0, metric)
        self.assertEqual(seen["iterations"], 4)
        self.assertEqual(seen["checks"], 4)

    def test_env_of_the_scenario_comes_first(self):
        out = os.path.join(self.tmp, "out.ndjson")
        rc, stdout, err, _ = self.run_spec("""
            version: 1
            scenarios:
              a:
                executor: per-vu-iterations
                env: { PAGE: health, API_TOKEN: "%s" }
                tags: { page: "${env.PAGE}" }
                flow:
                  - http:
                      url: "${env.NGINX}/${env.PAGE}?k=${env.API_TOKEN}"
                      headers: { X-Page: "${env.PAGE}" }
                    check: { name: page, json: { path: ok, equals: true } }
              b:
                executor: per-vu-iterations
                flow:
                  - http: { url: "${env.NGINX}/${env.PAGE}" }
            thresholds:
              "http_reqs{page:health}": ["count==1"]
              "checks{page:health}": ["rate==1"]
              "http_reqs{scenario:b}": ["count==1"]
            """ % TOKEN, "--out", "json-out=" + out, "-e", "PAGE=fast")
        self.assertEqual(rc, 0, stdout + err)
        urls = {(t.get("scenario"), t.get("url")) for m, t, _ in points(self, out) if m == "http_reqs"}
        self.assertEqual(urls, {("a", NGINX + "/health?k=***"), ("b", NGINX + "/fast")})
        with open(out) as f:
            nd = f.read()
        for text in (stdout, err, nd):
            self.assertNotIn(TOKEN, text)

    def test_scenario_tag_filters_warn_and_validate(self):
        spec = self.write_spec("""
            version: 1
            scenarios:
              a:
                executor: per-vu-iterations
                tags: { team: checkout }
                flow: [ { http: { url: "${env.NGINX}/fast" } } ]
            thresholds:
              "http_reqs{team:chekout}": ["count==0"]
            """)
        rc, out, err = self.volley("validate", spec)
        self.assertEqual(rc, 0, err)
        self.assertIn('no step or scenario sets tag team to "chekout" (its values: checkout): this '
                      'sub-metric can get no sample, so it will count 0', err)


class StageTagTest(VolleyCase):
    def stage_run(self, scenario, *thresholds):
        out = os.path.join(self.tmp, "out.ndjson")
        text = ("version: 1\nscenarios:\n  ramp:\n" +
                "".join("    %s\n" % l for l in textwrap.dedent(scenario).strip().splitlines()) +
                "    tag_stage: true\n    tags: { team: t }\n"
                "    flow:\n      - http: { url: \"${env.NGINX}/fast\" }\n" +
                "thresholds:\n" + "".join("  %s\n" % t for t in thresholds))
        rc, stdout, err, _ = self.run_spec(text, "--out", "json-out=" + out)
        self.assertEqual(rc, 0, stdout + err)
        return points(self, out)

    def test_ramping_arrival_rate_counts_each_stage_exactly(self):
        # 10 iterations due per second in each 1 s stage: the stage is the
        # one an iteration was due in, so the counts are exact.
        pts = self.stage_run("""
            executor: ramping-arrival-rate
            start_rate: 10
            time_unit: 1s
            pre_allocated_vus: 2
            stages: [ { duration: 1s, target: 10 }, { duration: 0s, target: 20 }, { duration: 1s, target: 20 } ]
            """,
            '"iterations{stage:0}": ["count==10"]',
            '"http_reqs{stage:2,team:t}": ["count==20"]',
            '"http_req_duration{stage:2}": ["p(95)<1000"]')
        stages = collections.Counter(t.get("stage") for m, t, _ in pts if m == "iterations")
        self.assertEqual(stages, {"0": 10, "2": 20})   # a 0s stage is never in effect
        for m, t, _ in pts:
            if m not in ("vus", "vus_max"):
                self.assertIn(t.get("stage"), ("0", "2"), (m, t))
                self.assertEqual(t.get("team"), "t")

    def test_ramping_vus_tags_by_the_stage_an_iteration_began_in(self):
        pts = self.stage_run("""
            executor: ramping-vus
            start_vus: 1
            stages: [ { duration: 1s, target: 1 }, { duration: 1s, target: 1 } ]
            pacing: 200ms
            """,
            '"iterations{stage:0}": ["count>=4"]',
            '"http_reqs{stage:1}": ["count>=4"]',
            '"iteration_duration{stage:1}": ["max<1000"]')
        iters = sorted((time, t["stage"]) for m, t, time in pts if m == "http_reqs")
        # one VU: its requests go in order, every stage-0 one before the first stage-1 one
        self.assertEqual([s for _, s in iters], sorted(s for _, s in iters))
        self.assertEqual({s for _, s in iters}, {"0", "1"})


if __name__ == "__main__":
    unittest.main()
