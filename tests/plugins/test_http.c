/*
 * The http plugin against the loopback test nginx (tests/nginx), driven the
 * way the engine drives it: dlopen'ed, configs filled from YAML by the
 * core's option checker, steps started on one worker loop, completions read
 * from the test host. A few transport failures (garbage reply, reset,
 * redirect) come from a tiny raw TCP server on the same loop.
 *
 * VOLLEY_HTTP_BENCH=N [VOLLEY_HTTP_BENCH_VUS=C] [VOLLEY_HTTP_BENCH_URL=U] runs
 * no tests but N keep-alive GETs (of nginx /fast) with C VUs and prints the
 * client's CPU time per request (samples are dropped, not recorded).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "testhost.h"

#define MAX_VUS 16
#define MAX_STEPS 32

static struct {
    testhost th;
    const volley_protocol_ops *ops;
    void *inst;
    void *ws;
    void *steps[MAX_STEPS];
    int n_steps;
    void *cfgs[MAX_STEPS];
    int n_cfgs;
    volley_vu *vu[MAX_VUS];
    void *vs[MAX_VUS];
    char err[512];
    int fds_before;
    bool ws_done;   /* worker_fini already ran */
} F;

/* A raw TCP server on the test loop (raw_start), for what nginx will not do;
 * raw_reply has what each mode answers. */
enum raw_mode {
    RAW_GARBAGE,      /* a non-HTTP reply                                     */
    RAW_RESET,        /* RST after the request                                */
    RAW_REDIRECT,     /* 302 to nginx /fast                                   */
    RAW_IDLE_CLOSE,   /* a keep-alive 200, then FIN 50 ms later               */
    RAW_ECHO,         /* sets a cookie, answers with the request it got       */
    RAW_BIG,          /* a 200 with RAW_BIG_LEN bytes of body (big_body)      */
    RAW_KEEP,         /* keep-alive 200 "ok"                                   */
    RAW_CHUNKED,      /* a chunked body with a chunk extension and a trailer  */
    RAW_DRIP,         /* RAW_CHUNKED's answer, one byte per millisecond        */
    RAW_NOLEN,        /* no length: the body runs to the close                */
    RAW_CONN_CLOSE,   /* Connection: close (the server keeps it open)         */
    RAW_HTTP10,       /* HTTP/1.0 with a length and no keep-alive             */
    RAW_HTTP10_KA,    /* HTTP/1.0 with Connection: keep-alive                  */
    RAW_CLOSE_SECOND, /* a connection's 2nd request is closed unanswered      */
    RAW_RESET_BODY,   /* RST in the middle of the body                        */
    RAW_NEVER,        /* never answers                                        */
    RAW_BAD_STATUS,   /* "HTTP/1.1 2000 OK"                                   */
    RAW_EOF_HEADERS,  /* closes inside the headers                            */
    RAW_INTERIM,      /* 100 then 204; the next request 304 with a length     */
    RAW_REDIRECT_REL, /* /x: 302 to /y?from=x; /y: 307 to nginx /fast         */
    RAW_COOKIE,       /* Set-Cookie with attributes, keep-alive, echoes       */
    RAW_MIRROR,       /* keep-alive 200 with the request it got as the body   */
    RAW_LONG_STATUS   /* a status line of RAW_BIG_LEN bytes, then close       */
};

#define RAW_BIG_LEN 300000
static char big_body[RAW_BIG_LEN + 1];

typedef struct raw_client raw_client;
struct raw_client {
    uv_tcp_t tcp;
    uv_timer_t later;
    uv_write_t wr;
    raw_client *next;
    char out[9000];
    char buf[8192];
    size_t len;
    int n;               /* requests on this connection */
    int handles;         /* not yet closed */
    int after;           /* enum raw_after: when the write is done */
    bool writing, closing, timer_on;
    const char *drip;    /* RAW_DRIP: what is left to send */
    size_t drip_left;
};

static struct {
    uv_tcp_t srv;
    enum raw_mode mode;
    int port;
    int want_port;       /* raw_start binds it when set (0: any) */
    bool v6;             /* raw_start listens on [::1] */
    bool listened;
    raw_client *clients;
} R;

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/*
 * th_run_until checks its target only when uv_run(UV_RUN_ONCE) returns. A
 * request can complete in the timers phase (curl starts a transfer from its
 * timer and the answer is already there), after which the same uv_run would
 * block in its poll phase until some unrelated event. Stopping the loop on
 * every completion makes uv_run return right after that iteration.
 */
static void (*th_step_done)(volley_vu *, const volley_response *);

static void stop_done(volley_vu *vu, const volley_response *r)
{
    th_step_done(vu, r);
    uv_stop(&F.th.loop);
}

static int setup(void **state)
{
    (void)state;
    int want_port = R.want_port;
    bool v6 = R.v6;
    memset(&F, 0, sizeof F);
    memset(&R, 0, sizeof R);
    R.want_port = want_port;
    R.v6 = v6;
    if (th_init(&F.th) != 0)
        return -1;
    th_step_done = F.th.host.step_done;
    F.th.host.step_done = stop_done;
    const volley_plugin *p = th_load(&F.th, "http");
    if (!p || p->kind != VOLLEY_KIND_PROTOCOL || !p->protocol)
        return -1;
    F.ops = p->protocol;
    F.inst = F.ops->create(&F.th.host, (volley_core *)&F.th, F.err, sizeof F.err);
    if (!F.inst)
        return -1;
    F.fds_before = count_fds();   /* after curl_global_init's own files */
    F.ws = F.ops->worker_init(F.inst, F.th.worker, F.err, sizeof F.err);
    if (!F.ws)
        return -1;
    for (int i = 0; i < MAX_VUS; i++) {
        F.vu[i] = th_vu(&F.th, (uint64_t)i + 1);
        F.vs[i] = calloc(1, F.ops->vu_state_size);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* The engine ends VUs before the worker; the plugin also copes with the
     * other order (tests that ran worker_fini themselves). */
    for (int i = 0; i < MAX_VUS; i++) {
        F.ops->vu_fini(F.ws, F.vs[i]);
        free(F.vs[i]);
    }
    if (!F.ws_done)
        F.ops->worker_fini(F.ws);
    th_drain(&F.th);
    /* Every socket the plugin opened is closed again. */
    int fds = count_fds();
    for (int i = 0; i < F.n_steps; i++)
        F.ops->step_free(F.inst, F.steps[i]);
    F.ops->destroy(F.inst);
    for (int i = 0; i < F.n_cfgs; i++)
        free(F.cfgs[i]);
    th_fini(&F.th);
    assert_int_equal(fds, F.fds_before);
    return 0;
}

/* What the core tells the plugin its checks read of the steps compiled
 * next (volley_step_info.reads): everything, unless a test says. */
static uint32_t step_reads = VOLLEY_READS_ALL;

/* Fills and compiles a step; NULL with the reason in F.err. */
static void *compile(const char *yaml)
{
    assert_true(F.n_cfgs < MAX_STEPS);
    void *cfg = calloc(1, F.ops->step_options->config_size);
    F.cfgs[F.n_cfgs++] = cfg;
    F.err[0] = '\0';
    if (th_fill(&F.th, F.ops->step_options, yaml, cfg) != 0) {
        snprintf(F.err, sizeof F.err, "%s",
                 F.th.d.count && F.th.d.lines[0] ? F.th.d.lines[0] : "fill failed");
        return NULL;
    }
    /* as the core says for a step whose checks read everything */
    volley_step_info info = {.scenario = "default", .group = "", .location = "test.yaml:1:1",
                             .reads = step_reads};
    void *st = F.ops->step_compile(F.inst, cfg, &info, F.err, sizeof F.err);
    if (st)
        F.steps[F.n_steps++] = st;
    return st;
}

static void start(int vu, void *step)
{
    assert_int_equal(F.ops->step_start(F.ws, step, F.vu[vu], F.vs[vu]), 0);
}

/* Runs one request of VU 0 to completion. */
static void run1(void *step)
{
    int n = F.th.done.count;
    start(0, step);
    assert_int_equal(th_run_until(&F.th, n + 1, 10000), n + 1);
}

static const char *const timing_metrics[] = {
    "http_req_duration", "http_req_blocked", "http_req_connecting",
    "http_req_tls_handshaking", "http_req_sending", "http_req_waiting",
    "http_req_receiving", NULL};

/* n samples in each timing trend: one per request that got a response
 * (a status line); a request without one adds to none of them. */
static void assert_timings_sane(size_t n)
{
    for (int i = 0; timing_metrics[i]; i++) {
        assert_int_equal(th_count(&F.th, timing_metrics[i]), n);
        if (n)
            assert_true(th_last(&F.th, timing_metrics[i])->value >= 0.0);
    }
}

static const char FAST_BODY[] = "{\"ok\":true,\"service\":\"bench-target\",\"msg\":\"hello, load test!\"}";

/* ------------------------------------------------------------------------ */

static void test_get_fast(void **state)
{
    (void)state;
    void *st = compile("url: ${services.nginx}/fast");
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 200);
    assert_null(F.th.done.error);
    assert_string_equal(F.th.done.body, FAST_BODY);
    assert_non_null(strstr(F.th.done.headers, "Content-Type: application/json\r\n"));
    assert_null(strstr(F.th.done.headers, "HTTP/1.1"));
    assert_true(F.th.done.duration_ms > 0.0);

    assert_int_equal(th_count(&F.th, "http_reqs"), 1);
    assert_true(th_sum(&F.th, "http_reqs") == 1.0);
    assert_timings_sane(1);
    assert_true(th_last(&F.th, "http_req_duration")->value == F.th.done.duration_ms);
    double parts = th_sum(&F.th, "http_req_sending") + th_sum(&F.th, "http_req_waiting") +
                   th_sum(&F.th, "http_req_receiving");
    assert_true(parts > F.th.done.duration_ms - 1e-9 && parts < F.th.done.duration_ms + 1e-9);
    assert_true(th_sum(&F.th, "data_received") > 62.0);
    assert_true(th_sum(&F.th, "data_sent") > 30.0);
    assert_true(th_sum(&F.th, "http_req_failed") == 0.0);
    /* a new connection: its connect time is part of blocked, as in k6 */
    assert_true(th_last(&F.th, "http_req_blocked")->value >=
                th_last(&F.th, "http_req_connecting")->value);
    assert_null(th_last(&F.th, "data_sent")->tags.name);

    const th_sample *s = th_last(&F.th, "http_req_duration");
    assert_string_equal(s->tags.name, TEST_NGINX_URL "/fast");
    assert_string_equal(F.ops->step_name(F.inst, st), s->tags.name);   /* known at load time */
    assert_string_equal(s->tags.url, TEST_NGINX_URL "/fast");
    assert_string_equal(s->tags.method, "GET");
    assert_int_equal(s->tags.status, 200);
    assert_int_equal(s->tags.expected_response, 1);
    assert_null(s->tags.error_code);
    int id = th_metric_id(&F.th, "http_req_duration");
    assert_int_equal(F.th.metrics[id].type, VOLLEY_METRIC_TREND);
    assert_int_equal(F.th.metrics[id].contains, VOLLEY_CONTAINS_TIME);
    id = th_metric_id(&F.th, "http_req_failed");
    assert_int_equal(F.th.metrics[id].type, VOLLEY_METRIC_RATE);
}

