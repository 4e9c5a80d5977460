/* Replicas of this hub's visitor sessions on another node, and restoring
 * a lost node's sessions from the replicas held here (docs/cluster.md,
 * section 6). The hub says what changed (hub_rep_touch, hub_rep_msg); the
 * cluster module carries it; the router restores it (router_restore.c). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cluster.h"
#include "common.h"
#include "hub_private.h"
#include "replica.h"
#include "util/log.h"
#include "util/secmem.h"

/* The wall clock at monotonic time mono of this hub. */
static uint64_t wall_of(const struct hub *h, uint64_t mono)
{
	uint64_t wall = hub_wall_now(h), ago = h->now_ms > mono ? h->now_ms - mono : 0;

	return wall > ago ? wall - ago : 0;
}

/* This hub's monotonic time at wall-clock time wall (in the past). */
static uint64_t mono_of(const struct hub *h, uint64_t wall)
{
	uint64_t now_wall = hub_wall_now(h), ago = now_wall > wall ? now_wall - wall : 0;

	return h->now_ms > ago ? h->now_ms - ago : 1;
}

void hub_rep_touch(struct vsession *vs, bool full)
{
	if (vs == NULL || vs->hub->cluster == NULL)
		return;
	vs->rep_full |= full;
	if (!list_linked(&vs->rep_link))
		list_add_tail(&vs->hub->rep_dirty, &vs->rep_link);
}

/* vs's replica as it is now, or its end once the session has nothing left
 * to resume. */
static void rep_send(struct hub *h, struct vsession *vs)
{
	struct router_visitor *v = vs->rv;
	bool live = v != NULL && (v->state == ROUTER_V_WAITING || v->state == ROUTER_V_CHATTING) &&
		    (vs->token[0] != '\0' || vs->rhash[0] != '\0');
	char hash[65];

	list_remove(&vs->rep_link);
	if (!live) {
		if (vs->rep_sent)
			cluster_rep_drop(h->cluster, vs->sid, vs->lang);
		vs->rep_sent = false;
		vs->rep_full = false;
		return;
	}
	if (vs->token[0] != '\0')
		token_hash_hex(vs->token, hash);
	else
		memcpy(hash, vs->rhash, sizeof hash);
	if (vs->ticket_wall_ms == 0)
		vs->ticket_wall_ms = wall_of(h, v->enqueued_ms);
	struct cluster_rep r = {
		.sid = vs->sid,
		.origin = vs->origin,
		.epoch = vs->epoch,
		.token_hash = hash,
		.lang = v->lang,
		.topic = v->topic,
		.ticket_wall_ms = vs->ticket_wall_ms,
		.chatting = v->state == ROUTER_V_CHATTING,
		.chat = v->chat,
		.chat_started_wall_ms = v->chat != NULL ? wall_of(h, v->chat->started_ms) : 0,
	};
	cluster_rep_session(h->cluster, &r, vs->rep_full);
	secmem_wipe(hash, sizeof hash);
	vs->rep_sent = true;
	vs->rep_full = false;
	vs->rep_state = v->state;
}

void hub_rep_flush(struct hub *h)
{
	while (!list_empty(&h->rep_dirty))
		rep_send(h, list_entry(h->rep_dirty.next, struct vsession, rep_link));
}

void hub_rep_msg(struct hub *h, struct router_chat *c, const struct chat_msg *m)
{
	struct vsession *vs = c->visitor != NULL ? c->visitor->owner : NULL;

	if (h->cluster == NULL || vs == NULL)
		return;
	if (list_linked(&vs->rep_link))
		rep_send(h, vs);   /* the record first: it may name a new chat */
	if (vs->rep_sent)
		cluster_rep_msg(h->cluster, vs->sid, vs->lang, c->id, m);
}

void hub_rep_forget(struct vsession *vs)
{
	list_remove(&vs->rep_link);
	if (vs->rep_sent && vs->hub->cluster != NULL)
		cluster_rep_drop(vs->hub->cluster, vs->sid, vs->lang);
	vs->rep_sent = false;
}

void hub_rep_all(struct hub *h)
{
	struct list *it;

	list_for_each(it, &h->sessions) {
		struct vsession *vs = list_entry(it, struct vsession, link);
		vs->rep_sent = false;  /* the old targets forgot it (cluster_rep_reset) */
		hub_rep_touch(vs, true);
	}
}

bool vsession_hash_is(const struct vsession *vs, const char *hash)
{
	char mine[65];
	bool same;

	if (hash == NULL || strlen(hash) != 64)
		return false;
	if (vs->token[0] == '\0')
		return vs->rhash[0] != '\0' && token_equal(vs->rhash, hash);
	token_hash_hex(vs->token, mine);
	same = token_equal(mine, hash);
	secmem_wipe(mine, sizeof mine);
	return same;
}

