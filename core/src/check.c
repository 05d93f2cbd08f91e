#include "check.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "memo.h"
#include "suggest.h"
#include "template.h"

/* ---- compile ---- */

static const char *subpath(const check_compiler *cc, const char *path, const char *key)
{
    return *path ? arena_printf(cc->a, "%s.%s", path, key) : arena_strdup(cc->a, key);
}

static void key_names(const plug_set *ps, const char **names, size_t *n, size_t cap)
{
    *n = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const volley_plugin *d = ps->items[i].desc;
        if (d->kind != VOLLEY_KIND_CHECK)
            continue;
        for (size_t k = 0; k < d->check->n_keys && *n < cap; k++)
            names[(*n)++] = d->check->keys[k].key;
    }
}

static void unknown_key(const check_compiler *cc, const ynode *k, const char *path)
{
    const char *names[128];
    size_t nn;
    key_names(cc->plugins, names, &nn, 127);
    names[nn++] = "name";
    char list[512];
    suggest_join(names, nn, list, sizeof list);
    char hint[128];
    suggest_hint(k->str, names, nn, hint, sizeof hint);
    char why[1024] = "";
    /* Without a near miss among the known keys, a plugin that did not load
     * is the likely cause: the installation's error. */
    if (plug_describe_missing(cc->plugins, VOLLEY_KIND_CHECK, why, sizeof why) && !*hint)
        cc->d->engine = true;
    ynode_error(cc->d, k, "%s: unknown check \"%s\"%s; known checks: %s%s", path, k->str, hint,
                list, why);
}

/* One condition `KEY: OPTIONS` into *out; false after reporting. */
static bool compile_cond(const check_compiler *cc, const ynode *k, const ynode *v,
                         const char *path, check_cond *out)
{
    const char *kpath = subpath(cc, path, k->str);
    const plug *owner = NULL;
    const volley_check_key *ck = plug_find_check_key(cc->plugins, k->str, &owner);
    if (!ck) {
        unknown_key(cc, k, path);
        return false;
    }
    /* Strings are folded at load time and run-time names refused: a check
     * is compiled once. Run-time check values (the next issue) start here,
     * keeping such a value as a template for check_eval to render. */
    void *cfg = arena_alloc(cc->a, ck->options->config_size);
    bool was = cc->oc->fold_strings;
    cc->oc->fold_strings = true;
    int frc = opt_fill(cc->oc, ck->options, v, cfg, kpath);
    cc->oc->fold_strings = was;
    if (frc != 0)
        return false;
    char err[512] = "";
    void *cond;
    CRASH_CALL(owner->desc->name, "check compile",
               cond = ck->compile(cc->host, cfg, err, sizeof err));
    if (!cond) {
        ynode_error(cc->d, v, "%s: %s", kpath, *err ? err : "invalid check");
        return false;
    }
    const volley_check_ops *ops = owner->desc->check;
    uint32_t reads = ops->reads ? ops->reads[ck - ops->keys] : VOLLEY_READS_ALL;
    *out = (check_cond){.key = ck, .cond = cond, .plugin = owner->desc->name, .reads = reads};
    return true;
}

static bool compile_item(const check_compiler *cc, const ynode *n, const char *path,
                         const char *group, check_item *out, bool match_only)
{
    if (n->kind != YNODE_MAP) {
        ynode_error(cc->d, n, "%s: expected a mapping, got %s", path, ynode_kind_name(n));
        return false;
    }
    const ynode *name = ynode_get(n, "name");
    if (!name && match_only) {
        static const ynode unnamed = {.kind = YNODE_SCALAR, .str = "", .plain = false};
        name = &unnamed;
    }
    /* A bad or missing name does not stop here: the conditions are
     * compiled too, so that one pass reports every error of the item. */
    if (!name)
        ynode_error(cc->d, n, "%s: missing required key \"name\" (each check item is named)", path);
    else if (name->kind == YNODE_SCALAR && !ynode_is_null(name))
        out->name = name->str;
    else
        ynode_error(cc->d, name, "%s: expected a string, got %s", subpath(cc, path, "name"),
                    ynode_kind_name(name));
    out->group = group;
    out->conds = arena_alloc(cc->a, n->n_pairs * sizeof *out->conds);
    bool ok = out->name != NULL;
    size_t tried = 0;
    for (size_t i = 0; i < n->n_pairs; i++) {
        const ynode *k = n->pairs[i].key, *v = n->pairs[i].value;
        if (strcmp(k->str, "name") == 0)
            continue;
        tried++;
        if (compile_cond(cc, k, v, path, &out->conds[out->n_conds]))
            out->n_conds++;
        else
            ok = false;
    }
    if (tried == 0) {
        if (out->name)
            ynode_error(cc->d, n, "%s: check \"%s\" has no condition (add e.g. status: 200)",
                        path, out->name);
        else
            ynode_error(cc->d, n, "%s: check has no condition (add e.g. status: 200)", path);
        ok = false;
    }
    if (ok && !match_only) {
        int sid = metrics_add_hidden(cc->reg, cc->metric, group, out->name);
        if (sid < 0)
            return false;
        out->series = (uint32_t)sid;
        out->tags = (volley_tags)VOLLEY_TAGS_INIT;
        out->tags.check = out->name;
    }
    return ok;
}

