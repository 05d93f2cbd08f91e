/*
 * csv-out: every sample as one CSV row, in the format of k6's `--out csv`
 * (k6 v1.x: internal/output/csv), so tools written for k6's CSV read it:
 *
 *   metric_name,timestamp,metric_value,check,error,error_code,
 *   expected_response,group,method,name,proto,scenario,service,status,
 *   subproto,tls_version,url,extra_tags,metadata
 *
 * A tag with a column of its own goes there; any other tag (a step's
 * `tags:`, --tag) goes to extra_tags as "k=v&k2=v2" (sorted by key).
 * Volley has no sample metadata, so that column stays empty. Fields are
 * quoted as RFC 4180 (and Go's encoding/csv) quote them.
 *
 * Options, as k6's (snake_case): file_name (the shorthand: --out
 * csv-out=x.csv), save_interval (how often rows reach the file, 1s) and
 * time_format (unix, unix_milli, unix_micro, unix_nano, rfc3339,
 * rfc3339_nano). Rows are built in memory by write() and written by the
 * periodic tick() and by close(), as k6 writes on its save interval.
 *
 * An example of an out-of-tree plugin: it builds against the installed SDK
 * only (pkg-config volley-plugin) and is unit-tested on the installed test
 * host (test_csv_out.c, pkg-config volley-testhost).
 */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "volley/plugin.h"

/* ---- options ---- */

enum time_format { TF_UNIX, TF_UNIX_MILLI, TF_UNIX_MICRO, TF_UNIX_NANO, TF_RFC3339, TF_RFC3339_NANO };
static const char *const time_formats[] = {"unix", "unix_milli", "unix_micro", "unix_nano",
                                           "rfc3339", "rfc3339_nano", NULL};

typedef struct csv_config {
    uint64_t set;
    const char *file_name;
    int64_t save_interval_ns;
    int time_format;
} csv_config;

static const volley_option options[] = {
    {.name = "file_name", .type = VOLLEY_OPT_STRING, .offset = offsetof(csv_config, file_name),
     .default_value = "file.csv", .help = "the CSV file to write (k6's fileName)"},
    {.name = "save_interval", .type = VOLLEY_OPT_DURATION,
     .offset = offsetof(csv_config, save_interval_ns), .default_value = "1s",
     .help = "how often buffered rows are written to the file (k6's saveInterval)",
     .min = 0.001, .max = 3600},
    {.name = "time_format", .type = VOLLEY_OPT_ENUM, .offset = offsetof(csv_config, time_format),
     .default_value = "unix", .help = "the timestamp column's format (k6's timeFormat)",
     .enum_values = time_formats},
};

static const volley_option_map option_map = {
    .options = options, .count = VOLLEY_COUNTOF(options),
    .config_size = sizeof(csv_config), .shorthand = "file_name"};

/* ---- columns ---- */

/* k6's default system tags that are columns, sorted as k6 sorts them. */
static const char *const tag_columns[] = {
    VOLLEY_TAG_CHECK, "error", VOLLEY_TAG_ERROR_CODE, VOLLEY_TAG_EXPECTED_RESPONSE, VOLLEY_TAG_GROUP,
    VOLLEY_TAG_METHOD, VOLLEY_TAG_NAME, "proto", VOLLEY_TAG_SCENARIO, "service", VOLLEY_TAG_STATUS,
    "subproto", "tls_version", VOLLEY_TAG_URL};
#define N_TAG_COLUMNS (sizeof tag_columns / sizeof tag_columns[0])

/* ---- instance ---- */

/* The tag columns of one tag set, formatted once: tag sets are interned
 * and live until close() returns, so their address is a cache key. */
typedef struct tag_cache_entry {
    const volley_tagset *set;
    char *text;                /* ",check,...,url,extra_tags," quoted */
} tag_cache_entry;

typedef struct csv_out {
    const volley_host *host;
    volley_core *core;
    char *path;
    FILE *f;
    int time_format;
    uint64_t save_interval_ns;
    locale_t c_locale;         /* "%f" must print '.', whatever the locale */
    char *buf;                 /* rows not yet in the file */
    size_t len, cap;
    tag_cache_entry *cache;    /* open addressing, power-of-two size */
    size_t cache_cap, cache_n;
} csv_out;

static int reserve(csv_out *c, size_t extra)
{
    if (c->cap - c->len > extra)
        return 0;
    size_t cap = c->cap ? c->cap : 64 * 1024;
    while (cap - c->len <= extra)
        cap *= 2;
    char *p = realloc(c->buf, cap);
    if (!p)
        return -1;
    c->buf = p;
    c->cap = cap;
    return 0;
}

