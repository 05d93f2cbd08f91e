#include "crash.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <uv.h>

#define MAX_RANGES 64
#define MAX_FRAMES 64
#define ALT_STACK_SIZE (64 * 1024)

typedef struct range {
    uintptr_t lo, hi;
    const char *name;
} range;

/* Written on the main thread before other threads start; read-only after,
 * so the handler may read them on any thread. */
static range plugins[MAX_RANGES];
static int n_plugins;
static range core_range;
static bool installed;

_Thread_local crash_mark crash_cur;
static _Thread_local const crash_thread_info *thread_info;
static _Thread_local void *alt_stack;

/* The first crash off the main thread; what[] is complete once `done`. */
static atomic_int first_crash;
static atomic_bool what_done;
static char what[512];
static unsigned watchdog_seconds;

/* ---- building text without anything that may allocate or lock ---- */

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void add(text *t, const char *s)
{
    while (s && *s && t->len + 1 < t->cap)
        t->p[t->len++] = *s++;
    t->p[t->len] = '\0';
}

static void add_uint(text *t, unsigned long v)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 23);
    char s[24];
    for (int i = 0; i < n; i++)
        s[i] = d[n - 1 - i];
    s[n] = '\0';
    add(t, s);
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    case SIGALRM: return "SIGALRM";
    }
    return "a fatal signal";
}

/* ---- where code lives ---- */

typedef struct find_ctx {
    uintptr_t base;             /* l_addr of the object looked for */
    const char *name;           /* its l_name; "" for the executable */
    range *out;
    bool found;
} find_ctx;

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    find_ctx *c = arg;
    if (info->dlpi_addr != c->base || strcmp(info->dlpi_name ? info->dlpi_name : "", c->name) != 0)
        return 0;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    c->out->lo = lo;
    c->out->hi = hi;
    c->found = lo < hi;
    return 1;
}

static int first_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    find_ctx *c = arg;
    c->base = info->dlpi_addr;
    c->name = info->dlpi_name ? info->dlpi_name : "";
    return find_object(info, size, arg);
}

