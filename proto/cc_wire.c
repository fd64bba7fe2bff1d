/*  cc_wire.c - bounded protobuf-c encoding and decoding.

    The single door through which peer bytes become protobuf structures:
    the size is checked against the caller's bound before protobuf-c reads
    anything, and protobuf-c itself refuses truncated or trailing-garbage
    input. What cc_wire_unpack returns belongs to the caller; pack
    functions return fresh memory (or frames) the caller owns.
*/
#include "cc_proto.h"
#include <malloc.h>

//  protobuf-c wants a non-NULL pointer even for an empty message.
static const uint8_t s_empty [1] = { 0 };

const char *
cc_strerror (int code)
{
    switch (code) {
        case CC_OK:             return "ok";
        case CC_EMALFORMED:     return "malformed";
        case CC_ESIGNATURE:     return "bad-signature";
        case CC_EUNTRUSTED:     return "untrusted";
        case CC_ESCOPE:         return "out-of-scope";
        case CC_EEXPIRED:       return "expired";
        case CC_EREPLAY:        return "replay";
        case CC_ENOTALLOWED:    return "not-allowed";
        case CC_ESTORAGE:       return "storage";
        case CC_EUNKNOWNSTREAM: return "unknown-stream";
        case CC_ENOTYET:        return "not-yet";
        case CC_EBUSY:          return "busy";
        default:                return "unknown";
    }
}


ProtobufCMessage *
cc_wire_unpack (const ProtobufCMessageDescriptor *descriptor,
                const uint8_t *data, size_t size, size_t max)
{
    assert (descriptor);
    if (size > max)
        return NULL;
    if (!data) {
        if (size > 0)
            return NULL;
        data = s_empty;
    }
    //  A NULL allocator means protobuf-c's malloc/free, so the caller can
    //  free with protobuf_c_message_free_unpacked (..., NULL).
    return protobuf_c_message_unpack (descriptor, NULL, size, data);
}


uint8_t *
cc_wire_pack (const ProtobufCMessage *message, size_t *size)
{
    assert (message);
    assert (size);
    size_t packed_size = protobuf_c_message_get_packed_size (message);
    //  malloc (0) may return NULL; callers are promised a real pointer.
    uint8_t *data = (uint8_t *) malloc (packed_size ? packed_size : 1);
    assert (data);
    size_t written = protobuf_c_message_pack (message, data);
    assert (written == packed_size);
    *size = packed_size;
    return data;
}


zframe_t *
cc_wire_pack_frame (const ProtobufCMessage *message)
{
    assert (message);
    size_t packed_size = protobuf_c_message_get_packed_size (message);
    zframe_t *frame = zframe_new (NULL, packed_size);
    assert (frame);
    if (packed_size) {
        size_t written = protobuf_c_message_pack (message, zframe_data (frame));
        assert (written == packed_size);
    }
    return frame;
}


Certcast__Control *
cc_wire_control_decode (zframe_t *frame)
{
    if (!frame)
        return NULL;
    Certcast__Control *control = (Certcast__Control *) cc_wire_unpack (
        &certcast__control__descriptor, zframe_data (frame),
        zframe_size (frame), CC_WIRE_MAX_FRAME);
    if (!control)
        return NULL;
    //  A Control without a body (or with one from a newer schema we do not
    //  know) is not a request we could answer; refuse it here so every
    //  handler can rely on body_case.
    if (control->body_case == CERTCAST__CONTROL__BODY__NOT_SET) {
        certcast__control__free_unpacked (control, NULL);
        return NULL;
    }
    return control;
}


zframe_t *
cc_wire_control_encode (const Certcast__Control *control)
{
    assert (control);
    return cc_wire_pack_frame (&control->base);
}


zframe_t *
cc_wire_error_frame (uint64_t corr, int code, const char *reason)
{
    Certcast__Error error;
    certcast__error__init (&error);
    error.code = (Certcast__ErrorCode) code;
    error.reason = (char *) (reason ? reason : "");

    Certcast__Control control;
    certcast__control__init (&control);
    control.corr = corr;
    control.body_case = CERTCAST__CONTROL__BODY_ERROR;
    control.error = &error;
    return cc_wire_control_encode (&control);
}


//  --------------------------------------------------------------------------
//  Self test

