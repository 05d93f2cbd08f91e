/*
 * checks-basic: the check keys that look at a response without parsing it.
 *
 *   status:      { in: [200, 202] }          shorthand: status: 200
 *                { gte: 200, lt: 400 }       a range (with or without in)
 *   header:      { name: X, exists/equals/contains/matches }
 *   body:        { contains, not_contains, matches }   shorthand: contains
 *   duration_lt: { value: 500ms }            shorthand: duration_lt: 500ms
 *   proto:       { in: [HTTP/2.0] }          shorthand: proto: HTTP/2.0
 *   url:         { equals, contains, matches }   shorthand: equals
 *   timings:     { waiting: { lt: 200ms }, connecting: { eq: 0 } }
 *   bytes:       { received: { lt: 1048576 }, sent: { gt: 0 } }
 * The last four read the exchange's fields of volley_response (SDK
 * revision 7): k6's r.proto, r.url, r.timings and the sizes on the wire.
 *   value:       { of: "${x}", lt: 0.5 }     check_value.c (no response read)
 *   tls:         { version: tls1.3 }         check_tls.c
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

#include "checks_basic_int.h"
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

/* A value as it may be shown (host->redact, revision 4): secrets hidden
 * before it is cut, and the whole value of a header that is never shown
 * (Authorization, Cookie, Set-Cookie...: `header` names it) as ***. */
static void put_shown(const volley_host *host, const char *header, char *msg, size_t msgcap,
                      size_t *len, const char *s, size_t n)
{
    char hidden[SHOW_MAX + 1];
    if (host && VOLLEY_HAS(host, redact) && host->redact) {
        n = host->redact(header, s, n, hidden, sizeof hidden);
        s = hidden;
    }
    put_quoted(msg, msgcap, len, s, n);
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

/*
 * An expected text (equals, contains, matches): copied, and its regex
 * compiled, at compile time when the spec gives it then; else the core's
 * template (${tx_id}, ${row.x}), rendered per response by host->value_get
 * and its regex compiled then, only when the condition is evaluated.
 */
struct want {
    bool set;
    bool regex;
    struct text t;
    bool has_re;
    regex_t re;
    volley_value later;     /* later.later != NULL: a run-time value */
};

static int want_set(const volley_host *host, struct want *w, const volley_value *v, bool regex,
                    const char *what, char *err, size_t errcap)
{
    w->set = true;
    w->regex = regex;
    if (v->later) {
        if (!VOLLEY_HAS(host, value_get) || !host->value_get) {
            snprintf(err, errcap, "%s: %s needs a value known only at run time, which this volley "
                     "cannot render in checks", what, v->text);
            return -1;
        }
        w->later = *v;
        return 0;
    }
    if (text_set(&w->t, v->now.s ? v->now.s : "") != 0) {
        snprintf(err, errcap, "%s: out of memory", what);
        return -1;
    }
    if (regex) {
        if (compile_regex(&w->re, w->t.s, what, err, errcap) != 0)
            return -1;
        w->has_re = true;
    }
    return 0;
}

static void want_free(struct want *w)
{
    if (w->has_re)
        regfree(&w->re);
    free(w->t.s);
}

/* What a want is for this response. */
struct wanted {
    const char *s;
    size_t n;
    const regex_t *re;
    regex_t own;            /* compiled for this response */
    bool own_re;
    const char *from;       /* the run-time template's text, or NULL */
};

/* Renders a run-time want now; false with the reason in msg. */
static bool want_get(const volley_host *host, const struct want *w, volley_memo *memo,
                     struct wanted *g, const char *what, char *msg, size_t msgcap)
{
    memset(g, 0, sizeof *g);
    if (!w->later.later) {
        g->s = w->t.s;
        g->n = w->t.n;
        g->re = w->has_re ? &w->re : NULL;
        return true;
    }
    char err[512] = "";
    volley_scalar v;
    size_t len = 0;
    if (host->value_get(&w->later, memo, &v, err, sizeof err) != 0) {
        if (msgcap) {
            msg[0] = '\0';
            put(msg, msgcap, &len, "%s: %s", what, err);
        }
        return false;
    }
    g->s = v.s ? v.s : "";
    g->n = strlen(g->s);
    g->from = w->later.text;
    if (w->regex) {
        if (compile_regex(&g->own, g->s, what, err, sizeof err) != 0) {
            if (msgcap) {
                msg[0] = '\0';
                put(msg, msgcap, &len, "%s (from %s)", err, g->from);
            }
            return false;
        }
        g->own_re = true;
        g->re = &g->own;
    }
    return true;
}

static void want_done(struct wanted *g)
{
    if (g->own_re)
        regfree(&g->own);
}

/* After a quoted expected text in a message: where a run-time one came from. */
static void put_from(char *msg, size_t msgcap, size_t *len, const struct wanted *g)
{
    if (g->from)
        put(msg, msgcap, len, " (from %s)", g->from);
}

/* ------------------------------------------------------------------------ */
/* status                                                                    */
/* ------------------------------------------------------------------------ */

enum { ST_IN, ST_GTE, ST_LT };

struct status_cfg {
    uint64_t set;
    volley_value_list in;
    int64_t gte, lt;
};

static const volley_option status_options[] = {
    [ST_IN] = {.name = "in", .type = VOLLEY_OPT_VALUE_LIST, .offset = offsetof(struct status_cfg, in),
               .help = "accepted HTTP status codes: one or a list; ${row.status} per pool row",
               .min = 100, .max = 599},
    [ST_GTE] = {.name = "gte", .type = VOLLEY_OPT_INT, .offset = offsetof(struct status_cfg, gte),
                .help = "lowest accepted status (e.g. 200)", .min = 100, .max = 600},
    [ST_LT] = {.name = "lt", .type = VOLLEY_OPT_INT, .offset = offsetof(struct status_cfg, lt),
               .help = "accepted statuses are below this (k6: r.status < 400)", .min = 100, .max = 600},
};

static const volley_option_map status_map = {
    .options = status_options, .count = VOLLEY_COUNTOF(status_options),
    .config_size = sizeof(struct status_cfg), .shorthand = "in"};

/* A status passes when it is in the list (if one is given) and within
 * [gte, lt) (where given). A code given as ${...} (a pool row's expected
 * status) is rendered per response; codes[i] is then 0 and later[i] set. */
struct status_cond {
    const volley_host *host;
    int gte, lt;
    size_t n;
    volley_value *later;
    int codes[];
};

/* The most codes in a status list that has a run-time value in it: they
 * are rendered into a stack array per response. */
#define STATUS_LATER_MAX 32

/* A status code from a scalar: an integer 100-599 (or its text). */
static bool status_code(const volley_scalar *v, int *code)
{
    long long x;
    char *end;
    if (v->type == VOLLEY_SCALAR_INT)
        x = v->i;
    else if (v->type == VOLLEY_SCALAR_STRING && v->s && *v->s && (x = strtoll(v->s, &end, 10), !*end))
        ;
    else
        return false;
    if (x < 100 || x > 599)
        return false;
    *code = (int)x;
    return true;
}

static void *status_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
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
    for (size_t i = 0; i < n; i++)
        if (cfg->in.v[i].later && n > STATUS_LATER_MAX) {
            snprintf(err, errcap, "status: at most %d codes in a list with a ${...} in it", STATUS_LATER_MAX);
            return NULL;
        }
    struct status_cond *c = calloc(1, sizeof *c + n * sizeof c->codes[0]);
    if (!c) {
        snprintf(err, errcap, "status: out of memory");
        return NULL;
    }
    c->host = host;
    c->n = n;
    c->gte = has_gte ? (int)cfg->gte : 0;
    c->lt = has_lt ? (int)cfg->lt : 1000;
    for (size_t i = 0; i < n; i++) {
        const volley_value *v = &cfg->in.v[i];
        if (v->later) {
            if (!VOLLEY_HAS(host, value_get) || !host->value_get ||
                (!c->later && !(c->later = calloc(n, sizeof *c->later)))) {
                snprintf(err, errcap, "status: %s cannot be rendered per response here", v->text);
                goto fail;
            }
            c->later[i] = *v;
        } else if (v->now.type != VOLLEY_SCALAR_INT || !status_code(&v->now, &c->codes[i])) {
            snprintf(err, errcap, "status: expected a status code from 100 to 599, got %s%s%s",
                     v->quoted ? "\"" : "", v->text, v->quoted ? "\"" : "");
            goto fail;
        }
    }
    return c;
fail:
    free(c->later);
    free(c);
    return NULL;
}

