/* RFC 4226 / RFC 6238 one-time codes for the staff second factor. The HMAC
 * comes from OpenSSL's EVP_MAC; randomness from libsodium. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include "common.h"
#include "totp.h"

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static const char *digest_name(enum totp_alg alg)
{
	switch (alg) {
	case TOTP_SHA1:
		return "SHA1";
	case TOTP_SHA256:
		return "SHA256";
	case TOTP_SHA512:
		return "SHA512";
	}
	return NULL;
}

/* HMAC(key, msg) into out (at least EVP_MAX_MD_SIZE); *out_len set. */
static int hmac(enum totp_alg alg, const unsigned char *key, size_t key_len,
		const unsigned char *msg, size_t msg_len, unsigned char *out, size_t *out_len)
{
	const char *md = digest_name(alg);
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	int r = -EIO;

	if (md == NULL)
		return -EINVAL;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return -EIO;
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL) {
		r = -ENOMEM;
		goto free_mac;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, key_len, params) != 1 || EVP_MAC_update(ctx, msg, msg_len) != 1 ||
	    EVP_MAC_final(ctx, out, out_len, EVP_MAX_MD_SIZE) != 1)
		goto free_ctx;
	r = 0;
free_ctx:
	EVP_MAC_CTX_free(ctx);
free_mac:
	EVP_MAC_free(mac);
	return r;
}

int totp_hotp(enum totp_alg alg, const unsigned char *key, size_t key_len, uint64_t counter,
	      unsigned digits, uint32_t *code)
{
	static const uint32_t pow10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
					  100000000, 1000000000 };
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	unsigned off;
	uint32_t bin;
	int r;

	if (key == NULL || code == NULL || digits < 6 || digits > 9)
		return -EINVAL;
	/* RFC 4226 section 5.2: the counter as 8 bytes, big-endian. */
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	r = hmac(alg, key, key_len, msg, sizeof msg, mac, &mac_len);
	if (r != 0)
		return r;
	/* Dynamic truncation (section 5.3): the low nibble of the last byte
	 * picks four bytes, whose top bit is dropped. */
	off = mac[mac_len - 1] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	      ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	*code = bin % pow10[digits];
	OPENSSL_cleanse(mac, sizeof mac);
	return 0;
}

int64_t totp_step(int64_t t)
{
	/* Floor division, so that a time before 1970 does not share step 0;
	 * written without negating t, which overflows near INT64_MIN. */
	return t / TOTP_STEP_S - (t % TOTP_STEP_S < 0);
}

int totp_at(enum totp_alg alg, const unsigned char *key, size_t key_len, int64_t t, unsigned digits,
	    uint32_t *code)
{
	int64_t step = totp_step(t);

	if (step < 0)
		return -EINVAL;
	return totp_hotp(alg, key, key_len, (uint64_t)step, digits, code);
}

