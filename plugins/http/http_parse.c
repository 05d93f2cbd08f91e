/*
 * The fast path's HTTP/1.1 response parser. It takes what curl 7.88 takes
 * and keeps what curl's callbacks would have handed the curl path: the
 * header lines of the last response (1xx ones dropped), header bytes as
 * curl counts them, the body de-chunked. Lines split across reads wait in
 * the parser's own buffer; the rest is parsed where it was read.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"
#include "http_text.h"

#define MAX_LINE HTTP_MAX_HEADER_LINE
#define MAX_HEADERS HTTP_MAX_HEADERS

void http_parse_reset(http_parser *p, http_response *out, bool head)
{
    out->hdr_bytes = 0;
    out->headers.len = 0;
    out->body.len = 0;
    out->body_bytes = 0;
    p->ps = HTTP_PS_STATUS;
    p->status = 0;
    p->head = head;
    p->http10 = p->conn_close = p->conn_keep = p->chunked = p->has_len = false;
    p->excess = p->set_cookie = false;
    p->clen = p->left = p->line_bytes = 0;
    p->loc_off = p->loc_len = 0;
    p->line.len = 0;
}

void http_parse_free(http_parser *p)
{
    free(p->line.data);
}

int http_body_add(const volley_host *h, http_response *out, const char *data, size_t n)
{
    out->body_bytes += n;
    if (out->max_body && out->body_bytes > out->max_body)
        return HTTP_PE_TOO_LARGE;
    if (!out->keep_body)
        return 0;
    return http_buf_add(h, &out->body, data, n) != 0 ? HTTP_PE_NOMEM_BODY : 0;
}

bool http_parse_close(http_parser *p)
{
    if (p->ps != HTTP_PS_UNTIL_CLOSE)
        return false;
    p->ps = HTTP_PS_DONE;
    return true;
}

/* name: lower case, with its colon. */
static bool header_is(const char *l, size_t n, const char *name, size_t nlen)
{
    if (n <= nlen)
        return false;
    for (size_t i = 0; i < nlen; i++)
        if ((l[i] | (name[i] == ':' || name[i] == '-' ? 0 : 0x20)) != name[i])
            return false;
    return true;
}

/* Whether a comma-separated header value holds token (case-insensitive). */
static bool has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    while (n) {
        const char *comma = memchr(v, ',', n);
        size_t il = comma ? (size_t)(comma - v) : n;
        const char *item = v;
        size_t len = il;
        http_trim(&item, &len);
        if (len == tl && strncasecmp(item, token, tl) == 0)
            return true;
        if (!comma)
            break;
        v = comma + 1;
        n -= il + 1;
    }
    return false;
}

/* "HTTP/1.0 " or "HTTP/1.1 " and three digits, as curl's sscanf takes them. */
static int status_line(http_parser *p, const char *l, size_t n)
{
    if (n < 13 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
        return HTTP_PE_VERSION;
    if (l[9] < '1' || l[9] > '9' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
        (l[12] >= '0' && l[12] <= '9'))
        return HTTP_PE_STATUS;
    p->http10 = l[7] == '0';
    p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    return 0;
}

/* The blank line after a response's headers: what comes next. */
static void headers_end(http_parser *p)
{
    if (p->status < 200) {
        p->ps = HTTP_PS_STATUS;   /* an interim answer: the real one follows */
        return;
    }
    if (p->status == 204 || p->status == 304 || p->head) {
        p->ps = HTTP_PS_DONE;
    } else if (p->chunked) {
        p->ps = HTTP_PS_CHUNK_SIZE;
    } else if (p->has_len) {
        p->left = p->clen;
        p->ps = p->clen ? HTTP_PS_BODY : HTTP_PS_DONE;
    } else {
        p->ps = HTTP_PS_UNTIL_CLOSE;
        p->conn_close = true;
    }
}

/* One header line of the response (with its line end), kept as the curl
 * path keeps it; the few headers the transfer depends on are read. */
static int header_line(http_parser *p, const volley_host *h, http_response *out, const char *l,
                       size_t n)
{
    if (out->headers.len + n > MAX_HEADERS)
        return HTTP_PE_HEADERS_SIZE;
    size_t off = out->headers.len;
    if (http_buf_add(h, &out->headers, l, n) != 0)
        return HTTP_PE_NOMEM;
    const char *v;
    size_t vl;
    switch (l[0] | 0x20) {
    case 'c':
        if (header_is(l, n, "content-length:", 15)) {
            v = l + 15;
            vl = n - 15;
            http_trim(&v, &vl);
            uint64_t len = 0;
            size_t i = 0;
            for (; i < vl && v[i] >= '0' && v[i] <= '9' && len < (UINT64_MAX - 9) / 10; i++)
                len = len * 10 + (uint64_t)(v[i] - '0');
            if (!vl || i != vl)
                return HTTP_PE_LENGTH;
            p->clen = len;
            p->has_len = true;
        } else if (header_is(l, n, "connection:", 11)) {
            v = l + 11;
            vl = n - 11;
            http_trim(&v, &vl);
            if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0) {
                p->conn_keep = true;   /* the usual value, at once */
            } else {
                p->conn_close |= has_token(v, vl, "close");
                p->conn_keep |= has_token(v, vl, "keep-alive");
            }
        }
        break;
    case 't':
        if (header_is(l, n, "transfer-encoding:", 18)) {
            if (has_token(l + 18, n - 18, "chunked"))
                p->chunked = true;
            else
                p->conn_close = true;   /* another coding: the body runs to the close */
        }
        break;
    case 's':
        if (header_is(l, n, "set-cookie:", 11))
            p->set_cookie = true;
        break;
    case 'l':
        if (header_is(l, n, "location:", 9)) {
            v = l + 9;
            vl = n - 9;
            http_trim(&v, &vl);
            p->loc_off = off + (size_t)(v - l);
            p->loc_len = vl;
        }
        break;
    }
    return 0;
}

