#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "progress.h"

/* Output captured in memory; `mark` is where the latest frame starts. */
typedef struct capture {
    FILE *f;
    char *buf;
    size_t len;
    size_t mark;
} capture;

static void cap_open(capture *c)
{
    memset(c, 0, sizeof *c);
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

static void cap_close(capture *c)
{
    fclose(c->f);
    free(c->buf);
}

/* Runs one update and returns a copy of just what it wrote (free it). */
static char *frame(progress *p, capture *c, const progress_snapshot *s)
{
    c->mark = c->len;
    progress_update(p, s);
    fflush(c->f);
    char *out = strndup(c->buf ? c->buf + c->mark : "", c->len - c->mark);
    assert_non_null(out);
    return out;
}

static progress_scenario scenario(const char *name, double elapsed, double total, int64_t vus,
                                  int64_t vus_max, uint64_t iterations)
{
    progress_scenario sc = {
        .name = name, .executor = "constant-vus", .elapsed_s = elapsed, .total_s = total,
        .vus = vus, .vus_max = vus_max, .iterations = iterations,
    };
    return sc;
}

static progress_snapshot snap(const progress_scenario *sc, size_t n, double elapsed)
{
    progress_snapshot s = {.elapsed_s = elapsed, .n = n, .sc = sc};
    return s;
}

#define assert_prefix(s, pre) assert_int_equal(strncmp((s), (pre), strlen(pre)), 0)

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The text of line `i` (0-based) of a frame, without its "\n". */
static char *nth_line(const char *s, int i)
{
    for (; i > 0; i--) {
        s = strchr(s, '\n');
        assert_non_null(s);
        s++;
    }
    const char *end = strchr(s, '\n');
    return strndup(s, end ? (size_t)(end - s) : strlen(s));
}

static void test_tty_bar_and_numbers(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, true, false, 10);
    assert_non_null(p);

    progress_scenario sc = scenario("default", 7.5, 30, 5, 10, 123);
    progress_snapshot s = snap(&sc, 1, 7.5);
    char *f = frame(p, &c, &s);
    /* 25% of 40 columns: 10 '=', the head, 29 '-'. */
    assert_non_null(strstr(f, "[==========>-----------------------------]"));
    assert_non_null(strstr(f, "default [="));
    assert_non_null(strstr(f, " 5/10 VUs  7.5s/30.0s  123 complete"));
    assert_null(strstr(f, "dropped"));
    assert_null(strstr(f, "interrupted\n"));
    assert_non_null(strstr(f, "running (7.5s), 5/10 VUs, 123 complete and 0 interrupted iterations\n"));
    free(f);

    progress_free(p);
    cap_close(&c);
}

static void test_tty_bar_edges(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, true, false, 10);
    progress_scenario sc[4] = {
        scenario("before", 0, 30, 0, 10, 0),
        scenario("done", 12, 30, 0, 10, 40),
        scenario("untimed", 3, 0, 2, 2, 7),
        scenario("over", 31.2, 30, 1, 10, 9),
    };
    sc[1].done = true;
    sc[3].dropped = 17;
    sc[3].interrupted = 2;
    progress_snapshot s = snap(sc, 4, 31.2);
    char *f = frame(p, &c, &s);

    char *l = nth_line(f, 1);
    assert_non_null(strstr(l, "[----------------------------------------]"));
    free(l);
    l = nth_line(f, 2);   /* done: full even though elapsed < total */
    assert_non_null(strstr(l, "[========================================]"));
    free(l);
    l = nth_line(f, 3);   /* no known length: full, elapsed alone */
    assert_non_null(strstr(l, "[========================================]"));
    assert_non_null(strstr(l, "3.0s "));
    assert_null(strstr(l, "3.0s/"));
    free(l);
    l = nth_line(f, 4);   /* graceful stop past the end: bar clamped */
    assert_non_null(strstr(l, "[========================================]"));
    assert_non_null(strstr(l, "31.2s/30.0s  9 complete  2 interrupted  17 dropped"));
    free(l);
    assert_non_null(strstr(f, "3/32 VUs, 56 complete and 2 interrupted iterations"));
    free(f);

    progress_free(p);
    cap_close(&c);
}

