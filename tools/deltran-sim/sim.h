/*
 * sim: the stand-in's shared vocabulary — its configuration (filled by
 * cli), the process-wide context, and the service descriptor every
 * svc_*.c module exports: a route table, the router family whose 404/405
 * it imitates, and optional hooks (gateway middleware, injected errors).
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "http.h"

enum gw_profile { GW_ORCHESTRATING, GW_ENHANCED };

enum sim_service_id {
    SVC_GATEWAY, SVC_TOKEN, SVC_OBLIGATION, SVC_LIQUIDITY, SVC_RISK, SVC_CLEARING,
    SVC_COMPLIANCE, SVC_REPORTING, SVC_SETTLEMENT, SVC_NOTIFICATION, SVC_WS_ALIAS,
    SVC_ANALYTICS, SVC_COUNT
};

struct sim_config {
    enum gw_profile profile;
    const char *listen;
    int port_offset;
    bool compose_ports;          /* --port-map compose: settlement 8087, reporting 8088 */
    bool enabled[SVC_COUNT];
    int64_t latency_ns, jitter_ns;
    double error_rate;
    uint64_t seed;
    bool seeded;
    const char *jwt_secret;
    bool auth;                   /* enhanced: ENABLE_AUTH */
    bool rate_limit;             /* both profiles */
    int g1_rpm, g1_burst;
    bool downstream_fail;        /* orchestrating: engines reject the gateway's calls */
    double blocked_rate;         /* orchestrating: compliance says no */
    bool analytics;              /* enhanced: ENABLE_ANALYTICS */
    bool fix_event_updates;      /* collector: apply updates instead of the real 500 */
    bool alias_strict;           /* 8090 alias demands user_id like 8089/ws */
    int64_t ws_ping_ns, ws_read_timeout_ns;
    bool ws_duplicate;
    int notify_limit;            /* per-user burst; 0 = unlimited */
    size_t max_records;
    bool quiet;
};

struct sim {
    struct sim_config cfg;
    uv_loop_t *loop;
    int64_t start_wall_ns, start_mono_ns;
    uint64_t requests, injected_errors; /* counters, shown at exit */
};

extern struct sim g_sim;

enum route_flags {
    ROUTE_NO_INJECT = 1, /* health: never delayed into an error */
};

struct route;
typedef void (*route_fn)(const struct route *rt, struct http_req *req, struct http_resp *resp);

struct route {
    const char *method;
    const char *pattern; /* "/api/v1/obligations/{}" — {} is one non-empty segment */
    route_fn fn;
    unsigned flags;
};

enum router_family {
    FAMILY_GO_MUX,  /* gorilla/mux: 404 text "404 page not found", 405 empty */
    FAMILY_ACTIX,   /* actix-web: 404 and 405 with empty bodies */
    FAMILY_FASTAPI, /* FastAPI: {"detail":"Not Found"} / {"detail":"Method Not Allowed"} */
};

struct service {
    const char *name;   /* "gateway", as in --services */
    int port;           /* the brief's port map */
    enum router_family family;
    const struct route *routes;
    size_t nroutes;
    bool trim_slash;    /* actix NormalizePath::trim (token, obligation engines) */
    void (*init)(void);
    void (*shutdown)(void);
    /* Middleware run for matched routes before the handler; true = it
     * answered (401, 429). It may also add headers and let it through. */
    bool (*before)(const struct route *rt, struct http_req *req, struct http_resp *resp);
    /* Run for matched routes once the response is final (who answered). */
    void (*after)(const struct route *rt, struct http_req *req, struct http_resp *resp);
    /* The 500 this service gives when --error-rate picks a request. */
    void (*injected_error)(const struct route *rt, struct http_req *req, struct http_resp *resp);
};

extern const struct service svc_gateway_g1, svc_gateway_g3, svc_token, svc_obligation,
    svc_liquidity, svc_risk, svc_clearing, svc_compliance, svc_reporting, svc_settlement,
    svc_notification, svc_ws_alias, svc_analytics;

/* The descriptor for an id under the configured profile. */
const struct service *sim_service(enum sim_service_id id);
int sim_port(enum sim_service_id id);
const char *sim_service_key(enum sim_service_id id); /* --services name */

#endif
