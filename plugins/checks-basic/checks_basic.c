/*
 * checks-basic: the check keys that look at a response without parsing it.
 *
 *   status:      { in: [200, 202] }          shorthand: status: 200
 *                { gte: 200, lt: 400 }       a range (with or without in)
 *   header:      { name: X, exists/equals/contains/matches }
 *   body:        { contains, not_contains, matches }   shorthand: contains
 *   duration_lt: { value: 500ms }            shorthand: duration_lt: 500ms
 *
 * compile() copies what eval needs into one malloc'd condition and compiles
 * regexes once; eval() only reads the condition and the response, so the
 * same condition runs on every loop thread at once. Regexes are matched with
 * REG_STARTEND, so a body or header value is never copied and may hold NULs.
 */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volley/plugin.h"

/* Bytes of a value shown in a failure message before it is cut with "...". */
#define SHOW_MAX 60

/* ------------------------------------------------------------------------ */
/* Message helpers                                                           */
/* ------------------------------------------------------------------------ */

/* Appends printf output at msg[*len], never past msgcap; *len saturates. */
__attribute__((format(printf, 4, 5)))
static void put(char *msg, size_t msgcap, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= msgcap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg + *len, msgcap - *len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *len = *len + (size_t)n < msgcap ? *len + (size_t)n : msgcap - 1;
}

/* Appends s[0..n) in double quotes, escaping quotes, backslashes and control
 * bytes, cut after SHOW_MAX bytes. */
static void put_quoted(char *msg, size_t msgcap, size_t *len, const char *s, size_t n)
{
    size_t shown = n < SHOW_MAX ? n : SHOW_MAX;
    put(msg, msgcap, len, "\"");
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            put(msg, msgcap, len, "\\%c", c);
        else if (c == '\n')
            put(msg, msgcap, len, "\\n");
        else if (c == '\r')
            put(msg, msgcap, len, "\\r");
        else if (c == '\t')
            put(msg, msgcap, len, "\\t");
        else if (c < 0x20 || c == 0x7f)
            put(msg, msgcap, len, "\\x%02x", c);
        else
            put(msg, msgcap, len, "%c", c);
    }
    put(msg, msgcap, len, shown < n ? "\"..." : "\"");
}

/* ------------------------------------------------------------------------ */
/* Shared matching helpers                                                   */
/* ------------------------------------------------------------------------ */

static int compile_regex(regex_t *re, const char *pattern, const char *what,
                         char *err, size_t errcap)
{
    int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[256];
        regerror(rc, re, why, sizeof why);
        snprintf(err, errcap, "%s: invalid regular expression \"%s\": %s", what, pattern, why);
        return -1;
    }
    return 0;
}

/* Matches s[0..n) without copying it. s[0] is the start of the subject, so
 * '^' anchors there; NUL bytes are ordinary characters. */
static bool regex_match(const regex_t *re, const char *s, size_t n)
{
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)n}};
    return regexec(re, s ? s : "", 1, m, REG_STARTEND) == 0;
}

static bool has_bytes(const char *hay, size_t hay_len, const char *needle, size_t needle_len)
{
    if (needle_len == 0)
        return true;
    return hay_len >= needle_len && memmem(hay, hay_len, needle, needle_len) != NULL;
}

/* A condition string copied out of the config, with its length. */
struct text {
    char *s;
    size_t n;
};

