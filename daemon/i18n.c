/* Everything a person reads, in their language: negotiation, direction, and
 * system texts, times and topics through ICU MessageFormat. The bundles load
 * in i18n_bundle.c; typed text is taken in by i18n_text.c. */
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

/* Longest language code we accept in the configuration ("ar", "nl-BE"). */
#define CODE_MAX 32

/* Language codes compare case-insensitively, and "nl_BE" equals "nl-BE":
 * ICU spells locales with '_', HTTP and the protocol with '-'. */
static bool code_equal(const char *a, const char *b)
{
	for (;; a++, b++) {
		char ca = *a == '_' ? '-' : *a;
		char cb = *b == '_' ? '-' : *b;

		if (ca >= 'A' && ca <= 'Z')
			ca = (char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (char)(cb - 'A' + 'a');
		if (ca != cb)
			return false;
		if (ca == '\0')
			return true;
	}
}

bool i18n_code_plausible(const char *code)
{
	size_t n = strlen(code);

	if (n == 0 || n >= CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = code[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* ---- languages ------------------------------------------------------------- */

int i18n_lang_index(const struct i18n *t, const char *lang)
{
	if (t == NULL || lang == NULL)
		return -1;
	for (unsigned i = 0; i < t->n_langs; i++)
		if (t->langs[i].code != NULL && code_equal(t->langs[i].code, lang))
			return (int)i;
	return -1;
}

const char *i18n_lang_code(const struct i18n *t, int i)
{
	if (t == NULL || i < 0 || (unsigned)i >= t->n_langs)
		return NULL;
	return t->langs[i].code;
}

const char *i18n_dir(const struct i18n *t, int lang)
{
	if (t == NULL || lang < 0 || (unsigned)lang >= t->n_langs)
		return "ltr";
	return t->langs[lang].rtl ? "rtl" : "ltr";
}

int i18n_negotiate(const struct i18n *t, const char *requested, const char *accept_language)
{
	int i;

	if (t == NULL)
		return -1;
	if (requested != NULL && i18n_code_plausible(requested)) {
		char lang[ULOC_LANG_CAPACITY];
		UErrorCode st = U_ZERO_ERROR;

		i = i18n_lang_index(t, requested);
		if (i >= 0)
			return i;
		/* "ar-MA" asks for Arabic even when only "ar" is configured. */
		uloc_getLanguage(requested, lang, sizeof lang, &st);
		if (U_SUCCESS(st) && st != U_STRING_NOT_TERMINATED_WARNING) {
			i = i18n_lang_index(t, lang);
			if (i >= 0)
				return i;
		}
	}
	if (accept_language != NULL && accept_language[0] != '\0') {
		char best[ULOC_FULLNAME_CAPACITY];
		UAcceptResult how = ULOC_ACCEPT_FAILED;
		UErrorCode st = U_ZERO_ERROR;
		UEnumeration *available;

		available = uenum_openCharStringsEnumeration(t->codes, (int32_t)t->n_langs, &st);
		if (U_SUCCESS(st)) {
			uloc_acceptLanguageFromHTTP(best, sizeof best, &how, accept_language, available, &st);
			uenum_close(available);
			if (U_SUCCESS(st) && st != U_STRING_NOT_TERMINATED_WARNING &&
			    how != ULOC_ACCEPT_FAILED) {
				i = i18n_lang_index(t, best);
				if (i >= 0)
					return i;
			}
		}
	}
	return t->default_lang;
}

/* ---- formatting ------------------------------------------------------------ */

union fmt_arg {
	double num;
	UChar *str;
};

/* umsg_format() takes its arguments as varargs, so each signature in
 * keys[] needs its own call. */
static int32_t call_format(const UMessageFormat *f, const char *sig, const union fmt_arg *a, UChar *out,
			   int32_t cap, UErrorCode *st)
{
	if (strcmp(sig, "") == 0)
		return umsg_format(f, out, cap, st);
	if (strcmp(sig, "n") == 0)
		return umsg_format(f, out, cap, st, a[0].num);
	if (strcmp(sig, "s") == 0)
		return umsg_format(f, out, cap, st, a[0].str);
	if (strcmp(sig, "nn") == 0)
		return umsg_format(f, out, cap, st, a[0].num, a[1].num);
	if (strcmp(sig, "ns") == 0)
		return umsg_format(f, out, cap, st, a[0].num, a[1].str);
	if (strcmp(sig, "sn") == 0)
		return umsg_format(f, out, cap, st, a[0].str, a[1].num);
	if (strcmp(sig, "ss") == 0)
		return umsg_format(f, out, cap, st, a[0].str, a[1].str);
	*st = U_UNSUPPORTED_ERROR;
	return 0;
}

UChar *i18n_utf8_to_uchars(const char *s)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t len = 0;
	UChar *u;

	/* A caller's string is not user text we judge here: substitute
	 * anything invalid rather than fail the whole message. */
	u_strFromUTF8WithSub(NULL, 0, &len, s, -1, 0xFFFD, NULL, &st);
	if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st))
		return NULL;
	st = U_ZERO_ERROR;
	u = malloc(((size_t)len + 1) * sizeof *u);
	if (u == NULL)
		return NULL;
	u_strFromUTF8WithSub(u, len + 1, NULL, s, -1, 0xFFFD, NULL, &st);
	if (U_FAILURE(st)) {
		free(u);
		return NULL;
	}
	return u;
}

/* UTF-16 to a malloc'ed NUL-terminated UTF-8 string; *out_len may be NULL. */
char *i18n_uchars_to_utf8(const UChar *u, int32_t len, size_t *out_len)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t need = 0;
	char *s;

	u_strToUTF8(NULL, 0, &need, u, len, &st);
	if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st))
		return NULL;
	st = U_ZERO_ERROR;
	s = malloc((size_t)need + 1);
	if (s == NULL)
		return NULL;
	u_strToUTF8(s, need + 1, NULL, u, len, &st);
	if (U_FAILURE(st)) {
		secmem_free(s, (size_t)need + 1);
		return NULL;
	}
	if (out_len != NULL)
		*out_len = (size_t)need;
	return s;
}

