/* The router: visitors, staff availability, answering offers, chats and their
 * participants, transfer, invite, the grace period and the tick. Pure logic
 * driven by now_ms; see router.h. Queues and offers are in router_dispatch.c. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "router.h"
#include "router_private.h"
#include "util/log.h"
#include "util/secmem.h"

#define INITIAL_BUCKETS 64

/* ---- chats ---- */

static size_t bucket_of(const struct router *r, uint64_t id)
{
	/* Fibonacci hashing; n_buckets is a power of two. */
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (r->n_buckets - 1);
}

static void hash_grow(struct router *r)
{
	size_t n = r->n_buckets * 2;
	struct chat_impl **b = calloc(n, sizeof *b);
	struct chat_impl **old = r->buckets;
	size_t old_n = r->n_buckets;

	/* Without memory the chains just get longer; lookups still work. */
	if (b == NULL)
		return;
	r->buckets = b;
	r->n_buckets = n;
	for (size_t i = 0; i < old_n; i++) {
		while (old[i] != NULL) {
			struct chat_impl *ci = old[i];
			size_t k = bucket_of(r, ci->pub.id);

			old[i] = ci->hnext;
			ci->hnext = b[k];
			b[k] = ci;
		}
	}
	free(old);
}

static void hash_insert(struct router *r, struct chat_impl *ci)
{
	size_t k;

	if (r->n_chats >= r->n_buckets)
		hash_grow(r);
	k = bucket_of(r, ci->pub.id);
	ci->hnext = r->buckets[k];
	r->buckets[k] = ci;
	r->n_chats++;
}

static void hash_remove(struct router *r, struct chat_impl *ci)
{
	for (struct chat_impl **p = &r->buckets[bucket_of(r, ci->pub.id)]; *p != NULL; p = &(*p)->hnext) {
		if (*p == ci) {
			*p = ci->hnext;
			r->n_chats--;
			return;
		}
	}
}

void router_rehash_chat(struct router *r, struct chat_impl *ci, uint64_t new_id)
{
	hash_remove(r, ci);
	ci->pub.id = new_id;
	hash_insert(r, ci);
}

struct chat_impl *router_new_chat(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	struct chat_impl *ci = calloc(1, sizeof *ci);
	struct router_chat *c;

	if (ci == NULL)
		return NULL;
	c = &ci->pub;
	c->id = r->next_chat_id++;
	c->visitor = v;
	c->lang = v->lang;
	c->topic = v->topic;
	c->visitor_no = r->next_visitor_no++;
	c->started_ms = now_ms;
	chat_log_init(&c->log);
	for (size_t i = 0; i < ROUTER_CHAT_MAX_STAFF; i++) {
		list_init(&ci->seats[i].link);
		ci->seats[i].chat = ci;
	}
	list_add_tail(&r->chats, &c->link);
	hash_insert(r, ci);
	return ci;
}

void router_seat_staff(struct router_chat *c, struct router_staff *s, uint64_t now_ms)
{
	struct chat_impl *ci = impl_of_chat(c);

	assert(c->n_staff < ROUTER_CHAT_MAX_STAFF);
	c->staff[c->n_staff++] = s;
	for (size_t i = 0; i < ROUTER_CHAT_MAX_STAFF; i++) {
		if (ci->seats[i].staff == NULL) {
			ci->seats[i].staff = s;
			list_add_tail(&impl_of_staff(s)->chats, &ci->seats[i].link);
			break;
		}
	}
	s->open_chats++;
	s->idle_since_ms = now_ms;
}

/* Take s out of c's staff (join order kept); does not touch open_chats. */
static void unseat_staff(struct router_chat *c, struct router_staff *s)
{
	struct chat_impl *ci = impl_of_chat(c);
	unsigned i, j;

	for (i = 0; i < c->n_staff && c->staff[i] != s; i++)
		;
	if (i == c->n_staff)
		return;
	for (j = i + 1; j < c->n_staff; j++)
		c->staff[j - 1] = c->staff[j];
	c->staff[--c->n_staff] = NULL;
	for (i = 0; i < ROUTER_CHAT_MAX_STAFF; i++) {
		if (ci->seats[i].staff == s) {
			list_remove(&ci->seats[i].link);
			ci->seats[i].staff = NULL;
			break;
		}
	}
}

