#include "cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "crash.h"
#include "diag.h"
#include "duration.h"
#include "engine.h"
#include "options.h"
#include "plugin_loader.h"
#include "compare.h"
#include "report.h"
#include "merge.h"
#include "run_summary.h"
#include "baseline.h"
#include "result.h"
#include "runall.h"
#include "secret.h"
#include "setup_data.h"
#include "spec.h"
#include "start_at.h"
#include "seg_plan.h"
#include "scan.h"
#include "summary.h"
#include "summary_json.h"

enum { EXIT_OK = 0, EXIT_THRESHOLDS = 99, EXIT_SETUP_TIMEOUT = 100 /* k6's SetupTimeout */,
       EXIT_TEARDOWN_TIMEOUT = 101 /* k6's TeardownTimeout */,
       EXIT_HOOK_FAILED = 107 /* k6's ScriptException: setup or teardown failed */,
       EXIT_ENGINE = 103, EXIT_INVALID = 104, EXIT_INTERRUPTED = 105,
       EXIT_ABORTED = 108 /* k6's ScriptAborted: on_check_fail: abort_test */,
       EXIT_SCAN_DOWN = 1 /* volley scan: a service is not up */ };

typedef struct cli {
    const char *cmd;
    spec_opts so;
    const char **env, **outs, **only, **plugin_dirs, **stages, **tags;
    size_t n_env, n_outs, n_only, n_plugin_dirs, n_stages, n_tags;
    const char *summary_export;
    const char *summary_json;  /* --summary-json: k6's handleSummary(data) object */
    summary_opts sopt;         /* --summary-trend-stats, --summary-time-unit, --summary-by */
    run_opts ro;
    bool verbose;
    long long seed;
    bool seed_set;
    char **specs;
    int n_specs;
    const char *results_dir;   /* --results-dir: DIR/NAME.ndjson, -summary.json, .junit.xml */
    bool no_scan;              /* --no-scan: no union health scan before several specs */
    runall_stats *stats;       /* the running spec's line of the final table, or NULL */
    const char *result;        /* --result FILE (docs/results-format.md) */
    bool result_hist;          /* --result-histograms */
    const char *baseline;      /* --baseline: a result file for relative thresholds */
    const char *report;        /* --report FILE: volley report of the run's result */
    const char *start_at;      /* --start-at TIME as given (c->ro.start_at_unix_ns parsed) */
    const char *setup_data;    /* --setup-data FILE: setup's captures from volley setup */
    size_t n_setup_slots;      /* of c->ro.setup_data, freed after each spec */
    /* --execution-segment / --execution-segment-sequence (segment.h) */
    const char *seg_arg, *seq_arg;
    bool seg_on;
    seg_tuple seg;
    char seg_text[SEG_TEXT_MAX]; /* normalized: "1/3:2/3" */
    char seq_text[4096];       /* the filled sequence: "0,1/3,2/3,1" */
    char instance_tag[48];     /* "instance=N" unless --tag instance=X */
    int argc;                  /* the command line, for the result's meta */
    char **argv;
} cli;

static uint64_t fresh_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
    }
    return s % 1000000000000ull;   /* short enough to retype */
}

static int64_t now_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(FILE *out)
{
    fputs("usage: volley <command> [options]\n"
          "\n"
          "commands:\n"
          "  run [opts] SPEC|DIR...   run specs one after another (a DIR: its *.yaml/*.yml\n"
          "                           specs in name order); with several, their services'\n"
          "                           health is scanned first and a table ends the run;\n"
          "                           exit code = the worst of them\n"
          "  validate [opts] SPEC...  load and check specs, plugins and templates; no traffic\n"
          "  scan [opts] SPEC...      GET each service's health URL, print a table; exit 0\n"
          "                           only if all are up (1 otherwise)\n"
          "  report RESULT [-o F.html] [--baseline OLD] [--noise PCT]\n"
          "                           an HTML report of a --result file or of json-out's\n"
          "                           NDJSON (docs/reporting.md)\n"
          "  compare OLD NEW [--fail-on-regression PCT] [--noise PCT]\n"
          "                           two results side by side; 99 when a regression is over PCT\n"
          "  merge RESULT... [--summary-export F] [--summary-json F] [--out junit=F]\n"
          "        [--report F] [--result F] [--allow-partial]\n"
          "                           the summary of the union of runs of one spec (--result\n"
          "                           files), thresholds judged again; exit 0 / 99 as a run\n"
          "  setup [opts] SPEC -o F   run only the spec's setup: and write its captures to F\n"
          "                           (JSON) for run --setup-data F on every instance\n"
          "  teardown [opts] SPEC --setup-data F\n"
          "                           run only the spec's teardown: with those captures\n"
          "  plugins                  list discovered plugins: name, kind, version, ABI\n"
          "  version                  print the version\n"
          "\n"
          "options:\n"
          "  -e KEY=VALUE             value for ${env.KEY} (the environment is the fallback)\n"
          "  --vus N                  override every scenario's VU count\n"
          "  --duration D             override durations (e.g. 30s, 1m30s)\n"
          "  --iterations N           run N iterations in total (shared-iterations)\n"
          "  --stage DURATION:TARGET  ramp VUs (repeatable; makes every scenario ramping-vus)\n"
          "  --tag NAME=VALUE         add a tag to every sample (repeatable)\n"
          "  --scenario NAME          run only the named scenario (repeatable)\n"
          "  -o, --out NAME[=ARG]     add an output plugin, e.g. json-out=results/x.ndjson\n"
          "  --summary-export FILE    end-of-test summary as JSON (k6's legacy shape)\n"
          "  --summary-json FILE      end-of-test summary as k6's handleSummary(data)\n"
          "                           object, for tools written for k6 (HTML reporters)\n"
          "  --summary-trend-stats L  trend stats in the summary and export (k6's; default\n"
          "                           avg,min,med,max,p(90),p(95); also count, any p(N))\n"
          "  --summary-time-unit U    s, ms or us for every time in the summary's trends\n"
          "  --summary-by KIND        also show per-request-name or per-scenario lines under\n"
          "                           the request metrics: name, scenario or name,scenario\n"
          "  --result FILE            the run over time: a line per second, every series'\n"
          "                           state and the verdicts (NDJSON; .gz: gzip);\n"
          "                           docs/results-format.md\n"
          "  --result-window D        window of --result lines, whole seconds (default 1s)\n"
          "  --result-histograms      each window's trends with their histograms too\n"
          "  --baseline FILE          a --result file of an earlier run: thresholds such as\n"
          "                           p(95)<baseline*1.1 are judged against it\n"
          "  --report FILE            an HTML report of the run at its end (volley report)\n"
          "  --results-dir DIR        per spec NAME: DIR/NAME.ndjson, NAME-summary.json,\n"
          "                           NAME-summary-data.json, NAME-result.ndjson,\n"
          "                           NAME-report.html and NAME.junit.xml (with a junit\n"
          "                           output plugin)\n"
          "  --no-scan                several specs: no health scan of their services first\n"
          "  --seed N                 makes every random choice reproducible\n"
          "  --plugin-path DIR        extra plugin directory (also $VOLLEY_PLUGIN_PATH)\n"
          "  --workers N              worker threads (default: one per core)\n"
          "  --setup-data FILE        setup's captures from volley setup: setup: is not run\n"
          "  --no-teardown            do not run teardown: (volley teardown runs it once)\n"
          "  --start-at TIME          set up, then start the load at TIME (RFC 3339 or Unix\n"
          "                           seconds; within 24h): instances start together\n"
          "  --execution-segment S    run only this instance's share of the test, k6's\n"
          "                           FROM:TO (1/3:2/3, 0.5:1, 50%:100%; TO alone = 0:TO)\n"
          "  --execution-segment-sequence Q\n"
          "                           all instances' segments, e.g. 0,1/3,2/3,1 (default:\n"
          "                           filled around the segment); the same on every instance\n"
          "  -q, --quiet              no progress output\n"
          "  -v, --verbose            plugin info messages, log steps of level debug\n"
          "\n"
          "exit codes: 0 passed, 99 a threshold failed, 100 setup timed out, 101 teardown\n"
          "timed out, 103 engine error, 104 invalid spec or options, 105 interrupted,\n"
          "107 setup or teardown failed, 108 aborted by on_check_fail: abort_test;\n"
          "run with several specs: 1 a service is down (nothing ran), else the worst:\n"
          "103 > 104 > 105 > 108 > 107 > 100 > 101 > 99 > 0\n",
          out);
}

