#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

/* The elements of the array text `s`, as "a|b|c"; "ERR" when it is not one. */
static const char *elements(const char *s, char *out, size_t cap)
{
    size_t pos = 0, a, b, len = strlen(s), o = 0;
    int r;
    out[0] = '\0';
    while ((r = jscan_array_next(s, len, &pos, &a, &b)) == 1) {
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? "|" : "", (int)(b - a), s + a);
    }
    return r == 0 ? out : "ERR";
}

static void test_arrays(void **state)
{
    (void)state;
    char buf[512];
    assert_string_equal(elements("[1, \"a,b\", [2, 3], {\"x\": [4]}, true, null, -1.5e3]", buf,
                                 sizeof buf),
                        "1|\"a,b\"|[2, 3]|{\"x\": [4]}|true|null|-1.5e3");
    assert_string_equal(elements("  [ ]  ", buf, sizeof buf), "");
    assert_string_equal(elements("[\"]\\\"[\"]", buf, sizeof buf), "\"]\\\"[\"");
    static const char *const bad[] = {"", "{}", "\"a\"", "[1,", "[1 2]", "[1,]", "[tru]", "[01]",
                                      "[[1]", "[{]}", "[\"abc]", "[1}", "[,1]", "[- 1]", "[1]]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *got = elements(bad[i], buf, sizeof buf);
        if (strcmp(bad[i], "[1]]") == 0)
            assert_string_equal(got, "1");   /* the array ends at its ]: what follows is not read */
        else if (strcmp(got, "ERR") != 0)
            fail_msg("%s: %s, expected an error", bad[i], got);
    }
}

static void test_fields(void **state)
{
    (void)state;
    const char *o = "{\"id\": 7, \"user\": {\"name\": \"a\\u00e9\"}, \"tags\": [\"x\", \"y\", \"z\"], "
                    "\"k\\\"ey\": 1, \"id2\": null}";
    size_t len = strlen(o), a, b;
    assert_true(jscan_field(o, len, "id", 2, &a, &b));
    assert_int_equal(b - a, 1);
    assert_memory_equal(o + a, "7", 1);
    assert_true(jscan_field(o, len, "user", 4, &a, &b));
    size_t a2, b2;
    assert_true(jscan_field(o + a, b - a, "name", 4, &a2, &b2));
    volley_buf out = {0};
    assert_int_equal(jscan_string(o + a + a2, b2 - a2, &out), 0);
    assert_string_equal(out.data, "a\xc3\xa9");
    assert_true(jscan_field(o, len, "tags", 4, &a, &b));
    assert_true(jscan_field(o + a, b - a, "2", 1, &a2, &b2));
    assert_memory_equal(o + a + a2, "\"z\"", 3);
    assert_true(jscan_field(o + a, b - a, "-3", 2, &a2, &b2));
    assert_memory_equal(o + a + a2, "\"x\"", 3);
    assert_false(jscan_field(o + a, b - a, "3", 1, &a2, &b2));
    assert_false(jscan_field(o + a, b - a, "-4", 2, &a2, &b2));
    assert_false(jscan_field(o + a, b - a, "x", 1, &a2, &b2));
    assert_true(jscan_field(o, len, "k\"ey", 4, &a, &b));   /* an escaped key */
    assert_false(jscan_field(o, len, "nope", 4, &a, &b));
    assert_false(jscan_field("7", 1, "id", 2, &a, &b));
    assert_false(jscan_field("{\"id\" 1}", 8, "id", 2, &a, &b));
    free(out.data);
}

static void test_strings(void **state)
{
    (void)state;
    volley_buf out = {0};
    const char *s = "\"q\\\"b\\\\s\\/n\\nt\\tu\\u0041\\ud83d\\ude00\\ud800x\"";
    assert_int_equal(jscan_string(s, strlen(s), &out), 0);
    assert_string_equal(out.data, "q\"b\\s/n\nt\tuA\xf0\x9f\x98\x80\xef\xbf\xbdx");
    out.len = 0;
    assert_int_equal(jscan_string("\"\\u12\"", 6, &out), -1);
    assert_int_equal(jscan_string("\"abc", 4, &out), -1);
    assert_int_equal(jscan_string("\"a\"b\"", 5, &out), -1);
    assert_int_equal(jscan_string("12", 2, &out), -1);
    free(out.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
