/*
 * The `value` check key: a condition on a value rather than on the
 * response, k6's check(Math.random(), {"< 0.5": (v) => v < 0.5}) and
 * check(null, {"always passes": true}).
 *
 *   value: { of: "${random.float(0, 1)}", lt: 0.5 }
 *   value: true                       shorthand for { of: true }: truthy
 *
 * `of` is a scalar or a template rendered per evaluation for the VU
 * (host->value_get). A rendered template's text is typed as a plain YAML
 * scalar would be (0.42 a number, true a boolean, null), whether the
 * template was quoted or not: quotes are often needed only for YAML's
 * sake ("${random.float(0, 1)}" in a flow mapping). A literal keeps the
 * type it was written with. With no comparison the value must be truthy
 * (as a JavaScript check function's result: not false, 0, "" or null).
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks_basic_int.h"

enum { V_OF, V_EQUALS, V_NOT_EQUALS, V_GT, V_GTE, V_LT, V_LTE, V_MATCHES, V_CONTAINS };

struct value_cfg {
    uint64_t set;
    volley_value of, equals, not_equals;
    double gt, gte, lt, lte;
    const char *matches, *contains;
};

#define OPT(id, n, t, field, h) \
    [id] = {.name = n, .type = t, .offset = offsetof(struct value_cfg, field), .help = h}

static const volley_option value_options[] = {
    [V_OF] = {.name = "of", .type = VOLLEY_OPT_VALUE, .flags = VOLLEY_OPT_REQUIRED,
              .offset = offsetof(struct value_cfg, of),
              .help = "the value checked: a scalar or a template (${random.float(0, 1)}, "
                      "${captured}, ${row.x}) rendered each time"},
    OPT(V_EQUALS, "equals", VOLLEY_OPT_VALUE, equals,
        "the value equals this (type-aware: 1 equals 1.0, never \"1\"; may be a template)"),
    OPT(V_NOT_EQUALS, "not_equals", VOLLEY_OPT_VALUE, not_equals, "the value differs from this"),
    OPT(V_GT, "gt", VOLLEY_OPT_DOUBLE, gt, "the value is a number greater than this"),
    OPT(V_GTE, "gte", VOLLEY_OPT_DOUBLE, gte, "the value is a number at least this"),
    OPT(V_LT, "lt", VOLLEY_OPT_DOUBLE, lt, "the value is a number less than this"),
    OPT(V_LTE, "lte", VOLLEY_OPT_DOUBLE, lte, "the value is a number at most this"),
    OPT(V_MATCHES, "matches", VOLLEY_OPT_STRING, matches,
        "the value's text matches this POSIX extended regular expression"),
    OPT(V_CONTAINS, "contains", VOLLEY_OPT_STRING, contains, "the value's text contains this"),
};

const volley_option_map cb_value_map = {.options = value_options,
                                        .count = VOLLEY_COUNTOF(value_options),
                                        .config_size = sizeof(struct value_cfg),
                                        .shorthand = "of"};

struct value_cond {
    const volley_host *host;
    struct value_cfg cfg;      /* a copy: the templates are the core's, for the run */
    char *of_text, *eq_text, *ne_text, *contains;   /* owned copies of literals */
    bool has_re;
    regex_t re;
};

#define HAS(c, id) (((c)->cfg.set >> (id)) & 1u)

void cb_value_free(void *cond)
{
    struct value_cond *c = cond;
    if (!c)
        return;
    if (c->has_re)
        regfree(&c->re);
    free(c->of_text);
    free(c->eq_text);
    free(c->ne_text);
    free(c->contains);
    free(c);
}

/* A literal's text outlives the config (the YAML tree): keep a copy. */
static int keep_text(volley_value *v, char **own)
{
    if (v->later || !v->now.s)
        return 0;
    if (!(*own = strdup(v->now.s)))
        return -1;
    v->now.s = *own;
    v->text = *own;
    return 0;
}