static int push(const char ***arr, size_t *n, const char *v)
{
    const char **p = realloc(*arr, (*n + 1) * sizeof *p);
    if (!p)
        return -1;
    p[(*n)++] = v;
    *arr = p;
    return 0;
}

static int parse_count(const char *opt, const char *arg, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > 100000000) {
        fprintf(stderr, "volley: %s: expected a whole number >= 1, got \"%s\"\n", opt, arg);
        return -1;
    }
    *out = v;
    return 0;
}

/* --execution-segment and its sequence into c->seg, and the `instance`
 * tag (the segment's position in the sequence) unless --tag gives one. */
static int parse_segment(cli *c)
{
    char err[4200];
    seg_segment seg;
    static seg_rat pts[SEG_MAX_POINTS];
    size_t n = 0;
    if (!c->seg_arg && !c->seq_arg)
        return 0;
    if (!c->seg_arg) {
        fprintf(stderr, "volley: --execution-segment-sequence: needs --execution-segment (this "
                "instance's segment in the sequence, e.g. 1/3:2/3)\n");
        return -1;
    }
    if (seg_parse_segment(c->seg_arg, &seg, err, sizeof err) != 0) {
        fprintf(stderr, "volley: --execution-segment: %s; expected %s, got \"%s\"\n", err,
                SEG_SEGMENT_EXPECTED, c->seg_arg);
        return -1;
    }
    if (c->seq_arg && *c->seq_arg &&
        seg_parse_sequence(c->seq_arg, pts, SEG_MAX_POINTS, &n, err, sizeof err) != 0) {
        fprintf(stderr, "volley: --execution-segment-sequence: %s; expected %s, got \"%s\"\n", err,
                SEG_SEQUENCE_EXPECTED, c->seq_arg);
        return -1;
    }
    if (seg_tuple_init(&c->seg, &seg, pts, n, err, sizeof err) != 0) {
        fprintf(stderr, "volley: --execution-segment %s%s%s: %s\n", c->seg_arg,
                n ? " --execution-segment-sequence " : "", n ? c->seq_arg : "", err);
        return -1;
    }
    c->seg_on = true;
    seg_segment_format(&seg, c->seg_text, sizeof c->seg_text);
    seg_seq_format(&c->seg.seq, c->seq_text, sizeof c->seq_text);
    for (size_t i = 0; i < c->n_tags; i++)
        if (strncmp(c->tags[i], "instance=", 9) == 0)
            return 0;
    snprintf(c->instance_tag, sizeof c->instance_tag, "instance=%zu", c->seg.index);
    return push(&c->tags, &c->n_tags, c->instance_tag);
}

