/*  cc_heartbeats.h - a broker's heartbeats on its PUB socket.

    Every interval the engine calls cc_heartbeats_send: one heartbeat on
    CC_TOPIC_ALIVE (the broker lives; its head is the stream count), and
    one on each stream whose head is news (moved in the last
    CC_HEARTBEATS_HEAD_REPEATS intervals) or due again (every
    CC_HEARTBEATS_HEAD_EVERY intervals). See cc_heartbeats.c for why.

    cc_heartbeats_t owns what it told subscribers about each stream; it
    borrows the PUB socket, which must outlive it.
*/
#ifndef CC_HEARTBEATS_H_INCLUDED
#define CC_HEARTBEATS_H_INCLUDED

#define CC_HEARTBEATS_HEAD_REPEATS  2   //  heartbeats that carry a new head
#define CC_HEARTBEATS_HEAD_EVERY    10  //  an unchanged head, once this many

typedef struct _cc_heartbeats_t cc_heartbeats_t;

//  Heartbeats sent on pub (borrowed). Never NULL.
cc_heartbeats_t *
    cc_heartbeats_new (zsock_t *pub);

//  The stream socket was made anew (a key left the allow directory);
//  NULL while there is none.
void
    cc_heartbeats_set_pub (cc_heartbeats_t *self, zsock_t *pub);

//  Does nothing on NULL; nulls the caller's pointer.
void
    cc_heartbeats_destroy (cc_heartbeats_t **self_p);

//  One interval's heartbeats, for heads (stream -> uint64_t * committed
//  head, borrowed for the call).
void
    cc_heartbeats_send (cc_heartbeats_t *self, zhashx_t *heads);

void
    cc_heartbeats_test (bool verbose);

#endif
