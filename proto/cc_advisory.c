/*  cc_advisory.c - a verified advisory: the only way certcast code looks
    inside a Signed message.

    cc_advisory_open is the trust boundary. It checks, in this order: that
    the envelope decodes within bounds; that the delegation chains to the
    pinned root; that the issuer named by that delegation signed the exact
    advisory bytes; and only then decodes the advisory and checks that its
    sectors and kind are inside the delegation and its times are sane. The
    order matters: nothing an attacker wrote is parsed beyond the envelope
    until two signatures vouch for it.

    A cc_advisory_t owns the unpacked Signed, Delegation and Advisory and a
    copy of the Signed bytes; every accessor returns memory it owns.
*/
#include "cc_proto.h"

#define CC_ADVISORY_SECTOR_MAX  63
//  A SignedDelegation inside Signed is bounded by the Signed bound.

struct _cc_advisory_t {
    Certcast__Signed *signed_msg;       //  the envelope as unpacked
    Certcast__Delegation *delegation;   //  verified delegation
    Certcast__Advisory *advisory;       //  decoded after signature check
    uint8_t *bytes;                     //  copy of the Signed bytes
    size_t size;                        //  their length
    uint8_t digest [32];                //  SHA-256 of bytes
};


void
cc_advisory_destroy (cc_advisory_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_advisory_t *self = *self_p;
        if (self->advisory)
            certcast__advisory__free_unpacked (self->advisory, NULL);
        if (self->delegation)
            certcast__delegation__free_unpacked (self->delegation, NULL);
        if (self->signed_msg)
            certcast__signed__free_unpacked (self->signed_msg, NULL);
        free (self->bytes);
        free (self);
        *self_p = NULL;
    }
}


//  True if any top-level string field in an encoded message holds a NUL.
//  protobuf-c hands strings back NUL-terminated, so "a\0b" would read as
//  "a": two different signed byte strings with the same apparent id. We
//  refuse that rather than let it reach replay checks. Structure errors
//  count as a hit; the caller has already unpacked these bytes.
static bool
s_string_has_nul (const ProtobufCMessageDescriptor *descriptor,
                  const uint8_t *data, size_t size)
{
    size_t offset = 0;
    while (offset < size) {
        uint64_t tag = 0;
        unsigned shift = 0;
        while (true) {
            if (offset >= size || shift > 63)
                return true;
            uint8_t byte = data [offset++];
            tag |= (uint64_t) (byte & 0x7F) << shift;
            shift += 7;
            if (!(byte & 0x80))
                break;
        }
        unsigned wire_type = (unsigned) (tag & 7);
        uint64_t field = tag >> 3;
        uint64_t length = 0;
        switch (wire_type) {
            case 0:                     //  varint
                while (offset < size && (data [offset] & 0x80))
                    offset++;
                if (offset >= size)
                    return true;
                offset++;
                continue;
            case 1:                     //  64-bit
                length = 8;
                break;
            case 5:                     //  32-bit
                length = 4;
                break;
            case 2:                     //  length-delimited
                shift = 0;
                while (true) {
                    if (offset >= size || shift > 63)
                        return true;
                    uint8_t byte = data [offset++];
                    length |= (uint64_t) (byte & 0x7F) << shift;
                    shift += 7;
                    if (!(byte & 0x80))
                        break;
                }
                break;
            default:
                return true;
        }
        if (length > size - offset)
            return true;
        if (wire_type == 2 && field <= UINT32_MAX) {
            const ProtobufCFieldDescriptor *field_descriptor =
                protobuf_c_message_descriptor_get_field (descriptor,
                                                         (unsigned) field);
            if (field_descriptor
            &&  field_descriptor->type == PROTOBUF_C_TYPE_STRING
            &&  memchr (data + offset, 0, (size_t) length))
                return true;
        }
        offset += (size_t) length;
    }
    return false;
}


static bool
s_valid_id (const char *id)
{
    size_t length = strlen (id);
    if (length == 0 || length > CC_ADVISORY_ID_MAX)
        return false;
    //  Printable ASCII without spaces: ids end up in file names, logs and
    //  LMDB keys.
    for (size_t index = 0; index < length; index++)
        if (id [index] <= 0x20 || id [index] >= 0x7F)
            return false;
    return true;
}


