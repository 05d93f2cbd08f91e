#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "start_at.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)
/* 2026-12-07T06:00:00Z, as `date -u -d 2026-12-07T06:00:00Z +%s` has it */
#define T0 (INT64_C(1796623200) * SEC)

static const struct {
    const char *in;
    int64_t ns;
} accepts[] = {
    { "2026-12-07T06:00:00Z", T0 },
    { "2026-12-07t06:00:00z", T0 },
    { "2026-12-07 06:00:00Z", T0 },
    { "2026-12-07T07:00:00+01:00", T0 },
    { "2026-12-07T00:30:00-05:30", T0 },
    { "2026-12-07T06:00:00.25Z", T0 + 250 * MS },
    { "2026-12-07T06:00:00.123456789123Z", T0 + 123456789 },
    { "2026-12-07T05:59:60Z", T0 },                /* a leap second */
    { "2024-02-29T00:00:00Z", INT64_C(1709164800) * SEC },
    { "2000-03-01T00:00:00Z", INT64_C(951868800) * SEC },
    { "1970-01-01T00:00:00Z", 0 },
    { "1796623200", T0 },
    { "1796623200.5", T0 + 500 * MS },
    { "0", 0 },
};

static const char *const rejects[] = {
    "", "now", "+2s", "2026-12-07T06:00:00", "2026-12-07", "2026-12-07T06:00Z",
    "2026-13-07T06:00:00Z", "2026-02-29T06:00:00Z", "2026-12-32T06:00:00Z",
    "2026-12-07T24:00:00Z", "2026-12-07T06:60:00Z", "2026-12-07T06:00:61Z",
    "2026-12-07T06:00:00.Z", "2026-12-07T06:00:00+0100", "2026-12-07T06:00:00+24:00",
    "2026-12-07T06:00:00Z ", "1796623200.", "-5", "1796623200s", "1e9",
    "99999999999999999999", "9999-12-31T23:59:59Z", "1970-01-01T00:00:00+01:00",
};

static void test_accepts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof accepts / sizeof accepts[0]; i++) {
        int64_t ns = -1;
        char err[256] = "";
        int rc = start_at_parse(accepts[i].in, &ns, err, sizeof err);
        if (rc != 0 || ns != accepts[i].ns)
            fail_msg("%s: rc %d ns %lld want %lld (%s)", accepts[i].in, rc, (long long)ns,
                     (long long)accepts[i].ns, err);
    }
}

static void test_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        int64_t ns = 0;
        char err[512] = "";
        if (start_at_parse(rejects[i], &ns, err, sizeof err) == 0)
            fail_msg("%s: accepted as %lld", rejects[i], (long long)ns);
        assert_non_null(strstr(err, "RFC 3339"));
        assert_non_null(strstr(err, rejects[i]));
    }
}

static void test_check(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(start_at_check(T0, T0 - SEC, err, sizeof err), 0);
    assert_int_equal(start_at_check(T0, T0 - START_AT_MAX_AHEAD_NS, err, sizeof err), 0);
    assert_int_equal(start_at_check(T0, T0, err, sizeof err), -1);
    assert_string_equal(err, "2026-12-07T06:00:00.000Z is in the past (now is "
                        "2026-12-07T06:00:00.000Z): instances started together need a time "
                        "still ahead of them all");
    assert_int_equal(start_at_check(T0, T0 + 1500 * MS, err, sizeof err), -1);
    assert_non_null(strstr(err, "now is 2026-12-07T06:00:01.500Z"));
    assert_int_equal(start_at_check(T0, T0 - START_AT_MAX_AHEAD_NS - 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 24h ahead"));
}

static void test_format_round_trip(void **state)
{
    (void)state;
    char buf[40], err[256];
    int64_t back;
    start_at_format(T0 + 250 * MS, buf, sizeof buf);
    assert_string_equal(buf, "2026-12-07T06:00:00.250Z");
    start_at_format(INT64_C(951868800) * SEC - SEC, buf, sizeof buf);
    assert_string_equal(buf, "2000-02-29T23:59:59.000Z");
    for (int64_t t = 0; t < INT64_C(9000000000) * SEC; t += INT64_C(7777777) * SEC + 123 * MS) {
        start_at_format(t, buf, sizeof buf);
        assert_int_equal(start_at_parse(buf, &back, err, sizeof err), 0);
        assert_int_equal(back, t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
