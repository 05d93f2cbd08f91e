/*
 * junit: the run's verdicts as a JUnit XML report for CI (GitLab's unit
 * test reports, Jenkins' junit step). It takes no samples: when the run
 * ends, the core hands it the judged thresholds and the checks (plugin SDK
 * revision 5, volley_output_ops.summary) and it writes one <testsuite> per
 * spec with
 *   - a <testcase> per threshold expression: classname "SPEC.KEY", name
 *     the expression, a <failure> with what was observed and the limit
 *     (or "no data");
 *   - a <testcase> per check: classname "SPEC.checks[.GROUP]", name the
 *     check, a <failure> with how many failed and the first reason;
 *   - a <testcase> per capture (a core of revision 7 or later hands them
 *     apart from the checks): classname "SPEC.captures[.GROUP]", name the
 *     capture's NAME, a <failure> of type "capture" when nothing matched.
 * Unlike k6's jUnit() helper every testcase has a classname and a time and
 * every failure a text, which GitLab and Jenkins show.
 *
 * The file is written whole at the end, to FILE.tmp and renamed over FILE,
 * so a reader never sees half a report.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "volley/plugin.h"

#include "utf8.h"

typedef struct junit_config {
    uint64_t set;
    const char *path;
} junit_config;

static const volley_option options[] = {
    {.name = "path", .type = VOLLEY_OPT_STRING, .offset = offsetof(junit_config, path),
     .help = "file to write the JUnit XML report to; parent folders are created",
     .flags = VOLLEY_OPT_REQUIRED},
};

static const volley_option_map option_map = {
    .options = options, .count = VOLLEY_COUNTOF(options),
    .config_size = sizeof(junit_config), .shorthand = "path"};

typedef struct junit {
    const volley_host *host;
    char *path;
    char *tmp;               /* path + ".tmp" */
    int fd;                  /* of tmp, until the report is in place */
    bool written;
    locale_t c_locale;       /* "%.3f" must print '.', whatever the locale */
} junit;

/* ------------------------------------------------------------------------ */
/* A growable text buffer                                                    */
/* ------------------------------------------------------------------------ */

typedef struct sbuf {
    char *d;
    size_t len, cap;
    bool oom;
} sbuf;

static void put_n(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, s, n);
    b->len += n;
    b->d[b->len] = '\0';
}

static void put(sbuf *b, const char *s) { put_n(b, s, strlen(s)); }

static void putf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sbuf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        put_n(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    put_n(b, big, (size_t)n);
    free(big);
}

/* ------------------------------------------------------------------------ */
/* XML text                                                                  */
/* ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s that is an XML character, or 0:
 * U+FFFE and U+FFFF are valid UTF-8 but not XML characters. */
static size_t xml_char_len(const unsigned char *s)
{
    size_t n = utf8_len(s);
    if (n == 3 && s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
        return 0;
    return n;
}

/* XML 1.0 text (attr: inside a "..." attribute too): markup characters
 * escaped, control characters XML cannot hold and bytes that are not
 * UTF-8 as U+FFFD; in an attribute, tab and newlines as character
 * references so they survive attribute normalisation. */
static void put_xml(sbuf *b, const char *str, bool attr)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    while (*s) {
        unsigned c = *s;
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = attr ? "&quot;" : NULL; break;
        case '\t': rep = attr ? "&#9;" : NULL; break;
        case '\n': rep = attr ? "&#10;" : NULL; break;
        case '\r': rep = "&#13;"; break;
        default: break;
        }
        if (rep) {
            put(b, rep);
            s++;
        } else if (c == '\t' || c == '\n' || (c >= 0x20 && c < 0x80)) {
            put_n(b, (const char *)s, 1);
            s++;
        } else if (c >= 0x80 && xml_char_len(s)) {
            size_t n = xml_char_len(s);
            put_n(b, (const char *)s, n);
            s += n;
        } else {
            put(b, "\xEF\xBF\xBD");   /* U+FFFD */
            s++;
        }
    }
}

static void attr(sbuf *b, const char *name, const char *value)
{
    putf(b, " %s=\"", name);
    put_xml(b, value, true);
    put(b, "\"");
}

/* ------------------------------------------------------------------------ */
/* The report                                                                */
/* ------------------------------------------------------------------------ */

/* "500", "0.05", "1e+06": the limit as a short number. */
static void fmt_num(double v, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.15g", v);
}

/* A threshold's failure text, or NULL when it passed. *skip: it did not
 * pass but does not fail the run (no data with allow_no_data). */
static const char *threshold_failure(const volley_threshold_result *t, char *buf, size_t cap, bool *skip)
{
    char lim[64];
    *skip = false;
    if (t->verdict == VOLLEY_VERDICT_PASS)
        return NULL;
    if (t->verdict == VOLLEY_VERDICT_NO_DATA) {
        snprintf(buf, cap, "no data: no samples for %s%s", t->key,
                 t->fails_run ? "" : " (allow_no_data)");
        *skip = !t->fails_run;
        return buf;
    }
    fmt_num(t->limit, lim, sizeof lim);
    snprintf(buf, cap, "observed %s, limit %s%s", *t->observed_text ? t->observed_text : "?", lim, t->aborted_run ? "; abort_on_fail stopped the run" : "");
    return buf;
}

