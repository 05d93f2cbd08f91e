#include "summary.h"

#include "stages.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const default_stats[] = {"avg", "min", "med", "max", "p(90)", "p(95)"};
#define TREND_STATS_EXPECTED "avg, min, med, max, count or p(N) with N from 0 to 100, e.g. p(99.9)"

void summary_opts_init(summary_opts *o)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < sizeof default_stats / sizeof *default_stats; i++)
        snprintf(o->stats[i], sizeof o->stats[i], "%s", default_stats[i]);
    o->n_stats = sizeof default_stats / sizeof *default_stats;
    o->exit_code = -1;
}

/* k6's forms: avg min med max count, p(N) with 0 <= N <= 100. */
static bool valid_stat(const char *t)
{
    static const char *const plain[] = {"avg", "min", "med", "max", "count"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (strcmp(t, plain[i]) == 0)
            return true;
    size_t len = strlen(t);
    if (len < 4 || strncmp(t, "p(", 2) != 0 || t[len - 1] != ')')
        return false;
    char num[32];
    if (len - 3 >= sizeof num)
        return false;
    memcpy(num, t + 2, len - 3);
    num[len - 3] = '\0';
    if (strspn(num, "0123456789.") != len - 3 || !(num[0] >= '0' && num[0] <= '9'))
        return false;
    char *end;
    double p = strtod(num, &end);
    return *end == '\0' && p >= 0 && p <= 100;
}

int summary_parse_trend_stats(summary_opts *o, const char *list, char *err, size_t errcap)
{
    summary_opts n = *o;
    n.n_stats = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        char item[64];
        snprintf(item, sizeof item, "%.*s", (int)(len < 63 ? len : 63), p);
        if (len == 0 || len >= sizeof n.stats[0] || !valid_stat(item)) {
            snprintf(err, errcap, "--summary-trend-stats: %s%.*s%s is not a trend stat; expected a "
                     "comma-separated list of " TREND_STATS_EXPECTED, len ? "\"" : "",
                     len ? (int)len : 0, p, len ? "\"" : "an empty item");
            return -1;
        }
        if (n.n_stats == SUMMARY_MAX_STATS) {
            snprintf(err, errcap, "--summary-trend-stats: at most %d stats", SUMMARY_MAX_STATS);
            return -1;
        }
        memcpy(n.stats[n.n_stats++], item, len + 1);
        if (!comma)
            break;
        p = comma + 1;
    }
    *o = n;
    return 0;
}

int summary_parse_time_unit(summary_opts *o, const char *unit, char *err, size_t errcap)
{
    static const char *const names[] = {[SUMMARY_UNIT_S] = "s", [SUMMARY_UNIT_MS] = "ms",
                                        [SUMMARY_UNIT_US] = "us"};
    for (int u = SUMMARY_UNIT_S; u <= SUMMARY_UNIT_US; u++)
        if (strcmp(unit, names[u]) == 0) {
            o->time_unit = (summary_time_unit)u;
            return 0;
        }
    snprintf(err, errcap, "--summary-time-unit: expected s, ms or us, got \"%s\"", unit);
    return -1;
}

int summary_parse_by(summary_opts *o, const char *list, char *err, size_t errcap)
{
    unsigned by = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 4 && strncmp(p, "name", 4) == 0)
            by |= SUMMARY_BY_NAME;
        else if (len == 8 && strncmp(p, "scenario", 8) == 0)
            by |= SUMMARY_BY_SCENARIO;
        else {
            snprintf(err, errcap, "--summary-by: expected name, scenario or name,scenario; got "
                     "\"%.*s\"", (int)len, p);
            return -1;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    o->by |= by;
    return 0;
}

static bool is_pct_stat(const char *stat)
{
    return strcmp(stat, "med") == 0 || strncmp(stat, "p(", 2) == 0;
}

double summary_trend_value(const volley_metric_info *m, const series_agg *a, const char *stat)
{
    if (strcmp(stat, "count") == 0)
        return (double)a->count;
    double v = agg_trend_stat(a, stat);
    if (m->contains == VOLLEY_CONTAINS_DEFAULT && !a->fraction && is_pct_stat(stat))
        v = round(v);
    return v;
}

static const summary_opts *opts_or_default(const summary_opts *o, summary_opts *def)
{
    if (o)
        return o;
    summary_opts_init(def);
    return def;
}

double summary_agg_value(const metrics_reg *reg, const series_agg *s, uint32_t metric,
                         const th_expr *e, double duration_s)
{
    switch (e->agg) {
    case TH_AGG_COUNT: return s->sum;
    case TH_AGG_RATE:
        if (reg->metrics[metric].info.type == VOLLEY_METRIC_COUNTER)
            return duration_s > 0 ? s->sum / duration_s : 0;
        return agg_rate(s);
    case TH_AGG_VALUE: return s->last;
    case TH_AGG_AVG: return agg_trend_stat(s, "avg");
    case TH_AGG_MIN: return agg_trend_stat(s, "min");
    case TH_AGG_MAX: return agg_trend_stat(s, "max");
    case TH_AGG_MED: return agg_trend_stat(s, "med");
    case TH_AGG_PCT: {
        char stat[32];
        snprintf(stat, sizeof stat, "p(%g)", e->pct);
        return agg_trend_stat(s, stat);
    }
    }
    return NAN;
}

bool summary_no_data(const metrics_reg *reg, const series_agg *s, uint32_t metric)
{
    return s->count == 0 && reg->metrics[metric].info.type != VOLLEY_METRIC_COUNTER;
}

/* A threshold relative to a baseline run when no --baseline was given:
 * nothing to compare with, not judged (a first run in CI has none). */
static bool unjudged(const threshold *t)
{
    return t->expr.relative && t->expr.baseline_state == TH_BASELINE_NONE;
}

bool summary_fails_run(const threshold *t, th_verdict v)
{
    return v == TH_FAIL || (v == TH_NO_DATA && !t->allow_no_data && !unjudged(t));
}

