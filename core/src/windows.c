/*
 * windows: closing a window of the run (windows.h).
 */
#include "windows.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "spec.h"

/* A window is "behind" when open-model iterations started this late, or
 * when a worker was this busy while iterations were dropped. */
#define BEHIND_LAG_MS 10.0
#define BEHIND_BUSY_PCT 90.0

int windows_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static double process_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double clock_s(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) != 0)
        return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void mark_threads(run_windows *w)
{
    for (int i = 0; i < w->n_threads; i++)
        w->thread_at[i] = w->clk ? clock_s(w->clk[i]) : -1;
}

int windows_init(run_windows *w, const metrics_reg *r, int64_t window_s, int n_threads,
                 clockid_t *clk, result_file *out)
{
    memset(w, 0, sizeof *w);
    w->window_s = window_s > 0 ? window_s : 1;
    w->n_threads = n_threads;
    w->clk = clk;
    w->out = out;
    w->m_dur = metrics_find(r, "http_req_duration");
    w->m_reqs = metrics_find(r, "http_reqs");
    w->m_failed = metrics_find(r, "http_req_failed");
    w->health = (run_health){.cores = windows_cores(), .window_s = (int)w->window_s,
                             .worst_lag95_ms = -1, .worst_busy_pct = -1};
    if (!(w->thread_at = calloc(n_threads > 0 ? (size_t)n_threads : 1, sizeof *w->thread_at)) ||
        metrics_agg_init(&w->agg, r) != 0)
        return -1;
    return 0;
}

void windows_init_clock(run_windows *w)
{
    w->cpu_at = process_cpu();
    mark_threads(w);
}

void windows_free(run_windows *w)
{
    metrics_agg_free(&w->agg);
    free(w->thread_at);
    w->thread_at = NULL;
}

void windows_detach_threads(run_windows *w) { w->clk = NULL; }

bool windows_due(const run_windows *w, uint64_t sec)
{
    return sec >= (w->index + 1) * (uint64_t)w->window_s;
}

static const series_agg *metric_series(const run_windows *w, const metrics_reg *r, int m)
{
    return m >= 0 ? &w->agg.s[r->metrics[m].series] : NULL;
}

static void health_of(run_windows *w, const metrics_reg *r, double t0, double t1,
                      window_health *h)
{
    double dur = t1 - t0 > 1e-3 ? t1 - t0 : 1e-3;
    double cpu = process_cpu();
    *h = (window_health){.t0 = t0, .t1 = t1, .cores = w->health.cores, .cpu_s = cpu - w->cpu_at,
                         .busiest_pct = -1, .lag_p95_ms = -1, .lag_max_ms = -1};
    h->cpu_pct = 100.0 * h->cpu_s / (dur * h->cores);
    for (int i = 0; w->clk && i < w->n_threads; i++) {
        double now = clock_s(w->clk[i]);
        if (now >= 0 && w->thread_at[i] >= 0) {
            double pct = 100.0 * (now - w->thread_at[i]) / dur;
            if (pct > h->busiest_pct)
                h->busiest_pct = pct;
        }
    }
    const series_agg *lag = &w->agg.s[r->metrics[BUILTIN_SCHEDULE_LAG].series];
    if (lag->count) {
        h->lag_p95_ms = agg_trend_stat(lag, "p(95)");
        h->lag_max_ms = agg_trend_stat(lag, "max");
    }
    h->dropped = w->agg.s[r->metrics[BUILTIN_DROPPED_ITERATIONS].series].sum;
    bool late = h->lag_p95_ms > BEHIND_LAG_MS;
    bool busy = h->busiest_pct > BEHIND_BUSY_PCT;
    h->behind = late || (busy && h->dropped > 0);
    if (h->dropped > 0)
        h->drop_cause = late || busy ? "lag" : "max_vus";
}

static void record(run_windows *w, const window_health *h)
{
    run_health *rh = &w->health;
    rh->n_windows++;
    if (h->behind) {
        if (rh->n_behind++ == 0)
            rh->behind_first_s = h->t0;
        rh->behind_last_s = h->t1;
    }
    if (h->lag_p95_ms > rh->worst_lag95_ms)
        rh->worst_lag95_ms = h->lag_p95_ms;
    if (h->busiest_pct > rh->worst_busy_pct)
        rh->worst_busy_pct = h->busiest_pct;
    if (h->drop_cause && strcmp(h->drop_cause, "lag") == 0)
        rh->dropped_lag += h->dropped;
    else
        rh->dropped_max_vus += h->dropped;
}

static void remember_view(run_windows *w, const metrics_reg *r, double seconds)
{
    const series_agg *dur = metric_series(w, r, w->m_dur);
    const series_agg *reqs = metric_series(w, r, w->m_reqs);
    const series_agg *failed = metric_series(w, r, w->m_failed);
    w->last = (window_view){.valid = true, .seq = w->index + 1, .seconds = seconds, .p95_ms = -1};
    if (dur && dur->count)
        w->last.p95_ms = agg_trend_stat(dur, "p(95)");
    if (reqs)
        w->last.requests = (uint64_t)reqs->sum;
    if (failed)
        w->last.failed = failed->nonzero;
}

void windows_close(run_windows *w, const metrics_reg *reg, double t_end_s, int64_t vus,
                   int64_t vus_max)
{
    double t0 = (double)(w->index * (uint64_t)w->window_s);
    if (t_end_s < t0)
        t_end_s = t0;
    window_health h;
    health_of(w, reg, t0, t_end_s, &h);
    record(w, &h);
    remember_view(w, reg, t_end_s - t0);
    result_write_window(w->out, reg, &w->agg, &h, vus, vus_max);
    metrics_agg_clear(&w->agg);
    /* Each window keeps its values again while it has few (metrics.h):
     * exact percentiles for small windows. */
    for (size_t i = 0; i < w->agg.n; i++)
        if (w->agg.s[i].hist)
            w->agg.s[i].exact_cap = METRICS_EXACT_MAX;
    w->index++;
    w->cpu_at += h.cpu_s;
    mark_threads(w);
}
