/*
 * A worker's lws_contexts, on the worker's libuv loop as foreign loops
 * (LWS_SERVER_OPTION_LIBUV + foreign_loops): lws adds its own uv handles
 * (a poll per socket, its timers) to the loop the core runs; there is no
 * lws_service thread. Debian's 4.1.6 is built with LWS_MAX_SMP 1 and
 * without external-poll support, so contexts of the worker's own are the
 * way to share the loop; there are several per worker, each VU using one
 * (see contexts_wanted).
 *
 * Shutdown: worker_fini (after every VU's vu_fini detached its session)
 * calls lws_context_destroy on each, which closes lws' uv handles; the
 * core keeps running the loop until they are closed, then calls
 * worker_done, where a second lws_context_destroy frees each context, and
 * closes the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ws_int.h"

/* lws' fd tables are arrays indexed by fd, sized by fd_limit_per_thread:
 * a socket whose number is above it is refused ("Socket fd is too high").
 * The process shares fds between workers and plugins, so the limit is the
 * highest fd the process may open (the open-file limit, which the core
 * raised), capped to keep each context's tables small (16 bytes per fd). */
#define WS_FD_CAP 262144

static uv_mutex_t create_lock;
static uv_once_t create_once = UV_ONCE_INIT;
static void init_lock(void) { uv_mutex_init(&create_lock); }

static const struct lws_protocols protocols[] = {
    {.name = "volley-ws", .callback = ws_callback, .per_session_data_size = 0,
     .rx_buffer_size = 16384},
    {0},
};

/* lws' error log, without its line per refused certificate ("SSL error:
 * unable to get local issuer certificate ..."): the session is measured as
 * failed with that reason, and a run against a wrong CA would print one
 * line per session. */
static void log_emit(int level, const char *line)
{
    if (!strstr(line, "SSL error: "))
        lwsl_emit_stderr(level, line);
}

static unsigned fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return WS_FD_CAP;
    return rl.rlim_cur > WS_FD_CAP ? WS_FD_CAP : (unsigned)rl.rlim_cur;
}

/* Contexts per worker: VOLLEY_WS_CONTEXTS (1..64) or WS_DEFAULT_CONTEXTS.
 * lws 4.1.6 keeps all timers of a context (each connection's timeout and
 * validity timers) in one list sorted by deadline and inserts by walking
 * it from the head; new deadlines are the latest, so every insert walks
 * the whole list, and lws inserts several per message. Measured with one
 * context: 52% of volley's CPU in lws_dll2_add_sorted at 5,000 sessions
 * (22 us per message against 7.3 us at 1,000). Spreading the sessions
 * over several contexts on the same loop shortens each list; a context
 * costs little (its fd tables are calloc'd, touched only up to the fds in
 * use; wss adds nothing per context: the TLS profiles' OpenSSL contexts
 * are shared, see add_vhosts). */
static unsigned contexts_wanted(char *err, size_t errcap)
{
    const char *e = getenv("VOLLEY_WS_CONTEXTS");
    if (!e || !*e)
        return WS_DEFAULT_CONTEXTS;
    char *end;
    long n = strtol(e, &end, 10);
    if (*end != '\0' || n < 1 || n > WS_MAX_CONTEXTS) {
        snprintf(err, errcap, "VOLLEY_WS_CONTEXTS: expected a number of contexts from 1 to %d, got \"%s\"",
                 WS_MAX_CONTEXTS, e);
        return 0;
    }
    return (unsigned)n;
}

/*
 * wss: one vhost per TLS profile in each context, each with the profile's
 * OpenSSL context (built at load time, shared by every worker and context;
 * lws does not free a context it was given). Profile 0 is the context's
 * own default vhost, given its context at creation; lws then builds no
 * client context of its own (the system CA store, ~350 KB, per context).
 */
