#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "secret.h"
#include "suggest.h"

const char *opt_type_name(volley_opt_type t)
{
    switch (t) {
    case VOLLEY_OPT_STRING: return "string";
    case VOLLEY_OPT_TEMPLATE: return "string (templated)";
    case VOLLEY_OPT_INT: return "integer";
    case VOLLEY_OPT_DOUBLE: return "number";
    case VOLLEY_OPT_BOOL: return "boolean";
    case VOLLEY_OPT_DURATION: return "duration";
    case VOLLEY_OPT_ENUM: return "enum";
    case VOLLEY_OPT_INT_LIST: return "integer or list of integers";
    case VOLLEY_OPT_STRING_LIST: return "string or list of strings";
    case VOLLEY_OPT_TEMPLATE_MAP: return "mapping of strings";
    case VOLLEY_OPT_SCALAR: return "scalar";
    case VOLLEY_OPT_JSON: return "any value (JSON body)";
    case VOLLEY_OPT_OBJECT: return "mapping";
    case VOLLEY_OPT_OBJECT_LIST: return "list of mappings";
    case VOLLEY_OPT_CHECKS: return "check items";
    case VOLLEY_OPT_CAPTURES: return "captures (NAME: SOURCE)";
    case VOLLEY_OPT_JSON_LIST: return "value or list of values (strings are text)";
    case VOLLEY_OPT_VALUE: return "scalar (may use run-time ${...})";
    case VOLLEY_OPT_VALUE_LIST: return "scalar or list of scalars (may use run-time ${...})";
    }
    return "?";
}

static void *field(void *config, const volley_option *o)
{
    return (char *)config + o->offset;
}

/* "expected X, got "text"" for scalars, "got a mapping" otherwise. */
static void got_error(opt_ctx *c, const ynode *n, const char *path, const char *expected)
{
    if (n->kind == YNODE_SCALAR && !ynode_is_null(n))
        ynode_error(c->d, n, "%s: expected %s, got %s \"%s\"", path, expected, ynode_kind_name(n),
                    n->str);
    else
        ynode_error(c->d, n, "%s: expected %s, got %s", path, expected, ynode_kind_name(n));
}

static int check_range(opt_ctx *c, const volley_option *o, const ynode *n,
                       const char *path, double v)
{
    if (o->min < o->max && (v < o->min || v > o->max)) {
        ynode_error(c->d, n, "%s: expected a value between %.15g and %.15g, got %s", path, o->min,
                    o->max, n->str);
        return -1;
    }
    return 0;
}

static int want_scalar(opt_ctx *c, const ynode *n, const char *path, const char *expected)
{
    if (n->kind == YNODE_SCALAR && !ynode_is_null(n))
        return 0;
    ynode_error(c->d, n, "%s: expected %s, got %s", path, expected, ynode_kind_name(n));
    return -1;
}

static int fill_int(opt_ctx *c, const volley_option *o, const ynode *n,
                    const char *path, int64_t *out)
{
    if (n->kind != YNODE_SCALAR || !n->plain || !ynode_int(n, out)) {
        got_error(c, n, path, "an integer");
        return -1;
    }
    return check_range(c, o, n, path, (double)*out);
}

static int fill_duration(opt_ctx *c, const volley_option *o, const ynode *n,
                         const char *path, int64_t *out)
{
    char err[256];
    if (want_scalar(c, n, path, DURATION_EXPECTED) != 0)
        return -1;
    if (duration_parse(n->str, out, err, sizeof err) != 0) {
        ynode_error(c->d, n, "%s: %s", path, err);   /* err names the expected form */
        return -1;
    }
    if (o->min < o->max && ((double)*out < o->min * 1e9 || (double)*out > o->max * 1e9)) {
        char lo[32], hi[32];
        ynode_error(c->d, n, "%s: expected a duration between %s and %s, got %s", path,
                    duration_format_limit(llround(o->min * 1e9), lo, sizeof lo),
                    duration_format_limit(llround(o->max * 1e9), hi, sizeof hi), n->str);
        return -1;
    }
    return 0;
}