static int text_set(struct text *t, const char *s)
{
    t->n = strlen(s);
    t->s = malloc(t->n + 1);
    if (!t->s)
        return -1;
    memcpy(t->s, s, t->n + 1);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* status                                                                    */
/* ------------------------------------------------------------------------ */

enum { ST_IN, ST_GTE, ST_LT };

struct status_cfg {
    uint64_t set;
    volley_int_list in;
    int64_t gte, lt;
};

static const volley_option status_options[] = {
    [ST_IN] = {.name = "in", .type = VOLLEY_OPT_INT_LIST, .offset = offsetof(struct status_cfg, in),
               .help = "accepted HTTP status codes: one or a list", .min = 100, .max = 599},
    [ST_GTE] = {.name = "gte", .type = VOLLEY_OPT_INT, .offset = offsetof(struct status_cfg, gte),
                .help = "lowest accepted status (e.g. 200)", .min = 100, .max = 600},
    [ST_LT] = {.name = "lt", .type = VOLLEY_OPT_INT, .offset = offsetof(struct status_cfg, lt),
               .help = "accepted statuses are below this (k6: r.status < 400)", .min = 100, .max = 600},
};

static const volley_option_map status_map = {
    .options = status_options, .count = VOLLEY_COUNTOF(status_options),
    .config_size = sizeof(struct status_cfg), .shorthand = "in"};

/* A status passes when it is in the list (if one is given) and within
 * [gte, lt) (where given). */
struct status_cond {
    int gte, lt;
    size_t n;
    int codes[];
};

static void *status_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    (void)host;
    const struct status_cfg *cfg = config;
    bool has_in = VOLLEY_OPT_IS_SET(cfg, ST_IN), has_gte = VOLLEY_OPT_IS_SET(cfg, ST_GTE),
         has_lt = VOLLEY_OPT_IS_SET(cfg, ST_LT);
    if ((!has_in && !has_gte && !has_lt) || (has_in && cfg->in.n == 0)) {
        snprintf(err, errcap, "status: expected codes (status: 200, status: [200, 202]) or a "
                              "range ({ gte: 200, lt: 400 })");
        return NULL;
    }
    if (has_gte && has_lt && cfg->gte >= cfg->lt) {
        snprintf(err, errcap, "status: gte %lld is not below lt %lld: no status could pass",
                 (long long)cfg->gte, (long long)cfg->lt);
        return NULL;
    }
    size_t n = has_in ? cfg->in.n : 0;
    struct status_cond *c = malloc(sizeof *c + n * sizeof c->codes[0]);
    if (!c) {
        snprintf(err, errcap, "status: out of memory");
        return NULL;
    }
    c->n = n;
    c->gte = has_gte ? (int)cfg->gte : 0;
    c->lt = has_lt ? (int)cfg->lt : 1000;
    for (size_t i = 0; i < n; i++)
        c->codes[i] = (int)cfg->in.v[i];
    return c;
}

static void status_free(void *cond) { free(cond); }

static bool status_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                        char *msg, size_t msgcap)
{
    (void)memo;
    const struct status_cond *c = cond;
    bool listed = c->n == 0;
    for (size_t i = 0; i < c->n && !listed; i++)
        listed = resp->status == c->codes[i];
    if (resp->status != 0 && listed && resp->status >= c->gte && resp->status < c->lt)
        return true;
    size_t len = 0;
    if (msgcap == 0)
        return false;
    msg[0] = '\0';
    if (resp->status == 0 && resp->error) {
        put(msg, msgcap, &len, "no response: %s", resp->error);
        return false;
    }
    put(msg, msgcap, &len, "status %d", resp->status);
    if (c->n) {
        put(msg, msgcap, &len, " not in [");
        for (size_t i = 0; i < c->n; i++)
            put(msg, msgcap, &len, "%s%d", i ? ", " : "", c->codes[i]);
        put(msg, msgcap, &len, "]");
    }
    if (c->gte > 0 && resp->status < c->gte)
        put(msg, msgcap, &len, "%s below %d", c->n ? " or" : "", c->gte);
    else if (resp->status >= c->lt)
        put(msg, msgcap, &len, "%s not below %d", c->n ? " or" : "", c->lt);
    return false;
}

/* ------------------------------------------------------------------------ */
/* header                                                                    */
/* ------------------------------------------------------------------------ */

enum { HDR_NAME, HDR_EXISTS, HDR_EQUALS, HDR_CONTAINS, HDR_MATCHES };

struct header_cfg {
    uint64_t set;
    const char *name;
    bool exists;
    const char *equals;
    const char *contains;
    const char *matches;
};

static const volley_option header_options[] = {
    [HDR_NAME] = {.name = "name", .type = VOLLEY_OPT_STRING, .flags = VOLLEY_OPT_REQUIRED,
                  .offset = offsetof(struct header_cfg, name),
                  .help = "header name (case-insensitive)"},
    [HDR_EXISTS] = {.name = "exists", .type = VOLLEY_OPT_BOOL,
                    .offset = offsetof(struct header_cfg, exists),
                    .help = "true: the header is present; false: it is absent"},
    [HDR_EQUALS] = {.name = "equals", .type = VOLLEY_OPT_STRING,
                    .offset = offsetof(struct header_cfg, equals),
                    .help = "the value equals this text"},
    [HDR_CONTAINS] = {.name = "contains", .type = VOLLEY_OPT_STRING,
                      .offset = offsetof(struct header_cfg, contains),
                      .help = "the value contains this text"},
    [HDR_MATCHES] = {.name = "matches", .type = VOLLEY_OPT_STRING,
                     .offset = offsetof(struct header_cfg, matches),
                     .help = "the value matches this POSIX extended regex"},
};

