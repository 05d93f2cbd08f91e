/*
 * json-out plugin tests: load the real volley-json-out.so, feed it hand-built
 * sample batches and read the NDJSON back with jansson, checking k6's
 * `--out json` line format (docs/k6-conventions §2.1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "testhost.h"

#define T0_NS INT64_C(1795841881123456789)   /* 2026-11-28T04:58:01.123456789Z */

typedef struct fixture {
    testhost th;
    const volley_output_ops *ops;
    char dir[256];
    char path[512];
} fixture;

typedef struct json_out_config {   /* what the plugin's option map fills */
    uint64_t set;
    const char *path;
    volley_string_list metrics;
    volley_template_map tags;
    volley_string_list drop_tags;
    int compress;
    int64_t reorder_window;
} json_out_config;

/* What the plugin logged (host->log), for the tests that read it. */
static char logged[8192];

static void capture_log(volley_core *core, int level, const char *fmt, ...)
{
    (void)core;
    size_t n = strlen(logged);
    int k = snprintf(logged + n, sizeof logged - n, "%d: ", level);
    if (k < 0 || (size_t)k >= sizeof logged - n)
        return;
    n += (size_t)k;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(logged + n, sizeof logged - n, fmt, ap);
    va_end(ap);
    n = strlen(logged);
    if (n + 1 < sizeof logged) {
        logged[n] = '\n';
        logged[n + 1] = '\0';
    }
}

/* The file read back: raw lines and each line parsed. */
typedef struct lines {
    size_t n;
    char **raw;
    json_t **json;
} lines;

static char *saved_tz;

static void set_tz(const char *tz)
{
    if (tz)
        setenv("TZ", tz, 1);
    else
        unsetenv("TZ");
    tzset();
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(th_init(&f->th), 0);
    const volley_plugin *p = th_load(&f->th, "json-out");
    assert_non_null(p);
    assert_int_equal(p->kind, VOLLEY_KIND_OUTPUT);
    assert_string_equal(p->name, "json-out");
    assert_non_null(p->output);
    assert_true(p->output->size >= sizeof(volley_output_ops));
    f->ops = p->output;
    snprintf(f->dir, sizeof f->dir, "/tmp/volley-test-json-out-%ld", (long)getpid());
    snprintf(f->path, sizeof f->path, "%s/out.ndjson", f->dir);
    f->th.host.log = capture_log;
    logged[0] = '\0';
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    th_fini(&f->th);
    free(f);
    set_tz(saved_tz);
    return 0;
}

static int metric(fixture *f, const char *name, volley_metric_type type,
                  volley_metric_contains contains)
{
    char err[256] = "";
    int id = f->th.host.metric_register((volley_core *)&f->th, name, type, contains, err,
                                        sizeof err);
    assert_true(id >= 0);
    return id;
}

/* The plugin with `path: PATH` and the other options in `more` (YAML,
 * "key: value, ..."), then checked as the core does before create(). */
static void *create_with(fixture *f, const char *path, const char *more, char *err,
                         size_t errcap)
{
    static json_out_config cfg;   /* the config outlives the instance, as in the core */
    char yaml[1200];
    int n = snprintf(yaml, sizeof yaml, "{path: \"%s\"%s%s}", path, more ? ", " : "",
                     more ? more : "");
    assert_true(n > 0 && (size_t)n < sizeof yaml);
    assert_int_equal(th_fill(&f->th, f->ops->options, yaml, &cfg), 0);
    if (more && f->ops->config_check(&f->th.host, &cfg, err, errcap) != 0)
        fail_msg("config_check: %s", err);
    return f->ops->create(&f->th.host, (volley_core *)&f->th, &cfg, err, errcap);
}

static void *create_at(fixture *f, const char *path, char *err, size_t errcap)
{
    return create_with(f, path, NULL, err, errcap);
}

static void *create_opts(fixture *f, const char *more)
{
    char err[512] = "";
    void *inst = create_with(f, f->path, more, err, sizeof err);
    if (!inst)
        fail_msg("create: %s", err);
    return inst;
}

static void *create(fixture *f)
{
    return create_opts(f, NULL);
}

static void write_ok(fixture *f, void *inst, const volley_sample *s, size_t n)
{
    char err[512] = "";
    if (f->ops->write(inst, s, n, err, sizeof err) != 0)
        fail_msg("write: %s", err);
}

static void close_ok(fixture *f, void *inst)
{
    char err[512] = "";
    if (f->ops->close(inst, err, sizeof err) != 0)
        fail_msg("close: %s", err);
    f->ops->destroy(inst);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t cap = 1 << 16, n = 0;
    char *data = malloc(cap + 1);
    size_t r;
    while ((r = fread(data + n, 1, cap - n, fp)) > 0) {
        n += r;
        if (n == cap)
            data = realloc(data, (cap *= 2) + 1);
    }
    fclose(fp);
    data[n] = '\0';
    *len = n;
    return data;
}

/* Reads the file; every line must end with '\n' and parse as an object. */
static lines read_lines(const char *path)
{
    size_t len;
    char *data = slurp(path, &len);
    lines l = {0};
    assert_true(len == 0 || data[len - 1] == '\n');
    for (size_t i = 0; i < len; i++)
        l.n += data[i] == '\n';
    l.raw = calloc(l.n + 1, sizeof *l.raw);
    l.json = calloc(l.n + 1, sizeof *l.json);
    char *p = data;
    for (size_t i = 0; i < l.n; i++) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        l.raw[i] = strdup(p);
        json_error_t jerr;
        l.json[i] = json_loads(p, 0, &jerr);
        if (!l.json[i] || !json_is_object(l.json[i]))
            fail_msg("line %zu does not parse (%s): %s", i + 1, jerr.text, p);
        p = nl + 1;
    }
    free(data);
    return l;
}

static void free_lines(lines *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->raw[i]);
        json_decref(l->json[i]);
    }
    free(l->raw);
    free(l->json);
}

static const char *str_at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

/* Every line has exactly type, data and metric. */
static void check_envelope(json_t *line)
{
    assert_int_equal(json_object_size(line), 3);
    const char *type = str_at(line, "type");
    assert_true(strcmp(type, "Metric") == 0 || strcmp(type, "Point") == 0);
    assert_true(json_is_object(json_object_get(line, "data")));
    str_at(line, "metric");
}

