"""Scale-out on Kubernetes (deploy/kubernetes/, tools/scale-out,
deploy/docker/Dockerfile), without a cluster:

- the manifests as tools/scale-out renders them parse, and fit together:
  an Indexed runner Job with completions = parallelism = N =
  VOLLEY_INSTANCES, every mount backed by a volume, every ConfigMap and
  claim they name rendered, the segment from JOB_COMPLETION_INDEX, exit
  codes as docs/scale-out.md says (the merge Job's podFailurePolicy);
- `tools/scale-out local` runs the containers' commands read from the
  rendered manifests (setup, N runners, merge, teardown) against the test
  nginx and a recording server: setup and teardown once, the merged
  iterations equal the spec's total exactly, unique pool rows (a data file
  in a sub-folder of the spec's ConfigMap) used once across instances, a
  threshold failing only in each instance passes merged (0), one failing
  only in the aggregate fails the merge (99);
- the Dockerfile, statically: Debian bookworm-slim, the .deb name cpack
  makes, build packages for every library CMake looks for, a non-root
  user, ENTRYPOINT volley; every command the containers run is in
  Debian's essential set or is volley.
`kubectl kustomize` of deploy/kubernetes when kubectl is here (no cluster
needed); `kubectl create --dry-run=client` needs one, so it is not run."""
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from volleytest import NGINX, SOURCE, VOLLEY, Recorder, VolleyCase  # noqa: E402

import yaml  # noqa: E402  (python3-yaml, tools/setup)

SCALE_OUT = os.path.join(SOURCE, "tools", "scale-out")
MANIFESTS = os.path.join(SOURCE, "deploy", "kubernetes")
DOCKERFILE = os.path.join(SOURCE, "deploy", "docker", "Dockerfile")
ROWS = 31   # not a multiple of 3: the instances' shares differ (11, 10, 10)

SPEC = """
version: 1
name: scaled
setup:
  - http: { method: POST, url: "@REC@/token" }
    capture: { tok: { regex: "token=([a-z0-9]+)" } }
pools:
  users: { file: data/users.csv, pick: unique }
scenarios:
  s:
    executor: shared-iterations
    vus: 3
    iterations: %d
    use: users
    flow:
      - http: { url: "${env.NGINX}/fast" }
      - http:
          url: "@REC@/work?id=${row.id}"
          headers: { Authorization: "Bearer ${setup.tok}" }
thresholds:
  iterations: ["count==%d"]
teardown:
  - http: { method: DELETE, url: "@REC@/session/${setup.tok}" }
""" % (ROWS, ROWS)

PLAIN = """
version: 1
name: plain
scenarios:
  s:
    executor: shared-iterations
    vus: 3
    iterations: %d
    flow:
      - http: { url: "${env.NGINX}/fast" }
thresholds:
  iterations: ["count<20"]
""" % ROWS


def scale_out(*args, timeout=60, env=None):
    p = subprocess.run([sys.executable, SCALE_OUT] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def essential_path(tmp):
    """The environment with PATH holding only the commands of Debian's
    essential packages (what debian:bookworm-slim has; volley comes from
    the .deb): the containers' scripts run with nothing else. None without
    dpkg."""
    if not shutil.which("dpkg-query"):
        return None
    q = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Essential}\\n"], stdout=subprocess.PIPE, text=True)
    pkgs = [l.split()[0] for l in q.stdout.splitlines() if l.endswith(" yes")]
    files = subprocess.run(["dpkg", "-L"] + pkgs, stdout=subprocess.PIPE, text=True).stdout.split()
    bindir = os.path.join(tmp, "essential-bin")
    os.makedirs(bindir)
    for f in files:
        if re.match(r"^(/usr)?/s?bin/[^/]+$", f) and os.access(f, os.X_OK) and not os.path.isdir(f):
            dest = os.path.join(bindir, os.path.basename(f))
            if not os.path.exists(dest):
                os.symlink(f, dest)
    env = dict(os.environ)
    env["PATH"] = bindir
    return env


def script(job):
    (c,) = job["spec"]["template"]["spec"]["containers"]
    return c["command"][-1]