size_t summary_eval_thresholds(const spec *s, const metrics_reg *reg, const metrics_agg *agg,
                               double duration_s, th_verdict *v)
{
    size_t failed = 0;
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const threshold *t = &s->thresholds[i];
        const series_agg *a = &agg->s[t->series];
        if (summary_no_data(reg, a, t->metric) ||
            (t->expr.relative && t->expr.baseline_state != TH_BASELINE_SET))
            v[i] = TH_NO_DATA;
        else
            v[i] = th_holds(&t->expr, summary_agg_value(reg, a, t->metric, &t->expr, duration_s))
                       ? TH_PASS : TH_FAIL;
        failed += summary_fails_run(t, v[i]);
    }
    return failed;
}

/* ---- value formatting, k6 style ---- */

static void trim_zeros(char *s)
{
    char *dot = strchr(s, '.');
    if (!dot)
        return;
    char *end = s + strlen(s);
    char *unit = dot;
    while (*unit && (*unit == '.' || (*unit >= '0' && *unit <= '9')))
        unit++;
    char suffix[16];
    snprintf(suffix, sizeof suffix, "%s", unit);
    char *z = unit;
    while (z > dot && z[-1] == '0')
        z--;
    if (z - 1 == dot)
        z--;
    strcpy(z, suffix);
    (void)end;
}

static void fmt_time(double ms, char *buf, size_t cap)
{
    if (ms < 0.001 && ms > 0)
        snprintf(buf, cap, "%.0fns", ms * 1e6);
    else if (ms < 1)
        snprintf(buf, cap, "%.2fµs", ms * 1000);
    else if (ms < 1000)
        snprintf(buf, cap, "%.2fms", ms);
    else if (ms < 60000)
        snprintf(buf, cap, "%.2fs", ms / 1000);
    else {
        long m = (long)(ms / 60000);
        snprintf(buf, cap, "%ldm%.2fs", m, (ms - (double)m * 60000) / 1000);
    }
    trim_zeros(buf);
    if (ms == 0)
        snprintf(buf, cap, "0s");
}

/* A time in a fixed unit (--summary-time-unit), as k6 prints it: two
 * decimals (trailing zeros trimmed here, as in the automatic units). */
static void fmt_time_in(double ms, summary_time_unit u, char *buf, size_t cap)
{
    if (u == SUMMARY_UNIT_AUTO) {
        fmt_time(ms, buf, cap);
        return;
    }
    static const char *const unit[] = {"", "s", "ms", "µs"};
    static const double per_ms[] = {1, 1e-3, 1, 1e3};
    snprintf(buf, cap, "%.2f%s", ms * per_ms[u], unit[u]);
    trim_zeros(buf);
}

static void fmt_data(double bytes, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f %s", bytes, units[u]);
    else
        snprintf(buf, cap, "%.1f %s", bytes, units[u]);
}

static void fmt_value(volley_metric_contains c, double v, char *buf, size_t cap)
{
    if (c == VOLLEY_CONTAINS_TIME)
        fmt_time(v, buf, cap);
    else if (c == VOLLEY_CONTAINS_DATA)
        fmt_data(v, buf, cap);
    else {
        snprintf(buf, cap, "%.6f", v);
        trim_zeros(buf);
    }
}

/* A rate as a percentage with `decimals` digits, rounded down as k6 does,
 * from the counts themselves: 23924 of 24000 is 99.68%, never 100% while
 * one failed (printf's rounding said 100%). */
static void fmt_pct(unsigned long long part, unsigned long long whole, int decimals, char *buf,
                    size_t cap)
{
    unsigned long long scale = decimals == 2 ? 10000ull : 100ull;
    unsigned long long q = whole ? part * scale / whole : 0;   /* exact: integers */
    if (q == 0 && part > 0) {
        /* and a share that is not 0 never reads 0: 1 failure in 48,000 */
        snprintf(buf, cap, decimals == 2 ? "<0.01%%" : "<1%%");
        return;
    }
    if (decimals == 2)
        snprintf(buf, cap, "%llu.%02llu%%", q / 100, q % 100);
    else
        snprintf(buf, cap, "%llu%%", q);
}

void summary_fmt_pct(unsigned long long part, unsigned long long whole, int decimals, char *buf,
                     size_t cap)
{
    fmt_pct(part, whole, decimals, buf, cap);
}

