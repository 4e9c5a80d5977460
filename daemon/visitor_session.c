/* Visitor sessions (prefix vsession_): hello, resume by token and the token
 * map, admission per client source, the visitor's messages, and what
 * happens to a session when its socket goes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "source_limit.h"
#include "stats.h"
#include "util/token.h"

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
void vsession_forget_token(struct vsession *vs)
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

void vsession_free(struct vsession *vs)
{
	if (vs == NULL)
		return;
	hub_rep_forget(vs);
	vsession_forget_token(vs);
	secmem_wipe(vs->rhash, sizeof vs->rhash);
	list_remove(&vs->link);
	list_remove(&vs->dirty_link);
	list_remove(&vs->src_link);
	source_limit_put(vs->hub->sources, vs->src, 1);
	if (vs->conn != NULL)
		vs->conn->vs = NULL;
	secmem_free(vs, sizeof *vs);
}

struct vsession *vsession_alloc(struct hub *h)
{
	struct vsession *vs = calloc(1, sizeof *vs);

	if (vs == NULL)
		return NULL;
	vs->hub = h;
	list_init(&vs->link);
	list_init(&vs->dirty_link);
	list_init(&vs->src_link);
	list_init(&vs->rep_link);
	vs->sid = ++h->next_sid;
	snprintf(vs->origin, sizeof vs->origin, "%s/%llu", h->cfg->node != NULL ? h->cfg->node : "",
		 (unsigned long long)vs->sid);
	vs->rv = router_visitor_new(h->router, vs);
	if (vs->rv == NULL) {
		free(vs);
		return NULL;
	}
	return vs;
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
	hub_send_json(c, msg, id);
	return 0;
}

/* Resume an earlier session on this socket (protocol "hello.resume"). */
static int visitor_resume(struct hub_conn *c, struct vsession *vs, const struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	struct router_visitor *v = vs->rv;

	/* A socket that has a session of its own may not take another: refused
	 * before anything changes, so the other socket keeps its session (issue
	 * 12: closing it here left that session attached to nothing, queued
	 * for ever). */
	if (c->vs != NULL && c->vs != vs)
		return BRUG_E_CONFLICT;
	if (vs->conn != NULL && vs->conn != c) {
		/* The same session on two sockets: the newer one wins. The old
		 * socket lets go of it first, so that its close does not start
		 * the grace of a session that lives on here. */
		struct hub_conn *old = vs->conn;
		old->vs = NULL;
		vs->conn = NULL;
		hub_close_conn(old, CLOSE_REPLACED, "replaced");
	}
	vs->conn = c;
	c->vs = vs;
	c->lang = vs->lang;
	/* A fresh token each time: a token seen on a dropped network is spent. */
	if (vsession_new_token(vs) < 0)
		return BRUG_E_INTERNAL;
	secmem_wipe(vs->rhash, sizeof vs->rhash);   /* restored: the token is known now */
	vs->epoch++;
	router_visitor_attach(h->router, v, now);
	hub_rep_touch(vs, false);
	send_welcome(c, vs, router_lang_open(h->router, v->lang), true, in->id);
	if (v->state == ROUTER_V_WAITING) {
		list_remove(&vs->dirty_link);
		hub_events_send_queue(h, v);
		vs->queue_sent_ms = now ? now : 1;
	} else if (v->state == ROUTER_V_CHATTING && v->chat != NULL) {
		for (unsigned i = 0; i < v->chat->n_staff; i++)
			hub_send_json(c, json_pack("{s:s, s:o, s:o}", "type", "joined", "chat", hub_id_json(v->chat->id),
					       "staff", hub_staff_json(v->chat->staff[i])), NULL);
		replay_send_transcript(c, v->chat, (uint64_t)in->last_seq, false);
		hub_events_presence(v, true);
	}
	log_info("c%llu visitor resumed", (unsigned long long)c->no);
	return 0;
}

/* How much a session takes of its source's waiting allowance, in halves:
 * a waiting visitor counts one, or half while its socket is gone. */
static unsigned waiting_halves(const struct vsession *vs)
{
	if (vs->rv == NULL || (vs->rv->state != ROUTER_V_WAITING && vs->rv->state != ROUTER_V_PARKED))
		return 0;
	return vs->conn != NULL ? 2 : 1;
}

/* A queued session without a socket and without a chat: it may give its
 * place to a new visitor from the same source. Ended as if its grace had
 * run out. */
static void evict_ghost(struct hub *h, struct vsession *vs, uint64_t now)
{
	struct router_visitor *v = vs->rv;

	hub_events_count_no_chat(h, vs, v->state, false);
	router_visitor_free(h->router, v, now);
	vs->rv = NULL;
	vsession_free(vs);
}

/* May a visitor from source key (self: its session, if it has one) start
 * waiting? At most [chat] max_waiting_per_source waiting sessions per
 * source, those in their grace counting half; when that is full, the
 * oldest of those make room. 0 or BRUG_E_BUSY (protocol "Errors"). */
