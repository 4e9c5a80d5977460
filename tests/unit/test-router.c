/* Unit tests for the router (daemon/router.c): matching, offers and their
 * timeouts, capacity, staff and visitor drops, transfer, invite, closed
 * languages and the wait estimate, driven by a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "router.h"

enum ev_type {
	EV_QUEUE,
	EV_CLOSED,
	EV_OFFER,
	EV_OFFER_GONE,
	EV_JOINED,
	EV_LEFT,
	EV_REQUEUED,
	EV_ENDED,
	EV_AVAILABILITY,
	EV_REQUEST_FAILED,
	EV_VISITOR_GONE,
};

/* One reported event. Chats and offers are freed after some events, so
 * they are kept by id; visitors and staff by pointer. */
struct rec {
	enum ev_type type;
	struct router_visitor *v;
	struct router_staff *s;
	uint64_t chat_id, offer_id;
	enum router_offer_kind kind;
	int why;
	unsigned position;
	int64_t wait_s;
	unsigned n_staff;
};

struct fx {
	struct router *r;
	struct rec *recs;
	size_t n, cap;
	uint64_t now;
};

static struct rec *push(struct fx *f, enum ev_type t)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->recs = realloc(f->recs, f->cap * sizeof *f->recs);
		assert_non_null(f->recs);
	}
	memset(&f->recs[f->n], 0, sizeof f->recs[f->n]);
	f->recs[f->n].type = t;
	return &f->recs[f->n++];
}

static void on_queue(void *ctx, struct router_visitor *v)
{
	struct rec *e = push(ctx, EV_QUEUE);

	assert_int_equal(v->state, ROUTER_V_WAITING);
	e->v = v;
	e->position = v->position;
	e->wait_s = v->wait_s;
}

static void on_closed(void *ctx, struct router_visitor *v)
{
	push(ctx, EV_CLOSED)->v = v;
}

static void on_offer(void *ctx, struct router_offer *o)
{
	struct rec *e = push(ctx, EV_OFFER);

	e->v = o->visitor;
	e->s = o->to;
	e->offer_id = o->id;
	e->kind = o->kind;
	e->chat_id = o->chat != NULL ? o->chat->id : 0;
	assert_true(o->expires_ms > o->created_ms);
}

static void on_offer_gone(void *ctx, struct router_offer *o, enum router_offer_end why)
{
	struct rec *e = push(ctx, EV_OFFER_GONE);

	e->v = o->visitor;
	e->s = o->to;
	e->offer_id = o->id;
	e->kind = o->kind;
	e->why = why;
}

static void on_joined(void *ctx, struct router_chat *c, struct router_staff *s)
{
	struct rec *e = push(ctx, EV_JOINED);

	e->chat_id = c->id;
	e->s = s;
	e->v = c->visitor;
	e->n_staff = c->n_staff;
	assert_true(router_chat_has_staff(c, s));
}

static void on_left(void *ctx, struct router_chat *c, struct router_staff *s, enum router_leave why)
{
	struct rec *e = push(ctx, EV_LEFT);

	e->chat_id = c->id;
	e->s = s;
	e->why = why;
	e->n_staff = c->n_staff;
	assert_false(router_chat_has_staff(c, s));
}

static void on_requeued(void *ctx, struct router_visitor *v)
{
	push(ctx, EV_REQUEUED)->v = v;
}

static void on_ended(void *ctx, struct router_chat *c, enum router_end by)
{
	struct rec *e = push(ctx, EV_ENDED);

	e->chat_id = c->id;
	e->v = c->visitor;
	e->why = by;
	e->n_staff = c->n_staff;
	assert_non_null(c->visitor);
}

static void on_availability(void *ctx, struct router_staff *s)
{
	push(ctx, EV_AVAILABILITY)->s = s;
}

static void on_request_failed(void *ctx, struct router_staff *s, struct router_chat *c,
			      enum router_offer_kind kind, enum router_offer_end why)
{
	struct rec *e = push(ctx, EV_REQUEST_FAILED);

	e->s = s;
	e->chat_id = c->id;
	e->kind = kind;
	e->why = why;
}

static void on_visitor_gone(void *ctx, struct router_visitor *v)
{
	push(ctx, EV_VISITOR_GONE)->v = v;
}

static const struct router_events events = {
	.queue = on_queue,
	.closed = on_closed,
	.offer = on_offer,
	.offer_gone = on_offer_gone,
	.joined = on_joined,
	.left = on_left,
	.requeued = on_requeued,
	.ended = on_ended,
	.availability = on_availability,
	.request_failed = on_request_failed,
	.visitor_gone = on_visitor_gone,
};

#define OFFER_MS 30000
#define GRACE_MS 120000
#define COOLDOWN_MS 60000

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct router_config cfg = {
		.n_langs = 5,
		.offer_timeout_ms = OFFER_MS,
		.grace_ms = GRACE_MS,
		.decline_cooldown_ms = COOLDOWN_MS,
	};

	assert_non_null(f);
	f->now = 1000000;
	f->r = router_new(&cfg, &events, f);
	assert_non_null(f->r);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	router_free(f->r, f->now);
	free(f->recs);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static void clear(struct fx *f)
{
	f->n = 0;
}

static size_t count(const struct fx *f, enum ev_type t)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += f->recs[i].type == t;
	return n;
}

/* The last event of type t; fails the test if there is none. */
static struct rec *last(struct fx *f, enum ev_type t)
{
	for (size_t i = f->n; i > 0; i--)
		if (f->recs[i - 1].type == t)
			return &f->recs[i - 1];
	fail_msg("no event of type %d", (int)t);
	abort();
}

/* Index of the first event of type t at or after from, or -1. */
static long find(const struct fx *f, enum ev_type t, size_t from)
{
	for (size_t i = from; i < f->n; i++)
		if (f->recs[i].type == t)
			return (long)i;
	return -1;
}

static struct router_staff *staff(struct fx *f, uint64_t id, const char *name, uint32_t langs,
				  unsigned max_chats, uint32_t roles, uint64_t topics)
{
	char alias[64];
	struct router_staff_info info = {
		.id = id,
		.username = name,
		.alias = alias,
		.roles = roles,
		.langs = langs,
		.topics = topics,
		.max_chats = max_chats,
	};
	struct router_staff *s;

	/* The alias is the name capitalised, so both can be targeted. */
	strcpy(alias, name);
	alias[0] = (char)(alias[0] - 'a' + 'A');
	s = router_staff_add(f->r, NULL, &info, f->now);
	assert_non_null(s);
	return s;
}

static struct router_staff *online(struct fx *f, uint64_t id, const char *name, uint32_t langs, unsigned max_chats)
{
	struct router_staff *s = staff(f, id, name, langs, max_chats, BRUG_ROLE_VOLUNTEER, 0);

	router_staff_set_available(f->r, s, true, f->now);
	return s;
}

static struct router_visitor *visitor(struct fx *f, int lang, int topic)
{
	struct router_visitor *v = router_visitor_new(f->r, NULL);

	assert_non_null(v);
	assert_int_equal(router_visitor_start(f->r, v, lang, topic, f->now), 0);
	return v;
}

/* The offer id last offered to s, asserting there is one. */
static uint64_t offer_to(struct fx *f, struct router_staff *s)
{
	for (size_t i = f->n; i > 0; i--)
		if (f->recs[i - 1].type == EV_OFFER && f->recs[i - 1].s == s)
			return f->recs[i - 1].offer_id;
	fail_msg("no offer to staff %llu", (unsigned long long)s->id);
	return 0;
}

/* Offer v to whoever gets it and have s accept; returns v's chat. */
static struct router_chat *serve(struct fx *f, struct router_staff *s, struct router_visitor *v)
{
	assert_non_null(v->offer);
	assert_ptr_equal(v->offer->to, s);
	assert_int_equal(router_offer_accept(f->r, s, v->offer->id, f->now), 0);
	assert_int_equal(v->state, ROUTER_V_CHATTING);
	assert_non_null(v->chat);
	return v->chat;
}

/* ---- matching ---- */