/* Columns, bytes beyond display columns: "µ" is two bytes, one column. */
static int display_len(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

/* "name........: " padded to a fixed width, as k6 aligns it. */
static void print_label(FILE *out, const char *indent, const char *name, int width)
{
    int len = display_len(name);
    fprintf(out, "%s%s", indent, name);
    for (int i = len; i < width; i++)
        fputc('.', out);
    fputs(": ", out);
}

/* "p(95)=412ms", "count=21": one stat of a trend as the summary shows it. */
static void trend_cell(const volley_metric_info *m, const series_agg *a, const summary_opts *o,
                       size_t stat, char *cell, size_t cap)
{
    const char *name = o->stats[stat];
    summary_fmt_trend_cell(m->contains, name, summary_trend_value(m, a, name), o, cell, cap);
}

void summary_fmt_trend_cell(volley_metric_contains c, const char *stat, double x,
                            const summary_opts *o, char *cell, size_t cap)
{
    char v[64];
    if (strcmp(stat, "count") == 0)
        snprintf(v, sizeof v, "%.0f", x);
    else if (c == VOLLEY_CONTAINS_TIME)
        fmt_time_in(x, o ? o->time_unit : SUMMARY_UNIT_AUTO, v, sizeof v);
    else
        fmt_value(c, x, v, sizeof v);
    snprintf(cell, cap, "%s=%s", stat, v);
}

/* Whether a sub-metric has a line of its own: a breakdown without a
 * threshold only when --summary-by asks for its kind. */
/* A per-scenario series of setup when --setup-data gave its captures:
 * setup did not run here, nothing of it to show. */
static bool setup_elsewhere(const spec *s, const series_def *sd, const summary_opts *o)
{
    return o->setup_data && sd->per_scenario && s->setup_sc >= 0 && sd->n_filters == 1 &&
           sd->filters[0].key == TAG_SCENARIO &&
           strcmp(sd->filters[0].value, s->scenarios[s->setup_sc].name) == 0;
}

static bool sub_shown(const spec *s, const metrics_reg *reg, uint32_t series, const summary_opts *o)
{
    const series_def *sd = &reg->series[series];
    if (setup_elsewhere(s, sd, o))
        return false;
    if (!sd->breakdown && !sd->per_scenario)
        return true;
    for (size_t i = 0; i < s->n_thresholds; i++)
        if (s->thresholds[i].series == series)
            return true;
    return (o->by & (sd->per_scenario ? SUMMARY_BY_SCENARIO : SUMMARY_BY_NAME)) != 0;
}

bool summary_series_exported(const spec *s, const metrics_reg *reg, uint32_t series,
                             const summary_opts *o)
{
    /* per-name breakdowns as in the text summary, when --summary-by asks;
     * per-scenario ones always (the export had them before) */
    const series_def *sd = &reg->series[series];
    summary_opts dflt;
    if (!o) {
        summary_opts_init(&dflt);
        o = &dflt;
    }
    return reg->metrics[sd->metric].series == series ||
           (sd->per_scenario && !setup_elsewhere(s, sd, o)) || sub_shown(s, reg, series, o);
}

/* Trend columns line up across rows, as in k6's summary. */
static void trend_widths(const spec *s, const metrics_reg *reg, const metrics_agg *agg,
                         const uint32_t *order, size_t n, const summary_opts *o, int *widths)
{
    for (size_t i = 0; i < o->n_stats; i++)
        widths[i] = 0;
    for (size_t k = 0; k < n; k++) {
        const metric_def *m = &reg->metrics[order[k]];
        if (m->info.type != VOLLEY_METRIC_TREND)
            continue;
        for (size_t j = 0; j <= m->n_subs; j++) {
            if (j > 0 && !sub_shown(s, reg, m->subs[j - 1], o))
                continue;
            const series_agg *a = &agg->s[j == 0 ? m->series : m->subs[j - 1]];
            for (size_t i = 0; i < o->n_stats; i++) {
                char cell[96];
                trend_cell(&m->info, a, o, i, cell, sizeof cell);
                int len = display_len(cell);
                if (len > widths[i])
                    widths[i] = len;
            }
        }
    }
}

static void print_series(FILE *out, const metrics_reg *reg, const series_agg *a, uint32_t metric,
                         double duration_s, const summary_opts *o, const int *widths)
{
    const volley_metric_info *m = &reg->metrics[metric].info;
    char v1[64], v2[64];
    if (summary_no_data(reg, a, metric)) {
        fputs("no data\n", out);
        return;
    }
    switch (m->type) {
    case VOLLEY_METRIC_COUNTER:
        fmt_value(m->contains, a->sum, v1, sizeof v1);
        fmt_value(m->contains, duration_s > 0 ? a->sum / duration_s : 0, v2, sizeof v2);
        fprintf(out, "%-10s %s/s\n", v1, v2);
        break;
    case VOLLEY_METRIC_RATE:
        fmt_pct(a->nonzero, a->count, 2, v1, sizeof v1);
        fprintf(out, "%s ✓ %-8llu ✗ %llu\n", v1, (unsigned long long)a->nonzero,
                (unsigned long long)(a->count - a->nonzero));
        break;
    case VOLLEY_METRIC_GAUGE:
        fmt_value(m->contains, a->last, v1, sizeof v1);
        fprintf(out, "%-10s min=", v1);
        fmt_value(m->contains, a->min, v1, sizeof v1);
        fmt_value(m->contains, a->max, v2, sizeof v2);
        fprintf(out, "%-8s max=%s\n", v1, v2);
        break;
    case VOLLEY_METRIC_TREND:
        for (size_t i = 0; i < o->n_stats; i++) {
            char cell[96];
            trend_cell(m, a, o, i, cell, sizeof cell);
            bool last = i + 1 == o->n_stats;
            int w = widths[i] + (int)strlen(cell) - display_len(cell);
            fprintf(out, "%-*s%s", last ? 0 : w, cell, last ? "" : " ");
        }
        fputc('\n', out);
        break;
    }
}

static int cmp_metric(const void *a, const void *b, void *reg)
{
    const metrics_reg *r = reg;
    return strcmp(r->metrics[*(const uint32_t *)a].info.name, r->metrics[*(const uint32_t *)b].info.name);
}

/* The mark of a series' line from its thresholds' verdicts. */
typedef enum mark { MARK_NONE, MARK_PASS, MARK_FAIL, MARK_ALLOWED } mark;

static mark series_mark(const spec *s, uint32_t series, const th_verdict *v)
{
    mark m = MARK_NONE;
    for (size_t i = 0; i < s->n_thresholds; i++) {
        if (s->thresholds[i].series != series || unjudged(&s->thresholds[i]))
            continue;   /* relative without --baseline: says nothing of the line */
        if (summary_fails_run(&s->thresholds[i], v[i]))
            return MARK_FAIL;
        m = v[i] == TH_NO_DATA ? MARK_ALLOWED : m == MARK_ALLOWED ? m : MARK_PASS;
    }
    return m;
}

/* "   ✓ " and its kin, at two indents (metrics, sub-metrics). */
static const char *mark_text(mark m, bool sub)
{
    static const char *const t[2][4] = {
        {"     ", "   ✓ ", "   ✗ ", "   - "},
        {"       ", "     ✓ ", "     ✗ ", "     - "}};
    return t[sub][m];
}

/* The check items (metric BUILTIN_CHECKS), as k6 lists them; or the
 * captures (BUILTIN_CAPTURES) that failed, under their own heading. */
static void print_checks(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r,
                         uint32_t metric)
{
    const metrics_agg *agg = &r->agg;
    bool any = false;
    const char *last_group = NULL;
    for (size_t i = 0; i < reg->n_series; i++) {
        const series_def *sd = &reg->series[i];
        if (!sd->hidden || sd->metric != metric)
            continue;
        const series_agg *a = &agg->s[i];
        if (metric == BUILTIN_CAPTURES && a->count == a->nonzero)
            continue;   /* taken every time (or never run): nothing to say */
        if (metric == BUILTIN_CAPTURES && !any) {
            fprintf(out, "     captures that failed\n");
            last_group = "";
        }
        const char *group = sd->check_group, *check = sd->check_name;
        if (!last_group || strcmp(last_group, group) != 0) {
            if (*group)
                fprintf(out, "\n     █ %s\n\n", group + 2);   /* without the leading "::" */
            else if (any)
                fputc('\n', out);
            last_group = group;
        }
        const char *indent = *group ? "       " : "     ";
        uint64_t fails = a->count - a->nonzero;
        if (a->count == 0) {
            /* declared but never run (e.g. every message check of sessions
             * that received nothing): neither passed nor failed */
            fprintf(out, "%s- %s (never evaluated)\n", indent, check);
            any = true;
            continue;
        }
        fprintf(out, "%s%s %s\n", indent, fails ? "✗" : "✓", check);
        if (fails) {
            char pct[32];
            fmt_pct(a->nonzero, a->count, 0, pct, sizeof pct);
            fprintf(out, "%s ↳  %s — ✓ %llu / ✗ %llu\n", indent, pct,
                    (unsigned long long)a->nonzero, (unsigned long long)fails);
        }
        if (fails && r->check_fail && i < r->n_check_fail && r->check_fail[i])
            fprintf(out, "%s    first failure: %s\n", indent, r->check_fail[i]);
        any = true;
    }
    (void)s;
    if (any)
        fputc('\n', out);
}

/* One line per scenario from the per-scenario series (several scenarios). */
static void print_scenarios(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r,
                            double dur, const summary_opts *o)
{
    bool any = false;
    for (size_t i = 0; i < s->n_scenarios; i++) {
        const char *name = s->scenarios[i].name;
        char line[1024];
        size_t len = 0;
        if (o->setup_data && s->scenarios[i].role == SC_ROLE_SETUP) {
            /* its captures came from the file: no iteration of it to show */
            fprintf(out, "%s       %s: from %s (not run here)\n", any ? "" : "\n     scenarios:\n",
                    name, o->setup_data);
            any = true;
            continue;
        }
        for (size_t k = 0; k < reg->n_series; k++) {
            const series_def *sd = &reg->series[k];
            const char *brace = strchr(sd->name, '{');
            /* exactly {scenario:NAME}: made for this section or by a threshold */
            if (sd->n_filters != 1 || sd->filters[0].key != TAG_SCENARIO ||
                strcmp(sd->filters[0].value, name) != 0 || !brace)
                continue;
            const series_agg *a = &r->agg.s[k];
            const volley_metric_info *m = &reg->metrics[sd->metric].info;
            char v[64] = "-";   /* no data */
            if (m->type == VOLLEY_METRIC_TREND) {
                if (a->count && m->contains == VOLLEY_CONTAINS_TIME)
                    fmt_time_in(agg_trend_stat(a, "p(95)"), o->time_unit, v, sizeof v);
                else if (a->count)
                    fmt_value(m->contains, summary_trend_value(m, a, "p(95)"), v, sizeof v);
                len += (size_t)snprintf(line + len, sizeof line - len, "  %s p(95)=%s", m->name, v);
            } else if (m->type == VOLLEY_METRIC_RATE) {
                if (a->count)
                    fmt_pct(a->nonzero, a->count, 2, v, sizeof v);
                len += (size_t)snprintf(line + len, sizeof line - len, "  %s=%s", m->name, v);
            } else if (a->sum > 0 || m->type != VOLLEY_METRIC_COUNTER ||
                       strcmp(m->name, "dropped_iterations") != 0) {
                len += (size_t)snprintf(line + len, sizeof line - len, "  %s=%.0f (%.1f/s)", m->name,
                                        a->sum, dur > 0 ? a->sum / dur : 0);
            }
            if (len >= sizeof line)
                len = sizeof line - 1;
        }
        if (!len)
            continue;
        if (!any)
            fprintf(out, "\n     scenarios:\n");
        any = true;
        fprintf(out, "       %s (%s):%s\n", name, executor_name(s->scenarios[i].executor), line);
    }
}

/* Samples the outputs did not get: dropped by a full output queue or a
 * failed output, summed over the outputs. */
static uint64_t output_drops(const run_result *r)
{
    uint64_t n = 0;
    for (size_t i = 0; i < r->n_outputs; i++)
        n += r->outputs[i].dropped;
    return n;
}

/* The runner's own health: CPU against the CPUs the process may run on
 * (its affinity, not the machine's), how late open-model iterations
 * started, output drops (and samples lost to out-of-memory, when there
 * were any); and a loud warning when the generator, not the target,
 * limited the load in any window of the run (windows.c judges each
 * second: a whole-run average hides a bad stretch). */
static void print_health(FILE *out, const metrics_reg *reg, const run_result *r, double dur)
{
    const series_agg *lag = &r->agg.s[reg->metrics[BUILTIN_SCHEDULE_LAG].series];
    const run_health *h = &r->health;
    int cores = h->cores > 0 ? h->cores : 1;
    double busy = dur > 0 ? 100.0 * r->cpu_s / (dur * cores) : 0;
    char oom_text[64] = "";
    if (r->samples_dropped)
        snprintf(oom_text, sizeof oom_text, ", out-of-memory drops %llu",
                 (unsigned long long)r->samples_dropped);
    char lag_text[64] = "-";
    if (lag->count)
        fmt_time(agg_trend_stat(lag, "p(95)"), lag_text, sizeof lag_text);
    fprintf(out, "\n     runner: %d worker%s, CPU %.2fs (%.0f%% of %d core%s), schedule lag p(95) %s, "
            "output drops %llu%s, seed %llu\n", r->workers, r->workers == 1 ? "" : "s", r->cpu_s,
            busy, cores, cores == 1 ? "" : "s", lag_text,
            (unsigned long long)output_drops(r), oom_text, (unsigned long long)r->seed);
    if (h->n_behind == 0)
        return;
    char worst[64] = "-";
    if (h->worst_lag95_ms >= 0)
        fmt_time(h->worst_lag95_ms, worst, sizeof worst);
    char per[32] = "seconds";
    if (h->window_s > 1)
        snprintf(per, sizeof per, "%ds windows", h->window_s);
    fprintf(out, "     WARNING: the load generator fell behind in %zu of %zu %s (from %.0fs to "
            "%.0fs; worst schedule lag p(95) %s, busiest worker %.0f%% of a core, %.0f iterations "
            "dropped while behind): the numbers measure volley's limits as much as the target's; "
            "%s\n", h->n_behind, h->n_windows, per,
            h->behind_first_s, h->behind_last_s, worst,
            h->worst_busy_pct > 0 ? h->worst_busy_pct : 0, h->dropped_lag,
            h->worst_busy_pct >= 0 && h->worst_busy_pct < 50
                ? "its workers were not busy, so the process did not get the CPU it needed "
                  "(other processes on its cores, nice, a CPU quota?)"
                : "use more workers or a lighter flow");
}

/* "p(95)=412ms", "rate=0.12", "count=2090": what a failed threshold read
 * (counts and rates as the plain numbers the expression compares). */
static void fmt_judged(const metrics_reg *reg, const threshold *t, const series_agg *a,
                       double dur, char *buf, size_t cap)
{
    const volley_metric_info *m = &reg->metrics[t->metric].info;
    double v = summary_agg_value(reg, a, t->metric, &t->expr, dur);
    char label[32], val[64];
    th_agg_label(&t->expr, label, sizeof label);
    bool plain = t->expr.agg == TH_AGG_RATE || t->expr.agg == TH_AGG_COUNT;
    fmt_value(plain ? VOLLEY_CONTAINS_DEFAULT : m->contains, v, val, sizeof val);
    const char *per = t->expr.agg == TH_AGG_RATE && m->type == VOLLEY_METRIC_COUNTER ? "/s" : "";
    if (t->expr.relative && t->expr.baseline_state == TH_BASELINE_SET) {
        /* What the limit came to: "p(95)=12ms, baseline 10ms, limit 11ms". */
        char base[64], lim[64];
        fmt_value(plain ? VOLLEY_CONTAINS_DEFAULT : m->contains, t->expr.baseline, base, sizeof base);
        fmt_value(plain ? VOLLEY_CONTAINS_DEFAULT : m->contains, t->expr.target, lim, sizeof lim);
        snprintf(buf, cap, "%s=%s%s, baseline %s%s, limit %s%s", label, val, per, base, per, lim, per);
        return;
    }
    snprintf(buf, cap, "%s=%s%s", label, val, per);
}

void summary_fmt_value(volley_metric_contains c, double v, char *buf, size_t cap)
{
    fmt_value(c, v, buf, cap);
}

void summary_fmt_judged(const metrics_reg *reg, const threshold *t, const series_agg *a,
                        double duration_s, char *buf, size_t cap)
{
    fmt_judged(reg, t, a, duration_s, buf, cap);
}

/* Every threshold that did not pass, with what it read or "no data", then
 * how many failed the run. Nothing when all passed. */
static void print_verdicts(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r,
                           const th_verdict *v)
{
    double dur = (double)r->duration_ns / 1e9;
    size_t failed = 0, no_data = 0, shown = 0;
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const threshold *t = &s->thresholds[i];
        if (v[i] == TH_PASS)
            continue;
        bool fails = summary_fails_run(t, v[i]);
        failed += fails;
        no_data += fails && v[i] == TH_NO_DATA;
        if (!shown++)
            fprintf(out, "\n     thresholds not passed:\n");
        char why[160] = "no data";
        if (v[i] == TH_FAIL)
            fmt_judged(reg, t, &r->agg.s[t->series], dur, why, sizeof why);
        else if (unjudged(t))
            snprintf(why, sizeof why, "not judged: no --baseline run to compare with");
        else if (t->expr.relative && t->expr.baseline_state == TH_BASELINE_MISSING)
            snprintf(why, sizeof why, "no data in the --baseline run%s",
                     fails ? "" : " (allow_no_data)");
        else if (!fails)
            snprintf(why, sizeof why, "no data (allow_no_data)");
        fprintf(out, "       %s %s \"%s\": %s%s\n", fails ? "✗" : "-", t->key, t->source, why,
                r->aborted && r->abort_threshold == i
                    ? " at the end; it stopped the run (abort_on_fail)" : "");
    }
    if (failed && no_data)
        fprintf(out, "\n     ✗ %zu of %zu thresholds failed, %zu of them for no data: not one sample "
                "reached their metric or sub-metric\n       (a misspelled tag filter? where no data "
                "is expected, allow_no_data: true accepts it)\n", failed, s->n_thresholds, no_data);
    else if (failed)
        fprintf(out, "\n     ✗ %zu of %zu thresholds failed\n", failed, s->n_thresholds);
}