static void test_tty_redraw_in_place(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, true, false, 10);
    progress_scenario sc[2] = {
        scenario("a", 1, 10, 1, 1, 0),
        scenario("b", 1, 10, 1, 1, 0),
    };
    progress_snapshot s = snap(sc, 2, 1);

    char *f1 = frame(p, &c, &s);
    assert_null(strstr(f1, "A\r"));                  /* nothing to move over */
    assert_prefix(f1, "\r\x1b[2K");
    assert_int_equal(count_str(f1, "\r\x1b[2K"), 3);
    assert_int_equal(count_str(f1, "\n"), 3);

    sc[0].elapsed_s = sc[1].elapsed_s = s.elapsed_s = 2;
    char *f2 = frame(p, &c, &s);
    /* Up over the header and two scenario lines, then each line cleared. */
    assert_prefix(f2, "\x1b[3A\r\x1b[2Krunning (2.0s)");
    assert_int_equal(count_str(f2, "\x1b[3A"), 1);
    assert_int_equal(count_str(f2, "\r\x1b[2K"), 3);
    assert_int_equal(count_str(f2, "\n"), 3);
    assert_null(strstr(f2, "\x1b[J"));
    free(f1);
    free(f2);

    progress_free(p);
    cap_close(&c);
}

/* Lines of log steps written below a frame are kept: the next frame is
 * drawn below them, and then redrawn in place again. */
static void test_tty_below_console_lines(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, true, false, 10);
    progress_scenario sc[1] = {scenario("a", 1, 10, 1, 1, 0)};
    progress_snapshot s = snap(sc, 1, 1);
    char *f1 = frame(p, &c, &s);
    s.console_lines = 2;
    char *f2 = frame(p, &c, &s);
    assert_prefix(f2, "\r\x1b[2Krunning");
    assert_null(strstr(f2, "\x1b[2A"));
    char *f3 = frame(p, &c, &s);
    assert_prefix(f3, "\x1b[2A\r\x1b[2Krunning");
    free(f1);
    free(f2);
    free(f3);
    progress_free(p);
    cap_close(&c);
}

static void test_tty_final(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, true, false, 10);
    progress_scenario sc = scenario("default", 1, 10, 1, 1, 0);
    progress_snapshot s = snap(&sc, 1, 1);
    free(frame(p, &c, &s));

    sc.done = true;
    s.final = true;
    char *f = frame(p, &c, &s);
    assert_prefix(f, "\x1b[2A");
    assert_non_null(strstr(f, "[========================================]"));
    size_t n = strlen(f);
    assert_true(n >= 2);
    assert_string_equal(f + n - 2, "\n\n");   /* the summary starts on a fresh line */
    free(f);

    /* After final the display is finished: nothing more is drawn. */
    s.final = false;
    f = frame(p, &c, &s);
    assert_string_equal(f, "");
    free(f);

    progress_free(p);
    cap_close(&c);
}

/* Column where the iteration count of a scenario line starts. */
static long count_col(const char *line)
{
    const char *p = strstr(line, " complete");
    assert_non_null(p);
    while (p > line && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return p - line;
}

static void test_tty_names_aligned(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, true, false, 10);
    progress_scenario sc[3] = {
        scenario("a", 5, 10, 1, 100, 3),
        scenario("a-much-longer-scenario-name", 5, 10, 100, 100, 12345),
        scenario("mid-name", 65, 600, 10, 100, 0),
    };
    progress_snapshot s = snap(sc, 3, 5);
    char *f = frame(p, &c, &s);

    char *l[3];
    for (int i = 0; i < 3; i++)
        l[i] = nth_line(f, i + 1);
    const char *want = "a-much-longer-scenario-name [";
    assert_prefix(l[1], "\r\x1b[2K");
    assert_prefix(l[1] + 5, want);
    long col = strstr(l[1], " [") - l[1];     /* after the escape's own '[' */
    long vus_col = strstr(l[1], " VUs") - l[1];
    long done_col = count_col(l[1]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(strstr(l[i], " [") - l[i], col);
        assert_int_equal(strstr(l[i], " VUs") - l[i], vus_col);
        assert_int_equal(count_col(l[i]), done_col);
    }
    char pad[64];
    snprintf(pad, sizeof pad, "\r\x1b[2Ka%*s[=", 27, "");
    assert_prefix(l[0], pad);
    assert_non_null(strstr(l[0], "]   1/100 VUs  5.0s/10.0s        3 complete"));
    assert_non_null(strstr(l[2], "]  10/100 VUs  1m05.0s/10m00.0s  0 complete"));
    for (int i = 0; i < 3; i++)
        free(l[i]);
    free(f);

    progress_free(p);
    cap_close(&c);
}

