/* The router: per-language queues of waiting visitors, staff availability,
 * offers with timeouts, chats with their participants, transfer, invite and
 * the visitor's grace period. Pure logic: no sockets, no JSON, no clock of
 * its own (every call takes now_ms), so all of it is unit-tested with a fake
 * clock. It tells its owner what happened through struct router_events. */
#ifndef BRUG_ROUTER_H
#define BRUG_ROUTER_H

#include <stdbool.h>
#include <stdint.h>
#include "chat.h"
#include "util/list.h"

#define ROUTER_MAX_LANGS 16      /* languages are indexes 0..n_langs-1 */
#define ROUTER_MAX_TOPICS 32     /* topics are indexes 0..n_topics-1, -1 = none */
#define ROUTER_CHAT_MAX_STAFF 4  /* staff members in one chat at once */
#define ROUTER_WAIT_SAMPLES 20   /* recent real waits kept per language */

struct router;

struct router_config {
	unsigned n_langs;
	uint64_t offer_timeout_ms;   /* an offer lapses after this (default 30 s) */
	uint64_t grace_ms;           /* a dropped visitor is kept this long (default 120 s) */
	uint64_t decline_cooldown_ms;/* a staff member who declined a visitor is not offered
				      * the same visitor again for this long (default 60 s) */
	uint64_t id_base;            /* offer and chat ids start after it: 0 on a single
				      * node; in a cluster a per-boot random multiple of
				      * 2^40, so ids say which node made them */
};

enum router_visitor_state {
	ROUTER_V_NEW,      /* created, `hello` not yet handled */
	ROUTER_V_PARKED,   /* its language had nobody available: told `closed`, not queued;
			    * entered into the queue as soon as the language opens */
	ROUTER_V_WAITING,  /* in its language's queue (possibly with an offer pending) */
	ROUTER_V_CHATTING, /* in a chat with at least one staff member */
	ROUTER_V_ENDED,    /* its chat ended or it left the queue; may say `hello` again */
};

struct router_visitor {
	/* Read-only for callers. */
	void *owner;                     /* caller's session object, borrowed */
	enum router_visitor_state state;
	int lang;
	int topic;                       /* -1: none given */
	bool connected;                  /* false during the grace period */
	uint64_t enqueued_ms;            /* entered the queue (kept across a requeue) */
	unsigned position;               /* 1-based while WAITING: the value last reported */
	int64_t wait_s;                  /* estimate last reported; -1 = no estimate */
	struct router_chat *chat;        /* while CHATTING; also while WAITING after its
					  * staff member dropped (the transcript goes along) */
	struct router_offer *offer;      /* the pending offer for this visitor, if any */
	/* Private to the router. */
	struct list queue_link;          /* in the language queue or parked list */
	struct list grace_link;          /* in the grace list while disconnected */
	uint64_t grace_deadline_ms;
	unsigned entry_position;         /* position on entering the queue, for the estimate */
	struct {
		uint64_t staff_id;
		uint64_t until_ms;
	} declined[4];                   /* recent decliners, see decline_cooldown_ms */
};

struct router_staff_info {
	uint64_t id;            /* staff account id, unique */
	const char *username;   /* copied */
	const char *alias;      /* copied; the name visitors see */
	uint32_t roles;         /* BRUG_ROLE_* bits */
	uint32_t langs;         /* bit i = language i */
	uint64_t topics;        /* bit i = topic i; 0 = no preference */
	unsigned max_chats;     /* >= 1 */
};

struct router_staff {
	/* Read-only for callers. */
	void *owner;            /* caller's connection object, borrowed */
	uint64_t id;
	char *username, *alias; /* owned */
	uint32_t roles, langs;
	uint64_t topics;
	unsigned max_chats;
	bool available;
	unsigned open_chats;    /* chats this member is in */
	unsigned elsewhere;     /* chats it has on other nodes' routers (a cluster): they
				 * count against max_chats here too */
	unsigned pending_offers;/* offers waiting for its answer */
	uint64_t idle_since_ms; /* last time it was given a chat or became available;
				 * the smallest value is "longest idle" */
	/* Private to the router. */
	struct list link;       /* in router's staff list */
	struct list offers;     /* struct router_offer.staff_link */
};

enum router_offer_kind {
	ROUTER_OFFER_CHAT,      /* a waiting visitor (new, or requeued after a staff drop) */
	ROUTER_OFFER_TRANSFER,  /* take over a chat from its staff member */
	ROUTER_OFFER_INVITE,    /* join a chat next to its staff member */
};