static int parse_args(cli *c, int argc, char **argv)
{
    enum { O_VUS = 256, O_DURATION, O_ITERATIONS, O_SCENARIO, O_SUMMARY, O_SEED, O_PLUGIN_PATH,
           O_WORKERS, O_STAGE, O_TAG, O_RESULTS_DIR, O_NO_SCAN, O_RESULT, O_RESULT_WINDOW,
           O_RESULT_HIST, O_SUMMARY_JSON, O_BASELINE, O_REPORT, O_TREND_STATS, O_TIME_UNIT,
           O_SUMMARY_BY, O_START_AT, O_SETUP_DATA, O_NO_TEARDOWN, O_SEGMENT, O_SEGMENT_SEQ };
    static const struct option longs[] = {
        {"vus", required_argument, NULL, O_VUS},
        {"duration", required_argument, NULL, O_DURATION},
        {"iterations", required_argument, NULL, O_ITERATIONS},
        {"scenario", required_argument, NULL, O_SCENARIO},
        {"out", required_argument, NULL, 'o'},
        {"summary-export", required_argument, NULL, O_SUMMARY},
        {"summary-json", required_argument, NULL, O_SUMMARY_JSON},
        {"summary-trend-stats", required_argument, NULL, O_TREND_STATS},
        {"summary-time-unit", required_argument, NULL, O_TIME_UNIT},
        {"summary-by", required_argument, NULL, O_SUMMARY_BY},
        {"seed", required_argument, NULL, O_SEED},
        {"plugin-path", required_argument, NULL, O_PLUGIN_PATH},
        {"workers", required_argument, NULL, O_WORKERS},
        {"stage", required_argument, NULL, O_STAGE},
        {"tag", required_argument, NULL, O_TAG},
        {"results-dir", required_argument, NULL, O_RESULTS_DIR},
        {"no-scan", no_argument, NULL, O_NO_SCAN},
        {"result", required_argument, NULL, O_RESULT},
        {"result-window", required_argument, NULL, O_RESULT_WINDOW},
        {"result-histograms", no_argument, NULL, O_RESULT_HIST},
        {"baseline", required_argument, NULL, O_BASELINE},
        {"report", required_argument, NULL, O_REPORT},
        {"start-at", required_argument, NULL, O_START_AT},
        {"setup-data", required_argument, NULL, O_SETUP_DATA},
        {"no-teardown", no_argument, NULL, O_NO_TEARDOWN},
        {"execution-segment", required_argument, NULL, O_SEGMENT},
        {"execution-segment-sequence", required_argument, NULL, O_SEGMENT_SEQ},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    int64_t n;
    char err[256];
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "e:o:qvh", longs, NULL)) != -1) {
        switch (ch) {
        case 'e':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                fprintf(stderr, "volley: -e: expected KEY=VALUE, got \"%s\"\n", optarg);
                return -1;
            }
            push(&c->env, &c->n_env, optarg);
            break;
        case 'o': push(&c->outs, &c->n_outs, optarg); break;
        case 'q': c->ro.quiet = true; break;
        case 'v': c->verbose = true; break;
        case 'h': usage(stdout); exit(0);
        case O_VUS:
            if (parse_count("--vus", optarg, &c->so.vus) != 0)
                return -1;
            break;
        case O_ITERATIONS:
            if (parse_count("--iterations", optarg, &c->so.iterations) != 0)
                return -1;
            break;
        case O_WORKERS:
            if (parse_count("--workers", optarg, &n) != 0 || n > 64) {
                if (n > 64)
                    fprintf(stderr, "volley: --workers: at most 64\n");
                return -1;
            }
            c->ro.workers = (int)n;
            break;
        case O_DURATION:
            if (duration_parse(optarg, &c->so.duration_ns, err, sizeof err) != 0 || c->so.duration_ns <= 0) {
                fprintf(stderr, "volley: --duration: expected %s, got \"%s\"\n", DURATION_EXPECTED, optarg);
                return -1;
            }
            break;
        case O_SCENARIO: push(&c->only, &c->n_only, optarg); break;
        case O_STAGE: push(&c->stages, &c->n_stages, optarg); break;
        case O_TAG: push(&c->tags, &c->n_tags, optarg); break;
        case O_SUMMARY: c->summary_export = optarg; break;
        case O_SUMMARY_JSON: c->summary_json = optarg; break;
        case O_TREND_STATS:
        case O_TIME_UNIT:
        case O_SUMMARY_BY:
            if ((ch == O_TREND_STATS ? summary_parse_trend_stats(&c->sopt, optarg, err, sizeof err)
                 : ch == O_TIME_UNIT ? summary_parse_time_unit(&c->sopt, optarg, err, sizeof err)
                                     : summary_parse_by(&c->sopt, optarg, err, sizeof err)) != 0) {
                fprintf(stderr, "volley: %s\n", err);
                return -1;
            }
            break;
        case O_RESULTS_DIR:
            if (!*optarg) {
                fprintf(stderr, "volley: --results-dir: expected a directory\n");
                return -1;
            }
            c->results_dir = optarg;
            break;
        case O_NO_SCAN: c->no_scan = true; break;
        case O_RESULT:
            if (!*optarg) {
                fprintf(stderr, "volley: --result: expected a file name (NAME.ndjson or NAME.ndjson.gz)\n");
                return -1;
            }
            c->result = optarg;
            break;
        case O_RESULT_HIST: c->result_hist = true; break;
        case O_BASELINE: c->baseline = optarg; break;
        case O_REPORT:
            if (!*optarg) {
                fprintf(stderr, "volley: --report: expected a file name (NAME.html)\n");
                return -1;
            }
            c->report = optarg;
            break;
        case O_SETUP_DATA: c->setup_data = optarg; break;
        case O_NO_TEARDOWN: c->ro.no_teardown = true; break;
        case O_SEGMENT: c->seg_arg = optarg; break;
        case O_SEGMENT_SEQ: c->seq_arg = optarg; break;
        case O_START_AT:
            if (start_at_parse(optarg, &c->ro.start_at_unix_ns, err, sizeof err) != 0 ||
                start_at_check(c->ro.start_at_unix_ns, now_unix_ns(), err, sizeof err) != 0) {
                fprintf(stderr, "volley: --start-at: %s\n", err);
                return -1;
            }
            c->start_at = optarg;
            break;
        case O_RESULT_WINDOW: {
            int64_t ns = 0;
            if (duration_parse(optarg, &ns, err, sizeof err) != 0 || ns < 1000000000ll ||
                ns > 3600000000000ll || ns % 1000000000ll != 0) {
                fprintf(stderr, "volley: --result-window: expected whole seconds from 1s to 1h "
                        "(e.g. 1s, 10s, 1m), got \"%s\"\n", optarg);
                return -1;
            }
            c->ro.window_s = (int)(ns / 1000000000ll);
            break;
        }
        case O_SEED: {
            char *end;
            errno = 0;
            c->seed = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end) {
                fprintf(stderr, "volley: --seed: expected an integer, got \"%s\"\n", optarg);
                return -1;
            }
            c->seed_set = true;
            break;
        }
        case O_PLUGIN_PATH: push(&c->plugin_dirs, &c->n_plugin_dirs, optarg); break;
        default:
            fprintf(stderr, "volley: unknown or incomplete option \"%s\" (see volley --help)\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    c->specs = argv + optind;
    c->n_specs = argc - optind;
    if (parse_segment(c) != 0)
        return -1;
    c->so.env = c->env;
    c->so.n_env = c->n_env;
    c->so.outs = c->outs;
    c->so.n_outs = c->n_outs;
    c->so.only_scenarios = c->only;
    c->so.n_only = c->n_only;
    c->so.tags = c->tags;
    c->so.n_tags = c->n_tags;
    c->so.stages = c->stages;
    c->so.n_stages = c->n_stages;
    return 0;
}

/* Loads every plugin found. A file that fails to load does not stop the
 * command (a spec that needs it says so); `warn` tells about it once. */
static int load_plugins(cli *c, volley_core *core, bool warn)
{
    char err[1024];
    if (plug_load_all(&core->plugins, c->plugin_dirs, c->n_plugin_dirs, &core->host, err, sizeof err) != 0) {
        fprintf(stderr, "volley: %s\n", err);
        return EXIT_ENGINE;
    }
    for (size_t i = 0; warn && i < core->plugins.n_broken; i++)
        fprintf(stderr, "volley: warning: skipped a plugin that does not load: %s\n",
                core->plugins.broken[i].reason);
    return 0;
}

/* A fresh registry per spec: plugins re-register their metrics. */
static int reset_registry(volley_core *core)
{
    char err[256];
    metrics_reg_free(&core->reg);
    metrics_reg_init(&core->reg);
    if (spec_register_builtin_metrics(&core->reg, err, sizeof err) != 0) {
        fprintf(stderr, "volley: %s\n", err);
        return EXIT_ENGINE;
    }
    return 0;
}

/* NULL with *rc set when the spec does not load: 104, or 103 when a
 * plugin it needs is missing or does not load (the installation's fault,
 * not the spec's). */
static spec *load_spec(cli *c, volley_core *core, const char *path, int *rc)
{
    diag d;
    diag_init(&d);
    spec *s = spec_load(path, &c->so, &core->plugins, &core->reg, &core->host, core, &d);
    diag_print(&d, stderr);   /* warnings too, when the spec loaded */
    if (!s) {
        fprintf(stderr, "volley: %s: %zu error%s\n", path, d.count, d.count == 1 ? "" : "s");
        *rc = d.engine ? EXIT_ENGINE : EXIT_INVALID;
    }
    diag_free(&d);
    return s;
}

/* Loads each spec (no traffic) and hands it to `each`, which returns the
 * exit code it wants for that spec; the result is the worst of them. */
static int for_each_spec(cli *c, int (*each)(const spec *s))
{
    volley_core core;
    char err[256];
    if (core_init(&core, err, sizeof err) != 0) {
        fprintf(stderr, "volley: %s\n", err);
        return EXIT_ENGINE;
    }
    int rc = load_plugins(c, &core, true);
    bool plugins_ok = rc == EXIT_OK;
    for (int i = 0; plugins_ok && i < c->n_specs; i++) {
        if (reset_registry(&core) != 0)
            break;
        int why = EXIT_INVALID;
        spec *s = load_spec(c, &core, c->specs[i], &why);
        if (!s) {
            if (why > rc)
                rc = why;
            continue;
        }
        int r = each(s);
        if (rc == EXIT_OK)
            rc = r;
        spec_free(s);
    }
    core_free(&core);
    return rc;
}

