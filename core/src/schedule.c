#include "schedule.h"

#include <math.h>

int64_t sched_total_ns(const sched_profile *p)
{
    int64_t t = 0;
    for (size_t i = 0; i < p->n; i++)
        t += p->stages[i].duration_ns;
    return t;
}

double sched_value_at(const sched_profile *p, int64_t t)
{
    double from = p->start;
    if (t < 0)
        t = 0;
    for (size_t i = 0; i < p->n; i++) {
        const sched_stage *s = &p->stages[i];
        if (t < s->duration_ns)
            return from + (s->target - from) * ((double)t / (double)s->duration_ns);
        t -= s->duration_ns;
        from = s->target;
    }
    return from;
}

int64_t sched_vus_at(const sched_profile *p, int64_t t)
{
    /* A hair of tolerance so 2.9999999 from rounding counts as 3. */
    return (int64_t)floor(sched_value_at(p, t) + 1e-9);
}

double sched_max_value(const sched_profile *p)
{
    double m = p->start;
    for (size_t i = 0; i < p->n; i++)
        if (p->stages[i].target > m)
            m = p->stages[i].target;
    return m;
}

/* Arrivals in one stage over its first t ns, rates in arrivals per ns. */
static double stage_area(double r0, double r1, double d, double t)
{
    return r0 * t + (r1 - r0) * t * t / (2.0 * d);
}

double sched_arrivals_until(const sched_profile *p, int64_t t)
{
    double unit = (double)p->unit_ns;
    double from = p->start / unit, sum = 0;
    if (t < 0)
        return 0;
    for (size_t i = 0; i < p->n; i++) {
        const sched_stage *s = &p->stages[i];
        double to = s->target / unit, d = (double)s->duration_ns;
        if (s->duration_ns == 0) {   /* a jump: no time, no arrivals */
            from = to;
            continue;
        }
        if (t < s->duration_ns)
            return sum + stage_area(from, to, d, (double)t);
        sum += stage_area(from, to, d, d);
        t -= s->duration_ns;
        from = to;
    }
    return sum;
}

/* Solves r0*t + (r1-r0)/(2d)*t^2 = need for t in [0, d], in the stable
 * form t = 2*need / (r0 + sqrt(r0^2 + 4*a*need)). */
static double stage_time_for(double r0, double r1, double d, double need)
{
    double a = (r1 - r0) / (2.0 * d);
    double disc = r0 * r0 + 4.0 * a * need;
    if (disc < 0)
        disc = 0;
    double den = r0 + sqrt(disc);
    return den > 0 ? 2.0 * need / den : d;
}

int64_t sched_arrival_time(const sched_profile *p, uint64_t k)
{
    double unit = (double)p->unit_ns;
    double from = p->start / unit, need = (double)k, base = 0;
    for (size_t i = 0; i < p->n; i++) {
        const sched_stage *s = &p->stages[i];
        double to = s->target / unit, d = (double)s->duration_ns;
        if (s->duration_ns == 0) {   /* a jump: the next stage starts from its target */
            from = to;
            continue;
        }
        double area = stage_area(from, to, d, d);
        /* The k-th arrival starts when the area reaches k; k = 0 at the
         * first instant of a stage whose rate is not all zero. */
        if (need == 0 ? (from > 0 || to > 0) : need < area) {
            double t = need == 0 ? 0 : stage_time_for(from, to, d, need);
            return (int64_t)(base + (t > d ? d : t));
        }
        need -= area;
        base += d;
        from = to;
    }
    return -1;
}

size_t sched_stage_at(const sched_profile *p, int64_t t)
{
    for (size_t i = 0; i + 1 < p->n; i++) {
        if (t < p->stages[i].duration_ns)
            return i;
        t -= p->stages[i].duration_ns;
    }
    return p->n ? p->n - 1 : 0;
}

int64_t sched_stage_start(const sched_profile *p, size_t k)
{
    int64_t t = 0;
    for (size_t i = 0; i < k && i < p->n; i++)
        t += p->stages[i].duration_ns;
    return t;
}
