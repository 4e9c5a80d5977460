/* Replicas of other nodes' visitor sessions (docs/cluster.md, section 6):
 * what this node holds in RAM so that a session survives the loss of the
 * node that served it. Kept per (owner node, session handle); the
 * transcript is a struct chat_log, wiped like the owner's own. Pure
 * logic: no NATS, no JSON, no clock. */
#ifndef BRUG_REPLICA_H
#define BRUG_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "router.h"
#include "util/list.h"

#define REPLICA_NODE_MAX 32      /* as MEMBERS_NAME_MAX */
#define REPLICA_USER_MAX 64

/* A staff member of a replicated chat, enough to hold its seat until its
 * console comes back to the node that restores the chat. */
struct replica_staff {
	char user[REPLICA_USER_MAX + 1];
	char alias[REPLICA_USER_MAX + 1];
	uint32_t roles, langs;     /* BRUG_ROLE_* bits; bit i = language i */
	uint64_t topics;
	unsigned max_chats;
	bool available;
};

struct replica {
	/* Filled by the caller after replica_get, except where noted. */
	char owner[REPLICA_NODE_MAX + 1];  /* set by replica_get */
	uint64_t sid;                      /* set by replica_get */
	char token_hash[65];               /* BLAKE2b-256 of the resume token, hex; wiped */
	int lang, topic;
	uint64_t enqueued_wall_ms;         /* the queue ticket: first entry, kept across requeues */
	char origin[48];                   /* "node/sid" where the session began */
	uint32_t epoch;                    /* its resumes so far */
	uint64_t seen;                     /* per-store arrival counter: equal tickets by arrival */
	bool chatting;                     /* in a chat with staff now */
	uint64_t chat_id;                  /* 0: no chat (waiting without a transcript) */
	uint64_t chat_started_wall_ms;
	unsigned visitor_no;
	uint32_t next_seq;                 /* the chat's next seq as the owner last said */
	unsigned n_staff;
	struct replica_staff staff[ROUTER_CHAT_MAX_STAFF];
	struct chat_log log;               /* the transcript; owned */
	/* Private. */
	struct replica *hnext;
	struct list link;                  /* in the store, arrival order */
};

struct replica_store;

/* An empty store; NULL on no memory. */
struct replica_store *replica_store_new(void);
/* Wipe and free every replica and the store. Accepts NULL. */
void replica_store_free(struct replica_store *st);

/* The replica of owner's session sid (owner borrowed), created empty
 * (lang -1, no chat) if create and there is none. NULL if none (or no
 * memory, or a bad owner name). */
struct replica *replica_get(struct replica_store *st, const char *owner, uint64_t sid, bool create);
/* Wipe and free rep. */
void replica_drop(struct replica_store *st, struct replica *rep);
/* Drop every replica of owner; returns how many. */
unsigned replica_drop_owner(struct replica_store *st, const char *owner);
/* A new chat or a chat's whole transcript follows: rep's log is wiped,
 * and its messages come as replica_append. */
void replica_reset_log(struct replica *rep);
/* Message seq of rep's chat (text len bytes, alias NULL for the visitor;
 * both copied). One the log already has (seq below its next) is ignored.
 * 0, or -ENOMEM. */
int replica_append(struct replica *rep, uint32_t seq, bool from_visitor, const char *alias, const char *text,
		   size_t len, uint64_t ts_ms);
/* The replicas of owner in ticket order (enqueued_wall_ms, then arrival):
 * *out is a malloc'd array of borrowed pointers (the caller frees the
 * array, not the replicas), *n its length. 0, or -ENOMEM. */
int replica_list_owner(struct replica_store *st, const char *owner, struct replica ***out, size_t *n);
/* qsort comparison of struct replica * by ticket (enqueued_wall_ms, then
 * arrival). */
int replica_by_ticket(const void *a, const void *b);
/* The owner holding a replica with this token hash (borrowed), or NULL. */
const char *replica_find_hash(struct replica_store *st, const char *hash);
/* How many replicas the store holds. */
size_t replica_count(const struct replica_store *st);

#endif
