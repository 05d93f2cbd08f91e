/*
 * plugin_loader: finds volley-*.so files, dlopens them with
 * RTLD_NOW|RTLD_LOCAL, calls the one exported entry and checks the
 * descriptor (ABI, size, kind). Search order, first name wins:
 * --plugin-path dirs, $VOLLEY_PLUGIN_PATH (colon-separated), the build
 * tree's plugins/ beside the executable, the install dir.
 */
#ifndef VOLLEY_PLUGIN_LOADER_H
#define VOLLEY_PLUGIN_LOADER_H

#include <stddef.h>

#include "volley/plugin.h"

typedef struct plug {
    char *path;
    void *dl;
    const volley_plugin *desc;
} plug;

typedef struct plug_set {
    size_t n, cap;
    plug *items;
} plug_set;

/* Loads every plugin found. 0, or -1 with a message naming the file in
 * err (a .so that fails to load, is not a Volley plugin, or has another
 * ABI). */
int plug_load_all(plug_set *s, const char *const *extra_dirs, size_t n_extra,
                  const volley_host *host, char *err, size_t errcap);
/* Loads one file (used by tests and by plug_load_all). */
int plug_load_file(plug_set *s, const char *path, const volley_host *host,
                   char *err, size_t errcap);
void plug_unload_all(plug_set *s);

const plug *plug_find_protocol(const plug_set *s, const char *step_key);
/* The check key and the plugin that claims it; NULL when none. */
const volley_check_key *plug_find_check_key(const plug_set *s, const char *key,
                                            const plug **owner);
const plug *plug_find_output(const plug_set *s, const char *name);
const char *plug_kind_name(volley_plugin_kind k);

#endif
