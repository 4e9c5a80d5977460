/* Unit tests for the hub with a fake edge and a fake clock: queue updates
 * coalesced per visitor, the message table's refusals, a staff session
 * moving to a new socket, transcripts paced to the outbound queue, abuse
 * blocks and the staff rate limits per chat. Real router, proto, i18n (compiled bundles) and
 * staff (a temporary database). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "brug-build.h"
#include "chat.h"
#include "config.h"
#include "common.h"
#include "hub.h"
#include "hub_private.h"
#include "replica.h"
#include "i18n.h"
#include "staff.h"
#include "util/token.h"

#define MAX_FRAMES 4096

/* One socket as the hub sees it: frames sent to it and how it was closed.
 * A limited one models the edge's outbound queue (HUB_OUTQ_*): frames stay
 * queued until drain(), and one past the limits fails the test, as the
 * edge would close the socket 1008. */
struct fake {
	char *frames[MAX_FRAMES];
	unsigned n;
	int close_code;
	struct hub_conn *conn;
	bool limited;
	unsigned queued;
	size_t queued_bytes;
};

static void fake_send(void *edge, struct frame *f)
{
	struct fake *k = edge;

	assert_true(k->n < MAX_FRAMES);
	k->frames[k->n++] = strndup((const char *)f->data + FRAME_PRE, f->len);
	if (k->limited) {
		assert_true(k->queued < HUB_OUTQ_MAX_FRAMES);
		assert_true(k->queued_bytes + f->len <= HUB_OUTQ_MAX_BYTES);
		k->queued++;
		k->queued_bytes += f->len;
	}
}

static bool fake_room(void *edge, size_t len)
{
	struct fake *k = edge;

	return !k->limited || k->queued == 0 ||
	       (k->queued < HUB_OUTQ_REPLAY_FRAMES && k->queued_bytes + len <= HUB_OUTQ_REPLAY_BYTES);
}

static void fake_close(void *edge, int code, const char *reason)
{
	((struct fake *)edge)->close_code = code;
}

static uint64_t fake_wall(void *ctx)
{
	return 1764400000000ull;
}

static volatile int woken;

static void fake_wake(void *ctx)
{
	__atomic_store_n(&woken, 1, __ATOMIC_SEQ_CST);
}

static const struct hub_edge_ops ops = { fake_send, fake_close, fake_wall, fake_wake, fake_room };

/* Wait (really: the password check runs on the worker thread) until the
 * hub asks to be polled, then poll it. */
