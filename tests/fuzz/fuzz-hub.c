/* libFuzzer target for the hub as a state machine: the input is a small
 * program of socket opens, visitor and staff messages, closes and clock
 * steps, run on the real hub behind a fake edge. Ids and tokens the hub
 * sent are fed back, so programs reach chats, resumes and transfers. */
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "brug-build.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "i18n.h"
#include "proto.h"
#include "shifts.h"
#include "staff.h"
#include "stats.h"
#include "util/log.h"

#include "hub-env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SOCKS 8          /* sockets a program can hold at once */
#define POOL HUB_ENV_POOL  /* ids and tokens remembered from the hub's frames */
#define STAFF_CHATS 32   /* chats one console is in, far above max_chats */
#define MAX_STEPS 400
#define ID_LEN 24        /* a chat or offer id as text, with room */

enum sock_state {
	SOCK_FREE,       /* no socket in this slot */
	SOCK_OPEN,       /* open: the hub may send */
	SOCK_CLOSING,    /* the hub asked to close: the harness closes it later */
};

/* One fake socket: the frames it got (references held until it closes)
 * and what the harness learnt from them. */
struct sock {
	enum sock_state state;
	bool staff;
	struct hub_conn *conn;
	struct frame **frames;
	unsigned n_frames, cap;
	bool greeted;                     /* welcome (visitor) or session (staff) seen */
	char chat[ID_LEN];                /* visitor: the chat it is in, "" none */
	char chats[STAFF_CHATS][ID_LEN];  /* staff: the chats it is in */
	unsigned n_chats;
	char offers[POOL][ID_LEN];        /* staff: offers made to it, a ring */
	unsigned n_offers;
};


static struct {
	bool ready;
	char nonce[17];                   /* marks our message texts; unguessable for raw frames */
	bool trace;                       /* FUZZ_HUB_TRACE: print every frame and close */
} g;

/* The state of one run. */
static struct {
	struct hub_env_run env;
	uint64_t now;
	struct sock socks[SOCKS];
	struct hub_env_pool vtokens, stokens, offers, chats;
	int woken;
	unsigned step;
	bool drained;        /* every visitor left and its grace ran out */
} r;

/* ---- the fake edge ---- */


static int staff_chat_index(const struct sock *k, const char *chat)
{
	for (unsigned i = 0; i < k->n_chats; i++)
		if (strcmp(k->chats[i], chat) == 0)
			return (int)i;
	return -1;
}

static void staff_chat_add(struct sock *k, const char *chat)
{
	if (chat == NULL || staff_chat_index(k, chat) >= 0)
		return;
	CHECK(k->n_chats < STAFF_CHATS, "a console in more than %d chats", STAFF_CHATS);
	snprintf(k->chats[k->n_chats++], ID_LEN, "%s", chat);
}

static void staff_chat_remove(struct sock *k, const char *chat)
{
	int i = chat != NULL ? staff_chat_index(k, chat) : -1;

	if (i < 0)
		return;
	memmove(k->chats[i], k->chats[i + 1], (k->n_chats - (unsigned)i - 1) * ID_LEN);
	k->n_chats--;
}

static const char *str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A text the harness wrote starts "k<nonce>:<v|s><chat>:"; returns the
 * chat it was written for, or NULL for any other text. */
static bool marker_chat(const char *text, char out[ID_LEN])
{
	size_t n = strlen(g.nonce);
	const char *p, *end;

	if (text == NULL || text[0] != 'k' || strncmp(text + 1, g.nonce, n) != 0 || text[1 + n] != ':')
		return false;
	p = text + n + 3;
	end = strchr(p, ':');
	if (end == NULL || (size_t)(end - p) >= ID_LEN)
		return false;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return true;
}

