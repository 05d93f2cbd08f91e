/* libFuzzer: duration parsing and printing round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char s[257];
    memcpy(s, data, size);
    s[size] = '\0';
    char err[256], buf[64];
    int64_t ns, back;
    if (duration_parse(s, &ns, err, sizeof err) == 0) {
        duration_format(ns, buf, sizeof buf);
        /* What we print must parse back to the same value. */
        if (duration_parse(buf, &back, err, sizeof err) != 0 || back != ns)
            abort();
    }
    return 0;
}
