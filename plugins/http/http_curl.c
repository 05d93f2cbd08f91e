/*
 * The curl path: every request the fast path does not take (https, what
 * it hands over) runs on the VU's easy handle, created on first use by
 * http_loop.c and reused for every request (it keeps its options;
 * keep-alive connections come from its group's multi), with response and
 * render buffers that only grow. Options are set again only when the VU's
 * step changes; a request then costs, in this file, a few stores and the
 * templated parts' rendering.
 *
 * Timings (README.md has the full definitions) come from our own monotonic
 * stamps where curl 7.88 has none that is reliable: step_start,
 * PREREQFUNCTION (connection ready, request about to be written), the
 * socket callback switching the transfer to reading (request written), the
 * first response line; plus curl's CONNECT/APPCONNECT/STARTTRANSFER/TOTAL
 * deltas.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

/*
 * Receive buffer (CURLOPT_BUFFERSIZE) of a VU's handle: curl mallocs it for
 * every transfer and holds it until the transfer ends, so with thousands of
 * VUs waiting on slow answers its default 16 KB is most of a VU's memory.
 * It starts at curl's minimum, enough for a small answer in one read, and
 * grows to fit the largest response the VU has had (headers and body), up
 * to RECV_BUF_MAX, so large downloads are not read in 1 KB pieces.
 */
#define RECV_BUF_MIN 1024
#define RECV_BUF_MAX 65536

/* ------------------------------------------------------------------------ */
/* Curl callbacks of an easy handle (run inside curl: only record)           */
/* ------------------------------------------------------------------------ */

/* Counted always, kept only when a check or capture reads it. */
static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    http_vu *vs = userp;
    size_t len = size * n;
    if (vs->resp.body_bytes >= HTTP_BULK_BYTES) {
        /* a bulk response: read in turns (HTTP_BULK_TURN) */
        if (vs->grant <= 0) {
            http_pause(vs->w, vs);
            return CURL_WRITEFUNC_PAUSE;
        }
        vs->grant -= (int64_t)len;
    }
    int rc = http_body_add(vs->w->host, &vs->resp, data, len);
    if (rc == HTTP_PE_TOO_LARGE)
        vs->too_large = HTTP_TOO_LARGE_BODY;
    return rc == 0 ? len : 0;   /* 0: CURLE_WRITE_ERROR */
}

/* Keeps the header lines of the last response (1xx responses before it are
 * dropped), without its status line and final blank line. */
static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    http_vu *vs = userp;
    size_t len = size * n;
    vs->resp.hdr_bytes += len;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* digest, NTLM: the answer after the 401s is the response */
        if (!vs->t_first || (vs->step && vs->step->auth & (CURLAUTH_DIGEST | CURLAUTH_NTLM)))
            vs->t_first = vs->w->host->now_ns();
        vs->resp.headers.len = 0;
        return len;
    }
    if (len == 0 || (len <= 2 && (data[0] == '\r' || data[0] == '\n')))
        return len;
    if (len > 11 && strncasecmp(data, "set-cookie:", 11) == 0)
        vs->set_cookie = true;
    /* the fast path's limit (curl's own counts differently) */
    if (vs->resp.headers.len + len > HTTP_MAX_HEADERS) {
        vs->too_large = HTTP_TOO_LARGE_HEADERS;
        return 0;
    }
    if (http_buf_add(vs->w->host, &vs->resp.headers, data, len) != 0)
        return 0;
    return len;
}

static int on_prereq(void *clientp, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    http_vu *vs = clientp;
    vs->t_prereq = vs->w->host->now_ns();
    /* the connection is ready, its TLS (if any) negotiated */
    struct curl_tlssessioninfo *ti = NULL;
    if (curl_easy_getinfo(vs->easy, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
        ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals)
        vs->tls_version = (vs->tls_info = ptls_conn_info(ti->internals)).version;
    return CURL_PREREQFUNC_OK;
}

void http_curl_sent(CURL *easy)
{
    http_vu *vs = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&vs);
    if (vs && vs->t_prereq && !vs->t_sent && !vs->t_first)
        vs->t_sent = vs->w->host->now_ns();
}

/* ------------------------------------------------------------------------ */
/* Request setup                                                             */
/* ------------------------------------------------------------------------ */

