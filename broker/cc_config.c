/*  cc_config.c - command-line options and ZPL config files, one table.

    cc_config_t owns a zhashx of option name -> zlist of strings (values as
    given), the positional arguments, and the parsed zconfig tree. Command
    line values for an option replace the file's values for that option.
*/
#include "cc_broker.h"

struct _cc_config_t {
    const char *section;            //  ZPL section ("broker", "certcast/publish")
    char program [64];              //  section as users say it, for messages
    const char *usage;              //  one-line synopsis
    const cc_option_t *options;     //  caller's table (static storage)
    zhashx_t *values;               //  name -> zlistx of char * (owned)
    zlistx_t *positionals;          //  char * (owned)
    zhashx_t *arrays;               //  name -> NULL-terminated char ** cache
    bool takes_verbose;             //  a daemon: -v means something
    bool verbose;                   //  -v given
};

static void
s_list_destroy (void **item)
{
    zlistx_destroy ((zlistx_t **) item);
}

static void
s_array_destroy (void **item)
{
    char **array = (char **) *item;
    if (array) {
        for (char **cursor = array; *cursor; cursor++)
            free (*cursor);
        free (array);
    }
    *item = NULL;
}

static zlistx_t *
s_string_list (void)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (list, (zlistx_duplicator_fn *) strdup);
    return list;
}

static const cc_option_t *
s_find (const cc_option_t *options, const char *name)
{
    for (const cc_option_t *option = options; option->name; option++)
        if (streq (option->name, name))
            return option;
    return NULL;
}

//  Set (replace == true) or add a value for an option.
static void
s_put (cc_config_t *self, const char *name, const char *value, bool replace)
{
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->values, name);
    if (!list) {
        list = s_string_list ();
        zhashx_insert (self->values, name, list);
    }
    else
    if (replace)
        zlistx_purge (list);
    zlistx_add_end (list, (void *) value);
}

static bool
s_one_of (const char *value, const char *a, const char *b, const char *c,
          const char *d)
{
    return value && (streq (value, a) || streq (value, b) || streq (value, c)
                     || streq (value, d));
}

//  zconfig_load, with czmq's own log line about a syntax error (czmq logs
//  to stdout) caught and put into *reason for the caller's one line.
static zconfig_t *
s_zconfig_load (const char *path, char *reason, size_t size)
{
    snprintf (reason, size, "not a ZPL file");
    FILE *capture = tmpfile ();
    int saved = capture? dup (STDOUT_FILENO): -1;
    fflush (stdout);
    if (saved >= 0)
        dup2 (fileno (capture), STDOUT_FILENO);
    zconfig_t *root = zconfig_load (path);
    fflush (stdout);
    if (saved >= 0) {
        dup2 (saved, STDOUT_FILENO);
        close (saved);
    }
    if (capture && !root) {
        char line [256] = "";
        rewind (capture);
        const char *said = fgets (line, sizeof line, capture)?
                           strstr (line, "(zconfig): "): NULL;
        if (said) {
            snprintf (reason, size, "%s", said + strlen ("(zconfig): "));
            reason [strcspn (reason, "\n")] = 0;
        }
    }
    if (capture)
        fclose (capture);
    return root;
}

//  Load the ZPL file: every option that appears under the section.
static int
s_load_file (cc_config_t *self, const char *path)
{
    if (access (path, R_OK)) {
        fprintf (stderr, "%s: cannot read config file %s: %s\n",
                 self->program, path, strerror (errno));
        return -1;
    }
    char reason [200];
    zconfig_t *root = s_zconfig_load (path, reason, sizeof reason);
    if (!root) {
        fprintf (stderr, "%s: config file %s: %s\n",
                 self->program, path, reason);
        return -1;
    }
    //  A file without our section is a file meant for another program
    //  (or a misspelt section): running on defaults instead would quietly
    //  make a new data directory and keys.
    zconfig_t *section = zconfig_locate (root, self->section);
    if (!section) {
        fprintf (stderr, "%s: %s has no '%s' section\n",
                 self->program, path, self->section);
        zconfig_destroy (&root);
        return -1;
    }
    for (zconfig_t *item = zconfig_child (section); item;
         item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        const cc_option_t *option = s_find (self->options, name);
        const char *value = zconfig_value (item);
        const char *problem = option? NULL: "is not an option";
        if (option && !option->arg) {
            //  A flag says yes or no in a file; "no" must not turn it on.
            if (s_one_of (value, "yes", "true", "1", "on"))
                value = "1";
            else
            if (s_one_of (value, "no", "false", "0", "off"))
                value = "0";
            else
                problem = "takes yes or no";
        }
        if (problem) {
            fprintf (stderr, "%s: '%s' in %s %s\n",
                     self->program, name, path, problem);
            zconfig_destroy (&root);
            return -1;
        }
        s_put (self, name, value, !option->repeatable);
    }
    zconfig_destroy (&root);
    return 0;
}