struct vsession *vsession_find_restored(struct hub *h, const char *token)
{
	struct vsession *found = NULL;
	struct list *it;
	char hash[65];

	if (token == NULL || strlen(token) != TOKEN_STR_LEN - 1)
		return NULL;
	token_hash_hex(token, hash);
	list_for_each(it, &h->sessions) {
		struct vsession *vs = list_entry(it, struct vsession, link);
		if (vs->token[0] == '\0' && vs->rhash[0] != '\0' && token_equal(vs->rhash, hash)) {
			found = vs;
			break;
		}
	}
	secmem_wipe(hash, sizeof hash);
	return found;
}

/* vs is a stale copy of a session that goes on elsewhere: it goes without
 * a word to its chat's staff (they are in the live copy). */
static void discard_stale(struct hub *h, struct vsession *vs, uint64_t now)
{
	struct hub_conn *c = vs->conn;

	if (c != NULL) {
		c->vs = NULL;
		vs->conn = NULL;
		hub_close_conn(c, CLOSE_REPLACED, "replaced");
	}
	router_visitor_discard(h->router, vs->rv, now);
	vs->rv = NULL;
	vsession_free(vs);
	log_notice("cluster: a stale copy of a session (resumed on another node) is gone");
}

static struct vsession *find_origin(struct hub *h, const char *origin)
{
	struct list *it;

	if (origin == NULL || origin[0] == '\0')
		return NULL;
	list_for_each(it, &h->sessions) {
		struct vsession *vs = list_entry(it, struct vsession, link);
		if (vs->rv != NULL && strcmp(vs->origin, origin) == 0)
			return vs;
	}
	return NULL;
}

void hub_rep_seen(struct hub *h, const char *origin, uint32_t epoch, uint64_t now)
{
	struct vsession *vs;

	/* Only a resumed copy can make another stale: most records are of
	 * sessions never resumed, and a membership change sends them all. */
	if (h == NULL || epoch == 0)
		return;
	h->now_ms = now;
	vs = find_origin(h, origin);
	if (vs != NULL && vs->epoch < epoch)
		discard_stale(h, vs, now);
}

/* Copy rep's transcript into c's log, keeping its seq numbers. */
static int restore_log(struct router_chat *c, const struct replica *rep)
{
	const struct chat_msg *m;

	chat_log_for_each_since(m, &rep->log, 0) {
		c->log.next_seq = m->seq;
		if (chat_log_append(&c->log, m->from_visitor, m->alias, m->text, m->text_len, m->ts_ms) == NULL)
			return BRUG_E_INTERNAL;
	}
	if (c->log.next_seq < rep->next_seq)
		c->log.next_seq = rep->next_seq;
	return 0;
}

/* The staff member of a restored chat: logged in here (on a socket of
 * ours or as another node's proxy), or else a seat kept for it in the
 * reconnect grace, which its console takes when it logs in here. */
static struct router_staff *seat_for(struct hub *h, const struct replica_staff *rs, uint64_t now)
{
	struct router_staff *s = router_staff_find_user(h->router, rs->user);
	unsigned char key[crypto_shorthash_KEYBYTES] = "brug-seat-id-v1", hash[8];
	uint64_t id = 0;

	if (s != NULL)
		return s;
	crypto_shorthash(hash, (const unsigned char *)rs->user, strlen(rs->user), key);
	memcpy(&id, hash, sizeof id);
	struct router_staff_info info = {
		.id = (id >> 2) | HUB_FOREIGN_STAFF_ID, .username = rs->user, .alias = rs->alias,
		.roles = rs->roles, .langs = rs->langs, .topics = rs->topics, .max_chats = rs->max_chats,
	};
	return ssession_placeholder(h, &info, rs->available, now);
}