static const volley_tagset no_tags = {0, NULL};

/* ------------------------------------------------------------------------ */

static void test_options(void **state)
{
    fixture *f = *state;
    const volley_option_map *map = f->ops->options;
    assert_non_null(map);
    assert_string_equal(map->shorthand, "path");
    assert_int_equal(map->count, 6);
    static const char *const names[] = {"path", "metrics", "tags", "drop_tags", "compress",
                                        "reorder_window"};
    static const volley_opt_type types[] = {VOLLEY_OPT_STRING, VOLLEY_OPT_STRING_LIST,
                                            VOLLEY_OPT_TEMPLATE_MAP, VOLLEY_OPT_STRING_LIST,
                                            VOLLEY_OPT_ENUM, VOLLEY_OPT_DURATION};
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(map->options[i].name, names[i]);
        assert_int_equal(map->options[i].type, types[i]);
        assert_true(((map->options[i].flags & VOLLEY_OPT_REQUIRED) != 0) == (i == 0));
    }
    assert_int_equal(map->config_size, sizeof(json_out_config));
    char err[256];
    assert_int_equal(opt_check_map(map, err, sizeof err), 0);

    json_out_config cfg;
    assert_int_equal(th_fill(&f->th, map, "path: /tmp/a.ndjson", &cfg), 0);
    assert_string_equal(cfg.path, "/tmp/a.ndjson");
    assert_true(VOLLEY_OPT_IS_SET(&cfg, 0));

    /* The shorthand: a bare scalar is the path. */
    assert_int_equal(th_fill(&f->th, map, "/tmp/b.ndjson", &cfg), 0);
    assert_string_equal(cfg.path, "/tmp/b.ndjson");

    /* The command line: --out json-out=FILE. */
    opt_ctx c = {.a = &f->th.a, .scope = &f->th.scope, .d = &f->th.d};
    assert_int_equal(opt_fill_arg(&c, map, "results/c.ndjson", &cfg, "--out json-out"), 0);
    assert_string_equal(cfg.path, "results/c.ndjson");

    /* path is required. */
    assert_int_not_equal(th_fill(&f->th, map, "{}", &cfg), 0);

    /* Defaults: all metrics and tags, compression by the name, 1 s window. */
    assert_int_equal(th_fill(&f->th, map, "path: x.ndjson", &cfg), 0);
    assert_int_equal(cfg.metrics.n, 0);
    assert_int_equal(cfg.tags.n, 0);
    assert_int_equal(cfg.drop_tags.n, 0);
    assert_false(VOLLEY_OPT_IS_SET(&cfg, 4));
    assert_true(cfg.reorder_window == INT64_C(1000000000));

    assert_int_equal(th_fill(&f->th, map,
                             "{path: x, metrics: [http_req_duration, checks], tags: {name: login, "
                             "status: 200}, drop_tags: url, compress: gzip, reorder_window: 0}",
                             &cfg), 0);
    assert_int_equal(cfg.metrics.n, 2);
    assert_string_equal(cfg.metrics.v[1], "checks");
    assert_int_equal(cfg.tags.n, 2);
    assert_string_equal(cfg.tags.keys[1], "status");
    assert_string_equal(f->th.host.template_const(cfg.tags.values[1]), "200");
    assert_int_equal(cfg.drop_tags.n, 1);
    assert_string_equal(cfg.drop_tags.v[0], "url");
    assert_int_equal(cfg.compress, 1);
    assert_true(cfg.reorder_window == 0);
    assert_int_equal(f->ops->config_check(&f->th.host, &cfg, err, sizeof err), 0);

    /* What the option map rejects, at the value's place. */
    f->th.quiet = true;
    static const char *const bad_fill[] = {
        "{path: x, compress: zip}", "{path: x, reorder_window: 2m}",
        "{path: x, reorder_window: -1s}", "{path: x, tags: [name]}",
        "{path: x, metrics: {a: b}}",
    };
    for (size_t i = 0; i < sizeof bad_fill / sizeof bad_fill[0]; i++)
        if (th_fill(&f->th, map, bad_fill[i], &cfg) == 0)
            fail_msg("accepted: %s", bad_fill[i]);
    f->th.quiet = false;

    /* What config_check rejects, naming the option. */
    static const struct {
        const char *yaml, *want;
    } bad_check[] = {
        {"{path: x, metrics: [checks, \"\"]}", "metrics[1]: a metric name must not be empty"},
        {"{path: x, metrics: \"http_req_duration{name:a}\"}",
         "metrics[0]: \"http_req_duration{name:a}\" is not a metric name"},
        {"{path: x, drop_tags: [url, \"\"]}", "drop_tags[1]: a tag name must not be empty"},
        {"{path: x, tags: {\"\": a}}", "tags: a tag name must not be empty"},
        {"{path: x, tags: {name: \"n-${vu.id}\"}}", "tags.name: \"n-${vu.id}\" is known only at run time"},
    };
    for (size_t i = 0; i < sizeof bad_check / sizeof bad_check[0]; i++) {
        assert_int_equal(th_fill(&f->th, map, bad_check[i].yaml, &cfg), 0);
        err[0] = '\0';
        assert_int_equal(f->ops->config_check(&f->th.host, &cfg, err, sizeof err), -1);
        if (!strstr(err, bad_check[i].want))
            fail_msg("%s: got \"%s\", want \"%s\"", bad_check[i].yaml, err, bad_check[i].want);
    }
}

