/*  cc_bench.c - the measuring client behind `make bench` (tests/bench/run.sh).

    It measures certcast from the outside, as a publisher and as an
    observer of agents' spool directories, and it measures the physical
    limits certcast is compared with, in the same run on the same machine:

    cc_bench baseline-ed25519 [--size BYTES] [--seconds S]
        Ed25519 sign and verify per second on one core, through the
        functions certcast itself uses (cc_keys_sign, cc_ed25519_verify:
        OpenSSL EVP, a fresh EVP_PKEY and EVP_MD_CTX per verify); also
        verify with one EVP_PKEY and EVP_MD_CTX kept across calls, to show
        what the per-call set-up costs; and verifies per second with one
        thread per core verifying at once (what shared cores really give).
    cc_bench baseline-lmdb DIR [--count N] [--group G] [--txns T]
                               [--size BYTES]
        Durable LMDB commits through cc_store_write (full data sync): N
        commits of one put each (latency p50/p99), then T transactions of
        G puts each (puts per second).
    cc_bench baseline-lmdb-load DIR [--writers W] [--rate R] [--commits N]
                                    [--size BYTES]
        The same durable commits under the disk load of a scenario: W
        threads, each with its own LMDB environment in DIR/writer-K (as
        each daemon and agent has its own), each committing one put N
        times at R commits a second on a shared open-loop schedule. The
        latency of every commit (p50/p99 over all of them): what one
        durable commit costs while the rest of a federation is flushing.
    cc_bench baseline-zmq COUNT SIZE [--subs N] [--rounds R] [--curve]
        Raw libzmq chain with no certcast code in it: PUB -> (XSUB/XPUB
        zmq_proxy) -> N SUB, over TCP on 127.0.0.1, each party with its own
        context (its own I/O thread), unlimited high-water marks. COUNT
        messages of SIZE bytes; deliveries/s = COUNT x N / (first send to
        last receipt at the slowest subscriber); median of R rounds; and
        the median round's CPU seconds over the same span (cpu_s).
    cc_bench baseline-reqrep COUNT REQUEST_BYTES REPLY_BYTES [--window W]
                             [--peers P]
        The transport of ack ingest with no certcast code in it: a libzmq
        DEALER sends COUNT requests of REQUEST_BYTES to a ROUTER (its own
        context and thread) that answers each with REPLY_BYTES, over TCP
        on 127.0.0.1 with CurveZMQ, at most W outstanding (default 256).
        --peers P: P DEALERs, each its own CURVE key and connection (as P
        agents), the requests shared among them, at most W outstanding
        each.
        Prints the time and the CPU seconds of the whole process (both
        ends and both I/O threads) after one warm-up round trip.
    cc_bench publish-rtt --to HOST:PORT --server-pub FILE --key FILE
                         --delegation FILE --count N [--size BYTES]
                         [--rate PER_S] [--window W] [--sector S]
                         [--times FILE] [--watch DIR]... [--expect N]
                         [--await-acks ROWS] [--timeout S]
        Signs N advisories (cc_advisory_sign, BODY of --size bytes) before
        the clock starts, then sends Control{Publish} over ONE CURVE DEALER,
        at most W outstanding (default 1: sequential), paced at --rate if
        given, and times each Stored reply. --watch DIR (an agent's spool
        directory, repeatable) adds an inotify observer: the creation of
        an agent's temporary spool file is the moment its inbox commit
        returned (the agent hands over only after the commit), the rename
        is the end of the hand-over. --await-acks ROWS polls the broker's
        status until its ack_rows counter grew by ROWS (every ack durable
        in that broker's ledger). --times FILE writes "id send_realtime_ns".
    cc_bench ack-ingest --to HOST:PORT --server-pub FILE --key FILE
                        --count N [--agents A] [--batch B] [--window W]
                        [--ids FILE [--data DIR]] [--timeout S]
        Ack ingest at one broker or relay. Makes A agent keys in memory and
        signs N acks before the clock starts (ack i by agent i mod A, one
        entry each, for the (i / A mod K)th of the K advisory ids in
        --ids FILE: the first word of each line, as publish-rtt --times
        writes them; a broker ledgers acks only for advisories it holds,
        and only those that name the digest of the bytes it holds: the
        acks name that of revision 1 of each id as the store in --data
        DIR, the receiver's data directory, holds it. Without --ids, for
        ids of their own, which it only counts as acks_unknown), then
        sends them as
        Control{Acks} of B signed acks each over ONE CURVE DEALER with the
        key of --key (a relay enrolled there: a relay's acks are verified
        but may come from any agent), at most W requests outstanding, and
        counts the Acked replies (each after the receiver's durable
        commit). Prints acks_per_s over first send to last Acked.
    cc_bench watch --watch DIR... --expect N [--timeout S]
                   [--await-acks ROWS --to HOST:PORT --server-pub FILE
                    --key FILE]
        Only the inotify observer: prints "ready", then waits for N new
        advisories in every DIR and prints the first and last times
        (CLOCK_REALTIME ns, comparable with `date +%s%N`). --await-acks
        also polls that broker's status until its ack_rows counter grew
        by ROWS and prints when (acks_done_real_ns): the agents' signed
        receipts durable at their relay.

    Output is one "key value" line per figure (times in ms unless the key
    says otherwise), for run.sh to read. Exit 0 if everything expected
    arrived, 1 if something was refused, lost or timed out (the figures
    printed are still true), 2 for usage.

    Everything allocated is freed before exit.
*/
#include "../../broker/cc_broker.h"
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#define BENCH_STATUS_EVERY_MS  20       //  ack_rows polling interval
#define BENCH_CORR_STATUS      (1ULL << 62)

static int
s_usage (const char *why)
{
    fprintf (stderr, "cc_bench: %s\n"
             "usage: cc_bench baseline-ed25519|baseline-lmdb DIR|"
             "baseline-lmdb-load DIR|baseline-reqrep COUNT REQ REP|"
             "baseline-zmq COUNT SIZE|publish-rtt|ack-ingest|watch [options] "
             "(see tests/tools/cc_bench.c)\n", why);
    return 2;
}

static int64_t
s_mono_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

static int64_t
s_real_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

static int
s_compare_double (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return a < b? -1: a > b? 1: 0;
}

//  Nearest-rank percentile of sorted values (q in 0..1); 0 if empty.
static double
s_percentile (const double *sorted, size_t size, double q)
{
    if (size == 0)
        return 0;
    double exact = q * (double) size;
    size_t rank = (size_t) exact;
    if ((double) rank < exact)
        rank++;
    if (rank < 1)
        rank = 1;
    return sorted [rank - 1];
}

//  Prints NAME_n, NAME_p50_ms, NAME_p99_ms, NAME_max_ms, NAME_mean_ms of
//  values in ns. Sorts values in place.
static void
s_print_latency (const char *name, double *values, size_t size)
{
    qsort (values, size, sizeof (double), s_compare_double);
    double sum = 0;
    for (size_t index = 0; index < size; index++)
        sum += values [index];
    printf ("%s_n %zu\n", name, size);
    printf ("%s_p50_ms %.3f\n", name, s_percentile (values, size, 0.50) / 1e6);
    printf ("%s_p99_ms %.3f\n", name, s_percentile (values, size, 0.99) / 1e6);
    printf ("%s_max_ms %.3f\n", name, size? values [size - 1] / 1e6: 0);
    printf ("%s_mean_ms %.3f\n", name, size? sum / (double) size / 1e6: 0);
}

//  Option value parsing shared by every subcommand: "--name value" pairs
//  after the positional arguments. Returns the value or NULL.
typedef struct {
    int argc;
    char **argv;
    int first;                  //  first index holding options
} s_opts_t;

static const char *
s_opt (s_opts_t *opts, const char *name)
{
    for (int index = opts->first; index + 1 < opts->argc; index++)
        if (streq (opts->argv [index], name))
            return opts->argv [index + 1];
    return NULL;
}

static bool
s_flag (s_opts_t *opts, const char *name)
{
    for (int index = opts->first; index < opts->argc; index++)
        if (streq (opts->argv [index], name))
            return true;
    return false;
}

static double
s_opt_number (s_opts_t *opts, const char *name, double fallback)
{
    const char *value = s_opt (opts, name);
    return value? atof (value): fallback;
}

//  ==========================================================================
//  baseline-ed25519

//  One verifying thread of a run.
typedef struct {
    const uint8_t *public_key, *message, *signature;
    size_t size;
    int64_t deadline;
    uint64_t verifies;
} s_verifier_t;

static void
s_verifier_work (s_verifier_t *verifier)
{
    while (s_mono_ns () < verifier->deadline)
        for (int batch = 0; batch < 64; batch++) {
            bool valid = cc_ed25519_verify (verifier->public_key,
                                            verifier->message, verifier->size,
                                            verifier->signature, 64);
            assert (valid);
            verifier->verifies++;
        }
}

static void *
s_verifier_run (void *arg)
{
    s_verifier_work ((s_verifier_t *) arg);
    OPENSSL_thread_stop ();
    return NULL;
}

