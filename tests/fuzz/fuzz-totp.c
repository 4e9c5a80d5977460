/* libFuzzer target for the second factor's text handling (totp.c): base32
 * secrets, codes and the otpauth:// URI. Decoding either refuses or gives
 * bytes that encode back to the canonical text; a check of any code against
 * any secret at any time answers 0 or UNAUTHORIZED; the URI is one line of
 * URI characters whatever the issuer and account. Input: a selector byte,
 * then fields separated by newlines. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "totp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next newline-separated field of [*p, end) as a new string. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	const uint8_t *stop = nl != NULL ? nl : end;
	char *s = strndup((const char *)*p, (size_t)(stop - *p));

	if (s == NULL)
		abort();
	*p = nl != NULL ? nl + 1 : end;
	return s;
}

static void check_base32(const char *s)
{
	unsigned char key[TOTP_KEY_MAX], again[TOTP_KEY_MAX];
	char text[TOTP_KEY_MAX * 2], canon[TOTP_KEY_MAX * 2];
	size_t len = 0, len2 = 0, n = 0;

	if (totp_base32_decode(s, key, sizeof key, &len) != 0)
		return;
	if (len > sizeof key || (totp_base32_encode(key, len, text, sizeof text) == 0 && len > 0))
		abort();
	/* The text accepted is the encoding, but for case, spaces and '='. */
	for (const char *p = s; *p != '\0' && n < sizeof canon - 1; p++)
		if (*p != ' ' && *p != '=')
			canon[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
	canon[n] = '\0';
	if (strcmp(canon, text) != 0)
		abort();
	if (totp_base32_decode(text, again, sizeof again, &len2) != 0 || len2 != len ||
	    memcmp(again, key, len) != 0)
		abort();
}

static void check_uri(const char *issuer, const char *account, const char *secret)
{
	char *uri = totp_uri(issuer, account, secret);
	size_t colons = 0;

	if (uri == NULL)
		abort();
	if (strncmp(uri, "otpauth://totp/", 15) != 0)
		abort();
	for (const char *p = uri + 15; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("-._~%:?&=", c) != NULL))
			abort();   /* a byte that would change the URI's meaning */
		colons += c == ':';
		if (c == '?' && strchr(p + 1, '?') != NULL)
			abort();
	}
	if (colons != 1)
		abort();   /* the label is issuer:account, exactly one colon */
	free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	char *a, *b, *c;
	int64_t now_s = 0, last = 0, step = -1;
	char code[TOTP_DIGITS + 1];
	int rc;

	if (size < 1)
		return 0;
	a = field(&p, end);
	b = field(&p, end);
	c = field(&p, end);
	/* Times from the input's tail, to reach the edges of the step range. */
	if (end - p >= 16) {
		memcpy(&now_s, p, 8);
		memcpy(&last, p + 8, 8);
	}
	check_base32(a);
	rc = totp_verify(a, b, now_s, last, &step);
	if (rc != 0 && rc != BRUG_E_UNAUTHORIZED)
		abort();
	if (rc == 0 && (step <= last || step < totp_step(now_s) - TOTP_WINDOW || step > totp_step(now_s) + TOTP_WINDOW))
		abort();   /* matched a step outside the window, or a used one */
	/* The current code of an accepted secret always verifies. */
	if ((data[0] & 1) && now_s >= 0 && now_s < INT64_MAX / 2 && totp_code_now(a, now_s, code) == 0) {
		if (totp_verify(a, code, now_s, totp_step(now_s) - 2, &step) != 0)
			abort();
	}
	check_uri(b, c, a);
	free(a);
	free(b);
	free(c);
	return 0;
}
