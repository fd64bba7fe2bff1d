/*  cc_delegation.c - root-signed statements of what an issuer may publish.

    The root signs the encoded Delegation bytes, and a verifier checks that
    signature over the bytes exactly as they arrived before it decodes
    them: nothing in a delegation is read until the root vouches for it.
    Issue returns malloc'd bytes the caller frees; verify returns an
    unpacked Delegation the caller frees with
    certcast__delegation__free_unpacked.
*/
#include "cc_proto.h"

//  A delegation is a key, a name and a few sectors: far below this.
#define CC_DELEGATION_MAX  (64 * 1024)


uint8_t *
cc_delegation_issue (cc_keys_t *root, const uint8_t issuer_key [32],
                     const char *issuer_name, bool all_sectors,
                     const char **sectors, int64_t not_before,
                     int64_t not_after, uint64_t serial, size_t *size)
{
    return cc_delegation_issue_prefixed (root, issuer_key, issuer_name,
                                         all_sectors, sectors, not_before,
                                         not_after, serial, NULL, size);
}


uint8_t *
cc_delegation_issue_prefixed (cc_keys_t *root, const uint8_t issuer_key [32],
                              const char *issuer_name, bool all_sectors,
                              const char **sectors, int64_t not_before,
                              int64_t not_after, uint64_t serial,
                              const char *id_prefix, size_t *size)
{
    assert (root);
    assert (issuer_key);
    assert (size);
    if (!cc_keys_has_secret (root))
        return NULL;

    Certcast__Delegation delegation;
    certcast__delegation__init (&delegation);
    delegation.issuer_key.data = (uint8_t *) issuer_key;
    delegation.issuer_key.len = 32;
    delegation.issuer_name = (char *) (issuer_name ? issuer_name : "");
    delegation.all_sectors = all_sectors;
    if (!all_sectors && sectors) {
        size_t count = 0;
        while (sectors [count])
            count++;
        delegation.n_sectors = count;
        delegation.sectors = (char **) sectors;
    }
    //  kinds stays empty: every kind but TRUST_UPDATE.
    delegation.not_before = not_before;
    delegation.not_after = not_after;
    delegation.serial = serial;
    if (id_prefix)
        delegation.id_prefix = (char *) id_prefix;

    size_t delegation_size;
    uint8_t *delegation_bytes = cc_wire_pack (&delegation.base, &delegation_size);
    uint8_t signature [64];
    uint8_t root_key_id [8];
    int rc = cc_keys_sign (root, delegation_bytes, delegation_size, signature);
    assert (rc == 0);
    cc_key_id (cc_keys_sign_public (root), root_key_id);

    Certcast__SignedDelegation signed_delegation;
    certcast__signed_delegation__init (&signed_delegation);
    signed_delegation.delegation.data = delegation_bytes;
    signed_delegation.delegation.len = delegation_size;
    signed_delegation.root_key_id.data = root_key_id;
    signed_delegation.root_key_id.len = sizeof (root_key_id);
    signed_delegation.signature.data = signature;
    signed_delegation.signature.len = sizeof (signature);
    uint8_t *bytes = cc_wire_pack (&signed_delegation.base, size);
    free (delegation_bytes);
    return bytes;
}


//  Every advisory carries its issuer's delegation, so a catching-up agent
//  would verify the same root signature thousands of times. We remember
//  the SHA-256 of (root key, delegation length, delegation bytes, 64-byte
//  signature) of the last few that verified, per thread: a hit means these
//  exact bytes were already verified against this exact root, so nothing
//  is trusted that was not. The length and the fixed signature size are
//  what make that so: hashed as a bare concatenation, a delegation that
//  took the first bytes of its signature onto its end (and so, decoded,
//  new fields: all_sectors from a 0x18 byte) hashed the same as the one
//  the root signed, and was taken from the cache without a check.
#define VERIFIED_CACHE  8

