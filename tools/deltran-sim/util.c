#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(void)
{
    fputs("deltran-sim: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void sb_add(struct sbuf *b, const void *p, size_t n)
{
    sb_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sb_adds(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_vaddf(struct sbuf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    sb_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sb_addf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vaddf(b, fmt, ap);
    va_end(ap);
}

void sb_free(struct sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static uint64_t rs[4] = { 0x9e3779b97f4a7c15u, 0xbf58476d1ce4e5b9u, 0x94d049bb133111ebu, 1 };

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void rng_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rs[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(void)
{
    uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;
    rs[2] ^= rs[0];
    rs[3] ^= rs[1];
    rs[1] ^= rs[2];
    rs[0] ^= rs[3];
    rs[2] ^= t;
    rs[3] = rotl(rs[3], 45);
    return r;
}

double rng_unit(void)
{
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

void uuid_v4(char out[37])
{
    uint8_t b[16];
    uint64_t a = rng_next(), c = rng_next();
    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "YYYY-MM-DDTHH:MM:SS" of the whole seconds; returns the nanoseconds. */
static long base_time(int64_t ns, char out[40])
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    return frac;
}

void fmt_time_go(int64_t ns, char out[40])
{
    long frac = base_time(ns, out);
    size_t n = strlen(out);
    if (frac) {
        char f[16];
        snprintf(f, sizeof f, ".%09ld", frac);
        size_t fl = strlen(f);
        while (fl > 1 && f[fl - 1] == '0')
            f[--fl] = '\0';
        memcpy(out + n, f, fl + 1);
        n += fl;
    }
    memcpy(out + n, "Z", 2);
}

void fmt_time_rfc3339(int64_t ns, char out[40])
{
    base_time(ns, out);
    size_t n = strlen(out);
    snprintf(out + n, 40 - n, "Z");
}

void fmt_time_rust(int64_t ns, char out[40])
{
    long frac = base_time(ns, out);
    size_t n = strlen(out);
    if (frac == 0)
        snprintf(out + n, 40 - n, "Z");
    else if (frac % 1000000 == 0)
        snprintf(out + n, 40 - n, ".%03ldZ", frac / 1000000);
    else if (frac % 1000 == 0)
        snprintf(out + n, 40 - n, ".%06ldZ", frac / 1000);
    else
        snprintf(out + n, 40 - n, ".%09ldZ", frac);
}

void fmt_time_py(int64_t ns, char out[40])
{
    long frac = base_time(ns, out) / 1000;
    size_t n = strlen(out);
    if (frac)
        snprintf(out + n, 40 - n, ".%06ld+00:00", frac);
    else
        snprintf(out + n, 40 - n, "+00:00");
}

/* Go prints seconds with up to 9 fraction digits, trailing zeros trimmed;
 * under a second it switches to ms, µs or ns with the same trimming. */
static void frac_units(int64_t v, int64_t unit, const char *suffix, char *out, size_t cap)
{
    int64_t whole = v / unit, frac = v % unit;
    if (!frac) {
        snprintf(out, cap, "%lld%s", (long long)whole, suffix);
        return;
    }
    int digits = 0;
    for (int64_t u = unit; u > 1; u /= 10)
        digits++;
    char f[32];
    if (digits > 9)
        digits = 9;
    snprintf(f, sizeof f, "%0*lld", digits, (long long)frac);
    size_t fl = strlen(f);
    while (fl > 0 && f[fl - 1] == '0')
        f[--fl] = '\0';
    snprintf(out, cap, "%lld.%s%s", (long long)whole, f, suffix);
}

void fmt_go_duration(int64_t ns, char out[48])
{
    if (ns < 0)
        ns = 0;
    if (ns == 0) {
        snprintf(out, 48, "0s");
        return;
    }
    if (ns < 1000) {
        snprintf(out, 48, "%lldns", (long long)ns);
        return;
    }
    if (ns < 1000000) {
        frac_units(ns, 1000, "\xc2\xb5s", out, 48);
        return;
    }
    if (ns < 1000000000) {
        frac_units(ns, 1000000, "ms", out, 48);
        return;
    }
    int64_t h = ns / 3600000000000LL, rest = ns % 3600000000000LL;
    int64_t m = rest / 60000000000LL, s = rest % 60000000000LL;
    char sec[32];
    frac_units(s, 1000000000, "s", sec, sizeof sec);
    if (h)
        snprintf(out, 48, "%lldh%lldm%s", (long long)h, (long long)m, sec);
    else if (m)
        snprintf(out, 48, "%lldm%s", (long long)m, sec);
    else
        snprintf(out, 48, "%s", sec);
}

static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        *v = *v * 10 + (c - '0');
    }
    *p += n;
    return 0;
}

int parse_datetime(const char *s, int64_t *ns)
{
    int y, mo, d, h, mi, sec;
    const char *p = s;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        int64_t scale = 100000000;
        while (*p >= '0' && *p <= '9') {
            if (n < 9) {
                frac += (*p - '0') * scale;
                scale /= 10;
            }
            n++;
            p++;
        }
        if (n == 0)
            return -1;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (digits(&p, 2, &om))
            return -1;
        off = sign * (oh * 3600 + om * 60);
    }
    if (*p)
        return -1;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = sec };
    int64_t t = (int64_t)timegm(&tm) - off;
    /* nanoseconds in an int64: years 1678 to 2261 */
    if (t <= INT64_MIN / 1000000000 + 1 || t >= INT64_MAX / 1000000000 - 1)
        return -1;
    *ns = t * 1000000000 + frac;
    return 0;
}
