/*
 * http: the HTTP/1.1 and HTTP/2 protocol plugin. This file is its top: the
 * descriptor, the plugin instance, worker_init/worker_fini and the per-VU
 * request cycle, which sends each request down one of two clients.
 *
 * HTTP/1.1 requests over http:// and https:// go to the fast path
 * (http_raw.c, TLS in http_tls.c) when they can; everything else, and what
 * the fast path hands over (redirects, HTTP/2), runs on libcurl (http_curl.c, on the worker's multis of http_loop.c).
 * http_int.h has the file map and which file may call which.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* ------------------------------------------------------------------------ */
/* Plugin instance                                                           */
/* ------------------------------------------------------------------------ */

static void http_destroy(void *inst)
{
    http_plugin *p = inst;
    if (!p)
        return;
    ptls_set_free(&p->tls);
    http_tls_global_free();
    free(p);
    curl_global_cleanup();
}

static void *http_create(const volley_host *host, volley_core *core, char *err, size_t errcap)
{
    /* PREREQFUNCTION needs 7.80, PROTOCOLS_STR 7.85. */
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!v || v->version_num < 0x075500) {
        snprintf(err, errcap, "libcurl %s is too old (7.85 or newer needed)",
                 v ? v->version : "?");
        return NULL;
    }
    if (host->size < offsetof(volley_host, template_map_urlencode) + sizeof host->template_map_urlencode) {
        snprintf(err, errcap, "the host is older than this plugin (no template_map_urlencode)");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errcap, "curl_global_init failed");
        return NULL;
    }
    http_plugin *p = calloc(1, sizeof *p);
    if (!p) {
        curl_global_cleanup();
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    p->host = host;
    p->core = core;
    /* Read once: VOLLEY_HTTP_CLIENT=curl runs every request on libcurl. */
    const char *client = getenv("VOLLEY_HTTP_CLIENT");
    if (client && *client && strcmp(client, "curl") != 0 && strcmp(client, "auto") != 0) {
        snprintf(err, errcap, "VOLLEY_HTTP_CLIENT: expected \"curl\" or \"auto\", got \"%s\"",
                 client);
        http_destroy(p);
        return NULL;
    }
    p->raw_enabled = !client || strcmp(client, "curl") != 0;
    /* VOLLEY_HTTP_FAST_TLS=off keeps https:// on curl (for comparing) */
    const char *fast_tls = getenv("VOLLEY_HTTP_FAST_TLS");
    if (fast_tls && *fast_tls && strcmp(fast_tls, "on") != 0 && strcmp(fast_tls, "off") != 0) {
        snprintf(err, errcap, "VOLLEY_HTTP_FAST_TLS: expected \"on\" or \"off\", got \"%s\"",
                 fast_tls);
        http_destroy(p);
        return NULL;
    }
    p->raw_tls = p->raw_enabled && !(fast_tls && strcmp(fast_tls, "off") == 0);
    if (http_result_init(p, err, errcap) != 0) {
        http_destroy(p);
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Worker                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Takes the remaining transfers out of their multis, releases the fast
 * path's VU states and connections, then lets http_loop.c close the
 * multis and uv handles; the worker is freed by the last close callback.
 * During a drain of finished transfers it is only noted, and http_drain
 * runs it when the outermost drain returns.
 */
static void http_worker_fini(void *wstate)
{
    http_worker *w = wstate;
    if (!w || w->closing)
        return;
    if (w->dispatching) {
        w->fini_pending = true;
        return;
    }
    while (w->active)
        http_curl_deactivate(w, w->active);
    w->closing = true;
    http_raw_fini(w);
    http_worker_close(w);
}

static void *http_worker_init(void *inst, volley_worker *vw, char *err, size_t errcap)
{
    return http_worker_new(inst, vw, http_worker_fini, err, errcap);
}

/* ------------------------------------------------------------------------ */
/* The per-VU request cycle                                                  */
/* ------------------------------------------------------------------------ */

static int http_step_start(void *wstate, void *step, volley_vu *vu, void *vu_state)
{
    http_worker *w = wstate;
    http_vu *vs = vu_state;
    const http_step *st = step;
    if (w->closing)
        return -1;
    if (vs->active)
        http_curl_deactivate(w, vs);
    vs->w = w;
    vs->vu = vu;
    vs->step = st;
    vs->redirects = 0;
    if (http_cookie_select(vs, st) != 0)
        return -1;
    /* Cookies cost nothing to a VU without any and a step without any:
     * the jar's lifetime and the step's jar: operations, then each client
     * builds the Cookie header for its request url. */
    if (st->cookie_parts || http_vu_jar(vs)->n) {
        if (st->n_jar_ops && !st->url_text && http_render_url(w->host, vs, st) != 0)
            return -1;
        if (http_cookie_start(vs, st) != 0)
            return -1;
    }
    if (st->raw && !atomic_load_explicit(&st->curl_only, memory_order_relaxed)) {
        int rc = http_raw_start(w, vs, st);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
    }
    if (!http_easy(w, vs))
        return -1;
    if (st->reuse == HTTP_REUSE_ITERATION)
        http_iter_begin(w, vs);
    return http_curl_start(w, vs, st);
}

static void http_step_cancel(void *wstate, volley_vu *vu, void *vu_state)
{
    (void)vu;
    http_vu *vs = vu_state;
    if (vs->active)
        http_curl_deactivate(wstate, vs);
    if (vs->raw)
        http_raw_cancel(vs);
}

static void http_vu_fini(void *wstate, void *vu_state)
{
    (void)wstate;
    http_vu *vs = vu_state;
    if (vs->raw)
        http_raw_release(vs);
    if (vs->active)
        http_curl_deactivate(vs->w, vs);
    http_iter_end(vs->w, vs);
    if (vs->easy)
        http_easy_free(vs);   /* may free the worker: the last use of it */
    free(vs->resp.headers.data);
    free(vs->resp.body.data);
    free(vs->url.data);
    free(vs->reqbody.data);
    free(vs->hdrtext.data);
    free(vs->rawreq.data);
    free(vs->hnodes);
    http_cookie_free(vs);
    memset(vs, 0, sizeof *vs);
}

/* A batch's lane shares its VU's cookie jars, as k6's http.batch does: its
 * requests send the VU's cookies and what their responses set is the
 * VU's (its own jar, or the step's named one). One worker thread runs both
 * states: no lock. */
static void http_lane_init(void *wstate, void *lane_state, void *owner_state)
{
    (void)wstate;
    http_vu *lane = lane_state, *owner = owner_state;
    lane->lane = true;
    if (owner)
        lane->jar_owner = owner->jar_owner ? owner->jar_owner : owner;
}

/* ------------------------------------------------------------------------ */
/* Descriptor                                                                */
/* ------------------------------------------------------------------------ */

/* The `name` tag of the step's samples: its `name` option, else its url. */
static const char *http_step_name(void *inst, const void *step)
{
    (void)inst;
    return ((const http_step *)step)->tag_name;
}

/* Its steps may run in a batch; the host its per-host limit counts. */
static const char *http_step_host(void *inst, const void *step)
{
    (void)inst;
    return ((const http_step *)step)->batch_host;
}

static const volley_protocol_ops ops = {
    .size = sizeof(volley_protocol_ops),
    .step_key = "http",
    .step_options = &http_step_options,
    .vu_state_size = sizeof(http_vu),
    .create = http_create,
    .destroy = http_destroy,
    .step_compile = http_step_compile,
    .step_free = http_step_free,
    .worker_init = http_worker_init,
    .worker_fini = http_worker_fini,
    .step_start = http_step_start,
    .step_cancel = http_step_cancel,
    .vu_fini = http_vu_fini,
    .step_name = http_step_name,
    .step_host = http_step_host,
    .lane_init = http_lane_init,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_PROTOCOL, .name = "http", .version = "0.1.0",
                     .description = "HTTP/1.1 and HTTP/2 requests (own HTTP/1.1 client, libcurl)",
                     .protocol = &ops)
