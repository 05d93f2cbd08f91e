/*
 * checks-basic's keys that live in files of their own, listed in the
 * plugin's key table (checks_basic.c):
 *   check_value.c  `value`: a condition on a value, not on the response
 *                  (k6's check(Math.random(), ...)); it may stand in a
 *                  `check:` step that makes no request
 *   check_tls.c    `tls`: the response's TLS version, cipher suite and
 *                  stapled OCSP status (k6's r.tls_version,
 *                  r.tls_cipher_suite, r.ocsp.status)
 * Each reads only its condition and the response, so one condition runs
 * on every loop thread at once.
 */
#ifndef CHECKS_BASIC_INT_H
#define CHECKS_BASIC_INT_H

#include "volley/plugin.h"

extern const volley_option_map cb_value_map;
void *cb_value_compile(const volley_host *host, const void *config, char *err, size_t errcap);
void cb_value_free(void *cond);
bool cb_value_eval(const void *cond, const volley_response *resp, volley_memo *memo, char *msg,
                   size_t msgcap);

extern const volley_option_map cb_tls_map;
void *cb_tls_compile(const volley_host *host, const void *config, char *err, size_t errcap);
void cb_tls_free(void *cond);
bool cb_tls_eval(const void *cond, const volley_response *resp, volley_memo *memo, char *msg,
                 size_t msgcap);

#endif
