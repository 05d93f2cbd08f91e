#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compare.h"
#include "result_read.h"
#include "summary.h"

/* core/report/ as C strings (cmake/embed.cmake). */
extern const char report_asset_html[], report_asset_js[], report_asset_css[];

typedef struct rctx {
    FILE *f;
    const result *r, *base;
    const cmp_table *cmp;
    cmp_group *groups;
    size_t n_groups;
    bool *covered;           /* series shown by a chart or table of its own */
    long reqs, dur, failed, iters, checks;
    long *fail_by;           /* failures by status / error_code */
    size_t n_fail_by;
} rctx;

/* ---- writing ---- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A small printf whose %s arguments are HTML-escaped (markup goes in the
 * format itself): %s text, %d int, %z size_t, %g double, %% a percent. */
static void out(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            fputc(*p, f);
            continue;
        }
        p++;
        if (*p == 's')
            esc(f, va_arg(ap, const char *));
        else if (*p == 'd')
            fprintf(f, "%d", va_arg(ap, int));
        else if (*p == 'z')
            fprintf(f, "%zu", va_arg(ap, size_t));
        else if (*p == 'g')
            fprintf(f, "%.10g", va_arg(ap, double));
        else if (*p == '%')
            fputc('%', f);
    }
    va_end(ap);
}

/* JSON inside <script type="application/json">: '<' only occurs inside
 * strings, where \u003c means the same and cannot end the element. */
static int json_cb(const char *buf, size_t size, void *data)
{
    FILE *f = data;
    for (size_t i = 0; i < size; i++) {
        if (buf[i] == '<')
            fputs("\\u003c", f);
        else
            fputc(buf[i], f);
    }
    return 0;
}

static void jdump(FILE *f, json_t *v)
{
    json_dump_callback(v, json_cb, f, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
}

static void jstr(FILE *f, const char *s) { jdump(f, json_string(s ? s : "")); }

static void jnum(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f);
}

static void fmtv(rr_contains c, double v, char *buf, size_t cap)
{
    summary_fmt_value((volley_metric_contains)c, v, buf, cap);
}

/* A share as a percentage rounded down, so 99.996% never reads 100%. */
static void fmt_share(double part, double whole, char *buf, size_t cap)
{
    if (whole <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    double q = floor(part * 10000.0 / whole) / 100.0;
    if (q == 0 && part > 0)
        snprintf(buf, cap, "<0.01%%");   /* not 0: there were some */
    else
        snprintf(buf, cap, "%.2f%%", q);
}

static void fmt_secs(double s, char *buf, size_t cap)
{
    if (s < 60)
        snprintf(buf, cap, "%.1fs", s);
    else if (s < 3600)
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, cap, "%dh%02dm%02ds", (int)(s / 3600), (int)fmod(s / 60, 60), (int)fmod(s, 60));
}

/* ---- which series go where ---- */

static long metric_series(const result *r, const char *metric)
{
    for (size_t i = 0; i < r->n_series; i++)
        if (r->series[i].kind == RR_METRIC && strcmp(r->series[i].metric, metric) == 0)
            return (long)i;
    return -1;
}

static int plan(rctx *c)
{
    const result *r = c->r;
    c->covered = calloc(r->n_series ? r->n_series : 1, sizeof *c->covered);
    c->fail_by = calloc(r->n_series ? r->n_series : 1, sizeof *c->fail_by);
    if (!c->covered || !c->fail_by)
        return -1;
    c->reqs = metric_series(r, "http_reqs");
    c->dur = metric_series(r, "http_req_duration");
    c->failed = metric_series(r, "http_req_failed");
    c->iters = metric_series(r, "iterations");
    c->checks = metric_series(r, "checks");
    /* Charted from the runner's own figures: vus, dropped iterations, lag. */
    long cover[] = {c->reqs, c->dur, c->failed, c->iters, c->checks, metric_series(r, "vus"),
                    metric_series(r, "vus_max"), metric_series(r, "dropped_iterations"),
                    metric_series(r, "volley_schedule_lag")};
    for (size_t i = 0; i < sizeof cover / sizeof cover[0]; i++)
        if (cover[i] >= 0)
            c->covered[cover[i]] = true;
    c->groups = compare_groups(r, &c->n_groups);
    for (size_t g = 0; g < c->n_groups; g++) {
        long idx[] = {c->groups[g].dur, c->groups[g].reqs, c->groups[g].failed};
        for (int k = 0; k < 3; k++)
            if (idx[k] >= 0)
                c->covered[idx[k]] = true;
    }
    /* Failures by status or error_code: http_reqs (or http_req_failed)
     * with exactly one of those tags, for statuses that are not a success. */
    for (size_t i = 0; i < r->n_series; i++) {
        const rr_series *s = &r->series[i];
        if (s->n_tags != 1 || (strcmp(s->metric, "http_reqs") != 0))
            continue;
        const char *st = result_tag(s, "status"), *ec = result_tag(s, "error_code");
        if (!(ec || (st && (st[0] == '0' || st[0] >= '4'))))
            continue;
        c->fail_by[c->n_fail_by++] = (long)i;
        c->covered[i] = true;
    }
    for (size_t i = 0; i < r->n_series; i++)
        if (r->series[i].kind == RR_CHECK || r->series[i].kind == RR_CAPTURE)
            c->covered[i] = true;
    return 0;
}

/* ---- the page's data ---- */

