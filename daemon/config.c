/* Reading the daemon's INI config file with inih: every key is known, typed
 * and range-checked, defaults live in one table, and every refusal names the
 * file, the line, the key and what was expected. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

/* One identifier per key; the order matches key_defs[]. */
enum key_id {
	KEY_HOSTNAME,
	KEY_PORT,
	KEY_BIND,
	KEY_WEB_ROOT,
	KEY_STATE_DIR,
	KEY_MAX_FRAME,
	KEY_MAX_CONNECTIONS,
	KEY_RATE_SOFT,
	KEY_RATE_HARD,
	KEY_PING,
	KEY_IDLE_TIMEOUT,
	KEY_ORIGINS,
	KEY_FRAME_ANCESTORS,
	KEY_NEUTRAL_URL,
	KEY_CERT,
	KEY_KEY,
	KEY_LANGUAGES,
	KEY_DEFAULT_LANGUAGE,
	KEY_TOPICS,
	KEY_GRACE,
	KEY_OFFER_TIMEOUT,
	KEY_MAX_TEXT,
	KEY_ALTERNATIVE,
	KEY_SESSION_IDLE,
	KEY_SESSION_MAX,
	KEY_RECONNECT_GRACE,
	KEY_SHIFT_END_QUIET,
	KEY_STATS_THRESHOLD,
	KEY_LOG_LEVEL,
	KEY_LOCALES_DIR,
	KEY_TIMEZONE,
	KEY__COUNT
};

/* How a key's value is read. */
enum key_type {
	TYPE_HOSTNAME,    /* a DNS name or IPv4 address, stored lower case */
	TYPE_UINT,        /* a whole number in [min, max] */
	TYPE_BIND,        /* an interface name or address; empty means all */
	TYPE_PATH,        /* a file system path, made absolute after parsing */
	TYPE_ORIGINS,     /* a list of https://host[:port] */
	TYPE_CSP_SOURCES, /* a CSP source list for frame-ancestors */
	TYPE_HTTPS_URL,   /* an absolute https URL */
	TYPE_LANGS,       /* a list of 2-3 letter language codes */
	TYPE_LANG,        /* one language code */
	TYPE_TOPICS,      /* a list of [a-z_]{1,32} */
	TYPE_TEXT,        /* one line of free UTF-8 text, appended each time */
	TYPE_LOG_LEVEL,   /* err, warn, notice, info or debug */
	TYPE_TIMEZONE,    /* an IANA time zone name like Europe/Amsterdam */
};

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	const char *def;        /* default value, parsed like the file's; NULL = none */
	unsigned long min, max; /* TYPE_UINT only */
	const char *unit;       /* TYPE_UINT only, for messages; may be NULL */
};

/* Every key the file may contain, with its default (config.h documents the
 * fields). A key that may appear more than once is marked by TYPE_TEXT. */
