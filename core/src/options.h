/*
 * options: checks a YAML node against a plugin's (or the core's) typed
 * option map and fills the config struct. All errors of one node are
 * reported in one pass, each with file:line:column and the key path; unknown
 * keys list the valid ones and suggest the closest.
 */
#ifndef VOLLEY_OPTIONS_H
#define VOLLEY_OPTIONS_H

#include "arena.h"
#include "diag.h"
#include "template.h"
#include "volley/plugin.h"
#include "yaml_tree.h"

typedef struct opt_ctx {
    arena *a;                  /* owns every value written into configs */
    const tmpl_scope *scope;   /* resolves ${...} in TEMPLATE/JSON values */
    diag *d;
    /* Keys the caller reads itself beside the map's (a scenario's flow and
     * use): named in unknown-key messages and suggestions. */
    const char *const *extra_keys;
    size_t n_extra_keys;
    /* Compile VOLLEY_OPT_CHECKS / VOLLEY_OPT_CAPTURES values (the spec
     * loader's, which knows the check plugins, the group and the capture
     * slots). NULL: such options are an error here. Return NULL after
     * reporting to d. */
    volley_checks *(*compile_checks)(void *ctx, const ynode *n, const char *path,
                                     bool match_only);
    volley_captures *(*compile_captures)(void *ctx, const ynode *n, const char *path);
    void *compile_ctx;
    /* Check items' and outputs' plain string options (STRING, string
     * SCALARs): fold ${...} known at load time (env.*, services.*) into
     * the text, refuse the rest. Without it (the core's own maps, protocol
     * steps) such strings are taken as written. */
    bool fold_strings;
    bool folding;              /* inside a folded ${env.*} value (options.c) */
    /* Called with every option value written in the spec: the address of
     * its field in the config being filled, its node and key path (the
     * spec loader maps a plugin's config_error back to the place). NULL:
     * nobody asks. Gets compile_ctx. */
    void (*seen)(void *ctx, const void *field, const ynode *n, const char *path);
    /* VOLLEY_OPT_FILE values checked so far, by place and text: a value
     * inherited by many steps is resolved and reported once. In the arena. */
    struct opt_file_seen *files;
    size_t n_files, cap_files;
} opt_ctx;

/* Fills `config` (map->config_size bytes, zeroed here) from `node`: a
 * mapping, or a scalar/sequence read as { shorthand: node }, or NULL for
 * defaults only. `path` names the node in messages. 0 or -1. */
int opt_fill(opt_ctx *c, const volley_option_map *map, const ynode *node,
             void *config, const char *path);
/* Fills from a command-line argument given for the shorthand option (for
 * "--out json-out=FILE"). `what` names the argument in messages. */
int opt_fill_arg(opt_ctx *c, const volley_option_map *map, const char *arg,
                 void *config, const char *what);
/* Types a run-time value's rendered text as a YAML scalar written there
 * would be typed (quoted: a string). out->s points at text. */
int opt_type_text(const char *text, bool quoted, volley_scalar *out);
/* Validates a map's own declaration (plugin author errors): 0 or -1 + err. */
int opt_check_map(const volley_option_map *map, char *err, size_t errcap);
/* One line per option ("name  type  default  help") for `volley plugins -v`. */
const char *opt_type_name(volley_opt_type t);

#endif
