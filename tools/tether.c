/*
 * tether.c - the `tether` command-line tool: dispatch to the subcommands.
 *
 *   tether serve    an echo (or broadcast) WebSocket server
 *   tether connect  a client that joins stdin/stdout to a WebSocket
 *   tether URL      the same as `tether connect URL`, as with websocat
 *   tether bench    a load generator against an echo server
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const char usage[] =
    "usage: tether <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--host H] [--port P] ...   run an echo (or --broadcast) server\n"
    "  connect URL [--echo] ...          send stdin lines, print received messages\n"
    "  URL [options]                     the same as connect URL, for ws:// and wss:// URLs\n"
    "  bench URL [--connections N] ...   measure an echo server's throughput and latency\n"
    "\n"
    "  tether --version                  print the library's version\n"
    "  tether <command> --help           details of one command\n";

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
    {"serve", cli_serve},
    {"connect", cli_connect},
    {"bench", cli_bench},
};

static int is_ws_url(const char *s) {
    return !strncasecmp(s, "ws://", 5) || !strncasecmp(s, "wss://", 6);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("%s\n", tether_version());
        return CLI_EXIT_OK;
    }
    /* connect parses from argv[1], where the URL already is; argv[0] is
     * only getopt's name for its messages. */
    if (is_ws_url(cmd)) return cli_connect(argc, argv);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tether: unknown command '%s'\n\n%s", cmd, usage);
    return CLI_EXIT_USAGE;
}
