/*
 * The fast path: HTTP/1.1 requests over http:// and https:// written and
 * parsed by the plugin, beside libcurl, for the cost of a few thousand
 * instructions instead of curl's ~57,000 per request (over https://, TLS
 * with OpenSSL directly on the socket: http_tls.c; a new connection goes
 * through PH_HANDSHAKE after its connect).
 *
 * Each VU owns its connections (as a k6 VU owns its own), one per host and
 * port it talks to (at most MAX_CONNS, the least recently used goes), kept
 * alive between its requests: a non-blocking socket polled for reading the
 * whole time (so a server closing it while idle is noticed; idle it keeps
 * no loop alive), and a per-VU timer that is the request timeout. A step's
 * connection_reuse only narrows that: close takes no idle connection and
 * keeps none; per_iteration opens one with the VU's first per_iteration
 * request to a host in each iteration, and closes those of the last. The
 * request is bytes http_conf.c prebuilt (a constant step goes out as one
 * send() of them) or the templated parts rendered around the prebuilt
 * pieces into a per-VU buffer (http_request.c); the response is read into
 * the worker's scratch buffer and parsed from there (http_parse.c) into the
 * VU's header and body buffers, as curl's callbacks fill them. This file
 * keeps the connections and the request's course; the parser's refusals
 * become curl's errors here. Nothing is allocated per request
 * once the buffers have grown; a connection costs one small allocation.
 *
 * What it must do as the curl path does it (README.md, "Fast path"): the
 * same bytes on the wire, the same timing marks, data_sent/data_received,
 * header block and error codes; a reused connection that dies before any
 * answer is reconnected and the request sent once more. What it does not
 * do, it hands to curl: a step that redirected (marked curl-only; the
 * VU's cookies go along in its jar), a rendered url curl would rewrite, a
 * server that picked HTTP/2 in ALPN (the step marked curl-only).
 *
 * Completion always happens from a loop callback: a failure found inside
 * step_start is reported by the VU's timer firing at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http_int.h"

/* curl's CURLOPT_MAXAGE_CONN default: an older idle connection is not reused. */
#define MAX_IDLE_NS (118ull * 1000000000ull)
/* Idle longer than this, a connection is checked before reuse (see alive). */
#define CHECK_IDLE_NS 1000000000ull
#define MAX_CONNS 4                    /* per VU (curl's cache: 4 per VU)      */

#define NO_ITER UINT64_MAX             /* http_conn.iter: not per_iteration's  */

enum phase {
    PH_IDLE,      /* no request (the connection, if any, is idle)            */
    PH_CONNECT,   /* a connect in progress                                    */
    PH_HANDSHAKE, /* https://: the TLS handshake in progress                  */
    PH_SEND,      /* writing the request                                      */
    PH_RECV,      /* reading the response                                     */
    PH_FAILED,    /* failed inside step_start: reported when the timer fires */
    PH_EXPIRED    /* past its deadline: closed, reported after the timers    */
};

typedef struct http_conn http_conn;
struct http_conn {
    uv_poll_t poll;
    http_worker *w;
    http_raw *raw;              /* the owner; NULL once closing            */
    http_conn *next;            /* in http_raw.conns, most recent first    */
    const char *host;           /* the origin it was opened for (a step's) */
    unsigned port;
    const ptls_profile *tls;    /* https://: the TLS settings; NULL: http  */
    SSL *ssl;                   /*   its session, once connected           */
    http_tls_io io;             /*   what its BIO works with               */
    int fd;
    int events;                 /* UV_READABLE|UV_WRITABLE being polled    */
    uint64_t idle_since;
    uint64_t iter;              /* opened by a per_iteration request in this
                                   VU iteration; else NO_ITER              */
    http_conn *bulk_next;       /* in http_worker.bulk_head (queued)       */
    bool queued;
};

struct http_raw {
    uv_timer_t timer;           /* the request timeout, or a deferred error */
    http_worker *w;
    http_vu *vs;
    http_raw *prev, *next;      /* in http_worker.raws                      */
    http_conn *conns;           /* open connections, most recent first      */
    http_conn *conn;            /* the request's                            */
    const http_step *st;
    int phase;
    bool in_start;              /* inside step_start                        */
    bool new_conn;              /* the request's connection is new          */
    bool retried;               /* already sent again on a new connection   */
    uint64_t iter;              /* per_iteration: the VU's iteration        */
    size_t next_addr;
    int conn_errno;             /* the last connect failure                 */
    /* request */
    const char *out[2];
    size_t out_len[2];
    size_t out_done;            /* bytes of the request written             */
    size_t sent;                /* bytes written, a retry's twice (as curl) */
    uint64_t t_connect, t_connected;
    uint64_t t_hello, t_tls_done;   /* https://: the handshake's course     */
    http_tls_sessions sessions; /* the VU's, for resumption                 */
    http_parser parser;         /* the response                             */
    /* a failure waiting to be reported */
    http_raw *exp_next;         /* in http_worker.expired (PH_EXPIRED)      */
    uint64_t t_end;             /* PH_EXPIRED: when its deadline was seen   */
    CURLcode err;
    long err_errno;
    char err_detail[200];
};

