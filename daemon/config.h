/* The daemon's configuration: an INI file read with inih, checked as a
 * whole, with every default in one place. */
#ifndef BRUG_CONFIG_H
#define BRUG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LANGS 16
#define CONFIG_MAX_TOPICS 32
#define CONFIG_MAX_ORIGINS 16
#define CONFIG_MAX_ALTERNATIVES 8
#define CONFIG_MAX_NATS_URLS 8

struct config {
	/* [server] */
	char *hostname;          /* public host name, default "localhost" */
	int port;                /* default 8443; 0 = pick a free port */
	char *bind;              /* interface or address to bind; NULL = all */
	char *web_root;          /* absolute path of web-client/ */
	char *state_dir;         /* absolute; database and dev certificate */
	size_t max_frame;        /* bytes, default 16384; above: close 1009 */
	unsigned max_connections;/* default 20000 */
	unsigned ping_s;         /* ping a WebSocket silent this long, default 25 */
	unsigned idle_timeout_s; /* close one silent this long, default 60; > ping_s */
	char *origins[CONFIG_MAX_ORIGINS]; /* extra Origins allowed on the visitor socket */
	unsigned n_origins;
	char *frame_ancestors;   /* CSP frame-ancestors value, default "'self'" */
	char *neutral_url;       /* where the quick exit goes, default "https://www.google.com/" */
	char *locales_dir;       /* compiled bundles (daemon/, client/); NULL = built-in default */
	unsigned max_conns_per_source; /* connections from one address at once, default 100 */
	unsigned staff_reserve;  /* the last connections under the cap are for staff, default 100 */
	/* [tls] */
	char *cert;              /* absolute path of the PEM chain */
	char *key;               /* absolute path of the PEM key */
	/* [chat] */
	char *langs[CONFIG_MAX_LANGS];   /* e.g. nl, ar, ti, tr, en */
	unsigned n_langs;
	char *default_lang;      /* one of langs */
	char *topics[CONFIG_MAX_TOPICS];
	unsigned n_topics;
	unsigned grace_s;        /* default 120 */
	unsigned offer_timeout_s;/* default 30 */
	unsigned max_text;       /* grapheme clusters per message, default 2000 */
	unsigned rate_msgs;      /* messages per session in 10 s before rate_limited, default 20;
				  * three times as many close the socket (0: the default) */
	char *timezone;          /* the helpline's time zone, default "Europe/Amsterdam" */
	char *alternatives[CONFIG_MAX_ALTERNATIVES]; /* extra emergency alternatives shown on closed */
	unsigned n_alternatives;
	unsigned max_waiting_per_source; /* waiting sessions from one address, default 30;
				  * one whose socket is gone counts half */
	unsigned block_hours;    /* a staff block refuses the visitor's source this long, default 24 */
	/* [staff] */
	unsigned session_idle_s; /* default 3600 */
	unsigned session_max_s;  /* default 43200 */
	unsigned staff_grace_s;  /* a dropped console may resume its chats this long, default 30 */
	unsigned shift_end_quiet_min; /* no new offers this close to a rostered shift's end, default 10 */
	unsigned audit_retention_days; /* older audit entries are pruned, 1..36500, default 365 */
	/* [stats] */
	unsigned stats_threshold; /* smaller counts are reported as "<N", 1..1000, default 10 */
	/* [log] */
	char *log_level;         /* err, warn, notice (default), info, debug */
	/* [cluster] (docs/cluster.md): all unset without the section */
	bool cluster;            /* the section has keys: run as a node of a cluster */
	char *node;              /* this node's name, [a-z0-9-]{1,32} */
	char *nats_urls[CONFIG_MAX_NATS_URLS]; /* tls://host:port, tried in turn */
	unsigned n_nats_urls;
	char *nats_user;         /* with nats_password, or */
	char *nats_password;     /* wiped by config_fini */
	char *nats_nkey;         /* an nkey's public key (U...), with */
	char *nats_nkey_seed;    /* absolute path of its seed file */
	char *nats_ca;           /* absolute path of the CA that signed the NATS servers */
	char *cluster_key_file;  /* absolute path of the shared payload key, or NULL */
};

/*
 * Read and check the config file at path. Relative paths in it are resolved
 * against the file's directory. state_dir_override, if not NULL, replaces
 * [server] state_dir; relative cert/key are resolved against the state dir.
 * On success returns 0 and fills *cfg (free with config_fini). On failure
 * returns -1 and writes one clear message, naming the file, line and key
 * where it can, into err (err_len bytes); *cfg is left empty.
 */
int config_load(struct config *cfg, const char *path, const char *state_dir_override,
		char *err, size_t err_len);
/* Free everything config_load allocated. Safe on a zeroed struct. */
void config_fini(struct config *cfg);
/* How many keys a config file may set (for reload's table, test-reload). */
unsigned config_n_keys(void);
/* Index of lang in cfg->langs, or -1. */
int config_lang_index(const struct config *cfg, const char *lang);
/* Index of topic in cfg->topics, or -1. */
int config_topic_index(const struct config *cfg, const char *topic);

#endif