/* Why an offer ended without being accepted. */
enum router_offer_end {
	ROUTER_OFFER_DECLINED,  /* the staff member said no */
	ROUTER_OFFER_LAPSED,    /* nobody answered in time: the staff member is set unavailable */
	ROUTER_OFFER_WITHDRAWN, /* the visitor left, the chat ended, or the requester dropped */
	ROUTER_OFFER_NOBODY,    /* (request_failed only) no staff member matched the target */
};

struct router_offer {
	/* Read-only for callers. */
	uint64_t id;            /* unique per router, > 0; the protocol's OFFER */
	enum router_offer_kind kind;
	struct router_visitor *visitor;
	struct router_chat *chat;   /* TRANSFER, INVITE, and CHAT after a requeue; else NULL */
	struct router_staff *to;
	struct router_staff *from;  /* requester of a TRANSFER or INVITE, else NULL */
	uint64_t created_ms, expires_ms;
	/* Private to the router. */
	struct list staff_link;     /* in to->offers */
	struct list timeout_link;   /* in router's offer list, in expiry order */
};

/* How a chat ended (protocol `ended.by`). */
enum router_end {
	ROUTER_END_VISITOR,
	ROUTER_END_QUICK_EXIT,  /* the visitor left through the quick exit */
	ROUTER_END_STAFF,
	ROUTER_END_TIMEOUT,     /* the visitor did not come back within the grace period */
	ROUTER_END_SHUTDOWN,
};

/* Why a staff member left a chat that goes on. */
enum router_leave {
	ROUTER_LEAVE_TRANSFERRED, /* handed the chat to someone else */
	ROUTER_LEAVE_DROPPED,     /* its connection dropped; another staff member stays */
};

struct router_chat {
	/* Read-only for callers, except log which the caller appends to. */
	uint64_t id;                  /* unique per router, > 0; the protocol's CHAT */
	struct router_visitor *visitor;
	struct router_staff *staff[ROUTER_CHAT_MAX_STAFF]; /* first n_staff used, join order */
	unsigned n_staff;
	int lang, topic;
	unsigned visitor_no;          /* "Visitor N": a per-boot counter, identifies nobody */
	uint64_t started_ms;
	struct chat_log log;          /* wiped when the chat ends */
	/* Private to the router. */
	struct list link;
};

/* Who a transfer or invite goes to: one named person who is online (whether
 * or not available for new chats), or anyone online and available with one
 * of the roles; either way with room under max_chats and, for a transfer,
 * the chat's language. */
struct router_target {
	const char *user;   /* username or alias of an online staff member; or NULL */
	uint32_t roles;     /* used when user is NULL; 0 = any role */
};

/*
 * Events the router reports, each synchronously from inside the call that
 * caused it. Every pointer argument is borrowed and valid only during the
 * call; callbacks must not call back into the router. Any may be NULL.
 */
struct router_events {
	/* v entered the queue, or its position or estimate changed; read
	 * v->position and v->wait_s. Only visitors whose values changed are
	 * reported, so serving the head of a queue of N costs N-1 calls. */
	void (*queue)(void *ctx, struct router_visitor *v);
	/* v's language has nobody available: v is parked (protocol `closed`). */
	void (*closed)(void *ctx, struct router_visitor *v);
	/* A new offer to o->to. */
	void (*offer)(void *ctx, struct router_offer *o);
	/* o ended unanswered (DECLINED only if the staff member declined, LAPSED
	 * sets o->to unavailable, WITHDRAWN). o is freed after the call. */
	void (*offer_gone)(void *ctx, struct router_offer *o, enum router_offer_end why);
	/* s joined c: the chat's first staff member (the visitor's chat starts,
	 * or restarts after a requeue), an invited one, or a transfer's target. */
	void (*joined)(void *ctx, struct router_chat *c, struct router_staff *s);
	/* s left c, which goes on with the others. */
	void (*left)(void *ctx, struct router_chat *c, struct router_staff *s, enum router_leave why);
	/* v's only staff member dropped: v is back at the head of its queue
	 * (v->chat keeps the transcript); a queue event follows. */
	void (*requeued)(void *ctx, struct router_visitor *v);
	/* c ended; c->visitor and c->staff are still set. c and its log are
	 * wiped and freed after the call. */
	void (*ended)(void *ctx, struct router_chat *c, enum router_end by);
	/* The router changed s->available (a lapsed offer sets it false). */
	void (*availability)(void *ctx, struct router_staff *s);
	/* A transfer or invite that s asked for in c did not happen. */
	void (*request_failed)(void *ctx, struct router_staff *s, struct router_chat *c,
			       enum router_offer_kind kind, enum router_offer_end why);
	/* v's grace period ran out (its chat, if any, has ended with TIMEOUT);
	 * the router frees v right after the call. */
	void (*visitor_gone)(void *ctx, struct router_visitor *v);
};