static void status_free(void *cond)
{
    struct status_cond *c = cond;
    if (c)
        free(c->later);
    free(c);
}

static bool status_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                        char *msg, size_t msgcap)
{
    const struct status_cond *c = cond;
    size_t len = 0;
    size_t n = c->n;
    int rendered[STATUS_LATER_MAX];   /* run-time codes rendered (n is at most this then) */
    const int *codes = c->codes;
    for (size_t i = 0; c->later && i < n; i++) {
        rendered[i] = c->codes[i];
        codes = rendered;
        if (!c->later[i].later)
            continue;
        char err[200] = "";
        volley_scalar v;
        if (c->host->value_get(&c->later[i], memo, &v, err, sizeof err) != 0 || !status_code(&v, &rendered[i])) {
            if (msgcap) {
                msg[0] = '\0';
                if (*err)
                    put(msg, msgcap, &len, "status: %s", err);
                else
                    put(msg, msgcap, &len, "status: %s is \"%s\", not a status code from 100 to 599",
                        c->later[i].text, v.s ? v.s : "");
            }
            return false;
        }
    }
    bool listed = n == 0;
    for (size_t i = 0; i < n && !listed; i++)
        listed = resp->status == codes[i];
    if (resp->status != 0 && listed && resp->status >= c->gte && resp->status < c->lt)
        return true;
    if (msgcap == 0)
        return false;
    msg[0] = '\0';
    if (resp->status == 0 && resp->error) {
        put(msg, msgcap, &len, "no response: %s", resp->error);
        return false;
    }
    put(msg, msgcap, &len, "status %d", resp->status);
    if (n) {
        put(msg, msgcap, &len, " not in [");
        for (size_t i = 0; i < n; i++) {
            put(msg, msgcap, &len, "%s%d", i ? ", " : "", codes[i]);
            if (c->later && c->later[i].later)
                put(msg, msgcap, &len, " from %s", c->later[i].text);
        }
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
    volley_value equals;
    volley_value contains;
    volley_value matches;
};

static const volley_option header_options[] = {
    [HDR_NAME] = {.name = "name", .type = VOLLEY_OPT_STRING, .flags = VOLLEY_OPT_REQUIRED,
                  .offset = offsetof(struct header_cfg, name),
                  .help = "header name (case-insensitive)"},
    [HDR_EXISTS] = {.name = "exists", .type = VOLLEY_OPT_BOOL,
                    .offset = offsetof(struct header_cfg, exists),
                    .help = "true: the header is present; false: it is absent"},
    [HDR_EQUALS] = {.name = "equals", .type = VOLLEY_OPT_VALUE,
                    .offset = offsetof(struct header_cfg, equals),
                    .help = "the value equals this text (may be ${capture}, ${row.x})"},
    [HDR_CONTAINS] = {.name = "contains", .type = VOLLEY_OPT_VALUE,
                      .offset = offsetof(struct header_cfg, contains),
                      .help = "the value contains this text"},
    [HDR_MATCHES] = {.name = "matches", .type = VOLLEY_OPT_VALUE,
                     .offset = offsetof(struct header_cfg, matches),
                     .help = "the value matches this POSIX extended regex"},
};

static const volley_option_map header_map = {
    .options = header_options, .count = VOLLEY_COUNTOF(header_options),
    .config_size = sizeof(struct header_cfg), .shorthand = NULL};

struct header_cond {
    const volley_host *host;
    struct text name;
    bool absent;            /* exists: false */
    struct want equals, contains, matches;
};

static void header_free(void *cond)
{
    struct header_cond *c = cond;
    if (!c)
        return;
    want_free(&c->equals);
    want_free(&c->contains);
    want_free(&c->matches);
    free(c->name.s);
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
    if (!c || text_set(&c->name, cfg->name) != 0) {
        snprintf(err, errcap, "header: out of memory");
        header_free(c);
        return NULL;
    }
    c->host = host;
    c->absent = has_exists && !cfg->exists;
    if ((VOLLEY_OPT_IS_SET(cfg, HDR_EQUALS) &&
         want_set(host, &c->equals, &cfg->equals, false, "header.equals", err, errcap) != 0) ||
        (VOLLEY_OPT_IS_SET(cfg, HDR_CONTAINS) &&
         want_set(host, &c->contains, &cfg->contains, false, "header.contains", err, errcap) != 0) ||
        (VOLLEY_OPT_IS_SET(cfg, HDR_MATCHES) &&
         want_set(host, &c->matches, &cfg->matches, true, "header.matches", err, errcap) != 0)) {
        header_free(c);
        return NULL;
    }
    return c;
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

/* Tests one header value against the wanted texts of this response; on
 * false writes why (when msg is not NULL). */
static bool header_value_ok(const struct header_cond *c, const struct wanted *eq,
                            const struct wanted *ct, const struct wanted *re, const char *v, size_t n,
                            char *msg, size_t msgcap)
{
    size_t len = 0;
    const char *why = NULL;
    const struct wanted *arg = NULL;
    if (c->equals.set && !(n == eq->n && memcmp(v, eq->s, n) == 0))
        why = "is not", arg = eq;
    else if (c->contains.set && !has_bytes(v, n, ct->s, ct->n))
        why = "does not contain", arg = ct;
    else if (c->matches.set && !regex_match(re->re, v, n))
        why = "does not match", arg = re;
    if (!why)
        return true;
    if (msg && msgcap) {
        msg[0] = '\0';
        put(msg, msgcap, &len, "header %s: ", c->name.s);
        put_shown(c->host, c->name.s, msg, msgcap, &len, v, n);
        put(msg, msgcap, &len, " %s ", why);
        put_shown(c->host, c->name.s, msg, msgcap, &len, arg->s, arg->n);
        put_from(msg, msgcap, &len, arg);
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
    struct wanted eq = {0}, ct = {0}, re = {0};
    if ((c->equals.set && !want_get(c->host, &c->equals, memo, &eq, "header.equals", msg, msgcap)) ||
        (c->contains.set && !want_get(c->host, &c->contains, memo, &ct, "header.contains", msg, msgcap)) ||
        (c->matches.set && !want_get(c->host, &c->matches, memo, &re, "header.matches", msg, msgcap))) {
        want_done(&re);
        return false;
    }
    bool ok = false;
    while (next_header(&pos, end, &c->name, &v, &n)) {
        if (c->absent) {
            if (msgcap) {
                msg[0] = '\0';
                put(msg, msgcap, &len, "header %s is present: ", c->name.s);
                put_shown(c->host, c->name.s, msg, msgcap, &len, v, n);
            }
            goto out;
        }
        if (header_value_ok(c, &eq, &ct, &re, v, n, seen == 0 ? msg : NULL, msgcap)) {
            if (seen > 0 && msgcap)
                msg[0] = '\0';   /* drop the first line's reason */
            ok = true;
            goto out;
        }
        seen++;
    }
    ok = c->absent;
    if (!ok && seen == 0 && msgcap) {
        msg[0] = '\0';
        put(msg, msgcap, &len, "header %s is missing", c->name.s);
    }
out:
    want_done(&re);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* cookie                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * A cookie of the response: by default one its Set-Cookie lines set (k6's
 * res.cookies), with jar: true the cookie jar the step's request used
 * (the VU's, or a named one) for the response's url after they were
 * stored (k6's jar.cookiesForURL(res.url)), which also holds what earlier
 * responses and redirect hops set; jar: vu the VU's own jar whichever the
 * step used (k6's http.cookieJar()). Values are secrets
 * (a Cookie or Set-Cookie header's): messages show them as ***.
 */
enum { CK_NAME, CK_EXISTS, CK_EQUALS, CK_CONTAINS, CK_JAR, CK_PATH, CK_DOMAIN, CK_SECURE,
       CK_HTTP_ONLY };

/* What a cookie condition reads: the response's Set-Cookie, the step's
 * jar, the VU's own jar. */
enum cookie_jar_read { CJ_RESPONSE, CJ_STEP, CJ_VU };

struct cookie_cfg {
    uint64_t set;
    const char *name;
    bool exists;
    volley_value equals;
    volley_value contains;
    volley_scalar jar;              /* true, false or vu */
    const char *path;
    const char *domain;
    bool secure;
    bool http_only;
};

static const volley_option cookie_options[] = {
    [CK_NAME] = {.name = "name", .type = VOLLEY_OPT_STRING, .flags = VOLLEY_OPT_REQUIRED,
                 .offset = offsetof(struct cookie_cfg, name), .help = "cookie name"},
    [CK_EXISTS] = {.name = "exists", .type = VOLLEY_OPT_BOOL,
                   .offset = offsetof(struct cookie_cfg, exists),
                   .help = "true: the cookie is there; false: it is not"},
    [CK_EQUALS] = {.name = "equals", .type = VOLLEY_OPT_VALUE,
                   .offset = offsetof(struct cookie_cfg, equals),
                   .help = "the value equals this text (may be ${capture}, ${row.x})"},
    [CK_CONTAINS] = {.name = "contains", .type = VOLLEY_OPT_VALUE,
                     .offset = offsetof(struct cookie_cfg, contains),
                     .help = "the value contains this text"},
    [CK_JAR] = {.name = "jar", .type = VOLLEY_OPT_SCALAR, .offset = offsetof(struct cookie_cfg, jar),
                .help = "false (default): a cookie the response set (k6 res.cookies); true: "
                        "the step's jar for the response's url (k6 jar.cookiesForURL); vu: "
                        "the VU's own jar (k6 http.cookieJar())"},
    [CK_PATH] = {.name = "path", .type = VOLLEY_OPT_STRING, .offset = offsetof(struct cookie_cfg, path),
                 .help = "its Path attribute is this (\"\": none); a Set-Cookie's only"},
    [CK_DOMAIN] = {.name = "domain", .type = VOLLEY_OPT_STRING,
                   .offset = offsetof(struct cookie_cfg, domain),
                   .help = "its Domain attribute is this, without case (\"\": none); a "
                           "Set-Cookie's only"},
    [CK_SECURE] = {.name = "secure", .type = VOLLEY_OPT_BOOL,
                   .offset = offsetof(struct cookie_cfg, secure),
                   .help = "it has the Secure attribute (true) or not (false); a Set-Cookie's only"},
    [CK_HTTP_ONLY] = {.name = "http_only", .type = VOLLEY_OPT_BOOL,
                      .offset = offsetof(struct cookie_cfg, http_only),
                      .help = "it has the HttpOnly attribute (true) or not (false); a "
                              "Set-Cookie's only"},
};

static const volley_option_map cookie_map = {
    .options = cookie_options, .count = VOLLEY_COUNTOF(cookie_options),
    .config_size = sizeof(struct cookie_cfg), .shorthand = "name"};

struct cookie_cond {
    const volley_host *host;
    struct text name;
    bool absent;
    unsigned char jar;              /* enum cookie_jar_read                */
    struct want equals, contains;
    const char *path, *domain;      /* NULL: not checked (the config's)   */
    signed char secure, http_only;  /* -1: not checked                     */
};

static void cookie_free(void *cond)
{
    struct cookie_cond *c = cond;
    if (!c)
        return;
    want_free(&c->equals);
    want_free(&c->contains);
    free(c->name.s);
    free(c);
}

static void *cookie_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct cookie_cfg *cfg = config;
    bool has_value_test = VOLLEY_OPT_IS_SET(cfg, CK_EQUALS) || VOLLEY_OPT_IS_SET(cfg, CK_CONTAINS);
    if (!cfg->name || !cfg->name[0] || strpbrk(cfg->name, " \t\r\n;=,\"")) {
        snprintf(err, errcap, "cookie: invalid cookie name \"%s\"", cfg->name ? cfg->name : "");
        return NULL;
    }
    if (VOLLEY_OPT_IS_SET(cfg, CK_EXISTS) && !cfg->exists && has_value_test) {
        snprintf(err, errcap, "cookie: \"exists: false\" cannot be combined with equals or contains");
        return NULL;
    }
    struct cookie_cond *c = calloc(1, sizeof *c);
    if (!c || text_set(&c->name, cfg->name) != 0) {
        snprintf(err, errcap, "cookie: out of memory");
        cookie_free(c);
        return NULL;
    }
    c->host = host;
    if (VOLLEY_OPT_IS_SET(cfg, CK_JAR)) {
        const volley_scalar *j = &cfg->jar;
        if (j->type == VOLLEY_SCALAR_BOOL) {
            c->jar = j->b ? CJ_STEP : CJ_RESPONSE;
        } else if (j->type == VOLLEY_SCALAR_STRING && j->s && strcmp(j->s, "vu") == 0) {
            c->jar = CJ_VU;
        } else {
            snprintf(err, errcap, "cookie: jar: expected true, false or vu (the VU's own jar)");
            cookie_free(c);
            return NULL;
        }
    }
    c->absent = VOLLEY_OPT_IS_SET(cfg, CK_EXISTS) && !cfg->exists;
    c->path = VOLLEY_OPT_IS_SET(cfg, CK_PATH) ? cfg->path : NULL;
    c->domain = VOLLEY_OPT_IS_SET(cfg, CK_DOMAIN) ? cfg->domain : NULL;
    c->secure = VOLLEY_OPT_IS_SET(cfg, CK_SECURE) ? cfg->secure : -1;
    c->http_only = VOLLEY_OPT_IS_SET(cfg, CK_HTTP_ONLY) ? cfg->http_only : -1;
    bool attrs = c->path || c->domain || c->secure >= 0 || c->http_only >= 0;
    if (attrs && (c->jar || c->absent)) {
        snprintf(err, errcap, "cookie: path, domain, secure and http_only are a Set-Cookie's "
                 "attributes: not with %s",
                 c->jar == CJ_VU ? "jar: vu" : c->jar ? "jar: true" : "exists: false");
        cookie_free(c);
        return NULL;
    }
    if ((VOLLEY_OPT_IS_SET(cfg, CK_EQUALS) &&
         want_set(host, &c->equals, &cfg->equals, false, "cookie.equals", err, errcap) != 0) ||
        (VOLLEY_OPT_IS_SET(cfg, CK_CONTAINS) &&
         want_set(host, &c->contains, &cfg->contains, false, "cookie.contains", err, errcap) != 0)) {
        cookie_free(c);
        return NULL;
    }
    return c;
}

/* The next "name=value" pair named c->name in [*pos, end), pairs split at
 * `sep` (';' in a jar's Cookie value, '\n' between Set-Cookie lines, where
 * only the first pair of a line counts). The value without its quotes. */
static bool next_cookie(const struct cookie_cond *c, const char **pos, const char *end, char sep,
                        const char **value, size_t *vlen, const char **attrs, size_t *alen)
{
    while (*pos < end) {
        const char *p = *pos;
        const char *stop = memchr(p, sep, (size_t)(end - p));
        const char *item_end = stop ? stop : end;
        *pos = stop ? stop + 1 : end;
        *attrs = NULL;
        *alen = 0;
        if (sep == '\n') {
            if (item_end - p < 11 || !ascii_ieq(p, "set-cookie:", 11))
                continue;
            p += 11;
            const char *semi = memchr(p, ';', (size_t)(item_end - p));
            if (semi) {
                *attrs = semi + 1;
                *alen = (size_t)(item_end - semi - 1);
                item_end = semi;
            }
        }
        while (p < item_end && (*p == ' ' || *p == '\t'))
            p++;
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        if (!eq)
            continue;
        const char *ne = eq;
        while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        if ((size_t)(ne - p) != c->name.n || memcmp(p, c->name.s, c->name.n) != 0)
            continue;
        const char *v = eq + 1, *ve = item_end;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
            ve--;
        if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"')
            v++, ve--;
        *value = v;
        *vlen = (size_t)(ve - v);
        return true;
    }
    return false;
}

/* The value of attribute `name` among "; A=v; B" (NULL: absent; "" for
 * a flag such as Secure), as Go reads a Set-Cookie. */
static const char *cookie_attr(const char *a, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name), i = 0;
    while (i < n) {
        size_t e = i, eq = SIZE_MAX;
        while (e < n && a[e] != ';') {
            if (a[e] == '=' && eq == SIZE_MAX)
                eq = e;
            e++;
        }
        size_t k = i, ke = eq == SIZE_MAX ? e : eq;
        while (k < ke && (a[k] == ' ' || a[k] == '\t'))
            k++;
        while (ke > k && (a[ke - 1] == ' ' || a[ke - 1] == '\t' || a[ke - 1] == '\r'))
            ke--;
        if (ke - k == nl && ascii_ieq(a + k, name, nl)) {
            size_t v = eq == SIZE_MAX ? e : eq + 1, ve = e;
            while (v < ve && (a[v] == ' ' || a[v] == '\t'))
                v++;
            while (ve > v && (a[ve - 1] == ' ' || a[ve - 1] == '\t' || a[ve - 1] == '\r'))
                ve--;
            *vlen = ve - v;
            return a + v;
        }
        i = e + 1;
    }
    *vlen = 0;
    return NULL;
}

/* The Set-Cookie attributes the check names; on false, why. */
static const char *cookie_attrs_ok(const struct cookie_cond *c, const char *a, size_t n)
{
    size_t vl;
    const char *v;
    if (c->path) {
        v = cookie_attr(a, n, "path", &vl);
        if (!(v ? vl == strlen(c->path) && memcmp(v, c->path, vl) == 0 : !*c->path))
            return "path";
    }
    if (c->domain) {
        v = cookie_attr(a, n, "domain", &vl);
        if (!(v ? vl == strlen(c->domain) && ascii_ieq(v, c->domain, vl) : !*c->domain))
            return "domain";
    }
    if (c->secure >= 0 && (cookie_attr(a, n, "secure", &vl) != NULL) != (c->secure == 1))
        return c->secure ? "Secure missing" : "Secure";
    if (c->http_only >= 0 && (cookie_attr(a, n, "httponly", &vl) != NULL) != (c->http_only == 1))
        return c->http_only ? "HttpOnly missing" : "HttpOnly";
    return NULL;
}

static bool cookie_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                        char *msg, size_t msgcap)
{
    const struct cookie_cond *c = cond;
    const char *where = c->jar ? "in the VU's jar" : "set by the response";
    size_t len = 0;
    if (msgcap)
        msg[0] = '\0';
    const char *pos, *end;
    if (c->jar) {
        /* a core before revision 7 hands responses without the field */
        if (!VOLLEY_HAS(c->host, revision) || c->host->revision < 7 || !resp->jar) {
            put(msg, msgcap, &len, "cookie %s: this step's protocol keeps no cookie jar",
                c->name.s);
            return false;
        }
        pos = resp->jar;
        end = pos + resp->jar_len;
        if (resp->vu_jar && c->jar == CJ_VU) {   /* the step used a named jar */
            pos = resp->vu_jar;
            end = pos + resp->vu_jar_len;
        } else if (resp->vu_jar) {
            where = "in the step's jar";
        }
    } else {
        pos = resp->headers ? resp->headers : "";
        end = pos + (resp->headers ? resp->headers_len : 0);
    }
    struct wanted eq = {0}, ct = {0};
    if ((c->equals.set && !want_get(c->host, &c->equals, memo, &eq, "cookie.equals", msg, msgcap)) ||
        (c->contains.set &&
         !want_get(c->host, &c->contains, memo, &ct, "cookie.contains", msg, msgcap)))
        return false;
    const char *v, *attrs;
    size_t n, alen, seen = 0;
    while (next_cookie(c, &pos, end, c->jar ? ';' : '\n', &v, &n, &attrs, &alen)) {
        if (c->absent) {
            put(msg, msgcap, &len, "cookie %s is %s", c->name.s, where);
            return false;
        }
        const struct wanted *arg = NULL;
        const char *why = NULL;
        if (c->equals.set && !(n == eq.n && memcmp(v, eq.s, n) == 0))
            why = "is not", arg = &eq;
        else if (c->contains.set && !has_bytes(v, n, ct.s, ct.n))
            why = "does not contain", arg = &ct;
        const char *bad = why ? NULL : cookie_attrs_ok(c, attrs ? attrs : "", alen);
        if (!why && !bad) {
            if (msgcap)
                msg[0] = '\0';
            return true;
        }
        if (bad) {
            if (seen++ == 0 && msgcap) {
                size_t vl = 0;
                const char *got = bad[0] == 'p' || bad[0] == 'd'
                                      ? cookie_attr(attrs ? attrs : "", alen, bad, &vl)
                                      : NULL;
                if (bad[0] == 'p' || bad[0] == 'd')
                    put(msg, msgcap, &len, "cookie %s: %s is %s%.*s%s, not \"%s\"", c->name.s, bad,
                        got ? "\"" : "", got ? (int)vl : 4, got ? got : "none", got ? "\"" : "",
                        bad[0] == 'p' ? c->path : c->domain);
                else
                    put(msg, msgcap, &len, "cookie %s: %s", c->name.s,
                        strchr(bad, ' ') ? bad : (bad[0] == 'S' ? "has Secure" : "has HttpOnly"));
            }
            continue;
        }
        if (seen++ == 0 && msgcap) {
            put(msg, msgcap, &len, "cookie %s: ", c->name.s);
            put_shown(c->host, "Cookie", msg, msgcap, &len, v, n);
            put(msg, msgcap, &len, " %s ", why);
            put_shown(c->host, "Cookie", msg, msgcap, &len, arg->s, arg->n);
            put_from(msg, msgcap, &len, arg);
        }
    }
    if (c->absent)
        return true;
    if (seen == 0)
        put(msg, msgcap, &len, "cookie %s is not %s", c->name.s, where);
    return false;
}

/* ------------------------------------------------------------------------ */
/* body                                                                      */
/* ------------------------------------------------------------------------ */

enum { BODY_CONTAINS, BODY_NOT_CONTAINS, BODY_MATCHES };

struct body_cfg {
    uint64_t set;
    volley_value contains;
    volley_value not_contains;
    volley_value matches;
};

static const volley_option body_options[] = {
    [BODY_CONTAINS] = {.name = "contains", .type = VOLLEY_OPT_VALUE,
                       .offset = offsetof(struct body_cfg, contains),
                       .help = "the body contains this text (may be ${capture}, ${row.x})"},
    [BODY_NOT_CONTAINS] = {.name = "not_contains", .type = VOLLEY_OPT_VALUE,
                           .offset = offsetof(struct body_cfg, not_contains),
                           .help = "the body does not contain this text"},
    [BODY_MATCHES] = {.name = "matches", .type = VOLLEY_OPT_VALUE,
                      .offset = offsetof(struct body_cfg, matches),
                      .help = "the body matches this POSIX extended regex"},
};

static const volley_option_map body_map = {
    .options = body_options, .count = VOLLEY_COUNTOF(body_options),
    .config_size = sizeof(struct body_cfg), .shorthand = "contains"};

struct body_cond {
    const volley_host *host;
    struct want contains, not_contains, matches;
};

static void body_free(void *cond)
{
    struct body_cond *c = cond;
    if (!c)
        return;
    want_free(&c->contains);
    want_free(&c->not_contains);
    want_free(&c->matches);
    free(c);
}

static void *body_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct body_cfg *cfg = config;
    if (!(cfg->set & ((1u << BODY_CONTAINS) | (1u << BODY_NOT_CONTAINS) | (1u << BODY_MATCHES)))) {
        snprintf(err, errcap, "body: expected at least one of contains, not_contains, matches");
        return NULL;
    }
    if (VOLLEY_OPT_IS_SET(cfg, BODY_NOT_CONTAINS) && !cfg->not_contains.later &&
        (!cfg->not_contains.now.s || cfg->not_contains.now.s[0] == '\0')) {
        snprintf(err, errcap, "body.not_contains: empty text (every body contains it)");
        return NULL;
    }
    struct body_cond *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errcap, "body: out of memory");
        return NULL;
    }
    c->host = host;
    if ((VOLLEY_OPT_IS_SET(cfg, BODY_CONTAINS) &&
         want_set(host, &c->contains, &cfg->contains, false, "body.contains", err, errcap) != 0) ||
        (VOLLEY_OPT_IS_SET(cfg, BODY_NOT_CONTAINS) &&
         want_set(host, &c->not_contains, &cfg->not_contains, false, "body.not_contains", err, errcap) != 0) ||
        (VOLLEY_OPT_IS_SET(cfg, BODY_MATCHES) &&
         want_set(host, &c->matches, &cfg->matches, true, "body.matches", err, errcap) != 0)) {
        body_free(c);
        return NULL;
    }
    return c;
}

static bool body_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                      char *msg, size_t msgcap)
{
    const struct body_cond *c = cond;
    const char *b = resp->body ? resp->body : "";
    size_t n = resp->body ? resp->body_len : 0;
    const char *why = NULL;
    struct wanted ct = {0}, nc = {0}, re = {0};
    const struct wanted *arg = NULL;
    bool ok = false;
    if ((c->contains.set && !want_get(c->host, &c->contains, memo, &ct, "body.contains", msg, msgcap)) ||
        (c->not_contains.set &&
         !want_get(c->host, &c->not_contains, memo, &nc, "body.not_contains", msg, msgcap)) ||
        (c->matches.set && !want_get(c->host, &c->matches, memo, &re, "body.matches", msg, msgcap)))
        goto out;
    if (c->contains.set && !has_bytes(b, n, ct.s, ct.n))
        why = "does not contain", arg = &ct;
    else if (c->not_contains.set && nc.n && has_bytes(b, n, nc.s, nc.n))
        why = "contains", arg = &nc;
    else if (c->matches.set && !regex_match(re.re, b, n))
        why = "does not match", arg = &re;
    ok = !why;
    if (!ok && msgcap) {
        size_t len = 0;
        msg[0] = '\0';
        if (n == 0)
            put(msg, msgcap, &len, "body (empty) %s ", why);
        else
            put(msg, msgcap, &len, "body (%zu bytes) %s ", n, why);
        put_shown(c->host, NULL, msg, msgcap, &len, arg->s, arg->n);
        put_from(msg, msgcap, &len, arg);
    }
out:
    want_done(&re);
    return ok;
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
    if (resp->status == 0) {
        /* No response: its 0 ms is not a fast answer (the timing trends
         * leave such requests out for the same reason). */
        if (msgcap)
            snprintf(msg, msgcap, "no response%s%s", resp->error ? ": " : "",
                     resp->error ? resp->error : "");
        return false;
    }
    if (resp->duration_ms < c->limit_ms)
        return true;
    if (msgcap)
        snprintf(msg, msgcap, "duration %.3fms not below %.15gms", resp->duration_ms,
                 c->limit_ms);
    return false;
}

/* ------------------------------------------------------------------------ */
/* The exchange (revision 7): proto, url, timings, bytes                     */
/* ------------------------------------------------------------------------ */

/* The fields of volley_response these keys read came with revision 7: an
 * older core hands a smaller struct, so the key is refused there. */
static bool has_exchange(const volley_host *host, const char *key, char *err, size_t errcap)
{
    if (host && VOLLEY_HAS(host, revision) && host->revision >= 7)
        return true;
    snprintf(err, errcap, "%s: this volley's core is older than SDK revision 7 and does not "
                          "pass it to checks", key);
    return false;
}

/* Why a response has nothing to compare: the transport error, or a
 * protocol that does not tell. */
static void put_untold(char *msg, size_t msgcap, const volley_response *resp, const char *what)
{
    size_t len = 0;
    msg[0] = '\0';
    if (resp->error)
        put(msg, msgcap, &len, "no response: %s", resp->error);
    else
        put(msg, msgcap, &len, "the protocol does not tell the %s", what);
}

/* ---- proto ---- */

struct proto_cfg {
    uint64_t set;
    volley_string_list in;
};

static const volley_option proto_options[] = {
    {.name = "in", .type = VOLLEY_OPT_STRING_LIST, .flags = VOLLEY_OPT_REQUIRED,
     .offset = offsetof(struct proto_cfg, in),
     .help = "accepted protocols, as k6's r.proto: HTTP/1.1, HTTP/2.0 (one or a list)"},
};

static const volley_option_map proto_map = {
    .options = proto_options, .count = VOLLEY_COUNTOF(proto_options),
    .config_size = sizeof(struct proto_cfg), .shorthand = "in"};

struct proto_cond {
    size_t n;
    char **in;
};

static void proto_free(void *cond)
{
    struct proto_cond *c = cond;
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->in[i]);
    free(c->in);
    free(c);
}

