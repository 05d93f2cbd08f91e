#include "router.h"

#include <string.h>

#include "inject.h"
#include "reply.h"

bool router_match(const char *pattern, const char *path, struct http_req *req)
{
    const char *p = pattern, *s = path;
    int np = 0;
    size_t used = 0;
    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            const char *e = strchr(s, '/');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (n == 0 || np == 4 || used + n + 1 > sizeof req->params_buf)
                return false;
            memcpy(req->params_buf + used, s, n);
            req->params_buf[used + n] = '\0';
            req->params[np++] = req->params_buf + used;
            used += n + 1;
            s += n;
            p += 2;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            return false;
        }
    }
    if (*p || *s)
        return false;
    req->nparams = np;
    return true;
}

void router_not_found(const struct service *svc, struct http_resp *resp)
{
    switch (svc->family) {
    case FAMILY_GO_MUX:
        reply_go_error(resp, 404, "404 page not found");
        break;
    case FAMILY_ACTIX:
        resp->status = 404;
        break;
    case FAMILY_FASTAPI:
        reply_raw(resp, 404, "application/json", "{\"detail\":\"Not Found\"}");
        break;
    }
}

static void method_not_allowed(const struct service *svc, struct http_resp *resp)
{
    switch (svc->family) {
    case FAMILY_GO_MUX:
    case FAMILY_ACTIX:
        resp->status = 405;
        break;
    case FAMILY_FASTAPI:
        reply_raw(resp, 405, "application/json", "{\"detail\":\"Method Not Allowed\"}");
        break;
    }
}

void router_dispatch(const struct service *svc, struct http_req *req, struct http_resp *resp)
{
    char trimmed[1024];
    const char *path = req->path;
    size_t n = strlen(path);
    if (svc->trim_slash && n > 1 && path[n - 1] == '/' && n < sizeof trimmed) {
        while (n > 1 && path[n - 1] == '/')
            n--;
        memcpy(trimmed, path, n);
        trimmed[n] = '\0';
        path = trimmed;
    }
    const struct route *hit = NULL;
    bool path_known = false;
    for (size_t i = 0; i < svc->nroutes; i++) {
        const struct route *rt = &svc->routes[i];
        if (!router_match(rt->pattern, path, req))
            continue;
        if (strcmp(rt->method, req->method) == 0) {
            hit = rt;
            break;
        }
        path_known = true;
    }
    if (!hit) {
        if (path_known)
            method_not_allowed(svc, resp);
        else
            router_not_found(svc, resp);
        return;
    }
    if (svc->before && svc->before(hit, req, resp)) {
        /* answered by the middleware */
    } else if (!(hit->flags & ROUTE_NO_INJECT) && inject_error()) {
        g_sim.injected_errors++;
        if (svc->injected_error)
            svc->injected_error(hit, req, resp);
        else
            reply_raw(resp, 500, "text/plain; charset=utf-8", "Internal Server Error\n");
    } else {
        hit->fn(hit, req, resp);
    }
    if (svc->after)
        svc->after(hit, req, resp);
}