static bool
s_root_signed (const Certcast__SignedDelegation *signed_delegation,
               const uint8_t root_key [32])
{
    static __thread uint8_t verified [VERIFIED_CACHE][32];
    static __thread size_t next;
    if (signed_delegation->signature.len != 64
    ||  !signed_delegation->signature.data)
        return false;
    uint8_t length [8];
    for (size_t index = 0; index < sizeof length; index++)
        length [index] = (uint8_t) ((uint64_t) signed_delegation->delegation.len
                                    >> (56 - 8 * index));
    EVP_MD_CTX *context = EVP_MD_CTX_new ();
    uint8_t digest [32];
    unsigned int size = 0;
    bool hashed = context
        && EVP_DigestInit_ex (context, EVP_sha256 (), NULL) == 1
        && EVP_DigestUpdate (context, root_key, 32) == 1
        && EVP_DigestUpdate (context, length, sizeof length) == 1
        && EVP_DigestUpdate (context, signed_delegation->delegation.data,
                             signed_delegation->delegation.len) == 1
        && EVP_DigestUpdate (context, signed_delegation->signature.data,
                             signed_delegation->signature.len) == 1
        && EVP_DigestFinal_ex (context, digest, &size) == 1 && size == 32;
    EVP_MD_CTX_free (context);
    if (hashed)
        for (size_t index = 0; index < VERIFIED_CACHE; index++)
            if (CRYPTO_memcmp (verified [index], digest, 32) == 0)
                return true;
    if (!cc_ed25519_verify (root_key, signed_delegation->delegation.data,
                            signed_delegation->delegation.len,
                            signed_delegation->signature.data,
                            signed_delegation->signature.len))
        return false;
    if (hashed) {
        memcpy (verified [next], digest, 32);
        next = (next + 1) % VERIFIED_CACHE;
    }
    return true;
}

Certcast__Delegation *
cc_delegation_verify (const Certcast__SignedDelegation *signed_delegation,
                      const uint8_t root_key [32], int *code,
                      const char **reason)
{
    assert (signed_delegation);
    assert (root_key);
    int dummy_code;
    const char *dummy_reason;
    if (!code)
        code = &dummy_code;
    if (!reason)
        reason = &dummy_reason;

    //  Root first: a delegation we cannot attribute to the pinned root is
    //  just bytes from a stranger, so we do not even decode it.
    uint8_t root_key_id [8];
    cc_key_id (root_key, root_key_id);
    if (signed_delegation->root_key_id.len != sizeof (root_key_id)
    ||  CRYPTO_memcmp (signed_delegation->root_key_id.data, root_key_id,
                       sizeof (root_key_id)) != 0
    ||  !s_root_signed (signed_delegation, root_key)) {
        *code = CC_EUNTRUSTED;
        *reason = "delegation not signed by the pinned root";
        return NULL;
    }
    Certcast__Delegation *delegation = (Certcast__Delegation *) cc_wire_unpack (
        &certcast__delegation__descriptor, signed_delegation->delegation.data,
        signed_delegation->delegation.len, CC_DELEGATION_MAX);
    if (!delegation) {
        *code = CC_EMALFORMED;
        *reason = "delegation does not decode";
        return NULL;
    }
    if (delegation->issuer_key.len != 32) {
        *code = CC_EMALFORMED;
        *reason = "delegation issuer key is not 32 bytes";
        certcast__delegation__free_unpacked (delegation, NULL);
        return NULL;
    }
    if (delegation->not_before > delegation->not_after) {
        *code = CC_EMALFORMED;
        *reason = "delegation window ends before it starts";
        certcast__delegation__free_unpacked (delegation, NULL);
        return NULL;
    }
    *code = CC_OK;
    *reason = NULL;
    return delegation;
}


bool
cc_delegation_covers_sector (const Certcast__Delegation *delegation,
                             const char *sector)
{
    assert (delegation);
    if (!sector)
        return false;
    if (delegation->all_sectors)
        return true;
    for (size_t index = 0; index < delegation->n_sectors; index++)
        if (streq (delegation->sectors [index], sector))
            return true;
    return false;
}


bool
cc_delegation_covers_kind (const Certcast__Delegation *delegation,
                           Certcast__Kind kind)
{
    assert (delegation);
    if (kind == CERTCAST__KIND__KIND_UNSPECIFIED)
        return false;
    //  An empty list means the ordinary kinds; a trust update (revocation,
    //  rotation) must be named explicitly, and an unknown future kind is
    //  not granted by default.
    if (delegation->n_kinds == 0)
        return kind == CERTCAST__KIND__SECURITY_ANNOUNCEMENT
            || kind == CERTCAST__KIND__TECHNOLOGY_UPDATE
            || kind == CERTCAST__KIND__AUDIT_NOTICE;
    for (size_t index = 0; index < delegation->n_kinds; index++)
        if (delegation->kinds [index] == kind)
            return true;
    return false;
}


bool
cc_delegation_covers_id (const Certcast__Delegation *delegation,
                         const char *id)
{
    assert (delegation);
    assert (id);
    const char *prefix = delegation->id_prefix? delegation->id_prefix: "";
    return strncmp (id, prefix, strlen (prefix)) == 0;
}