static void test_match_language(void **state)
{
	struct fx *f = *state;
	struct router_staff *nl = online(f, 1, "anna", 1u << 0, 2);
	struct router_staff *ar = online(f, 2, "samira", 1u << 1, 2);
	struct router_visitor *v;

	clear(f);
	v = visitor(f, 1, -1);
	assert_int_equal(count(f, EV_QUEUE), 1);
	assert_int_equal(v->position, 1);
	assert_int_equal(v->wait_s, -1);
	assert_int_equal(count(f, EV_OFFER), 1);
	assert_ptr_equal(last(f, EV_OFFER)->s, ar);
	assert_int_equal(ar->pending_offers, 1);
	assert_int_equal(nl->pending_offers, 0);
	assert_int_equal(last(f, EV_OFFER)->kind, ROUTER_OFFER_CHAT);

	clear(f);
	v = visitor(f, 0, -1);
	assert_ptr_equal(last(f, EV_OFFER)->s, nl);
	/* Nobody speaks language 2: closed, not queued. */
	clear(f);
	v = visitor(f, 2, -1);
	assert_int_equal(v->state, ROUTER_V_PARKED);
	assert_int_equal(count(f, EV_CLOSED), 1);
	assert_int_equal(count(f, EV_OFFER), 0);
	assert_int_equal(router_queue_length(f->r, 2), 0);
}

static void test_fewest_chats_then_longest_idle(void **state)
{
	struct fx *f = *state;
	struct router_staff *a, *b, *c, *x5, *x7;
	struct router_visitor *v1, *v2, *v3;

	a = online(f, 1, "anna", 1, 3);
	f->now += 1000;
	b = online(f, 2, "bert", 1, 3);
	f->now += 1000;
	c = online(f, 3, "carl", 1, 3);

	/* All on zero chats: the longest idle (a) first. */
	v1 = visitor(f, 0, -1);
	assert_ptr_equal(v1->offer->to, a);
	serve(f, a, v1);
	/* a now has a chat and was given it last: b is next. */
	f->now += 1000;
	v2 = visitor(f, 0, -1);
	assert_ptr_equal(v2->offer->to, b);
	serve(f, b, v2);
	f->now += 1000;
	v3 = visitor(f, 0, -1);
	assert_ptr_equal(v3->offer->to, c);
	serve(f, c, v3);

	/* Everyone on one chat; b's became idle earliest after a chat ends. */
	f->now += 1000;
	assert_int_equal(router_chat_end(f->r, b, v2->chat->id, f->now), 0);
	assert_int_equal(b->open_chats, 0);
	assert_int_equal(b->idle_since_ms, f->now);
	f->now += 1000;
	clear(f);
	v2 = visitor(f, 0, -1);
	assert_ptr_equal(v2->offer->to, b); /* fewest open chats beats idleness */
	serve(f, b, v2);
	/* Equal load and equal idle time: the lowest id, whatever the order
	 * they logged in. */
	f->now += 1000;
	x7 = online(f, 7, "xena", 1, 1);
	x5 = online(f, 5, "xavi", 1, 1);
	v3 = visitor(f, 0, -1);
	assert_ptr_equal(v3->offer->to, x5);
	assert_int_equal(router_offer_decline(f->r, x5, v3->offer->id, f->now), 0);
	assert_ptr_equal(v3->offer->to, x7);
}

static void test_topic_preference(void **state)
{
	struct fx *f = *state;
	struct router_staff *gen = online(f, 1, "anna", 1, 3);
	struct router_staff *fm;
	struct router_visitor *v1, *v2, *v3;

	f->now += 1000;
	fm = staff(f, 2, "fatma", 1, 3, BRUG_ROLE_PROFESSIONAL, 1ull << 5);
	router_staff_set_available(f->r, fm, true, f->now);

	/* fm has a chat already and became available later, yet a visitor with
	 * topic 5 goes to it. */
	v1 = visitor(f, 0, 5);
	assert_ptr_equal(v1->offer->to, fm);
	serve(f, fm, v1);
	v2 = visitor(f, 0, 5);
	assert_ptr_equal(v2->offer->to, fm);
	/* Without a topic, or with another, the usual order applies. */
	v3 = visitor(f, 0, -1);
	assert_ptr_equal(v3->offer->to, gen);
	assert_int_equal(router_offer_decline(f->r, gen, v3->offer->id, f->now), 0);
	assert_ptr_equal(v3->offer->to, fm);
	assert_ptr_equal(visitor(f, 0, 4)->offer->to, gen);
}

/* ---- offers ---- */

static void test_offer_lapse(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 2);
	struct router_staff *b;
	struct router_visitor *v1, *v2;
	uint64_t first;
	size_t gone, avail;

	f->now += 1000;
	b = online(f, 2, "bert", 1, 2);
	/* Both go to a: same load, and a has been idle longer. */
	v1 = visitor(f, 0, -1);
	first = v1->offer->id;
	assert_ptr_equal(v1->offer->to, a);
	v2 = visitor(f, 0, -1);
	assert_ptr_equal(v2->offer->to, a);
	assert_int_equal(a->pending_offers, 2);

	clear(f);
	f->now += OFFER_MS - 1;
	router_tick(f->r, f->now);
	assert_int_equal(f->n, 0);

	f->now += 1;
	router_tick(f->r, f->now);
	gone = (size_t)find(f, EV_OFFER_GONE, 0);
	assert_int_equal(gone, 0);
	assert_int_equal(f->recs[gone].offer_id, first);
	assert_int_equal(f->recs[gone].why, ROUTER_OFFER_LAPSED);
	avail = (size_t)find(f, EV_AVAILABILITY, 0);
	assert_int_equal(avail, 1);
	assert_ptr_equal(f->recs[avail].s, a);
	assert_false(a->available);
	assert_int_equal(a->pending_offers, 0);
	/* a's other offer is withdrawn, not lapsed. */
	assert_int_equal(f->recs[2].type, EV_OFFER_GONE);
	assert_int_equal(f->recs[2].why, ROUTER_OFFER_WITHDRAWN);
	assert_int_equal(count(f, EV_OFFER_GONE), 2);
	/* Both visitors go to the next member, head first. */
	assert_int_equal(count(f, EV_OFFER), 2);
	assert_ptr_equal(f->recs[find(f, EV_OFFER, 0)].v, v1);
	assert_ptr_equal(v1->offer->to, b);
	assert_ptr_equal(v2->offer->to, b);
	assert_int_equal(router_offer_accept(f->r, a, first, f->now), BRUG_E_NOT_FOUND);
	/* The lapse does not make a refuse-list: back available, a can get
	 * the next visitor. */
	router_staff_set_available(f->r, a, true, f->now);
	assert_ptr_equal(visitor(f, 0, -1)->offer->to, a);
}

static void test_decline_cooldown(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 2);
	struct router_staff *b;
	struct router_visitor *v = visitor(f, 0, -1);
	uint64_t id = v->offer->id;

	clear(f);
	assert_int_equal(router_offer_decline(f->r, a, id, f->now), 0);
	assert_int_equal(router_offer_decline(f->r, a, id, f->now), BRUG_E_NOT_FOUND);
	assert_int_equal(f->recs[0].type, EV_OFFER_GONE);
	assert_int_equal(f->recs[0].why, ROUTER_OFFER_DECLINED);
	assert_int_equal(count(f, EV_OFFER), 0); /* a only, and a said no */
	assert_null(v->offer);
	assert_int_equal(a->pending_offers, 0);
	assert_true(a->available);

	/* Within the cooldown a is not asked again; someone else is. */
	f->now += COOLDOWN_MS - 1;
	router_tick(f->r, f->now);
	assert_int_equal(count(f, EV_OFFER), 0);
	b = online(f, 2, "bert", 1, 2);
	assert_ptr_equal(v->offer->to, b);
	assert_int_equal(router_offer_decline(f->r, b, v->offer->id, f->now), 0);
	assert_null(v->offer);

	/* After it, a gets the visitor again. */
	clear(f);
	f->now += 1;
	router_tick(f->r, f->now);
	assert_int_equal(count(f, EV_OFFER), 1);
	assert_ptr_equal(v->offer->to, a);
}