/* What a visitor socket may receive, and what it learns. */
static void visitor_frame(struct sock *k, const char *type, json_t *j)
{
	char marked[ID_LEN];

	if (!k->greeted) {
		CHECK(strcmp(type, "welcome") == 0 || strcmp(type, "error") == 0,
		      "visitor got %s before welcome", type);
	}
	if (strcmp(type, "welcome") == 0) {
		k->greeted = true;
		k->chat[0] = '\0';
		hub_env_pool_add(&r.vtokens, str_of(j, "session"));
	} else if (strcmp(type, "joined") == 0) {
		CHECK(str_of(j, "chat") != NULL, "joined without chat");
		snprintf(k->chat, sizeof k->chat, "%s", str_of(j, "chat"));
		hub_env_pool_add(&r.chats, k->chat);
	} else if (strcmp(type, "ended") == 0 ||
		   (strcmp(type, "notice") == 0 && str_of(j, "code") && strcmp(str_of(j, "code"), "requeued") == 0)) {
		k->chat[0] = '\0';
	} else if (strcmp(type, "msg") == 0) {
		CHECK(k->chat[0] != '\0', "visitor got a msg outside a chat");
		CHECK(json_object_get(j, "chat") == NULL, "visitor msg names its chat");
		if (marker_chat(str_of(j, "text"), marked))
			CHECK(strcmp(marked, k->chat) == 0, "visitor in chat %s got a msg of chat %s", k->chat,
			      marked);
	} else if (strcmp(type, "typing") == 0) {
		CHECK(k->chat[0] != '\0', "visitor got typing outside a chat");
	} else if (strcmp(type, "queue") == 0 || strcmp(type, "closed") == 0) {
		CHECK(k->chat[0] == '\0', "visitor in chat %s got %s", k->chat, type);
	}
}

/* What a staff socket may receive, and what it learns. */
static void staff_frame(struct sock *k, const char *type, json_t *j)
{
	const char *chat = str_of(j, "chat");
	char marked[ID_LEN];

	if (!k->greeted)
		CHECK(strcmp(type, "session") == 0 || strcmp(type, "error") == 0,
		      "console got %s before session", type);
	if (strcmp(type, "session") == 0) {
		k->greeted = true;
		hub_env_pool_add(&r.stokens, str_of(j, "token"));
	} else if (strcmp(type, "chats") == 0) {
		json_t *arr = json_object_get(j, "chats"), *v;
		size_t i;
		k->n_chats = 0;
		json_array_foreach(arr, i, v)
			staff_chat_add(k, json_string_value(v));
	} else if (strcmp(type, "chat") == 0) {
		CHECK(chat != NULL, "chat without id");
		staff_chat_add(k, chat);
		hub_env_pool_add(&r.chats, chat);
	} else if (strcmp(type, "ended") == 0) {
		staff_chat_remove(k, chat);
	} else if (strcmp(type, "left") == 0) {
		CHECK(chat != NULL && staff_chat_index(k, chat) >= 0, "console got left of chat %s it is not in",
		      chat ? chat : "?");
		if (json_is_true(json_object_get(j, "you")))
			staff_chat_remove(k, chat);
	} else if (strcmp(type, "msg") == 0 || strcmp(type, "typing") == 0 || strcmp(type, "presence") == 0 ||
		   strcmp(type, "joined") == 0) {
		CHECK(chat != NULL && staff_chat_index(k, chat) >= 0, "console got %s of chat %s it is not in",
		      type, chat ? chat : "?");
		if (strcmp(type, "msg") == 0 && marker_chat(str_of(j, "text"), marked))
			CHECK(strcmp(marked, chat) == 0, "msg written in chat %s arrived in chat %s", marked, chat);
	} else if (strcmp(type, "dashboard") == 0 && r.drained) {
		json_t *langs = json_object_get(j, "languages"), *v;
		const char *lang;
		json_object_foreach(langs, lang, v)
			CHECK(json_integer_value(json_object_get(v, "waiting")) == 0,
			      "%s visitors still waiting after every visitor left", lang);
	} else if (strcmp(type, "offer") == 0) {
		const char *id = str_of(j, "offer");
		CHECK(!r.drained, "an offer after every visitor left and the grace ran out");
		CHECK(id != NULL, "offer without id");
		if (strlen(id) < ID_LEN)
			snprintf(k->offers[k->n_offers++ % POOL], ID_LEN, "%s", id);
		hub_env_pool_add(&r.offers, id);
		hub_env_pool_add(&r.chats, chat);
	}
}

