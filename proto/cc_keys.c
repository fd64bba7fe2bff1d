/*  cc_keys.c - a party's identity: an Ed25519 signing key and a CurveZMQ
    certificate, kept together in one zcert file.

    cc_keys_t owns its zcert and its EVP_PKEY (the private key when the
    secret is loaded, else the public key). The in-memory zcert never holds
    "sign-secret": it is added only to a throw-away copy while NAME.key is
    written, so nothing that saves or prints the cert can leak it. Secret
    material we handle ourselves (seed, hex) is cleansed before it is freed.

    We parse key files with zconfig rather than zcert_load: zcert_load
    passes each metadata value to zcert_set_meta as a printf format, so a
    '%' in a value would be misread. For the same reason (zauth reads our
    .pub files with zcert_load) cc_keys_save refuses values with '%'.
*/
#include "cc_proto.h"

#include <fcntl.h>
#include <sys/stat.h>

struct _cc_keys_t {
    zcert_t *cert;              //  CURVE keys + constituent metadata
    EVP_PKEY *pkey;             //  Ed25519, private when has_secret
    uint8_t sign_public [32];   //  raw Ed25519 public key
    bool has_secret;            //  both secrets present
};

#define CC_KEYS_FILE_MAX  8192  //  a key file is a few hundred bytes

//  Metadata names we manage ourselves; callers may not set them.
#define CC_META_SIGN_KEY     "sign-key"
#define CC_META_SIGN_SECRET  "sign-secret"


//  Raw public key of an Ed25519 EVP_PKEY; asserts, our keys are Ed25519.
static void
s_raw_public (EVP_PKEY *pkey, uint8_t public_key [32])
{
    size_t length = 32;
    int rc = EVP_PKEY_get_raw_public_key (pkey, public_key, &length);
    assert (rc == 1 && length == 32);
}


//  zcert_destroy frees the CURVE secret without clearing it; the arrays
//  live inside the zcert, so clear them through its accessors first.
static void
s_cert_destroy (zcert_t **cert_p)
{
    if (*cert_p) {
        OPENSSL_cleanse ((byte *) zcert_secret_key (*cert_p), 32);
        OPENSSL_cleanse ((char *) zcert_secret_txt (*cert_p), 40);
        zcert_destroy (cert_p);
    }
}


static cc_keys_t *
s_keys_new (zcert_t **cert_p, EVP_PKEY **pkey_p, bool has_secret)
{
    cc_keys_t *self = (cc_keys_t *) zmalloc (sizeof (cc_keys_t));
    assert (self);
    self->cert = *cert_p;
    *cert_p = NULL;
    self->pkey = *pkey_p;
    *pkey_p = NULL;
    self->has_secret = has_secret;
    s_raw_public (self->pkey, self->sign_public);
    return self;
}


cc_keys_t *
cc_keys_generate (void)
{
    zcert_t *cert = zcert_new ();
    assert (cert);
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");
    assert (pkey);
    cc_keys_t *self = s_keys_new (&cert, &pkey, true);
    char hex [65];
    cc_hex_encode (self->sign_public, 32, hex);
    zcert_set_meta (self->cert, CC_META_SIGN_KEY, "%s", hex);
    return self;
}


void
cc_keys_destroy (cc_keys_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cc_keys_t *self = *self_p;
        //  EVP_PKEY_free clears the private key itself.
        EVP_PKEY_free (self->pkey);
        s_cert_destroy (&self->cert);
        OPENSSL_cleanse (self, sizeof (cc_keys_t));
        free (self);
        *self_p = NULL;
    }
}


