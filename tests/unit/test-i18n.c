/* Unit tests for i18n: loading the compiled bundles, negotiation, direction,
 * every text in every language checked against the bundles' own strings,
 * plural forms, opening times, the web client's JSON, and the intake of user
 * text (UTF-8, NFC, filters, graphemes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <unicode/unum.h>
#include <unicode/upluralrules.h>
#include <unicode/ures.h>
#include <unicode/ustring.h>

#include "brug-build.h"
#include "common.h"
#include "i18n.h"
#include "util/secmem.h"

static const char *const all_langs[] = { "nl", "ar", "ti", "tr", "en" };
#define N_LANGS 5

/* Tuesday 19:00 in Amsterdam: in summer time (CEST, UTC+2) and in winter
 * time (CET, UTC+1). */
#define TUE_JULY_19H 1752598800000LL    /* 2025-07-15T17:00:00Z */
#define TUE_JANUARY_19H 1736877600000LL /* 2025-01-14T18:00:00Z */

/* The compiled bundles: meson builds them before this test runs. */
static const char *locales(void)
{
	const char *env = getenv("BRUG_LOCALES_DIR");

	return env != NULL && env[0] != '\0' ? env : BRUG_LOCALES_BUILD_DIR;
}

static int setup(void **state)
{
	char err[512] = "";
	struct i18n *t = i18n_new(locales(), all_langs, N_LANGS, "nl", err, sizeof err);

	if (t == NULL) {
		fprintf(stderr, "i18n_new: %s\n", err);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	i18n_free(*state);
	return 0;
}

static int idx(const struct i18n *t, const char *code)
{
	int i = i18n_lang_index(t, code);

	assert_true(i >= 0);
	return i;
}

/* ---- reading the bundles directly ------------------------------------------
 * The expected texts come from the compiled bundles themselves, so that a
 * reviewer who improves a translation does not have to change this test. */

/* A string resource by its path ("daemon/queue", "meta/autonym") in a
 * package's bundle, as UTF-8; caller frees. Fails the test if absent. */
static char *bundle_text(const char *pkg, const char *bundle, const char *path)
{
	char dir[4096], part[128], buf[8192];
	char *abs = realpath(locales(), NULL);
	UErrorCode st = U_ZERO_ERROR;
	UResourceBundle *r;
	int32_t len = sizeof buf;
	const char *p = path;

	assert_non_null(abs);
	snprintf(dir, sizeof dir, "%s/%s/", abs, pkg);
	free(abs);
	r = ures_openDirect(dir, bundle, &st);
	while (U_SUCCESS(st) && *p != '\0') {
		size_t n = strcspn(p, "/");

		snprintf(part, sizeof part, "%.*s", (int)n, p);
		r = ures_getByKey(r, part, r, &st);
		p += n + (p[n] == '/');
	}
	if (U_SUCCESS(st))
		ures_getUTF8String(r, buf, &len, true, &st);
	ures_close(r);
	if (U_FAILURE(st))
		fail_msg("%s/%s.res has no string %s: %s", pkg, bundle, path, u_errorName(st));
	return strdup(buf);
}

/* A number as ICU writes it in the locale (Arabic-Indic digits in ar). */
static void local_number(const char *locale, double n, char *out, size_t cap)
{
	UErrorCode st = U_ZERO_ERROR;
	UNumberFormat *f = unum_open(UNUM_DECIMAL, NULL, 0, locale, NULL, &st);
	UChar u[64];

	unum_formatDouble(f, n, u, 64, NULL, &st);
	u_strToUTF8(out, (int32_t)cap, NULL, u, -1, &st);
	unum_close(f);
	assert_false(U_FAILURE(st));
}

/*
 * The text a plural argument shows for n, taken from the bundle's pattern:
 * the "=n" case when the pattern has one, else the case of the plural
 * category ICU's rules give n in that language (Arabic: zero, one, two,
 * few, many, other), else "other"; '#' becomes the localized number. Our
 * patterns quote nothing inside plural cases, which keeps this short.
 */
static char *plural_case(const char *lang, const char *key, int arg, double n)
{
	char path[64], head[32], want[32], keyword[32], num[64], sel[32];
	char *pattern, *p, *res;
	const char *found = NULL, *other = NULL, *exact = NULL;
	size_t found_len = 0, other_len = 0, exact_len = 0;
	UErrorCode st = U_ZERO_ERROR;
	UPluralRules *rules;
	UChar kw[32];

	snprintf(path, sizeof path, "daemon/%s", key);
	pattern = bundle_text("daemon", lang, path);
	snprintf(head, sizeof head, "{%d, plural,", arg);
	p = strstr(pattern, head);
	assert_non_null(p);
	p += strlen(head);
	snprintf(want, sizeof want, "=%g", n);
	rules = uplrules_open(lang, &st);
	uplrules_select(rules, n, kw, 32, &st);
	u_austrcpy(keyword, kw);
	uplrules_close(rules);
	assert_false(U_FAILURE(st));

	for (;;) {
		size_t sl = 0;
		int depth = 1;
		const char *body;

		while (*p == ' ' || *p == '\n')
			p++;
		if (*p == '}' || *p == '\0')
			break;
		while (*p != ' ' && *p != '{' && sl + 1 < sizeof sel)
			sel[sl++] = *p++;
		sel[sl] = '\0';
		while (*p == ' ')
			p++;
		assert_int_equal(*p, '{');
		body = ++p;
		for (; *p != '\0' && depth > 0; p++)
			depth += *p == '{' ? 1 : *p == '}' ? -1 : 0;
		if (strcmp(sel, want) == 0)
			exact = body, exact_len = (size_t)(p - 1 - body);
		if (strcmp(sel, keyword) == 0)
			found = body, found_len = (size_t)(p - 1 - body);
		if (strcmp(sel, "other") == 0)
			other = body, other_len = (size_t)(p - 1 - body);
	}
	if (exact == NULL && found == NULL)
		found = other, found_len = other_len;
	if (exact != NULL)
		found = exact, found_len = exact_len;
	assert_non_null(found);

	local_number(lang, n, num, sizeof num);
	res = calloc(1, found_len * 2 + sizeof num * 4 + 1);
	assert_non_null(res);
	for (size_t i = 0, o = 0; i < found_len; i++) {
		if (found[i] == '#') {
			strcpy(res + o, num);
			o += strlen(num);
		} else {
			res[o++] = found[i];
		}
	}
	free(pattern);
	return res;
}

/* The queue text for a position and a wait, in language code. */
static char *queue(const struct i18n *t, const char *code, double pos, double minutes)
{
	const double nums[2] = { pos, minutes };
	char *s = i18n_format(t, idx(t, code), I18N_QUEUE, 2, nums, NULL);

	assert_non_null(s);
	return s;
}

static void assert_queue(const struct i18n *t, const char *code, double pos, double minutes,
			 const char *expected)
{
	char *s = queue(t, code, pos, minutes);

	assert_string_equal(s, expected);
	free(s);
}

/* The queue text holds, for both arguments, the case the bundle gives. */
static void assert_queue_cases(const struct i18n *t, const char *code, double pos, double minutes)
{
	char *s = queue(t, code, pos, minutes);
	char *a = plural_case(code, "queue", 0, pos);
	char *b = plural_case(code, "queue", 1, minutes < 0 ? -1 : minutes);

	if (strstr(s, a) == NULL || strstr(s, b) == NULL)
		fail_msg("%s queue(%g, %g) = \"%s\", expected \"%s\" and \"%s\"", code, pos, minutes, s, a, b);
	free(a);
	free(b);
	free(s);
}

/* ---- construction ------------------------------------------------------- */

static void test_new_rejects(void **state)
{
	static const char *const dup[] = { "nl", "NL" };
	static const char *const bad[] = { "nl", "a r" };
	char err[512];

	(void)state;
	err[0] = '\0';
	assert_null(i18n_new(locales(), all_langs, N_LANGS, "de", err, sizeof err));
	assert_non_null(strstr(err, "de"));
	err[0] = '\0';
	assert_null(i18n_new(locales(), dup, 2, "nl", err, sizeof err));
	assert_non_null(strstr(err, "twice"));
	err[0] = '\0';
	assert_null(i18n_new(locales(), bad, 2, "nl", err, sizeof err));
	assert_non_null(strstr(err, "a r"));
	assert_null(i18n_new(locales(), all_langs, 0, "nl", err, sizeof err));
	err[0] = '\0';
	assert_null(i18n_new(NULL, all_langs, N_LANGS, "nl", err, sizeof err));
	assert_non_null(strstr(err, "locales"));
	/* No error buffer at all must not crash. */
	assert_null(i18n_new(locales(), all_langs, N_LANGS, "de", NULL, 0));
	i18n_free(NULL);
}

/* A configured language without bundles stops the start with a message
 * that names it; it never gets another language's texts. */
static void test_missing_bundle(void **state)
{
	static const char *const langs[] = { "nl", "fa" };
	static const char *const rooted[] = { "root" };
	char err[512] = "";

	(void)state;
	assert_null(i18n_new(locales(), langs, 2, "nl", err, sizeof err));
	assert_non_null(strstr(err, "language fa"));
	assert_non_null(strstr(err, "fa.res"));
	/* root is the reference bundle, not a language. */
	err[0] = '\0';
	assert_null(i18n_new(locales(), rooted, 1, "root", err, sizeof err));
	assert_non_null(strstr(err, "root"));
	err[0] = '\0';
	assert_null(i18n_new("/nonexistent/brug-locales", langs, 1, "nl", err, sizeof err));
	assert_non_null(strstr(err, "/nonexistent/brug-locales"));
}

/* Copies one compiled bundle into a scratch locales folder. */
static void copy_bundle(const char *from_pkg, const char *to_dir, const char *to_pkg, const char *name)
{
	char from[4096], to[4096], buf[65536];
	FILE *in, *out;
	size_t n;

	snprintf(from, sizeof from, "%s/%s/%s.res", locales(), from_pkg, name);
	snprintf(to, sizeof to, "%s/%s", to_dir, to_pkg);
	mkdir(to, 0700);
	snprintf(to, sizeof to, "%s/%s/%s.res", to_dir, to_pkg, name);
	in = fopen(from, "rb");
	out = fopen(to, "wb");
	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static void remove_scratch(const char *dir)
{
	char p[4096];

	for (int i = 0; i < 2; i++) {
		const char *pkg = i == 0 ? "daemon" : "client";

		snprintf(p, sizeof p, "%s/%s/nl.res", dir, pkg);
		unlink(p);
		snprintf(p, sizeof p, "%s/%s", dir, pkg);
		rmdir(p);
	}
	rmdir(dir);
}

/* A fresh scratch locales folder. ICU caches every bundle it opened (or
 * failed to open) by path, so each case gets its own folder. */
static void scratch(char *dir, size_t cap)
{
	snprintf(dir, cap, "/tmp/brug-i18n-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void test_incomplete_bundles(void **state)
{
	static const char *const nl[] = { "nl" };
	char dir[3][64], err[512] = "";
	struct i18n *t;

	(void)state;
	/* The daemon's texts alone are not enough: the web client's labels
	 * for the language must be there too. */
	scratch(dir[0], sizeof dir[0]);
	copy_bundle("daemon", dir[0], "daemon", "nl");
	assert_null(i18n_new(dir[0], nl, 1, "nl", err, sizeof err));
	assert_non_null(strstr(err, "client"));
	assert_non_null(strstr(err, "nl.res"));
	/* Both: it loads. */
	scratch(dir[1], sizeof dir[1]);
	copy_bundle("daemon", dir[1], "daemon", "nl");
	copy_bundle("client", dir[1], "client", "nl");
	t = i18n_new(dir[1], nl, 1, "nl", err, sizeof err);
	if (t == NULL)
		fail_msg("%s", err);
	i18n_free(t);
	/* A bundle without the daemon's table (here: the client's labels in
	 * its place) is refused with the reason. */
	scratch(dir[2], sizeof dir[2]);
	copy_bundle("client", dir[2], "daemon", "nl");
	copy_bundle("client", dir[2], "client", "nl");
	err[0] = '\0';
	assert_null(i18n_new(dir[2], nl, 1, "nl", err, sizeof err));
	assert_non_null(strstr(err, "daemon"));
	for (int i = 0; i < 3; i++)
		remove_scratch(dir[i]);
}

/* "nl-BE" has no bundles of its own and uses nl's, formatted as Belgian
 * Dutch. */
static void test_regional_code(void **state)
{
	static const char *const langs[] = { "nl-BE", "ar" };
	struct i18n *all = *state;
	struct i18n *t = i18n_new(locales(), langs, 2, "nl-BE", NULL, 0);
	char *a, *b;

	assert_non_null(t);
	assert_string_equal(i18n_lang_code(t, 0), "nl-BE");
	assert_string_equal(i18n_dir(t, 0), "ltr");
	a = i18n_text(t, 0, I18N_ERR_CONFLICT);
	b = i18n_text(all, idx(all, "nl"), I18N_ERR_CONFLICT);
	assert_string_equal(a, b);
	free(a);
	free(b);
	i18n_free(t);
}

/* ---- languages ---------------------------------------------------------- */

static void test_lang_index(void **state)
{
	struct i18n *t = *state;

	assert_int_equal(i18n_lang_index(t, "nl"), 0);
	assert_int_equal(i18n_lang_index(t, "en"), 4);
	assert_int_equal(i18n_lang_index(t, "AR"), 1);
	assert_int_equal(i18n_lang_index(t, "de"), -1);
	assert_int_equal(i18n_lang_index(t, ""), -1);
	assert_int_equal(i18n_lang_index(t, NULL), -1);
	assert_string_equal(i18n_lang_code(t, 2), "ti");
	assert_null(i18n_lang_code(t, 5));
	assert_null(i18n_lang_code(t, -1));
}

static void test_negotiate(void **state)
{
	struct i18n *t = *state;
	int nl = idx(t, "nl"), ar = idx(t, "ar"), ti = idx(t, "ti"), tr = idx(t, "tr"), en = idx(t, "en");

	/* The requested language wins when it is configured. */
	assert_int_equal(i18n_negotiate(t, "ar", NULL), ar);
	assert_int_equal(i18n_negotiate(t, "tr", "ar-MA,ar;q=0.9"), tr);
	assert_int_equal(i18n_negotiate(t, "ar-MA", NULL), ar);
	assert_int_equal(i18n_negotiate(t, "ti_ER", NULL), ti);
	assert_int_equal(i18n_negotiate(t, "EN", NULL), en);
	/* Not configured: Accept-Language decides. */
	assert_int_equal(i18n_negotiate(t, "de", "ti-ER"), ti);
	assert_int_equal(i18n_negotiate(t, "", "tr-TR,de;q=0.9"), tr);
	assert_int_equal(i18n_negotiate(t, "x y", "en-GB"), en);
	assert_int_equal(i18n_negotiate(t, NULL, "ar-MA,ar;q=0.9"), ar);
	assert_int_equal(i18n_negotiate(t, NULL, "ti-ER"), ti);
	assert_int_equal(i18n_negotiate(t, NULL, "de,ar;q=0.5"), ar);
	/* Nothing usable: the default. */
	assert_int_equal(i18n_negotiate(t, NULL, "de"), nl);
	assert_int_equal(i18n_negotiate(t, NULL, "garbage!!"), nl);
	assert_int_equal(i18n_negotiate(t, NULL, ";;;q="), nl);
	assert_int_equal(i18n_negotiate(t, NULL, ""), nl);
	assert_int_equal(i18n_negotiate(t, NULL, NULL), nl);
	assert_int_equal(i18n_negotiate(t, "de", "de"), nl);

	/* Another default is honoured. */
	{
		struct i18n *t2 = i18n_new(locales(), all_langs, N_LANGS, "en", NULL, 0);

		assert_non_null(t2);
		assert_int_equal(i18n_negotiate(t2, NULL, "de"), i18n_lang_index(t2, "en"));
		i18n_free(t2);
	}
}

static void test_dir(void **state)
{
	struct i18n *t = *state;

	assert_string_equal(i18n_dir(t, idx(t, "ar")), "rtl");
	assert_string_equal(i18n_dir(t, idx(t, "nl")), "ltr");
	assert_string_equal(i18n_dir(t, idx(t, "ti")), "ltr");
	assert_string_equal(i18n_dir(t, idx(t, "tr")), "ltr");
	assert_string_equal(i18n_dir(t, idx(t, "en")), "ltr");
	assert_string_equal(i18n_dir(t, 99), "ltr");
}

/* ---- texts -------------------------------------------------------------- */

static bool takes_args(int k)
{
	return k == I18N_QUEUE || k == I18N_CLOSED || k == I18N_NEXT_OPEN || k == I18N_JOINED;
}

static char *format_any(const struct i18n *t, int lang, int k)
{
	const double nums[2] = { 3, 7 };
	const char *const strs[2] = { "Sara", "19:00" };

	if (k == I18N_QUEUE)
		return i18n_format(t, lang, k, 2, nums, NULL);
	if (takes_args(k))
		return i18n_format(t, lang, k, 2, NULL, strs);
	return i18n_text(t, lang, k);
}

static void test_every_key_every_language(void **state)
{
	struct i18n *t = *state;

	for (int l = 0; l < N_LANGS; l++) {
		for (int k = 0; k < I18N__COUNT; k++) {
			char *s = format_any(t, l, k);

			if (s == NULL || s[0] == '\0')
				fail_msg("key %d in %s is empty", k, all_langs[l]);
			/* An unformatted pattern would still show its braces. */
			if (strchr(s, '{') != NULL || strchr(s, '}') != NULL)
				fail_msg("key %d in %s left a placeholder: %s", k, all_langs[l], s);
			if (k == I18N_JOINED || k == I18N_CLOSED || k == I18N_NEXT_OPEN)
				assert_non_null(strstr(s, "Sara"));
			if (k == I18N_NEXT_OPEN)
				assert_non_null(strstr(s, "19:00"));
			free(s);
		}
	}
	/* Out of range language: the default; out of range key: nothing. */
	{
		char *a = i18n_text(t, 42, I18N_ERR_CONFLICT), *b = i18n_text(t, 0, I18N_ERR_CONFLICT);

		assert_string_equal(a, b);
		free(a);
		free(b);
		assert_null(i18n_text(t, 0, I18N__COUNT));
	}
}

/* A text without arguments is shown exactly as the bundle has it: nothing
 * in it is taken for MessageFormat syntax (the Turkish "112'yi" keeps its
 * apostrophe), and every language has its own text. */
static void test_texts_are_the_bundles(void **state)
{
	static const char *const names[I18N__COUNT] = {
		[I18N_REQUEUED] = "requeued", [I18N_ENDED_VISITOR] = "ended_visitor",
		[I18N_ENDED_STAFF] = "ended_staff", [I18N_ENDED_TIMEOUT] = "ended_timeout",
		[I18N_ENDED_SHUTDOWN] = "ended_shutdown", [I18N_ALTERNATIVES] = "alternatives",
		[I18N_ERR_BAD_JSON] = "err_bad_json", [I18N_ERR_BAD_TYPE] = "err_bad_type",
		[I18N_ERR_BAD_FIELD] = "err_bad_field", [I18N_ERR_TOO_LONG] = "err_too_long",
		[I18N_ERR_RATE_LIMITED] = "err_rate_limited", [I18N_ERR_UNAUTHORIZED] = "err_unauthorized",
		[I18N_ERR_FORBIDDEN] = "err_forbidden", [I18N_ERR_NOT_FOUND] = "err_not_found",
		[I18N_ERR_CONFLICT] = "err_conflict", [I18N_ERR_CLOSED] = "err_closed",
		[I18N_ERR_INTERNAL] = "err_internal", [I18N_ERR_UNAVAILABLE] = "err_unavailable",
		[I18N_ERR_BUSY] = "err_busy", [I18N_ERR_NOT_AVAILABLE] = "err_not_available",
	};
	struct i18n *t = *state;
	char *s;

	for (int l = 0; l < N_LANGS; l++) {
		for (int k = 0; k < I18N__COUNT; k++) {
			char path[64], *want;

			if (takes_args(k))
				continue;
			assert_non_null(names[k]);
			snprintf(path, sizeof path, "daemon/%s", names[k]);
			want = bundle_text("daemon", all_langs[l], path);
			s = i18n_text(t, l, k);
			assert_string_equal(s, want);
			free(s);
			free(want);
		}
	}
	s = i18n_text(t, idx(t, "tr"), I18N_ALTERNATIVES);
	assert_non_null(strstr(s, "112'yi"));
	free(s);

	for (int k = 0; k < I18N__COUNT; k++) {
		if (takes_args(k))
			continue;
		for (int a = 0; a < N_LANGS; a++) {
			for (int b = a + 1; b < N_LANGS; b++) {
				char *sa = i18n_text(t, a, k), *sb = i18n_text(t, b, k);

				if (strcmp(sa, sb) == 0)
					fail_msg("key %d same in %s and %s", k, all_langs[a], all_langs[b]);
				free(sa);
				free(sb);
			}
		}
	}
}

/* Arabic has all six plural categories; each wait picks its own case of
 * the bundle's pattern, with Arabic-Indic digits. */
static void test_queue_arabic_plurals(void **state)
{
	struct i18n *t = *state;
	const double minutes[] = { 0, 1, 2, 3, 11, 100 };
	char *out[6];

	for (int i = 0; i < 6; i++)
		assert_queue_cases(t, "ar", 4, minutes[i]);
	/* few and many cover ranges, not single values. */
	assert_queue_cases(t, "ar", 4, 10);
	assert_queue_cases(t, "ar", 4, 99);
	assert_queue_cases(t, "ar", 1, 2);
	assert_queue_cases(t, "ar", 2, -1);

	for (int i = 0; i < 6; i++)
		out[i] = queue(t, "ar", 4, minutes[i]);
	for (int i = 0; i < 6; i++)
		for (int j = i + 1; j < 6; j++)
			assert_string_not_equal(out[i], out[j]);
	/* ICU writes Arabic numbers with Arabic-Indic digits. */
	assert_non_null(strstr(out[0], "\u0664"));  /* ٤ */
	assert_non_null(strstr(out[5], "\u0661\u0660\u0660")); /* ١٠٠ */
	for (int i = 0; i < 6; i++)
		free(out[i]);
}

static void test_queue_other_plurals(void **state)
{
	struct i18n *t = *state;
	static const char *const langs[] = { "nl", "tr", "ti", "en" };
	const double minutes[] = { -1, 0, 1, 2, 5, 11, 100 };

	for (size_t l = 0; l < sizeof langs / sizeof langs[0]; l++) {
		for (size_t m = 0; m < sizeof minutes / sizeof minutes[0]; m++) {
			assert_queue_cases(t, langs[l], 3, minutes[m]);
			assert_queue_cases(t, langs[l], 1, minutes[m]);
		}
		/* Any negative wait means no estimate, not "about -3 minutes". */
		assert_queue_cases(t, langs[l], 2, -3);
	}
	/* Tigrinya counts 0 as "one"; the explicit =0 must still win. */
	{
		char *zero = queue(t, "ti", 3, 0), *one = queue(t, "ti", 3, 1);

		assert_string_not_equal(zero, one);
		free(zero);
		free(one);
	}
	/* English is ours: exact texts. */
	assert_queue(t, "en", 3, 1, "You are number 3 in line. It will take about one minute.");
	assert_queue(t, "en", 3, 2, "You are number 3 in line. It will take about 2 minutes.");
	assert_queue(t, "en", 1, 2, "You are first in line. It will take about 2 minutes.");
	assert_queue(t, "en", 2, -1, "You are number 2 in line. We do not know yet how long it will take.");
	assert_queue(t, "en", 2, -3, "You are number 2 in line. We do not know yet how long it will take.");
	/* Numbers use the language's grouping. */
	assert_queue(t, "en", 12000, 5, "You are number 12,000 in line. It will take about 5 minutes.");
	{
		char *s = queue(t, "nl", 12000, 5);

		assert_non_null(strstr(s, "12.000"));
		free(s);
	}
}

static void test_closed(void **state)
{
	struct i18n *t = *state;
	const char *const none[1] = { "" };
	const char *const when[1] = { "maandag 18:00" };
	int en = idx(t, "en");
	char *s;

	s = i18n_format(t, en, I18N_CLOSED, 1, NULL, none);
	assert_string_equal(s, "Right now nobody is available in your language. In an emergency, call 112. "
			       "Veilig Thuis (advice and reports about domestic violence): 0800-2000, free, "
			       "day and night.");
	free(s);
	s = i18n_format(t, en, I18N_CLOSED, 1, NULL, when);
	assert_string_equal(s, "Right now nobody is available in your language. Someone will be there again "
			       "from \u2068maandag 18:00\u2069. In an emergency, call 112. Veilig Thuis (advice "
			       "and reports about domestic violence): 0800-2000, free, day and night.");
	free(s);
	/* Without arguments at all it reads as "no next opening". */
	s = i18n_text(t, en, I18N_CLOSED);
	assert_string_equal(s, "Right now nobody is available in your language. In an emergency, call 112. "
			       "Veilig Thuis (advice and reports about domestic violence): 0800-2000, free, "
			       "day and night.");
	free(s);
	for (int l = 0; l < N_LANGS; l++) {
		char *alt = i18n_text(t, l, I18N_ALTERNATIVES);

		/* Every language carries the emergency numbers, once. */
		s = i18n_format(t, l, I18N_CLOSED, 1, NULL, none);
		assert_non_null(strstr(s, "112"));
		assert_non_null(strstr(s, "0800-2000"));
		assert_null(strstr(strstr(s, "0800-2000") + 1, "0800-2000"));
		assert_non_null(strstr(s, alt));
		free(s);
		/* The time is isolated, whatever the language's direction. */
		s = i18n_format(t, l, I18N_CLOSED, 1, NULL, when);
		assert_non_null(strstr(s, "\u2068maandag 18:00\u2069"));
		assert_non_null(strstr(s, alt));
		free(s);
		free(alt);
	}
}

static void test_joined(void **state)
{
	struct i18n *t = *state;
	const char *const alias[1] = { "Sara" };
	const char *const arabic[1] = { "سارة" };
	char *s;

	s = i18n_format(t, idx(t, "en"), I18N_JOINED, 1, NULL, alias);
	assert_string_equal(s, "\u2068Sara\u2069 has joined the chat.");
	free(s);
	/* A Latin name in Arabic text and an Arabic one in Dutch text both
	 * stay isolated, so neither reorders the sentence. */
	s = i18n_format(t, idx(t, "ar"), I18N_JOINED, 1, NULL, alias);
	assert_non_null(strstr(s, "\u2068Sara\u2069"));
	free(s);
	s = i18n_format(t, idx(t, "nl"), I18N_JOINED, 1, NULL, arabic);
	assert_non_null(strstr(s, "\u2068سارة\u2069"));
	free(s);
	s = i18n_text(t, idx(t, "en"), I18N_REQUEUED);
	assert_string_equal(s, "Your helper lost their connection. You are first in line again.");
	free(s);
}

static void test_errors(void **state)
{
	struct i18n *t = *state;
	int en = idx(t, "en");
	static const struct {
		int code;
		const char *text;
	} cases[] = {
		{ BRUG_E_BAD_JSON, "The message could not be read." },
		{ BRUG_E_TOO_LONG, "Your message is too long. Please make it shorter." },
		{ BRUG_E_RATE_LIMITED, "Please slow down a little." },
		{ BRUG_E_UNAUTHORIZED, "Login failed. Check your name and password." },
		{ BRUG_E_FORBIDDEN, "You are not allowed to do that." },
		{ BRUG_E_CONFLICT, "That is not possible right now." },
		{ BRUG_E_INTERNAL, "Something went wrong on our side. Please try again." },
		/* Unknown codes and errno values are our failures. */
		{ -12, "Something went wrong on our side. Please try again." },
		{ 0, "Something went wrong on our side. Please try again." },
		{ BRUG_E__COUNT, "Something went wrong on our side. Please try again." },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = i18n_error(t, en, cases[i].code);

		assert_string_equal(s, cases[i].text);
		free(s);
	}
	/* Every code has its own text in every language. */
	for (int l = 0; l < N_LANGS; l++) {
		for (int a = BRUG_E_BAD_JSON; a < BRUG_E__COUNT; a++) {
			char *sa = i18n_error(t, l, a);

			for (int b = a + 1; b < BRUG_E__COUNT; b++) {
				char *sb = i18n_error(t, l, b);

				if (strcmp(sa, sb) == 0)
					fail_msg("codes %d and %d share a text in %s", a, b, all_langs[l]);
				free(sb);
			}
			free(sa);
		}
	}
}

/* ---- opening times ---------------------------------------------------------- */

/* The next_open text of the bundle with this weekday and time. */
static char *next_open(const struct i18n *t, const char *code, const char *day, const char *time)
{
	const char *const args[2] = { day, time };
	char *s = i18n_format(t, idx(t, code), I18N_NEXT_OPEN, 2, NULL, args);

	assert_non_null(s);
	return s;
}

static void assert_time(const struct i18n *t, const char *code, int64_t when, const char *tz,
			const char *day, const char *time)
{
	char *got = i18n_format_time(t, idx(t, code), when, tz);
	char *want = next_open(t, code, day, time);

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("%s at %lld in %s: \"%s\", expected \"%s\"", code, (long long)when, tz, got, want);
	free(got);
	free(want);
}

/* Weekday names are ICU's (CLDR's), the words around them the bundle's. */
static void test_format_time(void **state)
{
	struct i18n *t = *state;
	static const int64_t both[2] = { TUE_JULY_19H, TUE_JANUARY_19H };

	/* 19:00 in summer time and in winter time alike: the zone's rules,
	 * not a fixed offset. */
	for (int i = 0; i < 2; i++) {
		assert_time(t, "nl", both[i], "Europe/Amsterdam", "dinsdag", "19:00");
		assert_time(t, "tr", both[i], "Europe/Amsterdam", "Salı", "19:00");
		assert_time(t, "en", both[i], "Europe/Amsterdam", "Tuesday", "19:00");
		assert_time(t, "ar", both[i], "Europe/Amsterdam", "الثلاثاء", "١٩:٠٠");
		/* ICU 72 has Tigrinya weekday names (CLDR): ሰሉስ is Tuesday. */
		assert_time(t, "ti", both[i], "Europe/Amsterdam", "ሰሉስ", "19:00");
	}
	/* The same moments elsewhere: São Paulo keeps UTC-3 all year. */
	assert_time(t, "nl", TUE_JULY_19H, "America/Sao_Paulo", "dinsdag", "14:00");
	assert_time(t, "nl", TUE_JANUARY_19H, "America/Sao_Paulo", "dinsdag", "15:00");
	/* Crossing midnight changes the day. */
	assert_time(t, "en", TUE_JULY_19H, "Asia/Tokyo", "Wednesday", "02:00");
	/* Out of range language: the default's. */
	{
		char *a = i18n_format_time(t, 77, TUE_JULY_19H, "Europe/Amsterdam");
		char *b = next_open(t, "nl", "dinsdag", "19:00");

		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	/* A zone ICU does not know gives nothing, not a time in GMT. */
	assert_null(i18n_format_time(t, 0, TUE_JULY_19H, "Mars/Olympus_Mons"));
	assert_null(i18n_format_time(t, 0, TUE_JULY_19H, "Etc/Unknown"));
	assert_null(i18n_format_time(t, 0, TUE_JULY_19H, ""));
	assert_null(i18n_format_time(t, 0, TUE_JULY_19H, NULL));
	assert_null(i18n_format_time(NULL, 0, TUE_JULY_19H, "Europe/Amsterdam"));
}

static void test_closed_with_time(void **state)
{
	struct i18n *t = *state;

	for (int l = 0; l < N_LANGS; l++) {
		char *when = i18n_format_time(t, l, TUE_JANUARY_19H, "Europe/Amsterdam");
		const char *const args[1] = { when };
		char *s = i18n_format(t, l, I18N_CLOSED, 1, NULL, args);
		char isolated[256];

		snprintf(isolated, sizeof isolated, "\u2068%s\u2069", when);
		assert_non_null(strstr(s, isolated));
		free(s);
		free(when);
	}
}

static void test_timezone_valid(void **state)
{
	(void)state;
	assert_true(i18n_timezone_valid("Europe/Amsterdam"));
	assert_true(i18n_timezone_valid("America/Sao_Paulo"));
	assert_true(i18n_timezone_valid("UTC"));
	assert_false(i18n_timezone_valid("Europe/Amsterdan"));
	assert_false(i18n_timezone_valid("Etc/Unknown"));
	assert_false(i18n_timezone_valid(""));
	assert_false(i18n_timezone_valid(NULL));
}

/* ---- the web client's labels -------------------------------------------------- */

/* Tables became objects and strings strings, all the way down. */
static void assert_labels(const json_t *j, const char *where)
{
	const char *key;
	json_t *v;

	if (!json_is_object(j))
		fail_msg("%s is not an object", where);
	json_object_foreach((json_t *)j, key, v) {
		if (json_is_object(v))
			assert_labels(v, key);
		else if (!json_is_string(v) || json_string_length(v) == 0)
			fail_msg("%s/%s is not a non-empty string", where, key);
	}
}

/* Both objects have the same keys, recursively. */
static void assert_same_keys(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;

	assert_int_equal(json_object_size(a), json_object_size(b));
	json_object_foreach((json_t *)a, key, v) {
		json_t *w = json_object_get(b, key);

		if (w == NULL)
			fail_msg("key %s missing", key);
		if (json_is_object(v))
			assert_same_keys(v, w);
	}
}

static json_t *client(const struct i18n *t, const char *code)
{
	const char *text = i18n_client_json(t, idx(t, code));
	json_error_t e;
	json_t *j;

	assert_non_null(text);
	j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL)
		fail_msg("%s.json does not parse: %s", code, e.text);
	return j;
}

static void test_client_json(void **state)
{
	struct i18n *t = *state;
	json_t *en = client(t, "en");

	for (int l = 0; l < N_LANGS; l++) {
		json_t *j = client(t, all_langs[l]), *langs;
		const char *code;
		json_t *v;
		char *want;

		/* lang, dir, languages, topics, langName, canned, cannedGroup,
		 * visitor, staff. */
		assert_int_equal(json_object_size(j), 9);
		assert_string_equal(json_string_value(json_object_get(j, "lang")), all_langs[l]);
		assert_string_equal(json_string_value(json_object_get(j, "dir")), i18n_dir(t, l));
		/* Every configured language under its own name, in its own
		 * script, whatever the page's language. */
		langs = json_object_get(j, "languages");
		assert_int_equal(json_object_size(langs), N_LANGS);
		json_object_foreach(langs, code, v) {
			want = bundle_text("client", code, "meta/autonym");
			assert_string_equal(json_string_value(v), want);
			free(want);
		}
		assert_labels(json_object_get(j, "topics"), "topics");
		assert_labels(json_object_get(j, "visitor"), "visitor");
		assert_labels(json_object_get(j, "staff"), "staff");
		want = bundle_text("client", all_langs[l], "topics/forced_marriage");
		assert_string_equal(json_string_value(json_object_get(json_object_get(j, "topics"),
									"forced_marriage")), want);
		free(want);
		want = bundle_text("client", all_langs[l], "canned/general/welcome");
		assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(j, "canned"),
					"general"), "welcome")), want);
		free(want);
		want = bundle_text("client", all_langs[l], "langName/ti");
		assert_string_equal(json_string_value(json_object_get(json_object_get(j, "langName"), "ti")), want);
		free(want);
		assert_same_keys(json_object_get(j, "cannedGroup"), json_object_get(en, "cannedGroup"));
		want = bundle_text("client", all_langs[l], "client/visitor/start");
		assert_string_equal(json_string_value(json_object_get(json_object_get(j, "visitor"), "start")),
				    want);
		free(want);
		assert_same_keys(json_object_get(j, "visitor"), json_object_get(en, "visitor"));
		assert_same_keys(json_object_get(j, "staff"), json_object_get(en, "staff"));
		assert_same_keys(json_object_get(j, "topics"), json_object_get(en, "topics"));
		json_decref(j);
	}
	json_decref(en);
	{
		json_t *ar = client(t, "ar");

		assert_string_equal(json_string_value(json_object_get(ar, "dir")), "rtl");
		assert_string_equal(json_string_value(json_object_get(json_object_get(ar, "languages"), "ar")),
				    "العربية");
		json_decref(ar);
	}
	/* Built once: the same text every time; nothing for other languages. */
	assert_ptr_equal(i18n_client_json(t, 0), i18n_client_json(t, 0));
	assert_null(i18n_client_json(t, -1));
	assert_null(i18n_client_json(t, N_LANGS));
	assert_null(i18n_client_json(NULL, 0));
}

