/*  cc_heartbeats.c - a broker's heartbeats (see cc_heartbeats.h).

    One heartbeat on CC_TOPIC_ALIVE every interval tells every subscriber
    we live, even before any stream exists. A stream's own heartbeat
    carries its head so a subscriber notices a lost tail: that is news only
    for HEAD_REPEATS intervals after the head moved, so an unchanged head is
    repeated only every HEAD_EVERY_TICKS intervals (Welcome gives the heads
    on every periodic Hello too). Each heartbeat is one message per
    subscriber, CURVE-encrypted and sent on its own connection: with
    thousands of agents, a stream heartbeat every interval doubled what an
    idle relay spent on them.
*/
#include "cc_broker.h"

#define HEAD_REPEATS        CC_HEARTBEATS_HEAD_REPEATS
#define HEAD_EVERY_TICKS    CC_HEARTBEATS_HEAD_EVERY

struct _cc_heartbeats_t {
    zsock_t *pub;                   //  borrowed
    zhashx_t *announced;            //  stream -> s_announced_t (owned)
    uint64_t ticks;                 //  intervals so far
};

//  What the stream heartbeats told subscribers about one stream.
typedef struct {
    uint64_t head;
    int times;                      //  heartbeats sent with this head
} s_announced_t;

static void
s_announced_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

cc_heartbeats_t *
cc_heartbeats_new (zsock_t *pub)
{
    assert (pub);
    cc_heartbeats_t *self = (cc_heartbeats_t *) zmalloc (sizeof *self);
    self->pub = pub;
    self->announced = zhashx_new ();
    zhashx_set_destructor (self->announced, s_announced_destroy);
    return self;
}

void
cc_heartbeats_set_pub (cc_heartbeats_t *self, zsock_t *pub)
{
    assert (self);
    self->pub = pub;
}

void
cc_heartbeats_destroy (cc_heartbeats_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_heartbeats_t *self = *self_p;
        zhashx_destroy (&self->announced);
        free (self);
        *self_p = NULL;
    }
}

static void
s_send_heartbeat (cc_heartbeats_t *self, const char *topic,
                  const char *stream, uint64_t head, int64_t now)
{
    Certcast__Heartbeat heartbeat = CERTCAST__HEARTBEAT__INIT;
    heartbeat.stream = (char *) stream;
    heartbeat.head = head;
    heartbeat.time = now;
    Certcast__StreamMsg message = CERTCAST__STREAM_MSG__INIT;
    message.body_case = CERTCAST__STREAM_MSG__BODY_HEARTBEAT;
    message.heartbeat = &heartbeat;
    zframe_t *body = cc_wire_pack_frame (&message.base);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_append (msg, &body);
    if (self->pub)
        zmsg_send (&msg, self->pub);
    zmsg_destroy (&msg);
}

void
cc_heartbeats_send (cc_heartbeats_t *self, zhashx_t *heads)
{
    assert (self);
    assert (heads);
    int64_t now = (int64_t) time (NULL);
    s_send_heartbeat (self, CC_TOPIC_ALIVE, "", zhashx_size (heads), now);
    bool repeat_all = ++self->ticks % HEAD_EVERY_TICKS == 0;
    for (uint64_t *head = (uint64_t *) zhashx_first (heads); head;
         head = (uint64_t *) zhashx_next (heads)) {
        const char *stream = (const char *) zhashx_cursor (heads);
        s_announced_t *announced =
            (s_announced_t *) zhashx_lookup (self->announced, stream);
        if (!announced) {
            announced = (s_announced_t *) zmalloc (sizeof (s_announced_t));
            announced->head = *head;
            zhashx_insert (self->announced, stream, announced);
        }
        if (announced->head != *head) {
            announced->head = *head;
            announced->times = 0;
        }
        if (announced->times < HEAD_REPEATS || repeat_all) {
            s_send_heartbeat (self, stream, stream, *head, now);
            announced->times++;
        }
    }
}


//  --------------------------------------------------------------------------
//  Self-test

#define TEST_END    "test-end"

//  One interval: send it, then collect what the subscriber got (up to the
//  end marker) as "stream=head" words in topic order received; the alive
//  heartbeat as "$alive=count".
static char *
s_test_tick (cc_heartbeats_t *heartbeats, zsock_t *pub, zsock_t *sub,
             zhashx_t *heads)
{
    cc_heartbeats_send (heartbeats, heads);
    zstr_send (pub, TEST_END);
    char *seen = strdup ("");
    while (true) {
        zmsg_t *msg = zmsg_recv (sub);
        assert (msg);
        char *topic = zmsg_popstr (msg);
        assert (topic);
        if (streq (topic, TEST_END)) {
            zstr_free (&topic);
            zmsg_destroy (&msg);
            break;
        }
        zframe_t *body = zmsg_pop (msg);
        assert (body);
        Certcast__StreamMsg *message = (Certcast__StreamMsg *) cc_wire_unpack (
            &certcast__stream_msg__descriptor, zframe_data (body),
            zframe_size (body), CC_WIRE_MAX_FRAME);
        assert (message);
        assert (message->body_case == CERTCAST__STREAM_MSG__BODY_HEARTBEAT);
        const char *stream = message->heartbeat->stream;
        //  The alive heartbeat names no stream; a stream's names its own.
        assert (streq (stream, streq (topic, CC_TOPIC_ALIVE)? "": topic));
        char *more = zsys_sprintf ("%s%s%s=%" PRIu64, seen, *seen? " ": "",
                                   topic, message->heartbeat->head);
        free (seen);
        seen = more;
        certcast__stream_msg__free_unpacked (message, NULL);
        zframe_destroy (&body);
        zstr_free (&topic);
        zmsg_destroy (&msg);
    }
    return seen;
}

