/*
 * flow_ctl: the control steps of a flow -- loops (`repeat`, `for_each`),
 * conditions (`if` / `else`) and weighted choices (`choose`) -- compiled
 * into the scenario's flat list of ops as one op kind (OP_CTL) whose
 * `ctl` says what it does; branches and loops are jumps between op
 * indexes, so the VU's program counter stays one number.
 *
 *   flow_ctl.c    compiles the steps (the spec loader calls it; it calls
 *                 back into the loader only through flow_emit)
 *   flow_cond.c   a condition: compiled once, evaluated per VU
 *   engine_flow.c runs the ops on a VU (engine_vu.c calls it)
 *
 * A loop's variables (${item}, ${item.FIELD}, ${loop.index}, `as:` names)
 * are capture slots of the VU after the scenario's captures: templates
 * render them as captured values, written once per pass.
 */
#ifndef VOLLEY_FLOW_CTL_H
#define VOLLEY_FLOW_CTL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "template.h"
#include "volley/plugin.h"
#include "yaml_tree.h"

/* Loops nested in one another at most (each nesting level keeps state per VU). */
#define FLOW_MAX_LOOP_DEPTH 8
/* Passes of one loop when the spec does not say (`max:`), and the most it may say. */
#define FLOW_LOOP_MAX_DEFAULT 1000
#define FLOW_LOOP_MAX_LIMIT 1000000
/* Branches of one choose:. */
#define FLOW_MAX_BRANCHES 64

/* ---- conditions (flow_cond.c) ---- */

typedef enum cond_subject { COND_VALUE = 0, COND_STATUS, COND_CHANCE } cond_subject;

typedef enum cond_op {
    CMP_EQUALS = 0, CMP_NOT_EQUALS, CMP_IN, CMP_NOT_IN, CMP_GT, CMP_GTE, CMP_LT, CMP_LTE,
    CMP_CONTAINS, CMP_NOT_CONTAINS, CMP_MATCHES, CMP_EMPTY
} cond_op;

typedef struct cond_cmp {
    cond_op op;
    const volley_template **vals;   /* equals/in/contains...: one or more texts */
    size_t n_vals;
    double num;                     /* gt/gte/lt/lte */
    bool flag;                      /* empty: true or false */
    regex_t *re;                    /* matches; freed by flow_cond_free */
} cond_cmp;

typedef struct flow_cond {
    cond_subject subject;
    const volley_template *value;   /* COND_VALUE; COND_CHANCE when templated */
    double chance;                  /* COND_CHANCE when constant */
    cond_cmp *cmps;                 /* all must hold */
    size_t n_cmps;
    const char *location;
    struct flow_cond *next_alloc;   /* every condition with a regex, to free */
} flow_cond;

/* What evaluating a condition needs of the VU, so flow_cond.c need not
 * know the engine. */
typedef struct cond_env {
    volley_vu *vu;
    int last_status;                /* of the VU's last response this iteration, 0: none */
    volley_buf *a, *b;              /* scratch for the subject and an expected value */
    void (*warn)(void *ctx, const flow_cond *c, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void *ctx;
} cond_env;

/* A condition mapping, or a list of them (all must hold). Errors go to d
 * with the node's place; regexes are listed on *regs for flow_cond_free. */
bool flow_cond_compile(arena *a, diag *d, const ynode *n, const char *path,
                       const tmpl_scope *scope, flow_cond **out, size_t *n_out,
                       flow_cond **regs);
bool flow_cond_eval(const flow_cond *c, size_t n, cond_env *env);
void flow_cond_free(flow_cond *regs);

/* ---- control ops ---- */

typedef enum fc_kind { FC_IF = 1, FC_JUMP, FC_CHOOSE, FC_LOOP, FC_NEXT } fc_kind;

typedef struct flow_field {
    int slot;                /* ${AS.a.b}: its capture slot */
    const char **keys;       /* a, b */
    size_t n_keys;
} flow_field;

typedef struct flow_loop {
    bool each;               /* for_each; else repeat */
    uint32_t level;          /* how many loops enclose it */
    uint32_t max;            /* passes at most */
    int64_t count;           /* repeat: a constant count, -1: templated */
    const volley_template *count_tmpl;
    const volley_json **items;   /* for_each over a YAML list: each item */
    size_t n_items;
    const volley_template *list_tmpl;   /* for_each over a JSON array at run time */
    int item_slot;           /* for_each: ${AS}; repeat: ${AS} is the index (-1: none) */
    int index_slot;          /* ${loop.index} (-1: not used) */
    flow_field *fields;      /* ${AS.FIELD...} the body reads */
    size_t n_fields;
    uint32_t body;           /* first op of the body */
    uint32_t after;          /* the op after the loop's FC_NEXT */
    const char *location;
} flow_loop;

typedef struct flow_ctl {
    fc_kind kind;
    uint32_t target;         /* IF: where to go when false; JUMP: where to go */
    const flow_cond *cond;   /* IF: all of these */
    size_t n_cond;
    double *cum;             /* CHOOSE: cumulative weights... */
    uint32_t *start;         /* ...and each branch's first op */
    size_t n_branches;
    flow_loop *loop;         /* LOOP and NEXT */
    const char *location;
} flow_ctl;

/* ---- compiling (the spec loader's side) ---- */

/* How flow_ctl.c adds ops and compiles nested steps without knowing the
 * loader's op list (spec.c fills it). */
typedef struct flow_emit {
    void *ctx;
    /* Appends an OP_CTL op in the current group; returns its index. */
    uint32_t (*push)(void *ctx, const flow_ctl *ctl);
    uint32_t (*count)(void *ctx);   /* ops so far: the next op's index */
    bool (*steps)(void *ctx, const ynode *steps, const char *path, int depth);
} flow_emit;

struct spec_loader;

/* Whether step is a control step (if, choose, repeat, for_each). */
bool flow_ctl_is_step(const ynode *step);
/* The step lists inside a control step (for collecting captures). */
size_t flow_ctl_bodies(const ynode *step, const ynode **out, size_t max);
bool flow_ctl_compile(struct spec_loader *L, const ynode *step, const char *path, int depth,
                      const flow_emit *em);
/* A template name seen in a flow: a loop variable's slot, or -1. */
int flow_ctl_scope_name(struct spec_loader *L, const char *name);
/* After a scenario's flow compiled: its loop slots join its capture slots. */
void flow_ctl_scenario_end(struct spec_loader *L, size_t *n_caps, bool **cap_keep);

#endif
