#include "runall.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arena.h"
#include "diag.h"
#include "include.h"
#include "summary.h"
#include "yaml_tree.h"

static int push_path(char ***list, int *n, const char *path)
{
    char *dup = strdup(path);
    char **p = dup ? realloc(*list, (size_t)(*n + 1) * sizeof *p) : NULL;
    if (!p) {
        free(dup);
        fprintf(stderr, "volley: out of memory\n");
        return -1;
    }
    p[(*n)++] = dup;
    *list = p;
    return 0;
}

static bool yaml_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.')
        return false;
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool runall_is_spec(const char *path)
{
    diag d;
    diag_init(&d);
    ytree *t = ytree_load_file(path, path, &d);
    bool yes = true;
    if (t) {
        arena a;
        arena_init(&a);
        include_set set = {0};
        const ynode *root = ytree_root(t);
        if (root && root->kind == YNODE_MAP) {
            const ynode *merged = include_resolve(&a, root, path, &set, &d);
            yes = !merged || ynode_get(merged, "scenarios") != NULL;
        }
        include_set_free(&set);
        arena_free(&a);
        ytree_free(t);
    }
    diag_free(&d);
    return yes;
}

static int expand_dir(const char *dir, char ***list, int *n)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "volley: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    int n_names = 0, rc = 0;
    struct dirent *e;
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    while (rc == 0 && (e = readdir(dp))) {
        if (!yaml_name(e->d_name))
            continue;
        size_t len = dl + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            rc = -1;
            break;
        }
        snprintf(path, len, "%s%s%s", dir, slash ? "" : "/", e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = push_path(&names, &n_names, path);
        free(path);
    }
    closedir(dp);
    if (rc == 0 && n_names)
        qsort(names, (size_t)n_names, sizeof *names, by_name);
    int found = 0;
    for (int i = 0; i < n_names; i++) {
        if (rc == 0 && runall_is_spec(names[i])) {
            rc = push_path(list, n, names[i]);
            found++;
        } else if (rc == 0) {
            fprintf(stderr, "volley: %s: skipped, not a spec (no scenarios: a file for include:?)\n",
                    names[i]);
        }
        free(names[i]);
    }
    free(names);
    if (rc == 0 && found == 0) {
        fprintf(stderr, "volley: %s: no spec files (*.yaml, *.yml with scenarios:)\n", dir);
        rc = -1;
    }
    return rc;
}

int runall_expand(char *const *args, int n, char ***out, int *n_out, bool *dirs)
{
    *out = NULL;
    *n_out = 0;
    *dirs = false;
    for (int i = 0; i < n; i++) {
        struct stat st;
        int rc;
        if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            *dirs = true;
            rc = expand_dir(args[i], out, n_out);
        } else {
            rc = push_path(out, n_out, args[i]);   /* as today: its load says what is wrong */
        }
        if (rc != 0) {
            runall_free_list(*out, *n_out);
            *out = NULL;
            *n_out = 0;
            return -1;
        }
    }
    return 0;
}

void runall_free_list(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

char *runall_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return strndup(base, n);
}

int runall_mkdir(const char *dir, char *err, size_t errcap)
{
    char *p = strdup(dir);
    if (!p) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (char *s = p + 1;; s++) {
        bool end = *s == '\0';
        if (*s == '/' || end) {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                snprintf(err, errcap, "--results-dir %s: cannot create %s: %s", dir, p, strerror(errno));
                free(p);
                return -1;
            }
            if (end)
                break;
            *s = '/';
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errcap, "--results-dir %s: not a directory", dir);
        free(p);
        return -1;
    }
    free(p);
    return 0;
}

/* Severity of an exit code: higher is worse. */
static int rank(int rc)
{
    switch (rc) {
    case 0: return 0;
    case 99: return 1;
    case 101: return 3;
    case 100: return 4;
    case 107: return 5;
    case 108: return 6;
    case 105: return 7;
    case 104: return 8;
    case 103: return 9;
    default: return 2;   /* 1: services down before any spec ran */
    }
}

int runall_worse(int a, int b) { return rank(b) > rank(a) ? b : a; }

void runall_note(runall_stats *st, const spec *s, const metrics_reg *reg, const run_result *r,
                 const th_verdict *v)
{
    if (!st)
        return;
    *st = (runall_stats){.ran = true, .duration_ns = r->duration_ns};
    for (size_t i = 0; i < s->n_thresholds; i++) {
        if (summary_fails_run(&s->thresholds[i], v[i]))
            st->th_failed++;
        else
            st->th_passed++;
    }
    int m = metrics_find(reg, "checks");
    if (m >= 0 && (size_t)m < reg->n_metrics) {
        uint32_t series = reg->metrics[m].series;
        if (series < r->agg.n) {
            st->checks = r->agg.s[series].count;
            st->checks_passed = r->agg.s[series].nonzero;
        }
    }
}

void runall_table(FILE *out, char *const *specs, const int *rc, const runall_stats *st, int n,
                  int n_ran, int worst)
{
    int w = 4;
    for (int i = 0; i < n; i++)
        if ((int)strlen(specs[i]) > w)
            w = (int)strlen(specs[i]);
    if (w > 60)
        w = 60;
    fprintf(out, "\n  %d spec%s run of %d\n  %-*s %4s  %-20s %8s %10s\n", n_ran, n_ran == 1 ? "" : "s", n,
            w, "SPEC", "EXIT", "THRESHOLDS", "CHECKS", "DURATION");
    for (int i = 0; i < n; i++) {
        char code[16] = "-", th[48] = "-", ck[24] = "-", dur[64] = "-";
        if (i < n_ran)
            snprintf(code, sizeof code, "%d", rc[i]);
        if (st[i].ran) {
            snprintf(th, sizeof th, "%zu passed, %zu failed", st[i].th_passed, st[i].th_failed);
            if (st[i].checks)
                snprintf(ck, sizeof ck, "%.2f%%", 100.0 * (double)st[i].checks_passed / (double)st[i].checks);
            double sec = (double)st[i].duration_ns / 1e9;
            if (sec < 1)
                snprintf(dur, sizeof dur, "%.0fms", sec * 1e3);
            else if (sec < 600)
                snprintf(dur, sizeof dur, "%.1fs", sec);
            else
                snprintf(dur, sizeof dur, "%lldm%02llds", (long long)(sec + 0.5) / 60, (long long)(sec + 0.5) % 60);
        }
        fprintf(out, "  %-*s %4s  %-20s %8s %10s%s\n", w, specs[i], code, th, ck, dur,
                i < n_ran ? "" : "  (not run)");
    }
    fprintf(out, "  exit code: %d (the worst: 103 > 104 > 105 > 108 > 107 > 100 > 101 > 99 > 0)\n", worst);
    fflush(out);
}
