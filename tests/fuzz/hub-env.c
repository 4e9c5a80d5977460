/* The shared set-up of the fuzz targets that run a real hub (hub-env.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "brug-build.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "i18n.h"
#include "shifts.h"
#include "staff.h"
#include "stats.h"

#include "hub-env.h"

const char *const hub_env_users[3] = { "ana", "bo", "cora" };
const char *const hub_env_aliases[3] = { "Ana", "Bo", "Cora" };

struct hub_env hub_env;

static struct staff_limits limits = {
	.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN,
	.pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN,
};

static int read_file(const char *path, unsigned char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (*out = malloc((size_t)n + 1)) == NULL || fread(*out, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static void cleanup_dir(void)
{
	char path[128];

	snprintf(path, sizeof path, "%s-journal", hub_env.db);
	unlink(path);
	unlink(hub_env.db);
	rmdir(hub_env.dir);
}

/* Three accounts, each with a session made now (two for ana), kept as a
 * database image that every run starts from, so that runs do not depend
 * on each other (logouts, lockouts and TOTP steps stay in their run). */
static void make_db(void)
{
	static const struct staff_account accts[] = {
		{ .username = "ana", .alias = "Ana", .roles = BRUG_ROLE_VOLUNTEER, .langs = "nl,ar",
		  .topics = "", .max_chats = 2 },
		{ .username = "bo", .alias = "Bo", .roles = BRUG_ROLE_PROFESSIONAL | BRUG_ROLE_KEYPERSON,
		  .langs = "nl,en,tr,ti", .topics = "forced_marriage", .max_chats = 1 },
		{ .username = "cora", .alias = "Cora", .roles = BRUG_ROLE_COORDINATOR | BRUG_ROLE_VOLUNTEER,
		  .langs = "nl,ar,ti,tr,en", .topics = "", .max_chats = 3 },
	};
	static const int session_of[4] = { 0, 0, 1, 2 };
	/* Sessions and TOTP steps lie two minutes before every run's clock. */
	int64_t t0 = (int64_t)HUB_ENV_BASE_WALL_MS - 120000;
	struct staff *st = staff_open(hub_env.db, &limits);
	char pw[64], code[TOTP_DIGITS + 1];

	CHECK(st != NULL, "staff_open %s", hub_env.db);
	for (unsigned i = 0; i < 3; i++) {
		snprintf(pw, sizeof pw, "pw-%s-long-enough", accts[i].username);
		CHECK(staff_add(st, &accts[i], pw, "cli", NULL) == 0, "staff_add");
	}
	for (unsigned i = 0; i < 4; i++) {
		struct staff_account a = { 0 };
		const char *u = hub_env_users[session_of[i]];
		int64_t exp;
		snprintf(pw, sizeof pw, "pw-%s-long-enough", u);
		/* A TOTP code works once per step: one step per session. */
		CHECK(staff_totp_code(st, u, (t0 + (int64_t)i * 30000) / 1000, code) == 0, "totp");
		CHECK(staff_login(st, u, pw, code, NULL, "init", t0 + (int64_t)i * 30000, &a, hub_env.preset[i],
				  &exp) == 0, "staff_login %s", u);
		staff_account_fini(&a);
	}
	staff_close(st);
	CHECK(read_file(hub_env.db, &hub_env.db_image, &hub_env.db_len) == 0, "read %s", hub_env.db);
}

void hub_env_init(const char *target)
{
	static char *langs[] = { "nl", "ar", "ti", "tr", "en" };
	static char *topics[] = { "domestic_violence", "forced_marriage", "other" };
	static char *alts[] = { "Call 112 in danger" };
	const char *loc = getenv("BRUG_LOCALES_DIR");
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct config *cfg = &hub_env.cfg;
	char err[256];

	CHECK(sodium_init() >= 0, "sodium_init");
	memcpy(cfg->langs, langs, sizeof langs);
	cfg->n_langs = 5;
	cfg->default_lang = "nl";
	memcpy(cfg->topics, topics, sizeof topics);
	cfg->n_topics = 3;
	cfg->alternatives[0] = alts[0];
	cfg->n_alternatives = 1;
	cfg->grace_s = 120;
	cfg->offer_timeout_s = 30;
	cfg->max_text = 2000;
	/* Small, so that programs reach the cap of waiting sessions per source. */
	cfg->max_waiting_per_source = 3;
	cfg->timezone = "Europe/Amsterdam";
	cfg->session_idle_s = 3600;
	cfg->session_max_s = 43200;
	cfg->staff_grace_s = 30;
	cfg->shift_end_quiet_min = 10;
	cfg->stats_threshold = 10;
	hub_env.t = i18n_new(loc && *loc ? loc : BRUG_LOCALES_BUILD_DIR, (const char *const *)langs, 5, "nl", err,
			     sizeof err);
	CHECK(hub_env.t != NULL, "i18n_new: %s", err);
	snprintf(hub_env.dir, sizeof hub_env.dir, "%s/brug-fuzz-%s-XXXXXX", base, target);
	CHECK(mkdtemp(hub_env.dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(hub_env.db, sizeof hub_env.db, "%s/brug.db", hub_env.dir);
	atexit(cleanup_dir);
	make_db();
}

void hub_env_open(struct hub_env_run *e, const struct hub_edge_ops *ops, void *ctx)
{
	int fd = open(hub_env.db, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0 && write(fd, hub_env.db_image, hub_env.db_len) == (ssize_t)hub_env.db_len && close(fd) == 0,
	      "write %s", hub_env.db);
	e->st = staff_open(hub_env.db, &limits);
	CHECK(e->st != NULL, "staff_open");
	e->roster = roster_open(hub_env.db, hub_env.cfg.timezone);
	e->stats = stats_open(hub_env.db, hub_env.cfg.timezone, hub_env.cfg.stats_threshold);
	CHECK(e->roster != NULL && e->stats != NULL, "roster_open, stats_open");
	e->h = hub_new(&hub_env.cfg, hub_env.t, e->st, ops, ctx);
	CHECK(e->h != NULL, "hub_new");
	hub_set_roster(e->h, e->roster);
	hub_set_stats(e->h, e->stats);
}

void hub_env_close(struct hub_env_run *e, uint64_t now)
{
	hub_free(e->h, now);
	stats_free(e->stats);
	roster_close(e->roster);
	staff_close(e->st);
	e->h = NULL;
	e->st = NULL;
	e->roster = NULL;
	e->stats = NULL;
}

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF): the
 * edge hands the hub nothing else. */
bool hub_env_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

void hub_env_pool_add(struct hub_env_pool *p, const char *s)
{
	if (s == NULL || strlen(s) >= HUB_ENV_TOK_LEN)
		return;
	for (unsigned i = 0; i < HUB_ENV_POOL && i < p->n; i++)
		if (strcmp(p->s[i], s) == 0)
			return;
	snprintf(p->s[p->n % HUB_ENV_POOL], HUB_ENV_TOK_LEN, "%s", s);
	p->n++;
}

const char *hub_env_pool_get(const struct hub_env_pool *p, unsigned i)
{
	if (p->n == 0)
		return NULL;
	return p->s[i % (p->n < HUB_ENV_POOL ? p->n : HUB_ENV_POOL)];
}
