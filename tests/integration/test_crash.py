"""A plugin that dies of a fatal signal, through the real binary: volley
names the plugin and the callback, exits 103, and what was measured still
reaches the summary and the other outputs (tests/data/plugin_crash.c crashes
on purpose: a real invalid write, abort(), or a stack overflow)."""
import json
import os
import re
import subprocess

from volleytest import VOLLEY, VolleyCase

CRASH_PLUGINS = os.environ.get("VOLLEY_CRASH_PLUGIN_DIR", "build/test-plugins-crash")

SLEEPY = """
version: 1
scenarios:
  s:
    executor: constant-vus
    vus: 4
    duration: 2s
    flow:
      - sleep: 10ms
"""

CRASHY = """
version: 1
scenarios:
  s:
    executor: constant-vus
    vus: 6
    duration: 3s
    flow:
      - crash: { how: %s, in: %s, iteration: 20 }
      - sleep: 10ms
"""


class CrashTest(VolleyCase):
    def run_crash(self, spec_text, *outs, extra_specs=()):
        spec = self.write_spec(spec_text)
        summary = os.path.join(self.tmp, "summary.json")
        nd = os.path.join(self.tmp, "all.ndjson")
        args = ["run", "-q", "--plugin-path", CRASH_PLUGINS, "--summary-export", summary,
                "--out", "json-out=" + nd]
        for o in outs:
            args += ["--out", o]
        rc, out, err = self.volley(*(args + [spec] + list(extra_specs)), timeout=60)
        return rc, out, err, summary, nd

    def assert_outputs_complete(self, summary, nd):
        """json-out got every sample the summary counted, as complete lines."""
        with open(summary) as f:
            iterations = json.load(f)["metrics"]["iterations"]["count"]
        with open(nd) as f:
            lines = f.read().split("\n")
        self.assertEqual(lines[-1], "")              # ends with a complete line
        points = [json.loads(l) for l in lines if '"Point"' in l]
        self.assertEqual(sum(1 for p in points if p["metric"] == "iterations"), iterations)
        self.assertGreater(iterations, 20)

    def test_output_write_segv_leaves_the_others_complete(self):
        rc, out, err, summary, nd = self.run_crash(SLEEPY, "crashout={how: segv, after: 2}")
        self.assertEqual(rc, 103, err)
        self.assertIn('volley: fatal: SIGSEGV in plugin crashout (output write) on thread "output crashout"; '
                      'finishing the run without it', err)
        self.assertIn('volley: output crashout={how: segv, after: 2} failed: crashed: SIGSEGV in plugin crashout '
                      '(output write)', err)
        self.assertIn("iterations", out)                   # the summary is printed
        self.assertRegex(out, r"output crashout=\{how: segv, after: 2\}: \d+ samples sent to it, \d+ dropped; "
                              r"ERROR: crashed: SIGSEGV")
        self.assert_outputs_complete(summary, nd)

    def test_output_tick_abort_and_close_stack_overflow(self):
        rc, out, err, summary, nd = self.run_crash(SLEEPY, "crashout={how: abort, in: tick}")
        self.assertEqual(rc, 103, err)
        self.assertIn('volley: fatal: SIGABRT in plugin crashout (output tick) on thread "output crashout"', err)
        self.assert_outputs_complete(summary, nd)
        # A stack overflow still reaches the handler (alternate signal stack).
        rc, out, err, summary, nd = self.run_crash(SLEEPY, "crashout={how: stack, in: close}")
        self.assertEqual(rc, 103, err)
        self.assertIn('volley: fatal: SIGSEGV in plugin crashout (output close) on thread "output crashout"', err)
        self.assert_outputs_complete(summary, nd)

    def test_main_thread_crash_exits_at_once(self):
        rc, out, err, summary, nd = self.run_crash(SLEEPY, "crashout={in: create}")
        self.assertEqual(rc, 103, err)
        self.assertIn('volley: fatal: SIGSEGV in plugin crashout (output create) on thread "main"; exiting (103)',
                      err)
        self.assertNotIn("iterations", out)

    def test_worker_crash_stops_the_run_and_keeps_what_was_measured(self):
        second = self.write_spec(SLEEPY, "second.yaml")
        rc, out, err, summary, nd = self.run_crash(CRASHY % ("segv", "step_start"), extra_specs=[second])
        self.assertEqual(rc, 103, err)
        self.assertIn('volley: fatal: SIGSEGV in plugin crashproto (protocol step_start) on thread "worker ',
                      err)
        self.assertRegex(err, r"spec\.yaml: a plugin crashed: SIGSEGV in plugin crashproto")
        self.assertEqual(out.count("iterations....."), 1)  # the second spec does not run
        self.assertNotIn("spec 2 of 2", out)
        self.assertRegex(out, r"second\.yaml +- .*\(not run\)")   # only in the final table
        self.assertNotIn("second.yaml", err)
        self.assert_outputs_complete(summary, nd)
        # Stopped at once (VU 1's 21st iteration, ~0.2 s in), not after the
        # scenario's 3 s: the run line says how long it ran.
        ran = re.search(r"running \(([\d.]+)s\)", out)
        self.assertIsNotNone(ran, out)
        self.assertLess(float(ran.group(1)), 2.5)

    def test_crash_in_an_event_loop_callback_names_the_plugin(self):
        rc, out, err, summary, nd = self.run_crash(CRASHY % ("abort", "callback"))
        self.assertEqual(rc, 103, err)
        self.assertIn('volley: fatal: SIGABRT in plugin crashproto (one of its event-loop callbacks) on thread '
                      '"worker ', err)
        self.assert_outputs_complete(summary, nd)


if __name__ == "__main__":
    import unittest
    unittest.main()
