/* An output plugin built against the frozen revision-0 header
 * (tests/data/sdk-r0/volley/plugin.h), as a plugin compiled for volley 0.1.0
 * would be: its descriptor and ops are smaller than today's. The current
 * core must load and run it (tests/unit/test_plugin_loader.c,
 * tests/integration/test_plugin_sdk.py). On close it writes how many
 * samples it got and the names of their metrics to `path`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volley/plugin.h"

#ifdef VOLLEY_ABI_REVISION
#error "plugin_oldout.c must be built against tests/data/sdk-r0 (revision 0 has no VOLLEY_ABI_REVISION)"
#endif

typedef struct oldout_cfg {
    uint64_t set;
    const char *path;
} oldout_cfg;

static const volley_option options[] = {
    {.name = "path", .type = VOLLEY_OPT_STRING, .offset = offsetof(oldout_cfg, path),
     .help = "where to write the count", .flags = VOLLEY_OPT_REQUIRED},
};
static const volley_option_map option_map = {options, 1, sizeof(oldout_cfg), "path"};

typedef struct oldout {
    const volley_host *host;
    volley_core *core;
    char *path;
    unsigned long long n;
    char seen[64][48];
    int n_seen;
} oldout;

static void *oldout_create(const volley_host *host, volley_core *core, const void *config, char *err,
                           size_t errcap)
{
    const oldout_cfg *cfg = config;
    oldout *o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(cfg->path))) {
        free(o);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    o->host = host;
    o->core = core;
    return o;
}

static int oldout_write(void *inst, const volley_sample *s, size_t n, char *err, size_t errcap)
{
    oldout *o = inst;
    (void)err, (void)errcap;
    for (size_t i = 0; i < n; i++) {
        const volley_metric_info *m = o->host->metric_info(o->core, s[i].metric);
        int k = 0;
        while (m && k < o->n_seen && strcmp(o->seen[k], m->name) != 0)
            k++;
        if (m && k == o->n_seen && o->n_seen < 64)
            snprintf(o->seen[o->n_seen++], sizeof o->seen[0], "%s", m->name);
    }
    o->n += n;
    return 0;
}

static int oldout_close(void *inst, char *err, size_t errcap)
{
    oldout *o = inst;
    FILE *f = fopen(o->path, "w");
    if (!f) {
        snprintf(err, errcap, "cannot open %s", o->path);
        return -1;
    }
    fprintf(f, "samples %llu\n", o->n);
    for (int k = 0; k < o->n_seen; k++)
        fprintf(f, "metric %s\n", o->seen[k]);
    return fclose(f) == 0 ? 0 : -1;
}

static void oldout_destroy(void *inst)
{
    oldout *o = inst;
    if (o)
        free(o->path);
    free(o);
}

static const volley_output_ops ops = {
    .size = sizeof(volley_output_ops),
    .options = &option_map,
    .create = oldout_create,
    .write = oldout_write,
    .close = oldout_close,
    .destroy = oldout_destroy,
};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_OUTPUT, .name = "oldout", .version = "0.0.1",
                     .description = "built against the revision-0 SDK header", .output = &ops)