static void test_max_chats(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 2);
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2 = visitor(f, 0, -1);
	struct router_visitor *v3, *v4;

	/* Pending offers count against capacity. */
	assert_non_null(v1->offer);
	assert_non_null(v2->offer);
	assert_int_equal(a->pending_offers, 2);
	clear(f);
	v3 = visitor(f, 0, -1);
	assert_null(v3->offer);
	assert_int_equal(count(f, EV_OFFER), 0);
	router_tick(f->r, f->now);
	assert_int_equal(count(f, EV_OFFER), 0);

	serve(f, a, v1);
	serve(f, a, v2);
	assert_int_equal(a->open_chats, 2);
	assert_int_equal(a->pending_offers, 0);
	assert_null(v3->offer);
	v4 = visitor(f, 0, -1);
	assert_null(v4->offer);
	assert_int_equal(router_queue_length(f->r, 0), 2);

	/* A chat ends: capacity for exactly one, the head. */
	clear(f);
	assert_int_equal(router_visitor_end(f->r, v1, false, f->now), 0);
	assert_int_equal(f->recs[0].type, EV_ENDED);
	assert_int_equal(f->recs[0].why, ROUTER_END_VISITOR);
	assert_int_equal(count(f, EV_OFFER), 1);
	assert_ptr_equal(v3->offer->to, a);
	assert_null(v4->offer);
	assert_int_equal(v1->state, ROUTER_V_ENDED);
	assert_null(v1->chat);
	assert_int_equal(router_visitor_end(f->r, v1, false, f->now), BRUG_E_CONFLICT);
	router_visitor_free(f->r, v1, f->now);
}

static void test_unavailable_withdraws(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 2);
	struct router_staff *b;
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2 = visitor(f, 0, -1);
	struct router_chat *c = serve(f, a, v1);

	f->now += 1000;
	b = online(f, 2, "bert", 1, 2);
	assert_ptr_equal(v2->offer->to, a);
	clear(f);
	router_staff_set_available(f->r, a, false, f->now);
	assert_int_equal(f->recs[0].type, EV_OFFER_GONE);
	assert_int_equal(f->recs[0].why, ROUTER_OFFER_WITHDRAWN);
	assert_ptr_equal(v2->offer->to, b);
	assert_int_equal(count(f, EV_AVAILABILITY), 0); /* a asked for it */
	/* Its chat goes on. */
	assert_ptr_equal(router_chat_find(f->r, c->id), c);
	assert_int_equal(a->open_chats, 1);
}
/* Issue 12: a change of languages takes effect at once: the offer that no
 * longer fits goes, its language may close, the new one opens and offers. */
static void test_staff_update(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1u << 0, 2);
	struct router_visitor *v0 = visitor(f, 0, -1);
	struct router_visitor *v1 = visitor(f, 1, -1);
	struct router_staff_info info = { .roles = BRUG_ROLE_VOLUNTEER, .langs = 1u << 1, .max_chats = 3 };

	assert_int_equal(v1->state, ROUTER_V_PARKED);   /* nobody spoke language 1 */
	assert_ptr_equal(v0->offer->to, a);
	clear(f);
	router_staff_update(f->r, a, &info, f->now);
	assert_int_equal(f->recs[0].type, EV_OFFER_GONE);
	assert_ptr_equal(f->recs[0].v, v0);
	assert_int_equal(f->recs[0].why, ROUTER_OFFER_WITHDRAWN);
	assert_null(v0->offer);
	assert_false(router_lang_open(f->r, 0));
	assert_true(router_lang_open(f->r, 1));
	assert_true(a->available);
	assert_int_equal(a->langs, 1u << 1);
	assert_int_equal(a->max_chats, 3);
	/* The parked visitor of the new language is queued and offered. */
	assert_non_null(v1->offer);
	assert_ptr_equal(v1->offer->to, a);
	assert_int_equal(count(f, EV_AVAILABILITY), 0);

	/* Unavailable staff change without opening anything. */
	router_staff_set_available(f->r, a, false, f->now);
	info.langs = 1u << 0;
	router_staff_update(f->r, a, &info, f->now);
	assert_false(a->available);
	assert_false(router_lang_open(f->r, 0));
	assert_false(router_lang_open(f->r, 1));
	router_staff_set_available(f->r, a, true, f->now);
	assert_true(router_lang_open(f->r, 0));
	assert_false(router_lang_open(f->r, 1));
}

/* ---- drops ---- */

static void test_staff_drop_requeues(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_staff *b = staff(f, 2, "bert", 1, 1, BRUG_ROLE_VOLUNTEER, 0);
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2, *v3;
	struct router_chat *c = serve(f, a, v1);
	uint64_t chat_id = c->id, started = v1->enqueued_ms;
	struct chat_msg *m;
	size_t i;

	f->now += 5000;
	v2 = visitor(f, 0, -1);
	v3 = visitor(f, 0, -1);
	assert_int_equal(v2->position, 1);
	assert_int_equal(v3->position, 2);
	assert_non_null(chat_log_append(&c->log, true, NULL, "help", 4, f->now));

	clear(f);
	router_staff_remove(f->r, a, f->now);
	i = (size_t)find(f, EV_REQUEUED, 0);
	assert_ptr_equal(f->recs[i].v, v1);
	assert_int_equal(count(f, EV_ENDED), 0);
	assert_int_equal(count(f, EV_QUEUE), 3);
	assert_true((size_t)find(f, EV_QUEUE, 0) > i);
	assert_int_equal(v1->state, ROUTER_V_WAITING);
	assert_int_equal(v1->position, 1);
	assert_int_equal(v2->position, 2);
	assert_int_equal(v3->position, 3);
	assert_int_equal(v1->enqueued_ms, started);
	assert_int_equal(router_queue_length(f->r, 0), 3);
	/* Same chat, transcript intact, no staff. */
	assert_ptr_equal(v1->chat, c);
	assert_int_equal(c->n_staff, 0);
	assert_int_equal(c->log.count, 1);
	assert_ptr_equal(router_chat_find(f->r, chat_id), c);

	/* The next staff member gets the same chat. */
	clear(f);
	router_staff_set_available(f->r, b, true, f->now);
	assert_int_equal(count(f, EV_OFFER), 1);
	assert_ptr_equal(last(f, EV_OFFER)->v, v1);
	assert_int_equal(last(f, EV_OFFER)->chat_id, chat_id);
	serve(f, b, v1);
	assert_ptr_equal(v1->chat, c);
	assert_int_equal(last(f, EV_JOINED)->chat_id, chat_id);
	assert_int_equal(c->n_staff, 1);
	assert_ptr_equal(c->staff[0], b);
	chat_log_for_each_since(m, &c->log, 0)
		assert_string_equal(m->text, "help");
	assert_int_equal(v2->position, 1);
	assert_int_equal(v3->position, 2);
}

static void test_staff_drop_shared_chat(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_staff *b = online(f, 2, "bert", 1, 1);
	struct router_visitor *v = visitor(f, 0, -1);
	struct router_chat *c = serve(f, a, v);
	struct router_target to = { .user = "bert" };
	struct rec *e;

	assert_int_equal(router_invite(f->r, a, c->id, &to, f->now), 0);
	assert_int_equal(router_offer_accept(f->r, b, offer_to(f, b), f->now), 0);
	assert_int_equal(c->n_staff, 2);

	clear(f);
	router_staff_remove(f->r, a, f->now);
	e = last(f, EV_LEFT);
	assert_non_null(e);
	assert_int_equal(e->why, ROUTER_LEAVE_DROPPED);
	assert_int_equal(e->chat_id, c->id);
	assert_int_equal(count(f, EV_ENDED), 0);
	assert_int_equal(count(f, EV_REQUEUED), 0);
	assert_int_equal(v->state, ROUTER_V_CHATTING);
	assert_int_equal(c->n_staff, 1);
	assert_ptr_equal(c->staff[0], b);
}

static void test_visitor_grace_resume(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2 = visitor(f, 0, -1);
	struct router_visitor *v3 = visitor(f, 0, -1);
	struct router_visitor *v4 = visitor(f, 0, -1);
	struct router_chat *c = serve(f, a, v1);

	assert_int_equal(v2->position, 1);
	assert_int_equal(v3->position, 2);
	assert_int_equal(v4->position, 3);
	assert_true(router_visitor_detach(f->r, v1, f->now));
	assert_true(router_visitor_detach(f->r, v3, f->now));
	assert_false(v3->connected);
	f->now += GRACE_MS - 1;
	clear(f);
	router_tick(f->r, f->now);
	assert_int_equal(f->n, 0);
	router_visitor_attach(f->r, v1, f->now);
	router_visitor_attach(f->r, v3, f->now);
	assert_int_equal(f->n, 0);
	assert_true(v1->connected);
	assert_ptr_equal(v1->chat, c);
	assert_int_equal(v1->state, ROUTER_V_CHATTING);
	assert_int_equal(v3->position, 2);
	assert_int_equal(router_queue_length(f->r, 0), 3);
	/* The old deadline is gone with the attach. */
	f->now += GRACE_MS;
	router_tick(f->r, f->now);
	assert_int_equal(f->n, 0);

	/* A disconnected head keeps its place but gets no offer; back, it
	 * gets the next one. */
	assert_true(router_visitor_detach(f->r, v2, f->now));
	assert_int_equal(router_chat_end(f->r, a, c->id, f->now), 0);
	assert_null(v2->offer);
	assert_ptr_equal(v3->offer->to, a);
	assert_int_equal(v2->position, 1);
	router_visitor_attach(f->r, v2, f->now);
	assert_null(v2->offer);
	assert_int_equal(router_offer_decline(f->r, a, v3->offer->id, f->now), 0);
	assert_ptr_equal(v2->offer->to, a);
}