static void
s_test_expect (cc_heartbeats_t *heartbeats, zsock_t *pub, zsock_t *sub,
               zhashx_t *heads, const char *expected, bool verbose)
{
    char *seen = s_test_tick (heartbeats, pub, sub, heads);
    if (verbose)
        printf ("   tick: %s\n", seen);
    if (!streq (seen, expected))
        printf ("\n   expected '%s', got '%s'\n", expected, seen);
    assert (streq (seen, expected));
    free (seen);
}

void
cc_heartbeats_test (bool verbose)
{
    printf (" * cc_heartbeats: ");
    if (verbose)
        printf ("\n");
    zsock_t *pub = zsock_new_pub ("inproc://cc_heartbeats_test");
    zsock_t *sub = zsock_new_sub ("inproc://cc_heartbeats_test", "");
    assert (pub && sub);
    zsock_set_rcvtimeo (sub, 5000);
    //  The subscription reaches the PUB asynchronously: send probes until
    //  one arrives (bounded by the receive timeout), then drain the rest.
    zpoller_t *poller = zpoller_new (sub, NULL);
    for (int attempt = 0; attempt < 500; attempt++) {
        zstr_send (pub, "probe");
        if (zpoller_wait (poller, 10) == sub)
            break;
    }
    zpoller_destroy (&poller);
    zstr_send (pub, TEST_END);
    while (true) {
        char *topic = zstr_recv (sub);
        assert (topic);
        bool end = streq (topic, TEST_END);
        zstr_free (&topic);
        if (end)
            break;
    }

    cc_heartbeats_t *heartbeats = cc_heartbeats_new (pub);
    assert (heartbeats);
    zhashx_t *heads = zhashx_new ();
    uint64_t head_a = 5, head_b = 1;

    //  No stream yet: still the alive heartbeat, every interval
    s_test_expect (heartbeats, pub, sub, heads, "$alive=0", verbose);

    //  A new stream is announced in the next HEAD_REPEATS intervals
    //  (ticks 2 and 3), then not while its head stays put ...
    zhashx_insert (heads, "nat/a", &head_a);
    s_test_expect (heartbeats, pub, sub, heads, "$alive=1 nat/a=5", verbose);
    s_test_expect (heartbeats, pub, sub, heads, "$alive=1 nat/a=5", verbose);
    for (int tick = 4; tick < HEAD_EVERY_TICKS; tick++)
        s_test_expect (heartbeats, pub, sub, heads, "$alive=1", verbose);
    //  ... but every HEAD_EVERY_TICKS intervals all the same (tick 10)
    s_test_expect (heartbeats, pub, sub, heads, "$alive=1 nat/a=5", verbose);
    s_test_expect (heartbeats, pub, sub, heads, "$alive=1", verbose);

    //  A head that moves is news again for HEAD_REPEATS intervals; a
    //  second stream, new at the same time, too; a head that moves again
    //  within them starts its repeats over
    head_a = 7;
    zhashx_insert (heads, "nat/b", &head_b);
    //  (zhashx order is not insertion order: check each tick as a set)
    for (int tick = 0; tick < HEAD_REPEATS; tick++) {
        char *seen = s_test_tick (heartbeats, pub, sub, heads);
        if (verbose)
            printf ("   tick: %s\n", seen);
        assert (strncmp (seen, "$alive=2 ", 9) == 0);
        assert (strstr (seen, "nat/a=7") && strstr (seen, "nat/b=1"));
        assert (strlen (seen) == strlen ("$alive=2 nat/a=7 nat/b=1"));
        free (seen);
    }
    s_test_expect (heartbeats, pub, sub, heads, "$alive=2", verbose);
    head_b = 2;
    s_test_expect (heartbeats, pub, sub, heads, "$alive=2 nat/b=2", verbose);
    head_b = 3;
    s_test_expect (heartbeats, pub, sub, heads, "$alive=2 nat/b=3", verbose);
    s_test_expect (heartbeats, pub, sub, heads, "$alive=2 nat/b=3", verbose);
    s_test_expect (heartbeats, pub, sub, heads, "$alive=2", verbose);

    zhashx_destroy (&heads);
    cc_heartbeats_destroy (&heartbeats);
    assert (heartbeats == NULL);
    cc_heartbeats_destroy (&heartbeats);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
    printf ("OK\n");
}
