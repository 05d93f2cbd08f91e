/*
 * merge_write: the merged result file (`volley merge --result F`), in the
 * format of docs/results-format.md, so `volley report` and `volley merge`
 * read it as a run's: a meta line (the first file's spec, the union's
 * series under new ids, the merged files), the merged timeline's windows
 * and an end line with every series' merged state and the verdicts.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "merge_int.h"

#ifndef VOLLEY_VERSION
#define VOLLEY_VERSION "0.0.0"
#endif

static json_t *num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* counts as result.c writes them: integers */
static json_t *cnt(double v)
{
    return isfinite(v) && v == trunc(v) && fabs(v) < 9007199254740992.0 ? json_integer((json_int_t)v) : num(v);
}

static void iso_ms(double unix_ms, char *buf, size_t cap)
{
    time_t sec = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03dZ", base, (int)fmod(unix_ms, 1000));
}

static const char *kind_text(rr_kind k) { return result_kind_name(k); }

static json_t *hist_json(const rr_slot *s, size_t n)
{
    json_t *h = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(h, json_pack("[I, I]", (json_int_t)s[i].slot, (json_int_t)s[i].count));
    return h;
}

/* One series' state as result.c writes it (p: percentiles when known). */
static json_t *state(const rr_series *d, const rr_stat *t, const rr_slot *hs, size_t hn)
{
    switch (d->type) {
    case RR_COUNTER:
        return json_pack("{s:o, s:o}", "n", cnt(t->n), "sum", num(t->sum));
    case RR_RATE:
        return json_pack("{s:o, s:o}", "n", cnt(t->n), "nz", cnt(t->nz));
    case RR_GAUGE:
        return json_pack("{s:o, s:o, s:o, s:o}", "n", cnt(t->n), "min", num(t->min), "max", num(t->max),
                         "last", num(t->last));
    default: {
        json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o}", "n", cnt(t->n), "sum", num(t->sum), "min",
                              num(t->min), "max", num(t->max), "avg",
                              num(t->n > 0 ? t->sum / t->n : 0));
        if (o && (t->has & RR_HAS_P))
            json_object_set_new(o, "p", json_pack("{s:o, s:o, s:o, s:o}", "50", num(t->p[RR_P50]),
                                                  "90", num(t->p[RR_P90]), "95", num(t->p[RR_P95]),
                                                  "99", num(t->p[RR_P99])));
        if (o && hs)
            json_object_set_new(o, "h", hist_json(hs, hn));
        return o;
    }
    }
}

