/* Everything a person reads, in their language: negotiation, direction,
 * system texts through ICU MessageFormat from the compiled resource bundles
 * (locales/), the web client's labels as JSON, and the intake (validation,
 * normalization, filtering, grapheme limits) of text people type. */
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
#include "util/log.h"
#include "util/secmem.h"

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

static const struct key_def keys[I18N__COUNT] = {
	[I18N_QUEUE] = { "queue", "nn" },
	[I18N_CLOSED] = { "closed", "s" },
	[I18N_NEXT_OPEN] = { "next_open", "ss" },
	[I18N_JOINED] = { "joined", "s" },
	[I18N_REQUEUED] = { "requeued", "" },
	[I18N_ENDED_VISITOR] = { "ended_visitor", "" },
	[I18N_ENDED_STAFF] = { "ended_staff", "" },
	[I18N_ENDED_TIMEOUT] = { "ended_timeout", "" },
	[I18N_ENDED_SHUTDOWN] = { "ended_shutdown", "" },
	[I18N_ALTERNATIVES] = { "alternatives", "" },
	[I18N_ERR_BAD_JSON] = { "err_bad_json", "" },
	[I18N_ERR_BAD_TYPE] = { "err_bad_type", "" },
	[I18N_ERR_BAD_FIELD] = { "err_bad_field", "" },
	[I18N_ERR_TOO_LONG] = { "err_too_long", "" },
	[I18N_ERR_RATE_LIMITED] = { "err_rate_limited", "" },
	[I18N_ERR_UNAUTHORIZED] = { "err_unauthorized", "" },
	[I18N_ERR_FORBIDDEN] = { "err_forbidden", "" },
	[I18N_ERR_NOT_FOUND] = { "err_not_found", "" },
	[I18N_ERR_CONFLICT] = { "err_conflict", "" },
	[I18N_ERR_CLOSED] = { "err_closed", "" },
	[I18N_ERR_INTERNAL] = { "err_internal", "" },
};

/* i18n_error() maps codes to keys by offset, so both lists must line up. */
_Static_assert(I18N_ERR_INTERNAL - I18N_ERR_BAD_JSON == BRUG_E_INTERNAL - BRUG_E_BAD_JSON,
	       "I18N_ERR_* must follow enum brug_error");
_Static_assert(I18N_ERR_INTERNAL + 1 == I18N__COUNT, "I18N_ERR_INTERNAL must be the last key");

/* The most arguments any key takes; call_format() spells out each signature. */
#define MAX_ARGS 2

/* Longest language code we accept in the configuration ("ar", "nl-BE"). */
#define CODE_MAX 32

/* The packages under locales_dir (locales/README.md). */
#define PKG_DAEMON "daemon"
#define PKG_CLIENT "client"

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

static void set_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

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

static bool code_plausible(const char *code)
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

/* ---- checking a pattern's arguments ---------------------------------------
 * The C API has no way to ask a MessageFormat which arguments it uses and of
 * what type, so this walks the pattern (already accepted by ICU) and records
 * each argument's uses. It follows ICU's default apostrophe rule: a single
 * apostrophe quotes only when it precedes '{', '}', or '#' inside a plural,
 * and "''" is one apostrophe. */

enum arg_use {
	USE_STRING = 1u << 0, /* {0} */
	USE_SELECT = 1u << 1, /* {0, select, ...} */
	USE_NUMBER = 1u << 2, /* {0, number}, {0, plural, ...} */
};

struct scan {
	const UChar *p;
	int32_t len;
	int32_t i;
	unsigned uses[MAX_ARGS];
	const char *problem; /* static text when the pattern cannot be used */
};

static bool scan_message(struct scan *s, bool in_plural, int depth);

static void skip_space(struct scan *s)
{
	while (s->i < s->len && u_hasBinaryProperty(s->p[s->i], UCHAR_PATTERN_WHITE_SPACE))
		s->i++;
}

