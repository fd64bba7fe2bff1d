/*  cmd_delegate.c - certcast delegate: the offline root signs what an
    issuer key may publish (sectors, validity window, serial) into a
    delegation file the issuer attaches to every advisory it signs.
*/
#include "cmd.h"
#include <fcntl.h>
#include <sys/stat.h>

static const cc_option_t s_options [] = {
    { "root", "ROOT.key", "the root's secret key file", NULL, false },
    { "sector", "S", "sector(s) the issuer may publish to, or all", NULL,
      true },
    { "days", "N", "validity in days", "365", false },
    { "serial", "N", "serial number (default: the current Unix time)", NULL,
      false },
    { "id-prefix", "P", "every advisory id of this issuer must start with P "
      "(e.g. PK-SBP-)", NULL, false },
    { "out", "FILE", "delegation file to write", NULL, false },
    { "force", NULL, "replace FILE if it exists", NULL, false },
    { NULL, NULL, NULL, NULL, false }
};

//  Write through a temporary file and rename, so a delegation file is
//  either the old one or the whole new one, never half written.
static int
s_write_file (const char *path, const uint8_t *data, size_t size, bool force)
{
    char temp [4096];
    if (snprintf (temp, sizeof temp, "%s.tmp.%d", path, (int) getpid ())
        >= (int) sizeof temp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (temp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd == -1)
        return -1;
    bool ok = write (fd, data, size) == (ssize_t) size && fsync (fd) == 0;
    ok = close (fd) == 0 && ok;
    if (ok && !force) {
        //  link() fails with EEXIST instead of replacing, unlike rename()
        ok = link (temp, path) == 0;
        int saved = errno;
        unlink (temp);
        errno = saved;
        return ok? 0: -1;
    }
    if (ok)
        ok = rename (temp, path) == 0;
    if (!ok) {
        int saved = errno;
        unlink (temp);
        errno = saved;
    }
    return ok? 0: -1;
}

int
cmd_delegate (int argc, char **argv)
{
    int exit_code = 0;
    cc_config_t *config = cc_config_new ("certcast/delegate",
        "certcast delegate --root ROOT.key --sector S[,S..]|all [--days N] "
        "[--serial N] [--id-prefix P] --out FILE [--force] ISSUER.pub",
        s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;

    const char *root_path = cc_config_get (config, "root");
    const char *out = cc_config_get (config, "out");
    const char **sectors = cc_config_all (config, "sector");
    const char *issuer_path = cc_config_positional (config, 0);
    bool force = cc_config_flag (config, "force");
    bool all_sectors = false;
    int64_t days = cc_config_int (config, "days", 1, 3650, 365);
    int64_t now = (int64_t) time (NULL);
    int64_t serial = cc_config_int (config, "serial", 1, INT64_MAX, now);

    if (days == -1 || serial == -1)
        exit_code = 2;              //  cc_config_int said why
    else
    if (!root_path)
        exit_code = cmd_usage_error ("delegate", "--root ROOT.key is required");
    else
    if (!out)
        exit_code = cmd_usage_error ("delegate", "--out FILE is required");
    else
    if (!sectors [0])
        exit_code = cmd_usage_error ("delegate", "--sector S[,S..] or "
                                     "--sector all is required");
    else
    if (!issuer_path || cc_config_positionals (config) != 1)
        exit_code = cmd_usage_error ("delegate", "give exactly one "
                                     "ISSUER.pub");
    else
        for (const char **sector = sectors; *sector; sector++) {
            if (streq (*sector, "all"))
                all_sectors = true;
            else
            if (!cmd_sector_valid (*sector)) {
                exit_code = cmd_usage_error ("delegate", "--sector '%s' is "
                                             "not a sector name ([a-z0-9-]+)",
                                             *sector);
                break;
            }
        }
    const char *id_prefix = cc_config_get (config, "id-prefix");
    if (exit_code == 0 && id_prefix && !cmd_id_prefix_valid (id_prefix))
        exit_code = cmd_usage_error ("delegate", "--id-prefix '%s' may hold "
                                     "only letters, digits, '.', '_', ':' "
                                     "and '-' (1 to 64)", id_prefix);
    if (exit_code == 0 && all_sectors && sectors [1])
        exit_code = cmd_usage_error ("delegate", "--sector all cannot be "
                                     "combined with named sectors");
    if (exit_code == 0 && !force && access (out, F_OK) == 0)
        exit_code = cmd_fail ("delegate", "%s exists (use --force to "
                              "replace it)", out);
    if (exit_code) {
        cc_config_destroy (&config);
        return exit_code;
    }

    cc_keys_t *root = cmd_keys_load ("delegate", "root key", root_path, true);
    //  Signed by any other key, the delegation would be refused by every
    //  broker, long after this command said it was written.
    const char *role = root? cc_keys_meta (root, "role"): NULL;
    if (role && !streq (role, "root")) {
        cmd_fail ("delegate", "--root %s is a %s key, not the root key",
                  root_path, role);
        cc_keys_destroy (&root);
    }
    cc_keys_t *issuer = root? cmd_keys_load ("delegate", "issuer key",
                                             issuer_path, false): NULL;
    //  A delegation lets its key sign advisories. Given to a relay's,
    //  broker's or agent's key (whose secret lives on an online host that
    //  parses network input) or to the root's own, a slip of the file
    //  name would let that host forge advisories every agent accepts.
    const char *issuer_role = issuer? cc_keys_meta (issuer, "role"): NULL;
    if (issuer_role && !streq (issuer_role, "issuer")) {
        cmd_fail ("delegate", "%s is not an issuer's key (its role is %s; "
                  "certcast keygen --role issuer)", issuer_path, issuer_role);
        cc_keys_destroy (&issuer);
    }
    if (!issuer) {
        cc_keys_destroy (&root);
        cc_config_destroy (&config);
        return 1;
    }
    const char *issuer_name = cc_keys_meta (issuer, "name");
    if (!issuer_name || !*issuer_name)
        issuer_name = issuer_path;

    //  Five minutes of slack before now, so a broker whose clock is a
    //  little behind ours does not refuse a delegation issued just now.
    int64_t not_before = now - 300;
    int64_t not_after = now + days * 86400;
    size_t size = 0;
    uint8_t *delegation = cc_delegation_issue_prefixed (
        root, cc_keys_sign_public (issuer), issuer_name, all_sectors,
        all_sectors? NULL: sectors, not_before, not_after, (uint64_t) serial,
        id_prefix, &size);
    if (!delegation)
        exit_code = cmd_fail ("delegate", "the root key %s could not sign",
                              root_path);
    else
    if (s_write_file (out, delegation, size, force) == -1)
        exit_code = cmd_fail ("delegate", "cannot write %s: %s", out,
                              errno == EEXIST? "it exists (use --force)"
                                             : strerror (errno));
    else {
        char scope [512] = "";
        for (const char **sector = sectors; *sector; sector++) {
            if (sector != sectors)
                strncat (scope, ",", sizeof scope - strlen (scope) - 1);
            strncat (scope, *sector, sizeof scope - strlen (scope) - 1);
        }
        uint8_t key_id [8];
        char key_hex [17];
        cc_key_id (cc_keys_sign_public (issuer), key_id);
        cc_hex_encode (key_id, 8, key_hex);
        char from [32], until [32];
        printf ("delegation %" PRId64 " written to %s: issuer %s (key %s) "
                "may publish to %s from %s until %s%s%s%s\n", serial, out,
                issuer_name, key_hex, scope,
                cmd_time_iso (not_before, from, sizeof from),
                cmd_time_iso (not_after, until, sizeof until),
                id_prefix? ", ids starting '": "", id_prefix? id_prefix: "",
                id_prefix? "'": "");
    }
    free (delegation);
    cc_keys_destroy (&issuer);
    cc_keys_destroy (&root);
    cc_config_destroy (&config);
    return exit_code;
}