void crash_add_plugin(const char *name, void *dl)
{
    struct link_map *lm = NULL;
    if (n_plugins == MAX_RANGES || !dl || dlinfo(dl, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
        return;
    range r = {.name = name};
    find_ctx c = {.base = lm->l_addr, .name = lm->l_name ? lm->l_name : "", .out = &r};
    dl_iterate_phdr(find_object, &c);
    if (c.found)
        plugins[n_plugins++] = r;
}

void crash_forget_plugins(void) { n_plugins = 0; }

static const char *owner_of(uintptr_t pc, bool *in_core)
{
    *in_core = pc >= core_range.lo && pc < core_range.hi;
    for (int i = 0; i < n_plugins; i++)
        if (pc >= plugins[i].lo && pc < plugins[i].hi)
            return plugins[i].name;
    return NULL;
}

static uintptr_t fault_pc(const void *uc)
{
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return (uintptr_t)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)u->uc_mcontext.pc;
#else
    (void)u;
    return 0;
#endif
}

/* The plugin whose code crashed, or NULL; *in_core when it is volley's. */
static const char *culprit(const void *uc, bool *in_core)
{
    const char *p = owner_of(fault_pc(uc), in_core);
    if (p || *in_core)
        return p;
    /* The fault is in a library (abort() in libc, a crash in libcurl):
     * the first caller on the stack that is a plugin or the core is the
     * one to name. The leading frames are this handler's own. */
    void *frames[MAX_FRAMES];
    int n = backtrace(frames, MAX_FRAMES);
    /* The interrupted code's own address is on the list, right after the
     * handler's frames and the signal trampoline (and, under a sanitizer,
     * its wrappers): start after it. Without it, skip what is not a plugin
     * up to and past the handler's frames and the trampoline. */
    uintptr_t pc = fault_pc(uc);
    int i = 0;
    while (i < n && (uintptr_t)frames[i] != pc)
        i++;
    if (i < n) {
        i++;
    } else {
        bool core = false;
        for (i = 0; i < n && !core; i++)
            owner_of((uintptr_t)frames[i], &core);
        for (; i < n && core; i++)
            owner_of((uintptr_t)frames[i], &core);
    }
    /* Return addresses point past their call: step back into it. */
    for (; i < n; i++) {
        p = owner_of((uintptr_t)frames[i] - 1, in_core);
        if (p || *in_core)
            return p;
    }
    return NULL;
}

static void describe(text *t, int sig, const void *uc)
{
    bool in_core = false;
    const char *plugin = culprit(uc, &in_core);
    crash_mark m = crash_cur;
    add(t, signal_name(sig));
    if (plugin) {
        add(t, " in plugin ");
        add(t, plugin);
        if (m.plugin && strcmp(m.plugin, plugin) == 0) {
            add(t, " (");
            add(t, m.callback);
            add(t, ")");
        } else if (m.plugin) {
            add(t, " (during plugin ");
            add(t, m.plugin);
            add(t, "'s ");
            add(t, m.callback);
            add(t, ")");
        } else {
            add(t, " (one of its event-loop callbacks)");
        }
    } else if (in_core) {
        add(t, " in volley's core");
        if (m.plugin) {
            add(t, " (during plugin ");
            add(t, m.plugin);
            add(t, "'s ");
            add(t, m.callback);
            add(t, ")");
        }
    } else if (m.plugin) {
        add(t, " in a library called during plugin ");
        add(t, m.plugin);
        add(t, "'s ");
        add(t, m.callback);
    } else {
        add(t, " in a library");
    }
    add(t, " on thread \"");
    add(t, thread_info ? thread_info->role : "main");
    add(t, "\"");
}

static void say(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    char buf[512];
    text t = {buf, 0, sizeof buf};
    describe(&t, sig, uc);
    const crash_thread_info *info = thread_info;
    int expected = 0;
    bool first = atomic_compare_exchange_strong(&first_crash, &expected, sig);
    if (first && info) {
        memcpy(what, buf, t.len + 1);
        atomic_store(&what_done, true);
    }
    static const char head[] = "volley: fatal: ";
    say(head, sizeof head - 1);
    say(buf, t.len);
    if (!info) {
        /* Nothing can finish the run without this thread. */
        static const char tail[] = "; exiting (103)\n";
        say(tail, sizeof tail - 1);
        _exit(CRASH_EXIT);
    }
    static const char tail[] = "; finishing the run without it\n";
    say(tail, sizeof tail - 1);
    if (info->crashed)
        atomic_store(info->crashed, sig);
    if (info->wake)
        uv_async_send(info->wake);
    /* Park for good: never return into the code that crashed. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;)
        pause();
}

static void on_alarm(int sig)
{
    (void)sig;
    char buf[128];
    text t = {buf, 0, sizeof buf};
    add(&t, "volley: the run did not end within ");
    add_uint(&t, watchdog_seconds);
    add(&t, " s after the crash; exiting (103)\n");
    say(buf, t.len);
    _exit(CRASH_EXIT);
}

void crash_init(void)
{
    if (installed)
        return;
    installed = true;
    /* backtrace() loads its unwinder on first use: do it now, not in a
     * signal handler. */
    void *warm[4];
    backtrace(warm, 4);
    find_ctx c = {.out = &core_range};
    dl_iterate_phdr(first_object, &c);
    crash_thread_begin(NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

void crash_thread_begin(const crash_thread_info *info)
{
    thread_info = info;
    crash_cur = (crash_mark){0};
    if (!installed || alt_stack)
        return;
    /* A stack overflow must still reach the handler. */
    alt_stack = malloc(ALT_STACK_SIZE);
    if (!alt_stack)
        return;
    stack_t ss = {.ss_sp = alt_stack, .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        free(alt_stack);
        alt_stack = NULL;
    }
}

void crash_thread_end(void)
{
    thread_info = NULL;
    if (!alt_stack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(alt_stack);
    alt_stack = NULL;
}

bool crash_join(pthread_t thread, atomic_int *crashed)
{
    for (;;) {
        if (atomic_load(crashed)) {
            pthread_detach(thread);
            return false;
        }
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += 50 * 1000 * 1000;
        if (at.tv_nsec >= 1000000000) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(thread, NULL, &at) == 0)
            return true;
    }
}

const char *crash_what(void) { return atomic_load(&what_done) ? what : NULL; }

void crash_watchdog(unsigned seconds)
{
    if (!atomic_load(&first_crash) || watchdog_seconds)
        return;
    watchdog_seconds = seconds;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}
