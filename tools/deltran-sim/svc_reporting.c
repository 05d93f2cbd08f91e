/*
 * The reporting engine (Go, deltran-api.md §4.8): report requests kept in
 * memory and "generated" at once (the real engine renders Excel/CSV into
 * S3 in the background); downloads return a small CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "sim.h"
#include "store.h"
#include "util.h"

struct report {
    char id[37];
    char *type, *format, *period_start, *period_end, *requested_by;
    int64_t created;
};

static struct store reports;

static void free_report(void *p)
{
    struct report *r = p;
    free(r->type);
    free(r->format);
    free(r->period_start);
    free(r->period_end);
    free(r->requested_by);
    free(r);
}

static void rp_init(void)
{
    store_init(&reports, g_sim.cfg.max_records, free_report);
}

static void rp_shutdown(void)
{
    store_destroy(&reports);
}

static void h_health(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char now[40];
    fmt_time_rfc3339(wall_ns(), now);
    reply_json(resp, 200,
               json_pack("{s:s, s:s, s:s, s:s}", "status", "healthy", "service", "reporting-engine", "version",
                         "1.0.0", "time", now),
               true);
}

static void h_metrics(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_raw(resp, 200, "text/plain; charset=utf-8", "# Reporting engine metrics\n");
}

static json_t *report_json(const struct report *r)
{
    char c[40];
    fmt_time_go(r->created, c);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", r->id, "type", r->type, "format",
                     r->format, "status", "completed", "period_start", r->period_start, "period_end", r->period_end,
                     "requested_by", r->requested_by, "created_at", c, "completed_at", c);
}

static struct report *add_report(const char *type, const char *format, const char *start, const char *end,
                                 const char *by)
{
    struct report *r = xcalloc(1, sizeof *r);
    uuid_v4(r->id);
    r->type = xstrdup(type);
    r->format = xstrdup(*format ? format : "excel");
    r->period_start = xstrdup(start);
    r->period_end = xstrdup(end);
    r->requested_by = xstrdup(*by ? by : "system");
    r->created = wall_ns();
    store_put(&reports, r->id, r);
    return r;
}

static void accepted(struct http_resp *resp)
{
    reply_json(resp, 202, json_pack("{s:s, s:s}", "message", "Report generation started", "status", "processing"),
               true);
}

static void h_generate(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    static const struct gofield f[] = { { "type", GO_STRING }, { "format", GO_STRING }, { "period_start", GO_STRING },
                                        { "period_end", GO_STRING }, { "parameters", GO_OBJECT },
                                        { "requested_by", GO_STRING } };
    json_t *in = go_decode(req, f, sizeof f / sizeof f[0]);
    if (!in) {
        reply_go_error(resp, 400, "Invalid request body");
        return;
    }
    const char *type = jstr(in, "type"), *ps = jstr(in, "period_start"), *pe = jstr(in, "period_end");
    int64_t t;
    if (!*type)
        reply_go_error(resp, 400, "type is required");
    else if (!*ps || !*pe || parse_datetime(ps, &t) != 0 || parse_datetime(pe, &t) != 0)
        reply_go_error(resp, 400, "period_start and period_end are required (RFC3339)");
    else if (strcmp(type, "aml") != 0 && strcmp(type, "settlement") != 0)
        reply_go_error(resp, 400, "unsupported report type");
    else {
        add_report(type, jstr(in, "format"), ps, pe, jstr(in, "requested_by"));
        accepted(resp);
    }
    json_decref(in);
}

static void daily(struct http_resp *resp, const char *type)
{
    int64_t now = wall_ns();
    char a[40], b[40];
    fmt_time_rfc3339(now - INT64_C(86400000000000), a);
    fmt_time_rfc3339(now, b);
    add_report(type, "excel", a, b, "scheduler");
    accepted(resp);
}

static void h_aml_daily(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    daily(resp, "aml");
}

static void h_settlement_daily(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    daily(resp, "settlement");
}

static void h_list(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    json_t *arr = json_array();
    for (const struct store_ent *e = reports.newest; e; e = e->older)
        json_array_append_new(arr, report_json(e->val));
    reply_json(resp, 200, arr, true);
}

static void h_get(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    const struct report *r = store_get(&reports, req->params[0]);
    if (!r)
        reply_go_error(resp, 404, "Report not found");
    else
        reply_json(resp, 200, report_json(r), true);
}

static void h_delete(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    if (!store_get(&reports, req->params[0])) {
        reply_go_error(resp, 404, "Report not found");
        return;
    }
    store_del(&reports, req->params[0]);
    resp->status = 204;
}

static void h_download(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    const struct report *r = store_get(&reports, req->params[0]);
    if (!r) {
        reply_go_error(resp, 404, "Report not found");
        return;
    }
    resp->status = 200;
    resp->ctype = "text/csv";
    resp_header(resp, "Content-Disposition", "attachment; filename=\"%s-%s.csv\"", r->type, r->id);
    sb_addf(&resp->body, "report_id,type,period_start,period_end\n%s,%s,%s,%s\n", r->id, r->type, r->period_start,
            r->period_end);
}

static void h_live(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    char now[40];
    fmt_time_go(wall_ns(), now);
    reply_json(resp, 200,
               json_pack("{s:i, s:i, s:i, s:s}", "reports_total", (int)reports.count, "reports_pending", 0,
                         "reports_failed", 0, "timestamp", now),
               true);
}

static void injected(const struct route *rt, struct http_req *req, struct http_resp *resp)
{
    reply_go_error(resp, 500, "injected by deltran-sim");
}

static const struct route routes[] = {
    { "GET", "/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/api/v1/health", h_health, ROUTE_NO_INJECT },
    { "GET", "/metrics", h_metrics, ROUTE_NO_INJECT },
    { "POST", "/api/v1/reports/generate", h_generate, 0 },
    { "POST", "/api/v1/reports/aml/daily", h_aml_daily, 0 },
    { "POST", "/api/v1/reports/settlement/daily", h_settlement_daily, 0 },
    { "GET", "/api/v1/reports", h_list, 0 },
    { "GET", "/api/v1/reports/{}/download", h_download, 0 },
    { "GET", "/api/v1/reports/{}", h_get, 0 },
    { "DELETE", "/api/v1/reports/{}", h_delete, 0 },
    { "GET", "/api/v1/metrics/live", h_live, 0 },
};

const struct service svc_reporting = {
    .name = "reporting", .port = 8087, .family = FAMILY_GO_MUX,
    .routes = routes, .nroutes = sizeof routes / sizeof routes[0],
    .init = rp_init, .shutdown = rp_shutdown, .injected_error = injected,
};
