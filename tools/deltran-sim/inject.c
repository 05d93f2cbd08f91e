#include "inject.h"

#include "sim.h"
#include "util.h"

int64_t inject_delay_ns(void)
{
    int64_t d = g_sim.cfg.latency_ns;
    int64_t j = g_sim.cfg.jitter_ns;
    if (j > 0)
        d += (int64_t)((rng_unit() * 2.0 - 1.0) * (double)j);
    return d > 0 ? d : 0;
}

bool inject_chance(double p)
{
    if (p <= 0)
        return false;
    if (p >= 1)
        return true;
    return rng_unit() < p;
}

bool inject_error(void)
{
    return inject_chance(g_sim.cfg.error_rate);
}