/* The label of a sub-metric's line: "{ status:200 }". */
static void sub_label(const series_def *sd, char *buf, size_t cap)
{
    const char *brace = strchr(sd->name, '{');
    if (brace)
        snprintf(buf, cap, "{ %.*s }", (int)(strlen(brace) - 2), brace + 1);
    else
        snprintf(buf, cap, "%s", sd->name);
}

/* The dotted labels' width: k6's 31, or more for longer names (request
 * names in breakdowns), up to a limit past which a line is just longer. */
static int label_width(const spec *s, const metrics_reg *reg, const uint32_t *order, size_t n,
                       const summary_opts *o)
{
    int width = 31;
    for (size_t k = 0; k < n; k++) {
        const metric_def *m = &reg->metrics[order[k]];
        for (size_t j = 0; j < m->n_subs; j++) {
            if (!sub_shown(s, reg, m->subs[j], o))
                continue;
            char label[512];
            sub_label(&reg->series[m->subs[j]], label, sizeof label);
            int need = display_len(label) + 2 + 3;   /* its indent and a few dots */
            if (need > width)
                width = need < 64 ? need : 64;
        }
    }
    return width;
}

/* Why the run stopped early, after the running line: the threshold that
 * aborted it, or the step whose check failed with on_check_fail:
 * abort_test (said on stderr when it happened, and here to stay). */
