/* The hub: the connections behind the visitor and staff sockets, the one
 * message table with the side and roles allowed for each type, the rate
 * limits, sending, and the hub's life (hub_new, hub_tick, hub_free). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cluster.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "hub_internal.h"
#include "hub_private.h"
#include "i18n.h"
#include "proto.h"
#include "router.h"
#include "staff.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"
#include "blocklist.h"
#include "coord.h"
#include "shifts.h"
#include "source_limit.h"
#include "stats.h"
#include "util/token.h"
#include "util/worker.h"

/* ---- sending ---- */

void hub_send_frame(struct hub_conn *c, struct frame *f)
{
	if (c != NULL && !c->dead && f != NULL)
		c->ops->send(c->edge, f);
}

/* Serialize msg (taking ownership) and send it to c with the request id. */
void hub_send_json(struct hub_conn *c, json_t *msg, const char *id)
{
	struct frame *f;

	if (msg == NULL)
		return;
	if (c == NULL || c->dead) {
		json_decref(msg);
		return;
	}
	f = proto_frame_take(msg, id);
	hub_send_frame(c, f);
	frame_unref(f);
}


void hub_close_conn(struct hub_conn *c, int code, const char *reason)
{
	if (c == NULL || c->dead)
		return;
	log_info("c%llu close %d %s", (unsigned long long)c->no, code, reason);
	c->ops->close(c->edge, code, reason);
	c->dead = true;
	/* A closing socket sends nothing more: its session's grace starts now,
	 * not when the edge reports the close (issue 12). */
	vsession_detach(c);
}

void hub_send_error(struct hub_conn *c, int err, const char *id)
{
	char *text = i18n_error(c->hub->i18n, c->lang, err);
	struct frame *f = proto_error_frame(err, text != NULL ? text : brug_error_code(err), id);

	free(text);
	hub_send_frame(c, f);
	frame_unref(f);
}

uint64_t hub_wall_now(const struct hub *h)
{
	return h->ops.wall_ms(h->ops_ctx);
}

struct hub_conn *hub_visitor_conn(struct router_visitor *v)
{
	struct vsession *vs = v != NULL ? v->owner : NULL;

	return vs != NULL ? vs->conn : NULL;
}

struct hub_conn *hub_staff_conn(struct router_staff *s)
{
	return s != NULL ? s->owner : NULL;
}

json_t *hub_id_json(uint64_t id)
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

json_t *hub_staff_json(const struct router_staff *s)
{
	return json_pack("{s:s, s:s}", "alias", s->alias, "role", role_name(s->roles));
}

json_t *hub_topic_json(const struct hub *h, int topic)
{
	if (topic < 0 || (unsigned)topic >= h->cfg->n_topics)
		return json_null();
	return json_string(h->cfg->topics[topic]);
}

/* A localized text with numeric arguments; caller frees. */
char *hub_text_num(struct hub *h, int lang, enum i18n_key key, double a0, double a1)
{
	double args[2] = { a0, a1 };

	return i18n_format(h->i18n, lang, key, 2, args, NULL);
}

/* Intake of a visitor's or staff member's text; *out is wiped by the caller. */
int hub_take_text(struct hub *h, const struct proto_in *in, char **out, size_t *out_len)
{
	int rc = i18n_intake(in->text, in->text_len, h->cfg->max_text, out, out_len);

	/* Bytes too: a message frame must fit in a socket's outbound queue
	 * next to a transcript (MSG_FRAME_MAX). */
	if (rc == 0 && *out_len > CHAT_MSG_MAX_BYTES) {
		secmem_free(*out, *out_len);
		*out = NULL;
		*out_len = 0;
		rc = BRUG_E_TOO_LONG;
	}
	return rc;
}

/* Append text to chat and send it to everyone in it; reply_to gets the
 * copy carrying the request id. */