static CURLcode on_ssl_ctx(CURL *e, void *ctx, void *userp);

int http_curl_setup(http_vu *vs)
{
    CURL *e = vs->easy;
    vs->recv_buf = RECV_BUF_MIN;
    vs->tls = NULL;
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* No proxy, and no getenv of the proxy variables per request. */
    rc |= curl_easy_setopt(e, CURLOPT_PROXY, "");
    rc |= curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    rc |= curl_easy_setopt(e, CURLOPT_BUFFERSIZE, vs->recv_buf);
    /* https copies the request into an upload buffer held for the whole
     * transfer (64 KB by default); curl's minimum, 16 KB, is one TLS record. */
    rc |= curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    rc |= curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, vs->errbuf);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, vs);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, vs);
    rc |= curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    rc |= curl_easy_setopt(e, CURLOPT_PREREQDATA, vs);
    rc |= curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    rc |= curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, vs);
    /* a new handle carries curl's CA defaults until apply_tls runs */
    vs->tls_unknown = true;
    return rc == CURLE_OK ? 0 : -1;
}

/* Between transfers: lets the receive buffer fit the response just read. */
static void fit_recv_buf(http_vu *vs)
{
    uint64_t total = vs->resp.hdr_bytes + vs->resp.body_bytes;
    long want = vs->recv_buf;
    while (want < RECV_BUF_MAX && (uint64_t)want < total)
        want *= 2;
    if (want != vs->recv_buf &&
        curl_easy_setopt(vs->easy, CURLOPT_BUFFERSIZE, want) == CURLE_OK)
        vs->recv_buf = want;
}

/*
 * CURLOPT_SSL_CTX_FUNCTION: curl 7.88 builds a context per connection.
 * It gets the worker's copy of the profile's CA store (http_tls_store),
 * so no CA file is read for it, and what curl has no option for
 * (ptls_ctx_apply: server_name, the alerts kept for error messages).
 */
static CURLcode on_ssl_ctx(CURL *e, void *ctx, void *userp)
{
    (void)e;
    http_vu *vs = userp;
    const ptls_profile *t = vs->tls;
    if (!(t && t->insecure)) {
        X509_STORE *store = http_tls_store(vs->w, &t);
        if (!store)
            return CURLE_SSL_CACERT_BADFILE;   /* out of memory: 1300 */
        SSL_CTX_set1_cert_store(ctx, store);
    }
    return !t || ptls_ctx_apply(ctx, t) == 0 ? CURLE_OK : CURLE_OUT_OF_MEMORY;
}

/*
 * The step's tls: settings as curl options, set when they differ from the
 * ones the handle carries (NULL: the system's store). The CA store comes
 * from on_ssl_ctx: curl is given no CA directory, and a CA file only for a
 * step's ca_file (then curl's multi caches the store it loaded, which is
 * ours, so the file is read again only when another ca_file was used in
 * between); without one curl loads nothing (7.88 is built without
 * CURL_CA_FALLBACK). The client certificate and key go as the PEM text
 * read at load time, so no file is read on the loop; server_name is
 * checked by OpenSSL (ptls_ctx_apply) instead of curl's host check.
 * A connection made for one set of options is not reused for another:
 * curl compares them before it reuses one (the CA file too; not
 * server_name or session_resumption). A VU's easy handle keeps the
 * sessions of its connections, so its reconnects resume them (k6 keeps
 * TLS sessions per VU too), unless session_resumption is false.
 */