/* The engine's pattern: the next request is started from step_done. */
static void (*orig_step_done)(volley_vu *, const volley_response *);
static void *reissue_step;
static int reissue_left, reissue_bad;

static void reissue_done(volley_vu *vu, const volley_response *r)
{
    orig_step_done(vu, r);
    if (r->status != 200)
        reissue_bad++;
    if (reissue_left > 0) {
        reissue_left--;
        int i = (int)vu->id - 1;
        if (F.ops->step_start(F.ws, reissue_step, F.vu[i], F.vs[i]) != 0)
            reissue_bad++;
    }
}

static void test_keepalive_reuse(void **state)
{
    (void)state;
    reissue_step = compile("url: ${services.nginx}/fast");
    assert_non_null(reissue_step);
    orig_step_done = F.th.host.step_done;
    F.th.host.step_done = reissue_done;
    reissue_left = 500 - 8;
    for (int i = 0; i < 8; i++)
        start(i, reissue_step);
    assert_int_equal(th_run_until(&F.th, 500, 30000), 500);
    F.th.host.step_done = orig_step_done;
    assert_int_equal(reissue_bad, 0);
    assert_int_equal(th_count(&F.th, "http_reqs"), 500);
    assert_timings_sane(500);
    int id = th_metric_id(&F.th, "http_req_connecting");
    int connects = 0;
    for (size_t i = 0; i < F.th.n_samples; i++)
        connects += F.th.samples[i].metric == id && F.th.samples[i].value > 0.0;
    assert_true(connects <= 8);
}

/* VUs between requests (sleeping) keep their keep-alive connections. */
static void test_idle_vus_keep_connections(void **state)
{
    (void)state;
    void *st = compile("url: ${services.nginx}/delay10");
    assert_non_null(st);
    for (int round = 0; round < 3; round++) {
        int n = F.th.done.count;
        for (int i = 0; i < MAX_VUS; i++)
            start(i, st);
        assert_int_equal(th_run_until(&F.th, n + MAX_VUS, 10000), n + MAX_VUS);
        /* one VU alone for a while: the others sit idle outside the multi */
        for (int k = 0; k < 3; k++)
            run1(st);
    }
    int id = th_metric_id(&F.th, "http_req_connecting");
    int connects = 0;
    for (size_t i = 0; i < F.th.n_samples; i++)
        connects += F.th.samples[i].metric == id && F.th.samples[i].value > 0.0;
    assert_true(connects <= MAX_VUS);
    assert_int_equal(th_count(&F.th, "http_reqs"), 3 * (MAX_VUS + 3));
}

static void test_post_json_echo(void **state)
{
    (void)state;
    void *st = compile("method: POST\nurl: ${services.nginx}/echo\n"
                       "json: {user: \"u-${vu.id}\", n: 3, vu: \"${vu.id}\", list: [a, true, null]}");
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 200);
    /* What the core renders for VU 1 is what the server got. */
    volley_buf want = {0};
    const volley_json *j = NULL;
    const volley_option_map *m = F.ops->step_options;
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->options[i].name, "json") == 0)
            memcpy(&j, (char *)F.cfgs[0] + m->options[i].offset, sizeof j);
    assert_non_null(j);
    assert_int_equal(F.th.host.json_render(j, F.vu[0], &want), 0);
    assert_non_null(strstr(want.data, "u-1"));
    assert_string_equal(F.th.done.body, want.data);
    free(want.data);
    assert_true(th_last(&F.th, "data_sent")->value > (double)F.th.done.body_len);

    void *ct = compile("method: POST\nurl: ${services.nginx}/reflect\njson: {a: 1}");
    assert_non_null(ct);
    run1(ct);
    assert_non_null(strstr(F.th.done.body, "\"ctype\":\"application/json\""));
    assert_non_null(strstr(F.th.done.body, "\"method\":\"POST\""));
}

static void test_body_template(void **state)
{
    (void)state;
    void *st = compile("method: POST\nurl: ${services.nginx}/echo\n"
                       "body: \"id=${vu.id}&it=${vu.iteration}\"");
    assert_non_null(st);
    int n = F.th.done.count;
    start(2, st);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_int_equal(F.th.done.status, 200);
    assert_string_equal(F.th.done.body, "id=3&it=0");

    /* A constant body, and a large one curl streams after the headers. */
    void *fixed = compile("method: PUT\nurl: ${services.nginx}/echo\nbody: hello");
    assert_non_null(fixed);
    run1(fixed);
    assert_string_equal(F.th.done.body, "hello");
    char *yaml = malloc(200100);
    int len = snprintf(yaml, 200100, "method: POST\nurl: %s/post\nbody: ", TEST_NGINX_URL);
    memset(yaml + len, 'x', 200000);
    yaml[len + 200000] = '\0';
    void *big = compile(yaml);
    free(yaml);
    assert_non_null(big);
    run1(big);
    assert_int_equal(F.th.done.status, 200);
    assert_true(th_last(&F.th, "data_sent")->value > 200000.0);
    assert_true(th_last(&F.th, "data_sent")->value < 201000.0);
}

static void test_headers(void **state)
{
    (void)state;
    void *dyn = compile("url: ${services.nginx}/reflect\n"
                        "headers: {Authorization: \"Bearer t-${vu.id}\", X-Test: hello, "
                        "Accept: text/plain}");
    assert_non_null(dyn);
    int n = F.th.done.count;
    start(4, dyn);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_non_null(strstr(F.th.done.body, "\"auth\":\"Bearer t-5\""));
    assert_non_null(strstr(F.th.done.body, "\"x_test\":\"hello\""));
    assert_non_null(strstr(F.th.done.body, "\"accept\":\"text/plain\""));
    assert_non_null(strstr(F.th.done.body, "\"method\":\"GET\""));

    void *fixed = compile("url: ${services.nginx}/reflect\nheaders: {X-Test: fixed}");
    assert_non_null(fixed);
    run1(fixed);
    assert_non_null(strstr(F.th.done.body, "\"x_test\":\"fixed\""));
    assert_non_null(strstr(F.th.done.body, "\"ctype\":\"\""));
}

static void test_methods_and_step_changes(void **state)
{
    (void)state;
    static const char *const methods[] = {"DELETE", "OPTIONS", "PATCH", "PUT", "POST", "GET"};
    void *get = compile("url: ${services.nginx}/reflect");
    assert_non_null(get);
    for (size_t i = 0; i < VOLLEY_COUNTOF(methods); i++) {
        char yaml[256], want[64];
        snprintf(yaml, sizeof yaml, "method: %s\nurl: %s/reflect", methods[i], TEST_NGINX_URL);
        void *st = compile(yaml);
        assert_non_null(st);
        run1(st);
        snprintf(want, sizeof want, "\"method\":\"%s\"", methods[i]);
        assert_non_null(strstr(F.th.done.body, want));
        assert_string_equal(th_last(&F.th, "http_reqs")->tags.method, methods[i]);
        /* The same handle then runs a plain GET again. */
        run1(get);
        assert_non_null(strstr(F.th.done.body, "\"method\":\"GET\""));
    }
}

static void test_head(void **state)
{
    (void)state;
    void *st = compile("method: HEAD\nurl: ${services.nginx}/fast");
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 200);
    assert_int_equal(F.th.done.body_len, 0);
    assert_non_null(strstr(F.th.done.headers, "Content-Length: 62"));
    assert_timings_sane(1);
    assert_string_equal(th_last(&F.th, "http_reqs")->tags.method, "HEAD");
}

static void test_error_statuses(void **state)
{
    (void)state;
    void *st = compile("url: ${services.nginx}/error500\nname: boom");
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 500);
    assert_null(F.th.done.error);
    assert_string_equal(F.th.done.body, "{\"error\":\"boom\"}");
    assert_true(th_sum(&F.th, "http_req_failed") == 1.0);
    const th_sample *s = th_last(&F.th, "http_req_failed");
    assert_int_equal(s->tags.expected_response, 0);
    assert_int_equal(s->tags.status, 500);
    assert_string_equal(s->tags.error_code, "1500");
    assert_string_equal(s->tags.name, "boom");
    assert_string_equal(s->tags.url, TEST_NGINX_URL "/error500");

    void *nf = compile("url: ${services.nginx}/notfound");
    run1(nf);
    assert_int_equal(F.th.done.status, 404);
    assert_string_equal(th_last(&F.th, "http_req_failed")->tags.error_code, "1404");

    void *cr = compile("url: ${services.nginx}/created");
    run1(cr);
    assert_int_equal(F.th.done.status, 201);
    assert_int_equal(th_last(&F.th, "http_req_failed")->tags.expected_response, 1);
    assert_true(th_last(&F.th, "http_req_failed")->value == 0.0);
}

static void test_garbage_body_is_fine(void **state)
{
    (void)state;
    void *st = compile("url: ${services.nginx}/garbage");
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 200);
    assert_string_equal(F.th.done.body, "{not json");
    assert_true(th_sum(&F.th, "http_req_failed") == 0.0);
}

static void test_timeout(void **state)
{
    (void)state;
    void *st = compile("url: ${services.nginx}/slow\ntimeout: 200ms");
    assert_non_null(st);
    uint64_t t0 = uv_hrtime();
    run1(st);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_true(ms < 2000.0);
    assert_true(ms >= 190.0);
    assert_int_equal(F.th.done.status, 0);
    assert_non_null(F.th.done.error);
    assert_non_null(strstr(F.th.done.error, "timeout"));
    const th_sample *s = th_last(&F.th, "http_req_failed");
    assert_true(s->value == 1.0);
    assert_int_equal(s->tags.status, 0);
    assert_int_equal(s->tags.expected_response, 0);
    assert_string_equal(s->tags.error_code, "1050");
    /* no status line before the deadline: no timings, the wait is in
     * what step_done got */
    assert_timings_sane(0);
    assert_true(F.th.done.duration_ms > 150.0);
}

static void test_connection_refused(void **state)
{
    (void)state;
    void *st = compile("url: http://127.0.0.1:1/x");
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 0);
    assert_non_null(F.th.done.error);
    assert_non_null(strstr(F.th.done.error, "refused"));
    const th_sample *s = th_last(&F.th, "http_req_failed");
    assert_true(s->value == 1.0);
    assert_string_equal(s->tags.error_code, "1212");
    assert_int_equal(th_count(&F.th, "http_reqs"), 1);
    assert_timings_sane(0);
}

static void test_localhost_pinned(void **state)
{
    (void)state;
    char yaml[128];
    snprintf(yaml, sizeof yaml, "url: http://localhost:%s/fast",
             strrchr(TEST_NGINX_URL, ':') + 1);
    void *st = compile(yaml);
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 200);
    run1(st);
    assert_int_equal(F.th.done.status, 200);
}