static void test_header_requests(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, false, false, 1);
    progress_scenario sc[2] = {
        scenario("a", 12.3, 30, 5, 10, 1000),
        scenario("b", 12.3, 30, 5, 10, 234),
    };
    sc[1].interrupted = 2;
    progress_snapshot s = snap(sc, 2, 12.34);
    s.requests = 64000;
    s.requests_per_s = 5230;
    char *f = frame(p, &c, &s);
    assert_string_equal(f, "running (12.3s), 10/20 VUs, 1234 complete and 2 interrupted "
                           "iterations, 5.2k req/s, 0 failed\n");
    free(f);

    s.elapsed_s += 2;
    s.requests_per_s = 12.5;
    s.failed = 32000;
    f = frame(p, &c, &s);
    assert_non_null(strstr(f, ", 12.5 req/s, 50.0% failed\n"));
    free(f);

    s.elapsed_s = 3725;
    s.requests_per_s = 999960;    /* rounds up into the next unit */
    s.requests = 11000000;
    s.failed = 1100000;
    f = frame(p, &c, &s);
    assert_non_null(strstr(f, "running (1h02m05.0s), "));
    assert_non_null(strstr(f, ", 1M req/s, 10.0% failed\n"));
    free(f);

    /* While running: the last window's rate, p95 and failures; drops. */
    s.window_s = 1;
    s.window_requests = 5000;
    s.window_failed = 50;
    s.has_p95 = true;
    s.p95_ms = 12.34;
    s.dropped = 3;
    s.elapsed_s += 2;   /* plain lines come once per interval */
    f = frame(p, &c, &s);
    assert_non_null(strstr(f, ", 5k req/s, p95 12.3ms, 1.0% failed, 3 dropped\n"));
    free(f);

    /* Plain lines come every few seconds: they tell of every second since
     * the last one (a failure in any shows), the p95 bounded by the worst
     * second's. */
    progress *q = progress_new(c.f, false, false, 5);
    progress_snapshot w = snap(sc, 2, 1.2);
    w.requests = 100;
    w.window_s = 1;
    w.window_seq = 1;
    w.window_requests = 100;
    w.has_p95 = true;
    w.p95_ms = 2;
    f = frame(q, &c, &w);            /* the first line: at once */
    assert_non_null(strstr(f, ", 100 req/s, p95 2.0ms, 0 failed\n"));
    free(f);
    for (uint64_t k = 2; k <= 6; k++) {
        w.elapsed_s += 1;
        w.window_seq = k;
        w.window_requests = 100;
        w.window_failed = k == 3;   /* one failure, in the 3rd second */
        w.p95_ms = k == 4 ? 9 : 2;
        f = frame(q, &c, &w);
        if (k < 6)
            assert_string_equal(f, "");
        else
            assert_non_null(strstr(f, ", 100 req/s, p95 ≤9.0ms, 0.2% failed\n"));
        free(f);
    }
    progress_free(q);

    /* The final line: the whole run's, exact counts, VUs allocated. */
    s.final = true;
    s.vus_max = 17;
    s.requests = 64000;
    s.requests_per_s = 5230;
    s.failed = 1500;
    s.p95_ms = 1234;
    s.elapsed_s += 2;
    f = frame(p, &c, &s);
    assert_non_null(strstr(f, "/17 VUs, "));
    assert_non_null(strstr(f, ", 5.2k req/s, p95 1.23s, 1500 failed (2.3%), 3 dropped\n"));
    free(f);

    progress_free(p);
    cap_close(&c);
}

static void test_plain_interval(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, false, false, 2);
    progress_scenario sc = scenario("default", 0, 30, 3, 3, 0);
    progress_snapshot s = snap(&sc, 1, 0);
    int lines = 0;
    for (int step = 0; step <= 9; step++) {
        sc.elapsed_s = s.elapsed_s = step * 0.5;
        sc.iterations = (uint64_t)step;
        s.final = step == 9;
        char *f = frame(p, &c, &s);
        if (*f)
            lines++;
        assert_true(count_str(f, "\n") <= 1);
        free(f);
    }
    fflush(c.f);
    assert_int_equal(lines, 4);
    assert_string_equal(c.buf,
        "running (0.0s), 3/3 VUs, 0 complete and 0 interrupted iterations\n"
        "running (2.0s), 3/3 VUs, 4 complete and 0 interrupted iterations\n"
        "running (4.0s), 3/3 VUs, 8 complete and 0 interrupted iterations\n"
        "running (4.5s), 3/3 VUs, 9 complete and 0 interrupted iterations\n");
    assert_null(memchr(c.buf, '\x1b', c.len));
    assert_null(strchr(c.buf, '['));
    progress_free(p);
    cap_close(&c);
}