/* The formatted text as UTF-16 in a malloc'ed buffer of *len + 1 units. */
static UChar *format_uchars(const struct i18n_lang *l, enum i18n_key key, unsigned n_args,
			    const double *num_args, const char *const *str_args, int32_t *len)
{
	const char *sig = i18n_keys[key].args;
	union fmt_arg a[MAX_ARGS] = { 0 };
	UChar *strs[MAX_ARGS] = { 0 };
	UChar *out = NULL;
	int32_t cap = 256, n = 0;
	UErrorCode st;

	for (unsigned i = 0; sig[i] != '\0'; i++) {
		bool have_str = i < n_args && str_args != NULL && str_args[i] != NULL;
		bool have_num = i < n_args && num_args != NULL && !have_str;
		char numbuf[32];

		/* A caller that passes the other kind gets it converted, not a
		 * crash: the kinds are fixed by keys[], not by the caller. */
		if (sig[i] == 'n') {
			a[i].num = have_num ? num_args[i] : have_str ? strtod(str_args[i], NULL) : 0;
			continue;
		}
		if (have_str && str_args[i][0] != '\0') {
			strs[i] = i18n_utf8_to_uchars(str_args[i]);
		} else if (have_num) {
			snprintf(numbuf, sizeof numbuf, "%g", num_args[i]);
			strs[i] = i18n_utf8_to_uchars(numbuf);
		} else {
			/* Empty picks the `none` case of a select (see keys[]). */
			strs[i] = i18n_utf8_to_uchars("none");
		}
		if (strs[i] == NULL)
			goto cleanup;
		a[i].str = strs[i];
	}
	/* The queue text promises "no estimate" for any negative wait, and
	 * ICU only matches the explicit =-1. */
	if (key == I18N_QUEUE && (a[1].num < 0 || isnan(a[1].num)))
		a[1].num = -1;

	for (int attempt = 0; attempt < 2; attempt++) {
		out = malloc((size_t)cap * sizeof *out);
		if (out == NULL)
			goto cleanup;
		st = U_ZERO_ERROR;
		n = call_format(l->fmt[key], sig, a, out, cap, &st);
		if (U_SUCCESS(st) && n < cap) {
			out[n] = 0;
			*len = n;
			goto cleanup;
		}
		secmem_free(out, (size_t)cap * sizeof *out);
		out = NULL;
		if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st))
			goto cleanup;
		cap = n + 1;
	}
cleanup:
	for (unsigned i = 0; i < MAX_ARGS; i++)
		if (strs[i] != NULL)
			secmem_free(strs[i], (size_t)(u_strlen(strs[i]) + 1) * sizeof(UChar));
	return out;
}

