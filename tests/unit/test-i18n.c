/* Unit tests for i18n: negotiation, direction, every text in every language,
 * plural forms, and the intake of user text (UTF-8, NFC, filters, graphemes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common.h"
#include "i18n.h"
#include "util/secmem.h"

static const char *const all_langs[] = { "nl", "ar", "ti", "tr", "en" };
#define N_LANGS 5

static int setup(void **state)
{
	char err[256] = "";
	struct i18n *t = i18n_new(all_langs, N_LANGS, "nl", err, sizeof err);

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

/* ---- construction ------------------------------------------------------- */

static void test_new_rejects(void **state)
{
	static const char *const dup[] = { "nl", "NL" };
	static const char *const bad[] = { "nl", "a r" };
	char err[256];

	(void)state;
	err[0] = '\0';
	assert_null(i18n_new(all_langs, N_LANGS, "de", err, sizeof err));
	assert_non_null(strstr(err, "de"));
	err[0] = '\0';
	assert_null(i18n_new(dup, 2, "nl", err, sizeof err));
	assert_non_null(strstr(err, "twice"));
	err[0] = '\0';
	assert_null(i18n_new(bad, 2, "nl", err, sizeof err));
	assert_non_null(strstr(err, "a r"));
	assert_null(i18n_new(all_langs, 0, "nl", err, sizeof err));
	/* No error buffer at all must not crash. */
	assert_null(i18n_new(all_langs, N_LANGS, "de", NULL, 0));
	i18n_free(NULL);
}

static void test_fallback_language(void **state)
{
	static const char *const langs[] = { "nl", "fa" };
	struct i18n *t, *all = *state;
	char *fa, *en;

	t = i18n_new(langs, 2, "nl", NULL, 0);
	assert_non_null(t);
	assert_int_equal(i18n_lang_index(t, "fa"), 1);
	assert_string_equal(i18n_lang_code(t, 1), "fa");
	/* English texts, so laid out left to right like them. */
	assert_string_equal(i18n_dir(t, 1), "ltr");
	fa = i18n_text(t, 1, I18N_ERR_CONFLICT);
	en = i18n_text(all, idx(all, "en"), I18N_ERR_CONFLICT);
	assert_non_null(fa);
	assert_non_null(en);
	assert_string_equal(fa, en);
	free(fa);
	free(en);
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
		struct i18n *t2 = i18n_new(all_langs, N_LANGS, "en", NULL, 0);

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
	assert_string_equal(i18n_dir(t, 99), "ltr");
}

/* ---- texts -------------------------------------------------------------- */