static void on_poll(uv_poll_t *h, int status, int events);
static void on_bulk(uv_idle_t *h);
static void on_timer(uv_timer_t *t);
static void report_failure(http_raw *r);

/* ------------------------------------------------------------------------ */
/* Request bytes                                                             */
/* ------------------------------------------------------------------------ */

/* The request target (path and query) of the VU's request: the constant
 * url's, or the rendered url's after its origin (from its '/'). */
static const char *request_target(const http_step *st, const http_vu *vs, size_t *len)
{
    if (st->url_text) {
        *len = st->raw_target_len;
        return st->raw_target;
    }
    *len = vs->url.len - st->origin_len + 1;
    return vs->url.data + st->origin_len - 1;
}

/* Renders a templated step's request: the head into vs->rawreq, the body
 * (rendered into vs->reqbody, or the step's own) as the second part. */
static int build_request(http_raw *r, http_vu *vs, const http_step *st, const char *target,
                         size_t tlen, const volley_buf *cookie)
{
    const volley_host *h = vs->w->host;
    const char *body = NULL;
    size_t blen = 0;
    if (st->body_kind == BODY_FIXED) {
        body = st->body_text;
        blen = st->body_len;
    } else if (st->body_kind == BODY_TEMPLATE || st->body_kind == BODY_JSON ||
               st->body_kind == BODY_FORM || st->body_kind == BODY_MULTIPART) {
        if (http_render_body(h, vs, st) != 0)
            return -1;
        body = vs->reqbody.data;
        blen = vs->reqbody.len;
    }
    vs->rawreq.len = 0;
    if (http_render_head(h, &vs->rawreq, st, vs->vu, target, tlen, blen, cookie) != 0)
        return -1;
    r->out[0] = vs->rawreq.data;
    r->out_len[0] = vs->rawreq.len;
    r->out[1] = body;
    r->out_len[1] = blen;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */
/* ------------------------------------------------------------------------ */

static void on_conn_closed(uv_handle_t *hd)
{
    http_conn *c = hd->data;
    http_worker *w = c->w;
    free(c);
    http_handle_closed(w);
}

/* A bulk response's connection waits for its turn (on_bulk), not polled. */
static void bulk_wait(http_conn *c)
{
    http_worker *w = c->w;
    if (c->queued)
        return;
    uv_poll_stop(&c->poll);
    c->events = 0;
    c->queued = true;
    c->bulk_next = NULL;
    if (w->bulk_tail)
        w->bulk_tail->bulk_next = c;
    else
        w->bulk_head = c;
    w->bulk_tail = c;
    uv_idle_start(&w->bulk, on_bulk);
}

static void bulk_unlink(http_conn *c)
{
    http_worker *w = c->w;
    if (!c->queued)
        return;
    http_conn *prev = NULL;
    for (http_conn *p = w->bulk_head; p; prev = p, p = p->bulk_next)
        if (p == c) {
            if (prev)
                prev->bulk_next = c->bulk_next;
            else
                w->bulk_head = c->bulk_next;
            if (w->bulk_tail == c)
                w->bulk_tail = prev;
            break;
        }
    c->queued = false;
    c->bulk_next = NULL;
}

/* uv_close stops polling (epoll DEL) before the fd is closed. */
static void conn_drop(http_raw *r, http_conn *c)
{
    bulk_unlink(c);
    for (http_conn **pp = &r->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    if (r->conn == c)
        r->conn = NULL;
    c->raw = NULL;
    if (c->ssl) {
        http_tls_free(c->ssl);
        c->ssl = NULL;
    }
    uv_close((uv_handle_t *)&c->poll, on_conn_closed);
    close(c->fd);
}

/* Closes the request's connection, if it has one. */
static void conn_close(http_raw *r)
{
    if (r->conn)
        conn_drop(r, r->conn);
}

/* The idle connection to the step's host and port, moved to the front. */
static http_conn *conn_find(http_raw *r, const http_step *st)
{
    for (http_conn **pp = &r->conns; *pp; pp = &(*pp)->next) {
        http_conn *c = *pp;
        if (c->port == st->port && c->tls == st->raw_tls &&
            (c->host == st->host_name || strcasecmp(c->host, st->host_name) == 0)) {
            *pp = c->next;
            c->next = r->conns;
            r->conns = c;
            return c;
        }
    }
    return NULL;
}

/*
 * per_iteration (k6's noVUConnectionReuse): the connection to the step's
 * host that a per_iteration request of this iteration opened, moved to the
 * front; NULL when this is the first such request to the host in the
 * iteration. The ones such requests opened in earlier iterations are
 * closed (k6 closes a VU's idle connections as each iteration ends; here
 * the VU's first per_iteration request of the next one does).
 */
static http_conn *conn_find_iter(http_raw *r, const http_step *st)
{
    http_conn *found = NULL;
    for (http_conn **pp = &r->conns; *pp;) {
        http_conn *c = *pp;
        if (c->iter != NO_ITER && c->iter != r->iter) {
            conn_drop(r, c);   /* unlinks it: *pp is the next one */
            continue;
        }
        if (!found && c->iter == r->iter && c->port == st->port && c->tls == st->raw_tls &&
            (c->host == st->host_name || strcasecmp(c->host, st->host_name) == 0))
            found = c;
        pp = &c->next;
    }
    if (found && found != r->conns) {
        for (http_conn **pp = &r->conns; *pp; pp = &(*pp)->next)
            if (*pp == found) {
                *pp = found->next;
                break;
            }
        found->next = r->conns;
        r->conns = found;
    }
    return found;
}

static void conn_poll(http_conn *c, int events)
{
    if (events != c->events) {
        c->events = events;
        uv_poll_start(&c->poll, events, on_poll);
    }
}

static http_conn *conn_new(http_raw *r, int fd)
{
    http_conn *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    if (uv_poll_init_socket(r->w->loop, &c->poll, fd) != 0) {
        free(c);
        return NULL;
    }
    c->poll.data = c;
    c->w = r->w;
    c->raw = r;
    c->host = r->st->host_name;
    c->port = r->st->port;
    c->tls = r->st->raw_tls;
    c->ssl = NULL;
    c->fd = fd;
    c->events = 0;
    c->idle_since = 0;
    c->iter = r->st->reuse == HTTP_REUSE_ITERATION ? r->iter : NO_ITER;
    c->bulk_next = NULL;
    c->queued = false;
    r->w->open_handles++;
    /* at the front; beyond MAX_CONNS the least recently used goes */
    c->next = r->conns;
    r->conns = c;
    int n = 0;
    for (http_conn *o = r->conns; o; o = o->next)
        if (++n > MAX_CONNS) {
            conn_drop(r, o);
            break;
        }
    r->conn = c;
    return c;
}

/* ------------------------------------------------------------------------ */
/* Ending a request                                                          */
/* ------------------------------------------------------------------------ */

/* The fast path's timings: the shared marks, connecting from the first
 * connect attempt to the established connection, receiving from the first
 * byte to the end. */
static http_timings measure(const http_raw *r, const http_vu *vs, uint64_t now)
{
    http_timings t = http_measure(vs, now, http_ns_ms(vs->t_first, now));
    if (r->new_conn && r->t_connected)
        t.connecting = http_ns_ms(r->t_connect, r->t_connected);
    if (r->new_conn && r->t_tls_done)
        t.tls = http_ns_ms(r->t_hello, r->t_tls_done);
    return t;
}

/* Records a failure; reported at once, or from the timer inside step_start. */
static void fail(http_raw *r, CURLcode rc, long os_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(http_raw *r, CURLcode rc, long os_errno, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err_detail, sizeof r->err_detail, fmt, ap);
    va_end(ap);
    r->err = rc;
    r->err_errno = os_errno;
    conn_close(r);
    if (r->in_start) {
        r->phase = PH_FAILED;
        uv_timer_start(&r->timer, on_timer, 0, 0);
        return;
    }
    report_failure(r);
}

/* The request ended, answered or failed: its timeout stops. Returns the
 * end's stamp. */
static uint64_t request_ended(http_raw *r)
{
    uint64_t now = r->w->host->now_ns();
    uv_timer_stop(&r->timer);
    r->phase = PH_IDLE;
    return now;
}

/* k6's r.proto of a response the parser read (HTTP/1.x only here). */
static const char *raw_proto(const http_parser *p)
{
    return p->http10 ? "HTTP/1.0" : "HTTP/1.1";
}

/* The url the request went to (the fast path follows no redirect). */
static const char *raw_url(const http_raw *r)
{
    return r->st->url_text ? r->st->url_text : r->vs->url.data;
}

/* Reports the recorded failure as of `now`. */
static void report_failure_at(http_raw *r, uint64_t now)
{
    http_worker *w = r->w;
    http_vu *vs = r->vs;
    uv_timer_stop(&r->timer);
    r->phase = PH_IDLE;
    http_outcome o = {.t = measure(r, vs, now), .sent = (double)r->sent,
                      .responded = r->parser.status > 0, .proto = raw_proto(&r->parser),
                      .url = raw_url(r)};
    http_outcome_error(w, &o, r->err, r->err_errno, vs->t_prereq != 0, r->err_detail);
    http_record(w, vs, &o);
    http_cookie_view(vs, &o);
    http_respond(w, vs, &o);
}

static void report_failure(http_raw *r)
{
    report_failure_at(r, r->w->host->now_ns());
}

/*
 * Deadlines that pass together (VUs that started together) fire in one
 * timer phase. Closing each at once (a close with unread data sends a
 * reset, the peer's side runs on this thread on loopback) and reporting
 * it (its VU's next request) before the next timer runs made the last of
 * 200 end 20 ms late. Each is stamped and taken off the poll as its timer
 * fires, then closed and reported once the turn's timers are done (the
 * worker's idle handle), at its stamp.
 */
static void expired_unlink(http_raw *r)
{
    if (r->phase != PH_EXPIRED)
        return;
    for (http_raw **pp = &r->w->expired; *pp; pp = &(*pp)->exp_next)
        if (*pp == r) {
            *pp = r->exp_next;
            break;
        }
    r->exp_next = NULL;
}

static void on_expired(uv_idle_t *h)
{
    http_worker *w = h->data;
    while (w->expired) {
        http_raw *r = w->expired;
        w->expired = r->exp_next;
        r->exp_next = NULL;
        conn_close(r);
        report_failure_at(r, r->t_end);   /* may end the VU or the worker */
    }
    if (!w->expired)
        uv_idle_stop(h);
}

static void expire(http_raw *r, uint64_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void expire(http_raw *r, uint64_t now, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err_detail, sizeof r->err_detail, fmt, ap);
    va_end(ap);
    r->err = CURLE_OPERATION_TIMEDOUT;
    r->err_errno = 0;
    if (r->conn) {   /* nothing more is read: closed after the timers */
        bulk_unlink(r->conn);
        uv_poll_stop(&r->conn->poll);
        r->conn->events = 0;
    }
    r->phase = PH_EXPIRED;
    r->t_end = now;
    r->exp_next = r->w->expired;
    r->w->expired = r;
    uv_idle_start(&r->w->expire, on_expired);
}

static void connect_failed(http_raw *r)
{
    const http_step *st = r->st;
    uint64_t ms = (r->w->host->now_ns() - r->vs->t_start) / 1000000;
    fail(r, CURLE_COULDNT_CONNECT, r->conn_errno,
         "Failed to connect to %s port %u after %llu ms: Couldn't connect to server",
         st->host_name, st->port, (unsigned long long)ms);
}

/* The response is complete: the connection goes idle (or is closed), the
 * samples are recorded, then a redirect continues on curl or step_done. */
static void complete(http_raw *r)
{
    http_worker *w = r->w;
    http_vu *vs = r->vs;
    uint64_t now = request_ended(r);
    const http_parser *rp = &r->parser;
    bool keep = http_parse_keep_alive(rp) && r->out_done == r->out_len[0] + r->out_len[1] &&
                r->st->reuse != HTTP_REUSE_CLOSE;
    http_conn *c = r->conn;
    if (c->ssl) {
        http_tls_keep_session(&r->sessions, r->st, c->ssl);
        /* records OpenSSL read past the response wake no poll: a session
         * ticket is taken now, anything else ends the connection (as bytes
         * after a response on a plain socket do) */
        if (keep && http_tls_pending(c->ssl) && !http_tls_idle_ok(c->ssl))
            keep = false;
    }
    if (!keep) {
        conn_close(r);
    } else {
        c->idle_since = now;
        if (!c->events)   /* read in a bulk turn: watched again while idle */
            conn_poll(c, UV_READABLE);
        uv_unref((uv_handle_t *)&c->poll);   /* idle: keeps no loop alive */
        r->conn = NULL;
    }
    http_outcome o = {.t = measure(r, vs, now), .status = rp->status, .responded = true,
                      .sent = (double)r->sent, .proto = raw_proto(rp), .url = raw_url(r)};
    if (rp->set_cookie)
        http_cookie_response(vs, r->st->url_text ? r->st->url_text : vs->url.data);
    const char *location = NULL;
    if (http_is_redirect(rp->status) && rp->loc_len && vs->redirects < r->st->max_redirects) {
        /* the rest of the chain runs on curl, and so will this step */
        atomic_store_explicit(&((http_step *)r->st)->curl_only, true, memory_order_relaxed);
        w->location.len = 0;
        if (http_buf_add(w->host, &w->location, vs->resp.headers.data + rp->loc_off,
                         rp->loc_len) == 0)
            location = w->location.data;
    }
    http_record(w, vs, &o);
    if (location && http_easy(w, vs) && http_curl_follow_raw(w, vs, location, o.status) == 0)
        return;
    http_cookie_view(vs, &o);
    http_respond(w, vs, &o);
}

/* The response parser's refusals as curl 7.88 reports them. */
static const struct {
    CURLcode code;
    const char *text;
} parse_errors[] = {
    [-HTTP_PE_NOT_HTTP] = {CURLE_UNSUPPORTED_PROTOCOL, "Received HTTP/0.9 when not allowed"},
    [-HTTP_PE_VERSION] = {CURLE_UNSUPPORTED_PROTOCOL, "Unsupported HTTP version in response"},
    [-HTTP_PE_STATUS] = {CURLE_UNSUPPORTED_PROTOCOL, "Unsupported response code in HTTP response"},
    [-HTTP_PE_LINE_SIZE] = {CURLE_FILESIZE_EXCEEDED, "Too large response header line"},
    [-HTTP_PE_HEADERS_SIZE] = {CURLE_FILESIZE_EXCEEDED, "Too large response headers"},
    [-HTTP_PE_LENGTH] = {CURLE_WEIRD_SERVER_REPLY, "Invalid Content-Length: value"},
    [-HTTP_PE_CHUNK_SIZE] = {CURLE_RECV_ERROR,
                             "Illegal or missing hexadecimal sequence in chunked-encoding"},
    [-HTTP_PE_CHUNK_END] = {CURLE_RECV_ERROR, "Illegal chunk end in chunked-encoding"},
    [-HTTP_PE_NOMEM] = {CURLE_OUT_OF_MEMORY, "out of memory"},
    [-HTTP_PE_NOMEM_BODY] = {CURLE_WRITE_ERROR, "out of memory"},
    [-HTTP_PE_TOO_LARGE] = {CURLE_FILESIZE_EXCEEDED, NULL},
};

static void parse_failed(http_raw *r, int err)
{
    if (err == HTTP_PE_TOO_LARGE)
        fail(r, CURLE_FILESIZE_EXCEEDED, 0, "response body over max_response_size (%llu bytes)",
             (unsigned long long)r->st->max_body);
    else
        fail(r, parse_errors[-err].code, 0, "%s", parse_errors[-err].text);
}

/* ------------------------------------------------------------------------ */
/* The request cycle                                                         */
/* ------------------------------------------------------------------------ */

static void reset_response(http_raw *r, http_vu *vs)
{
    vs->t_first = 0;
    vs->tls_info = (ptls_info){NULL, NULL, NULL};   /* send_request sets it */
    vs->resp.keep_body = r->st->keep_body;
    vs->resp.max_body = r->st->max_body;
    http_parse_reset(&r->parser, &vs->resp, r->st->method == HTTP_HEAD);
}

static void connect_next(http_raw *r);

/*
 * A reused connection died before any answer (the server closed it as we
 * sent): as curl does, the request goes once more on a new connection.
 */
static bool retry(http_raw *r)
{
    if (r->new_conn || r->retried || r->parser.line_bytes)
        return false;
    r->retried = true;
    conn_close(r);
    reset_response(r, r->vs);
    r->vs->t_prereq = r->vs->t_sent = 0;
    r->out_done = 0;
    r->new_conn = true;
    r->next_addr = 0;
    r->t_connect = r->t_connected = r->t_hello = r->t_tls_done = 0;
    connect_next(r);
    return true;
}

static void send_failed(http_raw *r, int err)
{
    if ((err == EPIPE || err == ECONNRESET) && retry(r))
        return;
    fail(r, CURLE_SEND_ERROR, err, "Send failure: %s", strerror(err));
}

/* Writes what is left of the request; 1 when the request ended (failed or
 * went elsewhere) and the caller must not touch it any more. */
static int write_request(http_raw *r)
{
    http_conn *c = r->conn;
    size_t total = r->out_len[0] + r->out_len[1];
    while (r->out_done < total) {
        struct iovec iov[2];
        int n_iov = 0;
        size_t done = r->out_done;
        for (int i = 0; i < 2; i++) {
            if (done >= r->out_len[i]) {
                done -= r->out_len[i];
                continue;
            }
            iov[n_iov].iov_base = (void *)(r->out[i] + done);
            iov[n_iov++].iov_len = r->out_len[i] - done;
            done = 0;
        }
        ssize_t n;
        int events = UV_WRITABLE;
        char detail[200];
        if (c->ssl) {
            /* each part whole (a TLS record or more); a part OpenSSL could
             * not write goes again as it was */
            n = http_tls_send(c->ssl, iov[0].iov_base, iov[0].iov_len, &events, detail,
                              sizeof detail);
        } else if (n_iov == 1) {
            n = send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
        } else {
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
            n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_poll(c, UV_READABLE | events);
                return 0;
            }
            if (c->ssl && errno == EPROTO) {
                fail(r, CURLE_SEND_ERROR, 0, "%s", detail);
                return 1;
            }
            send_failed(r, errno);
            return 1;
        }
        r->out_done += (size_t)n;
        r->sent += (size_t)n;
    }
    r->vs->t_sent = r->w->host->now_ns();
    r->phase = PH_RECV;
    conn_poll(c, UV_READABLE);
    return 0;
}

static void send_request(http_raw *r, uint64_t now)
{
    r->vs->t_prereq = now;
    /* k6's tls_version tag on every https request (http_record clears it) */
    r->vs->tls_info = ptls_conn_info(r->conn ? r->conn->ssl : NULL);
    r->vs->tls_version = r->vs->tls_info.version;
    r->phase = PH_SEND;
    r->out_done = 0;
    write_request(r);
}

/*
 * A server that chose HTTP/2 in ALPN: the step runs on curl from now on
 * (as it would have, curl offering h2 too), this request first; the fast
 * path's handshake is not measured.
 */
static void to_curl(http_raw *r)
{
    http_worker *w = r->w;
    http_vu *vs = r->vs;
    const http_step *st = r->st;
    atomic_store_explicit(&((http_step *)st)->curl_only, true, memory_order_relaxed);
    conn_close(r);
    uv_timer_stop(&r->timer);
    r->phase = PH_IDLE;
    if (!http_easy(w, vs)) {
        fail(r, CURLE_OUT_OF_MEMORY, 0, "out of memory");
        return;
    }
    if (st->reuse == HTTP_REUSE_ITERATION)
        http_iter_begin(w, vs);
    if (http_curl_start(w, vs, st) != 0)
        fail(r, CURLE_OUT_OF_MEMORY, 0, "out of memory");
}

/* Drives the handshake; once done, the request goes (or goes to curl). */
static void handshake(http_raw *r)
{
    http_conn *c = r->conn;
    int events = 0;
    CURLcode rc = CURLE_SSL_CONNECT_ERROR;
    long os_errno = 0;
    char detail[200];
    int h = http_tls_handshake(c->ssl, &events, &rc, &os_errno, detail, sizeof detail);
    if (h > 0) {
        conn_poll(c, events);
        return;
    }
    if (h < 0) {
        fail(r, rc, os_errno, "%s", detail);
        return;
    }
    uint64_t now = r->w->host->now_ns();
    r->t_hello = c->io.t_hello;
    r->t_tls_done = now;
    if (http_tls_h2(c->ssl)) {
        to_curl(r);
        return;
    }
    conn_poll(c, UV_READABLE);
    send_request(r, now);
}

static void connected(http_raw *r)
{
    uint64_t now = r->w->host->now_ns();
    r->t_connected = now;
    http_conn *c = r->conn;
    if (!c->tls) {
        send_request(r, now);
        return;
    }
    c->io.fd = c->fd;
    c->io.now = r->w->host->now_ns;
    if (!(c->ssl = http_tls_new(r->st, &c->io, &r->sessions))) {
        fail(r, CURLE_OUT_OF_MEMORY, 0, "out of memory");
        return;
    }
    r->phase = PH_HANDSHAKE;
    handshake(r);
}

/* Tries the step's addresses in turn (curl's order, one at a time). */
static void connect_next(http_raw *r)
{
    const http_step *st = r->st;
    r->phase = PH_CONNECT;
    if (!r->t_connect)
        r->t_connect = r->w->host->now_ns();
    while (r->next_addr < st->n_addrs) {
        const http_addr *a = &st->addrs[r->next_addr++];
        int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0) {
            r->conn_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* as curl */
        int rc = connect(fd, (const struct sockaddr *)&a->sa, a->len);
        if (rc != 0 && errno != EINPROGRESS) {
            r->conn_errno = errno;
            close(fd);
            continue;
        }
        if (!conn_new(r, fd)) {
            r->conn_errno = ENOMEM;
            close(fd);
            continue;
        }
        if (rc == 0)
            connected(r);
        else
            conn_poll(r->conn, UV_WRITABLE);
        return;
    }
    connect_failed(r);
}

static void connect_done(http_raw *r)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(r->conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        r->conn_errno = err;
        conn_close(r);
        connect_next(r);
        return;
    }
    if (!r->conn->tls)
        conn_poll(r->conn, UV_READABLE);
    connected(r);
}