//  Verifies per second with `cores` threads verifying at once. With every
//  core: what a machine whose cores are shared (virtual CPUs, a busy
//  host) really gives, next to cores x the one-core rate.
static double
s_verify_rate (const uint8_t *public_key, const uint8_t *message,
               size_t size, const uint8_t *signature, double seconds,
               long cores)
{
    s_verifier_t *verifiers = (s_verifier_t *) calloc ((size_t) cores, sizeof *verifiers);
    pthread_t *threads = (pthread_t *) calloc ((size_t) cores, sizeof *threads);
    assert (verifiers && threads);
    int64_t start = s_mono_ns ();
    for (long index = 0; index < cores; index++) {
        verifiers [index] = (s_verifier_t) {
            public_key, message, signature, size,
            start + (int64_t) (seconds * 1e9), 0
        };
        int rc = pthread_create (&threads [index], NULL, s_verifier_run,
                                 &verifiers [index]);
        assert (rc == 0);
    }
    uint64_t total = 0;
    for (long index = 0; index < cores; index++) {
        pthread_join (threads [index], NULL);
        total += verifiers [index].verifies;
    }
    double rate = (double) total / ((double) (s_mono_ns () - start) / 1e9);
    free (verifiers);
    free (threads);
    return rate;
}

static int
s_baseline_ed25519 (s_opts_t *opts)
{
    size_t size = (size_t) s_opt_number (opts, "--size", 1024);
    double seconds = s_opt_number (opts, "--seconds", 1.0);
    cc_keys_t *keys = cc_keys_generate ();
    uint8_t *message = (uint8_t *) zmalloc (size + 1);
    int rc = RAND_bytes (message, (int) size + 1);
    assert (rc == 1);
    uint8_t signature [64];

    int64_t deadline = s_mono_ns () + (int64_t) (seconds * 1e9);
    int64_t start = s_mono_ns ();
    uint64_t signs = 0;
    while (s_mono_ns () < deadline) {
        for (int batch = 0; batch < 64; batch++) {
            message [0] = (uint8_t) signs;
            rc = cc_keys_sign (keys, message, size, signature);
            assert (rc == 0);
            signs++;
        }
    }
    double sign_rate = (double) signs / ((double) (s_mono_ns () - start) / 1e9);

    //  On this thread, as the engine verifies a small batch on its own.
    s_verifier_t one = {
        cc_keys_sign_public (keys), message, signature, size,
        s_mono_ns () + (int64_t) (seconds * 1e9), 0
    };
    start = s_mono_ns ();
    s_verifier_work (&one);
    double verify_rate = (double) one.verifies
                       / ((double) (s_mono_ns () - start) / 1e9);

    //  The same verify with the EVP_PKEY made once and one EVP_MD_CTX
    //  reused: how much of the above is OpenSSL object set-up.
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key (
        EVP_PKEY_ED25519, NULL, cc_keys_sign_public (keys), 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    assert (pkey && ctx);
    deadline = s_mono_ns () + (int64_t) (seconds * 1e9);
    start = s_mono_ns ();
    uint64_t cached = 0;
    while (s_mono_ns () < deadline) {
        for (int batch = 0; batch < 64; batch++) {
            bool valid = EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, pkey) == 1
                      && EVP_DigestVerify (ctx, signature, 64, message, size) == 1;
            assert (valid);
            cached++;
        }
    }
    double cached_rate = (double) cached
                       / ((double) (s_mono_ns () - start) / 1e9);
    EVP_MD_CTX_free (ctx);
    EVP_PKEY_free (pkey);
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    double all_cores_rate = s_verify_rate (cc_keys_sign_public (keys), message,
                                           size, signature, seconds, cores);
    printf ("message_bytes %zu\n", size);
    printf ("sign_per_s %.0f\n", sign_rate);
    printf ("verify_per_s %.0f\n", verify_rate);
    printf ("verify_cached_key_per_s %.0f\n", cached_rate);
    printf ("verify_all_cores_per_s %.0f\n", all_cores_rate);
    printf ("cores %ld\n", cores);
    free (message);
    cc_keys_destroy (&keys);
    return 0;
}

//  ==========================================================================
//  baseline-lmdb

typedef struct {
    cc_store_t *store;
    uint64_t next_key;          //  first key of this batch
    size_t puts;                //  puts in this batch
    const uint8_t *value;
    size_t value_size;
} s_lmdb_batch_t;

static int
s_lmdb_put (MDB_txn *txn, void *arg)
{
    s_lmdb_batch_t *batch = (s_lmdb_batch_t *) arg;
    MDB_dbi dbi = cc_store_dbi (batch->store, CC_DB_LOG);
    for (size_t index = 0; index < batch->puts; index++) {
        uint8_t key_bytes [14] = "bench";
        cc_be64_put (key_bytes + 6, batch->next_key + index);
        MDB_val key = { sizeof key_bytes, key_bytes };
        MDB_val value = { batch->value_size, (void *) batch->value };
        int rc = mdb_put (txn, dbi, &key, &value, 0);
        if (rc)
            return rc;
    }
    return 0;
}

static int
s_baseline_lmdb (s_opts_t *opts, const char *dir)
{
    size_t count = (size_t) s_opt_number (opts, "--count", 1000);
    size_t group = (size_t) s_opt_number (opts, "--group", 1000);
    size_t txns = (size_t) s_opt_number (opts, "--txns", 10);
    size_t size = (size_t) s_opt_number (opts, "--size", 1024);
    if (count < 1 || group < 1 || txns < 1)
        return s_usage ("--count, --group and --txns must be positive");
    zsys_init ();
    zsys_set_logident ("cc_bench");
    //  A map big enough from the start: growth is not what we measure.
    size_t mapsize = (count + group * txns) * (size + 256) * 2 + (64 << 20);
    cc_store_t *store = cc_store_open (dir, 0, mapsize);
    if (!store) {
        fprintf (stderr, "cc_bench: cannot open LMDB store in %s\n", dir);
        return 1;
    }
    uint8_t *value = (uint8_t *) zmalloc (size);
    int rc = RAND_bytes (value, (int) size);
    assert (rc == 1);
    s_lmdb_batch_t batch = { store, 1, 1, value, size };

    double *latency = (double *) zmalloc (count * sizeof (double));
    int failures = 0;
    for (size_t index = 0; index < count; index++) {
        int64_t start = s_mono_ns ();
        if (cc_store_write (store, s_lmdb_put, &batch))
            failures++;
        latency [index] = (double) (s_mono_ns () - start);
        batch.next_key++;
    }
    printf ("value_bytes %zu\n", size);
    s_print_latency ("commit", latency, count);

    batch.puts = group;
    int64_t start = s_mono_ns ();
    for (size_t index = 0; index < txns; index++) {
        if (cc_store_write (store, s_lmdb_put, &batch))
            failures++;
        batch.next_key += group;
    }
    double elapsed = (double) (s_mono_ns () - start) / 1e9;
    printf ("group_size %zu\n", group);
    printf ("group_txn_ms %.3f\n", elapsed * 1000 / (double) txns);
    printf ("group_puts_per_s %.0f\n", (double) (group * txns) / elapsed);
    printf ("failures %d\n", failures);
    free (latency);
    free (value);
    cc_store_destroy (&store);
    return failures? 1: 0;
}

//  ==========================================================================
//  baseline-lmdb-load: durable commits while other writers commit too

//  One writer: its own LMDB environment in its own directory, one put per
//  durable commit, on an open-loop schedule of `rate` commits a second
//  from a start time shared by every writer.
typedef struct {
    char dir [PATH_MAX];
    double rate;
    size_t commits;
    int64_t start_ns;
    const uint8_t *value;
    size_t value_size;
    double *latency;            //  of each commit that succeeded, in ns
    size_t timed;               //  values in latency
    int64_t late_max_ns;        //  the most a commit started after it was due
    int failures;
} s_load_writer_t;

static void *
s_load_writer (void *arg)
{
    s_load_writer_t *self = (s_load_writer_t *) arg;
    size_t mapsize = self->commits * (self->value_size + 256) * 2 + (64 << 20);
    cc_store_t *store = cc_store_open (self->dir, 0, mapsize);
    if (!store) {
        self->failures = (int) self->commits;
        return NULL;
    }
    s_lmdb_batch_t batch = { store, 1, 1, self->value, self->value_size };
    for (size_t index = 0; index < self->commits; index++) {
        int64_t due = self->start_ns + (int64_t) ((double) index * 1e9 / self->rate);
        struct timespec wake = { (time_t) (due / 1000000000), (long) (due % 1000000000) };
        while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR)
            ;
        int64_t begin = s_mono_ns ();
        //  A writer that falls behind commits back to back: that is a
        //  lighter load than asked for, so it is reported
        if (begin - due > self->late_max_ns)
            self->late_max_ns = begin - due;
        if (cc_store_write (store, s_lmdb_put, &batch))
            self->failures++;
        else
            self->latency [self->timed++] = (double) (s_mono_ns () - begin);
        batch.next_key++;
    }
    cc_store_destroy (&store);
    return NULL;
}