static void col(FILE *f, const result *r, long si, const char *name, int which)
{
    fprintf(f, "\"%s\":[", name);
    for (size_t w = 0; w < r->n_windows; w++) {
        if (w)
            fputc(',', f);
        const rr_stat *st = result_window_stat(&r->windows[w], (uint32_t)si);
        double v;
        switch (which) {
        case 0: v = st ? st->sum : 0; break;
        case 1: v = st ? st->n : 0; break;
        case 2: v = st ? st->nz : 0; break;
        case 3: v = st && st->has & RR_HAS_LAST ? st->last : NAN; break;
        default: v = st && st->has & RR_HAS_P ? st->p[which - 4] : NAN; break;
        }
        jnum(f, v);
    }
    fputc(']', f);
}

static void series_data(FILE *f, const result *r, long si)
{
    const rr_series *s = &r->series[si];
    fprintf(f, "\"%ld\":{\"key\":", si);
    jstr(f, s->key);
    fputs(",\"metric\":", f);
    jstr(f, s->metric);
    fprintf(f, ",\"kind\":\"%s\",\"type\":\"%s\",\"contains\":\"%s\",\"cols\":{", result_kind_name(s->kind),
            result_type_name(s->type), result_contains_name(s->contains));
    switch (s->type) {
    case RR_COUNTER: col(f, r, si, "sum", 0); break;
    case RR_RATE:
        col(f, r, si, "n", 1);
        fputc(',', f);
        col(f, r, si, "nz", 2);
        break;
    case RR_GAUGE: col(f, r, si, "last", 3); break;
    case RR_TREND: {
        static const char *const pn[RR_NP] = {"p50", "p90", "p95", "p99"};
        col(f, r, si, "n", 1);
        for (int k = 0; k < RR_NP; k++) {
            fputc(',', f);
            col(f, r, si, pn[k], 4 + k);
        }
        break;
    }
    default: col(f, r, si, "n", 1); break;
    }
    fputs("}}", f);
}

static void runner_col(FILE *f, const result *r, const char *name, size_t off)
{
    fprintf(f, "\"%s\":[", name);
    for (size_t w = 0; w < r->n_windows; w++) {
        if (w)
            fputc(',', f);
        const rr_runner *u = &r->windows[w].runner;
        jnum(f, u->present ? *(const double *)((const char *)u + off) : NAN);
    }
    fputc(']', f);
}

static void write_data(rctx *c)
{
    FILE *f = c->f;
    const result *r = c->r;
    fprintf(f, "{\"raw\":%s,\"window_s\":", r->raw ? "true" : "false");
    jnum(f, r->window_s);
    fputs(",\"duration_s\":", f);
    jnum(f, r->duration_s);
    fputs(",\"t0\":[", f);
    for (size_t w = 0; w < r->n_windows; w++)
        fprintf(f, "%s%.6g", w ? "," : "", r->windows[w].t0);
    fputs("],\"t1\":[", f);
    for (size_t w = 0; w < r->n_windows; w++)
        fprintf(f, "%s%.6g", w ? "," : "", r->windows[w].t1);
    fputs("],\"behind\":[", f);
    for (size_t w = 0; w < r->n_windows; w++)
        fprintf(f, "%s%d", w ? "," : "", r->windows[w].runner.behind);
    fputs("],\"runner\":{", f);
    static const struct { const char *name; size_t off; } cols[] = {
        {"vus", offsetof(rr_runner, vus)},
        {"vus_max", offsetof(rr_runner, vus_max)},
        {"cpu_pct", offsetof(rr_runner, cpu_pct)},
        {"busiest_worker_pct", offsetof(rr_runner, busiest_worker_pct)},
        {"lag_p95_ms", offsetof(rr_runner, lag_p95_ms)},
        {"lag_max_ms", offsetof(rr_runner, lag_max_ms)},
        {"dropped", offsetof(rr_runner, dropped)},
    };
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        if (i)
            fputc(',', f);
        runner_col(f, r, cols[i].name, cols[i].off);
    }
    fprintf(f, "},\"roles\":{\"reqs\":%ld,\"dur\":%ld,\"failed\":%ld,\"iters\":%ld},\"fail_by\":[", c->reqs,
            c->dur, c->failed, c->iters);
    for (size_t i = 0; i < c->n_fail_by; i++)
        fprintf(f, "%s%ld", i ? "," : "", c->fail_by[i]);
    fputs("],\"groups\":[", f);
    for (size_t g = 0; g < c->n_groups; g++) {
        fprintf(f, "%s{\"label\":", g ? "," : "");
        jstr(f, c->groups[g].label);
        fprintf(f, ",\"dur\":%ld}", c->groups[g].dur);
    }
    fputs("],\"series\":{", f);
    bool first = true;
    for (size_t i = 0; i < r->n_series; i++) {
        if (r->series[i].kind == RR_CHECK || r->series[i].kind == RR_CAPTURE)
            continue;
        if (!first)
            fputc(',', f);
        first = false;
        series_data(f, r, (long)i);
    }
    fputs("}}", f);
}

/* ---- the page's tables ---- */

static const char *verdict_class(const char *v)
{
    return !strcmp(v, "pass") ? "pass" : !strcmp(v, "fail") ? "fail" : !strcmp(v, "no_data") ? "nodata" : "other";
}