/* The server closed the connection (or it broke) during a request. */
static void on_eof(http_raw *r)
{
    const http_parser *rp = &r->parser;
    if (http_parse_close(&r->parser)) {
        complete(r);
        return;
    }
    if (retry(r))
        return;
    bool in_head = rp->ps == HTTP_PS_STATUS || rp->ps == HTTP_PS_HEADERS;
    if (!rp->line_bytes) {
        fail(r, CURLE_GOT_NOTHING, 0, "Empty reply from server");
    } else if (rp->ps == HTTP_PS_BODY || (in_head && rp->has_len)) {
        fail(r, CURLE_PARTIAL_FILE, 0, "transfer closed with %llu bytes remaining to read",
             (unsigned long long)(rp->ps == HTTP_PS_BODY ? rp->left : rp->clen));
    } else if (in_head) {
        fail(r, CURLE_PARTIAL_FILE, 0, "transfer closed before the response headers ended");
    } else {
        fail(r, CURLE_PARTIAL_FILE, 0, "transfer closed with outstanding read data remaining");
    }
}

/* How a read of the response ended. */
enum { RD_ENDED, RD_DRAINED, RD_MORE };

/*
 * Reads what the request's connection has. A bulk response (past
 * HTTP_BULK_BYTES of body) is read only in its turn: outside it the
 * connection waits in the worker's bulk FIFO, not polled; in it (granted,
 * from on_bulk) up to what is left of the turn's HTTP_BULK_TURN. RD_ENDED:
 * the request ended (or went on elsewhere); RD_DRAINED: the socket is
 * polled again; RD_MORE: there is more for a later turn.
 */
