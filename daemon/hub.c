/* The hub: sessions behind the visitor and staff sockets, the message table
 * with the roles allowed for each type, and the translation of router events
 * into protocol frames (docs/protocol.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "config.h"
#include "coord.h"
#include "hub.h"
#include "hub_internal.h"
#include "i18n.h"
#include "proto.h"
#include "router.h"
#include "shifts.h"
#include "stats.h"
#include "staff.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/token.h"
#include "util/worker.h"

/* Close codes (protocol doc, "Errors"). */
#define CLOSE_GOING_AWAY 1001
#define CLOSE_POLICY 1008
#define CLOSE_NOT_AUTHENTICATED 4001
#define CLOSE_SESSION_EXPIRED 4002
#define CLOSE_REPLACED 4003
#define CLOSE_FLOOD 4029

/* Flood control per connection: a 10 s window of messages and a 60 s
 * window of errors (docs/protocol.md, "Rate limits"). */
#define RATE_WINDOW_MS 10000
#define RATE_SOFT 20
#define RATE_HARD 60
#define ERROR_WINDOW_MS 60000
#define ERROR_MAX 20
#define SESSION_CHECK_MS 15000
/* A visitor hears about a new queue place at most this often: serving the
 * head of a long queue changes every place behind it, and several chats
 * starting in a row would otherwise send each waiting visitor a burst. */
#define QUEUE_UPDATE_MIN_MS 2000
/* Password checks queued at once; beyond, logins are refused as rate
 * limited (each check takes ~60 ms and 64 MiB on the worker thread). */
#define LOGINS_IN_FLIGHT 32

/* A visitor's session: lives from `hello` until the visitor ends or its
 * grace period runs out, across reconnections. */
struct vsession {
	struct hub *hub;
	struct router_visitor *rv;     /* owned by the router */
	struct hub_conn *conn;         /* NULL while disconnected */
	char token[TOKEN_STR_LEN];     /* resume token; "" when none; wiped */
	struct vsession *map_next;     /* token map chain */
	struct list link;              /* in hub.sessions */
	struct list dirty_link;        /* in hub.queue_dirty while an update waits */
	uint64_t queue_sent_ms;        /* when the last queue frame went out */
	bool counted;                  /* this contact is in the statistics */
	int lang;
};

struct hub_conn {
	struct hub *hub;
	void *edge;
	uint64_t no;                   /* per-boot number, the only name in logs */
	enum proto_side side;
	bool dead;                     /* socket gone or closing: send nothing more */
	int lang;                      /* language of error texts */
	struct list link;              /* in hub.visitors or hub.staff */
	uint64_t rate_start_ms, err_start_ms;
	unsigned rate_count, err_count;
	/* visitor */
	struct vsession *vs;
	/* staff */
	struct router_staff *rs;       /* NULL until logged in */
	struct pending_login *login;   /* a password check in flight */
	char *addr_key;                /* hashed client address, for back-off */
	char token[TOKEN_STR_LEN];     /* staff session token; wiped */
	int64_t staff_id;
	uint32_t roles;
	char username[65];
	uint64_t session_checked_ms;
};

/* A staff member on shift now, from the roster and the accounts. */
struct on_shift {
	int64_t staff_id;
	int64_t end_ms;          /* wall clock */
	char user[65], alias[65], langs[64];
};
#define ON_SHIFT_REFRESH_MS 30000

/* A handover note for the next shift: staff only, memory only. */
#define HANDOVER_MAX 20
#define HANDOVER_TEXT_MAX 1000

struct handover {
	char alias[65];
	uint64_t ts_ms;
	char *text;            /* owned, wiped */
};

struct hub {
	struct hub_services svc;
	struct handover notes[HANDOVER_MAX]; /* oldest first */
	unsigned n_notes;
	const struct config *cfg;
	struct i18n *i18n;
	struct staff *staff;
	struct hub_edge_ops ops;
	void *ops_ctx;
	struct router *router;
	struct worker *worker;             /* password checks off the loop */
	struct list visitors, staff_conns;  /* struct hub_conn.link */
	struct list sessions;              /* struct vsession.link */
	struct list queue_dirty;           /* struct vsession.dirty_link */
	uint64_t now_ms;                   /* time of the call being handled */
	unsigned n_visitors, n_staff;
	struct vsession **map;             /* token -> session, chained */
	size_t map_size, map_count;
	bool shutting_down;
	bool colleagues_dirty;             /* who is online changed: tell staff at the next tick */
	char *dashboard_last;              /* the dashboard last pushed, to push changes only */
	uint64_t dashboard_ms;
	struct on_shift *on_shift;         /* who the roster has on shift now (cached) */
	size_t n_on_shift;
	uint64_t on_shift_ms;              /* when it was read; 0: read again */
	int64_t next_open_at[CONFIG_MAX_LANGS];    /* cached roster answer, -1: none */
	int64_t next_open_until[CONFIG_MAX_LANGS]; /* wall ms the cache holds until */
	const char *const *end_tags;       /* tags of the staff `end` being handled */
	unsigned n_end_tags;
	uint64_t last_session_sweep_ms;
	struct list staff_away;            /* struct staff_away.link, in drop order */
};

/* A staff member whose console dropped: kept (unavailable, with its chats)
 * for the reconnect grace, so a reload or a network hiccup loses nothing. */
struct staff_away {
	struct list link;
	struct router_staff *rs;
	uint64_t deadline_ms;
	bool was_available;
	struct frame *missed[8];     /* `ended` of its chats meanwhile, in order */
	unsigned n_missed;
};

/* ---- token map ---- */

/* FNV-1a of a token, reduced to a table of size buckets (a power of two);
 * tokens are random, so a simple hash spreads them well. */
static size_t token_bucket(const char *token, size_t size)
{
	uint64_t x = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)token; *p; p++)
		x = (x ^ *p) * 1099511628211ull;
	return (size_t)(x & (size - 1));
}

static size_t map_slot(const struct hub *h, const char *token)
{
	return token_bucket(token, h->map_size);
}

static int map_grow(struct hub *h)
{
	size_t nsize = h->map_size ? h->map_size * 2 : 256;
	struct vsession **nmap = calloc(nsize, sizeof *nmap);

	if (nmap == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < h->map_size; i++) {
		struct vsession *vs = h->map[i], *next;
		for (; vs != NULL; vs = next) {
			size_t slot = token_bucket(vs->token, nsize);
			next = vs->map_next;
			vs->map_next = nmap[slot];
			nmap[slot] = vs;
		}
	}
	free(h->map);
	h->map = nmap;
	h->map_size = nsize;
	return 0;
}

static int map_add(struct hub *h, struct vsession *vs)
{
	size_t slot;

	if ((h->map_count + 1) * 2 > h->map_size && map_grow(h) < 0)
		return -ENOMEM;
	slot = map_slot(h, vs->token);
	vs->map_next = h->map[slot];
	h->map[slot] = vs;
	h->map_count++;
	return 0;
}

static void map_remove(struct hub *h, struct vsession *vs)
{
	struct vsession **pp;

	if (vs->token[0] == '\0' || h->map_size == 0)
		return;
	for (pp = &h->map[map_slot(h, vs->token)]; *pp != NULL; pp = &(*pp)->map_next) {
		if (*pp == vs) {
			*pp = vs->map_next;
			vs->map_next = NULL;
			h->map_count--;
			return;
		}
	}
}

static struct vsession *map_find(struct hub *h, const char *token)
{
	if (h->map_size == 0 || strlen(token) != TOKEN_STR_LEN - 1)
		return NULL;
	for (struct vsession *vs = h->map[map_slot(h, token)]; vs != NULL; vs = vs->map_next)
		if (token_equal(vs->token, token))
			return vs;
	return NULL;
}

/* Drop the resume token: it stops working and its bytes are wiped. */
static void vsession_forget_token(struct vsession *vs)
{
	map_remove(vs->hub, vs);
	secmem_wipe(vs->token, sizeof vs->token);
}

static int vsession_new_token(struct vsession *vs)
{
	vsession_forget_token(vs);
	if (token_new(vs->token) < 0)
		return -EIO;
	return map_add(vs->hub, vs);
}

static void vsession_free(struct vsession *vs)
{
	if (vs == NULL)
		return;
	vsession_forget_token(vs);
	list_remove(&vs->link);
	list_remove(&vs->dirty_link);
	if (vs->conn != NULL)
		vs->conn->vs = NULL;
	secmem_free(vs, sizeof *vs);
}

/* ---- sending ---- */

static void send_frame(struct hub_conn *c, struct frame *f)
{
	if (c != NULL && !c->dead && f != NULL)
		c->hub->ops.send(c->edge, f);
}

/* Serialize msg (taking ownership) and send it to c with the request id. */
static void send_json(struct hub_conn *c, json_t *msg, const char *id)
{
	struct frame *f;

	if (msg == NULL)
		return;
	if (c == NULL || c->dead) {
		json_decref(msg);
		return;
	}
	f = proto_frame_take(msg, id);
	send_frame(c, f);
	frame_unref(f);
}

static void close_conn(struct hub_conn *c, int code, const char *reason)
{
	if (c == NULL || c->dead)
		return;
	log_info("c%llu close %d %s", (unsigned long long)c->no, code, reason);
	c->hub->ops.close(c->edge, code, reason);
	c->dead = true;
}

static void send_error(struct hub_conn *c, int err, const char *id)
{
	char *text = i18n_error(c->hub->i18n, c->lang, err);
	struct frame *f = proto_error_frame(err, text != NULL ? text : brug_error_code(err), id);

	free(text);
	send_frame(c, f);
	frame_unref(f);
}

static uint64_t wall_now(const struct hub *h)
{
	return h->ops.wall_ms(h->ops_ctx);
}

static struct hub_conn *visitor_conn(struct router_visitor *v)
{
	struct vsession *vs = v != NULL ? v->owner : NULL;

	return vs != NULL ? vs->conn : NULL;
}

static struct hub_conn *staff_conn(struct router_staff *s)
{
	return s != NULL ? s->owner : NULL;
}

static json_t *id_json(uint64_t id)
{
	char buf[21];

	proto_id_str(id, buf);
	return json_string(buf);
}

