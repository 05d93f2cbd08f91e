/*
 * reply: response bodies in the shapes the real services' frameworks
 * produce — Go's json.Encoder (trailing newline) and http.Error, actix's
 * JSON and extractor errors, FastAPI's JSON — plus the request-body
 * decoding each of them does before a handler sees it.
 */
#ifndef SIM_REPLY_H
#define SIM_REPLY_H

#include <jansson.h>

#include "http.h"

void reply_raw(struct http_resp *resp, int status, const char *ctype, const char *body);
/* Serialises obj (reference stolen) as compact JSON; go_style appends the
 * newline Go's json.Encoder writes. */
void reply_json(struct http_resp *resp, int status, json_t *obj, bool go_style);
/* Go's http.Error: text/plain, nosniff, message + "\n". */
void reply_go_error(struct http_resp *resp, int status, const char *msg);

/* Decodes the body as JSON (any value); NULL when it is not valid JSON. */
json_t *body_json(const struct http_req *req);

/*
 * actix-web's web::Json<T> extraction as the Rust engines use it: the
 * Content-Type must be JSON ("Content type error"), the body must parse
 * and each declared field must deserialise (serde: missing field, invalid
 * type, invalid value — UUIDs and rust_decimal amounts included). On a
 * failure the 400 text response is written and NULL returned; otherwise
 * the parsed object (caller owns it).
 */
enum field_kind { FK_STR, FK_UUID, FK_DEC, FK_INT, FK_BOOL, FK_OBJ, FK_ENUM };
struct field {
    const char *name;
    enum field_kind kind;
    bool optional;
    const char *const *variants; /* FK_ENUM: NULL-terminated */
};
json_t *actix_json(const struct http_req *req, struct http_resp *resp, const struct field *fields,
                   size_t nfields);

/*
 * Go's json.NewDecoder(r.Body).Decode(&struct): only the first JSON value
 * is read (trailing bytes ignored), null decodes to a zero struct, and a
 * field of the wrong JSON type is an error. Returns an object (possibly
 * empty; caller owns) or NULL on error.
 */
enum go_kind { GO_STRING, GO_NUMBER, GO_BOOL, GO_OBJECT, GO_ANY };
struct gofield {
    const char *name;
    enum go_kind kind;
};
json_t *go_decode(const struct http_req *req, const struct gofield *fields, size_t nfields);

/* The token and obligation engines' domain error envelope:
 * {"error":{"code":N,"message":"...","type":"..."}}. */
void reply_engine_error(struct http_resp *resp, int status, const char *type, const char *msg);

/* A float64 as Go's encoding/json prints it: 100000, not 100000.0. */
json_t *go_num(double v);

/* Tiny accessors for already validated objects. */
const char *jstr(const json_t *obj, const char *key); /* "" when absent */
double jnum(const json_t *obj, const char *key);      /* 0 when absent */

#endif
