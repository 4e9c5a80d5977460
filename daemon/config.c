/* Reading the daemon's INI config file with inih: every key is known, typed
 * and range-checked (config_value.c), defaults live in one table, and every
 * refusal names the file, the line, the key and what was expected. */
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

/* Every key the file may contain, with its default (config.h documents the
 * fields). A key that may appear more than once is marked by TYPE_TEXT. */
const struct key_def config_key_defs[KEY__COUNT] = {
	[KEY_HOSTNAME] = { "server", "hostname", TYPE_HOSTNAME, "localhost", 0, 0, NULL },
	[KEY_PORT] = { "server", "port", TYPE_UINT, "8443", 0, 65535, NULL },
	[KEY_BIND] = { "server", "bind", TYPE_BIND, NULL, 0, 0, NULL },
	/* Without the key, the web-client/ of the checkout or install (paths.h). */
	[KEY_WEB_ROOT] = { "server", "web_root", TYPE_PATH, NULL, 0, 0, NULL },
	[KEY_STATE_DIR] = { "server", "state_dir", TYPE_PATH, "/var/lib/brug", 0, 0, NULL },
	[KEY_MAX_FRAME] = { "server", "max_frame", TYPE_UINT, "16384", 1024, 1048576, "bytes" },
	[KEY_MAX_CONNECTIONS] = { "server", "max_connections", TYPE_UINT, "20000", 16, 1000000, NULL },
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
	/* Raised only for benchmarks (tests/bench/compare.sh). */
	[KEY_RATE_MSGS] = { "chat", "rate_limit_messages", TYPE_UINT, "20", 1, 1000000, "messages" },
	[KEY_ALTERNATIVE] = { "chat", "alternative", TYPE_TEXT, NULL, 0, 0, NULL },
	[KEY_SESSION_IDLE] = { "staff", "session_idle_seconds", TYPE_UINT, "3600", 1, 2592000, "seconds" },
	[KEY_SESSION_MAX] = { "staff", "session_max_seconds", TYPE_UINT, "43200", 1, 2592000, "seconds" },
	[KEY_RECONNECT_GRACE] = { "staff", "reconnect_grace_seconds", TYPE_UINT, "30", 0, 600, "seconds" },
	[KEY_SHIFT_END_QUIET] = { "staff", "shift_end_quiet_minutes", TYPE_UINT, "10", 0, 120, "minutes" },
	[KEY_AUDIT_RETENTION] = { "staff", "audit_retention_days", TYPE_UINT, "365", 1, 36500, "days" },
	[KEY_STATS_THRESHOLD] = { "stats", "threshold", TYPE_UINT, "10", 1, 1000, NULL },
	[KEY_LOG_LEVEL] = { "log", "level", TYPE_LOG_LEVEL, "notice", 0, 0, NULL },
	/* Without the key brugd uses the bundles of its build tree or install. */
	[KEY_LOCALES_DIR] = { "server", "locales_dir", TYPE_PATH, NULL, 0, 0, NULL },
	[KEY_TIMEZONE] = { "chat", "timezone", TYPE_TIMEZONE, "Europe/Amsterdam", 0, 0, NULL },
	/* One address may be a shelter or a household behind NAT: room for 20-30
	 * visitors, each a socket and a few page loads (docs/operations.md). */
	[KEY_MAX_CONNS_PER_SOURCE] = { "server", "max_connections_per_source", TYPE_UINT, "100", 1, 1000000, NULL },
	/* At most half of max_connections in effect (server.c). */
	[KEY_STAFF_RESERVE] = { "server", "staff_reserve_connections", TYPE_UINT, "100", 0, 1000000, NULL },
	[KEY_MAX_WAITING_PER_SOURCE] = { "chat", "max_waiting_per_source", TYPE_UINT, "30", 1, 1000000, NULL },
	/* [cluster] has no defaults: without its keys brugd is a single node
	 * (docs/cluster.md); check_cluster() says which keys go together. */
	[KEY_NODE] = { "cluster", "node", TYPE_NODE, NULL, 0, 0, NULL },
	[KEY_NATS_URL] = { "cluster", "nats_url", TYPE_NATS_URLS, NULL, 0, 0, NULL },
	[KEY_NATS_USER] = { "cluster", "nats_user", TYPE_WORD, NULL, 0, 0, NULL },
	[KEY_NATS_PASSWORD] = { "cluster", "nats_password", TYPE_SECRET, NULL, 0, 0, NULL },
	[KEY_NATS_NKEY] = { "cluster", "nats_nkey", TYPE_WORD, NULL, 0, 0, NULL },
	[KEY_NATS_NKEY_SEED] = { "cluster", "nats_nkey_seed", TYPE_PATH, NULL, 0, 0, NULL },
	[KEY_NATS_CA] = { "cluster", "nats_ca", TYPE_PATH, NULL, 0, 0, NULL },
	[KEY_CLUSTER_KEY_FILE] = { "cluster", "key_file", TYPE_PATH, NULL, 0, 0, NULL },
	[KEY_BLOCK_HOURS] = { "chat", "block_hours", TYPE_UINT, "24", 1, 8760, "hours" },
};

