/*
 * checks-basic: the check keys that look at a response without parsing it.
 *
 *   status:      { in: [200, 202] }          shorthand: status: 200
 *                { gte: 200, lt: 400 }       a range (with or without in)
 *   header:      { name: X, exists/equals/contains/matches }
 *   body:        { contains, not_contains, matches }   shorthand: contains
 *   duration_lt: { value: 500ms }            shorthand: duration_lt: 500ms
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
    /* in files of their own (checks_basic_int.h) */
    {.key = "value", .options = &cb_value_map, .compile = cb_value_compile,
     .free = cb_value_free, .eval = cb_value_eval},
    {.key = "tls", .options = &cb_tls_map, .compile = cb_tls_compile,
     .free = cb_tls_free, .eval = cb_tls_eval},
};

/* What each key reads of a response, so a body nobody checks is dropped. */
static const uint32_t key_reads[VOLLEY_COUNTOF(keys)] = {
    0, VOLLEY_READS_HEADERS, VOLLEY_READS_BODY, 0, VOLLEY_READS_NO_RESPONSE, 0};

static const volley_check_ops ops = {.size = sizeof(volley_check_ops),
                                     .n_keys = VOLLEY_COUNTOF(keys),
                                     .keys = keys,
                                     .reads = key_reads};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_CHECK, .name = "checks-basic", .version = "0.1.0",
                     .description = "status, header, body, duration_lt, value and tls checks",
                     .check = &ops)
