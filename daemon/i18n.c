/* Everything a person reads, in their language: negotiation, direction,
 * system texts through ICU MessageFormat, and the intake (validation,
 * normalization, filtering, grapheme limits) of text people type. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/uenum.h>
#include <unicode/uloc.h>
#include <unicode/umsg.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include "common.h"
#include "i18n.h"
#include "util/log.h"
#include "util/secmem.h"

/*
 * The texts, one row per key and one column per language. When they move to
 * ICU resource bundles, each column becomes locales/<code>.txt and each row
 * a string resource named by `name`; `args` stays here because the code that
 * passes the arguments is what fixes their kinds.
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
 * strong isolates (U+2068 ... U+2069) so that a Latin alias inside Arabic
 * text, or the reverse, cannot reorder the sentence around it.
 */
enum column { COL_NL, COL_AR, COL_TI, COL_TR, COL_EN, COL__COUNT };

static const char *const column_codes[COL__COUNT] = {
	[COL_NL] = "nl", [COL_AR] = "ar", [COL_TI] = "ti", [COL_TR] = "tr", [COL_EN] = "en",
};

/* A language without a column gets these texts. */
#define FALLBACK_COLUMN COL_EN

/* The most arguments any key takes; call_format() spells out each signature. */
#define MAX_ARGS 2

struct text_row {
	const char *name;
	const char *args;
	const char *text[COL__COUNT];
};