static void test_templated_url(void **state)
{
    (void)state;
    void *st = compile("url: \"${services.nginx}/reflect?vu=${vu.id}\"\nname: reflect");
    assert_non_null(st);
    int n = F.th.done.count;
    start(3, st);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_non_null(strstr(F.th.done.body, "\"args\":\"vu=4\""));
    const th_sample *s = th_last(&F.th, "http_reqs");
    assert_string_equal(s->tags.name, "reflect");
    assert_string_equal(F.ops->step_name(F.inst, st), "reflect");

    void *unnamed = compile("url: \"${services.nginx}/reflect?it=${vu.iteration}\"");
    assert_non_null(unnamed);
    run1(unnamed);
    assert_non_null(strstr(F.th.done.body, "\"args\":\"it=0\""));
    /* unnamed: tagged with the template's stable display text */
    assert_string_equal(th_last(&F.th, "http_reqs")->tags.name,
                        TEST_NGINX_URL "/reflect?it=${vu.iteration}");
    assert_string_equal(th_last(&F.th, "http_reqs")->tags.url,
                        TEST_NGINX_URL "/reflect?it=${vu.iteration}");
    assert_string_equal(F.ops->step_name(F.inst, unnamed), TEST_NGINX_URL "/reflect?it=${vu.iteration}");

    /* A constant query is part of the url its samples are named by. */
    void *query = compile("url: ${services.nginx}/reflect\nquery: { a: \"x y\" }");
    assert_non_null(query);
    run1(query);
    assert_string_equal(F.ops->step_name(F.inst, query), th_last(&F.th, "http_reqs")->tags.name);
    assert_string_equal(F.ops->step_name(F.inst, query), TEST_NGINX_URL "/reflect?a=x+y");
}

static void test_cancel_slow(void **state)
{
    (void)state;
    void *st = compile("url: ${services.nginx}/slow");
    assert_non_null(st);
    start(0, st);
    start(1, st);
    th_run_until(&F.th, 1, 150);
    assert_int_equal(F.th.done.count, 0);
    F.ops->step_cancel(F.ws, F.vu[0], F.vs[0]);
    th_run_until(&F.th, 1, 150);
    assert_int_equal(F.th.done.count, 0);
    /* VU 1 is still in flight: worker_fini removes it, the loop drains. */
    F.ops->worker_fini(F.ws);
    F.ws_done = true;
    th_drain(&F.th);
    assert_int_equal(F.th.done.count, 0);
}

/* The engine may end the VU, and even the worker, from inside step_done. */
static void end_all_done(volley_vu *vu, const volley_response *r)
{
    orig_step_done(vu, r);
    int i = (int)vu->id - 1;
    F.ops->vu_fini(F.ws, F.vs[i]);
    F.ops->worker_fini(F.ws);
    F.ws_done = true;
}

static void test_fini_from_step_done(void **state)
{
    (void)state;
    void *st = compile("url: ${services.nginx}/fast");
    assert_non_null(st);
    orig_step_done = F.th.host.step_done;
    F.th.host.step_done = end_all_done;
    start(0, st);
    assert_int_equal(th_run_until(&F.th, 1, 5000), 1);
    F.th.host.step_done = orig_step_done;
    assert_int_equal(F.th.done.status, 200);
    th_drain(&F.th);
}

/* ---- a raw TCP server on the test loop, for broken peers ---- */

static const char RAW_GARBAGE_TEXT[] = "this is not http at all\r\n\r\n";
static const char RAW_REDIRECT_TEXT[] =
    "HTTP/1.1 302 Found\r\nLocation: " TEST_NGINX_URL "/fast\r\n"
    "Content-Length: 0\r\nConnection: close\r\n\r\n";
