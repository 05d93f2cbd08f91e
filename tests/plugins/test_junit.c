/*
 * junit plugin tests: load the real volley-junit.so, hand its summary() a
 * hand-built volley_run_summary (plugin revision 5) and read the XML back:
 * testcases, failure texts, XML escaping of names and reasons (markup,
 * control characters, bytes that are not UTF-8), the atomic write
 * (FILE.tmp renamed over FILE) and no report without a summary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhost.h"

typedef struct fixture {
    testhost th;
    const volley_output_ops *ops;
    char dir[256], path[512], tmp[520];
} fixture;

typedef struct junit_config {   /* what the plugin's option map fills */
    uint64_t set;
    const char *path;
} junit_config;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(th_init(&f->th), 0);
    const volley_plugin *p = th_load(&f->th, "junit");
    assert_non_null(p);
    assert_int_equal(p->kind, VOLLEY_KIND_OUTPUT);
    assert_true(p->revision >= 5);
    assert_non_null(p->output->summary);
    f->ops = p->output;
    snprintf(f->dir, sizeof f->dir, "/tmp/volley-test-junit-%ld", (long)getpid());
    snprintf(f->path, sizeof f->path, "%s/sub/report.xml", f->dir);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", f->path);
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
    return 0;
}

static void *create(fixture *f)
{
    junit_config cfg;
    char yaml[700], err[512] = "";
    snprintf(yaml, sizeof yaml, "\"%s\"", f->path);   /* the shorthand: path */
    assert_int_equal(th_fill(&f->th, f->ops->options, yaml, &cfg), 0);
    assert_int_equal(f->ops->config_check(&f->th.host, &cfg, err, sizeof err), 0);
    void *inst = f->ops->create(&f->th.host, (volley_core *)&f->th, &cfg, err, sizeof err);
    if (!inst)
        fail_msg("create: %s", err);
    return inst;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static void test_report(void **state)
{
    fixture *f = *state;
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/sub' && echo old > '%s'", f->dir, f->path);
    assert_int_equal(system(cmd), 0);
    void *inst = create(f);
    assert_int_equal(access(f->tmp, F_OK), 0);
    assert_string_equal(slurp(f->path), "old\n");   /* replaced only at the end */

    volley_threshold_result pass = {
        .size = sizeof pass, .key = "http_req_duration{name:transfer}", .metric = "http_req_duration",
        .expression = "p(95)<500", .verdict = VOLLEY_VERDICT_PASS, .observed = 12.5,
        .observed_text = "p(95)=12.5ms", .aggregation = "p(95)", .op = "<", .limit = 500};
    volley_threshold_result fail = pass;
    fail.verdict = VOLLEY_VERDICT_FAIL;
    fail.fails_run = true;
    fail.observed = 612.3;
    fail.observed_text = "p(95)=612.3ms";
    fail.aborted_run = true;
    volley_threshold_result nodata = {
        .size = sizeof nodata, .key = "http_req_duration{name:trasnfer}", .metric = "http_req_duration",
        .expression = "p(95)<500", .verdict = VOLLEY_VERDICT_NO_DATA, .fails_run = true,
        .observed = NAN, .observed_text = "", .aggregation = "p(95)", .op = "<", .limit = 500};
    volley_threshold_result allowed = nodata;
    allowed.fails_run = false;
    allowed.allow_no_data = true;
    const volley_threshold_result *th[] = {&pass, &fail, &nodata, &allowed};
    volley_check_result ok = {.size = sizeof ok, .name = "status is 200", .group = "::pay", .passes = 340};
    volley_check_result bad = {.size = sizeof bad, .name = "a \"quoted\" <name> & more",
                               .group = "::pay::inner", .passes = 328, .fails = 12,
                               .first_failure = "status 500 not in [200]\x01\xff tail\n"};
    volley_check_result never = {.size = sizeof never, .name = "never", .group = ""};
    const volley_check_result *ck[] = {&ok, &bad, &never};
    volley_run_summary s = {.size = sizeof s, .spec_name = "e2e-transaction", .spec_path = "specs/e2e.yaml",
                            .start_unix_ns = INT64_C(1795841881123456789), .duration_s = 12.3456,
                            .exit_code = 99, .seed = 42, .n_thresholds = 4, .thresholds = th,
                            .n_checks = 3, .checks = ck};
    char err[512] = "";
    assert_int_equal(f->ops->summary(inst, &s, err, sizeof err), 0);
    assert_int_equal(f->ops->close(inst, err, sizeof err), 0);
    f->ops->destroy(inst);
    assert_int_not_equal(access(f->tmp, F_OK), 0);
    const char *x = slurp(f->path);
    assert_non_null(x);
    const char *want[] = {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<testsuites name=\"volley\" tests=\"7\" failures=\"3\" errors=\"0\" skipped=\"2\" time=\"12.346\">",
        "<testsuite name=\"e2e-transaction\" tests=\"7\" failures=\"3\" errors=\"0\" skipped=\"2\" "
        "time=\"12.346\" timestamp=\"2026-11-28T04:58:01\">",
        "<property name=\"spec\" value=\"specs/e2e.yaml\"/>",
        "<property name=\"exit_code\" value=\"99\"/>",
        "<property name=\"seed\" value=\"42\"/>",
        "<testcase classname=\"e2e-transaction.http_req_duration{name:transfer}\" name=\"p(95)&lt;500\" "
        "time=\"12.346\"/>",
        "<failure message=\"observed p(95)=612.3ms, limit 500; abort_on_fail stopped the run\" "
        "type=\"threshold\">observed p(95)=612.3ms, limit 500; abort_on_fail stopped the run</failure>",
        "<testcase classname=\"e2e-transaction.http_req_duration{name:trasnfer}\" name=\"p(95)&lt;500\" "
        "time=\"12.346\">\n      <failure message=\"no data: no samples for "
        "http_req_duration{name:trasnfer}\" type=\"no_data\">no data: no samples for "
        "http_req_duration{name:trasnfer}</failure>",
        "<skipped message=\"no data: no samples for http_req_duration{name:trasnfer} (allow_no_data)\">",
        "<testcase classname=\"e2e-transaction.checks.pay\" name=\"status is 200\" time=\"12.346\"/>",
        "<testcase classname=\"e2e-transaction.checks.pay::inner\" name=\"a &quot;quoted&quot; &lt;name&gt; "
        "&amp; more\" time=\"12.346\">",
        "message=\"12 of 340 failed (3.5%); first failure: status 500 not in [200]\xEF\xBF\xBD\xEF\xBF\xBD "
        "tail&#10;\" type=\"check\">12 of 340 failed (3.5%); first failure: status 500 not in "
        "[200]\xEF\xBF\xBD\xEF\xBF\xBD tail\n</failure>",
        "<testcase classname=\"e2e-transaction.checks\" name=\"never\" time=\"12.346\">\n      <skipped "
        "message=\"never evaluated\">",
        "</testsuite>\n</testsuites>\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(x, want[i]))
            fail_msg("missing %s\nin:\n%s", want[i], x);
}

/* No summary (an unmeasured run): no report, and FILE.tmp is gone. */
static void test_no_summary_no_report(void **state)
{
    fixture *f = *state;
    void *inst = create(f);
    volley_sample smp = {0};
    char err[256] = "";
    assert_int_equal(f->ops->write(inst, &smp, 1, err, sizeof err), 0);
    assert_int_equal(f->ops->close(inst, err, sizeof err), 0);
    f->ops->destroy(inst);
    assert_int_not_equal(access(f->tmp, F_OK), 0);
    assert_int_not_equal(access(f->path, F_OK), 0);
}

static void test_folder_refused(void **state)
{
    fixture *f = *state;
    junit_config cfg;
    char yaml[300], err[512] = "";
    snprintf(yaml, sizeof yaml, "path: \"/tmp/\"");
    assert_int_equal(th_fill(&f->th, f->ops->options, yaml, &cfg), 0);
    assert_int_equal(f->ops->config_check(&f->th.host, &cfg, err, sizeof err), -1);
    assert_string_equal(err, "path: \"/tmp/\" is a folder; name a file in it");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_summary_no_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