static bool
s_valid_sector (const char *sector)
{
    size_t length = strlen (sector);
    if (length == 0 || length > CC_ADVISORY_SECTOR_MAX)
        return false;
    for (size_t index = 0; index < length; index++) {
        char c = sector [index];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}


//  Record a refusal and destroy what was built; always NULL.
static cc_advisory_t *
s_refuse (cc_advisory_t **self_p, int *code, const char **reason,
          int refusal_code, const char *refusal_reason)
{
    *code = refusal_code;
    *reason = refusal_reason;
    cc_advisory_destroy (self_p);
    return NULL;
}


cc_advisory_t *
cc_advisory_open (const uint8_t *signed_bytes, size_t size,
                  const uint8_t root_key [32], int64_t now,
                  cc_check_t mode, int *code, const char **reason)
{
    assert (root_key);
    int dummy_code;
    const char *dummy_reason;
    if (!code)
        code = &dummy_code;
    if (!reason)
        reason = &dummy_reason;
    *code = CC_OK;
    *reason = NULL;

    cc_advisory_t *self = (cc_advisory_t *) zmalloc (sizeof (cc_advisory_t));
    assert (self);

    //  1. Envelope, within bounds.
    if (!signed_bytes || size == 0 || size > CC_WIRE_MAX_SIGNED)
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "signed advisory empty or too large");
    self->signed_msg = (Certcast__Signed *) cc_wire_unpack (
        &certcast__signed__descriptor, signed_bytes, size, CC_WIRE_MAX_SIGNED);
    if (!self->signed_msg)
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "signed advisory does not decode");
    const Certcast__Signed *envelope = self->signed_msg;

    //  2. The delegation must chain to the pinned root.
    if (!envelope->delegation)
        return s_refuse (&self, code, reason, CC_EUNTRUSTED,
                         "signed advisory carries no delegation");
    int delegation_code;
    const char *delegation_reason;
    self->delegation = cc_delegation_verify (envelope->delegation, root_key,
                                             &delegation_code,
                                             &delegation_reason);
    if (!self->delegation)
        return s_refuse (&self, code, reason, delegation_code,
                         delegation_reason);
    const Certcast__Delegation *delegation = self->delegation;

    //  3. The issuer the root named signed these exact advisory bytes.
    uint8_t key_id [8];
    cc_key_id (delegation->issuer_key.data, key_id);
    if (envelope->key_id.len != sizeof (key_id)
    ||  CRYPTO_memcmp (envelope->key_id.data, key_id, sizeof (key_id)) != 0)
        return s_refuse (&self, code, reason, CC_ESIGNATURE,
                         "key id does not match the delegated issuer");
    if (envelope->signature.len != 64
    ||  !cc_ed25519_verify (delegation->issuer_key.data,
                            envelope->advisory.data, envelope->advisory.len,
                            envelope->signature.data, envelope->signature.len))
        return s_refuse (&self, code, reason, CC_ESIGNATURE,
                         "signature does not verify");

    //  4. Only now decode the advisory and check its shape.
    self->advisory = (Certcast__Advisory *) cc_wire_unpack (
        &certcast__advisory__descriptor, envelope->advisory.data,
        envelope->advisory.len, CC_WIRE_MAX_SIGNED);
    if (!self->advisory)
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "advisory does not decode");
    const Certcast__Advisory *advisory = self->advisory;
    if (s_string_has_nul (&certcast__advisory__descriptor,
                          envelope->advisory.data, envelope->advisory.len))
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "advisory text field contains a NUL byte");
    if (!s_valid_id (advisory->id))
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "advisory id empty, too long or not printable");
    if (advisory->revision < 1)
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "advisory revision must be at least 1");
    if (advisory->kind == CERTCAST__KIND__KIND_UNSPECIFIED)
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "advisory kind not set");
    if (advisory->all_sectors && advisory->n_sectors > 0)
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "advisory targets all sectors and a sector list");
    if (!advisory->all_sectors && advisory->n_sectors == 0)
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "advisory targets no sector");
    for (size_t index = 0; index < advisory->n_sectors; index++)
        if (!s_valid_sector (advisory->sectors [index]))
            return s_refuse (&self, code, reason, CC_EMALFORMED,
                             "advisory sector name not [a-z0-9-]{1,63}");
    if (advisory->title [0] == 0)
        return s_refuse (&self, code, reason, CC_EMALFORMED,
                         "advisory has no title");

    //  5. Scope: a banking issuer cannot reach telecom, and "all sectors"
    //  needs an all-sectors delegation, not merely every sector we know.
    //  An issuer bound to an id prefix names inside it: otherwise it could
    //  take the National CERT's next id (at a relay cut off from the
    //  national broker, say) and keep that advisory from its agents.
    if (!cc_delegation_covers_id (delegation, advisory->id))
        return s_refuse (&self, code, reason, CC_ESCOPE,
                         "advisory id outside the issuer's delegated id "
                         "prefix");
    if (advisory->all_sectors && !delegation->all_sectors)
        return s_refuse (&self, code, reason, CC_ESCOPE,
                         "delegation does not cover all sectors");
    for (size_t index = 0; index < advisory->n_sectors; index++)
        if (!cc_delegation_covers_sector (delegation, advisory->sectors [index]))
            return s_refuse (&self, code, reason, CC_ESCOPE,
                             "delegation does not cover sector");
    if (!cc_delegation_covers_kind (delegation, advisory->kind))
        return s_refuse (&self, code, reason, CC_ESCOPE,
                         "delegation does not cover kind");

    //  6. Time. At intake we judge against our own clock; on delivery the
    //  advisory may be old news to a node that was offline, so we only ask
    //  whether the issuer was entitled to say it when it did.
    if (mode == CC_AT_INTAKE) {
        //  The TLP label tells every recipient whom it may share the
        //  advisory with, and the severity how fast to act: one without a
        //  label we know (unset, or a number from no version of ours)
        //  would reach thousands with neither. Refused at intake only:
        //  what a broker stored before this check must still pass on.
        if (advisory->tlp < CERTCAST__TLP__CLEAR
        ||  advisory->tlp > CERTCAST__TLP__RED)
            return s_refuse (&self, code, reason, CC_EMALFORMED,
                             "advisory has no known TLP label");
        if (advisory->severity < CERTCAST__SEVERITY__INFO
        ||  advisory->severity > CERTCAST__SEVERITY__CRITICAL)
            return s_refuse (&self, code, reason, CC_EMALFORMED,
                             "advisory has no known severity");
        if (now < delegation->not_before || now > delegation->not_after)
            return s_refuse (&self, code, reason, CC_EEXPIRED,
                             "delegation expired or not yet valid");
        if (advisory->expires_at != 0 && advisory->expires_at <= now)
            return s_refuse (&self, code, reason, CC_EEXPIRED,
                             "advisory expired");
        if (advisory->issued_at > now + CC_ADVISORY_SKEW)
            return s_refuse (&self, code, reason, CC_EEXPIRED,
                             "advisory issued in the future");
    }
    else
        assert (mode == CC_AT_DELIVERY);
    //  Both at intake and on delivery: what a broker stores, every node
    //  after it must accept, or the stream stops there (a relay never
    //  skips a delivery). An issued_at before the window (a publisher's
    //  slow clock, or 0) was once stored here and refused by every relay.
    if (advisory->issued_at < delegation->not_before
    ||  advisory->issued_at > delegation->not_after)
        return s_refuse (&self, code, reason, CC_EEXPIRED,
                         "delegation not valid when the advisory was issued");

    self->bytes = (uint8_t *) malloc (size);
    assert (self->bytes);
    memcpy (self->bytes, signed_bytes, size);
    self->size = size;
    cc_sha256 (self->bytes, self->size, self->digest);
    return self;
}


