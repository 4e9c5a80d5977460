/* The intake of text people type: UTF-8 validation, NFC normalization,
 * filtering of invisible and bidi controls, and grapheme limits. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/ucal.h>
#include <unicode/udat.h>
#include <unicode/udatpg.h>
#include <unicode/uenum.h>
#include <unicode/uloc.h>
#include <unicode/umsg.h>
#include <unicode/unorm2.h>
#include <unicode/ures.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include "common.h"
#include "i18n.h"
#include "i18n_private.h"
#include "util/log.h"
#include "util/secmem.h"


/* ---- intake ---------------------------------------------------------------- */

/* Longest input accepted at all; frames are far smaller, this only keeps
 * every length inside ICU's int32_t. */
#define INTAKE_MAX_BYTES (1u << 24)

/* C0 and C1 controls, DEL, and the bidi embeddings, overrides and isolates:
 * an override in a message could make a staff member read a different text
 * than the one that was sent (and carry over into the console's layout). */
static bool removed_char(UChar c)
{
	if (c == '\n' || c == '\t')
		return false;
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) ||
	       (c >= 0x2066 && c <= 0x2069);
}

static int icu_to_ret(UErrorCode st)
{
	return st == U_MEMORY_ALLOCATION_ERROR ? -ENOMEM : BRUG_E_INTERNAL;
}

int i18n_intake(const char *in, size_t len, unsigned max_graphemes, char **out, size_t *out_len)
{
	const UNormalizer2 *nfc;
	UBreakIterator *bi = NULL;
	UChar *u = NULL, *norm = NULL;
	int32_t u_len = 0, u_cap = 0, norm_len = 0, norm_cap = 0, start, end, j;
	const UChar *text;
	int32_t text_len;
	unsigned graphemes = 0;
	UErrorCode st = U_ZERO_ERROR;
	int r = 0;

	if (out == NULL)
		return BRUG_E_INTERNAL;
	*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (in == NULL || len == 0)
		return BRUG_E_BAD_FIELD;
	if (len > INTAKE_MAX_BYTES)
		return BRUG_E_TOO_LONG;

	/* Strict UTF-8: ICU's converter rejects overlong forms, surrogates,
	 * values past U+10FFFF and truncated sequences. UTF-16 never needs
	 * more units than UTF-8 has bytes. */
	u_cap = (int32_t)len + 1;
	u = malloc((size_t)u_cap * sizeof *u);
	if (u == NULL)
		return -ENOMEM;
	u_strFromUTF8(u, u_cap, &u_len, in, (int32_t)len, &st);
	if (st == U_INVALID_CHAR_FOUND || st == U_ILLEGAL_CHAR_FOUND || st == U_TRUNCATED_CHAR_FOUND) {
		r = BRUG_E_BAD_FIELD;
		goto cleanup;
	}
	if (U_FAILURE(st)) {
		r = icu_to_ret(st);
		goto cleanup;
	}

	/* Filter before normalizing: removing a character after NFC could
	 * leave a base and a mark side by side that NFC would have joined. */
	j = 0;
	for (int32_t i = 0; i < u_len; i++)
		if (!removed_char(u[i]))
			u[j++] = u[i];
	secmem_wipe(u + j, (size_t)(u_len - j) * sizeof *u);
	u_len = j;

	nfc = unorm2_getNFCInstance(&st);
	if (U_FAILURE(st)) {
		r = icu_to_ret(st);
		goto cleanup;
	}
	if (unorm2_quickCheck(nfc, u, u_len, &st) == UNORM_YES && U_SUCCESS(st)) {
		text = u;
		text_len = u_len;
	} else {
		st = U_ZERO_ERROR;
		norm_len = unorm2_normalize(nfc, u, u_len, NULL, 0, &st);
		if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st)) {
			r = icu_to_ret(st);
			goto cleanup;
		}
		st = U_ZERO_ERROR;
		norm_cap = norm_len + 1;
		norm = malloc((size_t)norm_cap * sizeof *norm);
		if (norm == NULL) {
			r = -ENOMEM;
			goto cleanup;
		}
		norm_len = unorm2_normalize(nfc, u, u_len, norm, norm_cap, &st);
		if (U_FAILURE(st)) {
			r = icu_to_ret(st);
			goto cleanup;
		}
		text = norm;
		text_len = norm_len;
	}

	/* Trim by code point: some white space lies outside the BMP-only
	 * ranges a unit-wise test would see correctly. */
	start = 0;
	while (start < text_len) {
		int32_t next = start;
		UChar32 c;

		U16_NEXT(text, next, text_len, c);
		if (!u_isUWhiteSpace(c))
			break;
		start = next;
	}
	end = text_len;
	while (end > start) {
		int32_t prev = end;
		UChar32 c;

		U16_PREV(text, start, prev, c);
		if (!u_isUWhiteSpace(c))
			break;
		end = prev;
	}
	if (end == start) {
		r = BRUG_E_BAD_FIELD;
		goto cleanup;
	}

	/* Limits count what a person sees as one character: an emoji family
	 * or a letter with its vowel marks is one, whatever its code points.
	 * Every such character takes at least one UTF-16 unit, so a text of
	 * no more units than the limit is within it: most messages skip the
	 * break iterator, whose set-up alone cost more than the rest of a
	 * relayed message (tests/bench/README.md). */
	if ((unsigned)(end - start) <= max_graphemes)
		goto take;
	bi = ubrk_open(UBRK_CHARACTER, "root", text + start, end - start, &st);
	if (U_FAILURE(st)) {
		r = icu_to_ret(st);
		goto cleanup;
	}
	ubrk_first(bi);
	while (ubrk_next(bi) != UBRK_DONE) {
		if (++graphemes > max_graphemes) {
			r = BRUG_E_TOO_LONG;
			goto cleanup;
		}
	}

take:
	*out = i18n_uchars_to_utf8(text + start, end - start, out_len);
	if (*out == NULL)
		r = -ENOMEM;
cleanup:
	if (bi != NULL)
		ubrk_close(bi);
	secmem_free(norm, (size_t)norm_cap * sizeof *norm);
	secmem_free(u, (size_t)u_cap * sizeof *u);
	return r;
}