/* A reload's new grace and offer times: deadlines already set stay, the
 * next drop and the next offer get the new ones, and the grace list stays
 * in deadline order although a later drop now ends sooner. */
static void test_set_timeouts(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 2);
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2 = visitor(f, 0, -1);
	struct router_visitor *v3 = visitor(f, 0, -1);

	serve(f, a, v1);
	serve(f, a, v2);
	assert_true(router_visitor_detach(f->r, v1, f->now));
	router_set_timeouts(f->r, 5000, 10000);
	assert_int_equal(v1->grace_deadline_ms, f->now + GRACE_MS);
	f->now += 1000;
	assert_true(router_visitor_detach(f->r, v2, f->now));
	assert_int_equal(v2->grace_deadline_ms, f->now + 10000);
	/* v3 waits: anna is full. */
	assert_null(v3->offer);
	clear(f);
	f->now += 10000;
	router_tick(f->r, f->now);
	/* v2 (new, short grace) is gone before v1 (old, long grace). */
	assert_int_equal(count(f, EV_VISITOR_GONE), 1);
	assert_ptr_equal(last(f, EV_VISITOR_GONE)->v, v2);
	assert_true(v1->connected == false);
	/* The freed place goes to v3 with the new offer timeout. */
	assert_non_null(v3->offer);
	assert_int_equal(v3->offer->expires_ms, f->now + 5000);
}

static void test_visitor_grace_expires(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2 = visitor(f, 0, -1);
	struct router_visitor *v3 = visitor(f, 0, -1);
	struct router_visitor *v4 = visitor(f, 0, -1);
	struct router_chat *c = serve(f, a, v1);
	uint64_t chat_id = c->id;
	long i;

	assert_int_equal(v2->position, 1);
	assert_true(router_visitor_detach(f->r, v1, f->now));
	f->now += 1000;
	assert_true(router_visitor_detach(f->r, v3, f->now));
	clear(f);
	f->now += GRACE_MS - 1000;
	router_tick(f->r, f->now);
	/* The chatting one times out first: ended, then gone. */
	i = find(f, EV_ENDED, 0);
	assert_true(i >= 0);
	assert_int_equal(f->recs[i].why, ROUTER_END_TIMEOUT);
	assert_int_equal(f->recs[i].chat_id, chat_id);
	assert_ptr_equal(f->recs[find(f, EV_VISITOR_GONE, (size_t)i)].v, v1);
	assert_null(router_chat_find(f->r, chat_id));
	assert_int_equal(a->open_chats, 0);
	/* The freed capacity goes to the head. */
	assert_ptr_equal(v2->offer->to, a);
	assert_int_equal(count(f, EV_VISITOR_GONE), 1);

	clear(f);
	f->now += 1000;
	router_tick(f->r, f->now);
	assert_int_equal(count(f, EV_VISITOR_GONE), 1);
	assert_ptr_equal(last(f, EV_VISITOR_GONE)->v, v3);
	/* Its place is gone: the one behind moves up, nobody else hears. */
	assert_int_equal(count(f, EV_QUEUE), 1);
	assert_ptr_equal(last(f, EV_QUEUE)->v, v4);
	assert_int_equal(v4->position, 2);
	assert_int_equal(router_queue_length(f->r, 0), 2);
}

static void test_detach_frees_idle(void **state)
{
	struct fx *f = *state;
	struct router_visitor *v = router_visitor_new(f->r, NULL);
	struct router_visitor *p;

	assert_false(router_visitor_detach(f->r, v, f->now));
	p = visitor(f, 3, -1);
	assert_int_equal(p->state, ROUTER_V_PARKED);
	assert_false(router_visitor_detach(f->r, p, f->now));
	v = router_visitor_new(f->r, NULL);
	assert_int_equal(router_visitor_start(f->r, v, 9, -1, f->now), BRUG_E_BAD_FIELD);
	assert_int_equal(router_visitor_start(f->r, v, 0, ROUTER_MAX_TOPICS, f->now), BRUG_E_BAD_FIELD);
	assert_int_equal(router_visitor_end(f->r, v, false, f->now), BRUG_E_CONFLICT);
	assert_int_equal(router_visitor_start(f->r, v, 0, -1, f->now), 0);
	assert_int_equal(router_visitor_start(f->r, v, 0, -1, f->now), BRUG_E_CONFLICT);
	assert_int_equal(router_visitor_end(f->r, v, true, f->now), 0);
	assert_int_equal(v->state, ROUTER_V_ENDED);
	/* Left alive on purpose: router_free frees it. */
}

static void test_requeued_visitor_leaves(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_staff *b = online(f, 2, "bert", 1, 1);
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2 = visitor(f, 0, -1);
	struct router_visitor *v3 = visitor(f, 0, -1);
	struct router_chat *c1 = serve(f, a, v1);
	struct router_chat *c2 = serve(f, b, v2);
	uint64_t id1 = c1->id, id2 = c2->id;
	long e, g;

	/* v1 requeued with its chat and offered to b once b is free; it
	 * quick-exits: the offer goes, then the chat ends. */
	router_staff_remove(f->r, a, f->now);
	assert_int_equal(v1->position, 1);
	assert_int_equal(v3->position, 2);
	assert_int_equal(router_chat_end(f->r, b, id2, f->now), 0);
	assert_int_equal(last(f, EV_OFFER)->chat_id, id1);
	clear(f);
	assert_int_equal(router_visitor_end(f->r, v1, true, f->now), 0);
	g = find(f, EV_OFFER_GONE, 0);
	e = find(f, EV_ENDED, 0);
	assert_true(g >= 0 && e > g);
	assert_int_equal(f->recs[g].why, ROUTER_OFFER_WITHDRAWN);
	assert_int_equal(f->recs[e].chat_id, id1);
	assert_int_equal(f->recs[e].why, ROUTER_END_QUICK_EXIT);
	assert_null(router_chat_find(f->r, id1));
	assert_int_equal(v1->state, ROUTER_V_ENDED);
	assert_null(v1->chat);
	assert_int_equal(v3->position, 1);
	assert_ptr_equal(v3->offer->to, b); /* b is offered the next one */

	/* v3 is served, requeued, and its grace runs out: TIMEOUT. */
	c1 = serve(f, b, v3);
	id1 = c1->id;
	assert_true(router_visitor_detach(f->r, v3, f->now));
	router_staff_remove(f->r, b, f->now);
	assert_int_equal(v3->state, ROUTER_V_WAITING);
	clear(f);
	f->now += GRACE_MS;
	router_tick(f->r, f->now);
	e = find(f, EV_ENDED, 0);
	assert_true(e >= 0);
	assert_int_equal(f->recs[e].why, ROUTER_END_TIMEOUT);
	assert_int_equal(f->recs[e].chat_id, id1);
	assert_true(find(f, EV_VISITOR_GONE, (size_t)e) > e);
	assert_int_equal(router_queue_length(f->r, 0), 0);

	/* A socket that closes for good in a chat ends it with VISITOR. */
	b = online(f, 3, "bea", 1, 1);
	v2 = visitor(f, 0, -1);
	c2 = serve(f, b, v2);
	clear(f);
	router_visitor_free(f->r, v2, f->now);
	assert_int_equal(last(f, EV_ENDED)->why, ROUTER_END_VISITOR);
	assert_int_equal(b->open_chats, 0);
	assert_int_equal(count(f, EV_VISITOR_GONE), 0);
}

/* ---- transfer and invite ---- */