void
cc_config_usage (cc_config_t *self, FILE *stream)
{
    fprintf (stream, "usage: %s\n\noptions:\n", self->usage);
    for (const cc_option_t *option = self->options; option->name; option++) {
        char left [64];
        snprintf (left, sizeof left, "--%s%s%s", option->name,
                  option->arg? " ": "", option->arg? option->arg: "");
        fprintf (stream, "  %-26s %s", left, option->help);
        if (option->fallback)
            fprintf (stream, " (default %s)", option->fallback);
        if (option->repeatable)
            fprintf (stream, " [repeatable]");
        fprintf (stream, "\n");
    }
    fprintf (stream, "  %-26s %s\n", "-c FILE",
             "read options from a ZPL file (command line wins)");
    if (self->takes_verbose)
        fprintf (stream, "  %-26s %s\n", "-v, --verbose",
                 "verbose (debug) logging");
    fprintf (stream, "  %-26s %s\n", "-h, --help", "this help");
}

static void
s_usage_error (cc_config_t *self, const char *fmt, const char *what)
{
    fprintf (stderr, "%s: ", self->program);
    fprintf (stderr, fmt, what);
    fprintf (stderr, " (try --help)\n");
}

cc_config_t *
cc_config_new (const char *section, const char *usage,
               const cc_option_t *options, int argc, char **argv,
               int *exit_code)
{
    assert (section && usage && options && exit_code);
    cc_config_t *self = (cc_config_t *) zmalloc (sizeof (cc_config_t));
    self->section = section;
    //  "certcast/publish" is the command "certcast publish"; "broker" is
    //  the program certcast-broker.
    snprintf (self->program, sizeof self->program, "%s%s",
              strchr (section, '/')? "": "certcast-", section);
    for (char *slash = strchr (self->program, '/'); slash;
         slash = strchr (slash, '/'))
        *slash = ' ';
    self->usage = usage;
    self->options = options;
    //  Only the daemons log: a certcast sub-command prints its result and
    //  at most one line on failure, so -v would be accepted and ignored.
    self->takes_verbose = !strchr (section, '/');
    self->values = zhashx_new ();
    zhashx_set_destructor (self->values, s_list_destroy);
    self->arrays = zhashx_new ();
    zhashx_set_destructor (self->arrays, s_array_destroy);
    self->positionals = s_string_list ();

    //  Two passes: the config file first, so the command line overrides
    //  it wherever the argument order puts -c.
    const char *config_file = NULL;
    for (int index = 1; index < argc; index++)
        if (streq (argv [index], "-c") && index + 1 < argc) {
            if (config_file) {
                s_usage_error (self, "%s given twice", "-c");
                *exit_code = 2;
                cc_config_destroy (&self);
                return NULL;
            }
            config_file = argv [++index];
        }
    if (config_file && s_load_file (self, config_file)) {
        *exit_code = 1;
        cc_config_destroy (&self);
        return NULL;
    }
    zhashx_t *from_command_line = zhashx_new ();
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        if (streq (arg, "-h") || streq (arg, "--help")) {
            cc_config_usage (self, stdout);
            *exit_code = 0;
            zhashx_destroy (&from_command_line);
            cc_config_destroy (&self);
            return NULL;
        }
        if (self->takes_verbose
        &&  (streq (arg, "-v") || streq (arg, "--verbose"))) {
            self->verbose = true;
            continue;
        }
        if (streq (arg, "-c")) {
            if (index + 1 >= argc) {
                s_usage_error (self, "%s needs a FILE", "-c");
                goto usage;
            }
            index++;
            continue;
        }
        if (streq (arg, "--")) {
            while (++index < argc)
                zlistx_add_end (self->positionals, argv [index]);
            break;
        }
        if (arg [0] == '-' && arg [1] == '-') {
            char name [64];
            const char *equals = strchr (arg + 2, '=');
            size_t length = equals? (size_t) (equals - arg - 2): strlen (arg + 2);
            if (length >= sizeof name) {
                s_usage_error (self, "unknown option %s", arg);
                goto usage;
            }
            memcpy (name, arg + 2, length);
            name [length] = 0;
            const cc_option_t *option = s_find (options, name);
            if (!option) {
                s_usage_error (self, "unknown option %s", arg);
                goto usage;
            }
            const char *value = "1";
            if (option->arg) {
                if (equals)
                    value = equals + 1;
                else
                if (index + 1 < argc)
                    value = argv [++index];
                else {
                    s_usage_error (self, "option %s needs a value", arg);
                    goto usage;
                }
            }
            else
            if (equals) {
                s_usage_error (self, "option %s takes no value", arg);
                goto usage;
            }
            //  The first command-line value replaces the file's values;
            //  a second one of a single-valued option is a mistake, not
            //  a correction to take silently.
            bool first = !zhashx_lookup (from_command_line, name);
            if (!first && !option->repeatable) {
                s_usage_error (self, "--%s given twice", name);
                goto usage;
            }
            zhashx_insert (from_command_line, name, (void *) option);
            s_put (self, name, value, first || !option->repeatable);
            continue;
        }
        if (arg [0] == '-' && arg [1]) {
            s_usage_error (self, "unknown option %s", arg);
            goto usage;
        }
        zlistx_add_end (self->positionals, (void *) arg);
    }
    zhashx_destroy (&from_command_line);
    *exit_code = 0;
    return self;