const Certcast__Advisory *
cc_advisory_content (cc_advisory_t *self)
{
    assert (self);
    return self->advisory;
}


const Certcast__Delegation *
cc_advisory_delegation (cc_advisory_t *self)
{
    assert (self);
    return self->delegation;
}


const char *
cc_advisory_id (cc_advisory_t *self)
{
    assert (self);
    return self->advisory->id;
}


uint32_t
cc_advisory_revision (cc_advisory_t *self)
{
    assert (self);
    return self->advisory->revision;
}


const uint8_t *
cc_advisory_bytes (cc_advisory_t *self, size_t *size)
{
    assert (self);
    if (size)
        *size = self->size;
    return self->bytes;
}


const uint8_t *
cc_advisory_digest (cc_advisory_t *self)
{
    assert (self);
    return self->digest;
}


const uint8_t *
cc_advisory_issuer_key (cc_advisory_t *self)
{
    assert (self);
    return self->delegation->issuer_key.data;
}


bool
cc_advisory_targets (cc_advisory_t *self, const char *sector)
{
    assert (self);
    if (!sector)
        return false;
    if (self->advisory->all_sectors)
        return true;
    for (size_t index = 0; index < self->advisory->n_sectors; index++)
        if (streq (self->advisory->sectors [index], sector))
            return true;
    return false;
}


bool
cc_advisory_expired (cc_advisory_t *self, int64_t now)
{
    assert (self);
    return self->advisory->expires_at != 0 && self->advisory->expires_at <= now;
}


uint8_t *
cc_advisory_sign (cc_keys_t *issuer, const uint8_t *advisory_bytes,
                  size_t advisory_size, const uint8_t *delegation_bytes,
                  size_t delegation_size, size_t *size)
{
    assert (issuer);
    assert (advisory_bytes || advisory_size == 0);
    assert (size);
    if (!cc_keys_has_secret (issuer))
        return NULL;
    Certcast__SignedDelegation *delegation = (Certcast__SignedDelegation *)
        cc_wire_unpack (&certcast__signed_delegation__descriptor,
                        delegation_bytes, delegation_size, CC_WIRE_MAX_SIGNED);
    if (!delegation || delegation_size == 0) {
        if (delegation)
            certcast__signed_delegation__free_unpacked (delegation, NULL);
        return NULL;
    }
    uint8_t signature [64];
    uint8_t key_id [8];
    int rc = cc_keys_sign (issuer, advisory_bytes, advisory_size, signature);
    assert (rc == 0);
    cc_key_id (cc_keys_sign_public (issuer), key_id);

    Certcast__Signed envelope;
    certcast__signed__init (&envelope);
    envelope.advisory.data = (uint8_t *) advisory_bytes;
    envelope.advisory.len = advisory_size;
    envelope.key_id.data = key_id;
    envelope.key_id.len = sizeof (key_id);
    envelope.signature.data = signature;
    envelope.signature.len = sizeof (signature);
    envelope.delegation = delegation;
    uint8_t *bytes = cc_wire_pack (&envelope.base, size);
    certcast__signed_delegation__free_unpacked (delegation, NULL);
    return bytes;
}


//  --------------------------------------------------------------------------
//  Self test

#define TEST_NOW  1767225600            //  2026-01-01T00:00:00Z

//  Test fixture: a root, a national issuer (all sectors) and a banking
//  issuer (banking only), with their delegations.
typedef struct {
    cc_keys_t *root;
    cc_keys_t *national;
    cc_keys_t *banking;
    cc_keys_t *stranger;
    uint8_t *national_delegation;
    size_t national_delegation_size;
    uint8_t *banking_delegation;
    size_t banking_delegation_size;
} s_fixture_t;


//  Encode a test advisory; sectors is NULL-terminated, NULL = all sectors.
static uint8_t *
s_test_advisory (const char *id, uint32_t revision, Certcast__Kind kind,
                 const char **sectors, int64_t issued_at, int64_t expires_at,
                 size_t *size)
{
    Certcast__Advisory advisory;
    certcast__advisory__init (&advisory);
    advisory.id = (char *) id;
    advisory.revision = revision;
    advisory.kind = kind;
    advisory.severity = CERTCAST__SEVERITY__HIGH;
    advisory.tlp = CERTCAST__TLP__GREEN;
    if (sectors) {
        size_t count = 0;
        while (sectors [count])
            count++;
        advisory.n_sectors = count;
        advisory.sectors = (char **) sectors;
    }
    else
        advisory.all_sectors = true;
    advisory.title = (char *) "Critical RCE in example VPN appliance";
    advisory.summary = (char *) "Patch now.";
    advisory.content_type = (char *) "text/markdown";
    advisory.body.data = (uint8_t *) "# Patch\n";
    advisory.body.len = 8;
    advisory.issued_at = issued_at;
    advisory.expires_at = expires_at;
    advisory.issuer = (char *) "PK-NCERT";
    return cc_wire_pack (&advisory.base, size);
}