static bool is_ascii_alpha(UChar c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The word at s->i compared with an ASCII keyword; advances past it. */
static bool take_word(struct scan *s, char *word, size_t cap)
{
	size_t n = 0;

	while (s->i < s->len && is_ascii_alpha(s->p[s->i])) {
		if (n + 1 >= cap)
			return false;
		word[n++] = (char)s->p[s->i++];
	}
	word[n] = '\0';
	return n > 0;
}

/* A simple argument's style ("integer", "#,##0"): skip to the closing brace. */
static bool skip_style(struct scan *s)
{
	int nest = 0;

	for (; s->i < s->len; s->i++) {
		UChar c = s->p[s->i];

		if (c == '\'') {
			for (s->i++; s->i < s->len && s->p[s->i] != '\''; s->i++)
				;
		} else if (c == '{') {
			nest++;
		} else if (c == '}') {
			if (nest == 0)
				return true;
			nest--;
		}
	}
	s->problem = "unterminated argument";
	return false;
}

/* s->i is just past an argument's '{'; leaves s->i just past its '}'. */
static bool scan_argument(struct scan *s, int depth)
{
	char type[16];
	unsigned num = 0, use;
	bool complex, plural;

	skip_space(s);
	if (s->i >= s->len || s->p[s->i] < '0' || s->p[s->i] > '9') {
		s->problem = "only numbered arguments are supported";
		return false;
	}
	while (s->i < s->len && s->p[s->i] >= '0' && s->p[s->i] <= '9') {
		num = num * 10 + (unsigned)(s->p[s->i++] - '0');
		if (num >= MAX_ARGS) {
			s->problem = "uses an argument the key does not take";
			return false;
		}
	}
	skip_space(s);
	if (s->i < s->len && s->p[s->i] == '}') {
		s->uses[num] |= USE_STRING;
		s->i++;
		return true;
	}
	if (s->i >= s->len || s->p[s->i] != ',') {
		s->problem = "malformed argument";
		return false;
	}
	s->i++;
	skip_space(s);
	if (!take_word(s, type, sizeof type)) {
		s->problem = "malformed argument type";
		return false;
	}
	plural = strcmp(type, "plural") == 0 || strcmp(type, "selectordinal") == 0;
	complex = plural || strcmp(type, "select") == 0;
	if (complex && !plural)
		use = USE_SELECT;
	else if (plural || strcmp(type, "number") == 0 || strcmp(type, "spellout") == 0 ||
		 strcmp(type, "ordinal") == 0 || strcmp(type, "duration") == 0)
		use = USE_NUMBER;
	else {
		/* Dates are formatted by the caller and passed as strings; choice
		 * is superseded by plural and select. */
		s->problem = "argument type not supported (use plural, select, number or none)";
		return false;
	}
	s->uses[num] |= use;
	skip_space(s);
	if (s->i < s->len && s->p[s->i] == '}') {
		s->i++;
		return true;
	}
	if (s->i >= s->len || s->p[s->i] != ',') {
		s->problem = "malformed argument";
		return false;
	}
	s->i++;
	if (!complex) {
		if (!skip_style(s))
			return false;
		s->i++;
		return true;
	}
	/* Selectors ("one", "=-1", "offset:1") each followed by a sub-message. */
	for (;;) {
		skip_space(s);
		if (s->i >= s->len) {
			s->problem = "unterminated argument";
			return false;
		}
		if (s->p[s->i] == '}') {
			s->i++;
			return true;
		}
		if (s->p[s->i] == '{') {
			s->i++;
			if (!scan_message(s, plural, depth + 1))
				return false;
			if (s->i >= s->len) {
				s->problem = "unterminated sub-message";
				return false;
			}
			s->i++;
			continue;
		}
		while (s->i < s->len && s->p[s->i] != '{' && s->p[s->i] != '}' &&
		       !u_hasBinaryProperty(s->p[s->i], UCHAR_PATTERN_WHITE_SPACE))
			s->i++;
	}
}

/* Message text up to an unmatched '}' (left unconsumed) or the end. */
static bool scan_message(struct scan *s, bool in_plural, int depth)
{
	if (depth > 8) {
		s->problem = "nested too deeply";
		return false;
	}
	while (s->i < s->len) {
		UChar c = s->p[s->i];

		if (c == '}')
			return true;
		if (c == '{') {
			s->i++;
			if (!scan_argument(s, depth))
				return false;
			continue;
		}
		if (c == '\'' && s->i + 1 < s->len) {
			UChar next = s->p[s->i + 1];

			if (next == '\'') {
				s->i += 2;
				continue;
			}
			if (next == '{' || next == '}' || (in_plural && next == '#')) {
				/* Quoted literal text up to the closing apostrophe. */
				for (s->i += 2; s->i < s->len; s->i++) {
					if (s->p[s->i] != '\'')
						continue;
					if (s->i + 1 < s->len && s->p[s->i + 1] == '\'')
						s->i++;
					else
						break;
				}
			}
		}
		s->i++;
	}
	return true;
}

/* NULL when the pattern uses exactly the arguments in `args` with their
 * kinds, else why not. */
static const char *check_arguments(const UChar *pattern, int32_t len, const char *args)
{
	struct scan s = { .p = pattern, .len = len };
	size_t n = strlen(args);

	if (!scan_message(&s, false, 0))
		return s.problem;
	if (s.i < s.len)
		return "unbalanced '}'";
	for (size_t a = 0; a < MAX_ARGS; a++) {
		if (a >= n) {
			if (s.uses[a] != 0)
				return "uses an argument the key does not take";
			continue;
		}
		/* umsg_format() reads every argument up to the highest one used,
		 * so a gap would shift the rest. */
		if (s.uses[a] == 0)
			return "leaves out an argument the key takes";
		if (args[a] == 'n' && s.uses[a] != USE_NUMBER)
			return "uses a number argument as a string";
		if (args[a] == 's' && (s.uses[a] & USE_NUMBER))
			return "uses a string argument as a number";
	}
	return NULL;
}


/* ---- construction ---------------------------------------------------------- */

static UChar *utf8_to_uchars(const char *s);
static char *uchars_to_utf8(const UChar *u, int32_t len, size_t *out_len);

/* Where the compiled bundles are, as ICU wants them: it reads a folder of
 * .res files when given an absolute path ending in '/', and takes a bare
 * relative one for the name of a packaged data file. */
struct bundle_dirs {
	char *root;   /* locales_dir, absolute, for messages */
	char *daemon; /* <root>/daemon/ */
	char *client; /* <root>/client/ */
};

static void dirs_fini(struct bundle_dirs *d)
{
	free(d->root);
	free(d->daemon);
	free(d->client);
}

static int dirs_init(struct bundle_dirs *d, const char *locales_dir, char *err, size_t err_len)
{
	size_t n;

	memset(d, 0, sizeof *d);
	d->root = realpath(locales_dir, NULL);
	if (d->root == NULL) {
		int e = errno;

		set_err(err, err_len, "i18n: locales directory %s: %s", locales_dir, strerror(e));
		return e == ENOMEM ? -ENOMEM : BRUG_E_NOT_FOUND;
	}
	n = strlen(d->root) + sizeof PKG_DAEMON + sizeof PKG_CLIENT + 3;
	d->daemon = malloc(n);
	d->client = malloc(n);
	if (d->daemon == NULL || d->client == NULL) {
		set_err(err, err_len, "i18n: out of memory");
		dirs_fini(d);
		return -ENOMEM;
	}
	snprintf(d->daemon, n, "%s/%s/", d->root, PKG_DAEMON);
	snprintf(d->client, n, "%s/%s/", d->root, PKG_CLIENT);
	return 0;
}

/* ures_openDirect() never falls back to a parent or to root: a language
 * without a bundle must be reported, not shown in another language. */
static UResourceBundle *open_bundle(const char *dir, const char *name)
{
	UErrorCode st = U_ZERO_ERROR;
	UResourceBundle *b = ures_openDirect(dir, name, &st);

	if (U_FAILURE(st)) {
		ures_close(b);
		return NULL;
	}
	return b;
}

/* Finds and opens the two bundles of a configured language: named like the
 * code in ICU's spelling ("nl_BE"), else like its language ("nl"). */
static int open_bundles(struct i18n_lang *l, const struct bundle_dirs *d, UResourceBundle **daemon,
			UResourceBundle **client, char *err, size_t err_len)
{
	char names[2][ULOC_FULLNAME_CAPACITY];
	const char *want;
	UErrorCode st = U_ZERO_ERROR;

	*daemon = *client = NULL;
	uloc_canonicalize(l->code, l->locale, sizeof l->locale, &st);
	if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || l->locale[0] == '\0') {
		set_err(err, err_len, "i18n: \"%s\" is not a language code", l->code);
		return BRUG_E_BAD_FIELD;
	}
	snprintf(names[0], sizeof names[0], "%s", l->locale);
	uloc_getLanguage(l->locale, names[1], sizeof names[1], &st);
	if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING)
		names[1][0] = '\0';
	for (int i = 0; i < 2; i++) {
		if (names[i][0] == '\0' || strcmp(names[i], "root") == 0)
			continue;
		*daemon = open_bundle(d->daemon, names[i]);
		if (*daemon == NULL)
			continue;
		*client = open_bundle(d->client, names[i]);
		if (*client == NULL) {
			set_err(err, err_len, "i18n: language %s has %s%s.res but no %s%s.res", l->code,
				d->daemon, names[i], d->client, names[i]);
			ures_close(*daemon);
			*daemon = NULL;
			return BRUG_E_NOT_FOUND;
		}
		snprintf(l->bundle, sizeof l->bundle, "%.*s", (int)sizeof l->bundle - 1, names[i]);
		if (i > 0)
			log_notice("i18n: language %s has no bundles of its own and uses those of %s",
				   l->code, l->bundle);
		return 0;
	}
	want = names[1][0] != '\0' ? names[1] : names[0];
	set_err(err, err_len,
		"i18n: no texts for language %s: %s has no %s.res (add locales/daemon/%s.txt and "
		"locales/client/%s.txt, see locales/README.md)",
		l->code, d->daemon, want, want, want);
	return BRUG_E_NOT_FOUND;
}