static int read_response(http_raw *r, bool granted)
{
    http_vu *vs = r->vs;
    http_worker *w = r->w;
    http_conn *c = r->conn;
    for (;;) {
        bool bulk = vs->resp.body_bytes >= HTTP_BULK_BYTES;
        if (bulk && (!granted || w->bulk_left <= 0)) {
            if (!granted)
                bulk_wait(c);
            return RD_MORE;
        }
        size_t want = HTTP_RAW_RBUF;
        if (bulk && (int64_t)want > w->bulk_left)
            want = (size_t)w->bulk_left;
        ssize_t n;
        int events = 0;
        char detail[200];
        if (c->ssl)
            n = http_tls_recv(c->ssl, w->rbuf, want, &events, detail, sizeof detail);
        else
            n = recv(c->fd, w->rbuf, want, 0);
        if (n > 0) {
            if (!vs->t_first)
                vs->t_first = w->host->now_ns();
            if (bulk)
                w->bulk_left -= n;
            int rc = http_parse(&r->parser, w->host, &vs->resp, w->rbuf, (size_t)n);
            if (rc > 0) {
                complete(r);
                return RD_ENDED;
            }
            if (rc < 0) {
                parse_failed(r, rc);
                return RD_ENDED;
            }
            /* a short read drained it, when polled; after a poll error
             * (libuv stopped the handle) or in a turn, read on to EAGAIN.
             * A TLS read returns a record at most: drained when OpenSSL
             * holds nothing more (the socket's rest wakes the poll). */
            if (c->ssl) {
                if ((c->events & UV_WRITABLE) && r->phase == PH_RECV)
                    conn_poll(c, UV_READABLE);   /* OpenSSL had waited to write */
                if (c->events && !http_tls_pending(c->ssl))
                    return RD_DRAINED;
            } else if ((size_t)n < want && c->events) {
                return RD_DRAINED;
            }
            continue;
        }
        if (n == 0) {
            on_eof(r);
            return RD_ENDED;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* libuv stops a poll handle after a poll error; a bulk turn
             * stopped it: poll again (and for what OpenSSL waits for) */
            int want_ev = UV_READABLE | (events & UV_WRITABLE) |
                          (r->phase == PH_SEND ? UV_WRITABLE : 0);
            if (!c->events || (c->ssl && c->events != want_ev))
                conn_poll(c, want_ev);
            return RD_DRAINED;
        }
        int err = errno;
        if (c->ssl && err == EPROTO)
            fail(r, CURLE_RECV_ERROR, 0, "%s", detail);
        else if (!((err == ECONNRESET || err == EPIPE) && retry(r)))
            fail(r, CURLE_RECV_ERROR, err, c->ssl ? "%s" : "Recv failure: %s",
                 c->ssl ? detail : strerror(err));
        return RD_ENDED;
    }
}

