/* The i18n module's private structures and the helpers its files share;
 * only i18n.c, i18n_bundle.c and i18n_text.c include it. The interface is i18n.h. */
#ifndef BRUG_I18N_PRIVATE_H
#define BRUG_I18N_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <unicode/uloc.h>
#include <unicode/umsg.h>
#include <unicode/utypes.h>
#include "i18n.h"

/*
 * The daemon's texts live in locales/daemon/<lang>.txt, compiled by genrb,
 * as string resources in a table `daemon`, one per key named by `name`.
 * `args` stays here because the code that passes the arguments is what
 * fixes their kinds.
 *
 * `args` lists the numbered arguments a pattern must use, one letter each:
 * 'n' a number (plural, number), 's' a string (plain or select). Every
 * pattern is checked against it at i18n_new(), because umsg_format() reads
 * its arguments as C varargs of the pattern's types and a mismatch would
 * read the wrong register instead of failing.
 *
 * A string argument that a pattern uses as a select key and that is empty
 * selects the `none` case: ICU's select cannot name the empty string.
 *
 * Strings that a person chose (a staff alias, a time) are wrapped in first
 * strong isolates (U+2068 ... U+2069) in the bundles, so that a Latin alias
 * inside Arabic text, or the reverse, cannot reorder the sentence around it.
 */
struct key_def {
	const char *name;
	const char *args;
};

/* The most arguments any key takes; call_format() spells out each signature. */
#define MAX_ARGS 2

/* The clock in a time is always 24-hour: that is how opening hours are
 * written in the Netherlands, and it cannot be misread as morning. */
#define TIME_SKELETON "HHmm"
#define WEEKDAY_PATTERN "EEEE"
#define PATTERN_MAX 64

struct i18n_lang {
	char *code;          /* as configured */
	char locale[ULOC_FULLNAME_CAPACITY]; /* ICU's spelling, texts are formatted in it */
	char bundle[ULOC_FULLNAME_CAPACITY]; /* the bundles' name: locale or its language */
	bool rtl;
	UMessageFormat *fmt[I18N__COUNT];
	UChar time_pattern[PATTERN_MAX]; /* the locale's pattern for TIME_SKELETON */
	json_t *client;      /* GET /i18n/<code>.json as an object */
	char *client_json;   /* ... and as text, built once */
};

struct i18n {
	struct i18n_lang *langs;
	const char **codes; /* langs[i].code, for uloc_acceptLanguageFromHTTP() */
	unsigned n_langs;
	int default_lang;
};

/* i18n.c */
bool i18n_code_plausible(const char *code);
UChar *i18n_utf8_to_uchars(const char *s);
char *i18n_uchars_to_utf8(const UChar *u, int32_t len, size_t *out_len);

/* i18n_bundle.c */
extern const struct key_def i18n_keys[I18N__COUNT];

#endif
