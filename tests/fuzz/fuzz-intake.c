/* libFuzzer target for the intake of user text (i18n_intake): whatever the
 * bytes, the result is a refusal or clean text: valid UTF-8, NFC, no C0/C1
 * control or bidi control left, trimmed, within the grapheme limit, and
 * unchanged when taken in again. The first byte picks the limit. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "common.h"
#include "i18n.h"
#include "util/secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The output as UTF-16 (caller frees), or NULL if it is not strict UTF-8. */
static UChar *to_utf16(const char *s, size_t len, int32_t *n)
{
	UErrorCode st = U_ZERO_ERROR;
	UChar *u = malloc((len + 1) * sizeof *u);

	if (u == NULL)
		abort();
	u_strFromUTF8(u, (int32_t)len + 1, n, s, (int32_t)len, &st);
	if (U_FAILURE(st)) {
		free(u);
		return NULL;
	}
	return u;
}

static void check_clean(const char *out, size_t out_len, unsigned max)
{
	UErrorCode st = U_ZERO_ERROR;
	const UNormalizer2 *nfc = unorm2_getNFCInstance(&st);
	UBreakIterator *bi;
	unsigned graphemes = 0;
	int32_t n = 0, i = 0;
	UChar32 c;
	UChar *u;

	if (out == NULL || out_len == 0 || strlen(out) != out_len)
		abort();   /* NUL-terminated, no NUL inside, not empty */
	u = to_utf16(out, out_len, &n);
	if (u == NULL || U_FAILURE(st))
		abort();   /* not UTF-8 */
	if (!unorm2_isNormalized(nfc, u, n, &st) || U_FAILURE(st))
		abort();   /* not NFC */
	while (i < n) {
		U16_NEXT(u, i, n, c);
		if (U_IS_SURROGATE(c) || (c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c <= 0x9f) ||
		    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
			abort();   /* a control or bidi control survived */
	}
	i = 0;
	U16_NEXT(u, i, n, c);
	if (u_isUWhiteSpace(c))
		abort();   /* not trimmed at the start */
	i = n;
	U16_PREV(u, 0, i, c);
	if (u_isUWhiteSpace(c))
		abort();   /* not trimmed at the end */
	bi = ubrk_open(UBRK_CHARACTER, "root", u, n, &st);
	if (U_FAILURE(st))
		abort();
	ubrk_first(bi);
	while (ubrk_next(bi) != UBRK_DONE)
		graphemes++;
	ubrk_close(bi);
	if (graphemes > max)
		abort();   /* over the limit */
	free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned limits[] = { 1, 2, 3, 5, 8, 16, 100, 2000 };
	char *out = NULL, *again = NULL;
	size_t out_len = 0, again_len = 0;
	unsigned max;
	int rc;

	if (size == 0)
		return 0;
	max = limits[data[0] % (sizeof limits / sizeof *limits)];
	rc = i18n_intake((const char *)data + 1, size - 1, max, &out, &out_len);
	if (rc != 0) {
		if ((rc != BRUG_E_BAD_FIELD && rc != BRUG_E_TOO_LONG) || out != NULL)
			abort();
		return 0;
	}
	check_clean(out, out_len, max);
	/* Clean text taken in again comes out the same. */
	if (i18n_intake(out, out_len, max, &again, &again_len) != 0 || again_len != out_len ||
	    memcmp(again, out, out_len) != 0)
		abort();
	secmem_free_str(again);
	secmem_free_str(out);
	return 0;
}