static const char RAW_OK_TEXT[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char RAW_CHUNKED_TEXT[] =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
    "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
static const char RAW_NOLEN_TEXT[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close";
static const char RAW_CONN_CLOSE_TEXT[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
static const char RAW_HTTP10_TEXT[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char RAW_HTTP10_KA_TEXT[] =
    "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
static const char RAW_RESET_BODY_TEXT[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial";
static const char RAW_BAD_STATUS_TEXT[] = "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n";
static const char RAW_EOF_HEADERS_TEXT[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n";
static const char RAW_INTERIM_TEXT[] =
    "HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\nHTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n";
static const char RAW_NOT_MODIFIED_TEXT[] =
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\n";
static const char RAW_REDIRECT_Y_TEXT[] =
    "HTTP/1.1 302 Found\r\nLocation: /y?from=x\r\nContent-Length: 0\r\n\r\n";
static const char RAW_REDIRECT_NGINX_TEXT[] =
    "HTTP/1.1 307 Temporary Redirect\r\nLocation: " TEST_NGINX_URL "/fast\r\n"
    "Content-Length: 3\r\n\r\nbye";

enum raw_after { AFTER_KEEP, AFTER_CLOSE, AFTER_RESET, AFTER_LATER_CLOSE };

static void raw_client_closed(uv_handle_t *h)
{
    raw_client *c = h->data;
    if (--c->handles == 0) {
        for (raw_client **pp = &R.clients; *pp; pp = &(*pp)->next)
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        free(c);
    }
}

static void raw_close(raw_client *c, bool reset)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->timer_on)
        uv_close((uv_handle_t *)&c->later, raw_client_closed);
    else
        c->handles--;
    if (reset)
        uv_tcp_close_reset(&c->tcp, raw_client_closed);
    else
        uv_close((uv_handle_t *)&c->tcp, raw_client_closed);
}

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    raw_client *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void raw_written(uv_write_t *wr, int status)
{
    raw_client *c = wr->handle->data;
    c->writing = false;
    if (status < 0 || c->closing)
        return;
    if (c->after == AFTER_CLOSE)
        raw_close(c, false);
    else if (c->after == AFTER_RESET)
        raw_close(c, true);
}

static void raw_later(uv_timer_t *t)
{
    raw_client *c = t->data;
    if (c->drip && c->drip_left) {
        uv_buf_t b = uv_buf_init((char *)c->drip, 1);
        if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) == 1) {
            c->drip++;
            c->drip_left--;
        }
        if (!c->drip_left) {
            c->drip = NULL;
            uv_timer_stop(t);
        }
        return;
    }
    raw_close(c, false);
}

static void raw_timer(raw_client *c, uint64_t ms, uint64_t repeat)
{
    if (!c->timer_on) {
        uv_timer_init(c->tcp.loop, &c->later);
        c->later.data = c;
        c->timer_on = true;
    }
    uv_timer_start(&c->later, raw_later, ms, repeat);
}

static void raw_send(raw_client *c, const char *text, size_t len, enum raw_after after)
{
    c->after = after;
    c->writing = true;
    uv_buf_t out = uv_buf_init((char *)text, (unsigned)len);
    uv_write(&c->wr, (uv_stream_t *)&c->tcp, &out, 1, raw_written);
}

/* A HEAD request gets the head of the answer only. */
static void raw_text(raw_client *c, const char *text, enum raw_after after)
{
    size_t len = strlen(text);
    const char *end = strstr(text, "\r\n\r\n");
    if (strncmp(c->buf, "HEAD ", 5) == 0 && end)
        len = (size_t)(end + 4 - text);
    raw_send(c, text, len, after);
}

/* Answers one complete request (head and body in c->buf, `len` bytes). */
static void raw_reply(raw_client *c, size_t len)
{
    c->n++;
    switch (R.mode) {
    case RAW_RESET:
        raw_close(c, true);
        return;
    case RAW_GARBAGE:
        raw_text(c, RAW_GARBAGE_TEXT, AFTER_CLOSE);
        return;
    case RAW_REDIRECT:
        raw_text(c, RAW_REDIRECT_TEXT, AFTER_CLOSE);
        return;
    case RAW_IDLE_CLOSE:
        raw_text(c, RAW_OK_TEXT, AFTER_KEEP);
        raw_timer(c, 50, 0);
        return;
    case RAW_KEEP:
        raw_text(c, RAW_OK_TEXT, AFTER_KEEP);
        return;
    case RAW_ECHO:
    case RAW_COOKIE:
    case RAW_MIRROR: {
        const char *cookies = R.mode == RAW_MIRROR ? ""
                              : R.mode == RAW_ECHO
            ? "Set-Cookie: sid=abc; Path=/\r\n"
            : "Set-Cookie: a=1; Path=/; Max-Age=100\r\nSet-Cookie: b=2; Secure\r\n"
              "Set-Cookie: c=3; Domain=127.0.0.1\r\nSet-Cookie: d=4; Path=/other\r\n"
              "Set-Cookie: e=5; Max-Age=0\r\nSet-Cookie: f=6; Domain=example.com\r\n"
              "set-cookie: g=7; expires=Wed, 01 Jan 2031 00:00:00 GMT; path=/x\r\n";
        int n = snprintf(c->out, sizeof c->out,
                         "HTTP/1.1 200 OK\r\n%sContent-Length: %zu\r\n%s\r\n%.*s", cookies, len,
                         R.mode == RAW_ECHO ? "Connection: close\r\n" : "", (int)len, c->buf);
        (void)n;
        raw_text(c, c->out, R.mode == RAW_ECHO ? AFTER_CLOSE : AFTER_KEEP);
        return;
    }
    case RAW_BIG: {
        snprintf(c->out, sizeof c->out,
                 "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
                 RAW_BIG_LEN);
        uv_buf_t parts[2] = {uv_buf_init(c->out, (unsigned)strlen(c->out)),
                             uv_buf_init(big_body, RAW_BIG_LEN)};
        c->after = AFTER_CLOSE;
        c->writing = true;
        uv_write(&c->wr, (uv_stream_t *)&c->tcp, parts, 2, raw_written);
        return;
    }
    case RAW_CHUNKED:
        raw_text(c, RAW_CHUNKED_TEXT, AFTER_KEEP);
        return;
    case RAW_LONG_STATUS: {
        static const char start[] = "HTTP/1.1 200 ";
        uv_buf_t parts[2] = {uv_buf_init((char *)start, sizeof start - 1),
                             uv_buf_init(big_body, RAW_BIG_LEN)};
        c->after = AFTER_CLOSE;
        c->writing = true;
        uv_write(&c->wr, (uv_stream_t *)&c->tcp, parts, 2, raw_written);
        return;
    }
    case RAW_DRIP:
        c->drip = RAW_CHUNKED_TEXT;
        c->drip_left = strlen(RAW_CHUNKED_TEXT);
        raw_timer(c, 1, 1);
        return;
    case RAW_NOLEN:
        raw_text(c, RAW_NOLEN_TEXT, AFTER_CLOSE);
        return;
    case RAW_CONN_CLOSE:
        raw_text(c, RAW_CONN_CLOSE_TEXT, AFTER_KEEP);   /* the client must close */
        return;
    case RAW_HTTP10:
        raw_text(c, RAW_HTTP10_TEXT, AFTER_KEEP);
        return;
    case RAW_HTTP10_KA:
        raw_text(c, RAW_HTTP10_KA_TEXT, AFTER_KEEP);
        return;
    case RAW_CLOSE_SECOND:
        if (c->n % 2 == 0)
            raw_close(c, false);   /* as if the server timed it out just now */
        else
            raw_text(c, RAW_OK_TEXT, AFTER_KEEP);
        return;
    case RAW_RESET_BODY:
        raw_text(c, RAW_RESET_BODY_TEXT, AFTER_RESET);
        return;
    case RAW_NEVER:
        return;
    case RAW_BAD_STATUS:
        raw_text(c, RAW_BAD_STATUS_TEXT, AFTER_CLOSE);
        return;
    case RAW_EOF_HEADERS:
        raw_text(c, RAW_EOF_HEADERS_TEXT, AFTER_CLOSE);
        return;
    case RAW_INTERIM:
        raw_text(c, c->n % 2 ? RAW_INTERIM_TEXT : RAW_NOT_MODIFIED_TEXT, AFTER_KEEP);
        return;
    case RAW_REDIRECT_REL:
        raw_text(c, strncmp(c->buf + strcspn(c->buf, " "), " /x ", 4) == 0
                        ? RAW_REDIRECT_Y_TEXT : RAW_REDIRECT_NGINX_TEXT, AFTER_KEEP);
        return;
    }
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    raw_client *c = s->data;
    if (n < 0) {
        raw_close(c, false);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    /* whole requests only (a head and its Content-Length body), one at a time */
    while (!c->writing && !c->closing && !c->drip) {
        char *end = strstr(c->buf, "\r\n\r\n");
        if (!end)
            return;
        size_t head = (size_t)(end + 4 - c->buf), body = 0;
        const char *cl = strcasestr(c->buf, "\r\nContent-Length:");
        if (cl && cl < end)
            body = strtoul(cl + 17, NULL, 10);
        if (c->len < head + body)
            return;
        raw_reply(c, head + body);
        if (c->closing)
            return;
        memmove(c->buf, c->buf + head + body, c->len - head - body + 1);
        c->len -= head + body;
    }
}

static void raw_conn(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    raw_client *c = calloc(1, sizeof *c);
    uv_tcp_init(&F.th.loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 2;   /* tcp and the timer (counted as closed when never used) */
    c->next = R.clients;
    R.clients = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        raw_close(c, false);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, raw_alloc, raw_read);
}

static void raw_start(enum raw_mode mode)
{
    struct sockaddr_storage a;
    if (R.v6)
        uv_ip6_addr("::1", R.want_port, (struct sockaddr_in6 *)&a);
    else
        uv_ip4_addr("127.0.0.1", R.want_port, (struct sockaddr_in *)&a);
    R.mode = mode;
    R.clients = NULL;
    assert_int_equal(uv_tcp_init(&F.th.loop, &R.srv), 0);
    assert_int_equal(uv_tcp_bind(&R.srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&R.srv, 16, raw_conn), 0);
    /* libuv keeps a spare fd per loop once it listens (EMFILE handling) */
    if (!R.listened)
        F.fds_before++;
    R.listened = true;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_tcp_getsockname(&R.srv, (struct sockaddr *)&got, &len);
    R.port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                             : ((struct sockaddr_in *)&got)->sin_port);
}

static void raw_stopped(uv_handle_t *h) { *(int *)h->data = 1; }

/* Stops listening and closes the server's side of every connection. */
static void raw_stop(void)
{
    int closed = 0;
    R.srv.data = &closed;
    uv_close((uv_handle_t *)&R.srv, raw_stopped);
    for (raw_client *c = R.clients; c; c = c->next)
        raw_close(c, false);
    while (!closed || R.clients)
        uv_run(&F.th.loop, UV_RUN_NOWAIT);
}

static void *raw_step(void)
{
    char yaml[128];
    snprintf(yaml, sizeof yaml, "url: http://127.0.0.1:%d/x", R.port);
    return compile(yaml);
}

static void test_garbage_reply(void **state)
{
    (void)state;
    raw_start(RAW_GARBAGE);
    void *st = raw_step();
    assert_non_null(st);
    run1(st);
    raw_stop();
    assert_int_equal(F.th.done.status, 0);
    assert_non_null(F.th.done.error);
    const th_sample *s = th_last(&F.th, "http_req_failed");
    assert_true(s->value == 1.0);
    assert_string_equal(s->tags.error_code, "1000");
}

static void test_reset(void **state)
{
    (void)state;
    raw_start(RAW_RESET);
    void *st = raw_step();
    assert_non_null(st);
    run1(st);
    raw_stop();
    assert_int_equal(F.th.done.status, 0);
    assert_non_null(F.th.done.error);
    assert_non_null(strstr(F.th.done.error, "reset"));
    assert_string_equal(th_last(&F.th, "http_req_failed")->tags.error_code, "1220");
}

static void test_redirect(void **state)
{
    (void)state;
    raw_start(RAW_REDIRECT);
    void *st = raw_step();
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 200);
    assert_string_equal(F.th.done.body, FAST_BODY);
    /* One sample set per hop, as k6 records redirects. */
    assert_int_equal(th_count(&F.th, "http_reqs"), 2);
    assert_timings_sane(2);
    /* The handle was re-pointed; the step's own url comes back next time. */
    run1(st);
    raw_stop();
    assert_int_equal(F.th.done.status, 200);
    assert_int_equal(th_count(&F.th, "http_reqs"), 4);
}

/* The server closes an idle keep-alive connection: the plugin stops
 * polling it (it was only lazily kept), curl reconnects on the next use. */
static void test_server_closes_idle_connection(void **state)
{
    (void)state;
    raw_start(RAW_IDLE_CLOSE);
    void *st = raw_step();
    assert_non_null(st);
    for (int k = 0; k < 3; k++) {
        run1(st);
        assert_int_equal(F.th.done.status, 200);
        assert_string_equal(F.th.done.body, "ok");
        th_run_until(&F.th, F.th.done.count + 1, 150);   /* FIN arrives */
    }
    raw_stop();
    assert_true(th_sum(&F.th, "http_req_failed") == 0.0);
}

/* Cookies set by responses go back with the VU's later requests, until its
 * next iteration (k6 resets the jar per iteration). */
static void test_cookies(void **state)
{
    (void)state;
    raw_start(RAW_ECHO);
    void *st = raw_step();
    assert_non_null(st);
    run1(st);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    run1(st);
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: sid=abc\r\n"));
    F.vu[0]->iteration++;
    run1(st);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    run1(st);
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: sid=abc\r\n"));
    /* another VU has its own jar */
    int n = F.th.done.count;
    start(1, st);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    raw_stop();
}

/* A batch lane (lane_init) shares its VU's jar: what the lane's response
 * sets, the VU sends, and the other way round; the lane's vu_fini leaves
 * the VU's jar alone, and a new iteration empties the one jar. */
static void test_lane_shares_the_jar(void **state)
{
    (void)state;
    assert_non_null(F.ops->lane_init);
    F.ops->lane_init(F.ws, F.vs[1], F.vs[0]);
    raw_start(RAW_ECHO);
    void *st = raw_step();
    assert_non_null(st);
    int n = F.th.done.count;
    start(1, st);   /* the lane first: it sets sid into the VU's jar */
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    run1(st);
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: sid=abc\r\n"));
    n = F.th.done.count;
    start(1, st);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: sid=abc\r\n"));
    /* a VU that is no lane keeps its own */
    n = F.th.done.count;
    start(2, st);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    F.ops->vu_fini(F.ws, F.vs[1]);
    run1(st);
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: sid=abc\r\n"));
    /* the next iteration: the lane (a new one) finds the jar emptied */
    F.ops->lane_init(F.ws, F.vs[1], F.vs[0]);
    F.vu[0]->iteration++;
    F.vu[1]->iteration++;
    n = F.th.done.count;
    start(1, st);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    run1(st);
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: sid=abc\r\n"));
    raw_stop();
}

/* The request head as the server sees it: empty header values, no curl
 * form Content-Type or Expect, Content-Length: 0 for a POST without body. */
static void test_request_head(void **state)
{
    (void)state;
    raw_start(RAW_ECHO);
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "url: http://127.0.0.1:%d/x\nmethod: POST\n"
             "headers: {X-Empty: \"\", X-Blank: \" \", X-Vu: \"v${vu.id}\"}", R.port);
    void *st = compile(yaml);
    assert_non_null(st);
    run1(st);
    const char *b = F.th.done.body;
    assert_non_null(strstr(b, "POST /x HTTP/1.1\r\n"));
    assert_non_null(strstr(b, "\r\nX-Empty:\r\n"));
    assert_non_null(strstr(b, "\r\nX-Blank:\r\n"));
    assert_non_null(strstr(b, "\r\nX-Vu: v1\r\n"));
    assert_non_null(strstr(b, "\r\nContent-Length: 0\r\n"));
    assert_null(strstr(b, "Content-Type"));
    assert_null(strstr(b, "Expect"));
    assert_non_null(strstr(b, "\r\nUser-Agent: volley/"));

    snprintf(yaml, sizeof yaml,
             "url: http://127.0.0.1:%d/y\nmethod: PUT\njson: {a: [1, 2]}\n"
             "headers: {Content-Type: application/vnd.x+json}", R.port);
    st = compile(yaml);
    assert_non_null(st);
    run1(st);
    b = F.th.done.body;
    assert_non_null(strstr(b, "PUT /y HTTP/1.1\r\n"));
    assert_non_null(strstr(b, "\r\nContent-Type: application/vnd.x+json\r\n"));
    assert_null(strstr(b, "application/json"));
    assert_non_null(strstr(b, "\r\nUser-Agent: volley/"));

    /* A step's own User-Agent replaces ours (any case), constant or not. */
    const char *uas[] = {"user-agent: custom/1", "User-Agent: \"c/${vu.id}\""};
    const char *want[] = {"\r\nuser-agent: custom/1\r\n", "\r\nUser-Agent: c/1\r\n"};
    for (int i = 0; i < 2; i++) {
        snprintf(yaml, sizeof yaml, "url: http://127.0.0.1:%d/z\nheaders: {%s}", R.port, uas[i]);
        st = compile(yaml);
        assert_non_null(st);
        run1(st);
        b = F.th.done.body;
        assert_non_null(strstr(b, want[i]));
        assert_null(strstr(b, "volley/"));
    }
    raw_stop();
}

/* A VU's receive buffer starts at 1 KB and grows to fit what it gets: a
 * body far larger than that arrives whole, before and after the growth. */
static void test_large_body(void **state)
{
    (void)state;
    for (int i = 0; i < RAW_BIG_LEN; i++)
        big_body[i] = (char)('a' + i % 26);
    raw_start(RAW_BIG);
    void *st = raw_step();
    assert_non_null(st);
    for (int round = 0; round < 2; round++) {
        th_reset_samples(&F.th);
        run1(st);
        assert_int_equal(F.th.done.status, 200);
        assert_null(F.th.done.error);
        assert_int_equal(F.th.done.body_len, RAW_BIG_LEN);
        assert_memory_equal(F.th.done.body, big_body, RAW_BIG_LEN);
        assert_true(th_sum(&F.th, "data_received") > (double)RAW_BIG_LEN);
        assert_timings_sane(1);
    }
    raw_stop();
}