static int source_admit(struct hub *h, const char *key, const struct vsession *self, uint64_t now)
{
	unsigned max = h->cfg->max_waiting_per_source * 2, halves = 0;
	struct source_entry *e;
	struct list *it, *tmp;
	int rc = BRUG_E_BUSY;

	if (key[0] == '\0' || max == 0)
		return 0;
	/* Our own count keeps e alive while ghosts are freed below. */
	if (source_limit_take(h->sources, key, 1, 0, &e) != 0)
		return 0;
	list_for_each(it, &e->users) {
		struct vsession *vs = list_entry(it, struct vsession, src_link);
		if (vs != self)
			halves += waiting_halves(vs);
	}
	list_for_each_safe(it, tmp, &e->users) {
		struct vsession *vs = list_entry(it, struct vsession, src_link);
		if (halves + 2 <= max)
			break;
		if (vs == self || vs->conn != NULL || vs->rv == NULL || vs->rv->state != ROUTER_V_WAITING ||
		    vs->rv->chat != NULL)
			continue;
		halves -= 1;
		evict_ghost(h, vs, now);
	}
	if (halves + 2 <= max)
		rc = 0;
	source_limit_put(h->sources, e, 1);
	return rc;
}

int vsession_on_hello(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	struct vsession *vs = c->vs;
	int lang, topic = -1, rc;
	bool open;

	if (in->resume != NULL) {
		struct vsession *old = map_find(h, in->resume);
		if (old == NULL)
			old = vsession_find_restored(h, in->resume);   /* a lost node's session */
		if (old != NULL && old->rv != NULL &&
		    (old->rv->state == ROUTER_V_WAITING || old->rv->state == ROUTER_V_CHATTING)) {
			/* A resume counts against the session's window too: a storm
			 * of resumes on fresh sockets must not relay more than one
			 * socket could (issue 12). */
			if (c->vs == NULL && (hub_rate_exceeded(now, RATE_WINDOW_MS, &old->rate.start_ms, &old->rate.count,
							    hub_rate_soft(h) * RATE_HARD_FACTOR) ||
					     old->rate.count > hub_rate_soft(h)))
				return BRUG_E_RATE_LIMITED;
			return visitor_resume(c, old, in, now);
		}
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
	if (vs != NULL && (vs->rv->state == ROUTER_V_WAITING || vs->rv->state == ROUTER_V_CHATTING))
		return BRUG_E_CONFLICT;
	/* A socket that was open before its source was blocked starts nothing
	 * new either (the same neutral answer as at the socket's open). */
	if (hub_source_blocked(h, vs != NULL && vs->src != NULL ? vs->src->key : c->src_key)) {
		log_info("c%llu hello refused", (unsigned long long)c->no);
		return BRUG_E_NOT_AVAILABLE;
	}
	if ((rc = source_admit(h, vs != NULL && vs->src != NULL ? vs->src->key : c->src_key, vs, now)) != 0) {
		log_info("c%llu hello refused: its source has too many waiting", (unsigned long long)c->no);
		return rc;
	}
	if (vs != NULL) {
		if (vs->rv->state == ROUTER_V_PARKED)
			router_visitor_end(h->router, vs->rv, false, now);
	} else {
		vs = vsession_alloc(h);
		if (vs == NULL)
			return BRUG_E_INTERNAL;
		if (c->src_key[0] != '\0' && source_limit_take(h->sources, c->src_key, 1, 0, &vs->src) == 0)
			list_add_tail(&vs->src->users, &vs->src_link);
		vs->conn = c;
		c->vs = vs;
		/* What the socket sent before counts for its session. */
		vs->rate = c->rate;
		list_add_tail(&h->sessions, &vs->link);
	}
	vs->lang = lang;
	vs->counted = false;          /* a new contact */
	vs->ticket_wall_ms = 0;       /* and a new place in the queue */
	c->lang = lang;
	if (vsession_new_token(vs) < 0)
		return BRUG_E_INTERNAL;
	open = router_lang_open(h->router, lang);
	send_welcome(c, vs, open, false, in->id);
	rc = router_visitor_start(h->router, vs->rv, lang, topic, now);
	hub_rep_touch(vs, false);
	log_info("c%llu hello lang=%s open=%d", (unsigned long long)c->no, h->cfg->langs[lang], open);
	return rc;
}


int vsession_on_msg(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_visitor *v = c->vs ? c->vs->rv : NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	/* Protocol: msg before joined is a conflict; nothing is kept for later. */
	if (v == NULL || v->state != ROUTER_V_CHATTING || v->chat == NULL)
		return BRUG_E_CONFLICT;
	rc = hub_take_text(c->hub, in, &text, &len);
	if (rc != 0)
		return rc;
	rc = hub_relay_msg(c->hub, v->chat, NULL, text, len, c, in->id);
	secmem_free(text, len);
	return rc;
}

int vsession_on_typing(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_visitor *v = c->vs ? c->vs->rv : NULL;
	struct frame *f;

	if (v == NULL || v->state != ROUTER_V_CHATTING || v->chat == NULL)
		return BRUG_E_CONFLICT;
	f = proto_frame_take(json_pack("{s:s, s:o, s:s, s:b}", "type", "typing", "chat", hub_id_json(v->chat->id),
				       "from", "visitor", "on", in->on), NULL);
	for (unsigned i = 0; i < v->chat->n_staff; i++)
		hub_send_frame(hub_staff_conn(v->chat->staff[i]), f);
	frame_unref(f);
	return 0;
}

int vsession_on_end(struct hub_conn *c, struct proto_in *in, uint64_t now)
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
	hub_events_count_no_chat(c->hub, c->vs, before, in->quick_exit);
	if (before != ROUTER_V_CHATTING) {
		/* Leaving the queue: no chat to announce, so answer directly. */
		char *text = i18n_text(c->hub->i18n, c->lang, I18N_ENDED_VISITOR);
		hub_send_json(c, json_pack("{s:s, s:s, s:s}", "type", "ended", "by", "visitor", "text", text ? text : ""),
			  in->id);
		free(text);
		vsession_forget_token(c->vs);
	}
	log_info("c%llu visitor ended%s", (unsigned long long)c->no, in->quick_exit ? " (quick exit)" : "");
	return 0;
}

