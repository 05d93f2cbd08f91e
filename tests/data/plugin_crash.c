/* Plugins that crash on purpose, for tests/integration/test_crash.py.
 * Built twice (tests/CMakeLists.txt):
 *   volley-crashout.so    output "crashout": crashes in create, the N-th
 *                         write, the first tick or close
 *   volley-crashproto.so  protocol "crash": each step ends at once (on a
 *                         0 ms timer); VU 1's iteration N crashes in
 *                         step_start or in the timer's callback
 * `how`: segv (a real invalid write), abort (abort(), as a failed assert),
 * or stack (unbounded recursion: a stack overflow). Built without
 * sanitizers so a sanitizer does not catch the fault first. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "volley/plugin.h"

static const char *const hows[] = {"segv", "abort", "stack", NULL};

/* Not inlined: the fault's address must be in this plugin's code. */
/* Deep enough to overflow any thread stack; the depth is a variable so
 * the compiler does not see an infinite recursion. */
static volatile long depth_limit = 1L << 40;

__attribute__((noinline)) static int recurse(volatile char *p, long depth)
{
    volatile char pad[4096];
    pad[0] = *p;
    if (depth >= depth_limit)
        return pad[0];
    return recurse(pad, depth + 1) + pad[1];
}

__attribute__((noinline)) static void crash(int how)
{
    switch (how) {
    case 0: {
        volatile int *bad = (volatile int *)(uintptr_t)16;
        *bad = 1;
        break;
    }
    case 1: abort();
    default: {
        volatile char c = 0;
        recurse(&c, 0);
    }
    }
}

#ifdef CRASH_OUTPUT
static const char *const wheres[] = {"create", "write", "tick", "close", NULL};
enum { IN_CREATE, IN_WRITE, IN_TICK, IN_CLOSE };

typedef struct cfg {
    uint64_t set;
    int how, in;
    int64_t after;
} cfg;

static const volley_option options[] = {
    {.name = "how", .type = VOLLEY_OPT_ENUM, .offset = offsetof(cfg, how), .default_value = "segv",
     .help = "segv, abort or stack", .enum_values = hows},
    {.name = "in", .type = VOLLEY_OPT_ENUM, .offset = offsetof(cfg, in), .default_value = "write",
     .help = "the callback that crashes", .enum_values = wheres},
    {.name = "after", .type = VOLLEY_OPT_INT, .offset = offsetof(cfg, after), .default_value = "1",
     .help = "crash in the N-th write", .min = 1, .max = 1e9},
};
static const volley_option_map map = {options, 3, sizeof(cfg), "how"};

typedef struct inst {
    cfg c;
    int64_t writes;
} inst;

static void *out_create(const volley_host *host, volley_core *core, const void *config, char *err,
                        size_t errcap)
{
    (void)host, (void)core, (void)err, (void)errcap;
    inst *i = calloc(1, sizeof *i);
    i->c = *(const cfg *)config;
    if (i->c.in == IN_CREATE)
        crash(i->c.how);
    return i;
}

static int out_write(void *p, const volley_sample *s, size_t n, char *err, size_t errcap)
{
    inst *i = p;
    (void)s, (void)n, (void)err, (void)errcap;
    if (i->c.in == IN_WRITE && ++i->writes == i->c.after)
        crash(i->c.how);
    return 0;
}

static int out_tick(void *p, uint64_t *next_ns, char *err, size_t errcap)
{
    inst *i = p;
    (void)err, (void)errcap;
    *next_ns = 300 * 1000 * 1000;
    static int ticks;
    if (i->c.in == IN_TICK && ++ticks == 2)
        crash(i->c.how);
    return 0;
}

static int out_close(void *p, char *err, size_t errcap)
{
    inst *i = p;
    (void)err, (void)errcap;
    if (i->c.in == IN_CLOSE)
        crash(i->c.how);
    return 0;
}

static void out_destroy(void *p) { free(p); }

static const volley_output_ops ops = {.size = sizeof ops, .options = &map, .create = out_create,
                                      .write = out_write, .close = out_close, .destroy = out_destroy,
                                      .tick = out_tick};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_OUTPUT, .name = "crashout", .version = "0.0.1",
                     .description = "crashes on purpose (tests)", .output = &ops)
#else
static const char *const wheres[] = {"step_start", "callback", NULL};