static CURLcode apply_tls(http_vu *vs, const ptls_profile *t)
{
    if (t == vs->tls && !vs->tls_unknown)
        return CURLE_OK;
    CURL *e = vs->easy;
    CURLcode rc = CURLE_OK;
    bool insecure = t && t->insecure;
    rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
    rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, insecure || (t && t->server_name) ? 0L : 2L);
    rc |= curl_easy_setopt(e, CURLOPT_CAINFO, t && t->ca_file ? t->ca_file : NULL);
    rc |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    rc |= curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, t && t->no_resume ? 0L : 1L);
    if (t && t->cert_pem) {
        struct curl_blob cert = {t->cert_pem, t->cert_len, CURL_BLOB_NOCOPY};
        struct curl_blob key = {t->key_pem, t->key_len, CURL_BLOB_NOCOPY};
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        rc |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
        rc |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    } else {
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, NULL);
        rc |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, NULL);
    }
    /* versions and suites as curl options too, though the SSL_CTX
     * callback sets them again: curl reuses a connection only when its
     * own settings match, so a step's limits never ride on another's */
    static const long lo[] = {CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_TLSv1_1,
                              CURL_SSLVERSION_TLSv1_2, CURL_SSLVERSION_TLSv1_3};
    static const long hi[] = {CURL_SSLVERSION_MAX_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_1,
                              CURL_SSLVERSION_MAX_TLSv1_2, CURL_SSLVERSION_MAX_TLSv1_3};
    long version = (t && t->min_version ? lo[t->min_version - TLS1_VERSION] : CURL_SSLVERSION_DEFAULT) |
                   (t && t->max_version ? hi[t->max_version - TLS1_VERSION] : CURL_SSLVERSION_MAX_DEFAULT);
    rc |= curl_easy_setopt(e, CURLOPT_SSLVERSION, version);
    rc |= curl_easy_setopt(e, CURLOPT_SSL_CIPHER_LIST, t ? t->cipher_list : NULL);
    rc |= curl_easy_setopt(e, CURLOPT_TLS13_CIPHERS, t ? t->ciphersuites : NULL);
    if (t && !t->insecure) {
        /* the worker's copy of its store now, not in a handshake */
        const ptls_profile *with = t;
        if (!http_tls_store(vs->w, &with))
            rc = CURLE_OUT_OF_MEMORY;
    }
    vs->tls = t;
    vs->tls_unknown = rc != CURLE_OK;   /* then all is set again next time */
    return rc;
}

/* Sets what belongs to the step; runs only when the VU's step changes. */
static int configure(http_vu *vs, const http_step *st)
{
    CURL *e = vs->easy;
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (st->body_kind == BODY_NONE) {
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (st->method == HTTP_HEAD)
            rc |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        else if (st->method != HTTP_GET)
            rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, http_method_names[st->method]);
    } else {
        if (st->body_kind == BODY_FIXED) {
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st->body_len);
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, st->body_text);
        } else {
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");   /* method POST */
        }
        if (st->method != HTTP_POST)
            rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, http_method_names[st->method]);
    }
    /* A set CURLU wins over CURLOPT_URL, so a templated url clears it. */
    rc |= curl_easy_setopt(e, CURLOPT_CURLU, st->curlu);
    if (!st->headers_dynamic)
        rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, st->header_list);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, st->timeout_ms);
    /* a declared Content-Length over the cap is refused before its body */
    rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)st->max_body);
    /* connection_reuse: close takes no pooled connection and leaves none;
     * per_iteration sets FRESH_CONNECT per request (iteration_fresh). */
    long close = st->reuse == HTTP_REUSE_CLOSE;
    rc |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, close);
    rc |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, close);
    rc |= apply_tls(vs, st->tls);
    /* auth: (digest and NTLM answer a 401 on the same transfer); without
     * it, credentials in the url go as basic, curl's default */
    rc |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, st->auth ? st->auth : (long)CURLAUTH_BASIC);
    rc |= curl_easy_setopt(e, CURLOPT_USERNAME, st->auth_user);
    rc |= curl_easy_setopt(e, CURLOPT_PASSWORD, st->auth_pass);
    vs->configured = rc == CURLE_OK ? st : NULL;
    return rc == CURLE_OK ? 0 : -1;
}

/* Renders header lines into vs->hdrtext and links them as curl_slist nodes
 * owned by the VU; CR/LF in rendered values become spaces. */
