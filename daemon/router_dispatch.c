/* How waiting visitors meet staff: the visitor state machine, wait
 * estimates, the per-language queues, offers and choosing a staff member. */
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

/* Waits longer than this are clipped so the estimate arithmetic cannot
 * overflow; nobody waits a day in a chat queue. */
#define MAX_SAMPLE_MS (24ull * 3600 * 1000)

static const char *const state_names[] = {
	[ROUTER_V_NEW] = "new",
	[ROUTER_V_PARKED] = "parked",
	[ROUTER_V_WAITING] = "waiting",
	[ROUTER_V_CHATTING] = "chatting",
	[ROUTER_V_ENDED] = "ended",
};

/* ---- visitor state ---- */

static bool transition_ok(enum router_visitor_state from, enum router_visitor_state to)
{
	switch (from) {
	case ROUTER_V_NEW:
	case ROUTER_V_ENDED:
		return to == ROUTER_V_PARKED || to == ROUTER_V_WAITING;
	case ROUTER_V_PARKED:
		return to == ROUTER_V_WAITING || to == ROUTER_V_ENDED;
	case ROUTER_V_WAITING:
		return to == ROUTER_V_CHATTING || to == ROUTER_V_ENDED;
	case ROUTER_V_CHATTING:
		/* Back to WAITING when its only staff member dropped. */
		return to == ROUTER_V_WAITING || to == ROUTER_V_ENDED;
	}
	return false;
}

void router_set_state(struct router_visitor *v, enum router_visitor_state to)
{
	assert(transition_ok(v->state, to));
	log_debug("router: visitor %s -> %s", state_names[v->state], state_names[to]);
	v->state = to;
}

/* ---- wait estimate ---- */

static int64_t estimate(const struct lang_state *l, unsigned position)
{
	uint64_t den, minutes;

	if (l->n_samples == 0)
		return -1;
	/* position * mean in ms, rounded up to whole minutes, at least one. */
	den = (uint64_t)l->n_samples * 60000;
	minutes = ((uint64_t)position * l->sample_sum + den - 1) / den;
	if (minutes < 1)
		minutes = 1;
	return (int64_t)minutes * 60;
}

/* Record one wait; returns whether the mean changed. */
bool router_record_sample(struct lang_state *l, uint64_t sample)
{
	uint64_t old_sum = l->sample_sum;
	unsigned old_n = l->n_samples;

	if (sample > MAX_SAMPLE_MS)
		sample = MAX_SAMPLE_MS;
	if (l->n_samples == ROUTER_WAIT_SAMPLES)
		l->sample_sum -= l->samples[l->next_sample];
	else
		l->n_samples++;
	l->samples[l->next_sample] = sample;
	l->sample_sum += sample;
	l->next_sample = (l->next_sample + 1) % ROUTER_WAIT_SAMPLES;
	return old_n == 0 || old_sum * l->n_samples != l->sample_sum * old_n;
}

/* ---- queues ---- */

/* Give the visitors from node `from` on the positions pos, pos+1, ... and
 * report those whose position or estimate changed. The cost is the number of
 * visitors walked, which callers keep to the ones that can have changed. */
void router_queue_refresh(struct router *r, struct lang_state *l, struct list *from, unsigned pos)
{
	for (struct list *n = from; n != &l->queue; n = n->next, pos++) {
		struct router_visitor *v = list_entry(n, struct router_visitor, queue_link);
		int64_t wait = estimate(l, pos);

		if (v->position == pos && v->wait_s == wait)
			continue;
		v->position = pos;
		v->wait_s = wait;
		EMIT(r, queue, v);
	}
}

/* Append v (not in any queue or parked list) to its language's queue. */
void router_queue_append(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	struct lang_state *l = &r->langs[v->lang];

	list_remove(&v->queue_link);
	list_add_tail(&l->queue, &v->queue_link);
	l->queue_len++;
	router_set_state(v, ROUTER_V_WAITING);
	v->enqueued_ms = now_ms;
	v->entry_position = l->queue_len;
	v->position = 0; /* never a real position: forces the entry report */
	router_queue_refresh(r, l, &v->queue_link, l->queue_len);
	r->dirty |= 1u << v->lang;
}