static int add_vhosts(ws_worker *w, char *err, size_t errcap)
{
    const ptls_set *set = &w->p->tls;
    w->n_profiles = set->n;
    w->vhost_names = calloc(set->n + 1, sizeof *w->vhost_names);
    w->vhosts = calloc((size_t)w->n_ctx * set->n + 1, sizeof *w->vhosts);
    if (!w->vhosts || !w->vhost_names) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (unsigned c = 0; c < w->n_ctx; c++) {
        for (const ptls_profile *t = set->head; t; t = t->next) {
            struct lws_vhost *vh;
            if (t->idx == 0) {
                vh = lws_get_vhost_by_name(w->ctx[c], "default");
            } else {
                char *name = w->vhost_names[t->idx];   /* lws keeps the pointer */
                snprintf(name, sizeof w->vhost_names[0], "volley-tls-%u", t->idx);
                struct lws_context_creation_info vi;
                memset(&vi, 0, sizeof vi);
                vi.port = CONTEXT_PORT_NO_LISTEN;
                vi.protocols = protocols;
                vi.vhost_name = name;
                vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
                vi.provided_client_ssl_ctx = t->ctx;
                vh = lws_create_vhost(w->ctx[c], &vi);
            }
            if (!vh) {
                snprintf(err, errcap, "lws: cannot create the vhost of TLS settings %u", t->idx);
                return -1;
            }
            w->vhosts[c * set->n + t->idx] = vh;
        }
    }
    return 0;
}

struct lws_vhost *ws_vhost(const ws_worker *w, const struct lws_context *ctx, unsigned idx)
{
    for (unsigned c = 0; c < w->n_ctx; c++)
        if (w->ctx[c] == ctx && idx < w->n_profiles)
            return w->vhosts[c * w->n_profiles + idx];
    return NULL;
}

void *ws_worker_init(void *inst, volley_worker *vw, char *err, size_t errcap)
{
    ws_plugin *p = inst;
    unsigned want = contexts_wanted(err, errcap);
    if (!want)
        return NULL;
    ws_worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    w->p = p;
    w->host = p->host;
    w->loop = p->host->worker_loop(vw);
    void *loops[] = {w->loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
    /* lws' TLS client only when a step uses wss://, on the first
     * profile's OpenSSL context (add_vhosts has the others). Under ASan,
     * two such lws contexts in two workers leave OpenSSL state at exit
     * even after both lws_context_destroy calls (plain ws leaves nothing). */
    bool tls = atomic_load(&p->any_tls) && p->tls.head;
    if (tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.provided_client_ssl_ctx = p->tls.head->ctx;   /* profile 0 */
    }
    info.foreign_loops = loops;
    info.fd_limit_per_thread = fd_limit();
    info.count_threads = 1;
    info.user = w;
    /* Our own timers bound connect and handshake (connect_timeout); lws'
     * bound what is left (the close handshake). */
    info.timeout_secs = 30;
    uv_once(&create_once, init_lock);
    uv_mutex_lock(&create_lock);   /* OpenSSL and lws global init */
    lws_set_log_level(LLL_ERR, log_emit);
    for (w->n_ctx = 0; w->n_ctx < want; w->n_ctx++)
        if (!(w->ctx[w->n_ctx] = lws_create_context(&info)))
            break;
    int vrc = w->n_ctx == want && tls ? add_vhosts(w, err, errcap) : 0;
    uv_mutex_unlock(&create_lock);
    if (w->n_ctx < want || vrc != 0) {
        if (!vrc)
            snprintf(err, errcap, "lws_create_context failed (is libwebsockets-evlib-uv installed?)");
        /* The run ends as an engine error. The contexts made so far start
         * closing their uv handles (else the worker's loop would never run
         * dry); lws would free them only at a second destroy after that,
         * which needs this state: they are left to process exit. */
        ws_worker_fini(w);
        free(w->vhosts);
        free(w);   /* vhost_names stay: lws' vhosts point to them */
        return NULL;
    }
    return w;
}

void ws_worker_fini(void *wstate)
{
    ws_worker *w = wstate;
    for (unsigned i = 0; w && i < w->n_ctx; i++)
        lws_context_destroy(w->ctx[i]);   /* starts closing lws' uv handles */
}

/* On a foreign loop lws 4.1.6 frees the context only when it is destroyed
 * again after its handles have closed (measured: without this call every
 * context and its OpenSSL state leak). The core calls this once the loop
 * has run dry after worker_fini. */
void ws_worker_done(void *wstate)
{
    ws_worker *w = wstate;
    if (!w)
        return;
    for (unsigned i = 0; i < w->n_ctx; i++)
        lws_context_destroy(w->ctx[i]);
    free(w->vhosts);
    free(w->vhost_names);
    free(w->scratch.data);
    free(w);
}