size_t totp_base32_encode(const unsigned char *in, size_t len, char *out, size_t out_size)
{
	size_t need = (len * 8 + 4) / 5, n = 0;
	uint32_t buf = 0;
	int bits = 0;

	if (out == NULL || out_size < need + 1 || (in == NULL && len > 0))
		return 0;
	for (size_t i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[n++] = b32_alphabet[(buf >> (bits - 5)) & 0x1f];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[n++] = b32_alphabet[(buf << (5 - bits)) & 0x1f];
	out[n] = '\0';
	return n;
}

int totp_base32_decode(const char *in, unsigned char *out, size_t out_size, size_t *out_len)
{
	uint32_t buf = 0;
	int bits = 0;
	size_t n = 0;
	bool padding = false;

	if (in == NULL || out == NULL || out_len == NULL)
		return -EINVAL;
	for (const char *p = in; *p != '\0'; p++) {
		char c = *p;
		int v;

		if (c == ' ')
			continue;
		if (c == '=') {
			padding = true;
			continue;
		}
		if (padding)
			return -EINVAL;   /* data after padding */
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= '2' && c <= '7')
			v = c - '2' + 26;
		else
			return -EINVAL;
		buf = (buf << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			if (n >= out_size)
				return -EINVAL;
			out[n++] = (unsigned char)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	/* Leftover bits must be fewer than a character's and all zero
	 * (RFC 4648 section 3.5, canonical encoding). */
	if (bits >= 5 || (buf & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	*out_len = n;
	return 0;
}

int totp_new_secret(char out[TOTP_SECRET_B32_LEN + 1])
{
	unsigned char key[TOTP_SECRET_BYTES];
	size_t n;

	randombytes_buf(key, sizeof key);
	n = totp_base32_encode(key, sizeof key, out, TOTP_SECRET_B32_LEN + 1);
	sodium_memzero(key, sizeof key);
	return n == TOTP_SECRET_B32_LEN ? 0 : -EIO;
}

/* Percent-encode s (RFC 3986 unreserved characters pass) onto out at *n;
 * out is big enough (3 bytes per input byte). */
static void pct_append(char *out, size_t *n, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[(*n)++] = (char)c;
		} else {
			out[(*n)++] = '%';
			out[(*n)++] = hex[c >> 4];
			out[(*n)++] = hex[c & 0xf];
		}
	}
}

char *totp_uri(const char *issuer, const char *account, const char *secret_b32)
{
	static const char tail[] = "&algorithm=SHA1&digits=6&period=30";
	size_t size, n = 0;
	char *out;

	if (issuer == NULL || account == NULL || secret_b32 == NULL)
		return NULL;
	/* The label is "issuer:account" (Key Uri Format); the issuer is
	 * repeated as a parameter for apps that read only that. */
	size = 64 + 6 * strlen(issuer) + 3 * strlen(account) + 3 * strlen(secret_b32) + sizeof tail;
	out = malloc(size);
	if (out == NULL)
		return NULL;
	memcpy(out, "otpauth://totp/", 15);
	n = 15;
	pct_append(out, &n, issuer);
	out[n++] = ':';
	pct_append(out, &n, account);
	memcpy(out + n, "?secret=", 8);
	n += 8;
	pct_append(out, &n, secret_b32);
	memcpy(out + n, "&issuer=", 8);
	n += 8;
	pct_append(out, &n, issuer);
	memcpy(out + n, tail, sizeof tail);
	return out;
}

static int parse_code(const char *code, uint32_t *value)
{
	uint32_t v = 0;

	if (code == NULL || strlen(code) != TOTP_DIGITS)
		return -EINVAL;
	for (const char *p = code; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	*value = v;
	return 0;
}

int totp_verify(const char *secret_b32, const char *code, int64_t now_s, int64_t last_step,
		int64_t *step_out)
{
	unsigned char key[TOTP_KEY_MAX];
	size_t key_len = 0;
	int64_t now_step = totp_step(now_s), found = -1;
	uint32_t want, got;
	int r = BRUG_E_UNAUTHORIZED;

	if (secret_b32 == NULL || parse_code(code, &want) != 0)
		return BRUG_E_UNAUTHORIZED;
	if (totp_base32_decode(secret_b32, key, sizeof key, &key_len) != 0 || key_len == 0)
		return BRUG_E_UNAUTHORIZED;
	/* Every step of the window is computed, matched or not, so the time
	 * taken does not tell which one matched. */
	for (int64_t step = now_step - TOTP_WINDOW; step <= now_step + TOTP_WINDOW; step++) {
		if (step < 0 || totp_hotp(TOTP_SHA1, key, key_len, (uint64_t)step, TOTP_DIGITS, &got) != 0)
			continue;
		/* Take the earliest unused step that matches. */
		if (got == want && step > last_step && found < 0)
			found = step;
	}
	sodium_memzero(key, sizeof key);
	if (found >= 0) {
		if (step_out != NULL)
			*step_out = found;
		r = 0;
	}
	return r;
}

int totp_code_now(const char *secret_b32, int64_t now_s, char out[TOTP_DIGITS + 1])
{
	unsigned char key[TOTP_KEY_MAX];
	size_t key_len = 0;
	uint32_t code;
	int r;

	if (secret_b32 == NULL || out == NULL)
		return -EINVAL;
	r = totp_base32_decode(secret_b32, key, sizeof key, &key_len);
	if (r == 0 && key_len == 0)
		r = -EINVAL;
	if (r == 0)
		r = totp_at(TOTP_SHA1, key, key_len, now_s, TOTP_DIGITS, &code);
	sodium_memzero(key, sizeof key);
	if (r != 0)
		return r;
	snprintf(out, TOTP_DIGITS + 1, "%06u", (unsigned)code);
	return 0;
}
