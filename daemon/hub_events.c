/* Router events turned into protocol frames (queue places, offers, joins,
 * ends, presence) and the one anonymous statistics count per contact. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "stats.h"

/* ---- visitor frames ---- */

void hub_events_send_queue(struct hub *h, struct router_visitor *v)
{
	struct hub_conn *c = hub_visitor_conn(v);
	struct vsession *vs = v->owner;
	char *text;
	json_t *msg;

	if (c == NULL)
		return;
	text = hub_text_num(h, vs->lang, I18N_QUEUE, v->position,
			v->wait_s < 0 ? -1.0 : (double)((v->wait_s + 59) / 60));
	msg = json_pack("{s:s, s:i, s:o, s:s}", "type", "queue", "position", (json_int_t)v->position,
			"wait_s", v->wait_s < 0 ? json_null() : json_integer(v->wait_s),
			"text", text != NULL ? text : "");
	free(text);
	hub_send_json(c, msg, NULL);
}

static void send_closed(struct hub *h, struct router_visitor *v)
{
	struct hub_conn *c = hub_visitor_conn(v);
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
	known = coord_next_open(h, v->lang, &at) == 0;
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
	hub_send_json(c, json_pack("{s:s, s:s, s:o}", "type", "closed", "text", text ? text : "",
			       "next_open", known ? json_string(iso) : json_null()), NULL);
	free(closed);
	free(text);
	free(when);
}

void hub_events_chat_to_staff(struct hub *h, struct router_chat *chat, struct router_staff *s)
{
	struct hub_conn *c = hub_staff_conn(s);
	char label[32];

	snprintf(label, sizeof label, "Visitor %u", chat->visitor_no);
	/* visitor_no (extension) lets a console say "Visitor N" in its own
	 * language; `visitor` keeps the protocol's label. */
	hub_send_json(c, json_pack("{s:s, s:o, s:s, s:s, s:o, s:s, s:i, s:b}", "type", "chat",
			       "chat", hub_id_json(chat->id), "lang", h->cfg->langs[chat->lang],
			       "dir", i18n_dir(h->i18n, chat->lang), "topic", hub_topic_json(h, chat->topic),
			       "visitor", label, "visitor_no", (json_int_t)chat->visitor_no, "visitor_connected",
			       chat->visitor != NULL && chat->visitor->connected), NULL);
	replay_send_transcript(c, chat, 0, true);
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
	stats_record_chat(h->svc.stats, (int64_t)hub_wall_now(h), h->cfg->langs[vs->lang], tags, n_tags, outcome,
			  wait_s, duration_s);
}

/* A contact that ends without a chat: it left the queue, found the
 * language closed, or left through the quick exit. */
void hub_events_count_no_chat(struct hub *h, struct vsession *vs, enum router_visitor_state state, bool quick_exit)
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


static void ev_queue(void *ctx, struct router_visitor *v)
{
	struct hub *h = ctx;
	struct vsession *vs = v->owner;

	if (vs != NULL && vs->rep_state != v->state)
		hub_rep_touch(vs, false);   /* entered the queue (from parked, too) */
	if (vs == NULL || vs->conn == NULL || list_linked(&vs->dirty_link))
		return;   /* a resume sends the state afresh; a pending update will */
	if (vs->queue_sent_ms == 0 || h->now_ms - vs->queue_sent_ms >= QUEUE_UPDATE_MIN_MS) {
		hub_events_send_queue(h, v);
		vs->queue_sent_ms = h->now_ms ? h->now_ms : 1;
		return;
	}
	list_add_tail(&h->queue_dirty, &vs->dirty_link);
}

/* Send the queue updates that waited for QUEUE_UPDATE_MIN_MS; those whose
 * visitor has left the queue meanwhile are dropped. */