/* Longest line accepted; lines past inih's own limit are read by long_line(). */
#define MAX_LONG_LINE 4096


/* Record the first error; later ones are dropped so the user sees the
 * earliest problem. line 0 means "not tied to a line" (defaults, paths
 * given on the command line). */
__attribute__((format(printf, 3, 4)))
void config_fail(struct load *ld, unsigned line, const char *fmt, ...)
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
		config_fail(ld, ld->line, "the line is too long: at most %d bytes", MAX_LONG_LINE);
		return NULL;
	}
	start[len] = '\0';
	if (*start == '#' || *start == ';') {
		snprintf(buf, (size_t)size, "#");
		return buf;
	}
	if (*start == '[') {
		config_fail(ld, ld->line, "the section name is too long");
		return NULL;
	}
	for (sep = start; *sep && *sep != '=' && *sep != ':'; sep++)
		if (*sep == ';' && sep > start && (sep[-1] == ' ' || sep[-1] == '\t'))
			break;
	if (*sep != '=' && *sep != ':') {
		config_fail(ld, ld->line, SYNTAX_ERROR);
		return NULL;
	}
	name_end = sep;
	while (name_end > start && (name_end[-1] == ' ' || name_end[-1] == '\t'))
		name_end--;
	name_len = (size_t)(name_end - start);
	if (name_len + 3 > (size_t)size) {
		config_fail(ld, ld->line, "the key name is too long");
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
		config_fail(ld, ld->line, "out of memory");
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
		config_fail(ld, ld->line, "the line contains a NUL byte");
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
		config_fail(ld, line, "key '%s' is outside any section: put it under [server], [tls], "
			"[chat], [staff], [stats], [log] or [cluster]", name);
		return 0;
	}
	for (int id = 0; id < KEY__COUNT; id++) {
		const struct key_def *def = &config_key_defs[id];

		if (strcmp(def->section, section) != 0)
			continue;
		known_section = true;
		if (strcmp(def->name, name) != 0)
			continue;
		if (ld->key_line[id] && def->type != TYPE_TEXT) {
			config_fail(ld, line, "duplicate key '%s' in [%s] (first set on line %u)",
				name, section, ld->key_line[id]);
			return 0;
		}
		ld->key_line[id] = line;
		return config_set_key(ld, (enum key_id)id, line, value) ? 1 : 0;
	}
	if (known_section)
		config_fail(ld, line, "unknown key '%s' in [%s]", name, section);
	else
		config_fail(ld, line, "unknown key '%s' in [%s] (unknown section)", name, section);
	return 0;
}

/* ---- after parsing ------------------------------------------------------- */

