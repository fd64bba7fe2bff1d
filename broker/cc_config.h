/*  cc_config.h - command-line options and ZPL config files, one table.

    Every program describes its options once, as a cc_option_t table; the
    same table drives --help, the command line and the ZPL file given with
    -c FILE (czmq zconfig). In the file each option is a key under the
    section path named by the program (e.g. "broker", or "certcast/publish"
    for a sub-command, so one file can serve several sub-commands); a
    repeatable option may appear several times. Options on the command line
    override the file. cc_config_t owns every string it returns.
*/
#ifndef CC_CONFIG_H_INCLUDED
#define CC_CONFIG_H_INCLUDED

typedef struct {
    const char *name;           //  long option (--name) and ZPL key
    const char *arg;            //  placeholder ("HOST:PORT"); NULL: a flag
    const char *help;           //  one line
    const char *fallback;       //  default value, or NULL
    bool repeatable;            //  may be given more than once
} cc_option_t;

typedef struct _cc_config_t cc_config_t;

//  Parse argv (argv[0] is the program or sub-command name) against the
//  options table (terminated by an entry with name NULL). Also accepts
//  -c FILE, -h/--help and, for a program (a section without '/', not a
//  certcast sub-command), -v/--verbose. Positional arguments are kept.
//  Returns NULL and sets *exit_code: 0 after printing --help, 2 after a
//  one-line usage error on stderr, 1 for an unreadable config file.
cc_config_t *
    cc_config_new (const char *section, const char *usage,
                   const cc_option_t *options, int argc, char **argv,
                   int *exit_code);

void
    cc_config_destroy (cc_config_t **self_p);

//  Last value of an option (command line over file over fallback); NULL
//  if unset. For a flag, "1" when set.
const char *
    cc_config_get (cc_config_t *self, const char *name);
//  Every value of a repeatable option, in order (command line values
//  replace file values). Comma-separated values are split. Returns a
//  NULL-terminated array owned by self.
const char **
    cc_config_all (cc_config_t *self, const char *name);
bool
    cc_config_flag (cc_config_t *self, const char *name);
bool
    cc_config_verbose (cc_config_t *self);
//  Numeric value with bounds; -1 (and a one-line error) if not a number
//  in [min, max]. Unset: the fallback, or `otherwise`.
int64_t
    cc_config_int (cc_config_t *self, const char *name, int64_t min,
                   int64_t max, int64_t otherwise);

size_t
    cc_config_positionals (cc_config_t *self);
const char *
    cc_config_positional (cc_config_t *self, size_t index);

//  Print the usage and options table to stream.
void
    cc_config_usage (cc_config_t *self, FILE *stream);

//  What is wrong with a node, stream origin or sector name, or NULL.
//  Stream names are ORIGIN/SECTOR, split at the '/', and a name is kept
//  in 64-byte fields (roster via, relay names): 1 to 63 of [a-z0-9-].
const char *
    cc_config_name_problem (const char *name);

//  Parse HOST:PORT; -1 on anything else. host must hold 256 bytes.
int
    cc_config_endpoint (const char *text, char *host, int *port);

//  Parse a duration like "24h", "90m", "30s", "7d" or plain seconds, up
//  to a century (36500d). -1 on anything else.
int64_t
    cc_config_duration (const char *text);

void
    cc_config_test (bool verbose);

#endif
