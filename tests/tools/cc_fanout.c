/*  cc_fanout.c - the national alert's messages without certcast, for
    `make bench`.

    The alert's floor is not only Ed25519. Every agent costs its relay and
    itself ZeroMQ and CurveZMQ work: the advisory out to it, its ack in,
    the relay's Acked back, the acks upstream in batches. This tool sends
    exactly those messages, of the same sizes, over the same topology and
    the same number of CURVE connections and processes, with nothing else:
    no signatures, no LMDB, no protobuf, no bookkeeping. What it takes on
    the same cores is what libzmq alone costs the alert.

    cc_fanout top --dir D --acks N --middles M [--size B]
        The national broker's part. Binds an XPUB and a ROUTER (CURVE
        servers, keys written to D/top.key) on free ports written to
        D/top.ports. Prints "ready" once M middles said ready and are
        subscribed, then on SIGUSR1 publishes one message of B bytes
        (default 1024) and counts acks arriving upstream in batches,
        answering each batch. Prints "elapsed_ms", "cpu_s", "acks" and "done"
        when N acks arrived, then waits for SIGTERM.
    cc_fanout middle --dir D --name NAME --clients N
        A relay. Subscribes to top, binds its own XPUB and ROUTER (keys
        and ports in D/NAME.key, D/NAME.ports), says ready upstream once
        N clients are subscribed and said hello. Forwards the publish to
        its clients; answers each client's ack with a reply and sends the
        acks upstream, one message per drain of up to 4,096.
    cc_fanout leaves --dir D --middle NAME --count N [--ack-size B]
        N agents in one thread, each with its own CURVE key pair, a SUB
        and a DEALER: on the publish each sends one ack of B bytes
        (default 240, a signed ack's size) and takes the middle's reply.
        Prints "acked" when all N replies arrived.
*/
#include <czmq.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#define TOPIC           "alert"
#define BATCH_MAX       4096
#define HELLO           "hello"
#define READY           "ready"
#define EVENTS_MAX      1024

static volatile sig_atomic_t s_go;

static void
s_on_usr1 (int signum)
{
    s_go = 1;
}

static int64_t
s_mono_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static double
s_cpu_s (void)
{
    struct timespec now;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

static const char *
s_opt (int argc, char **argv, const char *name, const char *fallback)
{
    for (int index = 2; index + 1 < argc; index++)
        if (streq (argv [index], name))
            return argv [index + 1];
    return fallback;
}

static void
s_raise_fd_limit (size_t wanted)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < wanted) {
        limit.rlim_cur = limit.rlim_max < wanted? limit.rlim_max: wanted;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
}

