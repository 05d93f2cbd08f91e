#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "setup_data.h"

static const char *const names[] = {"token", "n", "obj", "unset"};

static vu_capture cap(const char *text, int kind, int secret)
{
    vu_capture c = {.kind = (uint8_t)kind, .secret = (uint8_t)secret};
    if (text) {
        c.val.data = (char *)text;
        c.val.len = strlen(text);
    }
    return c;
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/test_setup_data.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_round_trip(void **state)
{
    (void)state;
    vu_capture vals[4] = {cap("abc \"1\"", CAP_STRING, 1), cap("42", CAP_JSON, 0),
                          cap("{\"a\":[1,2]}", CAP_JSON, 0), cap(NULL, CAP_UNSET, 0)};
    char *text = setup_data_dump(names, vals, 3, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"token\": \"abc \\\"1\\\"\""));
    assert_non_null(strstr(text, "\"n\": 42"));
    assert_non_null(strstr(text, "\"secret\": [\n    \"token\"\n  ]"));
    char *path = write_tmp(text);
    char err[512] = "";
    vu_capture *back = setup_data_load(path, NULL, names, 3, NULL, err, sizeof err);
    assert_non_null(back);
    assert_string_equal(back[0].val.data, "abc \"1\"");
    assert_int_equal(back[0].kind, CAP_STRING);
    assert_int_equal(back[0].secret, 1);
    assert_string_equal(back[1].val.data, "42");
    assert_int_equal(back[1].kind, CAP_JSON);
    assert_int_equal(back[1].secret, 0);
    assert_string_equal(back[2].val.data, "{\"a\":[1,2]}");
    assert_int_equal(back[2].val.len, strlen("{\"a\":[1,2]}"));
    setup_data_free(back, 3);
    /* an unset capture is left out: reading it back names what is missing */
    free(text);
    text = setup_data_dump(names, vals, 4, NULL);
    assert_null(strstr(text, "unset"));
    unlink(path);
    free(path);
    path = write_tmp(text);
    assert_null(setup_data_load(path, NULL, names, 4, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no value for ${setup.unset} (the file has: n obj token)"));
    unlink(path);
    free(path);
    free(text);
}

static void test_bad_files(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(setup_data_load("/nonexistent/setup.json", NULL, names, 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "--setup-data /nonexistent/setup.json: "));
    char *path = write_tmp("{\"values\": {\"token\": \"x\"}}");
    assert_null(setup_data_load(path, NULL, names, 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "not a file of volley setup"));
    unlink(path);
    free(path);
    path = write_tmp("{\"volley_setup_data\": 1, \"values\": {}}");
    assert_null(setup_data_load(path, NULL, names, 1, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no value for ${setup.token} (the file has: nothing)"));
    unlink(path);
    free(path);
    path = write_tmp("{\"volley_setup_data\": 1, \"values\": {\"token\": null}}");
    assert_null(setup_data_load(path, NULL, names, 1, NULL, err, sizeof err));
    unlink(path);
    free(path);
}

#define SHA_A "aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000"
#define SHA_B "bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111"

/* The file says which spec made it and when; another spec's file is
 * refused, an older file without the hash is read with a warning. */
static void test_spec_identity(void **state)
{
    (void)state;
    vu_capture vals[1] = {cap("abc", CAP_STRING, 0)};
    char *text = setup_data_dump(names, vals, 1, SHA_A);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"spec_sha256\": \"" SHA_A "\""));
    const char *made = strstr(text, "\"made\": \"");
    assert_non_null(made);
    assert_int_equal(strlen("\"made\": \"2026-12-07T08:00:00Z\""),
                     strchr(made + 9, '"') + 1 - made);   /* UTC, to the second */
    char *path = write_tmp(text);
    char err[512] = "", *noted = NULL;
    size_t noted_len = 0;
    FILE *note = open_memstream(&noted, &noted_len);
    vu_capture *back = setup_data_load(path, SHA_A, names, 1, note, err, sizeof err);
    assert_non_null(back);
    setup_data_free(back, 1);
    assert_null(setup_data_load(path, SHA_B, names, 1, note, err, sizeof err));
    assert_non_null(strstr(err, "was made by volley setup from a different spec (sha256 aaaa0000aaaa..., made 20"));
    assert_non_null(strstr(err, "this spec's is bbbb1111bbbb...): run volley setup with this spec"));
    back = setup_data_load(path, NULL, names, 1, note, err, sizeof err);   /* not checked */
    assert_non_null(back);
    setup_data_free(back, 1);
    fflush(note);
    assert_int_equal(noted_len, 0);
    unlink(path);
    free(path);
    free(text);
    path = write_tmp("{\"volley_setup_data\": 1, \"values\": {\"token\": \"x\"}}");
    back = setup_data_load(path, SHA_B, names, 1, note, err, sizeof err);
    assert_non_null(back);
    setup_data_free(back, 1);
    fclose(note);
    assert_non_null(strstr(noted, "warning: --setup-data "));
    assert_non_null(strstr(noted, "does not say which spec made it (an older volley setup): not "
                                  "checked against this spec\n"));
    free(noted);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_spec_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