static void *proto_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct proto_cfg *cfg = config;
    if (!has_exchange(host, "proto", err, errcap))
        return NULL;
    if (cfg->in.n == 0) {
        snprintf(err, errcap, "proto: expected a protocol (proto: HTTP/2.0) or a list");
        return NULL;
    }
    for (size_t i = 0; i < cfg->in.n; i++)
        if (strncmp(cfg->in.v[i], "HTTP/", 5) != 0 || !cfg->in.v[i][5]) {
            snprintf(err, errcap, "proto: expected a protocol as k6 names it (HTTP/1.0, HTTP/1.1, "
                     "HTTP/2.0, HTTP/3.0), got \"%s\"", cfg->in.v[i]);
            return NULL;
        }
    struct proto_cond *c = calloc(1, sizeof *c);
    if (!c || !(c->in = calloc(cfg->in.n, sizeof *c->in)))
        goto oom;
    for (; c->n < cfg->in.n; c->n++)
        if (!(c->in[c->n] = strdup(cfg->in.v[c->n])))
            goto oom;
    return c;
oom:
    proto_free(c);
    snprintf(err, errcap, "proto: out of memory");
    return NULL;
}

static bool proto_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                       char *msg, size_t msgcap)
{
    (void)memo;
    const struct proto_cond *c = cond;
    for (size_t i = 0; resp->proto && i < c->n; i++)
        if (strcmp(resp->proto, c->in[i]) == 0)
            return true;
    if (msgcap == 0)
        return false;
    if (!resp->proto) {
        put_untold(msg, msgcap, resp, "protocol");
        return false;
    }
    size_t len = 0;
    msg[0] = '\0';
    put(msg, msgcap, &len, "proto %s", resp->proto);
    if (c->n == 1)
        put(msg, msgcap, &len, " is not %s", c->in[0]);
    else
        for (size_t i = 0; i < c->n; i++)
            put(msg, msgcap, &len, "%s%s", i ? ", " : " not in [", c->in[i]);
    put(msg, msgcap, &len, "%s", c->n == 1 ? "" : "]");
    return false;
}