/* The exact lines of the brief's example, in UTC. */
static void test_exact_lines(void **state)
{
    fixture *f = *state;
    set_tz("UTC");
    int id = metric(f, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME);
    static const char *const thr[] = {"p(95)<500"};
    f->th.metrics[id].thresholds = thr;
    f->th.metrics[id].n_thresholds = 1;
    const volley_tag tags[] = {{"method", "GET"}, {"status", "200"}};
    const volley_tagset ts = {2, tags};
    const volley_sample s[] = {
        {(uint32_t)id, &ts, T0_NS, 12.345},
        {(uint32_t)id, &no_tags, T0_NS + 1000000000, 7},
    };
    void *inst = create(f);
    write_ok(f, inst, s, 2);
    close_ok(f, inst);

    lines l = read_lines(f->path);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.raw[0],
        "{\"type\":\"Metric\",\"data\":{\"name\":\"http_req_duration\",\"type\":\"trend\","
        "\"contains\":\"time\",\"thresholds\":[\"p(95)<500\"],\"submetrics\":null},"
        "\"metric\":\"http_req_duration\"}");
    assert_string_equal(l.raw[1],
        "{\"type\":\"Point\",\"data\":{\"time\":\"2026-11-28T04:58:01.123456789+00:00\","
        "\"value\":12.345,\"tags\":{\"method\":\"GET\",\"status\":\"200\"}},"
        "\"metric\":\"http_req_duration\"}");
    assert_string_equal(l.raw[2],
        "{\"type\":\"Point\",\"data\":{\"time\":\"2026-11-28T04:58:02.123456789+00:00\","
        "\"value\":7,\"tags\":{}},\"metric\":\"http_req_duration\"}");
    free_lines(&l);
}

static void test_metric_lines(void **state)
{
    fixture *f = *state;
    int ids[4] = {
        metric(f, "iterations", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT),
        metric(f, "vus", VOLLEY_METRIC_GAUGE, VOLLEY_CONTAINS_DEFAULT),
        metric(f, "checks", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT),
        metric(f, "data_received", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_DATA),
    };
    int never = metric(f, "never_sampled", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    int dur = metric(f, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME);
    static const char *const thr[] = {"p(95)<500", "avg<200", "max<\"1e3\""};
    f->th.metrics[dur].thresholds = thr;
    f->th.metrics[dur].n_thresholds = 3;
    static const char *const types[] = {"counter", "gauge", "rate", "trend"};
    static const char *const contains[] = {"default", "default", "default", "data"};

    /* Interleaved, over two batches: metric lines must not repeat. */
    volley_sample s[20];
    for (int i = 0; i < 20; i++)
        s[i] = (volley_sample){(uint32_t)(i % 5 == 4 ? dur : ids[(i * 7) % 4]), &no_tags,
                               T0_NS + i, i};
    void *inst = create(f);
    write_ok(f, inst, s, 7);
    write_ok(f, inst, s + 7, 13);
    write_ok(f, inst, s, 0);
    close_ok(f, inst);

    lines l = read_lines(f->path);
    assert_int_equal(l.n, 20 + 5);
    int metric_line[64], first_point[64];
    for (int i = 0; i < 64; i++)
        metric_line[i] = first_point[i] = -1;
    size_t points = 0;
    for (size_t i = 0; i < l.n; i++) {
        check_envelope(l.json[i]);
        int id = th_metric_id(&f->th, str_at(l.json[i], "metric"));
        assert_true(id >= 0);
        json_t *data = json_object_get(l.json[i], "data");
        if (strcmp(str_at(l.json[i], "type"), "Metric") == 0) {
            assert_int_equal(metric_line[id], -1);   /* exactly once */
            assert_int_equal(first_point[id], -1);   /* before its points */
            metric_line[id] = (int)i;
            assert_int_equal(json_object_size(data), 5);
            assert_string_equal(str_at(data, "name"), str_at(l.json[i], "metric"));
            assert_true(json_is_null(json_object_get(data, "submetrics")));
            json_t *jthr = json_object_get(data, "thresholds");
            assert_true(json_is_array(jthr));
            if (id == dur) {
                assert_string_equal(str_at(data, "type"), "trend");
                assert_string_equal(str_at(data, "contains"), "time");
                assert_int_equal(json_array_size(jthr), 3);
                for (size_t k = 0; k < 3; k++)
                    assert_string_equal(json_string_value(json_array_get(jthr, k)), thr[k]);
            } else {
                int k = 0;
                while (ids[k] != id)
                    k++;
                assert_string_equal(str_at(data, "type"), types[k]);
                assert_string_equal(str_at(data, "contains"), contains[k]);
                assert_int_equal(json_array_size(jthr), 0);
            }
        } else {
            assert_true(metric_line[id] >= 0);
            if (first_point[id] < 0)
                first_point[id] = (int)i;
            assert_int_equal(json_object_size(data), 3);
            /* Points keep batch order. */
            assert_true(json_number_value(json_object_get(data, "value")) == (double)points);
            points++;
        }
    }
    assert_int_equal(points, 20);
    assert_int_equal(metric_line[never], -1);
    free_lines(&l);
}

/* Parses an RFC 3339 time back to unix nanoseconds and its offset. */
static int64_t decode_time(const char *t, int *offset_min)
{
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                             "\\.[0-9]{9}[+-][0-9]{2}:[0-9]{2}$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    int rc = regexec(&re, t, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("time \"%s\" is not RFC 3339 with nanoseconds and an offset", t);
    struct tm tm = {0};
    long frac;
    char sign;
    int oh, om;
    assert_int_equal(sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d.%9ld%c%2d:%2d", &tm.tm_year,
                            &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                            &frac, &sign, &oh, &om),
                     10);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *offset_min = (sign == '-' ? -1 : 1) * (oh * 60 + om);
    int64_t local = (int64_t)timegm(&tm);
    return (local - *offset_min * 60) * 1000000000 + frac;
}

/* Writes samples at the given times under TZ and checks each decodes back
 * to its time with the expected offset; returns the first time string. */