static const char *exit_meaning(int code)
{
    switch (code) {
    case 0: return "all thresholds passed";
    case 99: return "a threshold failed";
    case 100: return "setup timed out";
    case 101: return "teardown timed out";
    case 103: return "engine error";
    case 104: return "invalid spec or options";
    case 105: return "interrupted";
    case 107: return "setup or teardown failed";
    case 108: return "aborted by on_check_fail: abort_test";
    default: return "";
    }
}

/* The header of a page made from json-out's raw NDJSON: what the stream
 * says, and a banner for what it cannot. */
static void write_raw_header(rctx *c)
{
    FILE *f = c->f;
    const result *r = c->r;
    char buf[64], pts[32];
    out(f, "<header class=\"top\">\n<div class=\"title\"><h1>%s</h1>", r->spec_name);
    out(f, "<span class=\"verdict other\" id=\"verdict\">no verdict (raw NDJSON)</span></div>\n<dl class=\"meta\">\n");
    snprintf(pts, sizeof pts, "%.0f", r->raw_points);
    out(f, "<dt>source</dt><dd>json-out NDJSON <code>%s</code>: %z lines, %s points</dd>\n", r->path, r->line_count,
        pts);
    out(f, "<dt>first point</dt><dd>%s</dd>\n", r->start);
    fmt_secs(r->duration_s, buf, sizeof buf);
    out(f, "<dt>duration</dt><dd>%s", buf);
    if (*r->end_time)
        out(f, " (last point %s)", r->end_time);
    out(f, "</dd>\n</dl>\n");
    out(f, "<p class=\"banner warn\" id=\"raw-ndjson\">From a raw NDJSON stream: no verdicts; write "
           "<code>--result</code> for them. json-out's lines carry samples only: no threshold is judged, and there "
           "is no exit code, no spec or command line, and no generator health (CPU, whether it was behind). Windows "
           "are the seconds from the first point; totals hold every point, their percentiles computed as a run "
           "computes them. Metrics that json-out's <code>metrics:</code> or <code>tags:</code> filters left out of "
           "the stream are not here.");
    if (r->raw_late > 0) {
        snprintf(pts, sizeof pts, "%.0f", r->raw_late);
        out(f, " %s points came over 3 s out of time order and count in a later window.", pts);
    }
    if (r->raw_names_capped)
        out(f, " Request names past the first 200 are not broken down per name.");
    if (r->raw_cut)
        out(f, " The stream ends mid-line or mid-gzip (the run died?): what is shown is what came before.");
    out(f, "</p>\n</header>\n");
}

static void write_header(rctx *c)
{
    FILE *f = c->f;
    const result *r = c->r;
    char buf[64];
    if (r->raw) {
        write_raw_header(c);
        return;
    }
    const char *cls = !strcmp(r->verdict, "pass") ? "pass" : !strcmp(r->verdict, "incomplete") ? "other" : "fail";
    const char *word = !strcmp(r->verdict, "pass") ? "passed" : !strcmp(r->verdict, "incomplete") ? "incomplete"
                                                                                                : "failed";
    out(f, "<header class=\"top\">\n<div class=\"title\"><h1>%s</h1>", r->spec_name);
    out(f, "<span class=\"verdict %s\" id=\"verdict\">%s", cls, word);
    if (r->exit_code >= 0)
        out(f, " &middot; exit %d", r->exit_code);
    if (*exit_meaning(r->exit_code))
        out(f, ": %s", exit_meaning(r->exit_code));
    out(f, "</span></div>\n<dl class=\"meta\">\n");
    out(f, "<dt>spec</dt><dd><code>%s</code></dd>\n", r->spec_path);
    out(f, "<dt>start</dt><dd>%s</dd>\n", r->start);
    fmt_secs(r->duration_s, buf, sizeof buf);
    out(f, "<dt>duration</dt><dd>%s", buf);
    if (r->end_time && *r->end_time)
        out(f, " (ended %s)", r->end_time);
    out(f, "</dd>\n");
    if (r->has_seed) {
        snprintf(buf, sizeof buf, "%lld", (long long)r->seed);
        out(f, "<dt>seed</dt><dd>%s</dd>\n", buf);
    }
    out(f, "<dt>workers</dt><dd>%d on %d core%s</dd>\n", r->workers, r->cores, r->cores == 1 ? "" : "s");
    if (r->n_run_tags) {
        out(f, "<dt>tags</dt><dd>");
        for (size_t i = 0; i < r->n_run_tags; i++)
            out(f, "%s<code>%s=%s</code>", i ? " " : "", r->run_tags[i].name, r->run_tags[i].value);
        out(f, "</dd>\n");
    }
    out(f, "<dt>volley</dt><dd>%s</dd>\n<dt>command</dt><dd><code class=\"cmd\">", r->volley);
    for (size_t i = 0; i < r->n_command; i++) {
        const char *a = r->command[i];
        bool quote = !*a || strpbrk(a, " \t\"'$\\|&;<>()*?") != NULL;
        out(f, quote ? "%s'%s'" : "%s%s", i ? " " : "", a);
    }
    out(f, "</code></dd>\n");
    if (r->n_scenarios) {
        out(f, "<dt>scenarios</dt><dd>");
        for (size_t i = 0; i < r->n_scenarios; i++) {
            const rr_scenario *s = &r->scenarios[i];
            fmt_secs(s->duration_s, buf, sizeof buf);
            if (s->setup_data)
                out(f, "%s<b>%s</b>: from %s (not run here)", i ? "; " : "", s->name, s->setup_data);
            else
                out(f, "%s<b>%s</b> (%s, %s, max %g VUs)", i ? "; " : "", s->name, s->executor, buf,
                    s->max_vus);
        }
        out(f, "</dd>\n");
    }
    out(f, "</dl>\n");
    if (!r->complete)
        out(f, "<p class=\"banner warn\" id=\"incomplete\">This run did not finish: its result file has no end "
               "line (the process died). What is shown is what %z windows recorded; totals are merged from "
               "them, nothing was judged, and percentiles of the whole run are only known when the windows "
               "carry histograms (<code>--result-histograms</code>).</p>\n", r->n_windows);
    if (r->interrupted)
        out(f, "<p class=\"banner warn\">The run was interrupted (SIGINT/SIGTERM).</p>\n");
    if (r->aborted)
        out(f, "<p class=\"banner warn\">The run was aborted: %s</p>\n", r->abort_reason);
    if (r->windows_behind > 0)
        out(f, "<p class=\"banner warn\" id=\"behind\">The load generator was behind in %g of %z windows "
               "(shaded in the charts): schedule lag p95 over 10 ms, or a busy worker while iterations were "
               "dropped. Latencies there include the generator's own delay.</p>\n",
            r->windows_behind, r->n_windows);
    out(f, "</header>\n");
}