typedef struct cfg {
    uint64_t set;
    int how, in;
    int64_t iteration;
} cfg;

static const volley_option options[] = {
    {.name = "how", .type = VOLLEY_OPT_ENUM, .offset = offsetof(cfg, how), .default_value = "segv",
     .help = "segv, abort or stack", .enum_values = hows},
    {.name = "in", .type = VOLLEY_OPT_ENUM, .offset = offsetof(cfg, in), .default_value = "step_start",
     .help = "where VU 1 crashes", .enum_values = wheres},
    {.name = "iteration", .type = VOLLEY_OPT_INT, .offset = offsetof(cfg, iteration), .default_value = "5",
     .help = "VU 1's iteration (0-based) that crashes", .min = 0, .max = 1e9},
};
static const volley_option_map map = {options, 3, sizeof(cfg), "how"};

typedef struct pinst {
    const volley_host *host;
} pinst;

typedef struct vstate {
    uv_timer_t *timer;         /* its own block: it outlives the VU state */
    const cfg *c;
    volley_vu *vu;
    const volley_host *host;
    bool crash_in_callback;
} vstate;

static void *p_create(const volley_host *host, volley_core *core, char *err, size_t errcap)
{
    (void)core, (void)err, (void)errcap;
    pinst *i = calloc(1, sizeof *i);
    i->host = host;
    return i;
}

static void p_destroy(void *p) { free(p); }

static void *p_compile(void *p, const void *config, const volley_step_info *info, char *err, size_t errcap)
{
    (void)p, (void)info, (void)err, (void)errcap;
    cfg *c = malloc(sizeof *c);
    *c = *(const cfg *)config;
    return c;
}

static void p_step_free(void *p, void *step) { (void)p, free(step); }

static void *p_worker_init(void *p, volley_worker *w, char *err, size_t errcap)
{
    (void)err, (void)errcap;
    pinst *i = p;
    void **ws = malloc(2 * sizeof *ws);
    ws[0] = i;
    ws[1] = w;
    return ws;
}

static void p_worker_fini(void *ws) { (void)ws; }
static void p_worker_done(void *ws) { free(ws); }

static void on_timer(uv_timer_t *t)
{
    vstate *s = t->data;
    if (s->crash_in_callback)
        crash(s->c->how);
    s->host->step_done(s->vu, NULL);
}

static int p_step_start(void *wsp, void *step, volley_vu *vu, void *vstp)
{
    void **ws = wsp;
    pinst *i = ws[0];
    const cfg *c = step;
    vstate *s = vstp;
    bool due = i->host->vu_id(vu) == 1 && (int64_t)i->host->vu_iteration(vu) == c->iteration;
    if (due && c->in == 0)
        crash(c->how);
    if (!s->timer) {
        s->timer = malloc(sizeof *s->timer);
        uv_timer_init(i->host->worker_loop(ws[1]), s->timer);
    }
    s->timer->data = s;
    s->c = c;
    s->vu = vu;
    s->host = i->host;
    s->crash_in_callback = due && c->in == 1;
    uv_timer_start(s->timer, on_timer, 0, 0);
    return 0;
}

static void p_step_cancel(void *ws, volley_vu *vu, void *vstp)
{
    (void)ws, (void)vu;
    vstate *s = vstp;
    if (s->timer)
        uv_timer_stop(s->timer);
}

static void on_closed(uv_handle_t *h) { free(h); }

static void p_vu_fini(void *ws, void *vstp)
{
    (void)ws;
    vstate *s = vstp;
    if (s->timer)
        uv_close((uv_handle_t *)s->timer, on_closed);
    s->timer = NULL;
}

static const volley_protocol_ops ops = {
    .size = sizeof ops, .step_key = "crash", .step_options = &map, .vu_state_size = sizeof(vstate),
    .create = p_create, .destroy = p_destroy, .step_compile = p_compile, .step_free = p_step_free,
    .worker_init = p_worker_init, .worker_fini = p_worker_fini, .step_start = p_step_start,
    .step_cancel = p_step_cancel, .vu_fini = p_vu_fini, .worker_done = p_worker_done};

VOLLEY_PLUGIN_DEFINE(.kind = VOLLEY_KIND_PROTOCOL, .name = "crashproto", .version = "0.0.1",
                     .description = "crashes on purpose (tests)", .protocol = &ops)
#endif