/* The worker's bulk connections, each in its turn (HTTP_BULK_TURN), the
 * one that waited longest first; the handle stays active (the loop does
 * not block) while any waits. */
static void on_bulk(uv_idle_t *h)
{
    http_worker *w = h->data;
    size_t n = 0;   /* the ones waiting now, at most once each */
    for (http_conn *c = w->bulk_head; c; c = c->bulk_next)
        n++;
    while (n-- > 0 && w->bulk_head && w->bulk_left > 0) {
        http_conn *c = w->bulk_head;
        w->bulk_head = c->bulk_next;
        if (!w->bulk_head)
            w->bulk_tail = NULL;
        c->bulk_next = NULL;
        c->queued = false;
        http_raw *r = c->raw;
        if (!r || r->conn != c || (r->phase != PH_RECV && r->phase != PH_SEND))
            continue;
        if (read_response(r, true) == RD_MORE && r->conn == c)
            bulk_wait(c);   /* to the back of the line */
    }
    if (!w->bulk_head)
        uv_idle_stop(h);
}

/*
 * Whether an idle connection may carry a request. Its close (or a last
 * word such as a 408) is normally seen while it is idle, but may still be
 * waiting in this loop turn's events; like curl's check before reuse, one
 * peek settles it, only for connections idle long enough for a server to
 * have timed them out (a busy VU's connections cost no syscall).
 */