usage:
    zhashx_destroy (&from_command_line);
    *exit_code = 2;
    cc_config_destroy (&self);
    return NULL;
}

void
cc_config_destroy (cc_config_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_config_t *self = *self_p;
        zlistx_destroy (&self->positionals);
        zhashx_destroy (&self->arrays);
        zhashx_destroy (&self->values);
        free (self);
        *self_p = NULL;
    }
}

const char *
cc_config_get (cc_config_t *self, const char *name)
{
    assert (self);
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->values, name);
    if (list && zlistx_size (list))
        return (const char *) zlistx_last (list);
    const cc_option_t *option = s_find (self->options, name);
    assert (option);            //  asking for an option not in the table
    return option->fallback;
}

const char **
cc_config_all (cc_config_t *self, const char *name)
{
    assert (self);
    char **array = (char **) zhashx_lookup (self->arrays, name);
    if (array)
        return (const char **) array;
    zlistx_t *list = (zlistx_t *) zhashx_lookup (self->values, name);
    zlistx_t *split = s_string_list ();
    const char *fallback = s_find (self->options, name)->fallback;
    if (!list && fallback) {
        list = s_string_list ();
        zlistx_add_end (list, (void *) fallback);
        zhashx_insert (self->values, name, list);
    }
    if (list)
        for (const char *value = (const char *) zlistx_first (list); value;
             value = (const char *) zlistx_next (list)) {
            char *copy = strdup (value);
            char *state = NULL;
            for (char *token = strtok_r (copy, ",", &state); token;
                 token = strtok_r (NULL, ",", &state))
                if (*token)
                    zlistx_add_end (split, token);
            free (copy);
        }
    array = (char **) zmalloc ((zlistx_size (split) + 1) * sizeof (char *));
    size_t index = 0;
    for (char *value = (char *) zlistx_first (split); value;
         value = (char *) zlistx_next (split))
        array [index++] = strdup (value);
    zlistx_destroy (&split);
    zhashx_insert (self->arrays, name, array);
    return (const char **) array;
}

bool
cc_config_flag (cc_config_t *self, const char *name)
{
    const char *value = cc_config_get (self, name);
    return value && (streq (value, "1") || streq (value, "true")
                     || streq (value, "yes"));
}

bool
cc_config_verbose (cc_config_t *self)
{
    return self->verbose;
}