/* ---- url ---- */

enum { URL_EQUALS, URL_CONTAINS, URL_MATCHES };

struct url_cfg {
    uint64_t set;
    volley_value equals, contains, matches;
};

static const volley_option url_options[] = {
    [URL_EQUALS] = {.name = "equals", .type = VOLLEY_OPT_VALUE,
                    .offset = offsetof(struct url_cfg, equals),
                    .help = "the final URL (after redirects, k6's r.url) is this text"},
    [URL_CONTAINS] = {.name = "contains", .type = VOLLEY_OPT_VALUE,
                      .offset = offsetof(struct url_cfg, contains),
                      .help = "the final URL contains this text"},
    [URL_MATCHES] = {.name = "matches", .type = VOLLEY_OPT_VALUE,
                     .offset = offsetof(struct url_cfg, matches),
                     .help = "the final URL matches this POSIX extended regex"},
};

static const volley_option_map url_map = {
    .options = url_options, .count = VOLLEY_COUNTOF(url_options),
    .config_size = sizeof(struct url_cfg), .shorthand = "equals"};

struct url_cond {
    const volley_host *host;
    struct want equals, contains, matches;
};

static void url_free(void *cond)
{
    struct url_cond *c = cond;
    if (!c)
        return;
    want_free(&c->equals);
    want_free(&c->contains);
    want_free(&c->matches);
    free(c);
}

