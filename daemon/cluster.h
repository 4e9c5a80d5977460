/* The cluster link (docs/cluster.md): this node's connection to NATS, its
 * heartbeat and the membership list it keeps. libnats runs its own
 * threads; everything here except the wake callback happens on the lws
 * loop's thread, which drains what libnats delivered in cluster_poll(). */
#ifndef BRUG_CLUSTER_H
#define BRUG_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

struct config;
struct cluster;

/* Heartbeat period and how long a silent member stays in the list (three
 * missed heartbeats and some slack; docs/cluster.md, section 2). */
#define CLUSTER_HEARTBEAT_MS 1000
#define CLUSTER_MEMBER_TIMEOUT_MS 3500

/* Create the link for cfg's [cluster] (cfg borrowed, must outlive it).
 * wake(ctx) is called on a libnats thread when there is work for
 * cluster_poll(); it must be thread-safe (lws_cancel_service). Nothing
 * connects yet. NULL on no memory, or when brugd was built without NATS. */
struct cluster *cluster_new(const struct config *cfg, void (*wake)(void *ctx), void *ctx, uint64_t now_ms);
/* Start connecting to the servers of nats_url over TLS with the
 * credentials; if none answers now, libnats keeps trying in the
 * background, and a connection closed for good (say a certificate that
 * does not verify) starts over every few seconds, while the node serves
 * its own sockets. 0, or -EINVAL (bad CA or seed file, logged) or -ENOMEM. */
int cluster_start(struct cluster *cl, uint64_t now_ms);
/* Handle what libnats delivered since the last call (heartbeats,
 * connection changes). Call when wake() asked for it; cluster_tick() does
 * it too. Accepts NULL. */
void cluster_poll(struct cluster *cl, uint64_t now_ms);
/* Timers: send the heartbeat when due and drop silent members. Call every
 * 250-1000 ms. Accepts NULL. */
void cluster_tick(struct cluster *cl, uint64_t now_ms);
/* Tell the others this node leaves (they drop it at once) and stop
 * calling wake. Idempotent; accepts NULL. Call before the loop goes away. */
void cluster_stop(struct cluster *cl);
/* cluster_stop, then close and free everything. Accepts NULL. */
void cluster_free(struct cluster *cl);

/* Whether the link to NATS is up now. */
bool cluster_connected(const struct cluster *cl);
/* GET /api/health (docs/operations.md): this node, whether it is in a
 * cluster and connected, the live members and each language's owner. cl
 * may be NULL (no
 * [cluster]). Sets *status to 200, or 503 when a cluster node has no NATS
 * link (the load balancer then sends visitors elsewhere). Caller frees;
 * NULL on no memory. */
char *cluster_health_json(struct cluster *cl, const struct config *cfg, int *status);

/* ---- frames of a visitor whose language another node owns (section 3) ---- */

struct hub;
struct hub_conn;
struct cluster_fwd;

/* Lend the cluster the hub (borrowed), for the sockets of other nodes
 * that this node's hub serves. */
void cluster_set_hub(struct cluster *cl, struct hub *h);
/* The node that owns lang now (borrowed name), or NULL when alone. */
const char *cluster_owner(struct cluster *cl, const char *lang);
/* On the home: hand c (borrowed; it must call cluster_forward_close
 * before it goes) to the owner of lang, with its hashed source src_key
 * (borrowed; "" if unknown) for the owner's per-source limits. NULL if this node owns lang, NATS
 * is down, or no memory: then the home serves c itself. */
struct cluster_fwd *cluster_forward_open(struct cluster *cl, struct hub_conn *c, const char *lang, const char *src_key,
					 uint64_t conn_no);
/* On the home: c's hello resumes a token this node does not know: ask the
 * other nodes who holds the session with this token hash (borrowed). The
 * frames wait meanwhile; if nobody answers within a second, the hub gets
 * c back (hub_serve_here) with the frames, and serves it as a new start.
 * NULL when there is nobody to ask (alone, or NATS is down). */
struct cluster_fwd *cluster_forward_find(struct cluster *cl, struct hub_conn *c, const char *hash, const char *src_key,
					 uint64_t conn_no);
/* On a staff member's home: a frame (borrowed) of username's console that
 * names an offer or chat id another node's router made; true if it went
 * to that node. */
bool cluster_staff_route(struct cluster *cl, const char *username, uint64_t id, const char *buf, size_t len);
/* A console here logs in with a token our database does not know: if
 * another node listed a session of that token hash (borrowed) in its
 * presence, not expired at now_wall_ms, copy its user name into user (65
 * bytes) and forget it (one use); the hub then opens a local session for
 * that account. */
bool cluster_staff_session_user(struct cluster *cl, const char *hash, int64_t now_wall_ms, char user[65]);
/* One frame from c's socket (borrowed) for the owner. */
void cluster_forward_input(struct cluster_fwd *f, const char *buf, size_t len);
/* c's socket is gone: tell the owner and free f. Accepts NULL. */
void cluster_forward_close(struct cluster_fwd *f);


/* Add the other live nodes' queues and chats per language (from their
 * presence lists, at most a second old) to out[0..n-1], this router's own
 * (oldest_enqueued_ms on our monotonic clock, now_ms / wall_ms now). For
 * the coordinators' dashboard. Accepts NULL (nothing added). */
struct router_lang_stats;
void cluster_add_lang_stats(struct cluster *cl, struct router_lang_stats *out, unsigned n, uint64_t now_ms,
			    uint64_t wall_ms);

/* ---- replicas of this node's sessions (section 6) ---- */

struct router_chat;
struct chat_msg;
/* A session's replica as the hub sees it; every pointer borrowed. */
struct cluster_rep {
	uint64_t sid;
	const char *origin;              /* "node/sid" where it began */
	uint32_t epoch;                  /* its resumes so far */
	const char *token_hash;          /* 64 hex */
	int lang, topic;
	uint64_t ticket_wall_ms;
	bool chatting;
	const struct router_chat *chat;  /* NULL: no chat (waiting, no transcript) */
	uint64_t chat_started_wall_ms;
};
/* Publish r to the node that replicates lang's sessions of this node (the
 * owner of lang, or its backup when that is us); full: the chat's whole
 * transcript follows, else only a new chat resets it. */
void cluster_rep_session(struct cluster *cl, const struct cluster_rep *r, bool full);
/* Message m (borrowed) of session sid's chat. */
void cluster_rep_msg(struct cluster *cl, uint64_t sid, int lang, uint64_t chat_id, const struct chat_msg *m);
/* Session sid is over: its replica goes. */
void cluster_rep_drop(struct cluster *cl, uint64_t sid, int lang);
/* Tell lang's owner to restore our sessions sids[0..n-1] (borrowed) from
 * its replicas: they are its now (hub_hand_over_lang). */
void cluster_rep_take(struct cluster *cl, int lang, const uint64_t *sids, size_t n);
/* Forget every replica we sent before (then hub_rep_all sends them anew). */
void cluster_rep_reset(struct cluster *cl);

#endif