static void check_times(fixture *f, const char *tz, int want_offset_min,
                        const char *want_first)
{
    set_tz(tz);
    int id = metric(f, "vus", VOLLEY_METRIC_GAUGE, VOLLEY_CONTAINS_DEFAULT);
    const int64_t times[] = {
        T0_NS, T0_NS + 1, T0_NS + 876543211, T0_NS + 876543211 + 1, /* crosses a second */
        INT64_C(1795824000000000000),                                /* midnight UTC    */
        T0_NS + INT64_C(86400) * 1000000000 * 180,                   /* half a year on  */
        INT64_C(1000000000), 0, -1,                                  /* around the epoch */
        T0_NS,                                                       /* back again      */
    };
    const size_t n = sizeof times / sizeof times[0];
    volley_sample s[sizeof times / sizeof times[0]];
    for (size_t i = 0; i < n; i++)
        s[i] = (volley_sample){(uint32_t)id, &no_tags, times[i], 1};
    void *inst = create_opts(f, "reorder_window: 0");   /* the times jump on purpose */
    write_ok(f, inst, s, n);
    close_ok(f, inst);

    lines l = read_lines(f->path);
    assert_int_equal(l.n, n + 1);
    for (size_t i = 0; i < n; i++) {
        json_t *data = json_object_get(l.json[i + 1], "data");
        const char *t = str_at(data, "time");
        int off;
        int64_t ns = decode_time(t, &off);
        if (ns != times[i])
            fail_msg("%s: \"%s\" decodes to %lld, want %lld", tz, t, (long long)ns,
                     (long long)times[i]);
        if (i == 0) {
            assert_int_equal(off, want_offset_min);
            assert_string_equal(t, want_first);
        }
    }
    free_lines(&l);
}

static void test_time_utc(void **state)
{
    check_times(*state, "UTC", 0, "2026-11-28T04:58:01.123456789+00:00");
}

static void test_time_kolkata(void **state)
{
    check_times(*state, "Asia/Kolkata", 330, "2026-11-28T10:28:01.123456789+05:30");
}

static void test_time_negative_offset(void **state)
{
    /* Newfoundland, no daylight saving in November: -03:30. */
    check_times(*state, "America/St_Johns", -210, "2026-11-28T01:28:01.123456789-03:30");
}

