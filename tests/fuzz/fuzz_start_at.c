/* libFuzzer: --start-at parsing, and printing back what it parsed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "start_at.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char s[257];
    memcpy(s, data, size);
    s[size] = '\0';
    char err[512], buf[40];
    int64_t ns, back;
    if (start_at_parse(s, &ns, err, sizeof err) == 0) {
        if (ns < 0)
            abort();
        /* The printed form (ms, UTC) parses back to the value cut to ms. */
        start_at_format(ns, buf, sizeof buf);
        if (start_at_parse(buf, &back, err, sizeof err) != 0 || back != ns - ns % 1000000)
            abort();
    }
    return 0;
}
