/* The hub: brugd's core behind the sockets. It holds each connection's
 * session (visitor or staff), decodes frames, checks roles against the
 * message table, drives the router, and fans messages out as shared frames.
 * It knows nothing of libwebsockets: the edge (server.c) gives it bytes and
 * events and carries out its send and close requests. */
#ifndef BRUG_HUB_H
#define BRUG_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto.h"

struct config;
struct i18n;
struct staff;
struct hub;
struct hub_conn;

/* A socket's outbound queue: the edge closes a reader 1008 that lets more
 * pile up. A transcript takes it at most to HUB_OUTQ_REPLAY_* and goes on
 * as it drains, so that the rest holds any live message (checked at
 * compile time in hub_private.h). */
#define HUB_OUTQ_MAX_FRAMES 512
#define HUB_OUTQ_MAX_BYTES (2u * 1024 * 1024)
#define HUB_OUTQ_REPLAY_FRAMES (HUB_OUTQ_MAX_FRAMES / 4 * 3)
#define HUB_OUTQ_REPLAY_BYTES (HUB_OUTQ_MAX_BYTES / 4 * 3)

/* What the hub asks of the edge. edge is the pointer given at open. */
struct hub_edge_ops {
	/* Queue f on the socket; takes a new reference if it keeps f. */
	void (*send)(void *edge, struct frame *f);
	/* Close after the frames already queued, with a WebSocket close code
	 * and a short ASCII reason. The edge later reports hub_closed(). */
	void (*close)(void *edge, int code, const char *reason);
	/* Wall-clock time in milliseconds since the epoch (protocol "ts"). */
	uint64_t (*wall_ms)(void *ctx);
	/* Wake the event loop so that it calls hub_poll(). Called from the
	 * hub's worker thread: must be thread-safe. */
	void (*wake)(void *ctx);
	/* Whether a frame of len bytes may be queued on the socket and leave
	 * its queue within HUB_OUTQ_REPLAY_FRAMES and _BYTES; an empty queue
	 * always takes one. NULL: always. The edge calls hub_writable() when
	 * the queue has gone down again. */
	bool (*room)(void *edge, size_t len);
};

/* Create the hub. cfg, t and st are borrowed and must outlive it; ops is
 * copied; ctx goes to ops->wall_ms and ops->wake. Starts one worker thread.
 * NULL on no memory. */
struct hub *hub_new(const struct config *cfg, struct i18n *t, struct staff *st,
		    const struct hub_edge_ops *ops, void *ctx);
/* The config the hub borrows was reloaded in place (reload.h): take up
 * the values the hub copied at start (offer timeout, visitor grace). */
void hub_config_changed(struct hub *h);
/* End every chat (SHUTDOWN), ask every socket to close with 1001 and stop
 * taking new work. Sockets report hub_closed() afterwards as usual. */
void hub_shutdown(struct hub *h, uint64_t now_ms);
/* Free the hub and every session still held, wiping visitor data.
 * Accepts NULL. Connections must have been reported closed. */
void hub_free(struct hub *h, uint64_t now_ms);

/* A visitor socket opened. accept_language is borrowed (may be NULL);
 * source_key is an opaque, already hashed key for the client's source
 * (borrowed, copied; may be NULL), used only to cap the waiting sessions
 * per source; conn_no is the per-boot connection number used in logs.
 * Returns the connection (owned by the hub until hub_closed), or NULL:
 * then the edge closes the socket. */
struct hub_conn *hub_visitor_open(struct hub *h, void *edge, const char *accept_language, const char *source_key,
				  uint64_t conn_no);
/* A staff socket opened. addr_key is an opaque, already hashed key for the
 * client address used only for login back-off (borrowed, may be NULL). */
struct hub_conn *hub_staff_open(struct hub *h, void *edge, const char *addr_key, uint64_t conn_no);
/* One complete text frame (len bytes, valid UTF-8) arrived on c. buf is
 * borrowed; the hub copies what it keeps. */
void hub_input(struct hub_conn *c, const char *buf, size_t len, uint64_t now_ms);
/* c's outbound queue has gone down (at most half full): the hub sends more
 * of a transcript still under way. Cheap when there is none. */
void hub_writable(struct hub_conn *c, uint64_t now_ms);
/* c's socket is gone. The hub unlinks and frees c (a visitor's session may
 * live on for the grace period); the edge must not use c again. */
void hub_closed(struct hub_conn *c, uint64_t now_ms);
/* Finish work the worker thread completed (password checks). Call when
 * ops->wake asked for it; hub_tick() does it too. */
void hub_poll(struct hub *h, uint64_t now_ms);
/* Finish the logins in flight and stop the worker thread, so that it never
 * calls ops->wake again; later password logins are refused. Call before
 * the event loop goes away. Idempotent. */
void hub_stop_worker(struct hub *h, uint64_t now_ms);
/* Timers: offer and grace expiry, staff session expiry. Call about every
 * 250-1000 ms. */
void hub_tick(struct hub *h, uint64_t now_ms);

/* ---- the cluster (docs/cluster.md): the hub's second edge ---- */

struct cluster;
/* Lend the hub the cluster link (borrowed; NULL: a single node). New
 * visitors whose language another node owns are then handed to it. */