static void test_values(void **state)
{
    fixture *f = *state;
    int id = metric(f, "v", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_DEFAULT);
    static const struct {
        double v;
        const char *text;   /* NULL: only check the round trip */
    } cases[] = {
        {0, "0"}, {1, "1"}, {0.1, "0.1"}, {1e-9, "1e-9"}, {123456.789, "123456.789"},
        {1e300, "1e+300"}, {-2.5, "-2.5"}, {1e15, "1000000000000000"},
        {-123456789012345.0, "-123456789012345"}, {1e16, "1e+16"},
        {0.1 + 0.2, "0.30000000000000004"}, {1.0 / 3, NULL}, {459.865729, "459.865729"},
        {5e-324, NULL}, {1.7976931348623157e308, NULL}, {-0.0, "-0"},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    const double nonfinite[] = {NAN, INFINITY, -INFINITY};
    volley_sample s[sizeof cases / sizeof cases[0] + 3];
    for (size_t i = 0; i < n; i++)
        s[i] = (volley_sample){(uint32_t)id, &no_tags, T0_NS, cases[i].v};
    for (size_t i = 0; i < 3; i++)
        s[n + i] = (volley_sample){(uint32_t)id, &no_tags, T0_NS, nonfinite[i]};
    void *inst = create(f);
    write_ok(f, inst, s, n + 3);
    close_ok(f, inst);

    lines l = read_lines(f->path);
    assert_int_equal(l.n, n + 3 + 1);
    for (size_t i = 0; i < n + 3; i++) {
        const char *raw = strstr(l.raw[i + 1], "\"value\":");
        assert_non_null(raw);
        raw += strlen("\"value\":");
        json_t *v = json_object_get(json_object_get(l.json[i + 1], "data"), "value");
        if (i >= n) {
            assert_true(json_is_null(v));
            assert_memory_equal(raw, "null,", 5);
            continue;
        }
        assert_true(json_is_number(v));
        if (json_number_value(v) != cases[i].v)
            fail_msg("value %.17g came back as %.17g (%s)", cases[i].v, json_number_value(v),
                     l.raw[i + 1]);
        if (cases[i].text) {
            size_t len = strlen(cases[i].text);
            if (strncmp(raw, cases[i].text, len) != 0 || raw[len] != ',')
                fail_msg("value %.17g written as %.30s, want %s", cases[i].v, raw,
                         cases[i].text);
        }
    }
    free_lines(&l);
}

static double exact_scale(int d)
{
    double p = 1;
    while (d-- > 0)
        p *= 10;
    return p;
}

/* The rule the plugin implements, written the slow way. */
static void reference_value(double v, char *out, size_t cap)
{
    if (!isfinite(v)) {
        snprintf(out, cap, "null");
        return;
    }
    if (fabs(v) <= 1e15 && v == (double)(int64_t)v) {
        snprintf(out, cap, "%s%lld", signbit(v) ? "-" : "", (long long)fabs(v));
        return;
    }
    snprintf(out, cap, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, cap, "%.17g", v);
    char *e = strchr(out, 'e');
    if (e) {
        char *p = e + 2;
        while (*p == '0' && p[1])
            memmove(p, p + 1, strlen(p));
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random doubles of several shapes, compared with the reference text and
 * read back: exercises the plugin's fixed-point fast path and its fallback. */
static void test_values_random(void **state)
{
    fixture *f = *state;
    int id = metric(f, "v", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_DEFAULT);
    enum { N = 200000 };
    volley_sample *s = malloc(N * sizeof *s);
    for (size_t i = 0; i < N; i++) {
        double v;
        uint64_t r = rng();
        switch (i % 5) {
        case 0: /* any bit pattern (non-finite ones become null) */
            memcpy(&v, &r, sizeof v);
            break;
        case 1: /* milliseconds from nanoseconds */
            v = (double)(r % 100000000000u) / 1e6;
            break;
        case 2: /* short decimals at any scale */
            v = (double)(r % 100000) / exact_scale((int)(rng() % 20));
            break;
        case 3: /* sums that need 16 or 17 digits */
            v = (double)(r % 1000) * 0.1 + 0.2;
            break;
        default: /* large and tiny magnitudes */
            v = (double)(r % 1000000) * pow(10, (double)((int)(rng() % 60) - 30));
            break;
        }
        if (r & 1u << 20)
            v = -v;
        s[i] = (volley_sample){(uint32_t)id, &no_tags, T0_NS, v};
    }
    void *inst = create(f);
    write_ok(f, inst, s, N);
    close_ok(f, inst);

    size_t len;
    char *data = slurp(f->path, &len);
    char *line = strchr(data, '\n') + 1;   /* after the Metric line */
    for (size_t i = 0; i < N; i++) {
        char want[64];
        reference_value(s[i].value, want, sizeof want);
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';   /* keeps strstr within the line */
        char *v = strstr(line, "\"value\":") + strlen("\"value\":");
        char *end = strstr(v, ",\"tags\"");
        assert_non_null(end);
        *end = '\0';
        if (strcmp(v, want) != 0)
            fail_msg("value %.17g (%a) written as %s, want %s", s[i].value, s[i].value, v,
                     want);
        if (isfinite(s[i].value) && strtod(v, NULL) != s[i].value)
            fail_msg("value %.17g written as %s does not read back", s[i].value, v);
        line = nl + 1;
    }
    free(data);
    free(s);
}

static void test_tag_escaping(void **state)
{
    fixture *f = *state;
    int id = metric(f, "t", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    const volley_tag tags[] = {
        {"back\\slash", "C:\\dir\\"},
        {"bad", "x\xffy"},
        {"ctl", "\x01\x1f\x7f"},
        {"newline", "line1\nline2\r"},
        {"overlong", "\xc0\xaf"},
        {"q\"key", "say \"hi\""},
        {"ru", "\xd1\x80\xd1\x83"},
        {"surrogate", "\xed\xa0\x80"},
        {"tab", "a\tb"},
        {"truncated", "\xe2\x82"},
        {"emoji", "\xf0\x9f\x9a\x80"},
    };
    const volley_tagset ts = {sizeof tags / sizeof tags[0], tags};
    const volley_sample s = {(uint32_t)id, &ts, T0_NS, 1};
    void *inst = create(f);
    write_ok(f, inst, &s, 1);
    close_ok(f, inst);

    lines l = read_lines(f->path);
    assert_int_equal(l.n, 2);
    const char *raw = l.raw[1];
    json_t *jt = json_object_get(json_object_get(l.json[1], "data"), "tags");
    assert_int_equal(json_object_size(jt), ts.n);
    assert_string_equal(str_at(jt, "back\\slash"), "C:\\dir\\");
    assert_string_equal(str_at(jt, "bad"), "x\xef\xbf\xbdy");
    assert_string_equal(str_at(jt, "ctl"), "\x01\x1f\x7f");
    assert_string_equal(str_at(jt, "newline"), "line1\nline2\r");
    assert_string_equal(str_at(jt, "overlong"), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(str_at(jt, "q\"key"), "say \"hi\"");
    assert_string_equal(str_at(jt, "ru"), "\xd1\x80\xd1\x83");
    assert_string_equal(str_at(jt, "surrogate"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(str_at(jt, "tab"), "a\tb");
    assert_string_equal(str_at(jt, "truncated"), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(str_at(jt, "emoji"), "\xf0\x9f\x9a\x80");
    /* On the wire: short escapes for quote and backslash, \u00XX for
     * control characters, UTF-8 unescaped, keys in tagset order. */
    assert_non_null(strstr(raw, "{\"back\\\\slash\":\"C:\\\\dir\\\\\",\"bad\":"));
    assert_non_null(strstr(raw, "\"ctl\":\"\\u0001\\u001f\x7f\""));
    assert_non_null(strstr(raw, "\"line1\\u000aline2\\u000d\""));
    assert_non_null(strstr(raw, "\"q\\\"key\":\"say \\\"hi\\\"\""));
    assert_non_null(strstr(raw, "\"a\\u0009b\""));
    assert_non_null(strstr(raw, "\"ru\":\"\xd1\x80\xd1\x83\""));
    free_lines(&l);
}

/* A tag value far larger than the plugin's write buffer, full of bytes
 * that expand when escaped. */
static void test_long_tag(void **state)
{
    fixture *f = *state;
    int id = metric(f, "t", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    const size_t len = 3u << 20;
    char *big = malloc(len + 1);
    char *want = malloc(len * 3 + 1);
    size_t wn = 0;
    static const char unit[] = "ab\"\\\n\xd1\x80\xff";
    for (size_t i = 0; i < len; i++) {
        char c = unit[i % (sizeof unit - 1)];
        big[i] = c;
        if (c == '\xff') {
            memcpy(want + wn, "\xef\xbf\xbd", 3);
            wn += 3;
        } else {
            want[wn++] = c;
        }
    }
    big[len] = '\0';
    want[wn] = '\0';
    /* The cut may split "\xd1\x80" at the end: then it is invalid too. */
    if ((unsigned char)big[len - 1] == 0xd1) {
        memcpy(want + wn - 1, "\xef\xbf\xbd", 3);
        wn += 2;
        want[wn] = '\0';
    }
    const volley_tag tags[] = {{"big", big}, {"after", "ok"}};
    const volley_tagset ts = {2, tags};
    const volley_sample s[] = {{(uint32_t)id, &ts, T0_NS, 1}, {(uint32_t)id, &no_tags, T0_NS, 2}};
    void *inst = create(f);
    write_ok(f, inst, s, 2);
    close_ok(f, inst);

    lines l = read_lines(f->path);
    assert_int_equal(l.n, 3);
    json_t *jt = json_object_get(json_object_get(l.json[1], "data"), "tags");
    const char *got = str_at(jt, "big");
    assert_int_equal(strlen(got), wn);
    assert_true(strcmp(got, want) == 0);
    assert_string_equal(str_at(jt, "after"), "ok");
    free_lines(&l);
    free(big);
    free(want);
}

static void test_parent_dirs_and_truncate(void **state)
{
    fixture *f = *state;
    int id = metric(f, "c", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    char path[700];
    snprintf(path, sizeof path, "%s/a//b/c/out.ndjson", f->dir);
    const volley_sample s = {(uint32_t)id, &no_tags, T0_NS, 1};
    for (int round = 0; round < 2; round++) {   /* the second run truncates */
        char err[512] = "";
        void *inst = create_at(f, path, err, sizeof err);
        if (!inst)
            fail_msg("create: %s", err);
        write_ok(f, inst, &s, 1);
        close_ok(f, inst);
    }
    char dir[700];
    snprintf(dir, sizeof dir, "%s/a/b/c", f->dir);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    lines l = read_lines(path);
    assert_int_equal(l.n, 2);
    free_lines(&l);
}

static void test_unwritable_path(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    assert_null(create_at(f, "/proc/x/y.ndjson", err, sizeof err));
    if (!strstr(err, "/proc/x/y.ndjson"))
        fail_msg("error does not name the path: %s", err);

    /* A parent that is a file, not a folder. */
    char file[600], path[700];
    assert_int_equal(mkdir(f->dir, 0777), 0);
    snprintf(file, sizeof file, "%s/file", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/out.ndjson", file);
    err[0] = '\0';
    assert_null(create_at(f, path, err, sizeof err));
    if (!strstr(err, path) || !strstr(err, strerror(ENOTDIR)))
        fail_msg("unexpected error: %s", err);

    /* A folder where the file should be. */
    err[0] = '\0';
    assert_null(create_at(f, f->dir, err, sizeof err));
    if (!strstr(err, f->dir) || !strstr(err, strerror(EISDIR)))
        fail_msg("unexpected error: %s", err);
}

/* /dev/full fails every write with ENOSPC: like a full disk. */
static void test_disk_full(void **state)
{
    fixture *f = *state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    int id = metric(f, "c", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    const volley_sample one = {(uint32_t)id, &no_tags, T0_NS, 1};
    char err[512] = "";

    /* Small output: buffered, so close() reports it. */
    void *inst = create_at(f, "/dev/full", err, sizeof err);
    assert_non_null(inst);
    write_ok(f, inst, &one, 1);
    assert_int_equal(f->ops->close(inst, err, sizeof err), -1);
    if (!strstr(err, "/dev/full") || !strstr(err, strerror(ENOSPC)))
        fail_msg("unexpected close error: %s", err);
    f->ops->destroy(inst);

    /* More than the buffer holds: write() reports it. */
    enum { N = 20000 };
    volley_sample *s = malloc(N * sizeof *s);
    for (size_t i = 0; i < N; i++)
        s[i] = one;
    err[0] = '\0';
    inst = create_with(f, "/dev/full", "reorder_window: 0", err, sizeof err);   /* at once */
    assert_non_null(inst);
    assert_int_equal(f->ops->write(inst, s, N, err, sizeof err), -1);
    if (!strstr(err, "/dev/full") || !strstr(err, strerror(ENOSPC)))
        fail_msg("unexpected write error: %s", err);
    err[0] = '\0';
    assert_int_equal(f->ops->write(inst, s, 1, err, sizeof err), -1);   /* stays failed */
    assert_non_null(strstr(err, "/dev/full"));
    assert_int_equal(f->ops->close(inst, err, sizeof err), 0);   /* already reported */
    f->ops->destroy(inst);
    free(s);
}

static void test_unknown_metric(void **state)
{
    fixture *f = *state;
    const volley_sample s = {42, &no_tags, T0_NS, 1};
    char err[512] = "";
    void *inst = create(f);
    assert_int_equal(f->ops->write(inst, &s, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "42"));
    close_ok(f, inst);
}

/* A Point line's time as unix nanoseconds (the time zone is UTC). */
static int64_t line_time(json_t *line)
{
    int off;
    return decode_time(str_at(json_object_get(line, "data"), "time"), &off);
}

/* metrics:, tags: and drop_tags: together: exactly the samples of the kept
 * metrics whose tags match, without the dropped tags, and Metric lines
 * only for what is written. */
static void test_filters(void **state)
{
    fixture *f = *state;
    set_tz("UTC");
    int dur = metric(f, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME);
    int chk = metric(f, "checks", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT);
    int vus = metric(f, "vus", VOLLEY_METRIC_GAUGE, VOLLEY_CONTAINS_DEFAULT);
    const volley_tag ta[] = {{"name", "login"}, {"status", "200"}, {"url", "http://h/login?a=1"}};
    const volley_tag tb[] = {{"name", "login"}, {"status", "500"}, {"url", "http://h/login?a=1"}};
    const volley_tag tc[] = {{"name", "home"}, {"status", "200"}, {"url", "http://h/"}};
    const volley_tag td[] = {{"name", "login"}};   /* no status at all */
    const volley_tagset sets[] = {{3, ta}, {3, tb}, {3, tc}, {1, td}, {0, NULL}};
    const int ids[] = {dur, chk, vus};
    volley_sample s[3 * 5 * 4];
    size_t n = 0;
    for (int rep = 0; rep < 4; rep++)
        for (size_t m = 0; m < 3; m++)
            for (size_t t = 0; t < 5; t++, n++)
                s[n] = (volley_sample){(uint32_t)ids[m], &sets[t], T0_NS + (int64_t)n * 1000,
                                       (double)n};
    void *inst = create_opts(f, "metrics: [http_req_duration, checks, http_req_duraton], "
                                "tags: {name: login, status: 200}, drop_tags: [url]");
    assert_non_null(strstr(logged, "\"http_req_duraton\" is no metric of this run"));
    assert_null(strstr(logged, "\"checks\" is no metric"));
    write_ok(f, inst, s, 30);
    write_ok(f, inst, s + 30, n - 30);
    close_ok(f, inst);

    lines l = read_lines(f->path);
    size_t want_points = 0;
    for (size_t i = 0; i < n; i++)
        want_points += s[i].tags == &sets[0] && (int)s[i].metric != vus;
    assert_int_equal(want_points, 8);
    assert_int_equal(l.n, want_points + 2);   /* and two Metric lines */
    size_t points = 0, i_sample = 0;
    for (size_t i = 0; i < l.n; i++) {
        check_envelope(l.json[i]);
        const char *name = str_at(l.json[i], "metric");
        assert_true(strcmp(name, "http_req_duration") == 0 || strcmp(name, "checks") == 0);
        if (strcmp(str_at(l.json[i], "type"), "Metric") == 0)
            continue;
        while (!(s[i_sample].tags == &sets[0] && (int)s[i_sample].metric != vus))
            i_sample++;
        json_t *data = json_object_get(l.json[i], "data");
        assert_true(json_number_value(json_object_get(data, "value")) == s[i_sample].value);
        assert_true(line_time(l.json[i]) == s[i_sample].time_unix_ns);
        json_t *tags = json_object_get(data, "tags");
        assert_int_equal(json_object_size(tags), 2);
        assert_string_equal(str_at(tags, "name"), "login");
        assert_string_equal(str_at(tags, "status"), "200");
        i_sample++;
        points++;
    }
    assert_int_equal(points, want_points);
    assert_non_null(strstr(l.raw[1], "\"tags\":{\"name\":\"login\",\"status\":\"200\"}}"));
    free_lines(&l);
}

/* drop_tags alone keeps every sample; a tag set whose every tag is dropped
 * writes {}. */
static void test_drop_tags(void **state)
{
    fixture *f = *state;
    int id = metric(f, "http_reqs", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    const volley_tag ta[] = {{"method", "GET"}, {"name", "n"}, {"url", "http://h/"}};
    const volley_tag tb[] = {{"url", "http://h/x"}};
    const volley_tagset sets[] = {{3, ta}, {1, tb}};
    volley_sample s[10];
    for (size_t i = 0; i < 10; i++)
        s[i] = (volley_sample){(uint32_t)id, &sets[i % 2], T0_NS + (int64_t)i, 1};
    void *inst = create_opts(f, "drop_tags: [url, method]");
    write_ok(f, inst, s, 10);
    close_ok(f, inst);
    lines l = read_lines(f->path);
    assert_int_equal(l.n, 11);
    for (size_t i = 1; i < l.n; i++) {
        assert_null(strstr(l.raw[i], "url"));
        assert_null(strstr(l.raw[i], "method"));
        json_t *tags = json_object_get(json_object_get(l.json[i], "data"), "tags");
        assert_int_equal(json_object_size(tags), i % 2 ? 1 : 0);
    }
    free_lines(&l);
}

/* Two workers' batches overlap in time; the file is in time order, ties
 * in arrival order, and nothing is reported late. */
static void test_time_order(void **state)
{
    fixture *f = *state;
    set_tz("UTC");
    int id = metric(f, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME);
    enum { PER = 500, BATCHES = 8 };
    const int64_t ms = 1000000;
    volley_sample *s = malloc(PER * sizeof *s);
    void *inst = create(f);
    size_t total = 0;
    for (int b = 0; b < BATCHES; b++) {
        /* worker b % 2, batch b / 2: 250 ms of samples, the second worker
         * a little behind; every tenth sample shares its time with the
         * other worker's. */
        int64_t start = T0_NS + (int64_t)(b / 2) * 250 * ms + (b % 2) * 7 * ms;
        for (int i = 0; i < PER; i++) {
            int64_t t = start + (int64_t)i * 250 * ms / PER;
            if (i % 10 == 0)
                t = T0_NS + (int64_t)(b / 2) * 250 * ms + (int64_t)i * 250 * ms / PER;
            s[i] = (volley_sample){(uint32_t)id, &no_tags, t, (double)(b * PER + i)};
        }
        /* one batch arrives unsorted, as a batch merged from two sources might */
        if (b == 5) {
            volley_sample tmp = s[3];
            s[3] = s[401];   /* neither time is shared */
            s[401] = tmp;
        }
        write_ok(f, inst, s, PER);
        total += PER;
    }
    close_ok(f, inst);
    assert_null(strstr(logged, "late"));
    assert_null(strstr(logged, "out of time order"));

    lines l = read_lines(f->path);
    assert_int_equal(l.n, total + 1);
    int64_t prev = INT64_MIN;
    double prev_value = -1;
    for (size_t i = 1; i < l.n; i++) {
        int64_t t = line_time(l.json[i]);
        double v = json_number_value(json_object_get(json_object_get(l.json[i], "data"), "value"));
        if (t < prev)
            fail_msg("line %zu: time %lld before %lld", i + 1, (long long)t, (long long)prev);
        if (t == prev && v < prev_value && ((int)v / PER) % 2 == ((int)prev_value / PER) % 2)
            fail_msg("line %zu: equal times of one worker out of arrival order", i + 1);
        prev = t;
        prev_value = v;
    }
    free_lines(&l);
    free(s);
}

/* A sample older than what was written (a batch later than the window):
 * written anyway, out of order, and counted in a warning at close. */
static void test_late_lines(void **state)
{
    fixture *f = *state;
    int id = metric(f, "iterations", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    const int64_t ms = 1000000;
    volley_sample a[21], late[2];
    for (int i = 0; i <= 20; i++)
        a[i] = (volley_sample){(uint32_t)id, &no_tags, T0_NS + i * 100 * ms, 1};
    late[0] = (volley_sample){(uint32_t)id, &no_tags, T0_NS + 500 * ms, 2};
    late[1] = (volley_sample){(uint32_t)id, &no_tags, T0_NS + 1950 * ms, 3};
    void *inst = create_opts(f, "reorder_window: 100ms");
    write_ok(f, inst, a, 21);       /* up to 2.0 s seen: lines before 1.9 s are written */
    write_ok(f, inst, late, 2);     /* 0.5 s is late; 1.95 s is still in time */
    close_ok(f, inst);
    if (!strstr(logged, "1 of 23 lines in") || !strstr(logged, "out of time order"))
        fail_msg("no warning about the late line: %s", logged);

    lines l = read_lines(f->path);
    assert_int_equal(l.n, 24);
    /* 0.0 .. 1.8 s, then the late 0.5 s, then 1.9, 1.95, 2.0 */
    assert_true(line_time(l.json[20]) == T0_NS + 500 * ms);
    assert_true(line_time(l.json[21]) == T0_NS + 1900 * ms);
    assert_true(line_time(l.json[22]) == T0_NS + 1950 * ms);
    free_lines(&l);
}

static uint64_t fake_now;
static uint64_t fake_clock(void) { return fake_now; }

/* Decompresses `path` with gzip(1); what it could read of a file still
 * being written, without the complaint about its end. */
static char *gunzip(const char *path, size_t *len)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0, r;
    char *data = malloc(cap + 1);
    while ((r = fread(data + n, 1, cap - n, p)) > 0)
        if ((n += r) == cap)
            data = realloc(data, (cap *= 2) + 1);
    pclose(p);
    data[n] = '\0';
    *len = n;
    return data;
}

static void write_million_lines_of(fixture *f, void *inst, int id, size_t n, size_t from)
{
    const volley_tag t[] = {{"name", "n"}, {"status", "200"}};
    const volley_tagset ts = {2, t};
    volley_sample s[1000];
    for (size_t done = 0; done < n; done += 1000) {
        size_t k = n - done < 1000 ? n - done : 1000;
        for (size_t i = 0; i < k; i++)
            s[i] = (volley_sample){(uint32_t)id, &ts, T0_NS + (int64_t)(from + done + i) * 1000,
                                   (double)(from + done + i) / 7};
        write_ok(f, inst, s, k);
    }
}

/* path: x.ndjson.gz writes gzip that decompresses to exactly the plain
 * file; compress: overrides the name. */
static void test_gzip(void **state)
{
    fixture *f = *state;
    int id = metric(f, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME);
    char gz[600], forced[600], plain_gz[600];
    snprintf(gz, sizeof gz, "%s/out.ndjson.gz", f->dir);
    snprintf(forced, sizeof forced, "%s/forced.ndjson", f->dir);
    snprintf(plain_gz, sizeof plain_gz, "%s/plain.ndjson.gz", f->dir);
    const char *paths[] = {f->path, gz, forced, plain_gz};
    const char *more[] = {NULL, NULL, "compress: gzip", "compress: none"};
    for (size_t i = 0; i < 4; i++) {
        char err[512] = "";
        void *inst = create_with(f, paths[i], more[i], err, sizeof err);
        if (!inst)
            fail_msg("create %s: %s", paths[i], err);
        write_million_lines_of(f, inst, id, 30000, 0);
        close_ok(f, inst);
    }
    size_t plain_len, gz_len, forced_len, pg_len;
    char *plain = slurp(f->path, &plain_len);
    char *raw = slurp(gz, &gz_len);
    assert_true(gz_len > 18 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b);
    assert_true(gz_len * 5 < plain_len);   /* NDJSON compresses well */
    free(raw);
    char *un = gunzip(gz, &gz_len);
    assert_int_equal(gz_len, plain_len);
    assert_memory_equal(un, plain, plain_len);
    free(un);
    un = gunzip(forced, &forced_len);
    assert_int_equal(forced_len, plain_len);
    free(un);
    raw = slurp(plain_gz, &pg_len);
    assert_int_equal(pg_len, plain_len);
    assert_memory_equal(raw, plain, plain_len);
    free(raw);
    free(plain);
}

/* Every flush period (write or tick) ends a gzip block: the file as it is
 * then, without its end, decompresses to whole lines up to that point. */
static void test_gzip_readable_while_written(void **state)
{
    fixture *f = *state;
    int id = metric(f, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME);
    f->th.host.now_ns = fake_clock;
    fake_now = 1000000000;
    char gz[600], err[512] = "";
    snprintf(gz, sizeof gz, "%s/out.ndjson.gz", f->dir);
    void *inst = create_with(f, gz, "reorder_window: 0", err, sizeof err);
    assert_non_null(inst);
    size_t expect = 1;   /* the Metric line */
    for (int round = 0; round < 3; round++) {
        write_million_lines_of(f, inst, id, 20000, (size_t)round * 20000);
        expect += 20000;
        fake_now += 300000000;   /* a flush period later, */
        uint64_t next = 0;
        assert_int_equal(f->ops->tick(inst, &next, err, sizeof err), 0);   /* a tick */
        size_t len;
        char *text = gunzip(gz, &len);
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
            n += text[i] == '\n';
        assert_true(len > 0 && text[len - 1] == '\n');
        assert_int_equal(n, expect);
        free(text);
    }
    close_ok(f, inst);
}

/* Throughput and line count for a million samples. */
static void test_million(void **state)
{
    fixture *f = *state;
    int ids[] = {
        metric(f, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME),
        metric(f, "http_req_waiting", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME),
        metric(f, "http_reqs", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT),
        metric(f, "data_received", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DATA),
    };
    const volley_tag t1[] = {{"expected_response", "true"}, {"group", ""},
                             {"method", "GET"}, {"name", "http://127.0.0.1:18181/api/items"},
                             {"proto", "HTTP/1.1"}, {"scenario", "default"},
                             {"status", "200"}, {"url", "http://127.0.0.1:18181/api/items"}};
    const volley_tag t2[] = {{"method", "POST"}, {"scenario", "checkout"}, {"status", "201"}};
    const volley_tagset sets[] = {{8, t1}, {3, t2}};
    enum { BATCH = 10000, TOTAL = 1000000 };
    volley_sample *s = malloc(BATCH * sizeof *s);
    void *inst = create(f);
    struct timespec a, b, ca, cb;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
    for (int done = 0; done < TOTAL; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            int k = done + i;
            s[i] = (volley_sample){(uint32_t)ids[k % 4], &sets[k % 2],
                                   T0_NS + (int64_t)k * 20000,
                                   k % 4 == 2 ? 1 : (double)(k % 100000 * 7919) / 1e6};
        }
        write_ok(f, inst, s, BATCH);
    }
    close_ok(f, inst);
    clock_gettime(CLOCK_MONOTONIC, &b);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    double cpu = (double)(cb.tv_sec - ca.tv_sec) + (double)(cb.tv_nsec - ca.tv_nsec) / 1e9;
    /* Informational only: timing depends on the machine and sanitizers. */
    printf("json-out: %d samples in %.3f s = %.0f samples/s; %.0f ns of CPU per sample\n", TOTAL,
           secs, TOTAL / secs, cpu * 1e9 / TOTAL);
    free(s);

    size_t len;
    char *data = slurp(f->path, &len);
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += data[i] == '\n';
    assert_int_equal(count, TOTAL + 4);
    /* Spot-check the last line. */
    assert_true(len > 0 && data[len - 1] == '\n');
    data[len - 1] = '\0';
    char *last = strrchr(data, '\n') + 1;
    json_error_t jerr;
    json_t *j = json_loads(last, 0, &jerr);
    assert_non_null(j);
    check_envelope(j);
    json_decref(j);
    free(data);
}

int main(void)
{
    const char *tz = getenv("TZ");
    saved_tz = tz ? strdup(tz) : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metric_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_utc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_kolkata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_negative_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_tag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parent_dirs_and_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_metric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_readable_while_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_million, setup, teardown),
    };
    int rc = cmocka_run_group_tests_name("json-out", tests, NULL, NULL);
    free(saved_tz);
    return rc;
}