static void wait_and_poll(struct hub *h, uint64_t now)
{
	for (int i = 0; i < 5000 && !__atomic_load_n(&woken, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	assert_true(__atomic_exchange_n(&woken, 0, __ATOMIC_SEQ_CST));
	hub_poll(h, now);
}

struct env {
	char dir[64];
	struct config cfg;
	struct i18n *t;
	struct staff *st;
	struct hub *h;
	struct fake socks[16];
	unsigned n_socks;
};

static char *langs[] = { "nl", "ar", "ti", "tr", "en" };
static char *topics[] = { "domestic_violence", "forced_marriage", "other" };

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	const char *loc = getenv("BRUG_LOCALES_DIR");
	char err[256], db[128];
	struct staff_account a = { .username = "samira", .alias = "Samira", .roles = 1, .langs = "nl,ar",
				   .topics = "", .max_chats = 10 };
	struct staff_limits lim = { .pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN,
				    .pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN };

	assert_non_null(e);
	snprintf(e->dir, sizeof e->dir, "/tmp/brug-test-hub-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	memcpy(e->cfg.langs, langs, sizeof langs);
	e->cfg.n_langs = 5;
	e->cfg.default_lang = "nl";
	memcpy(e->cfg.topics, topics, sizeof topics);
	e->cfg.n_topics = 3;
	e->cfg.grace_s = 120;
	e->cfg.offer_timeout_s = 30;
	e->cfg.max_text = 2000;
	e->t = i18n_new(loc && *loc ? loc : BRUG_LOCALES_BUILD_DIR, (const char *const *)langs, 5, "nl", err,
			sizeof err);
	assert_non_null(e->t);
	snprintf(db, sizeof db, "%s/brug.db", e->dir);
	e->st = staff_open(db, &lim);
	assert_non_null(e->st);
	assert_int_equal(staff_add(e->st, &a, "a-long-password", "cli", NULL), 0);
	e->h = hub_new(&e->cfg, e->t, e->st, &ops, NULL);
	assert_non_null(e->h);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	for (unsigned i = 0; i < e->n_socks; i++) {
		if (e->socks[i].conn != NULL)
			hub_closed(e->socks[i].conn, 999999);
		for (unsigned j = 0; j < e->socks[i].n; j++)
			free(e->socks[i].frames[j]);
	}
	hub_free(e->h, 999999);
	staff_close(e->st);
	i18n_free(e->t);
	snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

static struct fake *open_visitor(struct env *e, uint64_t now)
{
	struct fake *k = &e->socks[e->n_socks++];

	k->conn = hub_visitor_open(e->h, k, NULL, NULL, e->n_socks);
	assert_non_null(k->conn);
	(void)now;
	return k;
}

static struct fake *open_visitor_from(struct env *e, const char *source_key)
{
	struct fake *k = &e->socks[e->n_socks++];

	k->conn = hub_visitor_open(e->h, k, NULL, source_key, e->n_socks);
	assert_non_null(k->conn);
	return k;
}

static struct fake *open_staff(struct env *e)
{
	struct fake *k = &e->socks[e->n_socks++];

	k->conn = hub_staff_open(e->h, k, "addr", e->n_socks);
	assert_non_null(k->conn);
	return k;
}

static void input(struct fake *k, const char *json, uint64_t now)
{
	hub_input(k->conn, json, strlen(json), now);
}

static json_t *frame(struct fake *k, unsigned i)
{
	json_t *j = json_loads(k->frames[i], 0, NULL);

	assert_non_null(j);
	return j;
}

static unsigned count_type(struct fake *k, const char *type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < k->n; i++) {
		json_t *j = frame(k, i);
		n += strcmp(json_string_value(json_object_get(j, "type")), type) == 0;
		json_decref(j);
	}
	return n;
}

/* The last frame of a type (caller decrefs), or NULL. */
static json_t *last_of(struct fake *k, const char *type)
{
	for (unsigned i = k->n; i-- > 0;) {
		json_t *j = frame(k, i);
		if (strcmp(json_string_value(json_object_get(j, "type")), type) == 0)
			return j;
		json_decref(j);
	}
	return NULL;
}

/* Send a password login with the account's current TOTP code (the fake
 * wall clock stands still, so each account logs in once per test). */
static void login_input(struct env *e, struct fake *s, const char *user, const char *password,
			uint64_t now)
{
	char code[TOTP_DIGITS + 1], buf[256];

	assert_int_equal(staff_totp_code(e->st, user, (int64_t)(fake_wall(NULL) / 1000), code), 0);
	snprintf(buf, sizeof buf,
		 "{\"type\":\"login\",\"user\":\"%s\",\"password\":\"%s\",\"totp\":\"%s\"}", user,
		 password, code);
	input(s, buf, now);
}

static struct fake *login_available(struct env *e, uint64_t now)
{
	struct fake *s = open_staff(e);
	json_t *j;

	login_input(e, s, "samira", "a-long-password", now);
	assert_null(last_of(s, "session"));   /* not before the check is done */
	wait_and_poll(e->h, now);
	j = last_of(s, "session");
	assert_non_null(j);
	json_decref(j);
	input(s, "{\"type\":\"status\",\"available\":true}", now);
	return s;
}

static void accept_offer_for_position(struct env *e, struct fake *s, unsigned nth, uint64_t now)
{
	/* Offers arrive in queue order; accept the nth one (0-based). */
	unsigned seen = 0;
	char buf[128];

	for (unsigned i = 0; i < s->n; i++) {
		json_t *j = frame(s, i);
		if (strcmp(json_string_value(json_object_get(j, "type")), "offer") == 0 && seen++ == nth) {
			snprintf(buf, sizeof buf, "{\"type\":\"accept\",\"offer\":\"%s\"}",
				 json_string_value(json_object_get(j, "offer")));
			json_decref(j);
			input(s, buf, now);
			return;
		}
		json_decref(j);
	}
	fail_msg("no offer %u", nth);
}

static void test_queue_updates_are_coalesced(void **state)
{
	struct env *e = *state;
	struct fake *s = login_available(e, 1000), *v[5];
	json_t *q;

	for (int i = 0; i < 5; i++) {
		v[i] = open_visitor(e, 1000);
		input(v[i], "{\"type\":\"hello\",\"lang\":\"nl\"}", 1000);
		assert_int_equal(count_type(v[i], "queue"), 1);   /* the first one at once */
	}
	q = last_of(v[4], "queue");
	assert_int_equal(json_integer_value(json_object_get(q, "position")), 5);
	json_decref(q);

	/* Two chats start within 200 ms: the last visitor's place changes twice
	 * but it hears nothing until QUEUE_UPDATE_MIN_MS has passed. */
	accept_offer_for_position(e, s, 0, 1100);
	accept_offer_for_position(e, s, 1, 1200);
	assert_int_equal(count_type(v[0], "joined"), 1);
	assert_int_equal(count_type(v[1], "joined"), 1);
	assert_int_equal(count_type(v[4], "queue"), 1);
	hub_tick(e->h, 2500);
	assert_int_equal(count_type(v[4], "queue"), 1);

	/* Then one update with the place as it is now. */
	hub_tick(e->h, 3000);
	assert_int_equal(count_type(v[4], "queue"), 2);
	q = last_of(v[4], "queue");
	assert_int_equal(json_integer_value(json_object_get(q, "position")), 3);
	json_decref(q);
	assert_int_equal(count_type(v[2], "queue"), 2);
	/* Visitors that left the queue get no late queue frame. */
	assert_int_equal(count_type(v[0], "queue"), 1);
	hub_tick(e->h, 9000);
	assert_int_equal(count_type(v[4], "queue"), 2);
}

/* The held-back updates go out a bounded number per tick, oldest first, so
 * a burst of chat starts with a long queue never holds the loop. */
static void test_queue_flush_bounded_per_tick(void **state)
{
	struct env *e = *state;
	struct fake *s = login_available(e, 1000), *v[6];

	e->h->queue_flush_max = 2;
	for (int i = 0; i < 6; i++) {
		v[i] = open_visitor(e, 1000);
		input(v[i], "{\"type\":\"hello\",\"lang\":\"nl\"}", 1000);
	}
	/* Two chats start at once: five places change; the visitor who was
	 * served first hears at once, the others wait for QUEUE_UPDATE_MIN_MS. */
	accept_offer_for_position(e, s, 0, 1100);
	accept_offer_for_position(e, s, 1, 1200);
	hub_tick(e->h, 3500);
	{
		unsigned got = 0;
		for (int i = 2; i < 6; i++)
			got += count_type(v[i], "queue") == 2;
		assert_int_equal(got, 2);   /* two of the four this tick */
	}
	hub_tick(e->h, 3750);
	for (int i = 2; i < 6; i++)
		assert_int_equal(count_type(v[i], "queue"), 2);
	hub_tick(e->h, 4000);
	for (int i = 2; i < 6; i++)
		assert_int_equal(count_type(v[i], "queue"), 2);
}

static void test_refusals_change_nothing(void **state)
{
	struct env *e = *state;
	struct fake *v = open_visitor(e, 1000), *s;
	json_t *err;

	/* msg before joined: conflict, with the request id. */
	input(v, "{\"type\":\"hello\",\"lang\":\"ar\"}", 1000);
	input(v, "{\"type\":\"msg\",\"text\":\"hallo\",\"id\":\"m1\"}", 1000);
	err = last_of(v, "error");
	assert_string_equal(json_string_value(json_object_get(err, "code")), "conflict");
	assert_string_equal(json_string_value(json_object_get(err, "id")), "m1");
	json_decref(err);
	/* A staff type on the visitor socket: forbidden. */
	input(v, "{\"type\":\"accept\",\"offer\":\"1\"}", 1000);
	err = last_of(v, "error");
	assert_string_equal(json_string_value(json_object_get(err, "code")), "forbidden");
	json_decref(err);
	assert_int_equal(v->close_code, 0);

	/* A staff socket whose first message is not a login closes with 4001. */
	s = open_staff(e);
	input(s, "{\"type\":\"status\",\"available\":true}", 1000);
	assert_int_equal(s->close_code, 4001);
	err = last_of(s, "error");
	assert_string_equal(json_string_value(json_object_get(err, "code")), "unauthorized");
	json_decref(err);
}

static void test_staff_session_moves_to_new_socket(void **state)
{
	struct env *e = *state;
	struct fake *s1 = login_available(e, 1000), *v = open_visitor(e, 1000), *s2;
	json_t *sess, *chat;
	char buf[160];

	input(v, "{\"type\":\"hello\",\"lang\":\"nl\"}", 1000);
	accept_offer_for_position(e, s1, 0, 1100);
	assert_int_equal(count_type(v, "joined"), 1);
	sess = last_of(s1, "session");
	snprintf(buf, sizeof buf, "{\"type\":\"login\",\"token\":\"%s\"}",
		 json_string_value(json_object_get(sess, "token")));
	json_decref(sess);

	/* A reload: the same session on a new socket takes the chat along. */
	s2 = open_staff(e);
	input(s2, buf, 2000);
	assert_int_equal(s1->close_code, 4003);
	chat = last_of(s2, "chat");
	assert_non_null(chat);
	json_decref(chat);
	hub_closed(s1->conn, 2100);
	s1->conn = NULL;
	/* The visitor was not requeued. */
	assert_int_equal(count_type(v, "notice"), 0);
	input(v, "{\"type\":\"msg\",\"text\":\"nog daar?\"}", 2200);
	assert_int_equal(count_type(s2, "msg"), 1);
}

static void test_abandoned_logins_still_count(void **state)
{
	struct env *e = *state;
	struct fake *s;
	json_t *err;

	/* Five wrong passwords whose sockets hang up before the answer... */
	for (int i = 0; i < 5; i++) {
		s = open_staff(e);
		input(s, "{\"type\":\"login\",\"user\":\"samira\",\"password\":\"wrong-password\"}", 1000);
		hub_closed(s->conn, 1001);
		s->conn = NULL;
		wait_and_poll(e->h, 1002);
	}
	/* ...still lock the account: the right password is now refused. */
	s = open_staff(e);
	login_input(e, s, "samira", "a-long-password", 1100);
	err = last_of(s, "error");
	assert_non_null(err);
	assert_string_equal(json_string_value(json_object_get(err, "code")), "rate_limited");
	json_decref(err);
	assert_int_equal(s->close_code, 4001);
}

/* Issue 12: one source has at most two password checks under way; a third
 * is refused at once, and another source is not held up. */
static void test_logins_per_source(void **state)
{
	struct env *e = *state;
	struct fake *k[3], *other;
	json_t *err, *j;

	for (int i = 0; i < 3; i++) {
		k[i] = open_staff(e);
		input(k[i], "{\"type\":\"login\",\"user\":\"samira\",\"password\":\"wrong-password\",\"id\":\"x\"}",
		      1000);
	}
	/* The third got its answer without a check. */
	assert_null(last_of(k[0], "error"));
	assert_null(last_of(k[1], "error"));
	err = last_of(k[2], "error");
	assert_non_null(err);
	assert_string_equal(json_string_value(json_object_get(err, "code")), "rate_limited");
	json_decref(err);
	assert_int_equal(k[2]->close_code, 4001);
	/* A socket that goes away still holds its source's place... */
	hub_closed(k[0]->conn, 1001);
	k[0]->conn = NULL;
	struct fake *again = open_staff(e);
	input(again, "{\"type\":\"login\",\"user\":\"samira\",\"password\":\"wrong-password\"}", 1002);
	err = last_of(again, "error");
	assert_non_null(err);
	json_decref(err);
	/* ...while another source logs in. */
	other = &e->socks[e->n_socks++];
	other->conn = hub_staff_open(e->h, other, "another-addr", e->n_socks);
	assert_non_null(other->conn);
	login_input(e, other, "samira", "a-long-password", 1003);
	for (int i = 0; i < 3 && (j = last_of(other, "session")) == NULL; i++)
		wait_and_poll(e->h, 1004);
	assert_non_null(j);
	json_decref(j);
}

static void test_dashboard_pushed_to_coordinators(void **state)
{
	struct env *e = *state;
	struct staff_account co = { .username = "cora", .alias = "Cora", .roles = BRUG_ROLE_COORDINATOR,
				    .langs = "nl", .topics = "", .max_chats = 1 };
	struct fake *k, *v, *vol;
	json_t *d, *nl;

	assert_int_equal(staff_add(e->st, &co, "another-long-password", "cli", NULL), 0);
	k = open_staff(e);
	login_input(e, k, "cora", "another-long-password", 1000);
	wait_and_poll(e->h, 1000);
	vol = login_available(e, 1000);
	hub_tick(e->h, 1100);
	d = last_of(k, "dashboard");
	assert_non_null(d);
	nl = json_object_get(json_object_get(d, "languages"), "nl");
	assert_int_equal(json_integer_value(json_object_get(nl, "waiting")), 0);
	assert_int_equal(json_integer_value(json_object_get(nl, "available")), 1);
	json_decref(d);
	/* A volunteer gets no dashboard. */
	assert_int_equal(count_type(vol, "dashboard"), 0);

	/* A visitor says hello: the next push (within a second) shows it
	 * waiting, with the offer made to the volunteer. */
	v = open_visitor(e, 1200);
	input(v, "{\"type\":\"hello\",\"lang\":\"nl\"}", 1200);
	hub_tick(e->h, 2200);
	d = last_of(k, "dashboard");
	nl = json_object_get(json_object_get(d, "languages"), "nl");
	assert_int_equal(json_integer_value(json_object_get(nl, "waiting")), 1);
	assert_int_equal(json_integer_value(json_object_get(nl, "offers")), 1);
	assert_int_equal(json_integer_value(json_object_get(nl, "longest_wait_s")), 1);
	json_decref(d);
	/* Nothing changed and less than a second: no new push. */
	{
		unsigned before = count_type(k, "dashboard");
		hub_tick(e->h, 2300);
		assert_int_equal(count_type(k, "dashboard"), before);
	}
}


/* The code of the last error frame k got, or "" (static storage). */
static const char *last_error(struct fake *k)
{
	static char code[32];
	json_t *j = last_of(k, "error");

	code[0] = '\0';
	if (j != NULL)
		snprintf(code, sizeof code, "%s", json_string_value(json_object_get(j, "code")));
	json_decref(j);
	return code;
}

static void drop(struct fake *k, uint64_t now)
{
	hub_closed(k->conn, now);
	k->conn = NULL;
}

static void test_waiting_sessions_per_source(void **state)
{
	struct env *e = *state;
	struct fake *a[6], *b;
	const char *hello = "{\"type\":\"hello\",\"lang\":\"nl\"}";
	json_t *w;
	char buf[160];

	e->cfg.max_waiting_per_source = 2;
	login_available(e, 1000);
	a[0] = open_visitor_from(e, "src-a");
	a[1] = open_visitor_from(e, "src-a");
	a[2] = open_visitor_from(e, "src-a");
	b = open_visitor_from(e, "src-b");
	input(a[0], hello, 1000);
	input(a[1], hello, 1000);
	assert_int_equal(count_type(a[1], "welcome"), 1);
	/* A third from the same source is refused; the socket stays open. */
	input(a[2], hello, 1000);
	assert_int_equal(count_type(a[2], "welcome"), 0);
	assert_string_equal(last_error(a[2]), "busy");
	assert_int_equal(a[2]->close_code, 0);
	/* Another source is not affected. */
	input(b, hello, 1000);
	assert_int_equal(count_type(b, "welcome"), 1);

	/* a[0] hangs up: in its grace it counts half, and as the oldest such
	 * session it makes room for a new visitor from its source. */
	w = last_of(a[0], "welcome");
	snprintf(buf, sizeof buf, "{\"type\":\"hello\",\"resume\":\"%s\"}",
		 json_string_value(json_object_get(w, "session")));
	json_decref(w);
	drop(a[0], 2000);
	input(a[2], hello, 2000);
	assert_int_equal(count_type(a[2], "welcome"), 1);
	/* Its place is gone: resuming it starts a new session, which is over
	 * the source's allowance. */
	a[3] = open_visitor_from(e, "src-a");
	input(a[3], buf, 2100);
	assert_int_equal(count_type(a[3], "welcome"), 0);
	assert_string_equal(last_error(a[3]), "busy");

	/* Two in their grace count as one: a new one fits beside them, and the
	 * next one takes the place of both. */
	drop(a[1], 3000);
	drop(a[2], 3000);
	a[4] = open_visitor_from(e, "src-a");
	input(a[4], hello, 3000);
	assert_int_equal(count_type(a[4], "welcome"), 1);
	a[5] = open_visitor_from(e, "src-a");
	input(a[5], hello, 3000);
	assert_int_equal(count_type(a[5], "welcome"), 1);
	input(a[3], hello, 3000);
	assert_string_equal(last_error(a[3]), "busy");
	/* b was never touched. */
	assert_int_equal(count_type(b, "error"), 0);
}

/* The peer read everything queued: the edge tells the hub. */
static void drain(struct fake *k, uint64_t now)
{
	k->queued = 0;
	k->queued_bytes = 0;
	hub_writable(k->conn, now);
}

/* The `msg` frames k got, checked to come in strictly rising `seq`;
 * returns how many, and the first and last seq. */
static unsigned msgs_in_order(struct fake *k, json_int_t *first, json_int_t *last)
{
	json_int_t prev = 0;
	unsigned n = 0;

	*first = *last = 0;
	for (unsigned i = 0; i < k->n; i++) {
		json_t *j = frame(k, i);
		if (strcmp(json_string_value(json_object_get(j, "type")), "msg") == 0) {
			json_int_t seq = json_integer_value(json_object_get(j, "seq"));
			assert_true(seq > prev);
			if (n++ == 0)
				*first = seq;
			prev = *last = seq;
		}
		json_decref(j);
	}
	return n;
}

/* A visitor chatting with samira; returns the staff socket, *v the visitor. */
static struct fake *chat_with_samira(struct env *e, struct fake **v, uint64_t now)
{
	struct fake *s = login_available(e, now);

	*v = open_visitor(e, now);
	input(*v, "{\"type\":\"hello\",\"lang\":\"nl\"}", now);
	accept_offer_for_position(e, s, 0, now);
	assert_int_equal(count_type(*v, "joined"), 1);
	return s;
}

/* Log samira in again with her session token on a new (limited) socket. */
static struct fake *reload(struct env *e, struct fake *s, uint64_t now)
{
	json_t *sess = last_of(s, "session");
	char buf[160];
	struct fake *s2 = open_staff(e);

	snprintf(buf, sizeof buf, "{\"type\":\"login\",\"token\":\"%s\"}",
		 json_string_value(json_object_get(sess, "token")));
	json_decref(sess);
	s2->limited = true;
	input(s2, buf, now);
	assert_int_equal(s->close_code, 4003);
	return s2;
}

/* Issue 12: a transcript of 1,000 messages, more frames than the queue
 * holds, reaches a reloaded console whole and in order, paced as it
 * drains; a message sent meanwhile follows it in order. */
static void test_long_transcript_paced(void **state)
{
	struct env *e = *state;
	struct fake *v, *s = chat_with_samira(e, &v, 1000), *s2;
	json_int_t first, last;
	unsigned rounds = 0;
	char buf[128];

	e->cfg.rate_msgs = 1000;
	for (int i = 1; i <= CHAT_LOG_MAX_MSGS; i++) {
		snprintf(buf, sizeof buf, "{\"type\":\"msg\",\"text\":\"bericht %d\"}", i);
		input(v, buf, 2000 + (uint64_t)i * 20);
	}
	s2 = reload(e, s, 30000);
	/* No more than the queue may take at once, and the rest as it drains. */
	assert_true(msgs_in_order(s2, &first, &last) <= HUB_OUTQ_REPLAY_FRAMES);
	input(v, "{\"type\":\"msg\",\"text\":\"nog daar?\"}", 30100);
	{
		json_t *c = last_of(s2, "chat");
		snprintf(buf, sizeof buf, "{\"type\":\"msg\",\"chat\":\"%s\",\"text\":\"ja\",\"id\":\"m1\"}",
			 json_string_value(json_object_get(c, "chat")));
		json_decref(c);
		input(s2, buf, 30200);
	}
	while (msgs_in_order(s2, &first, &last) < CHAT_LOG_MAX_MSGS + 2 && rounds++ < 10)
		drain(s2, 30300 + rounds);
	assert_int_equal(msgs_in_order(s2, &first, &last), CHAT_LOG_MAX_MSGS + 2);
	assert_int_equal(last, CHAT_LOG_MAX_MSGS + 2);
	assert_true(rounds >= 2);
	/* The console's own message carries its request id, in its place. */
	{
		json_t *j = frame(s2, s2->n - 1);
		assert_string_equal(json_string_value(json_object_get(j, "id")), "m1");
		assert_int_equal(json_integer_value(json_object_get(j, "seq")), CHAT_LOG_MAX_MSGS + 2);
		json_decref(j);
	}
	/* The visitor got its own messages live, each once. */
	assert_int_equal(msgs_in_order(v, &first, &last), CHAT_LOG_MAX_MSGS + 2);
}

/* A visitor `msg` of n quote characters (two bytes each in JSON); caller frees. */
static char *quotes_msg(size_t n)
{
	static const char head[] = "{\"type\":\"msg\",\"text\":\"";
	char *buf = malloc(2 * n + 64), *p;

	if (buf == NULL)
		abort();
	memcpy(buf, head, sizeof head - 1);
	p = buf + sizeof head - 1;
	for (size_t i = 0; i < n; i++, p += 2)
		memcpy(p, "\\\"", 2);
	strcpy(p, "\"}");
	return buf;
}

/* The same by bytes: the biggest messages there can be (CHAT_MSG_MAX_BYTES,
 * every byte escaped in JSON) fill the kept transcript past what the queue
 * holds; each frame fits, and all of it arrives. A longer one is refused. */
static void test_biggest_transcript_paced(void **state)
{
	struct env *e = *state;
	struct fake *v, *s = chat_with_samira(e, &v, 1000), *s2;
	json_int_t first, last;
	unsigned rounds = 0, kept = CHAT_LOG_MAX_BYTES / CHAT_MSG_MAX_BYTES;
	char *buf;
	json_t *err;

	e->cfg.rate_msgs = 1000;
	e->cfg.max_text = 100000;
	/* One byte too many: too_long, and nothing is kept. */
	buf = quotes_msg(CHAT_MSG_MAX_BYTES + 1);
	input(v, buf, 2000);
	free(buf);
	err = last_of(v, "error");
	assert_non_null(err);
	assert_string_equal(json_string_value(json_object_get(err, "code")), "too_long");
	json_decref(err);
	assert_int_equal(count_type(s, "msg"), 0);
	/* Exactly the limit: kept. */
	buf = quotes_msg(CHAT_MSG_MAX_BYTES);
	for (unsigned i = 0; i < kept + 4; i++)
		input(v, buf, 3000 + i);
	free(buf);
	assert_int_equal(msgs_in_order(s, &first, &last), kept + 4);

	s2 = reload(e, s, 30000);
	while (msgs_in_order(s2, &first, &last) < kept && rounds++ < 2 * kept)
		drain(s2, 30300 + rounds);
	assert_int_equal(msgs_in_order(s2, &first, &last), kept);
	/* The oldest went past the byte cap: the transcript starts later. */
	assert_int_equal(first, 5);
	assert_int_equal(last, kept + 4);
	assert_true(rounds >= 1);
}

/* The cluster's second edge (docs/cluster.md, section 3): a visitor socket
 * of another node uses the edge operations it was opened with, its session
 * is found by the hash of its token, and frames another hub serialized are
 * written as they are. */
static unsigned remote_sends;

static void remote_fake_send(void *edge, struct frame *f)
{
	remote_sends++;
	fake_send(edge, f);
}

static const struct hub_edge_ops remote_ops = { remote_fake_send, fake_close, NULL, NULL };

static void test_remote_visitor_and_deliver(void **state)
{
	struct env *e = *state;
	struct fake *s = login_available(e, 1000), *r = &e->socks[e->n_socks++], *v;
	char hash[65], other[65];
	json_t *w;

	remote_sends = 0;
	r->conn = hub_remote_visitor_open(e->h, &remote_ops, r, 1, NULL, 1000000001);
	assert_non_null(r->conn);
	input(r, "{\"type\":\"hello\",\"id\":\"h1\"}", 1000);
	/* Without lang, the language it was opened with (ar) holds. */
	w = last_of(r, "welcome");
	assert_non_null(w);
	assert_string_equal(json_string_value(json_object_get(w, "lang")), "ar");
	assert_true(remote_sends >= 2);       /* welcome and queue, through its own ops */
	assert_int_equal(count_type(s, "offer"), 1);
	token_hash_hex(json_string_value(json_object_get(w, "session")), hash);
	json_decref(w);
	assert_true(hub_has_session_hash(e->h, hash));
	token_hash_hex("not-a-token-of-anyone-here", other);
	assert_false(hub_has_session_hash(e->h, other));
	assert_false(hub_has_session_hash(e->h, "short"));

	/* hub_deliver writes the bytes as given, once. */
	v = open_visitor(e, 1000);
	hub_deliver(v->conn, "{\"type\":\"queue\",\"position\":7}", 30);
	assert_int_equal(v->n, 1);
	assert_string_equal(v->frames[0], "{\"type\":\"queue\",\"position\":7}");
	hub_kick(v->conn, 4003, "replaced");
	assert_int_equal(v->close_code, 4003);
	hub_deliver(v->conn, "{}", 2);        /* closing: nothing more */
	assert_int_equal(v->n, 1);
}

/* The id of the nth `chat` frame k got (0-based), in buf. */
static const char *chat_id_of(struct fake *k, unsigned nth, char *buf, size_t size)
{
	unsigned seen = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < k->n; i++) {
		json_t *j = frame(k, i);
		if (strcmp(json_string_value(json_object_get(j, "type")), "chat") == 0 && seen++ == nth)
			snprintf(buf, size, "%s", json_string_value(json_object_get(j, "chat")));
		json_decref(j);
	}
	assert_true(buf[0] != '\0');
	return buf;
}

/* Issue 10: a staff block ends the chat and refuses new visitor sockets
 * from the visitor's source (its hashed key) with a neutral error, for
 * block_hours on the hub's clock; other sources are not touched. */
static void test_block_refuses_source_until_it_expires(void **state)
{
	struct env *e = *state;
	struct fake *s = login_available(e, 1000), *v, *again, *other;
	uint64_t day = 24ull * 3600 * 1000;
	char id[32], buf[160];
	json_t *j;

	e->cfg.block_hours = 24;
	v = open_visitor_from(e, "source-a");
	input(v, "{\"type\":\"hello\",\"lang\":\"nl\"}", 1000);
	accept_offer_for_position(e, s, 0, 1100);
	snprintf(buf, sizeof buf, "{\"type\":\"block\",\"chat\":\"%s\",\"id\":\"b1\"}", chat_id_of(s, 0, id, sizeof id));
	input(s, buf, 2000);
	j = last_of(s, "blocked");
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "b1");
	json_decref(j);
	j = last_of(v, "ended");
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "by")), "staff");
	json_decref(j);
	/* The same socket cannot start anew, nor can a new one. */
	input(v, "{\"type\":\"hello\",\"lang\":\"nl\"}", 2100);
	assert_string_equal(last_error(v), "not_available");
	again = open_visitor_from(e, "source-a");
	assert_string_equal(last_error(again), "not_available");
	assert_int_equal(again->close_code, 1013);
	other = open_visitor_from(e, "source-b");
	assert_int_equal(other->close_code, 0);
	input(other, "{\"type\":\"hello\",\"lang\":\"nl\"}", 2200);
	assert_int_equal(count_type(other, "welcome"), 1);
	/* Still blocked just before block_hours, gone at it. */
	hub_tick(e->h, 2000 + day - 1);
	again = open_visitor_from(e, "source-a");
	assert_int_equal(again->close_code, 1013);
	hub_tick(e->h, 2000 + day);
	again = open_visitor_from(e, "source-a");
	assert_int_equal(again->close_code, 0);
	input(again, "{\"type\":\"hello\",\"lang\":\"nl\"}", 2000 + day);
	assert_int_equal(count_type(again, "welcome"), 1);
	/* A chat that is not yours cannot be used to block. */
	input(s, "{\"type\":\"block\",\"chat\":\"999\"}", 2000 + day);
	assert_string_equal(last_error(s), "not_found");
}