/* Every way a visitor socket ends (closed by us, by the peer, replaced)
 * comes here: the session lets go of the socket, and a waiting or chatting
 * one starts its grace period; any other is over and freed. Idempotent. */
void vsession_detach(struct hub_conn *c)
{
	struct hub *h = c->hub;
	struct vsession *vs = c->vs;
	struct router_visitor *v;
	enum router_visitor_state state;

	if (c->side != PROTO_SIDE_VISITOR || vs == NULL)
		return;
	v = vs->rv;
	state = v->state;
	vs->conn = NULL;
	c->vs = NULL;
	if (router_visitor_detach(h->router, v, h->now_ms)) {
		hub_events_presence(v, false);
		return;
	}
	/* Gone for good: found nobody and left (the router freed v). */
	if (state == ROUTER_V_PARKED && !vs->counted && h->svc.stats != NULL) {
		vs->rv = NULL;
		vs->counted = true;
		stats_record(h->svc.stats, (int64_t)hub_wall_now(h), h->cfg->langs[vs->lang], NULL,
			     STATS_ARRIVED_CLOSED, -1, -1);
	}
	vsession_free(vs);
}

/* ---- visitors of other nodes (docs/cluster.md, sections 3 and 6) ---- */

bool hub_has_session_hash(struct hub *h, const char *hash)
{
	struct list *it;

	/* One hash per session: fine for the occasional resume; a second map
	 * keyed by hash would make it O(1) if resume storms after a node loss
	 * turn out to need it. */
	list_for_each(it, &h->sessions) {
		struct vsession *vs = list_entry(it, struct vsession, link);
		if (vs->rv != NULL && (vs->rv->state == ROUTER_V_WAITING || vs->rv->state == ROUTER_V_CHATTING) &&
		    vsession_hash_is(vs, hash))
			return true;
	}
	return false;
}

bool vsession_hand_over(struct hub_conn *c, const struct proto_in *in, const char *buf, size_t len)
{
	struct hub *h = c->hub;
	int lang;

	if (h->cluster == NULL || c->serve_here || c->side != PROTO_SIDE_VISITOR || in->type != PROTO_HELLO ||
	    c->vs != NULL)
		return false;
	if (in->resume != NULL) {
		/* A token this hub does not know may be another node's
		 * (section 6): the cluster asks, and hands the frame back
		 * through hub_serve_here() if nobody has it. */
		char hash[65];
		if (map_find(h, in->resume) != NULL || vsession_find_restored(h, in->resume) != NULL)
			return false;
		token_hash_hex(in->resume, hash);
		c->fwd = cluster_forward_find(h->cluster, c, hash, c->src_key, c->no);
		secmem_wipe(hash, sizeof hash);
		if (c->fwd == NULL)
			return false;
		cluster_forward_input(c->fwd, buf, len);
		return true;
	}
	/* Without "lang" the socket's negotiated language is the visitor's
	 * (protocol 6.2); the owner's connection starts with the same. */
	lang = in->lang != NULL ? config_lang_index(h->cfg, in->lang) : c->lang;
	if (lang < 0)
		return false;
	c->fwd = cluster_forward_open(h->cluster, c, h->cfg->langs[lang], c->src_key, c->no);
	if (c->fwd == NULL)
		return false;   /* owned here, or the owner is unreachable: serve it here */
	cluster_forward_input(c->fwd, buf, len);
	return true;
}
