/*
 * cli: deltran-sim's flags into a sim_config. Strict: numbers must be
 * whole, probabilities within [0, 1], durations in the runner's syntax
 * (500us, 2ms, 1.5s), names from the lists shown by --help.
 */
#ifndef SIM_CLI_H
#define SIM_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "sim.h"

enum cli_result { CLI_RUN = 0, CLI_HELP = 1, CLI_ERROR = -1 };

enum cli_result cli_parse(int argc, char **argv, struct sim_config *cfg, char *err, size_t errcap);
void cli_usage(FILE *out);

#endif