/* The checks' classname suffix: "" or ".outer::inner". */
static void group_suffix(const char *group, char *buf, size_t cap)
{
    while (*group == ':')
        group++;
    snprintf(buf, cap, "%s%s", *group ? "." : "", group);
}

/* The testcases of checks or captures (kind "check", "capture"). */
static void put_items(sbuf *b, const char *spec, const char *secs, const char *kind,
                      const volley_check_result *const *items, size_t n_items)
{
    char text[2048], group[512];
    for (size_t i = 0; i < n_items; i++) {
        const volley_check_result *c = items[i];
        group_suffix(c->group ? c->group : "", group, sizeof group);
        put(b, "    <testcase classname=\"");
        put_xml(b, spec, true);
        putf(b, ".%ss", kind);
        put_xml(b, group, true);
        put(b, "\"");
        attr(b, "name", c->name);
        attr(b, "time", secs);
        uint64_t n = c->passes + c->fails;
        if (c->fails) {
            int len = snprintf(text, sizeof text, "%llu of %llu failed (%.1f%%)",
                               (unsigned long long)c->fails, (unsigned long long)n,
                               100.0 * (double)c->fails / (double)n);
            if (c->first_failure && len > 0 && (size_t)len < sizeof text)
                snprintf(text + len, sizeof text - (size_t)len, "; first failure: %s", c->first_failure);
            put(b, ">\n      <failure");
            attr(b, "message", text);
            attr(b, "type", kind);
            put(b, ">");
            put_xml(b, text, false);
            put(b, "</failure>\n    </testcase>\n");
        } else if (n == 0) {
            put(b, ">\n      <skipped message=\"never evaluated\">never evaluated</skipped>\n    </testcase>\n");
        } else {
            put(b, "/>\n");
        }
    }
}

static void build_report(junit *j, sbuf *b, const volley_run_summary *s)
{
    const char *spec = s->spec_name && *s->spec_name ? s->spec_name : "volley";
    size_t n_caps = VOLLEY_HAS(s, captures) && s->captures ? s->n_captures : 0;
    size_t tests = s->n_thresholds + s->n_checks + n_caps, failures = 0, skipped = 0;
    char text[2048], when[32] = "", secs[32];
    bool skip;
    for (size_t i = 0; i < s->n_thresholds; i++)
        if (threshold_failure(s->thresholds[i], text, sizeof text, &skip))
            skip ? skipped++ : failures++;
    for (size_t i = 0; i < s->n_checks + n_caps; i++) {
        const volley_check_result *c = i < s->n_checks ? s->checks[i] : s->captures[i - s->n_checks];
        if (c->fails)
            failures++;
        else if (!c->passes)
            skipped++;
    }
    locale_t old = uselocale(j->c_locale);
    snprintf(secs, sizeof secs, "%.3f", s->duration_s >= 0 ? s->duration_s : 0);
    time_t t0 = (time_t)(s->start_unix_ns / 1000000000);
    struct tm tm;
    if (s->start_unix_ns > 0 && gmtime_r(&t0, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
    attr(b, "name", "volley");
    putf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%s\">\n", tests,
         failures, skipped, secs);
    put(b, "  <testsuite");
    attr(b, "name", spec);
    putf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%s\"", tests,
         failures, skipped, secs);
    if (*when)
        attr(b, "timestamp", when);
    put(b, ">\n    <properties>\n");
    struct { const char *k; char v[64]; } props[] = {
        {"exit_code", ""}, {"seed", ""}, {"interrupted", ""}, {"aborted", ""}};
    snprintf(props[0].v, sizeof props[0].v, "%d", s->exit_code);
    snprintf(props[1].v, sizeof props[1].v, "%llu", (unsigned long long)s->seed);
    snprintf(props[2].v, sizeof props[2].v, "%s", s->interrupted ? "true" : "false");
    snprintf(props[3].v, sizeof props[3].v, "%s", s->aborted ? "true" : "false");
    put(b, "      <property name=\"spec\"");
    attr(b, "value", s->spec_path);
    put(b, "/>\n");
    for (size_t i = 0; i < VOLLEY_COUNTOF(props); i++) {
        put(b, "      <property");
        attr(b, "name", props[i].k);
        attr(b, "value", props[i].v);
        put(b, "/>\n");
    }
    put(b, "    </properties>\n");

    for (size_t i = 0; i < s->n_thresholds; i++) {
        const volley_threshold_result *t = s->thresholds[i];
        put(b, "    <testcase");
        putf(b, " classname=\"");
        put_xml(b, spec, true);
        put(b, ".");
        put_xml(b, t->key, true);
        put(b, "\"");
        attr(b, "name", t->expression);
        attr(b, "time", secs);
        const char *why = threshold_failure(t, text, sizeof text, &skip);
        if (!why) {
            put(b, "/>\n");
            continue;
        }
        put(b, ">\n      <");
        put(b, skip ? "skipped" : "failure");
        attr(b, "message", why);
        if (!skip)
            attr(b, "type", t->verdict == VOLLEY_VERDICT_NO_DATA ? "no_data" : "threshold");
        put(b, ">");
        put_xml(b, why, false);
        put(b, skip ? "</skipped>\n" : "</failure>\n");
        put(b, "    </testcase>\n");
    }
    put_items(b, spec, secs, "check", s->checks, s->n_checks);
    put_items(b, spec, secs, "capture", s->captures, n_caps);
    put(b, "  </testsuite>\n</testsuites>\n");
    uselocale(old);
}

