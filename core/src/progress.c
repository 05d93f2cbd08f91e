#include "progress.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "buf.h"

#define BAR_WIDTH 40
/* Room reserved up front so ordinary frames never allocate. */
#define FRAME_INITIAL 2048
/* A plain line may come this much early, so a 1 s timer that fires at
 * 0.999 s does not skip a 1 s line; bounded so a 10 s interval is not
 * brought forward by a whole update. */
#define PLAIN_SLACK_S 0.1

struct progress {
    FILE *out;
    bool tty;
    bool quiet;
    bool finished;          /* final was handled: later updates are ignored */
    bool oom;               /* the frame being built could not grow */
    bool plain_started;
    double plain_every_s;
    double last_plain_s;    /* snapshot time of the last plain line */
    /* plain lines: the windows since the last line, so one line every 5 s
     * tells of all 5 seconds (a failure in any of them shows) */
    uint64_t acc_seq, acc_requests, acc_failed;
    double acc_s, acc_p95;
    bool acc_has_p95;
    int lines;              /* tty: lines of the frame now on screen */
    uint64_t console_seen;  /* tty: s->console_lines when it was drawn */
    volley_buf frame;       /* reused by every update */
};

progress *progress_new(FILE *out, bool tty, bool quiet, double plain_every_s)
{
    progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out = out;
    p->tty = tty;
    p->quiet = quiet;
    p->plain_every_s = plain_every_s;
    if (!quiet && vbuf_reserve(&p->frame, FRAME_INITIAL) != 0)
        goto fail;
    return p;
fail:
    progress_free(p);
    return NULL;
}

void progress_free(progress *p)
{
    if (!p)
        return;
    vbuf_free(&p->frame);
    free(p);
}

/* ---- building a frame ---- */

__attribute__((format(printf, 2, 3)))
static void appendf(progress *p, const char *fmt, ...)
{
    volley_buf *b = &p->frame;
    while (!p->oom) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            p->oom = true;
        else if ((size_t)n < room)
            b->len += (size_t)n;
        else if (vbuf_reserve(b, (size_t)n) != 0)
            p->oom = true;
        else
            continue;
        return;
    }
}

static void append_spaces(progress *p, int n)
{
    for (; n > 0; n--)
        appendf(p, " ");
}

/* Terminal columns of a UTF-8 string (one per code point; good enough for
 * scenario names, which are rarely wide characters). */
static int text_cols(const char *s)
{
    int cols = 0;
    for (; *s; s++)
        cols += ((unsigned char)*s & 0xC0) != 0x80;
    return cols;
}

/* 1234 -> "1234", 5230 -> "5.2k", 1100000 -> "1.1M": one decimal at most,
 * the unit chosen after rounding so 999.96k prints as 1M. */
static void fmt_compact(char *out, size_t cap, double v)
{
    static const char *const units[] = {"", "k", "M", "G", "T"};
    size_t u = 0;
    if (!(v > 0))
        v = 0;
    while (u + 1 < sizeof units / sizeof units[0] && round(v * 10) >= 10000) {
        v /= 1000;
        u++;
    }
    int n = snprintf(out, cap, "%.1f", v);
    if (n >= 2 && (size_t)n < cap && strcmp(out + n - 2, ".0") == 0)
        n -= 2;
    if (n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "%s", units[u]);
}

/* 12.3s, 1m05.0s, 2h03m05.0s. */
static void fmt_dur(char *out, size_t cap, double s)
{
    if (!(s > 0))
        s = 0;
    if (s > 1e9)
        s = 1e9;
    long long t = llround(s * 10);
    long long h = t / 36000, m = t / 600 % 60, ds = t % 600;
    if (h)
        snprintf(out, cap, "%lldh%02lldm%02lld.%llds", h, m, ds / 10, ds % 10);
    else if (m)
        snprintf(out, cap, "%lldm%02lld.%llds", m, ds / 10, ds % 10);
    else
        snprintf(out, cap, "%lld.%llds", ds / 10, ds % 10);
}

static void fmt_vus(char *out, size_t cap, const progress_scenario *sc)
{
    snprintf(out, cap, "%" PRId64 "/%" PRId64, sc->vus, sc->vus_max);
}

/* "12.3s/30.0s", or just the elapsed time when the length is unknown. */
static void fmt_times(char *out, size_t cap, const progress_scenario *sc)
{
    char el[32], tot[32];
    fmt_dur(el, sizeof el, sc->elapsed_s);
    if (!(sc->total_s > 0)) {
        snprintf(out, cap, "%s", el);
        return;
    }
    fmt_dur(tot, sizeof tot, sc->total_s);
    snprintf(out, cap, "%s/%s", el, tot);
}