/* Only the configured languages are offered in the language list. */
static void test_client_json_subset(void **state)
{
	static const char *const two[] = { "ar", "nl" };
	struct i18n *t = i18n_new(locales(), two, 2, "nl", NULL, 0);
	json_t *j, *langs;

	(void)state;
	assert_non_null(t);
	j = client(t, "nl");
	langs = json_object_get(j, "languages");
	assert_int_equal(json_object_size(langs), 2);
	assert_non_null(json_object_get(langs, "ar"));
	assert_non_null(json_object_get(langs, "nl"));
	json_decref(j);
	i18n_free(t);
}

static void test_topic_label(void **state)
{
	struct i18n *t = *state;

	for (int l = 0; l < N_LANGS; l++) {
		char *want = bundle_text("client", all_langs[l], "topics/fgm");

		assert_string_equal(i18n_topic_label(t, l, "fgm"), want);
		free(want);
	}
	assert_null(i18n_topic_label(t, 0, "no_such_topic"));
	assert_null(i18n_topic_label(t, 0, NULL));
	assert_string_equal(i18n_topic_label(t, 99, "lgbti"), i18n_topic_label(t, 0, "lgbti"));
}

/* ---- intake ------------------------------------------------------------- */

static void assert_intake(const char *in, size_t len, unsigned max, const char *expected)
{
	char *out = (char *)0x1;
	size_t out_len = 12345;
	int r = i18n_intake(in, len, max, &out, &out_len);

	if (r != 0)
		fail_msg("intake returned %d for \"%s\"", r, expected);
	assert_non_null(out);
	assert_string_equal(out, expected);
	assert_int_equal(out_len, strlen(expected));
	secmem_free_str(out);
}

