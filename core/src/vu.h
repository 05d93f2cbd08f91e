/*
 * vu: the part of a virtual user that core modules other than the engine
 * read: templates render vu.id, vu.iteration, the iteration's pool row,
 * captured values and random values from the VU's own stream. The engine
 * embeds this struct as the first member of its own VU state.
 */
#ifndef VOLLEY_VU_H
#define VOLLEY_VU_H

#include <stdint.h>

#include "volley/plugin.h"

struct pool_value;

/* A value captured from a response, visible to later steps of the same
 * iteration. The buffer is the VU's and only grows. */
enum { CAP_UNSET = 0, CAP_STRING, CAP_JSON };
typedef struct vu_capture {
    volley_buf val;       /* NUL-terminated text */
    uint8_t kind;         /* CAP_JSON: val is JSON text (number, object...) */
    uint8_t secret;       /* never shown (capture_def.secret): a failure
                             reason that quotes it shows *** */
} vu_capture;

/* Pools one scenario may `use:` at once. */
#define VU_MAX_POOLS 8
/* Secret-derived values a VU keeps for redaction (template.c). */
#define VU_DERIVED 4

struct volley_vu {
    uint64_t id;                    /* 1-based, unique in the run */
    uint64_t iteration;             /* 0-based, per VU            */
    uint64_t rng;                   /* rng.h stream state         */
    /* The iteration's row of each pool of the scenario's `use:` (in its
     * order), NULL before the first pick. */
    const struct pool_value *rows[VU_MAX_POOLS];
    vu_capture *caps;               /* the scenario's capture slots, or NULL */
    /* ${setup.NAME}: the run's setup values (the setup VU's capture slots),
     * through the engine's pointer, set before any VU that reads them runs;
     * NULL or *setup NULL: none (renders as unset). */
    vu_capture *const *setup;
    /* A lane of a batch (engine_batch.c) is a volley_vu of its own that
     * acts for its VU: this is the VU's; NULL on a VU itself. */
    struct volley_vu *lane_of;
    /* The last VU_DERIVED values template functions derived at run time
     * from a secret (an hmac with a secret key, the base64 of a captured
     * token): secret slots, so a failure reason that quotes one shows ***.
     * Freed by tmpl_vu_free. */
    vu_capture derived[VU_DERIVED];
    unsigned derived_next;
};

static inline uint64_t vu_get_id(const volley_vu *vu) { return vu->id; }
static inline uint64_t vu_get_iteration(const volley_vu *vu) { return vu->iteration; }

#endif