//  Read a whole small file as a string; NULL if missing or too large.
//  Sets *mode (if not NULL) to the permissions of the file read.
static char *
s_slurp (const char *path, mode_t *mode)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    struct stat status;
    if (fstat (fileno (file), &status) != 0) {
        fclose (file);
        return NULL;
    }
    if (mode)
        *mode = status.st_mode;
    char *text = (char *) malloc (CC_KEYS_FILE_MAX + 1);
    assert (text);
    size_t size = fread (text, 1, CC_KEYS_FILE_MAX + 1, file);
    bool failed = ferror (file) || size > CC_KEYS_FILE_MAX;
    fclose (file);
    if (failed) {
        OPENSSL_cleanse (text, CC_KEYS_FILE_MAX + 1);
        free (text);
        return NULL;
    }
    text [size] = 0;
    return text;
}


cc_keys_t *
cc_keys_load (const char *path, const char **reason)
{
    assert (path);
    const char *dummy;
    if (!reason)
        reason = &dummy;
    *reason = NULL;

    //  Bounded read, then parse from memory: zconfig_load reads any size.
    mode_t mode = 0;
    char *text = s_slurp (path, &mode);
    if (!text) {
        *reason = "cannot read key file (missing, unreadable or too large)";
        return NULL;
    }
    zconfig_t *root = zconfig_str_load (text);
    OPENSSL_cleanse (text, strlen (text));
    free (text);
    if (!root) {
        *reason = "key file is not a certificate";
        return NULL;
    }
    cc_keys_t *self = NULL;
    zcert_t *cert = NULL;
    EVP_PKEY *pkey = NULL;
    uint8_t seed [32];
    uint8_t curve_public [32];
    uint8_t curve_secret [32] = { 0 };
    uint8_t sign_public [32];
    bool has_secret = false;

    const char *public_txt = zconfig_get (root, "/curve/public-key", NULL);
    const char *secret_txt = zconfig_get (root, "/curve/secret-key", NULL);
    const char *sign_key = zconfig_get (root, "/metadata/" CC_META_SIGN_KEY, NULL);
    const char *sign_secret = zconfig_get (root, "/metadata/" CC_META_SIGN_SECRET, NULL);

    if (!public_txt || strlen (public_txt) != 40
    ||  !zmq_z85_decode (curve_public, public_txt)) {
        *reason = "key file has no valid CURVE public key";
        goto done;
    }
    if (!sign_key || cc_hex_decode (sign_key, sign_public, 32) != 0) {
        *reason = "key file has no valid sign-key (64 hex characters)";
        goto done;
    }
    //  A secret anyone on the host can read is a key anyone on the host
    //  can sign with: an issuer's forges advisories, the root's forges
    //  delegations. keygen writes 0600; refuse a file that has since been
    //  opened up to others (as ssh does) rather than use a key that may
    //  already be copied. Group access is left alone: a service group
    //  (root:certcast 0640) is a sound way to hand a daemon its key.
    if ((sign_secret || secret_txt) && (mode & S_IRWXO)) {
        *reason = "secret key file is accessible to other users "
                  "(chmod 600 it, and replace the key if it may be copied)";
        goto done;
    }
    if (sign_secret) {
        if (cc_hex_decode (sign_secret, seed, 32) != 0) {
            *reason = "sign-secret is not 64 hex characters";
            goto done;
        }
        if (!secret_txt || strlen (secret_txt) != 40
        ||  !zmq_z85_decode (curve_secret, secret_txt)) {
            *reason = "secret key file has no valid CURVE secret key";
            goto done;
        }
        pkey = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, seed, 32);
        if (!pkey) {
            *reason = "sign-secret is not an Ed25519 key";
            goto done;
        }
        //  A secret that does not match its advertised public key would
        //  sign with a key nobody trusts; refuse it at load, not at use.
        uint8_t derived [32];
        s_raw_public (pkey, derived);
        if (CRYPTO_memcmp (derived, sign_public, 32) != 0) {
            *reason = "sign-secret does not match sign-key";
            goto done;
        }
        has_secret = true;
    }
    else {
        pkey = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, sign_public, 32);
        if (!pkey) {
            *reason = "sign-key is not an Ed25519 key";
            goto done;
        }
    }
    cert = zcert_new_from (curve_public, curve_secret);
    assert (cert);
    zconfig_t *item = zconfig_locate (root, "/metadata");
    item = item ? zconfig_child (item) : NULL;
    for (; item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        const char *value = zconfig_value (item);
        if (!name || streq (name, CC_META_SIGN_SECRET))
            continue;
        zcert_set_meta (cert, name, "%s", value ? value : "");
    }
    self = s_keys_new (&cert, &pkey, has_secret);