static const char *role_name(uint32_t roles)
{
	const char *n = brug_role_name(brug_role_primary(roles));

	return n != NULL ? n : "volunteer";
}

static json_t *staff_json(const struct router_staff *s)
{
	return json_pack("{s:s, s:s}", "alias", s->alias, "role", role_name(s->roles));
}

static json_t *topic_json(const struct hub *h, int topic)
{
	if (topic < 0 || (unsigned)topic >= h->cfg->n_topics)
		return json_null();
	return json_string(h->cfg->topics[topic]);
}

/* A localized text with numeric arguments; caller frees. */
static char *text_num(struct hub *h, int lang, enum i18n_key key, double a0, double a1)
{
	double args[2] = { a0, a1 };

	return i18n_format(h->i18n, lang, key, 2, args, NULL);
}

/* ---- visitor frames ---- */

static void send_queue(struct hub *h, struct router_visitor *v)
{
	struct hub_conn *c = visitor_conn(v);
	struct vsession *vs = v->owner;
	char *text;
	json_t *msg;

	if (c == NULL)
		return;
	text = text_num(h, vs->lang, I18N_QUEUE, v->position,
			v->wait_s < 0 ? -1.0 : (double)((v->wait_s + 59) / 60));
	msg = json_pack("{s:s, s:i, s:o, s:s}", "type", "queue", "position", (json_int_t)v->position,
			"wait_s", v->wait_s < 0 ? json_null() : json_integer(v->wait_s),
			"text", text != NULL ? text : "");
	free(text);
	send_json(c, msg, NULL);
}

/* When lang next opens according to the roster: 0 with *at_ms, or -1.
 * The answer is kept for up to a minute (never past the opening itself, and
 * dropped when the roster changes): the widget's status page asks for every
 * language of every visitor on the start screen, and each roster read
 * expands two months of shifts from the database. */
#define NEXT_OPEN_CACHE_MS 60000

static int next_open(struct hub *h, int lang, int64_t *at_ms)
{
	int64_t now = (int64_t)wall_now(h), at;
	int rc;

	if (h->svc.roster == NULL)
		return -1;
	if (now < h->next_open_until[lang]) {
		*at_ms = h->next_open_at[lang];
		return *at_ms >= 0 ? 0 : -1;
	}
	rc = roster_next_open(h->svc.roster, h->cfg->langs[lang], now, &at) == 0 ? 0 : -1;
	h->next_open_at[lang] = rc == 0 ? at : -1;
	h->next_open_until[lang] = now + NEXT_OPEN_CACHE_MS;
	if (rc == 0 && at > now && at < h->next_open_until[lang])
		h->next_open_until[lang] = at;
	if (rc == 0)
		*at_ms = at;
	return rc;
}

static void send_closed(struct hub *h, struct router_visitor *v)
{
	struct hub_conn *c = visitor_conn(v);
	struct vsession *vs = v->owner;
	char *closed, *text, *when = NULL, iso[32];
	const char *arg;
	int64_t at = 0;
	bool known;
	size_t len;

	if (c == NULL)
		return;
	/* Issue 5: the next opening comes from the roster, in the visitor's
	 * language and the helpline's time zone. */
	known = next_open(h, v->lang, &at) == 0;
	if (known)
		when = i18n_format_time(h->i18n, vs->lang, at, h->cfg->timezone);
	arg = when != NULL ? when : "";
	/* The localized text already names 112 and Veilig Thuis; the
	 * helpline's own alternatives from the config follow, a line each. */
	closed = i18n_format(h->i18n, vs->lang, I18N_CLOSED, 1, NULL, &arg);
	len = (closed ? strlen(closed) : 0) + 1;
	for (unsigned i = 0; i < h->cfg->n_alternatives; i++)
		len += strlen(h->cfg->alternatives[i]) + 1;
	text = malloc(len);
	if (text != NULL) {
		snprintf(text, len, "%s", closed ? closed : "");
		for (unsigned i = 0; i < h->cfg->n_alternatives; i++) {
			strcat(text, "\n");
			strcat(text, h->cfg->alternatives[i]);
		}
	}
	if (known)
		clock_iso8601((int64_t)at, iso);
	send_json(c, json_pack("{s:s, s:s, s:o}", "type", "closed", "text", text ? text : "",
			       "next_open", known ? json_string(iso) : json_null()), NULL);
	free(closed);
	free(text);
	free(when);
}

static json_t *msg_json(const struct router_chat *chat, const struct chat_msg *m, bool for_staff)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "type", "msg",
			      "from", m->from_visitor ? "visitor" : "staff", "text", m->text,
			      "ts", (json_int_t)m->ts_ms, "seq", (json_int_t)m->seq);

	if (j == NULL)
		return NULL;
	if (!m->from_visitor)
		json_object_set_new(j, "alias", json_string(m->alias ? m->alias : ""));
	if (for_staff)
		json_object_set_new(j, "chat", id_json(chat->id));
	return j;
}

/* Send the chat's kept messages with seq > after to a visitor or staff conn. */
static void send_transcript(struct hub_conn *c, const struct router_chat *chat, uint64_t after, bool for_staff)
{
	struct chat_msg *m;

	if (c == NULL || c->dead)
		return;
	chat_log_for_each_since(m, &chat->log, after)
		send_json(c, msg_json(chat, m, for_staff), NULL);
}

static void send_chat_to_staff(struct hub *h, struct router_chat *chat, struct router_staff *s)
{
	struct hub_conn *c = staff_conn(s);
	char label[32];

	snprintf(label, sizeof label, "Visitor %u", chat->visitor_no);
	/* visitor_no (extension) lets a console say "Visitor N" in its own
	 * language; `visitor` keeps the protocol's label. */
	send_json(c, json_pack("{s:s, s:o, s:s, s:s, s:o, s:s, s:i, s:b}", "type", "chat",
			       "chat", id_json(chat->id), "lang", h->cfg->langs[chat->lang],
			       "dir", i18n_dir(h->i18n, chat->lang), "topic", topic_json(h, chat->topic),
			       "visitor", label, "visitor_no", (json_int_t)chat->visitor_no, "visitor_connected",
			       chat->visitor != NULL && chat->visitor->connected), NULL);
	send_transcript(c, chat, 0, true);
}

/* ---- anonymous statistics: one count per contact, at its end ---- */

/* Count vs's contact once (design: counters per day, language, topic and
 * outcome; nothing per chat is kept). Tags are the staff's end tags, else
 * the topic the visitor chose. */
static void count_contact(struct hub *h, struct vsession *vs, enum stats_outcome outcome,
			  const char *const *tags, unsigned n_tags, int64_t wait_s, int64_t duration_s)
{
	const char *topic;

	if (vs == NULL || vs->counted || h->svc.stats == NULL || vs->rv == NULL)
		return;
	vs->counted = true;
	if (n_tags == 0 && vs->rv->topic >= 0 && (unsigned)vs->rv->topic < h->cfg->n_topics) {
		topic = h->cfg->topics[vs->rv->topic];
		tags = &topic;
		n_tags = 1;
	}
	stats_record_chat(h->svc.stats, (int64_t)wall_now(h), h->cfg->langs[vs->lang], tags, n_tags, outcome,
			  wait_s, duration_s);
}

/* A contact that ends without a chat: it left the queue, found the
 * language closed, or left through the quick exit. */
static void count_no_chat(struct hub *h, struct vsession *vs, enum router_visitor_state state, bool quick_exit)
{
	int64_t wait_s = -1;

	if (state == ROUTER_V_WAITING && vs->rv != NULL && h->now_ms > vs->rv->enqueued_ms)
		wait_s = (int64_t)((h->now_ms - vs->rv->enqueued_ms) / 1000);
	if (quick_exit)
		count_contact(h, vs, STATS_QUICK_EXIT, NULL, 0, wait_s, -1);
	else if (state == ROUTER_V_PARKED)
		count_contact(h, vs, STATS_ARRIVED_CLOSED, NULL, 0, -1, -1);
	else if (state == ROUTER_V_WAITING)
		count_contact(h, vs, STATS_LEFT_QUEUE, NULL, 0, wait_s, -1);
}

/* ---- router events ---- */

static void away_keep(struct hub *h, struct router_staff *rs, struct frame *f);

static void ev_queue(void *ctx, struct router_visitor *v)
{
	struct hub *h = ctx;
	struct vsession *vs = v->owner;

	if (vs == NULL || vs->conn == NULL || list_linked(&vs->dirty_link))
		return;   /* a resume sends the state afresh; a pending update will */
	if (vs->queue_sent_ms == 0 || h->now_ms - vs->queue_sent_ms >= QUEUE_UPDATE_MIN_MS) {
		send_queue(h, v);
		vs->queue_sent_ms = h->now_ms ? h->now_ms : 1;
		return;
	}
	list_add_tail(&h->queue_dirty, &vs->dirty_link);
}

/* Send the queue updates that waited for QUEUE_UPDATE_MIN_MS; those whose
 * visitor has left the queue meanwhile are dropped. */
static void flush_queue_updates(struct hub *h)
{
	struct list *it, *tmp;

	list_for_each_safe(it, tmp, &h->queue_dirty) {
		struct vsession *vs = list_entry(it, struct vsession, dirty_link);
		if (vs->conn != NULL && vs->rv != NULL && vs->rv->state == ROUTER_V_WAITING &&
		    h->now_ms - vs->queue_sent_ms < QUEUE_UPDATE_MIN_MS)
			continue;
		list_remove(&vs->dirty_link);
		if (vs->conn != NULL && vs->rv != NULL && vs->rv->state == ROUTER_V_WAITING) {
			send_queue(h, vs->rv);
			vs->queue_sent_ms = h->now_ms;
		}
	}
}

static void ev_closed(void *ctx, struct router_visitor *v)
{
	send_closed(ctx, v);
}

static const char *offer_kind_name(enum router_offer_kind k)
{
	switch (k) {
	case ROUTER_OFFER_TRANSFER: return "transfer";
	case ROUTER_OFFER_INVITE: return "invite";
	default: return "chat";
	}
}