//  Sign an advisory as issuer with delegation; returns Signed bytes.
static uint8_t *
s_test_signed (cc_keys_t *issuer, const uint8_t *delegation,
               size_t delegation_size, const char *id, Certcast__Kind kind,
               const char **sectors, int64_t issued_at, int64_t expires_at,
               size_t *size)
{
    size_t advisory_size;
    uint8_t *advisory = s_test_advisory (id, 1, kind, sectors, issued_at,
                                         expires_at, &advisory_size);
    uint8_t *bytes = cc_advisory_sign (issuer, advisory, advisory_size,
                                       delegation, delegation_size, size);
    assert (bytes);
    free (advisory);
    return bytes;
}


//  As s_test_signed (all sectors, revision 1), with tlp and severity as
//  given: values a publisher's tool could put there, known or not.
static uint8_t *
s_test_labelled (s_fixture_t *fixture, const char *id, int tlp, int severity,
                 size_t *size)
{
    size_t advisory_size;
    uint8_t *bytes = s_test_advisory (id, 1,
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, NULL, TEST_NOW, 0,
        &advisory_size);
    Certcast__Advisory *advisory = (Certcast__Advisory *) cc_wire_unpack (
        &certcast__advisory__descriptor, bytes, advisory_size,
        CC_WIRE_MAX_SIGNED);
    assert (advisory);
    free (bytes);
    advisory->tlp = (Certcast__Tlp) tlp;
    advisory->severity = (Certcast__Severity) severity;
    bytes = cc_wire_pack (&advisory->base, &advisory_size);
    certcast__advisory__free_unpacked (advisory, NULL);
    uint8_t *signed_bytes = cc_advisory_sign (fixture->national, bytes,
        advisory_size, fixture->national_delegation,
        fixture->national_delegation_size, size);
    assert (signed_bytes);
    free (bytes);
    return signed_bytes;
}


//  Open expecting refusal with expected_code; asserts the reason is set.
static void
s_test_refused (s_fixture_t *fixture, const uint8_t *bytes, size_t size,
                cc_check_t mode, int64_t now, int expected_code)
{
    int code = -1;
    const char *reason = NULL;
    cc_advisory_t *advisory = cc_advisory_open (bytes, size,
        cc_keys_sign_public (fixture->root), now, mode, &code, &reason);
    if (advisory || code != expected_code)
        fprintf (stderr, "expected %s, got %s (%s)\n",
                 cc_strerror (expected_code), cc_strerror (code),
                 reason ? reason : "accepted");
    assert (advisory == NULL);
    assert (code == expected_code);
    assert (reason && strlen (reason) > 0);
}