int hub_relay_msg(struct hub *h, struct router_chat *chat, struct router_staff *from, const char *text,
		     size_t len, struct hub_conn *reply_to, const char *id)
{
	const struct chat_msg *m;
	struct frame *for_visitor, *for_staff;

	m = chat_log_append(&chat->log, from == NULL, from ? from->alias : NULL, text, len, hub_wall_now(h));
	if (m == NULL)
		return BRUG_E_INTERNAL;
	hub_rep_msg(h, chat, m);
	for_visitor = proto_frame_take(replay_msg_json(chat, m, false), NULL);
	for_staff = proto_frame_take(replay_msg_json(chat, m, true), NULL);
	if (for_visitor == NULL || for_staff == NULL) {
		frame_unref(for_visitor);
		frame_unref(for_staff);
		return BRUG_E_INTERNAL;
	}
	struct hub_conn *vc = hub_visitor_conn(chat->visitor);
	if (replay_takes(vc, chat, m, vc == reply_to ? id : NULL))
		;   /* in order, after the transcript still going out */
	else if (vc != NULL && vc == reply_to && id[0] != '\0')
		hub_send_json(vc, replay_msg_json(chat, m, false), id);
	else
		hub_send_frame(vc, for_visitor);
	for (unsigned i = 0; i < chat->n_staff; i++) {
		struct hub_conn *sc = hub_staff_conn(chat->staff[i]);
		if (replay_takes(sc, chat, m, sc == reply_to ? id : NULL))
			continue;
		if (sc != NULL && sc == reply_to && id[0] != '\0')
			hub_send_json(sc, replay_msg_json(chat, m, true), id);
		else
			hub_send_frame(sc, for_staff);
	}
	frame_unref(for_visitor);
	frame_unref(for_staff);
	return 0;
}

/* ---- what coord_*.c may use (hub_internal.h) ---- */

const struct hub_services *hub_services(const struct hub_conn *c) { return &c->hub->svc; }
struct hub *hub_of(const struct hub_conn *c) { return c->hub; }
int64_t hub_conn_staff_id(const struct hub_conn *c) { return c->staff_id; }
const char *hub_conn_username(const struct hub_conn *c) { return c->username; }

void hub_reply(struct hub_conn *c, json_t *msg, const char *id)
{
	hub_send_json(c, msg, id);
}

void hub_broadcast(struct hub *h, json_t *msg, uint32_t roles)
{
	struct frame *f = proto_frame_take(msg, NULL);
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (o->rs != NULL && (roles == 0 || (o->roles & roles)))
			hub_send_frame(o, f);
	}
	frame_unref(f);
}

void hub_end_sessions_of(struct hub *h, const char *username)
{
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (!o->dead && o->rs != NULL && strcmp(o->username, username) == 0)
			hub_close_conn(o, CLOSE_SESSION_EXPIRED, "session ended");
	}
}

void hub_staff_changed(struct hub *h, const char *username)
{
	struct staff_account a;
	struct list *it, *tmp;

	if (staff_get(h->staff, username, &a) != 0)
		return;   /* the next session check tries again */
	list_for_each_safe(it, tmp, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (!o->dead && o->rs != NULL && o->staff_id == a.id)
			ssession_apply_account(h, o, &a);
	}
	/* A console in its reconnect grace gets the account at its login. */
	staff_account_fini(&a);
}

void hub_roster_changed(struct hub *h)
{
	h->colleagues_dirty = true;
	h->on_shift_ms = 0;               /* read who is on shift again */
	memset(h->next_open_until, 0, sizeof h->next_open_until);
	free(h->dashboard_last);          /* push the dashboard again */
	h->dashboard_last = NULL;
}

/* The message table: the one place that says which side may send each
 * type, whether it needs a logged-in staff session and which staff roles
 * may send it (style: Redis's command table). proto.c decodes the fields
 * of each type; this table decides who may send it and who handles it.
 * A type appears at most once per side; one missing for a side is
 * forbidden there. */
#define SIDE_V (1u << PROTO_SIDE_VISITOR)
#define SIDE_S (1u << PROTO_SIDE_STAFF)

/* How a type counts against the flood windows (protocol section 5). Every
 * message counts in its session's window; past its first limit a message
 * is refused as rate_limited unless it is LIMIT_NONE. */
enum limit {
	LIMIT_SESSION,  /* the session's window only */
	LIMIT_OTHER,    /* staff: also the window of all but chat messages */
	LIMIT_CHAT,     /* staff: also the window of its chat (hub_staff_chat_rate) */
	LIMIT_NONE,     /* never refused: leaving a chat must always work */
};

struct handler {
	enum proto_type type;
	unsigned sides;
	bool login;      /* staff: needs a logged-in session */
	uint32_t roles;  /* staff roles allowed; 0 = any */
	enum limit limit;
	int (*fn)(struct hub_conn *c, struct proto_in *in, uint64_t now);
};

/* Every role that holds chats may chat; a coordinator-only account logs in
 * but is not offered chats (its pages come with a later issue). */