/* A final update that is also due prints once; timer jitter just short of
 * the interval does not skip a line. */
static void test_plain_final_and_jitter(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    progress *p = progress_new(c.f, false, false, 1);
    progress_scenario sc = scenario("default", 0, 3, 1, 1, 0);
    progress_snapshot s = snap(&sc, 1, 0);
    const double t[] = {0, 0.999, 1.998, 2.4, 2.997};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        s.elapsed_s = t[i];
        s.final = i == 4;
        progress_update(p, &s);
    }
    fflush(c.f);
    assert_int_equal(count_str(c.buf, "\n"), 4);
    assert_null(strstr(c.buf, "(2.4s)"));
    assert_int_equal(count_str(c.buf, "(3.0s)"), 1);
    progress_free(p);
    cap_close(&c);
}

static void test_quiet_writes_nothing(void **state)
{
    (void)state;
    for (int tty = 0; tty <= 1; tty++) {
        capture c;
        cap_open(&c);
        progress *p = progress_new(c.f, tty, true, 1);
        assert_non_null(p);
        progress_scenario sc = scenario("default", 0, 10, 1, 1, 0);
        progress_snapshot s = snap(&sc, 1, 0);
        for (int i = 0; i <= 10; i++) {
            sc.elapsed_s = s.elapsed_s = i;
            s.final = i == 10;
            progress_update(p, &s);
        }
        fflush(c.f);
        assert_int_equal(c.len, 0);
        progress_free(p);
        cap_close(&c);
    }
    progress_free(NULL);
    progress_update(NULL, NULL);
}

/* On a real terminal, lines are cut to its width: a wrapped line would take
 * two rows and the cursor-up would no longer cover the frame. */
static void test_tty_clipped_to_width(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        if (master >= 0)
            close(master);
        skip();
    }
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    struct termios tio;
    assert_int_equal(tcgetattr(slave, &tio), 0);
    cfmakeraw(&tio);
    assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
    struct winsize ws = {.ws_row = 24, .ws_col = 50};
    assert_int_equal(ioctl(slave, TIOCSWINSZ, &ws), 0);
    FILE *out = fdopen(slave, "w");
    assert_non_null(out);

    progress *p = progress_new(out, true, false, 1);
    progress_scenario sc = scenario("sc\xc3\xa9nario", 5, 10, 10, 10, 5);
    progress_snapshot s = snap(&sc, 1, 5);
    s.requests = 1;
    progress_update(p, &s);

    char got[4096];
    size_t len = 0;
    struct pollfd pfd = {.fd = master, .events = POLLIN};
    while (len < sizeof got - 1 && poll(&pfd, 1, 200) > 0) {
        ssize_t r = read(master, got + len, sizeof got - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    got[len] = '\0';
    assert_int_equal(count_str(got, "\n"), 2);
    for (int i = 0; i < 2; i++) {
        char *l = nth_line(got, i);
        assert_prefix(l, "\r\x1b[2K");
        int cols = 0;
        for (const char *q = l + 5; *q; q++)
            cols += ((unsigned char)*q & 0xC0) != 0x80;
        assert_int_equal(cols, 49);   /* both lines are longer than that */
        free(l);
    }
    assert_non_null(strstr(got, "sc\xc3\xa9nario [=================="));

    progress_free(p);
    fclose(out);
    close(master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tty_bar_and_numbers),
        cmocka_unit_test(test_tty_bar_edges),
        cmocka_unit_test(test_tty_below_console_lines),
        cmocka_unit_test(test_tty_redraw_in_place),
        cmocka_unit_test(test_tty_final),
        cmocka_unit_test(test_tty_names_aligned),
        cmocka_unit_test(test_header_requests),
        cmocka_unit_test(test_plain_interval),
        cmocka_unit_test(test_plain_final_and_jitter),
        cmocka_unit_test(test_quiet_writes_nothing),
        cmocka_unit_test(test_tty_clipped_to_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