static void assert_intake_fails(const char *in, size_t len, unsigned max, int expected)
{
	char *out = (char *)0x1;
	size_t out_len = 12345;

	assert_int_equal(i18n_intake(in, len, max, &out, &out_len), expected);
	assert_null(out);
	assert_int_equal(out_len, 0);
}

#define INTAKE(s, max, expected) assert_intake(s, sizeof(s) - 1, max, expected)
#define INTAKE_FAILS(s, max, r) assert_intake_fails(s, sizeof(s) - 1, max, r)

static void test_intake_normalizes(void **state)
{
	(void)state;
	INTAKE("e\u0301", 10, "\u00e9");
	INTAKE("Cafe\xcc\x81 ok", 10, "Caf\xc3\xa9 ok");
	/* Already NFC text is passed through untouched. */
	INTAKE("gewoon tekst", 100, "gewoon tekst");
	/* The filter runs first, so a hidden override cannot keep a base and
	 * its accent apart. */
	INTAKE("e\u202e\u0301", 10, "\u00e9");
}

static void test_intake_filters(void **state)
{
	(void)state;
	INTAKE("abc\u202edef\u2066x\u2069", 100, "abcdefx");
	INTAKE("\u202a\u202b\u202c\u202dok\u2067\u2068", 100, "ok");
	INTAKE("a\x01" "b\x1b[31mc\x7f" "d", 100, "ab[31mcd");
	INTAKE("a\xc2\x85" "b\xc2\x9f" "c", 100, "abc");
	INTAKE("regel 1\nregel 2\tmet tab", 100, "regel 1\nregel 2\tmet tab");
	INTAKE("windows\r\nregel", 100, "windows\nregel");
	/* A NUL byte inside the text is a control character like the rest. */
	assert_intake("a\0b", 3, 100, "ab");
	/* Left-to-right and right-to-left marks are not overrides and stay. */
	INTAKE("\u200fمرحبا\u200e", 100, "\u200fمرحبا\u200e");
}

