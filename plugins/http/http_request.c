/*
 * Request building: a step's templated parts rendered per request into the
 * VU's buffers (url, body), and the fast path's request bytes as curl 7.88
 * writes them, which step_compile prebuilds whole for a constant step and
 * http_raw.c renders around the templated parts otherwise. Below both
 * clients and http_conf.c; calls only the host.
 */
#include <string.h>

#include "http_int.h"

const char *const http_method_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE",
                                         "HEAD", "OPTIONS", NULL};

int http_render_url(const volley_host *h, http_vu *vs, const http_step *st)
{
    vs->url.len = 0;
    if (st->url_tmpl) {
        if (h->template_render(st->url_tmpl, vs->vu, &vs->url) != 0)
            return -1;
    } else {
        size_t n = strlen(st->url_base);
        if (h->buf_reserve(&vs->url, n) != 0)
            return -1;
        memcpy(vs->url.data, st->url_base, n);
        vs->url.len = n;
    }
    if (h->buf_reserve(&vs->url, 1) != 0)
        return -1;
    vs->url.data[vs->url.len] = '\0';
    if (st->query.n == 0)
        return 0;
    /* A fragment is not sent: the query goes before it (it is dropped). */
    char *hash = memchr(vs->url.data, '#', vs->url.len);
    if (hash)
        vs->url.len = (size_t)(hash - vs->url.data);
    bool has_q = memchr(vs->url.data, '?', vs->url.len) != NULL;
    vs->url.data[vs->url.len++] = has_q ? '&' : '?';
    return h->template_map_urlencode(&st->query, vs->vu, &vs->url);
}

int http_render_body(const volley_host *h, http_vu *vs, const http_step *st)
{
    vs->reqbody.len = 0;
    int rc = st->body_kind == BODY_JSON        ? h->json_render(st->body_json, vs->vu, &vs->reqbody)
             : st->body_kind == BODY_FORM      ? h->template_map_urlencode(&st->form, vs->vu, &vs->reqbody)
             : st->body_kind == BODY_MULTIPART ? http_mp_render(h, st, vs->vu, &vs->reqbody)
                                               : h->template_render(st->body_tmpl, vs->vu, &vs->reqbody);
    if (rc != 0 || h->buf_reserve(&vs->reqbody, 0) != 0)
        return -1;
    vs->reqbody.data[vs->reqbody.len] = '\0';
    return 0;
}

/* Bytes curl 7.88 sends unchanged in a request target: printable ASCII
 * without space and '#' (checked byte by byte against what curl sent). */
static bool target_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '#';
}

/*
 * Whether the rendered url is this step's origin followed by a target curl
 * would send as it is: no byte it encodes or cuts (space, control, non-
 * ASCII, '#'), no "." or ".." path segment (curl removes them).
 */
bool http_url_verbatim(const http_step *st, const char *url, size_t len)
{
    if (len < st->origin_len || memcmp(url, st->origin, st->origin_len) != 0)
        return false;
    const char *p = url + st->origin_len, *end = url + len;
    const char *seg = p;
    bool in_path = true;
    for (;; p++) {
        if (p == end || (in_path && (*p == '/' || *p == '?'))) {
            if (in_path && seg[0] == '.' &&
                (p - seg == 1 || (p - seg == 2 && seg[1] == '.')))
                return false;
            if (p == end)
                return true;
            in_path = *p != '?';
            seg = p + 1;
            continue;
        }
        if (!target_byte((unsigned char)*p))
            return false;
    }
}

/*
 * A templated header as the curl path sends it: the value rendered, CR,
 * LF and NUL turned into spaces; a blank value as "Key:" (the curl path
 * writes "Key;"); a value of other white space (\v, \f) not at all, as
 * curl drops it.
 */
static int put_header(const volley_host *h, volley_buf *b, volley_vu *vu, const http_header *hd)
{
    size_t start = b->len, kl = strlen(hd->key);
    if (http_buf_add(h, b, hd->key, kl) != 0 || http_buf_add(h, b, ": ", 2) != 0)
        return -1;
    size_t vstart = b->len;
    if (h->template_render(hd->value, vu, b) != 0)
        return -1;
    bool space;
    bool blank = http_header_clean(b->data + vstart, b->len - vstart, &space);
    if (blank)
        b->len = vstart - 1;   /* "Key:" */
    else if (space) {
        b->len = start;
        return 0;
    }
    return http_buf_add(h, b, "\r\n", 2);
}

static size_t put_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

int http_render_head(const volley_host *h, volley_buf *b, const http_step *st, volley_vu *vu,
                  const char *target, size_t tlen, size_t blen, const volley_buf *cookie)
{
    const char *m = http_method_names[st->method];
    if (http_buf_add(h, b, m, strlen(m)) != 0 || http_buf_add(h, b, " ", 1) != 0 ||
        http_buf_add(h, b, target, tlen) != 0 ||
        http_buf_add(h, b, st->raw_mid, st->raw_mid_len) != 0)
        return -1;
    /* curl 7.88 writes its Cookie line (CURLOPT_COOKIE) after Accept,
     * before the custom headers */
    if (cookie && cookie->len &&
        (http_buf_add(h, b, "Cookie: ", 8) != 0 ||
         http_buf_add(h, b, cookie->data, cookie->len) != 0 || http_buf_add(h, b, "\r\n", 2) != 0))
        return -1;
    for (size_t i = 0; i < st->n_headers; i++) {
        const http_header *hd = &st->headers[i];
        if (hd->value ? put_header(h, b, vu, hd) != 0
                      : hd->raw_len && http_buf_add(h, b, hd->raw, hd->raw_len) != 0)
            return -1;
    }
    if (st->body_kind != BODY_NONE) {
        char num[24];
        if (http_buf_add(h, b, "Content-Length: ", 16) != 0 ||
            http_buf_add(h, b, num, put_u64(num, blen)) != 0 || http_buf_add(h, b, "\r\n", 2) != 0)
            return -1;
    }
    return http_buf_add(h, b, "\r\n", 2);
}