static const char *offer_end_name(enum router_offer_end why)
{
	switch (why) {
	case ROUTER_OFFER_DECLINED: return "declined";
	case ROUTER_OFFER_LAPSED: return "lapsed";
	case ROUTER_OFFER_NOBODY: return "nobody";
	default: return "withdrawn";
	}
}

static void ev_offer(void *ctx, struct router_offer *o)
{
	struct hub *h = ctx;
	struct router_visitor *v = o->visitor;
	int lang = o->chat ? o->chat->lang : v->lang;
	int topic = o->chat ? o->chat->topic : v->topic;
	json_t *msg;

	msg = json_pack("{s:s, s:o, s:s, s:s, s:o, s:I, s:I}", "type", "offer", "offer", id_json(o->id),
			"kind", offer_kind_name(o->kind), "lang", h->cfg->langs[lang],
			"topic", topic_json(h, topic),
			"waited_s", (json_int_t)(v && o->created_ms > v->enqueued_ms
						 ? (o->created_ms - v->enqueued_ms) / 1000 : 0),
			"expires_s", (json_int_t)((o->expires_ms - o->created_ms + 999) / 1000));
	if (msg != NULL && o->chat != NULL)
		json_object_set_new(msg, "chat", id_json(o->chat->id));
	if (msg != NULL && o->from != NULL)
		json_object_set_new(msg, "from", json_string(o->from->alias));
	send_json(staff_conn(o->to), msg, NULL);
}

static void ev_offer_gone(void *ctx, struct router_offer *o, enum router_offer_end why)
{
	send_json(staff_conn(o->to), json_pack("{s:s, s:o, s:s}", "type", "offer_gone", "offer", id_json(o->id),
					       "reason", offer_end_name(why)), NULL);
}

static void ev_joined(void *ctx, struct router_chat *c, struct router_staff *s)
{
	struct hub *h = ctx;

	send_json(visitor_conn(c->visitor), json_pack("{s:s, s:o, s:o}", "type", "joined", "chat", id_json(c->id),
						      "staff", staff_json(s)), NULL);
	for (unsigned i = 0; i < c->n_staff; i++) {
		if (c->staff[i] == s)
			continue;
		send_json(staff_conn(c->staff[i]), json_pack("{s:s, s:o, s:o}", "type", "joined",
							     "chat", id_json(c->id), "staff", staff_json(s)), NULL);
	}
	send_chat_to_staff(h, c, s);
	log_info("c%llu joined a chat", staff_conn(s) ? (unsigned long long)staff_conn(s)->no : 0ull);
}

static void ev_left(void *ctx, struct router_chat *c, struct router_staff *s, enum router_leave why)
{
	const char *reason = why == ROUTER_LEAVE_TRANSFERRED ? "transferred" : "dropped";

	send_json(visitor_conn(c->visitor), json_pack("{s:s, s:o}", "type", "left", "staff", staff_json(s)), NULL);
	for (unsigned i = 0; i < c->n_staff; i++)
		if (c->staff[i] != s)
			send_json(staff_conn(c->staff[i]), json_pack("{s:s, s:o, s:o, s:s}", "type", "left",
				  "chat", id_json(c->id), "staff", staff_json(s), "reason", reason), NULL);
	send_json(staff_conn(s), json_pack("{s:s, s:o, s:o, s:s, s:b}", "type", "left", "chat", id_json(c->id),
					   "staff", staff_json(s), "reason", reason, "you", 1), NULL);
}

static void ev_requeued(void *ctx, struct router_visitor *v)
{
	struct hub *h = ctx;
	struct vsession *vs = v->owner;
	char *text;

	if (visitor_conn(v) == NULL)
		return;
	text = i18n_text(h->i18n, vs->lang, I18N_REQUEUED);
	send_json(visitor_conn(v), json_pack("{s:s, s:s, s:s}", "type", "notice", "code", "requeued",
					     "text", text ? text : ""), NULL);
	free(text);
}

static const char *end_name(enum router_end by, bool for_staff)
{
	switch (by) {
	case ROUTER_END_VISITOR: return "visitor";
	case ROUTER_END_QUICK_EXIT: return for_staff ? "quick_exit" : "visitor";
	case ROUTER_END_STAFF: return "staff";
	case ROUTER_END_TIMEOUT: return "timeout";
	default: return "shutdown";
	}
}

static enum i18n_key end_text(enum router_end by)
{
	switch (by) {
	case ROUTER_END_VISITOR:
	case ROUTER_END_QUICK_EXIT: return I18N_ENDED_VISITOR;
	case ROUTER_END_STAFF: return I18N_ENDED_STAFF;
	case ROUTER_END_TIMEOUT: return I18N_ENDED_TIMEOUT;
	default: return I18N_ENDED_SHUTDOWN;
	}
}

static void ev_ended(void *ctx, struct router_chat *c, enum router_end by)
{
	struct hub *h = ctx;
	struct hub_conn *vc = visitor_conn(c->visitor);
	struct frame *f;

	if (vc != NULL) {
		char *text = i18n_text(h->i18n, vc->vs->lang, end_text(by));
		send_json(vc, json_pack("{s:s, s:s, s:s}", "type", "ended", "by", end_name(by, false),
					"text", text ? text : ""), NULL);
		free(text);
	}
	f = proto_frame_take(json_pack("{s:s, s:o, s:s}", "type", "ended", "chat", id_json(c->id),
				       "by", end_name(by, true)), NULL);
	for (unsigned i = 0; i < c->n_staff; i++) {
		if (staff_conn(c->staff[i]) != NULL)
			send_frame(staff_conn(c->staff[i]), f);
		else
			away_keep(h, c->staff[i], f);
	}
	frame_unref(f);
	if (c->visitor != NULL && c->visitor->owner != NULL) {
		struct vsession *vs = c->visitor->owner;
		int64_t wait_s = c->started_ms > c->visitor->enqueued_ms
			? (int64_t)((c->started_ms - c->visitor->enqueued_ms) / 1000) : 0;
		int64_t dur_s = h->now_ms > c->started_ms ? (int64_t)((h->now_ms - c->started_ms) / 1000) : 0;
		count_contact(h, vs, by == ROUTER_END_QUICK_EXIT ? STATS_QUICK_EXIT : STATS_ANSWERED,
			      by == ROUTER_END_STAFF ? h->end_tags : NULL, by == ROUTER_END_STAFF ? h->n_end_tags : 0,
			      wait_s, dur_s);
		/* Once the chat is over the resume token has nothing to resume. */
		vsession_forget_token(vs);
	}
	log_info("chat ended by %s", end_name(by, true));
}

static void ev_availability(void *ctx, struct router_staff *s)
{
	((struct hub *)ctx)->colleagues_dirty = true;
	send_json(staff_conn(s), json_pack("{s:s, s:b}", "type", "status", "available", s->available), NULL);
}

static void ev_request_failed(void *ctx, struct router_staff *s, struct router_chat *c,
			      enum router_offer_kind kind, enum router_offer_end why)
{
	send_json(staff_conn(s), json_pack("{s:s, s:o, s:s, s:s}", "type", "request_failed",
					   "chat", id_json(c->id), "kind", offer_kind_name(kind),
					   "reason", offer_end_name(why)), NULL);
}

static void ev_visitor_gone(void *ctx, struct router_visitor *v)
{
	struct vsession *vs = v->owner;

	/* A chat that timed out was counted when it ended; a place in the
	 * queue that ran out is a visitor who left it. */
	count_no_chat(ctx, vs, v->state, false);
	v->owner = NULL;
	vsession_free(vs);
}

static const struct router_events hub_router_events = {
	.queue = ev_queue,
	.closed = ev_closed,
	.offer = ev_offer,
	.offer_gone = ev_offer_gone,
	.joined = ev_joined,
	.left = ev_left,
	.requeued = ev_requeued,
	.ended = ev_ended,
	.availability = ev_availability,
	.request_failed = ev_request_failed,
	.visitor_gone = ev_visitor_gone,
};

/* ---- presence (visitor away/back), told to the staff of its chat ---- */

static void send_presence(struct router_visitor *v, bool back)
{
	struct router_chat *c = v->chat;

	if (c == NULL || v->state != ROUTER_V_CHATTING)
		return;
	for (unsigned i = 0; i < c->n_staff; i++)
		send_json(staff_conn(c->staff[i]), json_pack("{s:s, s:o, s:s}", "type", "presence",
				"chat", id_json(c->id), "visitor", back ? "back" : "away"), NULL);
}

/* ---- visitor handlers ---- */

static int send_welcome(struct hub_conn *c, struct vsession *vs, bool open, bool resumed, const char *id)
{
	struct hub *h = c->hub;
	json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "welcome", "session", vs->token,
				"lang", h->cfg->langs[vs->lang], "dir", i18n_dir(h->i18n, vs->lang),
				"open", open);

	if (msg == NULL)
		return BRUG_E_INTERNAL;
	if (resumed)
		json_object_set_new(msg, "resumed", json_true());
	send_json(c, msg, id);
	return 0;
}

/* Resume an earlier session on this socket (protocol "hello.resume"). */
static int visitor_resume(struct hub_conn *c, struct vsession *vs, const struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	struct router_visitor *v = vs->rv;

	if (vs->conn != NULL && vs->conn != c) {
		/* The same session on two sockets: the newer one wins. */
		struct hub_conn *old = vs->conn;
		old->vs = NULL;
		close_conn(old, CLOSE_REPLACED, "replaced");
		vs->conn = NULL;
	}
	if (c->vs != NULL && c->vs != vs)
		return BRUG_E_CONFLICT;
	vs->conn = c;
	c->vs = vs;
	c->lang = vs->lang;
	/* A fresh token each time: a token seen on a dropped network is spent. */
	if (vsession_new_token(vs) < 0)
		return BRUG_E_INTERNAL;
	router_visitor_attach(h->router, v, now);
	send_welcome(c, vs, router_lang_open(h->router, v->lang), true, in->id);
	if (v->state == ROUTER_V_WAITING) {
		list_remove(&vs->dirty_link);
		send_queue(h, v);
		vs->queue_sent_ms = now ? now : 1;
	} else if (v->state == ROUTER_V_CHATTING && v->chat != NULL) {
		for (unsigned i = 0; i < v->chat->n_staff; i++)
			send_json(c, json_pack("{s:s, s:o, s:o}", "type", "joined", "chat", id_json(v->chat->id),
					       "staff", staff_json(v->chat->staff[i])), NULL);
		send_transcript(c, v->chat, (uint64_t)in->last_seq, false);
		send_presence(v, true);
	}
	log_info("c%llu visitor resumed", (unsigned long long)c->no);
	return 0;
}