done:
    //  zconfig keeps the secret texts in plain heap strings.
    if (sign_secret)
        OPENSSL_cleanse ((char *) sign_secret, strlen (sign_secret));
    if (secret_txt)
        OPENSSL_cleanse ((char *) secret_txt, strlen (secret_txt));
    zconfig_destroy (&root);
    OPENSSL_cleanse (seed, sizeof (seed));
    OPENSSL_cleanse (curve_secret, sizeof (curve_secret));
    EVP_PKEY_free (pkey);
    s_cert_destroy (&cert);
    return self;
}


//  Encoded size of the metadata zauth will hand to libzmq for this cert:
//  per property 1 byte name length, name, 4 bytes value length, value.
static size_t
s_meta_size (zcert_t *cert)
{
    size_t size = 0;
    zlist_t *names = zcert_meta_keys (cert);
    assert (names);
    for (const char *name = (const char *) zlist_first (names); name;
         name = (const char *) zlist_next (names)) {
        const char *value = zcert_meta (cert, name);
        size += 1 + strlen (name) + 4 + (value ? strlen (value) : 0);
    }
    zlist_destroy (&names);
    return size;
}


//  True if every metadata value survives zconfig and zcert_load intact:
//  no '%' (zcert_load uses values as formats), no quote, no control chars.
static bool
s_meta_safe (zcert_t *cert)
{
    bool safe = true;
    zlist_t *names = zcert_meta_keys (cert);
    assert (names);
    for (const char *name = (const char *) zlist_first (names); name && safe;
         name = (const char *) zlist_next (names)) {
        const char *value = zcert_meta (cert, name);
        for (const char *cursor = value; cursor && *cursor; cursor++)
            if (*cursor == '%' || *cursor == '"'
            ||  (unsigned char) *cursor < 0x20 || *cursor == 0x7F)
                safe = false;
    }
    zlist_destroy (&names);
    return safe;
}


//  Create path exclusively with mode; false if it exists or cannot be made.
static bool
s_create_exclusive (const char *path, mode_t mode)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return false;
    close (fd);
    return true;
}


