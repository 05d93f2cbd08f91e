/*
 * json-out: writes every sample as one line of NDJSON, in the format of k6's
 * `--out json` (a "Metric" line the first time a metric is seen, then one
 * "Point" line per sample), so existing k6 tooling can read Volley's output.
 *
 * Lines are formatted by hand into one reusable buffer and written with
 * write(2) in large chunks: the output thread may see hundreds of thousands
 * of samples per second, so nothing is allocated per sample.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "volley/plugin.h"

#include "utf8.h"

#define BUF_SIZE (256u * 1024u)
/* Room for everything of a Point line except the metric name and tags. */
#define FIXED_ROOM 256u
/* k6 flushes its output every 200 ms; a batch flushes when older data waits. */
#define FLUSH_PERIOD_NS (200u * 1000u * 1000u)
#define NS_PER_SEC 1000000000

typedef struct json_out_config {
    uint64_t set;
    const char *path;
} json_out_config;

static const volley_option options[] = {
    {.name = "path", .type = VOLLEY_OPT_STRING,
     .offset = offsetof(json_out_config, path),
     .help = "file to write NDJSON to; parent folders are created",
     .flags = VOLLEY_OPT_REQUIRED},
};

static const volley_option_map option_map = {
    .options = options, .count = VOLLEY_COUNTOF(options),
    .config_size = sizeof(json_out_config), .shorthand = "path"};

typedef struct json_out {
    const volley_host *host;
    volley_core *core;
    char *path;
    int fd;
    int write_errno;         /* first failed write(2), 0 when none */
    char *buf;
    size_t len;
    uint64_t last_flush_ns;
    locale_t c_locale;       /* "%g" must print '.', whatever the process locale */
    uint64_t *seen;          /* bitmap of metric ids with a Metric line */
    size_t seen_words;
    /* The local time of the current second, formatted once per second. */
    int64_t sec;
    bool sec_valid;
    char prefix[64];         /* "YYYY-MM-DDTHH:MM:SS" */
    size_t prefix_len;
    char offset[8];          /* "+HH:MM" */
} json_out;

/* ------------------------------------------------------------------------ */
/* Output buffer                                                             */
/* ------------------------------------------------------------------------ */

static int flush_buf(json_out *j)
{
    size_t off = 0;
    if (j->write_errno)
        return -1;
    while (off < j->len) {
        ssize_t r = write(j->fd, j->buf + off, j->len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            j->write_errno = r < 0 ? errno : EIO;
            return -1;
        }
        off += (size_t)r;
    }
    j->len = 0;
    return 0;
}

/* Makes sure `n` more bytes fit (n <= BUF_SIZE). */
static int room(json_out *j, size_t n)
{
    return BUF_SIZE - j->len >= n ? 0 : flush_buf(j);
}

#define PUT_LIT(w, lit) (memcpy((w), (lit), sizeof(lit) - 1), (w) + sizeof(lit) - 1)

/* ------------------------------------------------------------------------ */
/* JSON strings                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Appends the JSON string content of s: quotes and backslashes escaped,
 * control characters as \u00XX, valid UTF-8 as is, and each byte that does
 * not start a valid sequence as U+FFFD (as Go's encoder, hence k6, does).
 * Flushes as it goes, so strings of any length fit.
 */
static int put_escaped(json_out *j, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    for (;;) {
        /* Each step below writes at most 6 bytes; 16 of room means progress. */
        if (room(j, 16) != 0)
            return -1;
        char *w = j->buf + j->len;
        char *end = j->buf + BUF_SIZE - 8;
        while (w < end) {
            unsigned c = *s;
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                *w++ = (char)c;
                s++;
            } else if (c == 0) {
                j->len = (size_t)(w - j->buf);
                return 0;
            } else if (c == '"' || c == '\\') {
                *w++ = '\\';
                *w++ = (char)c;
                s++;
            } else if (c < 0x20) {
                w = PUT_LIT(w, "\\u00");
                *w++ = hex[c >> 4];
                *w++ = hex[c & 15];
                s++;
            } else {
                size_t n = utf8_len(s);
                if (n) {
                    memcpy(w, s, n);
                    w += n;
                    s += n;
                } else {
                    w = PUT_LIT(w, "\xEF\xBF\xBD");
                    s++;
                }
            }
        }
        j->len = (size_t)(w - j->buf);
    }
}

static int put_string(json_out *j, const char *s)
{
    if (room(j, 1) != 0)
        return -1;
    j->buf[j->len++] = '"';
    if (put_escaped(j, s) != 0 || room(j, 1) != 0)
        return -1;
    j->buf[j->len++] = '"';
    return 0;
}

static int put_lit(json_out *j, const char *s, size_t n)
{
    if (room(j, n) != 0)
        return -1;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    return 0;
}