static int on_hello(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	struct vsession *vs = c->vs;
	int lang, topic = -1, rc;
	bool open;

	if (in->resume != NULL) {
		struct vsession *old = map_find(h, in->resume);
		if (old != NULL && old->rv != NULL &&
		    (old->rv->state == ROUTER_V_WAITING || old->rv->state == ROUTER_V_CHATTING))
			return visitor_resume(c, old, in, now);
		/* An unknown or spent token starts a new session, as if absent. */
	}
	if (in->lang != NULL) {
		lang = config_lang_index(h->cfg, in->lang);
		if (lang < 0)
			return BRUG_E_BAD_FIELD;
	} else {
		lang = c->lang;
	}
	if (in->topic != NULL) {
		topic = config_topic_index(h->cfg, in->topic);
		if (topic < 0)
			return BRUG_E_BAD_FIELD;
	}
	if (vs != NULL) {
		if (vs->rv->state == ROUTER_V_WAITING || vs->rv->state == ROUTER_V_CHATTING)
			return BRUG_E_CONFLICT;
		if (vs->rv->state == ROUTER_V_PARKED)
			router_visitor_end(h->router, vs->rv, false, now);
	} else {
		vs = calloc(1, sizeof *vs);
		if (vs == NULL)
			return BRUG_E_INTERNAL;
		vs->hub = h;
		list_init(&vs->link);
		list_init(&vs->dirty_link);
		vs->rv = router_visitor_new(h->router, vs);
		if (vs->rv == NULL) {
			free(vs);
			return BRUG_E_INTERNAL;
		}
		vs->conn = c;
		c->vs = vs;
		list_add_tail(&h->sessions, &vs->link);
	}
	vs->lang = lang;
	vs->counted = false;          /* a new contact */
	c->lang = lang;
	if (vsession_new_token(vs) < 0)
		return BRUG_E_INTERNAL;
	open = router_lang_open(h->router, lang);
	send_welcome(c, vs, open, false, in->id);
	rc = router_visitor_start(h->router, vs->rv, lang, topic, now);
	log_info("c%llu hello lang=%s open=%d", (unsigned long long)c->no, h->cfg->langs[lang], open);
	return rc;
}

/* Intake of a visitor's or staff member's text; *out is wiped by the caller. */
static int take_text(struct hub *h, const struct proto_in *in, char **out, size_t *out_len)
{
	return i18n_intake(in->text, in->text_len, h->cfg->max_text, out, out_len);
}

/* Append text to chat and send it to everyone in it; reply_to gets the
 * copy carrying the request id. */
static int relay_msg(struct hub *h, struct router_chat *chat, struct router_staff *from, const char *text,
		     size_t len, struct hub_conn *reply_to, const char *id)
{
	const struct chat_msg *m;
	struct frame *for_visitor, *for_staff;

	m = chat_log_append(&chat->log, from == NULL, from ? from->alias : NULL, text, len, wall_now(h));
	if (m == NULL)
		return BRUG_E_INTERNAL;
	for_visitor = proto_frame_take(msg_json(chat, m, false), NULL);
	for_staff = proto_frame_take(msg_json(chat, m, true), NULL);
	if (for_visitor == NULL || for_staff == NULL) {
		frame_unref(for_visitor);
		frame_unref(for_staff);
		return BRUG_E_INTERNAL;
	}
	struct hub_conn *vc = visitor_conn(chat->visitor);
	if (vc != NULL && vc == reply_to && id[0] != '\0')
		send_json(vc, msg_json(chat, m, false), id);
	else
		send_frame(vc, for_visitor);
	for (unsigned i = 0; i < chat->n_staff; i++) {
		struct hub_conn *sc = staff_conn(chat->staff[i]);
		if (sc != NULL && sc == reply_to && id[0] != '\0')
			send_json(sc, msg_json(chat, m, true), id);
		else
			send_frame(sc, for_staff);
	}
	frame_unref(for_visitor);
	frame_unref(for_staff);
	return 0;
}

static int on_visitor_msg(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_visitor *v = c->vs ? c->vs->rv : NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	/* Protocol: msg before joined is a conflict; nothing is kept for later. */
	if (v == NULL || v->state != ROUTER_V_CHATTING || v->chat == NULL)
		return BRUG_E_CONFLICT;
	rc = take_text(c->hub, in, &text, &len);
	if (rc != 0)
		return rc;
	rc = relay_msg(c->hub, v->chat, NULL, text, len, c, in->id);
	secmem_free(text, len);
	return rc;
}

static int on_visitor_typing(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_visitor *v = c->vs ? c->vs->rv : NULL;
	struct frame *f;

	if (v == NULL || v->state != ROUTER_V_CHATTING || v->chat == NULL)
		return BRUG_E_CONFLICT;
	f = proto_frame_take(json_pack("{s:s, s:o, s:s, s:b}", "type", "typing", "chat", id_json(v->chat->id),
				       "from", "visitor", "on", in->on), NULL);
	for (unsigned i = 0; i < v->chat->n_staff; i++)
		send_frame(staff_conn(v->chat->staff[i]), f);
	frame_unref(f);
	return 0;
}

static int on_visitor_end(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_visitor *v = c->vs ? c->vs->rv : NULL;
	enum router_visitor_state before;
	int rc;

	if (v == NULL)
		return BRUG_E_CONFLICT;
	before = v->state;
	rc = router_visitor_end(c->hub->router, v, in->quick_exit, now);
	if (rc != 0)
		return rc;
	count_no_chat(c->hub, c->vs, before, in->quick_exit);
	if (before != ROUTER_V_CHATTING) {
		/* Leaving the queue: no chat to announce, so answer directly. */
		char *text = i18n_text(c->hub->i18n, c->lang, I18N_ENDED_VISITOR);
		send_json(c, json_pack("{s:s, s:s, s:s}", "type", "ended", "by", "visitor", "text", text ? text : ""),
			  in->id);
		free(text);
		vsession_forget_token(c->vs);
	}
	log_info("c%llu visitor ended%s", (unsigned long long)c->no, in->quick_exit ? " (quick exit)" : "");
	return 0;
}

/* ---- staff handlers ---- */

static uint32_t mask_of(const struct config *cfg, const char *list, bool langs)
{
	uint32_t mask = 0;
	char buf[512], *save = NULL;

	if (list == NULL)
		return 0;
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
		int i = langs ? config_lang_index(cfg, tok) : config_topic_index(cfg, tok);
		if (i >= 0)
			mask |= 1u << i;
	}
	return mask;
}

static json_t *csv_array(const char *list)
{
	json_t *a = json_array();
	char buf[512], *save = NULL;

	if (a == NULL || list == NULL)
		return a;
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save))
		json_array_append_new(a, json_string(tok));
	return a;
}

static json_t *roles_array(uint32_t roles)
{
	json_t *a = json_array();

	for (uint32_t bit = 1; bit <= BRUG_ROLE_COORDINATOR && a != NULL; bit <<= 1)
		if ((roles & bit) && brug_role_name(bit) != NULL)
			json_array_append_new(a, json_string(brug_role_name(bit)));
	return a;
}


/* Re-send a staff member's offers and chats after it took over a session
 * on a new socket, so a reload loses nothing. */
static void staff_resend_state(struct hub *h, struct hub_conn *c)
{
	struct router_staff *s = c->rs;
	struct list *it;

	json_t *ids = json_array();

	/* Which chats it still has: a console closes the panels of chats that
	 * ended while it was away. */
	for (uint64_t id = 0; ids != NULL && (id = router_staff_next_chat(h->router, s, id)) != 0;)
		json_array_append_new(ids, id_json(id));
	send_json(c, json_pack("{s:s, s:o}", "type", "chats", "chats", ids), NULL);
	send_json(c, json_pack("{s:s, s:b}", "type", "status", "available", s->available), NULL);
	list_for_each(it, &s->offers)
		ev_offer(h, list_entry(it, struct router_offer, staff_link));
	for (uint64_t id = 0; (id = router_staff_next_chat(h->router, s, id)) != 0;)
		send_chat_to_staff(h, router_chat_find(h->router, id), s);
}

/* ---- staff presence: colleagues and the reconnect grace ---- */

static json_t *colleague_json(const struct hub *h, const struct router_staff *s)
{
	json_t *langs = json_array();

	for (unsigned i = 0; i < h->cfg->n_langs && langs != NULL; i++)
		if (s->langs & (1u << i))
			json_array_append_new(langs, json_string(h->cfg->langs[i]));
	return json_pack("{s:s, s:s, s:o, s:o, s:b, s:i}", "user", s->username, "alias", s->alias,
			 "roles", roles_array(s->roles), "langs", langs, "available", s->available,
			 "chats", (json_int_t)s->open_chats);
}

/* Tell every logged-in console who else is online (extension `colleagues`),
 * for invite and transfer by person. Staff are few: O(staff^2) is fine. */
static void send_colleagues(struct hub *h)
{
	struct list *it, *jt;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *to = list_entry(it, struct hub_conn, link);
		json_t *arr;

		if (to->dead || to->rs == NULL)
			continue;
		arr = json_array();
		list_for_each(jt, &h->staff_conns) {
			struct hub_conn *o = list_entry(jt, struct hub_conn, link);
			if (o != to && !o->dead && o->rs != NULL && arr != NULL)
				json_array_append_new(arr, colleague_json(h, o->rs));
		}
		send_json(to, json_pack("{s:s, s:o}", "type", "colleagues", "staff", arr), NULL);
	}
	h->colleagues_dirty = false;
}

static struct staff_away *away_find(struct hub *h, const struct router_staff *rs)
{
	struct list *it;

	list_for_each(it, &h->staff_away) {
		struct staff_away *a = list_entry(it, struct staff_away, link);
		if (a->rs == rs)
			return a;
	}
	return NULL;
}