static int validated(const spec *s)
{
    size_t steps = 0;
    int64_t longest = 0;   /* the load's planned end, as the run header counts it */
    for (size_t j = 0; j < s->n_scenarios; j++) {
        const scenario *sc = &s->scenarios[j];
        steps += sc->n_ops;
        int64_t len = scenario_length_ns(sc) + sc->start_time_ns + sc->graceful_stop_ns;
        if (sc->role == SC_ROLE_MAIN && len > longest)
            longest = len;
    }
    /* The load's length in whole seconds is for scripts (the scale-out merge
     * Job's deadline), hence a plain number. */
    printf("%s: ok (%zu scenario%s, %zu flow ops, %zu threshold%s, %zu output%s); load at most %llds\n",
           s->path, s->n_scenarios, s->n_scenarios == 1 ? "" : "s", steps, s->n_thresholds,
           s->n_thresholds == 1 ? "" : "s", s->n_outputs, s->n_outputs == 1 ? "" : "s",
           (long long)((longest + 999999999) / 1000000000));
    return EXIT_OK;
}

static int cmd_validate(cli *c) { return for_each_spec(c, validated); }

/* volley scan: every service's health, before any load. 0 when all are up,
 * 1 when one is not (104 for an invalid spec, 103 for an engine error). */
static int scanned(const spec *s)
{
    return scan_services(s, stdout, 5000) > 0 ? EXIT_SCAN_DOWN : EXIT_OK;
}

static int cmd_scan(cli *c) { return for_each_spec(c, scanned); }

static void print_header(const cli *c, const spec *s, FILE *out)
{
    char d1[64], d2[64];
    fprintf(out, "\n  execution: local (%s)\n     script: %s\n", s->name, s->path);
    for (size_t i = 0; i < s->n_outputs; i++)
        secret_fprintf(out, "     output: %s\n", s->outputs[i].label);
    if (c->result)
        fprintf(out, "     output: --result %s\n", c->result);
    if (c->report)
        fprintf(out, "     output: --report %s\n", c->report);
    if (s->n_outputs == 0 && !c->result && !c->report)
        fprintf(out, "     output: -\n");
    if (c->ro.start_at_unix_ns) {
        start_at_format(c->ro.start_at_unix_ns, d1, sizeof d1);
        fprintf(out, "   start at: %s (--start-at %s): set up now, then wait\n", d1, c->start_at);
    }
    if (c->seg_on)
        fprintf(out, "    segment: %s of %s (instance %zu): this instance's share below\n",
                c->seg_text, c->seq_text, c->seg.index);
    int64_t vus = 0, longest = 0;
    size_t n_main = 0;
    for (size_t i = 0; i < s->n_scenarios; i++) {
        const scenario *sc = &s->scenarios[i];
        if (sc->role != SC_ROLE_MAIN)
            continue;
        n_main++;
        int64_t len = scenario_length_ns(sc) + sc->start_time_ns + sc->graceful_stop_ns;
        vus += scenario_max_vus(sc);
        if (len > longest)
            longest = len;
    }
    fprintf(out, "\n  scenarios: %zu scenario%s, %lld max VUs, %s max duration (incl. graceful stop):\n",
            n_main, n_main == 1 ? "" : "s", (long long)vus, duration_format(longest, d1, sizeof d1));
    for (size_t i = 0; i < s->n_scenarios; i++) {
        const scenario *sc = &s->scenarios[i];
        if (sc->role == SC_ROLE_SETUP && c->setup_data) {
            fprintf(out, "           * %s: from %s (not run here)\n", sc->name, c->setup_data);
            continue;
        }
        if (sc->role != SC_ROLE_MAIN) {
            fprintf(out, "           * %s: once, %s the scenarios (timeout %s)\n", sc->name,
                    sc->role == SC_ROLE_SETUP ? "before" : "after",
                    duration_format(sc->max_duration_ns, d1, sizeof d1));
            continue;
        }
        char d3[64];
        duration_format(sc->graceful_stop_ns, d2, sizeof d2);
        duration_format(scenario_length_ns(sc), d1, sizeof d1);
        fprintf(out, "           * %s: ", sc->name);
        if (sc->seg_skipped) {
            fprintf(out, "no share for segment %s: skipped\n", c->seg_text);
            continue;
        }
        switch (sc->executor) {
        case EXEC_CONSTANT_VUS:
            fprintf(out, "%lld looping VUs for %s", (long long)sc->vus, d1);
            break;
        case EXEC_RAMPING_VUS:
            fprintf(out, "up to %lld looping VUs for %s over %zu stages (graceful_ramp_down: %s)",
                    (long long)scenario_max_vus(sc), d1, sc->profile.n,
                    duration_format(sc->graceful_ramp_down_ns, d3, sizeof d3));
            break;
        case EXEC_CONSTANT_ARRIVAL_RATE:
            fprintf(out, "%g iterations/%s for %s (max VUs: %lld)", sc->profile.start,
                    duration_format(sc->profile.unit_ns, d3, sizeof d3), d1,
                    (long long)scenario_max_vus(sc));
            break;
        case EXEC_RAMPING_ARRIVAL_RATE:
            fprintf(out, "up to %g iterations/%s over %s in %zu stages (max VUs: %lld)",
                    sched_max_value(&sc->profile), duration_format(sc->profile.unit_ns, d3, sizeof d3),
                    d1, sc->profile.n, (long long)scenario_max_vus(sc));
            break;
        case EXEC_PER_VU_ITERATIONS:
            fprintf(out, "%lld iterations for each of %lld VUs (max_duration: %s)",
                    (long long)sc->iterations, (long long)sc->vus, d1);
            break;
        case EXEC_SHARED_ITERATIONS:
            fprintf(out, "%lld iterations shared among %lld VUs (max_duration: %s)",
                    (long long)sc->iterations, (long long)sc->vus, d1);
            break;
        }
        if (sc->seg_arrivals)   /* the rate is the whole test's */
            fprintf(out, " (this instance: %lld of every %lld arrivals)",
                    (long long)sc->seg_arrivals->count, (long long)sc->seg_arrivals->lcd);
        fprintf(out, " (graceful_stop: %s)\n", d2);
    }
    fputc('\n', out);
    fflush(out);
}

/* Raises the open-file soft limit to the hard limit and says clearly when
 * the planned VUs cannot have one connection each. */