static const struct key_def key_defs[KEY__COUNT] = {
	[KEY_HOSTNAME] = { "server", "hostname", TYPE_HOSTNAME, "localhost", 0, 0, NULL },
	[KEY_PORT] = { "server", "port", TYPE_UINT, "8443", 0, 65535, NULL },
	[KEY_BIND] = { "server", "bind", TYPE_BIND, NULL, 0, 0, NULL },
	[KEY_WEB_ROOT] = { "server", "web_root", TYPE_PATH, "../web-client", 0, 0, NULL },
	[KEY_STATE_DIR] = { "server", "state_dir", TYPE_PATH, "/var/lib/brug", 0, 0, NULL },
	[KEY_MAX_FRAME] = { "server", "max_frame", TYPE_UINT, "16384", 1024, 1048576, "bytes" },
	[KEY_MAX_CONNECTIONS] = { "server", "max_connections", TYPE_UINT, "20000", 16, 1000000, NULL },
	/* Messages per connection in 10 s; raised only for benchmarks. */
	[KEY_RATE_SOFT] = { "server", "rate_limit_messages", TYPE_UINT, "20", 1, 10000000, "messages" },
	[KEY_RATE_HARD] = { "server", "rate_close_messages", TYPE_UINT, "60", 1, 10000000, "messages" },
	/* idle_timeout_seconds must also be greater than ping_seconds (checked in config_load). */
	[KEY_PING] = { "server", "ping_seconds", TYPE_UINT, "25", 1, 3600, "seconds" },
	[KEY_IDLE_TIMEOUT] = { "server", "idle_timeout_seconds", TYPE_UINT, "60", 2, 7200, "seconds" },
	[KEY_ORIGINS] = { "server", "origins", TYPE_ORIGINS, NULL, 0, 0, NULL },
	[KEY_FRAME_ANCESTORS] = { "server", "frame_ancestors", TYPE_CSP_SOURCES, "'self'", 0, 0, NULL },
	[KEY_NEUTRAL_URL] = { "server", "neutral_url", TYPE_HTTPS_URL, "https://www.google.com/", 0, 0, NULL },
	[KEY_CERT] = { "tls", "cert", TYPE_PATH, "server.pem", 0, 0, NULL },
	[KEY_KEY] = { "tls", "key", TYPE_PATH, "server-key.pem", 0, 0, NULL },
	[KEY_LANGUAGES] = { "chat", "languages", TYPE_LANGS, "nl ar ti tr en", 0, 0, NULL },
	/* Without the key, "nl" if it is among the languages, else the first
	 * one listed (see apply_defaults). */
	[KEY_DEFAULT_LANGUAGE] = { "chat", "default_language", TYPE_LANG, NULL, 0, 0, NULL },
	[KEY_TOPICS] = { "chat", "topics", TYPE_TOPICS,
		"domestic_violence honour_violence forced_marriage abandonment fgm lgbti other", 0, 0, NULL },
	[KEY_GRACE] = { "chat", "grace_seconds", TYPE_UINT, "120", 0, 86400, "seconds" },
	[KEY_OFFER_TIMEOUT] = { "chat", "offer_timeout_seconds", TYPE_UINT, "30", 1, 3600, "seconds" },
	[KEY_MAX_TEXT] = { "chat", "max_text_graphemes", TYPE_UINT, "2000", 1, 100000, "characters" },
	[KEY_ALTERNATIVE] = { "chat", "alternative", TYPE_TEXT, NULL, 0, 0, NULL },
	[KEY_SESSION_IDLE] = { "staff", "session_idle_seconds", TYPE_UINT, "3600", 1, 2592000, "seconds" },
	[KEY_SESSION_MAX] = { "staff", "session_max_seconds", TYPE_UINT, "43200", 1, 2592000, "seconds" },
	[KEY_RECONNECT_GRACE] = { "staff", "reconnect_grace_seconds", TYPE_UINT, "30", 0, 600, "seconds" },
	[KEY_SHIFT_END_QUIET] = { "staff", "shift_end_quiet_minutes", TYPE_UINT, "10", 0, 120, "minutes" },
	[KEY_STATS_THRESHOLD] = { "stats", "threshold", TYPE_UINT, "10", 1, 1000, NULL },
	[KEY_LOG_LEVEL] = { "log", "level", TYPE_LOG_LEVEL, "notice", 0, 0, NULL },
	/* Without the key brugd uses the bundles of its build tree or install. */
	[KEY_LOCALES_DIR] = { "server", "locales_dir", TYPE_PATH, NULL, 0, 0, NULL },
	[KEY_TIMEZONE] = { "chat", "timezone", TYPE_TIMEZONE, "Europe/Amsterdam", 0, 0, NULL },
};

static const char *const log_levels[] = { "err", "warn", "notice", "info", "debug" };

#define MAX_TOPIC_LEN 32
#define MAX_HOSTNAME_LEN 253
/* Longest line accepted; lines past inih's own limit are read by long_line(). */
#define MAX_LONG_LINE 4096

/* State of one config_load() call. */
struct load {
	struct config *cfg;       /* being filled; moved to the caller on success */
	const char *path;         /* as the caller gave it, for messages */
	char *dir;                /* realpath of the file's directory; owned */
	FILE *f;                  /* owned */
	char *linebuf;            /* getline() buffer; owned */
	char *long_value;         /* value of the current line if too long for inih; owned */
	size_t linecap;
	unsigned line;            /* number of the line inih is handling */
	bool read_failed;         /* getline() failed other than at end of file */
	int read_errno;
	unsigned key_line[KEY__COUNT]; /* line where each key was set; 0 = not set */
	bool failed;              /* err holds the first message */
	unsigned fail_line;       /* its line, 0 if none */
	char *err;
	size_t err_len;
};

/* Record the first error; later ones are dropped so the user sees the
 * earliest problem. line 0 means "not tied to a line" (defaults, paths
 * given on the command line). */
__attribute__((format(printf, 3, 4)))
static void fail(struct load *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ld->failed)
		return;
	ld->failed = true;
	ld->fail_line = line;
	if (!ld->err || ld->err_len == 0)
		return;
	if (line > 0)
		n = snprintf(ld->err, ld->err_len, "%s:%u: ", ld->path, line);
	else
		n = snprintf(ld->err, ld->err_len, "%s: ", ld->path);
	if (n < 0 || (size_t)n >= ld->err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->err_len - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- small string helpers ------------------------------------------------ */

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* True if s is well-formed UTF-8 without control characters (the file is
 * text shown to people or put in HTTP headers). */
static bool is_clean_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n, cp;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
		else return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		/* C1 controls. */
		if (cp >= 0x80 && cp <= 0x9f)
			return false;
		p += n + 1;
	}
	return true;
}