/* Take a WAITING v out of its queue (into the loose list) and report the
 * visitors behind it; all of the queue if the estimate's mean changed. */
void router_queue_leave(struct router *r, struct router_visitor *v, bool mean_changed)
{
	struct lang_state *l = &r->langs[v->lang];
	struct list *next = v->queue_link.next;
	unsigned pos = v->position;

	list_remove(&v->queue_link);
	list_add_tail(&r->loose, &v->queue_link);
	l->queue_len--;
	if (mean_changed)
		router_queue_refresh(r, l, l->queue.next, 1);
	else
		router_queue_refresh(r, l, next, pos);
}

/* ---- offers ---- */

static void offer_link(struct router *r, struct router_offer *o)
{
	struct list *pos = r->offers.prev;

	/* Every offer has the same timeout, so this is the tail unless the
	 * clock went backwards. */
	while (pos != &r->offers &&
	       list_entry(pos, struct router_offer, timeout_link)->expires_ms > o->expires_ms)
		pos = pos->prev;
	list_add_after(pos, &o->timeout_link);
	list_add_tail(&o->to->offers, &o->staff_link);
	o->to->pending_offers++;
}

/* Unlink o from every index without freeing it or reporting anything. */
void router_offer_unlink(struct router *r, struct router_offer *o)
{
	list_remove(&o->timeout_link);
	list_remove(&o->staff_link);
	o->to->pending_offers--;
	r->dirty |= o->to->langs;
	if (o->kind == ROUTER_OFFER_CHAT) {
		if (o->visitor != NULL && o->visitor->offer == o) {
			o->visitor->offer = NULL;
			r->dirty |= 1u << o->visitor->lang;
		}
	} else if (o->chat != NULL && impl_of_chat(o->chat)->request == o) {
		impl_of_chat(o->chat)->request = NULL;
	}
}

/* End o unanswered: unlink, tell the requester of a transfer or invite if
 * asked to, report offer_gone and free o. */
void router_offer_end(struct router *r, struct router_offer *o, enum router_offer_end why,
		      bool tell_requester)
{
	router_offer_unlink(r, o);
	if (tell_requester && o->kind != ROUTER_OFFER_CHAT && o->from != NULL)
		EMIT(r, request_failed, o->from, o->chat, o->kind, why);
	EMIT(r, offer_gone, o, why);
	free(o);
}

struct router_offer *router_offer_new(struct router *r, enum router_offer_kind kind,
				      struct router_visitor *v, struct router_chat *c,
				      struct router_staff *to, struct router_staff *from, uint64_t now_ms)
{
	struct router_offer *o = calloc(1, sizeof *o);

	if (o == NULL)
		return NULL;
	o->id = r->next_offer_id++;
	o->kind = kind;
	o->visitor = v;
	o->chat = c;
	o->to = to;
	o->from = from;
	o->created_ms = now_ms;
	o->expires_ms = now_ms + r->cfg.offer_timeout_ms;
	list_init(&o->staff_link);
	list_init(&o->timeout_link);
	offer_link(r, o);
	return o;
}

struct router_offer *router_offer_find(struct router_staff *s, uint64_t offer_id)
{
	struct list *n;

	list_for_each(n, &s->offers) {
		struct router_offer *o = list_entry(n, struct router_offer, staff_link);

		if (o->id == offer_id)
			return o;
	}
	return NULL;
}

/* ---- staff choice ---- */

/* Room for one more chat, offered or held. */
bool router_has_room(const struct router_staff *s)
{
	return s->open_chats + s->elsewhere + s->pending_offers < s->max_chats;
}

bool router_has_capacity(const struct router_staff *s)
{
	return s->available && !list_entry(s, struct staff_impl, pub)->quiet && router_has_room(s);
}

