/*  certcast.c - the operator tool: a table of subcommands, each in its own
    cmd_*.c file, dispatched by name.

        certcast COMMAND [options]      run one subcommand
        certcast help [COMMAND]         this list, or COMMAND --help
        certcast COMMAND --help         the subcommand's options

    Exit codes are the contract of DESIGN.md: 0 ok, 1 refused or failed
    (one line on stderr), 2 usage.
*/
#include "cmd.h"

typedef struct {
    const char *name;
    int (*handler) (int argc, char **argv);
    const char *help;
} s_command_t;

static const s_command_t s_commands [] = {
    { "keygen", cmd_keygen,
      "create a key pair (signing + CurveZMQ): NAME.key and NAME.pub" },
    { "delegate", cmd_delegate,
      "sign an issuer's delegation with the root key" },
    { "publish", cmd_publish,
      "sign an advisory and publish it; exits 0 once it is stored" },
    { "status", cmd_status,
      "ask a broker or relay for its status (JSON)" },
    { "ledger", cmd_ledger,
      "list the acknowledgements in a data directory" },
    { "compliance", cmd_compliance,
      "Rule 26 report: who acknowledged each advisory, who did not" },
    { NULL, NULL, NULL }
};

static void
s_usage (FILE *stream)
{
    fprintf (stream, "usage: certcast COMMAND [options]\n"
                     "       certcast help [COMMAND]\n\ncommands:\n");
    for (const s_command_t *command = s_commands; command->name; command++)
        fprintf (stream, "  %-12s %s\n", command->name, command->help);
    fprintf (stream, "\n'certcast help COMMAND' or 'certcast COMMAND --help' "
                     "shows a command's options;\nevery option can also come "
                     "from a ZPL file given with -c FILE (section\n"
                     "certcast/COMMAND).\n");
}

static const s_command_t *
s_find (const char *name)
{
    for (const s_command_t *command = s_commands; command->name; command++)
        if (streq (command->name, name))
            return command;
    return NULL;
}

int
main (int argc, char **argv)
{
    //  A command-line tool: Ctrl-C should just end it, and czmq's log
    //  lines (from the library modules) must never mix into stdout, which
    //  carries JSON and CSV.
    zsys_handler_set (NULL);
    //  No OpenSSL cleanup at exit: czmq's detached actor threads may still
    //  be exiting then, and would free their OpenSSL state a second time.
    OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT, NULL);
    zsys_set_logident ("certcast");
    zsys_set_logstream (stderr);

    if (argc < 2) {
        s_usage (stderr);
        return 2;
    }
    const char *name = argv [1];
    if (streq (name, "-h") || streq (name, "--help")) {
        s_usage (stdout);
        return 0;
    }
    if (streq (name, "help")) {
        if (argc < 3) {
            s_usage (stdout);
            return 0;
        }
        const s_command_t *command = s_find (argv [2]);
        if (!command) {
            fprintf (stderr, "certcast: unknown command '%s'\n", argv [2]);
            s_usage (stderr);
            return 2;
        }
        char *help_argv [] = { (char *) command->name, "--help", NULL };
        return command->handler (2, help_argv);
    }
    const s_command_t *command = s_find (name);
    if (!command) {
        fprintf (stderr, "certcast: unknown command '%s'\n", name);
        s_usage (stderr);
        return 2;
    }
    return command->handler (argc - 1, argv + 1);
}
