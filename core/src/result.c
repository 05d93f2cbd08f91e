/*
 * result: the result file's lines (docs/results-format.md is the contract;
 * a change here changes it too).
 */
#include "result.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/evp.h>

#include "engine.h"
#include "stages.h"
#include "summary.h"

#ifndef VOLLEY_VERSION
#define VOLLEY_VERSION "0.0.0"
#endif

struct result_file {
    char *path;
    FILE *fp;                  /* plain, or */
    gzFile gz;                 /*   gzip */
    bool hist;                 /* windows carry histograms */
    int argc;
    char *const *argv;
    char *segment, *sequence;  /* --execution-segment, or NULL */
    char *setup_data;          /* --setup-data F: setup did not run here */
    bool wrote;                /* a line: the load started */
    char failed[512];
};

void result_set_segment(result_file *f, const char *segment, const char *sequence)
{
    if (!f)
        return;
    free(f->segment);
    free(f->sequence);
    free(f->setup_data);
    f->segment = strdup(segment);
    f->sequence = strdup(sequence);
}

void result_set_setup_data(result_file *f, const char *path)
{
    if (!f)
        return;
    free(f->setup_data);
    f->setup_data = strdup(path);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

result_file *result_open(const char *path, bool histograms, int argc, char *const *argv,
                         char *err, size_t errcap)
{
    result_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        snprintf(err, errcap, "--result %s: out of memory", path);
        return NULL;
    }
    f->hist = histograms;
    f->argc = argc;
    f->argv = argv;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        snprintf(err, errcap, "--result %s: cannot create it: %s", path, strerror(errno));
        free(f->path);
        free(f);
        return NULL;
    }
    if (ends_with(path, ".gz")) {
        /* gzdopen takes the descriptor; the FILE is dropped without closing it. */
        int fd = dup(fileno(fp));
        fclose(fp);
        if (fd < 0 || !(f->gz = gzdopen(fd, "wb6"))) {
            snprintf(err, errcap, "--result %s: cannot start gzip: out of memory", path);
            free(f->path);
            free(f);
            return NULL;
        }
    } else {
        f->fp = fp;
    }
    return f;
}

int result_close(result_file *f, char *err, size_t errcap)
{
    if (!f)
        return 0;
    if (f->fp && fclose(f->fp) != 0 && !*f->failed)
        snprintf(f->failed, sizeof f->failed, "--result %s: %s", f->path, strerror(errno));
    if (f->gz && gzclose(f->gz) != Z_OK && !*f->failed)
        snprintf(f->failed, sizeof f->failed, "--result %s: gzip close failed", f->path);
    int rc = *f->failed ? -1 : 0;
    if (rc)
        snprintf(err, errcap, "%s", f->failed);
    /* No load (interrupted while waiting for --start-at, an error before
     * the start): no file, rather than an empty one that `volley merge`
     * cannot read; the merge then names the segment as missing. */
    if (!f->wrote)
        unlink(f->path);
    free(f->path);
    free(f->segment);
    free(f->sequence);
    free(f->setup_data);
    free(f);
    return rc;
}

/* One line, flushed (a sync flush for gzip: what is written can be read
 * back even if the process dies). Takes the reference of o. */
static void put_line(result_file *f, json_t *o)
{
    if (!o) {
        if (!*f->failed)
            snprintf(f->failed, sizeof f->failed, "--result %s: out of memory", f->path);
        return;
    }
    if (*f->failed) {
        json_decref(o);
        return;
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!text) {
        snprintf(f->failed, sizeof f->failed, "--result %s: out of memory", f->path);
        return;
    }
    size_t n = strlen(text);
    bool ok;
    if (f->gz)
        ok = gzwrite(f->gz, text, (unsigned)n) == (int)n && gzwrite(f->gz, "\n", 1) == 1 &&
             gzflush(f->gz, Z_SYNC_FLUSH) == Z_OK;
    else
        ok = fwrite(text, 1, n, f->fp) == n && fputc('\n', f->fp) != EOF && fflush(f->fp) == 0;
    free(text);
    f->wrote = true;   /* even a failed write: the file is not ours to remove then */
    if (!ok)
        snprintf(f->failed, sizeof f->failed, "--result %s: write failed: %s", f->path,
                 errno ? strerror(errno) : "I/O error");
}