void *cb_value_compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    const struct value_cfg *cfg = config;
    struct value_cond *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errcap, "value: out of memory");
        return NULL;
    }
    c->host = host;
    c->cfg = *cfg;
    if ((cfg->of.later || (HAS(c, V_EQUALS) && cfg->equals.later) ||
         (HAS(c, V_NOT_EQUALS) && cfg->not_equals.later)) &&
        (!VOLLEY_HAS(host, value_get) || !host->value_get)) {
        snprintf(err, errcap, "value: a template rendered at run time needs a newer volley");
        goto fail;
    }
    if (keep_text(&c->cfg.of, &c->of_text) != 0 ||
        (HAS(c, V_EQUALS) && keep_text(&c->cfg.equals, &c->eq_text) != 0) ||
        (HAS(c, V_NOT_EQUALS) && keep_text(&c->cfg.not_equals, &c->ne_text) != 0) ||
        (HAS(c, V_CONTAINS) && !(c->contains = strdup(cfg->contains)))) {
        snprintf(err, errcap, "value: out of memory");
        goto fail;
    }
    if (HAS(c, V_MATCHES)) {
        int rc = regcomp(&c->re, cfg->matches, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[256];
            regerror(rc, &c->re, why, sizeof why);
            snprintf(err, errcap, "value.matches: invalid regular expression \"%s\": %s",
                     cfg->matches, why);
            goto fail;
        }
        c->has_re = true;
    }
    c->cfg.matches = NULL;
    c->cfg.contains = NULL;
    return c;
fail:
    cb_value_free(c);
    return NULL;
}

/* A rendered text typed as a plain YAML scalar (the core's own typing is
 * for literals; this one only tells numbers, booleans and null apart). */
static void retype(volley_scalar *v)
{
    const char *s = v->s ? v->s : "";
    if (v->type != VOLLEY_SCALAR_STRING)
        return;
    if (!*s || !strcmp(s, "null") || !strcmp(s, "~")) {
        v->type = *s ? VOLLEY_SCALAR_NULL : VOLLEY_SCALAR_STRING;
        return;
    }
    if (!strcmp(s, "true") || !strcmp(s, "false")) {
        v->type = VOLLEY_SCALAR_BOOL;
        v->b = s[0] == 't';
        return;
    }
    char *end = NULL;
    long long i = strtoll(s, &end, 10);
    if (*end == '\0') {
        v->type = VOLLEY_SCALAR_INT;
        v->i = i;
        v->d = (double)i;
        return;
    }
    double d = strtod(s, &end);
    if (*end == '\0' && !isnan(d) && !isinf(d) && strspn(s, "+-0123456789.eE") == strlen(s)) {
        v->type = VOLLEY_SCALAR_DOUBLE;
        v->d = d;
    }
}

/* The value of v for this evaluation: a literal, or rendered and retyped. */
static bool get(const struct value_cond *c, const volley_value *v, volley_memo *memo,
                volley_scalar *out, const char *what, char *msg, size_t msgcap)
{
    if (!v->later) {
        *out = v->now;
        return true;
    }
    char err[256] = "";
    if (c->host->value_get(v, memo, out, err, sizeof err) != 0) {
        if (msgcap)
            snprintf(msg, msgcap, "%s: %s", what, err);
        return false;
    }
    out->type = VOLLEY_SCALAR_STRING;
    retype(out);
    return true;
}

static bool is_num(const volley_scalar *v)
{
    return v->type == VOLLEY_SCALAR_INT || v->type == VOLLEY_SCALAR_DOUBLE;
}

static double num(const volley_scalar *v)
{
    return v->type == VOLLEY_SCALAR_INT ? (double)v->i : v->d;
}

static bool same(const volley_scalar *a, const volley_scalar *b)
{
    if (is_num(a) && is_num(b))
        return a->type == VOLLEY_SCALAR_INT && b->type == VOLLEY_SCALAR_INT ? a->i == b->i
                                                                          : num(a) == num(b);
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case VOLLEY_SCALAR_NULL: return true;
    case VOLLEY_SCALAR_BOOL: return a->b == b->b;
    default: return strcmp(a->s ? a->s : "", b->s ? b->s : "") == 0;
    }
}

