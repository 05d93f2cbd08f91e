/*
 * The `value` check key: a condition on a value rather than on the
 * response, k6's check(Math.random(), {"< 0.5": (v) => v < 0.5}) and
 * check(null, {"always passes": true}).
 *
 *   value: { of: "${random.float(0, 1)}", lt: 0.5 }
 *   value: true                       shorthand for { of: true }: truthy
 *
 * `of` is a scalar or a template rendered per evaluation for the VU
 * (host->value_get). Comparisons follow `if:`'s rule (core/src/flow_cond.c):
 * two values are equal when their texts are, or when both texts read as
 * JSON numbers of the same value; gt/lt/... need a JSON number. A
 * rendered template has lost its JSON type (a captured "12" and 12 both
 * render 12), so it equals both the quoted "12" and the number 12, as a
 * k6 check with === would for the one it held. For truthiness alone a
 * rendered text is typed as a plain YAML scalar would be (0.42 a number,
 * true a boolean, null), quoted or not; a literal keeps the type it was
 * written with. With no comparison the value must be truthy (as a
 * JavaScript check function's result: not false, 0, "" or null).
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
        "the value equals this: the same text, or the same JSON number (12 equals \"12\" and "
        "12.0; may be a template)"),
    OPT(V_NOT_EQUALS, "not_equals", VOLLEY_OPT_VALUE, not_equals,
        "the value differs from this (the same comparison)"),
    OPT(V_GT, "gt", VOLLEY_OPT_DOUBLE, gt, "the value reads as a JSON number greater than this"),
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

/* Whether s reads as a JSON number (RFC 8259's grammar, as the core's
 * json_number_text: no "+", no leading zeros, no "0x", no ".5"); its value
 * in *x. `if:` reads numbers the same way. */
static bool json_num(const char *s, double *x)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        p += strspn(p, "0123456789");
    else
        return false;
    if (*p == '.') {
        size_t d = strspn(++p, "0123456789");
        if (!d)
            return false;
        p += d;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t d = strspn(p, "0123456789");
        if (!d)
            return false;
        p += d;
    }
    if (*p)
        return false;
    *x = strtod(s, NULL);
    return !isinf(*x) && !isnan(*x);
}

/* A rendered text typed as a plain YAML scalar would be, for truthiness
 * and for how a message shows it: numbers as JSON reads them, booleans,
 * null. */
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
    double d;
    if (!json_num(s, &d))
        return;
    char *end = NULL;
    long long i = strtoll(s, &end, 10);
    if (*end == '\0') {
        v->type = VOLLEY_SCALAR_INT;
        v->i = i;
        v->d = (double)i;
    } else {
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

static const char *text_of(const volley_scalar *v) { return v->s ? v->s : ""; }

/* `if:`'s equality: the same text, or both JSON numbers of one value. */
static bool same(const volley_scalar *a, const volley_scalar *b)
{
    double x, y;
    return strcmp(text_of(a), text_of(b)) == 0 ||
           (json_num(text_of(a), &x) && json_num(text_of(b), &y) && x == y);
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
        double x;
        if (!json_num(text_of(&v), &x)) {
            fail = "is not a number";
            break;
        }
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
