/* What config.c and config_value.c share: the key table's types, the state
 * of one load, and the helpers each calls in the other. Not for use outside
 * the config module. */
#ifndef BRUG_CONFIG_PRIVATE_H
#define BRUG_CONFIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "config.h"

/* One identifier per key; the order matches config_key_defs[]. */
enum key_id {
	KEY_HOSTNAME,
	KEY_PORT,
	KEY_BIND,
	KEY_WEB_ROOT,
	KEY_STATE_DIR,
	KEY_MAX_FRAME,
	KEY_MAX_CONNECTIONS,
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
	KEY_RATE_MSGS,
	KEY_ALTERNATIVE,
	KEY_SESSION_IDLE,
	KEY_SESSION_MAX,
	KEY_RECONNECT_GRACE,
	KEY_SHIFT_END_QUIET,
	KEY_AUDIT_RETENTION,
	KEY_STATS_THRESHOLD,
	KEY_LOG_LEVEL,
	KEY_LOCALES_DIR,
	KEY_TIMEZONE,
	KEY_MAX_CONNS_PER_SOURCE,
	KEY_STAFF_RESERVE,
	KEY_MAX_WAITING_PER_SOURCE,
	KEY_NODE,
	KEY_NATS_URL,
	KEY_NATS_USER,
	KEY_NATS_PASSWORD,
	KEY_NATS_NKEY,
	KEY_NATS_NKEY_SEED,
	KEY_NATS_CA,
	KEY_CLUSTER_KEY_FILE,
	KEY_BLOCK_HOURS,
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
	TYPE_NODE,        /* a cluster node name, [a-z0-9-]{1,32} */
	TYPE_NATS_URLS,   /* a list of tls://host[:port] or nats://host[:port] */
	TYPE_WORD,        /* 1-128 printable ASCII characters, no spaces */
	TYPE_SECRET,      /* 1-256 characters; never repeated in a message */
};

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	const char *def;        /* default value, parsed like the file's; NULL = none */
	unsigned long min, max; /* TYPE_UINT only */
	const char *unit;       /* TYPE_UINT only, for messages; may be NULL */
};

/* Every key the file may contain, with its default (config.c). */
extern const struct key_def config_key_defs[KEY__COUNT];

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

/* config.c: record the first error of a load (ld borrowed). */
__attribute__((format(printf, 3, 4)))
void config_fail(struct load *ld, unsigned line, const char *fmt, ...);

/* config_value.c: the value handlers (every pointer borrowed; what a field
 * takes over is said at each definition). */
bool config_set_string(char **field, const char *value);
void config_free_list(char **items, unsigned *n);
bool config_set_key(struct load *ld, enum key_id id, unsigned line, const char *value);

#endif
