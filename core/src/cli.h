/* cli: the volley command line (run, validate, plugins, version). */
#ifndef VOLLEY_CLI_H
#define VOLLEY_CLI_H

int cli_main(int argc, char **argv);

#endif
