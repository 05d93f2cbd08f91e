/* libFuzzer: the whole spec loader (with the check and output plugins, so
 * their option maps and compile functions are fuzzed too). The input is
 * handed over as a memfd so the loader reads it like any file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"
#include "diag.h"
#include "secret.h"
#include "spec.h"

static volley_core core;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[1024];
    if (core_init(&core, err, sizeof err) != 0)
        abort();
    /* Protocol plugins stay out: http resolves host names at load time. */
    static const char *const names[] = {"checks-basic", "checks-json", "json-out", "analytics-sink"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/volley-%s.so", VOLLEY_PLUGIN_BUILD_DIR, names[i]);
        if (plug_load_file(&core.plugins, path, &core.host, err, sizeof err) != 0)
            fprintf(stderr, "fuzz_spec: %s (continuing without it)\n", err);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    int fd = memfd_create("spec", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    metrics_reg_free(&core.reg);
    metrics_reg_init(&core.reg);
    char err[256];
    spec_register_builtin_metrics(&core.reg, err, sizeof err);
    static const char *const env[] = {"TOKEN=abc"};
    spec_opts o = {.env = env, .n_env = 1};
    diag d;
    diag_init(&d);
    spec *s = spec_load(path, &o, &core.plugins, &core.reg, &core.host, &core, &d);
    spec_free(s);
    diag_free(&d);
    close(fd);
    secret_reset();   /* process-wide: one input's secrets are not the next's */
    return 0;
}