static void test_transfer(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_staff *b = online(f, 2, "bert", 1, 2);
	struct router_staff *o = online(f, 3, "olga", 2, 2); /* another language */
	struct router_visitor *v = visitor(f, 0, -1);
	struct router_chat *c = serve(f, a, v);
	struct router_target by_alias = { .user = "Bert" };
	struct router_target by_name = { .user = "olga" };
	struct router_target nobody = { .user = "zed" };
	long j, l;

	assert_int_equal(router_transfer(f->r, a, c->id, &by_name, f->now), BRUG_E_NOT_FOUND);
	assert_int_equal(router_transfer(f->r, a, c->id, &nobody, f->now), BRUG_E_NOT_FOUND);
	/* By name, someone not taking new chats can still be asked; by role not. */
	router_staff_set_available(f->r, b, false, f->now);
	assert_int_equal(router_transfer(f->r, a, c->id, &(struct router_target){ .roles = BRUG_ROLE_VOLUNTEER },
					 f->now), BRUG_E_NOT_FOUND);
	assert_int_equal(router_transfer(f->r, a, c->id, &by_alias, f->now), 0);
	assert_int_equal(router_offer_decline(f->r, b, offer_to(f, b), f->now), 0);
	router_staff_set_available(f->r, b, true, f->now);
	assert_int_equal(router_transfer(f->r, b, c->id, &by_alias, f->now), BRUG_E_FORBIDDEN);
	assert_int_equal(router_transfer(f->r, a, c->id + 100, &by_alias, f->now), BRUG_E_NOT_FOUND);
	assert_int_equal(o->pending_offers, 0);

	/* Declined: the requester hears why. */
	clear(f);
	assert_int_equal(router_transfer(f->r, a, c->id, &by_alias, f->now), 0);
	assert_int_equal(last(f, EV_OFFER)->kind, ROUTER_OFFER_TRANSFER);
	assert_int_equal(last(f, EV_OFFER)->chat_id, c->id);
	assert_int_equal(router_transfer(f->r, a, c->id, &by_alias, f->now), BRUG_E_CONFLICT);
	assert_int_equal(router_offer_decline(f->r, b, offer_to(f, b), f->now), 0);
	assert_ptr_equal(last(f, EV_REQUEST_FAILED)->s, a);
	assert_int_equal(last(f, EV_REQUEST_FAILED)->why, ROUTER_OFFER_DECLINED);
	assert_int_equal(last(f, EV_REQUEST_FAILED)->kind, ROUTER_OFFER_TRANSFER);
	assert_int_equal(last(f, EV_OFFER_GONE)->why, ROUTER_OFFER_DECLINED);
	assert_int_equal(b->pending_offers, 0);
	assert_int_equal(c->n_staff, 1);

	/* Accepted: the target joins, then the requester leaves. By role this
	 * time; olga has the role too but not the language. */
	clear(f);
	assert_int_equal(router_transfer(f->r, a, c->id, &(struct router_target){ .roles = BRUG_ROLE_VOLUNTEER },
					 f->now), 0);
	assert_int_equal(router_offer_accept(f->r, b, offer_to(f, b), f->now), 0);
	j = find(f, EV_JOINED, 0);
	l = find(f, EV_LEFT, 0);
	assert_true(j >= 0 && l > j);
	assert_ptr_equal(f->recs[j].s, b);
	assert_ptr_equal(f->recs[l].s, a);
	assert_int_equal(f->recs[l].why, ROUTER_LEAVE_TRANSFERRED);
	assert_int_equal(c->n_staff, 1);
	assert_ptr_equal(c->staff[0], b);
	assert_int_equal(a->open_chats, 0);
	assert_int_equal(b->open_chats, 1);
	assert_ptr_equal(v->chat, c);
	assert_int_equal(router_chat_end(f->r, a, c->id, f->now), BRUG_E_FORBIDDEN);
}

static void test_transfer_lapse(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_staff *b = online(f, 2, "bert", 1, 2);
	struct router_visitor *v = visitor(f, 0, -1);
	struct router_chat *c = serve(f, a, v);
	long i;

	assert_int_equal(router_transfer(f->r, a, c->id, &(struct router_target){ .user = "bert" }, f->now), 0);
	clear(f);
	f->now += OFFER_MS;
	router_tick(f->r, f->now);
	i = find(f, EV_REQUEST_FAILED, 0);
	assert_true(i >= 0);
	assert_int_equal(f->recs[i].why, ROUTER_OFFER_LAPSED);
	assert_int_equal(last(f, EV_OFFER_GONE)->why, ROUTER_OFFER_LAPSED);
	assert_ptr_equal(last(f, EV_AVAILABILITY)->s, b);
	assert_false(b->available);
	assert_int_equal(c->n_staff, 1);
	/* The chat is free for another request. */
	router_staff_set_available(f->r, b, true, f->now);
	assert_int_equal(router_invite(f->r, a, c->id, &(struct router_target){ .user = "bert" }, f->now), 0);
	/* The target drops: the requester is told. */
	clear(f);
	router_staff_remove(f->r, b, f->now);
	assert_int_equal(last(f, EV_REQUEST_FAILED)->why, ROUTER_OFFER_WITHDRAWN);
	assert_int_equal(last(f, EV_REQUEST_FAILED)->kind, ROUTER_OFFER_INVITE);
	assert_int_equal(last(f, EV_OFFER_GONE)->why, ROUTER_OFFER_WITHDRAWN);
	b = online(f, 2, "bert", 1, 2);
	assert_int_equal(router_invite(f->r, a, c->id, &(struct router_target){ .user = "bert" }, f->now), 0);
	/* The requester drops: the offer goes, b is not left holding it, and
	 * the visitor (alone now) is requeued and offered to b. */
	clear(f);
	router_staff_remove(f->r, a, f->now);
	assert_int_equal(count(f, EV_REQUEST_FAILED), 0);
	assert_int_equal(f->recs[find(f, EV_OFFER_GONE, 0)].kind, ROUTER_OFFER_INVITE);
	assert_int_equal(count(f, EV_REQUEUED), 1);
	assert_int_equal(last(f, EV_OFFER)->kind, ROUTER_OFFER_CHAT);
	assert_ptr_equal(last(f, EV_OFFER)->s, b);
	assert_int_equal(b->pending_offers, 1);
}

static void test_invite(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_staff *pro = staff(f, 2, "pia", 1u << 3, 2, BRUG_ROLE_PROFESSIONAL, 0);
	struct router_staff *x[3];
	struct router_visitor *v = visitor(f, 0, -1);
	struct router_chat *c = serve(f, a, v);
	struct router_target role_pro = { .roles = BRUG_ROLE_PROFESSIONAL };
	struct router_target any = { .roles = 0 };
	struct router_staff *outsider;
	uint64_t id;
	long j;

	assert_int_equal(router_invite(f->r, a, c->id, &role_pro, f->now), BRUG_E_NOT_FOUND); /* not available */
	router_staff_set_available(f->r, pro, true, f->now);
	/* An invite needs no shared language. */
	assert_int_equal(router_invite(f->r, a, c->id, &role_pro, f->now), 0);
	assert_int_equal(router_invite(f->r, a, c->id, &role_pro, f->now), BRUG_E_CONFLICT);
	id = offer_to(f, pro);
	clear(f);
	assert_int_equal(router_offer_accept(f->r, pro, id, f->now), 0);
	j = find(f, EV_JOINED, 0);
	assert_ptr_equal(f->recs[j].s, pro);
	assert_int_equal(f->recs[j].n_staff, 2);
	assert_int_equal(count(f, EV_LEFT), 0);
	assert_int_equal(c->n_staff, 2);
	assert_ptr_equal(c->staff[0], a);
	assert_ptr_equal(c->staff[1], pro);
	assert_true(router_chat_has_staff(c, pro));
	assert_int_equal(pro->open_chats, 1);

	/* Unknown chat, requester not in it. */
	outsider = online(f, 9, "otto", 1, 2);
	assert_int_equal(router_invite(f->r, a, 12345, &any, f->now), BRUG_E_NOT_FOUND);
	assert_int_equal(router_invite(f->r, outsider, c->id, &any, f->now), BRUG_E_FORBIDDEN);
	assert_int_equal(router_invite(f->r, a, c->id, NULL, f->now), BRUG_E_BAD_FIELD);

	/* Fill the chat to ROUTER_CHAT_MAX_STAFF, then it is full. */
	router_staff_remove(f->r, outsider, f->now);
	for (int i = 0; i < 2; i++) {
		char name[8] = "s0";

		name[1] = (char)('0' + i);
		x[i] = online(f, (uint64_t)(20 + i), name, 1, 2);
		assert_int_equal(router_invite(f->r, pro, c->id, &(struct router_target){ .user = name }, f->now), 0);
		assert_int_equal(router_offer_accept(f->r, x[i], offer_to(f, x[i]), f->now), 0);
	}
	assert_int_equal(c->n_staff, ROUTER_CHAT_MAX_STAFF);
	x[2] = online(f, 30, "zoe", 1, 2);
	assert_int_equal(router_invite(f->r, a, c->id, &any, f->now), BRUG_E_CONFLICT);
	/* A transfer out of a full chat still works. */
	clear(f);
	assert_int_equal(router_transfer(f->r, a, c->id, &(struct router_target){ .user = "zoe" }, f->now), 0);
	assert_int_equal(router_offer_accept(f->r, x[2], offer_to(f, x[2]), f->now), 0);
	assert_int_equal(c->n_staff, ROUTER_CHAT_MAX_STAFF);
	assert_false(router_chat_has_staff(c, a));
	assert_true(router_chat_has_staff(c, x[2]));
	assert_true(find(f, EV_LEFT, 0) > find(f, EV_JOINED, 0));

	/* The chat ends for all four. */
	clear(f);
	assert_int_equal(router_chat_end(f->r, pro, c->id, f->now), 0);
	assert_int_equal(f->recs[0].type, EV_ENDED);
	assert_int_equal(f->recs[0].why, ROUTER_END_STAFF);
	assert_int_equal(f->recs[0].n_staff, ROUTER_CHAT_MAX_STAFF);
	assert_int_equal(pro->open_chats, 0);
	assert_int_equal(x[2]->open_chats, 0);
	assert_int_equal(v->state, ROUTER_V_ENDED);
}

