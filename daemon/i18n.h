/* Everything a person reads, in their language: language negotiation,
 * text direction, system texts formatted with ICU MessageFormat from the
 * compiled resource bundles (locales/), the web client's labels, and the
 * intake of user text. No sockets here. */
#ifndef BRUG_I18N_H
#define BRUG_I18N_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The system texts: the keys of the table `daemon` in locales/daemon/<lang>.txt.
 * Arguments are ICU MessageFormat numbered arguments. */
enum i18n_key {
	I18N_QUEUE,          /* {0} position (plural), {1} wait in minutes or -1 (no estimate) */
	I18N_CLOSED,         /* nobody for this language now; {0} next opening or "" ; alternatives appended */
	I18N_NEXT_OPEN,      /* {0} weekday, {1} time of day; see i18n_format_time() */
	I18N_JOINED,         /* {0} staff alias joined the chat */
	I18N_REQUEUED,       /* your helper lost connection, you are first in line again */
	I18N_ENDED_VISITOR,  /* you ended the chat */
	I18N_ENDED_STAFF,    /* the helper ended the chat */
	I18N_ENDED_TIMEOUT,  /* the chat ended because the connection was gone too long */
	I18N_ENDED_SHUTDOWN, /* the service is restarting */
	I18N_ALTERNATIVES,   /* emergency: 112, Veilig Thuis 0800-2000 */
	I18N_ERR_BAD_JSON,   /* one per protocol error code, same order as enum brug_error */
	I18N_ERR_BAD_TYPE,
	I18N_ERR_BAD_FIELD,
	I18N_ERR_TOO_LONG,
	I18N_ERR_RATE_LIMITED,
	I18N_ERR_UNAUTHORIZED,
	I18N_ERR_FORBIDDEN,
	I18N_ERR_NOT_FOUND,
	I18N_ERR_CONFLICT,
	I18N_ERR_CLOSED,
	I18N_ERR_INTERNAL,
	I18N_ERR_UNAVAILABLE,
	I18N_ERR_BUSY,
	I18N_ERR_NOT_AVAILABLE,
	I18N__COUNT
};

struct i18n;

/* Create the text service for the configured languages (borrowed strings,
 * copied). locales_dir holds the compiled bundles: daemon/<lang>.res and
 * client/<lang>.res (the build's <builddir>/locales, or the installed
 * <datadir>/brug/locales). A language "nl-BE" uses the bundles nl_BE, else
 * nl; a language with neither is an error, never another language's texts.
 * default_lang must be one of langs. Every key must exist for every
 * language and parse as a MessageFormat pattern with the key's arguments,
 * else NULL is returned and err (err_len bytes) says which. Each language's
 * client JSON is built here, once. Free with i18n_free(). */
struct i18n *i18n_new(const char *locales_dir, const char *const *langs, unsigned n_langs,
		      const char *default_lang, char *err, size_t err_len);
void i18n_free(struct i18n *t);

/* Index of the language for a visitor: `requested` (hello.lang, may be NULL)
 * if configured; else the best match of an Accept-Language header value
 * (may be NULL), e.g. "ar-MA,ar;q=0.9" -> ar; else the default. */
int i18n_negotiate(const struct i18n *t, const char *requested, const char *accept_language);
/* Index of lang, or -1 when not configured. */
int i18n_lang_index(const struct i18n *t, const char *lang);
/* Language code at index i ("ar"). Static for the life of t. */
const char *i18n_lang_code(const struct i18n *t, int i);
/* "rtl" or "ltr" for the language at index i (from ICU's locale data). */
const char *i18n_dir(const struct i18n *t, int lang);

/* Format key in language lang with n_args numbered arguments: argument i
 * is the UTF-8 string str_args[i] when str_args and str_args[i] are not
 * NULL, else the number num_args[i] (arrays borrowed). Returns a NUL-terminated UTF-8 string the caller frees with
 * free(), or NULL on no memory. */
char *i18n_format(const struct i18n *t, int lang, enum i18n_key key,
		  unsigned n_args, const double *num_args, const char *const *str_args);
/* Shorthand for texts without arguments. Caller frees. */
char *i18n_text(const struct i18n *t, int lang, enum i18n_key key);
/* The localized error message for a BRUG_E_* code. Caller frees. */
char *i18n_error(const struct i18n *t, int lang, int brug_error);

/* The next opening, epoch_ms, as the visitor reads it: the weekday and the
 * 24-hour time in the time zone tz ("Europe/Amsterdam"), in language lang
 * (out of range: the default), joined by the bundle's next_open text, e.g.
 * "dinsdag om 19:00". Pass the result as {0} of I18N_CLOSED. Caller frees;
 * NULL on no memory or when tz is NULL or not a time zone ICU knows. */
char *i18n_format_time(const struct i18n *t, int lang, int64_t epoch_ms, const char *tz);
/* Whether ICU knows the time zone tz (an IANA name such as
 * "Europe/Amsterdam"); check the configuration's time zone with it. */
bool i18n_timezone_valid(const char *tz);

/* The body of GET /i18n/<code>.json for language lang:
 *   {"lang":"ar","dir":"rtl","languages":{code: autonym, ...every configured
 *    language},"topics":{...},"visitor":{...},"staff":{...}}
 * from the client bundle (tables become objects, strings UTF-8 strings).
 * Borrowed: built once at i18n_new() and valid until i18n_free(). NULL when
 * lang is out of range (no default here: a request for a language that is
 * not offered should get a 404, not another language). */
const char *i18n_client_json(const struct i18n *t, int lang);
/* The label of a topic id ("forced_marriage") in language lang (out of
 * range: the default), or NULL when the bundle has none. Borrowed, valid
 * until i18n_free(). */
const char *i18n_topic_label(const struct i18n *t, int lang, const char *topic);

/*
 * Intake of a user's text (visitor or staff): in must be valid UTF-8 of
 * len bytes. Produces a NUL-terminated copy in *out (caller frees with
 * secmem_free_str) that is NFC-normalized, without control characters
 * (except newline and tab) and without bidi override, embedding or isolate
 * characters (U+202A..U+202E, U+2066..U+2069), trimmed of surrounding
 * white space. Returns 0, BRUG_E_BAD_FIELD if the text is invalid UTF-8 or
 * empty after cleaning, BRUG_E_TOO_LONG if it has more than max_graphemes
 * grapheme clusters. Intermediate buffers are wiped.
 */
int i18n_intake(const char *in, size_t len, unsigned max_graphemes, char **out, size_t *out_len);

#endif
