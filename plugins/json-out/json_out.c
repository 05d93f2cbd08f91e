/*
 * json-out: writes samples as NDJSON in the format of k6's `--out json` (a
 * "Metric" line the first time a metric is written, then one "Point" line
 * per sample), so existing k6 tooling can read Volley's output.
 *
 * Options keep only some metrics (metrics:) or samples whose tags match
 * (tags:), leave tags out of the lines (drop_tags:), gzip the file (a .gz
 * path or compress: gzip) and put the lines in time order across workers
 * (reorder_window:). The output thread may see hundreds of thousands of
 * samples per second: nothing is allocated per sample (json_out_int.h
 * lists the files).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json_out_int.h"

/* k6 flushes its output every 200 ms; a batch flushes when older data waits. */
#define FLUSH_PERIOD_NS (200u * 1000u * 1000u)
/* zlib's level 1: on a run's 164 MB of NDJSON, 5.1 MB in 0.26 CPU-s; the
 * default level 6 made 3.3 MB in 0.60 s. The output thread keeps up. */
#define GZIP_LEVEL 1

enum { COMPRESS_NONE = 0, COMPRESS_GZIP };
static const char *const compress_values[] = {"none", "gzip", NULL};

typedef struct json_out_config {
    uint64_t set;
    const char *path;
    volley_string_list metrics;
    volley_template_map tags;
    volley_string_list drop_tags;
    int compress;
    int64_t reorder_window;
} json_out_config;

enum { OPT_PATH, OPT_METRICS, OPT_TAGS, OPT_DROP_TAGS, OPT_COMPRESS, OPT_REORDER_WINDOW };

static const volley_option options[] = {
    [OPT_PATH] = {.name = "path", .type = VOLLEY_OPT_STRING,
                  .offset = offsetof(json_out_config, path),
                  .help = "file to write NDJSON to; parent folders are created; a .gz name is gzipped",
                  .flags = VOLLEY_OPT_REQUIRED},
    [OPT_METRICS] = {.name = "metrics", .type = VOLLEY_OPT_STRING_LIST,
                     .offset = offsetof(json_out_config, metrics),
                     .help = "write only these metrics (names; default: all)"},
    [OPT_TAGS] = {.name = "tags", .type = VOLLEY_OPT_TEMPLATE_MAP,
                  .offset = offsetof(json_out_config, tags),
                  .help = "write only samples with all of these tag values"},
    [OPT_DROP_TAGS] = {.name = "drop_tags", .type = VOLLEY_OPT_STRING_LIST,
                       .offset = offsetof(json_out_config, drop_tags),
                       .help = "tag names left out of every line (e.g. url)"},
    [OPT_COMPRESS] = {.name = "compress", .type = VOLLEY_OPT_ENUM,
                      .offset = offsetof(json_out_config, compress),
                      .help = "none or gzip; default: gzip when path ends in .gz",
                      .enum_values = compress_values},
    [OPT_REORDER_WINDOW] = {.name = "reorder_window", .type = VOLLEY_OPT_DURATION,
                            .offset = offsetof(json_out_config, reorder_window),
                            .default_value = "1s", .min = 0, .max = 60,
                            .help = "how long lines wait to be written in time order; 0: as they come"},
};

static const volley_option_map option_map = {
    .options = options, .count = VOLLEY_COUNTOF(options),
    .config_size = sizeof(json_out_config), .shorthand = "path"};

/* ------------------------------------------------------------------------ */
/* Load time                                                                 */
/* ------------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* What the option map cannot say, checked by `volley validate` too. Which
 * metrics a run has is not known here (plugins register theirs when a
 * step uses them): create() looks at metrics: names. */