/* True if [s, s+len) is a DNS name or dotted IPv4 address: labels of
 * letters, digits and '-', not starting or ending with '-'. */
static bool is_hostname(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > MAX_HOSTNAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(is_lower(to_lower(c)) || is_digit(c) || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-';
}

/* Parse a decimal port of 1 to 5 digits in [s, s+len). */
static bool is_port(const char *s, size_t len)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* Split "https://host[:port]" (authority only) starting after the scheme;
 * true if it is well formed. end points past the authority. */
static bool parse_authority(const char *s, const char **end)
{
	const char *p = s, *colon = NULL;

	while (*p && *p != '/' && *p != '?' && *p != '#') {
		if (*p == ':' && !colon)
			colon = p;
		p++;
	}
	*end = p;
	if (colon)
		return is_hostname(s, (size_t)(colon - s)) && is_port(colon + 1, (size_t)(p - colon - 1));
	return is_hostname(s, (size_t)(p - s));
}

/* Replace *field with a copy of value. Takes nothing; *field is owned by the
 * config. Returns false on no memory. */
static bool set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return false;
	free(*field);
	*field = copy;
	return true;
}

/* The next item of a list separated by spaces, tabs or commas; NULL at the
 * end. *len gets its length. */
static const char *next_item(const char **cursor, size_t *len)
{
	const char *p = *cursor, *start;

	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (!*p) {
		*cursor = p;
		return NULL;
	}
	start = p;
	while (*p && *p != ' ' && *p != '\t' && *p != ',')
		p++;
	*len = (size_t)(p - start);
	*cursor = p;
	return start;
}

static void free_list(char **items, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++) {
		free(items[i]);
		items[i] = NULL;
	}
	*n = 0;
}

/* ---- one handler per value type ------------------------------------------ */