static int fill_enum(opt_ctx *c, const volley_option *o, const ynode *n,
                     const char *path, int *out)
{
    size_t count = 0;
    while (o->enum_values && o->enum_values[count])
        count++;
    char list[512];
    suggest_join(o->enum_values, count, list, sizeof list);
    if (n->kind != YNODE_SCALAR || ynode_is_null(n)) {
        ynode_error(c->d, n, "%s: expected one of: %s; got %s", path, list, ynode_kind_name(n));
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(n->str, o->enum_values[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char hint[128];
    suggest_hint(n->str, o->enum_values, count, hint, sizeof hint);
    ynode_error(c->d, n, "%s: unknown value \"%s\"; expected one of: %s%s", path, n->str, list,
                hint);
    return -1;
}

static int fill_int_list(opt_ctx *c, const volley_option *o, const ynode *n,
                         const char *path, volley_int_list *out)
{
    size_t count = n->kind == YNODE_SEQ ? n->n_items : 1;
    int64_t *v = arena_alloc(c->a, (count ? count : 1) * sizeof *v);
    if (!v)
        return -1;
    int rc = 0;
    if (n->kind == YNODE_SEQ) {
        if (count == 0) {
            ynode_error(c->d, n, "%s: expected at least one integer", path);
            return -1;
        }
        for (size_t i = 0; i < count; i++)
            rc |= fill_int(c, o, n->items[i], path, &v[i]);
    } else {
        rc = fill_int(c, o, n, path, &v[0]);
    }
    out->n = count;
    out->v = v;
    return rc;
}

static int fill_string_list(opt_ctx *c, const ynode *n, const char *path,
                            volley_string_list *out)
{
    size_t count = n->kind == YNODE_SEQ ? n->n_items : 1;
    const char **v = arena_alloc(c->a, (count ? count : 1) * sizeof *v);
    if (!v)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        const ynode *item = n->kind == YNODE_SEQ ? n->items[i] : n;
        if (want_scalar(c, item, path, "a string") != 0) {
            rc = -1;
            continue;
        }
        v[i] = item->str;
    }
    out->n = count;
    out->v = v;
    return rc;
}

static volley_template *compile_tmpl(opt_ctx *c, const ynode *n, const char *path)
{
    char err[512];
    volley_template *t = tmpl_compile(c->a, n->str, n->len, c->scope, err, sizeof err);
    if (!t)
        ynode_error(c->d, n, "%s: %s", path, err);
    return t;
}

/* A `headers` map: the constant value of an Authorization, Cookie... is a
 * secret (sent as it is, never shown: secret.h). With VOLLEY_OPT_REPEAT a
 * list value gives its key once per item, in order (tag: [a, b]). */
/* { value: TEXT, replace: BOOL } of a VOLLEY_OPT_LONG_FORM map (k6's
 * request cookies): the value node, *replace set. NULL after an error. */
static const ynode *long_form(opt_ctx *c, const ynode *v, const char *path, bool *replace)
{
    const ynode *val = NULL;
    int rc = 0;
    for (size_t i = 0; i < v->n_pairs; i++) {
        const char *k = v->pairs[i].key->str;
        const ynode *x = v->pairs[i].value;
        if (strcmp(k, "value") == 0) {
            val = x;
        } else if (strcmp(k, "replace") == 0) {
            if (x->kind != YNODE_SCALAR || !ynode_bool(x, replace)) {
                got_error(c, x, arena_printf(c->a, "%s.replace", path), "true or false");
                rc = -1;
            }
        } else {
            ynode_error(c->d, v->pairs[i].key, "%s: unknown key \"%s\"; valid keys: value, replace",
                        path, k);
            rc = -1;
        }
    }
    if (!val && rc == 0) {
        ynode_error(c->d, v, "%s: missing required key \"value\"", path);
        rc = -1;
    }
    return rc == 0 ? val : NULL;
}

static int fill_template_map(opt_ctx *c, const ynode *n, const char *path,
                             volley_template_map *out, bool headers, bool long_ok, bool repeat)
{
    if (n->kind != YNODE_MAP) {
        ynode_error(c->d, n, "%s: expected a mapping of names to strings, got %s", path,
                    ynode_kind_name(n));
        return -1;
    }
    size_t total = 0;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *v = n->pairs[i].value;
        total += repeat && v->kind == YNODE_SEQ ? v->n_items : 1;
    }
    const char **keys = arena_alloc(c->a, (total + 1) * sizeof *keys);
    const volley_template **vals = arena_alloc(c->a, (total + 1) * sizeof *vals);
    bool *repl = long_ok ? arena_alloc(c->a, (total + 1) * sizeof *repl) : NULL;
    if (!keys || !vals || (long_ok && !repl))
        return -1;
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *v = n->pairs[i].value;
        char *sub = arena_printf(c->a, "%s.%s", path, n->pairs[i].key->str);
        bool r = false;
        if (repl && v->kind == YNODE_MAP && !(v = long_form(c, v, sub, &r))) {
            rc = -1;
            continue;
        }
        bool list = repeat && v->kind == YNODE_SEQ;
        for (size_t j = 0; j < (list ? v->n_items : 1); j++) {
            const ynode *item = list ? v->items[j] : v;
            char *isub = list ? arena_printf(c->a, "%s[%zu]", sub, j) : sub;
            keys[k] = n->pairs[i].key->str;
            if (repl)
                repl[k] = r;
            if (want_scalar(c, item, isub, repeat ? "a string or a list of strings" : "a string") != 0 ||
                !(vals[k] = compile_tmpl(c, item, isub)))
                rc = -1;
            else if (headers && secret_header(keys[k], strlen(keys[k])) && tmpl_const(vals[k]))
                secret_add(tmpl_const(vals[k]), strlen(tmpl_const(vals[k])));
            k++;
        }
    }
    out->n = k;
    out->keys = keys;
    out->values = vals;
    if (repl)
        out->replace = repl;
    return rc;
}