static void fake_send(void *edge, struct frame *f)
{
	struct sock *k = edge;
	json_error_t err;
	json_t *j;
	const char *type;

	CHECK(k >= r.socks && k < r.socks + SOCKS, "frame to an unknown socket");
	CHECK(k->state == SOCK_OPEN, "frame sent to a socket %s", k->state == SOCK_FREE ? "closed" : "closing");
	CHECK(f != NULL && f->refs > 0, "frame without a reference");
	if (k->n_frames == k->cap) {
		unsigned cap = k->cap ? k->cap * 2 : 16;
		struct frame **p = realloc(k->frames, cap * sizeof *p);
		CHECK(p != NULL, "out of memory");
		k->frames = p;
		k->cap = cap;
	}
	k->frames[k->n_frames++] = frame_ref(f);
	if (g.trace)
		fprintf(stderr, "[%u] s%d <- %.*s\n", r.step, (int)(k - r.socks), (int)f->len,
			(const char *)f->data + FRAME_PRE);
	j = json_loadb((const char *)f->data + FRAME_PRE, f->len, JSON_REJECT_DUPLICATES, &err);
	CHECK(json_is_object(j), "frame is not a JSON object: %s", err.text);
	type = str_of(j, "type");
	CHECK(type != NULL, "frame without type");
	if (strcmp(type, "error") == 0)
		CHECK(str_of(j, "code") != NULL, "error without code");
	if (k->staff)
		staff_frame(k, type, j);
	else
		visitor_frame(k, type, j);
	json_decref(j);
}

static void fake_close(void *edge, int code, const char *reason)
{
	struct sock *k = edge;

	CHECK(k >= r.socks && k < r.socks + SOCKS, "close of an unknown socket");
	CHECK(k->state == SOCK_OPEN, "close asked of a socket %s", k->state == SOCK_FREE ? "closed" : "closing");
	CHECK(code == 1000 || code == 1001 || code == 1008 || (code >= 4000 && code < 5000),
	      "close code %d", code);
	CHECK(reason != NULL && strlen(reason) <= 123, "close reason");
	k->state = SOCK_CLOSING;
	if (g.trace)
		fprintf(stderr, "[%u] s%d close %d %s\n", r.step, (int)(k - r.socks), code, reason);
}

static uint64_t fake_wall(void *ctx)
{
	(void)ctx;
	return HUB_ENV_BASE_WALL_MS + r.now;
}

static void fake_wake(void *ctx)
{
	(void)ctx;
	__atomic_store_n(&r.woken, 1, __ATOMIC_SEQ_CST);
}

static const struct hub_edge_ops ops = { fake_send, fake_close, fake_wall, fake_wake };

/* The edge reports the socket gone: the hub frees its side, the harness
 * drops the frames (reading them once more, so a frame freed under us
 * shows up in ASan). */
static void sock_closed(struct sock *k)
{
	unsigned sum = 0;

	if (k->state == SOCK_FREE)
		return;
	hub_closed(k->conn, r.now);
	for (unsigned i = 0; i < k->n_frames; i++) {
		sum += k->frames[i]->data[FRAME_PRE];
		frame_unref(k->frames[i]);
	}
	free(k->frames);
	(void)sum;
	memset(k, 0, sizeof *k);
}

/* Close every socket the hub asked to close, as the edge does once their
 * frames went out. */
static void reap(void)
{
	for (unsigned i = 0; i < SOCKS; i++)
		if (r.socks[i].state == SOCK_CLOSING)
			sock_closed(&r.socks[i]);
}

/* ---- set-up, once per process ---- */