/* Create a router. cfg and ev are copied; ctx is passed to every event.
 * Returns NULL on no memory. Free with router_free(). */
struct router *router_new(const struct router_config *cfg, const struct router_events *ev, void *ctx);
/* End every chat with ROUTER_END_SHUTDOWN (events fire), then free all
 * visitors, staff, offers and chats (wiping transcripts) and r. Accepts NULL. */
void router_free(struct router *r, uint64_t now_ms);
/* New offer timeout and visitor grace (a config reload). Offers already
 * made and visitors already in their grace period keep their deadlines;
 * the new times apply from the next offer or drop on. */
void router_set_timeouts(struct router *r, uint64_t offer_timeout_ms, uint64_t grace_ms);

/* ---- visitors ---- */

/* A new visitor in state NEW; owner is borrowed. NULL on no memory. */
struct router_visitor *router_visitor_new(struct router *r, void *owner);
/* Handle `hello`: queue v for lang (topic -1 for none) if someone is
 * available for lang, else park it (closed event). v must be NEW or ENDED,
 * else BRUG_E_CONFLICT; lang out of range: BRUG_E_BAD_FIELD. */
int router_visitor_start(struct router *r, struct router_visitor *v, int lang, int topic, uint64_t now_ms);
/* v's socket dropped. WAITING or CHATTING visitors are kept for the grace
 * period (returns true; the owner must stay valid until visitor_gone or
 * router_visitor_attach). Otherwise v is freed and false is returned. */
bool router_visitor_detach(struct router *r, struct router_visitor *v, uint64_t now_ms);
/* v resumed on a new socket within its grace period: it keeps its queue
 * place or its chat. The caller sends the current state itself. */
void router_visitor_attach(struct router *r, struct router_visitor *v, uint64_t now_ms);
/* The visitor ends: its chat ends (VISITOR or QUICK_EXIT), or it leaves the
 * queue or the parked list. v becomes ENDED. BRUG_E_CONFLICT if it was
 * NEW or ENDED. */
int router_visitor_end(struct router *r, struct router_visitor *v, bool quick_exit, uint64_t now_ms);
/* Remove v from everything without ending anything politely (its chat
 * ends with VISITOR) and free it. For sockets that close for good. */
void router_visitor_free(struct router *r, struct router_visitor *v, uint64_t now_ms);

/* ---- staff ---- */

/* A logged-in staff member, not yet available. owner borrowed, info copied.
 * NULL on no memory. A second member with the same id is allowed by the
 * router; the caller decides to replace (router_staff_find_id). */
struct router_staff *router_staff_add(struct router *r, void *owner, const struct router_staff_info *info,
				      uint64_t now_ms);
/* The staff member with this account id, or NULL. */
struct router_staff *router_staff_find_id(struct router *r, uint64_t id);
/* s dropped or logged out: its offers go to others, chats it shares stay
 * with the others (left DROPPED), chats it held alone put their visitors at
 * the head of their queues (requeued). Frees s. */
void router_staff_remove(struct router *r, struct router_staff *s, uint64_t now_ms);
/* The account behind s changed (roles, languages, topics, chats at once):
 * takes the new values from info (id, username and alias are ignored).
 * Chat offers it no longer fits are withdrawn, its availability counts for
 * its new languages, and new offers may come. Chats it is in stay. */
void router_staff_update(struct router *r, struct router_staff *s, const struct router_staff_info *info,
			 uint64_t now_ms);
/* Protocol `status`. Becoming available opens its languages (parked
 * visitors enter the queue) and may bring offers. */
void router_staff_set_available(struct router *r, struct router_staff *s, bool available, uint64_t now_ms);

/* Protocol `accept`: BRUG_E_NOT_FOUND unless offer_id is pending for s. */
int router_offer_accept(struct router *r, struct router_staff *s, uint64_t offer_id, uint64_t now_ms);
/* Protocol `decline`: BRUG_E_NOT_FOUND unless offer_id is pending for s. */
int router_offer_decline(struct router *r, struct router_staff *s, uint64_t offer_id, uint64_t now_ms);

/* The chat with this id, or NULL. */
struct router_chat *router_chat_find(struct router *r, uint64_t chat_id);
/* Whether s is one of c's staff members. */
bool router_chat_has_staff(const struct router_chat *c, const struct router_staff *s);
/* Protocol `transfer`: offer c to the target (for a transfer the target must
 * speak c's language). BRUG_E_NOT_FOUND if no such chat, BRUG_E_FORBIDDEN if
 * s is not in it, BRUG_E_CONFLICT if a transfer or invite is already pending
 * for c, BRUG_E_NOT_FOUND if no staff member with room, not already in c,
 * matches (see struct router_target). */