char *i18n_format(const struct i18n *t, int lang, enum i18n_key key,
		  unsigned n_args, const double *num_args, const char *const *str_args)
{
	const struct i18n_lang *l;
	UChar *text = NULL, *extra = NULL, *joined = NULL;
	int32_t len = 0, extra_len = 0;
	char *res = NULL;

	if (t == NULL || (int)key < 0 || key >= I18N__COUNT)
		return NULL;
	if (lang < 0 || (unsigned)lang >= t->n_langs)
		lang = t->default_lang;
	l = &t->langs[lang];

	text = format_uchars(l, key, n_args, num_args, str_args, &len);
	if (text == NULL)
		goto cleanup;
	if (key != I18N_CLOSED) {
		res = i18n_uchars_to_utf8(text, len, NULL);
		goto cleanup;
	}
	/* Someone who finds nobody must still learn where to get help now. */
	extra = format_uchars(l, I18N_ALTERNATIVES, 0, NULL, NULL, &extra_len);
	if (extra == NULL)
		goto cleanup;
	joined = malloc(((size_t)len + 1 + (size_t)extra_len + 1) * sizeof *joined);
	if (joined == NULL)
		goto cleanup;
	u_memcpy(joined, text, len);
	joined[len] = ' ';
	u_memcpy(joined + len + 1, extra, extra_len);
	joined[len + 1 + extra_len] = 0;
	res = i18n_uchars_to_utf8(joined, len + 1 + extra_len, NULL);
cleanup:
	if (joined != NULL)
		secmem_free(joined, ((size_t)len + 1 + (size_t)extra_len + 1) * sizeof *joined);
	if (extra != NULL)
		secmem_free(extra, ((size_t)extra_len + 1) * sizeof *extra);
	if (text != NULL)
		secmem_free(text, ((size_t)len + 1) * sizeof *text);
	return res;
}

char *i18n_text(const struct i18n *t, int lang, enum i18n_key key)
{
	return i18n_format(t, lang, key, 0, NULL, NULL);
}

char *i18n_error(const struct i18n *t, int lang, int brug_error)
{
	enum i18n_key key = I18N_ERR_INTERNAL;

	/* Negative errno values and unknown codes are our failures. */
	if (brug_error >= BRUG_E_BAD_JSON && brug_error < BRUG_E__COUNT)
		key = (enum i18n_key)(I18N_ERR_BAD_JSON + (brug_error - BRUG_E_BAD_JSON));
	return i18n_text(t, lang, key);
}

/* ---- times and the web client's labels --------------------------------------- */

/* The time zone's ID as UTF-16, or false when ICU does not know it: ICU
 * would silently format an unknown zone as GMT. */
static bool zone_id(const char *tz, UChar *zone, int32_t cap)
{
	UChar canonical[PATTERN_MAX];
	UBool system = false;
	UErrorCode st = U_ZERO_ERROR;

	if (tz == NULL || tz[0] == '\0' || strlen(tz) >= (size_t)cap)
		return false;
	u_uastrncpy(zone, tz, cap);
	ucal_getCanonicalTimeZoneID(zone, -1, canonical, PATTERN_MAX, &system, &st);
	return U_SUCCESS(st) && system;
}

bool i18n_timezone_valid(const char *tz)
{
	UChar zone[PATTERN_MAX];

	return zone_id(tz, zone, PATTERN_MAX);
}

/* epoch_ms with a date pattern in the zone, as UTF-8; caller frees. */
static char *format_date(const char *locale, const UChar *zone, const UChar *pattern, int64_t epoch_ms)
{
	UErrorCode st = U_ZERO_ERROR;
	UDateFormat *f;
	UChar out[PATTERN_MAX];
	int32_t n;

	f = udat_open(UDAT_PATTERN, UDAT_PATTERN, locale, zone, -1, pattern, -1, &st);
	if (U_FAILURE(st)) {
		udat_close(f);
		return NULL;
	}
	n = udat_format(f, (UDate)epoch_ms, out, PATTERN_MAX, NULL, &st);
	udat_close(f);
	if (U_FAILURE(st) || n >= PATTERN_MAX)
		return NULL;
	return i18n_uchars_to_utf8(out, n, NULL);
}

char *i18n_format_time(const struct i18n *t, int lang, int64_t epoch_ms, const char *tz)
{
	const struct i18n_lang *l;
	UChar zone[PATTERN_MAX], weekday[sizeof WEEKDAY_PATTERN];
	char *parts[2] = { NULL, NULL }, *res = NULL;

	if (t == NULL || !zone_id(tz, zone, PATTERN_MAX))
		return NULL;
	if (lang < 0 || (unsigned)lang >= t->n_langs)
		lang = t->default_lang;
	l = &t->langs[lang];
	u_uastrcpy(weekday, WEEKDAY_PATTERN);
	parts[0] = format_date(l->locale, zone, weekday, epoch_ms);
	parts[1] = format_date(l->locale, zone, l->time_pattern, epoch_ms);
	if (parts[0] != NULL && parts[1] != NULL)
		res = i18n_format(t, lang, I18N_NEXT_OPEN, 2, NULL, (const char *const *)parts);
	free(parts[0]);
	free(parts[1]);
	return res;
}

const char *i18n_client_json(const struct i18n *t, int lang)
{
	if (t == NULL || lang < 0 || (unsigned)lang >= t->n_langs)
		return NULL;
	return t->langs[lang].client_json;
}

const char *i18n_topic_label(const struct i18n *t, int lang, const char *topic)
{
	if (t == NULL || topic == NULL)
		return NULL;
	if (lang < 0 || (unsigned)lang >= t->n_langs)
		lang = t->default_lang;
	return json_string_value(json_object_get(json_object_get(t->langs[lang].client, "topics"), topic));
}