/* Keep a chat's `ended` for a console in its reconnect grace, so that it
 * learns how the chat ended when it is back. */
static void away_keep(struct hub *h, struct router_staff *rs, struct frame *f)
{
	struct staff_away *a = away_find(h, rs);

	if (a != NULL && f != NULL && a->n_missed < sizeof a->missed / sizeof a->missed[0])
		a->missed[a->n_missed++] = frame_ref(f);
}

static void away_free(struct staff_away *a)
{
	for (unsigned i = 0; i < a->n_missed; i++)
		frame_unref(a->missed[i]);
	free(a);
}

/* The console of rs went away: keep rs for the grace, or remove it now
 * (its visitors go back to the head of their queues). */
static void staff_dropped(struct hub *h, struct router_staff *rs, uint64_t now)
{
	struct staff_away *a = NULL;

	h->colleagues_dirty = true;
	if (h->cfg->staff_grace_s > 0 && !h->shutting_down)
		a = calloc(1, sizeof *a);
	if (a == NULL) {
		router_staff_remove(h->router, rs, now);
		return;
	}
	rs->owner = NULL;
	a->rs = rs;
	a->deadline_ms = now + (uint64_t)h->cfg->staff_grace_s * 1000;
	a->was_available = rs->available;
	/* No new offers while nobody can answer them. */
	if (rs->available)
		router_staff_set_available(h->router, rs, false, now);
	list_add_tail(&h->staff_away, &a->link);
}

/* The same account is back on c within the grace: tell it how chats ended
 * meanwhile (its chats and offers follow in staff_resend_state). */
static void staff_returned(struct hub *h, struct hub_conn *c, struct router_staff *rs, uint64_t now)
{
	struct staff_away *a = away_find(h, rs);

	if (a == NULL)
		return;
	list_remove(&a->link);
	for (unsigned i = 0; i < a->n_missed; i++)
		send_frame(c, a->missed[i]);
	if (a->was_available)
		router_staff_set_available(h->router, rs, true, now);
	away_free(a);
}

static void expire_staff_away(struct hub *h, uint64_t now)
{
	/* Drop order is deadline order: stop at the first that is not due. */
	while (!list_empty(&h->staff_away)) {
		struct staff_away *a = list_entry(h->staff_away.next, struct staff_away, link);
		if (a->deadline_ms > now)
			break;
		list_remove(&a->link);
		router_staff_remove(h->router, a->rs, now);
		away_free(a);
	}
}

static void reply_error(struct hub_conn *c, int err, const char *id, uint64_t now);
static json_t *handover_json(const struct hub *h);

/* A password login whose Argon2id check runs on the worker thread. */
struct pending_login {
	struct hub *hub;
	struct hub_conn *conn;          /* NULL once the socket went away */
	struct staff_login_job *job;
	bool ran;                       /* the check happened */
	char id[PROTO_ID_MAX + 1];
};

/* The end of every login, by password or by token: refuse, or take over an
 * existing session of the same account, or add the staff member. */
static int login_complete(struct hub_conn *c, int rc, struct staff_account *acct, int64_t expires,
			  const char *id)
{
	struct hub *h = c->hub;
	struct router_staff_info info;
	struct router_staff *existing;
	char when[32];
	json_t *user;

	if (rc != 0) {
		log_notice("c%llu staff login refused", (unsigned long long)c->no);
		/* Protocol: a wrong login is answered, then the socket closes 4001. */
		/* A new password (with a reset code) that breaks the rules is
		 * told as bad_field: it says nothing about the account. */
		send_error(c, rc == BRUG_E_RATE_LIMITED || rc == BRUG_E_BAD_FIELD ? rc : BRUG_E_UNAUTHORIZED,
			   id);
		close_conn(c, CLOSE_NOT_AUTHENTICATED, "not authenticated");
		secmem_wipe(c->token, sizeof c->token);
		return -1;
	}
	c->staff_id = acct->id;
	c->roles = acct->roles;
	snprintf(c->username, sizeof c->username, "%s", acct->username);
	c->session_checked_ms = h->now_ms;
	existing = router_staff_find_id(h->router, (uint64_t)acct->id);
	if (existing != NULL) {
		/* Same account on a new socket: move the live session over. */
		struct hub_conn *old = staff_conn(existing);
		existing->owner = c;
		c->rs = existing;
		if (old != NULL) {
			old->rs = NULL;
			close_conn(old, CLOSE_REPLACED, "replaced");
		}
	} else {
		info = (struct router_staff_info){
			.id = (uint64_t)acct->id,
			.username = acct->username,
			.alias = acct->alias,
			.roles = acct->roles,
			.langs = mask_of(h->cfg, acct->langs, true),
			.topics = mask_of(h->cfg, acct->topics, false),
			.max_chats = acct->max_chats ? acct->max_chats : 1,
		};
		c->rs = router_staff_add(h->router, c, &info, h->now_ms);
		if (c->rs == NULL)
			return BRUG_E_INTERNAL;
	}
	clock_iso8601((int64_t)expires, when);
	user = json_pack("{s:s, s:s, s:o, s:o, s:o, s:i}", "user", acct->username, "alias", acct->alias,
			 "roles", roles_array(acct->roles), "langs", csv_array(acct->langs),
			 "topics", csv_array(acct->topics), "max_chats", (json_int_t)acct->max_chats);
	send_json(c, json_pack("{s:s, s:s, s:s, s:o}", "type", "session", "token", c->token, "expires", when,
			       "user", user), id);
	if (existing != NULL) {
		staff_returned(h, c, existing, h->now_ms);
		staff_resend_state(h, c);
	}
	h->colleagues_dirty = true;
	if (acct->roles & BRUG_ROLE_COORDINATOR) {
		free(h->dashboard_last);
		h->dashboard_last = NULL;
	}
	if (h->n_notes > 0)
		send_json(c, handover_json(h), NULL);
	log_notice("c%llu staff %lld logged in", (unsigned long long)c->no, (long long)acct->id);
	return 0;
}

static void login_run(void *arg)
{
	struct pending_login *pl = arg;

	staff_login_verify(pl->job);
	pl->ran = true;
}

static void login_done(void *arg)
{
	struct pending_login *pl = arg;
	struct hub *h = pl->hub;
	struct staff_account acct = { 0 };
	char token[TOKEN_STR_LEN];
	int64_t expires = 0;
	int rc;

	if (!pl->ran) {
		/* The worker stopped before the check: nothing to record. */
		staff_login_job_free(pl->job);
		goto out;
	}
	/* The outcome counts for the back-off even if the socket is gone, so
	 * that hanging up early does not dodge the lockout. */
	rc = staff_login_end(h->staff, pl->job, (int64_t)wall_now(h), &acct, token, &expires);
	if (pl->conn == NULL) {
		if (rc == 0)
			staff_logout(h->staff, token);
		goto out_acct;
	}
	pl->conn->login = NULL;
	if (rc == 0)
		memcpy(pl->conn->token, token, sizeof token);
	rc = login_complete(pl->conn, rc, &acct, expires, pl->id);
	if (rc > 0)
		reply_error(pl->conn, rc, pl->id, h->now_ms);
out_acct:
	staff_account_fini(&acct);
	secmem_wipe(token, sizeof token);
out:
	secmem_free(pl, sizeof *pl);
}

static int on_login(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	struct staff_account acct = { 0 };
	struct pending_login *pl;
	int64_t expires = 0;
	int rc;

	if (c->rs != NULL || c->login != NULL)
		return BRUG_E_CONFLICT;
	if (in->lang != NULL) {
		int lang = config_lang_index(h->cfg, in->lang);
		if (lang < 0) {
			/* Not a valid login: answer, then close as for any other. */
			send_error(c, BRUG_E_BAD_FIELD, in->id);
			close_conn(c, CLOSE_NOT_AUTHENTICATED, "not authenticated");
			return -1;
		}
		c->lang = lang;
	}
	if (in->token != NULL) {
		rc = staff_resume(h->staff, in->token, (int64_t)wall_now(h), &acct, &expires);
		if (rc == 0)
			snprintf(c->token, sizeof c->token, "%s", in->token);
		rc = login_complete(c, rc, &acct, expires, in->id);
		staff_account_fini(&acct);
		return rc;
	}
	/* Password (or reset code and new password) and the TOTP code; the
	 * code is checked after the password, in staff_login_end(). */
	pl = calloc(1, sizeof *pl);
	if (pl == NULL)
		return BRUG_E_INTERNAL;
	pl->hub = h;
	pl->conn = c;
	snprintf(pl->id, sizeof pl->id, "%s", in->id);
	rc = staff_login_begin(h->staff, in->user, in->password, in->totp, in->reset_code, c->addr_key,
			       (int64_t)wall_now(h), &pl->job);
	if (rc == 0 && (h->worker == NULL || worker_submit(h->worker, login_run, login_done, pl) != 0)) {
		/* Too many logins in flight: the same answer as a lockout. */
		staff_login_job_free(pl->job);
		rc = BRUG_E_RATE_LIMITED;
	}
	if (rc != 0) {
		free(pl);
		return login_complete(c, rc, NULL, 0, in->id);
	}
	c->login = pl;
	return 0;
}

static void refresh_on_shift(struct hub *h, uint64_t now);
static void apply_shift_quiet(struct hub *h);

static int on_status(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	/* End-of-shift quiet applies from the first moment of availability,
	 * with the roster as it is now (the read is cached between changes). */
	refresh_on_shift(c->hub, now);
	apply_shift_quiet(c->hub);
	router_staff_set_available(c->hub->router, c->rs, in->available, now);
	send_json(c, json_pack("{s:s, s:b}", "type", "status", "available", c->rs->available), in->id);
	c->hub->colleagues_dirty = true;
	return 0;
}

static int on_accept(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	return router_offer_accept(c->hub->router, c->rs, in->offer, now);
}

static int on_decline(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	return router_offer_decline(c->hub->router, c->rs, in->offer, now);
}

/* The chat a staff message names, checked for membership. */
static int staff_chat(struct hub_conn *c, uint64_t id, struct router_chat **out)
{
	struct router_chat *chat = router_chat_find(c->hub->router, id);

	if (chat == NULL)
		return BRUG_E_NOT_FOUND;
	if (!router_chat_has_staff(chat, c->rs))
		return BRUG_E_FORBIDDEN;
	*out = chat;
	return 0;
}

