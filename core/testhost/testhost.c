#include "testhost.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "options.h"
#include "secret.h"
#include "yaml_tree.h"

/* The host functions get no context argument for VU-based calls, so the
 * VU's worker pointer leads back to the testhost. One testhost per process
 * is all the tests need; this pointer is test-only state. */
static testhost *g_th;

static uint64_t h_now(void) { return uv_hrtime(); }

/* One line on stderr: the prefix, then the message. */
static void say(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void h_log(volley_core *core, int level, const char *fmt, ...)
{
    (void)core;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "[plugin log %d] ", level);
    va_list ap;
    va_start(ap, fmt);
    say(prefix, fmt, ap);
    va_end(ap);
}

/* config_error / config_warning: the test host has no spec places; the
 * text goes to stderr (plugins put it in step_compile's err as well). */
static void h_config_error(volley_core *core, const void *field, const char *fmt, ...)
{
    (void)core, (void)field;
    va_list ap;
    va_start(ap, fmt);
    say("[plugin config error] ", fmt, ap);
    va_end(ap);
}

static void h_config_warning(volley_core *core, const void *field, const char *fmt, ...)
{
    (void)core, (void)field;
    va_list ap;
    va_start(ap, fmt);
    say("[plugin config warning] ", fmt, ap);
    va_end(ap);
}

static int h_metric_register(volley_core *core, const char *name, volley_metric_type type,
                             volley_metric_contains contains, char *err, size_t errcap)
{
    testhost *th = (testhost *)core;
    for (int i = 0; i < th->n_metrics; i++) {
        if (strcmp(th->metrics[i].name, name) == 0) {
            if (th->metrics[i].type != type) {
                snprintf(err, errcap, "metric %s registered with another type", name);
                return -1;
            }
            return i;
        }
    }
    if (th->n_metrics == TH_MAX_METRICS) {
        snprintf(err, errcap, "too many metrics");
        return -1;
    }
    th->metrics[th->n_metrics] = (volley_metric_info){
        .name = arena_strdup(&th->a, name), .type = type, .contains = contains};
    return th->n_metrics++;
}

static void h_sample(volley_vu *vu, int metric, double value, const volley_tags *tags)
{
    (void)vu;
    testhost *th = g_th;
    if (th->n_samples == th->cap_samples) {
        th->cap_samples = th->cap_samples ? th->cap_samples * 2 : 256;
        th->samples = realloc(th->samples, th->cap_samples * sizeof *th->samples);
    }
    th->samples[th->n_samples++] = (th_sample){.metric = metric, .value = value,
                                               .tags = tags ? *tags : (volley_tags)VOLLEY_TAGS_INIT};
}

static const volley_metric_info *h_metric_info(volley_core *core, uint32_t id)
{
    testhost *th = (testhost *)core;
    return (int)id < th->n_metrics ? &th->metrics[id] : NULL;
}

static void *h_worker_loop(volley_worker *w) { return &((testhost *)w)->loop; }
static int h_worker_index(volley_worker *w) { (void)w; return 0; }
static volley_worker *h_vu_worker(volley_vu *vu) { (void)vu; return g_th->worker; }
static uint64_t h_vu_id(volley_vu *vu) { return vu->id; }
static uint64_t h_vu_iteration(volley_vu *vu) { return vu->iteration; }

