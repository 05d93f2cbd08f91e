#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "conlog.h"

#define SEC UINT64_C(1000000000)

/* k6's console shape: LEVEL[SSSS] text padded to 44, two spaces, field
 * (logrus's "%s[%04d] %-44s " and " source=console"). */
static void expect_line(conlog_level level, uint64_t ns, const char *text, const char *want)
{
    char line[CONLOG_LINE_MAX + 1];
    size_t n = conlog_format(line, level, ns, text);
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
}

static void test_shape(void **state)
{
    (void)state;
    expect_line(CONLOG_INFO, 3 * SEC + SEC / 2, "hello",
                "INFO[0003] hello                                         source=console\n");
    expect_line(CONLOG_WARN, 0, "", "WARN[0000]                                               source=console\n");
    expect_line(CONLOG_ERROR, 12345 * SEC, "e",
                "ERRO[12345] e                                             source=console\n");
    expect_line(CONLOG_DEBUG, 59 * SEC, "d",
                "DEBU[0059] d                                             source=console\n");
    /* longer than the padding: no padding, the field after two spaces */
    expect_line(CONLOG_INFO, 0, "0123456789012345678901234567890123456789012345678",
                "INFO[0000] 0123456789012345678901234567890123456789012345678  source=console\n");
    /* text as it is: newlines too (k6 prints the message as it is) */
    expect_line(CONLOG_INFO, 0, "a\nb", "INFO[0000] a\nb                                           source=console\n");
}

/* A text too long for one line is cut so that the line is CONLOG_LINE_MAX
 * bytes with its newline (one write(2) a pipe takes whole), ends in "...", and no UTF-8 sequence is split. */
static void test_cut(void **state)
{
    (void)state;
    static char text[3 * CONLOG_LINE_MAX], line[CONLOG_LINE_MAX + 1];
    memset(text, 'a', sizeof text - 1);
    size_t n = conlog_format(line, CONLOG_INFO, 0, text);
    assert_int_equal(n, CONLOG_LINE_MAX);
    assert_int_equal(strlen(line), n);
    assert_string_equal(line + n - strlen("...  source=console\n"), "...  source=console\n");

    /* "é" (2 bytes) everywhere: the cut lands between two of them */
    for (size_t i = 0; i + 2 < sizeof text; i += 2)
        memcpy(text + i, "\xc3\xa9", 2);
    text[sizeof text - 1] = '\0';
    n = conlog_format(line, CONLOG_INFO, 0, text);
    assert_true(n <= CONLOG_LINE_MAX);
    const char *end = strstr(line, "...  source=console\n");
    assert_non_null(end);
    size_t body = (size_t)(end - (line + strlen("INFO[0000] ")));
    assert_int_equal(body % 2, 0);
    assert_int_equal((unsigned char)end[-1], 0xa9);   /* the last one whole */

    /* just fitting: not cut */
    size_t room = CONLOG_LINE_MAX - strlen("INFO[0000] ") - strlen("  source=console\n");
    memset(text, 'b', room);
    text[room] = '\0';
    n = conlog_format(line, CONLOG_INFO, 0, text);
    assert_int_equal(n, CONLOG_LINE_MAX);
    assert_null(strstr(line, "..."));
    text[room] = 'b';
    text[room + 1] = '\0';
    conlog_format(line, CONLOG_INFO, 0, text);
    assert_non_null(strstr(line, "bbb...  source=console\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