static void test_intake_trims(void **state)
{
	(void)state;
	INTAKE("  \t hallo \n ", 100, "hallo");
	INTAKE("\u00a0\u3000hallo\u2003", 100, "hallo");
	INTAKE("\n\nboven\n\nonder\n", 100, "boven\n\nonder");
}

static void test_intake_rejects_empty(void **state)
{
	(void)state;
	INTAKE_FAILS("", 100, BRUG_E_BAD_FIELD);
	INTAKE_FAILS("   \n\t ", 100, BRUG_E_BAD_FIELD);
	INTAKE_FAILS("\u202e \u2069\x01", 100, BRUG_E_BAD_FIELD);
	assert_intake_fails(NULL, 0, 100, BRUG_E_BAD_FIELD);
}

static void test_intake_rejects_invalid_utf8(void **state)
{
	(void)state;
	INTAKE_FAILS("a\xc0\x80" "b", 100, BRUG_E_BAD_FIELD);     /* overlong NUL */
	INTAKE_FAILS("\xe0\x80\xaf", 100, BRUG_E_BAD_FIELD);       /* overlong '/' */
	INTAKE_FAILS("a\xed\xa0\x80" "b", 100, BRUG_E_BAD_FIELD);  /* lone surrogate */
	INTAKE_FAILS("\xed\xb0\x80", 100, BRUG_E_BAD_FIELD);       /* low surrogate */
	INTAKE_FAILS("\xf4\x90\x80\x80", 100, BRUG_E_BAD_FIELD);   /* past U+10FFFF */
	INTAKE_FAILS("abc\xe2\x82", 100, BRUG_E_BAD_FIELD);        /* truncated */
	INTAKE_FAILS("\x80" "abc", 100, BRUG_E_BAD_FIELD);         /* stray continuation */
	INTAKE_FAILS("\xff\xfe", 100, BRUG_E_BAD_FIELD);
	/* The largest valid code point still passes. */
	INTAKE("\xf4\x8f\xbf\xbf", 100, "\xf4\x8f\xbf\xbf");
}

