/* libFuzzer: threshold expressions and sub-metric keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "threshold.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char err[512];
    th_expr e;
    if (th_parse(s, &e, err, sizeof err) == 0)
        (void)th_holds(&e, 1.0);
    th_metric_key k;
    if (th_parse_metric_key(s, &k, err, sizeof err) == 0)
        th_key_free(&k);
    free(s);
    return 0;
}