static int chunk_size(http_parser *p, const char *l, size_t n)
{
    uint64_t size = 0;
    size_t i = 0;
    for (; i < n && i < 16; i++) {
        char c = l[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
        if (d < 0)
            break;
        size = size * 16 + (uint64_t)d;
    }
    /* curl reads the size as a curl_off_t: more than INT64_MAX is refused */
    if (i == 0 || size > (uint64_t)INT64_MAX ||
        (i < n && l[i] != ';' && l[i] != '\r' && l[i] != '\n' && l[i] != ' ' && l[i] != '\t'))
        return HTTP_PE_CHUNK_SIZE;
    if (size == 0) {
        p->ps = HTTP_PS_TRAILERS;
    } else {
        p->left = size;
        p->ps = HTTP_PS_CHUNK_DATA;
    }
    return 0;
}

static bool blank_line(const char *l, size_t n)
{
    return n == 1 || (n == 2 && l[0] == '\r');
}

/* A complete line (status, header, chunk size, chunk end, trailer). */
static int on_line(http_parser *p, const volley_host *h, http_response *out, const char *l,
                   size_t n)
{
    int rc;
    switch (p->ps) {
    case HTTP_PS_STATUS:
        if ((rc = status_line(p, l, n)) != 0)
            return rc;
        p->line_bytes += n;
        /* interim (1xx) answers count too, as curl counts them */
        if (p->line_bytes > MAX_HEADERS)
            return HTTP_PE_HEADERS_SIZE;
        out->hdr_bytes += n;
        out->headers.len = 0;   /* only the last response's lines are kept */
        p->ps = HTTP_PS_HEADERS;
        return 0;
    case HTTP_PS_HEADERS:
        p->line_bytes += n;
        if (p->line_bytes > MAX_HEADERS)
            return HTTP_PE_HEADERS_SIZE;
        out->hdr_bytes += n;
        if (blank_line(l, n)) {
            headers_end(p);
            /* a declared length over the cap is refused before its body */
            if (p->ps == HTTP_PS_BODY && out->max_body && p->left > out->max_body)
                return HTTP_PE_TOO_LARGE;
            return 0;
        }
        return header_line(p, h, out, l, n);
    case HTTP_PS_CHUNK_SIZE:
        return chunk_size(p, l, n);
    case HTTP_PS_CHUNK_END:
        if (!blank_line(l, n))
            return HTTP_PE_CHUNK_END;
        p->ps = HTTP_PS_CHUNK_SIZE;
        return 0;
    case HTTP_PS_TRAILERS:
        /* curl hands trailers to the header callback, not the blank line */
        if (blank_line(l, n)) {
            p->ps = HTTP_PS_DONE;
            return 0;
        }
        out->hdr_bytes += n;
        return header_line(p, h, out, l, n);
    default:
        return 0;
    }
}

int http_parse(http_parser *p, const volley_host *h, http_response *out, const char *data,
               size_t n)
{
    const char *end = data + n;
    while (data < end) {
        size_t avail = (size_t)(end - data);
        switch (p->ps) {
        case HTTP_PS_DONE:
            p->excess = true;   /* more than the response: not reused */
            return 1;
        case HTTP_PS_UNTIL_CLOSE:
            return http_body_add(h, out, data, avail);
        case HTTP_PS_BODY:
        case HTTP_PS_CHUNK_DATA: {
            size_t take = avail < p->left ? avail : (size_t)p->left;
            int rc = http_body_add(h, out, data, take);
            if (rc != 0)
                return rc;
            data += take;
            p->left -= take;
            if (!p->left)
                p->ps = p->ps == HTTP_PS_BODY ? HTTP_PS_DONE : HTTP_PS_CHUNK_END;
            continue;
        }
        default:
            break;
        }
        /* a line state; an answer that does not start as HTTP is refused at once */
        if (p->ps == HTTP_PS_STATUS) {
            size_t have = p->line.len, k = 0;
            for (; have + k < 5 && k < avail; k++)
                if (data[k] != "HTTP/"[have + k])
                    return HTTP_PE_NOT_HTTP;
        }
        const char *nl = memchr(data, '\n', avail);
        size_t take = nl ? (size_t)(nl - data) + 1 : avail;
        if (p->line.len + take > MAX_LINE)
            return HTTP_PE_LINE_SIZE;
        if (!nl || p->line.len) {
            if (http_buf_add(h, &p->line, data, take) != 0)
                return HTTP_PE_NOMEM;
            data += take;
            if (!nl)
                return 0;
            int rc = on_line(p, h, out, p->line.data, p->line.len);
            p->line.len = 0;
            if (rc != 0)
                return rc;
        } else {
            int rc = on_line(p, h, out, data, take);
            if (rc != 0)
                return rc;
            data += take;
        }
    }
    return p->ps == HTTP_PS_DONE ? 1 : 0;
}

bool http_token(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return false;
    }
    return true;
}