static void test_end_withdraws_request(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_staff *b = online(f, 2, "bert", 1, 1);
	struct router_visitor *v = visitor(f, 0, -1);
	struct router_chat *c = serve(f, a, v);
	long e, g;

	assert_int_equal(router_invite(f->r, a, c->id, &(struct router_target){ .user = "bert" }, f->now), 0);
	assert_int_equal(b->pending_offers, 1);
	clear(f);
	assert_int_equal(router_visitor_end(f->r, v, true, f->now), 0);
	e = find(f, EV_ENDED, 0);
	g = find(f, EV_OFFER_GONE, 0);
	assert_true(e == 0 && g > e);
	assert_int_equal(f->recs[e].why, ROUTER_END_QUICK_EXIT);
	assert_int_equal(f->recs[g].why, ROUTER_OFFER_WITHDRAWN);
	assert_int_equal(count(f, EV_REQUEST_FAILED), 0);
	assert_int_equal(b->pending_offers, 0);
	assert_int_equal(a->open_chats, 0);
}

/* ---- closed languages ---- */

static void test_closed_then_open(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = staff(f, 1, "anna", 1u << 1, 1, BRUG_ROLE_VOLUNTEER, 0);
	struct router_staff *b = staff(f, 2, "bert", 1u << 1, 1, BRUG_ROLE_VOLUNTEER, 0);
	struct router_visitor *v1, *v2, *v3;

	assert_false(router_lang_open(f->r, 1));
	clear(f);
	v1 = visitor(f, 1, -1);
	v2 = visitor(f, 1, -1);
	v3 = visitor(f, 1, -1);
	assert_int_equal(count(f, EV_CLOSED), 3);
	assert_int_equal(count(f, EV_QUEUE), 0);
	assert_int_equal(v1->state, ROUTER_V_PARKED);
	assert_int_equal(router_queue_length(f->r, 1), 0);
	/* v2 gives up while parked. */
	assert_int_equal(router_visitor_end(f->r, v2, false, f->now), 0);
	assert_int_equal(v2->state, ROUTER_V_ENDED);

	clear(f);
	router_staff_set_available(f->r, a, true, f->now);
	assert_true(router_lang_open(f->r, 1));
	/* In park order, then an offer for the head. */
	assert_int_equal(f->recs[0].type, EV_QUEUE);
	assert_ptr_equal(f->recs[0].v, v1);
	assert_int_equal(f->recs[0].position, 1);
	assert_int_equal(f->recs[1].type, EV_QUEUE);
	assert_ptr_equal(f->recs[1].v, v3);
	assert_int_equal(f->recs[1].position, 2);
	assert_int_equal(f->recs[2].type, EV_OFFER);
	assert_ptr_equal(f->recs[2].v, v1);
	assert_int_equal(f->n, 3);
	assert_int_equal(router_queue_length(f->r, 1), 2);

	/* A second member opening nothing new brings only an offer. */
	clear(f);
	router_staff_set_available(f->r, b, true, f->now);
	assert_int_equal(f->n, 1);
	assert_ptr_equal(last(f, EV_OFFER)->v, v3);

	/* Everyone leaves: the language closes again, new visitors park. */
	router_staff_set_available(f->r, a, false, f->now);
	router_staff_remove(f->r, b, f->now);
	assert_false(router_lang_open(f->r, 1));
	assert_int_equal(visitor(f, 1, -1)->state, ROUTER_V_PARKED);
	assert_int_equal(router_queue_length(f->r, 1), 2);
}

/* ---- the wait estimate ---- */

static void test_wait_estimate(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	uint64_t t0 = f->now;
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2 = visitor(f, 0, -1);
	struct router_visitor *v3 = visitor(f, 0, -1);
	struct router_visitor *v4 = visitor(f, 0, -1);
	struct router_visitor *v5;
	struct router_chat *c;

	assert_int_equal(v2->wait_s, -1); /* no samples yet */
	assert_int_equal(v2->entry_position, 2); /* behind v1, offered but queued */

	/* v1 waited 90 s at position 1: 90 s per place. */
	f->now = t0 + 90000;
	c = serve(f, a, v1);
	assert_int_equal(v2->position, 1);
	assert_int_equal(v2->wait_s, 120); /* 90 s -> 2 min */
	assert_int_equal(v3->wait_s, 180); /* 180 s -> 3 min */
	assert_int_equal(v4->wait_s, 300); /* 270 s -> 5 min */

	/* v2 entered at position 2 and waits 150 s: 75 s per place. The mean
	 * is 82.5 s; everybody whose estimate changed hears it. */
	f->now = t0 + 150000;
	assert_int_equal(router_chat_end(f->r, a, c->id, f->now), 0);
	clear(f);
	c = serve(f, a, v2);
	assert_int_equal(v3->position, 1);
	assert_int_equal(v3->wait_s, 120);	/* 82.5 s */
	assert_int_equal(v4->wait_s, 180);	/* 165 s */
	assert_int_equal(count(f, EV_QUEUE), 2);

	/* The head is away, so v4 is served: it entered at 4 and waited
	 * 150 s, 37.5 s a place. The mean (67.5 s) changes, but v3's rounded
	 * estimate at position 1 does not, so only v5 (moving up) is told. */
	v5 = visitor(f, 0, -1);
	assert_int_equal(v5->wait_s, 300);
	assert_true(router_visitor_detach(f->r, v3, f->now));
	assert_int_equal(router_chat_end(f->r, a, c->id, f->now), 0);
	clear(f);
	c = serve(f, a, v4);
	assert_int_equal(count(f, EV_QUEUE), 1);
	assert_ptr_equal(last(f, EV_QUEUE)->v, v5);
	assert_int_equal(v5->position, 2);
	assert_int_equal(v5->wait_s, 180);
	assert_int_equal(v3->wait_s, 120);
	/* v5 is served at once (a zero wait): the mean drops to 50.6 s, and
	 * v3, ahead of it, is told its new estimate. */
	assert_int_equal(router_chat_end(f->r, a, c->id, f->now), 0);
	clear(f);
	c = serve(f, a, v5);
	assert_int_equal(count(f, EV_QUEUE), 1);
	assert_ptr_equal(last(f, EV_QUEUE)->v, v3);
	assert_int_equal(v3->position, 1);
	assert_int_equal(v3->wait_s, 60);
	router_visitor_attach(f->r, v3, f->now);
	assert_int_equal(router_visitor_end(f->r, v3, false, f->now), 0);

	/* A very short wait still shows at least a minute. */
	assert_int_equal(router_chat_end(f->r, a, c->id, f->now), 0);
	for (int i = 0; i < ROUTER_WAIT_SAMPLES; i++) {
		struct router_visitor *w = visitor(f, 0, -1);

		while (w->offer == NULL) {
			/* Serve whoever is offered until w is. */
			struct router_visitor *h = NULL;

			for (size_t k = f->n; k > 0 && h == NULL; k--)
				if (f->recs[k - 1].type == EV_OFFER)
					h = f->recs[k - 1].v;
			c = serve(f, a, h);
			assert_int_equal(router_chat_end(f->r, a, c->id, f->now), 0);
		}
		c = serve(f, a, w);
		assert_int_equal(router_chat_end(f->r, a, c->id, f->now), 0);
	}
	/* The ring now holds only zero waits. */
	v1 = visitor(f, 0, -1);
	v2 = visitor(f, 0, -1);
	assert_non_null(v1->offer);
	assert_int_equal(v2->position, 2);
	assert_int_equal(v2->wait_s, 60);
}

