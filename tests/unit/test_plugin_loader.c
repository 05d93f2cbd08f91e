#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "plugin_loader.h"

#define BUILD_DIR VOLLEY_PLUGIN_BUILD_DIR
#define HELPER_DIR TEST_PLUGIN_DIR

typedef struct fx {
    volley_core core;
    plug_set set;
    char tmp[64];     /* a scratch plugin dir, removed in teardown */
    char err[1024];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char err[256];
    if (core_init(&f->core, err, sizeof err) != 0)
        fail_msg("core_init: %s", err);
    snprintf(f->tmp, sizeof f->tmp, "/tmp/volley-plugtest-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    unsetenv("VOLLEY_PLUGIN_PATH");
    *state = f;
    return 0;
}

static void rm_tmp(const char *dir)
{
    static const char *const names[] = {"volley-checks-basic.so", "volley-checks-json.so",
                                        "volley-json-out.so", "volley-copy.so", "libother.so",
                                        "volley-.so", "volley-x.so.txt", "volley-badabi.so"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int teardown(void **state)
{
    fx *f = *state;
    plug_unload_all(&f->set);
    core_free(&f->core);
    rm_tmp(f->tmp);
    free(f);
    return 0;
}

static void link_into(const char *dir, const char *target, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (symlink(target, path) != 0)
        fail_msg("symlink %s -> %s failed", path, target);
}

static const plug *by_name(const plug_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].desc->name, name) == 0)
            return &s->items[i];
    return NULL;
}

/* ------------------------------------------------------------------ */

static void test_load_file_real_plugins(void **state)
{
    fx *f = *state;
    assert_int_equal(plug_load_file(&f->set, BUILD_DIR "/volley-checks-basic.so", &f->core.host,
                                    f->err, sizeof f->err), 0);
    assert_int_equal(plug_load_file(&f->set, BUILD_DIR "/volley-checks-json.so", &f->core.host,
                                    f->err, sizeof f->err), 0);
    assert_int_equal(plug_load_file(&f->set, BUILD_DIR "/volley-json-out.so", &f->core.host,
                                    f->err, sizeof f->err), 0);
    assert_int_equal(f->set.n, 3);
    const plug *p = &f->set.items[0];
    assert_string_equal(p->desc->name, "checks-basic");
    assert_int_equal(p->desc->kind, VOLLEY_KIND_CHECK);
    assert_int_equal(p->desc->abi, VOLLEY_ABI_VERSION);
    assert_true(p->desc->size >= sizeof(volley_plugin));
    assert_string_equal(p->path, BUILD_DIR "/volley-checks-basic.so");
    assert_non_null(p->dl);
    assert_int_equal(f->set.items[1].desc->kind, VOLLEY_KIND_CHECK);
    assert_int_equal(f->set.items[2].desc->kind, VOLLEY_KIND_OUTPUT);
    assert_string_equal(f->set.items[2].desc->name, "json-out");

    /* The same plugin again: the first one stays, nothing is added. */
    assert_int_equal(plug_load_file(&f->set, BUILD_DIR "/volley-json-out.so", &f->core.host,
                                    f->err, sizeof f->err), 0);
    assert_int_equal(f->set.n, 3);
}

static void test_not_a_plugin(void **state)
{
    fx *f = *state;
    const char *path = HELPER_DIR "/volley-notours.so";
    assert_int_equal(plug_load_file(&f->set, path, &f->core.host, f->err, sizeof f->err), -1);
    assert_string_equal(f->err, HELPER_DIR "/volley-notours.so: not a Volley plugin (no "
                                "volley_plugin_entry symbol; build it with VOLLEY_PLUGIN_DEFINE)");
    assert_int_equal(f->set.n, 0);
}

static void test_bad_abi(void **state)
{
    fx *f = *state;
    const char *path = HELPER_DIR "/volley-badabi.so";
    assert_int_equal(plug_load_file(&f->set, path, &f->core.host, f->err, sizeof f->err), -1);
    assert_string_equal(f->err, HELPER_DIR "/volley-badabi.so: plugin built for Volley plugin ABI "
                                "999, this volley speaks ABI 1; rebuild the plugin against this "
                                "volley's headers");
    assert_int_equal(f->set.n, 0);
}