/* The text of a ${...} value read once at load time: load-time names
 * folded in; a run-time one (a capture, vu.*, random.*) is an error. */
static int fold_now(opt_ctx *c, const ynode *n, const char *path, const char **out)
{
    volley_template *t = compile_tmpl(c, n, path);
    if (!t)
        return -1;
    if (!(*out = tmpl_const(t))) {
        ynode_error(c->d, n, "%s: \"%s\" needs a value known only at run time, but this option is "
                    "read once at load time: only ${env.*} and ${services.*} can be used in it",
                    path, n->str);
        return -1;
    }
    return 0;
}

/* A plugin's plain string naming ${...}: the plugin reads the string once
 * at load time, so it is folded rather than taken as written. */
static int fold_string(opt_ctx *c, const ynode *n, const char *path, const char **out)
{
    *out = n->str;
    if (!c->fold_strings || !n->str || !strstr(n->str, "${"))
        return 0;
    return fold_now(c, n, path, out);
}

/* A VOLLEY_OPT_FILE value already looked at, by its place and text (a
 * node of the tree, or one made up for a default or a command-line
 * argument): its path, or NULL when it was reported as unusable. */
struct opt_file_seen {
    const char *file;
    unsigned line, col;
    const char *text;
    const char *path;
};

static bool same_place(const struct opt_file_seen *f, const ynode *n)
{
    return f->line == n->line && f->col == n->col && n->file && strcmp(f->file, n->file) == 0 &&
           strcmp(f->text, n->str) == 0;
}

/*
 * A VOLLEY_OPT_FILE string: load-time templates filled in (as fold_string
 * does, whatever fold_strings says: the file is read at load time), a
 * relative path made relative to the directory of the spec file the value
 * is written in (as pool files and includes are), and the file opened
 * once to see that it can be read. Each node is looked at once per load:
 * a value under defaults: that reaches every step is reported once.
 */
