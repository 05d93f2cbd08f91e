#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    *end = '\0';
    return s;
}

/* Parses a Content-Length value strictly: digits only, no overflow. */
static int parse_length(const char *v, size_t *out)
{
    if (!*v)
        return -1;
    size_t n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (SIZE_MAX - 9) / 10)
            return -1;
        n = n * 10 + (size_t)(*v - '0');
    }
    *out = n;
    return 0;
}

/* Finds a header in the raw (unsplit) head without modifying it. */
static const char *raw_header(const char *head, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memmem(head, (size_t)(end - head), "\r\n", 2);
    while (p && p + 2 < end) {
        p += 2;
        const char *e = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!e || e == p)
            break;
        if ((size_t)(e - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = e;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = e;
    }
    return NULL;
}

enum http_parse_result http_parse(char *buf, size_t len, struct http_req *req, int *status)
{
    char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) {
        if (len > HTTP_MAX_HEAD) {
            *status = 431;
            return HTTP_PARSE_ERROR;
        }
        return HTTP_PARSE_AGAIN;
    }
    end += 4;
    memset(req, 0, offsetof(struct http_req, params_buf));
    req->head_len = (size_t)(end - buf);
    *status = 400;
    /* The head is split with string functions below: no NULs in it. */
    if (memchr(buf, '\0', req->head_len))
        return HTTP_PARSE_ERROR;

    /* Completeness first, without touching the buffer, so an incomplete
     * request can simply be parsed again when more bytes arrive. */
    size_t vlen, clen = 0;
    char tmp[32];
    if (raw_header(buf, end, "Transfer-Encoding", &vlen)) {
        *status = 411;
        return HTTP_PARSE_ERROR;
    }
    const char *cl = raw_header(buf, end, "Content-Length", &vlen);
    if (cl) {
        if (vlen == 0 || vlen >= sizeof tmp)
            return HTTP_PARSE_ERROR;
        memcpy(tmp, cl, vlen);
        tmp[vlen] = '\0';
        if (parse_length(tmp, &clen) != 0)
            return HTTP_PARSE_ERROR;
    }
    if (clen > HTTP_MAX_BODY) {
        *status = 413;
        return HTTP_PARSE_ERROR;
    }
    const char *ex = raw_header(buf, end, "Expect", &vlen);
    req->expect_continue = ex && vlen == 12 && strncasecmp(ex, "100-continue", 12) == 0;
    req->body_len = clen;
    req->total_len = req->head_len + clen;
    if (len < req->total_len)
        return HTTP_PARSE_HEADERS;

    char *line = buf, *eol = strstr(line, "\r\n");
    *eol = '\0';
    char *sp1 = strchr(line, ' ');
    if (!sp1)
        return HTTP_PARSE_ERROR;
    char *sp2 = strchr(sp1 + 1, ' ');
    if (!sp2)
        return HTTP_PARSE_ERROR;
    *sp1 = *sp2 = '\0';
    req->method = line;
    req->target = sp1 + 1;
    if (!*req->method)
        return HTTP_PARSE_ERROR;
    for (const char *m = req->method; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return HTTP_PARSE_ERROR;
    if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1') || sp2[9])
        return HTTP_PARSE_ERROR;
    req->minor = sp2[8] - '0';
    if (req->target[0] != '/') {
        /* absolute-form: keep only the path */
        char *p = strstr(req->target, "://");
        if (!p || !(p = strchr(p + 3, '/')))
            return HTTP_PARSE_ERROR;
        req->target = p;
    }
    req->path = req->target;
    char *q = strchr(req->target, '?');
    if (q) {
        *q = '\0';
        req->query = q + 1;
    } else {
        req->query = "";
    }

    char *p = eol + 2;
    while (p < end - 2) {
        char *e = strstr(p, "\r\n");
        *e = '\0';
        char *colon = strchr(p, ':');
        if (!colon || colon == p)
            return HTTP_PARSE_ERROR;
        for (char *c = p; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return HTTP_PARSE_ERROR;
        if (req->nhdr == HTTP_MAX_HEADERS) {
            *status = 431;
            return HTTP_PARSE_ERROR;
        }
        *colon = '\0';
        req->hdr[req->nhdr].name = p;
        req->hdr[req->nhdr].value = trim(colon + 1, e);
        req->nhdr++;
        p = e + 2;
    }

    const char *conn = http_header(req, "Connection");
    req->keep_alive = req->minor == 1 ? !(conn && http_token_in(conn, "close"))
                                      : (conn && http_token_in(conn, "keep-alive"));
    req->body = end;
    return HTTP_PARSE_DONE;
}

const char *http_header(const struct http_req *req, const char *name)
{
    for (int i = 0; i < req->nhdr; i++)
        if (strcasecmp(req->hdr[i].name, name) == 0)
            return req->hdr[i].value;
    return NULL;
}

bool http_token_in(const char *list, const char *token)
{
    size_t tl = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
            return true;
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

bool http_query(const struct http_req *req, const char *name, char *out, size_t cap)
{
    const char *p = req->query;
    size_t nl = strlen(name);
    char key[128];
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t kl = eq ? (size_t)(eq - p) : seg;
        size_t dk = pct_decode(p, kl, key, sizeof key);
        if (dk == nl && memcmp(key, name, nl) == 0) {
            if (eq)
                pct_decode(eq + 1, seg - kl - 1, out, cap);
            else if (cap)
                out[0] = '\0';
            return true;
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return false;
}

void resp_init(struct http_resp *r)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
}

void resp_free(struct http_resp *r)
{
    sb_free(&r->headers);
    sb_free(&r->body);
}

void resp_header(struct http_resp *r, const char *name, const char *fmt, ...)
{
    sb_adds(&r->headers, name);
    sb_add(&r->headers, ": ", 2);
    va_list ap;
    va_start(ap, fmt);
    sb_vaddf(&r->headers, fmt, ap);
    va_end(ap);
    sb_add(&r->headers, "\r\n", 2);
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* The Date header changes once a second; format it only then. */
static const char *date_now(void)
{
    static char buf[64];
    static time_t last;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

void resp_serialize(const struct http_resp *r, struct sbuf *out)
{
    sb_reserve(out, 160 + r->headers.len + r->body.len);
    sb_addf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", r->status, http_reason(r->status), date_now());
    if (r->ctype)
        sb_addf(out, "Content-Type: %s\r\n", r->ctype);
    if (!r->no_content_length)
        sb_addf(out, "Content-Length: %zu\r\n", r->body.len);
    if (r->headers.len)
        sb_add(out, r->headers.data, r->headers.len);
    if (r->close)
        sb_adds(out, "Connection: close\r\n");
    sb_add(out, "\r\n", 2);
    if (r->body.len)
        sb_add(out, r->body.data, r->body.len);
}