static int
s_baseline_lmdb_load (s_opts_t *opts, const char *dir)
{
    size_t writers = (size_t) s_opt_number (opts, "--writers", 12);
    double rate = s_opt_number (opts, "--rate", 100);
    size_t commits = (size_t) s_opt_number (opts, "--commits", 1000);
    size_t size = (size_t) s_opt_number (opts, "--size", 1024);
    if (writers < 1 || writers > 1024 || rate <= 0 || commits < 1 || size < 1)
        return s_usage ("--writers (1..1024), --rate, --commits and --size "
                        "must be positive");
    if (zsys_dir_create ("%s", dir)) {
        fprintf (stderr, "cc_bench: cannot create %s: %s\n", dir,
                 strerror (errno));
        return 1;
    }
    zsys_init ();
    zsys_set_logident ("cc_bench");
    uint8_t *value = (uint8_t *) zmalloc (size);
    int rc = RAND_bytes (value, (int) size);
    assert (rc == 1);
    s_load_writer_t *writer =
        (s_load_writer_t *) zmalloc (writers * sizeof (s_load_writer_t));
    pthread_t *thread = (pthread_t *) zmalloc (writers * sizeof (pthread_t));
    double *latency = (double *) zmalloc (writers * commits * sizeof (double));
    //  Time for every writer to open its environment before the first
    //  commit is due, so the load starts at once.
    int64_t start = s_mono_ns () + 500 * 1000000LL;
    for (size_t index = 0; index < writers; index++) {
        s_load_writer_t *self = &writer [index];
        snprintf (self->dir, sizeof self->dir, "%s/writer-%zu", dir, index);
        zsys_dir_create ("%s", self->dir);
        self->rate = rate;
        self->commits = commits;
        self->start_ns = start;
        self->value = value;
        self->value_size = size;
        self->latency = latency + index * commits;
        rc = pthread_create (&thread [index], NULL, s_load_writer, self);
        assert (rc == 0);
    }
    //  Only commits that succeeded are timed: a failure is no latency.
    int failures = 0;
    size_t timed = 0;
    int64_t late_max_ns = 0;
    for (size_t index = 0; index < writers; index++) {
        pthread_join (thread [index], NULL);
        failures += writer [index].failures;
        if (writer [index].late_max_ns > late_max_ns)
            late_max_ns = writer [index].late_max_ns;
        memmove (latency + timed, writer [index].latency,
                 writer [index].timed * sizeof (double));
        timed += writer [index].timed;
    }
    double elapsed = (double) (s_mono_ns () - start) / 1e9;
    printf ("writers %zu\n", writers);
    printf ("rate_per_writer %.0f\n", rate);
    printf ("value_bytes %zu\n", size);
    printf ("elapsed_s %.3f\n", elapsed);
    printf ("commits_per_s %.0f\n", (double) timed / elapsed);
    s_print_latency ("loaded_commit", latency, timed);
    printf ("schedule_late_max_ms %.3f\n", (double) late_max_ns / 1e6);
    printf ("failures %d\n", failures);
    free (latency);
    free (thread);
    free (writer);
    free (value);
    return failures? 1: 0;
}

//  ==========================================================================
//  baseline-zmq: PUB -> XSUB/XPUB proxy -> N SUB, plain or CURVE

typedef struct {
    char endpoint [256];        //  the proxy's XPUB
    size_t count;               //  data messages to expect
    bool curve;
    char server_public [41];    //  Z85, when curve
    atomic_int *ready;          //  subscribers that saw a warm-up message
    int64_t last_ns;            //  receipt of the last data message
    double last_cpu;            //  the process's CPU seconds then
    size_t received;            //  data messages received
} s_sub_t;

static void
s_curve_client (void *socket, const char *server_public)
{
    char public_key [41], secret_key [41];
    int rc = zmq_curve_keypair (public_key, secret_key);
    assert (rc == 0);
    zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, server_public, 40);
    zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY, public_key, 40);
    zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, secret_key, 40);
}

//  CPU time of every thread of this process, both ends and I/O threads
static double
s_cpu_seconds (void)
{
    struct timespec now;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

static void
s_curve_server (void *socket, const char *server_secret)
{
    int on = 1;
    zmq_setsockopt (socket, ZMQ_CURVE_SERVER, &on, sizeof on);
    zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, server_secret, 40);
}