/* ------------------------------------------------------------------------ */
/* Output ops                                                                */
/* ------------------------------------------------------------------------ */

static void junit_destroy(void *inst)
{
    junit *j = inst;
    if (!j)
        return;
    if (j->fd >= 0) {
        close(j->fd);
        unlink(j->tmp);
    }
    if (j->c_locale)
        freelocale(j->c_locale);
    free(j->tmp);
    free(j->path);
    free(j);
}

/* mkdir -p of every folder above the file. */
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
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errcap, "cannot create folder \"%s\" for \"%s\": %s", p, path, strerror(errno));
            free(p);
            return -1;
        }
        *slash = '/';
    }
    free(p);
    return 0;
}

static int junit_config_check(const volley_host *host, const void *config, char *err, size_t errcap)
{
    (void)host;
    const junit_config *cfg = config;
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

/* Opens FILE.tmp now, so a path that cannot be written stops the run
 * before it starts rather than after it. */
static void *junit_create(const volley_host *host, volley_core *core, const void *config, char *err,
                          size_t errcap)
{
    (void)core;
    const junit_config *cfg = config;
    if (junit_config_check(host, config, err, errcap) != 0)
        return NULL;
    junit *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    j->fd = -1;
    j->host = host;
    size_t n = strlen(cfg->path);
    j->path = strdup(cfg->path);
    j->tmp = malloc(n + 5);
    j->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!j->path || !j->tmp || !j->c_locale) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    memcpy(j->tmp, cfg->path, n);
    memcpy(j->tmp + n, ".tmp", 5);
    if (make_parents(j->path, err, errcap) != 0)
        goto fail;
    j->fd = open(j->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        snprintf(err, errcap, "cannot open \"%s\" for writing: %s", j->tmp, strerror(errno));
        goto fail;
    }
    return j;
fail:
    junit_destroy(j);
    return NULL;
}

/* Samples are not part of the report. */
static int junit_write(void *inst, const volley_sample *samples, size_t n, char *err, size_t errcap)
{
    (void)inst, (void)samples, (void)n, (void)err, (void)errcap;
    return 0;
}

static int junit_summary(void *inst, const volley_run_summary *s, char *err, size_t errcap)
{
    junit *j = inst;
    if (j->fd < 0) {
        snprintf(err, errcap, "\"%s\" is not open", j->tmp);
        return -1;
    }
    sbuf b = {0};
    build_report(j, &b, s);
    if (b.oom) {
        free(b.d);
        snprintf(err, errcap, "out of memory building the report");
        return -1;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t r = write(j->fd, b.d + off, b.len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errcap, "writing \"%s\": %s", j->tmp, r < 0 ? strerror(errno) : "short write");
            free(b.d);
            return -1;
        }
        off += (size_t)r;
    }
    free(b.d);
    int fd = j->fd;
    j->fd = -1;
    if (fsync(fd) != 0 && errno != EINVAL) {
        snprintf(err, errcap, "writing \"%s\": %s", j->tmp, strerror(errno));
        close(fd);
        unlink(j->tmp);
        return -1;
    }
    if (close(fd) != 0) {
        snprintf(err, errcap, "closing \"%s\": %s", j->tmp, strerror(errno));
        unlink(j->tmp);
        return -1;
    }
    if (rename(j->tmp, j->path) != 0) {
        snprintf(err, errcap, "renaming \"%s\" to \"%s\": %s", j->tmp, j->path, strerror(errno));
        unlink(j->tmp);
        return -1;
    }
    j->written = true;
    return 0;
}

/* Without a summary (a core older than revision 5, or a failed run) no
 * report is written: the temporary file goes. */
static int junit_close(void *inst, char *err, size_t errcap)
{
    junit *j = inst;
    if (j->fd >= 0) {
        close(j->fd);
        j->fd = -1;
        unlink(j->tmp);
    }
    uint32_t core_revision = VOLLEY_HAS(j->host, revision) ? j->host->revision : 0;
    if (!j->written && core_revision < 5) {
        snprintf(err, errcap, "this volley is too old to hand outputs the run's verdicts (plugin "
                 "ABI revision 5 needed): no report written");
        return -1;
    }
    return 0;
}

static const volley_output_ops ops = {
    .size = sizeof(volley_output_ops),
    .options = &option_map,
    .create = junit_create,
    .write = junit_write,
    .close = junit_close,
    .destroy = junit_destroy,
    .config_check = junit_config_check,
    .summary = junit_summary,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_OUTPUT, .name = "junit", .version = "0.1.0",
                     .description = "writes the thresholds and checks as a JUnit XML report for CI",
                     .output = &ops)