static void *url_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct url_cfg *cfg = config;
    if (!has_exchange(host, "url", err, errcap))
        return NULL;
    if (!(cfg->set & ((1u << URL_EQUALS) | (1u << URL_CONTAINS) | (1u << URL_MATCHES)))) {
        snprintf(err, errcap, "url: expected at least one of equals, contains, matches");
        return NULL;
    }
    struct url_cond *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errcap, "url: out of memory");
        return NULL;
    }
    c->host = host;
    if ((VOLLEY_OPT_IS_SET(cfg, URL_EQUALS) &&
         want_set(host, &c->equals, &cfg->equals, false, "url.equals", err, errcap) != 0) ||
        (VOLLEY_OPT_IS_SET(cfg, URL_CONTAINS) &&
         want_set(host, &c->contains, &cfg->contains, false, "url.contains", err, errcap) != 0) ||
        (VOLLEY_OPT_IS_SET(cfg, URL_MATCHES) &&
         want_set(host, &c->matches, &cfg->matches, true, "url.matches", err, errcap) != 0)) {
        url_free(c);
        return NULL;
    }
    return c;
}

static bool url_eval(const void *cond, const volley_response *resp, volley_memo *memo, char *msg,
                     size_t msgcap)
{
    const struct url_cond *c = cond;
    if (!resp->url) {
        if (msgcap)
            put_untold(msg, msgcap, resp, "URL");
        return false;
    }
    const char *u = resp->url;
    size_t n = strlen(u);
    struct wanted eq = {0}, ct = {0}, re = {0};
    const struct wanted *arg = NULL;
    const char *why = NULL;
    bool ok = false;
    if ((c->equals.set && !want_get(c->host, &c->equals, memo, &eq, "url.equals", msg, msgcap)) ||
        (c->contains.set && !want_get(c->host, &c->contains, memo, &ct, "url.contains", msg, msgcap)) ||
        (c->matches.set && !want_get(c->host, &c->matches, memo, &re, "url.matches", msg, msgcap)))
        goto out;
    if (c->equals.set && !(n == eq.n && memcmp(u, eq.s, n) == 0))
        why = "is not", arg = &eq;
    else if (c->contains.set && !has_bytes(u, n, ct.s, ct.n))
        why = "does not contain", arg = &ct;
    else if (c->matches.set && !regex_match(re.re, u, n))
        why = "does not match", arg = &re;
    ok = !why;
    if (!ok && msgcap) {
        size_t len = 0;
        msg[0] = '\0';
        put(msg, msgcap, &len, "url ");
        put_shown(c->host, NULL, msg, msgcap, &len, u, n);
        put(msg, msgcap, &len, " %s ", why);
        put_shown(c->host, NULL, msg, msgcap, &len, arg->s, arg->n);
        put_from(msg, msgcap, &len, arg);
    }
out:
    want_done(&re);
    return ok;
}

