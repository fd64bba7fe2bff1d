/*  cc_daemon.c - the main of certcast-broker and certcast-relay.

    Options, then the ZPL config (-c FILE, options win), then logging, then
    keys, then the engine actor; wait for SIGINT/SIGTERM; destroy in
    reverse. With no options at all certcast-broker runs a national broker
    on 127.0.0.1:7400 in ./certcast-data, creating on first start a root
    key, the broker's key, a national issuer key with an all-sector
    delegation, and an allow directory enrolling that issuer - so an
    operator can publish at once, then move the root key offline.
*/
#include "cc_broker.h"
#include <sys/resource.h>
#include <sys/stat.h>

#define DEFAULT_SECTORS "defense,telecom,banking,finance,power,public"
#define RELAY_HEARTBEAT_MS 5000

static const cc_option_t s_broker_options [] = {
    { "listen", "HOST:PORT", "stream on PORT, control on PORT+1", "127.0.0.1:7400", false },
    { "data", "DIR", "LMDB data directory", "certcast-data", false },
    { "key", "FILE", "this broker's secret key (NAME.key)", NULL, false },
    { "trust", "ROOT.pub", "pinned root public key", NULL, false },
    { "allow", "DIR", "allow directory: enrolled clients' .pub files (the roster)", NULL, false },
    { "name", "NAME", "origin name of this broker's streams", "national", false },
    { "sectors", "S,S..", "sectors served", DEFAULT_SECTORS, true },
    { "heartbeat", "MS", "stream and link heartbeat interval", "1000", false },
    { "map-size", "MB", "initial LMDB map size; it grows when full", "64", false },
    { "pub-hwm", "N", "stream PUB send high-water mark (messages)", "100000", false },
    { "roster-mb", "MB", "memory a relay below may fill with roster parts here while its roster arrives; all of them together 4 x", "256", false },
    { NULL, NULL, NULL, NULL, false }
};

static const cc_option_t s_relay_options [] = {
    { "sector", "S", "sector(s) this relay serves (required)", NULL, true },
    { "upstream", "HOST:PORT", "upstream broker, national or relay (required)", NULL, false },
    { "upstream-pub", "FILE", "upstream broker's public key, .pub (required)", NULL, false },
    { "listen", "HOST:PORT", "stream on PORT, control on PORT+1", "127.0.0.1:7410", false },
    { "data", "DIR", "LMDB data directory (required)", NULL, false },
    { "key", "FILE", "this relay's secret key, NAME.key (required)", NULL, false },
    { "trust", "ROOT.pub", "pinned root public key (required)", NULL, false },
    { "allow", "DIR", "allow directory: its agents' and issuers' .pub files (required)", NULL, false },
    { "name", "NAME", "origin name of this relay's own streams (default: first sector)", NULL, false },
    { "heartbeat", "MS", "stream and link heartbeat interval (each is a message to every agent)", "5000", false },
    { "roster-retry", "S", "seconds before the roster goes upstream again while the upstream takes only part of it", "60", false },
    { "map-size", "MB", "initial LMDB map size; it grows when full", "64", false },
    { "pub-hwm", "N", "stream PUB send high-water mark (messages)", "100000", false },
    { "roster-mb", "MB", "memory a relay below may fill with roster parts here while its roster arrives; all of them together 4 x", "256", false },
    { NULL, NULL, NULL, NULL, false }
};

static bool
s_exists (const char *path)
{
    struct stat info;
    return stat (path, &info) == 0;
}

//  Every agent holds two CURVE connections to its relay, each an fd: a
//  relay for thousands of organisations needs more than the usual soft
//  limit of 1,024. Take what the hard limit allows, as servers do, and
//  say what we have so an operator knows the ceiling (each connection
//  costs one fd; the rest is sockets, LMDB and logs).
static void
s_raise_fd_limit (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit))
        return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit))
            getrlimit (RLIMIT_NOFILE, &limit);
    }
    zsys_info ("open file limit %lu (about %lu agent connections)",
               (unsigned long) limit.rlim_cur,
               (unsigned long) (limit.rlim_cur > 256? (limit.rlim_cur - 256) / 2: 0));
}

