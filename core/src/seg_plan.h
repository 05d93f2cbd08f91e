/*
 * seg_plan: one instance's share of a loaded spec under
 * --execution-segment (segment.h does the math), scaled as k6's executors
 * scale: VUs of every executor; shared-iterations' iterations by how its
 * VUs split; arrival-rate's pre_allocated_vus and max_vus, with the
 * instance firing only its own indexes of the global arrival schedule;
 * ramping-vus' target at every instant. A scenario whose share is zero is
 * skipped and said so (stderr now, the summary's warnings later).
 */
#ifndef VOLLEY_SEG_PLAN_H
#define VOLLEY_SEG_PLAN_H

#include <stdio.h>

#include "segment.h"
#include "spec.h"

/* Rewrites s's scenarios for the tuple's segment (their stripes live in
 * s's arena); `segment` is the normalized text for messages. Notes on
 * skipped scenarios go to `note` (may be NULL). 0, or -1 with err. */
int seg_plan_apply(spec *s, const seg_tuple *t, const char *segment, FILE *note, char *err,
                   size_t errcap);

#endif