//  A CURVE server bound to a free port of 127.0.0.1; its certificate is
//  saved (once per name) for the peers that connect to it.
static zsock_t *
s_server (int type, zcert_t *cert, int *port)
{
    zsock_t *sock = zsock_new (type);
    assert (sock);
    zcert_apply (cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_sndhwm (sock, 0);
    zsock_set_rcvhwm (sock, 0);
    *port = zsock_bind (sock, "tcp://127.0.0.1:*");
    assert (*port > 0);
    return sock;
}

static zsock_t *
s_client (int type, zcert_t *own, const char *server_key, const char *endpoint)
{
    zsock_t *sock = zsock_new (type);
    assert (sock);
    zcert_apply (own, sock);
    zsock_set_curve_serverkey (sock, server_key);
    zsock_set_sndhwm (sock, 0);
    zsock_set_rcvhwm (sock, 0);
    int rc = zsock_connect (sock, "%s", endpoint);
    assert (rc == 0);
    return sock;
}

//  A node's public key and ports, as the node that binds them wrote them.
static int
s_peer (const char *dir, const char *name, char key [41], int *pub_port, int *router_port)
{
    for (int tries = 0; tries < 600 && !zsys_interrupted; tries++) {
        char *text = zsys_sprintf ("%s/%s.ports", dir, name);
        FILE *file = fopen (text, "r");
        zstr_free (&text);
        if (file) {
            int got = fscanf (file, "%40s %d %d", key, pub_port, router_port);
            fclose (file);
            if (got == 3)
                return 0;
        }
        zclock_sleep (100);
    }
    fprintf (stderr, "cc_fanout: %s/%s.ports never appeared\n", dir, name);
    return -1;
}

//  Written under a temporary name and renamed, so a reader sees all or
//  nothing.
static void
s_publish_ports (const char *dir, const char *name, zcert_t *cert, int pub_port,
                 int router_port)
{
    char *temp = zsys_sprintf ("%s/%s.ports.tmp", dir, name);
    char *path = zsys_sprintf ("%s/%s.ports", dir, name);
    FILE *file = fopen (temp, "w");
    assert (file);
    fprintf (file, "%s %d %d\n", zcert_public_txt (cert), pub_port, router_port);
    fclose (file);
    int rc = rename (temp, path);
    assert (rc == 0);
    zstr_free (&temp);
    zstr_free (&path);
}

//  An XPUB (verbose) reports every subscription: how a node knows its
//  subscribers are there before it says ready.
static size_t
s_count_subscriptions (zsock_t *xpub)
{
    size_t count = 0;
    zframe_t *frame;
    while ((frame = zframe_recv_nowait (xpub))) {
        if (zframe_size (frame) > 0 && zframe_data (frame) [0] == 1)
            count++;
        zframe_destroy (&frame);
    }
    return count;
}


//  --------------------------------------------------------------------------
//  top

static int
s_top (int argc, char **argv)
{
    const char *dir = s_opt (argc, argv, "--dir", NULL);
    long acks = atol (s_opt (argc, argv, "--acks", "0"));
    long middles = atol (s_opt (argc, argv, "--middles", "0"));
    long size = atol (s_opt (argc, argv, "--size", "1024"));
    if (!dir || acks <= 0 || middles <= 0 || size <= 0) {
        fprintf (stderr, "usage: cc_fanout top --dir D --acks N --middles M [--size B]\n");
        return 2;
    }
    zsys_init ();
    signal (SIGUSR1, s_on_usr1);
    zcert_t *cert = zcert_new ();
    int pub_port, router_port;
    zsock_t *xpub = s_server (ZMQ_XPUB, cert, &pub_port);
    zsock_set_xpub_verbose (xpub, 1);
    zsock_t *router = s_server (ZMQ_ROUTER, cert, &router_port);
    s_publish_ports (dir, "top", cert, pub_port, router_port);

    size_t subscribed = 0, ready = 0;
    zpoller_t *poller = zpoller_new (xpub, router, NULL);
    while (!zsys_interrupted && (subscribed < (size_t) middles || ready < (size_t) middles)) {
        void *which = zpoller_wait (poller, 100);
        if (which == xpub)
            subscribed += s_count_subscriptions (xpub);
        else
        if (which == router) {
            zmsg_t *msg = zmsg_recv (router);
            zframe_t *last = msg? zmsg_last (msg): NULL;
            if (last && zframe_streq (last, READY))
                ready++;
            zmsg_destroy (&msg);
        }
    }
    printf ("ready\n");
    fflush (stdout);
    while (!zsys_interrupted && !s_go)
        zclock_sleep (5);

    byte *body = (byte *) calloc (1, (size_t) size);
    assert (body);
    double cpu0 = s_cpu_s ();
    int64_t start = s_mono_us ();
    zsock_send (xpub, "sb", TOPIC, body, (size_t) size);
    free (body);
    long arrived = 0;
    while (!zsys_interrupted && arrived < acks) {
        if (zpoller_wait (poller, 100) != router)
            continue;
        zmsg_t *msg;
        while ((msg = zmsg_recv_nowait (router))) {
            zframe_t *identity = zmsg_pop (msg);
            arrived += (long) zmsg_size (msg);
            zframe_send (&identity, router, ZFRAME_MORE);
            zstr_send (router, "acked");
            zmsg_destroy (&msg);
        }
    }
    printf ("elapsed_ms %.1f\ncpu_s %.3f\nacks %ld\ndone\n",
            (double) (s_mono_us () - start) / 1000, s_cpu_s () - cpu0, arrived);
    fflush (stdout);
    while (!zsys_interrupted)
        zclock_sleep (50);
    zpoller_destroy (&poller);
    zsock_destroy (&router);
    zsock_destroy (&xpub);
    zcert_destroy (&cert);
    return 0;
}


//  --------------------------------------------------------------------------
//  middle

static void
s_forward_acks (zsock_t *router, zsock_t *upstream)
{
    zmsg_t *batch = NULL;
    zmsg_t *msg;
    while ((msg = zmsg_recv_nowait (router))) {
        zframe_t *identity = zmsg_pop (msg);
        zframe_t *ack = zmsg_pop (msg);
        zframe_send (&identity, router, ZFRAME_MORE);
        zstr_send (router, "acked");
        if (ack) {
            if (!batch)
                batch = zmsg_new ();
            zmsg_append (batch, &ack);
        }
        zmsg_destroy (&msg);
        if (batch && zmsg_size (batch) >= BATCH_MAX)
            zmsg_send (&batch, upstream);
    }
    if (batch)
        zmsg_send (&batch, upstream);
}

static int
s_middle (int argc, char **argv)
{
    const char *dir = s_opt (argc, argv, "--dir", NULL);
    const char *name = s_opt (argc, argv, "--name", NULL);
    long clients = atol (s_opt (argc, argv, "--clients", "0"));
    if (!dir || !name || clients <= 0) {
        fprintf (stderr, "usage: cc_fanout middle --dir D --name NAME --clients N\n");
        return 2;
    }
    s_raise_fd_limit ((size_t) clients * 2 + 1024);
    zsys_init ();
    char top_key [41];
    int top_pub, top_router;
    if (s_peer (dir, "top", top_key, &top_pub, &top_router))
        return 1;
    zcert_t *cert = zcert_new ();
    char *endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", top_pub);
    zsock_t *sub = s_client (ZMQ_SUB, cert, top_key, endpoint);
    zstr_free (&endpoint);
    zsock_set_subscribe (sub, TOPIC);
    endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", top_router);
    zsock_t *upstream = s_client (ZMQ_DEALER, cert, top_key, endpoint);
    zstr_free (&endpoint);
    int pub_port, router_port;
    zsock_t *xpub = s_server (ZMQ_XPUB, cert, &pub_port);
    zsock_set_xpub_verbose (xpub, 1);
    zsock_t *router = s_server (ZMQ_ROUTER, cert, &router_port);
    s_publish_ports (dir, name, cert, pub_port, router_port);

    size_t subscribed = 0, hellos = 0;
    bool said_ready = false;
    zpoller_t *poller = zpoller_new (sub, router, xpub, upstream, NULL);
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, 100);
        if (which == xpub)
            subscribed += s_count_subscriptions (xpub);
        else
        if (which == sub) {
            zmsg_t *msg;
            while ((msg = zmsg_recv_nowait (sub)))
                zmsg_send (&msg, xpub);
        }
        else
        if (which == router) {
            if (said_ready)
                s_forward_acks (router, upstream);
            else {
                zmsg_t *msg;
                while ((msg = zmsg_recv_nowait (router))) {
                    zframe_t *last = zmsg_last (msg);
                    if (last && zframe_streq (last, HELLO))
                        hellos++;
                    zmsg_destroy (&msg);
                }
            }
        }
        else
        if (which == upstream) {
            zmsg_t *msg;
            while ((msg = zmsg_recv_nowait (upstream)))
                zmsg_destroy (&msg);
        }
        if (!said_ready && subscribed >= (size_t) clients && hellos >= (size_t) clients) {
            zstr_send (upstream, READY);
            said_ready = true;
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
    zsock_destroy (&xpub);
    zsock_destroy (&upstream);
    zsock_destroy (&sub);
    zcert_destroy (&cert);
    return 0;
}


//  --------------------------------------------------------------------------
//  leaves

typedef struct {
    zsock_t *sub, *dealer;
    bool acked;
} s_leaf_t;

static bool
s_leaf_drain_sub (s_leaf_t *leaf, byte *ack, size_t ack_size)
{
    bool sent = false;
    zmsg_t *msg;
    while ((msg = zmsg_recv_nowait (leaf->sub))) {
        zsock_send (leaf->dealer, "b", ack, ack_size);
        sent = true;
        zmsg_destroy (&msg);
    }
    return sent;
}

static size_t
s_leaf_drain_dealer (s_leaf_t *leaf)
{
    size_t replies = 0;
    zframe_t *frame;
    while ((frame = zframe_recv_nowait (leaf->dealer))) {
        if (!leaf->acked && zframe_streq (frame, "acked")) {
            leaf->acked = true;
            replies++;
        }
        zframe_destroy (&frame);
    }
    return replies;
}

static int
s_leaves (int argc, char **argv)
{
    const char *dir = s_opt (argc, argv, "--dir", NULL);
    const char *middle = s_opt (argc, argv, "--middle", NULL);
    long count = atol (s_opt (argc, argv, "--count", "0"));
    long ack_size = atol (s_opt (argc, argv, "--ack-size", "240"));
    if (!dir || !middle || count <= 0 || ack_size <= 0) {
        fprintf (stderr, "usage: cc_fanout leaves --dir D --middle NAME --count N [--ack-size B]\n");
        return 2;
    }
    s_raise_fd_limit ((size_t) count * 4 + 1024);
    zsys_set_max_sockets ((size_t) count * 2 + 64);
    zsys_init ();
    char key [41];
    int pub_port, router_port;
    if (s_peer (dir, middle, key, &pub_port, &router_port))
        return 1;
    char *pub_endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", pub_port);
    char *router_endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", router_port);
    s_leaf_t *leaves = (s_leaf_t *) calloc ((size_t) count, sizeof (s_leaf_t));
    assert (leaves);
    int epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    assert (epoll_fd >= 0);
    for (long index = 0; index < count; index++) {
        zcert_t *own = zcert_new ();
        s_leaf_t *leaf = &leaves [index];
        leaf->sub = s_client (ZMQ_SUB, own, key, pub_endpoint);
        zsock_set_subscribe (leaf->sub, TOPIC);
        leaf->dealer = s_client (ZMQ_DEALER, own, key, router_endpoint);
        zcert_destroy (&own);
        //  As certcast's agents do: the control link heartbeats every 30 s.
        zsock_set_heartbeat_ivl (leaf->dealer, 30000);
        zsock_set_heartbeat_timeout (leaf->dealer, 90000);
        zstr_send (leaf->dealer, HELLO);
        struct epoll_event sub_event = { .events = EPOLLIN, .data.u64 = (uint64_t) index * 2 };
        struct epoll_event dealer_event = { .events = EPOLLIN, .data.u64 = (uint64_t) index * 2 + 1 };
        if (epoll_ctl (epoll_fd, EPOLL_CTL_ADD, zsock_fd (leaf->sub), &sub_event)
        ||  epoll_ctl (epoll_fd, EPOLL_CTL_ADD, zsock_fd (leaf->dealer), &dealer_event)) {
            fprintf (stderr, "cc_fanout: epoll_ctl: %s\n", strerror (errno));
            return 1;
        }
    }
    zstr_free (&pub_endpoint);
    zstr_free (&router_endpoint);
    byte *ack = (byte *) calloc (1, (size_t) ack_size);
    assert (ack);
    size_t acked = 0;
    bool said = false;
    int64_t last_sweep = zclock_mono ();
    struct epoll_event events [EVENTS_MAX];
    while (!zsys_interrupted) {
        int ready = epoll_wait (epoll_fd, events, EVENTS_MAX, 20);
        for (int index = 0; index < ready; index++) {
            s_leaf_t *leaf = &leaves [events [index].data.u64 / 2];
            //  libzmq's descriptors signal edges: after a send on the
            //  DEALER, its reply may already be queued, so look at both.
            if (events [index].data.u64 % 2 == 0)
                s_leaf_drain_sub (leaf, ack, (size_t) ack_size);
            acked += s_leaf_drain_dealer (leaf);
        }
        //  As cc_swarm does: every socket looked at once a second, for an
        //  edge libzmq signalled before epoll was watching.
        if (zclock_mono () - last_sweep >= 1000) {
            for (long index = 0; index < count; index++) {
                s_leaf_drain_sub (&leaves [index], ack, (size_t) ack_size);
                acked += s_leaf_drain_dealer (&leaves [index]);
            }
            last_sweep = zclock_mono ();
        }
        if (!said && acked >= (size_t) count) {
            printf ("acked\n");
            fflush (stdout);
            said = true;
        }
    }
    close (epoll_fd);
    for (long index = 0; index < count; index++) {
        zsock_destroy (&leaves [index].sub);
        zsock_destroy (&leaves [index].dealer);
    }
    free (leaves);
    free (ack);
    return 0;
}

int
main (int argc, char **argv)
{
    //  One I/O thread, as certcast's daemons and cc_swarm run; each role
    //  starts the context once it has set its own socket limit.
    zsys_set_io_threads (1);
    zsys_set_linger (0);
    if (argc >= 2 && streq (argv [1], "top"))
        return s_top (argc, argv);
    if (argc >= 2 && streq (argv [1], "middle"))
        return s_middle (argc, argv);
    if (argc >= 2 && streq (argv [1], "leaves"))
        return s_leaves (argc, argv);
    fprintf (stderr, "usage: cc_fanout top|middle|leaves --dir D ...\n");
    return 2;
}
