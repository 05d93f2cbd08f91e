/*
 * The curl path's event side: a worker's CURLMs (one per group of VUs, see
 * http_int.h), driven by the worker's libuv loop through the multi_socket
 * API (a uv_poll_t per socket, a uv_timer_t per multi); the VUs' easy
 * handles, each created in a group with room; and the worker's own
 * lifetime: it is freed here once its last uv handle has closed.
 * Finished transfers go down to http_curl.c; nothing above is called,
 * except worker_fini, which a drain runs through w->fini when it came
 * during one.
 *
 * Socket slots. The plugin opens and closes curl's sockets itself
 * (CURLOPT_OPENSOCKETFUNCTION / CLOSESOCKETFUNCTION), so a slot's poll
 * handle is always stopped and closed before its fd is closed. That makes
 * lazy removal safe: on CURL_POLL_REMOVE (a keep-alive connection going
 * back to curl's cache after every request) the fd stays polled and is
 * only marked unwanted, so the next request on it costs no epoll_ctl. An
 * event on an unwanted fd (the server closed the idle connection) stops
 * the poll; curl notices the dead connection itself when it next looks.
 * Sockets curl did not open through us (the threaded resolver's
 * socketpair) are removed eagerly, since they close behind our back.
 *
 * connection_reuse: per_iteration. A slot also remembers the VU whose
 * per_iteration transfer on it ended last; the VU notes the connection
 * and, when it starts its next iteration, shuts the ones it still owns
 * down (the only way to close a connection in curl's cache from outside).
 *
 * Curl is never called from inside its own callbacks: the timer callback
 * only (re)arms the uv timer, whose callback runs on a later loop turn.
 *
 * The socket table is the worker's; each slot remembers the group whose
 * connection (or resolver) uses it, whose multi its events go to.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_int.h"

struct http_sock {
    uv_poll_t poll;
    http_worker *w;
    http_group *g;         /* whose connection (or resolver) uses the fd   */
    curl_socket_t fd;
    int want;              /* CURL_POLL_* curl asked for; 0 = unwanted     */
    int events;            /* UV_READABLE|UV_WRITABLE being polled         */
    bool inited;           /* poll handle initialized (needs uv_close)     */
    bool owned;            /* opened by open_socket                        */
    const http_vu *user;   /* per_iteration: the VU whose transfer on the
                              connection ended last (never dereferenced)   */
    http_sock *next_free;
};

static void maybe_free(http_worker *w);
static void on_timer_closed(uv_handle_t *h);
static http_group *group_new(http_worker *w);

static http_sock *sock_get(http_worker *w, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < w->n_socks ? w->socks[fd] : NULL;
}

static http_sock *sock_new(http_group *g, curl_socket_t fd, bool owned)
{
    http_worker *w = g->w;
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= w->n_socks) {
        size_t n = w->n_socks ? w->n_socks : 64;
        while (n <= (size_t)fd)
            n *= 2;
        http_sock **t = realloc(w->socks, n * sizeof *t);
        if (!t)
            return NULL;
        memset(t + w->n_socks, 0, (n - w->n_socks) * sizeof *t);
        w->socks = t;
        w->n_socks = n;
    }
    http_sock *s = w->free_socks;
    if (s)
        w->free_socks = s->next_free;
    else if (!(s = malloc(sizeof *s)))
        return NULL;
    memset(s, 0, sizeof *s);
    s->w = w;
    s->g = g;
    s->fd = fd;
    s->owned = owned;
    w->socks[fd] = s;
    return s;
}

static void on_sock_closed(uv_handle_t *h)
{
    http_sock *s = h->data;
    http_worker *w = s->w;
    s->next_free = w->free_socks;
    w->free_socks = s;
    w->open_handles--;
    maybe_free(w);
}

/* Forgets the slot; uv_close stops polling (epoll DEL) while the fd is
 * still open, so the caller may close the fd right after. */
static void sock_close(http_worker *w, http_sock *s)
{
    if (w->socks[s->fd] == s)
        w->socks[s->fd] = NULL;
    if (s->inited) {
        uv_close((uv_handle_t *)&s->poll, on_sock_closed);
    } else {
        s->next_free = w->free_socks;
        w->free_socks = s;
    }
}

static void on_poll(uv_poll_t *h, int status, int events);

