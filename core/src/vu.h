/*
 * vu: the part of a virtual user that core modules other than the engine
 * read (templates render vu.id and vu.iteration). The engine embeds this
 * struct as the first member of its own VU state.
 */
#ifndef VOLLEY_VU_H
#define VOLLEY_VU_H

#include <stdint.h>

#include "volley/plugin.h"

struct volley_vu {
    uint64_t id;          /* 1-based, unique in the run */
    uint64_t iteration;   /* 0-based, per VU            */
};

static inline uint64_t vu_get_id(const volley_vu *vu) { return vu->id; }
static inline uint64_t vu_get_iteration(const volley_vu *vu) { return vu->iteration; }

#endif
