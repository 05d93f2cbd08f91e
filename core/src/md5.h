/*
 * md5: RFC 1321's digest as 32 lowercase hex digits, for the ids k6 gives
 * groups and checks (the md5 of their path), so --summary-json's ids are
 * the ones k6 would write. Not for anything that needs a secure hash.
 */
#ifndef VOLLEY_MD5_H
#define VOLLEY_MD5_H

#include <stddef.h>

void md5_hex(const void *data, size_t len, char out[33]);

#endif
