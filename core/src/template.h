/*
 * template: "${...}" strings compiled once at load time.
 *
 * Names known at load time (env.X, env.X:-default, services.NAME,
 * scenario.name) are folded into literal text, so a template without
 * run-time parts is a plain string (tmpl_const) and costs nothing per
 * request. Run-time parts (vu.id, vu.iteration, row.FIELD, captured names,
 * random.int/float/pick/string, uuid(), now.ms, now.iso) are segments with
 * their arguments checked and parsed at load time, rendered per VU without
 * any parsing; random values come from the VU's own stream (rng.h).
 * Template functions (base64(), hex(), urlencode(), sha256(), hmac() ...:
 * template_fn.h) take values as arguments (`base64(env.USER + ':' +
 * env.PASSWORD)`); with constant arguments they are folded at load time,
 * else rendered in place in the output buffer. A result derived from a
 * secret is a secret: registered when folded, kept in the VU's
 * `derived` slots (vu.h) when rendered.
 * "$${" is a literal "${". A name that is not known is a load-time error.
 * The value of an env.NAME whose NAME contains TOKEN, SECRET, PASSWORD or
 * KEY (secret_name) is folded in as it is and registered as a secret (secret.h): what
 * volley shows of it is ***.
 *
 * JSON bodies (volley_json) are compiled from a YAML tree into the same
 * segment list: literal JSON text plus run-time segments that are written
 * either JSON-escaped inside a string or, when a value is a single template,
 * raw so it keeps its type (vu.id stays a number).
 */
#ifndef VOLLEY_TEMPLATE_H
#define VOLLEY_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "volley/plugin.h"
#include "yaml_tree.h"

typedef struct tmpl_scope {
    /* Value of env.NAME, or NULL when not set. */
    const char *(*env)(void *ctx, const char *name);
    /* URL of services.NAME, or NULL when no such service. */
    const char *(*service)(void *ctx, const char *name);
    /* The scenario being compiled, or NULL outside a flow. */
    const char *(*scenario)(void *ctx);
    /* row.NAME (or row.POOL.NAME): the field's index in its pool and, in
     * *slot, the pool's place in the scenario's `use:`; -1 with a message
     * in err (no pool bound, no such field, a field of two pools). NULL:
     * no pool known here. */
    int64_t (*row_field)(void *ctx, const char *name, int *slot, char *err, size_t errcap);
    /* Capture slot of a bare name; -1 unknown, -2 captured only later,
     * -3 by this same step, -4 by another step of the same batch. */
    int (*capture)(void *ctx, const char *name);
    /* setup.NAME: its slot among the setup flow's captures; -1 with a
     * message in err (no setup, no such capture, inside setup itself).
     * NULL: no setup values known here. */
    int64_t (*setup_field)(void *ctx, const char *name, char *err, size_t errcap);
    void *ctx;
} tmpl_scope;

/* Compiles src[0..len). NULL with a message in err (the caller adds the
 * location). Everything is allocated in `a`. */
volley_template *tmpl_compile(arena *a, const char *src, size_t len,
                              const tmpl_scope *scope, char *err,
                              size_t errcap);
/* The full text when the template has no run-time part, else NULL. */
const char *tmpl_const(const volley_template *t);
int tmpl_render(const volley_template *t, volley_vu *vu, volley_buf *out);
/* Frees what rendering keeps in a VU (the secret-derived values of
 * template functions, vu.h); the VU itself is the caller's. */
void tmpl_vu_free(volley_vu *vu);
/* Appends "k=v&k2=v2" of m, URL-encoded as Go's url.QueryEscape (space as
 * '+'); a run-time value is rendered in place and encoded from the back,
 * so nothing is allocated. vu NULL: only constant values (else -1). */
int tmpl_map_urlencode(const volley_template_map *m, volley_vu *vu, volley_buf *out);
/* Stable text for tags: load-time parts folded in, run-time parts kept as
 * "${vu.id}" (so /tx/${vu.id} stays one tag value, not one per VU). */
const char *tmpl_display(const volley_template *t);

/* Compiles a YAML node (any shape) into a JSON body. Errors go to d with
 * the node's location; `path` names the key for messages. */
volley_json *tjson_compile(arena *a, const ynode *n, const tmpl_scope *scope,
                           diag *d, const char *path);
const char *tjson_const(const volley_json *j);
int tjson_render(const volley_json *j, volley_vu *vu, volley_buf *out);

#endif
