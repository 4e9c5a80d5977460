/* The router: per-language queues, staff availability and capacity, offers
 * and their timeouts, chats and their participants, transfer, invite and the
 * visitor's grace period. Pure logic driven by now_ms; see router.h. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "router.h"
#include "util/log.h"
#include "util/secmem.h"

/* A seat links a chat to one of its staff members, so a staff member's chats
 * can be walked without scanning every chat. */
struct seat {
	struct list link;           /* in staff_impl.chats while used */
	struct chat_impl *chat;
	struct router_staff *staff; /* NULL: free seat */
};

/* The router's private view of a chat around the public struct. */
struct chat_impl {
	struct router_chat pub;
	struct router_offer *request; /* the pending transfer or invite, at most one */
	struct chat_impl *hnext;      /* next in the id hash bucket */
	struct seat seats[ROUTER_CHAT_MAX_STAFF];
};

/* The router's private view of a staff member around the public struct. */
struct staff_impl {
	struct router_staff pub;
	bool quiet;                   /* end of shift: no new chat offers */
	struct list chats;            /* struct seat.link */
};

struct lang_state {
	struct list queue;            /* WAITING visitors, head first */
	unsigned queue_len;
	struct list parked;           /* PARKED visitors, in park order */
	unsigned n_available;         /* available staff speaking it */
	/* Ring of recent waits per queue position, for the estimate. */
	uint64_t samples[ROUTER_WAIT_SAMPLES];
	unsigned n_samples, next_sample;
	uint64_t sample_sum;
};

struct router {
	struct router_config cfg;
	struct router_events ev;
	void *ctx;
	struct lang_state langs[ROUTER_MAX_LANGS];
	struct list loose;            /* visitors NEW, CHATTING or ENDED (queue_link) */
	struct list grace;            /* disconnected visitors, deadline order (grace_link) */
	struct list staff;            /* router_staff.link */
	struct list offers;           /* router_offer.timeout_link, expiry order */
	struct list chats;            /* router_chat.link */
	struct chat_impl **buckets;   /* chat id hash, chained */
	size_t n_buckets, n_chats;
	uint64_t next_offer_id, next_chat_id;
	unsigned next_visitor_no;
	uint32_t dirty;               /* languages to dispatch before returning */
	bool closing;                 /* router_free: no more offers */
};

#define INITIAL_BUCKETS 64
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

static struct chat_impl *impl_of_chat(struct router_chat *c)
{
	return list_entry(c, struct chat_impl, pub);
}

static struct staff_impl *impl_of_staff(struct router_staff *s)
{
	return list_entry(s, struct staff_impl, pub);
}

#define EMIT(r, name, ...)                                    \
	do {                                                  \
		if ((r)->ev.name != NULL)                     \
			(r)->ev.name((r)->ctx, __VA_ARGS__);  \
	} while (0)

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

static void set_state(struct router_visitor *v, enum router_visitor_state to)
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
static bool record_sample(struct lang_state *l, uint64_t sample)
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
static void queue_refresh(struct router *r, struct lang_state *l, struct list *from, unsigned pos)
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
static void queue_append(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	struct lang_state *l = &r->langs[v->lang];

	list_remove(&v->queue_link);
	list_add_tail(&l->queue, &v->queue_link);
	l->queue_len++;
	set_state(v, ROUTER_V_WAITING);
	v->enqueued_ms = now_ms;
	v->entry_position = l->queue_len;
	v->position = 0; /* never a real position: forces the entry report */
	queue_refresh(r, l, &v->queue_link, l->queue_len);
	r->dirty |= 1u << v->lang;
}

/* Take a WAITING v out of its queue (into the loose list) and report the
 * visitors behind it; all of the queue if the estimate's mean changed. */