class ScaleOutTest(VolleyCase):
    def spec_dir(self, text, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(os.path.join(d, "data"))
        with open(os.path.join(d, "spec.yaml"), "w") as f:
            f.write(text)
        with open(os.path.join(d, "data", "users.csv"), "w") as f:
            f.write("id,name\n" + "".join("u%02d,user %d\n" % (i, i) for i in range(ROWS)))
        return d

    def render(self, spec, n):
        out = os.path.join(self.tmp, "manifests-%d.yaml" % n)
        rc, o, e = scale_out("k8s", "--spec", spec, "-n", str(n), "--image", "reg.example/volley:0.1.0",
                             "-e", "NGINX=http://target", "-o", out, "--", "--workers", "1")
        self.assertEqual(rc, 0, o + e)
        self.assertIn("kubectl apply -f " + out, o)
        with open(out) as f:
            return list(yaml.safe_load_all(f))

    # --- the manifests ---------------------------------------------------
    def test_sources_parse(self):
        for name in sorted(os.listdir(MANIFESTS)):
            with open(os.path.join(MANIFESTS, name)) as f:
                docs = [d for d in yaml.safe_load_all(f) if d]
            self.assertTrue(docs, name)
            for d in docs:
                self.assertIn("apiVersion", d, name)
                self.assertIn("kind", d, name)

    def test_rendered_manifests_fit_together(self):
        d = self.spec_dir(SPEC.replace("@REC@", "http://rec"), "full")
        for n in (1, 4):
            docs = self.render(d, n)
            kinds = [(x["apiVersion"], x["kind"]) for x in docs]
            self.assertEqual(kinds, [("v1", "PersistentVolumeClaim"), ("v1", "ConfigMap"), ("v1", "ConfigMap")]
                             + [("batch/v1", "Job")] * 4)
            byname = {(x["kind"], x["metadata"]["name"]): x for x in docs}
            jobs = {x["metadata"]["labels"]["app.kubernetes.io/component"]: x for x in docs if x["kind"] == "Job"}
            self.assertEqual(sorted(jobs), ["merge", "runner", "setup", "teardown"])
            run = jobs["runner"]["metadata"]["labels"]["volley/run"]
            self.assertRegex(run, r"^scaled-\d{8}-\d{6}$")
            settings = byname[("ConfigMap", run + "-run")]["data"]
            self.assertEqual(settings["VOLLEY_INSTANCES"], str(n))
            self.assertEqual(settings["VOLLEY_SETUP"], "1")
            self.assertEqual(settings["VOLLEY_TEARDOWN"], "1")
            self.assertEqual(settings["VOLLEY_RUN"], run)
            self.assertEqual(settings["VOLLEY_RUN_ARGS"], "--workers 1")
            self.assertEqual(settings["NGINX"], "http://target")
            self.assertRegex(settings["VOLLEY_START_AT"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            r = jobs["runner"]["spec"]
            self.assertEqual(r["completionMode"], "Indexed")
            self.assertEqual((r["completions"], r["parallelism"]), (n, n))
            self.assertEqual(r["backoffLimit"], 0)
            runner = script(jobs["runner"])
            self.assertIn('i="$JOB_COMPLETION_INDEX"', runner)
            self.assertIn('--execution-segment "$i/$n:$((i + 1))/$n"', runner)
            self.assertIn("--no-teardown", runner)
            # the merge Job: every exit final (99 a threshold over the union)
            m = jobs["merge"]["spec"]
            rules = m["podFailurePolicy"]["rules"]
            self.assertEqual(rules[0], {"action": "FailJob",
                                        "onExitCodes": {"containerName": "merge", "operator": "NotIn", "values": [0]}})
            self.assertEqual(rules[1]["action"], "Ignore")
            for job in jobs.values():
                pod = job["spec"]["template"]["spec"]
                self.assertEqual(pod["restartPolicy"], "Never")
                self.assertTrue(pod["securityContext"]["runAsNonRoot"])
                (c,) = pod["containers"]
                self.assertEqual(c["image"], "reg.example/volley:0.1.0")
                self.assertEqual(c["command"][:2], ["sh", "-c"])
                self.assertEqual([e["configMapRef"]["name"] for e in c["envFrom"]], [run + "-run"])
                volumes = {v["name"]: v for v in pod["volumes"]}
                self.assertEqual(sorted(m["name"] for m in c["volumeMounts"]), sorted(volumes))
                mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
                self.assertEqual(mounts["/results"], "results")
                for e in c["env"]:   # the scripts reach the mounts through these
                    self.assertIn(e["value"], mounts)
                for path in mounts:
                    self.assertNotIn(path + "/", script(job))
                for v in volumes.values():
                    if "configMap" in v:
                        self.assertIn(("ConfigMap", v["configMap"]["name"]), byname)
                    if "persistentVolumeClaim" in v:
                        self.assertIn(("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]), byname)
            # the spec and its data file, back at their paths through items
            cm = byname[("ConfigMap", run + "-spec")]
            self.assertEqual(sorted(cm["data"]), ["data--users.csv", "spec.yaml"])
            items = jobs["runner"]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"]
            self.assertEqual(sorted((i["key"], i["path"]) for i in items),
                             [("data--users.csv", "data/users.csv"), ("spec.yaml", "spec.yaml")])

    def test_no_setup_no_teardown_jobs(self):
        d = self.spec_dir(PLAIN, "plain")
        docs = self.render(d, 2)
        comps = [x["metadata"]["labels"]["app.kubernetes.io/component"] for x in docs if x["kind"] == "Job"]
        self.assertEqual(comps, ["runner", "merge"])
        settings = [x for x in docs if x["metadata"]["name"].endswith("-run")][0]["data"]
        self.assertEqual((settings["VOLLEY_SETUP"], settings["VOLLEY_TEARDOWN"]), ("0", "0"))

    def test_launcher_refusals(self):
        d = self.spec_dir(PLAIN, "refuse")
        for args, msg in ((["-n", "0"], "expected 1 to 1000"),
                          (["-n", "2", "-e", "VOLLEY_RUN=x"], "not starting with VOLLEY_"),
                          (["-n", "2", "--start-in", "soon"], "expected a duration"),
                          (["-n", "2", "--start-at", "2001-01-01T00:00:00Z"], "that time has passed"),
                          (["-n", "2", "--start-at", "tomorrow"], "expected an RFC 3339 time"),
                          (["-n", "2", "--", "--tag", "a b"], "cannot be empty or hold spaces")):
            rc, o, e = scale_out("k8s", "--spec", d, *args)
            self.assertNotEqual(rc, 0)
            self.assertIn(msg, e)
        with open(os.path.join(d, "other.yaml"), "w") as f:
            f.write("version: 1\n")
        os.rename(os.path.join(d, "spec.yaml"), os.path.join(d, "main.yaml"))
        rc, o, e = scale_out("k8s", "--spec", d, "-n", "2")
        self.assertIn("name it with --entry", e)
        rc, o, e = scale_out("k8s", "--spec", d, "--entry", "main.yaml", "-n", "2")
        self.assertEqual(rc, 0, e)
        self.assertIn("VOLLEY_SPEC: main.yaml", o)

    def test_launcher_names_and_help(self):
        d = self.spec_dir(PLAIN.replace("name: plain", 'name: "My_Checkout Test über-long name for the '
                                        'payments platform team"'), "longname")
        rc, o, e = scale_out("k8s", "--spec", d, "-n", "2")
        self.assertEqual(rc, 0, e)
        run = re.search(r"VOLLEY_RUN: (\S+)", o).group(1)
        self.assertRegex(run, r"^my-checkout-test-ber-long-\d{8}-\d{6}$")
        self.assertLessEqual(len(run), 42)
        rc, o, e = scale_out("k8s", "--spec", d, "-n", "2", "--run", "x" * 43)
        self.assertIn("a run's name is lowercase letters, digits and '-', at most 42", e)
        for cmd in ("k8s", "local"):
            rc, o, e = scale_out(cmd, "--help")
            self.assertEqual(rc, 0, e)
            self.assertIn("[-- VOLLEY_RUN_OPTION ...]", o)
            self.assertIn("Anything after `--` goes to `volley run` on every instance", o)
            for opt in ("--image", "--pvc", "--storage-class"):
                (self.assertIn if cmd == "k8s" else self.assertNotIn)(opt, o)

    def test_start_at_placeholder(self):
        """The by-hand settings ship VOLLEY_START_AT=EDIT-ME: a runner
        started with it, or with an instant more than 24 h ahead, ends at
        once with 104 and says what to set."""
        with open(os.path.join(MANIFESTS, "kustomization.yaml")) as f:
            kust = yaml.safe_load(f)
        (gen,) = [g for g in kust["configMapGenerator"] if g["name"] == "volley-run"]
        self.assertIn("VOLLEY_START_AT=EDIT-ME", gen["literals"])
        with open(os.path.join(MANIFESTS, "run-config.yaml")) as f:
            self.assertEqual(yaml.safe_load(f)["data"]["VOLLEY_START_AT"], "EDIT-ME")
        with open(os.path.join(MANIFESTS, "runner-job.yaml")) as f:
            runner = yaml.safe_load(f)
        (c,) = runner["spec"]["template"]["spec"]["containers"]
        res = os.path.join(self.tmp, "ph")
        for start, msg in (("EDIT-ME", "VOLLEY_START_AT=EDIT-ME is not a time: set it"),
                           ("2030-01-01T00:00:00Z", "is more than 24 h ahead: set it")):
            env = dict(os.environ, JOB_COMPLETION_INDEX="0", VOLLEY_INSTANCES="2", VOLLEY_RUN="r",
                       VOLLEY_RESULTS=res, VOLLEY_SPEC_DIR=self.tmp, VOLLEY_SPEC="none.yaml",
                       VOLLEY_START_AT=start, VOLLEY_SETUP="0")
            p = subprocess.run(c["command"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=10)
            self.assertEqual(p.returncode, 104, p.stderr)
            self.assertIn(msg, p.stderr)
            self.assertRegex(p.stderr, r"e\.g\. VOLLEY_START_AT=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
            with open(os.path.join(res, "r", "exit-0")) as f:
                self.assertEqual(f.read().strip(), "104")

    @unittest.skipUnless(shutil.which("kubectl"), "no kubectl")
    def test_kustomization(self):
        d = os.path.join(self.tmp, "kust")
        shutil.copytree(MANIFESTS, d)
        with open(os.path.join(d, "spec.yaml"), "w") as f:
            f.write(PLAIN)
        p = subprocess.run(["kubectl", "kustomize", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        docs = {(x["kind"], x["metadata"]["name"]): x for x in yaml.safe_load_all(p.stdout)}
        self.assertIn(("ConfigMap", "volley-spec"), docs)
        n = docs[("ConfigMap", "volley-run")]["data"]["VOLLEY_INSTANCES"]
        r = docs[("Job", "volley-runner")]["spec"]
        self.assertEqual((str(r["completions"]), str(r["parallelism"])), (n, n))

    # --- end to end: the containers' commands as local processes ------------
    def run_local(self, spec, n=3):
        results = os.path.join(self.tmp, "results")
        rc, out, err = scale_out("local", "--spec", spec, "-n", str(n), "--results", results,
                                 "--start-in", "3s", "--volley", VOLLEY, "-e", "NGINX=" + NGINX,
                                 timeout=60, env=essential_path(self.tmp))
        m = re.search(r"results in (\S+)", out)
        self.assertTrue(m, out + err)
        return rc, out, err, m.group(1)

    def test_local_setup_once_exact_iterations_unique_rows(self):
        rec = Recorder()
        try:
            d = self.spec_dir(SPEC.replace("@REC@", rec.url), "e2e")
            rc, out, err, run = self.run_local(d)
            reqs = rec.taken()
        finally:
            rec.stop()
        self.assertEqual(rc, 0, out + err)
        paths = [r["path"] for r in reqs]
        self.assertEqual(paths.count("/token"), 1, paths)              # setup once
        self.assertEqual(paths[0], "/token")
        self.assertEqual(paths.count("/session/abc123"), 1, paths)     # teardown once, last
        self.assertEqual(paths[-1], "/session/abc123")
        work = [r for r in reqs if r["path"].startswith("/work")]
        self.assertEqual(len(work), ROWS)
        self.assertTrue(all(r["headers"].get("Authorization") == "Bearer abc123" for r in work))
        ids = sorted(r["path"].split("=")[1] for r in work)
        self.assertEqual(ids, ["u%02d" % i for i in range(ROWS)])      # each row once over all
        with open(os.path.join(run, "summary.json")) as f:
            s = yaml.safe_load(f)
        self.assertEqual(s["metrics"]["iterations"]["count"], ROWS)
        self.assertEqual(s["metrics"]["http_reqs"]["count"], 2 * ROWS)
        self.assertFalse(s["metrics"]["iterations"]["thresholds"]["count==%d" % ROWS])
        shares = []
        for i in range(3):
            with open(os.path.join(run, "exit-%d" % i)) as f:
                self.assertEqual(f.read().strip(), "99")   # count==31 fails on a slice
            with open(os.path.join(run, "summary-%d.json" % i)) as f:
                shares.append(yaml.safe_load(f)["metrics"]["iterations"]["count"])
        self.assertEqual(sorted(shares), [10, 10, 11])
        with open(os.path.join(run, "merge-exit")) as f:
            self.assertEqual(f.read().strip(), "0")
        self.assertIn('✓ iterations "count==%d": count=%d' % (ROWS, ROWS), out)
        for job in ("setup", "runner-0", "runner-1", "runner-2", "merge", "teardown"):
            self.assertRegex(out, r"-%s\s+exit 0 " % job)

    def test_local_setup_failing(self):
        """setup: fails (107): the instances start no load and end with its
        code, the merge says so with it, teardown is skipped (as k6)."""
        rec = Recorder()
        try:
            spec = SPEC.replace('"@REC@/token" }', '"@REC@/status/500" }\n    check: [ { name: login, status: 200 } ]')
            d = self.spec_dir(spec.replace("@REC@", rec.url), "setupfail")
            rc, out, err, run = self.run_local(d)
            paths = [r["path"] for r in rec.taken()]
        finally:
            rec.stop()
        self.assertEqual(rc, 107, out + err)
        self.assertEqual(paths, ["/status/500"])                    # no load, no teardown
        with open(os.path.join(run, "setup.failed")) as f:
            self.assertEqual(f.read().strip(), "107")
        for i in range(3):
            with open(os.path.join(run, "exit-%d" % i)) as f:
                self.assertEqual(f.read().strip(), "107")
        self.assertRegex(out, r"-runner-0\s+exit 107 ")
        self.assertRegex(out, r"-teardown\s+exit 0 ")
        self.assertIn("the merge covers 0 of 3", out)

    def test_local_threshold_failing_only_in_aggregate(self):
        d = self.spec_dir(PLAIN, "agg")
        rc, out, err, run = self.run_local(d)
        self.assertEqual(rc, 99, out + err)
        for i in range(3):
            with open(os.path.join(run, "exit-%d" % i)) as f:
                self.assertEqual(f.read().strip(), "0")    # 10 or 11 < 20 alone
        with open(os.path.join(run, "merge-exit")) as f:
            self.assertEqual(f.read().strip(), "99")
        self.assertIn('✗ iterations "count<20": count=%d' % ROWS, out)
        self.assertRegex(out, r"-merge\s+exit 99 ")
        # the merge's other outputs: JUnit with the failed threshold, the
        # report, handleSummary's data and the merged timeline
        with open(os.path.join(run, "junit.xml")) as f:
            junit = f.read()
        self.assertRegex(junit, r'<testcase classname="plain.iterations" name="count&lt;20"[^>]*>\s*<failure')
        with open(os.path.join(run, "report.html")) as f:
            self.assertIn("<html", f.read(4096).lower())
        with open(os.path.join(run, "summary-data.json")) as f:
            self.assertEqual(yaml.safe_load(f)["metrics"]["iterations"]["values"]["count"], ROWS)
        end = self.read_ndjson(os.path.join(run, "merged.ndjson"))[-1]
        self.assertEqual((end["type"], end["exit_code"]), ("end", 99))
        self.assertNotIn("-setup ", out)                     # no setup: no setup Job
        self.assertFalse(os.path.exists(os.path.join(run, "setup.json")))

    # --- an instance stopped or lost mid-run ------------------------------------
    def procs_of(self, run_marker, index):
        """{pid: argv} of this machine's processes of runner `index` of the
        local run whose VOLLEY_RUN starts with run_marker (ours: /proc)."""
        found = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = [a.decode() for a in f.read().split(b"\0") if a]
            except OSError:
                continue
            if env.get(b"VOLLEY_RUN", b"").startswith(run_marker.encode()) and \
                    env.get(b"JOB_COMPLETION_INDEX") == str(index).encode() and argv:
                found[int(pid)] = argv
        return found

    def run_local_and_hit(self, name, hit):
        """A 6 s constant-vus run of 3 instances; 2.5 s into the load,
        hit(sh_pid, volley_pid) on runner 1. Returns the launcher's code,
        output and the run's folder."""
        d = self.spec_dir("""
version: 1
name: %s
scenarios:
  s:
    executor: constant-vus
    vus: 3
    duration: 6s
    graceful_stop: 1s
    flow:
      - http: { url: "${env.NGINX}/fast" }
      - sleep: 0.05
""" % name, name)
        results = os.path.join(self.tmp, "results-" + name)
        p = subprocess.Popen([sys.executable, SCALE_OUT, "local", "--spec", d, "-n", "3", "--results", results,
                              "--start-in", "2s", "--wait", "3s", "--volley", VOLLEY, "-e", "NGINX=" + NGINX],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=essential_path(self.tmp))
        try:
            deadline = time.time() + 15
            sh = vol = None
            while time.time() < deadline and not (sh and vol):
                time.sleep(0.2)
                procs = self.procs_of(name, 1)
                sh = next((pid for pid, a in procs.items() if a[:2] == ["sh", "-c"]), None)
                vol = next((pid for pid, a in procs.items() if a[0].endswith("volley") and "run" in a), None)
            self.assertTrue(sh and vol, procs)
            time.sleep(4.5)    # the start instant is 2-3 s away: 1.5-2.5 s into the load
            hit(sh, vol)
            out, _ = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        m = re.search(r"results in (\S+)", out)
        self.assertTrue(m, out)
        return p.returncode, out, m.group(1)

    def test_local_runner_pod_stopped(self):
        """Kubernetes stops a pod with SIGTERM to its PID 1, the script: it
        reaches volley, which ends the load, writes its result and summary
        (105), and the merge covers that instance in part."""
        rc, out, run = self.run_local_and_hit("stopped", lambda sh, vol: os.kill(sh, signal.SIGTERM))
        self.assertEqual(rc, 105, out)
        self.assertRegex(out, r"-runner-1\s+exit 105 ")
        with open(os.path.join(run, "exit-1")) as f:
            self.assertEqual(f.read().strip(), "105")
        end = self.read_ndjson(os.path.join(run, "result-1.ndjson"))[-1]
        self.assertEqual((end["type"], end["exit_code"], end["interrupted"]), ("end", 105, True))
        self.assertLess(end["duration_s"], 4)
        self.assertTrue(os.path.exists(os.path.join(run, "summary-1.json")))
        self.assertIn("the merge covers 2 of 3 instances whole, 1 in part", out)
        with open(os.path.join(run, "summary.json")) as f:
            merged = yaml.safe_load(f)["metrics"]["iterations"]["count"]
        whole = 0
        for i in (0, 2):
            with open(os.path.join(run, "summary-%d.json" % i)) as f:
                whole += yaml.safe_load(f)["metrics"]["iterations"]["count"]
        self.assertGreater(merged, whole)          # runner 1's part is in it

    def test_local_runner_pod_lost(self):
        """A pod lost with its node (SIGKILL to the script and volley): no
        exit-1, a result without end line. The merge stops waiting at the
        start instant + the load's planned 7 s + --wait 3s, not after an
        hour, merges what there is and exits 103."""
        t0 = time.time()
        rc, out, run = self.run_local_and_hit("lost", lambda sh, vol: (os.kill(sh, signal.SIGKILL),
                                                                      os.kill(vol, signal.SIGKILL)))
        self.assertLess(time.time() - t0, 30)
        self.assertEqual(rc, 103, out)
        self.assertRegex(out, r"-runner-1\s+exit -9 ")
        self.assertFalse(os.path.exists(os.path.join(run, "exit-1")))
        self.assertIn("instance(s) 1 not finished by", out)
        self.assertIn("instance 1: exit 103, no exit-1, its result has no end line", out)
        self.assertIn("the merge covers 2 of 3 instances whole, 1 in part", out)
        for f in ("summary.json", "merged.ndjson", "report.html", "junit.xml"):
            self.assertTrue(os.path.exists(os.path.join(run, f)), f)

    def test_local_volley_killed(self):
        """Only volley killed (out of memory): the runner records 103, not
        137, and the merge exits 103 with its message counting whole runs."""
        rc, out, run = self.run_local_and_hit("oom", lambda sh, vol: os.kill(vol, signal.SIGKILL))
        self.assertEqual(rc, 103, out)
        self.assertRegex(out, r"-runner-1\s+exit 103 ")
        with open(os.path.join(run, "exit-1")) as f:
            self.assertEqual(f.read().strip(), "103")
        with open(run + "-runner-1.log") as f:
            self.assertIn("instance 1: volley was killed by signal 9: counted as 103", f.read())
        self.assertIn("the merge covers 2 of 3 instances whole, 1 in part", out)
        # as an exit code (a figure of the summary may hold the digits)
        self.assertNotRegex(out, r"\bexit 137\b")

    def test_merge_command_with_an_instance_missing(self):
        """The merge Job's command alone (from the rendered manifest): one
        instance interrupted (105) and one that wrote nothing (103): what
        there is gets merged and the Job exits with the worst code."""
        docs = self.render(self.spec_dir(PLAIN, "partial"), 3)
        (merge,) = [x for x in docs if x["kind"] == "Job" and x["metadata"]["name"].endswith("-merge")]
        spec = os.path.join(self.tmp, "partial", "spec.yaml")
        out = os.path.join(self.tmp, "vol", "r1")
        os.makedirs(out)
        for i, code in ((0, 0), (1, 105)):
            rc, o, e = self.volley("run", "-q", "--execution-segment", "%d/3:%d/3" % (i, i + 1),
                                   "--execution-segment-sequence", "0,1/3,2/3,1",
                                   "--result", os.path.join(out, "result-%d.ndjson" % i), spec)
            self.assertEqual(rc, 0, o + e)
            with open(os.path.join(out, "exit-%d" % i), "w") as f:
                f.write("%d\n" % code)
        with open(os.path.join(out, "exit-2"), "w") as f:
            f.write("103\n")
        bindir = os.path.join(self.tmp, "bin")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(VOLLEY), os.path.join(bindir, "volley"))
        # started 11 minutes ago: the plan (shared-iterations: max_duration
        # 10m + graceful stop 30s) + VOLLEY_WAIT has passed
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 660))
        env = dict(os.environ, VOLLEY_RESULTS=os.path.join(self.tmp, "vol"), VOLLEY_RUN="r1",
                   VOLLEY_INSTANCES="3", VOLLEY_WAIT="5", VOLLEY_START_AT=start,
                   VOLLEY_SPEC_DIR=os.path.join(self.tmp, "partial"), VOLLEY_SPEC="spec.yaml",
                   PATH=bindir + os.pathsep + os.environ["PATH"])
        p = subprocess.run(merge["spec"]["template"]["spec"]["containers"][0]["command"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 103, p.stdout + p.stderr)
        self.assertIn("instance 2: exit 103, no result file", p.stderr)
        self.assertIn("the merge covers 1 of 3 instances whole, 1 in part", p.stderr)
        self.assertRegex(p.stdout, r"merged 2 of 3 segments: 2/3:1 missing")
        with open(os.path.join(out, "merge-exit")) as f:
            self.assertEqual(f.read().strip(), "99")   # 11 + 10 iterations: count<20 fails
        # setup failed: every instance ended with its code, nothing to merge
        os.remove(os.path.join(out, "merge-exit"))
        for i in range(3):
            with open(os.path.join(out, "exit-%d" % i), "w") as f:
                f.write("107\n")
            if os.path.exists(os.path.join(out, "result-%d.ndjson" % i)):
                os.remove(os.path.join(out, "result-%d.ndjson" % i))
        p = subprocess.run(merge["spec"]["template"]["spec"]["containers"][0]["command"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 107, p.stdout + p.stderr)
        self.assertIn("the merge covers 0 of 3 instances whole, 0 in part", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "merge-exit")))
        # nothing at all within VOLLEY_WAIT: 103 and the instance named
        os.remove(os.path.join(out, "exit-1"))
        env["VOLLEY_WAIT"] = "1"
        p = subprocess.run(merge["spec"]["template"]["spec"]["containers"][0]["command"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 103, p.stdout + p.stderr)
        self.assertIn("instance(s) 1 not finished by", p.stderr)
        self.assertIn("instance 1: exit 103, no exit-1, no result file", p.stderr)
        # a signal's code (137: SIGKILL) is no volley code: 103
        with open(os.path.join(out, "exit-1"), "w") as f:
            f.write("137\n")
        p = subprocess.run(merge["spec"]["template"]["spec"]["containers"][0]["command"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        self.assertEqual(p.returncode, 103, p.stdout + p.stderr)
        self.assertIn("exit 137 is no volley code (a signal): counted as 103", p.stderr)

    def test_setup_without_captures(self):
        """A setup that only prepares (captures nothing) still makes a
        setup file, so the setup Job works for it; the instances then run
        no setup."""
        rec = Recorder()
        try:
            spec = self.write_spec("""
                version: 1
                setup:
                  - http: { method: POST, url: "%s/seed" }
                scenarios:
                  s: { executor: per-vu-iterations, vus: 1, iterations: 1, flow: [ { http: { url: "%s/work" } } ] }
                """ % ((rec.url,) * 2))
            data = os.path.join(self.tmp, "setup.json")
            rc, out, err = self.volley("setup", spec, "-o", data)
            self.assertEqual(rc, 0, out + err)
            with open(data) as f:
                made = yaml.safe_load(f)
            self.assertEqual({k: made[k] for k in ("volley_setup_data", "values", "secret")},
                             {"volley_setup_data": 1, "values": {}, "secret": []})
            self.assertEqual(sorted(made), ["made", "secret", "spec_sha256", "values", "volley_setup_data"])
            rc, out, err = self.volley("run", "-q", "--setup-data", data, spec)
            self.assertEqual(rc, 0, out + err)
            self.assertEqual([r["path"] for r in rec.taken()], ["/seed", "/work"])
        finally:
            rec.stop()

    def test_no_teardown_flag(self):
        rec = Recorder()
        try:
            spec = self.write_spec("""
                version: 1
                setup:
                  - http: { method: POST, url: "%s/token" }
                scenarios:
                  s: { executor: per-vu-iterations, vus: 1, iterations: 2, flow: [ { http: { url: "%s/work" } } ] }
                teardown:
                  - http: { method: DELETE, url: "%s/session" }
                """ % ((rec.url,) * 3))
            rc, out, err = self.volley("run", "-q", "--no-teardown", spec)
            paths = [r["path"] for r in rec.taken()]
        finally:
            rec.stop()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(paths, ["/token", "/work", "/work"])

    # --- docs/scale-out.md ----------------------------------------------------
    def test_doc_examples(self):
        with open(os.path.join(SOURCE, "docs", "scale-out.md")) as f:
            doc = f.read()
        blocks = re.findall(r"^```(\w+)\n(.*?)^```", doc, re.S | re.M)
        ymls = [yaml.safe_load(b) for kind, b in blocks if kind == "yaml"]
        (wf,) = [y for y in ymls if "jobs" in y]
        n = int(wf["env"]["N"])
        self.assertEqual(wf["jobs"]["load"]["strategy"]["matrix"]["index"], list(range(n)))
        load = " ".join(s.get("run", "") for s in wf["jobs"]["load"]["steps"])
        for opt in ("--execution-segment \"$i/$N:$((i + 1))/$N\"", "--start-at", "--setup-data", "--no-teardown",
                    "--result"):
            self.assertIn(opt, load)
        self.assertEqual(wf["jobs"]["merge"]["needs"], ["prepare", "load"])
        (pod,) = [y for y in ymls if y.get("kind") == "Pod"]
        self.assertEqual(pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "volley-results")
        shells = [b for kind, b in blocks if kind == "sh"]
        for b in shells:
            p = subprocess.run(["bash", "-n"], input=b, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.assertEqual(p.returncode, 0, p.stderr + b)
        # every volley option the examples use is volley's
        rc, usage, _ = self.volley("--help")
        text = "\n".join(shells) + "\n".join(s.get("run", "") for j in wf["jobs"].values() for s in j["steps"])
        text = re.sub(r"\\\n", " ", text)
        for line in text.splitlines():
            m = re.search(r"\bvolley (run|merge|setup|teardown)\b(.*)", line)
            if m:
                for opt in re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", m.group(2)):
                    self.assertIn(opt, usage, line)
        with open(SCALE_OUT) as f:
            launcher = f.read()
        for opt in re.findall(r"tools/scale-out (?:k8s|local)[^\n]*", doc):
            for o in re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", opt):
                self.assertIn('"%s"' % o, launcher, opt)

    # --- the image ----------------------------------------------------------
    def test_dockerfile(self):
        with open(DOCKERFILE) as f:
            text = re.sub(r"\\\n", " ", f.read())
        instrs = [l.split(None, 1) for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        for word, _ in instrs:
            self.assertIn(word, {"FROM", "ARG", "RUN", "WORKDIR", "COPY", "USER", "ENTRYPOINT", "CMD", "ENV"})
        froms = [a for w, a in instrs if w == "FROM"]
        self.assertEqual(froms[-1], "debian:bookworm-slim")
        final = instrs[max(i for i, (w, _) in enumerate(instrs) if w == "FROM"):]
        # the package cpack makes (CPACK_DEBIAN_FILE_NAME DEB-DEFAULT), by apt
        with open(os.path.join(SOURCE, "CMakeLists.txt")) as f:
            cmake = f.read()
        self.assertRegex(cmake, r"set\(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT\)")
        version = re.search(r"project\(volley VERSION (\S+)", cmake).group(1)
        arch = subprocess.run(["dpkg", "--print-architecture"], stdout=subprocess.PIPE, text=True).stdout.strip() \
            if shutil.which("dpkg") else "amd64"
        installs = [a for w, a in final if w == "RUN" and "apt-get install" in a]
        self.assertEqual(len(installs), 1)
        debs = re.findall(r"\./(volley_\S*\.deb)", installs[0])
        self.assertTrue(debs and fnmatch.fnmatch("volley_%s_%s.deb" % (version, arch), debs[0]), installs)
        builder = " ".join(a for w, a in instrs[:len(instrs) - len(final)] if w == "RUN")
        self.assertIn("cpack -G DEB", builder)
        self.assertIn("-DCMAKE_INSTALL_PREFIX=/usr", builder)
        user = [a for w, a in final if w == "USER"]
        self.assertTrue(user and user[-1].split(":")[0] not in ("0", "root"), user)
        self.assertIn(("ENTRYPOINT", '["volley"]'), [(w, a.strip()) for w, a in final])
        if not shutil.which("dpkg"):
            return
        # every library CMake looks for comes from a package the build stage installs
        pcs, progs = set(), set()
        for root, _, names in os.walk(SOURCE):
            if "/build" in root or "/tests" in root or "/.tools" in root or "/examples" in root:
                continue
            for name in names:
                if name == "CMakeLists.txt":
                    with open(os.path.join(root, name)) as f:
                        t = f.read()
                    for mods in re.findall(r"pkg_check_modules\(\w+ [^)]*?IMPORTED_TARGET ([^)]*)\)", t):
                        pcs.update(mods.split())
                    pcs.update({"OpenSSL": "openssl", "ZLIB": "zlib"}[p]
                               for p in re.findall(r"find_package\((OpenSSL|ZLIB)\b", t))
                    progs.update(re.findall(r"find_program\(\w+ ([\w.+-]+)\)", t))
        self.assertIn("libuv", pcs)
        for prog in sorted(progs):
            path = shutil.which(prog)
            self.assertTrue(path, "%s (a find_program of CMake) is not on this machine: tools/setup" % prog)
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True).stdout or \
                subprocess.run(["dpkg", "-S", path], stdout=subprocess.PIPE, text=True).stdout
            pkg = owner.split(":")[0]
            self.assertTrue(pkg and re.search(r"\b%s\b" % re.escape(pkg), builder),
                            "%s is %s's: not installed in the Dockerfile's build stage" % (prog, pkg or "nobody"))
        for pc in sorted(pcs):
            p = subprocess.run(["pkg-config", "--variable=pcfiledir", pc], stdout=subprocess.PIPE, text=True)
            path = os.path.join(p.stdout.strip(), pc + ".pc")
            owner = subprocess.run(["dpkg", "-S", path], stdout=subprocess.PIPE, text=True).stdout
            pkg = owner.split(":")[0]
            self.assertTrue(pkg and re.search(r"\b%s\b" % re.escape(pkg), builder),
                            "%s.pc is %s's: not installed in the Dockerfile's build stage" % (pc, pkg or "nobody"))


if __name__ == "__main__":
    unittest.main()