static int sock_poll(http_worker *w, http_sock *s, int events)
{
    if (!s->inited) {
        if (uv_poll_init_socket(w->loop, &s->poll, s->fd) != 0)
            return -1;
        s->poll.data = s;
        s->inited = true;
        w->open_handles++;
    }
    if (events == s->events)
        return 0;
    s->events = events;
    return events ? uv_poll_start(&s->poll, events, on_poll) : uv_poll_stop(&s->poll);
}

/* Runs curl for one socket or for its timers, then completes what ended. */
static void socket_action(http_group *g, curl_socket_t fd, int flags)
{
    http_worker *w = g->w;
    int running;
    /* Transfers past their deadline all end in one timeout action, each
     * closing its connection in turn: they ended when it began. */
    uint64_t began = fd == CURL_SOCKET_TIMEOUT ? w->host->now_ns() : 0;
    curl_multi_socket_action(g->multi, fd, flags, &running);
    /* libuv stops a poll handle after an error; if curl still wants the
     * socket (it did not remove it), poll it again. */
    http_sock *s = fd == CURL_SOCKET_TIMEOUT ? NULL : sock_get(w, fd);
    if (s && s->want && !s->events) {
        int ev = ((s->want & CURL_POLL_IN) ? UV_READABLE : 0) |
                 ((s->want & CURL_POLL_OUT) ? UV_WRITABLE : 0);
        sock_poll(w, s, ev);
    }
    http_drain(g, began);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    http_sock *s = h->data;
    http_worker *w = s->w;
    if (status < 0)
        s->events = 0;   /* libuv stopped the handle */
    if (!s->want) {
        /* Unwanted (idle keep-alive) socket: the peer closed or sent
         * something. Stop polling; curl checks the connection before reuse. */
        if (s->events)
            sock_poll(w, s, 0);
        return;
    }
    int flags = 0;
    if (status < 0) {
        /* Let curl read or write too, so it reports the socket's own error
         * (e.g. "Connection reset by peer") rather than a bare poll error. */
        flags = CURL_CSELECT_ERR | ((s->want & CURL_POLL_IN) ? CURL_CSELECT_IN : 0) |
                ((s->want & CURL_POLL_OUT) ? CURL_CSELECT_OUT : 0);
    }
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    socket_action(s->g, s->fd, flags);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)socketp;
    http_group *g = userp;
    http_worker *w = g->w;
    http_sock *s = sock_get(w, fd);
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            s->want = 0;
            if (!s->owned)
                sock_close(w, s);
            else if (s->inited)
                uv_unref((uv_handle_t *)&s->poll);   /* idle: keeps no loop alive */
        }
        return 0;
    }
    if (what == CURL_POLL_IN)
        http_curl_sent(easy);
    if (!s && !(s = sock_new(g, fd, false)))
        return 0;   /* out of memory: the transfer's timeout will end it */
    s->g = g;
    s->want = what;
    s->user = NULL;   /* a transfer has it: noted again when it ends */
    int ev = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
    if (sock_poll(w, s, ev) == 0)
        uv_ref((uv_handle_t *)&s->poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    http_group *g = userp;
    if (g->w->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&g->timer);
    else
        uv_timer_start(&g->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)purpose;
    http_group *g = clientp;
    http_worker *w = g->w;
    curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                              addr->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    /* A slot still registered under this number belongs to an fd that was
     * closed without us (cannot happen for our own sockets): drop it. */
    http_sock *stale = sock_get(w, fd);
    if (stale)
        sock_close(w, stale);
    if (!sock_new(g, fd, true)) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

static int close_socket(void *clientp, curl_socket_t fd)
{
    http_worker *w = ((http_group *)clientp)->w;
    http_sock *s = sock_get(w, fd);
    if (s)
        sock_close(w, s);
    return close(fd);
}

/* ---- connection_reuse: per_iteration (see http_iter_conns) ---- */

/*
 * Closes a connection the VU noted, when the VU was the last to use it
 * and it is idle in curl's cache (not polled for a transfer): shut down,
 * so the server sees it end now and curl finds it dead when it next looks
 * (its check before reuse, or its pruning) and closes it through
 * close_socket. A connection another VU took since is that VU's now.
 */
static void iter_retire(http_worker *w, const http_vu *vs, curl_socket_t fd)
{
    http_sock *s = sock_get(w, fd);
    if (s && s->owned && s->user == vs && !s->want)
        shutdown(fd, SHUT_RDWR);
}

/* The VU is in another iteration than its notes: the old ones go. */
static void iter_rollover(http_worker *w, http_vu *vs)
{
    http_iter_conns *ic = vs->iterc;
    uint64_t iter = w->host->vu_iteration(vs->vu);
    if (ic->iter == iter)
        return;
    for (unsigned i = 0; i < ic->n; i++)
        iter_retire(w, vs, ic->c[i].fd);
    ic->n = 0;
    ic->iter = iter;
}

void http_iter_begin(http_worker *w, http_vu *vs)
{
    if (vs->iterc)
        iter_rollover(w, vs);
}

void http_iter_end(http_worker *w, http_vu *vs)
{
    http_iter_conns *ic = vs->iterc;
    if (!ic)
        return;
    for (unsigned i = 0; !w->closing && i < ic->n; i++)
        iter_retire(w, vs, ic->c[i].fd);
    free(ic);
    vs->iterc = NULL;
}

/* A per_iteration transfer ended: its connection, if curl keeps it, is
 * noted for the VU's iteration (the oldest note closed when full). */
static void iter_note(http_worker *w, http_vu *vs, CURL *easy)
{
    curl_socket_t fd = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
        return;
    http_sock *s = sock_get(w, fd);
    if (!s || !s->owned)
        return;
    iter_rollover(w, vs);
    http_iter_conns *ic = vs->iterc;
    s->user = vs;
    for (unsigned i = 0; i < ic->n; i++)
        if (ic->c[i].fd == fd) {
            ic->c[i].origin = ic->origin;
            return;
        }
    if (ic->n == HTTP_ITER_CONNS) {
        iter_retire(w, vs, ic->c[0].fd);
        memmove(&ic->c[0], &ic->c[1], (HTTP_ITER_CONNS - 1) * sizeof ic->c[0]);
        ic->n--;
    }
    ic->c[ic->n].origin = ic->origin;
    ic->c[ic->n++].fd = fd;
}

/*
 * Hands every finished transfer to http_curl_complete. Completion may run the
 * core's step_done, which may start, cancel or end VUs, or even call
 * worker_fini: that is deferred until the outermost drain returns.
 */
void http_drain(http_group *g, uint64_t timed_out_at)
{
    http_worker *w = g->w;
    uint64_t now = w->host->now_ns();
    CURLMsg *m;
    int left;
    w->dispatching++;
    while (!w->fini_pending && (m = curl_multi_info_read(g->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode rc = m->data.result;
        http_vu *vs = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&vs);
        if (vs && vs->iterc && vs->step->reuse == HTTP_REUSE_ITERATION)
            iter_note(w, vs, m->easy_handle);
        if (vs)
            http_curl_complete(w, vs, rc,
                               rc == CURLE_OPERATION_TIMEDOUT && timed_out_at ? timed_out_at : now);
        else
            curl_multi_remove_handle(g->multi, m->easy_handle);
    }
    if (--w->dispatching == 0 && w->fini_pending) {
        w->fini_pending = false;
        w->fini(w);
    }
}

/* Before each poll: the worker's bulk bytes of the turn (HTTP_BULK_TURN). */
static void on_turn(uv_prepare_t *h)
{
    ((http_worker *)h->data)->bulk_left = HTTP_BULK_TURN;
}

http_worker *http_worker_new(http_plugin *p, volley_worker *vw, void (*fini)(void *),
                             char *err, size_t errcap)
{
    http_worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    w->p = p;
    w->fini = fini;
    w->host = p->host;
    w->loop = p->host->worker_loop(vw);
    if (p->raw_enabled && !(w->rbuf = malloc(HTTP_RAW_RBUF))) {
        snprintf(err, errcap, "out of memory");
        free(w);
        return NULL;
    }
    /* The first group now, so a worker that cannot use curl fails here. */
    if (!group_new(w)) {
        snprintf(err, errcap, "cannot set up libcurl on the worker loop");
        free(w->groups);
        free(w->rbuf);
        free(w);
        return NULL;
    }
    uv_idle_init(w->loop, &w->resume);   /* cannot fail (libuv 1.x) */
    w->resume.data = w;
    w->open_handles++;
    uv_prepare_init(w->loop, &w->turn);  /* nor this */
    w->turn.data = w;
    w->open_handles++;
    w->bulk_left = HTTP_BULK_TURN;
    uv_prepare_start(&w->turn, on_turn);
    uv_unref((uv_handle_t *)&w->turn);   /* keeps no loop alive */
    return w;
}

static http_group *group_new(http_worker *w)
{
    http_group **t = realloc(w->groups, (w->n_groups + 1) * sizeof *t);
    if (!t)
        return NULL;
    w->groups = t;
    http_group *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->w = w;
    g->n_pinned = w->p->n_steps;
    g->pinned = calloc(g->n_pinned ? g->n_pinned : 1, 1);
    g->multi = curl_multi_init();
    if (!g->pinned || !g->multi || uv_timer_init(w->loop, &g->timer) != 0) {
        curl_multi_cleanup(g->multi);
        free(g->pinned);
        free(g);
        return NULL;
    }
    g->timer.data = g;
    w->open_handles++;
    curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
    curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
    /* One transfer per connection, as k6 has one connection per VU in
     * flight: no HTTP/2 multiplexing of several VUs onto one connection. */
    curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    w->groups[w->n_groups++] = g;
    return g;
}

/*
 * The first group with room; groups are kept for the worker's life, so VUs
 * that end leave room for later ones. curl's idle-connection cache defaults
 * to 4 x the handles currently in the multi, so VUs between requests
 * (sleeping) would lose their keep-alive connections: it is sized by the
 * group's VUs instead. A batch's lanes join groups of their own: curl
 * pools a multi's connections, and a lane must not take its VU's idle one,
 * which the batch's request on the VU itself reuses (as k6's first request
 * of a batch does); which of the batch's transfers curl runs first is not
 * the order they were added in.
 */
static http_group *group_join(http_worker *w, bool lanes)
{
    http_group *g = NULL;
    for (size_t i = 0; i < w->n_groups && !g; i++)
        if (w->groups[i]->n_vus < HTTP_GROUP_VUS && w->groups[i]->lanes == lanes)
            g = w->groups[i];
    if (!g && !(g = group_new(w)))
        return NULL;
    g->lanes = lanes;
    g->n_vus++;
    w->n_vus++;
    if (g->n_vus * 2 > g->maxconnects) {
        g->maxconnects = g->n_vus * 4 < 64 ? 64 : g->n_vus * 4;
        curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, g->maxconnects);
    }
    return g;
}

static void group_leave(http_worker *w, http_group *g)
{
    g->n_vus--;
    w->n_vus--;
    maybe_free(w);
}

CURL *http_easy(http_worker *w, http_vu *vs)
{
    if (vs->easy)
        return vs->easy;
    http_group *g = group_join(w, vs->lane);
    if (!g)
        return NULL;
    CURL *e = curl_easy_init();
    if (!e) {
        group_leave(w, g);
        return NULL;
    }
    vs->easy = e;
    vs->w = w;
    vs->g = g;
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)vs);
    rc |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    rc |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, g);
    rc |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    rc |= curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, g);
    int setup = http_curl_setup(vs);
    return rc == CURLE_OK && setup == 0 ? e : NULL;
}

