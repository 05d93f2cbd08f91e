#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash.h"
#include "options.h"

/* What revision 0 made each struct: the smallest size this core accepts.
 * Fields past these are optional and read as absent when not given. */
#define DESC_MIN_SIZE offsetof(volley_plugin, revision)
#define PROTOCOL_MIN_SIZE offsetof(volley_protocol_ops, worker_done)
#define CHECK_MIN_SIZE offsetof(volley_check_ops, reads)
#define OUTPUT_MIN_SIZE offsetof(volley_output_ops, config_check)
/* Fields a core of any ABI version may read to name a plugin it refuses. */
#define DESC_NAME_END (offsetof(volley_plugin, name) + sizeof(const char *))

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

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* The plugin's structs copied into `c` up to the sizes they declare; `d`
 * was checked by check_desc. The copy's pointers point into the copy. */
static void copy_desc(plug_desc *c, const volley_plugin *d)
{
    memset(c, 0, sizeof *c);
    memcpy(&c->desc, d, min_size(d->size, sizeof c->desc));
    c->desc.protocol = NULL;
    c->desc.check = NULL;
    c->desc.output = NULL;
    switch (d->kind) {
    case VOLLEY_KIND_PROTOCOL:
        memcpy(&c->protocol, d->protocol, min_size(d->protocol->size, sizeof c->protocol));
        c->desc.protocol = &c->protocol;
        break;
    case VOLLEY_KIND_CHECK:
        memcpy(&c->check, d->check, min_size(d->check->size, sizeof c->check));
        c->desc.check = &c->check;
        break;
    case VOLLEY_KIND_OUTPUT:
        memcpy(&c->output, d->output, min_size(d->output->size, sizeof c->output));
        c->desc.output = &c->output;
        break;
    }
}

static int too_small(const char *path, const char *name, const char *what, uint32_t size,
                     size_t min, char *err, size_t errcap)
{
    snprintf(err, errcap, "%s: plugin %s: its %s is %u bytes, smaller than the %zu bytes of ABI %u "
             "revision 0; rebuild it against this volley's headers", path, name, what, size, min,
             VOLLEY_ABI_VERSION);
    return -1;
}

