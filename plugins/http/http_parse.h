/*
 * The fast path's HTTP/1.1 response parser (http_parse.c): bytes in, the
 * response as the curl path keeps it out. Pure: no curl, no libuv, no
 * sockets; a caller feeds it what it read and maps its errors to curl's.
 */
#ifndef VOLLEY_HTTP_PARSE_H
#define VOLLEY_HTTP_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "volley/plugin.h"

/* A response as a VU keeps it for checks, filled the same way by both
 * clients (curl's callbacks, this parser). */
typedef struct http_response {
    volley_buf headers;             /* header lines of the final response   */
    volley_buf body;                /* kept only when keep_body             */
    uint64_t hdr_bytes;             /* all header bytes of this hop         */
    uint64_t body_bytes;            /* all body bytes of this hop, kept or not */
    uint64_t max_body;              /* more body than this is refused; 0: no cap */
    bool keep_body;                 /* something reads the body             */
} http_response;

/* The limits on headers both clients apply (curl 7.88's own). */
#define HTTP_MAX_HEADER_LINE (100 * 1024)    /* CURL_MAX_HTTP_HEADER        */
#define HTTP_MAX_HEADERS (300 * 1024)        /* MAX_HTTP_RESP_HEADER_SIZE   */

/* Body bytes of a response: counted, kept when wanted; 0, or
 * HTTP_PE_TOO_LARGE / HTTP_PE_NOMEM_BODY. Both clients feed bodies here. */
int http_body_add(const volley_host *h, http_response *out, const char *data, size_t n);

enum http_parse_state {
    HTTP_PS_STATUS, HTTP_PS_HEADERS, HTTP_PS_BODY, HTTP_PS_UNTIL_CLOSE, HTTP_PS_CHUNK_SIZE,
    HTTP_PS_CHUNK_DATA, HTTP_PS_CHUNK_END, HTTP_PS_TRAILERS, HTTP_PS_DONE
};

/* Why http_parse refused a response (negative, as it returns them). */
enum http_parse_error {
    HTTP_PE_NOT_HTTP = -1,          /* does not start as "HTTP/"            */
    HTTP_PE_VERSION = -2,           /* not HTTP/1.0 or HTTP/1.1             */
    HTTP_PE_STATUS = -3,            /* not three digits                     */
    HTTP_PE_LINE_SIZE = -4,         /* a line over 100 KB                   */
    HTTP_PE_HEADERS_SIZE = -5,      /* headers over 300 KB                  */
    HTTP_PE_LENGTH = -6,            /* a bad Content-Length                 */
    HTTP_PE_CHUNK_SIZE = -7,        /* a bad chunk size line                */
    HTTP_PE_CHUNK_END = -8,         /* chunk data not followed by a line end */
    HTTP_PE_NOMEM = -9,             /* a line or the headers                */
    HTTP_PE_NOMEM_BODY = -10,
    HTTP_PE_TOO_LARGE = -11         /* a body over http_response.max_body   */
};

typedef struct http_parser {
    int ps;                         /* enum http_parse_state                */
    int status;
    bool head;                      /* the request was HEAD: no body        */
    bool http10, conn_close, conn_keep, chunked, has_len, excess, set_cookie;
    uint64_t clen, left;
    uint64_t line_bytes;            /* complete header lines (curl's headerbytecount) */
    size_t loc_off, loc_len;        /* Location value in the headers        */
    volley_buf line;                /* a line split across reads            */
} http_parser;

/* Ready for a new response to a request (head: it was a HEAD); empties
 * out (its keep_body and max_body stay). */
void http_parse_reset(http_parser *p, http_response *out, bool head);
/* Feeds received bytes: 1 when the response is complete, 0 when more is
 * needed, or an http_parse_error. */
int http_parse(http_parser *p, const volley_host *h, http_response *out, const char *data,
               size_t n);
/* The connection closed: whether that ends the response (a body that runs
 * to the close). */
bool http_parse_close(http_parser *p);
void http_parse_free(http_parser *p);

/* s[0..n) is an RFC 9110 token (a header or cookie name): one or more
 * visible ASCII bytes but separators. */
bool http_token(const char *s, size_t n);

/* Whether the connection may carry another request after this response. */
static inline bool http_parse_keep_alive(const http_parser *p)
{
    return !p->conn_close && (!p->http10 || p->conn_keep) && !p->excess &&
           p->ps == HTTP_PS_DONE;
}

#endif