static int put(csv_out *c, const char *s, size_t n)
{
    if (reserve(c, n) != 0)
        return -1;
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    return 0;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break, or
 * starts with a space or tab (as Go's encoding/csv, which k6 uses). */
static int put_field(csv_out *c, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && s[0] != '\t'))
        return put(c, s, n);
    if (reserve(c, 2 * n + 2) != 0)
        return -1;
    c->buf[c->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            c->buf[c->len++] = '"';
        c->buf[c->len++] = s[i];
    }
    c->buf[c->len++] = '"';
    return 0;
}

static int flush_rows(csv_out *c)
{
    if (c->len && fwrite(c->buf, 1, c->len, c->f) != c->len)
        return -1;
    c->len = 0;
    return fflush(c->f) == 0 ? 0 : -1;
}

static void csv_destroy(void *inst)
{
    csv_out *c = inst;
    if (!c)
        return;
    if (c->f)
        fclose(c->f);
    for (size_t i = 0; i < c->cache_cap; i++)
        free(c->cache[i].text);
    free(c->cache);
    free(c->buf);
    free(c->path);
    if (c->c_locale)
        freelocale(c->c_locale);
    free(c);
}

/* What the option map cannot check; `volley validate` runs it too. */
static int csv_config_check(const volley_host *host, const void *config, char *err, size_t errcap)
{
    (void)host;
    const csv_config *cfg = config;
    struct stat st;
    if (!cfg->file_name || !*cfg->file_name) {
        snprintf(err, errcap, "file_name: must not be empty");
        return -1;
    }
    if (stat(cfg->file_name, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errcap, "file_name: \"%s\" is a folder; name a file in it", cfg->file_name);
        return -1;
    }
    return 0;
}

static void *csv_create(const volley_host *host, volley_core *core, const void *config, char *err,
                        size_t errcap)
{
    const csv_config *cfg = config;
    if (csv_config_check(host, config, err, errcap) != 0)
        return NULL;
    csv_out *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(cfg->file_name)) ||
        !(c->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0))) {
        snprintf(err, errcap, "out of memory");
        csv_destroy(c);
        return NULL;
    }
    c->host = host;
    c->core = core;
    c->time_format = cfg->time_format;
    c->save_interval_ns = (uint64_t)cfg->save_interval_ns;
    if (!(c->f = fopen(c->path, "w"))) {
        snprintf(err, errcap, "cannot open \"%s\" for writing: %s", c->path, strerror(errno));
        csv_destroy(c);
        return NULL;
    }
    int rc = put(c, "metric_name,timestamp,metric_value", 34);
    for (size_t i = 0; i < N_TAG_COLUMNS && rc == 0; i++)
        rc = put(c, ",", 1) | put(c, tag_columns[i], strlen(tag_columns[i]));
    if (rc != 0 || put(c, ",extra_tags,metadata\n", 21) != 0 || flush_rows(c) != 0) {
        snprintf(err, errcap, "writing \"%s\": %s", c->path, strerror(errno));
        csv_destroy(c);
        return NULL;
    }
    return c;
}

static int column_of(const char *key)
{
    for (size_t i = 0; i < N_TAG_COLUMNS; i++)
        if (strcmp(tag_columns[i], key) == 0)
            return (int)i;
    return -1;
}

/* ",check,...,url,extra_tags," for one tag set, into a fresh string. */
static char *format_tags(csv_out *c, const volley_tagset *set)
{
    const char *col[N_TAG_COLUMNS] = {0};
    size_t saved = c->len;
    int rc = 0;
    for (size_t i = 0; i < set->n; i++) {
        int k = column_of(set->tags[i].key);
        if (k >= 0)
            col[k] = set->tags[i].value;
    }
    for (size_t i = 0; i < N_TAG_COLUMNS && rc == 0; i++)
        rc = put(c, ",", 1) | (col[i] ? put_field(c, col[i]) : 0);
    /* extra_tags: the rest, in the set's (sorted) key order. */
    size_t extra_at = c->len;
    rc |= put(c, ",", 1);
    bool first = true;
    for (size_t i = 0; i < set->n && rc == 0; i++) {
        if (column_of(set->tags[i].key) >= 0)
            continue;
        rc = (first ? 0 : put(c, "&", 1)) | put(c, set->tags[i].key, strlen(set->tags[i].key)) |
             put(c, "=", 1) | put(c, set->tags[i].value, strlen(set->tags[i].value));
        first = false;
    }
    char *text = NULL;
    if (rc == 0) {
        /* Quote the extra_tags field as a whole when it needs it. */
        size_t extra_len = c->len - extra_at - 1;
        char *extra = strndup(c->buf + extra_at + 1, extra_len);
        c->len = extra_at + 1;
        if (extra && put_field(c, extra) == 0 && put(c, ",", 1) == 0)
            text = strndup(c->buf + saved, c->len - saved);
        free(extra);
    }
    c->len = saved;
    return text;
}