static void iso_time(int64_t unix_ns, char *buf, size_t cap)
{
    time_t sec = (time_t)(unix_ns / 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03dZ", base, (int)(unix_ns / 1000000 % 1000));
}

static const char *const type_names[] = {"?", "counter", "gauge", "rate", "trend"};
static const char *const contains_names[] = {"default", "time", "data"};

static const char *type_name(volley_metric_type t)
{
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "?";
}

static const char *contains_name(volley_metric_contains c)
{
    return (unsigned)c < sizeof contains_names / sizeof *contains_names ? contains_names[c] : "default";
}

/* {"k": "v", ...} from "metric{k:v,k2:v2}" as the registry names series. */
static json_t *series_tags(const char *name)
{
    json_t *o = json_object();
    const char *b = strchr(name, '{');
    if (!b)
        return o;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", b + 1);
    char *close = strrchr(buf, '}');
    if (close)
        *close = '\0';
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(kv, ':');
        if (!colon)
            continue;
        *colon = '\0';
        json_object_set_new(o, kv, json_string(colon + 1));
    }
    return o;
}

static const char *series_kind(const series_def *sd)
{
    if (sd->hidden)
        return sd->metric == BUILTIN_CAPTURES ? "capture" : "check";
    if (sd->breakdown || sd->per_scenario)
        return "breakdown";
    return sd->n_filters ? "submetric" : "metric";
}

/* Adds a file's bytes to the digest: false when it cannot be read. */
static bool digest_file(EVP_MD_CTX *c, const char *path)
{
    FILE *fp = path ? fopen(path, "rb") : NULL;
    if (!fp)
        return false;
    unsigned char buf[8192];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(buf, 1, sizeof buf, fp)) > 0)
        ok = EVP_DigestUpdate(c, buf, n) == 1;
    ok = ok && !ferror(fp);
    fclose(fp);
    return ok;
}

void result_spec_sha256(const spec *s, char out[65])
{
    out[0] = '\0';
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 && digest_file(c, s->path);
    for (size_t i = 0; ok && i < s->includes.n_files; i++)
        ok = digest_file(c, s->includes.files[i]);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    ok = ok && EVP_DigestFinal_ex(c, md, &len) == 1;
    for (unsigned i = 0; ok && i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(c);
}

void result_write_meta(result_file *f, const spec *s, const metrics_reg *reg,
                       int64_t start_unix_ns, uint64_t seed, int workers, int cores,
                       double window_s)
{
    if (!f)
        return;
    char start[40];
    iso_time(start_unix_ns, start, sizeof start);
    json_t *cmd = json_array();
    for (int i = 0; i < f->argc; i++)
        json_array_append_new(cmd, json_string(f->argv[i]));
    json_t *tags = json_object();
    for (size_t i = 0; i < reg->n_run_tags; i++)
        json_object_set_new(tags, reg->run_tags[i].key, json_string(reg->run_tags[i].value));
    json_t *metrics = json_object();
    for (size_t i = 0; i < reg->n_metrics; i++) {
        const volley_metric_info *m = &reg->metrics[i].info;
        json_object_set_new(metrics, m->name, json_pack("{s:s, s:s}", "type", type_name(m->type),
                                                        "contains", contains_name(m->contains)));
    }
    json_t *series = json_array();
    for (size_t i = 0; i < reg->n_series; i++) {
        const series_def *sd = &reg->series[i];
        json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:s}", "id", (json_int_t)i, "key", sd->name,
                              "metric", reg->metrics[sd->metric].info.name, "tags",
                              series_tags(sd->name), "kind", series_kind(sd));
        if (sd->hidden) {
            json_object_set_new(o, "check", json_string(sd->check_name ? sd->check_name : ""));
            json_object_set_new(o, "group", json_string(sd->check_group ? sd->check_group : ""));
        }
        json_array_append_new(series, o);
    }
    json_t *scs = json_array();
    for (size_t i = 0; i < s->n_scenarios; i++) {
        const scenario *sc = &s->scenarios[i];
        json_t *o = json_pack("{s:s, s:s, s:f, s:f, s:I}", "name", sc->name,
                              "executor", executor_name(sc->executor),
                              "start_s", (double)sc->start_time_ns / 1e9,
                              "duration_s", (double)scenario_length_ns(sc) / 1e9,
                              "max_vus", (json_int_t)scenario_max_vus(sc));
        if (o && sc->role == SC_ROLE_SETUP && f->setup_data)
            json_object_set_new(o, "setup_data", json_string(f->setup_data));
        json_array_append_new(scs, o);
    }
    json_t *ths = json_array();
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const threshold *t = &s->thresholds[i];
        json_array_append_new(ths, json_pack("{s:I, s:s, s:s, s:I, s:s, s:b}", "i", (json_int_t)i,
                                             "key", t->key, "metric",
                                             reg->metrics[t->metric].info.name, "series",
                                             (json_int_t)t->series, "expr", t->source,
                                             "abort_on_fail", t->abort_on_fail));
    }
    char sha[65];
    result_spec_sha256(s, sha);
    json_t *hist = json_pack("{s:s, s:i, s:i, s:i}", "geometry", "volley-hdr-1", "half_log2",
                             HDR_HALF_LOG2, "max_log2", HDR_MAX_LOG2, "scale", 1000);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:{s:s, s:s, s:s}, s:o, s:s, s:I, s:I, s:i, s:i, "
                          "s:o, s:f, s:o, s:o, s:o, s:o, s:o}",
                          "type", "meta", "format", "volley-result", "version", 1,
                          "volley", VOLLEY_VERSION, "spec", "name", s->name ? s->name : "",
                          "path", s->path ? s->path : "", "sha256", sha, "command", cmd, "start", start,
                          "start_unix_ms", (json_int_t)(start_unix_ns / 1000000),
                          "seed", (json_int_t)seed, "workers", workers, "cores", cores,
                          "run_tags", tags, "window_s", window_s, "hist", hist,
                          "metrics", metrics, "series", series, "scenarios", scs,
                          "thresholds", ths);
    if (o && f->segment && f->sequence) {
        json_object_set_new(o, "segment", json_string(f->segment));
        json_object_set_new(o, "sequence", json_string(f->sequence));
    }
    put_line(f, o);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* [[slot, count], ...] of a trend: its histogram, or its exact values put
 * in the histogram's slots. */