static void print_abort(FILE *out, const spec *s, const run_result *r)
{
    if (r->aborted && r->abort_threshold < s->n_thresholds) {
        const threshold *t = &s->thresholds[r->abort_threshold];
        fprintf(out, "     ✗ aborted: threshold %s \"%s\" failed during the run (abort_on_fail)\n",
                t->key, t->source);
    }
    if (r->test_aborted)
        fprintf(out, "     ✗ aborted: %s\n", r->abort_reason);
}

void summary_print(FILE *out, const spec *s, const metrics_reg *reg, const run_result *r,
                   const th_verdict *v, const summary_opts *opts)
{
    summary_opts def;
    const summary_opts *o = opts_or_default(opts, &def);
    double dur = (double)r->duration_ns / 1e9;
    fputc('\n', out);
    print_checks(out, s, reg, r, BUILTIN_CHECKS);
    print_checks(out, s, reg, r, BUILTIN_CAPTURES);
    uint32_t *order = malloc(reg->n_metrics * sizeof *order);
    if (!order)
        return;
    size_t n = 0;
    for (uint32_t i = 0; i < reg->n_metrics; i++) {
        const series_agg *a = &r->agg.s[reg->metrics[i].series];
        if (a->count > 0 || reg->metrics[i].info.n_thresholds > 0)
            order[n++] = i;
    }
    qsort_r(order, n, sizeof *order, cmp_metric, (void *)reg);
    const int width = label_width(s, reg, order, n, o);
    int widths[SUMMARY_MAX_STATS];
    trend_widths(s, reg, &r->agg, order, n, o, widths);
    for (size_t k = 0; k < n; k++) {
        const metric_def *m = &reg->metrics[order[k]];
        print_label(out, mark_text(series_mark(s, m->series, v), false), m->info.name, width);
        print_series(out, reg, &r->agg.s[m->series], order[k], dur, o, widths);
        for (size_t j = 0; j < m->n_subs; j++) {
            if (!sub_shown(s, reg, m->subs[j], o))
                continue;
            char label[512];
            sub_label(&reg->series[m->subs[j]], label, sizeof label);
            print_label(out, mark_text(series_mark(s, m->subs[j], v), true), label, width - 2);
            print_series(out, reg, &r->agg.s[m->subs[j]], order[k], dur, o, widths);
        }
    }
    free(order);

    fprintf(out, "\n     running (%.1fs), %lld/%lld VUs, %llu complete and %llu interrupted iterations%s\n",
            dur, 0LL, (long long)r->vus_max, (unsigned long long)r->iterations_complete,
            (unsigned long long)r->iterations_interrupted, r->interrupted ? " (interrupted)" : r->aborted ? " (aborted by a threshold)"
            : r->test_aborted ? r->abort_step ? " (aborted by an abort step)"
                                              : " (aborted by on_check_fail: abort_test)" : "");
    print_abort(out, s, r);

    print_scenarios(out, s, reg, r, dur, o);
    stages_print(out, s, reg, r);   /* stages.c: ramping scenarios' stages, breaking points */
    print_health(out, reg, r, dur);
    int failed_id = metrics_find(reg, "http_req_failed");
    if (failed_id >= 0) {
        const series_agg *a = &r->agg.s[reg->metrics[failed_id].series];
        /* http_req_duration counts the requests that got a response */
        int dur_id = metrics_find(reg, "http_req_duration");
        unsigned long long reqs = a->count,
            got = dur_id >= 0 ? r->agg.s[reg->metrics[dur_id].series].count : 0;
        if (reqs > 0 && a->nonzero == reqs && got == 0)
            fprintf(out, "\n     WARNING: none of the %llu HTTP requests got a response "
                    "(http_req_failed 100%%): is the target up?\n", reqs);
        else if (reqs > 0 && a->nonzero == reqs)
            fprintf(out, "\n     WARNING: every one of the %llu HTTP requests failed "
                    "(http_req_failed 100%%): %llu got a response, with a status not in "
                    "expected_statuses (200-399 unless set)%s\n", reqs, got < reqs ? got : reqs,
                    got < reqs ? ", the others none" : "");
    }
    /* What plugins said about the spec at load time (config_warning), e.g.
     * certificate verification switched off: the numbers come with it. */
    for (size_t i = 0; i < s->n_warnings; i++)
        fprintf(out, "%s     WARNING: %s\n", i ? "" : "\n", s->warnings[i]);
    /* and what plugins warned about during the run (redacted already) */
    for (size_t i = 0; i < r->n_warnings; i++)
        fprintf(out, "%s     WARNING: %s\n", i || s->n_warnings ? "" : "\n", r->warnings[i]);
    for (size_t i = 0; i < r->n_outputs; i++) {
        const output_report *out_r = &r->outputs[i];
        fprintf(out, "     output %s: %llu samples sent to it, %llu dropped%s%s\n", out_r->label,
                (unsigned long long)out_r->written, (unsigned long long)out_r->dropped,
                out_r->failed ? "; ERROR: " : "", out_r->failed ? out_r->err : "");
    }
    print_verdicts(out, s, reg, r, v);
    fputc('\n', out);
    fflush(out);
}

