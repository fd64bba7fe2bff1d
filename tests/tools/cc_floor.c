/*  cc_floor.c - the resident-memory floor of any agent built on certcast's
    libraries, measured on this machine (`make bench`, footprint).

    cc_floor DIR

    The process does only what no agent can skip, with the libraries the
    project mandates (Debian's libzmq, czmq, OpenSSL, LMDB, protobuf-c):
    loads them, initialises OpenSSL as certcast-agent does, verifies one
    Ed25519 signature and hashes it with SHA-256, commits one put durably
    to an LMDB environment in DIR, and makes one CurveZMQ round trip over
    TCP on 127.0.0.1 to a server in a child process (so the server's
    memory is not counted). Then it prints its own VmRSS and the anonymous
    and file-backed parts (KiB), and the shared libraries' share, as
    "key value" lines. An agent's RSS can be no lower than this on this
    machine; the difference is what the agent itself holds.

    Exit 0 with the figures, 1 if a step failed, 2 for usage.
*/
#include "../../broker/cc_broker.h"
#include <malloc.h>
#include <sys/wait.h>

#define FLOOR_MESSAGE_SIZE  1024

//  The child: a CURVE ROUTER on a free port that echoes one message, then
//  waits for the parent to close the pipe.
static int
s_server (int report_fd, int done_fd)
{
    zcert_t *cert = zcert_new ();
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zcert_apply (cert, router);
    zsock_set_curve_server (router, 1);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    char report [64];
    snprintf (report, sizeof report, "%d %s\n", port, zcert_public_txt (cert));
    if (port < 0 || write (report_fd, report, strlen (report)) < 0)
        return 1;
    close (report_fd);
    zmsg_t *msg = zmsg_recv (router);
    if (msg)
        zmsg_send (&msg, router);
    char byte;
    while (read (done_fd, &byte, 1) > 0)
        ;
    zsock_destroy (&router);
    zcert_destroy (&cert);
    return 0;
}

static int
s_put (MDB_txn *txn, void *arg)
{
    cc_store_t *store = (cc_store_t *) arg;
    uint8_t value [FLOOR_MESSAGE_SIZE] = { 1 };
    MDB_val key = { 5, (void *) "floor" }, data = { sizeof value, value };
    return mdb_put (txn, cc_store_dbi (store, CC_DB_META), &key, &data, 0);
}

//  VmRSS, RssAnon, RssFile in KiB from /proc/self/status.
static void
s_print_rss (void)
{
    FILE *status = fopen ("/proc/self/status", "r");
    if (!status)
        return;
    char line [256];
    long value;
    while (fgets (line, sizeof line, status)) {
        if (sscanf (line, "VmRSS: %ld", &value) == 1)
            printf ("floor_rss_kib %ld\n", value);
        if (sscanf (line, "RssAnon: %ld", &value) == 1)
            printf ("floor_anon_kib %ld\n", value);
        if (sscanf (line, "RssFile: %ld", &value) == 1)
            printf ("floor_file_kib %ld\n", value);
    }
    fclose (status);
    //  The shared libraries' resident pages: everything mapped from a .so.
    FILE *smaps = fopen ("/proc/self/smaps", "r");
    if (!smaps)
        return;
    bool library = false;
    long libraries = 0;
    while (fgets (line, sizeof line, smaps)) {
        unsigned long start, end;
        if (sscanf (line, "%lx-%lx ", &start, &end) == 2)
            library = strstr (line, ".so") != NULL;
        else
        if (library && sscanf (line, "Rss: %ld", &value) == 1)
            libraries += value;
    }
    fclose (smaps);
    printf ("floor_libraries_kib %ld\n", libraries);
}

int
main (int argc, char **argv)
{
    //  An option is not a directory to create and commit into.
    if (argc != 2 || argv [1][0] == '-') {
        fprintf (stderr, "usage: cc_floor DIR\n");
        return 2;
    }
    //  Fork before any library starts a thread.
    int report [2], done [2];
    if (pipe (report) || pipe (done)) {
        perror ("cc_floor: pipe");
        return 1;
    }
    pid_t server = fork ();
    if (server < 0) {
        perror ("cc_floor: fork");
        return 1;
    }
    if (server == 0) {
        close (report [0]);
        close (done [1]);
        _exit (s_server (report [1], done [0]));
    }
    close (report [1]);
    close (done [0]);
    //  As certcast-agent does (agent_main.c).
    OPENSSL_init_crypto (OPENSSL_INIT_NO_ATEXIT
                       | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
    zsys_set_logident ("cc_floor");
    zsys_set_logstream (stderr);
    int failed = 0;

    uint8_t message [FLOOR_MESSAGE_SIZE], signature [64], digest [32];
    memset (message, 'x', sizeof message);
    cc_keys_t *keys = cc_keys_generate ();
    if (cc_keys_sign (keys, message, sizeof message, signature)
    || !cc_ed25519_verify (cc_keys_sign_public (keys), message, sizeof message,
                           signature, sizeof signature)) {
        fprintf (stderr, "cc_floor: Ed25519 sign/verify failed\n");
        failed = 1;
    }
    cc_sha256 (signature, sizeof signature, digest);

    cc_store_t *store = cc_store_new (argv [1], 0);
    if (!store)
        failed = 1;             //  cc_store said why
    else
    if (cc_store_write (store, s_put, store)) {
        fprintf (stderr, "cc_floor: LMDB commit in %s failed\n", argv [1]);
        failed = 1;
    }

    char line [64] = "", server_key [41] = "";
    int port = 0;
    zsock_t *dealer = NULL;
    FILE *from_server = fdopen (report [0], "r");
    if (!from_server || !fgets (line, sizeof line, from_server)
    ||  sscanf (line, "%d %40s", &port, server_key) != 2) {
        fprintf (stderr, "cc_floor: the echo server did not start\n");
        failed = 1;
    }
    else {
        dealer = cc_keys_client (keys, ZMQ_DEALER, server_key);
        zsock_set_rcvtimeo (dealer, 5000);
        zsock_connect (dealer, "tcp://127.0.0.1:%d", port);
        zframe_t *frame = zframe_new (message, sizeof message);
        zframe_send (&frame, dealer, 0);
        frame = zframe_recv (dealer);
        if (!frame || zframe_size (frame) != sizeof message) {
            fprintf (stderr, "cc_floor: no CurveZMQ echo\n");
            failed = 1;
        }
        zframe_destroy (&frame);
    }
    if (from_server)
        fclose (from_server);
    //  Measured with the connection up, as in a running agent, and the
    //  heap given back first, as the agent does when idle.
    malloc_trim (0);
    if (!failed)
        s_print_rss ();
    zsock_destroy (&dealer);
    cc_store_destroy (&store);
    cc_keys_destroy (&keys);
    close (done [1]);
    waitpid (server, NULL, 0);
    return failed;
}
