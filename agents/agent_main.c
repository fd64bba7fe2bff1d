/*  agent_main.c - certcast-agent, the subscriber agent.

    Options, then the ZPL config (-c FILE, options win), then logging, then
    keys, then the agent actor; wait for SIGINT/SIGTERM; destroy in
    reverse. Startup errors print one line naming the option and its value
    and exit 1; usage errors exit 2.
*/
#include "cc_agents.h"
#include <malloc.h>
#include <sys/stat.h>

static const cc_option_t s_options [] = {
    { "relay", "HOST:PORT", "relay to follow: stream on PORT, control on PORT+1 (required)", NULL, false },
    { "relay-pub", "FILE", "the relay's public key, .pub (required)", NULL, false },
    { "data", "DIR", "LMDB data directory: inbox, cursors, outbox (required)", NULL, false },
    { "key", "FILE", "this agent's secret key, NAME.key (required)", NULL, false },
    { "trust", "ROOT.pub", "pinned root public key (required)", NULL, false },
    { "spool", "DIR", "write one JSON file per advisory here", NULL, false },
    { "exec", "CMD", "run CMD (via /bin/sh -c) per advisory, JSON on stdin", NULL, false },
    { "name", "NAME", "node name sent to the relay (default: the key's name)", NULL, false },
    { "heartbeat", "MS", "link heartbeat interval", "1000", false },
    { "ack-resend", "MS", "resend unconfirmed acks this often", "2000", false },
    { "dead-after", "MS", "relay silent this long: reconnect (default 3 x heartbeat)", NULL, false },
    { NULL, NULL, NULL, NULL, false }
};

#define PROGRAM "certcast-agent"
#define AGENT_MAX_SOCKETS   64

