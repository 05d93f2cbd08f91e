#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runall.h"

/* 103 > 104 > 105 > 108 > 107 > 100 > 101 > 99 > 0, whatever the order. */
static void test_worse(void **state)
{
    (void)state;
    static const int order[] = {0, 99, 101, 100, 107, 108, 105, 104, 103};
    size_t n = sizeof order / sizeof *order;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int want = order[i > j ? i : j];
            assert_int_equal(runall_worse(order[i], order[j]), want);
        }
    assert_int_equal(runall_worse(0, 1), 1);
    assert_int_equal(runall_worse(1, 99), 1);
    assert_int_equal(runall_worse(104, 1), 104);
}

static void test_stem(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"specs/deltran/stress.yaml", "stress"}, {"a.yml", "a"},     {"dir/x.y.yaml", "x.y"},
        {"noext", "noext"},                      {"./d/.hidden", ".hidden"}, {"/abs/p.yaml", "p"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *s = runall_stem(cases[i][0]);
        assert_string_equal(s, cases[i][1]);
        free(s);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_is_spec_and_expand(void **state)
{
    (void)state;
    char dir[] = "/tmp/volley-runall-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256], q[256];
    snprintf(p, sizeof p, "%s/services.yaml", dir);
    write_file(p, "services:\n  a: { url: http://x }\n");
    assert_false(runall_is_spec(p));
    snprintf(p, sizeof p, "%s/b.yaml", dir);
    write_file(p, "version: 1\nscenarios: {}\n");
    assert_true(runall_is_spec(p));
    snprintf(p, sizeof p, "%s/a.yml", dir);       /* scenarios from its include */
    write_file(p, "include: inc.txt\n");
    snprintf(q, sizeof q, "%s/inc.txt", dir);
    write_file(q, "scenarios: {}\n");
    assert_true(runall_is_spec(p));
    snprintf(p, sizeof p, "%s/c.yaml", dir);      /* does not parse: its run says so */
    write_file(p, "a: [\n");
    assert_true(runall_is_spec(p));

    char *args[] = {dir};
    char **list;
    int n;
    bool dirs;
    assert_int_equal(runall_expand(args, 1, &list, &n, &dirs), 0);
    assert_true(dirs);
    assert_int_equal(n, 3);
    snprintf(p, sizeof p, "%s/a.yml", dir);
    assert_string_equal(list[0], p);
    snprintf(p, sizeof p, "%s/b.yaml", dir);
    assert_string_equal(list[1], p);
    snprintf(p, sizeof p, "%s/c.yaml", dir);
    assert_string_equal(list[2], p);
    runall_free_list(list, n);

    char *files[] = {"x.yaml", "y.yaml"};   /* files are taken as they are */
    assert_int_equal(runall_expand(files, 2, &list, &n, &dirs), 0);
    assert_false(dirs);
    assert_int_equal(n, 2);
    runall_free_list(list, n);

    static const char *names[] = {"services.yaml", "b.yaml", "a.yml", "inc.txt", "c.yaml"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        remove(p);
    }
    /* empty: an error */
    assert_int_equal(runall_expand(args, 1, &list, &n, &dirs), -1);
    remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worse),
        cmocka_unit_test(test_stem),
        cmocka_unit_test(test_is_spec_and_expand),
    };
    return cmocka_run_group_tests_name("runall", tests, NULL, NULL);
}
