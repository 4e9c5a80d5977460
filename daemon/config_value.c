/* Reading one config value by its type: the string checks, one handler per
 * type of key, and config_set_key(), which checks and stores a value from
 * the file or a default. */
#include "config.h"
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "util/secmem.h"

#include "config_private.h"

static const char *const log_levels[] = { "err", "warn", "notice", "info", "debug" };

#define MAX_TOPIC_LEN 32
#define MAX_HOSTNAME_LEN 253

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
bool config_set_string(char **field, const char *value)
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

void config_free_list(char **items, unsigned *n)
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
		config_fail(ld, line, "%s has no value: expected a whole number from %lu to %lu%s%s",
			def->name, def->min, def->max, unit, unit_name);
		return false;
	}
	for (const char *p = value; *p; p++) {
		if (!is_digit(*p)) {
			config_fail(ld, line, "%s = '%s' is not a whole number: expected %lu to %lu%s%s",
				def->name, value, def->min, def->max, unit, unit_name);
			return false;
		}
		if (v > (ULONG_MAX - 9) / 10)
			overflow = true;
		else
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (overflow || v < def->min || v > def->max) {
		config_fail(ld, line, "%s = %s is out of range: expected %lu to %lu%s%s",
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
	case KEY_PING: cfg->ping_s = (unsigned)v; break;
	case KEY_IDLE_TIMEOUT: cfg->idle_timeout_s = (unsigned)v; break;
	case KEY_GRACE: cfg->grace_s = (unsigned)v; break;
	case KEY_OFFER_TIMEOUT: cfg->offer_timeout_s = (unsigned)v; break;
	case KEY_MAX_TEXT: cfg->max_text = (unsigned)v; break;
	case KEY_RATE_MSGS: cfg->rate_msgs = (unsigned)v; break;
	case KEY_SESSION_IDLE: cfg->session_idle_s = (unsigned)v; break;
	case KEY_SESSION_MAX: cfg->session_max_s = (unsigned)v; break;
	case KEY_RECONNECT_GRACE: cfg->staff_grace_s = (unsigned)v; break;
	case KEY_SHIFT_END_QUIET: cfg->shift_end_quiet_min = (unsigned)v; break;
	case KEY_AUDIT_RETENTION: cfg->audit_retention_days = (unsigned)v; break;
	case KEY_STATS_THRESHOLD: cfg->stats_threshold = (unsigned)v; break;
	case KEY_MAX_CONNS_PER_SOURCE: cfg->max_conns_per_source = (unsigned)v; break;
	case KEY_STAFF_RESERVE: cfg->staff_reserve = (unsigned)v; break;
	case KEY_MAX_WAITING_PER_SOURCE: cfg->max_waiting_per_source = (unsigned)v; break;
	case KEY_BLOCK_HOURS: cfg->block_hours = (unsigned)v; break;
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
	case KEY_NODE: return &cfg->node;
	case KEY_NATS_USER: return &cfg->nats_user;
	case KEY_NATS_PASSWORD: return &cfg->nats_password;
	case KEY_NATS_NKEY: return &cfg->nats_nkey;
	case KEY_NATS_NKEY_SEED: return &cfg->nats_nkey_seed;
	case KEY_NATS_CA: return &cfg->nats_ca;
	case KEY_CLUSTER_KEY_FILE: return &cfg->cluster_key_file;
	default: return NULL;
	}
}

static bool parse_hostname(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	char *lower;

	if (!is_hostname(value, strlen(value))) {
		config_fail(ld, line, "%s = '%s' is not a host name: expected letters, digits, '-' and '.', "
			"like helpline.example.org", def->name, value);
		return false;
	}
	if (!config_set_string(field, value))
		goto nomem;
	for (lower = *field; *lower; lower++)
		*lower = to_lower(*lower);
	return true;
nomem:
	config_fail(ld, line, "out of memory");
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
			config_fail(ld, line, "%s = '%s' is not an interface name or IP address", def->name, value);
			return false;
		}
	}
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