/* "412ms", "1.2s", "85µs" */
static void fmt_ms(char *out, size_t cap, double ms)
{
    if (ms >= 1000)
        snprintf(out, cap, "%.2fs", ms / 1000);
    else if (ms >= 1)
        snprintf(out, cap, "%.*fms", ms >= 100 ? 0 : 1, ms);
    else
        snprintf(out, cap, "%.0fµs", ms * 1000);
}

/* running (12.3s), 10/10 VUs, 1234 complete and 2 interrupted iterations,
 * 5.2k req/s, p95 12.1ms, 0.2% failed, 3 dropped -- the request part once
 * there are requests. While running, rate, p95 and failures are the last
 * second's (the windows of windows.h); the final line is the whole run's,
 * with exact counts, the summary's numbers. */
static void header(progress *p, const progress_snapshot *s)
{
    int64_t vus = 0, vus_max = 0;
    uint64_t done = 0, interrupted = 0;
    for (size_t i = 0; i < s->n; i++) {
        vus += s->sc[i].vus;
        vus_max += s->sc[i].vus_max;
        done += s->sc[i].iterations;
        interrupted += s->sc[i].interrupted;
    }
    if (s->final && s->vus_max > 0)
        vus_max = s->vus_max;   /* what was allocated, as the summary's vus_max */
    char el[32];
    fmt_dur(el, sizeof el, s->elapsed_s);
    appendf(p,
            "running (%s), %" PRId64 "/%" PRId64 " VUs, %" PRIu64 " complete and %" PRIu64
            " interrupted iterations",
            el, vus, vus_max, done, interrupted);
    if (s->requests > 0 || s->failed > 0) {
        char rate[32], p95[48] = "";
        bool live = !s->final && s->window_s > 0;
        double per_s = live ? (double)s->window_requests / s->window_s : s->requests_per_s;
        fmt_compact(rate, sizeof rate, per_s);
        if (s->has_p95) {
            char v[24];
            fmt_ms(v, sizeof v, s->p95_ms);
            snprintf(p95, sizeof p95, ", p95 %s%s", s->p95_bound ? "≤" : "", v);
        }
        uint64_t reqs = live ? s->window_requests : s->requests;
        uint64_t failed = live ? s->window_failed : s->failed;
        double pct = reqs ? 100.0 * (double)failed / (double)reqs : 0;
        /* Shares round down, and a non-zero one never reads 0 or 100 */
        char share[24];
        double shown = floor(pct * 100) / 100;
        if (shown == 0)
            snprintf(share, sizeof share, "<0.01%%");
        else
            snprintf(share, sizeof share, "%.*f%%", pct < 0.1 ? 2 : 1,
                     pct < 0.1 ? shown : floor(pct * 10) / 10);
        if (failed == 0)
            appendf(p, ", %s req/s%s, 0 failed", rate, p95);
        else if (s->final)
            appendf(p, ", %s req/s%s, %" PRIu64 " failed (%s)", rate, p95, failed, share);
        else
            appendf(p, ", %s req/s%s, %s failed", rate, p95, share);
    }
    if (s->dropped)
        appendf(p, ", %" PRIu64 " dropped", s->dropped);
}

/* [==========>-----------------------------]: elapsed over total, full when
 * the scenario is done or has no known length. */
static void bar(progress *p, const progress_scenario *sc)
{
    double f = sc->done || !(sc->total_s > 0) ? 1 : sc->elapsed_s / sc->total_s;
    if (!(f > 0))
        f = 0;
    if (f > 1)
        f = 1;
    int fill = (int)(f * BAR_WIDTH);
    char cells[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        cells[i] = i < fill ? '=' : (i == fill && f > 0) ? '>' : '-';
    cells[BAR_WIDTH] = '\0';
    appendf(p, "[%s]", cells);
}

/* Columns shared by all scenario lines so bars and counts line up. */
typedef struct widths {
    int name, vus, times;
} widths;

static widths measure(const progress_snapshot *s)
{
    widths w = {0, 0, 0};
    char tmp[96];
    for (size_t i = 0; i < s->n; i++) {
        const progress_scenario *sc = &s->sc[i];
        int n = text_cols(sc->name ? sc->name : "");
        if (n > w.name)
            w.name = n;
        fmt_vus(tmp, sizeof tmp, sc);
        if ((n = (int)strlen(tmp)) > w.vus)
            w.vus = n;
        fmt_times(tmp, sizeof tmp, sc);
        if ((n = (int)strlen(tmp)) > w.times)
            w.times = n;
    }
    return w;
}

/* name  [=====>----] 5/10 VUs  12.3s/30.0s  1234 complete  3 dropped */
static void scenario_line(progress *p, const progress_scenario *sc, widths w)
{
    const char *name = sc->name ? sc->name : "";
    char vus[48], times[96];
    fmt_vus(vus, sizeof vus, sc);
    fmt_times(times, sizeof times, sc);
    appendf(p, "%s", name);
    append_spaces(p, w.name - text_cols(name) + 1);
    bar(p, sc);
    appendf(p, " %*s VUs  %-*s  %" PRIu64 " complete", w.vus, vus, w.times, times,
            sc->iterations);
    if (sc->interrupted > 0)
        appendf(p, "  %" PRIu64 " interrupted", sc->interrupted);
    if (sc->dropped > 0)
        appendf(p, "  %" PRIu64 " dropped", sc->dropped);
}

/* ---- terminal ---- */

static int term_cols(FILE *out)
{
    struct winsize ws;
    int fd = fileno(out);
    if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0)
        return ws.ws_col;
    return 0;
}

