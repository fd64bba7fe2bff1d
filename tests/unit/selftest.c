/*  selftest.c - runs every module's self-test, each in its own child
    process so a failed assert (or a sanitizer report) counts as one
    failure instead of ending the run.

    cc_selftest [-v] [--list] [--test NAME]...
*/
#include "../../agents/cc_agents.h"
#include <sys/wait.h>

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} test_item_t;

static const test_item_t s_tests [] = {
    { "pool", cc_pool_test },
    { "verifier", cc_verifier_test },
    { "behind", cc_behind_test },
    { "loglimit", cc_loglimit_test },
    { "config", cc_config_test },
    { "wire", cc_wire_test },
    { "keys", cc_keys_test },
    { "delegation", cc_delegation_test },
    { "advisory", cc_advisory_test },
    { "store", cc_store_test },
    { "log", cc_log_test },
    { "ledger", cc_ledger_test },
    { "roster", cc_roster_test },
    { "roster_chunks", cc_roster_chunks_test },
    { "ackpace", cc_ackpace_test },
    { "heard", cc_heard_test },
    { "zap", cc_zap_test },
    { "heartbeats", cc_heartbeats_test },
    { "inbox", cc_inbox_test },
    { "handoff", cc_handoff_test },
    { "handover", cc_handover_test },
    { "agent", cc_agent_test },
    { NULL, NULL }
};

static bool
s_run (const test_item_t *item, bool verbose)
{
    fflush (stdout);
    int64_t started = zclock_mono ();
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        item->test (verbose);
        //  Skip czmq's atexit checks for sockets the test left to libzmq;
        //  _exit does not flush, and -v output to a pipe is buffered.
        fflush (stdout);
        _exit (0);
    }
    int status = 0;
    waitpid (pid, &status, 0);
    bool passed = WIFEXITED (status) && WEXITSTATUS (status) == 0;
    printf ("%s unit/%s (%" PRId64 " ms)", passed? "PASS": "FAIL",
            item->name, zclock_mono () - started);
    if (!passed) {
        if (WIFSIGNALED (status))
            printf (" signal %d", WTERMSIG (status));
        else
            printf (" exit %d", WEXITSTATUS (status));
    }
    printf ("\n");
    return passed;
}

int
main (int argc, char **argv)
{
    bool verbose = false;
    zlist_t *wanted = zlist_new ();
    for (int index = 1; index < argc; index++) {
        if (streq (argv [index], "-v"))
            verbose = true;
        else
        if (streq (argv [index], "--list")) {
            for (const test_item_t *item = s_tests; item->name; item++)
                printf ("%s\n", item->name);
            zlist_destroy (&wanted);
            return 0;
        }
        else
        if (streq (argv [index], "--test") && index + 1 < argc)
            zlist_append (wanted, argv [++index]);
        else {
            fprintf (stderr, "usage: cc_selftest [-v] [--list] [--test NAME]...\n");
            zlist_destroy (&wanted);
            return 2;
        }
    }
    int passed = 0, failed = 0;
    for (const test_item_t *item = s_tests; item->name; item++) {
        if (zlist_size (wanted)) {
            bool selected = false;
            for (char *name = (char *) zlist_first (wanted); name;
                 name = (char *) zlist_next (wanted))
                if (streq (name, item->name))
                    selected = true;
            if (!selected)
                continue;
        }
        if (s_run (item, verbose))
            passed++;
        else
            failed++;
    }
    zlist_destroy (&wanted);
    printf ("%d passed, %d failed\n", passed, failed);
    return failed? 1: 0;
}