static void test_intake_graphemes(void **state)
{
#define FAMILY "\U0001F468\u200d\U0001F469\u200d\U0001F467"
	static const char arabic[] = "مَرْحَبًا"; /* five letters with their vowel marks */

	(void)state;
	INTAKE("abc", 3, "abc");
	INTAKE_FAILS("abcd", 3, BRUG_E_TOO_LONG);
	INTAKE_FAILS("a", 0, BRUG_E_TOO_LONG);
	/* Trimmed white space does not count. */
	INTAKE("  abc  ", 3, "abc");

	INTAKE(FAMILY, 1, FAMILY);
	INTAKE_FAILS(FAMILY, 0, BRUG_E_TOO_LONG);
	INTAKE(FAMILY "x", 2, FAMILY "x");
	INTAKE_FAILS(FAMILY "xy", 2, BRUG_E_TOO_LONG);

	INTAKE(arabic, 5, arabic);
	INTAKE_FAILS(arabic, 4, BRUG_E_TOO_LONG);

	INTAKE("ሰላም", 3, "ሰላም");
	INTAKE_FAILS("ሰላም", 2, BRUG_E_TOO_LONG);

	/* A decomposed accent is one character before and after NFC. */
	INTAKE("e\u0301e\u0301", 2, "\u00e9\u00e9");
	/* A flag is two code points and one character. */
	INTAKE("\U0001F1F3\U0001F1F1", 1, "\U0001F1F3\U0001F1F1");
}