static void test_missing_or_broken_file(void **state)
{
    fx *f = *state;
    assert_int_equal(plug_load_file(&f->set, "/nonexistent/volley-x.so", &f->core.host, f->err,
                                    sizeof f->err), -1);
    assert_non_null(strstr(f->err, "/nonexistent/volley-x.so: cannot load plugin: "));
    assert_non_null(strstr(f->err, "try: ldd /nonexistent/volley-x.so"));
    /* A file that is not a shared object at all. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/volley-x.so.txt", f->tmp);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("not ELF\n", fp);
    fclose(fp);
    assert_int_equal(plug_load_file(&f->set, path, &f->core.host, f->err, sizeof f->err), -1);
    assert_true(strncmp(f->err, path, strlen(path)) == 0);
    assert_non_null(strstr(f->err, ": cannot load plugin: "));
    assert_int_equal(f->set.n, 0);
}

static void test_load_all_build_dir(void **state)
{
    fx *f = *state;
    const char *dirs[] = {BUILD_DIR};
    if (plug_load_all(&f->set, dirs, 1, &f->core.host, f->err, sizeof f->err) != 0)
        fail_msg("plug_load_all: %s", f->err);
    const plug *cb = by_name(&f->set, "checks-basic");
    const plug *cj = by_name(&f->set, "checks-json");
    const plug *jo = by_name(&f->set, "json-out");
    assert_non_null(cb);
    assert_non_null(cj);
    assert_non_null(jo);
    assert_int_equal(cb->desc->kind, VOLLEY_KIND_CHECK);
    assert_int_equal(cj->desc->kind, VOLLEY_KIND_CHECK);
    assert_int_equal(jo->desc->kind, VOLLEY_KIND_OUTPUT);
    assert_string_equal(jo->path, BUILD_DIR "/volley-json-out.so");
    const plug *http = by_name(&f->set, "http");
    if (http)   /* built by someone else; if present it is a protocol */
        assert_int_equal(http->desc->kind, VOLLEY_KIND_PROTOCOL);
    /* Loaded in name order. */
    for (size_t i = 1; i < f->set.n; i++)
        assert_true(strcmp(f->set.items[i - 1].path, f->set.items[i].path) < 0);

    /* Lookups. */
    const plug *owner = NULL;
    const volley_check_key *k = plug_find_check_key(&f->set, "status", &owner);
    assert_non_null(k);
    assert_string_equal(k->key, "status");
    assert_ptr_equal(owner, cb);
    assert_non_null(k->options);
    assert_string_equal(k->options->shorthand, "in");
    k = plug_find_check_key(&f->set, "json", &owner);
    assert_non_null(k);
    assert_ptr_equal(owner, cj);
    assert_non_null(plug_find_check_key(&f->set, "body", NULL));
    assert_non_null(plug_find_check_key(&f->set, "header", NULL));
    assert_non_null(plug_find_check_key(&f->set, "duration_lt", NULL));
    assert_null(plug_find_check_key(&f->set, "stauts", NULL));
    assert_ptr_equal(plug_find_output(&f->set, "json-out"), jo);
    /* A plugin of another kind is not an output. */
    assert_null(plug_find_output(&f->set, "checks-json"));
    assert_null(plug_find_output(&f->set, "influxdb"));
    assert_null(plug_find_protocol(&f->set, "json"));
    if (http)
        assert_ptr_equal(plug_find_protocol(&f->set, "http"), http);
}

static void test_load_all_order_and_names(void **state)
{
    fx *f = *state;
    /* First directory wins a name; only volley-*.so files are plugins. */
    link_into(f->tmp, BUILD_DIR "/volley-json-out.so", "volley-json-out.so");
    link_into(f->tmp, BUILD_DIR "/volley-checks-basic.so", "libother.so");
    link_into(f->tmp, BUILD_DIR "/volley-checks-basic.so", "volley-.so");
    setenv("VOLLEY_PLUGIN_PATH", "/nonexistent-dir:" BUILD_DIR, 1);
    const char *dirs[] = {f->tmp};
    if (plug_load_all(&f->set, dirs, 1, &f->core.host, f->err, sizeof f->err) != 0)
        fail_msg("plug_load_all: %s", f->err);
    unsetenv("VOLLEY_PLUGIN_PATH");
    const plug *jo = by_name(&f->set, "json-out");
    assert_non_null(jo);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/volley-json-out.so", f->tmp);
    assert_string_equal(jo->path, want);
    assert_string_equal(f->set.items[0].path, want);
    /* From VOLLEY_PLUGIN_PATH, a missing directory there is skipped. */
    const plug *cb = by_name(&f->set, "checks-basic");
    assert_non_null(cb);
    assert_string_equal(cb->path, BUILD_DIR "/volley-checks-basic.so");
    size_t n = 0;
    for (size_t i = 0; i < f->set.n; i++)
        n += strcmp(f->set.items[i].desc->name, "checks-basic") == 0;
    assert_int_equal(n, 1);
}