/* End c: report, release its staff, withdraw its request, detach its
 * visitor, wipe the transcript and free it. */
static void end_chat(struct router *r, struct router_chat *c, enum router_end by, uint64_t now_ms)
{
	struct chat_impl *ci = impl_of_chat(c);
	struct router_visitor *v = c->visitor;

	log_debug("router: chat %llu ended (%d)", (unsigned long long)c->id, (int)by);
	if (!r->quiet)
		EMIT(r, ended, c, by);
	while (c->n_staff > 0) {
		struct router_staff *s = c->staff[c->n_staff - 1];

		unseat_staff(c, s);
		s->open_chats--;
		s->idle_since_ms = now_ms;
		r->dirty |= s->langs;
	}
	if (ci->request != NULL)
		router_offer_end(r, ci->request, ROUTER_OFFER_WITHDRAWN, false);
	if (v != NULL) {
		v->chat = NULL;
		/* A requeued visitor's offer carries the chat along. */
		if (v->offer != NULL && v->offer->chat == c)
			v->offer->chat = NULL;
		if (v->state == ROUTER_V_CHATTING)
			router_set_state(v, ROUTER_V_ENDED);
	}
	chat_log_wipe(&c->log);
	list_remove(&c->link);
	hash_remove(r, ci);
	secmem_free(ci, sizeof *ci);
}

/* v's only staff member left: v goes back to the head of its queue with its
 * chat (and transcript), keeping enqueued_ms. */
void router_requeue(struct router *r, struct router_visitor *v)
{
	struct lang_state *l = &r->langs[v->lang];

	router_set_state(v, ROUTER_V_WAITING);
	list_remove(&v->queue_link);
	list_add_head(&l->queue, &v->queue_link);
	l->queue_len++;
	v->entry_position = 1;
	v->position = 0; /* forces its report */
	EMIT(r, requeued, v);
	router_queue_refresh(r, l, l->queue.next, 1);
	r->dirty |= 1u << v->lang;
}

/* ---- visitor teardown ---- */

/* Take v out of its queue or parked list and end whatever it holds: a
 * pending offer is withdrawn, a chat (live or requeued) ends with `by`. v is
 * left in the loose list, ENDED unless it was NEW or ENDED already. */
static void release_visitor(struct router *r, struct router_visitor *v, enum router_end by, uint64_t now_ms)
{
	if (v->offer != NULL)
		router_offer_end(r, v->offer, ROUTER_OFFER_WITHDRAWN, false);
	switch (v->state) {
	case ROUTER_V_WAITING:
		router_queue_leave(r, v, false);
		router_set_state(v, ROUTER_V_ENDED);
		break;
	case ROUTER_V_PARKED:
		list_remove(&v->queue_link);
		list_add_tail(&r->loose, &v->queue_link);
		router_set_state(v, ROUTER_V_ENDED);
		break;
	default:
		break;
	}
	if (v->chat != NULL)
		end_chat(r, v->chat, by, now_ms);
}

static void destroy_visitor(struct router_visitor *v)
{
	list_remove(&v->queue_link);
	list_remove(&v->grace_link);
	free(v);
}

/* ---- staff helpers ---- */

static void open_langs(struct router *r, struct router_staff *s, uint64_t now_ms)
{
	for (unsigned lang = 0; lang < r->cfg.n_langs; lang++) {
		struct lang_state *l = &r->langs[lang];

		if (!(s->langs & (1u << lang)) || l->n_available++ > 0)
			continue;
		/* The language opens: its parked visitors enter the queue in
		 * the order they came. */
		while (!list_empty(&l->parked)) {
			struct router_visitor *v = list_entry(l->parked.next, struct router_visitor, queue_link);

			router_queue_append(r, v, now_ms);
		}
	}
	r->dirty |= s->langs;
}

