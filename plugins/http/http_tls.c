/*
 * The fast path's TLS: OpenSSL driven directly on the connection's
 * non-blocking socket, with the profile's context built once at load time
 * (plugins/common/ptls.c: the CA store read once per run, not once per
 * connection as curl 7.88 does).
 *
 * The SSL object reads and writes the socket through a BIO of ours rather
 * than OpenSSL's socket BIO: send() with MSG_NOSIGNAL (no SIGPIPE from a
 * peer that went away), and the stamp of the first byte of the ClientHello
 * taken as it is written, so http_req_tls_handshaking leaves out the
 * client's own setup (SSL_new, the key share computed for the ClientHello).
 * Memory BIOs would add a copy of every record for nothing: the socket is
 * ours and the loop only needs to know which way OpenSSL waits.
 *
 * Reads and writes look like recv/send to http_raw.c (errno EAGAIN, the
 * events to poll for), so its request cycle stays one; read_ahead lets one
 * recv take several records, and what OpenSSL holds back is SSL_pending
 * data that epoll does not see (http_raw.c asks http_tls_pending before it
 * waits for the socket).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "http_int.h"

/* ------------------------------------------------------------------------ */
/* The BIO                                                                   */
/* ------------------------------------------------------------------------ */

static BIO_METHOD *io_method;

static int io_write(BIO *b, const char *buf, int len)
{
    http_tls_io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!io->t_hello)
        io->t_hello = io->now();   /* the first bytes are the ClientHello */
    ssize_t n;
    do
        n = send(io->fd, buf, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_write(b);
    return (int)n;
}

static int io_read(BIO *b, char *buf, int len)
{
    http_tls_io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = recv(io->fd, buf, (size_t)len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_read(b);
    if (n == 0)
        io->eof = true;
    return (int)n;
}

/* OpenSSL asks BIO_eof after a read of 0 to tell a close from a retry. */
static long io_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num, (void)ptr;
    if (cmd == BIO_CTRL_FLUSH)
        return 1;
    if (cmd == BIO_CTRL_EOF)
        return ((http_tls_io *)BIO_get_data(b))->eof;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Load time                                                                 */
/* ------------------------------------------------------------------------ */

/* ALPN as curl 7.88 offers it: a server that picks h2 gets curl. */
static const unsigned char alpn[] = "\x02h2\x08http/1.1";

/*
 * The profile's context as the fast path uses it, set once per profile
 * (steps share profiles) before any worker runs: peer verification unless
 * insecure, ALPN, read_ahead (one recv for several records), and a peer
 * that closes without close_notify read as a close, as on a plain socket.
 * Names to check and SNI are per connection (the url's host) unless the
 * profile's server_name set them on the context already.
 */
static int ready_ctx(const ptls_profile *t)
{
    SSL_CTX *ctx = t->ctx;
    if (SSL_CTX_get_app_data(ctx) == (void *)alpn)
        return 0;
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1) != 0)
        return -1;
    SSL_CTX_set_verify(ctx, t->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_app_data(ctx, (void *)alpn);
    return 0;
}

int http_tls_compile(http_plugin *p, http_step *st, char *err, size_t errcap)
{
    if (!io_method) {
        io_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "volley-http");
        if (!io_method || !BIO_meth_set_write(io_method, io_write) ||
            !BIO_meth_set_read(io_method, io_read) || !BIO_meth_set_ctrl(io_method, io_ctrl)) {
            snprintf(err, errcap, "tls: cannot create an OpenSSL BIO method");
            return -1;
        }
    }
    const ptls_profile *t = st->tls;
    if (!t) {
        /* no tls: the system's CA store, verification on (built once) */
        ptls_config none = {0};
        if (!(t = ptls_compile(&p->tls, p->host, p->core, &none, true, err, errcap)))
            return -1;
    }
    if (ready_ctx(t) != 0) {
        snprintf(err, errcap, "tls: cannot set up the OpenSSL context");
        return -1;
    }
    st->raw_tls = t;
    return 0;
}

void http_tls_global_free(void)
{
    BIO_meth_free(io_method);
    io_method = NULL;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */
/* ------------------------------------------------------------------------ */

static http_tls_session *session_find(http_tls_sessions *ss, const http_step *st)
{
    for (int i = 0; i < HTTP_TLS_SESSIONS; i++) {
        http_tls_session *e = &ss->e[i];
        if (e->s && e->port == st->port && e->tls == st->raw_tls &&
            (e->host == st->tls_host || strcmp(e->host, st->tls_host) == 0))
            return e;
    }
    return NULL;
}

SSL *http_tls_new(const http_step *st, http_tls_io *io, http_tls_sessions *ss)
{
    const ptls_profile *t = st->raw_tls;
    SSL *ssl = SSL_new(t->ctx);
    BIO *b = ssl ? BIO_new(io_method) : NULL;
    if (!b) {
        SSL_free(ssl);
        return NULL;
    }
    io->t_hello = 0;
    io->eof = false;
    BIO_set_data(b, io);
    BIO_set_init(b, 1);
    SSL_set_bio(ssl, b, b);
    SSL_set_connect_state(ssl);
    if (!t->server_name) {
        /* the url's host: sent in SNI (a name, never an address) and
         * checked in the certificate, as curl does */
        int ok = st->tls_host_ip || SSL_set_tlsext_host_name(ssl, st->tls_host) == 1;
        if (ok && !t->insecure) {
            X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = st->tls_host_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, st->tls_host) == 1
                                 : X509_VERIFY_PARAM_set1_host(param, st->tls_host, 0) == 1;
        }
        if (!ok) {
            SSL_free(ssl);
            return NULL;
        }
    }
    if (ss && !t->no_resume) {
        http_tls_session *e = session_find(ss, st);
        if (e)
            SSL_set_session(ssl, e->s);
    }
    return ssl;
}