static void init(void)
{
	unsigned char nonce[8];

	log_set_level(getenv("FUZZ_HUB_LOG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	g.trace = getenv("FUZZ_HUB_TRACE") != NULL;
	hub_env_init("hub");
	randombytes_buf(nonce, sizeof nonce);
	for (unsigned i = 0; i < sizeof nonce; i++)
		snprintf(g.nonce + 2 * i, 3, "%02x", nonce[i]);
	g.ready = true;
}

/* ---- one run ---- */

static void run_begin(void)
{
	memset(&r, 0, sizeof r);
	hub_env_open(&r.env, &ops, NULL);
	r.now = 1000;
}

/* Then shut down as brugd does: every socket must be asked to close, and once
 * they are reported closed the hub frees everything (LSan checks). */
static void run_end(void)
{
	/* Every visitor hangs up: once the grace has run out no session may
	 * be left to offer or to count as waiting (issue 12: a close path that
	 * did not detach a session left it queued for ever). */
	for (unsigned i = 0; i < SOCKS; i++)
		if (!r.socks[i].staff)
			sock_closed(&r.socks[i]);
	r.now += (uint64_t)hub_env.cfg.grace_s * 1000 + 1000;
	hub_tick(r.env.h, r.now);
	reap();
	r.drained = true;
	r.now += 1000;
	hub_tick(r.env.h, r.now);
	reap();
	hub_shutdown(r.env.h, r.now);
	for (unsigned i = 0; i < SOCKS; i++)
		CHECK(r.socks[i].state != SOCK_OPEN, "socket %u still open after hub_shutdown", i);
	for (unsigned i = 0; i < SOCKS; i++)
		sock_closed(&r.socks[i]);
	hub_env_close(&r.env, r.now);
	memset(&r, 0, sizeof r);
}

/* The program's bytes; reads past the end give 0 and end the run. */
struct reader {
	const uint8_t *p;
	size_t n;
};

static unsigned u8(struct reader *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static void input_json(struct sock *k, json_t *msg, unsigned flags)
{
	char *s;

	if (msg == NULL)
		return;
	if (flags & 1) {
		char id[16];
		snprintf(id, sizeof id, "r%u", r.step);
		json_object_set_new(msg, "id", json_string(id));
	}
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	CHECK(s != NULL, "json_dumps");
	if (k->state == SOCK_OPEN)
		hub_input(k->conn, s, strlen(s), r.now);
	free(s);
}

/* Whether any string in a raw frame could become one of our markers once
 * the hub strips what it strips: only texts the harness wrote may carry
 * the nonce, or a raw frame could fake a message of another chat. */
static bool string_holds_nonce(const char *s)
{
	size_t n = strlen(s), m = 0;
	char *hex = malloc(n + 1);
	bool found;

	CHECK(hex != NULL, "out of memory");
	for (size_t i = 0; i < n; i++)
		if ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))
			hex[m++] = s[i];
	hex[m] = '\0';
	found = strstr(hex, g.nonce) != NULL;
	free(hex);
	return found;
}

static bool json_holds_nonce(json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_string(j))
		return string_holds_nonce(json_string_value(j));
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if (json_holds_nonce(v))
				return true;
	}
	if (json_is_object(j)) {
		json_object_foreach(j, key, v)
			if (string_holds_nonce(key) || json_holds_nonce(v))
				return true;
	}
	return false;
}

static bool holds_nonce(const uint8_t *p, size_t n)
{
	json_t *j = json_loadb((const char *)p, n, 0, NULL);
	bool found = json_holds_nonce(j);

	json_decref(j);
	return found;
}

/* A message text: our marker for chat, then filler of n characters mixing
 * scripts, combining marks, spaces and an emoji. */
static json_t *text_json(char kind, const char *chat, unsigned n, unsigned seed)
{
	static const char *const pieces[] = { "a", " ", "ب", "ሰ", "ş", "\xcc\x81", "e", "\xf0\x9f\x98\x80",
					      "\n", "1", "\xe2\x80\xae", "." };
	char buf[512];
	size_t len = (size_t)snprintf(buf, sizeof buf, "k%s:%c%s:", g.nonce, kind, chat ? chat : "0");

	for (unsigned i = 0; i < n; i++) {
		const char *p = pieces[(seed + i * 7) % (sizeof pieces / sizeof pieces[0])];
		if (len + strlen(p) >= sizeof buf)
			break;
		memcpy(buf + len, p, strlen(p));
		len += strlen(p);
	}
	buf[len] = '\0';
	return json_string(buf);
}

static const char *lang_arg(unsigned a)
{
	static const char *const v[] = { NULL, "nl", "ar", "ti", "tr", "en", "xx", "NL" };
	return v[a % 8];
}

static const char *topic_arg(unsigned a)
{
	static const char *const v[] = { NULL, "domestic_violence", "forced_marriage", "other", "bogus", NULL };
	return v[a % 6];
}

/* A chat for console k: one of its own (even c) or one seen anywhere. */
static const char *chat_arg(struct sock *k, unsigned c)
{
	const char *s = NULL;

	if (c % 2 == 0 && k->n_chats > 0)
		s = k->chats[(c / 2) % k->n_chats];
	else if (c % 7 == 3)
		s = "18446744073709551615";
	else
		s = hub_env_pool_get(&r.chats, c / 2);
	return s ? s : "1";
}

static const char *offer_arg(struct sock *k, unsigned j)
{
	const char *s = NULL;

	if (j % 2 == 0 && k->n_offers > 0)
		s = k->offers[(k->n_offers - 1 - (j / 2) % (k->n_offers < POOL ? k->n_offers : POOL)) % POOL];
	else
		s = hub_env_pool_get(&r.offers, j / 2);
	return s ? s : "1";
}