static int fill_file(opt_ctx *c, const ynode *n, const char *path, const char **out)
{
    for (size_t i = 0; i < c->n_files; i++) {
        if (same_place(&c->files[i], n)) {
            *out = c->files[i].path;
            return c->files[i].path ? 0 : -1;
        }
    }
    const char *text = n->str, *resolved = NULL;
    bool was = c->fold_strings;
    c->fold_strings = true;
    int rc = fold_string(c, n, path, &text);
    c->fold_strings = was;
    if (rc == 0 && !*text) {
        ynode_error(c->d, n, "%s: expected a file path, got an empty string", path);
        rc = -1;
    }
    if (rc == 0) {
        const char *slash = n->file ? strrchr(n->file, '/') : NULL;
        resolved = text[0] == '/' || !slash
                       ? text
                       : arena_printf(c->a, "%.*s/%s", (int)(slash - n->file), n->file, text);
        int fd = resolved ? open(resolved, O_RDONLY | O_CLOEXEC) : -1;
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
            int e = fd < 0 ? errno : EISDIR;
            ynode_error(c->d, n, "%s: cannot read \"%s\": %s", path, resolved ? resolved : text,
                        strerror(e));
            resolved = NULL;
            rc = -1;
        }
        if (fd >= 0)
            close(fd);
    }
    if (c->n_files == c->cap_files) {
        size_t cap = c->cap_files ? c->cap_files * 2 : 8;
        struct opt_file_seen *f = arena_alloc(c->a, cap * sizeof *f);
        if (f) {
            if (c->n_files)
                memcpy(f, c->files, c->n_files * sizeof *f);
            c->files = f;
            c->cap_files = cap;
        }
    }
    const char *file = n->file ? arena_strdup(c->a, n->file) : NULL;
    const char *str = arena_strdup(c->a, n->str);
    if (c->n_files < c->cap_files && file && str)
        c->files[c->n_files++] = (struct opt_file_seen){file, n->line, n->col, str, resolved};
    *out = resolved;
    return rc;
}

/* YAML 1.2 core-schema typing of a scalar; quoted ones are strings. */
static void type_scalar(const ynode *n, volley_scalar *out)
{
    memset(out, 0, sizeof *out);
    out->s = n->str;
    if (!n->plain)
        out->type = VOLLEY_SCALAR_STRING;
    else if (ynode_is_null(n))
        out->type = VOLLEY_SCALAR_NULL;
    else if (ynode_bool(n, &out->b))
        out->type = VOLLEY_SCALAR_BOOL;
    else if (ynode_int(n, &out->i)) {
        out->type = VOLLEY_SCALAR_INT;
        out->d = (double)out->i;
    } else if (ynode_double(n, &out->d))
        out->type = VOLLEY_SCALAR_DOUBLE;
    else
        out->type = VOLLEY_SCALAR_STRING;
}

static int fill_scalar(opt_ctx *c, const ynode *n, const char *path, volley_scalar *out)
{
    if (n->kind != YNODE_SCALAR) {
        ynode_error(c->d, n, "%s: expected a scalar (string, number, boolean or null), got %s", path,
                    ynode_kind_name(n));
        return -1;
    }
    type_scalar(n, out);
    if (out->type != VOLLEY_SCALAR_STRING)
        return 0;
    const char *folded;
    if (fold_string(c, n, path, &folded) != 0)
        return -1;
    if (folded != n->str) {
        /* An unquoted ${env.X} that folds into 125.5 is typed as that text
         * written there would be; a quoted one stays a string. */
        ynode f = *n;
        f.str = (char *)folded;
        f.len = strlen(folded);
        type_scalar(&f, out);
    }
    return 0;
}

/* A check's expected value: a scalar, or a template with run-time parts
 * (a capture, row.*, vu.*) kept for the check to render per response.
 * Load-time parts fold as for a SCALAR. With bounds (min < max) a value
 * known at load time must be an integer within them, checked here as an
 * INT's (a run-time one is the plugin's to check when it is rendered). */
