/*  cc_keys.h - a party's identity: an Ed25519 signing key and a CurveZMQ
    certificate, kept together in one zcert file.

    NAME.pub is a czmq certificate (public CURVE key) whose metadata carries
    the Ed25519 public key as hex ("sign-key") and the constituent details
    (name, role, org, sector, class, cii, contact). It is what an operator
    copies into a broker's allow directory. NAME.key is the matching secret
    certificate, mode 0600, with "sign-secret" added. zauth copies the
    metadata into a fixed 512-byte buffer, so cc_keys_save refuses details
    that would not fit (CC_KEYS_META_MAX).

    cc_keys_t owns its zcert and its EVP_PKEY; secrets are cleansed on
    destroy.
*/
#ifndef CC_KEYS_H_INCLUDED
#define CC_KEYS_H_INCLUDED

#define CC_KEYS_META_MAX  400     //  encoded ZAP metadata bytes we allow

typedef struct _cc_keys_t cc_keys_t;

//  New random key pair (both Ed25519 and CURVE). Never NULL.
cc_keys_t *
    cc_keys_generate (void);

//  Load NAME.key (secret) or NAME.pub (public only). NULL with a one-line
//  reason in *reason (static string or NULL) if the file is missing or bad.
cc_keys_t *
    cc_keys_load (const char *path, const char **reason);

//  Write DIR/NAME.key (0600) and DIR/NAME.pub. Refuses (-1) to overwrite
//  existing files, and metadata over CC_KEYS_META_MAX. *reason set on -1.
int
    cc_keys_save (cc_keys_t *self, const char *dir, const char *name,
                  const char **reason);

void
    cc_keys_destroy (cc_keys_t **self_p);

//  Constituent metadata (role, name, org, sector, class, cii, contact).
void
    cc_keys_set_meta (cc_keys_t *self, const char *name, const char *value);
//  NULL when absent. Valid while self lives.
const char *
    cc_keys_meta (cc_keys_t *self, const char *name);

bool
    cc_keys_has_secret (cc_keys_t *self);

//  Why keys loaded from a --trust file may not be pinned as the root: a
//  one-line reason (valid until the next call in this thread), or NULL
//  when they may. Refused: a file holding the secret (the root signs
//  offline), and a key whose role is set and is not root.
const char *
    cc_keys_trust_problem (cc_keys_t *self);
//  32-byte Ed25519 public key.
const uint8_t *
    cc_keys_sign_public (cc_keys_t *self);
//  The CURVE certificate (borrowed; apply it to sockets with zcert_apply).
zcert_t *
    cc_keys_cert (cc_keys_t *self);
//  Z85 CURVE public key (40 chars), as zauth reports it in User-Id.
const char *
    cc_keys_curve_public (cc_keys_t *self);

//  A new socket of `type` that will speak CurveZMQ as this identity to the
//  server whose Z85 public key is server_key, with certcast's frame bound
//  and no linger. The caller connects it and owns it. Never NULL.
zsock_t *
    cc_keys_client (cc_keys_t *self, int type, const char *server_key);

//  A new socket of `type` that will serve CurveZMQ as this identity, with
//  certcast's frame bound and no linger. The caller binds it and owns it.
//  Never NULL.
zsock_t *
    cc_keys_server (cc_keys_t *self, int type);

//  Sign data with the Ed25519 secret; writes 64 bytes. -1 without secret.
int
    cc_keys_sign (cc_keys_t *self, const uint8_t *data, size_t size,
                  uint8_t signature[64]);

//  Verify an Ed25519 signature with a raw 32-byte public key.
bool
    cc_ed25519_verify (const uint8_t public_key[32], const uint8_t *data,
                       size_t size, const uint8_t *signature,
                       size_t signature_size) CC_WUR;

//  SHA-256 of data.
void
    cc_sha256 (const uint8_t *data, size_t size, uint8_t digest[32]);

//  Key id: the first 8 bytes of SHA-256(public key).
void
    cc_key_id (const uint8_t public_key[32], uint8_t key_id[8]);

//  Lower-case hex; out must hold 2*size+1 bytes.
void
    cc_hex_encode (const uint8_t *data, size_t size, char *out);
//  Parse exactly 2*size hex chars; -1 on anything else.
int
    cc_hex_decode (const char *hex, uint8_t *out, size_t size);

void
    cc_keys_test (bool verbose);

#endif
