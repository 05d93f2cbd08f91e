/*
 * The clearing engine on 8085 (actix, deltran-api.md §4.5): the real one
 * is a stub at this version, and so is this — fixed answers.
 */
#include "reply.h"
#include "sim.h"
#include "util.h"

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:s}", "status", "healthy", "service", "clearing-engine", "version", "0.1.0"),
               false);
}

static void h_metrics(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_raw(resp, 200, "text/plain; version=0.0.4",
              "# HELP clearing_engine_up Clearing engine is up\n# TYPE clearing_engine_up gauge\nclearing_engine_up 1\n");
}

static void h_windows(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200, json_pack("{s:[]}", "windows"), false);
}

static void h_current(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    int64_t now = wall_ns();
    char a[40], b[40];
    fmt_time_rust(now, a);
    fmt_time_rust(now + INT64_C(6) * 3600 * 1000000000, b);
    reply_json(resp, 200,
               json_pack("{s:{s:I, s:s, s:s, s:s, s:i, s:s}}", "window", "id", (json_int_t)(now / 1000000000),
                         "status", "Open", "start_time", a, "end_time", b, "obligations_count", 0, "total_volume",
                         "0.00"),
               false);
}

static void h_cmetrics(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_json(resp, 200,
               json_pack("{s:i, s:i, s:f}", "total_windows", 0, "active_windows", 0, "netting_efficiency", 0.0), false);
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/metrics", h_metrics, ROUTE_NO_INJECT },
    { "GET", "/api/v1/clearing/windows", h_windows, 0 },
    { "GET", "/api/v1/clearing/windows/current", h_current, 0 },
    { "GET", "/api/v1/clearing/metrics", h_cmetrics, 0 },
};

const struct service svc_clearing = {
    .name = "clearing", .port = 8085, .family = FAMILY_ACTIX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0],
};