void hub_events_flush_queue(struct hub *h)
{
	struct list *it, *tmp;
	unsigned sent = 0;

	list_for_each_safe(it, tmp, &h->queue_dirty) {
		struct vsession *vs = list_entry(it, struct vsession, dirty_link);
		if (vs->conn != NULL && vs->rv != NULL && vs->rv->state == ROUTER_V_WAITING &&
		    h->now_ms - vs->queue_sent_ms < QUEUE_UPDATE_MIN_MS)
			continue;
		if (sent >= h->queue_flush_max)
			break;   /* the rest on the next tick, in the same order */
		list_remove(&vs->dirty_link);
		if (vs->conn != NULL && vs->rv != NULL && vs->rv->state == ROUTER_V_WAITING) {
			hub_events_send_queue(h, vs->rv);
			vs->queue_sent_ms = h->now_ms;
			sent++;
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

void hub_events_offer(void *ctx, struct router_offer *o)
{
	struct hub *h = ctx;
	struct router_visitor *v = o->visitor;
	int lang = o->chat ? o->chat->lang : v->lang;
	int topic = o->chat ? o->chat->topic : v->topic;
	json_t *msg;

	msg = json_pack("{s:s, s:o, s:s, s:s, s:o, s:I, s:I}", "type", "offer", "offer", hub_id_json(o->id),
			"kind", offer_kind_name(o->kind), "lang", h->cfg->langs[lang],
			"topic", hub_topic_json(h, topic),
			"waited_s", (json_int_t)(v && o->created_ms > v->enqueued_ms
						 ? (o->created_ms - v->enqueued_ms) / 1000 : 0),
			"expires_s", (json_int_t)((o->expires_ms - o->created_ms + 999) / 1000));
	if (msg != NULL && o->chat != NULL)
		json_object_set_new(msg, "chat", hub_id_json(o->chat->id));
	if (msg != NULL && o->from != NULL)
		json_object_set_new(msg, "from", json_string(o->from->alias));
	hub_send_json(hub_staff_conn(o->to), msg, NULL);
}

static void ev_offer_gone(void *ctx, struct router_offer *o, enum router_offer_end why)
{
	hub_send_json(hub_staff_conn(o->to), json_pack("{s:s, s:o, s:s}", "type", "offer_gone", "offer", hub_id_json(o->id),
					       "reason", offer_end_name(why)), NULL);
}

static void ev_joined(void *ctx, struct router_chat *c, struct router_staff *s)
{
	struct hub *h = ctx;

	hub_send_json(hub_visitor_conn(c->visitor), json_pack("{s:s, s:o, s:o}", "type", "joined", "chat", hub_id_json(c->id),
						      "staff", hub_staff_json(s)), NULL);
	for (unsigned i = 0; i < c->n_staff; i++) {
		if (c->staff[i] == s)
			continue;
		hub_send_json(hub_staff_conn(c->staff[i]), json_pack("{s:s, s:o, s:o}", "type", "joined",
							     "chat", hub_id_json(c->id), "staff", hub_staff_json(s)), NULL);
	}
	hub_events_chat_to_staff(h, c, s);
	hub_rep_touch(c->visitor != NULL ? c->visitor->owner : NULL, false);
	log_info("c%llu joined a chat", hub_staff_conn(s) ? (unsigned long long)hub_staff_conn(s)->no : 0ull);
}

static void ev_left(void *ctx, struct router_chat *c, struct router_staff *s, enum router_leave why)
{
	const char *reason = why == ROUTER_LEAVE_TRANSFERRED ? "transferred" : "dropped";

	hub_rep_touch(c->visitor != NULL ? c->visitor->owner : NULL, false);

	hub_send_json(hub_visitor_conn(c->visitor), json_pack("{s:s, s:o}", "type", "left", "staff", hub_staff_json(s)), NULL);
	for (unsigned i = 0; i < c->n_staff; i++)
		if (c->staff[i] != s)
			hub_send_json(hub_staff_conn(c->staff[i]), json_pack("{s:s, s:o, s:o, s:s}", "type", "left",
				  "chat", hub_id_json(c->id), "staff", hub_staff_json(s), "reason", reason), NULL);
	hub_send_json(hub_staff_conn(s), json_pack("{s:s, s:o, s:o, s:s, s:b}", "type", "left", "chat", hub_id_json(c->id),
					   "staff", hub_staff_json(s), "reason", reason, "you", 1), NULL);
}

static void ev_requeued(void *ctx, struct router_visitor *v)
{
	struct hub *h = ctx;
	struct vsession *vs = v->owner;
	char *text;

	hub_rep_touch(vs, false);
	if (hub_visitor_conn(v) == NULL)
		return;
	text = i18n_text(h->i18n, vs->lang, I18N_REQUEUED);
	hub_send_json(hub_visitor_conn(v), json_pack("{s:s, s:s, s:s}", "type", "notice", "code", "requeued",
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
	struct hub_conn *vc = hub_visitor_conn(c->visitor);
	struct frame *f;

	if (vc != NULL) {
		char *text = i18n_text(h->i18n, vc->vs->lang, end_text(by));
		hub_send_json(vc, json_pack("{s:s, s:s, s:s}", "type", "ended", "by", end_name(by, false),
					"text", text ? text : ""), NULL);
		free(text);
	}
	f = proto_frame_take(json_pack("{s:s, s:o, s:s}", "type", "ended", "chat", hub_id_json(c->id),
				       "by", end_name(by, true)), NULL);
	for (unsigned i = 0; i < c->n_staff; i++) {
		if (hub_staff_conn(c->staff[i]) != NULL)
			hub_send_frame(hub_staff_conn(c->staff[i]), f);
		else
			ssession_away_keep(h, c->staff[i], f);
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
		secmem_wipe(vs->rhash, sizeof vs->rhash);
		hub_rep_touch(vs, false);   /* its replica goes */
	}
	log_info("chat ended by %s", end_name(by, true));
}

static void ev_availability(void *ctx, struct router_staff *s)
{
	((struct hub *)ctx)->colleagues_dirty = true;
	hub_send_json(hub_staff_conn(s), json_pack("{s:s, s:b}", "type", "status", "available", s->available), NULL);
}

static void ev_request_failed(void *ctx, struct router_staff *s, struct router_chat *c,
			      enum router_offer_kind kind, enum router_offer_end why)
{
	hub_send_json(hub_staff_conn(s), json_pack("{s:s, s:o, s:s, s:s}", "type", "request_failed",
					   "chat", hub_id_json(c->id), "kind", offer_kind_name(kind),
					   "reason", offer_end_name(why)), NULL);
}

static void ev_visitor_gone(void *ctx, struct router_visitor *v)
{
	struct vsession *vs = v->owner;

	/* A chat that timed out was counted when it ended; a place in the
	 * queue that ran out is a visitor who left it. */
	hub_events_count_no_chat(ctx, vs, v->state, false);
	v->owner = NULL;
	vsession_free(vs);
}

const struct router_events hub_router_events = {
	.queue = ev_queue,
	.closed = ev_closed,
	.offer = hub_events_offer,
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

void hub_events_presence(struct router_visitor *v, bool back)
{
	struct router_chat *c = v->chat;

	if (c == NULL || v->state != ROUTER_V_CHATTING)
		return;
	for (unsigned i = 0; i < c->n_staff; i++)
		hub_send_json(hub_staff_conn(c->staff[i]), json_pack("{s:s, s:o, s:s}", "type", "presence",
				"chat", hub_id_json(c->id), "visitor", back ? "back" : "away"), NULL);
}