static void close_langs(struct router *r, struct router_staff *s)
{
	for (unsigned lang = 0; lang < r->cfg.n_langs; lang++)
		if (s->langs & (1u << lang))
			r->langs[lang].n_available--;
}

/* s stops being available (if it was). Its pending CHAT offers are
 * withdrawn; with all_offers (a lapse, or s leaving) its transfer and invite
 * offers too, and their requesters are told. */
static void make_unavailable(struct router *r, struct router_staff *s, bool all_offers, bool report)
{
	struct list *n, *tmp;

	if (s->available) {
		s->available = false;
		close_langs(r, s);
		if (report)
			EMIT(r, availability, s);
	}
	list_for_each_safe(n, tmp, &s->offers) {
		struct router_offer *o = list_entry(n, struct router_offer, staff_link);

		if (o->kind == ROUTER_OFFER_CHAT || all_offers)
			router_offer_end(r, o, ROUTER_OFFER_WITHDRAWN, true);
	}
}

/* An offer nobody answered in time. */
static void offer_lapse(struct router *r, struct router_offer *o)
{
	struct router_staff *s = o->to;

	log_debug("router: offer %llu lapsed", (unsigned long long)o->id);
	router_offer_end(r, o, ROUTER_OFFER_LAPSED, true);
	make_unavailable(r, s, true, true);
}

static bool name_is(const struct router_staff *s, const char *name)
{
	return name[0] != '\0' && (strcmp(s->username, name) == 0 || strcmp(s->alias, name) == 0);
}

/* The staff member a transfer or invite of c by req goes to, or NULL. */
static struct router_staff *pick_target(struct router *r, struct router_chat *c, struct router_staff *req,
					const struct router_target *to, bool transfer)
{
	struct router_staff *best = NULL;
	struct list *n;

	list_for_each(n, &r->staff) {
		struct router_staff *s = list_entry(n, struct router_staff, link);

		/* A colleague asked for by name may be "not taking new chats" and
		 * still join (a professional called in); by role, only the
		 * available are asked. Room is needed either way. */
		if (s == req || router_chat_has_staff(c, s) || !(to->user != NULL ? router_has_room(s) : router_has_capacity(s)))
			continue;
		if (to->user != NULL ? !name_is(s, to->user) : (to->roles != 0 && !(s->roles & to->roles)))
			continue;
		if (transfer && !(s->langs & (1u << c->lang)))
			continue;
		if (router_less_busy(s, best))
			best = s;
	}
	return best;
}

/* Look up chat_id for s: the chat, or a BRUG_E_* code in *err. */
static struct router_chat *member_chat(struct router *r, struct router_staff *s, uint64_t chat_id, int *err)
{
	struct router_chat *c = router_chat_find(r, chat_id);

	*err = 0;
	if (c == NULL)
		*err = BRUG_E_NOT_FOUND;
	else if (!router_chat_has_staff(c, s))
		*err = BRUG_E_FORBIDDEN;
	return *err == 0 ? c : NULL;
}

static int request(struct router *r, struct router_staff *s, uint64_t chat_id, const struct router_target *to,
		   enum router_offer_kind kind, uint64_t now_ms)
{
	struct router_chat *c;
	struct chat_impl *ci;
	struct router_staff *target;
	int err;

	if (r == NULL || s == NULL)
		return -EINVAL;
	if (to == NULL)
		return BRUG_E_BAD_FIELD;
	c = member_chat(r, s, chat_id, &err);
	if (c == NULL)
		return err;
	ci = impl_of_chat(c);
	if (ci->request != NULL)
		return BRUG_E_CONFLICT;
	if (kind == ROUTER_OFFER_INVITE && c->n_staff >= ROUTER_CHAT_MAX_STAFF)
		return BRUG_E_CONFLICT;
	target = pick_target(r, c, s, to, kind == ROUTER_OFFER_TRANSFER);
	if (target == NULL)
		return BRUG_E_NOT_FOUND;
	ci->request = router_offer_new(r, kind, c->visitor, c, target, s, now_ms);
	if (ci->request == NULL)
		return -ENOMEM;
	EMIT(r, offer, ci->request);
	return 0;
}