static json_t *target_json(unsigned t)
{
	switch (t % 10) {
	case 0: case 1: case 2: return json_pack("{s:s}", "user", hub_env_users[t % 10]);
	case 3: return json_pack("{s:s}", "user", hub_env_aliases[t % 3]);
	case 4: return json_pack("{s:s}", "role", "volunteer");
	case 5: return json_pack("{s:s}", "role", "keyperson");
	case 6: return json_pack("{s:s}", "role", "professional");
	case 7: return json_pack("{s:s}", "role", "coordinator");
	case 8: return json_pack("{s:s}", "user", "nobody");
	default: return json_pack("{s:s}", "role", "bogus");
	}
}

/* The coordinator's messages (and a few any member may send): changes of
 * accounts while their consoles are open, shifts around the fake clock's
 * day (2025-11-29, a Saturday, 08:06 in Amsterdam), closures, notes. */
static json_t *coord_json(unsigned y, unsigned z)
{
	static const char *const starts[] = { "07:00", "08:00", "08:10" };
	static const char *const ends[] = { "08:15", "09:00", "24:00" };
	const char *u = hub_env_users[z % 3];
	json_t *roles;

	switch (y % 10) {
	case 0:
		switch (z / 3 % 4) {
		case 0: roles = json_pack("[s]", "volunteer"); break;
		case 1: roles = json_pack("[s]", "coordinator"); break;
		case 2: roles = json_pack("[s,s]", "professional", "keyperson"); break;
		default: roles = json_pack("[s,s]", "coordinator", "volunteer"); break;
		}
		return json_pack("{s:s, s:s, s:o}", "type", "staff_update", "user", u, "roles", roles);
	case 1:
		return json_pack("{s:s, s:s, s:b}", "type", "staff_update", "user", u, "disabled", z / 3 & 1);
	case 2:
		return json_pack("{s:s, s:s, s:o, s:i}", "type", "staff_update", "user", u, "langs",
				 z / 3 % 2 ? json_pack("[s]", "en") : json_pack("[s,s]", "nl", "ar"), "max_chats",
				 1 + z % 3);
	case 3:
		return json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s]}", "type", "pattern_add", "date", "2025-11-29",
				 "start", starts[z / 3 % 3], "end", ends[z / 9 % 3], "langs", "nl", "staff", u);
	case 4:
		return json_pack("{s:s, s:i, s:s, s:s, s:[s,s], s:[s]}", "type", "pattern_add", "weekday", 6, "start",
				 "00:00", "end", "24:00", "langs", "nl", "ar", "staff", u);
	case 5:
		return json_pack("{s:s, s:s, s:s}", "type", "closure_add", "from", "2025-11-29", "to",
				 z & 1 ? "2025-11-29" : "2025-11-30");
	case 6:
		return json_pack("{s:s, s:s}", "type", "handover_set", "text", z & 1 ? "" : "Let op: de printer is stuk.");
	case 7:
		switch (z % 6) {
		case 0: return json_pack("{s:s}", "type", "staff_list");
		case 1: return json_pack("{s:s}", "type", "roster_get");
		case 2: return json_pack("{s:s}", "type", "my_shifts");
		case 3: return json_pack("{s:s}", "type", "ical_feed");
		case 4: return json_pack("{s:s}", "type", "audit_list");
		default: return json_pack("{s:s, s:s, s:s}", "type", "stats_get", "from", "2025-11-01", "to", "2025-11-30");
		}
	case 8:
		return json_pack("{s:s, s:s}", "type", z & 1 ? "totp_reset" : "staff_reset", "user", u);
	default:
		return json_pack("{s:s, s:s, s:s, s:[s], s:[s]}", "type", "staff_create", "user", "dan", "alias", "Dan",
				 "roles", "volunteer", "langs", "nl");
	}
}

/* A password login runs on the worker thread: wait for it when the hub
 * took it (no answer and no close yet), then poll, so runs stay
 * deterministic. */