void http_tls_keep_session(http_tls_sessions *ss, const http_step *st, SSL *ssl)
{
    if (st->raw_tls->no_resume)
        return;
    SSL_SESSION *s = SSL_get0_session(ssl);
    http_tls_session *e = session_find(ss, st);
    if (!s || (e && e->s == s) || !SSL_SESSION_is_resumable(s))
        return;
    if (!e) {
        /* a free slot, else the first (a VU talks to few hosts) */
        e = &ss->e[0];
        for (int i = 0; i < HTTP_TLS_SESSIONS; i++)
            if (!ss->e[i].s) {
                e = &ss->e[i];
                break;
            }
    }
    SSL_SESSION_up_ref(s);
    SSL_SESSION_free(e->s);
    e->s = s;
    e->host = st->tls_host;
    e->port = st->port;
    e->tls = st->raw_tls;
}

void http_tls_sessions_free(http_tls_sessions *ss)
{
    for (int i = 0; i < HTTP_TLS_SESSIONS; i++) {
        SSL_SESSION_free(ss->e[i].s);
        ss->e[i].s = NULL;
    }
}

void http_tls_free(SSL *ssl)
{
    /* no close_notify (the socket closes next); marked as shut down so
     * OpenSSL keeps its session resumable */
    SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl);
}

/* ------------------------------------------------------------------------ */
/* Handshake and I/O                                                         */
/* ------------------------------------------------------------------------ */

/* OpenSSL's reason for the last failure, as curl prints it. */
static void ssl_text(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "unknown error");
    ERR_clear_error();
}

/* Curl and other OpenSSL users on this thread may leave errors behind:
 * SSL_get_error needs an empty queue. */
static inline void clear_errors(void)
{
    if (ERR_peek_error())
        ERR_clear_error();
}

int http_tls_handshake(SSL *ssl, int *events, CURLcode *rc, long *os_errno, char *detail,
                       size_t cap)
{
    clear_errors();
    int r = SSL_connect(ssl);
    if (r == 1)
        return 0;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *events = e == SSL_ERROR_WANT_READ ? UV_READABLE : UV_WRITABLE;
        return 1;
    }
    *os_errno = 0;
    long vr = SSL_get_verify_result(ssl);
    if (vr != X509_V_OK) {
        /* curl's words: 1311 when they name the host or address */
        *rc = CURLE_PEER_FAILED_VERIFICATION;
        snprintf(detail, cap, "SSL certificate problem: %s", X509_verify_cert_error_string(vr));
        ERR_clear_error();
        return -1;
    }
    *rc = CURLE_SSL_CONNECT_ERROR;
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        int err = errno;
        *os_errno = err;
        snprintf(detail, cap, "OpenSSL SSL_connect: %s",
                 err ? strerror(err) : "SSL_ERROR_SYSCALL (connection closed)");
        return -1;
    }
    char why[160];
    ssl_text(why, sizeof why);
    /* curl's form, so both clients' texts read alike */
    snprintf(detail, cap, "OpenSSL/%s: %s", OpenSSL_version(OPENSSL_VERSION_STRING), why);
    return -1;
}

bool http_tls_h2(const SSL *ssl)
{
    const unsigned char *proto = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);
    return len == 2 && memcmp(proto, "h2", 2) == 0;
}

/* The end of an SSL_read/SSL_write that did not move data, as recv/send
 * end: 0 at the peer's close (reads), -1 and errno. */
static ssize_t io_end(SSL *ssl, int r, const char *op, int *events, char *detail, size_t cap)
{
    int e = SSL_get_error(ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        *events = e == SSL_ERROR_WANT_READ ? UV_READABLE : UV_WRITABLE;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            if (errno == 0 || errno == EAGAIN)
                return 0;   /* the peer closed (OpenSSL saw a read of 0) */
            int err = errno;
            snprintf(detail, cap, "OpenSSL %s: %s, errno %d", op, strerror(err), err);
            errno = err;
            return -1;
        }
        /* fall through */
    default: {
        char why[160];
        ssl_text(why, sizeof why);
        snprintf(detail, cap, "OpenSSL %s: %s, errno 0", op, why);
        errno = EPROTO;
        return -1;
    }
    }
}

ssize_t http_tls_recv(SSL *ssl, void *buf, size_t len, int *events, char *detail, size_t cap)
{
    clear_errors();
    errno = 0;
    int r = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return r > 0 ? r : io_end(ssl, r, "SSL_read", events, detail, cap);
}

ssize_t http_tls_send(SSL *ssl, const void *buf, size_t len, int *events, char *detail,
                      size_t cap)
{
    clear_errors();
    errno = 0;
    int r = SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (r > 0)
        return r;
    ssize_t n = io_end(ssl, r, "SSL_write", events, detail, cap);
    if (n == 0) {   /* a write has no "closed": as send's EPIPE */
        snprintf(detail, cap, "OpenSSL SSL_write: connection closed, errno %d", EPIPE);
        errno = EPIPE;
        n = -1;
    }
    return n;
}

bool http_tls_pending(const SSL *ssl)
{
    return SSL_has_pending(ssl);
}

bool http_tls_idle_ok(SSL *ssl)
{
    /* processes what came while idle (TLS 1.3 session tickets); any
     * application data or a close means the connection is done */
    char byte;
    clear_errors();
    errno = 0;
    int r = SSL_peek(ssl, &byte, 1);
    if (r > 0)
        return false;
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return true;
    ERR_clear_error();
    return false;
}