static int on_staff_msg(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_chat *chat;
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = staff_chat(c, in->chat, &chat);
	if (rc != 0)
		return rc;
	rc = take_text(c->hub, in, &text, &len);
	if (rc != 0)
		return rc;
	rc = relay_msg(c->hub, chat, c->rs, text, len, c, in->id);
	secmem_free(text, len);
	return rc;
}

static int on_staff_typing(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_chat *chat;
	int rc = staff_chat(c, in->chat, &chat);

	if (rc != 0)
		return rc;
	send_json(visitor_conn(chat->visitor), json_pack("{s:s, s:b}", "type", "typing", "on", in->on), NULL);
	for (unsigned i = 0; i < chat->n_staff; i++)
		if (chat->staff[i] != c->rs)
			send_json(staff_conn(chat->staff[i]), json_pack("{s:s, s:o, s:s, s:s, s:b}", "type",
				  "typing", "chat", id_json(chat->id), "from", "staff", "alias", c->rs->alias,
				  "on", in->on), NULL);
	return 0;
}

static int target_of(const struct proto_in *in, struct router_target *t)
{
	memset(t, 0, sizeof *t);
	if (in->to_user != NULL) {
		t->user = in->to_user;
		return 0;
	}
	t->roles = brug_role_parse(in->to_role);
	return t->roles != 0 ? 0 : BRUG_E_BAD_FIELD;
}

/* A colleague asked for by name must have a console open right now (one
 * in its reconnect grace cannot answer an offer). */
static bool named_colleague_online(struct hub *h, const char *name)
{
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (!o->dead && o->rs != NULL &&
		    (strcmp(o->rs->username, name) == 0 || strcmp(o->rs->alias, name) == 0))
			return true;
	}
	return false;
}

/* The answer when the named colleague is not online: the same as the
 * router's for the chat itself first (no such chat, not yours), else
 * not_found for the person. */
static int offline_target_error(struct hub_conn *c, uint64_t chat_id)
{
	struct router_chat *chat;
	int rc = staff_chat(c, chat_id, &chat);

	return rc != 0 ? rc : BRUG_E_NOT_FOUND;
}

static int on_transfer(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_target t;
	int rc = target_of(in, &t);

	if (rc == 0 && t.user != NULL && !named_colleague_online(c->hub, t.user))
		rc = offline_target_error(c, in->chat);
	return rc != 0 ? rc : router_transfer(c->hub->router, c->rs, in->chat, &t, now);
}

static int on_invite(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_target t;
	int rc = target_of(in, &t);

	if (rc == 0 && t.user != NULL && !named_colleague_online(c->hub, t.user))
		rc = offline_target_error(c, in->chat);
	return rc != 0 ? rc : router_invite(c->hub->router, c->rs, in->chat, &t, now);
}

static int on_staff_end(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	for (unsigned i = 0; i < in->n_tags; i++)
		if (config_topic_index(c->hub->cfg, in->tags[i]) < 0)
			return BRUG_E_BAD_FIELD;
	/* Tags feed only the anonymous aggregate statistics (ev_ended). */
	int rc;

	c->hub->end_tags = in->tags;
	c->hub->n_end_tags = in->n_tags;
	rc = router_chat_end(c->hub->router, c->rs, in->chat, now);
	c->hub->end_tags = NULL;
	c->hub->n_end_tags = 0;
	return rc;
}

static int on_logout(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	staff_logout(c->hub->staff, c->token);
	secmem_wipe(c->token, sizeof c->token);
	send_json(c, json_pack("{s:s}", "type", "logout"), in->id);
	router_staff_remove(c->hub->router, c->rs, now);
	c->rs = NULL;
	c->hub->colleagues_dirty = true;
	close_conn(c, 1000, "logged out");
	return 0;
}

/* ---- handover notes: in memory, for staff only ---- */

static json_t *handover_json(const struct hub *h)
{
	json_t *arr = json_array();

	for (unsigned i = 0; i < h->n_notes && arr != NULL; i++) {
		char when[32];
		clock_iso8601((int64_t)h->notes[i].ts_ms, when);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "alias", h->notes[i].alias, "ts", when,
						     "text", h->notes[i].text));
	}
	return json_pack("{s:s, s:o}", "type", "handover", "notes", arr);
}

static void handover_wipe(struct handover *n)
{
	secmem_free_str(n->text);
	secmem_wipe(n, sizeof *n);
}

/* {"type":"handover_set","text":...}: a note for the next shift, shown to
 * every console now and at each login; the oldest go past HANDOVER_MAX.
 * An empty text removes the sender's notes. */
static int on_handover_set(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	json_t *jt = json_object_get(in->root, "text");
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!json_is_string(jt) || json_object_size(in->root) > (in->id[0] ? 3u : 2u))
		return BRUG_E_BAD_FIELD;
	if (json_string_length(jt) == 0) {
		unsigned kept = 0;
		for (unsigned i = 0; i < h->n_notes; i++) {
			if (strcmp(h->notes[i].alias, c->rs->alias) == 0)
				handover_wipe(&h->notes[i]);
			else
				h->notes[kept++] = h->notes[i];
		}
		h->n_notes = kept;
	} else {
		rc = i18n_intake(json_string_value(jt), json_string_length(jt), HANDOVER_TEXT_MAX, &text, &len);
		if (rc != 0)
			return rc;
		if (h->n_notes == HANDOVER_MAX) {
			handover_wipe(&h->notes[0]);
			memmove(&h->notes[0], &h->notes[1], (HANDOVER_MAX - 1) * sizeof h->notes[0]);
			h->n_notes--;
		}
		snprintf(h->notes[h->n_notes].alias, sizeof h->notes[0].alias, "%s", c->rs->alias);
		h->notes[h->n_notes].ts_ms = wall_now(h);
		h->notes[h->n_notes].text = text;
		h->n_notes++;
	}
	hub_broadcast(h, handover_json(h), 0);
	return 0;
}

/* {"type":"ical_feed"}: a new private URL for the member's shifts as an
 * iCalendar feed (GET /api/ical/TOKEN.ics); an earlier URL stops working. */
static int on_ical_feed(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	char token[TOKEN_STR_LEN], path[TOKEN_STR_LEN + 16];
	int rc = staff_feed_new(c->hub->staff, c->staff_id, token);

	if (rc != 0)
		return rc;
	snprintf(path, sizeof path, "/api/ical/%s.ics", token);
	send_json(c, json_pack("{s:s, s:s}", "type", "ical_feed", "path", path), in->id);
	secmem_wipe(token, sizeof token);
	secmem_wipe(path, sizeof path);
	return 0;
}

char *hub_ical_feed(struct hub *h, const char *token)
{
	int64_t id;
	int64_t now = (int64_t)wall_now(h);

	if (h->svc.roster == NULL || staff_feed_lookup(h->staff, token, &id) != 0)
		return NULL;
	/* A week back and two months ahead, as calendar apps expect. */
	return roster_ical(h->svc.roster, id, now - 7LL * 86400000, now + 62LL * 86400000);
}

/* ---- what coord_*.c may use (hub_internal.h) ---- */

const struct hub_services *hub_services(const struct hub_conn *c) { return &c->hub->svc; }
struct hub *hub_of(const struct hub_conn *c) { return c->hub; }
int64_t hub_conn_staff_id(const struct hub_conn *c) { return c->staff_id; }
const char *hub_conn_username(const struct hub_conn *c) { return c->username; }

void hub_reply(struct hub_conn *c, json_t *msg, const char *id)
{
	send_json(c, msg, id);
}

void hub_broadcast(struct hub *h, json_t *msg, uint32_t roles)
{
	struct frame *f = proto_frame_take(msg, NULL);
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (o->rs != NULL && (roles == 0 || (o->roles & roles)))
			send_frame(o, f);
	}
	frame_unref(f);
}

void hub_end_sessions_of(struct hub *h, const char *username)
{
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (!o->dead && o->rs != NULL && strcmp(o->username, username) == 0)
			close_conn(o, CLOSE_SESSION_EXPIRED, "session ended");
	}
}

void hub_roster_changed(struct hub *h)
{
	h->colleagues_dirty = true;
	h->on_shift_ms = 0;               /* read who is on shift again */
	memset(h->next_open_until, 0, sizeof h->next_open_until);
	free(h->dashboard_last);          /* push the dashboard again */
	h->dashboard_last = NULL;
}

/* ---- the coordinators' live dashboard ---- */

#define DASHBOARD_EVERY_MS 1000

struct shift_lookup {
	struct on_shift *v;
	size_t n;
};

static int fill_on_shift(const struct staff_account *a, void *ctx)
{
	struct shift_lookup *lk = ctx;

	for (size_t i = 0; i < lk->n; i++) {
		if (lk->v[i].staff_id != a->id)
			continue;
		snprintf(lk->v[i].user, sizeof lk->v[i].user, "%s", a->username);
		snprintf(lk->v[i].alias, sizeof lk->v[i].alias, "%s", a->alias);
		snprintf(lk->v[i].langs, sizeof lk->v[i].langs, "%s", a->langs);
	}
	return 0;
}

/* Read who is on shift from the roster, with names from the accounts, at
 * most every ON_SHIFT_REFRESH_MS (or after hub_roster_changed). */
static void refresh_on_shift(struct hub *h, uint64_t now)
{
	struct roster_on_shift *rs = NULL;
	struct shift_lookup lk = { 0 };
	size_t n = 0;

	if (h->svc.roster == NULL || (h->on_shift_ms != 0 && now - h->on_shift_ms < ON_SHIFT_REFRESH_MS))
		return;
	h->on_shift_ms = now ? now : 1;
	if (roster_on_shift(h->svc.roster, (int64_t)wall_now(h), &rs, &n) != 0)
		return;
	lk.v = n ? calloc(n, sizeof *lk.v) : NULL;
	lk.n = lk.v != NULL ? n : 0;
	for (size_t i = 0; i < lk.n; i++) {
		lk.v[i].staff_id = rs[i].staff_id;
		lk.v[i].end_ms = rs[i].end_ms;
	}
	free(rs);
	if (lk.n > 0)
		staff_list(h->staff, fill_on_shift, &lk);
	free(h->on_shift);
	h->on_shift = lk.v;
	h->n_on_shift = lk.n;
	free(h->dashboard_last);
	h->dashboard_last = NULL;
}

