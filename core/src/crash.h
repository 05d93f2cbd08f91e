/*
 * crash: what volley says when a thread dies of a fatal signal (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE, SIGABRT), and what happens next.
 *
 * The handler names the culprit: the plugin whose code the fault is in (the
 * faulting address and the return addresses on the stack, matched against
 * each loaded plugin's mapped range) and the plugin callback the core was
 * running on that thread (a thread-local mark set around every call into a
 * plugin), e.g.
 *   volley: fatal: SIGSEGV in plugin csv-out (output write) on thread "output csv-out"
 * It writes that line with write(2) and uses nothing that is not
 * async-signal-safe (backtrace() is loaded before any handler can run).
 *
 * Then: on the main thread nothing can finish the run, so volley exits 103
 * at once. On any other thread the thread is parked for good (it never
 * returns into the plugin), the thread's owner is told through an atomic
 * flag and the registered wakeup (uv_async_send is async-signal-safe), and
 * the run ends the normal way: a crashed output's thread is left alone
 * while the other outputs get every sample; a crashed worker stops the run
 * as a hard stop would. The command exits 103. A watchdog (alarm) bounds
 * the end of a run after a crash, in case the parked thread holds a lock
 * someone needs (e.g. it crashed inside malloc).
 *
 * Process-wide state here (the handler can reach nothing else) is limited
 * to the plugin ranges, written before any thread starts, and the crash
 * record, written once by the first crashing thread.
 */
#ifndef VOLLEY_CRASH_H
#define VOLLEY_CRASH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CRASH_EXIT 103

/* Installs the handlers (main thread, before any other thread). */
void crash_init(void);
/* Records the mapped range of a loaded plugin (main thread, before any
 * other thread starts). `name` must outlive the process's use of it. */
void crash_add_plugin(const char *name, void *dl_handle);
void crash_forget_plugins(void);

/* Who a thread is, for the message, and what to do if it crashes. Call at
 * the thread's start (it also gives the thread an alternate signal stack
 * so a stack overflow is reported too) and crash_thread_end before it
 * returns. `crashed` is set (to the signal number) when it dies; `wake`
 * (a uv_async_t *, may be NULL) is sent then. */
typedef struct crash_thread_info {
    const char *role;           /* "worker 1", "output csv-out" */
    atomic_int *crashed;
    void *wake;                 /* uv_async_t * */
} crash_thread_info;
void crash_thread_begin(const crash_thread_info *info);
void crash_thread_end(void);

/* The mark around a call into a plugin: which plugin, which callback. */
typedef struct crash_mark {
    const char *plugin;
    const char *callback;
} crash_mark;

extern _Thread_local crash_mark crash_cur;

static inline crash_mark crash_enter(const char *plugin, const char *callback)
{
    crash_mark prev = crash_cur;
    crash_cur.plugin = plugin;
    crash_cur.callback = callback;
    return prev;
}

static inline void crash_leave(crash_mark prev) { crash_cur = prev; }

/* Calls `call` (an expression) with the mark set. */
#define CRASH_CALL(plugin, callback, call)                                   \
    do {                                                                     \
        crash_mark crash_prev_ = crash_enter((plugin), (callback));          \
        call;                                                                \
        crash_leave(crash_prev_);                                            \
    } while (0)

/* pthread_join, unless the thread crashed before or while waiting (a
 * parked thread never ends): then it is detached and false returned. */
bool crash_join(pthread_t thread, atomic_int *crashed);

/* After a crash on a thread other than main: its one-line description
 * ("SIGSEGV in plugin csv-out (output write) on thread ..."), or NULL when
 * nothing crashed. */
const char *crash_what(void);
/* Arms the watchdog: the process exits 103 if it is still running
 * `seconds` from now. Only when a crash happened; idempotent. */
void crash_watchdog(unsigned seconds);

#endif
