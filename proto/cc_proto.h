/*  cc_proto.h - the certcast protocol library: one header for every program.

    Includes system and library headers in a fixed order so every module
    compiles the same way, then the generated wire types, then the
    hand-written modules: wire (bounded pack/unpack), keys (Ed25519 +
    CurveZMQ identities), delegation (root-signed issuer scope), advisory
    (verified view of a Signed advisory).
*/
#ifndef CC_PROTO_H_INCLUDED
#define CC_PROTO_H_INCLUDED

#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <czmq.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <protobuf-c/protobuf-c.h>

#include "certcast.pb-c.h"

#if defined(__GNUC__)
#   define CC_WUR __attribute__ ((warn_unused_result))
#else
#   define CC_WUR
#endif

//  Reason codes shared by every module; numerically equal to the wire's
//  Certcast__ErrorCode so a refusal travels without translation.
typedef enum {
    CC_OK = 0,
    CC_EMALFORMED = 1,      //  truncated, oversized or not our protobuf
    CC_ESIGNATURE = 2,      //  signature does not verify
    CC_EUNTRUSTED = 3,      //  delegation does not chain to the pinned root
    CC_ESCOPE = 4,          //  sector or kind outside the delegation / node
    CC_EEXPIRED = 5,        //  advisory or delegation outside its window
    CC_EREPLAY = 6,         //  id+revision already accepted, or older
    CC_ENOTALLOWED = 7,     //  this identity or role may not do this
    CC_ESTORAGE = 8,        //  could not commit; nothing stored
    CC_EUNKNOWNSTREAM = 9,
    CC_ENOTYET = 10,        //  not held here yet (relay catching up): retry
    CC_EBUSY = 11           //  over this client's fetch share: retry later
} cc_error_t;

//  Short name for a reason code ("bad-signature", ...), never NULL.
const char *cc_strerror (int code);

#include "cc_wire.h"
#include "cc_keys.h"
#include "cc_delegation.h"
#include "cc_advisory.h"
#include "cc_pool.h"
#include "cc_behind.h"
#include "cc_loglimit.h"
#include "cc_verifier.h"

#endif