/* ---- timings and bytes: a number compared with limits ---- */

enum { CMP_LT, CMP_LTE, CMP_GT, CMP_GTE, CMP_EQ, CMP_COUNT };
static const char *const cmp_names[CMP_COUNT] = {"lt", "lte", "gt", "gte", "eq"};
static const char *const cmp_ops[CMP_COUNT] = {"<", "<=", ">", ">=", "=="};

/* The comparisons of one component: { lt: 200ms, gte: 0 }. */
struct limits_cfg {
    uint64_t set;
    int64_t v[CMP_COUNT];   /* nanoseconds (timings) or bytes */
};

#define LIMIT_OPTS(type_, unit_)                                                              \
    {                                                                                         \
        {.name = "lt", .type = type_, .offset = offsetof(struct limits_cfg, v[CMP_LT]),      \
         .help = "less than this " unit_},                                                    \
        {.name = "lte", .type = type_, .offset = offsetof(struct limits_cfg, v[CMP_LTE]),    \
         .help = "at most this " unit_},                                                      \
        {.name = "gt", .type = type_, .offset = offsetof(struct limits_cfg, v[CMP_GT]),      \
         .help = "more than this " unit_},                                                    \
        {.name = "gte", .type = type_, .offset = offsetof(struct limits_cfg, v[CMP_GTE]),    \
         .help = "at least this " unit_},                                                     \
        {.name = "eq", .type = type_, .offset = offsetof(struct limits_cfg, v[CMP_EQ]),      \
         .help = "exactly this " unit_ " (connecting eq 0: a reused connection)"},           \
    }

