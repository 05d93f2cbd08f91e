/* A plugin built with VOLLEY_PLUGIN_DEFINE whose descriptor claims ABI 999,
 * as one built against a future SDK would (tests/unit/test_plugin_loader.c).
 * The second .abi initializer overrides the macro's own. */
#include "volley/plugin.h"

static bool never(const void *cond, const volley_response *resp, volley_memo *memo, char *msg,
                  size_t msgcap)
{
    (void)cond, (void)resp, (void)memo, (void)msg, (void)msgcap;
    return false;
}

static void *compile(const volley_host *host, const void *config, char *err, size_t errcap)
{
    (void)host, (void)config, (void)err, (void)errcap;
    return (void *)1;
}

static const volley_check_key keys[] = {{.key = "never", .compile = compile, .eval = never}};
static const volley_check_ops ops = {.size = sizeof ops, .n_keys = 1, .keys = keys};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
VOLLEY_PLUGIN_DEFINE(.abi = 999, .kind = VOLLEY_KIND_CHECK, .name = "badabi", .version = "9.9.9",
                     .check = &ops)
#pragma GCC diagnostic pop