/* Checks what the core reads of a descriptor before trusting it. */
static int check_desc(const volley_plugin *d, const char *path, char *err, size_t errcap)
{
    if (d->abi != VOLLEY_ABI_VERSION) {
        snprintf(err, errcap, "%s: plugin built for Volley plugin ABI %u, this volley speaks ABI %u; "
                 "rebuild the plugin against this volley's headers", path, d->abi, VOLLEY_ABI_VERSION);
        return -1;
    }
    if (d->size < DESC_MIN_SIZE || !d->name || !*d->name || !d->version) {
        snprintf(err, errcap, "%s: malformed plugin descriptor (size %u, name %s)", path,
                 d->size, d->size >= DESC_NAME_END && d->name ? d->name : "(none)");
        return -1;
    }
    const volley_option_map *maps[64];
    size_t n_maps = 0;
    switch (d->kind) {
    case VOLLEY_KIND_PROTOCOL:
        if (!d->protocol)
            goto bad_ops;
        if (d->protocol->size < PROTOCOL_MIN_SIZE)
            return too_small(path, d->name, "volley_protocol_ops", d->protocol->size, PROTOCOL_MIN_SIZE,
                             err, errcap);
        if (!d->protocol->step_key || !d->protocol->step_options || !d->protocol->create ||
            !d->protocol->step_compile || !d->protocol->step_start)
            goto bad_ops;
        maps[n_maps++] = d->protocol->step_options;
        break;
    case VOLLEY_KIND_CHECK:
        if (!d->check)
            goto bad_ops;
        if (d->check->size < CHECK_MIN_SIZE)
            return too_small(path, d->name, "volley_check_ops", d->check->size, CHECK_MIN_SIZE, err,
                             errcap);
        if (!d->check->keys)
            goto bad_ops;
        for (size_t i = 0; i < d->check->n_keys && n_maps < 64; i++) {
            if (!d->check->keys[i].key || !d->check->keys[i].options || !d->check->keys[i].compile ||
                !d->check->keys[i].eval)
                goto bad_ops;
            maps[n_maps++] = d->check->keys[i].options;
        }
        break;
    case VOLLEY_KIND_OUTPUT:
        if (!d->output)
            goto bad_ops;
        if (d->output->size < OUTPUT_MIN_SIZE)
            return too_small(path, d->name, "volley_output_ops", d->output->size, OUTPUT_MIN_SIZE, err,
                             errcap);
        if (!d->output->create || !d->output->write || !d->output->options)
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

static int add_broken(plug_set *s, const char *path, const volley_plugin *d, const char *reason)
{
    plug_broken *p = realloc(s->broken, (s->n_broken + 1) * sizeof *p);
    if (!p)
        return -1;
    s->broken = p;
    plug_broken *b = &s->broken[s->n_broken++];
    memset(b, 0, sizeof *b);
    b->path = strdup(path);
    b->reason = strdup(reason);
    /* abi, size, kind and name keep their place in every ABI version. */
    if (d && d->size >= DESC_NAME_END && d->name && *d->name) {
        b->name = strndup(d->name, 64);
        b->kind = d->kind >= VOLLEY_KIND_PROTOCOL && d->kind <= VOLLEY_KIND_OUTPUT ? (int)d->kind : 0;
    }
    return 0;
}

/* dlopen + entry + checks. On failure *dl is closed and *d is what the
 * entry returned, if it got that far (for naming a broken plugin). */
static int open_plugin(const char *path, const volley_host *host, void **dl_out,
                       const volley_plugin **d_out, char *err, size_t errcap)
{
    *dl_out = NULL;
    *d_out = NULL;
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
    *d_out = d;
    if (check_desc(d, path, err, errcap) != 0) {
        /* Keep it open for the caller to read its name, then close. */
        *dl_out = dl;
        return -1;
    }
    *dl_out = dl;
    return 0;
}

static int load_file(plug_set *s, const char *path, const volley_host *host, bool keep_broken,
                     char *err, size_t errcap)
{
    void *dl;
    const volley_plugin *d;
    if (open_plugin(path, host, &dl, &d, err, errcap) != 0) {
        int rc = -1;
        if (keep_broken)
            rc = add_broken(s, path, d, err) == 0 ? 0 : -1;
        if (dl)
            dlclose(dl);
        return rc;
    }
    if (find_by_name(s, d->name)) {   /* an earlier directory wins */
        dlclose(dl);
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        plug *p = realloc(s->items, cap * sizeof *p);
        if (!p)
            goto oom;
        s->items = p;
        s->cap = cap;
    }
    plug_desc *copy = malloc(sizeof *copy);
    char *dup = strdup(path);
    if (!copy || !dup) {
        free(copy);
        free(dup);
        goto oom;
    }
    copy_desc(copy, d);
    s->items[s->n++] = (plug){.path = dup, .dl = dl, .desc = &copy->desc, .copy = copy};
    /* So a fatal signal in its code can name it. */
    crash_add_plugin(d->name, dl);
    return 0;
oom:
    dlclose(dl);
    snprintf(err, errcap, "out of memory");
    return -1;
}

int plug_load_file(plug_set *s, const char *path, const volley_host *host, char *err, size_t errcap)
{
    return load_file(s, path, host, false, err, errcap);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool plugin_file_name(const char *name)
{
    size_t len = strlen(name);
    return strncmp(name, "volley-", 7) == 0 && len > 10 && strcmp(name + len - 3, ".so") == 0;
}

/* Remembers a searched directory; false when it was searched already (the
 * same directory reached two ways, e.g. the install dir). */
static int note_dir(plug_set *s, const char *dir, const char *why, bool *fresh)
{
    char real[PATH_MAX];
    const char *key = realpath(dir, real) ? real : dir;
    *fresh = false;
    for (size_t i = 0; i < s->n_dirs; i++)
        if (strcmp(s->dirs[i].path, key) == 0)
            return 0;
    plug_dir *p = realloc(s->dirs, (s->n_dirs + 1) * sizeof *p);
    if (!p)
        return -1;
    s->dirs = p;
    struct stat st;
    s->dirs[s->n_dirs] = (plug_dir){.path = strdup(key), .why = why,
                                    .exists = stat(key, &st) == 0 && S_ISDIR(st.st_mode)};
    if (!s->dirs[s->n_dirs].path)
        return -1;
    s->n_dirs++;
    *fresh = true;
    return 0;
}

/* Loads volley-*.so from one directory, in name order. A missing directory
 * is not an error; a file that fails to load goes to s->broken. */
static int load_dir(plug_set *s, const char *dir, const char *why, const volley_host *host, char *err,
                    size_t errcap)
{
    bool fresh;
    if (note_dir(s, dir, why, &fresh) != 0) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (!fresh)
        return 0;
    plug_dir *pd = &s->dirs[s->n_dirs - 1];
    DIR *d = opendir(pd->path);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!plugin_file_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                rc = -1;
                break;
            }
            names = p;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    pd->found = n;
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", pd->path, names[i]);
        if (rc == 0 && load_file(s, path, host, true, err, errcap) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    if (rc != 0 && !*err)
        snprintf(err, errcap, "out of memory");
    return rc;
}

/* The directory of the running executable, with a trailing '/'. */
static bool exe_dir(char *out, size_t cap)
{
    ssize_t len = readlink("/proc/self/exe", out, cap - 1);
    if (len <= 0)
        return false;
    out[len] = '\0';
    char *slash = strrchr(out, '/');
    if (!slash)
        return false;
    slash[1] = '\0';
    return true;
}

int plug_load_all(plug_set *s, const char *const *extra_dirs, size_t n_extra,
                  const volley_host *host, char *err, size_t errcap)
{
    *err = '\0';
    for (size_t i = 0; i < n_extra; i++) {
        struct stat st;
        if (stat(extra_dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errcap, "%s: --plugin-path is not a directory", extra_dirs[i]);
            return -1;
        }
        if (load_dir(s, extra_dirs[i], "--plugin-path", host, err, errcap) != 0)
            return -1;
    }
    const char *env = getenv("VOLLEY_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        if (!copy) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        int rc = 0;
        for (char *dir = strtok_r(copy, ":", &save); dir && rc == 0; dir = strtok_r(NULL, ":", &save))
            rc = load_dir(s, dir, "VOLLEY_PLUGIN_PATH", host, err, errcap);
        free(copy);
        if (rc != 0)
            return -1;
    }
    char exe[PATH_MAX];
    if (exe_dir(exe, sizeof exe)) {
        char dir[PATH_MAX + 256];
        snprintf(dir, sizeof dir, "%splugins", exe);   /* build/volley + build/plugins/ */
        if (load_dir(s, dir, "build tree: plugins/ beside the executable", host, err, errcap) != 0)
            return -1;
        snprintf(dir, sizeof dir, "%s%s", exe, VOLLEY_PLUGIN_REL_DIR);
        if (load_dir(s, dir, "installed, relative to the executable", host, err, errcap) != 0)
            return -1;
    }
    if (load_dir(s, VOLLEY_PLUGIN_INSTALL_DIR, "configured install dir", host, err, errcap) != 0)
        return -1;
    return 0;
}

void plug_unload_all(plug_set *s)
{
    if (s->n)
        crash_forget_plugins();
    for (size_t i = 0; i < s->n; i++) {
        dlclose(s->items[i].dl);
        free(s->items[i].path);
        free(s->items[i].copy);
    }
    for (size_t i = 0; i < s->n_broken; i++) {
        free(s->broken[i].path);
        free(s->broken[i].name);
        free(s->broken[i].reason);
    }
    for (size_t i = 0; i < s->n_dirs; i++)
        free(s->dirs[i].path);
    free(s->items);
    free(s->broken);
    free(s->dirs);
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

size_t plug_count_kind(const plug_set *s, volley_plugin_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->items[i].desc->kind == k;
    return n;
}

static void appendf(char *out, size_t cap, const char *fmt, const char *a, const char *b)
{
    size_t len = strlen(out);
    if (len + 1 < cap)
        snprintf(out + len, cap - len, fmt, a, b);
}

bool plug_describe_missing(const plug_set *s, volley_plugin_kind kind, char *out, size_t cap)
{
    bool said = false;
    for (size_t i = 0; i < s->n_broken; i++) {
        const plug_broken *b = &s->broken[i];
        if (b->kind && b->kind != (int)kind)
            continue;
        appendf(out, cap, "; plugin %s could not be loaded: %s", b->name ? b->name : b->path, b->reason);
        said = true;
    }
    if (plug_count_kind(s, kind) > 0)
        return said;
    appendf(out, cap, "; no %s plugin was loaded (searched:%s", plug_kind_name(kind), "");
    for (size_t i = 0; i < s->n_dirs; i++)
        appendf(out, cap, " %s%s", s->dirs[i].path, s->dirs[i].exists ? "" : " (missing)");
    appendf(out, cap, "%s%s", "; see volley plugins -v, --plugin-path, VOLLEY_PLUGIN_PATH)", "");
    return true;
}
