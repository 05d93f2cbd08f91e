/* libFuzzer: the template compiler and the JSON-body compiler. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "diag.h"
#include "template.h"
#include "vu.h"
#include "yaml_tree.h"

static const char *env(void *ctx, const char *name) { (void)ctx; return strcmp(name, "SET") == 0 ? "v" : NULL; }
static const char *svc(void *ctx, const char *name) { (void)ctx; return strcmp(name, "api") == 0 ? "http://x" : NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    arena a;
    arena_init(&a);
    tmpl_scope scope = {.env = env, .service = svc};
    char err[512];
    struct volley_vu vu = {.id = 7, .iteration = 3};
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
    free(out.data);
    arena_free(&a);
    return 0;
}
