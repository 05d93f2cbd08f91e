/*
 * router: matches a request against a service's route table and runs the
 * chain the real service runs — middleware, error injection, handler —
 * or answers 404/405 the way that service's web framework does.
 */
#ifndef SIM_ROUTER_H
#define SIM_ROUTER_H

#include "sim.h"

void router_dispatch(const struct service *svc, struct http_req *req, struct http_resp *resp);
void router_not_found(const struct service *svc, struct http_resp *resp);
/* Whether pattern matches path; fills req params when it does. */
bool router_match(const char *pattern, const char *path, struct http_req *req);

#endif