static void test_load_all_errors(void **state)
{
    fx *f = *state;
    const char *bad[] = {"/nonexistent-plugin-dir"};
    assert_int_equal(plug_load_all(&f->set, bad, 1, &f->core.host, f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "/nonexistent-plugin-dir: --plugin-path is not a directory");
}

static const plug_broken *broken_named(const plug_set *s, const char *file)
{
    for (size_t i = 0; i < s->n_broken; i++) {
        const char *slash = strrchr(s->broken[i].path, '/');
        if (slash && strcmp(slash + 1, file) == 0)
            return &s->broken[i];
    }
    return NULL;
}

/* A file that does not load is kept with its reason; the others load. */
static void test_broken_plugins_do_not_stop_loading(void **state)
{
    fx *f = *state;
    const char *helpers[] = {HELPER_DIR, BUILD_DIR};
    assert_int_equal(plug_load_all(&f->set, helpers, 2, &f->core.host, f->err, sizeof f->err), 0);
    assert_non_null(by_name(&f->set, "testproto"));
    assert_non_null(by_name(&f->set, "oldout"));
    assert_non_null(by_name(&f->set, "future"));
    assert_non_null(by_name(&f->set, "checks-basic"));  /* the next directory */

    const plug_broken *b = broken_named(&f->set, "volley-badabi.so");
    assert_non_null(b);
    assert_string_equal(b->name, "badabi");             /* named though refused */
    assert_int_equal(b->kind, VOLLEY_KIND_CHECK);
    assert_non_null(strstr(b->reason, "plugin built for Volley plugin ABI 999"));
    b = broken_named(&f->set, "volley-notours.so");
    assert_non_null(b);
    assert_null(b->name);
    assert_int_equal(b->kind, 0);
    assert_non_null(strstr(b->reason, "not a Volley plugin"));
    b = broken_named(&f->set, "volley-small.so");
    assert_non_null(b);
    assert_string_equal(b->name, "small");
    assert_int_equal(b->kind, VOLLEY_KIND_OUTPUT);

    /* What an "unknown ..." error appends: the broken files that could be
     * of that kind; a kind with loaded plugins gets no search list. */
    char why[2048] = "";
    plug_describe_missing(&f->set, VOLLEY_KIND_CHECK, why, sizeof why);
    assert_non_null(strstr(why, "; plugin badabi could not be loaded: "));
    assert_non_null(strstr(why, "volley-notours.so: not a Volley plugin"));
    assert_null(strstr(why, "small"));                  /* an output */
    assert_null(strstr(why, "searched"));
    /* Every directory searched is listed once, in order. */
    assert_true(f->set.n_dirs >= 2);
    assert_string_equal(f->set.dirs[0].why, "--plugin-path");
    assert_true(f->set.dirs[0].exists);
    assert_int_equal(f->set.dirs[0].found, 6);   /* notours badabi testproto oldout small future */
}

static void test_no_plugin_of_a_kind_says_where_it_looked(void **state)
{
    fx *f = *state;
    assert_int_equal(plug_load_file(&f->set, BUILD_DIR "/volley-json-out.so", &f->core.host,
                                    f->err, sizeof f->err), 0);
    char why[2048] = "";
    plug_describe_missing(&f->set, VOLLEY_KIND_PROTOCOL, why, sizeof why);
    assert_string_equal(why, "; no protocol plugin was loaded (searched:; see volley plugins -v, "
                             "--plugin-path, VOLLEY_PLUGIN_PATH)");
    const char *dirs[] = {f->tmp};
    plug_unload_all(&f->set);
    assert_int_equal(plug_load_all(&f->set, dirs, 1, &f->core.host, f->err, sizeof f->err), 0);
    why[0] = '\0';
    plug_describe_missing(&f->set, VOLLEY_KIND_PROTOCOL, why, sizeof why);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "; no protocol plugin was loaded (searched: %s ", f->tmp);
    assert_non_null(strstr(why, want));
}