#define CHAT_ROLES (BRUG_ROLE_VOLUNTEER | BRUG_ROLE_KEYPERSON | BRUG_ROLE_PROFESSIONAL)

static const struct handler handlers[] = {
	{ PROTO_HELLO, SIDE_V, false, 0, LIMIT_SESSION, vsession_on_hello },
	{ PROTO_MSG, SIDE_V, false, 0, LIMIT_SESSION, vsession_on_msg },
	{ PROTO_TYPING, SIDE_V, false, 0, LIMIT_SESSION, vsession_on_typing },
	{ PROTO_END, SIDE_V, false, 0, LIMIT_NONE, vsession_on_end },
	{ PROTO_MSG, SIDE_S, true, CHAT_ROLES, LIMIT_CHAT, staff_chat_on_msg },
	{ PROTO_TYPING, SIDE_S, true, CHAT_ROLES, LIMIT_CHAT, staff_chat_on_typing },
	{ PROTO_LOGIN, SIDE_S, false, 0, LIMIT_SESSION, ssession_on_login },
	{ PROTO_STATUS, SIDE_S, true, CHAT_ROLES, LIMIT_OTHER, staff_chat_on_status },
	{ PROTO_ACCEPT, SIDE_S, true, CHAT_ROLES, LIMIT_OTHER, staff_chat_on_accept },
	{ PROTO_DECLINE, SIDE_S, true, CHAT_ROLES, LIMIT_OTHER, staff_chat_on_decline },
	{ PROTO_TRANSFER, SIDE_S, true, CHAT_ROLES, LIMIT_OTHER, staff_chat_on_transfer },
	{ PROTO_INVITE, SIDE_S, true, CHAT_ROLES, LIMIT_OTHER, staff_chat_on_invite },
	{ PROTO_END, SIDE_S, true, CHAT_ROLES, LIMIT_NONE, staff_chat_on_end },
	{ PROTO_BLOCK, SIDE_S, true, CHAT_ROLES, LIMIT_NONE, staff_chat_on_block },
	{ PROTO_LOGOUT, SIDE_S, true, 0, LIMIT_NONE, ssession_on_logout },
	{ PROTO_STAFF_LIST, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_staff_list },
	{ PROTO_STAFF_CREATE, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_staff_create },
	{ PROTO_STAFF_UPDATE, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_staff_update },
	{ PROTO_STAFF_RESET, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_staff_reset },
	{ PROTO_TOTP_RESET, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_totp_reset },
	{ PROTO_AUDIT_LIST, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_audit_list },
	{ PROTO_ROSTER_GET, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_roster_get },
	{ PROTO_PATTERN_ADD, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_pattern_add },
	{ PROTO_PATTERN_UPDATE, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_pattern_update },
	{ PROTO_PATTERN_DELETE, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_pattern_delete },
	{ PROTO_EXCEPTION_ADD, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_exception_add },
	{ PROTO_EXCEPTION_DELETE, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_exception_delete },
	{ PROTO_CLOSURE_ADD, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_closure_add },
	{ PROTO_CLOSURE_DELETE, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_closure_delete },
	{ PROTO_STATS_GET, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_stats_get },
	{ PROTO_STATS_CSV, SIDE_S, true, BRUG_ROLE_COORDINATOR, LIMIT_OTHER, coord_stats_csv },
	{ PROTO_MY_SHIFTS, SIDE_S, true, 0, LIMIT_OTHER, coord_my_shifts },
	{ PROTO_HANDOVER_SET, SIDE_S, true, 0, LIMIT_OTHER, handover_on_set },
	{ PROTO_ICAL_FEED, SIDE_S, true, 0, LIMIT_OTHER, coord_ical_feed },
};

/* The entry for type on side, or NULL (forbidden there). The table is
 * short and the chat messages come first. */
static const struct handler *handler_find(enum proto_type type, enum proto_side side)
{
	for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
		if (handlers[i].type == type && (handlers[i].sides & (1u << side)))
			return &handlers[i];
	return NULL;
}

/* ---- connections ---- */

struct hub_conn *hub_conn_new(struct hub *h, void *edge, enum proto_side side, uint64_t no)
{
	struct hub_conn *c;

	if (h->shutting_down)
		return NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->hub = h;
	c->edge = edge;
	c->ops = &h->ops;
	c->no = no;
	c->side = side;
	c->lang = config_lang_index(h->cfg, h->cfg->default_lang);
	if (c->lang < 0)
		c->lang = 0;
	list_init(&c->replays);
	list_init(&c->replay_link);
	return c;
}