static const struct text_row texts[I18N__COUNT] = {
	[I18N_QUEUE] = { "queue", "nn", {
		[COL_NL] = "{0, plural, =1 {Je bent de eerste in de rij.} other {Je bent nummer # in de rij.}} "
			   "{1, plural, =-1 {We weten nog niet hoe lang het duurt.} "
			   "=0 {Het duurt nog minder dan een minuut.} "
			   "one {Het duurt nog ongeveer één minuut.} "
			   "other {Het duurt nog ongeveer # minuten.}}",
		[COL_AR] = "{0, plural, =1 {دورك هو الأول في قائمة الانتظار.} other {دورك رقم # في قائمة الانتظار.}} "
			   "{1, plural, =-1 {لا يمكننا تقدير مدة الانتظار بعد.} "
			   "zero {مدة الانتظار المتوقعة أقل من دقيقة.} "
			   "one {مدة الانتظار المتوقعة دقيقة واحدة تقريبًا.} "
			   "two {مدة الانتظار المتوقعة دقيقتان تقريبًا.} "
			   "few {مدة الانتظار المتوقعة # دقائق تقريبًا.} "
			   "many {مدة الانتظار المتوقعة # دقيقةً تقريبًا.} "
			   "other {مدة الانتظار المتوقعة # دقيقة تقريبًا.}}",
		[COL_TI] = "{0, plural, =1 {ኣብ መስርዕ ተራኹም ቀዳማይ እዩ።} other {ኣብ መስርዕ ተራኹም ቁጽሪ # እዩ።}} "
			   "{1, plural, =-1 {ክንደይ ግዜ ከም ዝወስድ ገና ኣይንፈልጥን።} "
			   "=0 {ምጽባይ ካብ ሓደ ደቒቕ ንታሕቲ እዩ።} "
			   "one {ምጽባይ ኣስታት ሓደ ደቒቕ እዩ።} "
			   "other {ምጽባይ ኣስታት # ደቒቕ እዩ።}}",
		[COL_TR] = "{0, plural, =1 {Sırada ilk kişi sizsiniz.} other {Sırada #. kişisiniz.}} "
			   "{1, plural, =-1 {Ne kadar bekleyeceğinizi henüz bilmiyoruz.} "
			   "=0 {Bekleme süresi bir dakikadan az.} "
			   "one {Bekleme süresi yaklaşık bir dakika.} "
			   "other {Bekleme süresi yaklaşık # dakika.}}",
		[COL_EN] = "{0, plural, =1 {You are first in line.} other {You are number # in line.}} "
			   "{1, plural, =-1 {We do not know yet how long it will take.} "
			   "=0 {It will take less than a minute.} "
			   "one {It will take about one minute.} "
			   "other {It will take about # minutes.}}",
	} },
	[I18N_CLOSED] = { "closed", "s", {
		[COL_NL] = "Op dit moment is er niemand beschikbaar in jouw taal."
			   "{0, select, none {} other { Vanaf \u2068{0}\u2069 is er weer iemand.}}",
		[COL_AR] = "لا يوجد الآن أحد متاح للتحدث بلغتك."
			   "{0, select, none {} other { سيكون هناك من يساعدك مجددًا ابتداءً من \u2068{0}\u2069.}}",
		[COL_TI] = "ሕጂ ብቋንቋኹም ዝሕግዘኩም ሰብ የለን።"
			   "{0, select, none {} other { ካብ \u2068{0}\u2069 ጀሚሩ ዝሕግዘኩም ሰብ ክህሉ እዩ።}}",
		[COL_TR] = "Şu anda dilinizde konuşabileceğiniz kimse yok."
			   "{0, select, none {} other { Yeniden ulaşabileceğiniz zaman: \u2068{0}\u2069.}}",
		[COL_EN] = "Right now nobody is available in your language."
			   "{0, select, none {} other { Someone will be there again from \u2068{0}\u2069.}}",
	} },
	[I18N_JOINED] = { "joined", "s", {
		[COL_NL] = "\u2068{0}\u2069 is bij het gesprek gekomen.",
		[COL_AR] = "\u2068{0}\u2069 معك الآن في المحادثة.",
		[COL_TI] = "\u2068{0}\u2069 ናብቲ ዕላል ተጸንቢሩ።",
		[COL_TR] = "\u2068{0}\u2069 sohbete katıldı.",
		[COL_EN] = "\u2068{0}\u2069 has joined the chat.",
	} },
	[I18N_REQUEUED] = { "requeued", "", {
		[COL_NL] = "De verbinding met je hulpverlener is verbroken. Je bent weer de eerste in de rij.",
		[COL_AR] = "انقطع اتصال الشخص الذي كان يساعدك. دورك الآن هو الأول في قائمة الانتظار من جديد.",
		[COL_TI] = "ናይቲ ዝሕግዘኩም ዝነበረ ሰብ ርክብ ተቋሪጹ። ከም ብሓድሽ ኣብ መስርዕ ተራኹም ቀዳማይ እዩ።",
		[COL_TR] = "Size yardım eden kişinin bağlantısı koptu. Yeniden sıranın başındasınız.",
		[COL_EN] = "Your helper lost their connection. You are first in line again.",
	} },
	[I18N_ENDED_VISITOR] = { "ended_visitor", "", {
		[COL_NL] = "Je hebt het gesprek beëindigd. Je kunt altijd terugkomen.",
		[COL_AR] = "لقد أنهيت المحادثة. يمكنك العودة في أي وقت.",
		[COL_TI] = "ዕላል ብወገንኩም ተዛዚሙ። ኣብ ዝኾነ ግዜ ክትምለሱ ትኽእሉ ኢኹም።",
		[COL_TR] = "Sohbeti sonlandırdınız. İstediğiniz zaman geri gelebilirsiniz.",
		[COL_EN] = "You have ended the chat. You can always come back.",
	} },
	[I18N_ENDED_STAFF] = { "ended_staff", "", {
		[COL_NL] = "Je hulpverlener heeft het gesprek beëindigd. Je kunt altijd terugkomen.",
		[COL_AR] = "أنهى الشخص الذي يساعدك المحادثة. يمكنك العودة في أي وقت.",
		[COL_TI] = "ዕላል ብወገን ሓጋዚኹም ተዛዚሙ። ኣብ ዝኾነ ግዜ ክትምለሱ ትኽእሉ ኢኹም።",
		[COL_TR] = "Size yardım eden kişi sohbeti sonlandırdı. İstediğiniz zaman geri gelebilirsiniz.",
		[COL_EN] = "Your helper has ended the chat. You can always come back.",
	} },
	[I18N_ENDED_TIMEOUT] = { "ended_timeout", "", {
		[COL_NL] = "Het gesprek is gestopt omdat de verbinding te lang weg was. "
			   "Je kunt altijd een nieuw gesprek beginnen.",
		[COL_AR] = "انتهت المحادثة لأن الاتصال انقطع لمدة طويلة. يمكنك بدء محادثة جديدة في أي وقت.",
		[COL_TI] = "ርክብ ንነዊሕ ግዜ ስለ ዝተቋረጸ ዕላል ተዛዚሙ። ኣብ ዝኾነ ግዜ ሓድሽ ዕላል ክትጅምሩ ትኽእሉ ኢኹም።",
		[COL_TR] = "Bağlantı çok uzun süre kesik kaldığı için sohbet sona erdi. "
			   "İstediğiniz zaman yeni bir sohbet başlatabilirsiniz.",
		[COL_EN] = "The chat has ended because the connection was lost for too long. "
			   "You can always start a new chat.",
	} },
	[I18N_ENDED_SHUTDOWN] = { "ended_shutdown", "", {
		[COL_NL] = "De chat wordt opnieuw opgestart. Kom over een paar minuten terug.",
		[COL_AR] = "تتم الآن إعادة تشغيل خدمة المحادثة. يرجى العودة بعد بضع دقائق.",
		[COL_TI] = "ኣገልግሎት ዕላል ዳግማይ ይጅምር ኣሎ። በጃኹም ድሕሪ ቁሩብ ደቓይቕ ተመለሱ።",
		[COL_TR] = "Sohbet hizmeti yeniden başlatılıyor. Lütfen birkaç dakika sonra tekrar gelin.",
		[COL_EN] = "The chat service is restarting. Please come back in a few minutes.",
	} },
	[I18N_ALTERNATIVES] = { "alternatives", "", {
		[COL_NL] = "In een noodgeval: bel 112. Veilig Thuis (advies en meldingen over huiselijk geweld): "
			   "0800-2000, gratis, dag en nacht.",
		[COL_AR] = "في حالة الطوارئ يرجى الاتصال بالرقم 112. Veilig Thuis (استشارات وبلاغات بشأن العنف المنزلي): "
			   "0800-2000، مجانًا، ليلًا ونهارًا.",
		[COL_TI] = "ኣብ ህጹጽ እዋን ናብ 112 ደውሉ። Veilig Thuis (ምኽርን ጸብጻብን ብዛዕባ ዓመጽ ኣብ ስድራቤት)፦ "
			   "0800-2000፣ ብነጻ፣ ለይትን መዓልትን።",
		[COL_TR] = "Acil durumda 112'yi arayın. Veilig Thuis (aile içi şiddet hakkında danışma ve bildirim): "
			   "0800-2000, ücretsiz, gece gündüz.",
		[COL_EN] = "In an emergency, call 112. Veilig Thuis (advice and reports about domestic violence): "
			   "0800-2000, free, day and night.",
	} },
	[I18N_ERR_BAD_JSON] = { "err_bad_json", "", {
		[COL_NL] = "Het bericht kon niet worden gelezen.",
		[COL_AR] = "تعذّرت قراءة الرسالة.",
		[COL_TI] = "እቲ መልእኽቲ ክንበብ ኣይተኻእለን።",
		[COL_TR] = "Mesaj okunamadı.",
		[COL_EN] = "The message could not be read.",
	} },
	[I18N_ERR_BAD_TYPE] = { "err_bad_type", "", {
		[COL_NL] = "Het bericht werd niet begrepen.",
		[COL_AR] = "لم يتم فهم الرسالة.",
		[COL_TI] = "እቲ መልእኽቲ ኣይተረድአን።",
		[COL_TR] = "Mesaj anlaşılamadı.",
		[COL_EN] = "The message was not understood.",
	} },
	[I18N_ERR_BAD_FIELD] = { "err_bad_field", "", {
		[COL_NL] = "Het bericht is leeg of niet compleet.",
		[COL_AR] = "الرسالة فارغة أو غير مكتملة.",
		[COL_TI] = "እቲ መልእኽቲ ባዶ ወይ ዘይምሉእ እዩ።",
		[COL_TR] = "Mesaj boş ya da eksik.",
		[COL_EN] = "The message is empty or incomplete.",
	} },
	[I18N_ERR_TOO_LONG] = { "err_too_long", "", {
		[COL_NL] = "Je bericht is te lang. Maak het wat korter.",
		[COL_AR] = "الرسالة طويلة جدًا. يرجى تقصيرها قليلًا.",
		[COL_TI] = "መልእኽትኹም ኣዝዩ ነዊሕ እዩ። በጃኹም ኣሕጽርዎ።",
		[COL_TR] = "Mesajınız çok uzun. Lütfen biraz kısaltın.",
		[COL_EN] = "Your message is too long. Please make it shorter.",
	} },
	[I18N_ERR_RATE_LIMITED] = { "err_rate_limited", "", {
		[COL_NL] = "Doe het even wat rustiger aan.",
		[COL_AR] = "يرجى التمهّل قليلًا.",
		[COL_TI] = "በጃኹም ቁሩብ ቀስ በሉ።",
		[COL_TR] = "Lütfen biraz yavaşlayın.",
		[COL_EN] = "Please slow down a little.",
	} },
	[I18N_ERR_UNAUTHORIZED] = { "err_unauthorized", "", {
		[COL_NL] = "Inloggen is mislukt. Controleer je naam en wachtwoord.",
		[COL_AR] = "فشل تسجيل الدخول. يرجى التحقق من الاسم وكلمة المرور.",
		[COL_TI] = "ምእታው ኣይተኻእለን። ሽምኩምን ቃል ምሕላፍኩምን ኣረጋግጹ።",
		[COL_TR] = "Giriş yapılamadı. Adınızı ve şifrenizi kontrol edin.",
		[COL_EN] = "Login failed. Check your name and password.",
	} },
	[I18N_ERR_FORBIDDEN] = { "err_forbidden", "", {
		[COL_NL] = "Je hebt geen toestemming om dat te doen.",
		[COL_AR] = "غير مسموح لك بالقيام بذلك.",
		[COL_TI] = "ነዚ ክትገብሩ ፍቓድ የብልኩምን።",
		[COL_TR] = "Bunu yapma izniniz yok.",
		[COL_EN] = "You are not allowed to do that.",
	} },
	[I18N_ERR_NOT_FOUND] = { "err_not_found", "", {
		[COL_NL] = "Dit is niet gevonden. Misschien is het al afgelopen.",
		[COL_AR] = "تعذّر العثور على ذلك. ربما انتهى بالفعل.",
		[COL_TI] = "እዚ ክርከብ ኣይተኻእለን። ምናልባት ተዛዚሙ ይኸውን።",
		[COL_TR] = "Bu bulunamadı. Belki de çoktan sona erdi.",
		[COL_EN] = "That could not be found. Perhaps it has already ended.",
	} },
	[I18N_ERR_CONFLICT] = { "err_conflict", "", {
		[COL_NL] = "Dat kan nu niet.",
		[COL_AR] = "هذا غير ممكن في الوقت الحالي.",
		[COL_TI] = "እዚ ሕጂ ኣይከኣልን እዩ።",
		[COL_TR] = "Bu şu anda mümkün değil.",
		[COL_EN] = "That is not possible right now.",
	} },
	[I18N_ERR_CLOSED] = { "err_closed", "", {
		[COL_NL] = "Op dit moment is er niemand beschikbaar in jouw taal. Probeer het later nog eens.",
		[COL_AR] = "لا يوجد الآن أحد متاح للتحدث بلغتك. يرجى المحاولة لاحقًا.",
		[COL_TI] = "ሕጂ ብቋንቋኹም ዝሕግዘኩም ሰብ የለን። በጃኹም ጸኒሕኩም ደጊምኩም ፈትኑ።",
		[COL_TR] = "Şu anda dilinizde konuşabileceğiniz kimse yok. Lütfen daha sonra tekrar deneyin.",
		[COL_EN] = "Right now nobody is available in your language. Please try again later.",
	} },
	[I18N_ERR_INTERNAL] = { "err_internal", "", {
		[COL_NL] = "Er ging bij ons iets mis. Probeer het nog eens.",
		[COL_AR] = "حدث خطأ من جهتنا. يرجى المحاولة مرة أخرى.",
		[COL_TI] = "ካባና ዝመጸ ጌጋ ተፈጺሙ። በጃኹም ደጊምኩም ፈትኑ።",
		[COL_TR] = "Bizim tarafımızda bir sorun oluştu. Lütfen tekrar deneyin.",
		[COL_EN] = "Something went wrong on our side. Please try again.",
	} },
};

