/* volley: the load-testing runner. The command line lives in cli.c. */
#include "cli.h"

int main(int argc, char **argv) { return cli_main(argc, argv); }
