/*
 * checks-basic through the test host: configs come from YAML snippets filled
 * by the core's option checker, responses are built here (no network).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testhost.h"

static testhost th;
static const volley_plugin *plugin;

/* Per test: the test host keeps every filled YAML tree until th_fini, and
 * holds at most TH_MAX_TREES of them. */
static int setup(void **state)
{
    (void)state;
    if (th_init(&th) != 0)
        return -1;
    plugin = th_load(&th, "checks-basic");
    return plugin ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    th_fini(&th);
    return 0;
}

static const volley_check_key *key_named(const char *name)
{
    const volley_check_ops *ops = plugin->check;
    for (size_t i = 0; i < ops->n_keys; i++)
        if (strcmp(ops->keys[i].key, name) == 0)
            return &ops->keys[i];
    fail_msg("no check key %s", name);
    return NULL;
}

/* Fills a config for `key` from `yaml` (must succeed) and compiles it. The
 * config is scribbled over and freed at once: a condition must not keep
 * pointers into the config struct. Returns NULL with err on a compile error. */
static void *try_compile(const char *key, const char *yaml, char *err, size_t errcap)
{
    const volley_check_key *k = key_named(key);
    void *cfg = calloc(1, k->options->config_size);
    assert_non_null(cfg);
    assert_int_equal(th_fill(&th, k->options, yaml, cfg), 0);
    err[0] = '\0';
    void *cond = k->compile(&th.host, cfg, err, errcap);
    memset(cfg, 0xa5, k->options->config_size);
    free(cfg);
    return cond;
}

static void *compile(const char *key, const char *yaml)
{
    char err[256];
    void *cond = try_compile(key, yaml, err, sizeof err);
    if (!cond)
        fail_msg("compile %s: %s: %s", key, yaml, err);
    return cond;
}

static void compile_fails(const char *key, const char *yaml, const char *want)
{
    char err[256];
    void *cond = try_compile(key, yaml, err, sizeof err);
    assert_null(cond);
    if (!strstr(err, want))
        fail_msg("compile error \"%s\" lacks \"%s\"", err, want);
}

/* th_fill must reject the snippet with a message containing `want`. */
static void fill_fails(const char *key, const char *yaml, const char *want)
{
    const volley_check_key *k = key_named(key);
    void *cfg = calloc(1, k->options->config_size);
    assert_non_null(cfg);
    assert_int_equal(th_fill(&th, k->options, yaml, cfg), -1);
    free(cfg);
    bool found = false;
    for (size_t i = 0; i < th.d.count; i++)
        found |= strstr(th.d.lines[i], want) != NULL;
    if (!found)
        fail_msg("no diagnostic contains \"%s\" for %s", want, yaml);
}

static void release(const char *key, void *cond) { key_named(key)->free(cond); }

/* Evaluates with a fresh memo, as the core does per response. */
static bool eval(const char *key, const void *cond, const volley_response *r, char *msg,
                 size_t msgcap)
{
    volley_memo m = {0};
    msg[0] = '\0';
    bool ok = key_named(key)->eval(cond, r, &m, msg, msgcap);
    memo_clear(&m);
    return ok;
}

/* Asserts the outcome and, on false, the exact message (when `want` set). */
static void expect(const char *key, const void *cond, const volley_response *r, bool ok,
                   const char *want)
{
    char msg[256];
    bool got = eval(key, cond, r, msg, sizeof msg);
    if (got != ok)
        fail_msg("%s: expected %s, got %s (msg: %s)", key, ok ? "true" : "false",
                 got ? "true" : "false", msg);
    if (!ok && want && strcmp(msg, want) != 0)
        fail_msg("%s: message \"%s\", expected \"%s\"", key, msg, want);
    if (!ok)
        assert_true(msg[0] != '\0');
    if (ok && msg[0])
        fail_msg("%s: message \"%s\" on success", key, msg);
}

static volley_response with_status(int status)
{
    return (volley_response){.status = status, .headers = "", .body = "", .duration_ms = 1};
}

static volley_response with_body(const char *body, size_t len)
{
    return (volley_response){.status = 200, .body = body, .body_len = len, .duration_ms = 1};
}

static volley_response with_headers(const char *headers)
{
    return (volley_response){.status = 200, .headers = headers,
                             .headers_len = headers ? strlen(headers) : 0};
}

/* ------------------------------------------------------------------------ */

static void test_descriptor(void **state)
{
    (void)state;
    assert_int_equal(plugin->kind, VOLLEY_KIND_CHECK);
    assert_string_equal(plugin->name, "checks-basic");
    assert_non_null(plugin->check);
    assert_int_equal(plugin->check->size, sizeof(volley_check_ops));
    assert_int_equal(plugin->check->n_keys, 11);
    const char *names[] = {"status", "header", "body", "duration_lt", "cookie", "proto", "url",
                           "timings", "bytes", "value", "tls"};
    for (size_t i = 0; i < 11; i++) {
        const volley_check_key *k = key_named(names[i]);
        assert_non_null(k->options);
        assert_true(k->options->config_size >= sizeof(uint64_t));
        assert_non_null(k->compile);
        assert_non_null(k->eval);
        assert_non_null(k->free);
    }
}