/*
 * Bulk responses on curl (HTTP_BULK_TURN): the body callback pauses a bulk
 * transfer whose grant is spent (curl 7.88 would read up to 100 buffers
 * from a readable socket in one socket action), and each turn this idle
 * handle resumes the ones that waited longest, HTTP_BULK_GRANT each, while
 * the turn's bulk bytes last. Curl then redelivers what it held and runs
 * the transfer from its timer; a paused transfer's socket is not polled.
 * The handle stays active while any waits, so the loop does not block.
 */
static void on_resume(uv_idle_t *h)
{
    http_worker *w = h->data;
    /* the ones waiting now, once each: a resumed one may pause again */
    size_t n = 0;
    for (http_vu *vs = w->paused; vs; vs = vs->paused_next)
        n++;
    while (n-- > 0 && w->paused && w->bulk_left > 0) {
        http_vu *vs = w->paused;
        w->paused = vs->paused_next;
        if (!w->paused)
            w->paused_tail = NULL;
        vs->paused = false;
        vs->paused_next = NULL;
        vs->grant = HTTP_BULK_GRANT;
        w->bulk_left -= HTTP_BULK_GRANT;
        curl_easy_pause(vs->easy, CURLPAUSE_CONT);
    }
    if (!w->paused)
        uv_idle_stop(h);
}