//  0 if --name (NULL: the default) and the sectors make sound stream
//  names, else -1 after one line on stderr. A sector listed twice would
//  number every advisory twice into the same stream.
static int
s_check_names (const char *program, const char *name, const char **sectors)
{
    if (!sectors [0]) {
        fprintf (stderr, "%s: no sector given\n", program);
        return -1;
    }
    for (const char **sector = sectors; *sector; sector++) {
        const char *problem = cc_config_name_problem (*sector);
        if (problem) {
            fprintf (stderr, "%s: sector '%s' %s\n", program, *sector, problem);
            return -1;
        }
        for (const char **earlier = sectors; earlier < sector; earlier++) {
            size_t shorter = strlen (*earlier) < strlen (*sector)?
                             strlen (*earlier): strlen (*sector);
            if (streq (*earlier, *sector)) {
                fprintf (stderr, "%s: sector '%s' is listed twice\n",
                         program, *sector);
                return -1;
            }
            //  A subscription is a prefix: one to NAME/power would also
            //  get NAME/power-grid, a sector its key may not read.
            if (strncmp (*earlier, *sector, shorter) == 0) {
                fprintf (stderr, "%s: sectors '%s' and '%s': one is the start "
                         "of the other, so a subscription to one would "
                         "receive both\n", program, *earlier, *sector);
                return -1;
            }
        }
    }
    const char *problem = name? cc_config_name_problem (name): NULL;
    if (problem)
        fprintf (stderr, "%s: --name '%s' %s\n", program, name, problem);
    return problem? -1: 0;
}

static int
s_make_key (const char *dir, const char *name, const char *role,
            const char *sector)
{
    cc_keys_t *keys = cc_keys_generate ();
    cc_keys_set_meta (keys, "name", name);
    cc_keys_set_meta (keys, "role", role);
    if (sector)
        cc_keys_set_meta (keys, "sector", sector);
    const char *reason = NULL;
    int rc = cc_keys_save (keys, dir, name, &reason);
    if (rc)
        fprintf (stderr, "certcast-broker: cannot create %s/%s.key: %s\n",
                 dir, name, reason? reason: "?");
    cc_keys_destroy (&keys);
    return rc;
}

//  First start with no options: create what a national broker needs.
static int
s_first_start (const char *data)
{
    char keys [512], allow [512], path [600], target [600];
    snprintf (keys, sizeof keys, "%s/keys", data);
    snprintf (allow, sizeof allow, "%s/allow", data);
    snprintf (path, sizeof path, "%s/broker.key", keys);
    if (s_exists (path))
        return 0;
    if (zsys_dir_create ("%s", keys) || zsys_dir_create ("%s", allow)) {
        fprintf (stderr, "certcast-broker: cannot create %s\n", keys);
        return -1;
    }
    chmod (data, 0700);
    chmod (keys, 0700);
    //  The issuer's key names all sectors, as its delegation does:
    //  `certcast status` shows an issuer the heads of its key's sectors.
    if (s_make_key (keys, "root", "root", NULL)
    ||  s_make_key (keys, "national-issuer", "issuer", "all")
    ||  s_make_key (keys, "broker", "broker", NULL))
        return -1;
    snprintf (path, sizeof path, "%s/root.key", keys);
    cc_keys_t *root = cc_keys_load (path, NULL);
    snprintf (path, sizeof path, "%s/national-issuer.pub", keys);
    cc_keys_t *issuer = cc_keys_load (path, NULL);
    assert (root && issuer);
    int64_t now = (int64_t) time (NULL);
    size_t size = 0;
    uint8_t *delegation = cc_delegation_issue (
        root, cc_keys_sign_public (issuer), "national-issuer", true, NULL,
        now - 300, now + 365 * 86400, (uint64_t) now, &size);
    snprintf (target, sizeof target, "%s/national-issuer.delegation", keys);
    FILE *file = fopen (target, "wb");
    int rc = file && fwrite (delegation, 1, size, file) == size? 0: -1;
    if (file)
        fclose (file);
    free (delegation);
    cc_keys_destroy (&issuer);
    cc_keys_destroy (&root);
    //  Enrol the issuer: its public key in the allow directory.
    snprintf (target, sizeof target, "%s/national-issuer.pub", allow);
    zfile_t *source = zfile_new (NULL, path);
    if (rc == 0 && source && zfile_input (source) == 0) {
        zchunk_t *chunk = zfile_read (source, zfile_cursize (source), 0);
        zfile_t *copy = zfile_new (NULL, target);
        rc = copy && zfile_output (copy) == 0
            && zfile_write (copy, chunk, 0) == 0? 0: -1;
        zfile_destroy (&copy);
        zchunk_destroy (&chunk);
    }
    else
        rc = -1;
    zfile_destroy (&source);
    if (rc) {
        fprintf (stderr, "certcast-broker: cannot write %s\n", target);
        return -1;
    }
    zsys_notice ("first start: created keys in %s (move root.key offline) "
                 "and enrolled national-issuer in %s", keys, allow);
    return 0;
}