int
cc_keys_save (cc_keys_t *self, const char *dir, const char *name,
              const char **reason)
{
    assert (self);
    assert (dir);
    assert (name);
    const char *dummy;
    if (!reason)
        reason = &dummy;
    *reason = NULL;

    if (!self->has_secret) {
        *reason = "no secret key to save";
        return -1;
    }
    size_t meta_size = s_meta_size (self->cert);
    if (meta_size > CC_KEYS_META_MAX) {
        //  Per-thread storage, so *reason stays valid after we return
        //  without the caller having to free it.
        static __thread char message [96];
        snprintf (message, sizeof (message),
                  "constituent details too long (%zu bytes, limit %d)",
                  meta_size, CC_KEYS_META_MAX);
        *reason = message;
        return -1;
    }
    if (!s_meta_safe (self->cert)) {
        *reason = "constituent details may not contain '%', '\"' or control characters";
        return -1;
    }
    char *key_path = zsys_sprintf ("%s/%s.key", dir, name);
    char *pub_path = zsys_sprintf ("%s/%s.pub", dir, name);
    assert (key_path && pub_path);
    int rc = -1;

    //  O_EXCL makes "never overwrite" atomic, and creating NAME.key 0600
    //  before anything is written means the secret is never readable by
    //  others, whatever the umask.
    if (zsys_file_exists (key_path) || zsys_file_exists (pub_path)) {
        *reason = "key files already exist; refusing to overwrite";
        goto done;
    }
    if (!s_create_exclusive (key_path, 0600)) {
        *reason = "cannot create secret key file";
        goto done;
    }
    if (!s_create_exclusive (pub_path, 0644)) {
        unlink (key_path);
        *reason = "cannot create public key file";
        goto done;
    }
    //  Public file first, from the cert that never holds sign-secret.
    if (zcert_save_public (self->cert, pub_path) != 0) {
        *reason = "cannot write public key file";
        goto fail;
    }
    uint8_t seed [32];
    size_t seed_size = sizeof (seed);
    int got = EVP_PKEY_get_raw_private_key (self->pkey, seed, &seed_size);
    assert (got == 1 && seed_size == 32);
    char seed_hex [65];
    cc_hex_encode (seed, 32, seed_hex);
    OPENSSL_cleanse (seed, sizeof (seed));
    zcert_t *secret_cert = zcert_dup (self->cert);
    assert (secret_cert);
    zcert_set_meta (secret_cert, CC_META_SIGN_SECRET, "%s", seed_hex);
    OPENSSL_cleanse (seed_hex, sizeof (seed_hex));
    int saved = zcert_save_secret (secret_cert, key_path);
    OPENSSL_cleanse ((char *) zcert_meta (secret_cert, CC_META_SIGN_SECRET), 64);
    s_cert_destroy (&secret_cert);
    if (saved != 0 || chmod (key_path, 0600) != 0) {
        *reason = "cannot write secret key file";
        goto fail;
    }
    rc = 0;
    goto done;

fail:
    unlink (key_path);
    unlink (pub_path);
done:
    zstr_free (&key_path);
    zstr_free (&pub_path);
    return rc;
}


void
cc_keys_set_meta (cc_keys_t *self, const char *name, const char *value)
{
    assert (self);
    assert (name);
    assert (value);
    //  Our own fields: overwriting them would desynchronise the file from
    //  the keys, which is a programming error.
    assert (!streq (name, CC_META_SIGN_KEY));
    assert (!streq (name, CC_META_SIGN_SECRET));
    zcert_set_meta (self->cert, name, "%s", value);
}


const char *
cc_keys_meta (cc_keys_t *self, const char *name)
{
    assert (self);
    assert (name);
    if (streq (name, CC_META_SIGN_SECRET))
        return NULL;
    return zcert_meta (self->cert, name);
}


bool
cc_keys_has_secret (cc_keys_t *self)
{
    assert (self);
    return self->has_secret;
}


const char *
cc_keys_trust_problem (cc_keys_t *self)
{
    assert (self);
    //  Pinned as the root, another key would make every node refuse every
    //  genuine advisory (logged, never delivered); the root's own secret
    //  on a broker, relay or agent host is the one key that can sign any
    //  issuer into being, where the network can reach it.
    const char *role = cc_keys_meta (self, "role");
    if (role && !streq (role, "root")) {
        static __thread char message [96];
        snprintf (message, sizeof (message),
                  "not the root's key (its role is %.40s): give root.pub", role);
        return message;
    }
    if (self->has_secret)
        return "holds the root's secret: pin root.pub, and keep root.key "
               "offline";
    return NULL;
}


const uint8_t *
cc_keys_sign_public (cc_keys_t *self)
{
    assert (self);
    return self->sign_public;
}


zcert_t *
cc_keys_cert (cc_keys_t *self)
{
    assert (self);
    return self->cert;
}


const char *
cc_keys_curve_public (cc_keys_t *self)
{
    assert (self);
    return zcert_public_txt (self->cert);
}


