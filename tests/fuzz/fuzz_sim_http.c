/* libFuzzer: deltran-sim's request parser (in place, as the server calls
 * it on its read buffer), the query and header lookups on what it parsed,
 * and the value parsers fed with the same bytes: JWT verification, UUIDs,
 * decimals and date-times. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jwt.h"
#include "util.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    /* The server's buffer is NUL-terminated after its length. */
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    struct http_req req;
    int status;
    enum http_parse_result r = http_parse(buf, size, &req, &status);
    if (r == HTTP_PARSE_DONE) {
        if (req.total_len > size || req.body + req.body_len > buf + size)
            abort();
        char v[256];
        http_query(&req, "user_id", v, sizeof v);
        http_query(&req, "limit", v, sizeof v);
        const char *c = http_header(&req, "Connection");
        if (c)
            http_token_in(c, "upgrade");
    } else if (r == HTTP_PARSE_HEADERS) {
        if (req.total_len <= size)
            abort();
    } else if (r == HTTP_PARSE_ERROR && (status < 400 || status > 499)) {
        abort();
    }
    free(buf);

    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    json_t *claims = NULL;
    char err[256];
    if (jwt_verify("secret", s, 1700000000, &claims, err, sizeof err) == 0)
        json_decref(claims);
    uuid_valid(s);
    struct decimal d;
    if (!decimal_parse(s, &d)) {
        char out[48];
        decimal_format(d, out);
        struct decimal back;
        if (decimal_parse(out, &back) || back.mant != d.mant || back.scale != d.scale)
            abort();
    }
    int64_t ns;
    parse_datetime(s, &ns);
    free(s);
    return 0;
}