static struct hub_conn *conn_of_staff_id(struct hub *h, int64_t id)
{
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (!o->dead && o->rs != NULL && o->staff_id == id)
			return o;
	}
	return NULL;
}

/* Who is on shift now, and who of them has no console open. */
static json_t *roster_on_shift_json(struct hub *h, uint64_t now)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < h->n_on_shift && arr != NULL; i++) {
		const struct on_shift *o = &h->on_shift[i];
		char until[32];
		clock_iso8601((int64_t)o->end_ms, until);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:b, s:s}", "user", o->user, "alias", o->alias,
			"langs", csv_array(o->langs), "online", conn_of_staff_id(h, o->staff_id) != NULL, "until", until));
	}
	return arr;
}

static json_t *roster_missing_json(struct hub *h, uint64_t now)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < h->n_on_shift && arr != NULL; i++)
		if (conn_of_staff_id(h, h->on_shift[i].staff_id) == NULL)
			json_array_append_new(arr, json_pack("{s:s, s:s}", "user", h->on_shift[i].user,
							     "alias", h->on_shift[i].alias));
	return arr;
}

/* Issue 5: rostered staff get no new offers in the last minutes of their
 * shift; everyone else (rostered or not) is as available as they say. */
static void apply_shift_quiet(struct hub *h)
{
	int64_t wall = (int64_t)wall_now(h), quiet_ms = (int64_t)h->cfg->shift_end_quiet_min * 60000;
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		bool quiet = false;
		if (o->dead || o->rs == NULL)
			continue;
		for (size_t i = 0; i < h->n_on_shift; i++)
			if (h->on_shift[i].staff_id == o->staff_id)
				quiet = quiet_ms > 0 && h->on_shift[i].end_ms - wall <= quiet_ms;
		router_staff_set_quiet(h->router, o->rs, quiet, h->now_ms);
	}
}

static json_t *dashboard_json(struct hub *h, uint64_t now)
{
	struct router_lang_stats st[ROUTER_MAX_LANGS];
	json_t *langs = json_object();
	struct list *it;
	unsigned online[ROUTER_MAX_LANGS] = { 0 }, avail[ROUTER_MAX_LANGS] = { 0 }, busy[ROUTER_MAX_LANGS] = { 0 };

	router_lang_stats(h->router, st, h->cfg->n_langs);
	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (o->dead || o->rs == NULL)
			continue;
		for (unsigned l = 0; l < h->cfg->n_langs; l++) {
			if (!(o->rs->langs & (1u << l)))
				continue;
			online[l]++;
			avail[l] += o->rs->available;
			busy[l] += o->rs->open_chats >= o->rs->max_chats;
		}
	}
	for (unsigned l = 0; l < h->cfg->n_langs && langs != NULL; l++) {
		/* Only "waiting N seconds": nothing else about any visitor. */
		uint64_t wait = st[l].oldest_enqueued_ms && now > st[l].oldest_enqueued_ms
			? (now - st[l].oldest_enqueued_ms) / 1000 : 0;
		json_object_set_new(langs, h->cfg->langs[l],
			json_pack("{s:i, s:I, s:i, s:i, s:i, s:i, s:i}", "waiting", (json_int_t)st[l].waiting,
				  "longest_wait_s", (json_int_t)wait, "online", (json_int_t)online[l],
				  "available", (json_int_t)avail[l], "busy", (json_int_t)busy[l],
				  "chats", (json_int_t)st[l].chats, "offers", (json_int_t)st[l].offers));
	}
	return json_pack("{s:s, s:o, s:o, s:o}", "type", "dashboard", "languages", langs,
			 "on_shift", roster_on_shift_json(h, now), "missing", roster_missing_json(h, now));
}

/* Push the dashboard to coordinators when it changed, at most once a second. */
static void push_dashboard(struct hub *h, uint64_t now)
{
	json_t *d;
	char *text;
	struct list *it;
	bool any = false;

	if (now - h->dashboard_ms < DASHBOARD_EVERY_MS && h->dashboard_last != NULL)
		return;
	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		any |= o->rs != NULL && (o->roles & BRUG_ROLE_COORDINATOR);
	}
	if (!any)
		return;
	h->dashboard_ms = now;
	d = dashboard_json(h, now);
	text = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (text == NULL || (h->dashboard_last != NULL && strcmp(text, h->dashboard_last) == 0)) {
		free(text);
		json_decref(d);
		return;
	}
	free(h->dashboard_last);
	h->dashboard_last = text;
	hub_broadcast(h, d, BRUG_ROLE_COORDINATOR);
}

/* The message table: who may send what (style: Redis's command table). */
#define SIDE_V (1u << PROTO_SIDE_VISITOR)
#define SIDE_S (1u << PROTO_SIDE_STAFF)

struct handler {
	unsigned sides;
	bool login;      /* staff: needs a logged-in session */
	uint32_t roles;  /* staff roles allowed; 0 = any */
	int (*fn)(struct hub_conn *c, struct proto_in *in, uint64_t now);
};

static const struct handler visitor_handlers[PROTO__COUNT] = {
	[PROTO_HELLO] = { SIDE_V, false, 0, on_hello },
	[PROTO_MSG] = { SIDE_V, false, 0, on_visitor_msg },
	[PROTO_TYPING] = { SIDE_V, false, 0, on_visitor_typing },
	[PROTO_END] = { SIDE_V, false, 0, on_visitor_end },
};

/* Every role that holds chats may chat; a coordinator-only account logs in
 * but is not offered chats (its pages come with a later issue). */
#define CHAT_ROLES (BRUG_ROLE_VOLUNTEER | BRUG_ROLE_KEYPERSON | BRUG_ROLE_PROFESSIONAL)

static const struct handler staff_handlers[PROTO__COUNT] = {
	[PROTO_LOGIN] = { SIDE_S, false, 0, on_login },
	[PROTO_STATUS] = { SIDE_S, true, CHAT_ROLES, on_status },
	[PROTO_ACCEPT] = { SIDE_S, true, CHAT_ROLES, on_accept },
	[PROTO_DECLINE] = { SIDE_S, true, CHAT_ROLES, on_decline },
	[PROTO_MSG] = { SIDE_S, true, CHAT_ROLES, on_staff_msg },
	[PROTO_TYPING] = { SIDE_S, true, CHAT_ROLES, on_staff_typing },
	[PROTO_TRANSFER] = { SIDE_S, true, CHAT_ROLES, on_transfer },
	[PROTO_INVITE] = { SIDE_S, true, CHAT_ROLES, on_invite },
	[PROTO_END] = { SIDE_S, true, CHAT_ROLES, on_staff_end },
	[PROTO_LOGOUT] = { SIDE_S, true, 0, on_logout },
	[PROTO_STAFF_LIST] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_staff_list },
	[PROTO_STAFF_CREATE] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_staff_create },
	[PROTO_STAFF_UPDATE] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_staff_update },
	[PROTO_STAFF_RESET] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_staff_reset },
	[PROTO_TOTP_RESET] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_totp_reset },
	[PROTO_AUDIT_LIST] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_audit_list },
	[PROTO_ROSTER_GET] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_roster_get },
	[PROTO_PATTERN_ADD] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_pattern_add },
	[PROTO_PATTERN_UPDATE] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_pattern_update },
	[PROTO_PATTERN_DELETE] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_pattern_delete },
	[PROTO_EXCEPTION_ADD] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_exception_add },
	[PROTO_EXCEPTION_DELETE] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_exception_delete },
	[PROTO_CLOSURE_ADD] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_closure_add },
	[PROTO_CLOSURE_DELETE] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_closure_delete },
	[PROTO_STATS_GET] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_stats_get },
	[PROTO_STATS_CSV] = { SIDE_S, true, BRUG_ROLE_COORDINATOR, coord_stats_csv },
	[PROTO_MY_SHIFTS] = { SIDE_S, true, 0, coord_my_shifts },
	[PROTO_HANDOVER_SET] = { SIDE_S, true, 0, on_handover_set },
	[PROTO_ICAL_FEED] = { SIDE_S, true, 0, on_ical_feed },
};

/* ---- connections ---- */

static struct hub_conn *conn_new(struct hub *h, void *edge, enum proto_side side, uint64_t no)
{
	struct hub_conn *c;

	if (h->shutting_down)
		return NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->hub = h;
	c->edge = edge;
	c->no = no;
	c->side = side;
	c->lang = config_lang_index(h->cfg, h->cfg->default_lang);
	if (c->lang < 0)
		c->lang = 0;
	return c;
}

struct hub_conn *hub_visitor_open(struct hub *h, void *edge, const char *accept_language, uint64_t conn_no)
{
	struct hub_conn *c = conn_new(h, edge, PROTO_SIDE_VISITOR, conn_no);

	if (c == NULL)
		return NULL;
	c->lang = i18n_negotiate(h->i18n, NULL, accept_language);
	list_add_tail(&h->visitors, &c->link);
	h->n_visitors++;
	log_info("c%llu visitor open", (unsigned long long)conn_no);
	return c;
}

struct hub_conn *hub_staff_open(struct hub *h, void *edge, const char *addr_key, uint64_t conn_no)
{
	struct hub_conn *c = conn_new(h, edge, PROTO_SIDE_STAFF, conn_no);

	if (c == NULL)
		return NULL;
	if (addr_key != NULL && (c->addr_key = strdup(addr_key)) == NULL) {
		free(c);
		return NULL;
	}
	list_add_tail(&h->staff_conns, &c->link);
	h->n_staff++;
	log_info("c%llu staff open", (unsigned long long)conn_no);
	return c;
}

/* Count a message or an error in c's windows; true if c must be closed. */
static bool rate_exceeded(uint64_t now, uint64_t window, uint64_t *start, unsigned *count, unsigned max)
{
	if (now - *start >= window) {
		*start = now;
		*count = 0;
	}
	return ++*count > max;
}