static int json_out_config_check(const volley_host *host, const void *config, char *err,
                                 size_t errcap)
{
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
    for (size_t i = 0; i < cfg->metrics.n; i++) {
        const char *m = cfg->metrics.v[i];
        if (!*m) {
            snprintf(err, errcap, "metrics[%zu]: a metric name must not be empty", i);
            return -1;
        }
        if (strchr(m, '{')) {
            snprintf(err, errcap, "metrics[%zu]: \"%s\" is not a metric name: name the metric "
                     "alone and select samples by tag with tags: { KEY: VALUE }", i, m);
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->tags.n; i++) {
        if (!*cfg->tags.keys[i]) {
            snprintf(err, errcap, "tags: a tag name must not be empty");
            return -1;
        }
        if (!host->template_const(cfg->tags.values[i])) {
            snprintf(err, errcap, "tags.%s: \"%s\" is known only at run time; json-out compares "
                     "tags with values known at load time", cfg->tags.keys[i],
                     host->template_display(cfg->tags.values[i]));
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->drop_tags.n; i++) {
        if (!*cfg->drop_tags.v[i]) {
            snprintf(err, errcap, "drop_tags[%zu]: a tag name must not be empty", i);
            return -1;
        }
    }
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
    jo_sink_free(j);
    jo_line_free(j);
    jo_order_free(j);
    free(j->match_values);
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

/* metrics: names no metric of the run has match nothing. Every metric is
 * registered by now (plugins do it at load time), so this is the first
 * moment it is known; a warning, as a spec may name metrics of a protocol
 * that only some runs use. */
static void warn_unknown_metrics(json_out *j)
{
    for (size_t i = 0; i < j->n_keep; i++) {
        bool found = false;
        const volley_metric_info *m;
        for (uint32_t id = 0; !found && (m = j->host->metric_info(j->core, id)); id++)
            found = m->name && strcmp(m->name, j->keep[i]) == 0;
        if (!found)
            j->host->log(j->core, VOLLEY_LOG_WARN,
                         "json-out: metrics: \"%s\" is no metric of this run: it matches nothing",
                         j->keep[i]);
    }
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
    j->buf = malloc(JO_BUF_SIZE);
    j->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    j->match_values = calloc(cfg->tags.n + 1, sizeof *j->match_values);
    if (!j->path || !j->buf || !j->c_locale || !j->match_values) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    j->gzip = VOLLEY_OPT_IS_SET(cfg, OPT_COMPRESS) ? cfg->compress == COMPRESS_GZIP
                                                   : ends_with(j->path, ".gz");
    j->window_ns = cfg->reorder_window;
    j->keep = cfg->metrics.v;
    j->n_keep = cfg->metrics.n;
    j->match_keys = cfg->tags.keys;
    j->n_match = cfg->tags.n;
    for (size_t i = 0; i < cfg->tags.n; i++) {
        j->match_values[i] = host->template_const(cfg->tags.values[i]);
        if (!j->match_values[i]) {   /* config_check said so at load time */
            snprintf(err, errcap, "tags.%s: not known at load time", cfg->tags.keys[i]);
            goto fail;
        }
    }
    j->drop = cfg->drop_tags.v;
    j->n_drop = cfg->drop_tags.n;
    if (make_parents(j->path, err, errcap) != 0)
        goto fail;
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (j->fd < 0) {
        snprintf(err, errcap, "cannot open \"%s\" for writing: %s", j->path, strerror(errno));
        goto fail;
    }
    if (jo_sink_open(j, GZIP_LEVEL, err, errcap) != 0)
        goto fail;
    warn_unknown_metrics(j);
    j->last_flush_ns = host->now_ns();
    return j;
fail:
    json_out_destroy(j);
    return NULL;
}

static int write_failed(json_out *j, char *err, size_t errcap)
{
    if (j->write_errno)
        snprintf(err, errcap, "writing \"%s\": %s", j->path,
                 j->write_errno == EIO && j->gzip ? "gzip compression failed"
                                                  : strerror(j->write_errno));
    else
        snprintf(err, errcap, "writing \"%s\": out of memory", j->path);
    return -1;
}

/* Writes what waited long enough, and reaches the file every flush period. */
static int settle(json_out *j, int64_t before, char *err, size_t errcap)
{
    if (j->window_ns) {
        locale_t old = uselocale(j->c_locale);
        int rc = jo_order_emit(j, before);
        uselocale(old);
        if (rc != 0)
            return write_failed(j, err, errcap);
    }
    uint64_t now = j->host->now_ns();
    if (now - j->last_flush_ns >= FLUSH_PERIOD_NS) {
        j->last_flush_ns = now;
        if (jo_sink_flush(j, true) != 0)
            return write_failed(j, err, errcap);
    }
    return 0;
}

static int64_t minus_window(const json_out *j, int64_t t)
{
    return t < INT64_MIN + j->window_ns ? INT64_MIN : t - j->window_ns;
}

static int json_out_write(void *inst, const volley_sample *samples, size_t n,
                          char *err, size_t errcap)
{
    json_out *j = inst;
    if (j->write_errno)
        return write_failed(j, err, errcap);
    j->wrote_since_tick = true;
    jo_point *pts = NULL;
    if (j->window_ns && !(pts = jo_order_space(j, n)))
        return write_failed(j, err, errcap);
    locale_t old = uselocale(j->c_locale);
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const volley_sample *s = &samples[i];
        const jo_metric *m = jo_metric_get(j, s->metric, err, errcap);
        if (!m) {
            rc = -1;
            break;
        }
        if (!m->keep) {
            j->filtered++;
            continue;
        }
        int64_t tag = jo_tag_get(j, s->tags);
        if (tag < 0) {
            rc = write_failed(j, err, errcap);
            break;
        }
        if (!j->tagents[tag].match) {
            j->filtered++;
            continue;
        }
        jo_point p = {.time = s->time_unix_ns, .value = s->value, .metric = s->metric,
                      .tag = (uint32_t)tag};
        if (pts)
            pts[k++] = p;
        else if (jo_emit(j, &p) != 0) {
            rc = write_failed(j, err, errcap);
            break;
        }
    }
    uselocale(old);
    if (rc != 0)
        return rc;
    if (pts && jo_order_commit(j, k) != 0)
        return write_failed(j, err, errcap);
    return settle(j, j->have_newest ? minus_window(j, j->newest) : INT64_MIN, err, errcap);
}

/*
 * Without batches (a quiet run), what was written so far still reaches the
 * file within a flush period: `tail -f` and a crash keep up. Lines wait for
 * the wall clock to pass their time plus the window only when no batch
 * came since the last tick: a busy output may still have older batches
 * queued.
 */
static int json_out_tick(void *inst, uint64_t *next_ns, char *err, size_t errcap)
{
    json_out *j = inst;
    *next_ns = FLUSH_PERIOD_NS;
    int64_t before = INT64_MIN;
    if (!j->wrote_since_tick && j->window_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        before = minus_window(j, (int64_t)ts.tv_sec * JO_NS_PER_SEC + ts.tv_nsec);
    }
    j->wrote_since_tick = false;
    return settle(j, before, err, errcap);
}

/* What a user must not miss, once, when the file is complete. */
static void report(json_out *j)
{
    if (j->late)
        j->host->log(j->core, VOLLEY_LOG_WARN,
                     "json-out: %llu of %llu lines in \"%s\" came more than reorder_window "
                     "(%.3gs) late and are out of time order; a larger reorder_window keeps them "
                     "in order", (unsigned long long)j->late, (unsigned long long)j->lines, j->path,
                     (double)j->window_ns / 1e9);
    j->host->log(j->core, VOLLEY_LOG_INFO,
                 "json-out: %llu lines written to \"%s\", %llu samples left out by filters",
                 (unsigned long long)j->lines, j->path, (unsigned long long)j->filtered);
}

/* Writes what waits, ends the file and closes it. After a failed write
 * (already reported once by the core) the rest is dropped and only
 * close(2) is checked. */
static int json_out_close(void *inst, char *err, size_t errcap)
{
    json_out *j = inst;
    bool failed_before = j->write_errno != 0;
    int rc = 0;
    if (!failed_before) {
        locale_t old = uselocale(j->c_locale);
        int emitted = j->window_ns ? jo_order_emit(j, INT64_MAX) : 0;
        uselocale(old);
        if (emitted != 0 || jo_sink_finish(j) != 0)
            rc = write_failed(j, err, errcap);
    }
    int fd = j->fd;
    j->fd = -1;
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        snprintf(err, errcap, "closing \"%s\": %s", j->path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && !failed_before)
        report(j);
    return rc;
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

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_OUTPUT, .name = "json-out", .version = "0.2.0",
                     .description = "writes samples as NDJSON in the format of k6's --out json "
                                    "(filters, gzip, lines in time order)",
                     .output = &ops)