/* Read an unsigned number in [def->min, def->max]: digits only, no sign. */
static bool parse_uint(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, unsigned long *out)
{
	const char *unit = def->unit ? " " : "";
	const char *unit_name = def->unit ? def->unit : "";
	unsigned long v = 0;
	bool overflow = false;

	if (!*value) {
		fail(ld, line, "%s has no value: expected a whole number from %lu to %lu%s%s",
			def->name, def->min, def->max, unit, unit_name);
		return false;
	}
	for (const char *p = value; *p; p++) {
		if (!is_digit(*p)) {
			fail(ld, line, "%s = '%s' is not a whole number: expected %lu to %lu%s%s",
				def->name, value, def->min, def->max, unit, unit_name);
			return false;
		}
		if (v > (ULONG_MAX - 9) / 10)
			overflow = true;
		else
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (overflow || v < def->min || v > def->max) {
		fail(ld, line, "%s = %s is out of range: expected %lu to %lu%s%s",
			def->name, value, def->min, def->max, unit, unit_name);
		return false;
	}
	*out = v;
	return true;
}

static void store_uint(struct config *cfg, enum key_id id, unsigned long v)
{
	switch (id) {
	case KEY_PORT: cfg->port = (int)v; break;
	case KEY_MAX_FRAME: cfg->max_frame = (size_t)v; break;
	case KEY_MAX_CONNECTIONS: cfg->max_connections = (unsigned)v; break;
	case KEY_RATE_SOFT: cfg->rate_soft = (unsigned)v; break;
	case KEY_RATE_HARD: cfg->rate_hard = (unsigned)v; break;
	case KEY_PING: cfg->ping_s = (unsigned)v; break;
	case KEY_IDLE_TIMEOUT: cfg->idle_timeout_s = (unsigned)v; break;
	case KEY_GRACE: cfg->grace_s = (unsigned)v; break;
	case KEY_OFFER_TIMEOUT: cfg->offer_timeout_s = (unsigned)v; break;
	case KEY_MAX_TEXT: cfg->max_text = (unsigned)v; break;
	case KEY_SESSION_IDLE: cfg->session_idle_s = (unsigned)v; break;
	case KEY_SESSION_MAX: cfg->session_max_s = (unsigned)v; break;
	case KEY_RECONNECT_GRACE: cfg->staff_grace_s = (unsigned)v; break;
	case KEY_SHIFT_END_QUIET: cfg->shift_end_quiet_min = (unsigned)v; break;
	case KEY_STATS_THRESHOLD: cfg->stats_threshold = (unsigned)v; break;
	default: break;
	}
}

/* The string field a key of a string-like type fills. */
static char **string_field(struct config *cfg, enum key_id id)
{
	switch (id) {
	case KEY_HOSTNAME: return &cfg->hostname;
	case KEY_BIND: return &cfg->bind;
	case KEY_WEB_ROOT: return &cfg->web_root;
	case KEY_STATE_DIR: return &cfg->state_dir;
	case KEY_FRAME_ANCESTORS: return &cfg->frame_ancestors;
	case KEY_NEUTRAL_URL: return &cfg->neutral_url;
	case KEY_CERT: return &cfg->cert;
	case KEY_KEY: return &cfg->key;
	case KEY_DEFAULT_LANGUAGE: return &cfg->default_lang;
	case KEY_LOG_LEVEL: return &cfg->log_level;
	case KEY_LOCALES_DIR: return &cfg->locales_dir;
	case KEY_TIMEZONE: return &cfg->timezone;
	default: return NULL;
	}
}

static bool parse_hostname(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	char *lower;

	if (!is_hostname(value, strlen(value))) {
		fail(ld, line, "%s = '%s' is not a host name: expected letters, digits, '-' and '.', "
			"like helpline.example.org", def->name, value);
		return false;
	}
	if (!set_string(field, value))
		goto nomem;
	for (lower = *field; *lower; lower++)
		*lower = to_lower(*lower);
	return true;
nomem:
	fail(ld, line, "out of memory");
	return false;
}

static bool parse_bind(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	if (!*value) {
		/* An empty value means every interface, as when unset. */
		free(*field);
		*field = NULL;
		return true;
	}
	for (const char *p = value; *p; p++) {
		char c = to_lower(*p);

		if (!(is_lower(c) || is_digit(c) || c == '.' || c == ':' || c == '-' || c == '_' || c == '%')) {
			fail(ld, line, "%s = '%s' is not an interface name or IP address", def->name, value);
			return false;
		}
	}
	if (!set_string(field, value)) {
		fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

static bool parse_path(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	if (!*value) {
		fail(ld, line, "%s has no value: expected a path", def->name);
		return false;
	}
	if (!set_string(field, value)) {
		fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

/* Origins as the browser sends them: "https://host" or "https://host:port",
 * with no path, query, fragment, user or trailing slash. */
static bool parse_origins(struct load *ld, unsigned line, const struct key_def *def, const char *value)
{
	struct config *cfg = ld->cfg;
	const char *cursor = value, *item;
	size_t len;

	free_list(cfg->origins, &cfg->n_origins);
	while ((item = next_item(&cursor, &len))) {
		char *origin;
		const char *end;

		if (cfg->n_origins == CONFIG_MAX_ORIGINS) {
			fail(ld, line, "%s lists more than %d origins", def->name, CONFIG_MAX_ORIGINS);
			return false;
		}
		origin = strndup(item, len);
		if (!origin) {
			fail(ld, line, "out of memory");
			return false;
		}
		for (char *p = origin; *p; p++)
			*p = to_lower(*p);
		if (strncmp(origin, "https://", 8) != 0 || !parse_authority(origin + 8, &end) || *end) {
			fail(ld, line, "%s: '%.*s' is not an origin: expected https://host or "
				"https://host:port with no path, like https://partner.example.org",
				def->name, (int)len, item);
			free(origin);
			return false;
		}
		cfg->origins[cfg->n_origins++] = origin;
	}
	return true;
}

/* A source list for the CSP frame-ancestors directive. It goes into a header
 * as is, so characters that would end the directive or the header are out. */
static bool parse_csp_sources(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	bool any = false;

	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || c == ';' || c == ',' || c == '"' || c == '\\' ||
		    c == '<' || c == '>') {
			fail(ld, line, "%s = '%s' is not a CSP source list: expected sources separated by "
				"spaces, like 'self' https://partner.example.org", def->name, value);
			return false;
		}
		if (c != ' ' && c != '\t')
			any = true;
	}
	if (!any) {
		fail(ld, line, "%s has no value: expected a CSP source list such as 'self' or 'none'", def->name);
		return false;
	}
	if (!set_string(field, value)) {
		fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

/* An absolute https URL; it ends up in a page, so quotes, angle brackets,
 * spaces and backslashes are refused rather than escaped. */
static bool parse_https_url(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	const char *end;

	if (strncmp(value, "https://", 8) != 0 || !parse_authority(value + 8, &end))
		goto bad;
	for (const char *p = end; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' ||
		    c == '\\' || c == '`')
			goto bad;
	}
	if (*end && *end != '/' && *end != '?' && *end != '#')
		goto bad;
	if (!set_string(field, value)) {
		fail(ld, line, "out of memory");
		return false;
	}
	return true;
bad:
	fail(ld, line, "%s = '%s' is not an https URL: expected https://host/path, "
		"like https://www.google.com/", def->name, value);
	return false;
}

/* A language code: 2 or 3 lower-case letters (ISO 639-1 or 639-2). */
static bool is_lang(const char *s, size_t len)
{
	if (len < 2 || len > 3)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower(s[i]))
			return false;
	return true;
}

static bool is_topic(const char *s, size_t len)
{
	if (len < 1 || len > MAX_TOPIC_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower(s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Read a list of languages or topics into items. Items are unique. */
static bool parse_word_list(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **items, unsigned *n, unsigned max,
		bool (*valid)(const char *, size_t), const char *expected)
{
	const char *cursor = value, *item;
	size_t len;

	free_list(items, n);
	while ((item = next_item(&cursor, &len))) {
		if (!valid(item, len)) {
			fail(ld, line, "%s: '%.*s' is not valid: expected %s", def->name, (int)len, item, expected);
			return false;
		}
		for (unsigned i = 0; i < *n; i++) {
			if (strlen(items[i]) == len && memcmp(items[i], item, len) == 0) {
				fail(ld, line, "%s lists '%.*s' twice", def->name, (int)len, item);
				return false;
			}
		}
		if (*n == max) {
			fail(ld, line, "%s lists more than %u entries", def->name, max);
			return false;
		}
		items[*n] = strndup(item, len);
		if (!items[*n]) {
			fail(ld, line, "out of memory");
			return false;
		}
		(*n)++;
	}
	if (*n == 0) {
		fail(ld, line, "%s is empty: expected at least one of %s", def->name, expected);
		return false;
	}
	return true;
}

static bool parse_lang(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	if (!is_lang(value, strlen(value))) {
		fail(ld, line, "%s = '%s' is not a language code: expected 2 or 3 lower-case letters, like nl",
			def->name, value);
		return false;
	}
	if (!set_string(field, value)) {
		fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

static bool parse_text(struct load *ld, unsigned line, const struct key_def *def, const char *value)
{
	struct config *cfg = ld->cfg;

	if (!*value) {
		fail(ld, line, "%s has no value: expected one line of text", def->name);
		return false;
	}
	if (cfg->n_alternatives == CONFIG_MAX_ALTERNATIVES) {
		fail(ld, line, "too many %s lines: at most %d", def->name, CONFIG_MAX_ALTERNATIVES);
		return false;
	}
	cfg->alternatives[cfg->n_alternatives] = strdup(value);
	if (!cfg->alternatives[cfg->n_alternatives]) {
		fail(ld, line, "out of memory");
		return false;
	}
	cfg->n_alternatives++;
	return true;
}

/* A time zone name as in the IANA database ("Europe/Amsterdam"); ICU
 * resolves it when texts are formatted. */
static bool parse_timezone(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	size_t n = strlen(value);

	if (n == 0 || n > 64 || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					"0123456789_/+-") != n || value[0] == '/' || strstr(value, "..")) {
		fail(ld, line, "%s = '%s' is not a time zone: expected a name like Europe/Amsterdam",
			def->name, value);
		return false;
	}
	if (!set_string(field, value)) {
		fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

static bool parse_log_level(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (strcmp(value, log_levels[i]) == 0) {
			if (!set_string(field, value)) {
				fail(ld, line, "out of memory");
				return false;
			}
			return true;
		}
	}
	fail(ld, line, "%s = '%s' is not a log level: expected err, warn, notice, info or debug",
		def->name, value);
	return false;
}

/* Check and store one value (from the file, or a default with line 0). */
static bool set_key(struct load *ld, enum key_id id, unsigned line, const char *value)
{
	const struct key_def *def = &key_defs[id];
	struct config *cfg = ld->cfg;
	char **field = string_field(cfg, id);
	unsigned long v;

	if (!is_clean_utf8(value)) {
		fail(ld, line, "%s: the value has a control character or is not valid UTF-8", def->name);
		return false;
	}
	switch (def->type) {
	case TYPE_UINT:
		if (!parse_uint(ld, line, def, value, &v))
			return false;
		store_uint(cfg, id, v);
		return true;
	case TYPE_HOSTNAME:
		return parse_hostname(ld, line, def, value, field);
	case TYPE_BIND:
		return parse_bind(ld, line, def, value, field);
	case TYPE_PATH:
		return parse_path(ld, line, def, value, field);
	case TYPE_ORIGINS:
		return parse_origins(ld, line, def, value);
	case TYPE_CSP_SOURCES:
		return parse_csp_sources(ld, line, def, value, field);
	case TYPE_HTTPS_URL:
		return parse_https_url(ld, line, def, value, field);
	case TYPE_LANGS:
		return parse_word_list(ld, line, def, value, cfg->langs, &cfg->n_langs,
			CONFIG_MAX_LANGS, is_lang, "language codes of 2 or 3 lower-case letters, like nl");
	case TYPE_LANG:
		return parse_lang(ld, line, def, value, field);
	case TYPE_TOPICS:
		return parse_word_list(ld, line, def, value, cfg->topics, &cfg->n_topics,
			CONFIG_MAX_TOPICS, is_topic, "topic names of 1 to 32 characters a-z and _");
	case TYPE_TEXT:
		return parse_text(ld, line, def, value);
	case TYPE_LOG_LEVEL:
		return parse_log_level(ld, line, def, value, field);
	case TYPE_TIMEZONE:
		return parse_timezone(ld, line, def, value, field);
	}
	return false;
}

/* ---- inih callbacks ---------------------------------------------------- */

#define SYNTAX_ERROR "syntax error: expected '[section]', 'key = value' or a comment"

/*
 * A line longer than inih's fixed buffer (INI_MAX_LINE, 200 bytes in
 * Debian's build) would be split by inih into two lines. Such a line is
 * read here the way inih reads a key line (name, '=' or ':', value, an
 * inline comment after " ;") and inih is handed "name=x" instead; the
 * handler then takes the real value from ld->long_value. Returns buf, or
 * NULL after recording an error.
 */
static char *long_line(struct load *ld, char *buf, int size, char *start, size_t len)
{
	char *sep, *name_end, *value, *end;
	size_t name_len;

	if (len > MAX_LONG_LINE) {
		fail(ld, ld->line, "the line is too long: at most %d bytes", MAX_LONG_LINE);
		return NULL;
	}
	start[len] = '\0';
	if (*start == '#' || *start == ';') {
		snprintf(buf, (size_t)size, "#");
		return buf;
	}
	if (*start == '[') {
		fail(ld, ld->line, "the section name is too long");
		return NULL;
	}
	for (sep = start; *sep && *sep != '=' && *sep != ':'; sep++)
		if (*sep == ';' && sep > start && (sep[-1] == ' ' || sep[-1] == '\t'))
			break;
	if (*sep != '=' && *sep != ':') {
		fail(ld, ld->line, SYNTAX_ERROR);
		return NULL;
	}
	name_end = sep;
	while (name_end > start && (name_end[-1] == ' ' || name_end[-1] == '\t'))
		name_end--;
	name_len = (size_t)(name_end - start);
	if (name_len + 3 > (size_t)size) {
		fail(ld, ld->line, "the key name is too long");
		return NULL;
	}
	value = sep + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	for (end = value; *end; end++)
		if (*end == ';' && end > value && (end[-1] == ' ' || end[-1] == '\t'))
			break;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	ld->long_value = strndup(value, (size_t)(end - value));
	if (!ld->long_value) {
		fail(ld, ld->line, "out of memory");
		return NULL;
	}
	memcpy(buf, start, name_len);
	memcpy(buf + name_len, "=x", 3);
	return buf;
}

/*
 * inih's reader: hands over one line at a time so we know the line number
 * (Debian builds inih without INI_HANDLER_LINENO). Leading white space is
 * dropped so that an indented key is an ordinary key and never inih's
 * continuation of the previous value.
 */
static char *read_line(char *buf, int size, void *user)
{
	struct load *ld = user;
	ssize_t n;
	char *start;
	size_t len;

	free(ld->long_value);
	ld->long_value = NULL;
	if (ld->failed || size < 2)
		return NULL;
	errno = 0;
	n = getline(&ld->linebuf, &ld->linecap, ld->f);
	if (n < 0) {
		if (ferror(ld->f)) {
			ld->read_failed = true;
			ld->read_errno = errno ? errno : EIO;
		}
		return NULL;
	}
	ld->line++;
	if ((size_t)n != strlen(ld->linebuf)) {
		fail(ld, ld->line, "the line contains a NUL byte");
		return NULL;
	}
	start = ld->linebuf;
	if (ld->line == 1 && memcmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3; /* a UTF-8 byte order mark */
	while (*start == ' ' || *start == '\t')
		start++;
	len = strlen(start);
	while (len > 0 && (start[len - 1] == '\n' || start[len - 1] == '\r'))
		len--;
	if (len >= (size_t)size)
		return long_line(ld, buf, size, start, len);
	memcpy(buf, start, len);
	buf[len] = '\0';
	return buf;
}

static int handle_key(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	unsigned line = ld->line;
	bool known_section = false;

	if (ld->failed)
		return 0;
	if (ld->long_value)
		value = ld->long_value;
	if (!*section) {
		fail(ld, line, "key '%s' is outside any section: put it under [server], [tls], "
			"[chat], [staff] or [log]", name);
		return 0;
	}
	for (int id = 0; id < KEY__COUNT; id++) {
		const struct key_def *def = &key_defs[id];

		if (strcmp(def->section, section) != 0)
			continue;
		known_section = true;
		if (strcmp(def->name, name) != 0)
			continue;
		if (ld->key_line[id] && def->type != TYPE_TEXT) {
			fail(ld, line, "duplicate key '%s' in [%s] (first set on line %u)",
				name, section, ld->key_line[id]);
			return 0;
		}
		ld->key_line[id] = line;
		return set_key(ld, (enum key_id)id, line, value) ? 1 : 0;
	}
	if (known_section)
		fail(ld, line, "unknown key '%s' in [%s]", name, section);
	else
		fail(ld, line, "unknown key '%s' in [%s] (unknown section)", name, section);
	return 0;
}

/* ---- after parsing ------------------------------------------------------- */

static void apply_defaults(struct load *ld)
{
	struct config *cfg = ld->cfg;

	for (int id = 0; id < KEY__COUNT && !ld->failed; id++) {
		if (ld->key_line[id] || !key_defs[id].def)
			continue;
		set_key(ld, (enum key_id)id, 0, key_defs[id].def);
	}
	if (ld->failed || cfg->default_lang)
		return;
	/* No default_language: "nl" when offered, else the first language. */
	if (!set_string(&cfg->default_lang,
			config_lang_index(cfg, "nl") >= 0 ? "nl" : cfg->langs[0]))
		fail(ld, 0, "out of memory");
}

/*
 * Make path absolute against base (an absolute directory) and tidy it
 * lexically: no "." or empty components, ".." removes the previous one.
 * The path need not exist. Returns a new string (caller frees) or NULL on
 * no memory.
 */
static char *absolute_path(const char *base, const char *path)
{
	size_t cap = strlen(base) + strlen(path) + 3;
	char *joined = NULL, *out = NULL, *save = NULL;
	size_t len = 0;

	joined = malloc(cap);
	out = malloc(cap);
	if (!joined || !out)
		goto fail_alloc;
	if (path[0] == '/')
		snprintf(joined, cap, "%s", path);
	else
		snprintf(joined, cap, "%s/%s", base, path);

	out[0] = '\0';
	for (char *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
			continue;
		}
		out[len++] = '/';
		memcpy(out + len, part, strlen(part));
		len += strlen(part);
		out[len] = '\0';
	}
	if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	free(joined);
	return out;

fail_alloc:
	free(joined);
	free(out);
	return NULL;
}

/* Replace *field (a path from the file or a default) by its absolute form
 * against base; if it exists, by its realpath. */
static bool resolve_path(struct load *ld, const char *base, char **field)
{
	char *abs = absolute_path(base, *field);
	char *real;

	if (!abs) {
		fail(ld, 0, "out of memory");
		return false;
	}
	real = realpath(abs, NULL);
	free(*field);
	if (real) {
		free(abs);
		*field = real;
	} else {
		*field = abs;
	}
	return true;
}

/* Resolve web_root, state_dir (or its override), cert and key. */
static bool resolve_paths(struct load *ld, const char *state_dir_override)
{
	struct config *cfg = ld->cfg;
	unsigned web_line = ld->key_line[KEY_WEB_ROOT];
	struct stat st;
	char cwd[PATH_MAX];

	if (!resolve_path(ld, ld->dir, &cfg->web_root))
		return false;
	if (stat(cfg->web_root, &st) != 0) {
		fail(ld, web_line, "web_root '%s'%s: %s", cfg->web_root,
			web_line ? "" : " (the default; set [server] web_root)", strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		fail(ld, web_line, "web_root '%s'%s is not a directory", cfg->web_root,
			web_line ? "" : " (the default; set [server] web_root)");
		return false;
	}

	if (state_dir_override) {
		if (!*state_dir_override) {
			fail(ld, 0, "--state-dir is empty: expected a directory");
			return false;
		}
		if (!getcwd(cwd, sizeof(cwd))) {
			fail(ld, 0, "cannot resolve --state-dir '%s': %s", state_dir_override, strerror(errno));
			return false;
		}
		if (!set_string(&cfg->state_dir, state_dir_override)) {
			fail(ld, 0, "out of memory");
			return false;
		}
		if (!resolve_path(ld, cwd, &cfg->state_dir))
			return false;
	} else if (!resolve_path(ld, ld->dir, &cfg->state_dir)) {
		return false;
	}

	if (cfg->locales_dir != NULL) {
		if (!resolve_path(ld, ld->dir, &cfg->locales_dir))
			return false;
		if (stat(cfg->locales_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			fail(ld, ld->key_line[KEY_LOCALES_DIR], "locales_dir '%s' is not a directory",
				cfg->locales_dir);
			return false;
		}
	}
	return resolve_path(ld, cfg->state_dir, &cfg->cert) &&
		resolve_path(ld, cfg->state_dir, &cfg->key);
}

/* realpath of the directory that holds path. Caller frees; NULL sets errno. */
static char *file_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *real;

	if (!slash)
		return realpath(".", NULL);
	if (slash == path)
		return realpath("/", NULL);
	dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return NULL;
	real = realpath(dir, NULL);
	free(dir);
	return real;
}

/* ---- public ------------------------------------------------------------- */

int config_load(struct config *cfg, const char *path, const char *state_dir_override,
		char *err, size_t err_len)
{
	struct config tmp;
	struct load ld;
	struct stat st;
	int rc;

	if (err && err_len)
		err[0] = '\0';
	if (!cfg)
		return -1;
	memset(cfg, 0, sizeof(*cfg));
	memset(&tmp, 0, sizeof(tmp));
	memset(&ld, 0, sizeof(ld));
	ld.cfg = &tmp;
	ld.path = path ? path : "(null)";
	ld.err = err;
	ld.err_len = err_len;
	if (!path || !*path) {
		fail(&ld, 0, "no config file given");
		return -1;
	}

	ld.f = fopen(path, "re");
	if (!ld.f) {
		fail(&ld, 0, "cannot open the config file: %s", strerror(errno));
		goto fail_free;
	}
	if (fstat(fileno(ld.f), &st) != 0) {
		fail(&ld, 0, "cannot read the config file: %s", strerror(errno));
		goto fail_free;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(&ld, 0, "cannot read the config file: %s",
			S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
		goto fail_free;
	}
	ld.dir = file_dir(path);
	if (!ld.dir) {
		fail(&ld, 0, "cannot resolve the config file's directory: %s", strerror(errno));
		goto fail_free;
	}

	rc = ini_parse_stream(read_line, &ld, handle_key, &ld);
	/* inih goes on after a syntax error, so a later key may have failed
	 * first in our eyes; report whichever comes first in the file. */
	if (rc > 0 && (!ld.failed || (unsigned)rc < ld.fail_line)) {
		ld.failed = false;
		fail(&ld, (unsigned)rc, SYNTAX_ERROR);
		goto fail_free;
	}
	if (ld.failed)
		goto fail_free;
	if (ld.read_failed) {
		fail(&ld, 0, "cannot read the config file: %s", strerror(ld.read_errno));
		goto fail_free;
	}
	if (rc < 0) {
		fail(&ld, 0, "cannot parse the config file (inih error %d)", rc);
		goto fail_free;
	}

	apply_defaults(&ld);
	if (ld.failed)
		goto fail_free;
	if (config_lang_index(&tmp, tmp.default_lang) < 0) {
		unsigned line = ld.key_line[KEY_DEFAULT_LANGUAGE] ? ld.key_line[KEY_DEFAULT_LANGUAGE]
			: ld.key_line[KEY_LANGUAGES];
		fail(&ld, line, "default_language '%s' is not one of the languages in [chat] languages",
			tmp.default_lang);
		goto fail_free;
	}
	/* A peer must get a ping, and time to answer it, before it is cut off. */
	if (tmp.idle_timeout_s <= tmp.ping_s) {
		fail(&ld, ld.key_line[KEY_IDLE_TIMEOUT] ? ld.key_line[KEY_IDLE_TIMEOUT] : ld.key_line[KEY_PING],
			"idle_timeout_seconds = %u must be greater than ping_seconds = %u",
			tmp.idle_timeout_s, tmp.ping_s);
		goto fail_free;
	}
	if (!resolve_paths(&ld, state_dir_override))
		goto fail_free;

	*cfg = tmp;
	free(ld.long_value);
	free(ld.linebuf);
	free(ld.dir);
	fclose(ld.f);
	return 0;

fail_free:
	config_fini(&tmp);
	free(ld.long_value);
	free(ld.linebuf);
	free(ld.dir);
	if (ld.f)
		fclose(ld.f);
	return -1;
}

void config_fini(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->hostname);
	free(cfg->bind);
	free(cfg->web_root);
	free(cfg->state_dir);
	free_list(cfg->origins, &cfg->n_origins);
	free(cfg->frame_ancestors);
	free(cfg->neutral_url);
	free(cfg->locales_dir);
	free(cfg->timezone);
	free(cfg->cert);
	free(cfg->key);
	free_list(cfg->langs, &cfg->n_langs);
	free(cfg->default_lang);
	free_list(cfg->topics, &cfg->n_topics);
	free_list(cfg->alternatives, &cfg->n_alternatives);
	free(cfg->log_level);
	memset(cfg, 0, sizeof(*cfg));
}

int config_lang_index(const struct config *cfg, const char *lang)
{
	if (!cfg || !lang)
		return -1;
	for (unsigned i = 0; i < cfg->n_langs; i++)
		if (strcmp(cfg->langs[i], lang) == 0)
			return (int)i;
	return -1;
}

int config_topic_index(const struct config *cfg, const char *topic)
{
	if (!cfg || !topic)
		return -1;
	for (unsigned i = 0; i < cfg->n_topics; i++)
		if (strcmp(cfg->topics[i], topic) == 0)
			return (int)i;
	return -1;
}
