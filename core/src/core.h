/*
 * core: the run context (volley_core). It owns the metric registry, the
 * loaded plugins and the host table handed to them; there is no global
 * mutable state outside it but crash.c's (for a signal handler) and the
 * append-only secrets of secret.c (for host->redact, which has no core).
 */
#ifndef VOLLEY_CORE_H
#define VOLLEY_CORE_H

#include <stdbool.h>

#include "metrics.h"
#include "plugin_loader.h"
#include "volley/plugin.h"

struct engine;
struct spec_loader;

struct volley_core {
    volley_host host;
    metrics_reg reg;
    plug_set plugins;
    bool verbose;
    struct engine *engine;     /* set while a run is in progress */
    struct spec_loader *loading;   /* set while a spec loads (spec_load) */
};

/* Fills the host table and the registry with the built-in metrics. */
int core_init(volley_core *c, char *err, size_t errcap);
void core_free(volley_core *c);

#endif
