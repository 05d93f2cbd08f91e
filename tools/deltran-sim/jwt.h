/*
 * jwt: compact JWS with HMAC (HS256 to sign; HS256/384/512 accepted, as
 * golang-jwt accepts any HMAC method for a []byte key). Signing uses
 * OpenSSL's HMAC; errors read like golang-jwt v5's, which the gateway
 * puts into its 401 bodies.
 */
#ifndef SIM_JWT_H
#define SIM_JWT_H

#include <jansson.h>
#include <stddef.h>

/* Returns a malloc'd token for the claims (not stolen). */
char *jwt_sign_hs256(const char *secret, const json_t *claims);
/* 0 and *claims (caller owns), or -1 with the reason; exp and nbf are
 * checked against now_s. */
int jwt_verify(const char *secret, const char *token, long long now_s, json_t **claims, char *err,
               size_t errcap);

#endif