static char *dupn(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *p = malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void h_step_done(volley_vu *vu, const volley_response *r)
{
    th_done *d = &g_th->done;
    free(d->error);
    free(d->headers);
    free(d->body);
    free(d->jar);
    free(d->vu_jar);
    d->count++;
    d->vu = vu;
    d->status = r ? r->status : -1;
    d->error = r && r->error ? strdup(r->error) : NULL;
    d->headers = r ? dupn(r->headers, r->headers_len) : NULL;
    d->body = r ? dupn(r->body, r->body_len) : NULL;
    d->body_len = r ? r->body_len : 0;
    d->duration_ms = r ? r->duration_ms : 0;
    d->jar = r && r->jar ? dupn(r->jar, r->jar_len) : NULL;
    d->vu_jar = r && r->vu_jar ? dupn(r->vu_jar, r->vu_jar_len) : NULL;
    /* th_run_until checks its target when uv_run returns: make it return
     * now, not after the next unrelated event. */
    uv_stop(&g_th->loop);
}

static const char *h_template_const(const volley_template *t) { return tmpl_const(t); }
static int h_template_render(const volley_template *t, volley_vu *vu, volley_buf *out)
{
    return tmpl_render(t, vu, out);
}
static const char *h_json_const(const volley_json *j) { return tjson_const(j); }
static int h_json_render(const volley_json *j, volley_vu *vu, volley_buf *out)
{
    return tjson_render(j, vu, out);
}

static const char *scope_env(void *ctx, const char *name) { (void)ctx; return getenv(name); }
static const char *scope_service(void *ctx, const char *name)
{
    testhost *th = ctx;
    for (int i = 0; i < th->n_services; i++)
        if (strcmp(th->services[i][0], name) == 0)
            return th->services[i][1];
    return NULL;
}

int th_service(testhost *th, const char *name, const char *url)
{
    if (th->n_services == 8)
        return -1;
    th->services[th->n_services][0] = name;
    th->services[th->n_services][1] = url;
    th->n_services++;
    return 0;
}

int th_init(testhost *th)
{
    memset(th, 0, sizeof *th);
    g_th = th;
    th->host = (volley_host){
        .abi = VOLLEY_ABI_VERSION, .size = sizeof(volley_host),
        .now_ns = h_now, .log = h_log, .metric_register = h_metric_register,
        .sample = h_sample, .metric_info = h_metric_info,
        .worker_loop = h_worker_loop, .worker_index = h_worker_index,
        .vu_worker = h_vu_worker, .vu_id = h_vu_id, .vu_iteration = h_vu_iteration,
        .step_done = h_step_done, .template_const = h_template_const,
        .template_render = h_template_render, .json_const = h_json_const,
        .json_render = h_json_render, .buf_reserve = vbuf_reserve,
        .memo_get = memo_get, .memo_put = memo_put, .template_display = tmpl_display,
        .template_map_urlencode = tmpl_map_urlencode, .revision = VOLLEY_ABI_REVISION,
        .value_get = check_value_get, .config_error = h_config_error,
        .config_warning = h_config_warning, .redact = secret_host_redact};
    arena_init(&th->a);
    diag_init(&th->d);
    th->scope = (tmpl_scope){.ctx = th, .env = scope_env, .service = scope_service};
    th->worker = (volley_worker *)th;
#ifdef TEST_NGINX_URL
    th_service(th, "nginx", TEST_NGINX_URL);
#endif
    return uv_loop_init(&th->loop);
}

void th_fini(testhost *th)
{
    th_drain(th);
    uv_loop_close(&th->loop);
    free(th->samples);
    free(th->done.error);
    free(th->done.headers);
    free(th->done.body);
    free(th->done.jar);
    free(th->done.vu_jar);
    for (int i = 0; i < th->n_dl; i++)
        dlclose(th->dl[i]);
    for (size_t i = 0; i < th->n_trees; i++)
        ytree_free(th->trees[i]);
    free(th->trees);
    diag_free(&th->d);
    arena_free(&th->a);
    g_th = NULL;
}

const volley_plugin *th_load_path(testhost *th, const char *path, char *err, size_t errcap)
{
    if (th->n_dl == (int)(sizeof th->dl / sizeof th->dl[0])) {
        snprintf(err, errcap, "%s: at most %zu plugins per test host", path, sizeof th->dl / sizeof th->dl[0]);
        return NULL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errcap, "dlopen %s: %s", path, dlerror());
        return NULL;
    }
    th->dl[th->n_dl++] = h;
    volley_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, VOLLEY_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        snprintf(err, errcap, "%s: no %s symbol", path, VOLLEY_PLUGIN_ENTRY_SYMBOL);
        return NULL;
    }
    const volley_plugin *p = entry(VOLLEY_ABI_VERSION, &th->host);
    if (!p || p->abi != VOLLEY_ABI_VERSION) {
        snprintf(err, errcap, "%s: %s", path, p ? "another plugin ABI" : "the entry refused this host");
        return NULL;
    }
    return p;
}