void
cc_advisory_test (bool verbose)
{
    printf (" * cc_advisory: ");
    if (verbose)
        printf ("\n");

    char dir [] = "/tmp/cc_advisory_test.XXXXXX";
    assert (mkdtemp (dir));

    s_fixture_t fixture;
    fixture.root = cc_keys_generate ();
    fixture.national = cc_keys_generate ();
    fixture.banking = cc_keys_generate ();
    fixture.stranger = cc_keys_generate ();
    const int64_t not_before = TEST_NOW - 30 * 86400;
    const int64_t not_after = TEST_NOW + 365 * 86400;
    fixture.national_delegation = cc_delegation_issue (fixture.root,
        cc_keys_sign_public (fixture.national), "national", true, NULL,
        not_before, not_after, 1, &fixture.national_delegation_size);
    const char *banking_only [] = { "banking", NULL };
    fixture.banking_delegation = cc_delegation_issue (fixture.root,
        cc_keys_sign_public (fixture.banking), "banking-cert", false,
        banking_only, not_before, not_after, 2,
        &fixture.banking_delegation_size);
    assert (fixture.national_delegation && fixture.banking_delegation);
    const uint8_t *root_key = cc_keys_sign_public (fixture.root);
    int code;
    const char *reason;

    //  A national advisory to all sectors: accepted at intake and delivery
    size_t size;
    uint8_t *bytes = s_test_signed (fixture.national,
        fixture.national_delegation, fixture.national_delegation_size,
        "PK-NCERT-2026-0042", CERTCAST__KIND__SECURITY_ANNOUNCEMENT, NULL,
        TEST_NOW - 60, TEST_NOW + 86400, &size);
    code = -1;
    reason = "unset";
    cc_advisory_t *advisory = cc_advisory_open (bytes, size, root_key,
        TEST_NOW, CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    assert (code == CC_OK);
    assert (reason == NULL);
    assert (streq (cc_advisory_id (advisory), "PK-NCERT-2026-0042"));
    assert (cc_advisory_revision (advisory) == 1);
    assert (cc_advisory_content (advisory)->kind == CERTCAST__KIND__SECURITY_ANNOUNCEMENT);
    assert (streq (cc_advisory_content (advisory)->title,
                   "Critical RCE in example VPN appliance"));
    assert (cc_advisory_delegation (advisory)->serial == 1);
    assert (memcmp (cc_advisory_issuer_key (advisory),
                    cc_keys_sign_public (fixture.national), 32) == 0);
    assert (cc_advisory_targets (advisory, "banking"));
    assert (cc_advisory_targets (advisory, "telecom"));
    assert (!cc_advisory_expired (advisory, TEST_NOW));
    assert (cc_advisory_expired (advisory, TEST_NOW + 86400));
    size_t copy_size = 0;
    const uint8_t *copy = cc_advisory_bytes (advisory, &copy_size);
    assert (copy_size == size);
    assert (copy != bytes);
    assert (memcmp (copy, bytes, size) == 0);
    uint8_t digest [32];
    cc_sha256 (bytes, size, digest);
    assert (memcmp (cc_advisory_digest (advisory), digest, 32) == 0);
    cc_advisory_destroy (&advisory);
    assert (advisory == NULL);
    cc_advisory_destroy (&advisory);

    //  On delivery a month later it still opens (expiry is the caller's)
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW + 30 * 86400,
                                 CC_AT_DELIVERY, &code, &reason);
    assert (advisory);
    assert (cc_advisory_expired (advisory, TEST_NOW + 30 * 86400));
    cc_advisory_destroy (&advisory);
    //  ...but is refused at intake then
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE,
                    TEST_NOW + 30 * 86400, CC_EEXPIRED);

    //  Wrong root
    code = -1;
    advisory = cc_advisory_open (bytes, size,
        cc_keys_sign_public (fixture.stranger), TEST_NOW, CC_AT_INTAKE,
        &code, &reason);
    assert (advisory == NULL);
    assert (code == CC_EUNTRUSTED);

    //  Every single-bit flip anywhere in the Signed bytes is refused (it
    //  lands in a signature, a signed payload, a key id or the framing).
    for (size_t index = 0; index < size; index++) {
        for (int bit = 0; bit < 8; bit += 3) {
            bytes [index] ^= (uint8_t) (1 << bit);
            advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                         CC_AT_INTAKE, &code, &reason);
            assert (advisory == NULL);
            assert (code != CC_OK);
            bytes [index] ^= (uint8_t) (1 << bit);
        }
    }
    //  Truncated at every length, and a trailing extra byte
    for (size_t cut = 0; cut < size; cut++) {
        advisory = cc_advisory_open (bytes, cut, root_key, TEST_NOW,
                                     CC_AT_INTAKE, &code, &reason);
        assert (advisory == NULL);
    }
    uint8_t *longer = (uint8_t *) malloc (size + 1);
    memcpy (longer, bytes, size);
    longer [size] = 0xFF;
    s_test_refused (&fixture, longer, size + 1, CC_AT_INTAKE, TEST_NOW,
                    CC_EMALFORMED);
    free (longer);
    //  Oversized and garbage
    s_test_refused (&fixture, bytes, CC_WIRE_MAX_SIGNED + 1, CC_AT_INTAKE,
                    TEST_NOW, CC_EMALFORMED);
    const uint8_t garbage [] = { 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01 };
    s_test_refused (&fixture, garbage, sizeof (garbage), CC_AT_INTAKE,
                    TEST_NOW, CC_EMALFORMED);
    s_test_refused (&fixture, NULL, 0, CC_AT_INTAKE, TEST_NOW, CC_EMALFORMED);
    //  The untouched bytes still open: the refusals were for the damage
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                 CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    cc_advisory_destroy (&advisory);

    //  Forged: signature by a key the delegation does not name
    size_t advisory_size;
    uint8_t *advisory_bytes = s_test_advisory ("PK-NCERT-2026-0043", 1,
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, NULL, TEST_NOW, 0,
        &advisory_size);
    Certcast__SignedDelegation *national_sd = (Certcast__SignedDelegation *)
        cc_wire_unpack (&certcast__signed_delegation__descriptor,
                        fixture.national_delegation,
                        fixture.national_delegation_size, 65536);
    assert (national_sd);
    uint8_t signature [64];
    uint8_t key_id [8];
    assert (cc_keys_sign (fixture.stranger, advisory_bytes, advisory_size,
                          signature) == 0);
    cc_key_id (cc_keys_sign_public (fixture.national), key_id);
    Certcast__Signed forged;
    certcast__signed__init (&forged);
    forged.advisory.data = advisory_bytes;
    forged.advisory.len = advisory_size;
    forged.key_id.data = key_id;
    forged.key_id.len = 8;
    forged.signature.data = signature;
    forged.signature.len = 64;
    forged.delegation = national_sd;
    size_t forged_size;
    uint8_t *forged_bytes = cc_wire_pack (&forged.base, &forged_size);
    s_test_refused (&fixture, forged_bytes, forged_size, CC_AT_INTAKE,
                    TEST_NOW, CC_ESIGNATURE);
    free (forged_bytes);
    //  Same with the stranger's own key id: key id mismatch
    cc_key_id (cc_keys_sign_public (fixture.stranger), key_id);
    forged_bytes = cc_wire_pack (&forged.base, &forged_size);
    s_test_refused (&fixture, forged_bytes, forged_size, CC_AT_INTAKE,
                    TEST_NOW, CC_ESIGNATURE);
    free (forged_bytes);
    //  Short signature
    assert (cc_keys_sign (fixture.national, advisory_bytes, advisory_size,
                          signature) == 0);
    cc_key_id (cc_keys_sign_public (fixture.national), key_id);
    forged.signature.len = 63;
    forged_bytes = cc_wire_pack (&forged.base, &forged_size);
    s_test_refused (&fixture, forged_bytes, forged_size, CC_AT_INTAKE,
                    TEST_NOW, CC_ESIGNATURE);
    free (forged_bytes);
    //  Genuine signature, no delegation: untrusted
    forged.signature.len = 64;
    forged.delegation = NULL;
    forged_bytes = cc_wire_pack (&forged.base, &forged_size);
    s_test_refused (&fixture, forged_bytes, forged_size, CC_AT_INTAKE,
                    TEST_NOW, CC_EUNTRUSTED);
    free (forged_bytes);
    //  Put back together properly it opens: the fixture is sound
    forged.delegation = national_sd;
    forged_bytes = cc_wire_pack (&forged.base, &forged_size);
    advisory = cc_advisory_open (forged_bytes, forged_size, root_key,
                                 TEST_NOW, CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    cc_advisory_destroy (&advisory);
    free (forged_bytes);
    certcast__signed_delegation__free_unpacked (national_sd, NULL);
    free (advisory_bytes);
    free (bytes);

    //  Banking issuer: banking ok, telecom and all-sectors out of scope
    const char *banking [] = { "banking", NULL };
    const char *telecom [] = { "telecom", NULL };
    const char *both [] = { "banking", "telecom", NULL };
    bytes = s_test_signed (fixture.banking, fixture.banking_delegation,
        fixture.banking_delegation_size, "PK-BANK-2026-0001",
        CERTCAST__KIND__TECHNOLOGY_UPDATE, banking, TEST_NOW, 0, &size);
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                 CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    assert (cc_advisory_targets (advisory, "banking"));
    assert (!cc_advisory_targets (advisory, "telecom"));
    assert (!cc_advisory_expired (advisory, TEST_NOW + 1000 * 86400));
    cc_advisory_destroy (&advisory);
    free (bytes);

    bytes = s_test_signed (fixture.banking, fixture.banking_delegation,
        fixture.banking_delegation_size, "PK-BANK-2026-0002",
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, telecom, TEST_NOW, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_ESCOPE);
    s_test_refused (&fixture, bytes, size, CC_AT_DELIVERY, TEST_NOW, CC_ESCOPE);
    free (bytes);
    bytes = s_test_signed (fixture.banking, fixture.banking_delegation,
        fixture.banking_delegation_size, "PK-BANK-2026-0003",
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, both, TEST_NOW, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_ESCOPE);
    free (bytes);
    bytes = s_test_signed (fixture.banking, fixture.banking_delegation,
        fixture.banking_delegation_size, "PK-BANK-2026-0004",
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, NULL, TEST_NOW, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_ESCOPE);
    free (bytes);
    //  An issuer bound to an id prefix names inside it, at intake and on
    //  delivery: it cannot take the National CERT's next id
    size_t prefixed_size;
    uint8_t *prefixed = cc_delegation_issue_prefixed (fixture.root,
        cc_keys_sign_public (fixture.banking), "banking-cert", false,
        banking, TEST_NOW - 86400, TEST_NOW + 86400, 3, "PK-SBP-",
        &prefixed_size);
    assert (prefixed);
    char *prefix = cc_delegation_id_prefix (prefixed, prefixed_size);
    assert (prefix && streq (prefix, "PK-SBP-"));
    free (prefix);
    bytes = s_test_signed (fixture.banking, prefixed, prefixed_size,
        "PK-SBP-2026-0001", CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking,
        TEST_NOW, 0, &size);
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                 CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    cc_advisory_destroy (&advisory);
    free (bytes);
    bytes = s_test_signed (fixture.banking, prefixed, prefixed_size,
        "PK-NCERT-2026-0043", CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking,
        TEST_NOW, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_ESCOPE);
    s_test_refused (&fixture, bytes, size, CC_AT_DELIVERY, TEST_NOW, CC_ESCOPE);
    free (bytes);
    free (prefixed);
    //  ...and one without a prefix names any id (delegations before it)
    prefix = cc_delegation_id_prefix (fixture.banking_delegation,
                                      fixture.banking_delegation_size);
    assert (prefix && streq (prefix, ""));
    free (prefix);
    assert (cc_delegation_id_prefix ((const uint8_t *) "junk", 4) == NULL);

    //  Kind not covered: TRUST_UPDATE needs an explicit grant
    bytes = s_test_signed (fixture.national, fixture.national_delegation,
        fixture.national_delegation_size, "PK-NCERT-2026-0044",
        CERTCAST__KIND__TRUST_UPDATE, NULL, TEST_NOW, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_ESCOPE);
    free (bytes);
    //  An issuer presenting another issuer's delegation: key id mismatch
    bytes = s_test_signed (fixture.banking, fixture.national_delegation,
        fixture.national_delegation_size, "PK-BANK-2026-0005",
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, telecom, TEST_NOW, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_ESIGNATURE);
    free (bytes);

    //  A TLP label or severity we do not know (unset, or past the last):
    //  refused at intake; on delivery it passes, as stored before.
    const int labels [][2] = {
        { CERTCAST__TLP__TLP_UNSPECIFIED, CERTCAST__SEVERITY__HIGH },
        { CERTCAST__TLP__RED + 1, CERTCAST__SEVERITY__HIGH },
        { -1, CERTCAST__SEVERITY__HIGH },
        { CERTCAST__TLP__GREEN, CERTCAST__SEVERITY__SEVERITY_UNSPECIFIED },
        { CERTCAST__TLP__GREEN, CERTCAST__SEVERITY__CRITICAL + 1 }
    };
    for (size_t index = 0; index < 5; index++) {
        bytes = s_test_labelled (&fixture, "PK-NCERT-2026-0050",
                                 labels [index][0], labels [index][1], &size);
        s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW,
                        CC_EMALFORMED);
        advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                     CC_AT_DELIVERY, &code, &reason);
        assert (advisory);
        cc_advisory_destroy (&advisory);
        free (bytes);
    }
    bytes = s_test_labelled (&fixture, "PK-NCERT-2026-0051",
        CERTCAST__TLP__RED, CERTCAST__SEVERITY__INFO, &size);
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                 CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    cc_advisory_destroy (&advisory);
    free (bytes);

    //  Time at intake: expired advisory, issued in the future (beyond the
    //  skew, and within it), delegation not yet valid / expired
    bytes = s_test_signed (fixture.national, fixture.national_delegation,
        fixture.national_delegation_size, "PK-NCERT-2026-0045",
        CERTCAST__KIND__AUDIT_NOTICE, banking, TEST_NOW - 7200,
        TEST_NOW - 3600, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_EEXPIRED);
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                 CC_AT_DELIVERY, &code, &reason);
    assert (advisory);
    assert (cc_advisory_expired (advisory, TEST_NOW));
    cc_advisory_destroy (&advisory);
    free (bytes);
    bytes = s_test_signed (fixture.national, fixture.national_delegation,
        fixture.national_delegation_size, "PK-NCERT-2026-0046",
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking,
        TEST_NOW + CC_ADVISORY_SKEW + 1, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_EEXPIRED);
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW + 10,
                                 CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    cc_advisory_destroy (&advisory);
    free (bytes);
    bytes = s_test_signed (fixture.national, fixture.national_delegation,
        fixture.national_delegation_size, "PK-NCERT-2026-0047",
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking, TEST_NOW, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, not_after + 1,
                    CC_EEXPIRED);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, not_before - 1,
                    CC_EEXPIRED);
    //  On delivery the delegation only needs to cover issued_at
    advisory = cc_advisory_open (bytes, size, root_key, not_after + 86400,
                                 CC_AT_DELIVERY, &code, &reason);
    assert (advisory);
    cc_advisory_destroy (&advisory);
    free (bytes);
    bytes = s_test_signed (fixture.national, fixture.national_delegation,
        fixture.national_delegation_size, "PK-NCERT-2027-0001",
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking, not_after + 10, 0,
        &size);
    s_test_refused (&fixture, bytes, size, CC_AT_DELIVERY, not_after + 20,
                    CC_EEXPIRED);
    free (bytes);
    //  Issued before its delegation (a slow publisher clock, or 0): refused
    //  at intake as on delivery, or a broker would store what every relay
    //  refuses, and their streams would stop there.
    int64_t before_window [] = { not_before - 1, 0, INT64_MIN };
    for (size_t index = 0; index < 3; index++) {
        bytes = s_test_signed (fixture.national, fixture.national_delegation,
            fixture.national_delegation_size, "PK-NCERT-2026-0049",
            CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking,
            before_window [index], 0, &size);
        s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW,
                        CC_EEXPIRED);
        s_test_refused (&fixture, bytes, size, CC_AT_DELIVERY, TEST_NOW,
                        CC_EEXPIRED);
        free (bytes);
    }

    //  An expired delegation refuses at intake even a fresh advisory
    uint8_t *old_delegation;
    size_t old_delegation_size;
    old_delegation = cc_delegation_issue (fixture.root,
        cc_keys_sign_public (fixture.national), "national", true, NULL,
        TEST_NOW - 400 * 86400, TEST_NOW - 35 * 86400, 3,
        &old_delegation_size);
    bytes = s_test_signed (fixture.national, old_delegation,
        old_delegation_size, "PK-NCERT-2026-0048",
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, NULL, TEST_NOW, 0, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_EEXPIRED);
    free (bytes);
    free (old_delegation);

    //  Shape: bad id, revision 0, kind unset, no sectors, bad sector name,
    //  empty title, NUL inside the id
    const char *bad_sector [] = { "Banking", NULL };
    const char *long_sector [] = {
        "a123456789012345678901234567890123456789012345678901234567890123",
        NULL };
    const char *empty_sectors [] = { NULL };
    struct {
        const char *id;
        uint32_t revision;
        Certcast__Kind kind;
        const char **sectors;
    } shapes [] = {
        { "", 1, CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking },
        { "PK NCERT", 1, CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking },
        { "PK-\nNCERT", 1, CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking },
        { "PK-NCERT-1", 0, CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking },
        { "PK-NCERT-1", 1, CERTCAST__KIND__KIND_UNSPECIFIED, banking },
        { "PK-NCERT-1", 1, CERTCAST__KIND__SECURITY_ANNOUNCEMENT, empty_sectors },
        { "PK-NCERT-1", 1, CERTCAST__KIND__SECURITY_ANNOUNCEMENT, bad_sector },
        { "PK-NCERT-1", 1, CERTCAST__KIND__SECURITY_ANNOUNCEMENT, long_sector },
    };
    for (size_t index = 0; index < sizeof (shapes) / sizeof (shapes [0]); index++) {
        advisory_bytes = s_test_advisory (shapes [index].id,
            shapes [index].revision, shapes [index].kind,
            shapes [index].sectors, TEST_NOW, 0, &advisory_size);
        bytes = cc_advisory_sign (fixture.national, advisory_bytes,
            advisory_size, fixture.national_delegation,
            fixture.national_delegation_size, &size);
        s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW,
                        CC_EMALFORMED);
        free (bytes);
        free (advisory_bytes);
    }
    char long_id [CC_ADVISORY_ID_MAX + 2];
    memset (long_id, 'X', sizeof (long_id) - 1);
    long_id [sizeof (long_id) - 1] = 0;
    advisory_bytes = s_test_advisory (long_id, 1,
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking, TEST_NOW, 0,
        &advisory_size);
    bytes = cc_advisory_sign (fixture.national, advisory_bytes, advisory_size,
        fixture.national_delegation, fixture.national_delegation_size, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_EMALFORMED);
    free (bytes);
    free (advisory_bytes);
    long_id [CC_ADVISORY_ID_MAX] = 0;           //  exactly at the limit
    advisory_bytes = s_test_advisory (long_id, 1,
        CERTCAST__KIND__SECURITY_ANNOUNCEMENT, banking, TEST_NOW, 0,
        &advisory_size);
    bytes = cc_advisory_sign (fixture.national, advisory_bytes, advisory_size,
        fixture.national_delegation, fixture.national_delegation_size, &size);
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                 CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    assert (strlen (cc_advisory_id (advisory)) == CC_ADVISORY_ID_MAX);
    cc_advisory_destroy (&advisory);
    free (bytes);
    free (advisory_bytes);

    //  Empty title, and all_sectors together with a sector list
    Certcast__Advisory odd;
    certcast__advisory__init (&odd);
    odd.id = (char *) "PK-NCERT-2026-0050";
    odd.revision = 1;
    odd.kind = CERTCAST__KIND__SECURITY_ANNOUNCEMENT;
    odd.severity = CERTCAST__SEVERITY__LOW;
    odd.tlp = CERTCAST__TLP__CLEAR;
    odd.all_sectors = true;
    odd.issued_at = TEST_NOW;
    advisory_bytes = cc_wire_pack (&odd.base, &advisory_size);
    bytes = cc_advisory_sign (fixture.national, advisory_bytes, advisory_size,
        fixture.national_delegation, fixture.national_delegation_size, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_EMALFORMED);
    free (bytes);
    free (advisory_bytes);
    odd.title = (char *) "Title";
    odd.n_sectors = 1;
    odd.sectors = (char **) banking;
    advisory_bytes = cc_wire_pack (&odd.base, &advisory_size);
    bytes = cc_advisory_sign (fixture.national, advisory_bytes, advisory_size,
        fixture.national_delegation, fixture.national_delegation_size, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_EMALFORMED);
    free (bytes);
    free (advisory_bytes);

    //  A NUL hidden inside the id (hand-encoded field 1 = "A\0B")
    odd.n_sectors = 0;
    odd.sectors = NULL;
    odd.id = (char *) "";
    size_t rest_size;
    uint8_t *rest = cc_wire_pack (&odd.base, &rest_size);
    advisory_bytes = (uint8_t *) malloc (rest_size + 5);
    const uint8_t nul_id [] = { 0x0A, 0x03, 'A', 0x00, 'B' };
    memcpy (advisory_bytes, nul_id, sizeof (nul_id));
    memcpy (advisory_bytes + sizeof (nul_id), rest, rest_size);
    bytes = cc_advisory_sign (fixture.national, advisory_bytes,
        rest_size + sizeof (nul_id), fixture.national_delegation,
        fixture.national_delegation_size, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_EMALFORMED);
    free (bytes);
    //  The same without the NUL opens
    advisory_bytes [3] = 'x';
    bytes = cc_advisory_sign (fixture.national, advisory_bytes,
        rest_size + sizeof (nul_id), fixture.national_delegation,
        fixture.national_delegation_size, &size);
    advisory = cc_advisory_open (bytes, size, root_key, TEST_NOW,
                                 CC_AT_INTAKE, &code, &reason);
    assert (advisory);
    assert (streq (cc_advisory_id (advisory), "AxB"));
    cc_advisory_destroy (&advisory);
    free (bytes);
    free (advisory_bytes);
    free (rest);

    //  Signed garbage in place of the advisory: decodes only after the
    //  signature, and is then refused as malformed
    bytes = cc_advisory_sign (fixture.national, garbage, sizeof (garbage),
        fixture.national_delegation, fixture.national_delegation_size, &size);
    s_test_refused (&fixture, bytes, size, CC_AT_INTAKE, TEST_NOW, CC_EMALFORMED);
    free (bytes);

    //  Signing needs a secret and a decodable delegation
    assert (cc_advisory_sign (fixture.national, garbage, sizeof (garbage),
        garbage, sizeof (garbage), &size) == NULL);
    assert (cc_advisory_sign (fixture.national, garbage, sizeof (garbage),
        NULL, 0, &size) == NULL);
    const char *save_reason = NULL;
    assert (cc_keys_save (fixture.national, dir, "national", &save_reason) == 0);
    char *pub_path = zsys_sprintf ("%s/national.pub", dir);
    char *key_path = zsys_sprintf ("%s/national.key", dir);
    cc_keys_t *public_only = cc_keys_load (pub_path, &save_reason);
    assert (public_only);
    assert (cc_advisory_sign (public_only, garbage, sizeof (garbage),
        fixture.national_delegation, fixture.national_delegation_size,
        &size) == NULL);
    cc_keys_destroy (&public_only);
    unlink (pub_path);
    unlink (key_path);
    zstr_free (&pub_path);
    zstr_free (&key_path);

    free (fixture.national_delegation);
    free (fixture.banking_delegation);
    cc_keys_destroy (&fixture.stranger);
    cc_keys_destroy (&fixture.banking);
    cc_keys_destroy (&fixture.national);
    cc_keys_destroy (&fixture.root);
    assert (rmdir (dir) == 0);

    printf ("OK\n");
}