static void test_intake_preserves(void **state)
{
	(void)state;
	/* Turkish dotted capital and dotless small i survive unchanged. */
	INTAKE("İstanbul ılık", 100, "İstanbul ılık");
	INTAKE("IİıiĞğŞş", 100, "IİıiĞğŞş");
	/* Arabic and Dutch in one message, digits included. */
	INTAKE("مرحبا, hoe gaat het? شكرا 123 ١٢٣", 100, "مرحبا, hoe gaat het? شكرا 123 ١٢٣");
	/* Shadda with fatha: NFC reorders the marks, the letter count stays. */
	INTAKE("\u0634\u0651\u064e\u062f", 2, "\u0634\u064e\u0651\u062f");
	INTAKE_FAILS("\u0634\u0651\u064e\u062f", 1, BRUG_E_TOO_LONG);
	INTAKE("ሰላም ነዓኹም", 100, "ሰላም ነዓኹም");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects),
		cmocka_unit_test(test_missing_bundle),
		cmocka_unit_test(test_incomplete_bundles),
		cmocka_unit_test(test_regional_code),
		cmocka_unit_test(test_lang_index),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_dir),
		cmocka_unit_test(test_every_key_every_language),
		cmocka_unit_test(test_texts_are_the_bundles),
		cmocka_unit_test(test_queue_arabic_plurals),
		cmocka_unit_test(test_queue_other_plurals),
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_joined),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_closed_with_time),
		cmocka_unit_test(test_timezone_valid),
		cmocka_unit_test(test_client_json),
		cmocka_unit_test(test_client_json_subset),
		cmocka_unit_test(test_topic_label),
		cmocka_unit_test(test_intake_normalizes),
		cmocka_unit_test(test_intake_filters),
		cmocka_unit_test(test_intake_trims),
		cmocka_unit_test(test_intake_rejects_empty),
		cmocka_unit_test(test_intake_rejects_invalid_utf8),
		cmocka_unit_test(test_intake_graphemes),
		cmocka_unit_test(test_intake_preserves),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
