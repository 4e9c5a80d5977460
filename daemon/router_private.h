/* The router's private structures and the helpers its files share; only
 * router.c and router_dispatch.c include it. The interface is router.h. */
#ifndef BRUG_ROUTER_PRIVATE_H
#define BRUG_ROUTER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "router.h"

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
	bool quiet;                   /* router_visitor_discard: chats end unreported */
};

static inline struct chat_impl *impl_of_chat(struct router_chat *c)
{
	return list_entry(c, struct chat_impl, pub);
}

static inline struct staff_impl *impl_of_staff(struct router_staff *s)
{
	return list_entry(s, struct staff_impl, pub);
}

#define EMIT(r, name, ...)                                    \
	do {                                                  \
		if ((r)->ev.name != NULL)                     \
			(r)->ev.name((r)->ctx, __VA_ARGS__);  \
	} while (0)

/* router.c, for router_restore.c */
/* A new chat of v with the router's next id (hashed and listed), no staff. */
struct chat_impl *router_new_chat(struct router *r, struct router_visitor *v, uint64_t now_ms);
/* Seat s in c: open_chats and idle_since follow. */
void router_seat_staff(struct router_chat *c, struct router_staff *s, uint64_t now_ms);
/* v (its chat kept) back at the head of its queue; emits requeued. */
void router_requeue(struct router *r, struct router_visitor *v);
/* Give ci another id, in the id hash too. */
void router_rehash_chat(struct router *r, struct chat_impl *ci, uint64_t new_id);

/* router_dispatch.c */
void router_set_state(struct router_visitor *v, enum router_visitor_state to);
bool router_record_sample(struct lang_state *l, uint64_t sample);
void router_queue_refresh(struct router *r, struct lang_state *l, struct list *from, unsigned pos);
void router_queue_append(struct router *r, struct router_visitor *v, uint64_t now_ms);
void router_queue_leave(struct router *r, struct router_visitor *v, bool mean_changed);
void router_offer_unlink(struct router *r, struct router_offer *o);
void router_offer_end(struct router *r, struct router_offer *o, enum router_offer_end why,
		      bool tell_requester);
struct router_offer *router_offer_new(struct router *r, enum router_offer_kind kind,
				      struct router_visitor *v, struct router_chat *c,
				      struct router_staff *to, struct router_staff *from, uint64_t now_ms);
struct router_offer *router_offer_find(struct router_staff *s, uint64_t offer_id);
bool router_has_room(const struct router_staff *s);
bool router_has_capacity(const struct router_staff *s);
bool router_less_busy(const struct router_staff *a, const struct router_staff *b);
void router_remember_decline(struct router *r, struct router_visitor *v, const struct router_staff *s,
			     uint64_t now_ms);
void router_dispatch(struct router *r, uint64_t now_ms);

#endif