/* i18n_error() maps codes to keys by offset, so both lists must line up. */
_Static_assert(I18N_ERR_INTERNAL - I18N_ERR_BAD_JSON == BRUG_E_INTERNAL - BRUG_E_BAD_JSON,
	       "I18N_ERR_* must follow enum brug_error");
_Static_assert(I18N_ERR_INTERNAL + 1 == I18N__COUNT, "I18N_ERR_INTERNAL must be the last key");

/* Longest language code we accept in the configuration ("ar", "nl-BE"). */
#define CODE_MAX 32

struct i18n_lang {
	char *code;        /* as configured */
	const char *locale; /* the ICU locale the texts are formatted in */
	enum column column;
	bool rtl;
	UMessageFormat *fmt[I18N__COUNT];
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

static int column_of(const char *code)
{
	char lang[ULOC_LANG_CAPACITY];
	UErrorCode st = U_ZERO_ERROR;

	uloc_getLanguage(code, lang, sizeof lang, &st);
	if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING)
		return -1;
	for (int c = 0; c < COL__COUNT; c++)
		if (strcasecmp(lang, column_codes[c]) == 0)
			return c;
	return -1;
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

static int open_patterns(struct i18n_lang *l, char *err, size_t err_len)
{
	UChar *pattern = NULL;
	int r = 0;

	for (int k = 0; k < I18N__COUNT; k++) {
		const char *utf8 = texts[k].text[l->column];
		const char *problem;
		UErrorCode st = U_ZERO_ERROR;
		UParseError pe;
		int32_t len = 0;

		if (texts[k].name == NULL || strlen(texts[k].args) > MAX_ARGS) {
			set_err(err, err_len, "i18n: key %d has no row or too many arguments", k);
			r = BRUG_E_INTERNAL;
			goto cleanup;
		}
		if (utf8 == NULL) {
			set_err(err, err_len, "i18n: text %s is missing in %s", texts[k].name,
				column_codes[l->column]);
			r = BRUG_E_INTERNAL;
			goto cleanup;
		}
		/* The table's texts are ours, so a bad conversion is a bug that
		 * shows up in the unit test, not at a visitor. */
		u_strFromUTF8(NULL, 0, &len, utf8, -1, &st);
		if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st)) {
			set_err(err, err_len, "i18n: text %s in %s is not valid UTF-8", texts[k].name,
				column_codes[l->column]);
			r = BRUG_E_INTERNAL;
			goto cleanup;
		}
		st = U_ZERO_ERROR;
		pattern = malloc(((size_t)len + 1) * sizeof *pattern);
		if (pattern == NULL) {
			set_err(err, err_len, "i18n: out of memory");
			r = -ENOMEM;
			goto cleanup;
		}
		u_strFromUTF8(pattern, len + 1, NULL, utf8, -1, &st);
		l->fmt[k] = umsg_open(pattern, len, l->locale, &pe, &st);
		if (U_FAILURE(st)) {
			set_err(err, err_len, "i18n: text %s in %s does not parse at offset %d: %s",
				texts[k].name, column_codes[l->column], (int)pe.offset, u_errorName(st));
			r = BRUG_E_INTERNAL;
			goto cleanup;
		}
		problem = check_arguments(pattern, len, texts[k].args);
		if (problem != NULL) {
			set_err(err, err_len, "i18n: text %s in %s %s", texts[k].name,
				column_codes[l->column], problem);
			r = BRUG_E_INTERNAL;
			goto cleanup;
		}
		free(pattern);
		pattern = NULL;
	}
