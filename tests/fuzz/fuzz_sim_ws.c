/* libFuzzer: deltran-sim's WebSocket frame parser and message handling
 * (ws.c) on one session, with the server side stubbed: the input is fed
 * in two chunks split where its first byte says, as reads would split it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http.h"
#include "server.h"
#include "sim.h"
#include "ws.h"

struct sim g_sim;
static size_t sent;

void conn_send(struct conn *c, const char *data, size_t len)
{
    (void)c;
    (void)data;
    sent += len;
}

void conn_close_after_write(struct conn *c)
{
    (void)c;
}

size_t server_connections(void)
{
    return 0;
}

static void setup(void)
{
    static uv_loop_t loop;
    if (g_sim.loop)
        return;
    uv_loop_init(&loop);
    g_sim.loop = &loop;
    g_sim.cfg.ws_ping_ns = 30 * INT64_C(1000000000);
    g_sim.cfg.ws_read_timeout_ns = 60 * INT64_C(1000000000);
    ws_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char head[] = "GET /ws?user_id=u1 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    struct http_req req;
    int status;
    if (http_parse(head, sizeof head - 1, &req, &status) != HTTP_PARSE_DONE)
        abort();
    struct http_resp resp;
    resp_init(&resp);
    ws_handshake(&req, &resp, true);
    struct ws_session *s = resp.upgrade;
    resp_free(&resp);
    if (!s)
        abort();
    ws_attach(s, (struct conn *)&sent);
    size_t split = size ? data[0] % (size + 1) : 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    long used = ws_on_data(s, buf, split);
    if (used >= 0) {
        /* what was not consumed stays in front, as in the server's buffer */
        size_t rest = size - (size_t)used;
        memmove(buf, buf + used, rest);
        used = ws_on_data(s, buf, rest);
        if (used > (long)rest)
            abort();
    }
    ws_notify("u1", NULL, NULL);
    free(buf);
    ws_free(s);
    return 0;
}