/* More VUs than one curl multi holds (HTTP_GROUP_VUS, 128): every request
 * completes, each VU keeps a keep-alive connection across its requests,
 * and worker_fini closes every socket (teardown counts them). */
#define MANY_VUS 200
#define MANY_ROUNDS 3
static struct {
    volley_vu *vu[MANY_VUS];
    void *vs[MANY_VUS];
    void *step;
    int left[MANY_VUS];
    int bad;
} M;

static void many_done(volley_vu *vu, const volley_response *r)
{
    orig_step_done(vu, r);
    int i = (int)vu->id - 1;
    if (r->status != 200)
        M.bad++;
    if (M.left[i]-- > 0 && F.ops->step_start(F.ws, M.step, M.vu[i], M.vs[i]) != 0)
        M.bad++;
}

static void test_many_vus(void **state)
{
    (void)state;
    memset(&M, 0, sizeof M);
    M.step = compile("url: ${services.nginx}/delay10");
    assert_non_null(M.step);
    orig_step_done = F.th.host.step_done;
    F.th.host.step_done = many_done;
    for (int i = 0; i < MANY_VUS; i++) {
        M.vu[i] = th_vu(&F.th, (uint64_t)i + 1);
        M.vs[i] = calloc(1, F.ops->vu_state_size);
        M.left[i] = MANY_ROUNDS - 1;
        assert_int_equal(F.ops->step_start(F.ws, M.step, M.vu[i], M.vs[i]), 0);
    }
    int n = MANY_VUS * MANY_ROUNDS;
    assert_int_equal(th_run_until(&F.th, n, 30000), n);
    F.th.host.step_done = orig_step_done;
    assert_int_equal(M.bad, 0);
    assert_int_equal(th_count(&F.th, "http_reqs"), (size_t)n);
    assert_timings_sane((size_t)n);
    int id = th_metric_id(&F.th, "http_req_connecting");
    int connects = 0;
    for (size_t i = 0; i < F.th.n_samples; i++)
        connects += F.th.samples[i].metric == id && F.th.samples[i].value > 0.0;
    assert_true(connects <= MANY_VUS);
    for (int i = 0; i < MANY_VUS; i++) {
        F.ops->vu_fini(F.ws, M.vs[i]);
        free(M.vs[i]);
    }
}

static void test_config_errors(void **state)
{
    (void)state;
    assert_null(compile("url: ${services.nginx}/fast\nhedaers: {A: b}"));
    assert_non_null(strstr(F.err, "unknown key \"hedaers\""));
    assert_non_null(strstr(F.err, "did you mean \"headers\""));

    assert_null(compile("url: ${services.nginx}/fast\nmethod: FETCH"));
    assert_non_null(strstr(F.err, "FETCH"));
    assert_non_null(strstr(F.err, "GET"));

    assert_null(compile("method: GET"));
    assert_non_null(strstr(F.err, "missing required key \"url\""));

    assert_null(compile("url: ${services.nginx}/fast\ntimeout: 0s"));

    assert_null(compile("url: ${services.nginx}/post\nmethod: POST\nbody: x\njson: {a: 1}"));
    assert_non_null(strstr(F.err, "body, json, form and multipart cannot be used together"));

    assert_null(compile("url: ftp://127.0.0.1/file"));
    assert_non_null(strstr(F.err, "http://"));

    assert_null(compile("url: /relative/path"));
    assert_null(compile("url: ${services.nginx}/x\nmethod: HEAD\nbody: x"));
    assert_null(compile("url: ${services.nginx}/x\nheaders: {\"bad name\": x}"));
    assert_non_null(strstr(F.err, "bad name"));
}

/* ---- the fast path beside curl ---- */

/*
 * The same exchanges against the raw server, once with every request on
 * curl (VOLLEY_HTTP_CLIENT=curl) and once with the fast path, must give
 * the same statuses, error codes, header blocks, bodies, data_sent and
 * data_received, hops and new connections. The fixture is rebuilt for
 * each client (the knob is read when the plugin is created).
 */
#define MAX_EXCHANGES 4

typedef struct exchange {
    int status;
    char code[8];        /* error_code tag of the last hop, "" when none */
    char kind[64];       /* error text up to its first ':' */
    char *error, *headers, *body;
    size_t body_len;
    size_t hops;         /* http_reqs samples */
    size_t timed;        /* http_req_duration samples: hops with a response */
    double sent, received, blocked, connecting;   /* blocked, connecting: */
                                                  /*   -1 when not timed  */
} exchange;

/* Blanks the value of a Date: header line (same length, so byte counts
 * still compare): nginx stamps each response with the current second. */
static void mask_date(char *headers)
{
    for (char *p = headers; p && (p = strstr(p, "Date: ")); p += 6) {
        if (p != headers && p[-1] != '\n')
            continue;
        for (char *v = p + 6; *v && *v != '\r' && *v != '\n'; v++)
            *v = 'x';
    }
}

static const char *saved_client;

static void use_client(const char *client)
{
    teardown(NULL);
    setenv("VOLLEY_HTTP_CLIENT", client, 1);
    assert_int_equal(setup(NULL), 0);
}

static void restore_client(void)
{
    if (saved_client)
        setenv("VOLLEY_HTTP_CLIENT", saved_client, 1);
    else
        unsetenv("VOLLEY_HTTP_CLIENT");
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* n requests of one step (yaml: a format with the server's port as %d). */
static void exchanges(const char *client, enum raw_mode mode, const char *yaml_fmt, int n,
                      int pause_ms, exchange *out)
{
    use_client(client);
    raw_start(mode);
    if (getenv("TEST_VERBOSE"))
        print_message("  %s, raw mode %d\n", client, (int)mode);
    char yaml[1024];
    snprintf(yaml, sizeof yaml, yaml_fmt, R.port);
    void *st = compile(yaml);
    assert_non_null(st);
    for (int i = 0; i < n; i++) {
        double s0 = th_sum(&F.th, "data_sent"), r0 = th_sum(&F.th, "data_received");
        size_t k0 = th_count(&F.th, "http_reqs"), d0 = th_count(&F.th, "http_req_duration");
        run1(st);
        exchange *e = &out[i];
        e->status = F.th.done.status;
        e->error = dup_or_empty(F.th.done.error);
        snprintf(e->kind, sizeof e->kind, "%.*s", (int)strcspn(e->error, ":"), e->error);
        const th_sample *f = th_last(&F.th, "http_req_failed");
        snprintf(e->code, sizeof e->code, "%s", f->tags.error_code ? f->tags.error_code : "");
        e->headers = dup_or_empty(F.th.done.headers);
        e->body = malloc(F.th.done.body_len + 1);
        memcpy(e->body, F.th.done.body ? F.th.done.body : "", F.th.done.body_len);
        e->body[F.th.done.body_len] = '\0';
        e->body_len = F.th.done.body_len;
        e->hops = th_count(&F.th, "http_reqs") - k0;
        e->sent = th_sum(&F.th, "data_sent") - s0;
        e->received = th_sum(&F.th, "data_received") - r0;
        e->timed = th_count(&F.th, "http_req_duration") - d0;
        e->blocked = e->timed ? th_last(&F.th, "http_req_blocked")->value : -1.0;
        e->connecting = e->timed ? th_last(&F.th, "http_req_connecting")->value : -1.0;
        assert_timings_sane(th_count(&F.th, "http_req_duration"));
        if (pause_ms)
            th_run_until(&F.th, F.th.done.count + 1, pause_ms);
    }
    raw_stop();
}

static void exchanges_free(exchange *e, int n)
{
    for (int i = 0; i < n; i++) {
        free(e[i].error);
        free(e[i].headers);
        free(e[i].body);
    }
}

enum {
    SAME_ALL = 0,
    LOOSE_BYTES = 1,   /* only statuses, errors, hops, new connections */
    LOOSE_CONNS = 2,   /* whether a request opened a connection may differ */
    LOOSE_KIND = 4     /* the error text may differ (not its code) */
};

/* Runs both clients and compares; the fast path's exchanges stay in `fast`
 * (freed by the caller) for the case's own checks. */
static void compare_clients(enum raw_mode mode, const char *yaml_fmt, int n, int pause_ms,
                            int flags, exchange *fast)
{
    exchange c[MAX_EXCHANGES] = {0};
    assert_true(n <= MAX_EXCHANGES);
    exchanges("curl", mode, yaml_fmt, n, pause_ms, c);
    R.want_port = R.port;   /* the same Host header */
    exchanges("auto", mode, yaml_fmt, n, pause_ms, fast);
    R.want_port = 0;
    restore_client();
    for (int i = 0; i < n; i++) {
        const exchange *a = &c[i], *b = &fast[i];
        print_message("  %d: curl %d %s [%s] sent %.0f received %.0f connecting %.3f | fast %d %s "
                      "[%s] sent %.0f received %.0f connecting %.3f\n", i, a->status, a->code,
                      a->error, a->sent, a->received, a->connecting, b->status, b->code, b->error,
                      b->sent, b->received, b->connecting);
        assert_int_equal(a->status, b->status);
        assert_string_equal(a->code, b->code);
        if (!(flags & LOOSE_KIND))
            assert_string_equal(a->kind, b->kind);
        assert_int_equal(a->hops, b->hops);
        assert_int_equal(a->timed, b->timed);
        if (!(flags & LOOSE_CONNS))
            assert_int_equal(a->connecting > 0.0, b->connecting > 0.0);
        if (flags & LOOSE_BYTES)
            continue;
        if (getenv("TEST_VERBOSE"))
            print_message("curl:\n%s%s\nfast:\n%s%s\n", a->headers, a->body, b->headers, b->body);
        mask_date(a->headers);   /* the two runs may straddle a second */
        mask_date(b->headers);
        assert_string_equal(a->headers, b->headers);
        assert_int_equal(a->body_len, b->body_len);
        assert_memory_equal(a->body, b->body, a->body_len);
        assert_true(a->sent == b->sent);
        assert_true(a->received == b->received);
    }
    exchanges_free(c, n);
}

#define RAW_URL "url: http://127.0.0.1:%d/x\n"

/* Keep-alive answers of every framing: the same responses as curl, and the
 * fast path reuses its connection (its reuse is ready at once: blocked 0). */
static void test_fast_framings(void **state)
{
    (void)state;
    exchange e[MAX_EXCHANGES] = {0};
    compare_clients(RAW_KEEP, RAW_URL, 3, 0, SAME_ALL, e);
    assert_int_equal(e[2].status, 200);
    assert_string_equal(e[2].body, "ok");
    assert_true(e[0].connecting > 0.0);
    assert_true(e[1].connecting == 0.0 && e[1].blocked == 0.0);
    assert_true(e[2].connecting == 0.0 && e[2].blocked == 0.0);
    exchanges_free(e, 3);

    compare_clients(RAW_CHUNKED, RAW_URL, 2, 0, SAME_ALL, e);
    assert_string_equal(e[0].body, "hello, world");
    assert_non_null(strstr(e[0].headers, "X-A: 1\r\n"));
    assert_true(e[1].blocked == 0.0);
    exchanges_free(e, 2);

    /* every line and chunk split across reads */
    compare_clients(RAW_DRIP, RAW_URL, 2, 0, SAME_ALL, e);
    assert_string_equal(e[1].body, "hello, world");
    assert_true(e[1].blocked == 0.0);
    exchanges_free(e, 2);

    compare_clients(RAW_INTERIM, RAW_URL, 2, 0, SAME_ALL, e);
    assert_int_equal(e[0].status, 204);
    assert_null(strstr(e[0].headers, "X-Early"));
    assert_int_equal(e[1].status, 304);
    assert_int_equal(e[1].body_len, 0);
    exchanges_free(e, 2);

    compare_clients(RAW_HTTP10_KA, RAW_URL, 2, 0, SAME_ALL, e);
    assert_true(e[1].connecting == 0.0);
    exchanges_free(e, 2);

    compare_clients(RAW_BIG, RAW_URL, 2, 0, SAME_ALL, e);
    assert_int_equal(e[1].body_len, RAW_BIG_LEN);
    exchanges_free(e, 2);

    /* HEAD: no body whatever the length says */
    compare_clients(RAW_KEEP, RAW_URL "method: HEAD", 2, 0, SAME_ALL, e);
    assert_int_equal(e[1].body_len, 0);
    exchanges_free(e, 2);
}

/* Answers after which the connection is not reused: each request opens a
 * new one, with either client. */
static void test_fast_connection_ends(void **state)
{
    (void)state;
    exchange e[MAX_EXCHANGES] = {0};
    static const enum raw_mode modes[] = {RAW_NOLEN, RAW_CONN_CLOSE, RAW_HTTP10};
    for (size_t m = 0; m < VOLLEY_COUNTOF(modes); m++) {
        compare_clients(modes[m], RAW_URL, 2, 0, SAME_ALL, e);
        assert_int_equal(e[1].status, 200);
        assert_true(e[1].connecting > 0.0);
        exchanges_free(e, 2);
    }
    assert_true(1);
    /* the server closes idle connections: noticed while idle, not reused */
    compare_clients(RAW_IDLE_CLOSE, RAW_URL, 3, 150, SAME_ALL, e);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e[i].status, 200);
        assert_true(e[i].connecting > 0.0);
    }
    exchanges_free(e, 3);
}