/* Serving the head of a queue of 1,000 tells the 999 behind it once each. */
static void test_queue_thousand(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 1);
	struct router_visitor **v = calloc(1000, sizeof *v);
	unsigned *seen = calloc(1000, sizeof *seen);

	assert_non_null(v);
	assert_non_null(seen);
	for (int i = 0; i < 1000; i++)
		v[i] = visitor(f, 0, -1);
	assert_int_equal(router_queue_length(f->r, 0), 1000);
	assert_int_equal(v[999]->position, 1000);
	assert_non_null(v[0]->offer);
	f->now += 60000;
	clear(f);
	assert_int_equal(router_offer_accept(f->r, a, v[0]->offer->id, f->now), 0);
	assert_int_equal(count(f, EV_QUEUE), 999);
	assert_int_equal(count(f, EV_JOINED), 1);
	assert_int_equal(f->n, 1000);
	for (size_t k = 0; k < f->n; k++) {
		if (f->recs[k].type != EV_QUEUE)
			continue;
		assert_true(f->recs[k].v != v[0]);
		for (int i = 1; i < 1000; i++) {
			if (f->recs[k].v == v[i]) {
				seen[i]++;
				assert_int_equal(f->recs[k].position, (unsigned)i);
			}
		}
	}
	for (int i = 1; i < 1000; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(router_queue_length(f->r, 0), 999);

	/* With a known mean, a new visitor at the tail is the only one told. */
	clear(f);
	visitor(f, 0, -1);
	assert_int_equal(f->n, 1);

	/* Leaving from the middle tells only those behind. */
	clear(f);
	assert_int_equal(router_visitor_end(f->r, v[900], false, f->now), 0);
	assert_int_equal(count(f, EV_QUEUE), 100);
	assert_int_equal(f->n, 100);
	assert_int_equal(v[901]->position, 900);
	assert_int_equal(v[899]->position, 899);
	free(v);
	free(seen);
}

/* ---- lookup and shutdown ---- */

static void test_chat_find_many(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 500);
	struct router_chat **c = calloc(300, sizeof *c);

	assert_non_null(c);
	for (int i = 0; i < 300; i++)
		c[i] = serve(f, a, visitor(f, 0, -1));
	for (int i = 0; i < 300; i++) {
		assert_ptr_equal(router_chat_find(f->r, c[i]->id), c[i]);
		assert_int_equal(c[i]->visitor_no, (unsigned)i + 1);
	}
	assert_null(router_chat_find(f->r, 0));
	for (int i = 0; i < 300; i += 2)
		assert_int_equal(router_chat_end(f->r, a, c[i]->id, f->now), 0);
	for (int i = 1; i < 300; i += 2)
		assert_ptr_equal(router_chat_find(f->r, c[i]->id), c[i]);
	assert_int_equal(a->open_chats, 150);
	free(c);
}

static void test_shutdown(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 2);
	struct router_staff *b = online(f, 2, "bert", 1, 2);
	struct router_visitor *v1 = visitor(f, 0, -1);
	struct router_visitor *v2 = visitor(f, 0, -1);
	struct router_chat *c1 = serve(f, a, v1);
	struct router_chat *c2;
	size_t n_ended = 0;

	/* One live chat, one requeued with its transcript, one waiting with an
	 * offer, one parked, one disconnected, one transfer pending. */
	(void)v2;
	assert_non_null(chat_log_append(&c1->log, true, NULL, "private", 7, f->now));
	c2 = serve(f, b, visitor(f, 0, -1));
	assert_non_null(chat_log_append(&c2->log, true, NULL, "private", 7, f->now));
	assert_int_equal(router_transfer(f->r, a, c1->id, &(struct router_target){ .user = "bert" }, f->now), 0);
	router_staff_remove(f->r, b, f->now);
	visitor(f, 0, -1);
	visitor(f, 3, -1);
	assert_true(router_visitor_detach(f->r, v1, f->now));

	clear(f);
	router_free(f->r, f->now);
	for (size_t i = 0; i < f->n; i++) {
		if (f->recs[i].type == EV_ENDED) {
			assert_int_equal(f->recs[i].why, ROUTER_END_SHUTDOWN);
			n_ended++;
		}
	}
	assert_int_equal(n_ended, 2);
	assert_int_equal(count(f, EV_OFFER), 0);
	assert_int_equal(count(f, EV_QUEUE), 0);
	f->r = NULL; /* teardown's router_free(NULL) is a no-op */
}

static void test_null_events(void **state)
{
	struct router_config cfg = { .n_langs = 2, .offer_timeout_ms = 10, .grace_ms = 10 };
	struct router *r = router_new(&cfg, NULL, NULL);
	struct router_staff_info info = { .id = 1, .username = "a", .alias = "A", .langs = 3, .max_chats = 1 };
	struct router_staff *s;
	struct router_visitor *v;

	(void)state;
	assert_non_null(r);
	assert_null(router_new(&(struct router_config){ .n_langs = ROUTER_MAX_LANGS + 1 }, NULL, NULL));
	s = router_staff_add(r, NULL, &info, 0);
	assert_non_null(s);
	assert_ptr_equal(router_staff_find_id(r, 1), s);
	assert_null(router_staff_find_id(r, 2));
	router_staff_set_available(r, s, true, 0);
	v = router_visitor_new(r, NULL);
	assert_int_equal(router_visitor_start(r, v, 1, -1, 0), 0);
	router_tick(r, 10); /* lapses */
	assert_false(s->available);
	assert_true(router_visitor_detach(r, v, 10));
	router_tick(r, 20);
	router_free(r, 20);
	router_free(NULL, 0);
}

/* End of shift: a quiet member keeps its chat but gets no new offer; the
 * per-language counts for the dashboard follow queue, chats and offers. */
static void test_quiet_and_lang_stats(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1, 3);
	struct router_visitor *v1 = visitor(f, 0, -1), *v2, *v3;
	struct router_lang_stats st[2];

	serve(f, a, v1);
	router_staff_set_quiet(f->r, a, true, f->now);
	f->now += 1000;
	v2 = visitor(f, 0, -1);
	assert_null(v2->offer);
	assert_true(router_lang_open(f->r, 0));   /* still counts as available */
	f->now += 1000;
	v3 = visitor(f, 0, -1);
	router_lang_stats(f->r, st, 2);
	assert_int_equal(st[0].waiting, 2);
	assert_int_equal(st[0].chats, 1);
	assert_int_equal(st[0].offers, 0);
	assert_int_equal(st[0].oldest_enqueued_ms, v2->enqueued_ms);
	assert_int_equal(st[1].waiting, 0);
	assert_int_equal(st[1].oldest_enqueued_ms, 0);
	/* Leaving quiet brings the offer at once. */
	router_staff_set_quiet(f->r, a, false, f->now);
	assert_non_null(v2->offer);
	router_lang_stats(f->r, st, 2);
	assert_int_equal(st[0].offers, 2);
	(void)v3;
}

/* ---- restoring a lost node's sessions (router_restore.c) ---- */

/* Restored visitors take their places by enqueued_ms, whatever order
 * they come in, behind and between those already waiting, and are in
 * their grace period: they go if they do not resume. */
