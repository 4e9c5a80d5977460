/* Replicas across nodes (docs/cluster.md, section 6): this node's sessions
 * go to the node that would take them over, that node's replicas are kept
 * here, and when a node is lost, the sessions we hold replicas of are
 * restored into our hub. Messages on brug.v1.node.<name>:
 *   rep      a session's record {sid,o,e,h,lang,topic,tk,st,chat,cs,vno,ns,staff,full}
 *   repm     a message of its chat {sid,chat,s,ts,v,a,x}
 *   repx     the session is over {sid}
 *   represet forget every replica of the sender (it sends them anew)
 *   reptake  the sender's sessions sids are ours now: restore them (hand-over) */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "brug-build.h"
#include "cluster.h"
#include "config.h"
#include "hub.h"
#include "members.h"
#include "replica.h"
#include "router.h"
#include "util/log.h"
#include "util/secmem.h"

#include "cluster_private.h"

#if BRUG_HAVE_NATS

/* Where lang's sessions of this node are replicated: the node that takes
 * them over when we go, the owner of lang, or its backup if that is us. */
static const char *rep_target(struct cluster *cl, int lang)
{
	const char *o;

	if (cl == NULL || cl->nc == NULL || lang < 0 || (unsigned)lang >= cl->cfg->n_langs ||
	    members_count(cl->members) < 2)
		return NULL;
	o = members_owner(cl->members, cl->cfg->langs[lang], 0);
	if (o != NULL && strcmp(o, cl->cfg->node) == 0)
		o = members_owner(cl->members, cl->cfg->langs[lang], 1);
	return o;
}

static json_t *msg_json(uint64_t sid, uint64_t chat_id, const struct chat_msg *m)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:s%}", "t", "repm", "sid", (json_int_t)sid,
			      "chat", (json_int_t)chat_id, "s", (json_int_t)m->seq, "ts", (json_int_t)m->ts_ms,
			      "v", m->from_visitor, "x", m->text, m->text_len);

	if (j != NULL && m->alias != NULL)
		json_object_set_new(j, "a", json_string(m->alias));
	return j;
}

void cluster_rep_session(struct cluster *cl, const struct cluster_rep *r, bool full)
{
	const char *to = rep_target(cl, r->lang);
	const struct router_chat *c = r->chat;
	json_t *j, *staff;

	if (to == NULL)
		return;
	staff = json_array();
	for (unsigned i = 0; c != NULL && staff != NULL && i < c->n_staff; i++) {
		const struct router_staff *s = c->staff[i];
		json_array_append_new(staff, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "u", s->username,
						       "a", s->alias, "r", (json_int_t)s->roles, "l", (json_int_t)s->langs,
						       "t", (json_int_t)s->topics, "m", (json_int_t)s->max_chats,
						       "v", s->available));
	}
	j = json_pack("{s:s, s:I, s:s, s:s, s:o, s:I, s:s, s:I, s:I, s:I, s:I, s:o, s:b}", "t", "rep",
		      "sid", (json_int_t)r->sid, "h", r->token_hash, "lang", cl->cfg->langs[r->lang],
		      "topic", r->topic >= 0 && (unsigned)r->topic < cl->cfg->n_topics
				       ? json_string(cl->cfg->topics[r->topic]) : json_null(),
		      "tk", (json_int_t)r->ticket_wall_ms, "st", r->chatting ? "c" : "w",
		      "chat", (json_int_t)(c != NULL ? c->id : 0), "cs", (json_int_t)r->chat_started_wall_ms,
		      "vno", (json_int_t)(c != NULL ? c->visitor_no : 0),
		      "ns", (json_int_t)(c != NULL ? c->log.next_seq : 0), "staff", staff, "full", full);
	if (j != NULL) {
		json_object_set_new(j, "o", json_string(r->origin));
		json_object_set_new(j, "e", json_integer((json_int_t)r->epoch));
	}
	cluster_send_to(cl, to, j);
	if (!full || c == NULL)
		return;
	/* The transcript one message at a time: a message of NATS holds at
	 * most max_payload, a transcript up to CHAT_LOG_MAX_BYTES. */
	const struct chat_msg *m;
	chat_log_for_each_since(m, &c->log, 0)
		cluster_send_to(cl, to, msg_json(r->sid, c->id, m));
}

void cluster_rep_msg(struct cluster *cl, uint64_t sid, int lang, uint64_t chat_id, const struct chat_msg *m)
{
	const char *to = rep_target(cl, lang);

	if (to != NULL)
		cluster_send_to(cl, to, msg_json(sid, chat_id, m));
}

void cluster_rep_drop(struct cluster *cl, uint64_t sid, int lang)
{
	const char *to = rep_target(cl, lang);

	if (to != NULL)
		cluster_send_to(cl, to, json_pack("{s:s, s:I}", "t", "repx", "sid", (json_int_t)sid));
}