/* A reused connection the server closed as the request went out: sent
 * once more on a new connection, no failure (curl does the same). curl's
 * connect time of the retried request is mostly 0 (its CONNECT and
 * NAMELOOKUP marks do not follow the new connection): not compared; the
 * fast path's is the new connection's. */
static void test_fast_retry_once(void **state)
{
    (void)state;
    exchange e[MAX_EXCHANGES] = {0};
    compare_clients(RAW_CLOSE_SECOND, RAW_URL, 3, 0, LOOSE_CONNS, e);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e[i].status, 200);
        assert_string_equal(e[i].body, "ok");
        assert_int_equal(e[i].hops, 1);
    }
    assert_true(e[1].connecting > 0.0);
    assert_true(th_sum(&F.th, "http_req_failed") == 0.0);
    exchanges_free(e, 3);
}

/* Broken answers: the same error codes as curl's. */
static void test_fast_errors(void **state)
{
    (void)state;
    exchange e[MAX_EXCHANGES] = {0};
    /* timed: whether a status line came, so the request has timings */
    compare_clients(RAW_GARBAGE, RAW_URL, 1, 0, SAME_ALL, e);
    assert_string_equal(e[0].code, "1000");
    assert_int_equal(e[0].timed, 0);
    exchanges_free(e, 1);

    compare_clients(RAW_BAD_STATUS, RAW_URL, 1, 0, SAME_ALL, e);
    assert_string_equal(e[0].code, "1000");
    assert_int_equal(e[0].timed, 0);
    exchanges_free(e, 1);

    compare_clients(RAW_EOF_HEADERS, RAW_URL, 1, 0, SAME_ALL, e);
    assert_int_equal(e[0].timed, 1);
    exchanges_free(e, 1);

    /* a header line over 100 KB: curl 7.88 runs out of header buffer, the
     * fast path refuses it; both say so as a response too large */
    compare_clients(RAW_LONG_STATUS, RAW_URL, 1, 0, SAME_ALL, e);
    assert_string_equal(e[0].code, "1060");
    assert_string_equal(e[0].kind, "response too large");
    assert_int_equal(e[0].timed, 0);
    exchanges_free(e, 1);

    compare_clients(RAW_RESET, RAW_URL, 1, 0, SAME_ALL, e);
    assert_string_equal(e[0].code, "1220");
    assert_int_equal(e[0].timed, 0);
    exchanges_free(e, 1);

    /* how much of the body arrives before the reset is up to the kernel */
    compare_clients(RAW_RESET_BODY, RAW_URL, 1, 0, LOOSE_BYTES, e);
    assert_int_equal(e[0].status, 0);
    assert_int_equal(e[0].timed, 1);
    exchanges_free(e, 1);

    compare_clients(RAW_NEVER, RAW_URL "timeout: 200ms", 1, 0, SAME_ALL, e);
    assert_string_equal(e[0].code, "1050");
    assert_non_null(strstr(e[0].error, "Operation timed out after"));
    assert_int_equal(e[0].timed, 0);
    exchanges_free(e, 1);
}

/* max_response_size: a declared length over it fails at once with 1060 on
 * both clients; a body nobody reads is counted in data_received as if it
 * were kept, and handed on empty. */
static void test_response_limits(void **state)
{
    (void)state;
    exchange e[MAX_EXCHANGES] = {0};
    compare_clients(RAW_BIG, RAW_URL "max_response_size: 100000", 1, 0, LOOSE_BYTES, e);
    assert_int_equal(e[0].status, 0);
    assert_string_equal(e[0].code, "1060");
    assert_non_null(strstr(e[0].error, "max_response_size (100000 bytes)"));
    exchanges_free(e, 1);

    compare_clients(RAW_BIG, RAW_URL "max_response_size: 300000", 1, 0, SAME_ALL, e);
    assert_int_equal(e[0].status, 200);
    assert_int_equal(e[0].body_len, RAW_BIG_LEN);
    double kept = e[0].received;
    exchanges_free(e, 1);

    step_reads = VOLLEY_READS_HEADERS;   /* only a status or header check */
    compare_clients(RAW_BIG, RAW_URL, 1, 0, SAME_ALL, e);
    step_reads = VOLLEY_READS_ALL;
    assert_int_equal(e[0].status, 200);
    assert_int_equal(e[0].body_len, 0);
    assert_true(e[0].received == kept);
    exchanges_free(e, 1);
}

/* Nothing listens: refused, like curl, and no timings on either. */
static void test_fast_refused(void **state)
{
    (void)state;
    const char *yaml = "url: http://127.0.0.1:1/x";
    char out[2][16];
    for (int k = 0; k < 2; k++) {
        use_client(k ? "auto" : "curl");
        void *st = compile(yaml);
        assert_non_null(st);
        run1(st);
        assert_int_equal(F.th.done.status, 0);
        assert_non_null(strstr(F.th.done.error, "dial: connection refused: Failed to connect to "
                                                "127.0.0.1 port 1 after "));
        snprintf(out[k], sizeof out[k], "%s", th_last(&F.th, "http_req_failed")->tags.error_code);
        assert_int_equal(th_count(&F.th, "http_reqs"), 1);
        assert_timings_sane(0);
    }
    restore_client();
    assert_string_equal(out[0], "1212");
    assert_string_equal(out[1], "1212");
}

/* The timeout is a timer: it fires at the step's timeout while the server
 * keeps quiet, not when something finally arrives. */
static void test_fast_timeout(void **state)
{
    (void)state;
    raw_start(RAW_NEVER);
    char yaml[128];
    snprintf(yaml, sizeof yaml, RAW_URL "timeout: 200ms", R.port);
    void *st = compile(yaml);
    assert_non_null(st);
    uint64_t t0 = uv_hrtime();
    run1(st);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    raw_stop();
    assert_true(ms >= 190.0 && ms < 2000.0);
    assert_int_equal(F.th.done.status, 0);
    assert_non_null(strstr(F.th.done.error, "request timeout"));
    assert_string_equal(th_last(&F.th, "http_req_failed")->tags.error_code, "1050");
    assert_timings_sane(0);
    assert_true(F.th.done.duration_ms > 150.0);
}

/* The request bytes: what the server got is what curl sends, for bodies,
 * templated parts, header overrides and empty values, query strings. */
static void test_fast_request_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        bool fast;   /* sent by the fast path (else: curl, url rewritten) */
        bool v6;     /* the server listens on [::1] */
    } cases[] = {
        {RAW_URL, true, false},
        {"url: \"http://127.0.0.1:%d/x?vu=${vu.id}&it=${vu.iteration}&q=a/b?c&e=\"", true, false},
        {"url: http://localhost:%d/x/%%2e/y?b=[1]{2}|3", true, false},
        {"url: \"http://[::1]:%d/v6?vu=${vu.id}\"\nmethod: POST\nbody: six", true, true},
        {RAW_URL "method: POST", true, false},
        {RAW_URL "method: POST\njson: {a: 1, vu: \"${vu.id}\", l: [true, null]}", true, false},
        {RAW_URL "method: PUT\nbody: \"id=${vu.id}\"\nheaders: {X-It: \"${vu.iteration}\", "
                 "Accept: text/x, X-E: \"\", X-B: \" \"}", true, false},
        {RAW_URL "method: PATCH\nbody: fixed\nheaders: {content-type: text/plain}", true, false},
        {RAW_URL "method: DELETE\nheaders: {Host: example.com, User-Agent: \"u/${vu.id}\"}", true, false},
        {RAW_URL "method: OPTIONS\nheaders: {X-V: \"\\v\", X-T: \"a\\tb \", accept: \"\"}", true, false},
        {RAW_URL "method: GET\njson: {q: 1}\nheaders: {X-Tpl: \"${vu.id}\\r\\nInjected: 1\"}", true, false},
        {RAW_URL "method: HEAD\nheaders: {Connection: keep-alive}", true, false},
        /* what curl would rewrite goes to curl, request by request */
        {"url: \"http://127.0.0.1:%d/a/${vu.id}/../b\"", false, false},
        {"url: \"http://127.0.0.1:%d/a?${vu.id}#frag\"", false, false},
    };
    exchange e[MAX_EXCHANGES] = {0};
    for (size_t i = 0; i < VOLLEY_COUNTOF(cases); i++) {
        print_message("%s\n", cases[i].yaml);
        R.v6 = cases[i].v6;
        compare_clients(RAW_MIRROR, cases[i].yaml, 2, 0, SAME_ALL, e);
        R.v6 = false;
        assert_int_equal(e[1].status, 200);
        /* a reused connection of the fast path is ready at once */
        assert_int_equal(e[1].blocked == 0.0, cases[i].fast);
        exchanges_free(e, 2);
    }
}