static int render_headers(http_vu *vs, const http_step *st)
{
    const volley_host *h = vs->w->host;
    if (st->n_headers > vs->hnodes_cap) {
        http_hnode *n = realloc(vs->hnodes, st->n_headers * sizeof *n);
        if (!n)
            return -1;
        vs->hnodes = n;
        vs->hnodes_cap = st->n_headers;
    }
    vs->hdrtext.len = 0;
    for (size_t i = 0; i < st->n_headers; i++) {
        const http_header *hd = &st->headers[i];
        if (hd->line)
            continue;
        size_t kl = strlen(hd->key);
        vs->hnodes[i].off = vs->hdrtext.len;
        if (http_buf_add(h, &vs->hdrtext, hd->key, kl) != 0 ||
            http_buf_add(h, &vs->hdrtext, ": ", 2) != 0)
            return -1;
        size_t vstart = vs->hdrtext.len;
        if (h->template_render(hd->value, vs->vu, &vs->hdrtext) != 0 ||
            h->buf_reserve(&vs->hdrtext, 1) != 0)
            return -1;
        char *d = vs->hdrtext.data;
        if (http_header_clean(d + vstart, vs->hdrtext.len - vstart, NULL)) {
            /* "Key:" would make curl drop the header; "Key;" sends it empty */
            d[vstart - 2] = ';';
            vs->hdrtext.len = vstart - 1;
        }
        d[vs->hdrtext.len++] = '\0';
    }
    for (size_t i = 0; i < st->n_headers; i++) {
        const http_header *hd = &st->headers[i];
        vs->hnodes[i].sl.data = hd->line ? hd->line : vs->hdrtext.data + vs->hnodes[i].off;
        vs->hnodes[i].sl.next = i + 1 < st->n_headers ? &vs->hnodes[i + 1].sl : NULL;
    }
    return curl_easy_setopt(vs->easy, CURLOPT_HTTPHEADER, &vs->hnodes[0].sl) == CURLE_OK ? 0 : -1;
}

/* The request's templated parts: url, headers, body. */
static int render(http_vu *vs, const http_step *st)
{
    const volley_host *h = vs->w->host;
    CURL *e = vs->easy;
    if (!st->url_text) {
        if (http_render_url(h, vs, st) != 0 ||
            curl_easy_setopt(e, CURLOPT_URL, vs->url.data) != CURLE_OK)
            return -1;
    }
    if (st->headers_dynamic && render_headers(vs, st) != 0)
        return -1;
    if (st->body_kind == BODY_TEMPLATE || st->body_kind == BODY_JSON || st->body_kind == BODY_FORM ||
        st->body_kind == BODY_MULTIPART) {
        if (http_render_body(h, vs, st) != 0)
            return -1;
        if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)vs->reqbody.len) ||
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, vs->reqbody.data))
            return -1;
    }
    return 0;
}

/* Loads the step's DNS pin into the group's DNS cache (shared by its
 * handles) with this VU's next transfer. Every transfer carries the pin
 * until one that did has completed, so VUs starting together never reach
 * curl's resolver; a handle that carried it drops it again. */
static void pin_dns(http_group *g, http_vu *vs, const http_step *st)
{
    if (vs->resolve_set) {
        curl_easy_setopt(vs->easy, CURLOPT_RESOLVE, NULL);
        vs->resolve_set = false;
    }
    if (!st->resolve)
        return;
    if (st->idx >= g->n_pinned) {
        unsigned char *t = realloc(g->pinned, st->idx + 1);
        if (!t)
            return;
        memset(t + g->n_pinned, 0, st->idx + 1 - g->n_pinned);
        g->pinned = t;
        g->n_pinned = st->idx + 1;
    }
    if (!g->pinned[st->idx] &&
        curl_easy_setopt(vs->easy, CURLOPT_RESOLVE, st->resolve) == CURLE_OK)
        vs->resolve_set = true;
}

/*
 * The request's Cookie header (http_cookie.c: the step's, its cookies:,
 * the VU's jar for url) as CURLOPT_COOKIE, which curl sends as one line;
 * curl's own cookie engine is off. Cleared when none is due.
 */
static int set_cookies(http_vu *vs, const http_step *st, const char *url)
{
    if (!(st->cookie_parts || http_vu_jar(vs)->n)) {
        if (vs->curl_cookie && curl_easy_setopt(vs->easy, CURLOPT_COOKIE, NULL) != CURLE_OK)
            return -1;
        vs->curl_cookie = false;
        return 0;
    }
    if (http_cookie_header(vs, st, url) != 0)
        return -1;
    vs->curl_cookie = vs->cookie.len > 0;
    return curl_easy_setopt(vs->easy, CURLOPT_COOKIE, vs->curl_cookie ? vs->cookie.data : NULL) ==
                   CURLE_OK
               ? 0
               : -1;
}