static int check_fd_budget(const spec *s)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    long long vus = 0;
    for (size_t i = 0; i < s->n_scenarios; i++)
        vus += scenario_max_vus(&s->scenarios[i]);
    long long need = vus + 64;
    if (rl.rlim_cur != RLIM_INFINITY && (long long)rl.rlim_cur < need) {
        fprintf(stderr, "volley: %s: %lld VUs need about %lld open files (one connection each plus "
                "~64 for the runner), but the open-file limit is %llu (ulimit -Hn). Lower the VUs or "
                "raise the hard limit.\n", s->path, vus, need, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

/* The exit code of a run from what it measured. rc: EXIT_ENGINE when the
 * engine, an output or --summary-export failed, else EXIT_OK. With `say`
 * (the spec's path), says on stderr why the code is what it is. */
static int run_exit_code(int rc, const run_result *res, size_t failed, const char *say)
{
    if (rc == EXIT_OK && (failed || res->aborted))
        rc = EXIT_THRESHOLDS;
    /* setup: failed: no load ran (k6: 107, 100 on its timeout); teardown:
     * after the load: its failure is said, thresholds still count. */
    if (res->setup_state == HOOK_FAILED || res->setup_state == HOOK_TIMED_OUT) {
        if (say)
            secret_fprintf(stderr, "volley: %s: setup failed, no load was started: %s\n", say, res->hook_reason);
        rc = res->setup_state == HOOK_TIMED_OUT ? EXIT_SETUP_TIMEOUT : EXIT_HOOK_FAILED;
    } else if (res->teardown_state == HOOK_FAILED || res->teardown_state == HOOK_TIMED_OUT) {
        if (say)
            secret_fprintf(stderr, "volley: %s: teardown failed: %s\n", say, res->hook_reason);
        if (rc == EXIT_OK || rc == EXIT_THRESHOLDS)
            rc = res->teardown_state == HOOK_TIMED_OUT ? EXIT_TEARDOWN_TIMEOUT : EXIT_HOOK_FAILED;
    }
    if (res->test_aborted && rc != EXIT_ENGINE) {
        if (say)
            secret_fprintf(stderr, "volley: test aborted: %s\n", res->abort_reason);
        rc = EXIT_ABORTED;
    }
    if (res->interrupted)
        rc = EXIT_INTERRUPTED;
    if (crash_what())
        rc = EXIT_ENGINE;
    return rc;
}

/* The thresholds, judged as soon as the run ended while its outputs are
 * still open (run_opts.judge): the verdicts go to the outputs' summary()
 * (plugin revision 5), then to the text summary and the exit code. */
typedef struct judged {
    const spec *s;
    const metrics_reg *reg;
    th_verdict *v;
    size_t failed;
    bool done;
    run_summary rs;
} judged;

static void judge_thresholds(judged *j, const run_result *res)
{
    const spec *s = j->s;
    j->failed = summary_eval_thresholds(s, j->reg, &res->agg, (double)res->duration_ns / 1e9, j->v);
    if (res->aborted && res->abort_threshold < s->n_thresholds) {
        /* It failed when it stopped the test, whatever the last samples say. */
        size_t i = res->abort_threshold;
        j->failed += !summary_fails_run(&s->thresholds[i], j->v[i]);
        j->v[i] = TH_FAIL;
    }
    j->done = true;
}

static const volley_run_summary *judge_run(void *ctx, const run_result *res, bool engine_error)
{
    judged *j = ctx;
    judge_thresholds(j, res);
    run_summary_build(&j->rs, j->s, j->reg, res, j->v,
                      run_exit_code(engine_error ? EXIT_ENGINE : EXIT_OK, res, j->failed, NULL));
    return &j->rs.pub;
}

/* --setup-data: every capture of the spec's setup: from the file, into
 * c->ro.setup_data (freed after the spec ran). 0, or -1 said. */
static int load_setup_data(cli *c, const spec *s, const char *path)
{
    if (!c->setup_data)
        return 0;
    char err[1024];
    if (s->setup_sc < 0) {
        fprintf(stderr, "volley: %s: --setup-data: the spec has no setup: whose captures it would give\n", path);
        return -1;
    }
    c->n_setup_slots = s->n_setup_names;
    char sha[65];
    result_spec_sha256(s, sha);
    if (!(c->ro.setup_data = setup_data_load(c->setup_data, sha, s->setup_names, s->n_setup_names,
                                             stderr, err, sizeof err))) {
        fprintf(stderr, "volley: %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

static int run_one(cli *c, volley_core *core, const char *path, bool *interrupted)
{
    if (reset_registry(core) != 0)
        return EXIT_ENGINE;
    int why = EXIT_INVALID;
    spec *s = load_spec(c, core, path, &why);
    if (!s)
        return why;
    char serr[256];
    c->sopt.segment = c->seg_on ? c->seg_text : NULL;
    c->sopt.sequence = c->seg_on ? c->seq_text : NULL;
    c->sopt.setup_data = c->setup_data;
    if (c->seg_on && seg_plan_apply(s, &c->seg, c->seg_text, stderr, serr, sizeof serr) != 0) {
        fprintf(stderr, "volley: %s: --execution-segment: %s\n", path, serr);
        spec_free(s);
        return EXIT_ENGINE;
    }
    if (check_fd_budget(s) != 0 || load_setup_data(c, s, path) != 0) {
        spec_free(s);
        return EXIT_INVALID;
    }
    if (c->baseline) {
        char berr[1024];
        if (baseline_apply(c->baseline, s, &core->reg, berr, sizeof berr) != 0) {
            fprintf(stderr, "volley: %s\n", berr);
            spec_free(s);
            return EXIT_INVALID;
        }
    } else if (baseline_wanted(s)) {
        fprintf(stderr, "volley: %s: thresholds relative to a baseline (\"baseline\" in the "
                "expression) are not judged without --baseline FILE (a --result file of an "
                "earlier run)\n", path);
    }
    judged j = {.s = s, .reg = &core->reg, .v = calloc(s->n_thresholds + 1, sizeof *j.v)};
    if (!j.v) {
        spec_free(s);
        return EXIT_ENGINE;
    }
    if (!c->ro.quiet)
        print_header(c, s, stdout);
    run_result res;
    char err[1024] = "";
    int rc = EXIT_OK;
    run_opts ro = c->ro;
    ro.judge = judge_run;
    ro.judge_ctx = &j;
    /* --report without --result: a temporary result, removed after the report. */
    char tmp_result[64] = "";
    const char *result_path = c->result;
    if (c->report && !result_path && report_temp_result(tmp_result, sizeof tmp_result) == 0)
        result_path = tmp_result;
    if (result_path && !(ro.result = result_open(result_path, c->result_hist, c->argc, c->argv,
                                                 err, sizeof err))) {
        fprintf(stderr, "volley: %s\n", err);
        free(j.v);
        spec_free(s);
        if (*tmp_result)
            unlink(tmp_result);
        return EXIT_ENGINE;
    }
    if (c->seg_on)
        result_set_segment(ro.result, c->seg_text, c->seq_text);
    if (c->setup_data)
        result_set_setup_data(ro.result, c->setup_data);
    /* Loading may have taken the instant away: say so rather than start late. */
    if (ro.start_at_unix_ns && start_at_check(ro.start_at_unix_ns, now_unix_ns(), err, sizeof err) != 0) {
        fprintf(stderr, "volley: %s: --start-at: %s\n", path, err);
        result_close(ro.result, err, sizeof err);
        if (*tmp_result)
            unlink(tmp_result);
        free(j.v);
        spec_free(s);
        return EXIT_INVALID;
    }
    if (engine_run(core, s, &ro, &res, err, sizeof err) != 0) {
        secret_fprintf(stderr, "volley: %s: %s\n", path, err);
        rc = EXIT_ENGINE;
    }
    run_summary_free(&j.rs);
    if (res.interrupted_before_start) {
        fprintf(stdout, "\n  interrupted before the start (--start-at %s): no load was started\n",
                c->start_at);
        *interrupted = true;
        rc = EXIT_INTERRUPTED;
    }
    if (!res.ran) {
        /* Nothing was measured (e.g. an output could not start): no
         * summary of zeros, no thresholds judged on nothing. */
        result_close(ro.result, err, sizeof err);
        if (*tmp_result)
            unlink(tmp_result);
        free(j.v);
        run_result_free(&res);
        spec_free(s);
        return rc;
    }
    if (!j.done)
        judge_thresholds(&j, &res);
    th_verdict *v = j.v;
    runall_note(c->stats, s, &core->reg, &res, v);
    /* The exit code as it will be, unless the export itself fails. */
    bool out_failed = false;
    for (size_t i = 0; i < res.n_outputs; i++)
        out_failed |= res.outputs[i].failed;
    c->sopt.exit_code = run_exit_code(out_failed ? EXIT_ENGINE : rc, &res, j.failed, NULL);
    summary_print(stdout, s, &core->reg, &res, v, &c->sopt);
    if (c->summary_export &&
        summary_export(c->summary_export, s, &core->reg, &res, v, &c->sopt, err, sizeof err) != 0) {
        secret_fprintf(stderr, "volley: %s\n", err);
        rc = EXIT_ENGINE;
    }
    const char *stats[SUMMARY_MAX_STATS];
    for (size_t k = 0; k < c->sopt.n_stats; k++)
        stats[k] = c->sopt.stats[k];
    if (c->summary_json && summary_json_write(c->summary_json, s, &core->reg, &res, v, stats,
                                              c->sopt.n_stats, &c->sopt, err, sizeof err) != 0) {
        secret_fprintf(stderr, "volley: %s\n", err);
        rc = EXIT_ENGINE;
    }
    bool crash_said = false;
    for (size_t i = 0; i < res.n_outputs; i++) {
        if (res.outputs[i].failed) {
            secret_fprintf(stderr, "volley: output %s failed: %s\n", res.outputs[i].label, res.outputs[i].err);
            crash_said |= strncmp(res.outputs[i].err, "crashed: ", 9) == 0;
            rc = EXIT_ENGINE;
        }
    }
    if (ro.result) {
        int final = run_exit_code(rc, &res, j.failed, NULL);
        result_write_end(ro.result, s, &core->reg, &res, v, final, res.health.n_behind);
        if (result_close(ro.result, err, sizeof err) != 0) {
            fprintf(stderr, "volley: %s\n", err);
            rc = EXIT_ENGINE;
        } else if (c->report && report_write(result_path, c->report, c->baseline, err, sizeof err) != 0) {
            fprintf(stderr, "volley: --report: %s\n", err);
            rc = EXIT_ENGINE;
        }
        if (*tmp_result)
            unlink(tmp_result);
    } else if (c->report) {
        fprintf(stderr, "volley: --report: no result file to report from\n");
        rc = EXIT_ENGINE;
    }
    rc = run_exit_code(rc, &res, j.failed, path);
    if (res.interrupted)
        *interrupted = true;
    if (crash_what()) {
        /* Said when it happened (crash.c); the summary above is what was
         * measured until the end of the run. */
        if (!crash_said)
            fprintf(stderr, "volley: %s: a plugin crashed: %s\n", path, crash_what());
        *interrupted = true;     /* no further specs in this process */
    }
    free(v);
    run_result_free(&res);
    if (!crash_what())   /* never call into a plugin that may be parked mid-crash */
        spec_free(s);
    return rc;
}

static const char *arena_dup(arena *a, const char *s) { return s ? arena_strdup(a, s) : NULL; }

/* Before several specs: one GET to each service with a health: path of
 * any of them (each URL once), the table as volley scan prints it.
 * Returns how many are down. A spec that does not load is left out here
 * (its run says why). */
static int scan_union(cli *c, volley_core *core, char *const *specs, int n)
{
    arena a;
    arena_init(&a);
    scan_target *t = NULL;
    const char **keys = NULL;
    size_t nt = 0;
    int down = 0;
    for (int i = 0; i < n; i++) {
        if (reset_registry(core) != 0)
            break;
        diag d;
        diag_init(&d);
        spec *s = spec_load(specs[i], &c->so, &core->plugins, &core->reg, &core->host, core, &d);
        diag_free(&d);   /* said again, with the spec's exit code, when it runs */
        for (size_t j = 0; s && j < s->n_services; j++) {
            const service *sv = &s->services[j];
            if (!sv->health || !*sv->health)
                continue;
            const char *key = arena_printf(&a, "%s%s%s", sv->url, sv->health[0] == '/' ? "" : "/", sv->health);
            size_t k = 0;
            while (k < nt && strcmp(keys[k], key) != 0)
                k++;
            if (k < nt)
                continue;
            scan_target *nt2 = realloc(t, (nt + 1) * sizeof *t);
            const char **nk = nt2 ? realloc(keys, (nt + 1) * sizeof *keys) : NULL;
            if (nt2)
                t = nt2;
            if (!nk)
                break;
            keys = nk;
            spec_tls tls = scan_merged_tls(s, sv);
            tls.ca_file = arena_dup(&a, tls.ca_file);
            tls.client_cert = arena_dup(&a, tls.client_cert);
            tls.client_key = arena_dup(&a, tls.client_key);
            tls.server_name = arena_dup(&a, tls.server_name);
            t[nt] = (scan_target){.name = arena_dup(&a, sv->name), .url = arena_dup(&a, sv->url),
                                  .health = arena_dup(&a, sv->health), .tls = tls};
            keys[nt++] = key;
        }
        if (s)
            spec_free(s);
    }
    if (nt == 0) {
        printf("volley: no service of these specs has a health: path; nothing to scan\n");
    } else {
        char title[96];
        snprintf(title, sizeof title, "health of the services of %d spec%s", n, n == 1 ? "" : "s");
        down = scan_targets(title, t, nt, stdout, 5000);
    }
    fflush(stdout);
    free(t);
    free(keys);
    arena_free(&a);
    return down;
}

/* Two specs of one NAME would write the same files in --results-dir. */
static int same_stems(char *const *specs, char *const *stems, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(stems[i], stems[j]) == 0) {
                fprintf(stderr, "volley: --results-dir: %s and %s would write the same files (%s.*); "
                        "rename one\n", specs[j], specs[i], stems[i]);
                return -1;
            }
    return 0;
}

/*
 * volley run SPEC|DIR...: each spec in turn (run_one). With several specs
 * (or a directory) their services' health is scanned first (scan_union,
 * unless --no-scan) and a table ends the run. --results-dir adds per spec
 * json-out, the summary export, the summary JSON and junit (when a plugin
 * of that name is loaded). The exit code is the worst by severity
 * (runall_worse); an interrupt or a plugin crash stops the specs after it.
 */
static int cmd_run(cli *c)
{
    char **specs = NULL;
    int n = 0;
    bool dirs = false;
    if (runall_expand(c->specs, c->n_specs, &specs, &n, &dirs) != 0)
        return EXIT_INVALID;
    bool several = n > 1 || dirs;
    volley_core core;
    char err[512];
    if (core_init(&core, err, sizeof err) != 0) {
        fprintf(stderr, "volley: %s\n", err);
        runall_free_list(specs, n);
        return EXIT_ENGINE;
    }
    core.verbose = c->verbose;
    int *rcs = calloc((size_t)n, sizeof *rcs);
    runall_stats *st = calloc((size_t)n, sizeof *st);
    char **stems = calloc((size_t)n, sizeof *stems);
    const char **outs = malloc((c->n_outs + 2) * sizeof *outs);
    int worst = EXIT_OK, n_ran = 0;
    bool interrupted = false;
    if (!rcs || !st || !stems || !outs) {
        fprintf(stderr, "volley: out of memory\n");
        worst = EXIT_ENGINE;
        goto done;
    }
    if (c->setup_data && n > 1) {
        fprintf(stderr, "volley: --setup-data gives one spec's setup captures; %d specs were given\n", n);
        worst = EXIT_INVALID;
        goto done;
    }
    if (c->results_dir) {
        for (int i = 0; i < n; i++)
            if (!(stems[i] = runall_stem(specs[i]))) {
                worst = EXIT_ENGINE;
                goto done;
            }
        if (same_stems(specs, stems, n) != 0) {
            worst = EXIT_INVALID;
            goto done;
        }
        if (runall_mkdir(c->results_dir, err, sizeof err) != 0) {
            fprintf(stderr, "volley: %s\n", err);
            worst = EXIT_INVALID;
            goto done;
        }
    }
    if (c->start_at && n > 1) {
        fprintf(stderr, "volley: --start-at starts one spec at an instant; %d specs were given\n", n);
        worst = EXIT_INVALID;
        goto done;
    }
    worst = load_plugins(c, &core, true);
    if (worst != EXIT_OK)
        goto done;
    if (several && !c->no_scan) {
        int down = scan_union(c, &core, specs, n);
        if (down > 0) {
            fprintf(stderr, "volley: %d service%s not up: no spec was run (--no-scan runs them anyway)\n",
                    down, down == 1 ? " is" : "s are");
            worst = EXIT_SCAN_DOWN;
            goto done;
        }
    }
    bool junit = c->results_dir && plug_find_output(&core.plugins, "junit");
    const char *user_summary = c->summary_export, *user_summary_json = c->summary_json;
    const char *user_result = c->result, *user_report = c->report;
    for (int i = 0; i < n && !interrupted; i++) {
        enum { N_EXTRA = 6 };
        char *extra[N_EXTRA] = {NULL};
        size_t n_outs = c->n_outs;
        if (c->n_outs)   /* c->outs is NULL without --out */
            memcpy(outs, c->outs, c->n_outs * sizeof *outs);
        if (c->results_dir) {
            const char *d = c->results_dir;
            size_t len = strlen(d) + strlen(stems[i]) + 32;
            bool ok = true;
            for (int k = 0; k < N_EXTRA; k++)
                ok &= (extra[k] = malloc(len)) != NULL;
            if (!ok) {
                for (int k = 0; k < N_EXTRA; k++)
                    free(extra[k]);
                worst = runall_worse(worst, EXIT_ENGINE);
                break;
            }
            snprintf(extra[0], len, "json-out=%s/%s.ndjson", d, stems[i]);
            snprintf(extra[1], len, "%s/%s-summary.json", d, stems[i]);
            snprintf(extra[2], len, "junit=%s/%s.junit.xml", d, stems[i]);
            snprintf(extra[3], len, "%s/%s-summary-data.json", d, stems[i]);
            snprintf(extra[4], len, "%s/%s-result.ndjson", d, stems[i]);
            snprintf(extra[5], len, "%s/%s-report.html", d, stems[i]);
            outs[n_outs++] = extra[0];
            if (junit)
                outs[n_outs++] = extra[2];
            if (!user_summary)
                c->summary_export = extra[1];
            if (!user_summary_json)
                c->summary_json = extra[3];
            if (!user_result)
                c->result = extra[4];
            if (!user_report)
                c->report = extra[5];
        }
        c->so.outs = outs;
        c->so.n_outs = n_outs;
        c->stats = &st[i];
        if (several)
            printf("\nvolley: spec %d of %d: %s\n", i + 1, n, specs[i]);
        fflush(stdout);
        rcs[i] = run_one(c, &core, specs[i], &interrupted);
        setup_data_free(c->ro.setup_data, c->n_setup_slots);
        c->ro.setup_data = NULL;
        n_ran++;
        worst = runall_worse(worst, rcs[i]);
        c->summary_export = user_summary;
        c->summary_json = user_summary_json;
        c->result = user_result;
        c->report = user_report;
        for (int k = 0; k < N_EXTRA; k++)
            free(extra[k]);
    }
    c->so.outs = c->outs;
    c->so.n_outs = c->n_outs;
    c->stats = NULL;
    if (several && n_ran > 0)
        runall_table(stdout, specs, rcs, st, n, n_ran, worst);
done:
    core_free(&core);
    free(outs);
    for (int i = 0; stems && i < n; i++)
        free(stems[i]);
    free(stems);
    free(st);
    free(rcs);
    runall_free_list(specs, n);
    return worst;
}

/* volley setup SPEC -o FILE / volley teardown SPEC --setup-data FILE:
 * one hook of the spec, no scenarios, no summary (scale-out: setup once,
 * every instance runs with its captures, teardown once at the end). */
static int cmd_hook(cli *c, int which)
{
    bool setup = which == RUN_SETUP_ONLY;
    if (c->n_specs != 1 || (setup && c->n_outs != 1) || (!setup && c->n_outs)) {
        fprintf(stderr, setup ? "volley setup: expected one SPEC and -o FILE\n"
                              : "volley teardown: expected one SPEC (and --setup-data FILE)\n");
        return EXIT_INVALID;
    }
    const char *path = c->specs[0], *out = setup ? c->outs[0] : NULL;
    c->so.outs = NULL;   /* -o is the setup file here, not an output */
    c->so.n_outs = 0;
    volley_core core;
    char err[1024] = "";
    if (core_init(&core, err, sizeof err) != 0) {
        fprintf(stderr, "volley: %s\n", err);
        return EXIT_ENGINE;
    }
    core.verbose = c->verbose;
    int rc = load_plugins(c, &core, true);
    spec *s = NULL;
    if (rc == EXIT_OK && (rc = reset_registry(&core)) == EXIT_OK && !(s = load_spec(c, &core, path, &rc)))
        goto done;
    if (rc != EXIT_OK)
        goto done;
    int hook = setup ? s->setup_sc : s->teardown_sc;
    if (hook < 0 || (setup && c->setup_data) || (!setup && s->setup_sc >= 0 && !c->setup_data)) {
        fprintf(stderr, "volley: %s: %s\n", path,
                hook < 0 ? (setup ? "the spec has no setup: to run" : "the spec has no teardown: to run")
                : setup  ? "volley setup makes the setup data; --setup-data does not go with it"
                         : "its teardown reads setup's captures: give them with --setup-data FILE");
        rc = EXIT_INVALID;
        goto done;
    }
    if (load_setup_data(c, s, path) != 0) {
        rc = EXIT_INVALID;
        goto done;
    }
    run_opts ro = c->ro;
    ro.hooks_only = which;
    ro.quiet = true;
    run_result res;
    if (engine_run(&core, s, &ro, &res, err, sizeof err) != 0) {
        secret_fprintf(stderr, "volley: %s: %s\n", path, err);
        rc = EXIT_ENGINE;
    }
    rc = run_exit_code(rc, &res, 0, path);
    if (setup && rc == EXIT_OK) {
        FILE *f = res.setup_json ? fopen(out, "w") : NULL;
        bool ok = f && fputs(res.setup_json, f) >= 0 && fputc('\n', f) != EOF;
        if (f && fclose(f) != 0)
            ok = false;
        if (ok) {
            printf("volley: %s: setup ran once; its %zu capture%s written to %s (volley run --setup-data %s)\n",
                   path, s->n_setup_names, s->n_setup_names == 1 ? "" : "s", out, out);
        } else {
            fprintf(stderr, "volley: setup -o %s: %s\n", out, res.setup_json ? strerror(errno) : "out of memory");
            rc = EXIT_ENGINE;
        }
    } else if (rc == EXIT_OK) {
        printf("volley: %s: teardown ran\n", path);
    }
    run_result_free(&res);
    setup_data_free(c->ro.setup_data, c->n_setup_slots);
    c->ro.setup_data = NULL;
done:
    if (s)
        spec_free(s);
    core_free(&core);
    return rc;
}

static int cmd_plugins(cli *c)
{
    volley_core core;
    char err[256];
    if (core_init(&core, err, sizeof err) != 0)
        return EXIT_ENGINE;
    int rc = load_plugins(c, &core, false);
    if (rc == 0) {
        const plug_set *ps = &core.plugins;
        printf("%-16s %-9s %-8s %-5s %s\n", "NAME", "KIND", "VERSION", "ABI", "PATH");
        for (size_t i = 0; i < ps->n; i++) {
            const plug *p = &ps->items[i];
            char abi[24];
            snprintf(abi, sizeof abi, "%u.%u", p->desc->abi, p->desc->revision);
            printf("%-16s %-9s %-8s %-5s %s\n", p->desc->name, plug_kind_name(p->desc->kind),
                   p->desc->version, abi, p->path);
            if (!c->verbose)
                continue;
            if (p->desc->description)
                printf("    %s\n", p->desc->description);
            if (p->desc->kind == VOLLEY_KIND_CHECK)
                for (size_t k = 0; k < p->desc->check->n_keys; k++)
                    printf("    check key: %s\n", p->desc->check->keys[k].key);
            if (p->desc->kind == VOLLEY_KIND_PROTOCOL)
                printf("    step key: %s\n", p->desc->protocol->step_key);
        }
        for (size_t i = 0; i < ps->n_broken; i++) {
            const plug_broken *b = &ps->broken[i];
            printf("%-16s %-9s %-8s %-5s %s\n", b->name ? b->name : "?",
                   b->kind ? plug_kind_name(b->kind) : "?", "BROKEN", "-", b->path);
            printf("    %s\n", b->reason);
        }
        if (ps->n == 0)
            printf("(no plugins found; set --plugin-path or VOLLEY_PLUGIN_PATH)\n");
        if (c->verbose || ps->n == 0) {
            printf("searched, in this order (the first plugin of a name wins):\n");
            for (size_t i = 0; i < ps->n_dirs; i++) {
                const plug_dir *d = &ps->dirs[i];
                if (d->exists)
                    printf("  %s  (%s; %zu plugin file%s)\n", d->path, d->why, d->found,
                           d->found == 1 ? "" : "s");
                else
                    printf("  %s  (%s; missing)\n", d->path, d->why);
            }
        }
    }
    core_free(&core);
    return rc;
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_INVALID;
    }
    cli c = {.cmd = argv[1], .argc = argc, .argv = argv};
    summary_opts_init(&c.sopt);
    if (strcmp(c.cmd, "-h") == 0 || strcmp(c.cmd, "--help") == 0 || strcmp(c.cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(c.cmd, "version") == 0 || strcmp(c.cmd, "--version") == 0) {
        printf("volley %s (plugin ABI %u.%u, %s)\n", VOLLEY_VERSION, VOLLEY_ABI_VERSION, VOLLEY_ABI_REVISION,
               curl_version());
        return 0;
    }
    /* Commands over result files have options of their own (report.c, compare.c). */
    if (strcmp(c.cmd, "report") == 0)
        return report_main(argc - 1, argv + 1);
    if (strcmp(c.cmd, "compare") == 0)
        return compare_main(argc - 1, argv + 1);
    if (strcmp(c.cmd, "merge") == 0)
        return merge_main(argc - 1, argv + 1);
    int rc;
    if (parse_args(&c, argc - 1, argv + 1) != 0) {
        rc = EXIT_INVALID;
        goto out;
    }
    /* Process-wide setup before any thread starts (deps-notes 1.2.8, 4). */
    signal(SIGPIPE, SIG_IGN);
    crash_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object_seed(c.seed_set ? (size_t)c.seed : 0);
    /* Without --seed a run still has a seed (the summary prints it), so
     * any run's random choices can be repeated. */
    c.ro.seed = c.seed_set ? (uint64_t)c.seed : fresh_seed();
    if (strcmp(c.cmd, "run") == 0 || strcmp(c.cmd, "validate") == 0 || strcmp(c.cmd, "scan") == 0) {
        if (c.n_specs == 0) {
            fprintf(stderr, "volley %s: expected at least one SPEC file\n", c.cmd);
            rc = EXIT_INVALID;
        } else {
            rc = strcmp(c.cmd, "run") == 0        ? cmd_run(&c)
                 : strcmp(c.cmd, "scan") == 0 ? cmd_scan(&c)
                                              : cmd_validate(&c);
        }
    } else if (strcmp(c.cmd, "setup") == 0 || strcmp(c.cmd, "teardown") == 0) {
        rc = cmd_hook(&c, strcmp(c.cmd, "setup") == 0 ? RUN_SETUP_ONLY : RUN_TEARDOWN_ONLY);
    } else if (strcmp(c.cmd, "plugins") == 0) {
        rc = cmd_plugins(&c);
    } else {
        fprintf(stderr, "volley: unknown command \"%s\" (run, validate, scan, setup, teardown, report, compare, merge, plugins, version)\n", c.cmd);
        rc = EXIT_INVALID;
    }
    curl_global_cleanup();
    if (crash_what()) {
        /* A thread is parked inside a crashed plugin: end without running
         * destructors or unloading it. */
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
out:
    free(c.env);
    free(c.outs);
    free(c.only);
    free(c.plugin_dirs);
    free(c.stages);
    free(c.tags);
    seg_tuple_free(&c.seg);
    return rc;
}