static void queue_leave(struct router *r, struct router_visitor *v, bool mean_changed)
{
	struct lang_state *l = &r->langs[v->lang];
	struct list *next = v->queue_link.next;
	unsigned pos = v->position;

	list_remove(&v->queue_link);
	list_add_tail(&r->loose, &v->queue_link);
	l->queue_len--;
	if (mean_changed)
		queue_refresh(r, l, l->queue.next, 1);
	else
		queue_refresh(r, l, next, pos);
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
static void offer_unlink(struct router *r, struct router_offer *o)
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
static void offer_end(struct router *r, struct router_offer *o, enum router_offer_end why,
		      bool tell_requester)
{
	offer_unlink(r, o);
	if (tell_requester && o->kind != ROUTER_OFFER_CHAT && o->from != NULL)
		EMIT(r, request_failed, o->from, o->chat, o->kind, why);
	EMIT(r, offer_gone, o, why);
	free(o);
}

static struct router_offer *offer_new(struct router *r, enum router_offer_kind kind,
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

static struct router_offer *offer_find(struct router_staff *s, uint64_t offer_id)
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
static bool has_room(const struct router_staff *s)
{
	return s->open_chats + s->pending_offers < s->max_chats;
}

static bool has_capacity(const struct router_staff *s)
{
	return s->available && !list_entry(s, struct staff_impl, pub)->quiet && has_room(s);
}

/* Whether a is a better choice than b by load, then longest idle, then id. */
static bool less_busy(const struct router_staff *a, const struct router_staff *b)
{
	if (b == NULL)
		return true;
	if (a->open_chats != b->open_chats)
		return a->open_chats < b->open_chats;
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

static void remember_decline(struct router *r, struct router_visitor *v, const struct router_staff *s,
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

		if (!(s->langs & (1u << v->lang)) || !has_capacity(s))
			continue;
		*any_capacity = true;
		if (declined_recently(v, s, now_ms))
			continue;
		t = topic_match(s, v->topic);
		if (best == NULL || (t && !best_topic) || (t == best_topic && less_busy(s, best))) {
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
		v->offer = offer_new(r, ROUTER_OFFER_CHAT, v, v->chat, s, NULL, now_ms);
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
static void dispatch(struct router *r, uint64_t now_ms)
{
	while (r->dirty != 0 && !r->closing) {
		int lang = __builtin_ctz(r->dirty);

		r->dirty &= r->dirty - 1;
		if ((unsigned)lang < r->cfg.n_langs)
			dispatch_lang(r, lang, now_ms);
	}
	r->dirty = 0;
}

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

static struct chat_impl *new_chat(struct router *r, struct router_visitor *v, uint64_t now_ms)
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

static void seat_staff(struct router_chat *c, struct router_staff *s, uint64_t now_ms)
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
	EMIT(r, ended, c, by);
	while (c->n_staff > 0) {
		struct router_staff *s = c->staff[c->n_staff - 1];

		unseat_staff(c, s);
		s->open_chats--;
		s->idle_since_ms = now_ms;
		r->dirty |= s->langs;
	}
	if (ci->request != NULL)
		offer_end(r, ci->request, ROUTER_OFFER_WITHDRAWN, false);
	if (v != NULL) {
		v->chat = NULL;
		/* A requeued visitor's offer carries the chat along. */
		if (v->offer != NULL && v->offer->chat == c)
			v->offer->chat = NULL;
		if (v->state == ROUTER_V_CHATTING)
			set_state(v, ROUTER_V_ENDED);
	}
	chat_log_wipe(&c->log);
	list_remove(&c->link);
	hash_remove(r, ci);
	secmem_free(ci, sizeof *ci);
}

/* v's only staff member left: v goes back to the head of its queue with its
 * chat (and transcript), keeping enqueued_ms. */
static void requeue(struct router *r, struct router_visitor *v)
{
	struct lang_state *l = &r->langs[v->lang];

	set_state(v, ROUTER_V_WAITING);
	list_remove(&v->queue_link);
	list_add_head(&l->queue, &v->queue_link);
	l->queue_len++;
	v->entry_position = 1;
	v->position = 0; /* forces its report */
	EMIT(r, requeued, v);
	queue_refresh(r, l, l->queue.next, 1);
	r->dirty |= 1u << v->lang;
}

/* ---- visitor teardown ---- */

/* Take v out of its queue or parked list and end whatever it holds: a
 * pending offer is withdrawn, a chat (live or requeued) ends with `by`. v is
 * left in the loose list, ENDED unless it was NEW or ENDED already. */
static void release_visitor(struct router *r, struct router_visitor *v, enum router_end by, uint64_t now_ms)
{
	if (v->offer != NULL)
		offer_end(r, v->offer, ROUTER_OFFER_WITHDRAWN, false);
	switch (v->state) {
	case ROUTER_V_WAITING:
		queue_leave(r, v, false);
		set_state(v, ROUTER_V_ENDED);
		break;
	case ROUTER_V_PARKED:
		list_remove(&v->queue_link);
		list_add_tail(&r->loose, &v->queue_link);
		set_state(v, ROUTER_V_ENDED);
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

			queue_append(r, v, now_ms);
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
			offer_end(r, o, ROUTER_OFFER_WITHDRAWN, true);
	}
}

/* An offer nobody answered in time. */
static void offer_lapse(struct router *r, struct router_offer *o)
{
	struct router_staff *s = o->to;

	log_debug("router: offer %llu lapsed", (unsigned long long)o->id);
	offer_end(r, o, ROUTER_OFFER_LAPSED, true);
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
		if (s == req || router_chat_has_staff(c, s) || !(to->user != NULL ? has_room(s) : has_capacity(s)))
			continue;
		if (to->user != NULL ? !name_is(s, to->user) : (to->roles != 0 && !(s->roles & to->roles)))
			continue;
		if (transfer && !(s->langs & (1u << c->lang)))
			continue;
		if (less_busy(s, best))
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
	ci->request = offer_new(r, kind, c->visitor, c, target, s, now_ms);
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

		offer_unlink(r, o);
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
		queue_append(r, v, now_ms);
		dispatch(r, now_ms);
		return 0;
	}
	set_state(v, ROUTER_V_PARKED);
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
	dispatch(r, now_ms);
}

int router_visitor_end(struct router *r, struct router_visitor *v, bool quick_exit, uint64_t now_ms)
{
	if (r == NULL || v == NULL)
		return -EINVAL;
	if (v->state == ROUTER_V_NEW || v->state == ROUTER_V_ENDED)
		return BRUG_E_CONFLICT;
	release_visitor(r, v, quick_exit ? ROUTER_END_QUICK_EXIT : ROUTER_END_VISITOR, now_ms);
	dispatch(r, now_ms);
	return 0;
}

void router_visitor_free(struct router *r, struct router_visitor *v, uint64_t now_ms)
{
	if (r == NULL || v == NULL)
		return;
	release_visitor(r, v, ROUTER_END_VISITOR, now_ms);
	destroy_visitor(v);
	dispatch(r, now_ms);
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
			offer_end(r, ci->request, ROUTER_OFFER_WITHDRAWN, false);
	}
	while (!list_empty(&si->chats)) {
		struct router_chat *c = &list_entry(si->chats.next, struct seat, link)->chat->pub;

		unseat_staff(c, s);
		s->open_chats--;
		if (c->n_staff > 0) {
			EMIT(r, left, c, s, ROUTER_LEAVE_DROPPED);
		} else if (c->visitor != NULL) {
			log_debug("router: chat %llu requeued", (unsigned long long)c->id);
			requeue(r, c->visitor);
		}
	}
	list_remove(&s->link);
	dispatch(r, now_ms);
	secmem_free_str(s->username);
	secmem_free_str(s->alias);
	free(si);
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
	dispatch(r, now_ms);
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
	o = offer_find(s, offer_id);
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
			struct chat_impl *ci = new_chat(r, v, now_ms);

			if (ci == NULL)
				return -ENOMEM;
			c = &ci->pub;
			v->chat = c;
			/* A requeued visitor's wait includes its earlier chat,
			 * which says nothing about the queue. */
			mean_changed = record_sample(l, (now_ms - v->enqueued_ms) /
						     (v->entry_position > 0 ? v->entry_position : 1));
		}
		offer_unlink(r, o);
		free(o);
		queue_leave(r, v, mean_changed);
		set_state(v, ROUTER_V_CHATTING);
		seat_staff(c, s, now_ms);
		log_debug("router: chat %llu joined by staff %llu", (unsigned long long)c->id,
			  (unsigned long long)s->id);
		EMIT(r, joined, c, s);
		dispatch(r, now_ms);
		return 0;
	}

	/* A transfer or invite: the chat is live, since an ending chat or a
	 * leaving requester withdraws its request. */
	kind = o->kind;
	c = o->chat;
	from = o->from;
	transfer = kind == ROUTER_OFFER_TRANSFER && from != NULL && router_chat_has_staff(c, from);
	if (router_chat_has_staff(c, s) || (c->n_staff >= ROUTER_CHAT_MAX_STAFF && !transfer)) {
		offer_end(r, o, ROUTER_OFFER_WITHDRAWN, true);
		dispatch(r, now_ms);
		return BRUG_E_CONFLICT;
	}
	offer_unlink(r, o);
	free(o);
	if (transfer && c->n_staff >= ROUTER_CHAT_MAX_STAFF) {
		/* Out of a full chat the requester makes room first. */
		unseat_staff(c, from);
		seat_staff(c, s, now_ms);
		EMIT(r, joined, c, s);
	} else {
		seat_staff(c, s, now_ms);
		EMIT(r, joined, c, s);
		if (transfer)
			unseat_staff(c, from);
	}
	if (transfer) {
		from->open_chats--;
		r->dirty |= from->langs;
		EMIT(r, left, c, from, ROUTER_LEAVE_TRANSFERRED);
	}
	dispatch(r, now_ms);
	return 0;
}

int router_offer_decline(struct router *r, struct router_staff *s, uint64_t offer_id, uint64_t now_ms)
{
	struct router_offer *o;

	if (r == NULL || s == NULL)
		return -EINVAL;
	o = offer_find(s, offer_id);
	if (o == NULL)
		return BRUG_E_NOT_FOUND;
	if (o->kind == ROUTER_OFFER_CHAT)
		remember_decline(r, o->visitor, s, now_ms);
	offer_end(r, o, ROUTER_OFFER_DECLINED, true);
	dispatch(r, now_ms);
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
	dispatch(r, now_ms);
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
	dispatch(r, now_ms);
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
		dispatch(r, now_ms);
	}
}