static void apply_defaults(struct load *ld)
{
	struct config *cfg = ld->cfg;

	for (int id = 0; id < KEY__COUNT && !ld->failed; id++) {
		if (ld->key_line[id] || !config_key_defs[id].def)
			continue;
		config_set_key(ld, (enum key_id)id, 0, config_key_defs[id].def);
	}
	if (ld->failed || cfg->default_lang)
		return;
	/* No default_language: "nl" when offered, else the first language. */
	if (!config_set_string(&cfg->default_lang,
			config_lang_index(cfg, "nl") >= 0 ? "nl" : cfg->langs[0]))
		config_fail(ld, 0, "out of memory");
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
		config_fail(ld, 0, "out of memory");
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

	if (cfg->web_root == NULL && !config_set_string(&cfg->web_root, paths_web_root())) {
		config_fail(ld, 0, "out of memory");
		return false;
	}
	if (!resolve_path(ld, ld->dir, &cfg->web_root))
		return false;
	if (stat(cfg->web_root, &st) != 0) {
		config_fail(ld, web_line, "web_root '%s'%s: %s", cfg->web_root,
			web_line ? "" : " (the default; set [server] web_root)", strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		config_fail(ld, web_line, "web_root '%s'%s is not a directory", cfg->web_root,
			web_line ? "" : " (the default; set [server] web_root)");
		return false;
	}

	if (state_dir_override) {
		if (!*state_dir_override) {
			config_fail(ld, 0, "--state-dir is empty: expected a directory");
			return false;
		}
		if (!getcwd(cwd, sizeof(cwd))) {
			config_fail(ld, 0, "cannot resolve --state-dir '%s': %s", state_dir_override, strerror(errno));
			return false;
		}
		if (!config_set_string(&cfg->state_dir, state_dir_override)) {
			config_fail(ld, 0, "out of memory");
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
			config_fail(ld, ld->key_line[KEY_LOCALES_DIR], "locales_dir '%s' is not a directory",
				cfg->locales_dir);
			return false;
		}
	}
	return resolve_path(ld, cfg->state_dir, &cfg->cert) &&
		resolve_path(ld, cfg->state_dir, &cfg->key);
}

/* A file the daemon reads at start: it must exist and be a regular file. */
static bool check_file(struct load *ld, enum key_id id, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		config_fail(ld, ld->key_line[id], "%s '%s': %s", config_key_defs[id].name, path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		config_fail(ld, ld->key_line[id], "%s '%s' is not a regular file", config_key_defs[id].name, path);
		return false;
	}
	return true;
}

/* [cluster]: any key turns it on, and then a node needs its name, where
 * NATS is, the CA to verify it and one way to log in (docs/cluster.md). */
static bool check_cluster(struct load *ld)
{
	struct config *cfg = ld->cfg;
	unsigned first = 0;

	for (int id = KEY_NODE; id <= KEY_CLUSTER_KEY_FILE; id++)
		if (ld->key_line[id] && (first == 0 || ld->key_line[id] < first))
			first = ld->key_line[id];
	if (first == 0)
		return true;
	cfg->cluster = true;
	if (cfg->node == NULL) {
		config_fail(ld, first, "[cluster] needs node: this node's name, like brug-1");
		return false;
	}
	if (cfg->n_nats_urls == 0) {
		config_fail(ld, first, "[cluster] needs nats_url: one or more tls://host:port");
		return false;
	}
	if (cfg->nats_ca == NULL) {
		config_fail(ld, first, "[cluster] needs nats_ca: the CA file that signed the NATS servers' certificates");
		return false;
	}
	if ((cfg->nats_nkey != NULL || cfg->nats_nkey_seed != NULL) &&
	    (cfg->nats_user != NULL || cfg->nats_password != NULL)) {
		config_fail(ld, ld->key_line[KEY_NATS_NKEY_SEED] ? ld->key_line[KEY_NATS_NKEY_SEED] : ld->key_line[KEY_NATS_NKEY],
			"[cluster] nats_nkey/nats_nkey_seed and nats_user/nats_password "
			"exclude each other: choose one way to log in to NATS");
		return false;
	}
	if ((cfg->nats_nkey == NULL) != (cfg->nats_nkey_seed == NULL)) {
		config_fail(ld, first, "[cluster] nats_nkey (the public key, U...) and nats_nkey_seed (the seed file) "
			"go together");
		return false;
	}
	if (cfg->nats_nkey_seed == NULL && (cfg->nats_user == NULL || cfg->nats_password == NULL)) {
		config_fail(ld, first, "[cluster] needs nats_user and nats_password, or nats_nkey and nats_nkey_seed");
		return false;
	}
	if (!resolve_path(ld, ld->dir, &cfg->nats_ca) || !check_file(ld, KEY_NATS_CA, cfg->nats_ca))
		return false;
	if (cfg->nats_nkey_seed != NULL &&
	    (!resolve_path(ld, ld->dir, &cfg->nats_nkey_seed) ||
	     !check_file(ld, KEY_NATS_NKEY_SEED, cfg->nats_nkey_seed)))
		return false;
	/* What brugd sends over NATS is sealed with a key every node shares:
	 * from key_file, or else derived from the shared NATS password;
	 * nkeys are per node, so they need the file. */
	if (cfg->cluster_key_file == NULL && cfg->nats_nkey_seed != NULL) {
		config_fail(ld, ld->key_line[KEY_NATS_NKEY_SEED],
			"[cluster] with nats_nkey needs key_file: the key every node shares (64 hex digits, e.g. openssl rand -hex 32)");
		return false;
	}
	if (cfg->cluster_key_file != NULL &&
	    (!resolve_path(ld, ld->dir, &cfg->cluster_key_file) ||
	     !check_file(ld, KEY_CLUSTER_KEY_FILE, cfg->cluster_key_file)))
		return false;
	return true;
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
		config_fail(&ld, 0, "no config file given");
		return -1;
	}

	ld.f = fopen(path, "re");
	if (!ld.f) {
		config_fail(&ld, 0, "cannot open the config file: %s", strerror(errno));
		goto fail_free;
	}
	if (fstat(fileno(ld.f), &st) != 0) {
		config_fail(&ld, 0, "cannot read the config file: %s", strerror(errno));
		goto fail_free;
	}
	if (!S_ISREG(st.st_mode)) {
		config_fail(&ld, 0, "cannot read the config file: %s",
			S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
		goto fail_free;
	}
	ld.dir = file_dir(path);
	if (!ld.dir) {
		config_fail(&ld, 0, "cannot resolve the config file's directory: %s", strerror(errno));
		goto fail_free;
	}

	rc = ini_parse_stream(read_line, &ld, handle_key, &ld);
	/* inih goes on after a syntax error, so a later key may have failed
	 * first in our eyes; report whichever comes first in the file. */
	if (rc > 0 && (!ld.failed || (unsigned)rc < ld.fail_line)) {
		ld.failed = false;
		config_fail(&ld, (unsigned)rc, SYNTAX_ERROR);
		goto fail_free;
	}
	if (ld.failed)
		goto fail_free;
	if (ld.read_failed) {
		config_fail(&ld, 0, "cannot read the config file: %s", strerror(ld.read_errno));
		goto fail_free;
	}
	if (rc < 0) {
		config_fail(&ld, 0, "cannot parse the config file (inih error %d)", rc);
		goto fail_free;
	}

	apply_defaults(&ld);
	if (ld.failed)
		goto fail_free;
	if (config_lang_index(&tmp, tmp.default_lang) < 0) {
		unsigned line = ld.key_line[KEY_DEFAULT_LANGUAGE] ? ld.key_line[KEY_DEFAULT_LANGUAGE]
			: ld.key_line[KEY_LANGUAGES];
		config_fail(&ld, line, "default_language '%s' is not one of the languages in [chat] languages",
			tmp.default_lang);
		goto fail_free;
	}
	/* A peer must get a ping, and time to answer it, before it is cut off. */
	if (tmp.idle_timeout_s <= tmp.ping_s) {
		config_fail(&ld, ld.key_line[KEY_IDLE_TIMEOUT] ? ld.key_line[KEY_IDLE_TIMEOUT] : ld.key_line[KEY_PING],
			"idle_timeout_seconds = %u must be greater than ping_seconds = %u",
			tmp.idle_timeout_s, tmp.ping_s);
		goto fail_free;
	}
	if (!resolve_paths(&ld, state_dir_override))
		goto fail_free;
	if (!check_cluster(&ld))
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
	config_free_list(cfg->origins, &cfg->n_origins);
	free(cfg->frame_ancestors);
	free(cfg->neutral_url);
	free(cfg->locales_dir);
	free(cfg->timezone);
	free(cfg->cert);
	free(cfg->key);
	config_free_list(cfg->langs, &cfg->n_langs);
	free(cfg->default_lang);
	config_free_list(cfg->topics, &cfg->n_topics);
	config_free_list(cfg->alternatives, &cfg->n_alternatives);
	free(cfg->log_level);
	free(cfg->node);
	config_free_list(cfg->nats_urls, &cfg->n_nats_urls);
	free(cfg->nats_user);
	if (cfg->nats_password != NULL)
		secmem_wipe(cfg->nats_password, strlen(cfg->nats_password));
	free(cfg->nats_password);
	free(cfg->nats_nkey);
	free(cfg->nats_nkey_seed);
	free(cfg->nats_ca);
	free(cfg->cluster_key_file);
	memset(cfg, 0, sizeof(*cfg));
}

unsigned config_n_keys(void)
{
	return KEY__COUNT;
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
