/*
 * server: the libuv TCP side — one listener per service port, HTTP/1.1
 * keep-alive connections with pipelining, responses held back by a timer
 * for --latency, and the hand-over of an upgraded connection to ws.
 * Single-threaded; nothing here blocks.
 */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <stddef.h>

#include "sim.h"

struct conn;

int server_listen(const struct service *svc, const char *addr, int port, char *err, size_t errcap);
/* Closes every listener and connection; run the loop afterwards so the
 * close callbacks free them. */
void server_shutdown(void);

void conn_send(struct conn *c, const char *data, size_t len);
/* Closes once queued writes are flushed. */
void conn_close_after_write(struct conn *c);
size_t server_connections(void);

#endif