/* A step with `jar: NAME` sends from and stores into the VU's jar of that
 * name, not its own (k6's local new http.CookieJar()): each is invisible
 * to the other's steps; the response shows the step's jar and the VU's
 * own beside it; a lane uses its VU's named jars; a new iteration empties
 * them, as k6's local jars are new objects then. */
static void named_jar(void)
{
    raw_start(RAW_ECHO);
    void *own = raw_step();
    char yaml[192];
    snprintf(yaml, sizeof yaml, "url: http://127.0.0.1:%d/x\njar: mine", R.port);
    void *mine = compile(yaml);
    snprintf(yaml, sizeof yaml,
             "url: http://127.0.0.1:%d/x\njar: { use: other, set: [{ name: o, value: '1' }] }",
             R.port);
    void *other = compile(yaml);
    assert_non_null(own);
    assert_non_null(mine);
    assert_non_null(other);
    run1(mine);   /* its Set-Cookie goes into mine */
    assert_null(strstr(F.th.done.body, "Cookie:"));
    assert_string_equal(F.th.done.jar, "sid=abc");
    assert_string_equal(F.th.done.vu_jar, "");
    run1(own);    /* the VU's own jar is still empty */
    assert_null(strstr(F.th.done.body, "Cookie:"));
    assert_string_equal(F.th.done.jar, "sid=abc");
    assert_null(F.th.done.vu_jar);   /* a step on the VU's own jar */
    run1(other);  /* a third jar: only its jar: set cookie */
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: o=1\r\n"));
    assert_string_equal(F.th.done.jar, "o=1; sid=abc");
    assert_string_equal(F.th.done.vu_jar, "sid=abc");
    run1(mine);
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: sid=abc\r\n"));
    /* a lane uses its VU's named jar */
    F.ops->lane_init(F.ws, F.vs[1], F.vs[0]);
    int n = F.th.done.count;
    start(1, other);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_non_null(strstr(F.th.done.body, "\r\nCookie: o=1; sid=abc\r\n"));
    /* another VU has its own named jars */
    n = F.th.done.count;
    start(2, mine);
    assert_int_equal(th_run_until(&F.th, n + 1, 5000), n + 1);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    /* the next iteration: every jar is new, the VU's own too */
    F.vu[0]->iteration++;
    run1(mine);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    assert_string_equal(F.th.done.vu_jar, "");   /* its own, emptied as well */
    run1(own);
    assert_null(strstr(F.th.done.body, "Cookie:"));
    raw_stop();
}

static void test_named_jar(void **state)
{
    (void)state;
    named_jar();
}

static void test_named_jar_curl(void **state)
{
    (void)state;
    use_client("curl");
    named_jar();
    restore_client();
}

/* jar: NAME at load time: `vu` is the VU's own jar, a bad name and a ninth
 * name are refused; use alone needs no operation. */
static void test_named_jar_config(void **state)
{
    (void)state;
    void *st = compile("url: http://127.0.0.1:1/x\njar: { use: vu }");
    assert_non_null(st);
    assert_null(compile("url: http://127.0.0.1:1/x\njar: 9lives"));
    assert_non_null(strstr(F.err, "jar.use: \"9lives\" is not a jar name"));
    assert_null(compile("url: http://127.0.0.1:1/x\njar: {}"));
    assert_non_null(strstr(F.err, "expected at least one of use, clear, delete, set"));
    char yaml[96];
    for (int i = 0; i < 8; i++) {
        snprintf(yaml, sizeof yaml, "url: http://127.0.0.1:1/x\njar: j%d", i);
        assert_non_null(compile(yaml));
    }
    assert_non_null(compile("url: http://127.0.0.1:1/x\njar: j3"));   /* a known one */
    assert_null(compile("url: http://127.0.0.1:1/x\njar: j8"));
    print_message("  %s\n", F.err);
    assert_non_null(strstr(F.err, "jar.use: \"j8\" is a named jar too many"));
}

/* Set-Cookie on either client: the cookies k6's jar (Go's) keeps go into
 * the VU's jar, and its next request sends them on one line, longer paths
 * first, on the same client. */
static void test_fast_cookie_bridge(void **state)
{
    (void)state;
    exchange e[MAX_EXCHANGES] = {0};
    compare_clients(RAW_COOKIE, RAW_URL, 2, 0, LOOSE_CONNS, e);
    assert_null(strstr(e[0].body, "Cookie:"));
    const char *cookie = strstr(e[1].body, "\r\nCookie: ");
    assert_non_null(cookie);
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(cookie + 2, "\r"), cookie + 2);
    print_message("  %s\n", line);
    /* g: path /x first; a, c (default path /) in the order set; b is
     * Secure, sent over https:// only (k6); d: another path; e: expired;
     * f: another domain */
    assert_string_equal(line, "Cookie: g=7; a=1; c=3");
    assert_null(strstr(e[1].body + (cookie - e[1].body) + 2, "\r\nCookie:"));   /* one line */
    assert_null(strstr(line, "b=2"));
    assert_null(strstr(line, "d=4"));   /* another path */
    assert_null(strstr(line, "e=5"));   /* expired */
    assert_null(strstr(line, "f=6"));   /* another domain */
    exchanges_free(e, 2);
}

/* A redirect answered on the fast path goes on through curl: a relative
 * Location resolved against the request url, 307 to nginx; one sample set
 * per hop; the step then stays on curl. */
static void test_fast_redirect_chain(void **state)
{
    (void)state;
    exchange e[MAX_EXCHANGES] = {0};
    compare_clients(RAW_REDIRECT_REL, RAW_URL "method: POST\nbody: abc", 2, 0, SAME_ALL, e);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(e[i].status, 200);
        assert_string_equal(e[i].body, FAST_BODY);
        assert_int_equal(e[i].hops, 3);
    }
    exchanges_free(e, 2);
}

/* A server on its own thread (blocking sockets): it answers the first
 * connection's request, then says 408 and closes it 100 ms later; later
 * connections just get their answer. */
static void *stale_server(void *arg)
{
    int srv = *(int *)arg;
    for (int k = 0; k < 2; k++) {
        int fd = accept(srv, NULL, NULL);
        if (fd < 0)
            return NULL;
        char buf[4096];
        size_t len = 0;
        while (!memmem(buf, len, "\r\n\r\n", 4)) {
            ssize_t n = read(fd, buf + len, sizeof buf - len);
            if (n <= 0)
                break;
            len += (size_t)n;
        }
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        static const char late[] =
            "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (write(fd, ok, sizeof ok - 1) < 0)
            break;
        if (k == 0) {
            usleep(100000);
            if (write(fd, late, sizeof late - 1) < 0)
                break;
        } else {
            while (read(fd, buf, sizeof buf) > 0)   /* until the client closes */
                ;
        }
        close(fd);
    }
    return NULL;
}

/* The server timed the idle connection out (a 408, then FIN) just before
 * the VU reuses it, and the loop has not seen it yet: the fast path finds
 * it dead before the request goes out, so the answer is the new
 * connection's 200, as with k6 (Go drops an unsolicited response). curl
 * 7.88 reuses the connection and reports the stale 408: not compared. */
static void test_fast_stale_connection(void **state)
{
    (void)state;
    use_client("auto");
    int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(srv, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv, 4), 0);
    assert_int_equal(getsockname(srv, (struct sockaddr *)&a, &alen), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stale_server, &srv), 0);
    char yaml[128];
    snprintf(yaml, sizeof yaml, "url: http://127.0.0.1:%d/x", ntohs(a.sin_port));
    void *st = compile(yaml);
    assert_non_null(st);
    run1(st);
    assert_int_equal(F.th.done.status, 200);
    usleep(1200000);   /* the loop does not run: the 408 and FIN wait */
    run1(st);
    assert_int_equal(F.th.done.status, 200);
    assert_string_equal(F.th.done.body, "ok");
    assert_true(th_last(&F.th, "http_req_connecting")->value > 0.0);
    for (int i = 0; i < MAX_VUS; i++)
        F.ops->vu_fini(F.ws, F.vs[i]);   /* the server thread sees its EOF */
    pthread_join(t, NULL);
    close(srv);
    restore_client();
}

/* ---- connection_reuse ---- */

/* The requests of one run: nginx's connection serial number (/conn), the
 * Connection header it got, new connection or not, data_sent. */
#define REUSE_MAX 12

typedef struct reuse_run {
    int n;
    long conn[REUSE_MAX];
    char header[REUSE_MAX][16];
    double connecting[REUSE_MAX], blocked[REUSE_MAX], sent[REUSE_MAX];
} reuse_run;

static void reuse_note(reuse_run *out)
{
    assert_true(out->n < REUSE_MAX);
    assert_int_equal(F.th.done.status, 200);
    const char *c = strstr(F.th.done.body, "\"connection\":");
    const char *h = strstr(F.th.done.body, "\"header\":\"");
    assert_non_null(c);
    assert_non_null(h);
    int i = out->n++;
    out->conn[i] = strtol(c + 13, NULL, 10);
    snprintf(out->header[i], sizeof out->header[i], "%.*s", (int)strcspn(h + 10, "\""), h + 10);
    out->connecting[i] = th_last(&F.th, "http_req_connecting")->value;
    out->blocked[i] = th_last(&F.th, "http_req_blocked")->value;
    out->sent[i] = th_last(&F.th, "data_sent")->value;
}

/*
 * curl's connect time is a difference of its microsecond counters; the
 * fast path's comes from the host's nanosecond clock, so its new
 * connections almost never show whole microseconds: which client ran.
 */
static bool whole_us(double ms)
{
    double us = ms * 1000.0;
    return us - (double)(long long)(us + 0.5) < 1e-6 && (double)(long long)(us + 0.5) - us < 1e-6;
}

/* iterations x per_iter requests of VU 1 with the given step options (a
 * format with the nginx url as %s), on the given client. */
static void reuse_requests(const char *client, const char *opts, int iterations, int per_iter,
                           reuse_run *out)
{
    use_client(client);
    char yaml[256];
    snprintf(yaml, sizeof yaml, "url: %s/conn\n%s", TEST_NGINX_URL, opts);
    void *st = compile(yaml);
    assert_non_null(st);
    memset(out, 0, sizeof *out);
    for (int it = 0; it < iterations; it++) {
        F.vu[0]->iteration = (uint64_t)it;
        for (int k = 0; k < per_iter; k++) {
            run1(st);
            reuse_note(out);
        }
    }
    assert_timings_sane((size_t)out->n);
    if (strcmp(client, "curl") == 0)
        for (int i = 0; i < out->n; i++)
            assert_true(whole_us(out->connecting[i]));
}

/* The fast path ran every request that opened a connection. */
static void assert_fast(const reuse_run *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->connecting[i] > 0.0)
            assert_false(whole_us(r->connecting[i]));
}

/* Both clients open and reuse connections at the same requests and send
 * the same bytes. */
