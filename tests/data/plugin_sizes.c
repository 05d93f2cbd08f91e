/* Output plugins whose struct sizes are not this header's, built twice
 * (tests/CMakeLists.txt): volley-small.so declares an ops struct smaller
 * than revision 0 made it (the core must refuse it by name and size);
 * volley-future.so is what a plugin from a later revision looks like,
 * descriptor and ops larger with fields this core does not know (the core
 * must load it, reading only what it knows). */
#include <stdio.h>
#include <stdlib.h>

#include "volley/plugin.h"

typedef struct sizes_cfg {
    uint64_t set;
    const char *path;
} sizes_cfg;

static const volley_option options[] = {
    {.name = "path", .type = VOLLEY_OPT_STRING, .offset = offsetof(sizes_cfg, path), .help = "unused"},
};
static const volley_option_map option_map = {options, 1, sizeof(sizes_cfg), "path"};

static void *sizes_create(const volley_host *host, volley_core *core, const void *config, char *err,
                          size_t errcap)
{
    (void)host, (void)core, (void)config, (void)err, (void)errcap;
    return calloc(1, 1);
}

static int sizes_write(void *inst, const volley_sample *s, size_t n, char *err, size_t errcap)
{
    (void)inst, (void)s, (void)n, (void)err, (void)errcap;
    return 0;
}

static void sizes_destroy(void *inst) { free(inst); }

/* A later revision's structs: today's fields, then ones this core lacks. */
struct future_ops {
    volley_output_ops now;
    void (*from_the_future)(void *inst);
    uint64_t more;
};
struct future_desc {
    volley_plugin now;
    const char *homepage;
};

#ifdef SIZES_FUTURE
static const struct future_ops ops = {
    .now = {.size = sizeof(struct future_ops), .options = &option_map, .create = sizes_create,
            .write = sizes_write, .destroy = sizes_destroy},
    .more = 42,
};
static const struct future_desc desc = {
    .now = {.abi = VOLLEY_ABI_VERSION, .size = sizeof(struct future_desc), .kind = VOLLEY_KIND_OUTPUT,
            .name = "future", .version = "9.0.0", .description = "from a later revision",
            .output = &ops.now, .revision = 99},
    .homepage = "https://example.invalid/",
};
#else
static const struct future_ops ops = {
    .now = {.size = 8, .options = &option_map, .create = sizes_create, .write = sizes_write,
            .destroy = sizes_destroy},
};
static const struct future_desc desc = {
    .now = {.abi = VOLLEY_ABI_VERSION, .size = sizeof(volley_plugin), .kind = VOLLEY_KIND_OUTPUT,
            .name = "small", .version = "0.0.1", .output = &ops.now, .revision = VOLLEY_ABI_REVISION},
};
#endif

VOLLEY_PLUGIN_EXPORT const volley_plugin *volley_plugin_entry(uint32_t host_abi, const volley_host *host);
VOLLEY_PLUGIN_EXPORT const volley_plugin *volley_plugin_entry(uint32_t host_abi, const volley_host *host)
{
    (void)host_abi, (void)host;
    return &desc.now;
}
