/*
 * setup_data: the file `volley setup -o FILE` writes and `volley run
 * --setup-data FILE` reads: setup:'s captures by name, so one setup serves
 * many instances (scale-out). JSON:
 *   {"volley_setup_data": 1, "values": {"token": "abc", "n": 3}, "secret": ["token"]}
 * A string capture is a JSON string, a JSON capture (a number, an object)
 * its JSON value; "secret" names the captures shown as *** in messages.
 */
#ifndef VOLLEY_SETUP_DATA_H
#define VOLLEY_SETUP_DATA_H

#include <stddef.h>

#include "vu.h"

/* The JSON text of `vals` (n slots named names[i]; unset slots left out).
 * Malloc'd, NULL when out of memory. */
char *setup_data_dump(const char *const *names, const vu_capture *vals, size_t n);
/* Reads FILE into n slots, one per names[i] (in the order of the spec's
 * setup captures): every name must have a value. Malloc'd (free with
 * setup_data_free), NULL + err. */
vu_capture *setup_data_load(const char *path, const char *const *names, size_t n,
                            char *err, size_t errcap);
void setup_data_free(vu_capture *vals, size_t n);

#endif