/* ---- public: router ---- */

struct router *router_new(const struct router_config *cfg, const struct router_events *ev, void *ctx)
{
	struct router *r;

	if (cfg == NULL || cfg->n_langs == 0 || cfg->n_langs > ROUTER_MAX_LANGS)
		return NULL;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->buckets = calloc(INITIAL_BUCKETS, sizeof *r->buckets);
	if (r->buckets == NULL)
		goto fail_router;
	r->n_buckets = INITIAL_BUCKETS;
	r->cfg = *cfg;
	if (ev != NULL)
		r->ev = *ev;
	r->ctx = ctx;
	for (size_t i = 0; i < ROUTER_MAX_LANGS; i++) {
		list_init(&r->langs[i].queue);
		list_init(&r->langs[i].parked);
	}
	list_init(&r->loose);
	list_init(&r->grace);
	list_init(&r->staff);
	list_init(&r->offers);
	list_init(&r->chats);
	r->next_offer_id = cfg->id_base + 1;
	r->next_chat_id = cfg->id_base + 1;
	r->next_visitor_no = 1;
	return r;

fail_router:
	free(r);
	return NULL;
}

void router_set_timeouts(struct router *r, uint64_t offer_timeout_ms, uint64_t grace_ms)
{
	/* The offer and grace lists are kept in deadline order by a sorted
	 * insert, so a changed time keeps them ordered. */
	if (r == NULL)
		return;
	r->cfg.offer_timeout_ms = offer_timeout_ms;
	r->cfg.grace_ms = grace_ms;
}

static void free_visitors(struct list *head)
{
	while (!list_empty(head))
		destroy_visitor(list_entry(head->next, struct router_visitor, queue_link));
}

void router_free(struct router *r, uint64_t now_ms)
{
	if (r == NULL)
		return;
	r->closing = true;
	while (!list_empty(&r->chats))
		end_chat(r, list_entry(r->chats.next, struct router_chat, link), ROUTER_END_SHUTDOWN, now_ms);
	while (!list_empty(&r->offers)) {
		struct router_offer *o = list_entry(r->offers.next, struct router_offer, timeout_link);

		router_offer_unlink(r, o);
		free(o);
	}
	for (size_t i = 0; i < ROUTER_MAX_LANGS; i++) {
		free_visitors(&r->langs[i].queue);
		free_visitors(&r->langs[i].parked);
	}
	free_visitors(&r->loose);
	while (!list_empty(&r->staff)) {
		struct router_staff *s = list_entry(r->staff.next, struct router_staff, link);

		list_remove(&s->link);
		secmem_free_str(s->username);
		secmem_free_str(s->alias);
		free(impl_of_staff(s));
	}
	free(r->buckets);
	free(r);
}

/* ---- public: visitors ---- */

struct router_visitor *router_visitor_new(struct router *r, void *owner)
{
	struct router_visitor *v;

	if (r == NULL)
		return NULL;
	v = calloc(1, sizeof *v);
	if (v == NULL)
		return NULL;
	v->owner = owner;
	v->state = ROUTER_V_NEW;
	v->lang = -1;
	v->topic = -1;
	v->connected = true;
	v->wait_s = -1;
	list_init(&v->grace_link);
	list_add_tail(&r->loose, &v->queue_link);
	return v;
}