int64_t
cc_config_int (cc_config_t *self, const char *name, int64_t min,
               int64_t max, int64_t otherwise)
{
    const char *value = cc_config_get (self, name);
    if (!value)
        return otherwise;
    char *end = NULL;
    errno = 0;
    long long number = strtoll (value, &end, 10);
    if (errno || end == value || *end || number < min || number > max) {
        fprintf (stderr, "%s: --%s must be a number from %" PRId64
                 " to %" PRId64 ", not '%s'\n",
                 self->program, name, min, max, value);
        return -1;
    }
    return number;
}

size_t
cc_config_positionals (cc_config_t *self)
{
    return zlistx_size (self->positionals);
}

const char *
cc_config_positional (cc_config_t *self, size_t index)
{
    const char *value = (const char *) zlistx_first (self->positionals);
    while (value && index--)
        value = (const char *) zlistx_next (self->positionals);
    return value;
}

const char *
cc_config_name_problem (const char *name)
{
    if (!*name || strlen (name) > 63)
        return "must be 1 to 63 characters";
    if (strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen (name))
        return "must be lower-case letters, digits and '-'";
    return NULL;
}

int
cc_config_endpoint (const char *text, char *host, int *port)
{
    if (!text)
        return -1;
    const char *colon = strrchr (text, ':');
    if (!colon || colon == text || (size_t) (colon - text) >= 256)
        return -1;
    char *end = NULL;
    long number = strtol (colon + 1, &end, 10);
    //  PORT+1 carries the control channel, so PORT itself stops at 65534.
    if (end == colon + 1 || *end || number < 1 || number > 65534)
        return -1;
    memcpy (host, text, colon - text);
    host [colon - text] = 0;
    *port = (int) number;
    return 0;
}

#define CC_CONFIG_DURATION_MAX  (36500LL * 86400)

int64_t
cc_config_duration (const char *text)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    long long number = strtoll (text, &end, 10);
    if (errno || end == text || number < 0)
        return -1;
    int64_t unit = 1;
    if (*end) {
        if (end [1])
            return -1;
        switch (*end) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            default: return -1;
        }
    }
    //  A century is the longest an advisory's expiry or deadline can mean
    //  anything; beyond it a sum with the clock could overflow.
    if (number > CC_CONFIG_DURATION_MAX / unit)
        return -1;
    return number * unit;
}

static void
s_test_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert (file);
    fputs (text, file);
    fclose (file);
}

