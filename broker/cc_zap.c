/*  cc_zap.c - ZAP handler with an in-memory key table (see cc_zap.h).

    The actor owns the REP socket bound at the ZAP endpoint, the key table
    (Z85 public key -> "1") and the directory path.
*/
#include "cc_broker.h"
#include <dirent.h>
#include <sys/stat.h>

#define ZAP_ENDPOINT        "inproc://zeromq.zap.01"
#define MISS_RELOAD_MS      1000    //  unknown key: reload at most this often
#define REFUSALS_LOGGED     256     //  distinct refused keys logged once

typedef struct {
    zsock_t *pipe;
    zsock_t *handler;
    char *dir;
    zhashx_t *keys;
    struct timespec changed;        //  directory mtime at the last load
    ino_t inode;
    int64_t last_load;              //  mono ms
    uint64_t reloads;
    zhashx_t *refused_logged;       //  keys whose refusal was logged
} self_t;

static bool
s_has_suffix (const char *name, const char *suffix)
{
    size_t size = strlen (name), suffix_size = strlen (suffix);
    return size > suffix_size && streq (name + size - suffix_size, suffix);
}

//  Read every NAME.pub. A directory that cannot be read leaves the old
//  table in place: an unreadable disk must not let anyone in, nor lock
//  every enrolled organisation out.
static void
s_load (self_t *self)
{
    self->last_load = zclock_mono ();
    struct stat info;
    if (stat (self->dir, &info))
        return;
    DIR *handle = opendir (self->dir);
    if (!handle) {
        zsys_warning ("zap: cannot read %s: %s", self->dir, strerror (errno));
        return;
    }
    zhashx_t *keys = zhashx_new ();
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (entry->d_name [0] == '.' || !s_has_suffix (entry->d_name, ".pub"))
            continue;
        char *path = zsys_sprintf ("%s/%s", self->dir, entry->d_name);
        zcert_t *cert = zcert_load (path);
        if (cert)
            zhashx_update (keys, zcert_public_txt (cert), (void *) "1");
        zcert_destroy (&cert);
        free (path);
    }
    closedir (handle);
    zhashx_destroy (&self->keys);
    self->keys = keys;
    self->changed = info.st_mtim;
    self->inode = info.st_ino;
    self->reloads++;
}

static bool
s_dir_changed (self_t *self)
{
    struct stat info;
    if (stat (self->dir, &info))
        return false;
    return info.st_ino != self->inode
        || info.st_mtim.tv_sec != self->changed.tv_sec
        || info.st_mtim.tv_nsec != self->changed.tv_nsec;
}

static bool
s_allowed (self_t *self, const char *key)
{
    if (s_dir_changed (self))
        s_load (self);
    if (zhashx_lookup (self->keys, key))
        return true;
    if (zclock_mono () - self->last_load >= MISS_RELOAD_MS) {
        s_load (self);
        return zhashx_lookup (self->keys, key) != NULL;
    }
    return false;
}

//  One request: version, request id, domain, address, routing id,
//  mechanism, then the mechanism's credentials (CURVE: the 32-byte key).
static void
s_handle_request (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *request_id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *routing_id = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credentials = zmsg_pop (request);
    char user_id [41] = "";
    bool allowed = false;
    if (version && streq (version, "1.0") && mechanism
    &&  streq (mechanism, "CURVE") && credentials
    &&  zframe_size (credentials) == 32) {
        zmq_z85_encode (user_id, zframe_data (credentials), 32);
        allowed = s_allowed (self, user_id);
        //  A refused client retries every reconnect interval: log it once.
        if (!allowed && !zhashx_lookup (self->refused_logged, user_id)) {
            if (zhashx_size (self->refused_logged) >= REFUSALS_LOGGED)
                zhashx_purge (self->refused_logged);
            zhashx_insert (self->refused_logged, user_id, (void *) "1");
            zsys_notice ("zap: refused unenrolled CURVE key %s from %s",
                         user_id, address? address: "?");
        }
    }
    //  A malformed request still gets a reply: REP must answer to go on.
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, request_id? request_id: "");
    zmsg_addstr (reply, allowed? "200": "400");
    zmsg_addstr (reply, allowed? "OK": "not enrolled");
    zmsg_addstr (reply, allowed? user_id: "");
    zmsg_addmem (reply, NULL, 0);
    zmsg_send (&reply, self->handler);
    zframe_destroy (&credentials);
    zstr_free (&version);
    zstr_free (&request_id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&routing_id);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
}

//  false: $TERM
static bool
s_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command)
        return false;
    bool go_on = true;
    if (streq (command, "$TERM"))
        go_on = false;
    else
    if (streq (command, "KEYS"))
        zstr_sendf (self->pipe, "%zu", zhashx_size (self->keys));
    else
    if (streq (command, "RELOADS"))
        zstr_sendf (self->pipe, "%" PRIu64, self->reloads);
    else
        zsys_error ("zap: unknown command %s", command);
    free (command);
    return go_on;
}