/* Issue 10: staff `msg` and `typing` are limited per chat, not per
 * console: three chats at a fast pace pass, one chat flooded is refused,
 * and the console's other messages keep the old limit together. */
static void test_staff_rate_per_chat(void **state)
{
	struct env *e = *state;
	struct fake *s = login_available(e, 1000), *v[3];
	char ids[3][32], buf[192];
	unsigned errors;

	for (int i = 0; i < 3; i++) {
		v[i] = open_visitor(e, 1000);
		input(v[i], "{\"type\":\"hello\",\"lang\":\"nl\"}", 1000);
		accept_offer_for_position(e, s, (unsigned)i, 1100);
		chat_id_of(s, (unsigned)i, ids[i], sizeof ids[i]);
	}
	errors = count_type(s, "error");
	/* In one 10 s window: 20 messages and 20 typing in each chat, 120 in
	 * all (a console limit of 20 or 60 refused or closed it before). */
	for (int n = 0; n < 20; n++) {
		for (int i = 0; i < 3; i++) {
			snprintf(buf, sizeof buf, "{\"type\":\"msg\",\"chat\":\"%s\",\"text\":\"hallo %d\"}", ids[i], n);
			input(s, buf, 2000 + (uint64_t)n * 100);
			snprintf(buf, sizeof buf, "{\"type\":\"typing\",\"chat\":\"%s\",\"on\":true}", ids[i]);
			input(s, buf, 2000 + (uint64_t)n * 100);
		}
	}
	assert_int_equal(count_type(s, "error"), errors);
	assert_int_equal(s->close_code, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(count_type(v[i], "msg"), 20);
	/* One more in chat 0 is refused and not relayed; the others are full
	 * too, and a new window lets them all go on. */
	snprintf(buf, sizeof buf, "{\"type\":\"msg\",\"chat\":\"%s\",\"text\":\"te veel\"}", ids[0]);
	input(s, buf, 4500);
	assert_string_equal(last_error(s), "rate_limited");
	assert_int_equal(count_type(v[0], "msg"), 20);
	snprintf(buf, sizeof buf, "{\"type\":\"msg\",\"chat\":\"%s\",\"text\":\"later\"}", ids[1]);
	input(s, buf, 12500);
	assert_int_equal(count_type(v[1], "msg"), 21);
	/* Other messages share one window of rate_limit_messages. */
	errors = count_type(s, "error");
	for (int n = 0; n < 20; n++)
		input(s, "{\"type\":\"status\",\"available\":true}", 13000);
	assert_int_equal(count_type(s, "error"), errors);
	input(s, "{\"type\":\"status\",\"available\":true}", 13000);
	assert_string_equal(last_error(s), "rate_limited");
	/* Ending a chat always works. */
	snprintf(buf, sizeof buf, "{\"type\":\"end\",\"chat\":\"%s\"}", ids[2]);
	input(s, buf, 13000);
	assert_int_equal(count_type(v[2], "ended"), 1);
}

/* docs/cluster.md, section 6: a lost node's sessions restored from their
 * replicas. The chat goes on with samira, same id and seq; the visitor
 * resumes with its token (known here only by its hash) and gets what it
 * missed; a waiting one gets its place back; refusals change nothing. */
static void test_restore_from_replica(void **state)
{
	struct env *e = *state;
	uint64_t now = 1000;
	struct fake *s = login_available(e, now);
	struct replica_store *st = replica_store_new();
	struct replica *r = replica_get(st, "b1", 7, true), *w = replica_get(st, "b1", 8, true);
	char token[TOKEN_STR_LEN], wtoken[TOKEN_STR_LEN], buf[256];
	json_t *j;

	assert_int_equal(token_new(token), 0);
	assert_int_equal(token_new(wtoken), 0);
	token_hash_hex(token, r->token_hash);
	token_hash_hex(wtoken, w->token_hash);
	r->lang = 0;
	r->chatting = true;
	r->chat_id = (3ull << 40) + 5;
	r->visitor_no = 12;
	r->n_staff = 1;
	strcpy(r->staff[0].user, "samira");
	assert_int_equal(replica_append(r, 1, true, NULL, "first", 5, 100), 0);
	assert_int_equal(replica_append(r, 2, false, "Samira", "second", 6, 200), 0);
	r->next_seq = 3;
	w->lang = 0;
	w->enqueued_wall_ms = fake_wall(NULL) - 5000;

	assert_int_equal(hub_restore_session(e->h, r, now), 0);
	/* Restoring it twice (it is here already) changes nothing. */
	assert_int_equal(hub_restore_session(e->h, r, now), BRUG_E_CONFLICT);
	w->lang = 99;
	assert_int_equal(hub_restore_session(e->h, w, now), BRUG_E_BAD_FIELD);
	w->lang = 0;
	assert_int_equal(hub_restore_session(e->h, w, now), 0);
	j = last_of(s, "presence");
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "visitor")), "away");
	json_decref(j);
	assert_true(hub_has_session_hash(e->h, r->token_hash));

	/* Its token resumes it, though only the hash came with the replica. */
	struct fake *v = open_visitor(e, now);
	snprintf(buf, sizeof buf, "{\"type\":\"hello\",\"resume\":\"%s\",\"last_seq\":1}", token);
	input(v, buf, now);
	j = last_of(v, "welcome");
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "resumed")));
	json_decref(j);
	assert_int_equal(count_type(v, "joined"), 1);
	json_int_t first, lastseq;
	assert_int_equal(msgs_in_order(v, &first, &lastseq), 1);
	assert_int_equal(first, 2);
	/* The restored hash is spent: the old token no longer resumes. */
	assert_false(hub_has_session_hash(e->h, r->token_hash));
	input(v, "{\"type\":\"msg\",\"text\":\"third\"}", now);
	assert_int_equal(msgs_in_order(v, &first, &lastseq), 2);
	assert_int_equal(lastseq, 3);
	j = last_of(s, "msg");
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 3);
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)r->chat_id);
	assert_string_equal(json_string_value(json_object_get(j, "chat")), buf);
	json_decref(j);

	/* The waiting one resumes into its place. */
	struct fake *v2 = open_visitor(e, now);
	snprintf(buf, sizeof buf, "{\"type\":\"hello\",\"resume\":\"%s\"}", wtoken);
	input(v2, buf, now);
	j = last_of(v2, "queue");
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "position")), 1);
	json_decref(j);
	replica_store_free(st);
}