struct hub_conn *hub_visitor_open(struct hub *h, void *edge, const char *accept_language, const char *source_key,
				  uint64_t conn_no)
{
	struct hub_conn *c = hub_conn_new(h, edge, PROTO_SIDE_VISITOR, conn_no);

	if (c == NULL)
		return NULL;
	if (source_key != NULL && strlen(source_key) < sizeof c->src_key)
		memcpy(c->src_key, source_key, strlen(source_key) + 1);
	c->lang = i18n_negotiate(h->i18n, NULL, accept_language);
	list_add_tail(&h->visitors, &c->link);
	h->n_visitors++;
	log_info("c%llu visitor open", (unsigned long long)conn_no);
	if (hub_source_blocked(h, c->src_key)) {
		/* A blocked source (staff_chat_on_block): told only that the chat
		 * is not available, in the visitor's language, and closed. */
		log_info("c%llu visitor refused", (unsigned long long)conn_no);
		hub_send_error(c, BRUG_E_NOT_AVAILABLE, NULL);
		hub_close_conn(c, CLOSE_TRY_AGAIN, "not available");
	}
	return c;
}

bool hub_source_blocked(struct hub *h, const char *key)
{
	return blocklist_has(h->blocks, key, h->now_ms);
}

struct hub_conn *hub_remote_visitor_open(struct hub *h, const struct hub_edge_ops *ops, void *edge, int lang,
					 const char *source_key, uint64_t conn_no)
{
	struct hub_conn *c = hub_conn_new(h, edge, PROTO_SIDE_VISITOR, conn_no);

	if (c == NULL)
		return NULL;
	c->ops = ops;
	if (lang >= 0 && (unsigned)lang < h->cfg->n_langs)
		c->lang = lang;
	/* The per-source limits and blocks of the hello apply here, where the
	 * session lives (issue 12). */
	if (source_key != NULL && strlen(source_key) < sizeof c->src_key)
		memcpy(c->src_key, source_key, strlen(source_key) + 1);
	list_add_tail(&h->visitors, &c->link);
	h->n_visitors++;
	log_info("c%llu visitor open (from another node)", (unsigned long long)conn_no);
	return c;
}

void hub_deliver(struct hub_conn *c, const char *text, size_t len)
{
	struct frame *f;

	if (c == NULL || c->dead)
		return;
	f = malloc(sizeof *f + FRAME_PRE + len + 1);
	if (f == NULL)
		return;
	f->refs = 1;
	f->len = len;
	memcpy(f->data + FRAME_PRE, text, len);
	f->data[FRAME_PRE + len] = '\0';
	hub_send_frame(c, f);
	frame_unref(f);
}

void hub_kick(struct hub_conn *c, int code, const char *reason)
{
	hub_close_conn(c, code, reason);
}

uint64_t hub_id_base(const struct hub *h)
{
	return h->id_base;
}

void hub_serve_here(struct hub_conn *c)
{
	c->fwd = NULL;
	c->serve_here = true;
}

void hub_set_cluster(struct hub *h, struct cluster *cl)
{
	h->cluster = cl;
}