static int fill_value(opt_ctx *c, const volley_option *o, const ynode *n, const char *path,
                      volley_value *out)
{
    memset(out, 0, sizeof *out);
    bool bounded = o->min < o->max;
    if (n->kind != YNODE_SCALAR) {
        ynode_error(c->d, n, "%s: expected a scalar (string, number, boolean or null), got %s", path,
                    ynode_kind_name(n));
        return -1;
    }
    out->text = n->str;
    out->quoted = !n->plain;
    if (n->str && strstr(n->str, "${")) {
        volley_template *t = compile_tmpl(c, n, path);
        if (!t)
            return -1;
        const char *k = tmpl_const(t);
        if (!k) {
            out->later = t;
            return 0;
        }
        ynode f = *n;
        f.str = (char *)k;
        f.len = strlen(k);
        type_scalar(&f, &out->now);
        return bounded ? fill_int(c, o, &f, path, &out->now.i) : 0;
    }
    type_scalar(n, &out->now);
    return bounded ? fill_int(c, o, n, path, &out->now.i) : 0;
}

static int fill_value_list(opt_ctx *c, const volley_option *o, const ynode *n, const char *path,
                           volley_value_list *out)
{
    size_t count = n->kind == YNODE_SEQ ? n->n_items : 1;
    if (count == 0) {
        ynode_error(c->d, n, "%s: expected at least one %s", path, o->min < o->max ? "integer" : "value");
        return -1;
    }
    volley_value *v = arena_alloc(c->a, count * sizeof *v);
    if (!v)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        const ynode *item = n->kind == YNODE_SEQ ? n->items[i] : n;
        if (fill_value(c, o, item, path, &v[i]) != 0)
            rc = -1;
    }
    out->n = count;
    out->v = v;
    return rc;
}

int opt_type_text(const char *text, bool quoted, volley_scalar *out)
{
    ynode n = {.kind = YNODE_SCALAR, .str = (char *)text, .len = strlen(text), .plain = !quoted};
    type_scalar(&n, out);
    return 0;
}

static int fill_object_list(opt_ctx *c, const volley_option *o, const ynode *n,
                            volley_object_list *out, const char *path)
{
    if (n->kind != YNODE_SEQ || n->n_items == 0) {
        ynode_error(c->d, n, "%s: expected a non-empty list of mappings, got %s", path,
                    n->kind == YNODE_SEQ ? "an empty list" : ynode_kind_name(n));
        return -1;
    }
    size_t size = o->sub->config_size;
    char *items = arena_alloc(c->a, n->n_items * size);
    if (!items)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n->n_items; i++) {
        char *ipath = arena_printf(c->a, "%s[%zu]", path, i);
        if (!ipath || opt_fill(c, o->sub, n->items[i], items + i * size, ipath) != 0)
            rc = -1;
    }
    out->n = n->n_items;
    out->items = items;
    return rc;
}

static int fill_json_list(opt_ctx *c, const ynode *n, const char *path, volley_json_list *out)
{
    size_t count = n->kind == YNODE_SEQ ? n->n_items : 1;
    volley_json_item *v = arena_alloc(c->a, (count ? count : 1) * sizeof *v);
    if (!v)
        return -1;
    memset(v, 0, (count ? count : 1) * sizeof *v);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        const ynode *item = n->kind == YNODE_SEQ ? n->items[i] : n;
        char *ipath = n->kind == YNODE_SEQ ? arena_printf(c->a, "%s[%zu]", path, i)
                                           : (char *)path;
        if (item->kind == YNODE_SCALAR && !ynode_is_null(item) && !item->plain) {
            if (!(v[i].text = compile_tmpl(c, item, ipath)))
                rc = -1;
        } else if (item->kind == YNODE_SCALAR && item->plain && !ynode_is_null(item) &&
                   !ynode_int(item, &(int64_t){0}) && !ynode_double(item, &(double){0}) &&
                   !ynode_bool(item, &(bool){0})) {
            /* an unquoted word is text too */
            if (!(v[i].text = compile_tmpl(c, item, ipath)))
                rc = -1;
        } else if (!(v[i].json = tjson_compile(c->a, item, c->scope, c->d, ipath))) {
            rc = -1;
        }
    }
    out->n = count;
    out->v = v;
    return rc;
}

static int fill_one(opt_ctx *c, const volley_option *o, const ynode *n,
                    void *config, const char *path);

/* Whether a type reads a number, a duration, a boolean or a word: such a
 * value written as ${env.X:-default} is folded first. */