#ifdef VOLLEY_PLUGIN_BUILD_DIR
const volley_plugin *th_load(testhost *th, const char *name)
{
    char path[1024], err[1200];
    snprintf(path, sizeof path, "%s/volley-%s.so", VOLLEY_PLUGIN_BUILD_DIR, name);
    const volley_plugin *p = th_load_path(th, path, err, sizeof err);
    if (!p)
        fprintf(stderr, "%s\n", err);
    return p;
}
#endif

int th_fill(testhost *th, const volley_option_map *map, const char *yaml, void *config)
{
    diag_free(&th->d);
    diag_init(&th->d);
    ytree *t = ytree_load_string("<test>", yaml, strlen(yaml), &th->d);
    if (!t) {
        if (!th->quiet)
            diag_print(&th->d, stderr);
        return -1;
    }
    opt_ctx c = {.a = &th->a, .scope = &th->scope, .d = &th->d};
    int rc = opt_fill(&c, map, ytree_root(t), config, "test");
    if (rc != 0 && !th->quiet)
        diag_print(&th->d, stderr);
    /* Config strings point into the tree: keep it until th_fini, as the
     * runner keeps its spec trees for the whole run. */
    if (th->n_trees == th->cap_trees) {
        size_t cap = th->cap_trees ? th->cap_trees * 2 : 16;
        ytree **p = realloc(th->trees, cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "th_fill: out of memory\n");
            ytree_free(t);
            return -1;
        }
        th->trees = p;
        th->cap_trees = cap;
    }
    th->trees[th->n_trees++] = t;
    return rc;
}

volley_vu *th_vu(testhost *th, uint64_t id)
{
    volley_vu *vu = arena_alloc(&th->a, sizeof *vu);
    vu->id = id;
    return vu;
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

int th_run_until(testhost *th, int n, int timeout_ms)
{
    int expired = 0;
    uv_timer_t timer;
    uv_timer_init(&th->loop, &timer);
    timer.data = &expired;
    uv_timer_start(&timer, on_deadline, (uint64_t)timeout_ms, 0);
    while (th->done.count < n && !expired)
        uv_run(&th->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&th->loop, UV_RUN_NOWAIT);
    return th->done.count;
}

void th_drain(testhost *th)
{
    for (int i = 0; i < 1000 && uv_run(&th->loop, UV_RUN_NOWAIT); i++)
        ;
}

int th_metric_id(testhost *th, const char *name)
{
    for (int i = 0; i < th->n_metrics; i++)
        if (strcmp(th->metrics[i].name, name) == 0)
            return i;
    return -1;
}

size_t th_count(testhost *th, const char *metric)
{
    int id = th_metric_id(th, metric);
    size_t n = 0;
    for (size_t i = 0; i < th->n_samples; i++)
        n += th->samples[i].metric == id;
    return n;
}

double th_sum(testhost *th, const char *metric)
{
    int id = th_metric_id(th, metric);
    double s = 0;
    for (size_t i = 0; i < th->n_samples; i++)
        if (th->samples[i].metric == id)
            s += th->samples[i].value;
    return s;
}

const th_sample *th_last(testhost *th, const char *metric)
{
    int id = th_metric_id(th, metric);
    for (size_t i = th->n_samples; i-- > 0;)
        if (th->samples[i].metric == id)
            return &th->samples[i];
    return NULL;
}

void th_reset_samples(testhost *th) { th->n_samples = 0; }