int
cc_daemon_main (int argc, char **argv, bool relay)
{
    const char *program = relay? "certcast-relay": "certcast-broker";
    int exit_code = 0;
    cc_wire_malloc_setup ();
    cc_config_t *config = cc_config_new (
        relay? "relay": "broker",
        relay? "certcast-relay --sector S --upstream HOST:PORT --upstream-pub FILE "
               "--data DIR --key FILE --trust ROOT.pub --allow DIR "
               "[--listen HOST:PORT] [-c FILE] [-v]"
             : "certcast-broker [--listen HOST:PORT] [--data DIR] [--key FILE] "
               "[--trust ROOT.pub] [--allow DIR] [-c FILE] [-v]",
        relay? s_relay_options: s_broker_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;
    if (cc_config_positionals (config)) {
        fprintf (stderr, "%s: unexpected argument '%s' (try --help)\n",
                 program, cc_config_positional (config, 0));
        cc_config_destroy (&config);
        return 2;
    }
    //  No OpenSSL cleanup at exit: czmq's detached actor threads may still
    //  be exiting then, and would free their OpenSSL state a second time.
    OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT, NULL);
    zsys_set_logident (program);
    zsys_set_logstream (stderr);
    zsys_set_max_sockets (0);

    char host [256], upstream_host [256];
    int port = 0, upstream_port = 0;
    //  A relay's heartbeat goes to every one of its agents: at 1 s, 5,000
    //  agents cost it 14 % of a core doing nothing (README, Benchmarks).
    //  Its agents learn the interval from Welcome and call it dead only
    //  after three of them. The national broker's peers are relays.
    const char *data = cc_config_get (config, "data");
    const char **sectors = relay? cc_config_all (config, "sector")
                                : cc_config_all (config, "sectors");
    const char *missing = NULL;
    if (relay) {
        const char *required [] = { "upstream", "upstream-pub", "data", "key",
                                    "trust", "allow", NULL };
        for (const char **name = required; *name && !missing; name++)
            if (!cc_config_get (config, *name))
                missing = *name;
        if (!missing && !sectors [0])
            missing = "sector";
    }
    if (missing) {
        fprintf (stderr, "%s: --%s is required (try --help)\n", program, missing);
        cc_config_destroy (&config);
        return 2;
    }
    //  One line for the first bad value: each check runs only if all
    //  before it passed.
    int64_t heartbeat = cc_config_int (config, "heartbeat", 50, 60000,
                                       relay? RELAY_HEARTBEAT_MS: 1000);
    int64_t map_size = heartbeat < 0? -1:
        cc_config_int (config, "map-size", 1, 1024 * 1024, 64);
    int64_t pub_hwm = map_size < 0? -1:
        cc_config_int (config, "pub-hwm", 1, 100000000, 100000);
    int64_t roster_mb = pub_hwm < 0? -1:
        cc_config_int (config, "roster-mb", 1, 64 * 1024,
                       (int64_t) (CC_ROSTER_STAGE_BYTES >> 20));
    int64_t roster_retry = roster_mb < 0 || !relay? roster_mb:
        cc_config_int (config, "roster-retry", 1, 86400, 60);
    const char *bad_endpoint = roster_retry < 0? NULL:
        cc_config_endpoint (cc_config_get (config, "listen"), host, &port)?
            "listen":
        relay && cc_config_endpoint (cc_config_get (config, "upstream"),
                                     upstream_host, &upstream_port)?
            "upstream": NULL;
    if (bad_endpoint)
        fprintf (stderr, "%s: --%s must be HOST:PORT with PORT from 1 to "
                 "65534, not '%s'\n", program, bad_endpoint,
                 cc_config_get (config, bad_endpoint));
    if (roster_retry < 0 || bad_endpoint) {
        cc_config_destroy (&config);
        return 2;
    }
    if (s_check_names (program, cc_config_get (config, "name"), sectors)) {
        cc_config_destroy (&config);
        return 2;
    }
    //  Defaults under the data directory (national broker only).
    char key_path [600], trust_path [600], allow_path [600];
    bool defaults = !relay && !cc_config_get (config, "key")
                 && !cc_config_get (config, "trust")
                 && !cc_config_get (config, "allow");
    snprintf (key_path, sizeof key_path, "%s",
              cc_config_get (config, "key")? cc_config_get (config, "key"): "");
    snprintf (trust_path, sizeof trust_path, "%s",
              cc_config_get (config, "trust")? cc_config_get (config, "trust"): "");
    snprintf (allow_path, sizeof allow_path, "%s",
              cc_config_get (config, "allow")? cc_config_get (config, "allow"): "");
    if (!relay) {
        if (!*key_path)
            snprintf (key_path, sizeof key_path, "%s/keys/broker.key", data);
        if (!*trust_path)
            snprintf (trust_path, sizeof trust_path, "%s/keys/root.pub", data);
        if (!*allow_path)
            snprintf (allow_path, sizeof allow_path, "%s/allow", data);
        if (defaults && s_first_start (data)) {
            cc_config_destroy (&config);
            return 1;
        }
    }
    const char *reason = NULL;
    cc_keys_t *keys = cc_keys_load (key_path, &reason);
    if (!keys || !cc_keys_has_secret (keys)) {
        fprintf (stderr, "%s: --key %s: %s\n", program, key_path,
                 keys? "not a secret key file": reason? reason: "cannot load");
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    cc_keys_t *root = cc_keys_load (trust_path, &reason);
    if (root)
        reason = cc_keys_trust_problem (root);
    if (!root || reason) {
        fprintf (stderr, "%s: --trust %s: %s\n", program, trust_path,
                 reason? reason: "cannot load");
        cc_keys_destroy (&root);
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    cc_keys_t *upstream = NULL;
    if (relay) {
        upstream = cc_keys_load (cc_config_get (config, "upstream-pub"), &reason);
        if (!upstream) {
            fprintf (stderr, "%s: --upstream-pub %s: %s\n", program,
                     cc_config_get (config, "upstream-pub"),
                     reason? reason: "cannot load");
            cc_keys_destroy (&root);
            cc_keys_destroy (&keys);
            cc_config_destroy (&config);
            return 1;
        }
    }
    struct stat info;
    if (stat (allow_path, &info) || !S_ISDIR (info.st_mode)) {
        fprintf (stderr, "%s: --allow %s: not a directory\n", program, allow_path);
        cc_keys_destroy (&upstream);
        cc_keys_destroy (&root);
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    cc_engine_config_t engine_config = {
        .name = cc_config_get (config, "name")? cc_config_get (config, "name")
                                              : sectors [0],
        .listen_host = host,
        .listen_port = port,
        .data_dir = data,
        .keys = keys,
        .root_key = cc_keys_sign_public (root),
        .allow_dir = allow_path,
        .sectors = sectors,
        .heartbeat_ms = (int) heartbeat,
        .map_size = (size_t) map_size * 1024 * 1024,
        .pub_hwm = (int) pub_hwm,
        .upstream_host = relay? upstream_host: NULL,
        .upstream_port = upstream_port,
        .upstream_key = upstream? cc_keys_curve_public (upstream): NULL,
        .verbose = cc_config_verbose (config),
        .roster_retry_ms = relay? roster_retry * 1000: 0,
        .roster_stage_bytes = (size_t) roster_mb * 1024 * 1024
    };
    s_raise_fd_limit ();
    cc_engine_t *engine = cc_engine_new (&engine_config);
    if (!engine) {
        fprintf (stderr, "%s: could not start (see the log above)\n", program);
        cc_keys_destroy (&upstream);
        cc_keys_destroy (&root);
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    zsys_notice ("ready");
    //  Signal handlers only set zsys_interrupted (czmq's default handler).
    while (!zsys_interrupted) {
        zpoller_t *poller = zpoller_new (cc_engine_actor (engine), NULL);
        zpoller_wait (poller, 500);
        bool stopped = zpoller_terminated (poller);
        zpoller_destroy (&poller);
        if (stopped)
            break;
    }
    zsys_notice ("stopping");
    cc_engine_destroy (&engine);
    cc_keys_destroy (&upstream);
    cc_keys_destroy (&root);
    cc_keys_destroy (&keys);
    cc_config_destroy (&config);
    return 0;
}