static const volley_option time_limit_options[] = LIMIT_OPTS(VOLLEY_OPT_DURATION, "duration");
static const volley_option byte_limit_options[] = LIMIT_OPTS(VOLLEY_OPT_INT, "number of bytes");
static const volley_option_map time_limit_map = {time_limit_options, CMP_COUNT,
                                                 sizeof(struct limits_cfg), NULL};
static const volley_option_map byte_limit_map = {byte_limit_options, CMP_COUNT,
                                                 sizeof(struct limits_cfg), NULL};

/* What a component is read from, in a response. */
enum {
    T_BLOCKED, T_CONNECTING, T_TLS, T_SENDING, T_WAITING, T_RECEIVING, T_DURATION, T_COUNT
};
enum { B_SENT, B_RECEIVED, B_COUNT };

static const char *const timing_names[T_COUNT] = {
    "blocked", "connecting", "tls_handshaking", "sending", "waiting", "receiving", "duration"};
static const char *const byte_names[B_COUNT] = {"sent", "received"};

struct timings_cfg {
    uint64_t set;
    struct limits_cfg c[T_COUNT];
};

struct bytes_cfg {
    uint64_t set;
    struct limits_cfg c[B_COUNT];
};

#define COMPONENT(cfg_, i_, name_, map_, help_)                                               \
    {.name = name_, .type = VOLLEY_OPT_OBJECT, .offset = offsetof(struct cfg_, c[i_]),        \
     .help = help_, .sub = &map_}

static const volley_option timings_options[T_COUNT] = {
    COMPONENT(timings_cfg, T_BLOCKED, "blocked", time_limit_map,
              "k6's r.timings.blocked (http_req_blocked)"),
    COMPONENT(timings_cfg, T_CONNECTING, "connecting", time_limit_map,
              "r.timings.connecting: 0 on a reused connection"),
    COMPONENT(timings_cfg, T_TLS, "tls_handshaking", time_limit_map, "r.timings.tls_handshaking"),
    COMPONENT(timings_cfg, T_SENDING, "sending", time_limit_map, "r.timings.sending"),
    COMPONENT(timings_cfg, T_WAITING, "waiting", time_limit_map,
              "r.timings.waiting (time to first byte)"),
    COMPONENT(timings_cfg, T_RECEIVING, "receiving", time_limit_map, "r.timings.receiving"),
    COMPONENT(timings_cfg, T_DURATION, "duration", time_limit_map,
              "r.timings.duration (http_req_duration)"),
};
static const volley_option bytes_options[B_COUNT] = {
    COMPONENT(bytes_cfg, B_SENT, "sent", byte_limit_map, "the request's bytes on the wire"),
    COMPONENT(bytes_cfg, B_RECEIVED, "received", byte_limit_map,
              "the response's bytes on the wire (status line, headers, body)"),
};

