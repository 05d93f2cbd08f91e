/*
 * http: HTTP/1.1 request parsing (in place, in the connection's read
 * buffer) and response building. Only what the stand-in needs: request
 * line, headers, a Content-Length body (chunked request bodies are
 * refused with 411), keep-alive, pipelining and Expect: 100-continue.
 */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_HEAD (16 * 1024)
#define HTTP_MAX_BODY (1024 * 1024)

struct http_req {
    char *method, *target, *path, *query; /* query is "" when absent */
    int minor;                            /* HTTP/1.x */
    struct {
        char *name, *value;
    } hdr[HTTP_MAX_HEADERS];
    int nhdr;
    const char *body;
    size_t body_len;
    size_t head_len, total_len;
    bool keep_alive, expect_continue;
    const char *peer; /* "ip:port" of the client */
    /* Path parameters filled by the router; point into params_buf. */
    const char *params[4];
    int nparams;
    char params_buf[512];
};

enum http_parse_result {
    HTTP_PARSE_AGAIN = 0,    /* need more bytes */
    HTTP_PARSE_DONE = 1,     /* a whole request; total_len bytes used */
    HTTP_PARSE_HEADERS = 2,  /* headers complete, body still coming */
    HTTP_PARSE_ERROR = -1,   /* reply with *status and close */
};

/* Parses one request at the start of buf. An incomplete request leaves
 * buf untouched (HTTP_PARSE_HEADERS tells total_len and expect_continue,
 * so the caller can send "100 Continue" and parse again later); a complete
 * one is split in place with NULs and must be handled before the buffer
 * changes. */
enum http_parse_result http_parse(char *buf, size_t len, struct http_req *req, int *status);

const char *http_header(const struct http_req *req, const char *name);
/* Percent-decoded query parameter into out; false when absent. */
bool http_query(const struct http_req *req, const char *name, char *out, size_t cap);
/* Whether a comma-separated header value ("a, b") contains token. */
bool http_token_in(const char *list, const char *token); /* "a, b" contains token */

struct http_resp {
    int status;
    const char *ctype; /* NULL: no Content-Type */
    struct sbuf headers; /* extra "Name: value\r\n" lines */
    struct sbuf body;
    bool close;
    bool no_content_length; /* 101 */
    void *upgrade;          /* a ws session to attach once this 101 is sent */
};

void resp_init(struct http_resp *r);
void resp_free(struct http_resp *r);
void resp_header(struct http_resp *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Serialises status line, Date, Content-Type/Length, extra headers and body. */
void resp_serialize(const struct http_resp *r, struct sbuf *out);
const char *http_reason(int status);

#endif