void cluster_rep_take(struct cluster *cl, int lang, const uint64_t *sids, size_t n)
{
	const char *to = rep_target(cl, lang);
	json_t *list = json_array();

	for (size_t i = 0; list != NULL && i < n; i++)
		json_array_append_new(list, json_integer((json_int_t)sids[i]));
	if (to == NULL || list == NULL) {
		json_decref(list);
		return;
	}
	cluster_send_to(cl, to, json_pack("{s:s, s:I, s:o}", "t", "reptake", "sid", (json_int_t)0, "sids", list));
}

void cluster_rep_reset(struct cluster *cl)
{
	for (unsigned i = 0; cl != NULL && cl->nc != NULL && i < members_count(cl->members); i++) {
		const char *n = members_name(cl->members, i);
		if (strcmp(n, cl->cfg->node) != 0)
			cluster_send_to(cl, n, json_pack("{s:s}", "t", "represet"));
	}
}

static int index_of(const char *const *list, unsigned n, const char *name)
{
	for (unsigned i = 0; name != NULL && i < n; i++)
		if (strcmp(list[i], name) == 0)
			return (int)i;
	return -1;
}

/* A rep/repm/repx/represet from `from` (its JSON j borrowed). */
void cluster_handle_replica(struct cluster *cl, const char *t, const char *from, json_t *j)
{
	json_int_t sid = 0;
	struct replica *rep;

	if (strcmp(t, "represet") == 0) {
		replica_drop_owner(cl->replicas, from);
		return;
	}
	if (json_unpack(j, "{s:I}", "sid", &sid) != 0)
		goto bad;
	if (strcmp(t, "reptake") == 0) {
		json_t *list = json_object_get(j, "sids"), *e;
		struct replica **reps;
		size_t i, n = 0, restored = 0;
		if (!json_is_array(list) || cl->hub == NULL)
			goto bad;
		reps = calloc(json_array_size(list) + 1, sizeof *reps);
		if (reps == NULL)
			return;
		json_array_foreach(list, i, e) {
			struct replica *r = json_is_integer(e)
				? replica_get(cl->replicas, from, (uint64_t)json_integer_value(e), false) : NULL;
			if (r != NULL)
				reps[n++] = r;
		}
		/* In ticket order, as after a loss. */
		qsort(reps, n, sizeof *reps, replica_by_ticket);
		for (i = 0; i < n; i++) {
			if (hub_restore_session(cl->hub, reps[i], cl->now_ms) == 0)
				restored++;
			replica_drop(cl->replicas, reps[i]);
		}
		free(reps);
		log_notice("cluster: took over %zu waiting visitors from node %s", restored, from);
	} else if (strcmp(t, "repx") == 0) {
		replica_drop(cl->replicas, replica_get(cl->replicas, from, (uint64_t)sid, false));
	} else if (strcmp(t, "rep") == 0) {
		const char *h = NULL, *lang = NULL, *st = NULL;
		json_t *topic = NULL, *staff = NULL, *e;
		json_int_t tk = 0, chat = 0, cs = 0, vno = 0, ns = 0;
		int full = 0, li, ti = -1;
		size_t i;
		if (json_unpack(j, "{s:s, s:s, s:o, s:I, s:s, s:I, s:I, s:I, s:I, s:o, s:b}", "h", &h, "lang", &lang,
				"topic", &topic, "tk", &tk, "st", &st, "chat", &chat, "cs", &cs, "vno", &vno, "ns", &ns,
				"staff", &staff, "full", &full) != 0 || strlen(h) != 64 || !json_is_array(staff) ||
		    (li = index_of((const char *const *)cl->cfg->langs, cl->cfg->n_langs, lang)) < 0 ||
		    (json_is_string(topic) &&
		     (ti = index_of((const char *const *)cl->cfg->topics, cl->cfg->n_topics, json_string_value(topic))) < 0))
			goto bad;
		const char *origin = NULL;
		json_int_t epoch = 0;
		if (json_unpack(j, "{s:s, s:I}", "o", &origin, "e", &epoch) != 0 || strlen(origin) >= sizeof rep->origin ||
		    epoch < 0 || epoch > UINT32_MAX)
			goto bad;
		rep = replica_get(cl->replicas, from, (uint64_t)sid, true);
		if (rep == NULL)
			return;
		snprintf(rep->origin, sizeof rep->origin, "%s", origin);
		rep->epoch = (uint32_t)epoch;
		/* After a split: our copy of this session may be the stale one. */
		hub_rep_seen(cl->hub, origin, (uint32_t)epoch, cl->now_ms);
		if (full || rep->chat_id != (uint64_t)chat)
			replica_reset_log(rep);
		memcpy(rep->token_hash, h, 65);
		rep->lang = li;
		rep->topic = ti;
		rep->enqueued_wall_ms = (uint64_t)tk;
		rep->chatting = strcmp(st, "c") == 0;
		rep->chat_id = (uint64_t)chat;
		rep->chat_started_wall_ms = (uint64_t)cs;
		rep->visitor_no = (unsigned)vno;
		rep->next_seq = (uint32_t)ns;
		rep->n_staff = 0;
		json_array_foreach(staff, i, e) {
			struct replica_staff *rs = &rep->staff[rep->n_staff];
			const char *u = NULL, *a = NULL;
			json_int_t r = 0, l = 0, tp = 0, m = 1;
			int v = 0;
			if (rep->n_staff == ROUTER_CHAT_MAX_STAFF ||
			    json_unpack(e, "{s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "u", &u, "a", &a, "r", &r, "l", &l,
					"t", &tp, "m", &m, "v", &v) != 0 ||
			    strlen(u) > REPLICA_USER_MAX || strlen(a) > REPLICA_USER_MAX)
				continue;
			strcpy(rs->user, u);
			strcpy(rs->alias, a);
			rs->roles = (uint32_t)r;
			rs->langs = (uint32_t)l;
			rs->topics = (uint64_t)tp;
			rs->max_chats = m > 0 ? (unsigned)m : 1;
			rs->available = v != 0;
			rep->n_staff++;
		}
	} else if (strcmp(t, "repm") == 0) {
		json_int_t chat = 0, seq = 0, ts = 0;
		const char *x = NULL, *a = NULL;
		size_t xlen = 0;
		int v = 0;
		if (json_unpack(j, "{s:I, s:I, s:I, s:b, s:s%, s?:s}", "chat", &chat, "s", &seq, "ts", &ts, "v", &v,
				"x", &x, &xlen, "a", &a) != 0 || seq <= 0 || seq > UINT32_MAX)
			goto bad;
		rep = replica_get(cl->replicas, from, (uint64_t)sid, false);
		if (rep == NULL || rep->chat_id != (uint64_t)chat)
			return;   /* its record comes with the whole transcript */
		if (replica_append(rep, (uint32_t)seq, v != 0, a, x, xlen, (uint64_t)ts) < 0)
			log_warn("cluster: no memory for a replica's message");
	}
	return;
bad:
	log_warn("cluster: ignoring a malformed replica message");
}