static void password_login(struct sock *k, unsigned acct, unsigned how, unsigned flags)
{
	const char *u = hub_env_users[acct % 3];
	char pw[64], code[TOTP_DIGITS + 1];
	unsigned before = k->n_frames;
	json_t *msg;
	struct timespec start, now;

	snprintf(pw, sizeof pw, how & 1 ? "wrong-password-%s" : "pw-%s-long-enough", u);
	CHECK(staff_totp_code(r.env.st, u, (int64_t)(fake_wall(NULL) / 1000), code) == 0, "totp");
	if (how & 2)
		code[0] = code[0] == '0' ? '1' : '0';
	msg = json_pack("{s:s, s:s, s:s}", "type", "login", "user", u, "password", pw);
	if (!(how & 4))
		json_object_set_new(msg, "totp", json_string(code));
	__atomic_store_n(&r.woken, 0, __ATOMIC_SEQ_CST);
	input_json(k, msg, flags);
	if (k->state != SOCK_OPEN || k->n_frames != before)
		return;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!__atomic_load_n(&r.woken, __ATOMIC_SEQ_CST)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		CHECK(now.tv_sec - start.tv_sec < 20, "a password login never finished");
		sched_yield();
	}
	hub_poll(r.env.h, r.now);
}

enum op {
	OP_OPEN_VISITOR, OP_OPEN_STAFF, OP_HELLO, OP_RESUME, OP_VMSG, OP_VTYPING, OP_VEND,
	OP_LOGIN_TOKEN, OP_LOGIN_PASSWORD, OP_STATUS, OP_ACCEPT, OP_DECLINE, OP_SMSG, OP_STYPING,
	OP_INVITE, OP_TRANSFER, OP_SEND, OP_LOGOUT, OP_RAW, OP_CLOSE, OP_ADVANCE, OP_TICK,
	OP_COORD, OP_COUNT
};