static bool alive(http_conn *c, uint64_t now)
{
    if (now - c->idle_since > MAX_IDLE_NS)
        return false;
    if (now - c->idle_since < CHECK_IDLE_NS)
        return true;
    if (c->ssl)
        return http_tls_idle_ok(c->ssl);
    char byte;
    ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* An idle connection became readable: the server closed it (or sent what
 * nobody asked for). Either way it is not reused. */
static void idle_event(http_raw *r, http_conn *c)
{
    if (c->ssl) {
        if (!http_tls_idle_ok(c->ssl))   /* a session ticket is fine */
            conn_drop(r, c);
        return;
    }
    char byte;
    ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    conn_drop(r, c);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    http_conn *c = h->data;
    http_raw *r = c->raw;
    if (!r)
        return;
    if (status < 0) {
        c->events = 0;   /* libuv stopped the handle */
        events |= UV_READABLE | UV_WRITABLE;   /* let the socket calls say what broke */
    }
    if (c != r->conn) {
        idle_event(r, c);
        return;
    }
    switch (r->phase) {
    case PH_CONNECT:
        connect_done(r);
        return;
    case PH_HANDSHAKE:
        handshake(r);
        return;
    case PH_SEND:
        /* OpenSSL may wait to read before it writes */
        if (((events & UV_WRITABLE) || c->ssl) && (write_request(r) != 0 || r->conn != c))
            return;
        if ((events & UV_READABLE) && r->phase != PH_IDLE)
            read_response(r, false);
        return;
    case PH_RECV:
        read_response(r, false);
        return;
    default:
        idle_event(r, c);
        return;
    }
}

static void on_timer(uv_timer_t *t)
{
    http_raw *r = t->data;
    if (r->phase == PH_FAILED) {
        report_failure(r);
        return;
    }
    if (r->phase == PH_IDLE)
        return;
    /* libuv counts from its cached loop time, which may be a loop turn
     * old: never time out before the step's timeout has really passed */
    if (r->phase == PH_EXPIRED)
        return;
    uint64_t now = r->w->host->now_ns();
    uint64_t elapsed = now - r->vs->t_start;
    uint64_t limit = (uint64_t)r->st->timeout_ms * 1000000u;
    if (elapsed < limit) {
        uv_timer_start(&r->timer, on_timer, (limit - elapsed + 999999) / 1000000, 0);
        return;
    }
    uint64_t ms = elapsed / 1000000;
    if (r->phase == PH_CONNECT || r->phase == PH_HANDSHAKE)
        expire(r, now, "Connection timed out after %llu milliseconds", (unsigned long long)ms);
    else if (r->parser.has_len && r->parser.ps == HTTP_PS_BODY)
        expire(r, now,
             "Operation timed out after %llu milliseconds with %llu out of %llu bytes received",
             (unsigned long long)ms, (unsigned long long)r->vs->resp.body_bytes,
             (unsigned long long)r->parser.clen);
    else
        expire(r, now, "Operation timed out after %llu milliseconds with %llu bytes received",
             (unsigned long long)ms, (unsigned long long)r->vs->resp.body_bytes);
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */
/* ------------------------------------------------------------------------ */

static http_raw *raw_get(http_worker *w, http_vu *vs)
{
    if (vs->raw)
        return vs->raw;
    http_raw *r = calloc(1, sizeof *r);
    if (!r || uv_timer_init(w->loop, &r->timer) != 0) {
        free(r);
        return NULL;
    }
    r->timer.data = r;
    r->w = w;
    r->vs = vs;
    if (!w->raw_handles) {
        uv_idle_init(w->loop, &w->expire);   /* cannot fail (libuv 1.x) */
        uv_idle_init(w->loop, &w->bulk);
        w->expire.data = w->bulk.data = w;
        w->open_handles += 2;
        w->raw_handles = true;
    }
    w->open_handles++;
    r->next = w->raws;
    if (w->raws)
        w->raws->prev = r;
    w->raws = r;
    vs->raw = r;
    return r;
}

int http_raw_start(http_worker *w, http_vu *vs, const http_step *st)
{
    const volley_host *h = w->host;
    if (!st->url_text) {
        if (http_render_url(h, vs, st) != 0)
            return -1;
        if (!http_url_verbatim(st, vs->url.data, vs->url.len))
            return 0;   /* curl rewrites this url: curl sends it */
    }
    size_t tlen;
    const char *target = request_target(st, vs, &tlen);
    http_raw *r = raw_get(w, vs);
    if (!r)
        return -1;
    if (r->phase != PH_IDLE)
        http_raw_cancel(vs);
    const volley_buf *cookie = NULL;
    if (st->cookie_parts || http_vu_jar(vs)->n) {
        if (http_cookie_header(vs, st, st->url_text ? st->url_text : vs->url.data) != 0)
            return -1;
        cookie = vs->cookie.len ? &vs->cookie : NULL;
    }
    if (st->raw_req && !cookie) {
        r->out[0] = st->raw_req;
        r->out_len[0] = st->raw_req_len;
        r->out[1] = NULL;
        r->out_len[1] = 0;
    } else if (build_request(r, vs, st, target, tlen, cookie) != 0) {
        return -1;
    }
    uint64_t now = h->now_ns();
    r->st = st;
    r->retried = false;
    r->out_done = r->sent = 0;
    r->t_connect = r->t_connected = r->t_hello = r->t_tls_done = 0;
    vs->t_start = now;
    vs->t_prereq = vs->t_sent = 0;
    reset_response(r, vs);
    uv_timer_start(&r->timer, on_timer, (uint64_t)st->timeout_ms, 0);
    r->in_start = true;
    /* connection_reuse: close never takes an idle connection (the VU's
     * keep-alive one, if any, stays for its other steps). */
    http_conn *c = NULL;
    if (st->reuse == HTTP_REUSE_KEEP) {
        c = conn_find(r, st);
    } else if (st->reuse == HTTP_REUSE_ITERATION) {
        r->iter = h->vu_iteration(vs->vu);
        c = conn_find_iter(r, st);
    }
    if (c && !alive(c, now)) {
        conn_drop(r, c);
        c = NULL;
    }
    r->conn = c;
    if (c) {
        r->new_conn = false;
        uv_ref((uv_handle_t *)&c->poll);
        send_request(r, now);
    } else {
        r->new_conn = true;
        r->next_addr = 0;
        connect_next(r);
    }
    r->in_start = false;
    return 1;
}

void http_raw_cancel(http_vu *vs)
{
    http_raw *r = vs->raw;
    if (r->phase == PH_IDLE)
        return;
    uv_timer_stop(&r->timer);
    expired_unlink(r);
    conn_close(r);   /* a half-done exchange leaves the connection unusable */
    r->phase = PH_IDLE;
}

static void on_raw_closed(uv_handle_t *hd)
{
    http_raw *r = hd->data;
    http_worker *w = r->w;
    http_parse_free(&r->parser);
    http_tls_sessions_free(&r->sessions);
    free(r);
    http_handle_closed(w);
}

void http_raw_release(http_vu *vs)
{
    http_raw *r = vs->raw;
    http_worker *w = r->w;
    http_raw_cancel(vs);
    while (r->conns)
        conn_drop(r, r->conns);
    if (r->prev)
        r->prev->next = r->next;
    else
        w->raws = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->vs = NULL;
    vs->raw = NULL;
    uv_close((uv_handle_t *)&r->timer, on_raw_closed);
}

void http_raw_fini(http_worker *w)
{
    while (w->raws)
        http_raw_release(w->raws->vs);
    if (w->raw_handles) {
        uv_close((uv_handle_t *)&w->expire, http_worker_handle_closed);
        uv_close((uv_handle_t *)&w->bulk, http_worker_handle_closed);
    }
}