static bool foldable_type(volley_opt_type t)
{
    return t == VOLLEY_OPT_INT || t == VOLLEY_OPT_DOUBLE || t == VOLLEY_OPT_BOOL ||
           t == VOLLEY_OPT_DURATION || t == VOLLEY_OPT_ENUM || t == VOLLEY_OPT_INT_LIST;
}

/*
 * `rate: ${env.RATE:-20}`, `duration: "${env.D:-5s}"`: load-time names
 * (env.*, services.*) are folded in and the text is read as if it had been
 * written there unquoted, so it is type-checked as usual; every error
 * about it also names the template. A run-time name cannot be folded.
 */
static int fill_folded(opt_ctx *c, const volley_option *o, const ynode *n, void *config,
                       const char *path)
{
    const char *k;
    if (fold_now(c, n, path, &k) != 0)
        return -1;
    ynode f = *n;
    f.str = (char *)k;
    f.len = strlen(k);
    f.plain = true;
    size_t before = c->d->n_lines;
    bool was = c->folding;
    c->folding = true;   /* the folded text is read as written, never folded again */
    int rc = fill_one(c, o, &f, config, path);
    c->folding = was;
    if (rc != 0) {
        char note[600];
        snprintf(note, sizeof note, " (from %s)", n->str);
        diag_note_since(c->d, before, note);
    }
    return rc;
}

static int fill_one(opt_ctx *c, const volley_option *o, const ynode *n,
                    void *config, const char *path)
{
    void *f = field(config, o);
    double d;
    bool b;
    if (c->seen && !c->folding)   /* the node written, not a folded copy */
        c->seen(c->compile_ctx, f, n, path);
    if (!c->folding && foldable_type(o->type) && n->kind == YNODE_SCALAR && n->str &&
        strstr(n->str, "${"))
        return fill_folded(c, o, n, config, path);
    switch (o->type) {
    case VOLLEY_OPT_STRING:
        if (want_scalar(c, n, path, "a string") != 0)
            return -1;
        if (o->flags & VOLLEY_OPT_FILE)
            return fill_file(c, n, path, (const char **)f);
        return fold_string(c, n, path, (const char **)f);
    case VOLLEY_OPT_TEMPLATE:
        if (want_scalar(c, n, path, "a string") != 0)
            return -1;
        return (*(const volley_template **)f = compile_tmpl(c, n, path)) ? 0 : -1;
    case VOLLEY_OPT_INT:
        return fill_int(c, o, n, path, (int64_t *)f);
    case VOLLEY_OPT_DOUBLE:
        if (n->kind != YNODE_SCALAR || !n->plain || !ynode_double(n, &d) || isnan(d)) {
            got_error(c, n, path, "a number");
            return -1;
        }
        *(double *)f = d;
        return check_range(c, o, n, path, d);
    case VOLLEY_OPT_BOOL:
        if (n->kind != YNODE_SCALAR || !n->plain || !ynode_bool(n, &b)) {
            got_error(c, n, path, "true or false");
            return -1;
        }
        *(bool *)f = b;
        return 0;
    case VOLLEY_OPT_DURATION:
        return fill_duration(c, o, n, path, (int64_t *)f);
    case VOLLEY_OPT_ENUM:
        return fill_enum(c, o, n, path, (int *)f);
    case VOLLEY_OPT_INT_LIST:
        return fill_int_list(c, o, n, path, (volley_int_list *)f);
    case VOLLEY_OPT_STRING_LIST:
        return fill_string_list(c, n, path, (volley_string_list *)f);
    case VOLLEY_OPT_TEMPLATE_MAP:
        return fill_template_map(c, n, path, (volley_template_map *)f,
                                 strcmp(o->name, "headers") == 0, o->flags & VOLLEY_OPT_LONG_FORM,
                                 o->flags & VOLLEY_OPT_REPEAT);
    case VOLLEY_OPT_SCALAR:
        return fill_scalar(c, n, path, (volley_scalar *)f);
    case VOLLEY_OPT_JSON:
        return (*(const volley_json **)f = tjson_compile(c->a, n, c->scope, c->d, path)) ? 0 : -1;
    case VOLLEY_OPT_OBJECT:
        return opt_fill(c, o->sub, n, f, path);
    case VOLLEY_OPT_OBJECT_LIST:
        return fill_object_list(c, o, n, (volley_object_list *)f, path);
    case VOLLEY_OPT_CHECKS:
        if (!c->compile_checks) {
            ynode_error(c->d, n, "%s: check items are not accepted here", path);
            return -1;
        }
        return (*(volley_checks **)f = c->compile_checks(c->compile_ctx, n, path,
                                                          o->flags & VOLLEY_OPT_MATCH_ONLY))
                   ? 0 : -1;
    case VOLLEY_OPT_JSON_LIST:
        return fill_json_list(c, n, path, (volley_json_list *)f);
    case VOLLEY_OPT_VALUE:
        return fill_value(c, o, n, path, (volley_value *)f);
    case VOLLEY_OPT_VALUE_LIST:
        return fill_value_list(c, o, n, path, (volley_value_list *)f);
    case VOLLEY_OPT_CAPTURES:
        if (!c->compile_captures) {
            ynode_error(c->d, n, "%s: captures are not accepted here", path);
            return -1;
        }
        return (*(volley_captures **)f = c->compile_captures(c->compile_ctx, n, path)) ? 0 : -1;
    }
    return -1;
}