static const volley_option_map timings_map = {timings_options, T_COUNT,
                                              sizeof(struct timings_cfg), NULL};
static const volley_option_map bytes_map = {bytes_options, B_COUNT, sizeof(struct bytes_cfg),
                                            NULL};

/* One comparison of a compiled condition. */
struct limit {
    int component;          /* T_* or B_* */
    int cmp;                /* CMP_* */
    double x;               /* ms (timings) or bytes */
};

struct limits_cond {
    bool bytes;             /* a bytes: condition, else timings: */
    size_t n;
    struct limit l[];
};

static void *limits_compile(const volley_host *host, const char *key, bool bytes,
                            const struct limits_cfg *comps, size_t n_comps, uint64_t set,
                            char *err, size_t errcap)
{
    if (!has_exchange(host, key, err, errcap))
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_comps; i++)
        for (int k = 0; (set >> i & 1u) && k < CMP_COUNT; k++)
            n += VOLLEY_OPT_IS_SET(&comps[i], k);
    if (n == 0) {
        snprintf(err, errcap, bytes ? "bytes: expected a limit, e.g. bytes: { received: { lt: 1048576 } }"
                                    : "timings: expected a limit, e.g. timings: { waiting: { lt: 200ms } }");
        return NULL;
    }
    struct limits_cond *c = calloc(1, sizeof *c + n * sizeof c->l[0]);
    if (!c) {
        snprintf(err, errcap, "%s: out of memory", key);
        return NULL;
    }
    c->bytes = bytes;
    for (size_t i = 0; i < n_comps; i++)
        for (int k = 0; (set >> i & 1u) && k < CMP_COUNT; k++) {
            if (!VOLLEY_OPT_IS_SET(&comps[i], k))
                continue;
            if (comps[i].v[k] < 0) {
                snprintf(err, errcap, "%s.%s.%s: expected 0 or more", key,
                         bytes ? byte_names[i] : timing_names[i], cmp_names[k]);
                free(c);
                return NULL;
            }
            double x = bytes ? (double)comps[i].v[k] : (double)comps[i].v[k] / 1e6;
            c->l[c->n++] = (struct limit){.component = (int)i, .cmp = k, .x = x};
        }
    return c;
}

static void *timings_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct timings_cfg *cfg = config;
    return limits_compile(host, "timings", false, cfg->c, T_COUNT, cfg->set, err, errcap);
}

static void *bytes_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct bytes_cfg *cfg = config;
    return limits_compile(host, "bytes", true, cfg->c, B_COUNT, cfg->set, err, errcap);
}

static void limits_free(void *cond) { free(cond); }

static double component(const volley_response *r, bool bytes, int i)
{
    if (bytes)
        return i == B_SENT ? (double)r->bytes_sent : (double)r->bytes_received;
    switch (i) {
    case T_BLOCKED: return r->blocked_ms;
    case T_CONNECTING: return r->connecting_ms;
    case T_TLS: return r->tls_handshaking_ms;
    case T_SENDING: return r->sending_ms;
    case T_WAITING: return r->waiting_ms;
    case T_RECEIVING: return r->receiving_ms;
    default: return r->duration_ms;
    }
}

static bool holds(double v, int cmp, double x)
{
    switch (cmp) {
    case CMP_LT: return v < x;
    case CMP_LTE: return v <= x;
    case CMP_GT: return v > x;
    case CMP_GTE: return v >= x;
    default: return v == x;
    }
}

/* A transport error has no timings (the http_req_* trends leave such
 * requests out): they fail, as duration_lt does; its bytes are known. */
static bool limits_eval(const void *cond, const volley_response *resp, volley_memo *memo,
                        char *msg, size_t msgcap)
{
    (void)memo;
    const struct limits_cond *c = cond;
    uint32_t need = c->bytes ? VOLLEY_RESP_BYTES : VOLLEY_RESP_TIMINGS;
    if (!(resp->has & need)) {
        if (msgcap)
            put_untold(msg, msgcap, resp, c->bytes ? "bytes" : "timings");
        return false;
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct limit *l = &c->l[i];
        double v = component(resp, c->bytes, l->component);
        if (holds(v, l->cmp, l->x))
            continue;
        if (msgcap) {
            if (c->bytes)
                snprintf(msg, msgcap, "bytes %s %.0f, not %s %.0f", byte_names[l->component], v,
                         cmp_ops[l->cmp], l->x);
            else
                snprintf(msg, msgcap, "timings %s %.3fms, not %s %.15gms",
                         timing_names[l->component], v, cmp_ops[l->cmp], l->x);
        }
        return false;
    }
    return true;
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
    {.key = "cookie", .options = &cookie_map, .compile = cookie_compile,
     .free = cookie_free, .eval = cookie_eval},
    {.key = "proto", .options = &proto_map, .compile = proto_compile, .free = proto_free,
     .eval = proto_eval},
    {.key = "url", .options = &url_map, .compile = url_compile, .free = url_free,
     .eval = url_eval},
    {.key = "timings", .options = &timings_map, .compile = timings_compile,
     .free = limits_free, .eval = limits_eval},
    {.key = "bytes", .options = &bytes_map, .compile = bytes_compile, .free = limits_free,
     .eval = limits_eval},
    /* in files of their own (checks_basic_int.h) */
    {.key = "value", .options = &cb_value_map, .compile = cb_value_compile,
     .free = cb_value_free, .eval = cb_value_eval},
    {.key = "tls", .options = &cb_tls_map, .compile = cb_tls_compile,
     .free = cb_tls_free, .eval = cb_tls_eval},
};

/* What each key reads of a response, so a body nobody checks is dropped. */
static const uint32_t key_reads[VOLLEY_COUNTOF(keys)] = {
    0, VOLLEY_READS_HEADERS, VOLLEY_READS_BODY, 0, VOLLEY_READS_HEADERS, 0, 0, 0, 0,
    VOLLEY_READS_NO_RESPONSE, 0};

static const volley_check_ops ops = {.size = sizeof(volley_check_ops),
                                     .n_keys = VOLLEY_COUNTOF(keys),
                                     .keys = keys,
                                     .reads = key_reads};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_CHECK, .name = "checks-basic", .version = "0.1.0",
                     .description = "status, header, body, duration_lt, proto, url, timings, bytes, "
                                    "value and tls checks",
                     .check = &ops)