static bool parse_path(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	if (!*value) {
		config_fail(ld, line, "%s has no value: expected a path", def->name);
		return false;
	}
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
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

	config_free_list(cfg->origins, &cfg->n_origins);
	while ((item = next_item(&cursor, &len))) {
		char *origin;
		const char *end;

		if (cfg->n_origins == CONFIG_MAX_ORIGINS) {
			config_fail(ld, line, "%s lists more than %d origins", def->name, CONFIG_MAX_ORIGINS);
			return false;
		}
		origin = strndup(item, len);
		if (!origin) {
			config_fail(ld, line, "out of memory");
			return false;
		}
		for (char *p = origin; *p; p++)
			*p = to_lower(*p);
		if (strncmp(origin, "https://", 8) != 0 || !parse_authority(origin + 8, &end) || *end) {
			config_fail(ld, line, "%s: '%.*s' is not an origin: expected https://host or "
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
			config_fail(ld, line, "%s = '%s' is not a CSP source list: expected sources separated by "
				"spaces, like 'self' https://partner.example.org", def->name, value);
			return false;
		}
		if (c != ' ' && c != '\t')
			any = true;
	}
	if (!any) {
		config_fail(ld, line, "%s has no value: expected a CSP source list such as 'self' or 'none'", def->name);
		return false;
	}
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
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
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
		return false;
	}
	return true;
bad:
	config_fail(ld, line, "%s = '%s' is not an https URL: expected https://host/path, "
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

	config_free_list(items, n);
	while ((item = next_item(&cursor, &len))) {
		if (!valid(item, len)) {
			config_fail(ld, line, "%s: '%.*s' is not valid: expected %s", def->name, (int)len, item, expected);
			return false;
		}
		for (unsigned i = 0; i < *n; i++) {
			if (strlen(items[i]) == len && memcmp(items[i], item, len) == 0) {
				config_fail(ld, line, "%s lists '%.*s' twice", def->name, (int)len, item);
				return false;
			}
		}
		if (*n == max) {
			config_fail(ld, line, "%s lists more than %u entries", def->name, max);
			return false;
		}
		items[*n] = strndup(item, len);
		if (!items[*n]) {
			config_fail(ld, line, "out of memory");
			return false;
		}
		(*n)++;
	}
	if (*n == 0) {
		config_fail(ld, line, "%s is empty: expected at least one of %s", def->name, expected);
		return false;
	}
	return true;
}

static bool parse_lang(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	if (!is_lang(value, strlen(value))) {
		config_fail(ld, line, "%s = '%s' is not a language code: expected 2 or 3 lower-case letters, like nl",
			def->name, value);
		return false;
	}
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

static bool parse_text(struct load *ld, unsigned line, const struct key_def *def, const char *value)
{
	struct config *cfg = ld->cfg;

	if (!*value) {
		config_fail(ld, line, "%s has no value: expected one line of text", def->name);
		return false;
	}
	if (cfg->n_alternatives == CONFIG_MAX_ALTERNATIVES) {
		config_fail(ld, line, "too many %s lines: at most %d", def->name, CONFIG_MAX_ALTERNATIVES);
		return false;
	}
	cfg->alternatives[cfg->n_alternatives] = strdup(value);
	if (!cfg->alternatives[cfg->n_alternatives]) {
		config_fail(ld, line, "out of memory");
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
		config_fail(ld, line, "%s = '%s' is not a time zone: expected a name like Europe/Amsterdam",
			def->name, value);
		return false;
	}
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

static bool parse_log_level(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
		if (strcmp(value, log_levels[i]) == 0) {
			if (!config_set_string(field, value)) {
				config_fail(ld, line, "out of memory");
				return false;
			}
			return true;
		}
	}
	config_fail(ld, line, "%s = '%s' is not a log level: expected err, warn, notice, info or debug",
		def->name, value);
	return false;
}

/* A node name goes into NATS subjects (docs/cluster.md, section 9), so it
 * is kept to characters that are plain in a subject token. */
static bool parse_node(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	size_t n = strlen(value);

	if (n == 0 || n > 32 || strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789-") != n) {
		config_fail(ld, line, "%s = '%s' is not a node name: expected 1 to 32 characters a-z, 0-9 and -, "
			"like brug-1", def->name, value);
		return false;
	}
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

/* NATS server URLs: the connection is always TLS, so tls:// and nats://
 * mean the same here; a missing port is NATS' 4222. */
static bool parse_nats_urls(struct load *ld, unsigned line, const struct key_def *def, const char *value)
{
	struct config *cfg = ld->cfg;
	const char *cursor = value, *item;
	size_t len;

	config_free_list(cfg->nats_urls, &cfg->n_nats_urls);
	while ((item = next_item(&cursor, &len))) {
		char *url;
		const char *end, *rest;

		if (cfg->n_nats_urls == CONFIG_MAX_NATS_URLS) {
			config_fail(ld, line, "%s lists more than %d URLs", def->name, CONFIG_MAX_NATS_URLS);
			return false;
		}
		url = strndup(item, len);
		if (!url) {
			config_fail(ld, line, "out of memory");
			return false;
		}
		for (char *p = url; *p; p++)
			*p = to_lower(*p);
		rest = strncmp(url, "tls://", 6) == 0 ? url + 6 : strncmp(url, "nats://", 7) == 0 ? url + 7 : NULL;
		if (rest == NULL || !parse_authority(rest, &end) || (*end && strcmp(end, "/") != 0)) {
			config_fail(ld, line, "%s: '%.*s' is not a NATS URL: expected tls://host:port, "
				"like tls://nats1.example.org:4222", def->name, (int)len, item);
			free(url);
			return false;
		}
		cfg->nats_urls[cfg->n_nats_urls++] = url;
	}
	if (cfg->n_nats_urls == 0) {
		config_fail(ld, line, "%s is empty: expected one or more tls://host:port", def->name);
		return false;
	}
	return true;
}

static bool parse_word(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	size_t n = strlen(value);

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)value[i] <= 0x20 || (unsigned char)value[i] >= 0x7f) {
			n = 0;
			break;
		}
	}
	if (n == 0 || n > 128) {
		config_fail(ld, line, "%s = '%s' is not valid: expected 1 to 128 printable ASCII characters "
			"without spaces", def->name, value);
		return false;
	}
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

/* A secret (the NATS password): its value never appears in a message. */
static bool parse_secret(struct load *ld, unsigned line, const struct key_def *def,
		const char *value, char **field)
{
	size_t n = strlen(value);

	if (n == 0 || n > 256) {
		config_fail(ld, line, "%s must have 1 to 256 characters", def->name);
		return false;
	}
	if (*field != NULL)
		secmem_wipe(*field, strlen(*field));
	if (!config_set_string(field, value)) {
		config_fail(ld, line, "out of memory");
		return false;
	}
	return true;
}

/* Check and store one value (from the file, or a default with line 0). */
bool config_set_key(struct load *ld, enum key_id id, unsigned line, const char *value)
{
	const struct key_def *def = &config_key_defs[id];
	struct config *cfg = ld->cfg;
	char **field = string_field(cfg, id);
	unsigned long v;

	if (!is_clean_utf8(value)) {
		config_fail(ld, line, "%s: the value has a control character or is not valid UTF-8", def->name);
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
	case TYPE_NODE:
		return parse_node(ld, line, def, value, field);
	case TYPE_NATS_URLS:
		return parse_nats_urls(ld, line, def, value);
	case TYPE_WORD:
		return parse_word(ld, line, def, value, field);
	case TYPE_SECRET:
		return parse_secret(ld, line, def, value, field);
	}
	return false;
}