/* A default is YAML-scalar text in the plugin; it is parsed like a plain
 * scalar from the spec, so defaults and spec values can never disagree. */
static int fill_default(opt_ctx *c, const volley_option *o, void *config, const char *path)
{
    if (!o->default_value) {
        if (o->type == VOLLEY_OPT_OBJECT)
            return opt_fill(c, o->sub, NULL, field(config, o), path);
        return 0;
    }
    ynode n = {.kind = YNODE_SCALAR, .file = "<default>", .line = 1, .col = 1,
               .str = (char *)o->default_value, .len = strlen(o->default_value),
               .plain = true};
    /* Not written in the spec: nothing for `seen` to point at. */
    void (*seen)(void *, const void *, const ynode *, const char *) = c->seen;
    c->seen = NULL;
    int rc = fill_one(c, o, &n, config, path);
    c->seen = seen;
    return rc;
}

static void unknown_key(opt_ctx *c, const volley_option_map *map,
                        const ynode *key, const char *path)
{
    const char *names[64];
    size_t count = map->count < 64 ? map->count : 64;
    for (size_t i = 0; i < count; i++)
        names[i] = map->options[i].name;
    for (size_t i = 0; i < c->n_extra_keys && count < 64; i++)
        names[count++] = c->extra_keys[i];
    char list[512];
    suggest_join(names, count, list, sizeof list);
    char hint[128];
    suggest_hint(key->str, names, count, hint, sizeof hint);
    ynode_error(c->d, key, "%s: unknown key \"%s\"%s; valid keys: %s", path, key->str,
                hint, list);
}

static int fill_map(opt_ctx *c, const volley_option_map *map, const ynode *node,
                    void *config, const char *path)
{
    uint64_t *set = config;
    int rc = 0;
    for (size_t i = 0; i < node->n_pairs; i++) {
        const ynode *k = node->pairs[i].key;
        size_t j = 0;
        while (j < map->count && strcmp(map->options[j].name, k->str) != 0)
            j++;
        if (j == map->count) {
            unknown_key(c, map, k, path);
            rc = -1;
            continue;
        }
        char *sub = arena_printf(c->a, "%s.%s", path, k->str);
        if (!sub || fill_one(c, &map->options[j], node->pairs[i].value, config, sub) != 0)
            rc = -1;
        *set |= (uint64_t)1 << j;
    }
    for (size_t j = 0; j < map->count; j++) {
        const volley_option *o = &map->options[j];
        if ((*set >> j) & 1u)
            continue;
        if (o->flags & VOLLEY_OPT_REQUIRED) {
            ynode_error(c->d, node, "%s: missing required key \"%s\" (%s)", path, o->name,
                        o->help ? o->help : opt_type_name(o->type));
            rc = -1;
        } else if (fill_default(c, o, config, path) != 0) {
            rc = -1;
        }
    }
    return rc;
}