static void tile(FILE *f, const char *label, const char *value, const char *sub)
{
    out(f, "<div class=\"tile\"><div class=\"tl\">%s</div><div class=\"tv\">%s</div>", label, value);
    if (sub && *sub)
        out(f, "<div class=\"ts\">%s</div>", sub);
    out(f, "</div>\n");
}

static void write_tiles(rctx *c)
{
    FILE *f = c->f;
    const result *r = c->r;
    char v[64], s[64];
    double dur = r->duration_s > 0 ? r->duration_s : 1;
    out(f, "<section class=\"tiles\">\n");
    if (c->reqs >= 0) {
        snprintf(v, sizeof v, "%.0f", r->totals[c->reqs].sum);
        snprintf(s, sizeof s, "%.1f/s", r->totals[c->reqs].sum / dur);
        tile(f, "requests", v, s);
    }
    if (c->failed >= 0 && r->totals[c->failed].n > 0) {
        fmt_share(r->totals[c->failed].nz, r->totals[c->failed].n, v, sizeof v);
        snprintf(s, sizeof s, "%.0f of %.0f", r->totals[c->failed].nz, r->totals[c->failed].n);
        tile(f, "failed", v, s);
    }
    if (c->dur >= 0 && r->totals[c->dur].has & RR_HAS_P) {
        fmtv(RR_TIME, r->totals[c->dur].p[RR_P95], v, sizeof v);
        fmtv(RR_TIME, r->totals[c->dur].p[RR_P50], s, sizeof s);
        char sub[96];
        snprintf(sub, sizeof sub, "median %s", s);
        tile(f, "http_req_duration p95", v, sub);
    }
    if (c->iters >= 0) {
        snprintf(v, sizeof v, "%.0f", r->totals[c->iters].sum);
        snprintf(s, sizeof s, "%.1f/s", r->totals[c->iters].sum / dur);
        tile(f, "iterations", v, s);
    }
    if (r->vus_max > 0) {
        snprintf(v, sizeof v, "%.0f", r->vus_max);
        tile(f, "VUs max", v, "");
    }
    if (c->checks >= 0 && r->totals[c->checks].n > 0) {
        fmt_share(r->totals[c->checks].nz, r->totals[c->checks].n, v, sizeof v);
        snprintf(s, sizeof s, "%.0f failed", r->totals[c->checks].n - r->totals[c->checks].nz);
        tile(f, "checks passed", v, s);
    }
    out(f, "</section>\n");
}

static void write_thresholds(rctx *c)
{
    FILE *f = c->f;
    const result *r = c->r;
    size_t fails = 0;
    for (size_t i = 0; i < r->n_thresholds; i++)
        fails += !strcmp(r->thresholds[i].verdict, "fail");
    out(f, "<section id=\"thresholds\"><h2>Thresholds</h2>\n");
    if (r->raw) {
        out(f, "<p class=\"note\" id=\"no-verdicts\">Not judged: a raw NDJSON stream has no verdicts; write "
               "<code>--result</code> for them.</p></section>\n");
        return;
    }
    if (r->n_thresholds == 0) {
        out(f, "<p class=\"note\">The spec has no thresholds.</p></section>\n");
        return;
    }
    out(f, "<p class=\"note\">%z of %z failed.</p>\n", fails, r->n_thresholds);
    out(f, "<table class=\"data\" id=\"thresholds-table\"><thead><tr><th>metric</th><th>threshold</th>"
           "<th>observed</th><th>verdict</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < r->n_thresholds; i++) {
        const rr_threshold *t = &r->thresholds[i];
        const char *v = *t->verdict ? t->verdict : "not judged";
        char obs[160] = "";
        if (*t->judged)
            snprintf(obs, sizeof obs, "%s", t->judged);
        else if (t->has_value && t->series >= 0)
            fmtv(r->series[t->series].contains, t->value, obs, sizeof obs);
        else
            snprintf(obs, sizeof obs, "%s", *t->verdict ? "no data" : "-");
        out(f, "<tr class=\"th-row v-%s\"", verdict_class(v));
        if (t->has_value)
            out(f, " data-value=\"%g\"", t->value);
        out(f, "><td>%s</td><td><code>%s</code>", t->key, t->expr);
        if (t->abort_on_fail)
            out(f, " <span class=\"small\">abort_on_fail</span>");
        out(f, "</td><td class=\"num\">%s</td><td><span class=\"badge %s\">%s</span></td></tr>\n",
            obs,
            verdict_class(v), !strcmp(v, "no_data") ? "no data" : v);
    }
    out(f, "</tbody></table></section>\n");
}