char *
cc_delegation_id_prefix (const uint8_t *signed_bytes, size_t size)
{
    Certcast__SignedDelegation *envelope = (Certcast__SignedDelegation *)
        cc_wire_unpack (&certcast__signed_delegation__descriptor,
                        signed_bytes, size, CC_DELEGATION_MAX);
    Certcast__Delegation *delegation = envelope?
        (Certcast__Delegation *) cc_wire_unpack (
            &certcast__delegation__descriptor, envelope->delegation.data,
            envelope->delegation.len, CC_DELEGATION_MAX): NULL;
    char *prefix = delegation? strdup (delegation->id_prefix?
                                       delegation->id_prefix: ""): NULL;
    if (delegation)
        certcast__delegation__free_unpacked (delegation, NULL);
    if (envelope)
        certcast__signed_delegation__free_unpacked (envelope, NULL);
    return prefix;
}


uint8_t *
cc_delegation_load (const char *path, size_t *size)
{
    assert (path);
    assert (size);
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    //  Read one byte past the bound instead of trusting stat, so a file
    //  that grows (or a pipe) cannot slip past it.
    uint8_t *data = (uint8_t *) malloc (CC_DELEGATION_MAX + 1);
    assert (data);
    size_t read_size = fread (data, 1, CC_DELEGATION_MAX + 1, file);
    bool failed = ferror (file) || read_size == 0
               || read_size > CC_DELEGATION_MAX;
    fclose (file);
    if (failed) {
        free (data);
        return NULL;
    }
    *size = read_size;
    return data;
}


//  --------------------------------------------------------------------------
//  Self test

static Certcast__SignedDelegation *
s_test_unpack (const uint8_t *bytes, size_t size)
{
    return (Certcast__SignedDelegation *) cc_wire_unpack (
        &certcast__signed_delegation__descriptor, bytes, size, CC_DELEGATION_MAX);
}