static json_t *str_list(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *meta_line(const merged *m)
{
    const result *r0 = &m->in[0];
    char start[40];
    iso_ms(m->start_unix_ms, start, sizeof start);
    json_t *cmd = json_array(), *files = json_array(), *tags = json_object();
    for (size_t i = 0; i < r0->n_command; i++)
        json_array_append_new(cmd, json_string(r0->command[i]));
    for (size_t i = 0; i < m->n_in; i++) {
        const result *r = &m->in[i];
        json_t *f = json_pack("{s:s, s:s, s:b}", "path", r->path, "start", r->start ? r->start : "",
                              "complete", r->complete);
        if (f && r->segment)
            json_object_set_new(f, "segment", json_string(r->segment));
        else if (f && r->n_segments)
            json_object_set_new(f, "segments", str_list((const char *const *)r->segments, r->n_segments));
        json_array_append_new(files, f);
    }
    /* the instances are the meta's "instances": not one run tag */
    for (size_t i = 0; i < r0->n_run_tags; i++)
        if (!m->n_instances || strcmp(r0->run_tags[i].name, "instance") != 0)
            json_object_set_new(tags, r0->run_tags[i].name, json_string(r0->run_tags[i].value));
    json_t *metrics = json_object(), *series = json_array();
    for (size_t i = 0; i < m->n_s; i++) {
        const rr_series *d = m->s[i].def;
        json_object_set_new(metrics, d->metric, json_pack("{s:s, s:s}", "type", result_type_name(d->type),
                                                          "contains", result_contains_name(d->contains)));
        json_t *st = json_object();
        bool item = d->kind == RR_CHECK || d->kind == RR_CAPTURE;
        for (size_t k = 0; !item && k < d->n_tags; k++)
            json_object_set_new(st, d->tags[k].name, json_string(d->tags[k].value));
        json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:s}", "id", (json_int_t)i, "key", d->key,
                              "metric", d->metric, "tags", st, "kind", kind_text(d->kind));
        if (o && item) {
            const char *c = result_tag(d, "check"), *g = result_tag(d, "group");
            json_object_set_new(o, "check", json_string(c ? c : ""));
            json_object_set_new(o, "group", json_string(g ? g : ""));
        }
        json_array_append_new(series, o);
    }
    /* scenarios: the first file's, their VUs summed over the runs */
    json_t *scs = json_array();
    for (size_t i = 0; i < r0->n_scenarios; i++) {
        const rr_scenario *sc = &r0->scenarios[i];
        double vus = 0;
        for (size_t f = 0; f < m->n_in; f++)
            for (size_t k = 0; k < m->in[f].n_scenarios; k++)
                if (strcmp(m->in[f].scenarios[k].name, sc->name) == 0)
                    vus += m->in[f].scenarios[k].max_vus;
        json_t *o = json_pack("{s:s, s:s, s:f, s:f, s:o}", "name", sc->name,
                              "executor", sc->executor ? sc->executor : "",
                              "start_s", sc->start_s, "duration_s", sc->duration_s,
                              "max_vus", cnt(vus));
        if (o && sc->setup_data)
            json_object_set_new(o, "setup_data", json_string(sc->setup_data));
        json_array_append_new(scs, o);
    }
    json_t *ths = json_array();
    for (size_t i = 0; i < r0->n_thresholds; i++) {
        const rr_threshold *t = &r0->thresholds[i];
        json_array_append_new(ths, json_pack("{s:I, s:s, s:s, s:I, s:s, s:b}", "i", (json_int_t)i,
                                             "key", t->key, "metric", t->metric ? t->metric : "",
                                             "series", (json_int_t)merge_find_series(m, t->key),
                                             "expr", t->expr, "abort_on_fail", t->abort_on_fail));
    }
    int workers = 0, cores = 0;
    for (size_t f = 0; f < m->n_in; f++) {
        workers += m->in[f].workers;
        cores += m->in[f].cores;
    }
    json_t *sp = json_pack("{s:s, s:s}", "name", r0->spec_name ? r0->spec_name : "", "path",
                           r0->spec_path ? r0->spec_path : "");
    if (sp && r0->spec_sha256)
        json_object_set_new(sp, "sha256", json_string(r0->spec_sha256));
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:s, s:I, s:i, s:i, s:o, s:f, "
                          "s:{s:s, s:i, s:i, s:i}, s:o, s:o, s:o, s:o, s:o}",
                          "type", "meta", "format", "volley-result", "version", 1, "volley",
                          VOLLEY_VERSION, "spec", sp, "command", cmd, "start", start,
                          "start_unix_ms", (json_int_t)m->start_unix_ms, "workers", workers,
                          "cores", cores, "run_tags", tags, "window_s", m->window_s, "hist",
                          "geometry", "volley-hdr-1", "half_log2", HDR_HALF_LOG2, "max_log2",
                          HDR_MAX_LOG2, "scale", (int)(r0->hist_scale > 0 ? r0->hist_scale : 1000),
                          "metrics", metrics, "series", series, "scenarios", scs,
                          "thresholds", ths, "merged", files);
    /* what the union covers, so a later merge with the missing segments
     * checks them against all of these */
    if (o && m->n_segs) {
        json_object_set_new(o, "segments", str_list(m->segs, m->n_segs));
        if (m->sequence)
            json_object_set_new(o, "sequence", json_string(m->sequence));
    }
    if (o && m->n_instances)
        json_object_set_new(o, "instances", str_list(m->instances, m->n_instances));
    return o;
}