void
cc_zap_actor (zsock_t *pipe, void *allow_dir)
{
    self_t self = { .pipe = pipe, .dir = strdup ((const char *) allow_dir) };
    self.keys = zhashx_new ();
    self.refused_logged = zhashx_new ();
    s_load (&self);
    self.handler = zsock_new (ZMQ_REP);
    if (zsock_bind (self.handler, ZAP_ENDPOINT)) {
        //  Another handler owns the endpoint: it decides, not us.
        zsys_error ("zap: cannot bind %s: %s", ZAP_ENDPOINT, zmq_strerror (zmq_errno ()));
        zsock_destroy (&self.handler);
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, self.handler, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            if (!s_handle_pipe (&self))
                break;
        }
        else
        if (which && which == self.handler)
            s_handle_request (&self);
        else
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self.handler);
    zhashx_destroy (&self.keys);
    zhashx_destroy (&self.refused_logged);
    free (self.dir);
}


//  --------------------------------------------------------------------------
//  Self-test

static zsock_t *
s_test_server (zcert_t *server, int *port)
{
    zsock_t *sock = zsock_new (ZMQ_PULL);
    zcert_apply (server, sock);
    zsock_set_curve_server (sock, 1);
    *port = zsock_bind (sock, "tcp://127.0.0.1:*");
    assert (*port > 0);
    return sock;
}

//  Does a fresh client with cert get a message through in wait_ms? (A
//  refused client never does; an admitted one may be slow on a busy host.)
static bool
s_test_through (zsock_t *server, int port, zcert_t *server_cert, zcert_t *cert,
                int wait_ms)
{
    zsock_t *client = zsock_new (ZMQ_PUSH);
    zcert_apply (cert, client);
    zsock_set_curve_serverkey (client, zcert_public_txt (server_cert));
    zsock_set_linger (client, 0);
    zsock_set_sndtimeo (client, wait_ms);
    zsock_connect (client, "tcp://127.0.0.1:%d", port);
    zstr_send (client, "hello");
    zsock_set_rcvtimeo (server, wait_ms);
    char *got = zstr_recv (server);
    bool admitted = got && streq (got, "hello");
    zstr_free (&got);
    zsock_destroy (&client);
    return admitted;
}

static bool
s_test_admitted (zsock_t *server, int port, zcert_t *server_cert, zcert_t *cert)
{
    return s_test_through (server, port, server_cert, cert, 10000);
}

static bool
s_test_refused (zsock_t *server, int port, zcert_t *server_cert, zcert_t *cert)
{
    return !s_test_through (server, port, server_cert, cert, 500);
}

static unsigned long
s_test_ask (zactor_t *zap, const char *command)
{
    zstr_send (zap, command);
    char *answer = zstr_recv (zap);
    assert (answer);
    unsigned long value = strtoul (answer, NULL, 10);
    free (answer);
    return value;
}

void
cc_zap_test (bool verbose)
{
    printf (" * cc_zap: ");
    char dir [] = "/tmp/cc_zap_test.XXXXXX";
    assert (mkdtemp (dir));
    zcert_t *server_cert = zcert_new ();
    zcert_t *enrolled = zcert_new ();
    zcert_t *stranger = zcert_new ();
    char *path = zsys_sprintf ("%s/enrolled.pub", dir);
    assert (zcert_save_public (enrolled, path) == 0);
    //  Not a certificate, and not a .pub: both ignored.
    char *junk = zsys_sprintf ("%s/junk.pub", dir);
    FILE *file = fopen (junk, "w");
    assert (file);
    fputs ("not a certificate\n", file);
    fclose (file);

    zactor_t *zap = zactor_new (cc_zap_actor, dir);
    assert (zap);
    assert (s_test_ask (zap, "KEYS") == 1);
    int port = 0;
    zsock_t *server = s_test_server (server_cert, &port);
    assert (s_test_admitted (server, port, server_cert, enrolled));
    assert (s_test_refused (server, port, server_cert, stranger));

    //  Enrolling a key admits it at its next handshake.
    char *stranger_path = zsys_sprintf ("%s/stranger.pub", dir);
    assert (zcert_save_public (stranger, stranger_path) == 0);
    assert (s_test_admitted (server, port, server_cert, stranger));
    assert (s_test_ask (zap, "KEYS") == 2);

    //  Removing it refuses the next handshake (the directory changed).
    unsigned long reloads = s_test_ask (zap, "RELOADS");
    assert (unlink (stranger_path) == 0);
    assert (s_test_refused (server, port, server_cert, stranger));
    assert (s_test_ask (zap, "RELOADS") > reloads);
    assert (s_test_admitted (server, port, server_cert, enrolled));

    //  Many refused handshakes do not reload the directory each time.
    reloads = s_test_ask (zap, "RELOADS");
    int64_t started = zclock_mono ();
    for (int attempt = 0; attempt < 5; attempt++)
        assert (s_test_refused (server, port, server_cert, stranger));
    int64_t seconds = (zclock_mono () - started) / 1000;
    assert (s_test_ask (zap, "RELOADS") <= reloads + (unsigned long) seconds + 1);

    zsock_destroy (&server);
    zactor_destroy (&zap);
    unlink (path);
    unlink (junk);
    rmdir (dir);
    free (path);
    free (junk);
    free (stranger_path);
    zcert_destroy (&server_cert);
    zcert_destroy (&enrolled);
    zcert_destroy (&stranger);
    printf ("OK\n");
}
