/* libFuzzer: --execution-segment and --execution-segment-sequence parsing;
 * a tuple from what parsed, whose instances' shares must add up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char s[257];
    memcpy(s, data, size);
    s[size] = '\0';
    /* "SEGMENT|SEQUENCE" or a segment alone */
    char *bar = strchr(s, '|');
    if (bar)
        *bar = '\0';
    char err[512], buf[4096];
    seg_segment seg;
    seg_rat pts[64];
    size_t n = 0;
    if (seg_parse_segment(s, &seg, err, sizeof err) != 0)
        return 0;
    seg_segment_format(&seg, buf, sizeof buf);
    seg_segment back;
    if (seg_parse_segment(buf, &back, err, sizeof err) != 0 || memcmp(&back, &seg, sizeof seg) != 0)
        abort();
    if (bar && seg_parse_sequence(bar + 1, pts, 64, &n, err, sizeof err) != 0)
        return 0;
    seg_tuple t;
    if (seg_tuple_init(&t, &seg, pts, n, err, sizeof err) != 0)
        return 0;
    if (t.seq.lcd <= 10000) {
        for (int64_t v = 0; v < 50; v += 7) {
            int64_t sum = 0;
            for (size_t i = 0; i < t.seq.n; i++)
                sum += seg_scale(&t.seq.stripes[i], v);
            if (sum != v)
                abort();
        }
    }
    seg_tuple_free(&t);
    return 0;
}
