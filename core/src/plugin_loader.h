/*
 * plugin_loader: finds volley-*.so files, dlopens them with
 * RTLD_NOW|RTLD_LOCAL, calls the one exported entry and checks the
 * descriptor (ABI, revision, sizes, kind). Search order, first name wins:
 *   1. each --plugin-path dir
 *   2. each dir of $VOLLEY_PLUGIN_PATH (colon-separated)
 *   3. plugins/ beside the executable (a build tree: build/volley)
 *   4. the install dir relative to the executable (<exe>/../lib/volley/
 *      plugins, or wherever the configured libdir puts it), so an installed
 *      tree works wherever it was copied or staged
 *   5. the install dir configured at build time
 * A file that does not load is kept as `broken` with its reason: commands
 * go on without it, and a spec that needs what it would have provided says
 * so (plug_describe_broken).
 */
#ifndef VOLLEY_PLUGIN_LOADER_H
#define VOLLEY_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "volley/plugin.h"

/* The plugin's structs as this core reads them: copied up to the size the
 * plugin declared, the rest zero (fields of later revisions read as
 * absent). The core never reads the plugin's own structs past their size. */
typedef struct plug_desc {
    volley_plugin desc;
    volley_protocol_ops protocol;
    volley_check_ops check;
    volley_output_ops output;
} plug_desc;

typedef struct plug {
    char *path;
    void *dl;
    const volley_plugin *desc;     /* = &copy->desc, pointers into copy */
    plug_desc *copy;               /* owned */
} plug;

/* A file that looked like a plugin but could not be used. */
typedef struct plug_broken {
    char *path;
    char *name;                    /* from its descriptor when readable, else NULL */
    int kind;                      /* volley_plugin_kind, 0 when unknown */
    char *reason;
} plug_broken;

/* A directory that was searched, in order. */
typedef struct plug_dir {
    char *path;
    const char *why;               /* "--plugin-path", "VOLLEY_PLUGIN_PATH", ... */
    bool exists;
    size_t found;                  /* volley-*.so files in it */
} plug_dir;

typedef struct plug_set {
    size_t n, cap;
    plug *items;
    size_t n_broken;
    plug_broken *broken;
    size_t n_dirs;
    plug_dir *dirs;
} plug_set;

/* Searches the directories above and loads every plugin found. Returns 0,
 * or -1 with err only for a usage error (a --plugin-path that is not a
 * directory) or out of memory; files that fail to load go to s->broken. */
int plug_load_all(plug_set *s, const char *const *extra_dirs, size_t n_extra,
                  const volley_host *host, char *err, size_t errcap);
/* Loads one file (used by tests and by plug_load_all): 0, or -1 with a
 * message naming the file in err (a .so that fails to load, is not a
 * Volley plugin, or has another ABI). A second plugin of a name already
 * loaded is skipped (0). */
int plug_load_file(plug_set *s, const char *path, const volley_host *host,
                   char *err, size_t errcap);
void plug_unload_all(plug_set *s);

const plug *plug_find_protocol(const plug_set *s, const char *step_key);
/* The check key and the plugin that claims it; NULL when none. */
const volley_check_key *plug_find_check_key(const plug_set *s, const char *key,
                                            const plug **owner);
const plug *plug_find_output(const plug_set *s, const char *name);
const char *plug_kind_name(volley_plugin_kind k);
size_t plug_count_kind(const plug_set *s, volley_plugin_kind k);

/* For an "unknown ..." error about something a plugin of `kind` would
 * provide: appends to out (NUL-terminated, truncated at cap) why it may be
 * missing: broken plugin files that could be of that kind, or, when no
 * plugin of the kind loaded at all, where volley looked. Nothing when
 * neither applies. True when it appended something: the installation,
 * not the spec, is the likely cause. */
bool plug_describe_missing(const plug_set *s, volley_plugin_kind kind, char *out, size_t cap);

#endif