static void test_status(void **state)
{
    (void)state;
    void *list = compile("status", "in: [200, 202]");
    volley_response r = with_status(200);
    expect("status", list, &r, true, NULL);
    r.status = 202;
    expect("status", list, &r, true, NULL);
    r.status = 500;
    expect("status", list, &r, false, "status 500 not in [200, 202]");
    r.status = 201;
    expect("status", list, &r, false, "status 201 not in [200, 202]");
    release("status", list);

    /* Shorthands: one int, or a list. */
    void *one = compile("status", "204");
    r.status = 204;
    expect("status", one, &r, true, NULL);
    r.status = 200;
    expect("status", one, &r, false, "status 200 not in [204]");
    release("status", one);

    void *seq = compile("status", "[301, 302, 307]");
    r.status = 307;
    expect("status", seq, &r, true, NULL);
    r.status = 404;
    expect("status", seq, &r, false, "status 404 not in [301, 302, 307]");
    release("status", seq);
}

static void test_status_transport_error(void **state)
{
    (void)state;
    void *c = compile("status", "200");
    volley_response r = with_status(0);
    r.error = "connection refused";
    expect("status", c, &r, false, "no response: connection refused");
    r.error = NULL;
    expect("status", c, &r, false, "status 0 not in [200]");
    release("status", c);
}

static void test_status_bad_configs(void **state)
{
    (void)state;
    fill_fails("status", "999", "between 100 and 599");
    fill_fails("status", "[200, 99]", "between 100 and 599");
    fill_fails("status", "ok", "expected an integer");
    fill_fails("status", "\"200\"", "expected an integer");
    fill_fails("status", "2.5", "expected an integer");
    fill_fails("status", "[]", "at least one integer");
    fill_fails("status", "{in: 200, nope: 1}", "unknown key \"nope\"");
    compile_fails("status", "{}", "expected codes (status: 200, status: [200, 202]) or a range");
    compile_fails("status", "{gte: 400, lt: 400}", "gte 400 is not below lt 400");
    fill_fails("status", "{lt: 99}", "between 100 and 600");
}