cleanup:
	free(pattern);
	return r;
}

struct i18n *i18n_new(const char *const *langs, unsigned n_langs, const char *default_lang,
		      char *err, size_t err_len)
{
	struct i18n *t;

	set_err(err, err_len, "i18n: out of memory");
	if (langs == NULL || n_langs == 0 || default_lang == NULL) {
		set_err(err, err_len, "i18n: no languages configured");
		return NULL;
	}
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->default_lang = -1;
	t->langs = calloc(n_langs, sizeof *t->langs);
	t->codes = calloc(n_langs, sizeof *t->codes);
	if (t->langs == NULL || t->codes == NULL)
		goto fail;

	for (unsigned i = 0; i < n_langs; i++) {
		struct i18n_lang *l = &t->langs[i];
		UErrorCode st = U_ZERO_ERROR;
		int column;

		if (langs[i] == NULL || !code_plausible(langs[i])) {
			set_err(err, err_len, "i18n: \"%s\" is not a language code",
				langs[i] == NULL ? "(null)" : langs[i]);
			goto fail;
		}
		if (i18n_lang_index(t, langs[i]) >= 0) {
			set_err(err, err_len, "i18n: language %s is listed twice", langs[i]);
			goto fail;
		}
		l->code = strdup(langs[i]);
		if (l->code == NULL) {
			set_err(err, err_len, "i18n: out of memory");
			goto fail;
		}
		column = column_of(l->code);
		if (column >= 0) {
			l->column = (enum column)column;
			l->locale = l->code;
		} else {
			/* The English texts must be formatted with English plural
			 * rules and digits, whatever the configured code. */
			l->column = FALLBACK_COLUMN;
			l->locale = column_codes[FALLBACK_COLUMN];
			log_notice("i18n: no texts for language %s yet, it gets the %s texts", l->code,
				   l->locale);
		}
		/* Direction follows the texts shown, so a fallback language is
		 * laid out like its fallback. */
		l->rtl = uloc_getCharacterOrientation(l->locale, &st) == ULOC_LAYOUT_RTL && U_SUCCESS(st);
		t->codes[i] = l->code;
		t->n_langs = i + 1;
		if (open_patterns(l, err, err_len) != 0)
			goto fail;
	}
	t->default_lang = i18n_lang_index(t, default_lang);
	if (t->default_lang < 0) {
		set_err(err, err_len, "i18n: default language %s is not one of the languages", default_lang);
		goto fail;
	}
	set_err(err, err_len, "%s", "");
	return t;
fail:
	i18n_free(t);
	return NULL;
}

void i18n_free(struct i18n *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; t->langs != NULL && i < t->n_langs; i++) {
		for (int k = 0; k < I18N__COUNT; k++)
			if (t->langs[i].fmt[k] != NULL)
				umsg_close(t->langs[i].fmt[k]);
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

/* umsg_format() takes its arguments as varargs, so each signature in the
 * table needs its own call. */
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
	const char *sig = texts[key].args;
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
		 * crash: the kinds are fixed by the table, not by the caller. */
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
			/* Empty picks the `none` case of a select (see the table). */
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
	 * or a letter with its vowel marks is one, whatever its code points. */
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