static const volley_option_map header_map = {
    .options = header_options, .count = VOLLEY_COUNTOF(header_options),
    .config_size = sizeof(struct header_cfg), .shorthand = NULL};

struct header_cond {
    struct text name;
    bool absent;            /* exists: false */
    bool has_equals, has_contains, has_regex;
    struct text equals, contains, pattern;
    regex_t re;
};

static void header_free(void *cond)
{
    struct header_cond *c = cond;
    if (!c)
        return;
    if (c->has_regex)
        regfree(&c->re);
    free(c->name.s);
    free(c->equals.s);
    free(c->contains.s);
    free(c->pattern.s);
    free(c);
}

static void *header_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct header_cfg *cfg = config;
    bool has_exists = VOLLEY_OPT_IS_SET(cfg, HDR_EXISTS);
    bool has_value_test = VOLLEY_OPT_IS_SET(cfg, HDR_EQUALS) ||
                          VOLLEY_OPT_IS_SET(cfg, HDR_CONTAINS) ||
                          VOLLEY_OPT_IS_SET(cfg, HDR_MATCHES);
    if (!VOLLEY_OPT_IS_SET(cfg, HDR_NAME) || !cfg->name) {
        snprintf(err, errcap, "header: \"name\" is required");
        return NULL;
    }
    if (cfg->name[0] == '\0' || strpbrk(cfg->name, ": \t\r\n")) {
        snprintf(err, errcap, "header: invalid header name \"%s\"", cfg->name);
        return NULL;
    }
    if (has_exists && !cfg->exists && has_value_test) {
        snprintf(err, errcap, "header: \"exists: false\" cannot be combined with equals, contains or matches");
        return NULL;
    }
    struct header_cond *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    if (text_set(&c->name, cfg->name) != 0)
        goto oom;
    c->absent = has_exists && !cfg->exists;
    if (VOLLEY_OPT_IS_SET(cfg, HDR_EQUALS)) {
        c->has_equals = true;
        if (text_set(&c->equals, cfg->equals) != 0)
            goto oom;
    }
    if (VOLLEY_OPT_IS_SET(cfg, HDR_CONTAINS)) {
        c->has_contains = true;
        if (text_set(&c->contains, cfg->contains) != 0)
            goto oom;
    }
    if (VOLLEY_OPT_IS_SET(cfg, HDR_MATCHES)) {
        if (text_set(&c->pattern, cfg->matches) != 0)
            goto oom;
        if (compile_regex(&c->re, cfg->matches, "header.matches", err, errcap) != 0)
            goto fail;
        c->has_regex = true;
    }
    return c;
oom:
    snprintf(err, errcap, "header: out of memory");
fail:
    header_free(c);
    return NULL;
}

static bool ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/*
 * Finds the next header line named `name` in the raw block [*pos, end) and
 * advances *pos past it. Lines end in "\r\n" or "\n"; lines without a colon
 * (a status line, the blank end line) are skipped. The value is returned
 * without surrounding spaces and tabs.
 */
static bool next_header(const char **pos, const char *end, const struct text *name,
                        const char **value, size_t *value_len)
{
    while (*pos < end) {
        const char *line = *pos;
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *line_end = nl ? nl : end;
        *pos = nl ? nl + 1 : end;
        if (line_end > line && line_end[-1] == '\r')
            line_end--;
        const char *colon = memchr(line, ':', (size_t)(line_end - line));
        if (!colon || (size_t)(colon - line) != name->n || !ascii_ieq(line, name->s, name->n))
            continue;
        const char *v = colon + 1, *v_end = line_end;
        while (v < v_end && (*v == ' ' || *v == '\t'))
            v++;
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
            v_end--;
        *value = v;
        *value_len = (size_t)(v_end - v);
        return true;
    }
    return false;
}