static json_t *window_line(const merged *m, const mwindow *w)
{
    json_t *s = json_object();
    for (size_t j = 0; j < w->n; j++) {
        const rr_stat *t = &w->s[j];
        char id[24];
        snprintf(id, sizeof id, "%u", t->series);
        json_object_set_new(s, id, state(m->s[t->series].def, t, t->h ? t->h->s : NULL,
                                         t->h ? t->h->n : 0));
    }
    json_t *o = json_pack("{s:s, s:f, s:f, s:o}", "type", "window", "t0", w->t0, "t1", w->t1, "s", s);
    if (o && w->runner.present) {
        const rr_runner *u = &w->runner;
        json_object_set_new(o, "runner",
                            json_pack("{s:o, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:b}", "vus",
                                      cnt(u->vus), "vus_max", cnt(u->vus_max), "cpu_pct", num(u->cpu_pct),
                                      "cores", w->cores, "busiest_worker_pct",
                                      num(u->busiest_worker_pct), "lag_p95_ms", num(u->lag_p95_ms),
                                      "lag_max_ms", num(u->lag_max_ms), "dropped", cnt(u->dropped),
                                      "drop_cause", *u->drop_cause ? json_string(u->drop_cause)
                                                                   : json_null(),
                                      "behind", u->behind));
    }
    return o;
}

/* The first reason a check (or capture) failed in any file. */
static const char *first_failure(const merged *m, rr_kind kind, const char *group, const char *name)
{
    for (size_t f = 0; f < m->n_in; f++) {
        const result *r = &m->in[f];
        const rr_check *c = kind == RR_CAPTURE ? r->captures : r->checks;
        size_t n = kind == RR_CAPTURE ? r->n_captures : r->n_checks;
        for (size_t i = 0; i < n; i++)
            if (c[i].first_failure && strcmp(c[i].group, group) == 0 && strcmp(c[i].name, name) == 0)
                return c[i].first_failure;
    }
    return NULL;
}

