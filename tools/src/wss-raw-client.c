/* The baseline of tools/bench --only wss-connect: the least a client can do
 * per wss:// connect with OpenSSL, one connection after the other on one
 * thread. Each iteration: TCP connect, a full TLS handshake (the CA loaded
 * once, the certificate verified for the IP, no session kept or offered),
 * the HTTP Upgrade request with a fresh Sec-WebSocket-Key, the 101 answer
 * read and its Sec-WebSocket-Accept checked, a masked close frame (1000),
 * the server's close frame (or EOF) awaited, close_notify, close.
 *
 * Usage: wss-raw-client HOST PORT PATH CA_FILE SECONDS
 * Prints "connects N failed F". Bench tool, not part of volley. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one(SSL_CTX *ctx, const struct sockaddr_in *sa, const char *host, const char *path) {
    int ok = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    SSL *ssl = NULL;
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0)
        goto out;
    ssl = SSL_new(ctx);
    if (!ssl || !SSL_set_fd(ssl, fd) ||
        !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) || SSL_connect(ssl) != 1)
        goto out;

    unsigned char raw[16];
    char key[32], req[512], want[64], resp[2048];
    if (RAND_bytes(raw, sizeof raw) != 1)
        goto out;
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, host, ntohs(sa->sin_port), key);
    if (SSL_write(ssl, req, n) != n)
        goto out;

    /* The accept value the server must send back: base64(SHA-1(key + GUID)). */
    char cat[96];
    unsigned char sha[SHA_DIGEST_LENGTH];
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1((const unsigned char *)cat, strlen(cat), sha);
    EVP_EncodeBlock((unsigned char *)want, sha, sizeof sha);

    size_t got = 0;
    char *end = NULL;
    while (!end && got < sizeof resp - 1) {
        int r = SSL_read(ssl, resp + got, (int)(sizeof resp - 1 - got));
        if (r <= 0)
            goto out;
        got += (size_t)r;
        resp[got] = '\0';
        end = strstr(resp, "\r\n\r\n");
    }
    if (!end || strncmp(resp, "HTTP/1.1 101", 12) != 0 || !strstr(resp, want))
        goto out;

    /* Close 1000, masked as a client must; then wait for the server's close. */
    unsigned char frame[8] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
    if (RAND_bytes(frame + 2, 4) != 1)
        goto out;
    frame[6] ^= frame[2];
    frame[7] ^= frame[3];
    if (SSL_write(ssl, frame, sizeof frame) != (int)sizeof frame)
        goto out;
    /* Bytes after the handshake answer are frames already: the close may be there. */
    size_t have = got - (size_t)(end + 4 - resp);
    memmove(resp, end + 4, have);
    for (;;) {
        if (have >= 2 && (resp[0] & 0x0f) == 8)
            break;
        if (have >= 2) {   /* a data frame before the close: skip it */
            size_t len = (unsigned char)resp[1] & 0x7f, hdr = 2;
            if (len >= 126)
                break;     /* the echo server sends nothing this big here */
            if (have >= hdr + len) {
                memmove(resp, resp + hdr + len, have - hdr - len);
                have -= hdr + len;
                continue;
            }
        }
        int r = SSL_read(ssl, resp + have, (int)(sizeof resp - have));
        if (r <= 0)
            break;         /* EOF without a close frame still ends it */
        have += (size_t)r;
    }
    ok = 1;
    SSL_shutdown(ssl);
out:
    SSL_free(ssl);
    close(fd);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT PATH CA_FILE SECONDS\n", argv[0]);
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        fprintf(stderr, "HOST must be an IPv4 address\n");
        return 2;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[4], NULL) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);   /* full handshakes only */
    double stop = now_s() + atof(argv[5]);
    long connects = 0, failed = 0;
    while (now_s() < stop) {
        if (one(ctx, &sa, argv[1], argv[3]))
            connects++;
        else
            failed++;
    }
    printf("connects %ld failed %ld\n", connects, failed);
    SSL_CTX_free(ctx);
    return 0;
}
