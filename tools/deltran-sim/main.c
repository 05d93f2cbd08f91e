/*
 * deltran-sim: a local stand-in for the DelTran MVP services, so Volley's
 * DelTran specs can be demonstrated and tested without the real stack.
 * One libuv loop serves every port; see README.md for what it emulates
 * and where it departs from the real services.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "server.h"
#include "sim.h"
#include "util.h"
#include "ws.h"

struct sim g_sim;

static const char *const keys[SVC_COUNT] = {
    "gateway", "token", "obligation", "liquidity", "risk", "clearing", "compliance",
    "reporting", "settlement", "notification", "ws-alias", "analytics",
};

const char *sim_service_key(enum sim_service_id id)
{
    return keys[id];
}

const struct service *sim_service(enum sim_service_id id)
{
    switch (id) {
    case SVC_GATEWAY: return g_sim.cfg.profile == GW_ENHANCED ? &svc_gateway_g3 : &svc_gateway_g1;
    case SVC_TOKEN: return &svc_token;
    case SVC_OBLIGATION: return &svc_obligation;
    case SVC_LIQUIDITY: return &svc_liquidity;
    case SVC_RISK: return &svc_risk;
    case SVC_CLEARING: return &svc_clearing;
    case SVC_COMPLIANCE: return &svc_compliance;
    case SVC_REPORTING: return &svc_reporting;
    case SVC_SETTLEMENT: return &svc_settlement;
    case SVC_NOTIFICATION: return &svc_notification;
    case SVC_WS_ALIAS: return &svc_ws_alias;
    case SVC_ANALYTICS: return &svc_analytics;
    case SVC_COUNT: break;
    }
    return NULL;
}

int sim_port(enum sim_service_id id)
{
    int port = sim_service(id)->port;
    if (g_sim.cfg.compose_ports && id == SVC_REPORTING)
        port = 8088;
    else if (g_sim.cfg.compose_ports && id == SVC_SETTLEMENT)
        port = 8087;
    return port + g_sim.cfg.port_offset;
}

static uv_signal_t sig_int, sig_term;
static bool initialised[SVC_COUNT];

static void stop(void)
{
    uv_signal_stop(&sig_int);
    uv_signal_stop(&sig_term);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    server_shutdown();
    ws_shutdown();
    for (int i = 0; i < SVC_COUNT; i++) {
        const struct service *s = sim_service((enum sim_service_id)i);
        if (initialised[i] && s->shutdown)
            s->shutdown();
        initialised[i] = false;
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    stop();
}

int main(int argc, char **argv)
{
    char err[512];
    switch (cli_parse(argc, argv, &g_sim.cfg, err, sizeof err)) {
    case CLI_HELP:
        cli_usage(stdout);
        return 0;
    case CLI_ERROR:
        fprintf(stderr, "deltran-sim: %s\nTry 'deltran-sim --help'.\n", err);
        return 2;
    case CLI_RUN:
        break;
    }
    signal(SIGPIPE, SIG_IGN);
    /* thousands of keep-alive clients: use the whole fd allowance */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    rng_seed(g_sim.cfg.seeded ? g_sim.cfg.seed : (uint64_t)wall_ns() ^ ((uint64_t)getpid() << 32));
    static uv_loop_t loop;
    uv_loop_init(&loop);
    g_sim.loop = &loop;
    g_sim.start_wall_ns = wall_ns();
    g_sim.start_mono_ns = mono_ns();
    ws_init();
    uv_signal_init(&loop, &sig_int);
    uv_signal_init(&loop, &sig_term);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_term, on_signal, SIGTERM);

    struct sbuf ready = { 0 };
    sb_addf(&ready, "ready: deltran-sim profile=%s",
            g_sim.cfg.profile == GW_ENHANCED ? "enhanced" : "orchestrating");
    int rc = 0;
    for (int i = 0; i < SVC_COUNT && rc == 0; i++) {
        if (!g_sim.cfg.enabled[i])
            continue;
        const struct service *s = sim_service((enum sim_service_id)i);
        if (s->init)
            s->init();
        initialised[i] = true;
        int port = sim_port((enum sim_service_id)i);
        if (server_listen(s, g_sim.cfg.listen, port, err, sizeof err) != 0) {
            fprintf(stderr, "deltran-sim: cannot listen: %s\n", err);
            rc = 1;
            break;
        }
        sb_addf(&ready, " %s=%s:%d", keys[i], g_sim.cfg.listen, port);
    }
    if (rc != 0) {
        stop();
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        sb_free(&ready);
        return rc;
    }
    printf("%s\n", ready.data);
    fflush(stdout);
    sb_free(&ready);

    uv_run(&loop, UV_RUN_DEFAULT);
    int close_rc = uv_loop_close(&loop);
    if (!g_sim.cfg.quiet)
        fprintf(stderr, "deltran-sim: stopped after %llu requests (%llu injected errors)\n",
                (unsigned long long)g_sim.requests, (unsigned long long)g_sim.injected_errors);
    return close_rc == 0 ? 0 : 1;
}