static void
s_unlimited (void *socket)
{
    int zero = 0, linger = 0;
    zmq_setsockopt (socket, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (socket, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
}

static void *
s_subscriber (void *arg)
{
    s_sub_t *sub = (s_sub_t *) arg;
    void *context = zmq_ctx_new ();
    void *socket = zmq_socket (context, ZMQ_SUB);
    s_unlimited (socket);
    int timeout = 20000;
    zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt (socket, ZMQ_SUBSCRIBE, "", 0);
    if (sub->curve)
        s_curve_client (socket, sub->server_public);
    int rc = zmq_connect (socket, sub->endpoint);
    assert (rc == 0);
    bool warm = false;
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    zmq_msg_init (&body);
    while (sub->received < sub->count) {
        if (zmq_msg_recv (&topic, socket, 0) == -1
        ||  zmq_msg_recv (&body, socket, 0) == -1)
            break;              //  timed out: counted as lost
        if (*(char *) zmq_msg_data (&topic) == 'd') {
            sub->received++;
            if (sub->received == sub->count) {
                sub->last_ns = s_mono_ns ();
                sub->last_cpu = s_cpu_seconds ();
            }
        }
        else
        if (!warm) {
            warm = true;
            atomic_fetch_add (sub->ready, 1);
        }
    }
    zmq_msg_close (&topic);
    zmq_msg_close (&body);
    zmq_close (socket);
    zmq_ctx_term (context);
    return NULL;
}

typedef struct {
    void *frontend, *backend, *control;
} s_proxy_t;

static void *
s_proxy (void *arg)
{
    s_proxy_t *proxy = (s_proxy_t *) arg;
    zmq_proxy_steerable (proxy->frontend, proxy->backend, NULL,
                         proxy->control);
    return NULL;
}

//  One round; returns deliveries per second, or -1 on lost messages.
//  Deliveries per second of one round; *cpu: the process's CPU seconds
//  from the first send to the last receipt (every party and I/O thread).
static double
s_zmq_round (size_t count, size_t size, int subs, bool curve, double *cpu)
{
    char server_public [41], server_secret [41];
    char relay_public [41], relay_secret [41];
    int rc = zmq_curve_keypair (server_public, server_secret);
    assert (rc == 0);
    rc = zmq_curve_keypair (relay_public, relay_secret);
    assert (rc == 0);
    char endpoint [256];
    size_t endpoint_size = sizeof endpoint;

    //  The origin: a PUB that binds, like the national broker
    void *pub_context = zmq_ctx_new ();
    void *pub = zmq_socket (pub_context, ZMQ_PUB);
    s_unlimited (pub);
    if (curve)
        s_curve_server (pub, server_secret);
    rc = zmq_bind (pub, "tcp://127.0.0.1:*");
    assert (rc == 0);
    zmq_getsockopt (pub, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_size);

    //  The forwarder: XSUB connects up, XPUB binds down, like a relay
    void *proxy_context = zmq_ctx_new ();
    s_proxy_t proxy;
    proxy.frontend = zmq_socket (proxy_context, ZMQ_XSUB);
    proxy.backend = zmq_socket (proxy_context, ZMQ_XPUB);
    proxy.control = zmq_socket (proxy_context, ZMQ_PAIR);
    void *steer = zmq_socket (proxy_context, ZMQ_PAIR);
    s_unlimited (proxy.frontend);
    s_unlimited (proxy.backend);
    rc = zmq_bind (proxy.control, "inproc://steer");
    assert (rc == 0);
    rc = zmq_connect (steer, "inproc://steer");
    assert (rc == 0);
    if (curve) {
        s_curve_client (proxy.frontend, server_public);
        s_curve_server (proxy.backend, relay_secret);
    }
    rc = zmq_connect (proxy.frontend, endpoint);
    assert (rc == 0);
    rc = zmq_bind (proxy.backend, "tcp://127.0.0.1:*");
    assert (rc == 0);
    endpoint_size = sizeof endpoint;
    zmq_getsockopt (proxy.backend, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_size);
    pthread_t proxy_thread;
    rc = pthread_create (&proxy_thread, NULL, s_proxy, &proxy);
    assert (rc == 0);

    atomic_int ready = 0;
    s_sub_t *sub = (s_sub_t *) zmalloc (subs * sizeof (s_sub_t));
    pthread_t *threads = (pthread_t *) zmalloc (subs * sizeof (pthread_t));
    for (int index = 0; index < subs; index++) {
        snprintf (sub [index].endpoint, sizeof sub [index].endpoint, "%s",
                  endpoint);
        sub [index].count = count;
        sub [index].curve = curve;
        memcpy (sub [index].server_public, relay_public, 41);
        sub [index].ready = &ready;
        rc = pthread_create (&threads [index], NULL, s_subscriber, &sub [index]);
        assert (rc == 0);
    }
    //  Warm up until every subscription has reached the origin, so no
    //  data message is lost to a slow joiner.
    int64_t give_up = s_mono_ns () + 20 * 1000000000LL;
    while (atomic_load (&ready) < subs && s_mono_ns () < give_up) {
        zmq_send (pub, "w", 1, ZMQ_SNDMORE);
        zmq_send (pub, "warm", 4, 0);
        zclock_sleep (1);
    }
    uint8_t *body = (uint8_t *) zmalloc (size);
    memset (body, 0x5A, size);
    double cpu_start = s_cpu_seconds (), cpu_last = cpu_start;
    int64_t start = s_mono_ns ();
    for (size_t index = 0; index < count; index++) {
        zmq_send (pub, "d", 1, ZMQ_SNDMORE);
        zmq_send (pub, body, size, 0);
    }
    int64_t last = start;
    size_t received = 0;
    for (int index = 0; index < subs; index++) {
        pthread_join (threads [index], NULL);
        received += sub [index].received;
        if (sub [index].last_ns > last)
            last = sub [index].last_ns;
        if (sub [index].last_cpu > cpu_last)
            cpu_last = sub [index].last_cpu;
    }
    *cpu = cpu_last - cpu_start;
    zmq_send (steer, "TERMINATE", 9, 0);
    pthread_join (proxy_thread, NULL);
    zmq_close (steer);
    zmq_close (proxy.control);
    zmq_close (proxy.frontend);
    zmq_close (proxy.backend);
    zmq_close (pub);
    zmq_ctx_term (proxy_context);
    zmq_ctx_term (pub_context);
    free (body);
    free (threads);
    free (sub);
    if (received < count * (size_t) subs)
        return -1;
    return (double) (count * (size_t) subs) / ((double) (last - start) / 1e9);
}

static int
s_baseline_zmq (s_opts_t *opts, size_t count, size_t size)
{
    int subs = (int) s_opt_number (opts, "--subs", 1);
    int rounds = (int) s_opt_number (opts, "--rounds", 5);
    bool curve = s_flag (opts, "--curve");
    if (count < 1 || size < 1 || subs < 1 || rounds < 1)
        return s_usage ("COUNT, SIZE, --subs and --rounds must be positive");
    double *rates = (double *) zmalloc (rounds * sizeof (double));
    double *cpus = (double *) zmalloc (rounds * sizeof (double));
    int lost = 0;
    for (int round = 0; round < rounds; round++) {
        rates [round] = s_zmq_round (count, size, subs, curve, &cpus [round]);
        if (rates [round] < 0) {
            lost++;
            rates [round] = 0;
        }
    }
    qsort (rates, rounds, sizeof (double), s_compare_double);
    printf ("messages %zu\nmessage_bytes %zu\nsubscribers %d\ncurve %d\n",
            count, size, subs, curve? 1: 0);
    printf ("deliveries_per_s %.0f\n", s_percentile (rates, rounds, 0.5));
    printf ("deliveries_per_s_min %.0f\n", rates [0]);
    printf ("deliveries_per_s_max %.0f\n", rates [rounds - 1]);
    qsort (cpus, rounds, sizeof (double), s_compare_double);
    printf ("cpu_s %.3f\n", s_percentile (cpus, rounds, 0.5));
    printf ("rounds_with_loss %d\n", lost);
    free (rates);
    free (cpus);
    return lost? 1: 0;
}

//  ==========================================================================
//  The spool observer (inotify)
//
//  An agent writes DIR/.ID-rREV.json.tmp right after its inbox commit
//  returned, then fsyncs it and renames it to DIR/ID-rREV.json. IN_CREATE
//  of the temporary file therefore marks "inbox committed" (plus the
//  microseconds to build the JSON), IN_MOVED_TO "handed over". We stamp
//  events when we read them, so a stamp is never early; file mtimes would
//  not do, they come from the kernel's coarse clock (4 ms steps here).

typedef struct {
    int fd;                     //  inotify descriptor
    int dirs;                   //  watched directories
    int *wds;                   //  watch descriptor per directory
    char prefix [64];           //  our advisory ids: PREFIX%06zu
    size_t count;               //  advisories expected per directory
    int64_t *created;           //  [dir * count + n], mono ns, 0: not yet
    int64_t *moved;             //  same, for the rename
    size_t created_total;       //  creations seen (ours or, with no
    size_t moved_total;         //  prefix, any)
    int64_t first_real;         //  CLOCK_REALTIME of the first creation
    int64_t last_real;          //  ... and of the last
    int64_t last_mono;          //  CLOCK_MONOTONIC of the last creation
    int64_t last_moved_real;    //  CLOCK_REALTIME of the last rename
    bool overflow;              //  the kernel dropped events
} s_watch_t;

static s_watch_t *
s_watch_new (char **dirs, int ndirs, const char *prefix, size_t count)
{
    s_watch_t *self = (s_watch_t *) zmalloc (sizeof (s_watch_t));
    self->fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    assert (self->fd >= 0);
    self->dirs = ndirs;
    self->wds = (int *) zmalloc ((ndirs + 1) * sizeof (int));
    snprintf (self->prefix, sizeof self->prefix, "%s", prefix? prefix: "");
    self->count = count;
    self->created = (int64_t *) zmalloc ((ndirs * count + 1) * sizeof (int64_t));
    self->moved = (int64_t *) zmalloc ((ndirs * count + 1) * sizeof (int64_t));
    for (int index = 0; index < ndirs; index++) {
        self->wds [index] = inotify_add_watch (self->fd, dirs [index],
                                               IN_CREATE | IN_MOVED_TO);
        if (self->wds [index] < 0) {
            fprintf (stderr, "cc_bench: cannot watch %s: %s\n", dirs [index],
                     strerror (errno));
            exit (1);
        }
    }
    return self;
}

static void
s_watch_destroy (s_watch_t **self_p)
{
    if (*self_p) {
        s_watch_t *self = *self_p;
        close (self->fd);
        free (self->wds);
        free (self->created);
        free (self->moved);
        free (self);
        *self_p = NULL;
    }
}

//  Index of advisory in our numbering from a spool name, or -1.
static long
s_watch_index (s_watch_t *self, const char *name)
{
    if (*name == '.')
        name++;
    size_t length = strlen (self->prefix);
    if (length == 0 || strncmp (name, self->prefix, length) != 0)
        return -1;
    char *end = NULL;
    unsigned long number = strtoul (name + length, &end, 10);
    if (end == name + length || number >= self->count)
        return -1;
    return (long) number;
}

static void
s_watch_read (s_watch_t *self)
{
    char buffer [64 * 1024] __attribute__ ((aligned (8)));
    while (true) {
        ssize_t size = read (self->fd, buffer, sizeof buffer);
        if (size <= 0)
            return;
        int64_t mono = s_mono_ns ();
        int64_t real = s_real_ns ();
        for (char *cursor = buffer; cursor < buffer + size;) {
            struct inotify_event *event = (struct inotify_event *) cursor;
            cursor += sizeof (struct inotify_event) + event->len;
            if (event->mask & IN_Q_OVERFLOW) {
                self->overflow = true;
                continue;
            }
            if (event->len == 0)
                continue;
            int dir = -1;
            for (int index = 0; index < self->dirs; index++)
                if (self->wds [index] == event->wd)
                    dir = index;
            bool created = (event->mask & IN_CREATE) && event->name [0] == '.';
            bool moved = (event->mask & IN_MOVED_TO) && event->name [0] != '.';
            if (dir < 0 || (!created && !moved))
                continue;
            long number = s_watch_index (self, event->name);
            if (self->prefix [0] && number < 0)
                continue;       //  not one of ours
            int64_t *slot = number < 0? NULL:
                (created? self->created: self->moved)
                    + (size_t) dir * self->count + (size_t) number;
            if (slot && *slot)
                continue;       //  a replayed hand-over: first one counts
            if (slot)
                *slot = mono;
            if (created) {
                if (self->created_total++ == 0)
                    self->first_real = real;
                self->last_real = real;
                self->last_mono = mono;
            }
            else {
                self->moved_total++;
                self->last_moved_real = real;
            }
        }
    }
}

static bool
s_watch_done (s_watch_t *self)
{
    //  After an overflow the counts can never complete: stop waiting (the
    //  figures are then reported as incomplete by the caller).
    return !self || self->overflow
        || (self->created_total >= self->count * (size_t) self->dirs
            &&  self->moved_total >= self->count * (size_t) self->dirs);
}

//  ==========================================================================
//  baseline-reqrep: DEALER -> ROUTER requests and replies, CURVE, no certcast

typedef struct {
    void *context;
    void *router;
    size_t requests;            //  to answer, the warm-up ones included
    size_t reply_size;
    size_t warmups;             //  the first requests: one from each peer
    size_t peers_seen;          //  distinct connections among them
} s_replier_t;

static void *
s_replier (void *arg)
{
    s_replier_t *self = (s_replier_t *) arg;
    uint8_t *reply = (uint8_t *) zmalloc (self->reply_size);
    zmq_msg_t identity, body;
    zmq_msg_init (&identity);
    zmq_msg_init (&body);
    zhashx_t *seen = zhashx_new ();
    for (size_t index = 0; index < self->requests; index++) {
        if (zmq_msg_recv (&identity, self->router, 0) == -1
        ||  zmq_msg_recv (&body, self->router, 0) == -1)
            break;              //  timed out: the client counts it lost
        if (index < self->warmups) {
            char name [2 * 256 + 1];
            size_t size = zmq_msg_size (&identity);
            cc_hex_encode ((const uint8_t *) zmq_msg_data (&identity),
                           size < 256? size: 256, name);
            zhashx_insert (seen, name, "");
        }
        zmq_msg_send (&identity, self->router, ZMQ_SNDMORE);
        zmq_send (self->router, reply, self->reply_size, 0);
    }
    self->peers_seen = zhashx_size (seen);
    zhashx_destroy (&seen);
    zmq_msg_close (&identity);
    zmq_msg_close (&body);
    free (reply);
    return NULL;
}

//  Busy and total CPU ticks of the whole machine, all cores (/proc/stat):
//  whether a figure was set by waiting or by the cores being full.
static void
s_machine_ticks (uint64_t *busy, uint64_t *total)
{
    uint64_t field [8] = { 0 };
    FILE *file = fopen ("/proc/stat", "r");
    if (file) {
        if (fscanf (file, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                    " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &field [0],
                    &field [1], &field [2], &field [3], &field [4], &field [5],
                    &field [6], &field [7]) != 8)
            memset (field, 0, sizeof field);
        fclose (file);
    }
    //  user nice system idle iowait irq softirq steal
    *busy = field [0] + field [1] + field [2] + field [5] + field [6] + field [7];
    *total = *busy + field [3] + field [4];
}

static int
s_baseline_reqrep (s_opts_t *opts, size_t count, size_t request_size,
                   size_t reply_size)
{
    size_t window = (size_t) s_opt_number (opts, "--window", 256);
    size_t peers = (size_t) s_opt_number (opts, "--peers", 1);
    if (count < 1 || request_size < 1 || reply_size < 1 || window < 1
    ||  peers < 1 || peers > count)
        return s_usage ("COUNT, REQUEST_BYTES, REPLY_BYTES, --window and "
                        "--peers must be positive, --peers at most COUNT");
    char server_public [41], server_secret [41];
    int rc = zmq_curve_keypair (server_public, server_secret);
    assert (rc == 0);
    //  Each peer's warm-up round trip is answered too.
    s_replier_t replier = { zmq_ctx_new (), NULL, count + peers, reply_size,
                            peers, 0 };
    zmq_ctx_set (replier.context, ZMQ_MAX_SOCKETS, (int) peers + 64);
    replier.router = zmq_socket (replier.context, ZMQ_ROUTER);
    s_unlimited (replier.router);
    int timeout = 20000;
    zmq_setsockopt (replier.router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    s_curve_server (replier.router, server_secret);
    rc = zmq_bind (replier.router, "tcp://127.0.0.1:*");
    assert (rc == 0);
    char endpoint [256];
    size_t endpoint_size = sizeof endpoint;
    zmq_getsockopt (replier.router, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_size);
    pthread_t thread;
    rc = pthread_create (&thread, NULL, s_replier, &replier);
    assert (rc == 0);

    //  Each peer is a DEALER of its own CURVE key and connection, as each
    //  agent is; they share one context and I/O thread, as a swarm's do.
    void *context = zmq_ctx_new ();
    zmq_ctx_set (context, ZMQ_MAX_SOCKETS, (int) peers + 64);
    void **dealers = (void **) zmalloc (peers * sizeof (void *));
    size_t *sent = (size_t *) zmalloc (peers * sizeof (size_t));
    size_t *answered = (size_t *) zmalloc (peers * sizeof (size_t));
    uint8_t *request = (uint8_t *) zmalloc (request_size);
    RAND_bytes (request, (int) request_size);
    zmq_msg_t reply;
    zmq_msg_init (&reply);
    bool warm = true;
    for (size_t peer = 0; peer < peers; peer++) {
        dealers [peer] = zmq_socket (context, ZMQ_DEALER);
        if (!dealers [peer]) {
            fprintf (stderr, "cc_bench: peer %zu: %s\n", peer, zmq_strerror (zmq_errno ()));
            warm = false;
            peers = peer;
            break;
        }
        s_unlimited (dealers [peer]);
        zmq_setsockopt (dealers [peer], ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        s_curve_client (dealers [peer], server_public);
        rc = zmq_connect (dealers [peer], endpoint);
        assert (rc == 0);
        //  The handshake is not what we measure: one round trip first.
        warm = warm && zmq_send (dealers [peer], request, request_size, 0) != -1;
    }
    for (size_t peer = 0; peer < peers && warm; peer++)
        warm = zmq_msg_recv (&reply, dealers [peer], 0) != -1;
    size_t done = 0;
    double cpu_start = s_cpu_seconds ();
    int64_t start = s_mono_ns ();
    while (warm && done < count) {
        //  Peer P's share is every peers-th request from P.
        for (size_t peer = 0; peer < peers; peer++) {
            size_t share = count / peers + (peer < count % peers);
            while (sent [peer] < share && sent [peer] - answered [peer] < window
               &&  zmq_send (dealers [peer], request, request_size, ZMQ_DONTWAIT) != -1)
                sent [peer]++;
        }
        for (size_t peer = 0; peer < peers && warm; peer++) {
            if (sent [peer] == answered [peer])
                continue;
            if (zmq_msg_recv (&reply, dealers [peer], 0) == -1)
                warm = false;   //  timed out: lost
            else {
                answered [peer]++;
                done++;
            }
        }
    }
    double seconds = (double) (s_mono_ns () - start) / 1e9;
    double cpu = s_cpu_seconds () - cpu_start;
    zmq_msg_close (&reply);
    for (size_t peer = 0; peer < peers; peer++)
        zmq_close (dealers [peer]);
    zmq_ctx_term (context);
    pthread_join (thread, NULL);
    zmq_close (replier.router);
    zmq_ctx_term (replier.context);
    free (request);
    free (dealers);
    free (sent);
    free (answered);
    printf ("requests %zu\nrequest_bytes %zu\nreply_bytes %zu\nwindow %zu\npeers %zu\n",
            count, request_size, reply_size, window, peers);
    printf ("answered %zu\npeers_seen %zu\n", done, replier.peers_seen);
    printf ("seconds %.6f\n", seconds);
    //  Both ends and both I/O threads: the transport's whole CPU bill.
    printf ("cpu_s %.3f\n", cpu);
    if (done == count)
        printf ("requests_per_s %.0f\n", (double) count / seconds);
    return done == count? 0: 1;
}

//  ==========================================================================
//  publish-rtt

typedef struct {
    cc_keys_t *keys;
    zsock_t *dealer;
    s_watch_t *watch;
    size_t count;
    uint8_t **frames;           //  encoded Control{Publish} per advisory
    size_t *frame_sizes;
    char **ids;
    int64_t *sent;              //  mono ns of each send, 0: not sent
    int64_t *sent_real;         //  realtime ns of each send
    double *rtt;                //  ns, per answered publish
    bool *answered;
    size_t answers;             //  Stored or Error replies
    size_t stored;
    size_t refused;
    uint64_t corr_base;
    int64_t ack_rows;           //  last ack_rows seen in a status reply
    bool status_pending;
} s_pub_t;

static uint64_t
s_random64 (void)
{
    uint64_t value = 0;
    int rc = RAND_bytes ((unsigned char *) &value, sizeof value);
    assert (rc == 1);
    return value;
}

static void
s_send_status (s_pub_t *self)
{
    Certcast__StatusRequest status = CERTCAST__STATUS_REQUEST__INIT;
    Certcast__Control control = CERTCAST__CONTROL__INIT;
    control.corr = BENCH_CORR_STATUS;
    control.body_case = CERTCAST__CONTROL__BODY_STATUS;
    control.status = &status;
    zframe_t *frame = cc_wire_control_encode (&control);
    zframe_send (&frame, self->dealer, 0);
    self->status_pending = true;
}

//  Reads every reply waiting on the DEALER.
static void
s_pub_replies (s_pub_t *self)
{
    while (zsock_events (self->dealer) & ZMQ_POLLIN) {
        zframe_t *frame = zframe_recv (self->dealer);
        int64_t now = s_mono_ns ();
        Certcast__Control *reply = frame? cc_wire_control_decode (frame): NULL;
        zframe_destroy (&frame);
        if (!reply)
            continue;
        if (reply->corr == BENCH_CORR_STATUS) {
            self->status_pending = false;
            if (reply->body_case == CERTCAST__CONTROL__BODY_STATUS_REPLY) {
                const char *rows = strstr (reply->status_reply->json,
                                           "\"ack_rows\":");
                if (rows)
                    self->ack_rows = strtoll (rows + 11, NULL, 10);
            }
        }
        else
        if (reply->corr >= self->corr_base
        &&  reply->corr < self->corr_base + self->count) {
            size_t index = (size_t) (reply->corr - self->corr_base);
            if (!self->answered [index]) {
                self->answered [index] = true;
                self->answers++;
                if (reply->body_case == CERTCAST__CONTROL__BODY_STORED) {
                    self->rtt [self->stored++] =
                        (double) (now - self->sent [index]);
                }
                else {
                    self->refused++;
                    if (reply->body_case == CERTCAST__CONTROL__BODY_ERROR
                    &&  self->refused <= 3)
                        fprintf (stderr, "cc_bench: %s refused: %s: %s\n",
                                 self->ids [index],
                                 cc_strerror (reply->error->code),
                                 reply->error->reason? reply->error->reason: "");
                }
            }
        }
        certcast__control__free_unpacked (reply, NULL);
    }
}

//  Waits up to timeout_ms for the DEALER or the inotify fd; reads both.
static void
s_pub_poll (s_pub_t *self, int64_t timeout_ms)
{
    zmq_pollitem_t items [2] = {
        { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 },
        { NULL, self->watch? self->watch->fd: -1, ZMQ_POLLIN, 0 }
    };
    if (timeout_ms < 0)
        timeout_ms = 0;
    zmq_poll (items, self->watch? 2: 1, (long) timeout_ms);
    s_pub_replies (self);
    if (self->watch)
        s_watch_read (self->watch);
}

//  Signs count advisories up front; each becomes an encoded Control frame.
static int
s_pub_prepare (s_pub_t *self, const char *prefix, const char *delegation_file,
               const char *sector, size_t body_size, size_t *signed_size_p)
{
    size_t delegation_size = 0;
    uint8_t *delegation = cc_delegation_load (delegation_file, &delegation_size);
    if (!delegation) {
        fprintf (stderr, "cc_bench: cannot read delegation %s\n",
                 delegation_file);
        return -1;
    }
    uint8_t *body = (uint8_t *) zmalloc (body_size + 1);
    for (size_t index = 0; index < body_size; index++)
        body [index] = (uint8_t) ('a' + index % 26);
    bool all_sectors = streq (sector, "all");
    const char *sectors [] = { sector, NULL };
    const char *issuer = cc_keys_meta (self->keys, "name");
    int64_t now = (int64_t) time (NULL);
    for (size_t index = 0; index < self->count; index++) {
        char id [96];
        snprintf (id, sizeof id, "%s%06zu", prefix, index);
        self->ids [index] = strdup (id);
        Certcast__Advisory advisory = CERTCAST__ADVISORY__INIT;
        advisory.id = id;
        advisory.revision = 1;
        advisory.kind = CERTCAST__KIND__SECURITY_ANNOUNCEMENT;
        advisory.severity = CERTCAST__SEVERITY__HIGH;
        advisory.tlp = CERTCAST__TLP__GREEN;
        advisory.all_sectors = all_sectors;
        if (!all_sectors) {
            advisory.n_sectors = 1;
            advisory.sectors = (char **) sectors;
        }
        advisory.title = (char *) "certcast benchmark advisory";
        advisory.content_type = (char *) "text/plain";
        advisory.body.data = body;
        advisory.body.len = body_size;
        advisory.issued_at = now;
        advisory.issuer = (char *) (issuer? issuer: "cc_bench");
        size_t advisory_size = 0;
        uint8_t *advisory_bytes = cc_wire_pack (&advisory.base, &advisory_size);
        size_t signed_size = 0;
        uint8_t *signed_bytes = cc_advisory_sign (self->keys, advisory_bytes,
                                                  advisory_size, delegation,
                                                  delegation_size, &signed_size);
        free (advisory_bytes);
        if (!signed_bytes) {
            fprintf (stderr, "cc_bench: cannot sign (delegation %s does not "
                     "decode)\n", delegation_file);
            free (body);
            free (delegation);
            return -1;
        }
        *signed_size_p = signed_size;
        Certcast__Publish publish = CERTCAST__PUBLISH__INIT;
        publish.signed_.data = signed_bytes;
        publish.signed_.len = signed_size;
        Certcast__Control control = CERTCAST__CONTROL__INIT;
        control.corr = self->corr_base + index;
        control.body_case = CERTCAST__CONTROL__BODY_PUBLISH;
        control.publish = &publish;
        self->frames [index] = cc_wire_pack (&control.base,
                                             &self->frame_sizes [index]);
        free (signed_bytes);
    }
    free (body);
    free (delegation);
    return 0;
}

static cc_keys_t *
s_load (const char *path, bool need_secret)
{
    const char *reason = NULL;
    cc_keys_t *keys = cc_keys_load (path, &reason);
    if (!keys)
        fprintf (stderr, "cc_bench: cannot load %s: %s\n", path,
                 reason? reason: "unreadable");
    else
    if (need_secret && !cc_keys_has_secret (keys)) {
        fprintf (stderr, "cc_bench: %s has no secret key\n", path);
        cc_keys_destroy (&keys);
    }
    return keys;
}

//  Collects every --watch value.
static char **
s_watch_dirs (s_opts_t *opts, int *ndirs)
{
    char **dirs = (char **) zmalloc ((opts->argc + 1) * sizeof (char *));
    *ndirs = 0;
    for (int index = opts->first; index + 1 < opts->argc; index++)
        if (streq (opts->argv [index], "--watch"))
            dirs [(*ndirs)++] = opts->argv [++index];
    return dirs;
}

static void
s_print_watch (s_pub_t *self, int64_t start_mono)
{
    s_watch_t *watch = self->watch;
    size_t total = watch->count * (size_t) watch->dirs;
    double *inbox = (double *) zmalloc ((total + 1) * sizeof (double));
    double *spool = (double *) zmalloc ((total + 1) * sizeof (double));
    size_t inbox_n = 0, spool_n = 0;
    for (int dir = 0; dir < watch->dirs; dir++)
        for (size_t index = 0; index < watch->count; index++) {
            int64_t sent = self->sent [index];
            int64_t created = watch->created [dir * watch->count + index];
            int64_t moved = watch->moved [dir * watch->count + index];
            if (sent && created)
                inbox [inbox_n++] = (double) (created - sent);
            if (sent && moved)
                spool [spool_n++] = (double) (moved - sent);
        }
    printf ("agents %d\n", watch->dirs);
    printf ("deliveries_expected %zu\n", total);
    s_print_latency ("inbox", inbox, inbox_n);
    s_print_latency ("spool", spool, spool_n);
    if (inbox_n == total)
        printf ("inbox_done_s %.6f\n",
                (double) (watch->last_mono - start_mono) / 1e9);
    printf ("inotify_overflow %d\n", watch->overflow? 1: 0);
    free (inbox);
    free (spool);
}

//  --to HOST:PORT, --server-pub FILE and --key FILE (with its secret): one
//  CURVE DEALER with that key to the control port (PORT + 1), queues
//  unlimited (the caller's window bounds them). NULL after a message if
//  an option is missing or bad; *keys_p gets the key (the caller's).
static zsock_t *
s_control_open (s_opts_t *opts, const char *command, cc_keys_t **keys_p)
{
    const char *to = s_opt (opts, "--to");
    const char *server_pub = s_opt (opts, "--server-pub");
    const char *key = s_opt (opts, "--key");
    char host [256];
    int port = 0;
    *keys_p = NULL;
    if (!to || !server_pub || !key || cc_config_endpoint (to, host, &port)) {
        fprintf (stderr, "cc_bench: %s needs --to HOST:PORT, --server-pub "
                 "and --key\n", command);
        return NULL;
    }
    zsys_init ();
    zsys_set_logident ("cc_bench");
    cc_keys_t *keys = s_load (key, true);
    cc_keys_t *server = keys? s_load (server_pub, false): NULL;
    if (!server) {
        cc_keys_destroy (&keys);
        return NULL;
    }
    zsock_t *dealer = cc_keys_client (keys, ZMQ_DEALER,
                                      cc_keys_curve_public (server));
    zsock_set_sndhwm (dealer, 0);
    zsock_set_rcvhwm (dealer, 0);
    cc_keys_destroy (&server);
    int rc = zsock_connect (dealer, "tcp://%s:%d", host, port + 1);
    assert (rc == 0);
    *keys_p = keys;
    return dealer;
}

static int
s_publish_rtt (s_opts_t *opts)
{
    const char *to = s_opt (opts, "--to");
    const char *delegation = s_opt (opts, "--delegation");
    const char *sector = s_opt (opts, "--sector");
    const char *times_file = s_opt (opts, "--times");
    double count_value = s_opt_number (opts, "--count", -1);
    size_t body_size = (size_t) s_opt_number (opts, "--size", 512);
    double rate = s_opt_number (opts, "--rate", 0);
    size_t window = (size_t) s_opt_number (opts, "--window", 1);
    int64_t await_acks = (int64_t) s_opt_number (opts, "--await-acks", 0);
    double timeout_s = s_opt_number (opts, "--timeout", 60);
    if (!delegation || count_value < 1)
        return s_usage ("publish-rtt needs --delegation and --count N");
    if (window < 1 || rate < 0 || body_size > CC_WIRE_MAX_SIGNED / 2)
        return s_usage ("--window must be positive, --rate not negative, "
                        "--size at most 512 KiB");
    s_pub_t self;
    memset (&self, 0, sizeof self);
    self.count = (size_t) count_value;
    self.dealer = s_control_open (opts, "publish-rtt", &self.keys);
    if (!self.dealer)
        return 1;
    self.frames = (uint8_t **) zmalloc (self.count * sizeof (uint8_t *));
    self.frame_sizes = (size_t *) zmalloc (self.count * sizeof (size_t));
    self.ids = (char **) zmalloc (self.count * sizeof (char *));
    self.sent = (int64_t *) zmalloc (self.count * sizeof (int64_t));
    self.sent_real = (int64_t *) zmalloc (self.count * sizeof (int64_t));
    self.rtt = (double *) zmalloc ((self.count + 1) * sizeof (double));
    self.answered = (bool *) zmalloc (self.count * sizeof (bool));
    self.corr_base = 1000000;
    char prefix [48];
    snprintf (prefix, sizeof prefix, "BENCH-%08" PRIx32 "-",
              (uint32_t) s_random64 ());
    size_t signed_size = 0;
    int exit_code = 0;
    if (s_pub_prepare (&self, prefix, delegation, sector? sector: "banking",
                       body_size, &signed_size))
        exit_code = 1;

    int ndirs = 0;
    char **dirs = s_watch_dirs (opts, &ndirs);
    if (ndirs)
        self.watch = s_watch_new (dirs, ndirs, prefix, self.count);


    //  One status round trip first: the CURVE handshake is done before the
    //  clock starts, and we learn the broker's ack_rows to count from.
    self.ack_rows = -1;
    int64_t deadline = s_mono_ns () + 10 * 1000000000LL;
    if (exit_code == 0) {
        s_send_status (&self);
        while (self.status_pending && s_mono_ns () < deadline)
            s_pub_poll (&self, 100);
        if (self.ack_rows < 0) {
            fprintf (stderr, "cc_bench: no status answer from %s\n", to);
            exit_code = 1;
        }
    }
    int64_t ack_rows_base = self.ack_rows;
    int64_t acks_done = 0;

    int64_t start = s_mono_ns ();
    int64_t end_publish = 0;
    size_t next = 0;
    deadline = start + (int64_t) (timeout_s * 1e9);
    int64_t next_status = 0;
    while (exit_code == 0 && !zsys_interrupted && s_mono_ns () < deadline) {
        int64_t now = s_mono_ns ();
        //  Send what the window and the pacing allow
        while (next < self.count && next - self.answers < window) {
            int64_t due = rate > 0? start + (int64_t) ((double) next * 1e9 / rate): 0;
            if (now < due)
                break;
            zframe_t *frame = zframe_new (self.frames [next],
                                          self.frame_sizes [next]);
            self.sent_real [next] = s_real_ns ();
            self.sent [next] = s_mono_ns ();
            zframe_send (&frame, self.dealer, 0);
            next++;
            now = s_mono_ns ();
        }
        if (self.answers == self.count && !end_publish)
            end_publish = now;
        bool acks_wanted = await_acks > 0 && !acks_done;
        if (acks_wanted && self.ack_rows - ack_rows_base >= await_acks)
            acks_done = self.ack_rows >= 0? now: 0;
        if (end_publish && s_watch_done (self.watch)
        &&  (await_acks == 0 || acks_done))
            break;
        //  Poll ack_rows while waiting for the tail
        if (acks_wanted && next == self.count && !self.status_pending
        &&  now >= next_status) {
            s_send_status (&self);
            next_status = now + BENCH_STATUS_EVERY_MS * 1000000LL;
        }
        int64_t wait_ms = 100;
        if (next < self.count && rate > 0 && next - self.answers < window) {
            int64_t due = start + (int64_t) ((double) next * 1e9 / rate);
            wait_ms = (due - now) / 1000000;
        }
        if (acks_wanted && next == self.count)
            wait_ms = BENCH_STATUS_EVERY_MS;
        s_pub_poll (&self, wait_ms);
    }

    printf ("count %zu\n", self.count);
    printf ("signed_bytes %zu\n", signed_size);
    printf ("window %zu\n", window);
    printf ("rate %.1f\n", rate);
    printf ("stored %zu\n", self.stored);
    printf ("refused %zu\n", self.refused);
    printf ("unanswered %zu\n", self.count - self.answers);
    s_print_latency ("rtt", self.rtt, self.stored);
    if (end_publish)
        printf ("publish_done_s %.6f\n", (double) (end_publish - start) / 1e9);
    if (self.watch)
        s_print_watch (&self, start);
    if (await_acks > 0) {
        printf ("ack_rows_new %" PRId64 "\n", self.ack_rows - ack_rows_base);
        if (acks_done)
            printf ("acks_done_s %.6f\n", (double) (acks_done - start) / 1e9);
    }
    if (exit_code == 0
    &&  (self.stored < self.count || !s_watch_done (self.watch)
    ||   (await_acks > 0 && !acks_done)
    ||   (self.watch && self.watch->overflow)))
        exit_code = 1;

    if (times_file) {
        FILE *out = fopen (times_file, "w");
        if (out) {
            for (size_t index = 0; index < self.count; index++)
                fprintf (out, "%s %" PRId64 "\n", self.ids [index],
                         self.sent_real [index]);
            fclose (out);
        }
        else
            fprintf (stderr, "cc_bench: cannot write %s\n", times_file);
    }

    s_watch_destroy (&self.watch);
    free (dirs);
    zsock_destroy (&self.dealer);
    for (size_t index = 0; index < self.count; index++) {
        free (self.frames [index]);
        free (self.ids [index]);
    }
    free (self.frames);
    free (self.frame_sizes);
    free (self.ids);
    free (self.sent);
    free (self.sent_real);
    free (self.rtt);
    free (self.answered);
    cc_keys_destroy (&self.keys);
    return exit_code;
}

//  ==========================================================================
//  ack-ingest: signed acks as fast as a broker ledgers them

typedef struct {
    zframe_t **frames;          //  one encoded Control{Acks} per request
    size_t requests;
    size_t acks;                //  signed acks in all of them
} s_ackload_t;

//  One signed ack by `keys` for revision 1 of advisory id `id`, naming
//  digest, packed.
static uint8_t *
s_ack_sign (cc_keys_t *keys, const char *id, const uint8_t digest [32],
            uint64_t nonce, size_t *size)
{
    Certcast__AckEntry entry = CERTCAST__ACK_ENTRY__INIT;
    Certcast__AckEntry *entries [1] = { &entry };
    entry.advisory_id = (char *) id;
    entry.revision = 1;
    entry.digest.data = (uint8_t *) digest;
    entry.digest.len = 32;
    entry.status = CERTCAST__ACK_STATUS__RECEIVED;
    entry.received_at = (int64_t) time (NULL);
    Certcast__Ack ack = CERTCAST__ACK__INIT;
    ack.agent_key.data = (uint8_t *) cc_keys_sign_public (keys);
    ack.agent_key.len = 32;
    ack.time = entry.received_at;
    ack.nonce = nonce;
    ack.n_entries = 1;
    ack.entries = entries;
    return cc_ledger_sign_ack (keys, &ack, size);
}

//  The advisory ids of a publish-rtt --times file (first word of each
//  line), or NULL if there are none.
static zlist_t *
s_ids_load (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    zlist_t *ids = zlist_new ();
    zlist_autofree (ids);
    char line [256], id [128];
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "%127s", id) == 1)
            zlist_append (ids, id);
    fclose (file);
    if (zlist_size (ids) == 0)
        zlist_destroy (&ids);
    return ids;
}

//  Signs count acks by `agents` fresh keys into requests of batch acks,
//  for the advisories in ids (NULL: ids of our own), naming their
//  digests as data_dir holds them.
static int
s_ackload_prepare (s_ackload_t *self, size_t count, size_t agents,
                   size_t batch, zlist_t *ids, const char *data_dir)
{
    cc_keys_t **keys = (cc_keys_t **) zmalloc (agents * sizeof (cc_keys_t *));
    for (size_t index = 0; index < agents; index++)
        keys [index] = cc_keys_generate ();
    uint32_t run = (uint32_t) s_random64 ();
    size_t id_count = ids? zlist_size (ids): 0;
    const char **id_table =
        (const char **) zmalloc ((id_count + 1) * sizeof (char *));
    for (size_t index = 0; index < id_count; index++)
        id_table [index] = (const char *)
            (index? zlist_next (ids): zlist_first (ids));
    uint8_t (*digests) [32] =
        (uint8_t (*) [32]) zmalloc ((id_count + 1) * 32);
    if (data_dir && cc_ledger_held_digests (data_dir, id_table, id_count, 1,
                                            digests) < 0) {
        free (digests);
        free (id_table);
        for (size_t index = 0; index < agents; index++)
            cc_keys_destroy (&keys [index]);
        free (keys);
        return -1;
    }
    self->requests = (count + batch - 1) / batch;
    self->frames = (zframe_t **) zmalloc (self->requests * sizeof (zframe_t *));
    Certcast__SignedAck **acks =
        (Certcast__SignedAck **) zmalloc (batch * sizeof (void *));
    for (size_t request = 0; request < self->requests; request++) {
        size_t in_request = 0;
        for (; in_request < batch && self->acks < count; in_request++) {
            char id [128];
            size_t which = id_count? self->acks / agents % id_count: id_count;
            if (id_count)
                snprintf (id, sizeof id, "%s", id_table [which]);
            else
                snprintf (id, sizeof id, "ACKBENCH-%08" PRIx32 "-%zu", run,
                          self->acks / agents);
            size_t size;
            uint8_t *bytes = s_ack_sign (keys [self->acks % agents], id,
                                         digests [which], self->acks, &size);
            acks [in_request] = (Certcast__SignedAck *) cc_wire_unpack (
                &certcast__signed_ack__descriptor, bytes, size, size);
            free (bytes);
            self->acks++;
        }
        Certcast__Acks body = CERTCAST__ACKS__INIT;
        body.n_acks = in_request;
        body.acks = acks;
        Certcast__Control control = CERTCAST__CONTROL__INIT;
        control.corr = request + 1;
        control.body_case = CERTCAST__CONTROL__BODY_ACKS;
        control.acks = &body;
        self->frames [request] = cc_wire_control_encode (&control);
        for (size_t index = 0; index < in_request; index++)
            certcast__signed_ack__free_unpacked (acks [index], NULL);
    }
    free (acks);
    free (digests);
    free (id_table);
    for (size_t index = 0; index < agents; index++)
        cc_keys_destroy (&keys [index]);
    free (keys);
    return 0;
}

static int
s_ack_ingest (s_opts_t *opts)
{
    double count = s_opt_number (opts, "--count", -1);
    size_t agents = (size_t) s_opt_number (opts, "--agents", 100);
    size_t batch = (size_t) s_opt_number (opts, "--batch", 1);
    size_t window = (size_t) s_opt_number (opts, "--window", 64);
    double timeout_s = s_opt_number (opts, "--timeout", 120);
    const char *ids_file = s_opt (opts, "--ids");
    if (count < 1 || agents < 1 || batch < 1 || window < 1)
        return s_usage ("ack-ingest needs --count N; --agents, --batch and "
                        "--window must be positive");
    zlist_t *ids = ids_file? s_ids_load (ids_file): NULL;
    if (ids_file && !ids)
        return s_usage ("--ids FILE must name advisory ids, one a line");
    cc_keys_t *keys = NULL;
    zsock_t *dealer = s_control_open (opts, "ack-ingest", &keys);
    cc_keys_destroy (&keys);
    if (!dealer) {
        zlist_destroy (&ids);
        return 1;
    }
    s_ackload_t load = { NULL, 0, 0 };
    const char *data_dir = s_opt (opts, "--data");
    if (s_ackload_prepare (&load, (size_t) count, agents, batch, ids,
                           data_dir)) {
        fprintf (stderr, "cc_bench: --data %s: cannot read that store\n",
                 data_dir);
        zlist_destroy (&ids);
        zsock_destroy (&dealer);
        return 1;
    }
    zlist_destroy (&ids);

    size_t request_bytes = 0, reply_bytes = 0;
    for (size_t index = 0; index < load.requests; index++)
        request_bytes += zframe_size (load.frames [index]);
    size_t sent = 0, answered = 0, refused = 0;
    uint64_t rows = 0;
    uint64_t busy0, total0, busy1, total1;
    s_machine_ticks (&busy0, &total0);
    int64_t start = s_mono_ns (), last = start;
    int64_t deadline = start + (int64_t) (timeout_s * 1e9);
    while (answered < load.requests && !zsys_interrupted
       &&  s_mono_ns () < deadline) {
        while (sent < load.requests && sent - answered < window) {
            zframe_t *frame = load.frames [sent];
            load.frames [sent++] = NULL;
            zframe_send (&frame, dealer, 0);
        }
        zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
        while (zsock_events (dealer) & ZMQ_POLLIN) {
            zframe_t *frame = zframe_recv (dealer);
            Certcast__Control *reply = cc_wire_control_decode (frame);
            reply_bytes += frame? zframe_size (frame): 0;
            zframe_destroy (&frame);
            if (!reply)
                continue;
            answered++;
            last = s_mono_ns ();
            if (reply->body_case == CERTCAST__CONTROL__BODY_ACKED)
                rows += reply->acked->count;
            else
            if (++refused <= 3 && reply->body_case == CERTCAST__CONTROL__BODY_ERROR)
                fprintf (stderr, "cc_bench: acks refused: %s: %s\n",
                         cc_strerror (reply->error->code),
                         reply->error->reason? reply->error->reason: "");
            certcast__control__free_unpacked (reply, NULL);
        }
    }
    s_machine_ticks (&busy1, &total1);
    double seconds = (double) (last - start) / 1e9;
    if (total1 > total0)
        printf ("machine_busy_pct %.1f\n",
                100.0 * (double) (busy1 - busy0) / (double) (total1 - total0));
    printf ("acks %zu\nrequests %zu\nbatch %zu\nagents %zu\n", load.acks,
            load.requests, batch, agents);
    printf ("answered %zu\nrefused %zu\nrows_new %" PRIu64 "\n", answered,
            refused, rows);
    printf ("seconds %.6f\n", seconds);
    //  For the transport baseline: the same sizes without certcast.
    printf ("request_bytes %zu\n", request_bytes / load.requests);
    if (answered)
        printf ("reply_bytes %zu\n", reply_bytes / answered);
    if (answered == load.requests && refused == 0 && seconds > 0)
        printf ("acks_per_s %.0f\n", (double) load.acks / seconds);
    for (size_t index = 0; index < load.requests; index++)
        zframe_destroy (&load.frames [index]);
    free (load.frames);
    zsock_destroy (&dealer);
    return answered == load.requests && refused == 0? 0: 1;
}

//  ==========================================================================
//  watch: the observer alone (catch-up)

static int
s_watch_only (s_opts_t *opts)
{
    double expect = s_opt_number (opts, "--expect", -1);
    double timeout_s = s_opt_number (opts, "--timeout", 120);
    int64_t await_acks = (int64_t) s_opt_number (opts, "--await-acks", 0);
    int ndirs = 0;
    char **dirs = s_watch_dirs (opts, &ndirs);
    if (ndirs == 0 || expect < 1) {
        free (dirs);
        return s_usage ("watch needs --watch DIR and --expect N");
    }
    //  The status poller is a publisher that publishes nothing.
    s_pub_t self;
    memset (&self, 0, sizeof self);
    self.ack_rows = -1;
    if (await_acks > 0) {
        self.dealer = s_control_open (opts, "watch --await-acks", &self.keys);
        if (!self.dealer) {
            free (dirs);
            return 1;
        }
        s_send_status (&self);
        int64_t deadline = s_mono_ns () + 10 * 1000000000LL;
        while (self.status_pending && s_mono_ns () < deadline)
            s_pub_poll (&self, 100);
        if (self.ack_rows < 0) {
            fprintf (stderr, "cc_bench: no status answer from %s\n",
                     s_opt (opts, "--to"));
            zsock_destroy (&self.dealer);
            cc_keys_destroy (&self.keys);
            free (dirs);
            return 1;
        }
    }
    int64_t ack_rows_base = self.ack_rows;
    int64_t acks_done_real = 0;
    self.watch = s_watch_new (dirs, ndirs, NULL, (size_t) expect);
    printf ("ready\n");
    fflush (stdout);
    int64_t deadline = s_mono_ns () + (int64_t) (timeout_s * 1e9);
    int64_t next_status = 0;
    while (s_mono_ns () < deadline) {
        if (await_acks > 0 && !acks_done_real
        &&  self.ack_rows - ack_rows_base >= await_acks)
            acks_done_real = s_real_ns ();
        if (s_watch_done (self.watch) && (await_acks == 0 || acks_done_real))
            break;
        if (self.dealer) {
            int64_t now = s_mono_ns ();
            if (!acks_done_real && !self.status_pending && now >= next_status) {
                s_send_status (&self);
                next_status = now + BENCH_STATUS_EVERY_MS * 1000000LL;
            }
            s_pub_poll (&self, BENCH_STATUS_EVERY_MS);
        }
        else {
            struct pollfd item = { self.watch->fd, POLLIN, 0 };
            poll (&item, 1, 100);
            s_watch_read (self.watch);
        }
    }
    s_watch_t *watch = self.watch;
    printf ("created %zu\nmoved %zu\n", watch->created_total,
            watch->moved_total);
    printf ("first_created_real_ns %" PRId64 "\n", watch->first_real);
    printf ("last_created_real_ns %" PRId64 "\n", watch->last_real);
    printf ("last_moved_real_ns %" PRId64 "\n", watch->last_moved_real);
    printf ("inotify_overflow %d\n", watch->overflow? 1: 0);
    if (await_acks > 0) {
        printf ("ack_rows_new %" PRId64 "\n", self.ack_rows - ack_rows_base);
        if (acks_done_real)
            printf ("acks_done_real_ns %" PRId64 "\n", acks_done_real);
    }
    int exit_code = s_watch_done (watch) && !watch->overflow
                 && (await_acks == 0 || acks_done_real)? 0: 1;
    s_watch_destroy (&self.watch);
    zsock_destroy (&self.dealer);
    cc_keys_destroy (&self.keys);
    free (dirs);
    return exit_code;
}

int
main (int argc, char **argv)
{
    if (argc < 2)
        return s_usage ("a subcommand is required");
    const char *command = argv [1];
    s_opts_t opts = { argc, argv, 2 };
    //  Progress lines and figures go to a pipe: keep them in order.
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (streq (command, "baseline-ed25519"))
        return s_baseline_ed25519 (&opts);
    if (streq (command, "baseline-lmdb")) {
        if (argc < 3)
            return s_usage ("baseline-lmdb needs DIR");
        opts.first = 3;
        return s_baseline_lmdb (&opts, argv [2]);
    }
    if (streq (command, "baseline-lmdb-load")) {
        if (argc < 3)
            return s_usage ("baseline-lmdb-load needs DIR");
        opts.first = 3;
        return s_baseline_lmdb_load (&opts, argv [2]);
    }
    if (streq (command, "baseline-zmq")) {
        if (argc < 4)
            return s_usage ("baseline-zmq needs COUNT SIZE");
        opts.first = 4;
        return s_baseline_zmq (&opts, (size_t) atol (argv [2]),
                               (size_t) atol (argv [3]));
    }
    if (streq (command, "baseline-reqrep")) {
        if (argc < 5)
            return s_usage ("baseline-reqrep needs COUNT REQUEST_BYTES REPLY_BYTES");
        opts.first = 5;
        return s_baseline_reqrep (&opts, (size_t) atol (argv [2]),
                                  (size_t) atol (argv [3]),
                                  (size_t) atol (argv [4]));
    }
    if (streq (command, "publish-rtt"))
        return s_publish_rtt (&opts);
    if (streq (command, "ack-ingest"))
        return s_ack_ingest (&opts);
    if (streq (command, "watch"))
        return s_watch_only (&opts);
    return s_usage ("unknown subcommand");
}