int opt_fill(opt_ctx *c, const volley_option_map *map, const ynode *node,
             void *config, const char *path)
{
    memset(config, 0, map->config_size);
    if (!node) {
        int rc = 0;
        for (size_t j = 0; j < map->count; j++)
            rc |= fill_default(c, &map->options[j], config, path);
        return rc;
    }
    if (node->kind == YNODE_MAP)
        return fill_map(c, map, node, config, path);
    if (map->shorthand) {
        /* Read `key: value` as `key: { shorthand: value }`. */
        ynode key = {.kind = YNODE_SCALAR, .file = node->file, .line = node->line,
                     .col = node->col, .str = (char *)map->shorthand,
                     .len = strlen(map->shorthand), .plain = true};
        ypair pair = {.key = &key, .value = (ynode *)node};
        ynode wrapped = {.kind = YNODE_MAP, .file = node->file, .line = node->line,
                         .col = node->col, .n_pairs = 1, .pairs = &pair};
        return fill_map(c, map, &wrapped, config, path);
    }
    ynode_error(c->d, node, "%s: expected a mapping, got %s", path, ynode_kind_name(node));
    return -1;
}

int opt_fill_arg(opt_ctx *c, const volley_option_map *map, const char *arg,
                 void *config, const char *what)
{
    ynode n = {.kind = YNODE_SCALAR, .file = "<command line>", .line = 1, .col = 1,
               .str = arena_strdup(c->a, arg), .len = strlen(arg), .plain = false};
    if (!map->shorthand) {
        diag_error(c->d, NULL, 0, 0, "%s: takes no argument", what);
        return -1;
    }
    return opt_fill(c, map, &n, config, what);
}

int opt_check_map(const volley_option_map *map, char *err, size_t errcap)
{
    if (map->count > 64) {
        snprintf(err, errcap, "option map has %zu options (at most 64)", map->count);
        return -1;
    }
    if (map->config_size < sizeof(uint64_t)) {
        snprintf(err, errcap, "config struct too small (it must start with uint64_t set)");
        return -1;
    }
    for (size_t i = 0; i < map->count; i++) {
        const volley_option *o = &map->options[i];
        if (o->type < VOLLEY_OPT_STRING || o->type > VOLLEY_OPT_VALUE_LIST) {
            snprintf(err, errcap, "option \"%s\": unknown option type %d (from a newer SDK? this volley "
                     "knows ABI %u revision %u)", o->name ? o->name : "?", (int)o->type, VOLLEY_ABI_VERSION,
                     VOLLEY_ABI_REVISION);
            return -1;
        }
        if (!o->name || o->offset < sizeof(uint64_t) || o->offset >= map->config_size) {
            snprintf(err, errcap, "option %zu: missing name or offset outside the config struct", i);
            return -1;
        }
        if ((o->type == VOLLEY_OPT_ENUM && !o->enum_values) ||
            ((o->type == VOLLEY_OPT_OBJECT || o->type == VOLLEY_OPT_OBJECT_LIST) && !o->sub)) {
            snprintf(err, errcap, "option \"%s\": enum without values or object without sub-map", o->name);
            return -1;
        }
        if ((o->flags & VOLLEY_OPT_FILE) && o->type != VOLLEY_OPT_STRING) {
            snprintf(err, errcap, "option \"%s\": VOLLEY_OPT_FILE is for string options", o->name);
            return -1;
        }
        if ((o->flags & VOLLEY_OPT_REPEAT) && o->type != VOLLEY_OPT_TEMPLATE_MAP) {
            snprintf(err, errcap, "option \"%s\": VOLLEY_OPT_REPEAT is for template maps", o->name);
            return -1;
        }
        if ((o->type == VOLLEY_OPT_OBJECT || o->type == VOLLEY_OPT_OBJECT_LIST) &&
            opt_check_map(o->sub, err, errcap) != 0)
            return -1;
    }
    return 0;
}