/* The checks, as k6 lists them; the captures (kind "capture") in a
 * table of their own, only when the run has some. */
static void write_items(rctx *c, const char *kind, const rr_check *items, size_t n)
{
    FILE *f = c->f;
    const result *r = c->r;
    bool caps = strcmp(kind, "capture") == 0;
    if (caps && n == 0)
        return;
    out(f, "<section id=\"%ss\"><h2>%s</h2>\n", kind, caps ? "Captures" : "Checks");
    if (n == 0) {
        out(f, r->raw ? "<p class=\"note\">The stream has no check points.</p></section>\n"
                      : "<p class=\"note\">The spec has no checks.</p></section>\n");
        return;
    }
    out(f, "<table class=\"data\" id=\"%ss-table\"><thead><tr><th>group</th><th>%s</th><th>passes</th>"
           "<th>fails</th><th>pass rate</th><th>first failure</th></tr></thead><tbody>\n", kind, kind);
    for (size_t i = 0; i < n; i++) {
        const rr_check *k = &items[i];
        char rate[32];
        fmt_share(k->passes, k->passes + k->fails, rate, sizeof rate);
        out(f, "<tr class=\"%s-row %s\"><td>%s</td><td>%s</td><td class=\"num\">%g</td><td class=\"num\">%g</td>"
               "<td class=\"num\">%s</td><td class=\"reason\">%s</td></tr>\n",
            kind, k->fails > 0 ? "v-fail" : "v-pass", *k->group ? k->group : "-", k->name, k->passes, k->fails, rate,
            k->first_failure ? k->first_failure : "");
    }
    out(f, "</tbody></table></section>\n");
}

static void stage_num(FILE *f, json_t *o, const char *key, rr_contains cn, bool pct)
{
    json_t *v = json_object_get(o, key);
    char buf[64] = "-";
    if (json_is_number(v)) {
        double x = json_number_value(v);
        if (pct)
            snprintf(buf, sizeof buf, "%.2f%%", x * 100);
        else if (cn == RR_DEFAULT)   /* rates per second: two decimals are plenty */
            snprintf(buf, sizeof buf, x == floor(x) ? "%.0f" : "%.2f", x);
        else
            fmtv(cn, x, buf, sizeof buf);
    }
    out(f, "<td class=\"num\">%s</td>", buf);
}

static void write_stages(rctx *c)
{
    FILE *f = c->f;
    json_t *st = c->r->stages;
    if (!st)
        return;
    out(f, "<section id=\"stages\"><h2>Stages</h2>\n");
    const char *name;
    json_t *sc;
    json_object_foreach(st, name, sc) {
        json_t *unit = json_object_get(sc, "target_unit");
        const char *u = json_is_string(unit) ? json_string_value(unit) : "";
        out(f, "<h3>scenario %s</h3>\n<table class=\"data stages\"><thead><tr><th>stage</th><th>from (s)</th>"
               "<th>to (s)</th><th>target (%s)</th><th>iterations/s</th><th>dropped/s</th><th>requests/s</th><th>p95</th>"
               "<th>failed</th><th>thresholds crossed</th></tr></thead><tbody>\n", name, u);
        size_t i;
        json_t *row;
        json_t *bp = json_object_get(sc, "breaking_point");
        double bp_stage = json_is_object(bp) ? json_number_value(json_object_get(bp, "stage")) : -1;
        json_array_foreach(json_object_get(sc, "stages"), i, row) {
            double k = json_number_value(json_object_get(row, "stage"));
            double s0 = json_number_value(json_object_get(row, "start_s"));
            double d = json_number_value(json_object_get(row, "duration_s"));
            out(f, "<tr class=\"%s\"><td>%g</td><td class=\"num\">%g</td><td class=\"num\">%g</td>"
                   "<td class=\"num\">%g &rarr; %g</td>", k == bp_stage ? "v-fail" : "", k, s0, s0 + d,
                json_number_value(json_object_get(row, "from")), json_number_value(json_object_get(row, "target")));
            stage_num(f, row, "iterations_rate", RR_DEFAULT, false);
            stage_num(f, row, "dropped_rate", RR_DEFAULT, false);
            stage_num(f, row, "http_reqs_rate", RR_DEFAULT, false);
            stage_num(f, row, "http_req_duration_p95", RR_TIME, false);
            stage_num(f, row, "http_req_failed_rate", RR_DEFAULT, true);
            out(f, "<td>");
            size_t j;
            json_t *cr;
            json_array_foreach(json_object_get(row, "thresholds_crossed"), j, cr) {
                json_t *m = json_object_get(cr, "metric"), *t = json_object_get(cr, "threshold"),
                       *o = json_object_get(cr, "observed");
                out(f, "%s<code>%s %s</code> (%s)", j ? "<br>" : "", json_string_value(m), json_string_value(t),
                    json_string_value(o));
            }
            out(f, "</td></tr>\n");
        }
        out(f, "</tbody></table>\n");
        if (json_is_object(bp)) {
            json_t *ths = json_object_get(bp, "thresholds"), *first = json_array_get(ths, 0);
            out(f, "<p class=\"breaking\">Breaking point: stage %g (target %g %s), where ",
                bp_stage, json_number_value(json_object_get(bp, "target")), u);
            out(f, "<code>%s %s</code> was first crossed (%s).</p>\n",
                json_string_value(json_object_get(first, "metric")),
                json_string_value(json_object_get(first, "threshold")),
                json_string_value(json_object_get(first, "observed")));
        } else {
            out(f, "<p class=\"note\">No stage crossed a threshold: no breaking point.</p>\n");
        }
    }
    out(f, "</section>\n");
}

