/* Random tokens (resume tokens, session tokens, ids) and their hashes. */
#ifndef BRUG_UTIL_TOKEN_H
#define BRUG_UTIL_TOKEN_H

#include <stddef.h>
#include <stdbool.h>

/* Bytes of randomness in a token: 256 bits, twice the protocol's minimum. */
#define TOKEN_BYTES 32
/* base64url without padding of TOKEN_BYTES, plus NUL. */
#define TOKEN_STR_LEN 44

/* Fill out (TOKEN_STR_LEN bytes) with a fresh random token in base64url.
 * Returns 0, or -1 if libsodium is not initialised. */
int token_new(char out[TOKEN_STR_LEN]);
/* Fill out with a shorter random id of nbytes of randomness, base64url.
 * out must hold sodium_base64_ENCODED_LEN(nbytes, URLSAFE_NO_PADDING). */
int token_new_id(char *out, size_t out_len, size_t nbytes);
/* Hash a token for storage or lookup (BLAKE2b-256, hex, 65 bytes). A token
 * is never stored in the clear, so a copy of the database opens no session. */
void token_hash_hex(const char *token, char out[65]);
/* Constant-time string comparison of equal-length strings. */
bool token_equal(const char *a, const char *b);

#endif
