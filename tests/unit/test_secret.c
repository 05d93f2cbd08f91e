#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "secret.h"
#include "template.h"

static int reset(void **state)
{
    (void)state;
    secret_reset();
    return 0;
}

/* text redacted into a static buffer */
static const char *shown(const char *text)
{
    static char out[1024];
    secret_redact(text, strlen(text), NULL, 0, out, sizeof out);
    return out;
}

static void test_names(void **state)
{
    (void)state;
    assert_true(secret_name("API_TOKEN"));
    assert_true(secret_name("db_password"));
    assert_true(secret_name("ApiKey"));
    assert_true(secret_name("CLIENT_SECRET"));
    assert_true(secret_name("MONKEY"));   /* when in doubt, hidden */
    assert_false(secret_name("REGION"));
    assert_false(secret_name("TARGET_URL"));
    assert_false(secret_name("PASS"));
    /* where a secret is served is not one */
    assert_false(secret_name("TOKEN_PORT"));
    assert_false(secret_name("keycloak_url"));
    assert_false(secret_name("SECRETS_HOST"));
    assert_true(secret_name("TOKEN_PORTAL"));
    assert_true(secret_name("URL_KEY"));
    assert_false(secret_name(NULL));

    assert_true(secret_header("Authorization", 13));
    assert_true(secret_header("proxy-authorization", 19));
    assert_true(secret_header("COOKIE", 6));
    assert_true(secret_header("Set-Cookie", 10));
    assert_false(secret_header("Set-Cookie2", 11));
    assert_false(secret_header("Cookies", 7));
    assert_false(secret_header("X-Auth", 6));
}

static void test_nothing_registered(void **state)
{
    (void)state;
    assert_false(secret_any());
    assert_string_equal(shown("http://h/x?key=abc"), "http://h/x?key=abc");
    arena a;
    arena_init(&a);
    const char *t = "same pointer";
    assert_ptr_equal(secret_redact_keep(&a, t), t);
    arena_free(&a);
}

static void test_redact_forms(void **state)
{
    (void)state;
    secret_add("s3cr3t-tok", 10);
    secret_add("k3y/v+a lue=\"x\"", 15);
    secret_add("", 0);               /* ignored */
    assert_true(secret_any());
    assert_string_equal(shown("Bearer s3cr3t-tok, again s3cr3t-tok."), "Bearer ***, again ***.");
    /* as written, URL-encoded (QueryEscape and %20), JSON-escaped */
    assert_string_equal(shown("?key=k3y/v+a lue=\"x\"&r=eu"), "?key=***&r=eu");
    assert_string_equal(shown("?key=k3y%2Fv%2Ba+lue%3D%22x%22&r=eu"), "?key=***&r=eu");
    assert_string_equal(shown("?key=k3y%2Fv%2Ba%20lue%3D%22x%22"), "?key=***");
    assert_string_equal(shown("{\"k\":\"k3y/v+a lue=\\\"x\\\"\"}"), "{\"k\":\"***\"}");
    /* a part of a secret is not one */
    assert_string_equal(shown("s3cr3t-to and k3y/v"), "s3cr3t-to and k3y/v");

    /* cut to the buffer, length as snprintf */
    char out[8];
    size_t n = secret_redact("ab s3cr3t-tok cd", 16, NULL, 0, out, sizeof out);
    assert_int_equal(n, strlen("ab *** cd"));
    assert_string_equal(out, "ab *** ");

    /* in place */
    char buf[64] = "x=s3cr3t-tok";
    secret_redact_in(buf, sizeof buf, NULL, 0);
    assert_string_equal(buf, "x=***");

    arena a;
    arena_init(&a);
    assert_string_equal(secret_redact_keep(&a, "/p?t=s3cr3t-tok"), "/p?t=***");
    arena_free(&a);
}

static void test_longest_first_and_more(void **state)
{
    (void)state;
    secret_add("abc", 3);
    secret_add("abcdef", 6);
    secret_add("abc", 3);             /* known: no second copy */
    assert_string_equal(shown("abcdefg abcx"), "***g ***x");
    /* a short secret is hidden wherever it appears (redaction by value) */
    secret_add("7", 1);
    assert_string_equal(shown("a7b77"), "a***b******");

    const secret_val more[] = {{"cookie-v", 8}, {"abcdefgh", 8}};
    char out[128];
    secret_redact("sid=cookie-v; abcdefghi", 23, more, 2, out, sizeof out);
    assert_string_equal(out, "sid=***; ***i");
}

static const char *env_lookup(void *ctx, const char *name)
{
    (void)ctx;
    static const char *const env[][2] = {{"API_TOKEN", "tok-123"}, {"REGION", "eu-9"}};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        if (strcmp(env[i][0], name) == 0)
            return env[i][1];
    return NULL;
}

static void test_env_folded_by_template(void **state)
{
    (void)state;
    arena a;
    arena_init(&a);
    char err[256];
    tmpl_scope scope = {.env = env_lookup};
    const char *src = "u?t=${env.API_TOKEN}&r=${env.REGION}&d=${env.DB_KEY:-dflt-k}";
    volley_template *t = tmpl_compile(&a, src, strlen(src), &scope, err, sizeof err);
    assert_non_null(t);
    /* the request keeps the values... */
    assert_string_equal(tmpl_const(t), "u?t=tok-123&r=eu-9&d=dflt-k");
    /* ...what is shown hides the secret ones (a default too), not REGION's */
    assert_string_equal(shown(tmpl_const(t)), "u?t=***&r=eu-9&d=***");
    arena_free(&a);
}

/* Readers on other threads while values are added (more than a chunk of
 * them): each sees whole values (tools/test runs this under ASan too). */
static void *reader(void *arg)
{
    (void)arg;
    char out[128];
    for (int i = 0; i < 20000; i++) {
        secret_redact("a value-17 here", 15, NULL, 0, out, sizeof out);
        assert_true(strncmp(out, "a ", 2) == 0);
    }
    return NULL;
}

static void test_readers_on_threads(void **state)
{
    (void)state;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, NULL), 0);
    char v[32];
    for (int i = 0; i < 50; i++) {
        int n = snprintf(v, sizeof v, "value-%d", i);
        secret_add(v, (size_t)n);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_string_equal(shown("a value-17 here"), "a *** here");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_names, reset, reset),
        cmocka_unit_test_setup_teardown(test_nothing_registered, reset, reset),
        cmocka_unit_test_setup_teardown(test_redact_forms, reset, reset),
        cmocka_unit_test_setup_teardown(test_longest_first_and_more, reset, reset),
        cmocka_unit_test_setup_teardown(test_env_folded_by_template, reset, reset),
        cmocka_unit_test_setup_teardown(test_readers_on_threads, reset, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