/* Opens and checks every daemon text of one language. */
static int open_patterns(struct i18n_lang *l, const UResourceBundle *bundle, char *err, size_t err_len)
{
	UResourceBundle *table;
	UErrorCode st = U_ZERO_ERROR;
	int r = 0;

	table = ures_getByKey(bundle, PKG_DAEMON, NULL, &st);
	if (U_FAILURE(st)) {
		set_err(err, err_len, "i18n: daemon/%s.res has no table \"daemon\"", l->bundle);
		ures_close(table);
		return BRUG_E_INTERNAL;
	}
	for (int k = 0; k < I18N__COUNT; k++) {
		const UChar *pattern;
		const char *problem;
		UParseError pe = { 0 };
		int32_t len = 0;

		if (keys[k].name == NULL || strlen(keys[k].args) > MAX_ARGS) {
			set_err(err, err_len, "i18n: key %d has no name or too many arguments", k);
			r = BRUG_E_INTERNAL;
			break;
		}
		st = U_ZERO_ERROR;
		pattern = ures_getStringByKey(table, keys[k].name, &len, &st);
		if (U_FAILURE(st)) {
			set_err(err, err_len, "i18n: text %s is missing in daemon/%s.res", keys[k].name,
				l->bundle);
			r = BRUG_E_INTERNAL;
			break;
		}
		l->fmt[k] = umsg_open(pattern, len, l->locale, &pe, &st);
		if (U_FAILURE(st)) {
			set_err(err, err_len, "i18n: text %s in %s does not parse at offset %d: %s",
				keys[k].name, l->bundle, (int)pe.offset, u_errorName(st));
			r = st == U_MEMORY_ALLOCATION_ERROR ? -ENOMEM : BRUG_E_INTERNAL;
			break;
		}
		problem = check_arguments(pattern, len, keys[k].args);
		if (problem != NULL) {
			set_err(err, err_len, "i18n: text %s in %s %s", keys[k].name, l->bundle, problem);
			r = BRUG_E_INTERNAL;
			break;
		}
	}
	ures_close(table);
	return r;
}

