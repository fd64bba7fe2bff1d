/*  cmd_keygen.c - certcast keygen: a new identity, written as NAME.key
    (secret, 0600) and NAME.pub (what goes into a broker's allow
    directory), with the constituent details Rule 26 reports need carried
    in the .pub file's metadata.
*/
#include "cmd.h"

static const cc_option_t s_options [] = {
    { "dir", "DIR", "directory to write NAME.key and NAME.pub into", NULL,
      false },
    { "role", "ROLE", "root, issuer, broker, relay or agent", "agent", false },
    { "org", "ORG", "organisation", NULL, false },
    { "sector", "S", "sector (a relay may list several: S,S)", NULL, false },
    { "class", "CLASS", "entity class: service-provider, body-corporate, "
      "data-centre, intermediary, individual, public-body", NULL, false },
    { "cii", NULL, "critical information infrastructure", NULL, false },
    { "contact", "TEXT", "point of contact", NULL, false },
    { NULL, NULL, NULL, NULL, false }
};

static const char *s_roles [] = {
    "root", "issuer", "broker", "relay", "agent", NULL
};

//  Rule 26's categories of entity that must be told and must answer.
static const char *s_classes [] = {
    "service-provider", "body-corporate", "data-centre", "intermediary",
    "individual", "public-body", NULL
};

static bool
s_one_of (const char *value, const char **list)
{
    for (; *list; list++)
        if (streq (value, *list))
            return true;
    return false;
}

//  A name becomes a file name and the issuer prefix of advisory ids, so
//  keep it to characters that are safe in both.
static bool
s_name_valid (const char *name)
{
    if (!*name || strlen (name) > 63 || *name == '.' || *name == '-')
        return false;
    for (const char *cursor = name; *cursor; cursor++)
        if (!isalnum ((unsigned char) *cursor) && !strchr ("._-", *cursor))
            return false;
    return true;
}

//  Sector list: one sector, or (for a relay) several separated by commas.
static bool
s_sectors_valid (const char *text, bool several)
{
    size_t count = 0;
    while (true) {
        char sector [64];
        size_t length = strcspn (text, ",");
        if (length == 0 || length >= sizeof sector)
            return false;       //  empty item, or too long to be a sector
        memcpy (sector, text, length);
        sector [length] = 0;
        if (!cmd_sector_valid (sector))
            return false;
        count++;
        if (!text [length])
            break;
        text += length + 1;
    }
    return several || count == 1;
}

int
cmd_keygen (int argc, char **argv)
{
    int exit_code = 0;
    cc_config_t *config = cc_config_new ("certcast/keygen",
        "certcast keygen --dir DIR [--role R] [--org O] [--sector S] "
        "[--class C] [--cii] [--contact TEXT] NAME",
        s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;

    const char *dir = cc_config_get (config, "dir");
    const char *role = cc_config_get (config, "role");
    const char *org = cc_config_get (config, "org");
    const char *sector = cc_config_get (config, "sector");
    const char *entity_class = cc_config_get (config, "class");
    const char *contact = cc_config_get (config, "contact");
    bool cii = cc_config_flag (config, "cii");
    const char *name = cc_config_positional (config, 0);

    if (!dir)
        exit_code = cmd_usage_error ("keygen", "--dir DIR is required");
    else
    if (!name || cc_config_positionals (config) != 1)
        exit_code = cmd_usage_error ("keygen", "give exactly one NAME");
    else
    if (!s_name_valid (name))
        exit_code = cmd_usage_error ("keygen", "NAME '%s' may hold only "
                                     "letters, digits, '.', '_' and '-'",
                                     name);
    else
    if (!s_one_of (role, s_roles))
        exit_code = cmd_usage_error ("keygen", "--role must be root, issuer, "
                                     "broker, relay or agent, not '%s'", role);
    else
    if (sector && !s_sectors_valid (sector, streq (role, "relay")))
        exit_code = cmd_usage_error ("keygen", "--sector '%s' is not %s",
                                     sector, streq (role, "relay")
                                     ? "a list of sectors ([a-z0-9-]+, "
                                       "comma-separated)"
                                     : "one sector name ([a-z0-9-]+)");
    else
    if (entity_class && !s_one_of (entity_class, s_classes))
        exit_code = cmd_usage_error ("keygen", "--class must be one of "
                                     "service-provider, body-corporate, "
                                     "data-centre, intermediary, individual, "
                                     "public-body, not '%s'", entity_class);
    if (exit_code) {
        cc_config_destroy (&config);
        return exit_code;
    }
    //  An agent is a constituent Rule 26 reports on: give it a class
    if (!entity_class && streq (role, "agent"))
        entity_class = "body-corporate";

    if (zsys_dir_create ("%s", dir) == -1) {
        exit_code = cmd_fail ("keygen", "cannot create directory %s: %s", dir,
                              strerror (errno));
        cc_config_destroy (&config);
        return exit_code;
    }
    cc_keys_t *keys = cc_keys_generate ();
    cc_keys_set_meta (keys, "name", name);
    cc_keys_set_meta (keys, "role", role);
    if (org)
        cc_keys_set_meta (keys, "org", org);
    if (sector)
        cc_keys_set_meta (keys, "sector", sector);
    if (entity_class)
        cc_keys_set_meta (keys, "class", entity_class);
    if (streq (role, "agent") || streq (role, "relay") || cii)
        cc_keys_set_meta (keys, "cii", cii? "yes": "no");
    if (contact)
        cc_keys_set_meta (keys, "contact", contact);

    const char *reason = NULL;
    if (cc_keys_save (keys, dir, name, &reason) == -1)
        exit_code = cmd_fail ("keygen", "cannot write %s/%s.key: %s", dir, name,
                              reason? reason: "refused");
    else {
        printf ("%s/%s.key\n%s/%s.pub\n", dir, name, dir, name);
        exit_code = 0;
    }
    cc_keys_destroy (&keys);
    cc_config_destroy (&config);
    return exit_code;
}
