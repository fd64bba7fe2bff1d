/*  cc_advisory.h - a verified advisory: the only way certcast code looks
    inside a Signed message.

    cc_advisory_open unpacks an encoded Signed, verifies the delegation
    against the pinned root, the issuer's signature over the exact advisory
    bytes, and the scope (every target sector and the kind are covered by
    the delegation), before it decodes or trusts anything in the advisory.
    It owns every protobuf it unpacked and a copy of the Signed bytes;
    accessors return pointers valid until cc_advisory_destroy.

    Time rules (`mode`):
    - CC_AT_INTAKE (a broker taking a publish): the delegation must be valid
      now, the advisory must not be expired now, and issued_at must not be
      more than CC_ADVISORY_SKEW seconds in the future.
    - CC_AT_DELIVERY (a relay or agent receiving a stream): the delegation
      must have been valid at the advisory's issued_at; expiry is left to
      the caller (cc_advisory_expired), so an agent offline for a month
      still learns what it missed.
*/
#ifndef CC_ADVISORY_H_INCLUDED
#define CC_ADVISORY_H_INCLUDED

#define CC_ADVISORY_SKEW  300
//  Longest advisory id (bytes) a broker, relay or agent opens.
#define CC_ADVISORY_ID_MAX  120

typedef enum { CC_AT_INTAKE, CC_AT_DELIVERY } cc_check_t;

typedef struct _cc_advisory_t cc_advisory_t;

//  Open and verify. NULL on refusal with *code (cc_error_t) and *reason (a
//  static one-line string) set.
cc_advisory_t *
    cc_advisory_open (const uint8_t *signed_bytes, size_t size,
                      const uint8_t root_key[32], int64_t now,
                      cc_check_t mode, int *code, const char **reason) CC_WUR;

void
    cc_advisory_destroy (cc_advisory_t **self_p);

const Certcast__Advisory *
    cc_advisory_content (cc_advisory_t *self);
const Certcast__Delegation *
    cc_advisory_delegation (cc_advisory_t *self);
const char *
    cc_advisory_id (cc_advisory_t *self);
uint32_t
    cc_advisory_revision (cc_advisory_t *self);
//  The encoded Signed bytes exactly as received.
const uint8_t *
    cc_advisory_bytes (cc_advisory_t *self, size_t *size);
//  SHA-256 of the Signed bytes: what acks quote.
const uint8_t *
    cc_advisory_digest (cc_advisory_t *self);
//  32-byte issuer Ed25519 public key (from the verified delegation).
const uint8_t *
    cc_advisory_issuer_key (cc_advisory_t *self);

//  True if the advisory targets sector (all_sectors targets every one).
bool
    cc_advisory_targets (cc_advisory_t *self, const char *sector);
//  True if expires_at is set and <= now.
bool
    cc_advisory_expired (cc_advisory_t *self, int64_t now);

//  Sign an encoded Advisory as issuer with its delegation bytes; returns
//  malloc'd encoded Signed bytes (caller frees), NULL if issuer has no
//  secret or the delegation does not decode.
uint8_t *
    cc_advisory_sign (cc_keys_t *issuer, const uint8_t *advisory_bytes,
                      size_t advisory_size, const uint8_t *delegation_bytes,
                      size_t delegation_size, size_t *size);

void
    cc_advisory_test (bool verbose);

#endif
