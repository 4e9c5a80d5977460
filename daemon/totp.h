/* The second factor: RFC 4226 HOTP and RFC 6238 TOTP codes with HMAC from
 * OpenSSL, base32 secrets (RFC 4648) and the otpauth:// enrolment URI. */
#ifndef BRUG_TOTP_H
#define BRUG_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_STEP_S 30          /* RFC 6238 X: seconds per step */
#define TOTP_DIGITS 6           /* digits of an account's code */
#define TOTP_SECRET_BYTES 20    /* 160 bits, RFC 4226 section 4 R6 */
#define TOTP_SECRET_B32_LEN 32  /* base32 characters of TOTP_SECRET_BYTES */
#define TOTP_KEY_MAX 64         /* longest decoded key accepted */
#define TOTP_WINDOW 1           /* steps accepted either side of now */

/* The HMAC hash of a code (RFC 6238 section 1.2). */
enum totp_alg {
	TOTP_SHA1,   /* the default every authenticator app knows */
	TOTP_SHA256,
	TOTP_SHA512,
};

/*
 * RFC 4226 HOTP: the code for counter under key (key_len bytes), truncated
 * to digits (6 to 9). Returns 0 with *code set, -EINVAL for bad arguments
 * or -ENOMEM / -EIO if OpenSSL fails. key is borrowed.
 */
int totp_hotp(enum totp_alg alg, const unsigned char *key, size_t key_len, uint64_t counter,
	      unsigned digits, uint32_t *code);
/* The RFC 6238 time step of unix time t (seconds, T0 = 0). */
int64_t totp_step(int64_t t);
/* The TOTP code at unix time t (seconds): totp_hotp of totp_step(t). */
int totp_at(enum totp_alg alg, const unsigned char *key, size_t key_len, int64_t t, unsigned digits,
	    uint32_t *code);

/*
 * Base32 (RFC 4648 section 6) without padding. encode writes the text and a
 * NUL into out (out_size bytes) and returns its length, or 0 if out is too
 * small. decode accepts upper or lower case and ignores spaces and trailing
 * '='; returns 0 with *out_len set, or -EINVAL for a bad character, bits
 * left over or an out too small. Both borrow their arguments.
 */
size_t totp_base32_encode(const unsigned char *in, size_t len, char *out, size_t out_size);
int totp_base32_decode(const char *in, unsigned char *out, size_t out_size, size_t *out_len);

/* A fresh random secret (TOTP_SECRET_BYTES from libsodium, which must be
 * initialised) in base32 into out. Returns 0 or -EIO. */
int totp_new_secret(char out[TOTP_SECRET_B32_LEN + 1]);

/*
 * The enrolment URI for an authenticator app:
 * otpauth://totp/ISSUER:ACCOUNT?secret=S&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * with issuer and account percent-encoded. Returns a string the caller
 * frees (it holds the secret: wipe it), or NULL on no memory.
 */
char *totp_uri(const char *issuer, const char *account, const char *secret_b32);

/*
 * Check a 6-digit code against secret_b32 (SHA1, 30 s) at unix time now_s,
 * accepting the steps now-1, now and now+1 (RFC 6238 section 5.2), but only
 * a step after last_step, so that a code works once. Returns 0 with
 * *step_out the step matched (the caller stores it as the new last step),
 * or BRUG_E_UNAUTHORIZED for a wrong, malformed or reused code or a bad
 * secret. Compares in constant time. Arguments borrowed.
 */
int totp_verify(const char *secret_b32, const char *code, int64_t now_s, int64_t last_step,
		int64_t *step_out);
/* The current 6-digit code of secret_b32 at now_s into out. Returns 0 or
 * -EINVAL. For the CLI's demo helper and tests. */
int totp_code_now(const char *secret_b32, int64_t now_s, char out[TOTP_DIGITS + 1]);

#endif
