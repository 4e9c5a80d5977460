/* Random tokens from libsodium's CSPRNG, and their storage hashes. */
#include <string.h>
#include <sodium.h>
#include "token.h"

int token_new_id(char *out, size_t out_len, size_t nbytes)
{
	unsigned char raw[64];

	if (nbytes > sizeof raw ||
	    out_len < sodium_base64_ENCODED_LEN(nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return -1;
	randombytes_buf(raw, nbytes);
	sodium_bin2base64(out, out_len, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	return 0;
}

int token_new(char out[TOKEN_STR_LEN])
{
	return token_new_id(out, TOKEN_STR_LEN, TOKEN_BYTES);
}

void token_hash_hex(const char *token, char out[65])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
	sodium_bin2hex(out, 65, h, sizeof h);
	sodium_memzero(h, sizeof h);
}

bool token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return false;
	return sodium_memcmp(a, b, la) == 0;
}
