/*
 * A worker's lws_context, on the worker's libuv loop as a foreign loop
 * (LWS_SERVER_OPTION_LIBUV + foreign_loops): lws adds its own uv handles
 * (a poll per socket, its timers) to the loop the core runs; there is no
 * lws_service thread. Debian's 4.1.6 is built with LWS_MAX_SMP 1 and
 * without external-poll support, so one context per worker thread is the
 * way to share the loop.
 *
 * Shutdown: worker_fini (after every VU's vu_fini detached its session)
 * calls lws_context_destroy, which closes lws' uv handles; the core keeps
 * running the loop until they are closed, then calls worker_done, where a
 * second lws_context_destroy frees the context, and closes the loop.
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

static unsigned fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return WS_FD_CAP;
    return rl.rlim_cur > WS_FD_CAP ? WS_FD_CAP : (unsigned)rl.rlim_cur;
}

void *ws_worker_init(void *inst, volley_worker *vw, char *err, size_t errcap)
{
    ws_plugin *p = inst;
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
    /* The TLS client (OpenSSL context, the system CA store: ~350 KB per
     * worker) only when a step uses wss://. Under ASan, two such contexts
     * in two workers leave OpenSSL state at exit even after both
     * lws_context_destroy calls (plain ws leaves nothing). */
    if (atomic_load(&p->any_tls))
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = loops;
    info.fd_limit_per_thread = fd_limit();
    info.count_threads = 1;
    info.user = w;
    /* Our own timers bound connect and handshake (connect_timeout); lws'
     * bound what is left (the close handshake). */
    info.timeout_secs = 30;
    uv_once(&create_once, init_lock);
    uv_mutex_lock(&create_lock);   /* OpenSSL and lws global init */
    lws_set_log_level(LLL_ERR, NULL);
    w->ctx = lws_create_context(&info);
    uv_mutex_unlock(&create_lock);
    if (!w->ctx) {
        snprintf(err, errcap, "lws_create_context failed (is libwebsockets-evlib-uv installed?)");
        free(w);
        return NULL;
    }
    return w;
}

void ws_worker_fini(void *wstate)
{
    ws_worker *w = wstate;
    if (w && w->ctx)
        lws_context_destroy(w->ctx);   /* starts closing lws' uv handles */
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
    if (w->ctx)
        lws_context_destroy(w->ctx);
    free(w->scratch.data);
    free(w);
}