static void step(struct reader *in)
{
	static const uint64_t advance_ms[16] = { 100, 250, 500, 1000, 2000, 2500, 5000, 10000,
						 15000, 29000, 31000, 60000, 119000, 121000, 600000, 3700000 };
	unsigned b = u8(in), op = b % OP_COUNT, flags = b / OP_COUNT;
	unsigned a = u8(in);
	struct sock *k = &r.socks[a % SOCKS];
	unsigned x, y, z;
	json_t *msg;

	/* Messages go to open sockets of the right side only; anything else
	 * is a no-op, as it would be at the edge. */
	bool visitor = k->state == SOCK_OPEN && !k->staff, staff = k->state == SOCK_OPEN && k->staff;

	switch (op) {
	case OP_OPEN_VISITOR:
	case OP_OPEN_STAFF:
		if (k->state != SOCK_FREE)
			break;
		k->staff = op == OP_OPEN_STAFF;
		k->state = SOCK_OPEN;
		x = u8(in);
		if (k->staff)
			k->conn = hub_staff_open(r.env.h, k, x % 2 ? "addr-b" : "addr-a", r.step + 1);
		else
			k->conn = hub_visitor_open(r.env.h, k, x % 3 == 0 ? NULL : x % 3 == 1 ? "ar-MA,ar;q=0.9" : "tr",
						   x / 3 % 2 ? "src-b" : "src-a", r.step + 1);
		CHECK(k->conn != NULL, "open refused");
		break;
	case OP_HELLO:
		x = u8(in);
		y = u8(in);
		if (!visitor)
			break;
		msg = json_pack("{s:s}", "type", "hello");
		if (lang_arg(x) != NULL)
			json_object_set_new(msg, "lang", json_string(lang_arg(x)));
		if (topic_arg(y) != NULL)
			json_object_set_new(msg, "topic", json_string(topic_arg(y)));
		input_json(k, msg, flags);
		break;
	case OP_RESUME:
		x = u8(in);
		y = u8(in);
		if (!visitor)
			break;
		msg = json_pack("{s:s, s:s}", "type", "hello", "resume",
				x % (POOL + 1) == POOL || hub_env_pool_get(&r.vtokens, x) == NULL ? "AAAAAAAAAAAAAAAAAAAAAA"
											: hub_env_pool_get(&r.vtokens, x));
		if (y != 0)
			json_object_set_new(msg, "last_seq", json_integer(y - 1));
		if (lang_arg(y) != NULL && y % 5 == 0)
			json_object_set_new(msg, "lang", json_string(lang_arg(y)));
		input_json(k, msg, flags);
		break;
	case OP_VMSG:
		x = u8(in);
		if (!visitor)
			break;
		input_json(k, json_pack("{s:s, s:o}", "type", "msg", "text", text_json('v', k->chat, x % 48, x)),
			   flags);
		break;
	case OP_VTYPING:
		x = u8(in);
		if (visitor)
			input_json(k, json_pack("{s:s, s:b}", "type", "typing", "on", x & 1), flags);
		break;
	case OP_VEND:
		x = u8(in);
		if (!visitor)
			break;
		msg = json_pack("{s:s}", "type", "end");
		if (x % 3 != 0)
			json_object_set_new(msg, "quick_exit", json_boolean(x % 3 == 1));
		input_json(k, msg, flags);
		break;
	case OP_LOGIN_TOKEN:
		x = u8(in);
		if (!staff)
			break;
		{
			const char *tok = x % 3 == 0 ? hub_env_pool_get(&r.stokens, x / 3) : NULL;
			if (tok == NULL)
				tok = x % 11 == 10 ? "not-a-session-token" : hub_env.preset[x % 4];
			msg = json_pack("{s:s, s:s}", "type", "login", "token", tok);
			if (x % 13 == 1)
				json_object_set_new(msg, "lang", json_string(x % 2 ? "ar" : "xx"));
			input_json(k, msg, flags);
		}
		break;
	case OP_LOGIN_PASSWORD:
		x = u8(in);
		if (staff)
			password_login(k, x % 3, x / 3, flags);
		break;
	case OP_STATUS:
		x = u8(in);
		if (staff)
			input_json(k, json_pack("{s:s, s:b}", "type", "status", "available", !(x & 1)), flags);
		break;
	case OP_ACCEPT:
	case OP_DECLINE:
		x = u8(in);
		if (staff)
			input_json(k, json_pack("{s:s, s:s}", "type", op == OP_ACCEPT ? "accept" : "decline", "offer",
						offer_arg(k, x)), flags);
		break;
	case OP_SMSG:
		x = u8(in);
		y = u8(in);
		if (!staff)
			break;
		{
			const char *chat = chat_arg(k, x);
			input_json(k, json_pack("{s:s, s:s, s:o}", "type", "msg", "chat", chat, "text",
						text_json('s', chat, y % 48, y)), flags);
		}
		break;
	case OP_STYPING:
		x = u8(in);
		if (staff)
			input_json(k, json_pack("{s:s, s:s, s:b}", "type", "typing", "chat", chat_arg(k, x), "on",
						x & 1), flags);
		break;
	case OP_INVITE:
	case OP_TRANSFER:
		x = u8(in);
		y = u8(in);
		if (staff)
			input_json(k, json_pack("{s:s, s:s, s:o}", "type", op == OP_INVITE ? "invite" : "transfer",
						"chat", chat_arg(k, x), "to", target_json(y)), flags);
		break;
	case OP_SEND:
		x = u8(in);
		y = u8(in);
		if (!staff)
			break;
		msg = json_pack("{s:s, s:s}", "type", "end", "chat", chat_arg(k, x));
		switch (y % 5) {
		case 1: json_object_set_new(msg, "tags", json_pack("[s]", "forced_marriage")); break;
		case 2: json_object_set_new(msg, "tags", json_pack("[s]", "bogus")); break;
		case 3: json_object_set_new(msg, "tags", json_array()); break;
		case 4: json_object_set_new(msg, "tags", json_pack("[s,s]", "other", "other")); break;
		default: break;
		}
		input_json(k, msg, flags);
		break;
	case OP_LOGOUT:
		if (staff)
			input_json(k, json_pack("{s:s}", "type", "logout"), flags);
		break;
	case OP_RAW:
		x = u8(in);
		z = x % 128 < in->n ? x % 128 : (unsigned)in->n;
		if ((visitor || staff) && hub_env_utf8_valid(in->p, z) && !holds_nonce(in->p, z))
			hub_input(k->conn, (const char *)in->p, z, r.now);
		in->p += z;
		in->n -= z;
		break;
	case OP_CLOSE:
		sock_closed(k);
		break;
	case OP_ADVANCE:
		r.now += advance_ms[a % 16];
		reap();
		break;
	case OP_TICK:
		hub_tick(r.env.h, r.now);
		reap();
		break;
	case OP_COORD:
		x = u8(in);
		y = u8(in);
		if (staff)
			input_json(k, coord_json(x, y), flags);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader in = { data, size };

	if (!g.ready)
		init();
	run_begin();
	for (r.step = 0; in.n > 0 && r.step < MAX_STEPS; r.step++)
		step(&in);
	run_end();
	return 0;
}
