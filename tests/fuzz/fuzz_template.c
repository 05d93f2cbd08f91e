/* libFuzzer: the template compiler (with every run-time name: rows,
 * captures, random calls, template functions with values as arguments:
 * base64(env.API_KEY + ':' + tx), hmac('sha256', ...)), the JSON-body
 * compiler and capture paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "capture.h"
#include "diag.h"
#include "pool.h"
#include "secret.h"
#include "template.h"
#include "vu.h"
#include "yaml_tree.h"

static const char *env(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "SET") == 0 ? "v" : strcmp(name, "API_KEY") == 0 ? "k3y" : NULL;
}
static const char *svc(void *ctx, const char *name) { (void)ctx; return strcmp(name, "api") == 0 ? "http://x" : NULL; }
static const char *scen(void *ctx) { (void)ctx; return "s"; }
static int64_t row(void *ctx, const char *name, int *slot, char *err, size_t errcap)
{
    (void)ctx;
    *slot = 0;
    if (strcmp(name, "p2.a") == 0) {   /* a second pool, qualified */
        *slot = 1;
        return 0;
    }
    if (strcmp(name, "a") == 0 || strcmp(name, "b") == 0)
        return name[0] - 'a';
    snprintf(err, errcap, "no field");
    return -1;
}
static int cap(void *ctx, const char *name) { (void)ctx; return strcmp(name, "tx") == 0 ? 0 : -1; }
static int64_t setup_field(void *ctx, const char *name, char *err, size_t errcap)
{
    (void)ctx;
    if (strcmp(name, "token") == 0)
        return 0;
    snprintf(err, errcap, "no setup value");
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    arena a;
    arena_init(&a);
    tmpl_scope scope = {.env = env, .service = svc, .scenario = scen, .row_field = row, .capture = cap,
                        .setup_field = setup_field};
    pool_value cells[2] = {{.text = "x", .len = 1, .kind = POOL_STRING, .json = "\"x\"", .json_len = 3},
                           {.text = "5", .len = 1, .kind = POOL_NUMBER, .json = "5", .json_len = 1}};
    vu_capture caps[1] = {{.val = {.data = "c", .len = 1}, .kind = CAP_STRING, .secret = 1}};
    char err[512];
    vu_capture *setup_vals = caps;
    struct volley_vu vu = {.id = 7, .iteration = 3, .rng = 1, .rows = {cells, cells}, .caps = caps,
                           .setup = &setup_vals};
    volley_buf out = {0};
    volley_template *t = tmpl_compile(&a, (const char *)data, size, &scope, err, sizeof err);
    if (t)
        tmpl_render(t, &vu, &out);
    /* The same bytes as a YAML document compiled into a JSON body. */
    diag d;
    diag_init(&d);
    ytree *tree = ytree_load_string("fuzz", (const char *)data, size, &d);
    if (tree && ytree_root(tree)) {
        volley_json *j = tjson_compile(&a, ytree_root(tree), &scope, &d, "body");
        if (j) {
            out.len = 0;
            tjson_render(j, &vu, &out);
        }
    }
    ytree_free(tree);
    diag_free(&d);
    /* The same bytes as a capture path. */
    char *path = malloc(size + 1);
    if (path) {
        memcpy(path, data, size);
        path[size] = '\0';
        size_t n;
        jpath_compile(&a, path, &n, err, sizeof err);
        free(path);
    }
    free(out.data);
    tmpl_vu_free(&vu);
    arena_free(&a);
    secret_reset();   /* ${env.X_KEY:-...} registers a secret: not kept across inputs */
    return 0;
}