struct hub_conn *hub_staff_open(struct hub *h, void *edge, const char *addr_key, uint64_t conn_no)
{
	struct hub_conn *c = hub_conn_new(h, edge, PROTO_SIDE_STAFF, conn_no);

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
bool hub_rate_exceeded(uint64_t now, uint64_t window, uint64_t *start, unsigned *count, unsigned max)
{
	if (now - *start >= window) {
		*start = now;
		*count = 0;
	}
	return ++*count > max;
}

/* The flood windows c counts against: its visitor session's once it has
 * one, else its own (a staff socket's move with the staff session). */
static struct rate *conn_rate(struct hub_conn *c)
{
	return c->side == PROTO_SIDE_VISITOR && c->vs != NULL ? &c->vs->rate : &c->rate;
}

unsigned hub_rate_soft(const struct hub *h)
{
	return h->cfg->rate_msgs ? h->cfg->rate_msgs : RATE_SOFT;
}

/* The first limit of c's session window: a staff session's is
 * RATE_STAFF_FACTOR times a visitor's, as its chat messages are limited
 * per chat (hub_staff_chat_rate) and its other messages together; this
 * only stops a runaway console. */
static unsigned session_soft(const struct hub_conn *c)
{
	return hub_rate_soft(c->hub) * (c->side == PROTO_SIDE_STAFF ? RATE_STAFF_FACTOR : 1);
}

int hub_staff_chat_rate(struct hub_conn *c, uint64_t chat_id, bool typing, uint64_t now)
{
	struct chat_rate *slot = NULL, *spare = &c->srate.chats[0];

	for (unsigned i = 0; i < HUB_CHAT_RATES && slot == NULL; i++) {
		struct chat_rate *cr = &c->srate.chats[i];
		uint64_t last = cr->msg_start_ms > cr->typing_start_ms ? cr->msg_start_ms : cr->typing_start_ms;
		uint64_t spare_last = spare->msg_start_ms > spare->typing_start_ms
			? spare->msg_start_ms : spare->typing_start_ms;

		if (cr->chat_id == chat_id)
			slot = cr;
		else if (spare->chat_id != 0 && (cr->chat_id == 0 || last < spare_last))
			spare = cr;
	}
	if (slot == NULL) {
		slot = spare;
		memset(slot, 0, sizeof *slot);
		slot->chat_id = chat_id;
	}
	if (typing)
		return hub_rate_exceeded(now, RATE_WINDOW_MS, &slot->typing_start_ms, &slot->typing_count,
					 hub_rate_soft(c->hub)) ? BRUG_E_RATE_LIMITED : 0;
	return hub_rate_exceeded(now, RATE_WINDOW_MS, &slot->msg_start_ms, &slot->msg_count, hub_rate_soft(c->hub))
		? BRUG_E_RATE_LIMITED : 0;
}

void hub_reply_error(struct hub_conn *c, int err, const char *id, uint64_t now)
{
	struct rate *r = conn_rate(c);

	hub_send_error(c, err, id);
	if (hub_rate_exceeded(now, ERROR_WINDOW_MS, &r->err_start_ms, &r->err_count, ERROR_MAX))
		hub_close_conn(c, CLOSE_FLOOD, "too many errors");
}

void hub_input(struct hub_conn *c, const char *buf, size_t len, uint64_t now)
{
	struct proto_in in = { 0 };
	const struct handler *hd;
	struct rate *r = conn_rate(c);
	struct hub *h = c->hub;
	int rc;

	h->now_ms = now;
	if (c->dead)
		return;
	if (c->fwd != NULL) {
		/* The owner's hub applies the protocol, limits included. */
		cluster_forward_input(c->fwd, buf, len);
		return;
	}
	if (hub_rate_exceeded(now, RATE_WINDOW_MS, &r->start_ms, &r->count, session_soft(c) * RATE_HARD_FACTOR)) {
		hub_close_conn(c, CLOSE_FLOOD, "too many messages");
		return;
	}
	rc = proto_decode(buf, len, c->side, &in);
	if (c->side == PROTO_SIDE_STAFF && c->rs == NULL && (rc != 0 || in.type != PROTO_LOGIN)) {
		/* Protocol: the first staff message must be a valid login. */
		hub_send_error(c, BRUG_E_UNAUTHORIZED, in.id);
		hub_close_conn(c, CLOSE_NOT_AUTHENTICATED, "login required");
		goto out;
	}
	if (rc != 0) {
		hub_reply_error(c, rc, in.id, now);
		goto out;
	}
	if (vsession_hand_over(c, &in, buf, len) || staff_chat_route_remote(c, &in, buf, len))
		goto out;
	hd = handler_find(in.type, c->side);
	if (r->count > session_soft(c) && (hd == NULL || hd->limit != LIMIT_NONE)) {
		hub_reply_error(c, BRUG_E_RATE_LIMITED, in.id, now);
		goto out;
	}
	if (hd == NULL) {
		hub_reply_error(c, BRUG_E_FORBIDDEN, in.id, now);
		goto out;
	}
	if (c->side == PROTO_SIDE_STAFF && hd->login) {
		if (!ssession_alive(c, now, true))
			goto out;
		if (hd->roles != 0 && (c->roles & hd->roles) == 0) {
			hub_reply_error(c, BRUG_E_FORBIDDEN, in.id, now);
			goto out;
		}
	}
	if (hd->limit == LIMIT_OTHER && hub_rate_exceeded(now, RATE_WINDOW_MS, &c->srate.other_start_ms,
							  &c->srate.other_count, hub_rate_soft(c->hub))) {
		hub_reply_error(c, BRUG_E_RATE_LIMITED, in.id, now);
		goto out;
	}
	rc = hd->fn(c, &in, now);
	if (rc > 0)
		hub_reply_error(c, rc, in.id, now);
out:
	proto_in_fini(&in);
	hub_rep_flush(h);   /* c may be closed by now */
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
	if (c->fwd != NULL) {
		cluster_forward_close(c->fwd);
		c->fwd = NULL;
	}
	if (c->side == PROTO_SIDE_VISITOR) {
		h->n_visitors--;
		vsession_detach(c);
	} else {
		h->n_staff--;
		if (c->login != NULL) {
			c->login->conn = NULL;
			c->login = NULL;
		}
		if (c->rs != NULL) {
			ssession_dropped(h, c->rs, c, now);
			c->rs = NULL;
		}
		free(c->addr_key);
	}
	replay_free_all(c);
	log_info("c%llu closed", (unsigned long long)c->no);
	secmem_free(c, sizeof *c);
}

/* Go on with every transcript under way (as far as the queues have room). */
static void pump_replays(struct hub *h)
{
	struct list *it, *tmp;

	list_for_each_safe(it, tmp, &h->replaying)
		replay_pump(list_entry(it, struct hub_conn, replay_link));
}

void hub_writable(struct hub_conn *c, uint64_t now)
{
	if (c == NULL || !list_linked(&c->replay_link))
		return;
	c->hub->now_ms = now;
	replay_pump(c);
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
	ssession_expire_away(h, now);
	blocklist_expire(h->blocks, now);
	hub_events_flush_queue(h);
	hub_rep_flush(h);
	stats_flush(h->svc.stats, (int64_t)hub_wall_now(h));
	pump_replays(h);
	staff_audit_maintain(h->staff, (int64_t)hub_wall_now(h));
	if (h->colleagues_dirty)
		ssession_send_colleagues(h);
	coord_refresh_on_shift(h, now);
	coord_apply_shift_quiet(h);
	coord_push_dashboard(h, now);
	if (now - h->last_session_sweep_ms >= SESSION_CHECK_MS) {
		struct list *it, *tmp;
		h->last_session_sweep_ms = now;
		list_for_each_safe(it, tmp, &h->staff_conns) {
			struct hub_conn *c = list_entry(it, struct hub_conn, link);
			if (!c->dead)
				ssession_alive(c, now, false);
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
	uint32_t salt;

	if (h == NULL)
		return NULL;
	/* In a cluster every router numbers offers and chats in a range of
	 * its own, random per boot, so a console's `accept` or `msg` can be
	 * sent to the node whose router made the id (docs/cluster.md, 3). */
	if (cfg->cluster) {
		randombytes_buf(&salt, sizeof salt);
		h->id_base = ((uint64_t)(salt & 0xfffff) + 1) << 40;
		rc.id_base = h->id_base;
	}
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
	list_init(&h->rep_dirty);
	h->queue_flush_max = QUEUE_FLUSH_PER_TICK;
	list_init(&h->replaying);
	list_init(&h->staff_away);
	list_init(&h->logins);
	h->router = router_new(&rc, &hub_router_events, h);
	h->svc.router = h->router;
	h->worker = worker_new(LOGINS_IN_FLIGHT, ops->wake, ctx);
	h->sources = source_limit_new();
	h->blocks = blocklist_new();
	if (h->router == NULL || h->worker == NULL || h->sources == NULL || h->blocks == NULL) {
		router_free(h->router, 0);
		worker_free(h->worker);
		source_limit_free(h->sources);
		blocklist_free(h->blocks);
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
		hub_close_conn(list_entry(it, struct hub_conn, link), CLOSE_GOING_AWAY, "shutting down");
	list_for_each_safe(it, tmp, &h->staff_conns)
		hub_close_conn(list_entry(it, struct hub_conn, link), CLOSE_GOING_AWAY, "shutting down");
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
		ssession_away_free(a);
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
	source_limit_free(h->sources);
	blocklist_free(h->blocks);
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

		if (entry != NULL && !open && coord_next_open(h, (int)i, &at) == 0) {
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

void hub_config_changed(struct hub *h)
{
	/* Everything else the hub reads from h->cfg when it needs it. */
	if (h == NULL)
		return;
	router_set_timeouts(h->router, (uint64_t)h->cfg->offer_timeout_s * 1000, (uint64_t)h->cfg->grace_s * 1000);
}