void
cc_wire_test (bool verbose)
{
    printf (" * cc_wire: ");
    if (verbose)
        printf ("\n");

    //  Reason names are what logs and CLI print; spot-check they line up
    //  with the wire's ErrorCode values.
    assert (streq (cc_strerror (CC_OK), "ok"));
    assert (streq (cc_strerror (CC_EMALFORMED), "malformed"));
    assert (streq (cc_strerror (CC_ESIGNATURE), "bad-signature"));
    assert (streq (cc_strerror (CC_EUNTRUSTED), "untrusted"));
    assert (streq (cc_strerror (CC_ESCOPE), "out-of-scope"));
    assert (streq (cc_strerror (CC_EEXPIRED), "expired"));
    assert (streq (cc_strerror (CC_EREPLAY), "replay"));
    assert (streq (cc_strerror (CC_ENOTALLOWED), "not-allowed"));
    assert (streq (cc_strerror (CC_ESTORAGE), "storage"));
    assert (streq (cc_strerror (CC_EUNKNOWNSTREAM), "unknown-stream"));
    assert (streq (cc_strerror (CC_ENOTYET), "not-yet"));
    assert (streq (cc_strerror (CC_EBUSY), "busy"));
    assert (streq (cc_strerror (-1), "unknown"));
    assert (streq (cc_strerror (1000), "unknown"));
    assert ((int) CC_EUNKNOWNSTREAM == (int) CERTCAST__ERROR_CODE__ERR_UNKNOWN_STREAM);
    assert ((int) CC_ENOTYET == (int) CERTCAST__ERROR_CODE__ERR_NOT_YET);
    assert ((int) CC_ESIGNATURE == (int) CERTCAST__ERROR_CODE__ERR_BAD_SIGNATURE);

    //  Pack / unpack round trip of a Delivery
    Certcast__Delivery delivery;
    certcast__delivery__init (&delivery);
    delivery.stream = (char *) "national/banking";
    delivery.seq = 42;
    uint8_t payload [100];
    memset (payload, 0xA5, sizeof (payload));
    delivery.signed_.data = payload;
    delivery.signed_.len = sizeof (payload);
    delivery.stored_at = 1767225600;

    size_t size = 0;
    uint8_t *data = cc_wire_pack (&delivery.base, &size);
    assert (data);
    assert (size > sizeof (payload));
    Certcast__Delivery *copy = (Certcast__Delivery *) cc_wire_unpack (
        &certcast__delivery__descriptor, data, size, size);
    assert (copy);
    assert (streq (copy->stream, "national/banking"));
    assert (copy->seq == 42);
    assert (copy->stored_at == 1767225600);
    assert (copy->signed_.len == sizeof (payload));
    assert (memcmp (copy->signed_.data, payload, sizeof (payload)) == 0);
    certcast__delivery__free_unpacked (copy, NULL);

    //  Oversized: one byte over the caller's bound is refused
    assert (cc_wire_unpack (&certcast__delivery__descriptor,
                            data, size, size - 1) == NULL);
    //  Truncated: every strict prefix that cuts a field is refused
    int truncated_refused = 0;
    for (size_t cut = 1; cut < size; cut++) {
        Certcast__Delivery *partial = (Certcast__Delivery *) cc_wire_unpack (
            &certcast__delivery__descriptor, data, cut, size);
        if (partial)
            certcast__delivery__free_unpacked (partial, NULL);
        else
            truncated_refused++;
    }
    assert (truncated_refused > 0);
    //  Cut inside the 100-byte payload: must be refused
    assert (cc_wire_unpack (&certcast__delivery__descriptor,
                            data, size - 10, size) == NULL);
    //  NULL data with a size is refused; empty is an empty message
    assert (cc_wire_unpack (&certcast__delivery__descriptor,
                            NULL, 5, 100) == NULL);
    Certcast__Delivery *empty = (Certcast__Delivery *) cc_wire_unpack (
        &certcast__delivery__descriptor, NULL, 0, 100);
    assert (empty);
    assert (empty->seq == 0);
    certcast__delivery__free_unpacked (empty, NULL);
    free (data);

    //  Garbage: an invalid wire type (7) and an over-long varint
    const uint8_t garbage1 [] = { 0x0F, 0xFF, 0xFF, 0xFF };
    assert (cc_wire_unpack (&certcast__delivery__descriptor,
                            garbage1, sizeof (garbage1), 100) == NULL);
    const uint8_t garbage2 [] = { 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    assert (cc_wire_unpack (&certcast__delivery__descriptor,
                            garbage2, sizeof (garbage2), 100) == NULL);
    //  Length prefix claiming more than is there
    const uint8_t garbage3 [] = { 0x0A, 0x7F, 'a', 'b' };
    assert (cc_wire_unpack (&certcast__delivery__descriptor,
                            garbage3, sizeof (garbage3), 100) == NULL);

    //  Control round trip through a frame
    Certcast__Fetch fetch;
    certcast__fetch__init (&fetch);
    fetch.stream = (char *) "national/telecom";
    fetch.from = 7;
    fetch.max = 100;
    Certcast__Control control;
    certcast__control__init (&control);
    control.corr = 99;
    control.body_case = CERTCAST__CONTROL__BODY_FETCH;
    control.fetch = &fetch;
    zframe_t *frame = cc_wire_control_encode (&control);
    assert (frame);
    Certcast__Control *decoded = cc_wire_control_decode (frame);
    assert (decoded);
    assert (decoded->corr == 99);
    assert (decoded->body_case == CERTCAST__CONTROL__BODY_FETCH);
    assert (streq (decoded->fetch->stream, "national/telecom"));
    assert (decoded->fetch->from == 7);
    assert (decoded->fetch->max == 100);
    certcast__control__free_unpacked (decoded, NULL);
    zframe_destroy (&frame);

    //  A Control with no body is refused
    Certcast__Control bodyless;
    certcast__control__init (&bodyless);
    bodyless.corr = 5;
    frame = cc_wire_control_encode (&bodyless);
    assert (zframe_size (frame) > 0);
    assert (cc_wire_control_decode (frame) == NULL);
    zframe_destroy (&frame);
    //  An empty frame is a Control without body too
    frame = zframe_new (NULL, 0);
    assert (cc_wire_control_decode (frame) == NULL);
    zframe_destroy (&frame);
    assert (cc_wire_control_decode (NULL) == NULL);
    //  Garbage frame
    frame = zframe_new (garbage1, sizeof (garbage1));
    assert (cc_wire_control_decode (frame) == NULL);
    zframe_destroy (&frame);

    //  Error frame carries code, reason and corr
    frame = cc_wire_error_frame (1234, CC_ESCOPE, "delegation does not cover sector");
    decoded = cc_wire_control_decode (frame);
    assert (decoded);
    assert (decoded->corr == 1234);
    assert (decoded->body_case == CERTCAST__CONTROL__BODY_ERROR);
    assert (decoded->error->code == CERTCAST__ERROR_CODE__ERR_OUT_OF_SCOPE);
    assert (streq (decoded->error->reason, "delegation does not cover sector"));
    certcast__control__free_unpacked (decoded, NULL);
    zframe_destroy (&frame);
    frame = cc_wire_error_frame (1, CC_ESTORAGE, NULL);
    decoded = cc_wire_control_decode (frame);
    assert (decoded);
    assert (decoded->error->code == CERTCAST__ERROR_CODE__ERR_STORAGE);
    assert (streq (decoded->error->reason, ""));
    certcast__control__free_unpacked (decoded, NULL);
    zframe_destroy (&frame);

    //  A well-formed Control just under CC_WIRE_MAX_FRAME decodes; the
    //  same message grown past the bound is refused before decoding.
    size_t json_size = CC_WIRE_MAX_FRAME - 64;
    char *json = (char *) malloc (CC_WIRE_MAX_FRAME + 1);
    assert (json);
    memset (json, 'x', CC_WIRE_MAX_FRAME);
    json [json_size] = 0;
    Certcast__StatusReply reply;
    certcast__status_reply__init (&reply);
    reply.json = json;
    certcast__control__init (&control);
    control.body_case = CERTCAST__CONTROL__BODY_STATUS_REPLY;
    control.status_reply = &reply;
    frame = cc_wire_control_encode (&control);
    assert (zframe_size (frame) <= CC_WIRE_MAX_FRAME);
    decoded = cc_wire_control_decode (frame);
    assert (decoded);
    assert (strlen (decoded->status_reply->json) == json_size);
    certcast__control__free_unpacked (decoded, NULL);
    zframe_destroy (&frame);
    json [json_size] = 'x';
    json [CC_WIRE_MAX_FRAME] = 0;
    frame = cc_wire_control_encode (&control);
    assert (zframe_size (frame) > CC_WIRE_MAX_FRAME);
    assert (cc_wire_control_decode (frame) == NULL);
    zframe_destroy (&frame);
    free (json);

    printf ("OK\n");
}


//  glibc's defaults suit a short-lived program: a block over the mmap
//  threshold (128 KiB at first) is mapped and unmapped on every use, and
//  when over 128 KiB at the top of the heap is free it goes back to the
//  kernel. certcast's processes allocate frame after frame of up to 4 MiB
//  (ack batches, fetch replies, a burst's decoded messages), so in a burst
//  the national broker spent 7.6 % of its samples in sysmalloc and more in
//  the kernel zeroing the pages it got back each time; the relay and the
//  simulated agents likewise. With frames kept in the heap and 64 MiB of
//  free heap kept, a burst took about a tenth less CPU in each process
//  (the relay 1.42-1.55 CPU s instead of 1.55-1.61 over four runs). For
//  the brokers, not the agent: there it cost 1.9 MiB of resident memory
//  after 10,000 advisories, for bursts an agent rarely sees.
void
cc_wire_malloc_setup (void)
{
    mallopt (M_MMAP_THRESHOLD, 2 * CC_WIRE_MAX_FRAME);
    mallopt (M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    mallopt (M_TOP_PAD, 16 * 1024 * 1024);
}

int64_t
cc_wire_alive_streams (const char *topic, zframe_t *body)
{
    if (!topic || !body || !streq (topic, CC_TOPIC_ALIVE))
        return -1;
    Certcast__StreamMsg *message = (Certcast__StreamMsg *) cc_wire_unpack (
        &certcast__stream_msg__descriptor, zframe_data (body),
        zframe_size (body), CC_WIRE_MAX_FRAME);
    int64_t streams = -1;
    if (message && message->body_case == CERTCAST__STREAM_MSG__BODY_HEARTBEAT)
        streams = (int64_t) message->heartbeat->head;
    if (message)
        certcast__stream_msg__free_unpacked (message, NULL);
    return streams;
}


int
cc_wire_control_send (zsock_t *sock, const Certcast__Control *control)
{
    zframe_t *frame = cc_wire_control_encode (control);
    if (zframe_send (&frame, sock, ZFRAME_DONTWAIT) == 0)
        return 0;
    zframe_destroy (&frame);
    return -1;
}
