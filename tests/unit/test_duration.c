#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "duration.h"

#define US INT64_C(1000)
#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static const struct {
    const char *in;
    int64_t ns;
} accepts[] = {
    { "0", 0 },
    { "0s", 0 },
    { "30", 30 * SEC },
    { "2.5", 2500 * MS },
    { "150ms", 150 * MS },
    { "1.5s", 1500 * MS },
    { "1m30s", 90 * SEC },
    { "2h", 2 * HOUR },
    { "500us", 500 * US },
    { "500\xc2\xb5s", 500 * US },           /* micro sign U+00B5 */
    { "500\xce\xbcs", 500 * US },           /* Greek mu U+03BC   */
    { "10ns", 10 },
    { "1h2m3.5s", HOUR + 2 * MIN + 3500 * MS },
    { "1h30m", 90 * MIN },
    { "1.5h", 90 * MIN },
    { "1.5h30m", 2 * HOUR },
    { "1s500ms", 1500 * MS },
    { "1ms1us1ns", MS + US + 1 },
    { "1h1m1s1ms1us1ns", HOUR + MIN + SEC + MS + US + 1 },
    { "007s", 7 * SEC },
    { "0.000000001s", 1 },
    { "0.0000000019s", 1 },                   /* truncated, as in Go */
    { "0.1ns", 0 },
    { "0.333333333333s", 333333333 },
    { "1.000000000000000000000001s", SEC },   /* long fraction, exact */
    { "9223372036854775807ns", INT64_MAX },
    { "9223372036.854775807s", INT64_MAX },
    { "2562047h47m16.854775807s", INT64_MAX },
};

static const char *const rejects[] = {
    "", "-1s", "1x", "1s1s", "1s1m", "s", "1.5.2s", "  1s", "1s ", " ",
    "1h30", "1.s", ".5s", "5.", "1..5s", "+1s", "1e3s", "1 s", "1S", "1sec",
    "1m1m", "1ms1s", "1us1\xc2\xb5s", "1h-1m", "\xc2\xb5s", "1\xc2s", "ms",
    "9223372036854775808ns", "9223372036.854775808s", "2562048h",
    "2562047h47m16.854775808s", "99999999999999999999999s", "9223372037", "inf", "nan",
};

static void test_accepts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepts / sizeof accepts[0]; i++) {
        int64_t ns = -42;
        char err[256] = "";
        int rc = duration_parse(accepts[i].in, &ns, err, sizeof err);
        if (rc != 0 || ns != accepts[i].ns)
            fail_msg("\"%s\": rc %d, ns %lld, want %lld (%s)", accepts[i].in, rc,
                     (long long)ns, (long long)accepts[i].ns, err);
    }
}

static void test_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        int64_t ns = -42;
        char err[256] = "";
        if (duration_parse(rejects[i], &ns, err, sizeof err) == 0)
            fail_msg("\"%s\" accepted as %lld", rejects[i], (long long)ns);
        assert_int_equal(ns, -42);   /* untouched on failure */
        assert_non_null(strstr(err, DURATION_EXPECTED));
    }
}

static void test_error_messages(void **state)
{
    (void)state;
    int64_t ns;
    char err[256];
    assert_int_equal(duration_parse("1x", &ns, err, sizeof err), -1);
    assert_string_equal(err, "expected a duration such as 500ms, 10s, 1m30s or 2h; "
                             "got \"1x\" (unknown unit; use h, m, s, ms, us or ns)");
    duration_parse("-1s", &ns, err, sizeof err);
    assert_non_null(strstr(err, "negative"));
    duration_parse("1s1m", &ns, err, sizeof err);
    assert_non_null(strstr(err, "largest first"));
    duration_parse("99999999999h", &ns, err, sizeof err);
    assert_non_null(strstr(err, "too large"));
    duration_parse("", &ns, err, sizeof err);
    assert_non_null(strstr(err, "(empty)"));
    /* Long input is cut in the message, and a tiny buffer is not overrun. */
    duration_parse("1111111111111111111111111111111111111111111111111111x", &ns, err,
                   sizeof err);
    assert_non_null(strstr(err, "...\""));
    char tiny[8];
    duration_parse("1x", &ns, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(duration_parse("1x", &ns, NULL, 0), -1);
    assert_int_equal(duration_parse(NULL, &ns, err, sizeof err), -1);
}

static const struct {
    int64_t ns;
    const char *out;
} formats[] = {
    { 0, "0s" },
    { 1, "1ns" },
    { 999, "999ns" },
    { US, "1\xc2\xb5s" },
    { 1500, "1.5\xc2\xb5s" },
    { 500 * MS, "500ms" },
    { 1234567, "1.234567ms" },
    { 999999999, "999.999999ms" },
    { SEC, "1s" },
    { 1500 * MS, "1.5s" },
    { 90 * SEC, "1m30s" },
    { 60 * SEC, "1m0s" },
    { 2 * HOUR, "2h0m0s" },
    { HOUR + 500 * MS, "1h0m0.5s" },
    { HOUR + 2 * MIN + 3500 * MS, "1h2m3.5s" },
    { 61 * SEC + 1, "1m1.000000001s" },
    { -1500 * MS, "-1.5s" },
    { -1, "-1ns" },
    { INT64_MAX, "2562047h47m16.854775807s" },
    { INT64_MIN, "-2562047h47m16.854775808s" },
};

static void test_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        char buf[64];
        assert_ptr_equal(duration_format(formats[i].ns, buf, sizeof buf), buf);
        assert_string_equal(buf, formats[i].out);
    }
    char tiny[4];
    assert_string_equal(duration_format(90 * SEC, tiny, sizeof tiny), "1m3");
}

/* Every non-negative formatted duration parses back to the same value, and
 * canonical inputs print back unchanged. */
/* Limits in error messages, as the docs write them. */
static void test_format_limit(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *want;
    } cases[] = {{US, "1us"}, {365 * 24 * HOUR, "365 days"}, {24 * HOUR, "24h"},
                 {2 * 24 * HOUR, "2 days"}, {60 * SEC, "60s"}, {3600 * SEC, "1h"},
                 {10 * MIN, "10m"}, {MS, "1ms"}, {1500 * MS, "1500ms"}, {0, "0s"}, {7, "7ns"}};
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(duration_format_limit(cases[i].ns, buf, sizeof buf), cases[i].want);
}

static void test_round_trips(void **state)
{
    (void)state;
    static const char *const canon[] = { "0s", "500ms", "1.5s", "1m30s", "2h0m0s",
                                         "10ns", "1h2m3.5s", "250\xc2\xb5s" };
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        int64_t ns;
        char buf[64];
        assert_int_equal(duration_parse(canon[i], &ns, NULL, 0), 0);
        assert_string_equal(duration_format(ns, buf, sizeof buf), canon[i]);
    }
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (formats[i].ns < 0)
            continue;
        int64_t ns = -1;
        char err[256] = "";
        if (duration_parse(formats[i].out, &ns, err, sizeof err) != 0)
            fail_msg("%s: %s", formats[i].out, err);
        assert_int_equal(ns, formats[i].ns);
    }
    /* A spread of magnitudes, each with an odd fractional part. */
    for (int64_t v = 7; v < INT64_MAX / 13; v = v * 13 + 5) {
        char buf[64];
        int64_t back = -1;
        duration_format(v, buf, sizeof buf);
        assert_int_equal(duration_parse(buf, &back, NULL, 0), 0);
        assert_int_equal(back, v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_format_limit),
    };
    return cmocka_run_group_tests_name("duration", tests, NULL, NULL);
}