/* The locale's own way to write a 24-hour time ("HH:mm", "HH.mm"). */
static int open_time_pattern(struct i18n_lang *l, char *err, size_t err_len)
{
	UChar skeleton[sizeof TIME_SKELETON];
	UDateTimePatternGenerator *g;
	UErrorCode st = U_ZERO_ERROR;

	u_uastrcpy(skeleton, TIME_SKELETON);
	g = udatpg_open(l->locale, &st);
	if (U_SUCCESS(st))
		udatpg_getBestPattern(g, skeleton, -1, l->time_pattern, PATTERN_MAX, &st);
	udatpg_close(g);
	if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING) {
		set_err(err, err_len, "i18n: no time format for %s: %s", l->locale, u_errorName(st));
		return st == U_MEMORY_ALLOCATION_ERROR ? -ENOMEM : BRUG_E_INTERNAL;
	}
	return 0;
}

/* A resource as JSON: tables become objects, arrays arrays, strings UTF-8
 * strings, integers numbers. NULL on no memory or a resource of another
 * kind (binary, integer vector), which labels never are. */
static json_t *resource_json(const UResourceBundle *r)
{
	UErrorCode st = U_ZERO_ERROR;
	json_t *j = NULL;

	switch (ures_getType(r)) {
	case URES_STRING: {
		int32_t len = 0;
		const UChar *u = ures_getString(r, &len, &st);
		size_t n = 0;
		char *s;

		if (U_FAILURE(st))
			return NULL;
		s = uchars_to_utf8(u, len, &n);
		if (s == NULL)
			return NULL;
		j = json_stringn(s, n);
		free(s);
		return j;
	}
	case URES_INT:
		return json_integer(ures_getInt(r, &st));
	case URES_TABLE:
	case URES_ARRAY: {
		bool table = ures_getType(r) == URES_TABLE;

		j = table ? json_object() : json_array();
		if (j == NULL)
			return NULL;
		for (int32_t i = 0; i < ures_getSize(r); i++) {
			UResourceBundle *c;
			json_t *v;
			int e;

			st = U_ZERO_ERROR;
			c = ures_getByIndex(r, i, NULL, &st);
			v = U_SUCCESS(st) ? resource_json(c) : NULL;
			if (v == NULL)
				e = -1;
			else if (table)
				e = json_object_set_new(j, ures_getKey(c), v);
			else
				e = json_array_append_new(j, v);
			ures_close(c);
			if (e != 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	}
	default:
		return NULL;
	}
}

/* A table of the client bundle by its path ("client", "visitor"). */
static json_t *client_part(const UResourceBundle *b, const char *outer, const char *inner)
{
	UErrorCode st = U_ZERO_ERROR;
	UResourceBundle *o = ures_getByKey(b, outer, NULL, &st), *i = NULL;
	json_t *j = NULL;

	if (U_SUCCESS(st) && inner != NULL)
		i = ures_getByKey(o, inner, NULL, &st);
	if (U_SUCCESS(st) && ures_getType(inner != NULL ? i : o) == URES_TABLE)
		j = resource_json(inner != NULL ? i : o);
	ures_close(i);
	ures_close(o);
	return j;
}

/* The language's name in its own script (client meta/autonym). */
static json_t *autonym(const UResourceBundle *b)
{
	UErrorCode st = U_ZERO_ERROR;
	UResourceBundle *meta = ures_getByKey(b, "meta", NULL, &st), *name = NULL;
	json_t *j = NULL;

	if (U_SUCCESS(st))
		name = ures_getByKey(meta, "autonym", NULL, &st);
	if (U_SUCCESS(st) && ures_getType(name) == URES_STRING)
		j = resource_json(name);
	ures_close(name);
	ures_close(meta);
	return j;
}

/* GET /i18n/<code>.json for language i, from its client bundle and every
 * language's autonym (languages[], already read). */
static int build_client_json(struct i18n *t, unsigned i, const UResourceBundle *client,
			     json_t *languages, char *err, size_t err_len)
{
	struct i18n_lang *l = &t->langs[i];
	static const struct {
		const char *json, *outer, *inner;
	} parts[] = {
		{ "topics", "topics", NULL },
		{ "langName", "langName", NULL },         /* language names in this language */
		{ "canned", "canned", NULL },             /* staff's prepared answers */
		{ "cannedGroup", "cannedGroup", NULL },
		{ "visitor", PKG_CLIENT, "visitor" },
		{ "staff", PKG_CLIENT, "staff" },
	};
	size_t n;

	l->client = json_pack("{s:s, s:s, s:O}", "lang", l->code, "dir", l->rtl ? "rtl" : "ltr",
			      "languages", languages);
	if (l->client == NULL) {
		set_err(err, err_len, "i18n: out of memory");
		return -ENOMEM;
	}
	for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
		json_t *part = client_part(client, parts[p].outer, parts[p].inner);

		if (part == NULL) {
			set_err(err, err_len, "i18n: client/%s.res has no table %s%s%s (or it cannot be read)",
				l->bundle, parts[p].outer, parts[p].inner ? "/" : "",
				parts[p].inner ? parts[p].inner : "");
			return BRUG_E_INTERNAL;
		}
		if (json_object_set_new(l->client, parts[p].json, part) != 0) {
			set_err(err, err_len, "i18n: out of memory");
			return -ENOMEM;
		}
	}
	/* Built once: serving it is then a pointer. */
	n = json_dumpb(l->client, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
	l->client_json = n > 0 ? malloc(n + 1) : NULL;
	if (l->client_json == NULL) {
		set_err(err, err_len, "i18n: out of memory");
		return -ENOMEM;
	}
	json_dumpb(l->client, l->client_json, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
	l->client_json[n] = '\0';
	return 0;
}

struct i18n *i18n_new(const char *locales_dir, const char *const *langs, unsigned n_langs,
		      const char *default_lang, char *err, size_t err_len)
{
	struct bundle_dirs dirs = { 0 };
	UResourceBundle **clients = NULL;
	json_t *languages = NULL;
	struct i18n *t = NULL;
	bool ok = false;

	set_err(err, err_len, "i18n: out of memory");
	if (locales_dir == NULL || locales_dir[0] == '\0') {
		set_err(err, err_len, "i18n: no locales directory");
		return NULL;
	}
	if (langs == NULL || n_langs == 0 || default_lang == NULL) {
		set_err(err, err_len, "i18n: no languages configured");
		return NULL;
	}
	if (dirs_init(&dirs, locales_dir, err, err_len) != 0)
		return NULL;
	t = calloc(1, sizeof *t);
	clients = calloc(n_langs, sizeof *clients);
	languages = json_object();
	if (t == NULL || clients == NULL || languages == NULL)
		goto cleanup;
	t->default_lang = -1;
	t->langs = calloc(n_langs, sizeof *t->langs);
	t->codes = calloc(n_langs, sizeof *t->codes);
	if (t->langs == NULL || t->codes == NULL)
		goto cleanup;

	for (unsigned i = 0; i < n_langs; i++) {
		struct i18n_lang *l = &t->langs[i];
		UResourceBundle *daemon = NULL;
		UErrorCode st = U_ZERO_ERROR;
		json_t *name;
		int r;

		if (langs[i] == NULL || !code_plausible(langs[i])) {
			set_err(err, err_len, "i18n: \"%s\" is not a language code",
				langs[i] == NULL ? "(null)" : langs[i]);
			goto cleanup;
		}
		if (i18n_lang_index(t, langs[i]) >= 0) {
			set_err(err, err_len, "i18n: language %s is listed twice", langs[i]);
			goto cleanup;
		}
		l->code = strdup(langs[i]);
		if (l->code == NULL) {
			set_err(err, err_len, "i18n: out of memory");
			goto cleanup;
		}
		t->codes[i] = l->code;
		t->n_langs = i + 1;
		if (open_bundles(l, &dirs, &daemon, &clients[i], err, err_len) != 0)
			goto cleanup;
		r = open_patterns(l, daemon, err, err_len);
		ures_close(daemon);
		if (r != 0 || open_time_pattern(l, err, err_len) != 0)
			goto cleanup;
		l->rtl = uloc_getCharacterOrientation(l->locale, &st) == ULOC_LAYOUT_RTL && U_SUCCESS(st);
		name = autonym(clients[i]);
		if (name == NULL) {
			set_err(err, err_len, "i18n: client/%s.res has no string meta/autonym", l->bundle);
			goto cleanup;
		}
		if (json_object_set_new(languages, l->code, name) != 0) {
			set_err(err, err_len, "i18n: out of memory");
			goto cleanup;
		}
	}
	t->default_lang = i18n_lang_index(t, default_lang);
	if (t->default_lang < 0) {
		set_err(err, err_len, "i18n: default language %s is not one of the languages", default_lang);
		goto cleanup;
	}
	for (unsigned i = 0; i < n_langs; i++)
		if (build_client_json(t, i, clients[i], languages, err, err_len) != 0)
			goto cleanup;
	set_err(err, err_len, "%s", "");
	ok = true;
cleanup:
	for (unsigned i = 0; clients != NULL && i < n_langs; i++)
		ures_close(clients[i]);
	free(clients);
	json_decref(languages);
	dirs_fini(&dirs);
	if (!ok) {
		i18n_free(t);
		return NULL;
	}
	return t;
}

void i18n_free(struct i18n *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; t->langs != NULL && i < t->n_langs; i++) {
		for (int k = 0; k < I18N__COUNT; k++)
			if (t->langs[i].fmt[k] != NULL)
				umsg_close(t->langs[i].fmt[k]);
		json_decref(t->langs[i].client);
		free(t->langs[i].client_json);
		free(t->langs[i].code);
	}
	free(t->langs);
	free(t->codes);
	free(t);
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
	if (requested != NULL && code_plausible(requested)) {
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

static UChar *utf8_to_uchars(const char *s)
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
static char *uchars_to_utf8(const UChar *u, int32_t len, size_t *out_len)
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
	const char *sig = keys[key].args;
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
			strs[i] = utf8_to_uchars(str_args[i]);
		} else if (have_num) {
			snprintf(numbuf, sizeof numbuf, "%g", num_args[i]);
			strs[i] = utf8_to_uchars(numbuf);
		} else {
			/* Empty picks the `none` case of a select (see keys[]). */
			strs[i] = utf8_to_uchars("none");
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
		res = uchars_to_utf8(text, len, NULL);
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
	res = uchars_to_utf8(joined, len + 1 + extra_len, NULL);
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
	if (brug_error >= BRUG_E_BAD_JSON && brug_error <= BRUG_E_INTERNAL)
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
	return uchars_to_utf8(out, n, NULL);
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
	*out = uchars_to_utf8(text + start, end - start, out_len);
	if (*out == NULL)
		r = -ENOMEM;
cleanup:
	if (bi != NULL)
		ubrk_close(bi);
	secmem_free(norm, (size_t)norm_cap * sizeof *norm);
	secmem_free(u, (size_t)u_cap * sizeof *u);
	return r;
}