int router_transfer(struct router *r, struct router_staff *s, uint64_t chat_id,
		    const struct router_target *to, uint64_t now_ms);
/* Protocol `invite`: like router_transfer, but the target joins next to s
 * (language not required) and BRUG_E_CONFLICT if c is full. */
int router_invite(struct router *r, struct router_staff *s, uint64_t chat_id,
		  const struct router_target *to, uint64_t now_ms);
/* Protocol `end` from staff: c ends with ROUTER_END_STAFF. Errors as for
 * router_transfer. */
int router_chat_end(struct router *r, struct router_staff *s, uint64_t chat_id, uint64_t now_ms);

/* Iterate s's chats: the id of the chat after the one with id `after` (0 to
 * start), in a stable order; 0 when there are no more. */
uint64_t router_staff_next_chat(struct router *r, const struct router_staff *s, uint64_t after);
/* End every chat with ROUTER_END_SHUTDOWN (events fire) and take no new
 * visitors into chats; visitors and staff stay until removed. */
void router_end_all(struct router *r, uint64_t now_ms);

/* Per language, for the coordinators' dashboard. */
struct router_lang_stats {
	unsigned waiting;             /* in the queue */
	uint64_t oldest_enqueued_ms;  /* of the first in line; 0 if none */
	unsigned chats;               /* chats in progress */
	unsigned offers;              /* offers waiting for an answer */
};
/* Fill out[0..n-1] (n <= ROUTER_MAX_LANGS): O(queues + chats + offers). */
void router_lang_stats(const struct router *r, struct router_lang_stats *out, unsigned n);
/* A quiet staff member keeps its chats and availability but gets no new
 * chat offers (the last minutes of its shift). Leaving quiet may bring
 * offers at once. */
void router_staff_set_quiet(struct router *r, struct router_staff *s, bool quiet, uint64_t now_ms);

/* s has n chats on other nodes' routers (docs/cluster.md, section 3):
 * from now on they count against its max_chats here. Fewer may bring
 * offers; more withdraws none already made. */
void router_staff_set_elsewhere(struct router *r, struct router_staff *s, unsigned n, uint64_t now_ms);

/* ---- restoring a lost node's sessions (docs/cluster.md, section 6) ---- */

/* As router_visitor_free, but its chat ends without the ended event: a
 * stale copy of a session that goes on elsewhere (after a split), whose
 * staff members must not hear it ended. */
void router_visitor_discard(struct router *r, struct router_visitor *v, uint64_t now_ms);

/* The staff member logged in here under username, or NULL. */
struct router_staff *router_staff_find_user(struct router *r, const char *username);

/* v (NEW, from router_visitor_new) takes its place in lang's queue from
 * another node's replica: ordered by enqueued_ms (this router's clock;
 * equal ones after those already there), disconnected, its grace running
 * from now. Queue events as on entry (v's own, and those behind it). BRUG_E_BAD_FIELD for a bad lang or topic, BRUG_E_CONFLICT
 * unless v is NEW. */
int router_visitor_restore(struct router *r, struct router_visitor *v, int lang, int topic,
			   uint64_t enqueued_ms, uint64_t now_ms);

/* A chat as a replica describes it; staff borrowed (members found here,
 * NULL entries skipped). */
struct router_chat_replica {
	uint64_t id;              /* kept: the clients know the chat by it */
	int lang, topic;
	unsigned visitor_no;
	uint64_t enqueued_ms, started_ms;   /* this router's clock */
	struct router_staff *staff[ROUTER_CHAT_MAX_STAFF];
	unsigned n_staff;
};
/* v (NEW) restored in its chat, disconnected and in its grace: the staff
 * found here are seated (counted in open_chats), no events fire. With
 * none found, v waits at the head of its queue with the chat, as after
 * its staff member dropped (requeued). The log is empty; the caller
 * fills it (chat_log_append with next_seq set). NULL on no memory, a bad
 * field, or an id already in use (nothing changed). */
struct router_chat *router_chat_restore(struct router *r, struct router_visitor *v,
					const struct router_chat_replica *cr, uint64_t now_ms);

/* ---- time and state ---- */

/* Whether lang has a staff member who is online and available. */
bool router_lang_open(const struct router *r, int lang);
/* Number of visitors waiting in lang's queue. */
unsigned router_queue_length(const struct router *r, int lang);
/* Expire offers and grace periods that are due at now_ms, then dispatch. Cost
 * is O(expired + offers made), not O(visitors). Call at least once a second. */
void router_tick(struct router *r, uint64_t now_ms);

#endif