int
cc_keys_sign (cc_keys_t *self, const uint8_t *data, size_t size,
              uint8_t signature [64])
{
    assert (self);
    assert (data || size == 0);
    assert (signature);
    if (!self->has_secret)
        return -1;
    static const uint8_t empty [1] = { 0 };
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    assert (ctx);
    size_t signature_size = 64;
    int rc = -1;
    if (EVP_DigestSignInit (ctx, NULL, NULL, NULL, self->pkey) == 1
    &&  EVP_DigestSign (ctx, signature, &signature_size,
                        data ? data : empty, size) == 1
    &&  signature_size == 64)
        rc = 0;
    EVP_MD_CTX_free (ctx);
    if (rc != 0)
        memset (signature, 0, 64);
    return rc;
}


bool
cc_ed25519_verify (const uint8_t public_key [32], const uint8_t *data,
                   size_t size, const uint8_t *signature,
                   size_t signature_size)
{
    assert (public_key);
    if (!signature || signature_size != 64)
        return false;
    if (!data && size > 0)
        return false;
    static const uint8_t empty [1] = { 0 };
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL,
                                                  public_key, 32);
    if (!pkey)
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    assert (ctx);
    bool valid = EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, pkey) == 1
              && EVP_DigestVerify (ctx, signature, 64,
                                   data ? data : empty, size) == 1;
    EVP_MD_CTX_free (ctx);
    EVP_PKEY_free (pkey);
    return valid;
}


void
cc_sha256 (const uint8_t *data, size_t size, uint8_t digest [32])
{
    assert (data || size == 0);
    assert (digest);
    static const uint8_t empty [1] = { 0 };
    unsigned int digest_size = 32;
    int rc = EVP_Digest (data ? data : empty, size, digest, &digest_size,
                         EVP_sha256 (), NULL);
    assert (rc == 1 && digest_size == 32);
}


void
cc_key_id (const uint8_t public_key [32], uint8_t key_id [8])
{
    uint8_t digest [32];
    cc_sha256 (public_key, 32, digest);
    memcpy (key_id, digest, 8);
}


void
cc_hex_encode (const uint8_t *data, size_t size, char *out)
{
    static const char digits [] = "0123456789abcdef";
    for (size_t index = 0; index < size; index++) {
        out [2 * index] = digits [data [index] >> 4];
        out [2 * index + 1] = digits [data [index] & 15];
    }
    out [2 * size] = 0;
}


static int
s_hex_digit (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}