static json_t *hist_json(const series_agg *a)
{
    json_t *h = json_array();
    if (a->count > a->exact_cap) {
        for (uint32_t i = 0; i < HDR_SLOTS; i++)
            if (a->hist->counts[i])
                json_array_append_new(h, json_pack("[I, I]", (json_int_t)i,
                                                   (json_int_t)a->hist->counts[i]));
        return h;
    }
    uint32_t *idx = malloc(a->count * sizeof *idx + 1);
    if (!idx)
        return h;
    for (uint64_t i = 0; i < a->count; i++)
        idx[i] = hdr_index_of(trend_micro(a->exact[i]));
    qsort(idx, a->count, sizeof *idx, cmp_u32);
    for (uint64_t i = 0; i < a->count;) {
        uint64_t j = i;
        while (j < a->count && idx[j] == idx[i])
            j++;
        json_array_append_new(h, json_pack("[I, I]", (json_int_t)idx[i], (json_int_t)(j - i)));
        i = j;
    }
    free(idx);
    return h;
}

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *series_state(const metrics_reg *reg, const series_agg *a, uint32_t metric, bool hist)
{
    switch (reg->metrics[metric].info.type) {
    case VOLLEY_METRIC_COUNTER:
        return json_pack("{s:I, s:o}", "n", (json_int_t)a->count, "sum", num(a->sum));
    case VOLLEY_METRIC_RATE:
        return json_pack("{s:I, s:I}", "n", (json_int_t)a->count, "nz", (json_int_t)a->nonzero);
    case VOLLEY_METRIC_GAUGE:
        return json_pack("{s:I, s:o, s:o, s:o}", "n", (json_int_t)a->count, "min", num(a->min),
                         "max", num(a->max), "last", num(a->last));
    case VOLLEY_METRIC_TREND: {
        double avg = agg_trend_stat(a, "avg");
        json_t *p = json_pack("{s:o, s:o, s:o, s:o}", "50", num(agg_trend_stat(a, "med")),
                              "90", num(agg_trend_stat(a, "p(90)")), "95",
                              num(agg_trend_stat(a, "p(95)")), "99", num(agg_trend_stat(a, "p(99)")));
        json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "n", (json_int_t)a->count, "sum",
                              num(avg * (double)a->count), "min", num(agg_trend_stat(a, "min")),
                              "max", num(agg_trend_stat(a, "max")), "avg", num(avg), "p", p);
        if (hist && o)
            json_object_set_new(o, "h", hist_json(a));
        return o;
    }
    }
    return json_null();
}

static json_t *states(const metrics_reg *reg, const metrics_agg *agg, bool hist)
{
    json_t *o = json_object();
    for (size_t i = 0; i < reg->n_series && i < agg->n; i++) {
        const series_agg *a = &agg->s[i];
        if (a->count == 0)
            continue;
        char id[24];
        snprintf(id, sizeof id, "%zu", i);
        json_object_set_new(o, id, series_state(reg, a, reg->series[i].metric, hist));
    }
    return o;
}