void hub_set_cluster(struct hub *h, struct cluster *cl);
/* On the owner: a visitor socket on another node, whose frames the cluster
 * feeds to hub_input; ops (borrowed, send and close used) carry the hub's
 * frames back; lang is the language of the hello; source_key (copied; NULL
 * or "" if unknown) its source as this hub counts it. Like
 * hub_visitor_open. */
struct hub_conn *hub_remote_visitor_open(struct hub *h, const struct hub_edge_ops *ops, void *edge, int lang,
					 const char *source_key, uint64_t conn_no);
/* On the home: write text (len bytes, a frame the owner serialized;
 * borrowed) to c's socket. */
void hub_deliver(struct hub_conn *c, const char *text, size_t len);
/* On the home: close c's socket as the owner asked. */
void hub_kick(struct hub_conn *c, int code, const char *reason);
struct router_staff;
struct router_staff_info;
/* The router's id base (0 on a single node): ids above it up to the next
 * 2^40 are this node's. */
uint64_t hub_id_base(const struct hub *h);
/* Call fn for every staff member logged in on a socket of this node (rs
 * borrowed, valid during the call). */
void hub_each_local_staff(struct hub *h,
			  void (*fn)(void *ctx, const struct router_staff *rs, const char *token_hash, int64_t expires_ms),
			  void *ctx);
/* On an owner: a console logged in on another node (its home checked the
 * login and checks the session), as a staff member of this router with
 * info (copied). Frames for it go through ops; frames from it come through
 * hub_input. Reported closed with hub_closed as usual. NULL on no memory. */
struct hub_conn *hub_remote_staff_open(struct hub *h, const struct hub_edge_ops *ops, void *edge,
				       const struct router_staff_info *info, uint64_t conn_no);
/* docs/cluster.md, section 3: the chats a member has on other nodes'
 * routers count against its max_chats here. For a proxy c: set them. */
void hub_conn_set_elsewhere(struct hub_conn *c, unsigned n, uint64_t now);
/* The chats our router has with the member behind proxy c. */
unsigned hub_conn_open_chats(const struct hub_conn *c);
/* For every member logged in here: count(ctx, user name) is its chats
 * on other nodes. */
void hub_set_local_elsewhere(struct hub *h, unsigned (*count)(void *ctx, const char *user), void *ctx,
			     uint64_t now);
/* Per language, this node's router's queue and chats (router_lang_stats),
 * with oldest_enqueued_ms as wall-clock ms, for the other nodes'
 * dashboards. out has room for n <= ROUTER_MAX_LANGS. */
struct router_lang_stats;
void hub_lang_stats_wall(struct hub *h, struct router_lang_stats *out, unsigned n);
/* Its home says the member's availability changed. */
void hub_remote_staff_available(struct hub_conn *c, bool available, uint64_t now);
/* On the home: write text (a frame another node's hub made) to every
 * console of username here. */
void hub_deliver_staff(struct hub *h, const char *username, const char *text, size_t len);
/* On the home: no other node holds the session c's hello asked for; the
 * cluster then feeds the frames it held back to hub_input, served here. */
void hub_serve_here(struct hub_conn *c);
/* Whether a waiting or chatting session's current resume token has this
 * hash (token_hash_hex; borrowed). For another node's question. */
bool hub_has_session_hash(struct hub *h, const char *hash);

/* Staff ids with this bit are not this node's accounts: another node's
 * console (a proxy) or a seat kept for one; account ids never have it. */
#define HUB_FOREIGN_STAFF_ID (1ull << 62)

/* ---- replicas (docs/cluster.md, section 6) ---- */
struct replica;
/* Restore a lost node's session from its replica (borrowed; copied):
 * waiting in ticket order, or in its chat with the same id, staff and
 * seq, disconnected and in its grace until the visitor resumes with its
 * token (known here by hash). 0, or BRUG_E_* (nothing changed). */
int hub_restore_session(struct hub *h, const struct replica *rep, uint64_t now);
/* The replica targets changed (a node joined or left): every session's
 * replica, transcript included, is sent again at the next flush. */
void hub_rep_all(struct hub *h);
/* lang's owner is another node now: the visitors waiting here for lang
 * move there, keeping their places: the new owner
 * restores them from its replicas, and our sockets go on through it.
 * Returns how many. */
unsigned hub_hand_over_lang(struct hub *h, int lang, uint64_t now);
/* A replica of the session begun as origin ("node/sid", borrowed), at
 * epoch, arrived from another node: a copy of it here with a lower epoch
 * is stale (the visitor resumed there during a split; docs/cluster.md,
 * section 7) and goes quietly, its socket closed 4003. */
void hub_rep_seen(struct hub *h, const char *origin, uint32_t epoch, uint64_t now);
/* Send what hub_rep_all or the hub's events left out of date. */
void hub_rep_flush(struct hub *h);

struct roster;
struct stats;
/* Lend the hub the shift roster and the statistics (borrowed; either may
 * stay unset, e.g. in unit tests). */
void hub_set_roster(struct hub *h, struct roster *r);
void hub_set_stats(struct hub *h, struct stats *st);

/* GET /api/status/LANG.json: per configured language whether someone can
 * take a chat now, and the next opening (null until the roster exists),
 * texts in language lang. Caller frees; NULL on no memory. */
char *hub_status_json(struct hub *h, int lang);

/* GET /api/ical/TOKEN.ics: the shifts of the member whose feed token this
 * is, as iCalendar text (caller frees), or NULL (unknown token). */
char *hub_ical_feed(struct hub *h, const char *token);


#endif