/* ---- --summary-export (k6's legacy JSON shape) ---- */

json_t *summary_captures_json(const metrics_reg *reg, const run_result *r)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < reg->n_series; i++) {
        const series_def *sd = &reg->series[i];
        if (!sd->hidden || sd->metric != BUILTIN_CAPTURES)
            continue;
        const series_agg *a = &r->agg.s[i];
        const char *why = r->check_fail && i < r->n_check_fail ? r->check_fail[i] : NULL;
        json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:I, s:o}", "name", sd->check_name,
                                              "group", sd->check_group, "passes",
                                              (json_int_t)a->nonzero, "fails",
                                              (json_int_t)(a->count - a->nonzero), "first_failure",
                                              why ? json_string(why) : json_null()));
    }
    return list;
}

/* A stable 32-hex-digit id of a group/check path (k6 uses md5; ours is two
 * FNV-1a hashes: unique enough and dependency-free). */
static void path_id(const char *path, char out[33])
{
    uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull ^ 0x9e3779b97f4a7c15ull;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        h1 = (h1 ^ *p) * 1099511628211ull;
        h2 = (h2 ^ *p) * 0x100000001b3ull + 0x9e37;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

static json_t *new_group(const char *name, const char *path)
{
    char id[33];
    path_id(path, id);
    return json_pack("{s:s, s:s, s:s, s:{}, s:{}}", "name", name, "path", path, "id", id,
                     "groups", "checks");
}

/* Finds or creates the group object for "::a::b" under root. */
static json_t *group_for(json_t *root, const char *gpath)
{
    json_t *g = root;
    char path[512] = "";
    const char *p = gpath;
    while (p && *p) {
        p += 2;   /* skip "::" */
        const char *next = strstr(p, "::");
        size_t len = next ? (size_t)(next - p) : strlen(p);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        size_t used = strlen(path);
        snprintf(path + used, sizeof path - used, "::%s", name);
        json_t *groups = json_object_get(g, "groups");
        json_t *child = json_object_get(groups, name);
        if (!child) {
            child = new_group(name, path);
            json_object_set_new(groups, name, child);
        }
        g = child;
        p = next;
    }
    return g;
}

static json_t *metric_values(const metrics_reg *reg, const series_agg *a, uint32_t metric,
                             double dur, const summary_opts *opts)
{
    const volley_metric_info *m = &reg->metrics[metric].info;
    json_t *o = json_object();
    switch (m->type) {
    case VOLLEY_METRIC_COUNTER:
        json_object_set_new(o, "count", json_real(a->sum));
        json_object_set_new(o, "rate", json_real(dur > 0 ? a->sum / dur : 0));
        break;
    case VOLLEY_METRIC_RATE:
        json_object_set_new(o, "passes", json_integer((json_int_t)a->nonzero));
        json_object_set_new(o, "fails", json_integer((json_int_t)(a->count - a->nonzero)));
        json_object_set_new(o, "value", json_real(agg_rate(a)));
        break;
    case VOLLEY_METRIC_GAUGE:
        json_object_set_new(o, "value", json_real(a->last));
        json_object_set_new(o, "min", json_real(a->min));
        json_object_set_new(o, "max", json_real(a->max));
        break;
    case VOLLEY_METRIC_TREND:
        for (size_t i = 0; i < opts->n_stats; i++) {
            const char *stat = opts->stats[i];
            json_object_set_new(o, stat, strcmp(stat, "count") == 0
                                             ? json_integer((json_int_t)a->count)
                                             : json_real(summary_trend_value(m, a, stat)));
        }
        break;
    }
    return o;
}

static void add_thresholds(json_t *o, const spec *s, uint32_t series, const th_verdict *v)
{
    json_t *th = NULL;
    for (size_t i = 0; i < s->n_thresholds; i++) {
        if (s->thresholds[i].series != series)
            continue;
        if (!th)
            th = json_object();
        /* k6's legacy export: true means the threshold FAILED, here: it
         * fails the run (no data too, unless allow_no_data). */
        json_object_set_new(th, s->thresholds[i].source,
                            json_boolean(summary_fails_run(&s->thresholds[i], v[i])));
    }
    if (th)
        json_object_set_new(o, "thresholds", th);
}

/* "2026-12-07T01:02:03.123Z" */
static void fmt_rfc3339(int64_t unix_ns, char *buf, size_t cap)
{
    time_t sec = (time_t)(unix_ns / 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char day[40];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03dZ", day, (int)(unix_ns % 1000000000 / 1000000));
}

/* The run's outcome in one word, from its exit code. */
static const char *verdict_word(int exit_code)
{
    switch (exit_code) {
    case 0: return "pass";
    case 99: return "fail";
    case 105: return "interrupted";
    case 108: return "aborted";
    case -1: return "unknown";
    default: return "error";
    }
}

/* Each threshold that fails the run: its key, expression, what it read
 * and its limit (the summary's "thresholds not passed" lines). */
static json_t *failed_thresholds(const spec *s, const metrics_reg *reg, const run_result *r,
                                 const th_verdict *v, double dur)
{
    json_t *list = json_array();
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const threshold *t = &s->thresholds[i];
        if (!summary_fails_run(t, v[i]))
            continue;
        const series_agg *a = &r->agg.s[t->series];
        bool no_data = v[i] == TH_NO_DATA;
        char judged[160] = "no data";
        if (!no_data)
            fmt_judged(reg, t, a, dur, judged, sizeof judged);
        json_array_append_new(list, json_pack(
            "{s:s, s:s, s:s, s:o, s:s, s:f, s:b}", "metric", t->key, "expression", t->source,
            "verdict", no_data ? "no_data" : "fail",
            "value", no_data ? json_null() : json_real(summary_agg_value(reg, a, t->metric, &t->expr, dur)),
            "observed", judged, "limit", t->expr.target,
            "aborted_run", r->aborted && r->abort_threshold == i));
    }
    return list;
}

/* Volley's `run` object: what ran, when, with what, and how it ended. */
static json_t *run_meta(const spec *s, const metrics_reg *reg, const run_result *r,
                        const th_verdict *v, const summary_opts *o)
{
    double dur = (double)r->duration_ns / 1e9;
    char start[48], end[48];
    fmt_rfc3339(r->start_unix_ns, start, sizeof start);
    fmt_rfc3339(r->start_unix_ns + r->duration_ns, end, sizeof end);
    json_t *tags = json_object(), *stats = json_array();
    for (size_t i = 0; i < reg->n_run_tags; i++)
        json_object_set_new(tags, reg->run_tags[i].key, json_string(reg->run_tags[i].value));
    for (size_t i = 0; i < o->n_stats; i++)
        json_array_append_new(stats, json_string(o->stats[i]));
    char reason[640] = "";
    if (r->aborted && r->abort_threshold < s->n_thresholds)
        snprintf(reason, sizeof reason, "threshold %s \"%s\" failed during the run (abort_on_fail)",
                 s->thresholds[r->abort_threshold].key, s->thresholds[r->abort_threshold].source);
    else if (r->test_aborted)
        snprintf(reason, sizeof reason, "%s", r->abort_reason);
    size_t failed = 0;
    for (size_t i = 0; i < s->n_thresholds; i++)
        failed += summary_fails_run(&s->thresholds[i], v[i]);
    /* seeds past INT64_MAX (a negative --seed) as text: JSON readers would
     * take the integer for a negative one */
    json_t *seed = r->seed <= INT64_MAX ? json_integer((json_int_t)r->seed) : NULL;
    if (!seed) {
        char text[32];
        snprintf(text, sizeof text, "%llu", (unsigned long long)r->seed);
        seed = json_string(text);
    }
    json_t *run = json_pack(
        "{s:s, s:{s:s, s:s}, s:s, s:s, s:f, s:o, s:i, s:o, s:I, s:{s:I, s:I}, s:b, s:b, s:o,"
        " s:s, s:o, s:{s:I, s:I}, s:o, s:o}",
        "volley", VOLLEY_VERSION,
        "spec", "name", s->name ? s->name : "", "path", s->path ? s->path : "",
        "start", start, "end", end, "duration_s", dur, "seed", seed, "workers", r->workers,
        "run_tags", tags, "vus_max", (json_int_t)r->vus_max,
        "iterations", "complete", (json_int_t)r->iterations_complete,
        "interrupted", (json_int_t)r->iterations_interrupted,
        "interrupted", r->interrupted, "aborted", r->aborted || r->test_aborted,
        "abort_reason", *reason ? json_string(reason) : json_null(),
        "verdict", verdict_word(o->exit_code),
        "exit_code", o->exit_code >= 0 ? json_integer(o->exit_code) : json_null(),
        "thresholds", "total", (json_int_t)s->n_thresholds, "failed", (json_int_t)failed,
        "failed_thresholds", failed_thresholds(s, reg, r, v, dur),
        "summary_trend_stats", stats);
    if (run && o->setup_data)   /* setup's captures came from this file: it did not run */
        json_object_set_new(run, "setup_data", json_string(o->setup_data));
    if (run && o->segment && o->sequence) {   /* --execution-segment */
        json_object_set_new(run, "segment", json_string(o->segment));
        json_object_set_new(run, "sequence", json_string(o->sequence));
    }
    return run;
}

int summary_export(const char *path, const spec *s, const metrics_reg *reg,
                   const run_result *r, const th_verdict *v, const summary_opts *opts,
                   char *err, size_t errcap)
{
    summary_opts def;
    const summary_opts *o = opts_or_default(opts, &def);
    double dur = (double)r->duration_ns / 1e9;
    json_t *root_group = new_group("", "");
    for (size_t i = 0; i < reg->n_series; i++) {
        const series_def *sd = &reg->series[i];
        if (!sd->hidden || sd->metric != BUILTIN_CHECKS)
            continue;
        const series_agg *a = &r->agg.s[i];
        const char *group = sd->check_group, *check = sd->check_name;
        json_t *g = group_for(root_group, group);
        char cpath[768], id[33];
        snprintf(cpath, sizeof cpath, "%s::%s", group, check);
        path_id(cpath, id);
        json_object_set_new(json_object_get(g, "checks"), check,
                            json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", check, "path", cpath,
                                      "id", id, "passes", (json_int_t)a->nonzero,
                                      "fails", (json_int_t)(a->count - a->nonzero)));
    }
    json_t *metrics = json_object();
    for (size_t i = 0; i < reg->n_series; i++) {
        const series_def *sd = &reg->series[i];
        const series_agg *a = &r->agg.s[i];
        if (sd->hidden || (a->count == 0 && reg->metrics[sd->metric].info.n_thresholds == 0))
            continue;
        if (!summary_series_exported(s, reg, (uint32_t)i, o))
            continue;
        json_t *values = metric_values(reg, a, sd->metric, dur, o);
        add_thresholds(values, s, (uint32_t)i, v);
        /* Not in k6's shape: the values above are placeholders (zeros). */
        if (summary_no_data(reg, a, sd->metric))
            json_object_set_new(values, "no_data", json_true());
        json_object_set_new(metrics, sd->name, values);
    }
    /* Not in k6's shape: the runner's drops, as the text summary's runner line. */
    json_t *runner = json_pack("{s:I, s:I}", "output_drops", (json_int_t)output_drops(r),
                               "out_of_memory_drops", (json_int_t)r->samples_dropped);
    /* Not in k6's shape: the run's metadata and verdict. */
    json_t *doc = json_pack("{s:o, s:o, s:o, s:o, s:o}", "root_group", root_group, "metrics",
                            metrics, "runner", runner, "run", run_meta(s, reg, r, v, o),
                            "captures", summary_captures_json(reg, r));
    /* Not in k6's shape: ramping scenarios' stages and breaking points (stages.c). */
    json_t *stages = stages_json(s, reg, r);
    if (stages)
        json_object_set_new(doc, "stages", stages);
    int rc = doc ? json_dump_file(doc, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) : -1;
    json_decref(doc);
    if (rc != 0) {
        snprintf(err, errcap, "%s: cannot write the summary export", path);
        return -1;
    }
    return 0;
}