int hub_restore_session(struct hub *h, const struct replica *rep, uint64_t now)
{
	struct vsession *vs;
	struct list *it;
	int rc = 0;

	h->now_ms = now;
	if (rep->lang < 0 || (unsigned)rep->lang >= h->cfg->n_langs || strlen(rep->token_hash) != 64 ||
	    rep->topic < -1 || rep->topic >= (int)h->cfg->n_topics)
		return BRUG_E_BAD_FIELD;
	list_for_each(it, &h->sessions)
		if (vsession_hash_is(list_entry(it, struct vsession, link), rep->token_hash))
			return BRUG_E_CONFLICT;   /* it resumed here already */
	/* The same session twice (a split): the copy resumed last wins. */
	if ((vs = find_origin(h, rep->origin)) != NULL) {
		if (vs->epoch >= rep->epoch)
			return BRUG_E_CONFLICT;
		discard_stale(h, vs, now);
	}
	vs = vsession_alloc(h);
	if (vs == NULL)
		return BRUG_E_INTERNAL;
	vs->lang = rep->lang;
	vs->ticket_wall_ms = rep->enqueued_wall_ms;
	memcpy(vs->origin, rep->origin, sizeof vs->origin);   /* it began there */
	vs->epoch = rep->epoch;
	memcpy(vs->rhash, rep->token_hash, sizeof vs->rhash);
	list_add_tail(&h->sessions, &vs->link);
	if (rep->chat_id != 0) {
		struct router_chat_replica cr = {
			.id = rep->chat_id, .lang = rep->lang, .topic = rep->topic, .visitor_no = rep->visitor_no,
			.enqueued_ms = mono_of(h, rep->enqueued_wall_ms),
			.started_ms = mono_of(h, rep->chat_started_wall_ms),
		};
		struct router_chat *c;
		for (unsigned i = 0; rep->chatting && i < rep->n_staff && i < ROUTER_CHAT_MAX_STAFF; i++)
			if ((cr.staff[cr.n_staff] = seat_for(h, &rep->staff[i], now)) != NULL)
				cr.n_staff++;
		c = router_chat_restore(h->router, vs->rv, &cr, now);
		if (c == NULL)
			rc = BRUG_E_CONFLICT;
		else
			rc = restore_log(c, rep);
	} else {
		rc = router_visitor_restore(h->router, vs->rv, rep->lang, rep->topic,
					    mono_of(h, rep->enqueued_wall_ms), now);
	}
	if (rc != 0) {
		router_visitor_free(h->router, vs->rv, now);
		vs->rv = NULL;
		vsession_free(vs);
		return rc;
	}
	hub_events_presence(vs->rv, false);
	hub_rep_touch(vs, true);
	log_info("restored a %s session of a lost node", vs->rv->state == ROUTER_V_CHATTING ? "chatting" : "waiting");
	return 0;
}

/* ---- hand-over to a new owner (docs/cluster.md, section 4) ---- */

static bool handed_over(const struct vsession *vs, int lang)
{
	const struct router_visitor *v = vs->rv;

	/* Waiting (also with the transcript of a chat whose volunteer
	 * dropped) and replicated at the new owner; a visitor in a chat stays
	 * where its chat is. A pending offer is withdrawn: the new owner
	 * offers it again. */
	return v != NULL && v->state == ROUTER_V_WAITING && v->lang == lang && vs->rep_sent && vs->token[0] != '\0';
}

unsigned hub_hand_over_lang(struct hub *h, int lang, uint64_t now)
{
	struct list *it, *tmp;
	uint64_t *sids;
	size_t n = 0, cap = 0;

	if (h->cluster == NULL)
		return 0;
	h->now_ms = now;
	hub_rep_flush(h);   /* the new owner holds every replica first */
	list_for_each(it, &h->sessions)
		cap += handed_over(list_entry(it, struct vsession, link), lang);
	if (cap == 0 || (sids = malloc(cap * sizeof *sids)) == NULL)
		return 0;
	list_for_each(it, &h->sessions) {
		struct vsession *vs = list_entry(it, struct vsession, link);
		if (handed_over(vs, lang))
			sids[n++] = vs->sid;
	}
	/* It restores them in ticket order before the sockets arrive. */
	cluster_rep_take(h->cluster, lang, sids, n);
	free(sids);
	/* From the back of the queue, so that those still here do not hear
	 * of places moving up in a queue they are leaving. */
	for (it = h->sessions.prev, tmp = it->prev; it != &h->sessions; it = tmp, tmp = it->prev) {
		struct vsession *vs = list_entry(it, struct vsession, link);
		struct hub_conn *c = vs->conn;
		char hello[TOKEN_STR_LEN + 48];
		int len;
		if (!handed_over(vs, lang))
			continue;
		len = snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"resume\":\"%s\"}", vs->token);
		vs->rep_sent = false;   /* it lives on there: no end to send */
		if (c != NULL) {
			c->vs = NULL;
			vs->conn = NULL;
		}
		/* Quietly: a transcript it waits with goes on there. */
		router_visitor_discard(h->router, vs->rv, now);
		vs->rv = NULL;
		vsession_free(vs);
		if (c != NULL && c->ops == &h->ops && !c->dead &&
		    (c->fwd = cluster_forward_open(h->cluster, c, h->cfg->langs[lang], c->src_key, c->no)) != NULL) {
			/* Our socket goes on through the new owner: it resumes
			 * there as if the visitor had said hello with its token. */
			cluster_forward_input(c->fwd, hello, (size_t)len);
		} else if (c != NULL) {
			/* Another node's socket: closed 1012, it comes back with
			 * its token through its home, which finds the new owner. */
			hub_close_conn(c, 1012, "owner changed");
		}
		secmem_wipe(hello, sizeof hello);
	}
	log_notice("cluster: %zu waiting visitors of %s handed over to its new owner", n, h->cfg->langs[lang]);
	return (unsigned)n;
}
