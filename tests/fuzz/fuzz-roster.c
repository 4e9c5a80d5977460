/* libFuzzer target for the roster input of coordinators (coord_roster.c
 * through the hub, on shifts.c and a temporary database): a logged-in
 * coordinator sends one roster message per input, and every answer must be
 * a JSON object. Input: a byte that picks the message type, then a JSON
 * object with its fields ("type" is set from the byte). The roster is
 * emptied every ROSTER_RESET inputs so that it stays small. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "brug-build.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "i18n.h"
#include "shifts.h"
#include "staff.h"
#include "totp.h"
#include "util/log.h"

#define ROSTER_RESET 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {
	"roster_get", "pattern_add", "pattern_update", "pattern_delete", "exception_add",
	"exception_delete", "closure_add", "closure_delete", "my_shifts",
};

static struct {
	char dir[64];
	struct config cfg;
	struct i18n *t;
	struct staff *st;
	struct roster *r;
	struct hub *h;
	struct hub_conn *conn;
	int closed;
	uint64_t now, wall;
	unsigned inputs;
	uint64_t conn_no;
} e;

static char *langs[] = { "nl", "ar", "ti", "tr", "en" };

static void fake_send(void *edge, struct frame *f)
{
	json_t *j = json_loadb((const char *)f->data + FRAME_PRE, f->len, 0, NULL);

	(void)edge;
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%.*s\n", (int)f->len, (const char *)f->data + FRAME_PRE);
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "type")))
		abort();   /* every frame brugd sends is a typed JSON object */
	json_decref(j);
}

static void fake_close(void *edge, int code, const char *reason)
{
	(void)edge;
	(void)reason;
	e.closed = code != 0 ? code : 1;
}

static uint64_t fake_wall(void *ctx)
{
	(void)ctx;
	return e.wall;
}

static volatile int woken;

static void fake_wake(void *ctx)
{
	(void)ctx;
	__atomic_store_n(&woken, 1, __ATOMIC_SEQ_CST);
}

static const struct hub_edge_ops ops = { fake_send, fake_close, fake_wall, fake_wake };

/* Open a staff socket and log the coordinator in (the password check runs
 * on the hub's worker thread). A code works once, so each login moves the
 * wall clock on by a step. */
static void login(void)
{
	char code[TOTP_DIGITS + 1], buf[256];

	e.wall += TOTP_STEP_S * 1000;
	e.closed = 0;
	e.conn = hub_staff_open(e.h, &e, "fuzz", ++e.conn_no);
	if (e.conn == NULL || staff_totp_code(e.st, "cora", (int64_t)(e.wall / 1000), code) != 0)
		abort();
	snprintf(buf, sizeof buf,
		 "{\"type\":\"login\",\"user\":\"cora\",\"password\":\"a-long-password\",\"totp\":\"%s\"}",
		 code);
	hub_input(e.conn, buf, strlen(buf), e.now);
	for (int i = 0; i < 10000 && !__atomic_load_n(&woken, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	__atomic_store_n(&woken, 0, __ATOMIC_SEQ_CST);
	hub_poll(e.h, e.now);
	if (e.closed)
		abort();
}

static void teardown(void)
{
	char cmd[128];

	if (e.conn != NULL)
		hub_closed(e.conn, e.now);
	hub_stop_worker(e.h, e.now);
	hub_free(e.h, e.now);
	roster_close(e.r);
	staff_close(e.st);
	i18n_free(e.t);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", e.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz-roster: could not remove %s\n", e.dir);
}

static void setup(void)
{
	const char *loc = getenv("BRUG_LOCALES_DIR"), *tmp = getenv("TMPDIR");
	struct staff_limits lim = { .pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN,
				    .pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN };
	struct staff_account cora = { .username = "cora", .alias = "Cora", .roles = BRUG_ROLE_COORDINATOR,
				      .langs = "nl", .topics = "", .max_chats = 1 };
	struct staff_account sam = { .username = "samira", .alias = "Samira", .roles = BRUG_ROLE_VOLUNTEER,
				     .langs = "nl,ar", .topics = "", .max_chats = 3 };
	char err[256], db[128];

	if (sodium_init() < 0)
		abort();
	/* Errors only: a log line per input would slow the fuzzer down. */
	if (getenv("FUZZ_VERBOSE") == NULL)
		log_set_level(LOG_LEVEL_ERR);
	snprintf(e.dir, sizeof e.dir, "%s/brug-fuzz-roster-XXXXXX",
		 tmp != NULL && *tmp != '\0' && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(e.dir) == NULL)
		abort();
	memcpy(e.cfg.langs, langs, sizeof langs);
	e.cfg.n_langs = 5;
	e.cfg.default_lang = "nl";
	e.cfg.grace_s = 120;
	e.cfg.offer_timeout_s = 30;
	e.cfg.max_text = 2000;
	e.cfg.timezone = "Europe/Amsterdam";
	e.cfg.session_idle_s = 3600;
	e.cfg.session_max_s = 43200;
	e.t = i18n_new(loc != NULL && *loc != '\0' ? loc : BRUG_LOCALES_BUILD_DIR, (const char *const *)langs,
		       5, "nl", err, sizeof err);
	snprintf(db, sizeof db, "%s/brug.db", e.dir);
	e.st = staff_open(db, &lim);
	if (e.t == NULL || e.st == NULL || staff_add(e.st, &cora, "a-long-password", "cli", NULL) != 0 ||
	    staff_add(e.st, &sam, "a-long-password", "cli", NULL) != 0)
		abort();
	e.r = roster_open(db, e.cfg.timezone);
	e.h = hub_new(&e.cfg, e.t, e.st, &ops, NULL);
	if (e.r == NULL || e.h == NULL)
		abort();
	hub_set_roster(e.h, e.r);
	e.wall = 1764400000000ull;
	e.now = 1000000;
	atexit(teardown);
	login();
}

/* Empty the roster through its own API. */
static void reset_roster(void)
{
	struct roster_data d;

	if (roster_list(e.r, &d) != 0)
		abort();
	for (size_t i = 0; i < d.n_patterns; i++)
		roster_pattern_delete(e.r, d.patterns[i].id);
	for (size_t i = 0; i < d.n_closures; i++)
		roster_closure_delete(e.r, d.closures[i].id);
	roster_data_fini(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *msg;
	char *text;

	if (e.h == NULL)
		setup();
	if (size < 1)
		return 0;
	msg = json_loadb((const char *)data + 1, size - 1, 0, NULL);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return 0;
	}
	if (++e.inputs % ROSTER_RESET == 0)
		reset_roster();
	json_object_set_new(msg, "type", json_string(types[data[0] % (sizeof types / sizeof *types)]));
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (text == NULL)
		abort();
	/* A window apart, so that the rate limits never refuse a message. */
	e.now += 10001;
	hub_input(e.conn, text, strlen(text), e.now);
	free(text);
	if (e.closed) {
		hub_closed(e.conn, e.now);
		e.conn = NULL;
		login();
	}
	return 0;
}
