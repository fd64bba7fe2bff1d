/*  cc_delegation.h - root-signed statements of what an issuer may publish.

    A delegation file holds one encoded SignedDelegation. The root signs
    the encoded Delegation bytes; verifiers check that signature against
    the pinned root public key and never re-encode.
*/
#ifndef CC_DELEGATION_H_INCLUDED
#define CC_DELEGATION_H_INCLUDED

//  Root signs a delegation for issuer_key. sectors is a NULL-terminated
//  array, ignored when all_sectors. Returns malloc'd encoded
//  SignedDelegation bytes (caller frees) and sets *size; NULL if root has
//  no secret.
uint8_t *
    cc_delegation_issue (cc_keys_t *root, const uint8_t issuer_key[32],
                         const char *issuer_name, bool all_sectors,
                         const char **sectors, int64_t not_before,
                         int64_t not_after, uint64_t serial, size_t *size);

//  The same, binding the issuer's advisory ids to id_prefix (NULL or "":
//  any id): each advisory it signs must have an id that starts with it,
//  so one issuer's ids are never another's to take.
uint8_t *
    cc_delegation_issue_prefixed (cc_keys_t *root,
                                  const uint8_t issuer_key[32],
                                  const char *issuer_name, bool all_sectors,
                                  const char **sectors, int64_t not_before,
                                  int64_t not_after, uint64_t serial,
                                  const char *id_prefix, size_t *size);

//  True if the delegation lets its issuer name an advisory id.
bool
    cc_delegation_covers_id (const Certcast__Delegation *delegation,
                             const char *id);

//  The id prefix of a delegation file's bytes (cc_delegation_load), as a
//  new string ("" for none), or NULL if they do not decode. Unverified:
//  for the issuer's own tools, never for a decision.
char *
    cc_delegation_id_prefix (const uint8_t *signed_bytes, size_t size);

//  Verify a SignedDelegation (already unpacked as part of Signed) against
//  the pinned root. On success returns the unpacked Delegation, which the
//  caller frees with certcast__delegation__free_unpacked. On failure NULL
//  and *code / *reason say why (CC_EMALFORMED, CC_EUNTRUSTED).
Certcast__Delegation *
    cc_delegation_verify (const Certcast__SignedDelegation *signed_delegation,
                          const uint8_t root_key[32], int *code,
                          const char **reason) CC_WUR;

//  True if the delegation covers sector (case-sensitive, exact).
bool
    cc_delegation_covers_sector (const Certcast__Delegation *delegation,
                                 const char *sector);
//  True if the delegation covers kind (empty kinds: all but TRUST_UPDATE).
bool
    cc_delegation_covers_kind (const Certcast__Delegation *delegation,
                               Certcast__Kind kind);

//  Read a delegation file (bounded); malloc'd bytes, caller frees; NULL on
//  a missing, empty or oversized file.
uint8_t *
    cc_delegation_load (const char *path, size_t *size);

void
    cc_delegation_test (bool verbose);

#endif