static void reply_error(struct hub_conn *c, int err, const char *id, uint64_t now)
{
	send_error(c, err, id);
	if (rate_exceeded(now, ERROR_WINDOW_MS, &c->err_start_ms, &c->err_count, ERROR_MAX))
		close_conn(c, CLOSE_FLOOD, "too many errors");
}

/* Staff sessions expire while the socket is open too (idle or absolute).
 * A message counts as activity, but the database is asked at most once per
 * SESSION_CHECK_MS per console: a write per chat message would put I/O on
 * the hot path, and the periodic sweep catches expiry in between. */
static bool staff_session_alive(struct hub_conn *c, uint64_t now, bool touch)
{
	if (c->rs == NULL)
		return true;
	if (touch) {
		if (now - c->session_checked_ms < SESSION_CHECK_MS)
			return true;
		c->session_checked_ms = now;
	}
	if (staff_session_check(c->hub->staff, c->token, (int64_t)wall_now(c->hub), touch, NULL) == 0)
		return true;
	close_conn(c, CLOSE_SESSION_EXPIRED, "session expired");
	return false;
}

void hub_input(struct hub_conn *c, const char *buf, size_t len, uint64_t now)
{
	const struct handler *table = c->side == PROTO_SIDE_VISITOR ? visitor_handlers : staff_handlers;
	struct proto_in in = { 0 };
	const struct handler *hd;
	int rc;

	c->hub->now_ms = now;
	if (c->dead)
		return;
	if (rate_exceeded(now, RATE_WINDOW_MS, &c->rate_start_ms, &c->rate_count,
			  c->hub->cfg->rate_hard ? c->hub->cfg->rate_hard : RATE_HARD)) {
		close_conn(c, CLOSE_FLOOD, "too many messages");
		return;
	}
	rc = proto_decode(buf, len, c->side, &in);
	if (c->side == PROTO_SIDE_STAFF && c->rs == NULL && (rc != 0 || in.type != PROTO_LOGIN)) {
		/* Protocol: the first staff message must be a valid login. */
		send_error(c, BRUG_E_UNAUTHORIZED, in.id);
		close_conn(c, CLOSE_NOT_AUTHENTICATED, "login required");
		goto out;
	}
	if (rc != 0) {
		reply_error(c, rc, in.id, now);
		goto out;
	}
	if (c->rate_count > (c->hub->cfg->rate_soft ? c->hub->cfg->rate_soft : RATE_SOFT) &&
	    in.type != PROTO_END && in.type != PROTO_LOGOUT) {
		reply_error(c, BRUG_E_RATE_LIMITED, in.id, now);
		goto out;
	}
	hd = &table[in.type];
	if (hd->fn == NULL) {
		reply_error(c, BRUG_E_FORBIDDEN, in.id, now);
		goto out;
	}
	if (c->side == PROTO_SIDE_STAFF && hd->login) {
		if (!staff_session_alive(c, now, true))
			goto out;
		if (hd->roles != 0 && (c->roles & hd->roles) == 0) {
			reply_error(c, BRUG_E_FORBIDDEN, in.id, now);
			goto out;
		}
	}
	rc = hd->fn(c, &in, now);
	if (rc > 0)
		reply_error(c, rc, in.id, now);
out:
	proto_in_fini(&in);
}

void hub_closed(struct hub_conn *c, uint64_t now)
{
	struct hub *h;

	if (c == NULL)
		return;
	h = c->hub;
	h->now_ms = now;
	c->dead = true;
	list_remove(&c->link);
	if (c->side == PROTO_SIDE_VISITOR) {
		h->n_visitors--;
		if (c->vs != NULL) {
			struct vsession *vs = c->vs;
			struct router_visitor *v = vs->rv;
			enum router_visitor_state state = v->state;
			vs->conn = NULL;
			c->vs = NULL;
			if (router_visitor_detach(h->router, v, now)) {
				send_presence(v, false);
			} else {
				/* Gone for good: found nobody and left (the router freed v). */
				if (state == ROUTER_V_PARKED && !vs->counted && h->svc.stats != NULL) {
					vs->rv = NULL;
					vs->counted = true;
					stats_record(h->svc.stats, (int64_t)wall_now(h), h->cfg->langs[vs->lang], NULL,
						     STATS_ARRIVED_CLOSED, -1, -1);
				}
				vsession_free(vs);
			}
		}
	} else {
		h->n_staff--;
		if (c->login != NULL) {
			c->login->conn = NULL;
			c->login = NULL;
		}
		if (c->rs != NULL) {
			staff_dropped(h, c->rs, now);
			c->rs = NULL;
		}
		free(c->addr_key);
	}
	log_info("c%llu closed", (unsigned long long)c->no);
	secmem_free(c, sizeof *c);
}

void hub_poll(struct hub *h, uint64_t now)
{
	h->now_ms = now;
	if (h->worker != NULL)
		worker_drain(h->worker);
}

void hub_stop_worker(struct hub *h, uint64_t now)
{
	h->now_ms = now;
	worker_free(h->worker);
	h->worker = NULL;
}

void hub_tick(struct hub *h, uint64_t now)
{
	if (h->worker != NULL)
		worker_drain(h->worker);
	h->now_ms = now;
	router_tick(h->router, now);
	expire_staff_away(h, now);
	flush_queue_updates(h);
	if (h->colleagues_dirty)
		send_colleagues(h);
	refresh_on_shift(h, now);
	apply_shift_quiet(h);
	push_dashboard(h, now);
	if (now - h->last_session_sweep_ms >= SESSION_CHECK_MS) {
		struct list *it, *tmp;
		h->last_session_sweep_ms = now;
		list_for_each_safe(it, tmp, &h->staff_conns) {
			struct hub_conn *c = list_entry(it, struct hub_conn, link);
			if (!c->dead)
				staff_session_alive(c, now, false);
		}
	}
}

struct hub *hub_new(const struct config *cfg, struct i18n *t, struct staff *st, const struct hub_edge_ops *ops,
		    void *ctx)
{
	struct router_config rc = {
		.n_langs = cfg->n_langs,
		.offer_timeout_ms = (uint64_t)cfg->offer_timeout_s * 1000,
		.grace_ms = (uint64_t)cfg->grace_s * 1000,
		.decline_cooldown_ms = 60000,
	};
	struct hub *h = calloc(1, sizeof *h);

	if (h == NULL)
		return NULL;
	h->cfg = cfg;
	h->i18n = t;
	h->staff = st;
	h->svc = (struct hub_services){ .cfg = cfg, .i18n = t, .staff = st };
	h->ops = *ops;
	h->ops_ctx = ctx;
	list_init(&h->visitors);
	list_init(&h->staff_conns);
	list_init(&h->sessions);
	list_init(&h->queue_dirty);
	list_init(&h->staff_away);
	h->router = router_new(&rc, &hub_router_events, h);
	h->svc.router = h->router;
	h->worker = worker_new(LOGINS_IN_FLIGHT, ops->wake, ctx);
	if (h->router == NULL || h->worker == NULL) {
		router_free(h->router, 0);
		worker_free(h->worker);
		free(h);
		return NULL;
	}
	return h;
}

void hub_shutdown(struct hub *h, uint64_t now)
{
	struct list *it, *tmp;

	if (h->shutting_down)
		return;
	h->shutting_down = true;
	h->now_ms = now;
	router_end_all(h->router, now);
	list_for_each_safe(it, tmp, &h->visitors)
		close_conn(list_entry(it, struct hub_conn, link), CLOSE_GOING_AWAY, "shutting down");
	list_for_each_safe(it, tmp, &h->staff_conns)
		close_conn(list_entry(it, struct hub_conn, link), CLOSE_GOING_AWAY, "shutting down");
}

void hub_free(struct hub *h, uint64_t now)
{
	struct list *it, *tmp;

	if (h == NULL)
		return;
	/* Connections the edge never reported closed are dropped here. */
	list_for_each_safe(it, tmp, &h->visitors)
		hub_closed(list_entry(it, struct hub_conn, link), now);
	list_for_each_safe(it, tmp, &h->staff_conns)
		hub_closed(list_entry(it, struct hub_conn, link), now);
	/* Logins in flight finish (their sockets are gone) before the staff
	 * database closes. */
	worker_free(h->worker);
	while (!list_empty(&h->staff_away)) {
		struct staff_away *a = list_entry(h->staff_away.next, struct staff_away, link);
		list_remove(&a->link);
		away_free(a);
	}
	router_free(h->router, now);
	/* Sessions still in their grace period lost their router visitor
	 * above; wipe and free them. */
	list_for_each_safe(it, tmp, &h->sessions) {
		struct vsession *vs = list_entry(it, struct vsession, link);
		vs->rv = NULL;
		vsession_free(vs);
	}
	for (unsigned i = 0; i < h->n_notes; i++)
		handover_wipe(&h->notes[i]);
	free(h->dashboard_last);
	free(h->on_shift);
	free(h->map);
	free(h);
}

void hub_set_roster(struct hub *h, struct roster *r)
{
	h->svc.roster = r;
}

void hub_set_stats(struct hub *h, struct stats *st)
{
	h->svc.stats = st;
}

char *hub_status_json(struct hub *h, int lang)
{
	json_t *langs = json_object(), *doc;
	char *out;

	for (unsigned i = 0; i < h->cfg->n_langs && langs != NULL; i++) {
		bool open = router_lang_open(h->router, (int)i);
		json_t *entry = json_pack("{s:b}", "open", open);
		int64_t at;

		if (entry != NULL && !open && next_open(h, (int)i, &at) == 0) {
			char iso[32], *text = i18n_format_time(h->i18n, lang, at, h->cfg->timezone);
			clock_iso8601((int64_t)at, iso);
			json_object_set_new(entry, "next_open", json_string(iso));
			json_object_set_new(entry, "next_open_text", text ? json_string(text) : json_null());
			free(text);
		} else if (entry != NULL) {
			json_object_set_new(entry, "next_open", json_null());
			json_object_set_new(entry, "next_open_text", json_null());
		}
		json_object_set_new(langs, h->cfg->langs[i], entry);
	}
	doc = json_pack("{s:o}", "languages", langs);
	if (doc == NULL)
		return NULL;
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return out;
}
