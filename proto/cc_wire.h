/*  cc_wire.h - bounded protobuf-c encoding and decoding.

    Every inbound byte string goes through cc_wire_unpack: it checks the
    size against the caller's bound before protobuf-c sees it, and returns
    NULL on anything protobuf-c rejects. The caller owns what it unpacked
    and frees it with protobuf_c_message_free_unpacked (or the generated
    __free_unpacked). Pack functions return freshly allocated memory the
    caller owns.
*/
#ifndef CC_WIRE_H_INCLUDED
#define CC_WIRE_H_INCLUDED

//  Hard ceiling on any certcast frame; also set as ZMQ_MAXMSGSIZE.
#define CC_WIRE_MAX_FRAME   (4 * 1024 * 1024)
//  Ceiling on one encoded Signed advisory (body included).
#define CC_WIRE_MAX_SIGNED  (1024 * 1024)
//  Deliveries in one Fetch reply, at most: a broker serves no more, so a
//  follower asks for no more and drops a reply that holds more.
#define CC_FETCH_CAP        256

//  The PUB topic of the liveness heartbeat every broker sends each
//  heartbeat interval, whether or not it has any stream yet. Stream names
//  are origin/sector, so this cannot collide with one. Its head is the
//  number of streams the broker has, so a follower Hellos again as soon as
//  a new stream appears instead of waiting for its periodic Hello.
#define CC_TOPIC_ALIVE  "$alive"

//  Set a broker's malloc for certcast's traffic; call first in main.
//  Frames up to CC_WIRE_MAX_FRAME come from the heap and are reused, and a
//  freed burst stays in the heap instead of going back to the kernel and
//  being faulted in again (see cc_wire.c).
void
    cc_wire_malloc_setup (void);

//  If topic/body is an alive heartbeat, the broker's stream count; else -1.
int64_t
    cc_wire_alive_streams (const char *topic, zframe_t *body);

//  Decode `size` bytes as `descriptor`, refusing size == 0 only when
//  allow_empty is false, and anything larger than `max`. NULL on failure.
ProtobufCMessage *
    cc_wire_unpack (const ProtobufCMessageDescriptor *descriptor,
                    const uint8_t *data, size_t size, size_t max);

//  Encode a message into a malloc'd buffer; sets *size. Never NULL.
uint8_t *
    cc_wire_pack (const ProtobufCMessage *message, size_t *size);

//  Encode a message into a new zframe. Never NULL.
zframe_t *
    cc_wire_pack_frame (const ProtobufCMessage *message);

//  Decode one frame as a Control message (bounded by CC_WIRE_MAX_FRAME).
//  NULL on failure; caller frees with certcast__control__free_unpacked.
Certcast__Control *
    cc_wire_control_decode (zframe_t *frame);

//  Encode a Control message into a new frame.
zframe_t *
    cc_wire_control_encode (const Certcast__Control *control);

//  Encode and send a Control on a client socket without blocking. A full
//  queue drops it (returns -1): every sender of control requests resends
//  on a timer, so a drop is repaired, never waited on.
int
    cc_wire_control_send (zsock_t *sock, const Certcast__Control *control);

//  Convenience for building replies: an Error control message with corr.
//  Returns a new frame.
zframe_t *
    cc_wire_error_frame (uint64_t corr, int code, const char *reason);

void
    cc_wire_test (bool verbose);

#endif