static void test_every_key_every_language(void **state)
{
	struct i18n *t = *state;
	const double nums[2] = { 3, 7 };
	const char *const strs[2] = { "Sara", NULL };

	for (int l = 0; l < N_LANGS; l++) {
		for (int k = 0; k < I18N__COUNT; k++) {
			char *s;

			if (k == I18N_QUEUE)
				s = i18n_format(t, l, k, 2, nums, NULL);
			else if (k == I18N_CLOSED || k == I18N_JOINED)
				s = i18n_format(t, l, k, 1, NULL, strs);
			else
				s = i18n_text(t, l, k);
			if (s == NULL || s[0] == '\0')
				fail_msg("key %d in %s is empty", k, all_langs[l]);
			/* An unformatted pattern would still show its braces. */
			if (strchr(s, '{') != NULL || strchr(s, '}') != NULL)
				fail_msg("key %d in %s left a placeholder: %s", k, all_langs[l], s);
			if (k == I18N_JOINED || k == I18N_CLOSED)
				assert_non_null(strstr(s, "Sara"));
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

/* Each language's texts differ from every other language's: a column copied
 * by mistake would show up here. */
static void test_languages_differ(void **state)
{
	struct i18n *t = *state;

	for (int k = 0; k < I18N__COUNT; k++) {
		if (k == I18N_QUEUE || k == I18N_CLOSED || k == I18N_JOINED)
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

static void test_queue_arabic_plurals(void **state)
{
	struct i18n *t = *state;
	const double minutes[] = { 0, 1, 2, 3, 11, 100 };
	char *out[6];

	/* zero, one, two, few, many, other, each the form the table gives for
	 * it; ICU writes Arabic with Arabic-Indic digits. */
	assert_queue(t, "ar", 4, 0, "دورك رقم ٤ في قائمة الانتظار. مدة الانتظار المتوقعة أقل من دقيقة.");
	assert_queue(t, "ar", 4, 1, "دورك رقم ٤ في قائمة الانتظار. مدة الانتظار المتوقعة دقيقة واحدة تقريبًا.");
	assert_queue(t, "ar", 4, 2, "دورك رقم ٤ في قائمة الانتظار. مدة الانتظار المتوقعة دقيقتان تقريبًا.");
	assert_queue(t, "ar", 4, 3, "دورك رقم ٤ في قائمة الانتظار. مدة الانتظار المتوقعة ٣ دقائق تقريبًا.");
	assert_queue(t, "ar", 4, 11, "دورك رقم ٤ في قائمة الانتظار. مدة الانتظار المتوقعة ١١ دقيقةً تقريبًا.");
	assert_queue(t, "ar", 4, 100, "دورك رقم ٤ في قائمة الانتظار. مدة الانتظار المتوقعة ١٠٠ دقيقة تقريبًا.");
	/* few and many cover ranges, not single values. */
	assert_queue(t, "ar", 4, 10, "دورك رقم ٤ في قائمة الانتظار. مدة الانتظار المتوقعة ١٠ دقائق تقريبًا.");
	assert_queue(t, "ar", 4, 99, "دورك رقم ٤ في قائمة الانتظار. مدة الانتظار المتوقعة ٩٩ دقيقةً تقريبًا.");
	assert_queue(t, "ar", 1, 2, "دورك هو الأول في قائمة الانتظار. مدة الانتظار المتوقعة دقيقتان تقريبًا.");

	for (int i = 0; i < 6; i++)
		out[i] = queue(t, "ar", 4, minutes[i]);
	for (int i = 0; i < 6; i++)
		for (int j = i + 1; j < 6; j++)
			assert_string_not_equal(out[i], out[j]);
	for (int i = 0; i < 6; i++)
		free(out[i]);
}

static void test_queue_other_plurals(void **state)
{
	struct i18n *t = *state;

	assert_queue(t, "nl", 3, 1, "Je bent nummer 3 in de rij. Het duurt nog ongeveer één minuut.");
	assert_queue(t, "nl", 3, 2, "Je bent nummer 3 in de rij. Het duurt nog ongeveer 2 minuten.");
	assert_queue(t, "nl", 1, 0, "Je bent de eerste in de rij. Het duurt nog minder dan een minuut.");
	assert_queue(t, "en", 3, 1, "You are number 3 in line. It will take about one minute.");
	assert_queue(t, "en", 3, 2, "You are number 3 in line. It will take about 2 minutes.");
	assert_queue(t, "en", 1, 2, "You are first in line. It will take about 2 minutes.");
	assert_queue(t, "tr", 3, 1, "Sırada 3. kişisiniz. Bekleme süresi yaklaşık bir dakika.");
	assert_queue(t, "tr", 3, 2, "Sırada 3. kişisiniz. Bekleme süresi yaklaşık 2 dakika.");
	assert_queue(t, "ti", 3, 1, "ኣብ መስርዕ ተራኹም ቁጽሪ 3 እዩ። ምጽባይ ኣስታት ሓደ ደቒቕ እዩ።");
	assert_queue(t, "ti", 3, 2, "ኣብ መስርዕ ተራኹም ቁጽሪ 3 እዩ። ምጽባይ ኣስታት 2 ደቒቕ እዩ።");
	/* Tigrinya counts 0 as "one"; the explicit =0 must still win. */
	assert_queue(t, "ti", 3, 0, "ኣብ መስርዕ ተራኹም ቁጽሪ 3 እዩ። ምጽባይ ካብ ሓደ ደቒቕ ንታሕቲ እዩ።");
	/* Numbers use the language's grouping. */
	assert_queue(t, "nl", 12000, 5, "Je bent nummer 12.000 in de rij. Het duurt nog ongeveer 5 minuten.");
	assert_queue(t, "en", 12000, 5, "You are number 12,000 in line. It will take about 5 minutes.");
}

static void test_queue_no_estimate(void **state)
{
	struct i18n *t = *state;

	assert_queue(t, "en", 2, -1, "You are number 2 in line. We do not know yet how long it will take.");
	assert_queue(t, "en", 2, 5, "You are number 2 in line. It will take about 5 minutes.");
	/* Any negative wait means no estimate, not "about -3 minutes". */
	assert_queue(t, "en", 2, -3, "You are number 2 in line. We do not know yet how long it will take.");
	assert_queue(t, "nl", 2, -1, "Je bent nummer 2 in de rij. We weten nog niet hoe lang het duurt.");
	assert_queue(t, "ar", 2, -1, "دورك رقم ٢ في قائمة الانتظار. لا يمكننا تقدير مدة الانتظار بعد.");
	assert_queue(t, "tr", 2, -1, "Sırada 2. kişisiniz. Ne kadar bekleyeceğinizi henüz bilmiyoruz.");
	assert_queue(t, "ti", 2, -1, "ኣብ መስርዕ ተራኹም ቁጽሪ 2 እዩ። ክንደይ ግዜ ከም ዝወስድ ገና ኣይንፈልጥን።");
}

static void test_closed(void **state)
{
	struct i18n *t = *state;
	const char *const none[1] = { "" };
	const char *const when[1] = { "maandag 18:00" };
	int nl = idx(t, "nl"), en = idx(t, "en");
	char *s;

	s = i18n_format(t, nl, I18N_CLOSED, 1, NULL, none);
	assert_string_equal(s, "Op dit moment is er niemand beschikbaar in jouw taal. "
			       "In een noodgeval: bel 112. Veilig Thuis (advies en meldingen over huiselijk "
			       "geweld): 0800-2000, gratis, dag en nacht.");
	free(s);
	s = i18n_format(t, nl, I18N_CLOSED, 1, NULL, when);
	assert_string_equal(s, "Op dit moment is er niemand beschikbaar in jouw taal. "
			       "Vanaf \u2068maandag 18:00\u2069 is er weer iemand. "
			       "In een noodgeval: bel 112. Veilig Thuis (advies en meldingen over huiselijk "
			       "geweld): 0800-2000, gratis, dag en nacht.");
	free(s);
	/* Without arguments at all it reads as "no next opening". */
	s = i18n_text(t, en, I18N_CLOSED);
	assert_string_equal(s, "Right now nobody is available in your language. In an emergency, call 112. "
			       "Veilig Thuis (advice and reports about domestic violence): 0800-2000, free, "
			       "day and night.");
	free(s);
	/* Every language carries the emergency numbers. */
	for (int l = 0; l < N_LANGS; l++) {
		s = i18n_format(t, l, I18N_CLOSED, 1, NULL, none);
		assert_non_null(strstr(s, "112"));
		assert_non_null(strstr(s, "0800-2000"));
		free(s);
	}
}

static void test_joined_and_texts(void **state)
{
	struct i18n *t = *state;
	const char *const alias[1] = { "Sara" };
	char *s;

	s = i18n_format(t, idx(t, "en"), I18N_JOINED, 1, NULL, alias);
	assert_string_equal(s, "\u2068Sara\u2069 has joined the chat.");
	free(s);
	s = i18n_format(t, idx(t, "tr"), I18N_JOINED, 1, NULL, alias);
	assert_string_equal(s, "\u2068Sara\u2069 sohbete katıldı.");
	free(s);
	s = i18n_text(t, idx(t, "en"), I18N_REQUEUED);
	assert_string_equal(s, "Your helper lost their connection. You are first in line again.");
	free(s);
	/* The Turkish apostrophe is literal text, not MessageFormat quoting. */
	s = i18n_text(t, idx(t, "tr"), I18N_ALTERNATIVES);
	assert_non_null(strstr(s, "112'yi arayın"));
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
		cmocka_unit_test(test_fallback_language),
		cmocka_unit_test(test_lang_index),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_dir),
		cmocka_unit_test(test_every_key_every_language),
		cmocka_unit_test(test_languages_differ),
		cmocka_unit_test(test_queue_arabic_plurals),
		cmocka_unit_test(test_queue_other_plurals),
		cmocka_unit_test(test_queue_no_estimate),
		cmocka_unit_test(test_closed),
		cmocka_unit_test(test_joined_and_texts),
		cmocka_unit_test(test_errors),
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
