/* Config reload (reload.h): one table says, for every key, where its value
 * lives in struct config and whether it can change while brugd runs. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "i18n.h"
#include "paths.h"
#include "reload.h"
#include "util/log.h"

enum field_kind {
	FIELD_STR,    /* char * (may be NULL) */
	FIELD_UINT,   /* unsigned */
	FIELD_INT,    /* int */
	FIELD_SIZE,   /* size_t */
	FIELD_LIST,   /* char *[max] with an unsigned count */
};

struct field {
	const char *section, *name;
	enum field_kind kind;
	size_t off;            /* of the value, or of the array */
	size_t count_off;      /* FIELD_LIST: of the count */
	size_t max;            /* FIELD_LIST: array length */
	bool restart;          /* read at start only */
};

#define F(sec, key, kind, member, restart) \
	{ sec, key, kind, offsetof(struct config, member), 0, 0, restart }
#define L(sec, key, member, count, restart)                                                    \
	{ sec, key, FIELD_LIST, offsetof(struct config, member), offsetof(struct config, count), \
	  sizeof(((struct config *)0)->member) / sizeof(char *), restart }

/*
 * Why a key needs a restart: the listening socket (port, bind), names the
 * vhost, origin and CSP were built from (hostname), paths lws or the
 * database opened (web_root, state_dir, locales_dir), sizes of buffers and
 * tables already allocated (max_frame, max_connections and the staff
 * reserve carved from it), numbering the
 * router, sessions and bundles hold (languages, default, topics), documents
 * made once for the web pages (neutral_url, max_text_graphemes), and values
 * the staff store, roster and statistics copied when they opened
 * (session times, audit retention, timezone, threshold). Everything else
 * is read where it is used, or handed on by the reload.
 */
static const struct field fields[] = {
	F("server", "hostname", FIELD_STR, hostname, true),
	F("server", "port", FIELD_INT, port, true),
	F("server", "bind", FIELD_STR, bind, true),
	F("server", "web_root", FIELD_STR, web_root, true),
	F("server", "state_dir", FIELD_STR, state_dir, true),
	F("server", "max_frame", FIELD_SIZE, max_frame, true),
	F("server", "max_connections", FIELD_UINT, max_connections, true),
	F("server", "ping_seconds", FIELD_UINT, ping_s, false),
	F("server", "idle_timeout_seconds", FIELD_UINT, idle_timeout_s, false),
	L("server", "origins", origins, n_origins, false),
	F("server", "frame_ancestors", FIELD_STR, frame_ancestors, false),
	F("server", "neutral_url", FIELD_STR, neutral_url, true),
	F("server", "locales_dir", FIELD_STR, locales_dir, true),
	F("server", "max_connections_per_source", FIELD_UINT, max_conns_per_source, false),
	F("server", "staff_reserve_connections", FIELD_UINT, staff_reserve, true),
	F("tls", "cert", FIELD_STR, cert, false),
	F("tls", "key", FIELD_STR, key, false),
	L("chat", "languages", langs, n_langs, true),
	F("chat", "default_language", FIELD_STR, default_lang, true),
	L("chat", "topics", topics, n_topics, true),
	F("chat", "grace_seconds", FIELD_UINT, grace_s, false),
	F("chat", "offer_timeout_seconds", FIELD_UINT, offer_timeout_s, false),
	F("chat", "max_text_graphemes", FIELD_UINT, max_text, true),
	F("chat", "timezone", FIELD_STR, timezone, true),
	L("chat", "alternative", alternatives, n_alternatives, false),
	F("chat", "max_waiting_per_source", FIELD_UINT, max_waiting_per_source, false),
	F("chat", "block_hours", FIELD_UINT, block_hours, false),
	F("chat", "rate_limit_messages", FIELD_UINT, rate_msgs, false),
	F("staff", "session_idle_seconds", FIELD_UINT, session_idle_s, true),
	F("staff", "session_max_seconds", FIELD_UINT, session_max_s, true),
	F("staff", "reconnect_grace_seconds", FIELD_UINT, staff_grace_s, false),
	F("staff", "shift_end_quiet_minutes", FIELD_UINT, shift_end_quiet_min, false),
	F("staff", "audit_retention_days", FIELD_UINT, audit_retention_days, true),
	F("stats", "threshold", FIELD_UINT, stats_threshold, true),
	F("log", "level", FIELD_STR, log_level, false),
	/* The cluster link is made once at start (docs/cluster.md). */
	F("cluster", "node", FIELD_STR, node, true),
	L("cluster", "nats_url", nats_urls, n_nats_urls, true),
	F("cluster", "nats_user", FIELD_STR, nats_user, true),
	F("cluster", "nats_password", FIELD_STR, nats_password, true),
	F("cluster", "nats_nkey", FIELD_STR, nats_nkey, true),
	F("cluster", "nats_nkey_seed", FIELD_STR, nats_nkey_seed, true),
	F("cluster", "nats_ca", FIELD_STR, nats_ca, true),
	F("cluster", "key_file", FIELD_STR, cluster_key_file, true),
};