static void reset_request(http_vu *vs, uint64_t now)
{
    vs->set_cookie = false;
    vs->t_start = now;
    vs->t_prereq = vs->t_sent = vs->t_first = 0;
    vs->tls_version = NULL;
    vs->tls_info = (ptls_info){NULL, NULL, NULL};
    vs->resp.hdr_bytes = 0;
    vs->resp.headers.len = 0;
    vs->resp.body.len = 0;
    vs->resp.body_bytes = 0;
    vs->resp.keep_body = vs->step->keep_body;
    vs->resp.max_body = vs->step->max_body;
    vs->too_large = 0;
    vs->grant = HTTP_BULK_GRANT;
    vs->errbuf[0] = '\0';
}

static int activate(http_worker *w, http_vu *vs)
{
    if (curl_multi_add_handle(vs->g->multi, vs->easy) != CURLM_OK)
        return -1;
    vs->active = true;
    vs->prev = NULL;
    vs->next = w->active;
    if (w->active)
        w->active->prev = vs;
    w->active = vs;
    return 0;
}

void http_curl_deactivate(http_worker *w, http_vu *vs)
{
    if (!vs->active)
        return;
    http_unpause(w, vs);
    curl_multi_remove_handle(vs->g->multi, vs->easy);
    if (vs->prev)
        vs->prev->next = vs->next;
    else
        w->active = vs->next;
    if (vs->next)
        vs->next->prev = vs->prev;
    vs->prev = vs->next = NULL;
    vs->active = false;
}

/* The origin of a url (scheme://host:port as written, without case), as
 * a 64-bit FNV-1a hash. */
static uint64_t origin_hash(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    p += strcspn(p, "/?#");
    uint64_t h = 14695981039346656037ull;
    for (const char *c = url; c < p; c++) {
        unsigned char b = (unsigned char)*c;
        h = (h ^ (b >= 'A' && b <= 'Z' ? b + 32u : b)) * 1099511628211ull;
    }
    return h;
}

/*
 * connection_reuse: per_iteration (k6's noVUConnectionReuse) for a request
 * to url: a new connection (CURLOPT_FRESH_CONNECT) unless a request of the
 * VU's current iteration already had one to the same origin; later ones
 * take an idle connection of the group, as any curl request. http_loop.c
 * records the connection when the transfer ends and closes it when the VU
 * starts another iteration (http_iter_begin).
 */
static int iteration_fresh(http_vu *vs, const char *url)
{
    http_iter_conns *ic = vs->iterc;
    if (!ic) {
        if (!(ic = calloc(1, sizeof *ic)))
            return -1;
        ic->iter = UINT64_MAX;
        vs->iterc = ic;
    }
    /* entries of an earlier iteration (http_loop.c has not closed them yet
     * when the fast path ran this one so far) count as none */
    bool current = ic->iter == vs->w->host->vu_iteration(vs->vu);
    ic->origin = origin_hash(url);
    bool seen = false;
    for (unsigned i = 0; current && i < ic->n && !seen; i++)
        seen = ic->c[i].origin == ic->origin;
    return curl_easy_setopt(vs->easy, CURLOPT_FRESH_CONNECT, seen ? 0L : 1L) == CURLE_OK ? 0 : -1;
}

/* The VU's curl handle ready for st: set for the step when its step
 * changed, templated parts rendered, the DNS pin loaded. */
static int prepare(http_vu *vs, const http_step *st)
{
    if (vs->configured != st && configure(vs, st) != 0)
        return -1;
    if (render(vs, st) != 0)
        return -1;
    const char *url = st->url_text ? st->url_text : vs->url.data;
    if (st->reuse == HTTP_REUSE_ITERATION && iteration_fresh(vs, url) != 0)
        return -1;
    if (set_cookies(vs, st, url) != 0)
        return -1;
    if (!st->tls && !vs->w->system_store && strncasecmp(url, "https:", 6) == 0) {
        /* the system's store, built once for the run, before the request
         * starts (a redirect to https:// builds it in its handshake) */
        const ptls_profile *t = NULL;
        if (http_tls_store(vs->w, &t))
            vs->w->system_store = true;
    }
    pin_dns(vs->g, vs, st);
    return 0;
}

