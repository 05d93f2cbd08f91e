/*
 * check: `check:` items, compiled once at load time and evaluated on each
 * response, as template.h owns templates.
 *
 *   check:
 *     - { name: created, status: 201, json: { path: id, exists: true } }
 *
 * Every key of an item but `name` is a condition a check plugin claims
 * (plug_find_check_key): its options are filled from the plugin's map, its
 * compile() runs here at load time and its eval() per response on the VU's
 * loop thread; these and its free() run with the crash mark naming the
 * plugin. The same items come from a step's `check:` and from plugins'
 * VOLLEY_OPT_CHECKS options (volley_checks, run through the host table's
 * checks_run/checks_match).
 *
 * Callers: the spec loader compiles (spec.c, through check_compiler) and
 * frees (spec_free); the engine evaluates (engine_vu.c, with a check_sink
 * that records each item's result). This module includes neither: what
 * it needs comes as parameters, and the engine's part only through the sink.
 */
#ifndef VOLLEY_CHECK_H
#define VOLLEY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "metrics.h"
#include "options.h"
#include "plugin_loader.h"
#include "volley/plugin.h"
#include "yaml_tree.h"

/* One condition: a plugin's key and what its compile() returned. Values
 * known only at run time stay in the plugin's config as volley_value
 * templates; the plugin renders them in eval() (check_value_get). */
typedef struct check_cond {
    const volley_check_key *key;
    void *cond;
    const char *plugin;      /* the key's plugin, for the crash mark */
    uint32_t reads;          /* VOLLEY_READS_* of its eval()           */
} check_cond;

typedef struct check_item {
    const char *name;
    const char *group;       /* group path where the check stands */
    uint32_t series;         /* hidden rate series: passes/fails  */
    volley_tags tags;        /* check = name, for the checks metric */
    size_t n_conds;
    check_cond *conds;
} check_item;

/* Check items a protocol plugin took as an option (VOLLEY_OPT_CHECKS), run
 * through the host table. */
struct volley_checks {
    bool match_only;                 /* unnamed conditions, never recorded */
    uint32_t proto_rev;              /* revision of the protocol plugin whose
                                        responses they see (check_resp_full) */
    size_t n;
    check_item *items;
    struct volley_checks *next;      /* in the owner's list, for check_free_opts */
};

/* ---- compile (load time, main thread) ---- */

/* What compiling needs from the one who loads the items (the spec loader). */
typedef struct check_compiler {
    arena *a;                  /* owns the items (not the conditions: check_free_*) */
    diag *d;                   /* errors, at the node they are about */
    const plug_set *plugins;   /* the check plugins, claiming the keys */
    const volley_host *host;   /* handed to each key's compile() */
    metrics_reg *reg;          /* each recorded item's hidden series... */
    uint32_t metric;           /* ...of this metric (the built-in checks) */
    opt_ctx *oc;               /* fills each key's options (strings folded) */
} check_compiler;

/* A check list (a sequence, or one item) in `group` into *items (in
 * cc->a); *count counts every item tried, failed ones too, so that
 * check_free_items releases what compiled. match_only: items need no name
 * and get no series. false after reporting every error to cc->d. */
bool check_compile_list(const check_compiler *cc, const ynode *n, const char *path,
                        const char *group, bool match_only, check_item **items, size_t *count);
/* A plugin's VOLLEY_OPT_CHECKS value: check_compile_list into a new
 * volley_checks, pushed onto *owned even when it fails (check_free_opts
 * frees the list). NULL after reporting. */
volley_checks *check_compile_opt(const check_compiler *cc, const ynode *n, const char *path,
                                 const char *group, bool match_only, volley_checks **owned);
/* What the items' conditions read of a response: VOLLEY_READS_* bits. */
uint32_t check_items_reads(const check_item *items, size_t n);
/* Frees the conditions the plugins compiled (the rest is in the arena). */
void check_free_items(const check_item *items, size_t n);
void check_free_opts(const volley_checks *owned);

/* ---- evaluate (per response, the VU's loop thread) ---- */

/* Where each item's result goes, when results are recorded: the engine's
 * `checks` sample, hidden series and first failure reason. `why` is ""
 * when the item passed, else "KEY: reason". */
typedef struct check_sink {
    void (*result)(void *ctx, const check_item *ci, bool pass, const char *why);
    void *ctx;
} check_sink;

/* Evaluates items on resp (NULL: the step did not run, checked as status 0
 * with an error) for vu, whose run-time values render in the conditions
 * (NULL: such values fail). With a sink, every item, each result to it;
 * without, only whether all hold, stopping at the first that does not.
 * true when every item passed (or there is none). Nothing is allocated
 * here but what the plugins keep in the response's memo and the values
 * they render. */
bool check_eval(const check_item *items, size_t n, const volley_response *resp, volley_vu *vu,
                const check_sink *sink);
/* The same with the caller's memo (memo->vu is the VU), which outlives the
 * checks: a step's captures read what its checks parsed (an HTML document),
 * and the caller clears it. */
bool check_eval_memo(const check_item *items, size_t n, const volley_response *resp,
                     volley_memo *memo, const check_sink *sink);

/* A protocol plugin's response as checks, captures and records read it:
 * resp itself when the plugin's revision `rev` has every field of
 * volley_response, else a copy into *tmp of the fields it has, the later
 * ones zeroed (plugin.h, revision 7: the plugin's struct ends before
 * them). NULL stays NULL. */
const volley_response *check_resp_full(const volley_response *resp, uint32_t rev,
                                       volley_response *tmp);

/* The host table's checks_match (no VU) and checks_match_vu: true when c
 * is NULL or every condition of every item holds; records nothing. */
bool check_match(const volley_checks *c, const volley_response *resp);
bool check_match_vu(const volley_checks *c, volley_vu *vu, const volley_response *resp);

/* The host table's value_get: a VOLLEY_OPT_VALUE for this response (see
 * plugin.h). */
int check_value_get(const volley_value *v, volley_memo *memo, volley_scalar *out, char *err,
                    size_t errcap);

#endif