/* Every key of config.c belongs in the table: one missing here would be
 * applied by reload_commit without a word, even if it needs a restart
 * (test-reload loads a file setting every key and checks they are all
 * compared). */
#define N_FIELDS (sizeof fields / sizeof fields[0])

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool field_eq(const struct field *f, const struct config *a, const struct config *b)
{
	const char *pa = (const char *)a + f->off, *pb = (const char *)b + f->off;

	switch (f->kind) {
	case FIELD_STR:
		return str_eq(*(char *const *)pa, *(char *const *)pb);
	case FIELD_UINT:
		return *(const unsigned *)pa == *(const unsigned *)pb;
	case FIELD_INT:
		return *(const int *)pa == *(const int *)pb;
	case FIELD_SIZE:
		return *(const size_t *)pa == *(const size_t *)pb;
	case FIELD_LIST: {
		unsigned na = *(const unsigned *)((const char *)a + f->count_off);
		unsigned nb = *(const unsigned *)((const char *)b + f->count_off);
		if (na != nb)
			return false;
		for (unsigned i = 0; i < na; i++)
			if (!str_eq(((char *const *)pa)[i], ((char *const *)pb)[i]))
				return false;
		return true;
	}
	}
	return true;
}

static void swap_bytes(void *a, void *b, size_t n)
{
	unsigned char *x = a, *y = b, t;

	for (size_t i = 0; i < n; i++) {
		t = x[i];
		x[i] = y[i];
		y[i] = t;
	}
}

static void field_swap(const struct field *f, struct config *a, struct config *b)
{
	char *pa = (char *)a + f->off, *pb = (char *)b + f->off;

	switch (f->kind) {
	case FIELD_STR:
		swap_bytes(pa, pb, sizeof(char *));
		break;
	case FIELD_UINT:
		swap_bytes(pa, pb, sizeof(unsigned));
		break;
	case FIELD_INT:
		swap_bytes(pa, pb, sizeof(int));
		break;
	case FIELD_SIZE:
		swap_bytes(pa, pb, sizeof(size_t));
		break;
	case FIELD_LIST:
		swap_bytes(pa, pb, f->max * sizeof(char *));
		swap_bytes((char *)a + f->count_off, (char *)b + f->count_off, sizeof(unsigned));
		break;
	}
}

bool reload_needs_restart(const char *section, const char *name)
{
	for (size_t i = 0; i < N_FIELDS; i++)
		if (strcmp(fields[i].section, section) == 0 && strcmp(fields[i].name, name) == 0)
			return fields[i].restart;
	return false;
}

unsigned reload_merge(struct config *next, struct config *cur)
{
	unsigned changed = 0;

	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct field *f = &fields[i];
		bool same = field_eq(f, next, cur);
		if (f->restart) {
			/* Swapped even when equal: lws and the bundles hold pointers
			 * to the running strings, which must not be freed. */
			if (!same)
				log_warn("reload: [%s] %s changed; it needs a restart, the running value stays",
					 f->section, f->name);
			field_swap(f, next, cur);
		} else if (!same) {
			log_notice("reload: [%s] %s changed; applied", f->section, f->name);
			changed++;
		}
	}
	return changed;
}

void reload_commit(struct config *cur, struct config *next)
{
	struct config old = *cur;

	*cur = *next;
	memset(next, 0, sizeof *next);
	config_fini(&old);
}

unsigned reload_n_keys(void)
{
	return (unsigned)N_FIELDS;
}

int reload_load(struct config *next, const char *path, const char *state_dir_override, char *err,
		size_t err_len)
{
	struct i18n *t;

	if (config_load(next, path, state_dir_override, err, err_len) != 0)
		return -1;
	/* The rest of `-n`: every language has its bundles, ICU knows the time
	 * zone; a file that would not start brugd is refused even where the
	 * bad key needs a restart anyway. */
	t = i18n_new(next->locales_dir != NULL ? next->locales_dir : paths_locales_dir(),
		     (const char *const *)next->langs, next->n_langs, next->default_lang, err, err_len);
	if (t == NULL)
		goto fail;
	i18n_free(t);
	if (!i18n_timezone_valid(next->timezone)) {
		snprintf(err, err_len, "%s: [chat] timezone = %s is not a time zone ICU knows", path, next->timezone);
		goto fail;
	}
	return 0;
fail:
	config_fini(next);
	return -1;
}
