/* Secrets at rest: a key in a file of its own beside the database, and
 * crypto_secretbox blobs "v1:" + base64(nonce || box) made with it, so that
 * a copy of the database alone opens no second factor. */
#ifndef BRUG_SEAL_H
#define BRUG_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#define SEAL_KEY_FILE "secret.key" /* the key's name, in the database's directory */
#define SEAL_KEY_BYTES 32          /* crypto_secretbox_KEYBYTES: the file holds exactly these */
#define SEAL_PREFIX "v1:"          /* the version of the blob format */
#define SEAL_PLAIN_MAX 256         /* longest plaintext a blob may hold */
#define SEAL_OVERHEAD 40           /* nonce (24) and MAC (16) bytes added to the plaintext */
/* Characters of the blob of n plaintext bytes (padded base64), without the NUL. */
#define SEAL_BLOB_LEN(n) (sizeof SEAL_PREFIX - 1 + (((n) + SEAL_OVERHEAD + 2) / 3) * 4)

/* A key in locked memory that is read-only once loaded and wiped when freed. */
struct seal_key;

/*
 * The key file of the database at db_path: SEAL_KEY_FILE in the same
 * directory, so that brugd and `brugd staff ...` find the same one. Returns
 * 0 or -ENAMETOOLONG if out (size bytes) is too small. db_path borrowed.
 */
int seal_key_path(const char *db_path, char *out, size_t size);

/*
 * Read the key file at path into *out (the caller frees it with
 * seal_key_free). The file must be a regular file (not a symbolic link),
 * readable by its owner only (no group or other bits) and exactly
 * SEAL_KEY_BYTES long. Returns 0; -ENOENT if it does not exist (not
 * logged: the caller decides); -EPERM for a wider mode, -EINVAL for a wrong
 * size or kind of file, another negative errno if it cannot be read, or
 * -ENOMEM; every one but -ENOENT is logged with what to do about it.
 */
int seal_key_load(const char *path, struct seal_key **out);

/*
 * Make a new random key file at path with mode 0600 and load it into *out
 * (caller frees). The file appears whole or not at all (written to a
 * temporary name, then linked into place); if another process made one in
 * the meantime, that one is loaded instead, so the daemon and the CLI
 * starting together agree on one key. Libsodium must be initialised.
 * Returns 0 or as seal_key_load (-EEXIST never). path borrowed.
 */
int seal_key_create(const char *path, struct seal_key **out);

/* A key from SEAL_KEY_BYTES raw bytes (borrowed), for tests; caller frees.
 * NULL on no memory. */
struct seal_key *seal_key_from_bytes(const unsigned char *bytes);

/* Wipe and free a key. Accepts NULL. Takes ownership. */
void seal_key_free(struct seal_key *k);

/* Does value (borrowed, may be NULL) have the form of a sealed blob? */
bool seal_is_sealed(const char *value);

/*
 * Seal the string plain (at most SEAL_PLAIN_MAX bytes, borrowed) under k
 * with a fresh random nonce into out (out_size bytes, at least
 * SEAL_BLOB_LEN(strlen(plain)) + 1), NUL-terminated. Returns 0, -EINVAL
 * for a too long plain or -ENOSPC for a too small out (out is then empty).
 */
int seal_seal(const struct seal_key *k, const char *plain, char *out, size_t out_size);

/*
 * Open blob (borrowed) under k into out (out_size bytes) as a
 * NUL-terminated string; the caller wipes out after use. Returns 0,
 * -EINVAL if blob is not a v1 blob, -EBADMSG if it does not open (another
 * key, or changed by anybody) or holds a NUL byte, -ENOSPC if out is too
 * small. On failure out is wiped.
 */
int seal_open(const struct seal_key *k, const char *blob, char *out, size_t out_size);

#endif