int router_visitor_start(struct router *r, struct router_visitor *v, int lang, int topic, uint64_t now_ms)
{
	if (r == NULL || v == NULL)
		return -EINVAL;
	if (lang < 0 || (unsigned)lang >= r->cfg.n_langs || topic < -1 || topic >= ROUTER_MAX_TOPICS)
		return BRUG_E_BAD_FIELD;
	if (v->state != ROUTER_V_NEW && v->state != ROUTER_V_ENDED)
		return BRUG_E_CONFLICT;
	v->lang = lang;
	v->topic = topic;
	v->position = 0;
	v->wait_s = -1;
	memset(v->declined, 0, sizeof v->declined);
	if (router_lang_open(r, lang)) {
		router_queue_append(r, v, now_ms);
		router_dispatch(r, now_ms);
		return 0;
	}
	router_set_state(v, ROUTER_V_PARKED);
	list_remove(&v->queue_link);
	list_add_tail(&r->langs[lang].parked, &v->queue_link);
	EMIT(r, closed, v);
	return 0;
}

bool router_visitor_detach(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	struct list *pos;

	if (r == NULL || v == NULL)
		return false;
	if (v->state != ROUTER_V_WAITING && v->state != ROUTER_V_CHATTING) {
		router_visitor_free(r, v, now_ms);
		return false;
	}
	if (!v->connected)
		return true;
	v->connected = false;
	v->grace_deadline_ms = now_ms + r->cfg.grace_ms;
	/* Same grace for everyone: the tail, unless the clock went back. */
	pos = r->grace.prev;
	while (pos != &r->grace &&
	       list_entry(pos, struct router_visitor, grace_link)->grace_deadline_ms > v->grace_deadline_ms)
		pos = pos->prev;
	list_add_after(pos, &v->grace_link);
	return true;
}

void router_visitor_attach(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	if (r == NULL || v == NULL || v->connected)
		return;
	list_remove(&v->grace_link);
	v->connected = true;
	if (v->state == ROUTER_V_WAITING)
		r->dirty |= 1u << v->lang;
	router_dispatch(r, now_ms);
}

int router_visitor_end(struct router *r, struct router_visitor *v, bool quick_exit, uint64_t now_ms)
{
	if (r == NULL || v == NULL)
		return -EINVAL;
	if (v->state == ROUTER_V_NEW || v->state == ROUTER_V_ENDED)
		return BRUG_E_CONFLICT;
	release_visitor(r, v, quick_exit ? ROUTER_END_QUICK_EXIT : ROUTER_END_VISITOR, now_ms);
	router_dispatch(r, now_ms);
	return 0;
}

void router_visitor_free(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	if (r == NULL || v == NULL)
		return;
	release_visitor(r, v, ROUTER_END_VISITOR, now_ms);
	destroy_visitor(v);
	router_dispatch(r, now_ms);
}

/* ---- public: staff ---- */

struct router_staff *router_staff_add(struct router *r, void *owner, const struct router_staff_info *info,
				      uint64_t now_ms)
{
	struct staff_impl *si;
	struct router_staff *s;

	if (r == NULL || info == NULL)
		return NULL;
	si = calloc(1, sizeof *si);
	if (si == NULL)
		return NULL;
	s = &si->pub;
	s->username = secmem_strdup(info->username != NULL ? info->username : "");
	if (s->username == NULL)
		goto fail_staff;
	s->alias = secmem_strdup(info->alias != NULL ? info->alias : "");
	if (s->alias == NULL)
		goto fail_username;
	s->owner = owner;
	s->id = info->id;
	s->roles = info->roles;
	/* Bits past the configured languages would index nothing. */
	s->langs = info->langs & (uint32_t)((1ull << r->cfg.n_langs) - 1);
	s->topics = info->topics;
	s->max_chats = info->max_chats > 0 ? info->max_chats : 1;
	s->idle_since_ms = now_ms;
	list_init(&s->offers);
	list_init(&si->chats);
	list_add_tail(&r->staff, &s->link);
	return s;

fail_username:
	secmem_free_str(s->username);
fail_staff:
	free(si);
	return NULL;
}

struct router_staff *router_staff_find_id(struct router *r, uint64_t id)
{
	struct list *n;