//  Create dir if missing (and create is set); 0 if it is a directory we
//  can write or may create, else -1 after one line on stderr.
static int
s_check_dir (const char *option, const char *dir, bool create)
{
    struct stat info;
    bool missing = stat (dir, &info) != 0;
    if (missing && !create)
        return 0;               //  made (or refused) by the second pass
    if (missing) {
        if (zsys_dir_create ("%s", dir)) {
            fprintf (stderr, PROGRAM ": --%s %s: cannot create: %s\n",
                     option, dir, strerror (errno));
            return -1;
        }
        //  The inbox is the organisation's record: keep it private. The
        //  spool is for the host's readers (the group), and its file
        //  names are the ids of TLP:AMBER and RED advisories too: not for
        //  every local user to list (czmq creates directories 0775).
        if (streq (option, "data"))
            chmod (dir, 0700);
        else
            chmod (dir, CC_HANDOFF_SPOOL_MODE);
    }
    if (stat (dir, &info) || !S_ISDIR (info.st_mode)
    ||  access (dir, W_OK | X_OK)) {
        fprintf (stderr, PROGRAM ": --%s %s: not a writable directory\n",
                 option, dir);
        return -1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    int exit_code = 0;
    cc_config_t *config = cc_config_new (
        "agent",
        PROGRAM " --relay HOST:PORT --relay-pub FILE --data DIR --key FILE "
        "--trust ROOT.pub [--spool DIR] [--exec CMD] [-c FILE] [-v]",
        s_options, argc, argv, &exit_code);
    if (!config)
        return exit_code;
    if (cc_config_positionals (config)) {
        fprintf (stderr, PROGRAM ": unexpected argument '%s' (try --help)\n",
                 cc_config_positional (config, 0));
        cc_config_destroy (&config);
        return 2;
    }
    const char *required [] = { "relay", "relay-pub", "data", "key", "trust",
                                NULL };
    for (const char **name = required; *name; name++)
        if (!cc_config_get (config, *name)) {
            fprintf (stderr, PROGRAM ": --%s is required (try --help)\n",
                     *name);
            cc_config_destroy (&config);
            return 2;
        }
    char host [256];
    int port = 0;
    if (cc_config_endpoint (cc_config_get (config, "relay"), host, &port)
    ||  port < 1 || port > 65534) {
        fprintf (stderr, PROGRAM ": --relay '%s' is not HOST:PORT (PORT below "
                 "65535)\n", cc_config_get (config, "relay"));
        cc_config_destroy (&config);
        return 2;
    }
    //  The same rule as the broker's and relay's --name, so one name is
    //  valid everywhere. The key's name (the default) is keygen's to check.
    const char *name = cc_config_get (config, "name");
    const char *problem = name? cc_config_name_problem (name): NULL;
    if (problem) {
        fprintf (stderr, PROGRAM ": --name '%s' %s\n", name, problem);
        cc_config_destroy (&config);
        return 2;
    }
    int64_t heartbeat = cc_config_int (config, "heartbeat", 50, 60000, 1000);
    int64_t ack_resend = heartbeat < 0? -1:
        cc_config_int (config, "ack-resend", 50, 3600000, 2000);
    int64_t dead_after = ack_resend < 0? -1:
        cc_config_int (config, "dead-after", 100, 3600000, 3 * heartbeat);
    if (heartbeat < 0 || ack_resend < 0 || dead_after < 0) {
        cc_config_destroy (&config);
        return 2;               //  cc_config_int printed the reason
    }
    //  One malloc arena for all threads: with an arena per thread (the
    //  actor, the verification workers, libzmq's I/O thread) each kept
    //  its own partly used pages; the agent's threads allocate little
    //  concurrently and tcache serves most of it without the lock.
    mallopt (M_ARENA_MAX, 1);
    //  No OpenSSL cleanup at exit: czmq's detached actor threads may still
    //  be exiting then, and would free their OpenSSL state a second time.
    //  No error strings either: certcast says why in its own words, and
    //  OpenSSL's tables cost the agent ~200 KiB resident.
    OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT
                       | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
    zsys_set_logident (PROGRAM);
    zsys_set_logstream (stderr);
    //  The agent has a handful of sockets (actor pipe, DEALER, SUB, and
    //  old ones until reaped): libzmq sizes two slot tables by this limit
    //  and fills them, ~770 KiB resident for the 65535 that 0 means.
    zsys_set_max_sockets (AGENT_MAX_SOCKETS);

    const char *reason = NULL;
    const char *key_path = cc_config_get (config, "key");
    cc_keys_t *keys = cc_keys_load (key_path, &reason);
    if (!keys || !cc_keys_has_secret (keys)) {
        fprintf (stderr, PROGRAM ": --key %s: %s\n", key_path,
                 keys? "not a secret key file": reason? reason: "cannot load");
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    //  Our sector is what we follow and take advisories for: a key
    //  without one would have its relay serve it nothing, silently.
    if (!cc_agent_sector (keys)) {
        fprintf (stderr, PROGRAM ": --key %s: names no sector of its own "
                 "(certcast keygen --role agent --sector S)\n", key_path);
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    const char *trust_path = cc_config_get (config, "trust");
    cc_keys_t *root = cc_keys_load (trust_path, &reason);
    if (root)
        reason = cc_keys_trust_problem (root);
    if (!root || reason) {
        fprintf (stderr, PROGRAM ": --trust %s: %s\n", trust_path,
                 reason? reason: "cannot load");
        cc_keys_destroy (&root);
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    const char *relay_path = cc_config_get (config, "relay-pub");
    cc_keys_t *relay = cc_keys_load (relay_path, &reason);
    if (!relay) {
        fprintf (stderr, PROGRAM ": --relay-pub %s: %s\n", relay_path,
                 reason? reason: "cannot load");
        cc_keys_destroy (&root);
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    //  Directories are checked here, so a bad one is one line on stderr
    //  rather than a log line from inside the actor; all of them before
    //  any is created, so a bad --spool leaves no new --data behind.
    const char *dirs [] = { "data", "spool", NULL };
    for (int create = 0; create < 2; create++) {
        for (const char **option = dirs; *option; option++) {
            const char *dir = cc_config_get (config, *option);
            if (dir && s_check_dir (*option, dir, create)) {
                cc_keys_destroy (&relay);
                cc_keys_destroy (&root);
                cc_keys_destroy (&keys);
                cc_config_destroy (&config);
                return 1;
            }
        }
    }
    if (!name)
        name = cc_keys_meta (keys, "name");
    if (!name || !*name)
        name = "agent";

    cc_agent_options_t options = {
        .relay_host = host,
        .relay_port = port,
        .relay_key = cc_keys_curve_public (relay),
        .data_dir = cc_config_get (config, "data"),
        .keys = keys,
        .root_key = cc_keys_sign_public (root),
        .name = name,
        .spool_dir = cc_config_get (config, "spool"),
        .exec_cmd = cc_config_get (config, "exec"),
        .heartbeat_ms = (int) heartbeat,
        .ack_resend_ms = (int) ack_resend,
        .dead_after_ms = (int) dead_after,
        .verbose = cc_config_verbose (config)
    };
    cc_agent_t *agent = cc_agent_new (&options);
    if (!agent) {
        fprintf (stderr, PROGRAM ": could not start (see the log above)\n");
        cc_keys_destroy (&relay);
        cc_keys_destroy (&root);
        cc_keys_destroy (&keys);
        cc_config_destroy (&config);
        return 1;
    }
    zsys_notice ("ready");
    //  Signal handlers only set zsys_interrupted (czmq's default handler).
    //  A signal taken by this thread interrupts the wait; one taken by the
    //  actor ends the actor, which wakes us through its pipe (the other
    //  threads block signals). So no periodic wake-up: it was idle CPU.
    zpoller_t *poller = zpoller_new (cc_agent_actor (agent), NULL);
    while (!zsys_interrupted) {
        zpoller_wait (poller, -1);
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsys_notice ("stopping");
    cc_agent_destroy (&agent);
    cc_keys_destroy (&relay);
    cc_keys_destroy (&root);
    cc_keys_destroy (&keys);
    cc_config_destroy (&config);
    return 0;
}
