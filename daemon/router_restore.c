/* What the router learns from the other nodes of a cluster: restoring a
 * lost node's sessions (docs/cluster.md, section 6: waiting visitors take
 * their places in ticket order, chats go on with the same id, staff and
 * seq) and the chats a staff member has elsewhere (section 3). */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "router.h"
#include "router_private.h"

struct router_staff *router_staff_find_user(struct router *r, const char *username)
{
	struct list *it;

	if (r == NULL || username == NULL)
		return NULL;
	list_for_each(it, &r->staff) {
		struct router_staff *s = list_entry(it, struct router_staff, link);
		if (strcmp(s->username, username) == 0)
			return s;
	}
	return NULL;
}

void router_staff_set_elsewhere(struct router *r, struct router_staff *s, unsigned n, uint64_t now_ms)
{
	if (r == NULL || s == NULL || s->elsewhere == n)
		return;
	s->elsewhere = n;
	r->dirty |= s->langs;
	router_dispatch(r, now_ms);
}

void router_visitor_discard(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	if (r == NULL || v == NULL)
		return;
	r->quiet = true;
	router_visitor_free(r, v, now_ms);
	r->quiet = false;
}

/* Start v's grace period now, as router_visitor_detach does. */
static void start_grace(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	struct list *pos = r->grace.prev;

	v->connected = false;
	v->grace_deadline_ms = now_ms + r->cfg.grace_ms;
	while (pos != &r->grace &&
	       list_entry(pos, struct router_visitor, grace_link)->grace_deadline_ms > v->grace_deadline_ms)
		pos = pos->prev;
	list_add_after(pos, &v->grace_link);
}

static bool fields_ok(const struct router *r, const struct router_visitor *v, int lang, int topic)
{
	return v != NULL && v->state == ROUTER_V_NEW && lang >= 0 && (unsigned)lang < r->cfg.n_langs &&
	       topic >= -1 && topic < ROUTER_MAX_TOPICS;
}

int router_visitor_restore(struct router *r, struct router_visitor *v, int lang, int topic,
			   uint64_t enqueued_ms, uint64_t now_ms)
{
	struct lang_state *l;
	struct list *pos;
	unsigned n = 0;

	if (r == NULL || v == NULL || v->state != ROUTER_V_NEW)
		return BRUG_E_CONFLICT;
	if (!fields_ok(r, v, lang, topic))
		return BRUG_E_BAD_FIELD;
	l = &r->langs[lang];
	v->lang = lang;
	v->topic = topic;
	v->wait_s = -1;
	/* From the tail back: restores come in ticket order, so this is
	 * O(1) each, and the queue stays ordered by enqueued_ms. */
	pos = l->queue.prev;
	while (pos != &l->queue && list_entry(pos, struct router_visitor, queue_link)->enqueued_ms > enqueued_ms)
		pos = pos->prev;
	for (struct list *it = l->queue.next; it != pos->next; it = it->next)
		n++;
	list_remove(&v->queue_link);
	list_add_after(pos, &v->queue_link);
	l->queue_len++;
	router_set_state(v, ROUTER_V_WAITING);
	v->enqueued_ms = enqueued_ms;
	v->entry_position = n + 1;
	v->position = 0;
	start_grace(r, v, now_ms);
	router_queue_refresh(r, l, &v->queue_link, n + 1);
	r->dirty |= 1u << lang;
	router_dispatch(r, now_ms);
	return 0;
}

struct router_chat *router_chat_restore(struct router *r, struct router_visitor *v,
					const struct router_chat_replica *cr, uint64_t now_ms)
{
	struct chat_impl *ci;
	struct router_chat *c;
	unsigned seated = 0;

	if (r == NULL || cr == NULL || cr->id == 0 || !fields_ok(r, v, cr->lang, cr->topic) ||
	    router_chat_find(r, cr->id) != NULL)
		return NULL;
	v->lang = cr->lang;
	v->topic = cr->topic;
	v->enqueued_ms = cr->enqueued_ms;
	ci = router_new_chat(r, v, now_ms);
	if (ci == NULL)
		return NULL;
	c = &ci->pub;
	router_rehash_chat(r, ci, cr->id);
	c->visitor_no = cr->visitor_no;
	c->started_ms = cr->started_ms;
	v->chat = c;
	for (unsigned i = 0; i < cr->n_staff && i < ROUTER_CHAT_MAX_STAFF; i++) {
		struct router_staff *s = cr->staff[i];
		if (s == NULL || router_chat_has_staff(c, s))
			continue;
		router_seat_staff(c, s, now_ms);
		r->dirty |= s->langs;
		seated++;
	}
	/* NEW -> WAITING -> CHATTING: the state machine's only way in. */
	router_set_state(v, ROUTER_V_WAITING);
	router_set_state(v, ROUTER_V_CHATTING);
	start_grace(r, v, now_ms);
	/* Nobody of the chat is here (yet): the visitor waits first in line
	 * with its transcript, as after its staff member dropped. */
	if (seated == 0)
		router_requeue(r, v);
	router_dispatch(r, now_ms);
	return c;
}