void http_pause(http_worker *w, http_vu *vs)
{
    if (vs->paused)
        return;
    vs->paused = true;
    vs->paused_next = NULL;
    if (w->paused_tail)
        w->paused_tail->paused_next = vs;
    else
        w->paused = vs;
    w->paused_tail = vs;
    if (!uv_is_active((uv_handle_t *)&w->resume))
        uv_idle_start(&w->resume, on_resume);
}

void http_unpause(http_worker *w, http_vu *vs)
{
    if (!vs->paused)
        return;
    http_vu *prev = NULL;
    for (http_vu *p = w->paused; p; prev = p, p = p->paused_next)
        if (p == vs) {
            if (prev)
                prev->paused_next = vs->paused_next;
            else
                w->paused = vs->paused_next;
            if (w->paused_tail == vs)
                w->paused_tail = prev;
            break;
        }
    vs->paused = false;
    vs->paused_next = NULL;
    if (!w->paused)
        uv_idle_stop(&w->resume);
}

/*
 * The CA stores of the worker's https connections on curl. Curl 7.88
 * builds an OpenSSL context per connection and, given a CA file or
 * directory, loads it into that context's store after the ClientHello,
 * inside the handshake it times (the system bundle: ~20 ms of our CPU per
 * connection, counted as the server's). Instead http_curl.c gives curl no
 * CA location for the system's store (and its multi's CA cache keeps a
 * ca_file's store, loaded once) and puts this worker's copy of the
 * profile's store on each new context. One copy per worker: verification
 * takes its store's lock, and curl sets flags on it.
 */