/* Cuts the text from `start` to at most `max` columns. A line that wrapped
 * would take two rows and the next cursor-up would fall short of the frame. */
static void clip(progress *p, size_t start, int max)
{
    if (p->oom || max <= 0)
        return;
    int cols = 0;
    for (size_t i = start; i < p->frame.len; i++) {
        if (((unsigned char)p->frame.data[i] & 0xC0) == 0x80)
            continue;
        if (++cols > max) {
            p->frame.len = i;
            p->frame.data[i] = '\0';
            return;
        }
    }
}

/* One frame: up over the previous one, then every line cleared and drawn.
 * Lines end in "\n", so the cursor rests below the frame and the cursor-up
 * count is the number of lines drawn. */
static void tty_frame(progress *p, const progress_snapshot *s)
{
    int max = term_cols(p->out) - 1;   /* the last column would wrap early */
    widths w = measure(s);
    int lines = 0;
    if (s->console_lines != p->console_seen)
        p->lines = 0;   /* log lines below the last frame: keep them, draw anew */
    p->console_seen = s->console_lines;
    if (p->lines > 0)
        appendf(p, "\x1b[%dA", p->lines);
    for (size_t i = 0; i <= s->n; i++) {
        appendf(p, "\r\x1b[2K");
        size_t start = p->frame.len;
        if (i == 0)
            header(p, s);
        else
            scenario_line(p, &s->sc[i - 1], w);
        clip(p, start, max);
        appendf(p, "\n");
        lines++;
    }
    if (lines < p->lines)
        appendf(p, "\x1b[J");       /* rows left over from a longer frame */
    if (s->final)
        appendf(p, "\n");
    if (!p->oom)
        p->lines = lines;
}

/* ---- plain ---- */

static bool plain_due(const progress *p, const progress_snapshot *s)
{
    if (s->final || !p->plain_started || !(p->plain_every_s > 0))
        return true;
    double slack = fmin(p->plain_every_s / 10, PLAIN_SLACK_S);
    return s->elapsed_s >= p->last_plain_s + p->plain_every_s - slack;
}

/* Builds the whole frame in the reused buffer and writes it at once, so a
 * terminal never shows half a redraw. A frame that could not be built is
 * skipped whole; the next update draws over the last good one. */
void progress_update(progress *p, const progress_snapshot *s)
{
    if (!p || p->finished)
        return;
    p->finished = s->final;
    if (p->quiet)
        return;
    p->frame.len = 0;
    p->oom = false;
    if (p->tty) {
        tty_frame(p, s);
    } else {
        if (!s->final && s->window_s > 0 && s->window_seq != p->acc_seq) {
            p->acc_seq = s->window_seq;
            p->acc_requests += s->window_requests;
            p->acc_failed += s->window_failed;
            p->acc_s += s->window_s;
            if (s->has_p95 && (!p->acc_has_p95 || s->p95_ms > p->acc_p95))
                p->acc_p95 = s->p95_ms;
            p->acc_has_p95 |= s->has_p95;
        }
        if (!plain_due(p, s))
            return;
        progress_snapshot since = *s;
        if (!s->final && p->acc_s > 0) {
            /* The p95 of several seconds is at most their worst one's. */
            since.window_requests = p->acc_requests;
            since.window_failed = p->acc_failed;
            since.window_s = p->acc_s;
            since.has_p95 = p->acc_has_p95;
            since.p95_ms = p->acc_p95;
            since.p95_bound = p->acc_s > s->window_s;
        }
        header(p, &since);
        appendf(p, "\n");
        p->plain_started = true;
        p->last_plain_s = s->elapsed_s;
        p->acc_requests = p->acc_failed = 0;
        p->acc_s = 0;
        p->acc_has_p95 = false;
    }
    if (p->oom || p->frame.len == 0)
        return;
    fwrite(p->frame.data, 1, p->frame.len, p->out);
    fflush(p->out);
}