static void stat_cells(FILE *f, const cmp_stats *st)
{
    for (int k = 0; k < CMP_NCOLS; k++) {
        char buf[64] = "-";
        if (st->have[k])
            compare_fmt(k, st->contains, st->v[k], buf, sizeof buf);
        out(f, "<td class=\"num\">%s</td>", buf);
    }
}

static void write_groups(rctx *c)
{
    FILE *f = c->f;
    out(f, "<section id=\"requests\"><h2>Requests by name and scenario</h2>\n");
    if (c->n_groups == 0) {
        out(f, "<p class=\"note\">This result has no per-name or per-scenario breakdown.</p></section>\n");
        return;
    }
    out(f, "<table class=\"data\" id=\"requests-table\"><thead><tr><th>name / scenario</th>");
    for (int k = 0; k < CMP_NCOLS; k++)
        out(f, "<th>%s</th>", compare_col_names[k]);
    out(f, "</tr></thead><tbody>\n");
    for (size_t g = 0; g < c->n_groups; g++) {
        cmp_stats st;
        compare_group_stats(c->r, &c->groups[g], &st);
        out(f, "<tr class=\"group-row\"><td>%s</td>", c->groups[g].label);
        stat_cells(f, &st);
        out(f, "</tr>\n");
    }
    out(f, "</tbody></table>\n<div class=\"grid small\" id=\"group-charts\"></div></section>\n");
}

static void write_other(rctx *c)
{
    FILE *f = c->f;
    const result *r = c->r;
    double dur = r->duration_s > 0 ? r->duration_s : 1;
    size_t n = 0, empty = 0;
    for (size_t i = 0; i < r->n_series; i++) {
        /* A series that never got a sample (group_duration without groups) says nothing. */
        if (!c->covered[i] && r->totals[i].n <= 0) {
            c->covered[i] = true;
            empty++;
        }
        n += !c->covered[i];
    }
    if (n == 0)
        return;
    out(f, "<section id=\"other\"><h2>Other metrics</h2>\n<p class=\"note\">Every other series of the run "
           "(ws, custom metrics, sub-metrics, timings): its total and, over time, its rate, value or p95.</p>\n"
           "<table class=\"data\" id=\"other-table\"><thead><tr><th>series</th><th>type</th><th>total</th>"
           "<th>rate / value</th><th>p95</th><th>max</th><th>over time</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < r->n_series; i++) {
        if (c->covered[i])
            continue;
        const rr_series *s = &r->series[i];
        const rr_stat *t = &r->totals[i];
        char a[64] = "-", b[64] = "-", p[64] = "-", m[64] = "-";
        switch (s->type) {
        case RR_COUNTER:
            fmtv(s->contains, t->sum, a, sizeof a);
            if (s->contains == RR_DEFAULT)
                snprintf(b, sizeof b, "%.1f", t->sum / dur);
            else
                fmtv(s->contains, t->sum / dur, b, sizeof b);
            strncat(b, "/s", sizeof b - strlen(b) - 1);
            break;
        case RR_RATE:
            snprintf(a, sizeof a, "%.0f of %.0f", t->nz, t->n);
            fmt_share(t->nz, t->n, b, sizeof b);
            break;
        case RR_GAUGE:
            if (t->has & RR_HAS_LAST)
                fmtv(s->contains, t->last, b, sizeof b);
            if (t->has & RR_HAS_MINMAX)
                fmtv(s->contains, t->max, m, sizeof m);
            break;
        case RR_TREND:
            snprintf(a, sizeof a, "%.0f", t->n);
            if (t->has & RR_HAS_AVG) {
                char av[48];
                fmtv(s->contains, t->avg, av, sizeof av);
                snprintf(b, sizeof b, "avg %s", av);
            }
            if (t->has & RR_HAS_P)
                fmtv(s->contains, t->p[RR_P95], p, sizeof p);
            if (t->has & RR_HAS_MINMAX)
                fmtv(s->contains, t->max, m, sizeof m);
            break;
        default: break;
        }
        out(f, "<tr class=\"other-row\"><td><code>%s</code></td><td>%s</td><td class=\"num\">%s</td>"
               "<td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
               "<td class=\"spark\" data-series=\"%z\"></td></tr>\n",
            s->key, result_type_name(s->type), a, b, p, m, i);
    }
    out(f, "</tbody></table>\n");
    if (empty)
        out(f, "<p class=\"note\">%z series without a sample are left out.</p>\n", empty);
    out(f, "</section>\n");
}