#define PUT(j, lit) put_lit((j), (lit), sizeof(lit) - 1)

/* ------------------------------------------------------------------------ */
/* Numbers and times                                                         */
/* ------------------------------------------------------------------------ */

static char *put_uint(char *w, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *w++ = tmp[--n];
    return w;
}

static const double exact_pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
                                     1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/*
 * Fast path for values in [1e-4, 1e15) that need at most 15 significant
 * digits, such as milliseconds computed from nanoseconds: the fewest
 * decimals d for which r / 10^d == |v| with r an integer. That division is
 * correctly rounded, as strtod is, so "r with d decimals" reads back as v,
 * and it is also what "%.15g" prints. NULL when the slow path is needed.
 */
static char *put_fixed(char *w, double v)
{
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))
        return NULL;
    for (int d = 1; d < 16; d++) {
        double scaled = a * exact_pow10[d];
        if (scaled >= 1e15)
            return NULL;
        uint64_t ri = (uint64_t)(scaled + 0.5);   /* exact below 2^52 */
        if ((double)ri / exact_pow10[d] != a)
            continue;
        uint64_t scale = (uint64_t)exact_pow10[d];
        if (v < 0)
            *w++ = '-';
        w = put_uint(w, ri / scale);
        *w++ = '.';
        uint64_t frac = ri % scale;
        for (int i = d - 1; i >= 0; i--) {
            w[i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        return w + d;
    }
    return NULL;
}

/*
 * The shortest of "%.15g" and "%.17g" that reads back as the same double;
 * whole numbers up to 1e15 without an exponent; exponents without leading
 * zeros ("1e-9", as Go writes them). NaN and infinities are not JSON: null.
 * Needs 32 bytes of room.
 */
static char *put_value(char *w, double v)
{
    if (!isfinite(v))
        return PUT_LIT(w, "null");
    if (fabs(v) <= 1e15 && v == (double)(int64_t)v) {
        if (signbit(v))
            *w++ = '-';
        return put_uint(w, (uint64_t)fabs(v));
    }
    char *fixed = put_fixed(w, v);
    if (fixed)
        return fixed;
    int n = snprintf(w, 32, "%.15g", v);
    if (strtod(w, NULL) != v)
        n = snprintf(w, 32, "%.17g", v);
    char *e = memchr(w, 'e', (size_t)n);
    if (e) {
        char *digits = e + 2;   /* after "e+" or "e-" */
        char *p = digits;
        while (*p == '0' && p[1])
            p++;
        memmove(digits, p, (size_t)(w + n - p));
        n -= (int)(p - digits);
    }
    return w + n;
}

/* Formats the local date, time and UTC offset of `sec` into the cache. */
static void set_second(json_out *j, int64_t sec)
{
    time_t t = (time_t)sec;
    struct tm tm = {0};
    long off = 0;
    if (localtime_r(&t, &tm))
        off = tm.tm_gmtoff;
    else
        gmtime_r(&t, &tm);
    int n = snprintf(j->prefix, sizeof j->prefix, "%04d-%02d-%02dT%02d:%02d:%02d",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    j->prefix_len = n > 0 && (size_t)n < sizeof j->prefix ? (size_t)n : 0;
    char sign = off < 0 ? '-' : '+';
    unsigned long a = (unsigned long)(off < 0 ? -off : off);
    unsigned hh = (unsigned)(a / 3600 % 100), mm = (unsigned)(a % 3600 / 60);
    j->offset[0] = sign;
    j->offset[1] = (char)('0' + hh / 10);
    j->offset[2] = (char)('0' + hh % 10);
    j->offset[3] = ':';
    j->offset[4] = (char)('0' + mm / 10);
    j->offset[5] = (char)('0' + mm % 10);
    j->sec = sec;
    j->sec_valid = true;
}

/* RFC 3339 with nanoseconds and the local offset, as k6 writes it:
 * "2026-11-28T06:18:01.123456789+02:00". Needs 64 + 16 bytes of room. */
static char *put_time(json_out *j, char *w, int64_t ns)
{
    int64_t sec = ns / NS_PER_SEC;
    int64_t frac = ns % NS_PER_SEC;
    if (frac < 0) {
        frac += NS_PER_SEC;
        sec--;
    }
    if (!j->sec_valid || sec != j->sec)
        set_second(j, sec);
    memcpy(w, j->prefix, j->prefix_len);
    w += j->prefix_len;
    *w++ = '.';
    for (int i = 8; i >= 0; i--) {
        w[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    w += 9;
    memcpy(w, j->offset, 6);
    return w + 6;
}

/* ------------------------------------------------------------------------ */
/* Lines                                                                     */
/* ------------------------------------------------------------------------ */

static const char *type_name(volley_metric_type t)
{
    switch (t) {
    case VOLLEY_METRIC_COUNTER: return "counter";
    case VOLLEY_METRIC_GAUGE: return "gauge";
    case VOLLEY_METRIC_RATE: return "rate";
    case VOLLEY_METRIC_TREND: return "trend";
    }
    return NULL;
}

static const char *contains_name(volley_metric_contains c)
{
    switch (c) {
    case VOLLEY_CONTAINS_DEFAULT: return "default";
    case VOLLEY_CONTAINS_TIME: return "time";
    case VOLLEY_CONTAINS_DATA: return "data";
    }
    return NULL;
}

static const volley_metric_info *info_of(json_out *j, uint32_t id, char *err,
                                         size_t errcap)
{
    const volley_metric_info *m = j->host->metric_info(j->core, id);
    if (!m || !m->name || !type_name(m->type) || !contains_name(m->contains)) {
        snprintf(err, errcap, "sample of unknown or malformed metric id %u",
                 (unsigned)id);
        return NULL;
    }
    return m;
}

static bool seen(const json_out *j, uint32_t id)
{
    return id / 64 < j->seen_words && ((j->seen[id / 64] >> (id % 64)) & 1u);
}

static int mark_seen(json_out *j, uint32_t id)
{
    size_t word = id / 64;
    if (word >= j->seen_words) {
        size_t n = j->seen_words ? j->seen_words : 4;
        while (n <= word)
            n *= 2;
        uint64_t *p = realloc(j->seen, n * sizeof *p);
        if (!p)
            return -1;
        memset(p + j->seen_words, 0, (n - j->seen_words) * sizeof *p);
        j->seen = p;
        j->seen_words = n;
    }
    j->seen[word] |= (uint64_t)1 << (id % 64);
    return 0;
}

/* {"type":"Metric","data":{"name":..,"type":..,"contains":..,"thresholds":
 * [..],"submetrics":null},"metric":..} */
static int put_metric_line(json_out *j, const volley_metric_info *m)
{
    if (PUT(j, "{\"type\":\"Metric\",\"data\":{\"name\":") != 0 ||
        put_string(j, m->name) != 0 || PUT(j, ",\"type\":\"") != 0 ||
        put_lit(j, type_name(m->type), strlen(type_name(m->type))) != 0 ||
        PUT(j, "\",\"contains\":\"") != 0 ||
        put_lit(j, contains_name(m->contains), strlen(contains_name(m->contains))) != 0 ||
        PUT(j, "\",\"thresholds\":[") != 0)
        return -1;
    for (size_t i = 0; i < m->n_thresholds; i++) {
        if ((i > 0 && PUT(j, ",") != 0) || put_string(j, m->thresholds[i]) != 0)
            return -1;
    }
    if (PUT(j, "],\"submetrics\":null},\"metric\":") != 0 || put_string(j, m->name) != 0 ||
        PUT(j, "}\n") != 0)
        return -1;
    return 0;
}

/* {"type":"Point","data":{"time":..,"value":..,"tags":{..}},"metric":..} */
static int put_point_line(json_out *j, const volley_sample *s, const char *name)
{
    if (room(j, FIXED_ROOM) != 0)
        return -1;
    char *w = j->buf + j->len;
    w = PUT_LIT(w, "{\"type\":\"Point\",\"data\":{\"time\":\"");
    w = put_time(j, w, s->time_unix_ns);
    w = PUT_LIT(w, "\",\"value\":");
    w = put_value(w, s->value);
    w = PUT_LIT(w, ",\"tags\":{");
    j->len = (size_t)(w - j->buf);
    const volley_tagset *ts = s->tags;
    for (size_t i = 0; ts && i < ts->n; i++) {
        if ((i > 0 && PUT(j, ",") != 0) || put_string(j, ts->tags[i].key) != 0 ||
            PUT(j, ":") != 0 || put_string(j, ts->tags[i].value ? ts->tags[i].value : "") != 0)
            return -1;
    }
    if (PUT(j, "}},\"metric\":") != 0 || put_string(j, name) != 0 || PUT(j, "}\n") != 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Output ops                                                                */
/* ------------------------------------------------------------------------ */

static void json_out_destroy(void *inst)
{
    json_out *j = inst;
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    if (j->c_locale)
        freelocale(j->c_locale);
    free(j->seen);
    free(j->buf);
    free(j->path);
    free(j);
}

/* mkdir -p of every folder above the file. A component that exists but is
 * not a folder is left for open() to report. */
static int make_parents(const char *path, char *err, size_t errcap)
{
    char *p = strdup(path);
    if (!p) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (char *slash = strchr(p + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        if (slash[-1] == '/')
            continue;
        *slash = '\0';
        int rc = mkdir(p, 0777);
        if (rc != 0 && errno != EEXIST) {
            snprintf(err, errcap, "cannot create folder \"%s\" for \"%s\": %s", p, path,
                     strerror(errno));
            free(p);
            return -1;
        }
        *slash = '/';
    }
    free(p);
    return 0;
}

static void *json_out_create(const volley_host *host, volley_core *core,
                             const void *config, char *err, size_t errcap)
{
    const json_out_config *cfg = config;
    json_out *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    j->fd = -1;
    j->host = host;
    j->core = core;
    if (!cfg->path || !*cfg->path) {
        snprintf(err, errcap, "path: must not be empty");
        goto fail;
    }
    j->path = strdup(cfg->path);
    j->buf = malloc(BUF_SIZE);
    j->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!j->path || !j->buf || !j->c_locale) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    if (make_parents(j->path, err, errcap) != 0)
        goto fail;
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        snprintf(err, errcap, "cannot open \"%s\" for writing: %s", j->path, strerror(errno));
        goto fail;
    }
    j->last_flush_ns = host->now_ns();
    return j;
fail:
    json_out_destroy(j);
    return NULL;
}

static int write_failed(json_out *j, char *err, size_t errcap)
{
    if (j->write_errno)
        snprintf(err, errcap, "writing \"%s\": %s", j->path, strerror(j->write_errno));
    else
        snprintf(err, errcap, "writing \"%s\": out of memory", j->path);
    return -1;
}

static int json_out_write(void *inst, const volley_sample *samples, size_t n,
                          char *err, size_t errcap)
{
    json_out *j = inst;
    if (j->write_errno)
        return write_failed(j, err, errcap);
    locale_t old = uselocale(j->c_locale);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const volley_sample *s = &samples[i];
        const volley_metric_info *m = info_of(j, s->metric, err, errcap);
        if (!m) {
            rc = -1;
            break;
        }
        if (!seen(j, s->metric) &&
            (put_metric_line(j, m) != 0 || mark_seen(j, s->metric) != 0))
            rc = write_failed(j, err, errcap);
        else if (put_point_line(j, s, m->name) != 0)
            rc = write_failed(j, err, errcap);
    }
    uselocale(old);
    if (rc != 0)
        return rc;
    uint64_t now = j->host->now_ns();
    if (now - j->last_flush_ns >= FLUSH_PERIOD_NS) {
        j->last_flush_ns = now;
        if (flush_buf(j) != 0)
            return write_failed(j, err, errcap);
    }
    return 0;
}

/* Flushes and closes the file. After a failed write() (already reported
 * once by the core) the rest is dropped and only close(2) is checked. */
static int json_out_close(void *inst, char *err, size_t errcap)
{
    json_out *j = inst;
    bool failed_before = j->write_errno != 0;
    int rc = 0;
    if (!failed_before && flush_buf(j) != 0)
        rc = write_failed(j, err, errcap);
    int fd = j->fd;
    j->fd = -1;
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        snprintf(err, errcap, "closing \"%s\": %s", j->path, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* What the option map cannot say, checked by `volley validate` too. */
static int json_out_config_check(const volley_host *host, const void *config, char *err,
                                 size_t errcap)
{
    (void)host;
    const json_out_config *cfg = config;
    struct stat st;
    if (!cfg->path || !*cfg->path) {
        snprintf(err, errcap, "path: must not be empty");
        return -1;
    }
    if (cfg->path[strlen(cfg->path) - 1] == '/' || (stat(cfg->path, &st) == 0 && S_ISDIR(st.st_mode))) {
        snprintf(err, errcap, "path: \"%s\" is a folder; name a file in it", cfg->path);
        return -1;
    }
    return 0;
}

/* Without batches (a quiet run), what was written so far still reaches
 * the file within a flush period: `tail -f` and a crash keep up. */
static int json_out_tick(void *inst, uint64_t *next_ns, char *err, size_t errcap)
{
    json_out *j = inst;
    *next_ns = FLUSH_PERIOD_NS;
    uint64_t now = j->host->now_ns();
    if (j->len && now - j->last_flush_ns >= FLUSH_PERIOD_NS) {
        j->last_flush_ns = now;
        if (flush_buf(j) != 0)
            return write_failed(j, err, errcap);
    }
    return 0;
}

static const volley_output_ops ops = {
    .size = sizeof(volley_output_ops),
    .options = &option_map,
    .create = json_out_create,
    .write = json_out_write,
    .close = json_out_close,
    .destroy = json_out_destroy,
    .config_check = json_out_config_check,
    .tick = json_out_tick,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_OUTPUT, .name = "json-out", .version = "0.1.0",
                     .description = "writes every sample as NDJSON in the format of k6's --out json",
                     .output = &ops)