static json_t *opt_num(double v) { return v < 0 ? json_null() : num(v); }

void result_write_window(result_file *f, const metrics_reg *reg, const metrics_agg *win,
                         const window_health *h, int64_t vus, int64_t vus_max)
{
    if (!f || *f->failed)
        return;
    json_t *runner = json_pack("{s:I, s:I, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:b}",
                               "vus", (json_int_t)vus, "vus_max", (json_int_t)vus_max,
                               "cpu_s", num(h->cpu_s), "cpu_pct", num(h->cpu_pct),
                               "cores", h->cores, "busiest_worker_pct", opt_num(h->busiest_pct),
                               "lag_p95_ms", opt_num(h->lag_p95_ms),
                               "lag_max_ms", opt_num(h->lag_max_ms), "dropped", num(h->dropped),
                               "drop_cause", h->drop_cause ? json_string(h->drop_cause) : json_null(),
                               "behind", h->behind);
    put_line(f, json_pack("{s:s, s:f, s:f, s:o, s:o}", "type", "window", "t0", h->t0, "t1", h->t1,
                          "s", states(reg, win, f->hist), "runner", runner));
}

static const char *verdict_name(th_verdict v)
{
    return v == TH_PASS ? "pass" : v == TH_FAIL ? "fail" : "no_data";
}

void result_write_end(result_file *f, const spec *s, const metrics_reg *reg,
                      const run_result *r, const th_verdict *v, int exit_code,
                      size_t windows_behind)
{
    if (!f || *f->failed)
        return;
    double dur = (double)r->duration_ns / 1e9;
    char end[40];
    iso_time(r->start_unix_ns + r->duration_ns, end, sizeof end);
    json_t *ths = json_array();
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const threshold *t = &s->thresholds[i];
        const series_agg *a = &r->agg.s[t->series];
        char judged[128];
        summary_fmt_judged(reg, t, a, dur, judged, sizeof judged);
        bool none = v[i] == TH_NO_DATA;
        json_array_append_new(ths, json_pack("{s:I, s:s, s:o, s:s}", "i", (json_int_t)i, "verdict",
                                             verdict_name(v[i]), "value",
                                             none ? json_null()
                                                  : num(summary_agg_value(reg, a, t->metric, &t->expr, dur)),
                                             "judged", none ? "no data" : judged));
    }
    json_t *checks = json_array(), *captures = json_array();
    for (size_t i = 0; i < reg->n_series; i++) {
        const series_def *sd = &reg->series[i];
        if (!sd->hidden)
            continue;
        const series_agg *a = &r->agg.s[i];
        const char *why = r->check_fail && i < r->n_check_fail ? r->check_fail[i] : NULL;
        json_array_append_new(sd->metric == BUILTIN_CAPTURES ? captures : checks,
                              json_pack("{s:I, s:s, s:s, s:I, s:I, s:o}", "series",
                                        (json_int_t)i, "group",
                                        sd->check_group ? sd->check_group : "", "name",
                                        sd->check_name ? sd->check_name : "", "passes",
                                        (json_int_t)a->nonzero, "fails",
                                        (json_int_t)(a->count - a->nonzero), "first_failure",
                                        why ? json_string(why) : json_null()));
    }
    const char *reason = r->aborted && r->abort_threshold < s->n_thresholds
                             ? s->thresholds[r->abort_threshold].source
                             : r->test_aborted ? r->abort_reason : "";
    json_t *stages = stages_json(s, reg, r);
    json_t *o = json_pack("{s:s, s:s, s:f, s:b, s:b, s:s, s:s, s:i, s:{s:I, s:I}, s:I, s:f, s:I, "
                          "s:o, s:o, s:o, s:o, s:o}",
                          "type", "end", "end", end, "duration_s", dur, "interrupted",
                          r->interrupted, "aborted", r->aborted || r->test_aborted,
                          "abort_reason", reason,
                          "verdict", exit_code == 0 ? "pass" : exit_code == 99 ? "fail" : "error",
                          "exit_code", exit_code, "iterations", "complete",
                          (json_int_t)r->iterations_complete, "interrupted",
                          (json_int_t)r->iterations_interrupted, "vus_max", (json_int_t)r->vus_max,
                          "cpu_s", r->cpu_s, "windows_behind", (json_int_t)windows_behind,
                          "totals", states(reg, &r->agg, true), "thresholds", ths, "checks", checks,
                          "captures", captures, "stages", stages ? stages : json_null());
    put_line(f, o);
}