X509_STORE *http_tls_store(http_worker *w, const ptls_profile **t)
{
    if (!*t && !(*t = ptls_system(&w->p->tls, w->host, w->p->core, w->errtext,
                                  sizeof w->errtext)))
        return NULL;
    unsigned idx = (*t)->idx;
    if (idx >= w->n_stores) {
        X509_STORE **s = realloc(w->stores, (idx + 1) * sizeof *s);
        if (!s)
            goto oom;
        memset(s + w->n_stores, 0, (idx + 1 - w->n_stores) * sizeof *s);
        w->stores = s;
        w->n_stores = idx + 1;
    }
    if (!w->stores[idx] && !(w->stores[idx] = ptls_store_dup(*t)))
        goto oom;
    return w->stores[idx];
oom:
    snprintf(w->errtext, sizeof w->errtext, "out of memory");
    return NULL;
}

void http_easy_free(http_vu *vs)
{
    curl_easy_cleanup(vs->easy);
    group_leave(vs->w, vs->g);
}

static void on_timer_closed(uv_handle_t *h)
{
    http_worker *w = ((http_group *)h->data)->w;
    w->open_handles--;
    maybe_free(w);
}

void http_worker_handle_closed(uv_handle_t *h)
{
    http_handle_closed(h->data);
}

void http_handle_closed(http_worker *w)
{
    w->open_handles--;
    maybe_free(w);
}

/* Frees the worker once worker_fini ran, every uv handle (the fast path's
 * too) is closed and every VU has let go of its easy handle (vu_fini may
 * come after). */
static void maybe_free(http_worker *w)
{
    if (!w->closing || w->open_handles > 0 || w->n_vus > 0)
        return;
    while (w->free_socks) {
        http_sock *s = w->free_socks;
        w->free_socks = s->next_free;
        free(s);
    }
    for (size_t i = 0; i < w->n_groups; i++) {
        free(w->groups[i]->pinned);
        free(w->groups[i]);
    }
    free(w->groups);
    for (size_t i = 0; i < w->n_stores; i++)
        X509_STORE_free(w->stores[i]);
    free(w->stores);
    free(w->socks);
    free(w->rbuf);
    free(w->location.data);
    free(w);
}

/*
 * Lets curl close its cached connections (through close_socket), then
 * closes every uv handle of the curl side. The worker is freed by the last
 * close callback, when the core runs the loop.
 */
void http_worker_close(http_worker *w)
{
    uv_close((uv_handle_t *)&w->resume, http_worker_handle_closed);
    uv_close((uv_handle_t *)&w->turn, http_worker_handle_closed);
    for (size_t i = 0; i < w->n_groups; i++) {
        http_group *g = w->groups[i];
        curl_multi_cleanup(g->multi);
        g->multi = NULL;
        uv_close((uv_handle_t *)&g->timer, on_timer_closed);
    }
    for (size_t fd = 0; fd < w->n_socks; fd++)
        if (w->socks[fd])
            sock_close(w, w->socks[fd]);
}