/* docs/cluster.md, section 7: after a split the same session can exist
 * twice; the copy resumed more often is the live one. A stale copy goes
 * quietly: its staff member hears no `ended` (the chat goes on in the live
 * copy), its socket is closed 4003. */
static void test_stale_copy_after_split(void **state)
{
	struct env *e = *state;
	uint64_t now = 1000;
	struct fake *v;
	struct fake *s = chat_with_samira(e, &v, now);
	struct vsession *vs = v->conn->vs;
	struct replica_store *st = replica_store_new();
	struct replica *r = replica_get(st, "b2", 3, true);
	char origin[48];

	assert_non_null(vs);
	snprintf(origin, sizeof origin, "%s", vs->origin);
	/* A replica of the same session, at the same epoch: ours stays. */
	hub_rep_seen(e->h, origin, vs->epoch, now);
	assert_ptr_equal(v->conn->vs, vs);
	/* As a restore it is refused: the session is here. */
	token_hash_hex("another-token-another-token-another-token12", r->token_hash);
	r->lang = 0;
	snprintf(r->origin, sizeof r->origin, "%s", origin);
	r->epoch = vs->epoch;
	assert_int_equal(hub_restore_session(e->h, r, now), BRUG_E_CONFLICT);
	/* Resumed elsewhere since (a higher epoch): ours is stale. */
	unsigned ended_before = count_type(s, "ended");
	hub_rep_seen(e->h, origin, vs->epoch + 1, now);
	assert_int_equal(v->close_code, 4003);
	assert_int_equal(count_type(s, "ended"), ended_before);
	assert_int_equal(count_type(v, "ended"), 0);
	replica_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_updates_are_coalesced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_flush_bounded_per_tick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiting_sessions_per_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staff_session_moves_to_new_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_logins_still_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logins_per_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dashboard_pushed_to_coordinators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_transcript_paced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_biggest_transcript_paced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_visitor_and_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_refuses_source_until_it_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_copy_after_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_from_replica, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staff_rate_per_chat, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
