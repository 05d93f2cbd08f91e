#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"

const char *plug_kind_name(volley_plugin_kind k)
{
    switch (k) {
    case VOLLEY_KIND_PROTOCOL: return "protocol";
    case VOLLEY_KIND_CHECK: return "check";
    case VOLLEY_KIND_OUTPUT: return "output";
    }
    return "unknown";
}

static const plug *find_by_name(const plug_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].desc->name, name) == 0)
            return &s->items[i];
    return NULL;
}

/* Checks what the core reads of a descriptor before trusting it. */
static int check_desc(const volley_plugin *d, const char *path, char *err, size_t errcap)
{
    if (d->abi != VOLLEY_ABI_VERSION) {
        snprintf(err, errcap, "%s: plugin built for Volley plugin ABI %u, this volley speaks ABI %u; "
                 "rebuild the plugin against this volley's headers", path, d->abi, VOLLEY_ABI_VERSION);
        return -1;
    }
    if (d->size < sizeof(volley_plugin) || !d->name || !*d->name || !d->version) {
        snprintf(err, errcap, "%s: malformed plugin descriptor (size %u, name %s)", path,
                 d->size, d->name ? d->name : "(none)");
        return -1;
    }
    const volley_option_map *maps[64];
    size_t n_maps = 0;
    switch (d->kind) {
    case VOLLEY_KIND_PROTOCOL:
        if (!d->protocol || d->protocol->size < sizeof(volley_protocol_ops) || !d->protocol->step_key ||
            !d->protocol->step_options || !d->protocol->create || !d->protocol->step_compile ||
            !d->protocol->step_start)
            goto bad_ops;
        maps[n_maps++] = d->protocol->step_options;
        break;
    case VOLLEY_KIND_CHECK:
        if (!d->check || d->check->size < sizeof(volley_check_ops) || !d->check->keys)
            goto bad_ops;
        for (size_t i = 0; i < d->check->n_keys && n_maps < 64; i++) {
            if (!d->check->keys[i].key || !d->check->keys[i].options || !d->check->keys[i].compile ||
                !d->check->keys[i].eval)
                goto bad_ops;
            maps[n_maps++] = d->check->keys[i].options;
        }
        break;
    case VOLLEY_KIND_OUTPUT:
        if (!d->output || d->output->size < sizeof(volley_output_ops) || !d->output->create ||
            !d->output->write || !d->output->options)
            goto bad_ops;
        maps[n_maps++] = d->output->options;
        break;
    default:
        snprintf(err, errcap, "%s: unknown plugin kind %d", path, (int)d->kind);
        return -1;
    }
    for (size_t i = 0; i < n_maps; i++) {
        char why[256];
        if (maps[i] && opt_check_map(maps[i], why, sizeof why) != 0) {
            snprintf(err, errcap, "%s: plugin %s declares a bad option map: %s", path, d->name, why);
            return -1;
        }
    }
    return 0;
bad_ops:
    snprintf(err, errcap, "%s: plugin %s (%s) lacks its %s operations", path, d->name,
             plug_kind_name(d->kind), plug_kind_name(d->kind));
    return -1;
}

int plug_load_file(plug_set *s, const char *path, const volley_host *host, char *err, size_t errcap)
{
    dlerror();
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(err, errcap, "%s: cannot load plugin: %s (is a library it needs missing? "
                 "try: ldd %s)", path, dlerror(), path);
        return -1;
    }
    volley_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, VOLLEY_PLUGIN_ENTRY_SYMBOL);
    if (!entry) {
        snprintf(err, errcap, "%s: not a Volley plugin (no %s symbol; build it with "
                 "VOLLEY_PLUGIN_DEFINE)", path, VOLLEY_PLUGIN_ENTRY_SYMBOL);
        dlclose(dl);
        return -1;
    }
    const volley_plugin *d = entry(VOLLEY_ABI_VERSION, host);
    if (!d) {
        snprintf(err, errcap, "%s: the plugin's entry refused this host (ABI %u)", path, VOLLEY_ABI_VERSION);
        dlclose(dl);
        return -1;
    }
    if (check_desc(d, path, err, errcap) != 0) {
        dlclose(dl);
        return -1;
    }
    if (find_by_name(s, d->name)) {   /* an earlier directory wins */
        dlclose(dl);
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        plug *p = realloc(s->items, cap * sizeof *p);
        if (!p) {
            dlclose(dl);
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        s->items = p;
        s->cap = cap;
    }
    s->items[s->n++] = (plug){.path = strdup(path), .dl = dl, .desc = d};
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads volley-*.so from one directory, in name order. A missing directory
 * is not an error. */
static int load_dir(plug_set *s, const char *dir, const volley_host *host, char *err, size_t errcap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "volley-", 7) == 0 && len > 10 && strcmp(e->d_name + len - 3, ".so") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && plug_load_file(s, path, host, err, errcap) != 0)
            rc = -1;
        free(names[i]);
    }
    return rc;
}

int plug_load_all(plug_set *s, const char *const *extra_dirs, size_t n_extra,
                  const volley_host *host, char *err, size_t errcap)
{
    for (size_t i = 0; i < n_extra; i++) {
        struct stat st;
        if (stat(extra_dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errcap, "%s: --plugin-path is not a directory", extra_dirs[i]);
            return -1;
        }
        if (load_dir(s, extra_dirs[i], host, err, errcap) != 0)
            return -1;
    }
    const char *env = getenv("VOLLEY_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        int rc = 0;
        for (char *dir = strtok_r(copy, ":", &save); dir && rc == 0; dir = strtok_r(NULL, ":", &save))
            rc = load_dir(s, dir, host, err, errcap);
        free(copy);
        if (rc != 0)
            return -1;
    }
    /* Beside the executable: build/volley + build/plugins/. */
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 16);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            strcpy(slash + 1, "plugins");
            if (load_dir(s, exe, host, err, errcap) != 0)
                return -1;
        }
    }
    if (load_dir(s, VOLLEY_PLUGIN_INSTALL_DIR, host, err, errcap) != 0)
        return -1;
    return 0;
}

void plug_unload_all(plug_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        dlclose(s->items[i].dl);
        free(s->items[i].path);
    }
    free(s->items);
    memset(s, 0, sizeof *s);
}

const plug *plug_find_protocol(const plug_set *s, const char *step_key)
{
    for (size_t i = 0; i < s->n; i++) {
        const volley_plugin *d = s->items[i].desc;
        if (d->kind == VOLLEY_KIND_PROTOCOL && strcmp(d->protocol->step_key, step_key) == 0)
            return &s->items[i];
    }
    return NULL;
}

const volley_check_key *plug_find_check_key(const plug_set *s, const char *key, const plug **owner)
{
    for (size_t i = 0; i < s->n; i++) {
        const volley_plugin *d = s->items[i].desc;
        if (d->kind != VOLLEY_KIND_CHECK)
            continue;
        for (size_t k = 0; k < d->check->n_keys; k++) {
            if (strcmp(d->check->keys[k].key, key) == 0) {
                if (owner)
                    *owner = &s->items[i];
                return &d->check->keys[k];
            }
        }
    }
    return NULL;
}

const plug *plug_find_output(const plug_set *s, const char *name)
{
    const plug *p = find_by_name(s, name);
    return p && p->desc->kind == VOLLEY_KIND_OUTPUT ? p : NULL;
}