void
cc_config_test (bool verbose)
{
    static const cc_option_t options [] = {
        { "listen", "HOST:PORT", "where to bind", "127.0.0.1:7400", false },
        { "sector", "S", "sector", NULL, true },
        { "cii", NULL, "critical infrastructure", NULL, false },
        { "count", "N", "a number", NULL, false },
        { NULL, NULL, NULL, NULL, false }
    };
    char dir [] = "/tmp/cc_config_test.XXXXXX";
    assert (mkdtemp (dir));
    char path [256];
    snprintf (path, sizeof path, "%s/test.cfg", dir);
    s_test_write (path, "test\n    listen = \"10.0.0.1:9000\"\n"
                        "    sector = \"banking\"\n    sector = \"telecom\"\n"
                        "    count = 7\n");

    int exit_code = -1;
    char *argv1 [] = { "test", "-c", path, "--sector", "power,finance",
                       "--cii", "extra", NULL };
    cc_config_t *config = cc_config_new ("test", "test [options]", options,
                                         7, argv1, &exit_code);
    assert (config);
    assert (exit_code == 0);
    assert (streq (cc_config_get (config, "listen"), "10.0.0.1:9000"));
    const char **sectors = cc_config_all (config, "sector");
    assert (streq (sectors [0], "power") && streq (sectors [1], "finance"));
    assert (sectors [2] == NULL);
    assert (cc_config_flag (config, "cii"));
    assert (cc_config_int (config, "count", 0, 10, 3) == 7);
    assert (cc_config_positionals (config) == 1);
    assert (streq (cc_config_positional (config, 0), "extra"));
    cc_config_destroy (&config);
    cc_config_destroy (&config);

    //  The file alone: repeated keys accumulate; defaults apply.
    char *argv2 [] = { "test", "-c", path, NULL };
    config = cc_config_new ("test", "test", options, 3, argv2, &exit_code);
    assert (config);
    sectors = cc_config_all (config, "sector");
    assert (streq (sectors [0], "banking") && streq (sectors [1], "telecom"));
    assert (!cc_config_flag (config, "cii"));
    cc_config_destroy (&config);

    char *argv3 [] = { "test", NULL };
    config = cc_config_new ("test", "test", options, 1, argv3, &exit_code);
    assert (streq (cc_config_get (config, "listen"), "127.0.0.1:7400"));
    assert (cc_config_all (config, "sector") [0] == NULL);
    assert (cc_config_int (config, "count", 0, 10, 3) == 3);
    cc_config_destroy (&config);

    //  Usage errors: unknown option, missing value, bad number.
    char *argv4 [] = { "test", "--bogus", NULL };
    assert (!cc_config_new ("test", "test", options, 2, argv4, &exit_code));
    assert (exit_code == 2);
    char *argv5 [] = { "test", "--listen", NULL };
    assert (!cc_config_new ("test", "test", options, 2, argv5, &exit_code));
    assert (exit_code == 2);
    char *argv6 [] = { "test", "-c", "/nonexistent/file.cfg", NULL };
    assert (!cc_config_new ("test", "test", options, 3, argv6, &exit_code));
    assert (exit_code == 1);
    char *argv7 [] = { "test", "--count=99", NULL };
    config = cc_config_new ("test", "test", options, 2, argv7, &exit_code);
    assert (config);
    assert (cc_config_int (config, "count", 0, 10, 3) == -1);
    cc_config_destroy (&config);

    char host [256];
    int port = 0;
    assert (cc_config_endpoint ("127.0.0.1:7400", host, &port) == 0);
    assert (streq (host, "127.0.0.1") && port == 7400);
    assert (cc_config_endpoint ("127.0.0.1", host, &port) == -1);
    assert (cc_config_endpoint ("h:65535", host, &port) == -1);
    assert (cc_config_endpoint (":80", host, &port) == -1);
    assert (cc_config_duration ("24h") == 86400);
    assert (cc_config_duration ("90") == 90);
    assert (cc_config_duration ("7d") == 7 * 86400);
    assert (cc_config_duration ("5x") == -1);
    assert (cc_config_duration ("-5s") == -1);
    assert (cc_config_duration ("36500d") == 36500LL * 86400);
    assert (cc_config_duration ("36501d") == -1);
    assert (cc_config_duration ("106751991167000d") == -1);

    //  A single-valued option or -c given twice is a usage error.
    char *argv8 [] = { "test", "--count", "1", "--count=2", NULL };
    assert (!cc_config_new ("test", "test", options, 4, argv8, &exit_code));
    assert (exit_code == 2);
    char *argv9 [] = { "test", "-c", path, "-c", path, NULL };
    assert (!cc_config_new ("test", "test", options, 5, argv9, &exit_code));
    assert (exit_code == 2);

    //  A flag says no in a file; a word that is neither is refused, and so
    //  is a file without our section.
    s_test_write (path, "test\n    cii = \"no\"\n");
    config = cc_config_new ("test", "test", options, 3, argv2, &exit_code);
    assert (config);
    assert (!cc_config_flag (config, "cii"));
    cc_config_destroy (&config);
    s_test_write (path, "test\n    cii = \"maybe\"\n");
    assert (!cc_config_new ("test", "test", options, 3, argv2, &exit_code));
    assert (exit_code == 1);
    s_test_write (path, "tset\n    count = 7\n");
    assert (!cc_config_new ("test", "test", options, 3, argv2, &exit_code));
    assert (exit_code == 1);

    //  -v is a daemon's: a sub-command refuses it rather than ignore it.
    char *argv10 [] = { "test", "-v", NULL };
    config = cc_config_new ("test", "test", options, 2, argv10, &exit_code);
    assert (config && cc_config_verbose (config));
    cc_config_destroy (&config);
    assert (!cc_config_new ("certcast/test", "test", options, 2, argv10,
                            &exit_code));
    assert (exit_code == 2);

    assert (cc_config_name_problem ("bank-1") == NULL);
    assert (cc_config_name_problem (""));
    assert (cc_config_name_problem ("Bad/NAME"));
    assert (cc_config_name_problem ("a23456789012345678901234567890123456789"
                                    "012345678901234567890123") == NULL);
    assert (cc_config_name_problem ("a23456789012345678901234567890123456789"
                                    "0123456789012345678901234"));

    unlink (path);
    rmdir (dir);
}