	if (r == NULL)
		return NULL;
	list_for_each(n, &r->staff) {
		struct router_staff *s = list_entry(n, struct router_staff, link);

		if (s->id == id)
			return s;
	}
	return NULL;
}

void router_staff_remove(struct router *r, struct router_staff *s, uint64_t now_ms)
{
	struct staff_impl *si;

	if (r == NULL || s == NULL)
		return;
	si = impl_of_staff(s);
	/* Leaving quietly: no availability event for someone who is gone. */
	make_unavailable(r, s, true, false);
	/* Transfers and invites it asked for die with it; they can only be
	 * in chats it is in. */
	for (struct list *n = si->chats.next; n != &si->chats; n = n->next) {
		struct chat_impl *ci = list_entry(n, struct seat, link)->chat;

		if (ci->request != NULL && ci->request->from == s)
			router_offer_end(r, ci->request, ROUTER_OFFER_WITHDRAWN, false);
	}
	while (!list_empty(&si->chats)) {
		struct router_chat *c = &list_entry(si->chats.next, struct seat, link)->chat->pub;

		unseat_staff(c, s);
		s->open_chats--;
		if (c->n_staff > 0) {
			EMIT(r, left, c, s, ROUTER_LEAVE_DROPPED);
		} else if (c->visitor != NULL) {
			log_debug("router: chat %llu requeued", (unsigned long long)c->id);
			router_requeue(r, c->visitor);
		}
	}
	list_remove(&s->link);
	router_dispatch(r, now_ms);
	secmem_free_str(s->username);
	secmem_free_str(s->alias);
	free(si);
}

void router_staff_update(struct router *r, struct router_staff *s, const struct router_staff_info *info,
			 uint64_t now_ms)
{
	bool was_available;

	if (r == NULL || s == NULL || info == NULL)
		return;
	was_available = s->available;
	/* As if it went unavailable and back: its old languages close, its
	 * chat offers go (they may come again below if they still fit). */
	r->dirty |= s->langs;
	make_unavailable(r, s, false, false);
	s->roles = info->roles;
	s->langs = info->langs & (uint32_t)((1ull << r->cfg.n_langs) - 1);
	s->topics = info->topics;
	s->max_chats = info->max_chats > 0 ? info->max_chats : 1;
	if (was_available) {
		s->available = true;
		open_langs(r, s, now_ms);
	}
	router_dispatch(r, now_ms);
}

void router_staff_set_available(struct router *r, struct router_staff *s, bool available, uint64_t now_ms)
{
	if (r == NULL || s == NULL || s->available == available)
		return;
	if (available) {
		s->available = true;
		s->idle_since_ms = now_ms;
		open_langs(r, s, now_ms);
	} else {
		make_unavailable(r, s, false, false);
	}
	router_dispatch(r, now_ms);
}