static size_t slot_of(const tag_cache_entry *t, size_t cap, const volley_tagset *set)
{
    size_t h = ((uintptr_t)set >> 4) * 0x9E3779B97F4A7C15ull;
    size_t i = h & (cap - 1);
    while (t[i].set && t[i].set != set)
        i = (i + 1) & (cap - 1);
    return i;
}

static const char *tags_text(csv_out *c, const volley_tagset *set)
{
    if (c->cache_n * 2 >= c->cache_cap) {
        size_t cap = c->cache_cap ? c->cache_cap * 2 : 256;
        tag_cache_entry *t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < c->cache_cap; i++)
            if (c->cache[i].set)
                t[slot_of(t, cap, c->cache[i].set)] = c->cache[i];
        free(c->cache);
        c->cache = t;
        c->cache_cap = cap;
    }
    size_t i = slot_of(c->cache, c->cache_cap, set);
    if (!c->cache[i].set) {
        char *text = format_tags(c, set);
        if (!text)
            return NULL;
        c->cache[i] = (tag_cache_entry){set, text};
        c->cache_n++;
    }
    return c->cache[i].text;
}

/* The timestamp column as k6 prints it (Go's time.Format for rfc3339:
 * local time with its offset, "Z" for UTC; nanoseconds without trailing
 * zeros). */
static int put_time(csv_out *c, int64_t ns)
{
    char out[64];
    int n;
    int64_t sec = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    switch (c->time_format) {
    case TF_UNIX: n = snprintf(out, sizeof out, "%lld", (long long)sec); break;
    case TF_UNIX_MILLI: n = snprintf(out, sizeof out, "%lld", (long long)(sec * 1000 + frac / 1000000)); break;
    case TF_UNIX_MICRO: n = snprintf(out, sizeof out, "%lld", (long long)(sec * 1000000 + frac / 1000)); break;
    case TF_UNIX_NANO: n = snprintf(out, sizeof out, "%lld", (long long)ns); break;
    default: {
        time_t t = (time_t)sec;
        struct tm tm;
        localtime_r(&t, &tm);
        n = (int)strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
        if (c->time_format == TF_RFC3339_NANO && frac) {
            char digits[16];
            int d = snprintf(digits, sizeof digits, "%09lld", (long long)frac);
            while (d > 0 && digits[d - 1] == '0')
                digits[--d] = '\0';
            n += snprintf(out + n, sizeof out - (size_t)n, ".%s", digits);
        }
        long off = tm.tm_gmtoff;
        if (off == 0)
            n += snprintf(out + n, sizeof out - (size_t)n, "Z");
        else
            n += snprintf(out + n, sizeof out - (size_t)n, "%c%02ld:%02ld", off < 0 ? '-' : '+',
                          labs(off) / 3600, labs(off) % 3600 / 60);
    }
    }
    return put(c, out, (size_t)n);
}

static int csv_write(void *inst, const volley_sample *samples, size_t n, char *err, size_t errcap)
{
    csv_out *c = inst;
    locale_t old = uselocale(c->c_locale);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const volley_sample *s = &samples[i];
        const volley_metric_info *m = c->host->metric_info(c->core, s->metric);
        const char *tags = tags_text(c, s->tags);
        char value[64];
        int vn = snprintf(value, sizeof value, ",%f", s->value);
        if (!m || !tags || put(c, m->name, strlen(m->name)) || put(c, ",", 1) ||
            put_time(c, s->time_unix_ns) || put(c, value, (size_t)vn) ||
            put(c, tags, strlen(tags)) || put(c, "\n", 1))
            rc = -1;
    }
    uselocale(old);
    if (rc != 0)
        snprintf(err, errcap, "formatting rows for \"%s\": out of memory or unknown metric", c->path);
    return rc;
}

/* Every save_interval: the rows so far reach the file (tail -f works). */
static int csv_tick(void *inst, uint64_t *next_ns, char *err, size_t errcap)
{
    csv_out *c = inst;
    *next_ns = c->save_interval_ns;
    if (flush_rows(c) != 0) {
        snprintf(err, errcap, "writing \"%s\": %s", c->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int csv_close(void *inst, char *err, size_t errcap)
{
    csv_out *c = inst;
    int rc = flush_rows(c);
    if (fclose(c->f) != 0)
        rc = -1;
    c->f = NULL;
    if (rc != 0)
        snprintf(err, errcap, "writing \"%s\": %s", c->path, strerror(errno));
    return rc;
}

static const volley_output_ops ops = {
    .size = sizeof(volley_output_ops),
    .options = &option_map,
    .create = csv_create,
    .write = csv_write,
    .close = csv_close,
    .destroy = csv_destroy,
    .config_check = csv_config_check,
    .tick = csv_tick,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_OUTPUT, .name = "csv-out", .version = "1.0.0",
                     .description = "every sample as a CSV row, in the format of k6's --out csv",
                     .output = &ops)