static void write_comparison(rctx *c)
{
    FILE *f = c->f;
    const cmp_table *t = c->cmp;
    if (!t)
        return;
    size_t reg = 0, imp = 0;
    for (size_t i = 0; i < t->n; i++)
        for (int k = 0; k < CMP_NCOLS; k++) {
            reg += t->rows[i].c[k].flag > 0;
            imp += t->rows[i].c[k].flag < 0;
        }
    out(f, "<section id=\"comparison\"><h2>Compared with the baseline</h2>\n");
    out(f, "<p class=\"note\">Baseline: <code>%s</code> (%s, started %s, verdict %s). ", c->base->path,
        c->base->spec_name, c->base->start, c->base->verdict);
    char rule[512];
    compare_rule(t, ". The ", rule, sizeof rule);
    rule[0] = 'F';
    out(f, "%s; each cell's last line shows the old and the new run's. Otherwise a change is within noise. Count "
           "and rate are never flagged: they follow the load model. ", rule);
    if (t->no_ci_old || t->no_ci_new)
        out(f, "<span id=\"no-intervals\">%s has no histograms (a run that died without "
               "<code>--result-histograms</code>, or json-out's NDJSON): its avg and percentiles are judged by the "
               "allowances alone.</span> ",
            t->no_ci_old && t->no_ci_new ? "Neither run" : t->no_ci_old ? "The baseline" : "This run");
    out(f, "<b>%z regression%s, %z improvement%s.</b></p>\n", reg, reg == 1 ? "" : "s", imp,
        imp == 1 ? "" : "s");
    out(f, "<table class=\"data cmp\" id=\"comparison-table\"><thead><tr><th>series</th>");
    for (int k = 0; k < CMP_NCOLS; k++)
        out(f, "<th>%s</th>", k == CMP_FAILED ? "failed % / rate" : compare_col_names[k]);
    out(f, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < t->n; i++) {
        const cmp_row *r = &t->rows[i];
        out(f, "<tr class=\"cmp-row\" data-label=\"%s\"><td>%s%s</td>", r->label,
            r->threshold ? "threshold: " : "", r->label);
        for (int k = 0; k < CMP_NCOLS; k++) {
            const cmp_cell *x = &r->c[k];
            if (!x->have_old && !x->have_new) {
                out(f, "<td class=\"num\">-</td>");
                continue;
            }
            char o[48] = "-", n[48] = "-", ch[32] = "";
            if (x->have_old)
                compare_fmt(k, r->contains, x->old_v, o, sizeof o);
            if (x->have_new)
                compare_fmt(k, r->contains, x->new_v, n, sizeof n);
            if (x->have_old && x->have_new)
                snprintf(ch, sizeof ch, isinf(x->change_pct) ? "new" : "%+.1f%%", x->change_pct);
            const char *cls = x->flag > 0 ? "regression" : x->flag < 0 ? "improvement" : "same";
            out(f, "<td class=\"num %s\" data-col=\"%s\" data-verdict=\"%s\" title=\"%s%s%s\">%s &rarr; %s<br>"
                   "<span class=\"chg\">%s</span>",
                cls, compare_col_names[k], compare_verdict(x), x->judged ? compare_verdict(x) : "not judged",
                x->why ? ": " : "", x->why ? x->why : "", o, n, ch);
            if (x->flag)
                out(f, x->flag > 0 ? " <span class=\"flag\">&#9650; worse</span>" : " <span class=\"flag\">&#9660; better</span>");
            else if (x->judged)
                out(f, " <span class=\"chg\">&middot; within noise</span>");
            if (x->old_ci && x->new_ci) {
                char a[48], b[48], c2[48], d[48];
                compare_fmt(k, r->contains, x->old_lo, a, sizeof a);
                compare_fmt(k, r->contains, x->old_hi, b, sizeof b);
                compare_fmt(k, r->contains, x->new_lo, c2, sizeof c2);
                compare_fmt(k, r->contains, x->new_hi, d, sizeof d);
                out(f, "<br><span class=\"chg ci\">%s&ndash;%s &rarr; %s&ndash;%s</span>", a, b, c2, d);
            } else if (x->judged) {
                out(f, "<br><span class=\"chg ci\">no interval</span>");
            }
            out(f, "</td>");
        }
        out(f, "</tr>\n");
    }
    out(f, "</tbody></table></section>\n");
}

static void write_body(rctx *c)
{
    write_header(c);
    out(c->f, "<main>\n");
    write_tiles(c);
    write_comparison(c);
    write_thresholds(c);
    write_items(c, "check", c->r->checks, c->r->n_checks);
    write_items(c, "capture", c->r->captures, c->r->n_captures);
    out(c->f, "<section id=\"charts\"><h2>Over time</h2><p class=\"note\">Seconds from the start, one point per "
              "%g s window.%s</p>\n<div class=\"grid\" id=\"charts-grid\"></div></section>\n",
        c->r->window_s, c->r->windows_behind > 0 ? " Shaded: windows where the generator was behind." : "");
    write_stages(c);
    write_groups(c);
    write_other(c);
    out(c->f, "</main>\n<footer>volley report of <code>%s</code> (%z lines). The page is self-contained: its "
              "data, script and style are inside it, and it makes no requests.</footer>\n",
        c->r->path, c->r->line_count);
}