static bool truthy(const volley_scalar *v)
{
    switch (v->type) {
    case VOLLEY_SCALAR_NULL: return false;
    case VOLLEY_SCALAR_BOOL: return v->b;
    case VOLLEY_SCALAR_INT: return v->i != 0;
    case VOLLEY_SCALAR_DOUBLE: return v->d != 0 && !isnan(v->d);
    default: return v->s && *v->s;
    }
}

/* The value as a message shows it: its text (secrets hidden), quoted
 * when it is a string. */
static void shown(const struct value_cond *c, const volley_scalar *v, char *out, size_t cap)
{
    const char *s = v->s ? v->s : "";
    char hidden[80];
    size_t n = strlen(s);
    if (VOLLEY_HAS(c->host, redact) && c->host->redact) {
        n = c->host->redact(NULL, s, n, hidden, sizeof hidden);
        s = hidden;
    }
    int w = n > 60 ? 60 : (int)n;
    if (v->type == VOLLEY_SCALAR_STRING)
        snprintf(out, cap, "\"%.*s%s\"", w, s, n > 60 ? "..." : "");
    else
        snprintf(out, cap, "%.*s", w, s);
}

bool cb_value_eval(const void *cond, const volley_response *resp, volley_memo *memo, char *msg,
                   size_t msgcap)
{
    (void)resp;
    const struct value_cond *c = cond;
    volley_scalar v, want;
    if (!get(c, &c->cfg.of, memo, &v, "of", msg, msgcap))
        return false;
    char text[96], subject[256], w[96] = "";
    shown(c, &v, text, sizeof text);
    if (c->cfg.of.later)
        snprintf(subject, sizeof subject, "%s (of %s)", text, c->cfg.of.text);
    else
        snprintf(subject, sizeof subject, "%s", text);
    const char *fail = NULL;
    bool any = false;
    if (HAS(c, V_EQUALS)) {
        any = true;
        if (!get(c, &c->cfg.equals, memo, &want, "equals", msg, msgcap))
            return false;
        if (!same(&v, &want)) {
            shown(c, &want, w, sizeof w);
            fail = "is not";
        }
    }
    if (!fail && HAS(c, V_NOT_EQUALS)) {
        any = true;
        if (!get(c, &c->cfg.not_equals, memo, &want, "not_equals", msg, msgcap))
            return false;
        if (same(&v, &want)) {
            shown(c, &want, w, sizeof w);
            fail = "is, and must not be,";
        }
    }
    static const struct { int id; const char *word; } cmp[] = {
        {V_GT, "is not greater than"}, {V_GTE, "is not at least"},
        {V_LT, "is not less than"}, {V_LTE, "is not at most"}};
    const double lim[] = {c->cfg.gt, c->cfg.gte, c->cfg.lt, c->cfg.lte};
    for (size_t i = 0; i < 4 && !fail; i++) {
        if (!HAS(c, cmp[i].id))
            continue;
        any = true;
        if (!is_num(&v)) {
            fail = "is not a number";
            break;
        }
        double x = num(&v);
        bool ok = i == 0 ? x > lim[i] : i == 1 ? x >= lim[i] : i == 2 ? x < lim[i] : x <= lim[i];
        if (!ok) {
            fail = cmp[i].word;
            snprintf(w, sizeof w, "%.15g", lim[i]);
        }
    }
    const char *s = v.s ? v.s : "";
    if (!fail && HAS(c, V_MATCHES)) {
        any = true;
        if (regexec(&c->re, s, 0, NULL, 0) != 0)
            fail = "does not match the regular expression";
    }
    if (!fail && HAS(c, V_CONTAINS)) {
        any = true;
        if (!strstr(s, c->contains))
            fail = "does not contain the text";
    }
    if (!fail && !any && !truthy(&v))
        fail = "is not truthy (false, 0, \"\" or null)";
    if (!fail)
        return true;
    if (msgcap)
        snprintf(msg, msgcap, "%s %s%s%s", subject, fail, *w ? " " : "", w);
    return false;
}
