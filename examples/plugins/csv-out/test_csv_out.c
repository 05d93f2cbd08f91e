/*
 * Unit test of csv-out on the installed Volley test host (pkg-config
 * volley-testhost): the plugin is loaded with dlopen exactly as volley
 * loads it, configured from YAML with volley's own option checker, and fed
 * samples by hand. Usage: test_csv_out PATH/volley-csv-out.so
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "volley/plugin.h"
#include "volley/testhost.h"

static int failures;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            failures++;                                                       \
        }                                                                     \
    } while (0)

typedef struct csv_config {   /* as the plugin's option map fills it */
    uint64_t set;
    const char *file_name;
    int64_t save_interval_ns;
    int time_format;
} csv_config;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return strdup(text);
}

static const char *HEADER =
    "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,"
    "proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata\n";

static void test_config(volley_testhost *th, const volley_output_ops *ops)
{
    csv_config cfg;
    char err[1024];
    /* Defaults are k6's. */
    CHECK(volley_testhost_config(th, ops->options, "{}", &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(strcmp(cfg.file_name, "file.csv") == 0, "%s", cfg.file_name);
    CHECK(cfg.save_interval_ns == 1000000000, "%lld", (long long)cfg.save_interval_ns);
    CHECK(cfg.time_format == 0, "%d", cfg.time_format);
    /* The shorthand is the file name (--out csv-out=x.csv). */
    CHECK(volley_testhost_config(th, ops->options, "x.csv", &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(strcmp(cfg.file_name, "x.csv") == 0, "%s", cfg.file_name);
    /* Volley's checker rejects what the map does not allow, with a place. */
    CHECK(volley_testhost_config(th, ops->options, "{ time_format: iso }", &cfg, err, sizeof err) != 0,
          "accepted");
    CHECK(strstr(err, "<test>:1:16: error: ") && strstr(err, "time_format") && strstr(err, "rfc3339_nano"),
          "%s", err);
    CHECK(volley_testhost_config(th, ops->options, "{ save_interval: 0s }", &cfg, err, sizeof err) != 0,
          "accepted");
    /* And config_check what it cannot: */
    CHECK(volley_testhost_config(th, ops->options, "{ file_name: '' }", &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(ops->config_check(volley_testhost_host(th), &cfg, err, sizeof err) != 0, "accepted");
    CHECK(strcmp(err, "file_name: must not be empty") == 0, "%s", err);
    CHECK(volley_testhost_config(th, ops->options, "/tmp", &cfg, err, sizeof err) == 0, "%s", err);
    CHECK(ops->config_check(volley_testhost_host(th), &cfg, err, sizeof err) != 0, "accepted");
}

static void test_rows(volley_testhost *th, const volley_output_ops *ops, const char *dir)
{
    char path[512], yaml[700], err[1024];
    snprintf(path, sizeof path, "%s/rows.csv", dir);
    snprintf(yaml, sizeof yaml, "{ file_name: '%s', save_interval: 250ms, time_format: unix_milli }", path);
    csv_config cfg;
    CHECK(volley_testhost_config(th, ops->options, yaml, &cfg, err, sizeof err) == 0, "%s", err);
    void *inst = ops->create(volley_testhost_host(th), volley_testhost_core(th), &cfg, err, sizeof err);
    CHECK(inst != NULL, "%s", err);
    if (!inst)
        return;
    char *text = slurp(path);
    CHECK(strcmp(text, HEADER) == 0, "header at create:\n%s", text);
    free(text);

    volley_testhost_metric(th, "http_req_duration", VOLLEY_METRIC_TREND, VOLLEY_CONTAINS_TIME);
    volley_testhost_metric(th, "checks", VOLLEY_METRIC_RATE, VOLLEY_CONTAINS_DEFAULT);
    const volley_tagset *req = volley_testhost_tags(
        th, VOLLEY_TAG_SCENARIO, "default", VOLLEY_TAG_METHOD, "GET", VOLLEY_TAG_STATUS, "200",
        VOLLEY_TAG_URL, "http://127.0.0.1/a?x=1,2", VOLLEY_TAG_NAME, "say \"hi\"", VOLLEY_TAG_GROUP,
        "::g", VOLLEY_TAG_EXPECTED_RESPONSE, "true", "team", "payments", "env", "ci", NULL);
    const volley_tagset *check = volley_testhost_tags(th, VOLLEY_TAG_CHECK, "status is 200",
                                                      VOLLEY_TAG_SCENARIO, "default", NULL);
    /* Equal sets are one pointer, as the core interns them. */
    CHECK(check == volley_testhost_tags(th, VOLLEY_TAG_SCENARIO, "default", VOLLEY_TAG_CHECK,
                                        "status is 200", NULL), "not interned");
    volley_sample s[3] = {
        volley_testhost_sample(th, "http_req_duration", 12.5, INT64_C(1700000000123456789), req),
        volley_testhost_sample(th, "checks", 1, INT64_C(1700000000200000000), check),
        volley_testhost_sample(th, "http_req_duration", 7.25, INT64_C(1700000001000000000), req),
    };
    CHECK(ops->write(inst, s, 3, err, sizeof err) == 0, "%s", err);
    /* Rows wait for the save interval: nothing new in the file yet. */
    text = slurp(path);
    CHECK(strcmp(text, HEADER) == 0, "rows before the tick:\n%s", text);
    free(text);
    uint64_t next = 0;
    CHECK(ops->tick(inst, &next, err, sizeof err) == 0, "%s", err);
    CHECK(next == 250000000u, "next tick in %llu ns", (unsigned long long)next);
    text = slurp(path);
    const char *want_rows =
        "http_req_duration,1700000000123,12.500000,,,,true,::g,GET,\"say \"\"hi\"\"\",,default,,200,,,"
        "\"http://127.0.0.1/a?x=1,2\",env=ci&team=payments,\n"
        "checks,1700000000200,1.000000,status is 200,,,,,,,,default,,,,,,,\n"
        "http_req_duration,1700000001000,7.250000,,,,true,::g,GET,\"say \"\"hi\"\"\",,default,,200,,,"
        "\"http://127.0.0.1/a?x=1,2\",env=ci&team=payments,\n";
    char want[4096];
    snprintf(want, sizeof want, "%s%s", HEADER, want_rows);
    CHECK(strcmp(text, want) == 0, "after the tick:\n%s\nwanted:\n%s", text, want);
    free(text);
    CHECK(ops->close(inst, err, sizeof err) == 0, "%s", err);
    ops->destroy(inst);
}

static void test_time_formats(volley_testhost *th, const volley_output_ops *ops, const char *dir)
{
    static const struct { const char *format, *want; } cases[] = {
        {"unix", "1700000000"},
        {"unix_micro", "1700000000123456"},
        {"unix_nano", "1700000000123456789"},
        {"rfc3339", "2023-11-14T22:13:20Z"},
        {"rfc3339_nano", "2023-11-14T22:13:20.12345678Z"},
    };
    setenv("TZ", "UTC", 1);
    volley_testhost_metric(th, "iterations", VOLLEY_METRIC_COUNTER, VOLLEY_CONTAINS_DEFAULT);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], yaml[700], err[1024];
        snprintf(path, sizeof path, "%s/t%zu.csv", dir, i);
        snprintf(yaml, sizeof yaml, "{ file_name: '%s', time_format: %s }", path, cases[i].format);
        csv_config cfg;
        CHECK(volley_testhost_config(th, ops->options, yaml, &cfg, err, sizeof err) == 0, "%s", err);
        void *inst = ops->create(volley_testhost_host(th), volley_testhost_core(th), &cfg, err, sizeof err);
        CHECK(inst != NULL, "%s", err);
        if (!inst)
            continue;
        /* 123456780 ns: rfc3339_nano drops the trailing zero, as Go does. */
        volley_sample s = volley_testhost_sample(th, "iterations", 1, INT64_C(1700000000123456780), NULL);
        if (strcmp(cases[i].format, "unix_nano") == 0 || strcmp(cases[i].format, "unix_micro") == 0)
            s.time_unix_ns = INT64_C(1700000000123456789);
        CHECK(ops->write(inst, &s, 1, err, sizeof err) == 0, "%s", err);
        CHECK(ops->close(inst, err, sizeof err) == 0, "%s", err);   /* close writes what is left */
        ops->destroy(inst);
        char *text = slurp(path);
        char want[256];
        snprintf(want, sizeof want, "\niterations,%s,1.000000,", cases[i].want);
        CHECK(strstr(text, want) != NULL, "%s: %s", cases[i].format, text);
        free(text);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/volley-csv-out.so\n", argv[0]);
        return 2;
    }
    volley_testhost *th = volley_testhost_new();
    char err[1024];
    const volley_plugin *p = th ? volley_testhost_load(th, argv[1], err, sizeof err) : NULL;
    if (!p) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], th ? err : "no test host");
        return 1;
    }
    CHECK(p->kind == VOLLEY_KIND_OUTPUT && strcmp(p->name, "csv-out") == 0, "%s", p->name);
    CHECK(VOLLEY_HAS(p, revision) && p->revision == VOLLEY_ABI_REVISION, "revision");
    const volley_output_ops *ops = p->output;
    CHECK(VOLLEY_HAS(ops, tick) && ops->tick && ops->config_check, "revision-1 ops");
    char dir[] = "/tmp/test-csv-out-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_config(th, ops);
    test_rows(th, ops, dir);
    test_time_formats(th, ops, dir);
    volley_testhost_free(th);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    puts("ok");
    return 0;
}