static void test_restore_queue_order(void **state)
{
	struct fx *f = *state;
	struct router_visitor *here = visitor(f, 0, -1);   /* closed: parked */
	struct router_visitor *a = router_visitor_new(f->r, NULL), *b = router_visitor_new(f->r, NULL);
	struct router_visitor *c = router_visitor_new(f->r, NULL);

	assert_int_equal(here->state, ROUTER_V_PARKED);
	/* With nobody available a restored visitor still waits in line. */
	assert_int_equal(router_visitor_restore(f->r, a, 0, -1, f->now - 3000, f->now), 0);
	assert_int_equal(router_visitor_restore(f->r, c, 0, 2, f->now - 1000, f->now), 0);
	assert_int_equal(router_visitor_restore(f->r, b, 0, -1, f->now - 2000, f->now), 0);
	assert_int_equal(router_queue_length(f->r, 0), 3);
	assert_int_equal(a->position, 1);
	assert_int_equal(b->position, 2);
	assert_int_equal(c->position, 3);
	assert_int_equal(c->topic, 2);
	assert_false(a->connected);
	/* Not NEW, or a bad language: refused, nothing changes. */
	assert_int_equal(router_visitor_restore(f->r, a, 0, -1, f->now, f->now), BRUG_E_CONFLICT);
	struct router_visitor *x = router_visitor_new(f->r, NULL);
	assert_int_equal(router_visitor_restore(f->r, x, 9, -1, f->now, f->now), BRUG_E_BAD_FIELD);
	assert_int_equal(router_visitor_restore(f->r, x, 0, 99, f->now, f->now), BRUG_E_BAD_FIELD);
	assert_int_equal(x->state, ROUTER_V_NEW);
	router_visitor_free(f->r, x, f->now);
	/* b resumes; a and c do not, and leave when their grace is over. */
	router_visitor_attach(f->r, b, f->now);
	clear(f);
	f->now += GRACE_MS;
	router_tick(f->r, f->now);
	assert_int_equal(count(f, EV_VISITOR_GONE), 2);
	assert_int_equal(router_queue_length(f->r, 0), 1);
	assert_int_equal(b->position, 1);
	/* The one served first is the oldest ticket. */
	struct router_staff *s = online(f, 1, "anna", 1u << 0, 1);
	assert_ptr_equal(last(f, EV_OFFER)->v, b);
	(void)s;
	(void)here;
}

/* A restored chat keeps its id, language, visitor number and staff
 * (counted against max_chats); the visitor is in its grace; nothing is
 * offered or joined again. */
static void test_restore_chat(void **state)
{
	struct fx *f = *state;
	struct router_staff *s = online(f, 1, "anna", 1u << 1, 1);
	struct router_visitor *v = router_visitor_new(f->r, NULL);
	struct router_chat_replica cr = {
		.id = (5ull << 40) + 7, .lang = 1, .topic = -1, .visitor_no = 42,
		.enqueued_ms = f->now - 60000, .started_ms = f->now - 30000, .staff = { s }, .n_staff = 1,
	};
	struct router_chat *c;

	clear(f);
	c = router_chat_restore(f->r, v, &cr, f->now);
	assert_non_null(c);
	assert_int_equal(count(f, EV_JOINED) + count(f, EV_OFFER), 0);
	assert_ptr_equal(router_chat_find(f->r, cr.id), c);
	assert_int_equal(c->visitor_no, 42);
	assert_int_equal(v->state, ROUTER_V_CHATTING);
	assert_false(v->connected);
	assert_true(router_chat_has_staff(c, s));
	assert_int_equal(s->open_chats, 1);
	assert_int_equal(router_staff_next_chat(f->r, s, 0), cr.id);
	/* The caller fills the transcript with the owner's numbers. */
	c->log.next_seq = 5;
	assert_non_null(chat_log_append(&c->log, true, NULL, "hi", 2, 1));
	assert_int_equal(c->log.next_seq, 6);
	/* Full: a new visitor waits. */
	struct router_visitor *w = visitor(f, 1, -1);
	assert_int_equal(w->state, ROUTER_V_WAITING);
	assert_int_equal(count(f, EV_OFFER), 0);
	/* The same id twice is refused. */
	struct router_visitor *v2 = router_visitor_new(f->r, NULL);
	assert_null(router_chat_restore(f->r, v2, &cr, f->now));
	assert_int_equal(v2->state, ROUTER_V_NEW);
	router_visitor_free(f->r, v2, f->now);
	/* The visitor resumes and the chat goes on; staff ends it normally. */
	router_visitor_attach(f->r, v, f->now);
	assert_int_equal(router_chat_end(f->r, s, cr.id, f->now), 0);
	assert_int_equal(last(f, EV_ENDED)->chat_id, cr.id);
	assert_int_equal(s->open_chats, 0);
	/* Now free, Anna is offered the one waiting. */
	assert_ptr_equal(last(f, EV_OFFER)->v, w);
}

/* A chat whose staff member is not here: the visitor waits at the head of
 * its queue with the transcript, and the next staff member takes it over. */
static void test_restore_chat_without_staff(void **state)
{
	struct fx *f = *state;
	struct router_visitor *first = router_visitor_new(f->r, NULL);
	struct router_visitor *v = router_visitor_new(f->r, NULL);
	struct router_chat_replica cr = {
		.id = 77, .lang = 0, .topic = -1, .visitor_no = 3, .enqueued_ms = f->now - 1000, .started_ms = f->now,
	};
	struct router_chat *c;

	assert_int_equal(router_visitor_restore(f->r, first, 0, -1, f->now - 5000, f->now), 0);
	clear(f);
	c = router_chat_restore(f->r, v, &cr, f->now);
	assert_non_null(c);
	assert_int_equal(count(f, EV_REQUEUED), 1);
	assert_int_equal(v->state, ROUTER_V_WAITING);
	assert_ptr_equal(v->chat, c);
	assert_int_equal(v->position, 1);
	assert_int_equal(first->position, 2);
	/* Offers go to visitors who are back (as in any grace period). */
	router_visitor_attach(f->r, v, f->now);
	struct router_staff *s = online(f, 2, "ben", 1u << 0, 1);
	assert_ptr_equal(last(f, EV_OFFER)->v, v);
	assert_int_equal(last(f, EV_OFFER)->chat_id, 77);
	assert_int_equal(router_offer_accept(f->r, s, offer_to(f, s), f->now), 0);
	assert_int_equal(last(f, EV_JOINED)->chat_id, 77);
	assert_int_equal(v->state, ROUTER_V_CHATTING);
	assert_ptr_equal(router_staff_find_user(f->r, "ben"), s);
	assert_null(router_staff_find_user(f->r, "nobody"));
}

/* Chats a member has on other nodes count against its max_chats here
 * (docs/cluster.md, section 3): no offer while full, one as soon as a chat
 * elsewhere ends; the least busy counts them too. */
static void test_chats_elsewhere(void **state)
{
	struct fx *f = *state;
	struct router_staff *a = online(f, 1, "anna", 1u << 0, 2);
	struct router_visitor *v1 = visitor(f, 0, -1);

	serve(f, a, v1);
	clear(f);
	router_staff_set_elsewhere(f->r, a, 1, f->now);
	struct router_visitor *v2 = visitor(f, 0, -1);
	assert_int_equal(count(f, EV_OFFER), 0);
	assert_int_equal(v2->state, ROUTER_V_WAITING);
	/* Ben has one chat here; Anna one here and one elsewhere: Ben is
	 * the less busy one once Anna has room again. */
	struct router_staff *b = online(f, 2, "ben", 1u << 0, 3);
	assert_ptr_equal(last(f, EV_OFFER)->s, b);
	assert_int_equal(router_offer_accept(f->r, b, offer_to(f, b), f->now), 0);
	clear(f);
	router_staff_set_elsewhere(f->r, a, 0, f->now);
	struct router_visitor *v3 = visitor(f, 0, -1);
	/* Both have one chat: the longer idle, Anna (served first). */
	assert_ptr_equal(last(f, EV_OFFER)->s, a);
	assert_ptr_equal(last(f, EV_OFFER)->v, v3);
	router_staff_set_elsewhere(NULL, a, 1, f->now);   /* no router: nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_match_language, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fewest_chats_then_longest_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_preference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_lapse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decline_cooldown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_chats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staff_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unavailable_withdraws, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staff_drop_requeues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staff_drop_shared_chat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_visitor_grace_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_visitor_grace_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_frees_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requeued_visitor_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_lapse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_withdraws_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_then_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_estimate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_thousand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chat_find_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_and_lang_stats, setup, teardown),
		cmocka_unit_test(test_null_events),
		cmocka_unit_test_setup_teardown(test_restore_queue_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chats_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_chat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_chat_without_staff, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