/* Whether a is a better choice than b by load, then longest idle, then id. */
bool router_less_busy(const struct router_staff *a, const struct router_staff *b)
{
	if (b == NULL)
		return true;
	if (a->open_chats + a->elsewhere != b->open_chats + b->elsewhere)
		return a->open_chats + a->elsewhere < b->open_chats + b->elsewhere;
	if (a->idle_since_ms != b->idle_since_ms)
		return a->idle_since_ms < b->idle_since_ms;
	return a->id < b->id;
}

static bool topic_match(const struct router_staff *s, int topic)
{
	return topic >= 0 && (s->topics >> topic) & 1;
}

static bool declined_recently(const struct router_visitor *v, const struct router_staff *s, uint64_t now_ms)
{
	for (size_t i = 0; i < sizeof v->declined / sizeof v->declined[0]; i++)
		if (v->declined[i].staff_id == s->id && v->declined[i].until_ms > now_ms)
			return true;
	return false;
}

void router_remember_decline(struct router *r, struct router_visitor *v, const struct router_staff *s,
			     uint64_t now_ms)
{
	size_t n = sizeof v->declined / sizeof v->declined[0], slot = 0;

	/* Reuse this member's entry, else the one that expires first. */
	for (size_t i = 0; i < n; i++) {
		if (v->declined[i].staff_id == s->id) {
			slot = i;
			break;
		}
		if (v->declined[i].until_ms < v->declined[slot].until_ms)
			slot = i;
	}
	v->declined[slot].staff_id = s->id;
	v->declined[slot].until_ms = now_ms + r->cfg.decline_cooldown_ms;
}

/* The best staff member for v, or NULL; *any_capacity tells whether anyone
 * speaking v's language has capacity at all. */
static struct router_staff *pick_staff(struct router *r, const struct router_visitor *v, uint64_t now_ms,
				       bool *any_capacity)
{
	struct router_staff *best = NULL;
	bool best_topic = false;
	struct list *n;

	*any_capacity = false;
	list_for_each(n, &r->staff) {
		struct router_staff *s = list_entry(n, struct router_staff, link);
		bool t;

		if (!(s->langs & (1u << v->lang)) || !router_has_capacity(s))
			continue;
		*any_capacity = true;
		if (declined_recently(v, s, now_ms))
			continue;
		t = topic_match(s, v->topic);
		if (best == NULL || (t && !best_topic) || (t == best_topic && router_less_busy(s, best))) {
			best = s;
			best_topic = t;
		}
	}
	return best;
}

/* Offer waiting visitors of lang to staff, from the head of the queue, until
 * nobody speaking lang has capacity left. */
static void dispatch_lang(struct router *r, int lang, uint64_t now_ms)
{
	struct lang_state *l = &r->langs[lang];
	struct list *n;

	list_for_each(n, &l->queue) {
		struct router_visitor *v = list_entry(n, struct router_visitor, queue_link);
		struct router_staff *s;
		bool any;

		/* A disconnected visitor keeps its place but gets no offer
		 * until it is back. */
		if (v->offer != NULL || !v->connected)
			continue;
		s = pick_staff(r, v, now_ms, &any);
		if (!any)
			return;
		if (s == NULL)
			continue;
		v->offer = router_offer_new(r, ROUTER_OFFER_CHAT, v, v->chat, s, NULL, now_ms);
		if (v->offer == NULL) {
			log_warn("router: no memory for an offer");
			return;
		}
		log_debug("router: offer %llu to staff %llu", (unsigned long long)v->offer->id,
			  (unsigned long long)s->id);
		EMIT(r, offer, v->offer);
	}
}

/* Dispatch every language something happened to during this call. */
void router_dispatch(struct router *r, uint64_t now_ms)
{
	while (r->dirty != 0 && !r->closing) {
		int lang = __builtin_ctz(r->dirty);

		r->dirty &= r->dirty - 1;
		if ((unsigned)lang < r->cfg.n_langs)
			dispatch_lang(r, lang, now_ms);
	}
	r->dirty = 0;
}