bool check_compile_list(const check_compiler *cc, const ynode *n, const char *path,
                        const char *group, bool match_only, check_item **items, size_t *count)
{
    size_t total = n->kind == YNODE_SEQ ? n->n_items : 1;
    *count = 0;
    *items = arena_alloc(cc->a, (total ? total : 1) * sizeof **items);
    if (!*items)
        return false;
    memset(*items, 0, (total ? total : 1) * sizeof **items);
    bool ok = true;
    for (size_t i = 0; i < total; i++) {
        const ynode *item = n->kind == YNODE_SEQ ? n->items[i] : n;
        const char *ipath = arena_printf(cc->a, "%s[%zu]", path, i);
        ok &= compile_item(cc, item, ipath, group, &(*items)[(*count)++], match_only);
    }
    return ok;
}

volley_checks *check_compile_opt(const check_compiler *cc, const ynode *n, const char *path,
                                 const char *group, bool match_only, volley_checks **owned)
{
    volley_checks *c = arena_alloc(cc->a, sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->match_only = match_only;
    bool ok = check_compile_list(cc, n, path, group, match_only, &c->items, &c->n);
    c->next = *owned;
    *owned = c;
    return ok ? c : NULL;
}

uint32_t check_items_reads(const check_item *items, size_t n)
{
    uint32_t r = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < items[i].n_conds; k++)
            r |= items[i].conds[k].reads;
    return r;
}

void check_free_items(const check_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < items[i].n_conds; k++) {
            const check_cond *c = &items[i].conds[k];
            if (c->key->free)
                CRASH_CALL(c->plugin, "check free", c->key->free(c->cond));
        }
}

void check_free_opts(const volley_checks *owned)
{
    for (const volley_checks *c = owned; c; c = c->next)
        check_free_items(c->items, c->n);
}

/* ---- evaluate ---- */

static const volley_response step_not_run = {.status = 0, .error = "step did not run"};

bool check_eval(const check_item *items, size_t n, const volley_response *resp, volley_vu *vu,
                const check_sink *sink)
{
    if (n == 0)
        return true;
    volley_memo memo = {.vu = vu};
    bool all = check_eval_memo(items, n, resp, &memo, sink);
    memo_clear(&memo);
    return all;
}

bool check_eval_memo(const check_item *items, size_t n, const volley_response *resp,
                     volley_memo *memo, const check_sink *sink)
{
    if (n == 0)
        return true;
    if (!resp)
        resp = &step_not_run;
    char msg[256];
    bool all = true;
    for (size_t i = 0; i < n && (sink || all); i++) {
        const check_item *ci = &items[i];
        bool pass = true;
        size_t c = 0;
        msg[0] = '\0';
        for (; c < ci->n_conds && pass; c++) {
            const check_cond *k = &ci->conds[c];
            CRASH_CALL(k->plugin, "check eval",
                       pass = k->key->eval(k->cond, resp, memo, msg, sizeof msg));
        }
        if (sink) {
            char why[320] = "";
            /* A step that failed (transport error, ws expect timeout...)
             * is why its conditions fail: "body is not JSON: empty body"
             * would hide it. A plugin's reason that names it is kept. */
            if (!pass && resp->error && !strstr(msg, resp->error))
                snprintf(why, sizeof why, "%s: %s", ci->conds[c - 1].key->key, resp->error);
            else if (!pass)
                snprintf(why, sizeof why, "%s: %s", ci->conds[c - 1].key->key,
                         *msg ? msg : "the condition did not hold");
            sink->result(sink->ctx, ci, pass, why);
        }
        all &= pass;
    }
    return all;
}

const volley_response *check_resp_full(const volley_response *resp, uint32_t rev,
                                       volley_response *tmp)
{
    if (!resp || rev >= 7)
        return resp;
    memset(tmp, 0, sizeof *tmp);
    memcpy(tmp, resp, offsetof(volley_response, proto));
    return tmp;
}

bool check_match(const volley_checks *c, const volley_response *resp)
{
    volley_response full;
    return !c || check_eval(c->items, c->n, check_resp_full(resp, c->proto_rev, &full), NULL, NULL);
}

bool check_match_vu(const volley_checks *c, volley_vu *vu, const volley_response *resp)
{
    volley_response full;
    return !c || check_eval(c->items, c->n, check_resp_full(resp, c->proto_rev, &full), vu, NULL);
}

int check_value_get(const volley_value *v, volley_memo *memo, volley_scalar *out, char *err,
                    size_t errcap)
{
    if (!v->later) {
        *out = v->now;
        return 0;
    }
    if (!memo || !memo->vu) {
        snprintf(err, errcap, "%s needs a VU to render it (checks_match has none)", v->text);
        return -1;
    }
    /* Rendered only when the condition is evaluated, into the memo. */
    volley_buf b = {0};
    const char *s = NULL;
    if (tmpl_render(v->later, memo->vu, &b) == 0)
        s = memo_keep(memo, b.data ? b.data : "", b.len);
    free(b.data);
    if (!s) {
        snprintf(err, errcap, "%s: out of memory rendering it", v->text);
        return -1;
    }
    opt_type_text(s, v->quoted, out);
    return 0;
}