/* Tests one header value; on false writes why (when msg is not NULL). */
static bool header_value_ok(const struct header_cond *c, const char *v, size_t n,
                            char *msg, size_t msgcap)
{
    size_t len = 0;
    const char *why = NULL;
    const struct text *arg = NULL;
    if (c->has_equals && !(n == c->equals.n && memcmp(v, c->equals.s, n) == 0))
        why = "is not", arg = &c->equals;
    else if (c->has_contains && !has_bytes(v, n, c->contains.s, c->contains.n))
        why = "does not contain", arg = &c->contains;
    else if (c->has_regex && !regex_match(&c->re, v, n))
        why = "does not match", arg = &c->pattern;
    if (!why)
        return true;
    if (msg && msgcap) {
        msg[0] = '\0';
        put(msg, msgcap, &len, "header %s: ", c->name.s);
        put_quoted(msg, msgcap, &len, v, n);
        put(msg, msgcap, &len, " %s ", why);
        put_quoted(msg, msgcap, &len, arg->s, arg->n);
    }
    return false;
}

/*
 * With several lines of the same name (Set-Cookie), the condition holds when
 * one of them passes every value test; the message describes the first.
 */
static bool header_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                        char *msg, size_t msgcap)
{
    const struct header_cond *c = cond;
    const char *pos = resp->headers ? resp->headers : "";
    const char *end = pos + (resp->headers ? resp->headers_len : 0);
    const char *v;
    size_t n, len = 0, seen = 0;
    while (next_header(&pos, end, &c->name, &v, &n)) {
        if (c->absent) {
            if (msgcap) {
                msg[0] = '\0';
                put(msg, msgcap, &len, "header %s is present: ", c->name.s);
                put_quoted(msg, msgcap, &len, v, n);
            }
            return false;
        }
        if (header_value_ok(c, v, n, seen == 0 ? msg : NULL, msgcap)) {
            if (seen > 0 && msgcap)
                msg[0] = '\0';   /* drop the first line's reason */
            return true;
        }
        seen++;
    }
    if (c->absent)
        return true;
    if (seen == 0 && msgcap) {
        msg[0] = '\0';
        put(msg, msgcap, &len, "header %s is missing", c->name.s);
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* body                                                                      */
/* ------------------------------------------------------------------------ */

enum { BODY_CONTAINS, BODY_NOT_CONTAINS, BODY_MATCHES };

struct body_cfg {
    uint64_t set;
    const char *contains;
    const char *not_contains;
    const char *matches;
};

static const volley_option body_options[] = {
    [BODY_CONTAINS] = {.name = "contains", .type = VOLLEY_OPT_STRING,
                       .offset = offsetof(struct body_cfg, contains),
                       .help = "the body contains this text"},
    [BODY_NOT_CONTAINS] = {.name = "not_contains", .type = VOLLEY_OPT_STRING,
                           .offset = offsetof(struct body_cfg, not_contains),
                           .help = "the body does not contain this text"},
    [BODY_MATCHES] = {.name = "matches", .type = VOLLEY_OPT_STRING,
                      .offset = offsetof(struct body_cfg, matches),
                      .help = "the body matches this POSIX extended regex"},
};

static const volley_option_map body_map = {
    .options = body_options, .count = VOLLEY_COUNTOF(body_options),
    .config_size = sizeof(struct body_cfg), .shorthand = "contains"};

struct body_cond {
    bool has_contains, has_not_contains, has_regex;
    struct text contains, not_contains, pattern;
    regex_t re;
};

static void body_free(void *cond)
{
    struct body_cond *c = cond;
    if (!c)
        return;
    if (c->has_regex)
        regfree(&c->re);
    free(c->contains.s);
    free(c->not_contains.s);
    free(c->pattern.s);
    free(c);
}

static void *body_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct body_cfg *cfg = config;
    if (!(cfg->set & ((1u << BODY_CONTAINS) | (1u << BODY_NOT_CONTAINS) | (1u << BODY_MATCHES)))) {
        snprintf(err, errcap, "body: expected at least one of contains, not_contains, matches");
        return NULL;
    }
    struct body_cond *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    if (VOLLEY_OPT_IS_SET(cfg, BODY_CONTAINS)) {
        c->has_contains = true;
        if (text_set(&c->contains, cfg->contains) != 0)
            goto oom;
    }
    if (VOLLEY_OPT_IS_SET(cfg, BODY_NOT_CONTAINS)) {
        if (cfg->not_contains[0] == '\0') {
            snprintf(err, errcap, "body.not_contains: empty text (every body contains it)");
            goto fail;
        }
        c->has_not_contains = true;
        if (text_set(&c->not_contains, cfg->not_contains) != 0)
            goto oom;
    }
    if (VOLLEY_OPT_IS_SET(cfg, BODY_MATCHES)) {
        if (text_set(&c->pattern, cfg->matches) != 0)
            goto oom;
        if (compile_regex(&c->re, cfg->matches, "body.matches", err, errcap) != 0)
            goto fail;
        c->has_regex = true;
    }
    return c;
oom:
    snprintf(err, errcap, "body: out of memory");
fail:
    body_free(c);
    return NULL;
}

static bool body_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                      char *msg, size_t msgcap)
{
    const struct body_cond *c = cond;
    const char *b = resp->body ? resp->body : "";
    size_t n = resp->body ? resp->body_len : 0;
    const char *why = NULL;
    const struct text *arg = NULL;
    if (c->has_contains && !has_bytes(b, n, c->contains.s, c->contains.n))
        why = "does not contain", arg = &c->contains;
    else if (c->has_not_contains && has_bytes(b, n, c->not_contains.s, c->not_contains.n))
        why = "contains", arg = &c->not_contains;
    else if (c->has_regex && !regex_match(&c->re, b, n))
        why = "does not match", arg = &c->pattern;
    if (!why)
        return true;
    if (msgcap) {
        size_t len = 0;
        msg[0] = '\0';
        if (n == 0)
            put(msg, msgcap, &len, "body (empty) %s ", why);
        else
            put(msg, msgcap, &len, "body (%zu bytes) %s ", n, why);
        put_quoted(msg, msgcap, &len, arg->s, arg->n);
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* duration_lt                                                               */
/* ------------------------------------------------------------------------ */

struct duration_cfg {
    uint64_t set;
    int64_t value;     /* nanoseconds */
};

static const volley_option duration_options[] = {
    {.name = "value", .type = VOLLEY_OPT_DURATION, .flags = VOLLEY_OPT_REQUIRED,
     .offset = offsetof(struct duration_cfg, value),
     .help = "the response took less than this (http_req_duration)"},
};

static const volley_option_map duration_map = {
    .options = duration_options, .count = VOLLEY_COUNTOF(duration_options),
    .config_size = sizeof(struct duration_cfg), .shorthand = "value"};

struct duration_cond {
    double limit_ms;
};

static void *duration_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct duration_cfg *cfg = config;
    if (cfg->value <= 0) {
        snprintf(err, errcap, "duration_lt: the limit must be greater than 0");
        return NULL;
    }
    struct duration_cond *c = malloc(sizeof *c);
    if (!c) {
        snprintf(err, errcap, "duration_lt: out of memory");
        return NULL;
    }
    c->limit_ms = (double)cfg->value / 1e6;
    return c;
}

static void duration_free(void *cond) { free(cond); }

static bool duration_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                          char *msg, size_t msgcap)
{
    const struct duration_cond *c = cond;
    if (resp->duration_ms < c->limit_ms)
        return true;
    if (msgcap)
        snprintf(msg, msgcap, "duration %.3fms not below %.15gms", resp->duration_ms,
                 c->limit_ms);
    return false;
}

/* ------------------------------------------------------------------------ */
/* Descriptor                                                                */
/* ------------------------------------------------------------------------ */

static const volley_check_key keys[] = {
    {.key = "status", .options = &status_map, .compile = status_compile,
     .free = status_free, .eval = status_eval},
    {.key = "header", .options = &header_map, .compile = header_compile,
     .free = header_free, .eval = header_eval},
    {.key = "body", .options = &body_map, .compile = body_compile,
     .free = body_free, .eval = body_eval},
    {.key = "duration_lt", .options = &duration_map, .compile = duration_compile,
     .free = duration_free, .eval = duration_eval},
};

static const volley_check_ops ops = {
    .size = sizeof(volley_check_ops), .n_keys = VOLLEY_COUNTOF(keys), .keys = keys};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_CHECK, .name = "checks-basic", .version = "0.1.0",
                     .description = "status, header, body and duration_lt checks",
                     .check = &ops)