static void assert_same_runs(const reuse_run *a, const reuse_run *b)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        assert_int_equal(a->connecting[i] > 0.0, b->connecting[i] > 0.0);
        assert_string_equal(a->header[i], b->header[i]);
        assert_true(a->sent[i] == b->sent[i]);
        for (int j = 0; j < i; j++)
            assert_int_equal(a->conn[i] == a->conn[j], b->conn[i] == b->conn[j]);
    }
}

/*
 * k6's three: keep-alive across iterations (default), noConnectionReuse
 * (close: a new connection per request, which says Connection: close) and
 * noVUConnectionReuse (per_iteration: the first request of each iteration
 * opens one, the others of the iteration reuse it). New connections show
 * in http_req_connecting and http_req_blocked on both clients; the fast
 * path runs them all itself.
 */
static void test_connection_reuse(void **state)
{
    (void)state;
    static const char *const clients[] = {"curl", "auto"};
    reuse_run keep[2], close[2], iter[2];
    for (int c = 0; c < 2; c++) {
        reuse_requests(clients[c], "", 2, 2, &keep[c]);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(keep[c].conn[i], keep[c].conn[0]);
            assert_int_equal(keep[c].connecting[i] > 0.0, i == 0);
            assert_string_equal(keep[c].header[i], "");
        }
        reuse_requests(clients[c], "connection_reuse: close", 2, 2, &close[c]);
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < i; j++)
                assert_true(close[c].conn[i] != close[c].conn[j]);
            assert_true(close[c].connecting[i] > 0.0);
            assert_true(close[c].blocked[i] >= close[c].connecting[i]);
            assert_string_equal(close[c].header[i], "close");
            assert_true(close[c].sent[i] == keep[c].sent[i] + 19);   /* Connection: close */
        }
        reuse_requests(clients[c], "connection_reuse: per_iteration", 3, 3, &iter[c]);
        for (int i = 0; i < 9; i++) {
            int first = i - i % 3;
            assert_int_equal(iter[c].conn[i], iter[c].conn[first]);
            assert_int_equal(iter[c].connecting[i] > 0.0, i == first);
            assert_true(iter[c].blocked[i] >= iter[c].connecting[i]);
            if (i == first && i > 0)
                assert_true(iter[c].conn[i] != iter[c].conn[i - 3]);
            assert_string_equal(iter[c].header[i], "");
            assert_true(iter[c].sent[i] == keep[c].sent[0]);
        }
    }
    restore_client();
    assert_same_runs(&keep[0], &keep[1]);
    assert_same_runs(&close[0], &close[1]);
    assert_same_runs(&iter[0], &iter[1]);
    assert_fast(&close[1]);
    assert_fast(&iter[1]);
    /* reuse on the fast path is ready at once (curl waits a loop turn) */
    assert_true(iter[1].blocked[1] == 0.0);
    assert_true(iter[0].blocked[1] > 0.0);
}

/* close with the step's own Connection header: no second one is added,
 * nginx keeps the connection open, and the client still closes it. */
static void test_connection_reuse_own_header(void **state)
{
    (void)state;
    reuse_run r[2];
    static const char *const clients[] = {"curl", "auto"};
    for (int c = 0; c < 2; c++) {
        reuse_requests(clients[c], "connection_reuse: close\nheaders: {connection: keep-alive}",
                       1, 3, &r[c]);
        for (int i = 0; i < 3; i++) {
            assert_string_equal(r[c].header[i], "keep-alive");
            assert_true(r[c].connecting[i] > 0.0);
            for (int j = 0; j < i; j++)
                assert_true(r[c].conn[i] != r[c].conn[j]);
        }
    }
    restore_client();
    assert_same_runs(&r[0], &r[1]);
    assert_fast(&r[1]);
}

/*
 * Steps of different modes in one VU: the first per_iteration request of
 * an iteration opens a connection even when a keep step has one to the
 * host; close leaves the VU's keep-alive connections alone. Which idle
 * connection a reuse takes may differ (curl takes the oldest of its
 * group's, the fast path the VU's latest); whether a request opens one
 * does not.
 */
static void test_connection_reuse_mixed(void **state)
{
    (void)state;
    static const char *const clients[] = {"curl", "auto"};
    /* keep, per_iteration, close, keep, per_iteration; twice */
    static const bool opens[] = {1, 1, 1, 0, 0, 0, 1, 1, 0, 0};
    reuse_run r[2];
    for (int c = 0; c < 2; c++) {
        use_client(clients[c]);
        void *keep = compile("url: ${services.nginx}/conn");
        void *iter = compile("url: ${services.nginx}/conn\nconnection_reuse: per_iteration");
        void *close = compile("url: ${services.nginx}/conn\nconnection_reuse: close");
        assert_non_null(keep);
        assert_non_null(iter);
        assert_non_null(close);
        memset(&r[c], 0, sizeof r[c]);
        void *const flow[] = {keep, iter, close, keep, iter};
        for (int it = 0; it < 2; it++) {
            F.vu[0]->iteration = (uint64_t)it;
            for (size_t k = 0; k < VOLLEY_COUNTOF(flow); k++) {
                run1(flow[k]);
                reuse_note(&r[c]);
            }
        }
        for (int i = 0; i < 10; i++)
            assert_int_equal(r[c].connecting[i] > 0.0, opens[i]);
        assert_true(r[c].conn[1] != r[c].conn[0]);
        assert_true(r[c].conn[6] != r[c].conn[1] && r[c].conn[6] != r[c].conn[0]);
    }
    restore_client();
    for (int i = 0; i < 10; i++) {
        assert_string_equal(r[0].header[i], r[1].header[i]);
        assert_true(r[0].sent[i] == r[1].sent[i]);
    }
    /* the fast path: per_iteration reuses the connection it opened */
    assert_int_equal(r[1].conn[4], r[1].conn[1]);
    assert_int_equal(r[1].conn[9], r[1].conn[6]);
}

static long reuse_seen[64];
static int reuse_n_seen, reuse_connects;

/* step_done of test_connection_reuse_many_vus: notes each response as it
 * comes (its samples are recorded just before). */
static void reuse_many_done(volley_vu *vu, const volley_response *r)
{
    orig_step_done(vu, r);
    reuse_run one = {0};
    reuse_note(&one);
    reuse_connects += one.connecting[0] > 0.0;
    bool dup = false;
    for (int j = 0; j < reuse_n_seen; j++)
        dup |= reuse_seen[j] == one.conn[0];
    if (!dup && reuse_n_seen < 64)
        reuse_seen[reuse_n_seen++] = one.conn[0];
}

/*
 * Many VUs, per_iteration: one new connection per VU and iteration on
 * both clients (curl pools connections per group of VUs, and closes
 * those of a VU's last iteration when it starts the next), and no
 * connection outlives the iteration after the one that opened it.
 */
static void test_connection_reuse_many_vus(void **state)
{
    (void)state;
    static const char *const clients[] = {"curl", "auto"};
    enum { VUS = 8, ITERS = 4, PER = 2 };
    for (int c = 0; c < 2; c++) {
        use_client(clients[c]);
        void *st = compile("url: ${services.nginx}/conn\nconnection_reuse: per_iteration");
        assert_non_null(st);
        orig_step_done = F.th.host.step_done;
        F.th.host.step_done = reuse_many_done;
        reuse_n_seen = reuse_connects = 0;
        for (int it = 0; it < ITERS; it++) {
            for (int k = 0; k < PER; k++) {
                int n = F.th.done.count;
                for (int v = 0; v < VUS; v++) {
                    F.vu[v]->iteration = (uint64_t)it;
                    start(v, st);
                }
                assert_int_equal(th_run_until(&F.th, n + VUS, 10000), n + VUS);
            }
            /* open sockets: at most the VUs' current and last connections */
            assert_true(count_fds() - F.fds_before <= 2 * VUS);
        }
        F.th.host.step_done = orig_step_done;
        assert_int_equal(reuse_connects, VUS * ITERS);
        assert_int_equal(reuse_n_seen, VUS * ITERS);
    }
    restore_client();
}

/* ---- bench mode ---- */

static long bench_left;

static void bench_sample(volley_vu *vu, int metric, double value, const volley_tags *tags)
{
    (void)vu, (void)metric, (void)value, (void)tags;
}

static void bench_done(volley_vu *vu, const volley_response *r)
{
    F.th.done.count++;
    uv_stop(&F.th.loop);   /* see stop_done */
    if (r->status != 200)
        reissue_bad++;
    if (bench_left > 0) {
        bench_left--;
        int i = (int)vu->id - 1;
        if (F.ops->step_start(F.ws, reissue_step, F.vu[i], F.vs[i]) != 0)
            reissue_bad++;
    }
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static int bench(long n, int vus)
{
    if (vus < 1 || vus > MAX_VUS)
        vus = MAX_VUS;
    if (setup(NULL) != 0)
        return 1;
    const char *url = getenv("VOLLEY_HTTP_BENCH_URL");
    char yaml[512];
    snprintf(yaml, sizeof yaml, "url: %s", url ? url : "${services.nginx}/fast");
    reissue_step = compile(yaml);
    if (!reissue_step) {
        fprintf(stderr, "bench: %s\n", F.err);
        return 1;
    }
    F.th.host.sample = bench_sample;
    F.th.host.step_done = bench_done;
    /* warm up: connections open */
    bench_left = 4L * vus;
    for (int i = 0; i < vus; i++)
        start(i, reissue_step);
    th_run_until(&F.th, (int)bench_left + vus, 60000);
    uint64_t t0 = uv_hrtime();
    double c0 = cpu_s();
    int base = F.th.done.count;
    bench_left = n - vus;
    for (int i = 0; i < vus; i++)
        start(i, reissue_step);
    th_run_until(&F.th, base + (int)n, 600000);
    double wall = (double)(uv_hrtime() - t0) / 1e9, cpu = cpu_s() - c0;
    int done = F.th.done.count - base;
    printf("bench: %d requests, %d VUs, %d bad: %.0f req/s, CPU %.1f%%, %.2f us CPU/request\n",
           done, vus, reissue_bad, done / wall, 100.0 * cpu / wall, 1e6 * cpu / done);
    F.th.done.count = 0;
    teardown(NULL);
    return 0;
}

int main(void)
{
    saved_client = getenv("VOLLEY_HTTP_CLIENT") ? strdup(getenv("VOLLEY_HTTP_CLIENT")) : NULL;
    for (int i = 0; i < RAW_BIG_LEN; i++)
        big_body[i] = (char)('a' + i % 26);
    const char *b = getenv("VOLLEY_HTTP_BENCH");
    if (b) {
        const char *v = getenv("VOLLEY_HTTP_BENCH_VUS");
        return bench(atol(b), v ? atoi(v) : MAX_VUS);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_fast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_vus_keep_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_json_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_template, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_and_step_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_body_is_fine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_localhost_pinned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templated_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_slow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fini_from_step_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_closes_idle_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_vus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_framings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_connection_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_retry_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_request_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_cookie_bridge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lane_shares_the_jar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_jar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_jar_curl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_jar_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_redirect_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_stale_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_reuse_own_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_reuse_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_reuse_many_vus, setup, teardown),
    };
    /* TEST_FILTER=test_fast_* runs a subset */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