int http_curl_start(http_worker *w, http_vu *vs, const http_step *st)
{
    if (prepare(vs, st) != 0)
        return -1;
    reset_request(vs, w->host->now_ns());
    return activate(w, vs);
}

/* ------------------------------------------------------------------------ */
/* Completion                                                                */
/* ------------------------------------------------------------------------ */

static double us_ms(curl_off_t from, curl_off_t to)
{
    return to > from ? (double)(to - from) / 1e3 : 0.0;
}

/* The curl path's timings: the shared marks, connecting and TLS from
 * curl's CONNECT/APPCONNECT, receiving curl's TOTAL - STARTTRANSFER. */
static http_timings measure(const http_vu *vs, CURL *e, long nc, uint64_t now, bool timed_out)
{
    double receiving = 0.0;
    /* digest, NTLM: curl's STARTTRANSFER is the first 401's */
    bool multipass = vs->step && (vs->step->auth & (CURLAUTH_DIGEST | CURLAUTH_NTLM));
    if ((timed_out || multipass) && vs->t_prereq && vs->t_first) {
        receiving = http_ns_ms(vs->t_first, now);   /* curl's TOTAL is later */
    } else if (vs->t_prereq && vs->t_first) {
        curl_off_t st = 0, total = 0;
        curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &st);
        curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
        if (st > 0)
            receiving = us_ms(st, total);
    }
    http_timings t = http_measure(vs, now, receiving);
    if (nc > 0) {
        curl_off_t nl = 0, conn = 0, app = 0;
        curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &nl);
        curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &conn);
        curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &app);
        t.connecting = us_ms(nl, conn);
        if (app > 0)
            t.tls = us_ms(conn, app);
    }
    return t;
}

/* Re-issues the VU's request to a 3xx Location, as k6 (Go) does: 301/302/
 * 303 turn other methods than GET/HEAD into a GET without body. */
static int follow(http_worker *w, http_vu *vs, const char *location, long status)
{
    CURL *e = vs->easy;
    int method = vs->step->method;
    vs->configured = NULL;   /* the next step_start sets everything again */
    if (curl_easy_setopt(e, CURLOPT_CURLU, NULL) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_URL, location) != CURLE_OK)
        return -1;
    if ((status == 301 || status == 302 || status == 303) && method != HTTP_GET &&
        method != HTTP_HEAD) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    }
    if (vs->step->reuse == HTTP_REUSE_ITERATION && iteration_fresh(vs, location) != 0)
        return -1;
    /* k6 builds each hop's cookies anew, the last response's in the jar */
    if (set_cookies(vs, vs->step, location) != 0)
        return -1;
    vs->redirects++;
    if (activate(w, vs) != 0)
        return -1;
    /* curl runs the transfer later, from the loop: the response just
     * recorded is only dropped once the next hop is certain. */
    reset_request(vs, w->host->now_ns());
    return 0;
}

/* k6's r.proto (Go's resp.Proto) of the transfer's response; NULL: none. */
static const char *curl_proto(CURL *e)
{
    long v = 0;
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &v);
    switch (v) {
    case CURL_HTTP_VERSION_1_0: return "HTTP/1.0";
    case CURL_HTTP_VERSION_1_1: return "HTTP/1.1";
    case CURL_HTTP_VERSION_2_0: return "HTTP/2.0";
#ifdef CURL_HTTP_VERSION_3
    case CURL_HTTP_VERSION_3: return "HTTP/3.0";
#endif
    default: return NULL;
    }
}

/*
 * One finished transfer: read curl's numbers, take the handle out of the
 * multi, record the samples and hand the response to the core. step_done
 * is the last thing done here: it may start this VU's next step, cancel
 * others, or end this VU (vu_fini) before it returns.
 */