static json_t *end_line(const merged *m, size_t failed)
{
    const result *r0 = &m->in[0];
    json_t *tot = json_object();
    rr_slot *slots = calloc(HDR_SLOTS, sizeof *slots);
    for (size_t i = 0; slots && i < m->n_s; i++) {
        const mseries *s = &m->s[i];
        if (!s->seen)
            continue;
        rr_stat t = {.has = RR_HAS_N | RR_HAS_SUM | RR_HAS_NZ, .n = s->n, .sum = s->sum, .nz = s->nz,
                     .min = s->min, .max = s->max, .last = s->last};
        size_t hn = 0;
        if (s->h) {
            t.has |= RR_HAS_P;
            static const char *const ps[RR_NP] = {"med", "p(90)", "p(95)", "p(99)"};
            for (int q = 0; q < RR_NP; q++)
                t.p[q] = merge_trend_stat(m, s, ps[q]);
            for (uint32_t k = 0; k < HDR_SLOTS; k++)
                if (s->h->counts[k])
                    slots[hn++] = (rr_slot){k, s->h->counts[k]};
        }
        char id[24];
        snprintf(id, sizeof id, "%zu", i);
        json_object_set_new(tot, id, state(s->def, &t, s->def->type == RR_TREND ? slots : NULL, hn));
    }
    free(slots);
    json_t *ths = json_array();
    for (size_t i = 0; i < r0->n_thresholds; i++) {
        bool none = m->v[i] == TH_NO_DATA;
        char judged[160];
        merge_fmt_judged(m, i, judged, sizeof judged);
        json_array_append_new(ths, json_pack("{s:I, s:s, s:o, s:s}", "i", (json_int_t)i, "verdict",
                                             m->v[i] == TH_PASS ? "pass" : m->v[i] == TH_FAIL ? "fail"
                                                                                           : "no_data",
                                             "value", none ? json_null() : num(m->tv[i]), "judged",
                                             none ? "no data" : judged));
    }
    json_t *checks = json_array(), *captures = json_array();
    double cpu = 0, behind = 0;
    bool interrupted = false, aborted = false;
    for (size_t f = 0; f < m->n_in; f++) {
        cpu += m->in[f].cpu_s;
        behind += m->in[f].windows_behind;
        interrupted |= m->in[f].interrupted;
        aborted |= m->in[f].aborted;
    }
    for (size_t i = 0; i < m->n_s; i++) {
        const rr_series *d = m->s[i].def;
        if (d->kind != RR_CHECK && d->kind != RR_CAPTURE)
            continue;
        const char *g = result_tag(d, "group"), *c = result_tag(d, "check");
        g = g ? g : "";
        c = c ? c : d->key;
        const char *why = first_failure(m, d->kind, g, c);
        json_array_append_new(d->kind == RR_CHECK ? checks : captures,
                              json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "series", (json_int_t)i,
                                        "group", g, "name", c, "passes", cnt(m->s[i].nz), "fails",
                                        cnt(m->s[i].n - m->s[i].nz), "first_failure",
                                        why ? json_string(why) : json_null()));
    }
    char end[40];
    iso_ms(m->start_unix_ms + m->duration_s * 1000, end, sizeof end);
    int exit_code = failed ? MERGE_FAIL : 0;
    return json_pack("{s:s, s:s, s:f, s:b, s:b, s:s, s:s, s:i, s:b, s:{s:o, s:o}, s:o, s:f, s:o, "
                     "s:o, s:o, s:o, s:o, s:n}",
                     "type", "end", "end", end, "duration_s", m->duration_s, "interrupted",
                     interrupted, "aborted", aborted, "abort_reason", "", "verdict",
                     exit_code ? "fail" : "pass", "exit_code", exit_code, "partial",
                     m->n_partial > 0, "iterations", "complete", cnt(m->iter_complete), "interrupted",
                     cnt(m->iter_interrupted), "vus_max", cnt(m->vus_max), "cpu_s", cpu, "windows_behind",
                     cnt(behind), "totals", tot, "thresholds", ths, "checks", checks, "captures",
                     captures, "stages");
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

int merge_write_result(const char *path, const merged *m, size_t failed, char *err, size_t cap)
{
    bool gz = ends_with(path, ".gz");
    gzFile g = NULL;
    FILE *fp = NULL;
    if (gz ? !(g = gzopen(path, "wb6")) : !(fp = fopen(path, "wb"))) {
        snprintf(err, cap, "%s: cannot create it: %s", path, strerror(errno));
        return -1;
    }
    bool ok = true;
    for (size_t k = 0; ok && k < m->n_win + 2; k++) {
        json_t *o = k == 0 ? meta_line(m) : k <= m->n_win ? window_line(m, &m->win[k - 1])
                                                          : end_line(m, failed);
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        json_decref(o);
        if (!text) {
            snprintf(err, cap, "%s: out of memory", path);
            ok = false;
            break;
        }
        size_t n = strlen(text);
        ok = gz ? gzwrite(g, text, (unsigned)n) == (int)n && gzputc(g, '\n') == '\n'
                : fwrite(text, 1, n, fp) == n && fputc('\n', fp) != EOF;
        free(text);
        if (!ok)
            snprintf(err, cap, "%s: write failed: %s", path, strerror(errno));
    }
    if (gz ? gzclose(g) != Z_OK : fclose(fp) != 0) {
        if (ok)
            snprintf(err, cap, "%s: write failed: %s", path, strerror(errno));
        ok = false;
    }
    return ok ? 0 : -1;
}
