/*
 * setup_data: the file `volley setup -o FILE` writes and `volley run
 * --setup-data FILE` reads: setup:'s captures by name, so one setup serves
 * many instances (scale-out). JSON:
 *   {"volley_setup_data": 1, "values": {"token": "abc", "n": 3}, "secret": ["token"],
 *    "spec_sha256": "9f2c...", "made": "2026-12-07T08:00:00Z"}
 * A string capture is a JSON string, a JSON capture (a number, an object)
 * its JSON value; "secret" names the captures shown as *** in messages.
 * spec_sha256 is the spec's as the --result meta line has it
 * (result_spec_sha256): a file made from another spec is refused; "made"
 * (UTC, when setup ended) is for the reader. Files of older volleys have
 * neither: accepted with a warning.
 */
#ifndef VOLLEY_SETUP_DATA_H
#define VOLLEY_SETUP_DATA_H

#include <stddef.h>
#include <stdio.h>

#include "vu.h"

/* The JSON text of `vals` (n slots named names[i]; unset slots left out),
 * stamped with spec_sha256 ("" or NULL: left out) and the time now.
 * Malloc'd, NULL when out of memory. */
char *setup_data_dump(const char *const *names, const vu_capture *vals, size_t n,
                      const char *spec_sha256);
/* Reads FILE into n slots, one per names[i] (in the order of the spec's
 * setup captures): every name must have a value, and the file's spec must
 * be spec_sha256 (NULL or "": not checked; a file without one: a warning
 * to note). Malloc'd (free with setup_data_free), NULL + err. */
vu_capture *setup_data_load(const char *path, const char *spec_sha256, const char *const *names,
                            size_t n, FILE *note, char *err, size_t errcap);
void setup_data_free(vu_capture *vals, size_t n);

#endif