void http_curl_complete(http_worker *w, http_vu *vs, CURLcode rc, uint64_t now)
{
    CURL *e = vs->easy;
    const http_step *st = vs->step;
    long status = 0, nc = 0, req_size = 0, os_errno = 0;
    curl_off_t uploaded = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nc);
    curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &req_size);
    curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    /* curl keeps the code of a status line it parsed, also when the
     * transfer failed after it */
    http_outcome o = {.t = measure(vs, e, nc, now, rc == CURLE_OPERATION_TIMEDOUT),
                      .status = status, .responded = status > 0};
    if (vs->resolve_set && st->idx < vs->g->n_pinned)
        vs->g->pinned[st->idx] = 1;   /* the pin is in the DNS cache now */

    if (rc != CURLE_OK) {
        if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR)
            curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
        const char *detail = vs->errbuf[0] ? vs->errbuf : curl_easy_strerror(rc);
        if (vs->too_large && rc == CURLE_WRITE_ERROR)
            rc = CURLE_FILESIZE_EXCEEDED;   /* our callback refused it */
        if (rc == CURLE_RECV_ERROR && strstr(detail, "Too large response headers")) {
            /* curl 7.88's own 300 KB limit (1xx answers included) */
            rc = CURLE_FILESIZE_EXCEEDED;
            vs->too_large = HTTP_TOO_LARGE_HEADERS;
        }
        if (rc == CURLE_OUT_OF_MEMORY && vs->t_prereq && !vs->too_large) {
            /* curl 7.88's refusal of a header line over 100 KB */
            rc = CURLE_FILESIZE_EXCEEDED;
            detail = "Too large response header line";
        } else if (rc == CURLE_FILESIZE_EXCEEDED && vs->too_large == HTTP_TOO_LARGE_HEADERS) {
            detail = "Too large response headers";
        } else if (rc == CURLE_FILESIZE_EXCEEDED) {
            /* the same text as the fast path's, for the callback's refusal
             * and for curl's own (a declared Content-Length) */
            snprintf(vs->errbuf, sizeof vs->errbuf,
                     "response body over max_response_size (%llu bytes)",
                     (unsigned long long)st->max_body);
            detail = vs->errbuf;
        }
        http_outcome_error(w, &o, rc, os_errno, vs->t_prereq != 0, detail);
    }

    /* REQUEST_SIZE holds the headers plus a body curl sent along with them
     * (small bodies); a body streamed after them (from 64 KiB in 7.88) is
     * only in SIZE_UPLOAD, and then larger than the headers. */
    o.sent = (double)req_size;
    if ((curl_off_t)req_size < uploaded)
        o.sent += (double)uploaded;

    /* The Location is copied out of curl (into the url render buffer,
     * rendered again at the next step_start) before the handle leaves. */
    const char *location = NULL;
    if (rc == CURLE_OK && http_is_redirect(status) && vs->redirects < st->max_redirects) {
        const char *loc = NULL;
        curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, (char **)&loc);
        if (loc) {
            vs->url.len = 0;
            if (http_buf_add(w->host, &vs->url, loc, strlen(loc)) == 0)
                location = vs->url.data;
        }
    }

    o.proto = curl_proto(e);
    /* curl's copy, kept by the handle until its next transfer is set */
    curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, (char **)&o.url);

    if (vs->set_cookie) {
        const char *eff = NULL;
        curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, (char **)&eff);
        if (eff)
            http_cookie_response(vs, eff);
    }

    http_curl_deactivate(w, vs);
    fit_recv_buf(vs);
    http_record(w, vs, &o);
    if (location && follow(w, vs, location, o.status) == 0)
        return;
    http_cookie_view(vs, &o);
    http_respond(w, vs, &o);
}

/*
 * A redirect answered on the fast path continues on curl, as the curl
 * path would have gone on: the VU's handle is set up for its step (the
 * method and body a 307/308 keeps), and the Location is resolved against
 * the request's url the way curl resolves CURLINFO_REDIRECT_URL.
 */
int http_curl_follow_raw(http_worker *w, http_vu *vs, const char *location, long status)
{
    const http_step *st = vs->step;
    if (prepare(vs, st) != 0)
        return -1;
    const char *base = st->url_text ? st->url_text : vs->url.data;
    CURLU *u = curl_url();
    char *abs = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, location, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK) {
        vs->url.len = 0;
        if (http_buf_add(w->host, &vs->url, abs, strlen(abs)) == 0)
            rc = follow(w, vs, vs->url.data, status);
    }
    curl_free(abs);
    curl_url_cleanup(u);
    return rc;
}