/* A plugin built against the revision-0 header: smaller descriptor and
 * output ops; what revision 1 added reads as absent. */
static void test_older_revision_loads(void **state)
{
    fx *f = *state;
    assert_int_equal(plug_load_file(&f->set, HELPER_DIR "/volley-oldout.so", &f->core.host, f->err,
                                    sizeof f->err), 0);
    const plug *p = by_name(&f->set, "oldout");
    assert_non_null(p);
    assert_int_equal(p->desc->abi, 1);
    assert_int_equal(p->desc->revision, 0);
    assert_true(p->desc->size < sizeof(volley_plugin));
    assert_int_equal(p->desc->kind, VOLLEY_KIND_OUTPUT);
    assert_non_null(p->desc->output->create);
    assert_non_null(p->desc->output->close);
    assert_null(p->desc->output->config_check);
    assert_null(p->desc->output->tick);
    assert_null(p->desc->output->summary);   /* revision 5: never called */
    assert_true(p->desc->output->size < sizeof(volley_output_ops));
}

static void test_struct_sizes(void **state)
{
    fx *f = *state;
    /* Smaller than revision 0: refused, naming the struct and both sizes. */
    assert_int_equal(plug_load_file(&f->set, HELPER_DIR "/volley-small.so", &f->core.host, f->err,
                                    sizeof f->err), -1);
    char want[512];
    snprintf(want, sizeof want, "%s: plugin small: its volley_output_ops is 8 bytes, smaller than the "
             "%zu bytes of ABI 1 revision 0; rebuild it against this volley's headers",
             HELPER_DIR "/volley-small.so", offsetof(volley_output_ops, config_check));
    assert_string_equal(f->err, want);
    /* Larger (a later revision): loaded; the unknown tail is not read. */
    assert_int_equal(plug_load_file(&f->set, HELPER_DIR "/volley-future.so", &f->core.host, f->err,
                                    sizeof f->err), 0);
    const plug *p = by_name(&f->set, "future");
    assert_non_null(p);
    assert_int_equal(p->desc->revision, 99);
    assert_true(p->desc->size > sizeof(volley_plugin));
    assert_ptr_equal(p->desc->output, &p->copy->output);
    assert_null(p->desc->output->tick);
    assert_null(p->desc->output->close);
    assert_non_null(p->desc->output->write);
}

/* VOLLEY_HAS, as a plugin uses it on the host table and a core on ops. */
static void test_volley_has(void **state)
{
    fx *f = *state;
    const volley_host *h = &f->core.host;
    assert_true(VOLLEY_HAS(h, revision));
    assert_int_equal(h->revision, VOLLEY_ABI_REVISION);
    volley_host old = *h;
    old.size = (uint32_t)offsetof(volley_host, revision);
    const volley_host *o = &old;
    assert_true(VOLLEY_HAS(o, template_map_urlencode));
    assert_false(VOLLEY_HAS(o, revision));
    const volley_host *none = NULL;
    assert_false(VOLLEY_HAS(none, log));
}

static void test_unload_and_kind_names(void **state)
{
    fx *f = *state;
    assert_int_equal(plug_load_file(&f->set, BUILD_DIR "/volley-checks-json.so", &f->core.host,
                                    f->err, sizeof f->err), 0);
    plug_unload_all(&f->set);
    assert_int_equal(f->set.n, 0);
    assert_null(f->set.items);
    plug_unload_all(&f->set);   /* twice is harmless */
    assert_string_equal(plug_kind_name(VOLLEY_KIND_PROTOCOL), "protocol");
    assert_string_equal(plug_kind_name(VOLLEY_KIND_CHECK), "check");
    assert_string_equal(plug_kind_name(VOLLEY_KIND_OUTPUT), "output");
    assert_string_equal(plug_kind_name((volley_plugin_kind)0), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_file_real_plugins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_abi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_or_broken_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_all_build_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_all_order_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_all_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_plugins_do_not_stop_loading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_plugin_of_a_kind_says_where_it_looked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_revision_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_struct_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_volley_has, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unload_and_kind_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