int
cc_hex_decode (const char *hex, uint8_t *out, size_t size)
{
    if (!hex || strlen (hex) != 2 * size)
        return -1;
    for (size_t index = 0; index < size; index++) {
        int high = s_hex_digit (hex [2 * index]);
        int low = s_hex_digit (hex [2 * index + 1]);
        if (high < 0 || low < 0) {
            OPENSSL_cleanse (out, size);
            return -1;
        }
        out [index] = (uint8_t) (high << 4 | low);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Self test

//  Write text to path (test helper).
static void
s_test_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert (file);
    fputs (text, file);
    fclose (file);
}


void
cc_keys_test (bool verbose)
{
    printf (" * cc_keys: ");
    if (verbose)
        printf ("\n");

    char dir [] = "/tmp/cc_keys_test.XXXXXX";
    assert (mkdtemp (dir));

    //  Hex
    uint8_t bytes [4] = { 0x00, 0x7F, 0xA5, 0xFF };
    char hex [9];
    cc_hex_encode (bytes, 4, hex);
    assert (streq (hex, "007fa5ff"));
    uint8_t back [4];
    assert (cc_hex_decode ("007FA5ff", back, 4) == 0);
    assert (memcmp (back, bytes, 4) == 0);
    assert (cc_hex_decode ("007fa5f", back, 4) == -1);
    assert (cc_hex_decode ("007fa5fff0", back, 4) == -1);
    assert (cc_hex_decode ("007fa5fg", back, 4) == -1);
    assert (cc_hex_decode (NULL, back, 4) == -1);

    //  SHA-256 known answer ("abc")
    uint8_t digest [32];
    cc_sha256 ((const uint8_t *) "abc", 3, digest);
    char digest_hex [65];
    cc_hex_encode (digest, 32, digest_hex);
    assert (streq (digest_hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));

    //  Generate, sign, verify
    cc_keys_t *keys = cc_keys_generate ();
    assert (keys);
    assert (cc_keys_has_secret (keys));
    assert (strlen (cc_keys_curve_public (keys)) == 40);
    const uint8_t message [] = "PK-NCERT-2026-0042";
    uint8_t signature [64];
    assert (cc_keys_sign (keys, message, sizeof (message), signature) == 0);
    assert (cc_ed25519_verify (cc_keys_sign_public (keys), message,
                               sizeof (message), signature, 64));
    //  Flipped message bit, flipped signature bit, short signature
    uint8_t tampered [sizeof (message)];
    memcpy (tampered, message, sizeof (message));
    tampered [3] ^= 1;
    assert (!cc_ed25519_verify (cc_keys_sign_public (keys), tampered,
                                sizeof (tampered), signature, 64));
    signature [10] ^= 0x40;
    assert (!cc_ed25519_verify (cc_keys_sign_public (keys), message,
                                sizeof (message), signature, 64));
    signature [10] ^= 0x40;
    assert (!cc_ed25519_verify (cc_keys_sign_public (keys), message,
                                sizeof (message), signature, 63));
    assert (!cc_ed25519_verify (cc_keys_sign_public (keys), message,
                                sizeof (message), NULL, 64));
    //  Another key does not verify it
    cc_keys_t *other = cc_keys_generate ();
    assert (memcmp (cc_keys_sign_public (other),
                    cc_keys_sign_public (keys), 32) != 0);
    assert (!cc_ed25519_verify (cc_keys_sign_public (other), message,
                                sizeof (message), signature, 64));

    //  Key id is the first 8 bytes of SHA-256(public key)
    uint8_t key_id [8];
    cc_key_id (cc_keys_sign_public (keys), key_id);
    cc_sha256 (cc_keys_sign_public (keys), 32, digest);
    assert (memcmp (key_id, digest, 8) == 0);

    //  Save / load round trip with constituent details
    cc_keys_set_meta (keys, "role", "agent");
    cc_keys_set_meta (keys, "name", "hbl-core-01");
    cc_keys_set_meta (keys, "org", "Example Bank Ltd");
    cc_keys_set_meta (keys, "sector", "banking");
    cc_keys_set_meta (keys, "cii", "yes");
    assert (streq (cc_keys_meta (keys, "sector"), "banking"));
    assert (cc_keys_meta (keys, "missing") == NULL);
    const char *reason = NULL;
    assert (cc_keys_save (keys, dir, "agent", &reason) == 0);
    assert (reason == NULL);

    char *key_path = zsys_sprintf ("%s/agent.key", dir);
    char *pub_path = zsys_sprintf ("%s/agent.pub", dir);
    struct stat st;
    assert (stat (key_path, &st) == 0);
    assert ((st.st_mode & 0777) == 0600);
    assert (stat (pub_path, &st) == 0);

    //  The .pub carries sign-key and details but never the secret
    char *pub_text = s_slurp (pub_path, NULL);
    assert (pub_text);
    assert (strstr (pub_text, "sign-key"));
    assert (strstr (pub_text, "banking"));
    assert (!strstr (pub_text, "sign-secret"));
    assert (!strstr (pub_text, "secret-key"));
    free (pub_text);
    char *key_text = s_slurp (key_path, NULL);
    assert (key_text);
    assert (strstr (key_text, "sign-secret"));
    free (key_text);

    //  Refuse to overwrite
    reason = NULL;
    assert (cc_keys_save (keys, dir, "agent", &reason) == -1);
    assert (reason);
    assert (stat (key_path, &st) == 0);

    //  A secret file others may read is refused, whatever is in it; the
    //  same file 0640 (a service group) or back at 0600 loads.
    assert (chmod (key_path, 0644) == 0);
    reason = NULL;
    assert (cc_keys_load (key_path, &reason) == NULL);
    assert (reason && strstr (reason, "other users"));
    assert (chmod (key_path, 0602) == 0);
    assert (cc_keys_load (key_path, &reason) == NULL);
    assert (chmod (key_path, 0640) == 0);
    cc_keys_t *loaded = cc_keys_load (key_path, &reason);
    assert (loaded);
    cc_keys_destroy (&loaded);
    assert (chmod (key_path, 0600) == 0);

    loaded = cc_keys_load (key_path, &reason);
    assert (loaded);
    assert (cc_keys_has_secret (loaded));
    assert (memcmp (cc_keys_sign_public (loaded),
                    cc_keys_sign_public (keys), 32) == 0);
    assert (streq (cc_keys_curve_public (loaded), cc_keys_curve_public (keys)));
    assert (memcmp (zcert_secret_key (cc_keys_cert (loaded)),
                    zcert_secret_key (cc_keys_cert (keys)), 32) == 0);
    assert (streq (cc_keys_meta (loaded, "org"), "Example Bank Ltd"));
    assert (streq (cc_keys_meta (loaded, "role"), "agent"));
    assert (cc_keys_meta (loaded, "sign-secret") == NULL);
    //  The in-memory cert never carries the Ed25519 secret, so saving or
    //  printing it elsewhere cannot leak it
    assert (zcert_meta (cc_keys_cert (loaded), "sign-secret") == NULL);
    assert (zcert_meta (cc_keys_cert (keys), "sign-secret") == NULL);
    //  The loaded secret signs, the original public key verifies
    assert (cc_keys_sign (loaded, message, sizeof (message), signature) == 0);
    assert (cc_ed25519_verify (cc_keys_sign_public (keys), message,
                               sizeof (message), signature, 64));
    cc_keys_destroy (&loaded);
    assert (loaded == NULL);
    cc_keys_destroy (&loaded);

    //  Pinned as a root: an agent's key is not one, nor is a root's
    //  secret file (only its .pub goes on an online host).
    loaded = cc_keys_load (pub_path, &reason);
    assert (loaded);
    assert (strstr (cc_keys_trust_problem (loaded), "role is agent"));
    cc_keys_destroy (&loaded);
    cc_keys_t *root = cc_keys_generate ();
    cc_keys_set_meta (root, "role", "root");
    assert (cc_keys_save (root, dir, "root", &reason) == 0);
    char *root_key_path = zsys_sprintf ("%s/root.key", dir);
    char *root_pub_path = zsys_sprintf ("%s/root.pub", dir);
    loaded = cc_keys_load (root_key_path, &reason);
    assert (loaded && strstr (cc_keys_trust_problem (loaded), "offline"));
    cc_keys_destroy (&loaded);
    loaded = cc_keys_load (root_pub_path, &reason);
    assert (loaded && cc_keys_trust_problem (loaded) == NULL);
    cc_keys_destroy (&loaded);
    unlink (root_key_path);
    unlink (root_pub_path);
    zstr_free (&root_key_path);
    zstr_free (&root_pub_path);
    cc_keys_destroy (&root);

    loaded = cc_keys_load (pub_path, &reason);
    assert (loaded);
    assert (!cc_keys_has_secret (loaded));
    assert (memcmp (cc_keys_sign_public (loaded),
                    cc_keys_sign_public (keys), 32) == 0);
    assert (streq (cc_keys_curve_public (loaded), cc_keys_curve_public (keys)));
    assert (streq (cc_keys_meta (loaded, "name"), "hbl-core-01"));
    assert (cc_keys_sign (loaded, message, sizeof (message), signature) == -1);
    //  A public-only identity cannot be saved as a key pair
    assert (cc_keys_save (loaded, dir, "copy", &reason) == -1);
    assert (reason);
    cc_keys_destroy (&loaded);

    //  zcert (and so zauth) reads our .pub with the details intact
    zcert_t *cert = zcert_load (pub_path);
    assert (cert);
    assert (streq (zcert_meta (cert, "org"), "Example Bank Ltd"));
    zcert_destroy (&cert);

    //  Missing file, garbage, and a cert without a valid sign-key
    char *bad_path = zsys_sprintf ("%s/bad.pub", dir);
    reason = NULL;
    assert (cc_keys_load (bad_path, &reason) == NULL);
    assert (reason);
    s_test_write (bad_path, "\x01\x02 garbage \xff\n");
    reason = NULL;
    assert (cc_keys_load (bad_path, &reason) == NULL);
    assert (reason);
    zcert_t *plain = zcert_new ();
    zcert_set_meta (plain, "sign-key", "%s", "abcd");
    unlink (bad_path);
    zcert_save_public (plain, bad_path);
    reason = NULL;
    assert (cc_keys_load (bad_path, &reason) == NULL);
    assert (reason);
    unlink (bad_path);
    zcert_set_meta (plain, "sign-key", "%s",
        "zz00000000000000000000000000000000000000000000000000000000000000");
    zcert_save_public (plain, bad_path);
    assert (cc_keys_load (bad_path, &reason) == NULL);
    zcert_destroy (&plain);
    unlink (bad_path);

    //  A secret file whose sign-secret belongs to another key is refused
    plain = zcert_new ();
    char sign_key_hex [65];
    cc_hex_encode (cc_keys_sign_public (other), 32, sign_key_hex);
    zcert_set_meta (plain, "sign-key", "%s", sign_key_hex);
    zcert_set_meta (plain, "sign-secret", "%s",
        "0101010101010101010101010101010101010101010101010101010101010101");
    zcert_save_secret (plain, bad_path);
    reason = NULL;
    assert (cc_keys_load (bad_path, &reason) == NULL);
    assert (reason && strstr (reason, "does not match"));
    zcert_destroy (&plain);
    unlink (bad_path);

    //  Metadata too long: refused, nothing written
    for (int index = 0; index < 5; index++) {
        char name [32];
        snprintf (name, sizeof (name), "contact%d", index);
        cc_keys_set_meta (other, name,
            "soc-team-distribution-list@example-bank.com.pk, +92-51-0000000");
    }
    reason = NULL;
    assert (cc_keys_save (other, dir, "big", &reason) == -1);
    assert (reason && strstr (reason, "too long"));
    assert (strstr (reason, "limit 400"));
    char *big_path = zsys_sprintf ("%s/big.key", dir);
    assert (!zsys_file_exists (big_path));
    zstr_free (&big_path);
    cc_keys_destroy (&other);

    //  A '%' would be misread by zcert_load: refused
    other = cc_keys_generate ();
    cc_keys_set_meta (other, "org", "100% Bank");
    reason = NULL;
    assert (cc_keys_save (other, dir, "pct", &reason) == -1);
    assert (reason);
    cc_keys_destroy (&other);

    zstr_free (&bad_path);
    unlink (key_path);
    unlink (pub_path);
    zstr_free (&key_path);
    zstr_free (&pub_path);
    cc_keys_destroy (&keys);
    assert (rmdir (dir) == 0);

    printf ("OK\n");
}


zsock_t *
cc_keys_client (cc_keys_t *self, int type, const char *server_key)
{
    assert (self && server_key);
    zsock_t *sock = zsock_new (type);
    assert (sock);
    zcert_apply (self->cert, sock);
    zsock_set_curve_serverkey (sock, server_key);
    zsock_set_maxmsgsize (sock, CC_WIRE_MAX_FRAME);
    zsock_set_linger (sock, 0);
    return sock;
}

zsock_t *
cc_keys_server (cc_keys_t *self, int type)
{
    assert (self);
    zsock_t *sock = zsock_new (type);
    assert (sock);
    zcert_apply (self->cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_maxmsgsize (sock, CC_WIRE_MAX_FRAME);
    zsock_set_linger (sock, 0);
    return sock;
}
