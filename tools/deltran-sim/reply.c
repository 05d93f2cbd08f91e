#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "validate.h"

void reply_raw(struct http_resp *resp, int status, const char *ctype, const char *body)
{
    resp->status = status;
    resp->ctype = ctype;
    resp->body.len = 0;
    sb_adds(&resp->body, body);
}

void reply_json(struct http_resp *resp, int status, json_t *obj, bool go_style)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);
    json_decref(obj);
    resp->status = status;
    resp->ctype = "application/json";
    resp->body.len = 0;
    sb_adds(&resp->body, s ? s : "null");
    if (go_style)
        sb_add(&resp->body, "\n", 1);
    free(s);
}

void reply_go_error(struct http_resp *resp, int status, const char *msg)
{
    resp->status = status;
    resp->ctype = "text/plain; charset=utf-8";
    resp_header(resp, "X-Content-Type-Options", "nosniff");
    resp->body.len = 0;
    sb_adds(&resp->body, msg);
    sb_add(&resp->body, "\n", 1);
}

json_t *body_json(const struct http_req *req)
{
    json_error_t err;
    return json_loadb(req->body ? req->body : "", req->body_len, JSON_DECODE_ANY, &err);
}

void reply_engine_error(struct http_resp *resp, int status, const char *type, const char *msg)
{
    reply_json(resp, status,
               json_pack("{s:{s:i, s:s, s:s}}", "error", "code", status, "message", msg, "type", type), false);
}

json_t *go_num(double v)
{
    if (v == (double)(json_int_t)v && v < 9007199254740992.0 && v > -9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

const char *jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

double jnum(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return strtod(json_string_value(v), NULL);
    return json_number_value(v);
}

/* serde's description of an unexpected JSON value. */
static void describe(const json_t *v, char *out, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_STRING: snprintf(out, cap, "string \"%.60s\"", json_string_value(v)); break;
    case JSON_INTEGER: snprintf(out, cap, "integer `%lld`", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(out, cap, "floating point `%g`", json_real_value(v)); break;
    case JSON_TRUE: snprintf(out, cap, "boolean `true`"); break;
    case JSON_FALSE: snprintf(out, cap, "boolean `false`"); break;
    case JSON_NULL: snprintf(out, cap, "null"); break;
    case JSON_ARRAY: snprintf(out, cap, "sequence"); break;
    case JSON_OBJECT: snprintf(out, cap, "map"); break;
    }
}

static json_t *deser_error(struct http_resp *resp, json_t *obj, const char *fmt, const char *a,
                           const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    char full[600];
    snprintf(full, sizeof full, "Json deserialize error: %s", msg);
    reply_raw(resp, 400, "text/plain; charset=utf-8", full);
    json_decref(obj);
    return NULL;
}

json_t *actix_json(const struct http_req *req, struct http_resp *resp, const struct field *fields,
                   size_t nfields)
{
    const char *ct = http_header(req, "Content-Type");
    if (!ct || !(strncasecmp(ct, "application/json", 16) == 0 || strstr(ct, "+json"))) {
        reply_raw(resp, 400, "text/plain; charset=utf-8", "Content type error");
        return NULL;
    }
    json_error_t err;
    json_t *obj = json_loadb(req->body ? req->body : "", req->body_len, JSON_DECODE_ANY, &err);
    if (!obj) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s at line %d column %d", err.text, err.line, err.column);
        return deser_error(resp, NULL, "%s%s", msg, "");
    }
    if (!json_is_object(obj)) {
        char d[100];
        describe(obj, d, sizeof d);
        return deser_error(resp, obj, "invalid type: %s, expected struct%s", d, "");
    }
    for (size_t i = 0; i < nfields; i++) {
        const struct field *f = &fields[i];
        json_t *v = json_object_get(obj, f->name);
        if (!v || (json_is_null(v) && f->optional)) {
            if (f->optional)
                continue;
            char col[32];
            snprintf(col, sizeof col, " at line 1 column %zu", req->body_len);
            return deser_error(resp, obj, "missing field `%s`%s", f->name, col);
        }
        char d[100];
        describe(v, d, sizeof d);
        switch (f->kind) {
        case FK_STR:
            if (!json_is_string(v))
                return deser_error(resp, obj, "invalid type: %s, expected a string%s", d, "");
            break;
        case FK_UUID:
            if (!json_is_string(v))
                return deser_error(resp, obj, "invalid type: %s, expected a UUID string%s", d, "");
            if (!uuid_valid(json_string_value(v)))
                return deser_error(resp, obj,
                                   "UUID parsing failed: invalid UUID `%s` (field `%s`)",
                                   json_string_value(v), f->name);
            break;
        case FK_DEC: {
            struct decimal dv;
            const char *why = decimal_from_json(v, &dv);
            if (why)
                return deser_error(resp, obj, "%s (field `%s`)", why, f->name);
            break;
        }
        case FK_INT:
            if (!json_is_integer(v))
                return deser_error(resp, obj, "invalid type: %s, expected i64%s", d, "");
            break;
        case FK_BOOL:
            if (!json_is_boolean(v))
                return deser_error(resp, obj, "invalid type: %s, expected a boolean%s", d, "");
            break;
        case FK_OBJ:
            if (!json_is_object(v))
                return deser_error(resp, obj, "invalid type: %s, expected a map%s", d, "");
            break;
        case FK_ENUM: {
            if (!json_is_string(v))
                return deser_error(resp, obj, "invalid type: %s, expected enum%s", d, "");
            bool ok = false;
            for (const char *const *e = f->variants; *e; e++)
                ok |= strcmp(*e, json_string_value(v)) == 0;
            if (!ok)
                return deser_error(resp, obj, "unknown variant `%s`, expected one of the %s variants",
                                   json_string_value(v), f->name);
            break;
        }
        }
    }
    return obj;
}

json_t *go_decode(const struct http_req *req, const struct gofield *fields, size_t nfields)
{
    json_error_t err;
    json_t *v = json_loadb(req->body ? req->body : "", req->body_len,
                           JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &err);
    if (!v)
        return NULL;
    if (json_is_null(v)) {
        json_decref(v);
        return json_object();
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    for (size_t i = 0; i < nfields; i++) {
        json_t *f = json_object_get(v, fields[i].name);
        if (!f || json_is_null(f))
            continue;
        bool ok = true;
        switch (fields[i].kind) {
        case GO_STRING: ok = json_is_string(f); break;
        case GO_NUMBER: ok = json_is_number(f); break;
        case GO_BOOL: ok = json_is_boolean(f); break;
        case GO_OBJECT: ok = json_is_object(f); break;
        case GO_ANY: break;
        }
        if (!ok) {
            json_decref(v);
            return NULL;
        }
    }
    return v;
}