int router_offer_accept(struct router *r, struct router_staff *s, uint64_t offer_id, uint64_t now_ms)
{
	struct router_offer *o;
	struct router_visitor *v;
	struct router_chat *c;
	struct router_staff *from;
	enum router_offer_kind kind;
	bool transfer;

	if (r == NULL || s == NULL)
		return -EINVAL;
	o = router_offer_find(s, offer_id);
	if (o == NULL)
		return BRUG_E_NOT_FOUND;
	v = o->visitor;

	if (o->kind == ROUTER_OFFER_CHAT) {
		struct lang_state *l = &r->langs[v->lang];
		bool mean_changed = false;

		c = v->chat;
		if (c == NULL) {
			/* Allocate before changing anything, so no memory
			 * leaves the offer pending as it was. */
			struct chat_impl *ci = router_new_chat(r, v, now_ms);

			if (ci == NULL)
				return -ENOMEM;
			c = &ci->pub;
			v->chat = c;
			/* A requeued visitor's wait includes its earlier chat,
			 * which says nothing about the queue. */
			mean_changed = router_record_sample(l, (now_ms - v->enqueued_ms) /
						     (v->entry_position > 0 ? v->entry_position : 1));
		}
		router_offer_unlink(r, o);
		free(o);
		router_queue_leave(r, v, mean_changed);
		router_set_state(v, ROUTER_V_CHATTING);
		router_seat_staff(c, s, now_ms);
		log_debug("router: chat %llu joined by staff %llu", (unsigned long long)c->id,
			  (unsigned long long)s->id);
		EMIT(r, joined, c, s);
		router_dispatch(r, now_ms);
		return 0;
	}

	/* A transfer or invite: the chat is live, since an ending chat or a
	 * leaving requester withdraws its request. */
	kind = o->kind;
	c = o->chat;
	from = o->from;
	transfer = kind == ROUTER_OFFER_TRANSFER && from != NULL && router_chat_has_staff(c, from);
	if (router_chat_has_staff(c, s) || (c->n_staff >= ROUTER_CHAT_MAX_STAFF && !transfer)) {
		router_offer_end(r, o, ROUTER_OFFER_WITHDRAWN, true);
		router_dispatch(r, now_ms);
		return BRUG_E_CONFLICT;
	}
	router_offer_unlink(r, o);
	free(o);
	if (transfer && c->n_staff >= ROUTER_CHAT_MAX_STAFF) {
		/* Out of a full chat the requester makes room first. */
		unseat_staff(c, from);
		router_seat_staff(c, s, now_ms);
		EMIT(r, joined, c, s);
	} else {
		router_seat_staff(c, s, now_ms);
		EMIT(r, joined, c, s);
		if (transfer)
			unseat_staff(c, from);
	}
	if (transfer) {
		from->open_chats--;
		r->dirty |= from->langs;
		EMIT(r, left, c, from, ROUTER_LEAVE_TRANSFERRED);
	}
	router_dispatch(r, now_ms);
	return 0;
}

int router_offer_decline(struct router *r, struct router_staff *s, uint64_t offer_id, uint64_t now_ms)
{
	struct router_offer *o;

	if (r == NULL || s == NULL)
		return -EINVAL;
	o = router_offer_find(s, offer_id);
	if (o == NULL)
		return BRUG_E_NOT_FOUND;
	if (o->kind == ROUTER_OFFER_CHAT)
		router_remember_decline(r, o->visitor, s, now_ms);
	router_offer_end(r, o, ROUTER_OFFER_DECLINED, true);
	router_dispatch(r, now_ms);
	return 0;
}

/* ---- public: chats ---- */

struct router_chat *router_chat_find(struct router *r, uint64_t chat_id)
{
	if (r == NULL)
		return NULL;
	for (struct chat_impl *ci = r->buckets[bucket_of(r, chat_id)]; ci != NULL; ci = ci->hnext)
		if (ci->pub.id == chat_id)
			return &ci->pub;
	return NULL;
}

bool router_chat_has_staff(const struct router_chat *c, const struct router_staff *s)
{
	if (c == NULL || s == NULL)
		return false;
	for (unsigned i = 0; i < c->n_staff; i++)
		if (c->staff[i] == s)
			return true;
	return false;
}

int router_transfer(struct router *r, struct router_staff *s, uint64_t chat_id,
		    const struct router_target *to, uint64_t now_ms)
{
	return request(r, s, chat_id, to, ROUTER_OFFER_TRANSFER, now_ms);
}

int router_invite(struct router *r, struct router_staff *s, uint64_t chat_id,
		  const struct router_target *to, uint64_t now_ms)
{
	return request(r, s, chat_id, to, ROUTER_OFFER_INVITE, now_ms);
}

int router_chat_end(struct router *r, struct router_staff *s, uint64_t chat_id, uint64_t now_ms)
{
	struct router_chat *c;
	int err;

	if (r == NULL || s == NULL)
		return -EINVAL;
	c = member_chat(r, s, chat_id, &err);
	if (c == NULL)
		return err;
	end_chat(r, c, ROUTER_END_STAFF, now_ms);
	router_dispatch(r, now_ms);
	return 0;
}