/* Copies the template, filling {{TITLE}}, {{CSS}}, {{BODY}}, {{DATA}}, {{JS}}. */
static void write_page(rctx *c)
{
    const char *p = report_asset_html;
    while (*p) {
        const char *m = strstr(p, "{{");
        if (!m) {
            fputs(p, c->f);
            break;
        }
        fwrite(p, 1, (size_t)(m - p), c->f);
        const char *e = strstr(m, "}}");
        if (!e) {
            fputs(m, c->f);
            break;
        }
        size_t len = (size_t)(e - m - 2);
        if (len == 5 && !strncmp(m + 2, "TITLE", 5))
            out(c->f, "%s: volley report", c->r->spec_name);
        else if (len == 3 && !strncmp(m + 2, "CSS", 3))
            fputs(report_asset_css, c->f);
        else if (len == 2 && !strncmp(m + 2, "JS", 2))
            fputs(report_asset_js, c->f);
        else if (len == 4 && !strncmp(m + 2, "BODY", 4))
            write_body(c);
        else if (len == 4 && !strncmp(m + 2, "DATA", 4))
            write_data(c);
        else
            fwrite(m, 1, (size_t)(e + 2 - m), c->f);
        p = e + 2;
    }
}

int report_write(const char *result_path, const char *html_path, const char *baseline_path, char *err,
                 size_t errcap)
{
    return report_write_noise(result_path, html_path, baseline_path, COMPARE_NOISE_PCT, err, errcap);
}

int report_write_noise(const char *result_path, const char *html_path, const char *baseline_path,
                       double noise_pct, char *err, size_t errcap)
{
    result r, b;
    memset(&b, 0, sizeof b);
    cmp_table t;
    memset(&t, 0, sizeof t);
    rctx c = {0};
    int rc = -1;
    char *tmp = NULL;
    if (result_read(result_path, &r, err, errcap) != 0) {
        result_free(&r);
        return -1;
    }
    if (baseline_path) {
        if (result_read(baseline_path, &b, err, errcap) != 0)
            goto out;
        if (compare_build(&b, &r, noise_pct, &t) != 0) {
            snprintf(err, errcap, "out of memory");
            goto out;
        }
        c.base = &b;
        c.cmp = &t;
    }
    c.r = &r;
    if (plan(&c) != 0) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    size_t len = strlen(html_path) + 16;
    tmp = malloc(len);
    if (!tmp) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    snprintf(tmp, len, "%s.tmp", html_path);
    c.f = fopen(tmp, "w");
    if (!c.f) {
        snprintf(err, errcap, "%s: cannot write: %s", html_path, strerror(errno));
        goto out;
    }
    write_page(&c);
    bool bad = ferror(c.f) != 0;
    if (fclose(c.f) != 0 || bad) {
        snprintf(err, errcap, "%s: write failed: %s", html_path, strerror(errno));
        remove(tmp);
        goto out;
    }
    if (rename(tmp, html_path) != 0) {
        snprintf(err, errcap, "%s: cannot write: %s", html_path, strerror(errno));
        remove(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(c.covered);
    free(c.fail_by);
    free(c.groups);
    compare_free(&t);
    result_free(&r);
    result_free(&b);
    return rc;
}

char *report_default_path(const char *result_path)
{
    size_t n = strlen(result_path);
    char *p = malloc(n + 6);
    if (!p)
        return NULL;
    memcpy(p, result_path, n + 1);
    if (n > 3 && !strcmp(p + n - 3, ".gz"))
        p[n -= 3] = 0;
    char *dot = strrchr(p, '.'), *slash = strrchr(p, '/');
    if (dot && dot != p && (!slash || dot > slash + 1))
        *dot = 0;
    strcat(p, ".html");
    return p;
}

int report_temp_result(char *buf, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir || strlen(dir) + 32 > cap)
        dir = "/tmp";
    snprintf(buf, cap, "%s/volley-result-XXXXXX.ndjson", dir);
    int fd = mkstemps(buf, 7);
    if (fd < 0) {
        buf[0] = 0;
        return -1;
    }
    close(fd);
    return 0;
}

int report_main(int argc, char **argv)
{
    static const char usage[] =
        "usage: volley report RESULT [-o FILE.html] [--baseline OLD_RESULT] [--noise PCT]\n";
    enum { O_BASELINE = 256, O_NOISE };
    static const struct option longs[] = {{"output", required_argument, NULL, 'o'},
                                          {"baseline", required_argument, NULL, O_BASELINE},
                                          {"noise", required_argument, NULL, O_NOISE},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    const char *outp = NULL, *base = NULL;
    double noise = COMPARE_NOISE_PCT;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'o': outp = optarg; break;
        case O_BASELINE: base = optarg; break;
        case O_NOISE: {
            char *end;
            noise = strtod(optarg, &end);
            if (end == optarg || *end || !(noise >= 0) || noise > 1e6) {
                fprintf(stderr, "volley report: --noise: expected a percentage >= 0, got \"%s\"\n", optarg);
                return 104;
            }
            break;
        }
        case 'h': fputs(usage, stdout); return 0;
        default:
            fprintf(stderr, "volley report: unknown or incomplete option \"%s\"\n%s", argv[optind - 1], usage);
            return 104;
        }
    }
    if (argc - optind != 1) {
        fputs(usage, stderr);
        return 104;
    }
    const char *in = argv[optind];
    char *def = outp ? NULL : report_default_path(in);
    if (!outp && !def)
        return 103;
    char err[512];
    int rc = report_write_noise(in, outp ? outp : def, base, noise, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "volley report: %s\n", err);
    else
        printf("volley report: wrote %s\n", outp ? outp : def);
    free(def);
    return rc == 0 ? 0 : 104;
}