static void test_status_ranges(void **state)
{
    (void)state;
    void *lt = compile("status", "{lt: 400}");
    void *range = compile("status", "{gte: 200, lt: 300}");
    void *both = compile("status", "{in: [200, 404], lt: 400}");
    char msg[128];
    struct { int status; bool lt, range, both; } cases[] = {
        {200, true, true, true}, {204, true, true, false}, {302, true, false, false},
        {404, false, false, false}, {503, false, false, false}, {101, true, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        volley_response r = with_status(cases[i].status);
        assert_int_equal(key_named("status")->eval(lt, &r, NULL, msg, sizeof msg), cases[i].lt);
        assert_int_equal(key_named("status")->eval(range, &r, NULL, msg, sizeof msg), cases[i].range);
        assert_int_equal(key_named("status")->eval(both, &r, NULL, msg, sizeof msg), cases[i].both);
    }
    volley_response r = with_status(503);
    key_named("status")->eval(lt, &r, NULL, msg, sizeof msg);
    assert_string_equal(msg, "status 503 not below 400");
    r = with_status(101);
    key_named("status")->eval(range, &r, NULL, msg, sizeof msg);
    assert_string_equal(msg, "status 101 below 200");
    r = with_status(302);
    key_named("status")->eval(both, &r, NULL, msg, sizeof msg);
    assert_string_equal(msg, "status 302 not in [200, 404]");
    volley_response dead = {.status = 0, .error = "dial: connection refused"};
    assert_false(key_named("status")->eval(lt, &dead, NULL, msg, sizeof msg));
    assert_string_equal(msg, "no response: dial: connection refused");
    key_named("status")->free(lt);
    key_named("status")->free(range);
    key_named("status")->free(both);
}

static void test_status_small_msg(void **state)
{
    (void)state;
    void *c = compile("status", "[200, 201, 202, 203, 204, 205, 206]");
    volley_response r = with_status(500);
    char msg[12];
    memset(msg, 'x', sizeof msg);
    assert_false(key_named("status")->eval(c, &r, NULL, msg, sizeof msg));
    assert_string_equal(msg, "status 500 ");
    /* msgcap 0: nothing written. */
    char untouched = 'u';
    assert_false(key_named("status")->eval(c, &r, NULL, &untouched, 0));
    assert_int_equal(untouched, 'u');
    release("status", c);
}

static const char *HEADERS =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "X-Request-Id:   abc-123  \r\n"
    "Set-Cookie: a=1\r\n"
    "set-cookie: session=xyz; HttpOnly\r\n"
    "X-Empty:\r\n"
    "\r\n";

static void test_header_exists(void **state)
{
    (void)state;
    volley_response r = with_headers(HEADERS);
    void *c = compile("header", "{name: Content-Type}");
    expect("header", c, &r, true, NULL);
    release("header", c);

    c = compile("header", "{name: content-type, exists: true}");
    expect("header", c, &r, true, NULL);
    release("header", c);

    c = compile("header", "{name: X-EMPTY}");
    expect("header", c, &r, true, NULL);
    release("header", c);

    c = compile("header", "{name: X-Missing}");
    expect("header", c, &r, false, "header X-Missing is missing");
    release("header", c);

    c = compile("header", "{name: X-Missing, exists: false}");
    expect("header", c, &r, true, NULL);
    release("header", c);

    c = compile("header", "{name: x-request-id, exists: false}");
    expect("header", c, &r, false, "header x-request-id is present: \"abc-123\"");
    release("header", c);

    /* A prefix of a header name is not that header. */
    c = compile("header", "{name: Content}");
    expect("header", c, &r, false, "header Content is missing");
    release("header", c);

    /* No header block at all. */
    volley_response none = with_headers(NULL);
    c = compile("header", "{name: Content-Type}");
    expect("header", c, &none, false, "header Content-Type is missing");
    release("header", c);
}

/* cookie with jar: true reads the jar the step's request used (jar),
 * jar: vu the VU's own (vu_jar when the step used a named jar, else jar);
 * a response's Set-Cookie stays apart from both. */
static void test_cookie_jars(void **state)
{
    (void)state;
    volley_response own = with_headers(HEADERS);   /* a step on the VU's jar */
    own.jar = "a=1; sid=abc";
    own.jar_len = strlen(own.jar);
    volley_response named = own;                   /* a step on a named jar */
    named.jar = "name7=value7";
    named.jar_len = strlen(named.jar);
    named.vu_jar = "sid=abc";
    named.vu_jar_len = strlen(named.vu_jar);

    void *step = compile("cookie", "{name: sid, jar: true}");
    void *vu = compile("cookie", "{name: sid, jar: vu}");
    void *set = compile("cookie", "{name: sid, jar: false}");
    expect("cookie", step, &own, true, NULL);
    expect("cookie", vu, &own, true, NULL);
    expect("cookie", step, &named, false, "cookie sid is not in the step's jar");
    expect("cookie", vu, &named, true, NULL);
    expect("cookie", set, &named, false, "cookie sid is not set by the response");
    release("cookie", step);
    release("cookie", vu);
    release("cookie", set);

    void *seven = compile("cookie", "{name: name7, jar: true, equals: value7}");
    void *seven_vu = compile("cookie", "{name: name7, jar: vu, exists: false}");
    expect("cookie", seven, &named, true, NULL);
    expect("cookie", seven_vu, &named, true, NULL);
    expect("cookie", seven, &own, false, "cookie name7 is not in the VU's jar");
    release("cookie", seven);
    release("cookie", seven_vu);

    compile_fails("cookie", "{name: sid, jar: mine}", "jar: expected true, false or vu");
    compile_fails("cookie", "{name: sid, jar: vu, path: /}", "not with jar: vu");
}

static void test_header_values(void **state)
{
    (void)state;
    volley_response r = with_headers(HEADERS);
    void *c = compile("header", "{name: X-Request-Id, equals: abc-123}");
    expect("header", c, &r, true, NULL);
    release("header", c);

    c = compile("header", "{name: X-Request-Id, equals: ABC-123}");
    expect("header", c, &r, false, "header X-Request-Id: \"abc-123\" is not \"ABC-123\"");
    release("header", c);

    c = compile("header", "{name: content-TYPE, contains: json}");
    expect("header", c, &r, true, NULL);
    release("header", c);

    c = compile("header", "{name: Content-Type, contains: xml}");
    expect("header", c, &r, false,
           "header Content-Type: \"application/json; charset=utf-8\" does not contain \"xml\"");
    release("header", c);

    c = compile("header", "{name: Content-Type, matches: '^application/(json|xml)(;.*)?$'}");
    expect("header", c, &r, true, NULL);
    release("header", c);

    c = compile("header", "{name: Content-Type, matches: '^text/'}");
    expect("header", c, &r, false,
           "header Content-Type: \"application/json; charset=utf-8\" does not match \"^text/\"");
    release("header", c);

    /* Every value test must hold on the same line. */
    c = compile("header", "{name: Content-Type, contains: json, matches: 'utf-8$', exists: true}");
    expect("header", c, &r, true, NULL);
    release("header", c);

    c = compile("header", "{name: Content-Type, contains: json, equals: application/json}");
    expect("header", c, &r, false,
           "header Content-Type: \"application/json; charset=utf-8\" is not \"application/json\"");
    release("header", c);

    /* Missing header with value tests. */
    c = compile("header", "{name: X-Nope, equals: a}");
    expect("header", c, &r, false, "header X-Nope is missing");
    release("header", c);

    /* Empty value. */
    c = compile("header", "{name: x-empty, equals: ''}");
    expect("header", c, &r, true, NULL);
    release("header", c);
}

static void test_header_repeated(void **state)
{
    (void)state;
    volley_response r = with_headers(HEADERS);
    /* Second Set-Cookie line matches: the condition holds. */
    void *c = compile("header", "{name: Set-Cookie, contains: session=}");
    expect("header", c, &r, true, NULL);
    release("header", c);
    /* None matches: the message describes the first line, but a value of
     * Set-Cookie is never shown (nor what it was compared with). */
    c = compile("header", "{name: Set-Cookie, contains: token=}");
    expect("header", c, &r, false, "header Set-Cookie: \"***\" does not contain \"***\"");
    release("header", c);
}

/* A response as the http plugin hands it (revision 7 fields filled). */
static volley_response exchange(void)
{
    return (volley_response){.status = 200, .headers = "", .body = "", .duration_ms = 12.5,
                             .proto = "HTTP/1.1", .url = "http://127.0.0.1/landing?x=1",
                             .has = VOLLEY_RESP_TIMINGS | VOLLEY_RESP_BYTES, .blocked_ms = 1,
                             .connecting_ms = 0, .tls_handshaking_ms = 0, .sending_ms = 0.5,
                             .waiting_ms = 10, .receiving_ms = 2, .bytes_sent = 80,
                             .bytes_received = 300};
}

static volley_response no_response(void)
{
    return (volley_response){.status = 0, .error = "dial: connection refused", .headers = "",
                             .body = "", .url = "http://127.0.0.1:1/", .has = VOLLEY_RESP_BYTES,
                             .bytes_sent = 0};
}

static void test_proto(void **state)
{
    (void)state;
    volley_response r = exchange();
    void *one = compile("proto", "HTTP/1.1");
    void *h2 = compile("proto", "HTTP/2.0");
    void *either = compile("proto", "[HTTP/1.1, HTTP/2.0]");
    expect("proto", one, &r, true, NULL);
    expect("proto", h2, &r, false, "proto HTTP/1.1 is not HTTP/2.0");
    expect("proto", either, &r, true, NULL);
    r.proto = "HTTP/3.0";
    expect("proto", either, &r, false, "proto HTTP/3.0 not in [HTTP/1.1, HTTP/2.0]");
    volley_response nr = no_response();
    expect("proto", one, &nr, false, "no response: dial: connection refused");
    r.proto = NULL;   /* an older protocol plugin: the core zeroed it */
    expect("proto", one, &r, false, "the protocol does not tell the protocol");
    compile_fails("proto", "http2", "expected a protocol as k6 names it");
    compile_fails("proto", "[]", "expected a protocol (proto: HTTP/2.0) or a list");
    release("proto", one);
    release("proto", h2);
    release("proto", either);
}

static void test_url(void **state)
{
    (void)state;
    volley_response r = exchange();
    void *eq = compile("url", "http://127.0.0.1/landing?x=1");
    void *ct = compile("url", "{ contains: /landing }");
    void *re = compile("url", "{ matches: '^http://[^/]+/landing\\?x=[0-9]$' }");
    void *bad = compile("url", "{ equals: http://127.0.0.1/other, contains: landing }");
    expect("url", eq, &r, true, NULL);
    expect("url", ct, &r, true, NULL);
    expect("url", re, &r, true, NULL);
    expect("url", bad, &r, false,
           "url \"http://127.0.0.1/landing?x=1\" is not \"http://127.0.0.1/other\"");
    r.url = NULL;
    expect("url", eq, &r, false, "the protocol does not tell the URL");
    compile_fails("url", "{}", "url: expected at least one of equals, contains, matches");
    compile_fails("url", "{ matches: '(' }", "url.matches: invalid regular expression");
    release("url", eq);
    release("url", ct);
    release("url", re);
    release("url", bad);
}

static void test_timings(void **state)
{
    (void)state;
    volley_response r = exchange();
    void *ok = compile("timings", "{ waiting: { lt: 11ms, gt: 9ms }, connecting: { eq: 0 }, "
                                  "duration: { lte: 12.5ms }, receiving: { gte: 2ms } }");
    void *slow = compile("timings", "{ blocked: { lt: 1ms } }");
    void *tls = compile("timings", "{ tls_handshaking: { gt: 0 } }");
    expect("timings", ok, &r, true, NULL);
    expect("timings", slow, &r, false, "timings blocked 1.000ms, not < 1ms");
    expect("timings", tls, &r, false, "timings tls_handshaking 0.000ms, not > 0ms");
    volley_response nr = no_response();
    expect("timings", ok, &nr, false, "no response: dial: connection refused");
    r.has = 0;   /* an older protocol plugin */
    expect("timings", ok, &r, false, "the protocol does not tell the timings");
    compile_fails("timings", "{}", "timings: expected a limit");
    compile_fails("timings", "{ waiting: {} }", "timings: expected a limit");
    fill_fails("timings", "{ waiting: 200ms }", "expected a mapping");
    fill_fails("timings", "{ waitin: { lt: 1s } }", "unknown key \"waitin\"");
    release("timings", ok);
    release("timings", slow);
    release("timings", tls);
}

static void test_bytes(void **state)
{
    (void)state;
    volley_response r = exchange();
    void *ok = compile("bytes", "{ received: { gt: 100, lte: 300 }, sent: { eq: 80 } }");
    void *big = compile("bytes", "{ received: { lt: 300 } }");
    expect("bytes", ok, &r, true, NULL);
    expect("bytes", big, &r, false, "bytes received 300, not < 300");
    volley_response nr = no_response();   /* its bytes are known */
    void *none = compile("bytes", "{ received: { eq: 0 } }");
    expect("bytes", none, &nr, true, NULL);
    nr.has = 0;
    expect("bytes", none, &nr, false, "no response: dial: connection refused");
    compile_fails("bytes", "{ sent: { gt: -1 } }", "bytes.sent.gt: expected 0 or more");
    fill_fails("bytes", "{ received: { lt: 1kb } }", "expected an integer");
    release("bytes", ok);
    release("bytes", big);
    release("bytes", none);
}

/* A core older than revision 7 hands a smaller volley_response: the keys
 * that read its revision-7 fields are refused there. */
static void test_exchange_needs_revision_7(void **state)
{
    (void)state;
    uint32_t was = th.host.revision;
    th.host.revision = 6;
    compile_fails("proto", "HTTP/2.0", "older than SDK revision 7");
    compile_fails("url", "http://x/", "older than SDK revision 7");
    compile_fails("timings", "{ waiting: { lt: 1s } }", "older than SDK revision 7");
    compile_fails("bytes", "{ sent: { lt: 1 } }", "older than SDK revision 7");
    th.host.revision = was;
}

/* Secrets (host->redact): values of Authorization, Cookie, Set-Cookie...
 * and ${env.*_TOKEN/KEY/SECRET/PASSWORD} values are never shown. */
static void test_secrets_never_shown(void **state)
{
    (void)state;
    /* 70 characters: longer than a value is shown before it is cut */
    const char *tok = "tok-0123456789012345678901234567890123456789012345678901234567890abcdef";
    setenv("VT_API_TOKEN", tok, 1);
    char headers[512];
    snprintf(headers, sizeof headers,
             "HTTP/1.1 200 OK\r\nAuthorization: Bearer abc\r\nCookie: sid=1\r\n"
             "X-Echo: was %s\r\n\r\n", tok);
    volley_response r = with_headers(headers);
    void *c = compile("header", "{name: authorization, equals: Bearer xyz}");
    expect("header", c, &r, false, "header authorization: \"***\" is not \"***\"");
    release("header", c);
    c = compile("header", "{name: Cookie, exists: false}");
    expect("header", c, &r, false, "header Cookie is present: \"***\"");
    release("header", c);
    /* the env value folded in, echoed by the server: hidden whole, not cut */
    c = compile("header", "{name: X-Echo, equals: '${env.VT_API_TOKEN}'}");
    expect("header", c, &r, false, "header X-Echo: \"was ***\" is not \"***\"");
    release("header", c);
    char body[] = "{\"ok\":false}";
    volley_response b = {.status = 200, .body = body, .body_len = strlen(body)};
    c = compile("body", "{contains: 'x ${env.VT_API_TOKEN}'}");
    expect("body", c, &b, false, "body (12 bytes) does not contain \"x ***\"");
    release("body", c);
    /* another header is shown as it is */
    c = compile("header", "{name: X-Echo, contains: nope}");
    expect("header", c, &r, false, "header X-Echo: \"was ***\" does not contain \"nope\"");
    release("header", c);
    unsetenv("VT_API_TOKEN");
}

static void test_header_raw_forms(void **state)
{
    (void)state;
    /* Bare "\n" line ends, no final line end, a block not NUL-terminated. */
    const char raw[] = "Server: volley\nETag: \"x\"XXXX";
    volley_response r = {.status = 200, .headers = raw, .headers_len = strlen(raw) - 4};
    void *c = compile("header", "{name: etag, equals: '\"x\"'}");
    expect("header", c, &r, true, NULL);
    release("header", c);
    c = compile("header", "{name: server, matches: '^volley$'}");
    expect("header", c, &r, true, NULL);
    release("header", c);
}

static void test_header_bad_configs(void **state)
{
    (void)state;
    fill_fails("header", "{}", "missing required key \"name\"");
    fill_fails("header", "Content-Type", "expected a mapping");
    fill_fails("header", "{name: X, exist: true}", "unknown key \"exist\"");
    fill_fails("header", "{name: X, exists: yes}", "expected true or false");
    fill_fails("header", "{name: [a, b]}", "expected a string");
    compile_fails("header", "{name: X, matches: 'a(b'}", "header.matches: invalid regular expression");
    compile_fails("header", "{name: X, matches: '[z-a]'}", "invalid regular expression");
    compile_fails("header", "{name: X, exists: false, equals: y}", "cannot be combined");
    compile_fails("header", "{name: 'Bad:Name'}", "invalid header name");
    compile_fails("header", "{name: ''}", "invalid header name");

    /* A config without name (cannot come from the core) is refused too. */
    const volley_check_key *k = key_named("header");
    void *cfg = calloc(1, k->options->config_size);
    char err[128];
    assert_null(k->compile(&th.host, cfg, err, sizeof err));
    assert_non_null(strstr(err, "name"));
    free(cfg);
}

static void test_body(void **state)
{
    (void)state;
    const char *json = "{\"ok\":true,\"id\":42}";
    volley_response r = with_body(json, strlen(json));

    void *c = compile("body", "'\"ok\":true'");   /* shorthand: contains */
    expect("body", c, &r, true, NULL);
    release("body", c);

    c = compile("body", "{contains: '\"ok\":false'}");
    expect("body", c, &r, false, "body (19 bytes) does not contain \"\\\"ok\\\":false\"");
    release("body", c);

    c = compile("body", "{not_contains: error}");
    expect("body", c, &r, true, NULL);
    release("body", c);

    c = compile("body", "{not_contains: '\"id\"'}");
    expect("body", c, &r, false, "body (19 bytes) contains \"\\\"id\\\"\"");
    release("body", c);

    c = compile("body", "{matches: '\"id\":[0-9]+}$'}");
    expect("body", c, &r, true, NULL);
    release("body", c);

    c = compile("body", "{matches: '^\\['}");
    expect("body", c, &r, false, "body (19 bytes) does not match \"^\\\\[\"");
    release("body", c);

    /* All three at once; the first failing one is reported. */
    c = compile("body", "{contains: ok, not_contains: fail, matches: '^\\{'}");
    expect("body", c, &r, true, NULL);
    volley_response bad = with_body("{\"fail\":1}", 10);
    expect("body", c, &bad, false, "body (10 bytes) does not contain \"ok\"");
    release("body", c);
}

static void test_body_empty(void **state)
{
    (void)state;
    volley_response empty = with_body(NULL, 0);
    void *c = compile("body", "x");
    expect("body", c, &empty, false, "body (empty) does not contain \"x\"");
    release("body", c);
    c = compile("body", "{not_contains: x}");
    expect("body", c, &empty, true, NULL);
    release("body", c);
    c = compile("body", "{matches: '^$'}");
    expect("body", c, &empty, true, NULL);
    release("body", c);
}

static void test_body_with_nuls(void **state)
{
    (void)state;
    /* NULs inside, no terminating NUL, and text after them. */
    const char raw[] = {'P', 'K', '\0', '\0', 'b', 'i', 'n', '\0', 't', 'a', 'i', 'l', 'X'};
    volley_response r = with_body(raw, sizeof raw - 1);

    void *c = compile("body", "tail");
    expect("body", c, &r, true, NULL);
    release("body", c);

    c = compile("body", "tailX");   /* beyond body_len */
    expect("body", c, &r, false, "body (12 bytes) does not contain \"tailX\"");
    release("body", c);

    /* The match runs past the NULs and '$' is body_len, not the 'X'. */
    c = compile("body", "{matches: 'tail$'}");
    expect("body", c, &r, true, NULL);
    release("body", c);

    c = compile("body", "{matches: '^PK'}");
    expect("body", c, &r, true, NULL);
    release("body", c);

    c = compile("body", "{matches: 'tailX'}");
    expect("body", c, &r, false, NULL);
    release("body", c);

    c = compile("body", "{not_contains: bin}");
    expect("body", c, &r, false, "body (12 bytes) contains \"bin\"");
    release("body", c);
}

static void test_body_long_quote(void **state)
{
    (void)state;
    char needle[200];
    memset(needle, 'n', sizeof needle - 1);
    needle[sizeof needle - 1] = '\0';
    char yaml[256];
    snprintf(yaml, sizeof yaml, "%s", needle);
    void *c = compile("body", yaml);
    volley_response r = with_body("abc", 3);
    char msg[512];
    assert_false(eval("body", c, &r, msg, sizeof msg));
    /* The needle is cut, the message stays short. */
    assert_non_null(strstr(msg, "nnn\"..."));
    assert_true(strlen(msg) < 120);
    release("body", c);
}

static void test_body_bad_configs(void **state)
{
    (void)state;
    compile_fails("body", "{}", "at least one of contains, not_contains, matches");
    compile_fails("body", "{matches: '(unclosed'}", "body.matches: invalid regular expression");
    compile_fails("body", "{matches: 'a{2,1}'}", "invalid regular expression");
    compile_fails("body", "{not_contains: ''}", "empty text");
    fill_fails("body", "{contain: x}", "did you mean \"contains\"");
    fill_fails("body", "{contains: [a]}", "expected a scalar");
    fill_fails("body", "[a, b]", "expected a scalar");
}

static void test_duration(void **state)
{
    (void)state;
    void *c = compile("duration_lt", "500ms");
    volley_response r = with_status(200);
    r.duration_ms = 499.9;
    expect("duration_lt", c, &r, true, NULL);
    r.duration_ms = 500;
    expect("duration_lt", c, &r, false, "duration 500.000ms not below 500ms");
    r.duration_ms = 612.345;
    expect("duration_lt", c, &r, false, "duration 612.345ms not below 500ms");
    release("duration_lt", c);

    c = compile("duration_lt", "{value: 1.5s}");
    r.duration_ms = 1499;
    expect("duration_lt", c, &r, true, NULL);
    r.duration_ms = 1500.5;
    expect("duration_lt", c, &r, false, "duration 1500.500ms not below 1500ms");
    release("duration_lt", c);

    c = compile("duration_lt", "2");   /* bare number: seconds */
    r.duration_ms = 1999;
    expect("duration_lt", c, &r, true, NULL);
    release("duration_lt", c);

    fill_fails("duration_lt", "fast", "expected a duration");
    fill_fails("duration_lt", "-5ms", "expected a duration");
    fill_fails("duration_lt", "{value: 1s, max: 2s}", "unknown key \"max\"");
    fill_fails("duration_lt", "{}", "missing required key \"value\"");
    compile_fails("duration_lt", "0ms", "greater than 0");
}

/* ------------------------------------------------------------------------ */
/* Concurrency: shared compiled conditions, distinct responses per thread.   */
/* ------------------------------------------------------------------------ */

#define THREAD_ITERS 10000

struct shared_conds {
    const volley_check_key *ks, *kh, *kb, *kd;
    void *status, *header, *body_re, *body_has, *duration;
};

struct worker_arg {
    const struct shared_conds *conds;
    int which;          /* 0: a passing response, 1: a failing one */
    int wrong;          /* evaluations with an unexpected outcome  */
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    const volley_check_key *ks = a->conds->ks, *kh = a->conds->kh, *kb = a->conds->kb,
                           *kd = a->conds->kd;
    char headers[128], body[128], msg[256];
    bool pass = a->which == 0;
    for (int i = 0; i < THREAD_ITERS; i++) {
        /* Fresh response bytes each time, as a real worker would have. */
        snprintf(headers, sizeof headers, "Content-Type: %s\r\nX-N: %d\r\n",
                 pass ? "application/json" : "text/html", i);
        int blen = snprintf(body, sizeof body, "{\"ok\":%s,\"n\":%d}", pass ? "true" : "false", i);
        volley_response r = {.status = pass ? 200 : 503, .headers = headers,
                             .headers_len = strlen(headers), .body = body,
                             .body_len = (size_t)blen, .duration_ms = pass ? 10 : 900};
        volley_memo m = {0};
        bool ok = ks->eval(a->conds->status, &r, &m, msg, sizeof msg) &&
                  kh->eval(a->conds->header, &r, &m, msg, sizeof msg) &&
                  kb->eval(a->conds->body_re, &r, &m, msg, sizeof msg) &&
                  kb->eval(a->conds->body_has, &r, &m, msg, sizeof msg) &&
                  kd->eval(a->conds->duration, &r, &m, msg, sizeof msg);
        bool any = ks->eval(a->conds->status, &r, &m, msg, sizeof msg) ||
                   kh->eval(a->conds->header, &r, &m, msg, sizeof msg) ||
                   kb->eval(a->conds->body_re, &r, &m, msg, sizeof msg) ||
                   kb->eval(a->conds->body_has, &r, &m, msg, sizeof msg) ||
                   kd->eval(a->conds->duration, &r, &m, msg, sizeof msg);
        memo_clear(&m);
        if (ok != pass || any != pass)
            a->wrong++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct shared_conds conds = {
        .ks = key_named("status"), .kh = key_named("header"), .kb = key_named("body"),
        .kd = key_named("duration_lt"),
        .status = compile("status", "[200, 201]"),
        .header = compile("header", "{name: content-type, matches: '^application/(json|problem\\+json)$'}"),
        .body_re = compile("body", "{matches: '\"ok\":true,\"n\":[0-9]+'}"),
        .body_has = compile("body", "{contains: '\"ok\":true', not_contains: error}"),
        .duration = compile("duration_lt", "100ms"),
    };
    struct worker_arg args[2] = {{.conds = &conds, .which = 0}, {.conds = &conds, .which = 1}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(args[0].wrong, 0);
    assert_int_equal(args[1].wrong, 0);
    release("status", conds.status);
    release("header", conds.header);
    release("body", conds.body_re);
    release("body", conds.body_has);
    release("duration_lt", conds.duration);
}


/* value: a condition on its own value, no response read. */
static void test_value(void **state)
{
    (void)state;
    volley_response none = {.status = 0};
    void *c = compile("value", "true");
    expect("value", c, &none, true, NULL);
    release("value", c);
    const char *falsy[] = {"false", "0", "\"\"", "null", "0.0"};
    for (size_t i = 0; i < 5; i++) {
        c = compile("value", falsy[i]);
        char msg[256];
        assert_false(eval("value", c, &none, msg, sizeof msg));
        assert_non_null(strstr(msg, "is not truthy"));
        release("value", c);
    }
    c = compile("value", "{ of: 0.25, lt: 0.5, gt: 0.2, gte: 0.25, lte: 0.25 }");
    expect("value", c, &none, true, NULL);
    release("value", c);
    c = compile("value", "{ of: 0.75, lt: 0.5 }");
    expect("value", c, &none, false, "0.75 is not less than 0.5");
    release("value", c);
    /* `if:`'s rule: texts compare as numbers when both read as JSON numbers */
    c = compile("value", "{ of: \"0.25\", lt: 0.5 }");
    expect("value", c, &none, true, NULL);
    release("value", c);
    c = compile("value", "{ of: \"0x10\", gt: 1 }");
    expect("value", c, &none, false, "\"0x10\" is not a number");
    release("value", c);
    c = compile("value", "{ of: 2, equals: 2.0, not_equals: 3 }");
    expect("value", c, &none, true, NULL);
    release("value", c);
    c = compile("value", "{ of: \"12\", equals: 12, not_equals: \"13\" }");
    expect("value", c, &none, true, NULL);
    release("value", c);
    c = compile("value", "{ of: 2, not_equals: \"2\" }");
    expect("value", c, &none, false, "2 is, and must not be, \"2\"");
    release("value", c);
    c = compile("value", "{ of: \"01234\", equals: 1234 }");   /* no JSON number: texts */
    expect("value", c, &none, false, "\"01234\" is not 1234");
    release("value", c);
    c = compile("value", "{ of: \"01234\", equals: \"01234\" }");
    expect("value", c, &none, true, NULL);
    release("value", c);
    c = compile("value", "{ of: abc, equals: abd }");
    expect("value", c, &none, false, "\"abc\" is not \"abd\"");
    release("value", c);
    c = compile("value", "{ of: abc, not_equals: abc }");
    expect("value", c, &none, false, "\"abc\" is, and must not be, \"abc\"");
    release("value", c);
    c = compile("value", "{ of: GET-42, matches: \"^GET-[0-9]+$\", contains: \"-4\" }");
    expect("value", c, &none, true, NULL);
    release("value", c);
    c = compile("value", "{ of: GET, contains: POST }");
    expect("value", c, &none, false, "\"GET\" does not contain the text");
    release("value", c);
    compile_fails("value", "{ of: x, matches: \"(\" }", "value.matches: invalid regular expression");
    fill_fails("value", "{ lt: 1 }", "missing required key \"of\"");
}

/* tls: the response's revision 7 fields. */
static void test_tls(void **state)
{
    (void)state;
    volley_response r = with_status(200);
    void *c = compile("tls", "{ version: tls1.2, cipher_suite: TLS_RSA_WITH_AES_128_GCM_SHA256, "
                             "ocsp_status: good }");
    expect("tls", c, &r, false, "the response did not come over TLS");
    r.tls_version = "tls1.2";
    r.tls_cipher_suite = "TLS_RSA_WITH_AES_128_GCM_SHA256";
    r.ocsp_status = "good";
    expect("tls", c, &r, true, NULL);
    r.ocsp_status = "revoked";
    expect("tls", c, &r, false, "the OCSP status is revoked, not good");
    r.ocsp_status = NULL;   /* none told: k6's unknown */
    expect("tls", c, &r, false, "the OCSP status is unknown, not good");
    r.tls_version = "tls1.3";
    expect("tls", c, &r, false, "the TLS version is tls1.3, not tls1.2");
    release("tls", c);
    compile_fails("tls", "{}", "expected at least one of version, cipher_suite, ocsp_status");
    fill_fails("tls", "{ version: \"1.2\" }", "expected one of: tls1.0, tls1.1, tls1.2, tls1.3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_transport_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_bad_configs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_small_msg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookie_jars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_repeated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_raw_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_bad_configs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_with_nuls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_long_quote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_bad_configs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exchange_needs_revision_7, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_never_shown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests_name("checks-basic", tests, NULL, NULL);
}