/* ---- public: time and state ---- */

bool router_lang_open(const struct router *r, int lang)
{
	if (r == NULL || lang < 0 || (unsigned)lang >= r->cfg.n_langs)
		return false;
	return r->langs[lang].n_available > 0;
}

unsigned router_queue_length(const struct router *r, int lang)
{
	if (r == NULL || lang < 0 || (unsigned)lang >= r->cfg.n_langs)
		return 0;
	return r->langs[lang].queue_len;
}

void router_tick(struct router *r, uint64_t now_ms)
{
	if (r == NULL)
		return;
	/* Each expiry may end other offers (a lapse withdraws the member's
	 * other offers), so always look at the current head. */
	while (!list_empty(&r->offers)) {
		struct router_offer *o = list_entry(r->offers.next, struct router_offer, timeout_link);

		if (o->expires_ms > now_ms)
			break;
		offer_lapse(r, o);
	}
	while (!list_empty(&r->grace)) {
		struct router_visitor *v = list_entry(r->grace.next, struct router_visitor, grace_link);

		if (v->grace_deadline_ms > now_ms)
			break;
		list_remove(&v->grace_link);
		release_visitor(r, v, ROUTER_END_TIMEOUT, now_ms);
		EMIT(r, visitor_gone, v);
		destroy_visitor(v);
	}
	/* Every language: decline cooldowns run out and offers that found no
	 * memory are retried. A walk stops as soon as nobody speaking the
	 * language has capacity, so this stays O(offers made). */
	r->dirty = (uint32_t)((1ull << r->cfg.n_langs) - 1);
	router_dispatch(r, now_ms);
}

uint64_t router_staff_next_chat(struct router *r, const struct router_staff *s, uint64_t after)
{
	const struct staff_impl *si = list_entry(s, struct staff_impl, pub);
	bool found = after == 0;
	struct list *it;

	(void)r;
	list_for_each(it, &si->chats) {
		const struct seat *seat = list_entry(it, struct seat, link);
		if (found)
			return seat->chat->pub.id;
		if (seat->chat->pub.id == after)
			found = true;
	}
	return 0;
}

void router_end_all(struct router *r, uint64_t now_ms)
{
	/* closing stops dispatch, so no new offer follows the shutdown. */
	r->closing = true;
	while (!list_empty(&r->chats))
		end_chat(r, list_entry(r->chats.next, struct router_chat, link), ROUTER_END_SHUTDOWN, now_ms);
}

void router_lang_stats(const struct router *r, struct router_lang_stats *out, unsigned n)
{
	const struct list *it;

	memset(out, 0, n * sizeof *out);
	for (unsigned l = 0; l < n && l < ROUTER_MAX_LANGS; l++) {
		const struct lang_state *ls = &r->langs[l];
		out[l].waiting = ls->queue_len;
		if (!list_empty(&ls->queue))
			out[l].oldest_enqueued_ms =
				list_entry(ls->queue.next, struct router_visitor, queue_link)->enqueued_ms;
	}
	list_for_each(it, &r->chats) {
		const struct router_chat *c = list_entry(it, struct router_chat, link);
		if ((unsigned)c->lang < n)
			out[c->lang].chats++;
	}
	list_for_each(it, &r->offers) {
		const struct router_offer *o = list_entry(it, struct router_offer, timeout_link);
		int lang = o->chat != NULL ? o->chat->lang : o->visitor != NULL ? o->visitor->lang : -1;
		if (lang >= 0 && (unsigned)lang < n)
			out[lang].offers++;
	}
}

void router_staff_set_quiet(struct router *r, struct router_staff *s, bool quiet, uint64_t now_ms)
{
	struct staff_impl *si = impl_of_staff(s);

	if (si->quiet == quiet)
		return;
	si->quiet = quiet;
	if (!quiet) {
		/* Offers may come again. */
		r->dirty |= s->langs;
		router_dispatch(r, now_ms);
	}
}