/* node is gone: the sessions we hold replicas of are served here now,
 * in ticket order, and visitors already waiting here to resume one of
 * them are served at once. */
void cluster_restore_lost(struct cluster *cl, const char *node, uint64_t now)
{
	struct replica **list = NULL;
	size_t n = 0, restored = 0;
	struct list *it, *tmp;

	if (cl->hub != NULL && replica_list_owner(cl->replicas, node, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (hub_restore_session(cl->hub, list[i], now) == 0)
				restored++;
	}
	free(list);
	replica_drop_owner(cl->replicas, node);
	if (n > 0)
		log_notice("cluster: restored %zu of %zu sessions of node %s", restored, n, node);
	list_for_each_safe(it, tmp, &cl->fwds) {
		struct cluster_fwd *f = list_entry(it, struct cluster_fwd, link);
		if (f->pending && f->hash[0] != '\0' && cl->hub != NULL && hub_has_session_hash(cl->hub, f->hash))
			f->deadline_ms = 0;
	}
	cluster_expire_pending(cl, now);
	cl->rep_resync = true;
}

/* The members changed: our replicas may belong elsewhere now. */
void cluster_rep_resync(struct cluster *cl)
{
	if (!cl->rep_resync || cl->hub == NULL)
		return;
	cl->rep_resync = false;
	cluster_rep_reset(cl);
	hub_rep_all(cl->hub);
	hub_rep_flush(cl->hub);
	/* Languages another node owns now (it joined, or we restored a
	 * restarted node's sessions): their waiting visitors go there. */
	for (unsigned i = 0; members_count(cl->members) > 1 && i < cl->cfg->n_langs; i++) {
		const char *o = members_owner(cl->members, cl->cfg->langs[i], 0);
		if (o != NULL && strcmp(o, cl->cfg->node) != 0)
			hub_hand_over_lang(cl->hub, (int)i, cl->now_ms);
	}
}

#else /* !BRUG_HAVE_NATS */

void cluster_rep_session(struct cluster *cl, const struct cluster_rep *r, bool full) { }
void cluster_rep_msg(struct cluster *cl, uint64_t sid, int lang, uint64_t chat_id, const struct chat_msg *m) { }
void cluster_rep_drop(struct cluster *cl, uint64_t sid, int lang) { }
void cluster_rep_reset(struct cluster *cl) { }

#endif