void
cc_delegation_test (bool verbose)
{
    printf (" * cc_delegation: ");
    if (verbose)
        printf ("\n");

    char dir [] = "/tmp/cc_delegation_test.XXXXXX";
    assert (mkdtemp (dir));

    cc_keys_t *root = cc_keys_generate ();
    cc_keys_t *issuer = cc_keys_generate ();
    cc_keys_t *stranger = cc_keys_generate ();
    const int64_t not_before = 1767225600;          //  2026-01-01
    const int64_t not_after = not_before + 365 * 86400;

    //  Sector-limited delegation round trip
    const char *sectors [] = { "banking", "finance", NULL };
    size_t size = 0;
    uint8_t *bytes = cc_delegation_issue (root, cc_keys_sign_public (issuer),
        "banking-cert", false, sectors, not_before, not_after, 7, &size);
    assert (bytes);
    assert (size > 0);
    Certcast__SignedDelegation *signed_delegation = s_test_unpack (bytes, size);
    assert (signed_delegation);
    int code = -1;
    const char *reason = NULL;
    Certcast__Delegation *delegation = cc_delegation_verify (
        signed_delegation, cc_keys_sign_public (root), &code, &reason);
    assert (delegation);
    assert (code == CC_OK);
    assert (delegation->issuer_key.len == 32);
    assert (memcmp (delegation->issuer_key.data,
                    cc_keys_sign_public (issuer), 32) == 0);
    assert (streq (delegation->issuer_name, "banking-cert"));
    assert (!delegation->all_sectors);
    assert (delegation->n_sectors == 2);
    assert (delegation->not_before == not_before);
    assert (delegation->not_after == not_after);
    assert (delegation->serial == 7);
    assert (cc_delegation_covers_sector (delegation, "banking"));
    assert (cc_delegation_covers_sector (delegation, "finance"));
    assert (!cc_delegation_covers_sector (delegation, "telecom"));
    assert (!cc_delegation_covers_sector (delegation, "Banking"));
    assert (!cc_delegation_covers_sector (delegation, "bank"));
    assert (!cc_delegation_covers_sector (delegation, NULL));
    assert (cc_delegation_covers_kind (delegation, CERTCAST__KIND__SECURITY_ANNOUNCEMENT));
    assert (cc_delegation_covers_kind (delegation, CERTCAST__KIND__TECHNOLOGY_UPDATE));
    assert (cc_delegation_covers_kind (delegation, CERTCAST__KIND__AUDIT_NOTICE));
    assert (!cc_delegation_covers_kind (delegation, CERTCAST__KIND__TRUST_UPDATE));
    assert (!cc_delegation_covers_kind (delegation, CERTCAST__KIND__KIND_UNSPECIFIED));
    certcast__delegation__free_unpacked (delegation, NULL);

    //  Wrong root: refused as untrusted
    delegation = cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (stranger), &code, &reason);
    assert (delegation == NULL);
    assert (code == CC_EUNTRUSTED);
    assert (reason);

    //  The same bytes again come from the verified cache; the same
    //  delegation with one signature bit flipped does not.
    delegation = cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason);
    assert (delegation && code == CC_OK);
    certcast__delegation__free_unpacked (delegation, NULL);
    signed_delegation->signature.data [0] ^= 0x80;
    delegation = cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason);
    assert (delegation == NULL && code == CC_EUNTRUSTED);
    signed_delegation->signature.data [0] ^= 0x80;

    //  With the genuine one cached, the same bytes split elsewhere between
    //  delegation and signature (the signature's first bytes moved onto the
    //  delegation's end: new fields once decoded) are checked, and fail.
    for (size_t moved = 1; moved <= 8; moved++) {
        size_t length = signed_delegation->delegation.len;
        uint8_t *joined = (uint8_t *) malloc (length + 64);
        memcpy (joined, signed_delegation->delegation.data, length);
        memcpy (joined + length, signed_delegation->signature.data, 64);
        Certcast__SignedDelegation shifted = *signed_delegation;
        shifted.delegation.data = joined;
        shifted.delegation.len = length + moved;
        shifted.signature.data = joined + length + moved;
        shifted.signature.len = 64 - moved;
        assert (cc_delegation_verify (&shifted, cc_keys_sign_public (root),
                                      &code, &reason) == NULL);
        assert (code == CC_EUNTRUSTED);
        free (joined);
    }

    //  Tampered delegation bytes (issuer widened): signature fails
    signed_delegation->delegation.data [signed_delegation->delegation.len - 1] ^= 1;
    code = -1;
    delegation = cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason);
    assert (delegation == NULL);
    assert (code == CC_EUNTRUSTED);
    signed_delegation->delegation.data [signed_delegation->delegation.len - 1] ^= 1;
    //  Forged signature
    signed_delegation->signature.data [0] ^= 0x80;
    code = -1;
    assert (cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason) == NULL);
    assert (code == CC_EUNTRUSTED);
    signed_delegation->signature.data [0] ^= 0x80;
    //  Truncated signature and wrong-length key id
    signed_delegation->signature.len = 63;
    assert (cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason) == NULL);
    assert (code == CC_EUNTRUSTED);
    signed_delegation->signature.len = 64;
    signed_delegation->root_key_id.len = 7;
    assert (cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason) == NULL);
    assert (code == CC_EUNTRUSTED);
    signed_delegation->root_key_id.len = 8;
    //  Restored: verifies again (the refusals above were for the damage)
    delegation = cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason);
    assert (delegation);
    certcast__delegation__free_unpacked (delegation, NULL);
    certcast__signed_delegation__free_unpacked (signed_delegation, NULL);

    //  A stranger issuing a delegation with its own key is untrusted
    uint8_t *forged = cc_delegation_issue (stranger, cc_keys_sign_public (issuer),
        "banking-cert", true, NULL, not_before, not_after, 1, &size);
    signed_delegation = s_test_unpack (forged, size);
    assert (signed_delegation);
    assert (cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason) == NULL);
    assert (code == CC_EUNTRUSTED);
    certcast__signed_delegation__free_unpacked (signed_delegation, NULL);
    free (forged);

    //  Root-signed but the window is inverted: malformed
    uint8_t *inverted = cc_delegation_issue (root, cc_keys_sign_public (issuer),
        "x", true, NULL, not_after, not_before, 2, &size);
    signed_delegation = s_test_unpack (inverted, size);
    assert (cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason) == NULL);
    assert (code == CC_EMALFORMED);
    certcast__signed_delegation__free_unpacked (signed_delegation, NULL);
    free (inverted);

    //  Root-signed bytes that are not a Delegation: malformed
    const uint8_t garbage [] = { 0x0F, 0xFF, 0x00, 0x13 };
    uint8_t signature [64];
    uint8_t root_key_id [8];
    assert (cc_keys_sign (root, garbage, sizeof (garbage), signature) == 0);
    cc_key_id (cc_keys_sign_public (root), root_key_id);
    Certcast__SignedDelegation crafted;
    certcast__signed_delegation__init (&crafted);
    crafted.delegation.data = (uint8_t *) garbage;
    crafted.delegation.len = sizeof (garbage);
    crafted.root_key_id.data = root_key_id;
    crafted.root_key_id.len = 8;
    crafted.signature.data = signature;
    crafted.signature.len = 64;
    assert (cc_delegation_verify (&crafted, cc_keys_sign_public (root),
                                  &code, &reason) == NULL);
    assert (code == CC_EMALFORMED);

    //  Root-signed Delegation with a short issuer key: malformed
    Certcast__Delegation short_key;
    certcast__delegation__init (&short_key);
    short_key.issuer_key.data = (uint8_t *) cc_keys_sign_public (issuer);
    short_key.issuer_key.len = 31;
    short_key.all_sectors = true;
    size_t short_size;
    uint8_t *short_bytes = cc_wire_pack (&short_key.base, &short_size);
    assert (cc_keys_sign (root, short_bytes, short_size, signature) == 0);
    crafted.delegation.data = short_bytes;
    crafted.delegation.len = short_size;
    assert (cc_delegation_verify (&crafted, cc_keys_sign_public (root),
                                  &code, &reason) == NULL);
    assert (code == CC_EMALFORMED);
    free (short_bytes);

    //  Explicit kinds: only those, TRUST_UPDATE when named
    Certcast__Delegation kinds;
    certcast__delegation__init (&kinds);
    Certcast__Kind kind_list [] = { CERTCAST__KIND__TRUST_UPDATE };
    kinds.n_kinds = 1;
    kinds.kinds = kind_list;
    assert (cc_delegation_covers_kind (&kinds, CERTCAST__KIND__TRUST_UPDATE));
    assert (!cc_delegation_covers_kind (&kinds, CERTCAST__KIND__SECURITY_ANNOUNCEMENT));
    assert (!cc_delegation_covers_sector (&kinds, "banking"));
    kinds.all_sectors = true;
    assert (cc_delegation_covers_sector (&kinds, "telecom"));

    //  No secret: cannot issue
    const char *save_reason = NULL;
    assert (cc_keys_save (root, dir, "root", &save_reason) == 0);
    char *pub_path = zsys_sprintf ("%s/root.pub", dir);
    char *key_path = zsys_sprintf ("%s/root.key", dir);
    cc_keys_t *root_public = cc_keys_load (pub_path, &save_reason);
    assert (root_public);
    assert (cc_delegation_issue (root_public, cc_keys_sign_public (issuer),
        "x", true, NULL, not_before, not_after, 3, &size) == NULL);
    cc_keys_destroy (&root_public);

    //  File load: round trip, missing, empty, oversized
    char *file_path = zsys_sprintf ("%s/issuer.delegation", dir);
    FILE *file = fopen (file_path, "wb");
    assert (file);
    fclose (file);
    size_t loaded_size = 0;
    assert (cc_delegation_load (file_path, &loaded_size) == NULL);     //  empty
    file = fopen (file_path, "wb");
    size_t bytes_size = 0;
    free (bytes);
    bytes = cc_delegation_issue (root, cc_keys_sign_public (issuer),
        "national", true, NULL, not_before, not_after, 9, &bytes_size);
    assert (fwrite (bytes, 1, bytes_size, file) == bytes_size);
    fclose (file);
    uint8_t *loaded = cc_delegation_load (file_path, &loaded_size);
    assert (loaded);
    assert (loaded_size == bytes_size);
    assert (memcmp (loaded, bytes, bytes_size) == 0);
    signed_delegation = s_test_unpack (loaded, loaded_size);
    delegation = cc_delegation_verify (signed_delegation,
        cc_keys_sign_public (root), &code, &reason);
    assert (delegation);
    assert (delegation->all_sectors);
    assert (delegation->n_sectors == 0);
    assert (cc_delegation_covers_sector (delegation, "telecom"));
    certcast__delegation__free_unpacked (delegation, NULL);
    certcast__signed_delegation__free_unpacked (signed_delegation, NULL);
    free (loaded);
    char *missing_path = zsys_sprintf ("%s/missing", dir);
    assert (cc_delegation_load (missing_path, &loaded_size) == NULL);
    file = fopen (file_path, "wb");
    uint8_t *big = (uint8_t *) calloc (1, CC_DELEGATION_MAX + 1);
    assert (fwrite (big, 1, CC_DELEGATION_MAX + 1, file) == CC_DELEGATION_MAX + 1);
    fclose (file);
    assert (cc_delegation_load (file_path, &loaded_size) == NULL);
    free (big);

    unlink (file_path);
    unlink (pub_path);
    unlink (key_path);
    zstr_free (&file_path);
    zstr_free (&missing_path);
    zstr_free (&pub_path);
    zstr_free (&key_path);
    free (bytes);
    cc_keys_destroy (&stranger);
    cc_keys_destroy (&issuer);
    cc_keys_destroy (&root);
    assert (rmdir (dir) == 0);

    printf ("OK\n");
}
