/* What the hub's own files (hub.c, visitor_session.c, staff_session.c,
 * staff_chat.c, hub_events.c, replay.c, handover.c, coord_dashboard.c)
 * share: the session structs and their helpers. Not for the edge. */
#ifndef BRUG_HUB_PRIVATE_H
#define BRUG_HUB_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "chat.h"
#include "config.h"
#include "hub.h"
#include "hub_internal.h"
#include "i18n.h"
#include "proto.h"
#include "router.h"
#include "source_limit.h"
#include "staff.h"
#include "util/list.h"
#include "util/token.h"

struct blocklist;
struct worker;
struct staff_login_job;

/* Close codes (protocol doc, "Errors"). */
#define CLOSE_GOING_AWAY 1001
#define CLOSE_POLICY 1008
#define CLOSE_NOT_AUTHENTICATED 4001
#define CLOSE_SESSION_EXPIRED 4002
#define CLOSE_REPLACED 4003
#define CLOSE_FLOOD 4029
#define CLOSE_TRY_AGAIN 1013

/* Flood control per session: a 10 s window of messages and a 60 s window
 * of errors (docs/protocol.md, "Rate limits"). RATE_SOFT is the default of
 * [chat] rate_limit_messages; the hard limit is RATE_HARD_FACTOR times it. */
#define RATE_WINDOW_MS 10000
#define RATE_SOFT 20
#define RATE_HARD_FACTOR 3
/* A staff session's own window is this many times larger: its `msg` and
 * `typing` are limited per chat and the rest together (struct staff_rate),
 * and the session's window only stops a runaway console (issue 10). */
#define RATE_STAFF_FACTOR 8
#define ERROR_WINDOW_MS 60000
#define ERROR_MAX 20
#define SESSION_CHECK_MS 15000
/* A visitor hears about a new queue place at most this often: serving the
 * head of a long queue changes every place behind it, and several chats
 * starting in a row would otherwise send each waiting visitor a burst. */
#define QUEUE_UPDATE_MIN_MS 2000
/* Held-back queue updates sent in one tick at most: after a burst of chat
 * starts with 10,000 waiting, sending every update in the same tick held
 * the loop (and every chat's relay) for over 100 ms (tests/bench/README.md);
 * the rest go out on the next ticks, 250 ms apart. */
#define QUEUE_FLUSH_PER_TICK 1000
/* Password checks queued at once; beyond, logins are refused as rate
 * limited (each check takes ~60 ms and 64 MiB on the worker thread). */
#define LOGINS_IN_FLIGHT 32
/* Password checks one source (hashed address) may have queued at once, so
 * that one source cannot fill the queue and make everyone else wait. */
#define LOGINS_PER_SOURCE 2

/* The flood windows of one session (issue 12: counted per socket, a
 * resume on a new socket started them afresh). */
struct rate {
	uint64_t start_ms, err_start_ms;
	unsigned count, err_count;
};

/* A staff session's windows next to struct rate (issue 10: a volunteer
 * with three chats and typing on must never be limited): `msg` and
 * `typing` counted per chat, everything else together. Moved along with
 * the session's struct rate. A chat beyond HUB_CHAT_RATES takes the slot
 * used longest ago. */
#define HUB_CHAT_RATES 24
struct chat_rate {
	uint64_t chat_id;              /* 0: slot unused */
	uint64_t msg_start_ms, typing_start_ms;
	unsigned msg_count, typing_count;
};
struct staff_rate {
	uint64_t other_start_ms;
	unsigned other_count;
	struct chat_rate chats[HUB_CHAT_RATES];
};
_Static_assert(HUB_CHAT_RATES > STAFF_MAX_CHATS_MAX, "every chat a member may hold needs its own window");

/* A visitor's session: lives from `hello` until the visitor ends or its
 * grace period runs out, across reconnections. */
struct vsession {
	struct hub *hub;
	struct router_visitor *rv;     /* owned by the router */
	struct hub_conn *conn;         /* NULL while disconnected */
	char token[TOKEN_STR_LEN];     /* resume token; "" when none; wiped */
	struct vsession *map_next;     /* token map chain */
	struct list link;              /* in hub.sessions */
	struct list dirty_link;        /* in hub.queue_dirty while an update waits */
	uint64_t queue_sent_ms;        /* when the last queue frame went out */
	bool counted;                  /* this contact is in the statistics */
	int lang;
	struct source_entry *src;      /* its client source (one count), or NULL */
	struct list src_link;          /* in src->users, oldest first */
	struct rate rate;              /* flood windows of the session, across its sockets */
	/* Its replica on another node (docs/cluster.md, section 6; hub_replica.c). */
	uint64_t sid;                  /* per-boot handle, names the replica */
	char origin[48];               /* "node/sid" where it began, kept across nodes */
	uint32_t epoch;                /* resumes so far: after a split, the copy with the
					* higher one is the live one (docs/cluster.md, 7) */
	uint64_t ticket_wall_ms;       /* first entry into the queue (wall clock), kept */
	char rhash[65];                /* restored from a replica: its token's hash until
					* the visitor resumes (token is "" meanwhile); wiped */
	struct list rep_link;          /* in hub.rep_dirty while its replica is out of date */
	bool rep_full;                 /* send the transcript along */
	bool rep_sent;                 /* a replica exists on the other node */
	enum router_visitor_state rep_state; /* state the replica last had */
};

struct hub_conn {
	struct hub *hub;
	void *edge;
	const struct hub_edge_ops *ops; /* the edge's operations: the hub's, or the
					 * cluster's for a socket on another node */
	struct cluster_fwd *fwd;       /* this socket's session lives on another node */
	bool serve_here;               /* the cluster found no other node for it */
	uint64_t no;                   /* per-boot number, the only name in logs */
	enum proto_side side;
	bool dead;                     /* socket gone or closing: send nothing more */
	int lang;                      /* language of error texts */
	struct list link;              /* in hub.visitors or hub.staff */
	struct rate rate;              /* before a visitor's hello; a staff session's, moved along */
	struct staff_rate srate;       /* staff: per chat and the rest, moved along with rate */
	/* visitor */
	struct vsession *vs;
	/* staff */
	struct router_staff *rs;       /* NULL until logged in */
	struct pending_login *login;   /* a password check in flight */
	char *addr_key;                /* hashed client address, for back-off */
	char src_key[SOURCE_KEY_MAX];  /* visitor: hashed client source; "" if unknown */
	char token[TOKEN_STR_LEN];     /* staff session token; wiped */
	int64_t staff_id;
	uint32_t roles;
	char username[65];
	uint64_t session_checked_ms;
	int64_t expires_ms;            /* the session's end as last read (wall ms) */
	bool db_unavailable;           /* the last session check found the database busy */
	/* transcripts still going out (struct replay.link), oldest first */
	struct list replays;
	struct list replay_link;       /* in hub.replaying while replays is not empty */
};

/* A transcript still going out to one socket (issue 12: a long chat is
 * more than a socket's outbound queue holds). Its messages are sent while
 * the queue has room (ops.room), and the rest as the queue drains
 * (hub_writable) or at the next tick. Until it has caught up, the chat's
 * new messages to that socket go out through it too, so that the socket
 * sees every `seq` in order: the clients drop a `seq` they have passed. */
struct replay {
	struct list link;              /* in hub_conn.replays */
	uint64_t chat_id;
	uint32_t sent_seq;             /* every kept message up to this one went out */
	bool for_staff;
	uint32_t echo_seq;             /* the socket's own message, sent with echo_id; 0: none */
	char echo_id[PROTO_ID_MAX + 1];
};

/* The largest `msg` frame: text and alias JSON-escaped (text at most two
 * bytes per byte, as intake removes the controls that take six; the alias
 * and the request id counted at six), the other fields, and FRAME_PRE. */
#define MSG_FRAME_MAX (FRAME_PRE + 2 * CHAT_MSG_MAX_BYTES + 6 * (STAFF_ALIAS_MAX + PROTO_ID_MAX) + 256)
/* A transcript may take the outbound queue up to HUB_OUTQ_REPLAY_*: the
 * quarter it leaves holds any live message, so neither a long chat nor a
 * message sent meanwhile closes the socket 1008. */
_Static_assert(MSG_FRAME_MAX <= HUB_OUTQ_MAX_BYTES - HUB_OUTQ_REPLAY_BYTES,
	       "a message frame must fit next to a transcript in the outbound queue");
_Static_assert(CHAT_MSG_MAX_BYTES <= CHAT_LOG_MAX_BYTES, "a message must fit in the transcript");

/* A staff member on shift now, from the roster and the accounts. */
struct on_shift {
	int64_t staff_id;
	int64_t end_ms;          /* wall clock */
	char user[65], alias[65], langs[64];
};
#define ON_SHIFT_REFRESH_MS 30000

/* A handover note for the next shift: staff only, memory only. */
#define HANDOVER_MAX 20
#define HANDOVER_TEXT_MAX 1000

struct handover {
	char alias[65];
	uint64_t ts_ms;
	char *text;            /* owned, wiped */
};

struct hub {
	struct hub_services svc;
	struct handover notes[HANDOVER_MAX]; /* oldest first */
	unsigned n_notes;
	const struct config *cfg;
	struct i18n *i18n;
	struct staff *staff;
	struct hub_edge_ops ops;
	void *ops_ctx;
	struct router *router;
	struct worker *worker;             /* password checks off the loop */
	struct list visitors, staff_conns;  /* struct hub_conn.link */
	struct list sessions;              /* struct vsession.link */
	struct list queue_dirty;           /* struct vsession.dirty_link */
	unsigned queue_flush_max;          /* QUEUE_FLUSH_PER_TICK (tests lower it) */
	struct list replaying;             /* struct hub_conn.replay_link */
	uint64_t now_ms;                   /* time of the call being handled */
	unsigned n_visitors, n_staff;
	struct vsession **map;             /* token -> session, chained */
	size_t map_size, map_count;
	bool shutting_down;
	bool colleagues_dirty;             /* who is online changed: tell staff at the next tick */
	char *dashboard_last;              /* the dashboard last pushed, to push changes only */
	uint64_t dashboard_ms;
	struct on_shift *on_shift;         /* who the roster has on shift now (cached) */
	size_t n_on_shift;
	uint64_t on_shift_ms;              /* when it was read; 0: read again */
	int64_t next_open_at[CONFIG_MAX_LANGS];    /* cached roster answer, -1: none */
	int64_t next_open_until[CONFIG_MAX_LANGS]; /* wall ms the cache holds until */
	const char *const *end_tags;       /* tags of the staff `end` being handled */
	unsigned n_end_tags;
	uint64_t last_session_sweep_ms;
	struct list staff_away;            /* struct staff_away.link, in drop order */
	struct list logins;                /* struct pending_login.link, in the worker */
	struct source_limit *sources;      /* visitor sessions per client source */
	struct cluster *cluster;           /* NULL: a single node */
	uint64_t id_base;                  /* the router's offer and chat ids start after it */
	struct blocklist *blocks;          /* blocked client sources (hashed), RAM only */
	struct list rep_dirty;             /* struct vsession.rep_link */
	uint64_t next_sid;
};

/* A staff member whose console dropped: kept (unavailable, with its chats)
 * for the reconnect grace, so a reload or a network hiccup loses nothing. */
struct staff_away {
	struct list link;
	struct router_staff *rs;
	uint64_t deadline_ms;
	bool was_available;
	struct rate rate;            /* the session's flood windows, for its next socket */
	struct staff_rate srate;     /* and its windows per chat */
	char token[TOKEN_STR_LEN];   /* of that session: only a login with it carries them; wiped */
	struct frame *missed[8];     /* `ended` of its chats meanwhile, in order */
	unsigned n_missed;
};

/* A password login whose Argon2id check runs on the worker thread. */
struct pending_login {
	struct hub *hub;
	struct hub_conn *conn;          /* NULL once the socket went away */
	struct staff_login_job *job;
	bool ran;                       /* the check happened */
	char id[PROTO_ID_MAX + 1];
	struct list link;               /* in hub.logins */
	char addr[65];                  /* the hashed source address, "" if none */
};

/* All functions below work on borrowed hub objects; json_t messages passed
 * in are taken over (their reference is the callee's), frames are not.
 * The *_on_* functions are the handlers of the message table (hub.c): c
 * and in are borrowed, in is decoded and the sender's side, session and
 * roles are checked; they return 0, a BRUG_E_* refusal that the hub sends
 * as an error, or -1 when they answered and closed c themselves. */

/* ---- staff_session.c, for consoles of a lost node ---- */

/* A seat for a staff member whose console is not here yet: s (router
 * staff, no socket) kept for the reconnect grace, as if it had dropped;
 * a login of its user name here takes it with its chats. NULL if there is
 * no grace or no memory. info copied. */
struct router_staff *ssession_placeholder(struct hub *h, const struct router_staff_info *info, bool available,
					  uint64_t now);
/* An away seat of username that is not one of our accounts (a lost
 * node's proxy or placeholder): it takes account id id and is returned,
 * for the login of that user to take over; or NULL. */
struct router_staff *ssession_adopt_away(struct hub *h, const char *username, uint64_t id);

/* ---- hub_replica.c: replicas of our sessions on another node (section 6) ---- */

/* vs's replica is out of date; full: send its transcript too. */
void hub_rep_touch(struct vsession *vs, bool full);
/* m (borrowed) was appended to c: its replica gets it before anyone sees
 * the message, so a message a sender saw confirmed is held twice. */
void hub_rep_msg(struct hub *h, struct router_chat *c, const struct chat_msg *m);
/* vs is being freed: its replica goes too. */
void hub_rep_forget(struct vsession *vs);
/* A new session of h, with a router visitor (NEW), its handle and origin;
 * not on h's list yet. Free with vsession_free. NULL on no memory. */
struct vsession *vsession_alloc(struct hub *h);
/* Whether vs's current token (or restored hash) hashes to hash. */
bool vsession_hash_is(const struct vsession *vs, const char *hash);
/* A restored session whose token hashes as token's does, or NULL. */
struct vsession *vsession_find_restored(struct hub *h, const char *token);

/* ---- hub.c: sending, rate limits, message relay ---- */

/* Queue f on c's socket (borrowed; the edge takes its own reference);
 * nothing once c is closing. */
void hub_send_frame(struct hub_conn *c, struct frame *f);
/* A new connection of h (owned by the hub; not yet on a list), with the
 * hub's own edge operations; NULL on no memory or while shutting down. */
struct hub_conn *hub_conn_new(struct hub *h, void *edge, enum proto_side side, uint64_t no);
/* docs/cluster.md, section 3: a new visitor whose language another node
 * owns is served by that node's hub, and a hello with a token this hub does
 * not know may be another node's; this socket then only carries its frames.
 * True if c was handed over (buf, borrowed, went along). */
bool vsession_hand_over(struct hub_conn *c, const struct proto_in *in, const char *buf, size_t len);
/* A staff frame naming an offer or chat this router does not have may be
 * another node's (the id says which): true if it went there (buf borrowed). */
bool staff_chat_route_remote(struct hub_conn *c, const struct proto_in *in, const char *buf, size_t len);
/* Serialize msg (takes ownership) and send it to c with the request id. */
void hub_send_json(struct hub_conn *c, json_t *msg, const char *id);
/* Ask the edge to close c with code and reason (a static string); c sends
 * nothing more and a visitor's session lets go of it at once. */
void hub_close_conn(struct hub_conn *c, int code, const char *reason);
/* Send error err in c's language, with the request id (borrowed). */
void hub_send_error(struct hub_conn *c, int err, const char *id);
/* As hub_send_error, counted in c's error window: too many close c. */
void hub_reply_error(struct hub_conn *c, int err, const char *id, uint64_t now);
/* The wall clock (protocol "ts"), in ms. */
uint64_t hub_wall_now(const struct hub *h);
/* The socket of a router visitor or staff member, or NULL while it has
 * none (borrowed). */
struct hub_conn *hub_visitor_conn(struct router_visitor *v);
struct hub_conn *hub_staff_conn(struct router_staff *s);
/* JSON values of the protocol (caller owns the reference). */
json_t *hub_id_json(uint64_t id);
json_t *hub_staff_json(const struct router_staff *s);
json_t *hub_topic_json(const struct hub *h, int topic);
/* A localized text with numeric arguments; caller frees. */
char *hub_text_num(struct hub *h, int lang, enum i18n_key key, double a0, double a1);
/* Count one in a window of max per window ms; true once it is exceeded. */
bool hub_rate_exceeded(uint64_t now, uint64_t window, uint64_t *start, unsigned *count, unsigned max);
/* [chat] rate_limit_messages, or its default. */
unsigned hub_rate_soft(const struct hub *h);
/* Count a staff `msg` (typing false) or `typing` of c for chat_id in its
 * window of that chat: 0, or BRUG_E_RATE_LIMITED past rate_limit_messages
 * in RATE_WINDOW_MS (protocol section 5). */
int hub_staff_chat_rate(struct hub_conn *c, uint64_t chat_id, bool typing, uint64_t now);
/* Whether a visitor from source key (borrowed; "" never) is blocked now. */
bool hub_source_blocked(struct hub *h, const char *key);
/* Intake of a message's text: *out (caller wipes and frees) or BRUG_E_*. */
int hub_take_text(struct hub *h, const struct proto_in *in, char **out, size_t *out_len);
/* Append text (borrowed, copied) to chat and send it to everyone in it;
 * reply_to gets the copy carrying the request id. */
int hub_relay_msg(struct hub *h, struct router_chat *chat, struct router_staff *from, const char *text,
		  size_t len, struct hub_conn *reply_to, const char *id);

/* ---- visitor_session.c ---- */

/* Drop vs's resume token: it stops working and its bytes are wiped. */
void vsession_forget_token(struct vsession *vs);
/* Unlink vs from every index and wipe and free it. Accepts NULL. */
void vsession_free(struct vsession *vs);
/* c's socket is closing or gone: its session lets go of it (grace or end).
 * Idempotent. */
void vsession_detach(struct hub_conn *c);
int vsession_on_hello(struct hub_conn *c, struct proto_in *in, uint64_t now);
int vsession_on_msg(struct hub_conn *c, struct proto_in *in, uint64_t now);
int vsession_on_typing(struct hub_conn *c, struct proto_in *in, uint64_t now);
int vsession_on_end(struct hub_conn *c, struct proto_in *in, uint64_t now);

/* ---- hub_events.c ---- */

/* What the hub gives router_new(). */
extern const struct router_events hub_router_events;
/* Send v its place in the queue now. */
void hub_events_send_queue(struct hub *h, struct router_visitor *v);
/* Send the queue updates held back by QUEUE_UPDATE_MIN_MS that are due. */
void hub_events_flush_queue(struct hub *h);
/* Send chat and its transcript to staff member s. */
void hub_events_chat_to_staff(struct hub *h, struct router_chat *chat, struct router_staff *s);
/* The router's offer event: send offer o to its staff member (ctx: hub). */
void hub_events_offer(void *ctx, struct router_offer *o);
/* Tell the staff of v's chat that the visitor is away or back. */
void hub_events_presence(struct router_visitor *v, bool back);
/* Count vs's contact that ended without a chat (once). */
void hub_events_count_no_chat(struct hub *h, struct vsession *vs, enum router_visitor_state state, bool quick_exit);

/* ---- replay.c ---- */

/* The `msg` frame of m (caller owns the reference). */
json_t *replay_msg_json(const struct router_chat *chat, const struct chat_msg *m, bool for_staff);
/* Send chat's kept messages with seq > after to c, paced to its queue. */
void replay_send_transcript(struct hub_conn *c, const struct router_chat *chat, uint64_t after, bool for_staff);
/* Send as much of c's transcripts as its queue has room for. */
void replay_pump(struct hub_conn *c);
/* True if a transcript of chat still goes out to c, which then sends m
 * in its turn (with the request id id, borrowed). */
bool replay_takes(struct hub_conn *c, const struct router_chat *chat, const struct chat_msg *m,
		  const char *id);
/* Drop every transcript of c. */
void replay_free_all(struct hub_conn *c);

/* ---- staff_session.c ---- */

/* A comma-separated list as a JSON array of strings (caller owns it). */
json_t *ssession_csv_array(const char *list);
/* Tell every logged-in console who else is online. */
void ssession_send_colleagues(struct hub *h);
/* Keep frame f (a new reference) for rs while its console is away. */
void ssession_away_keep(struct hub *h, struct router_staff *rs, struct frame *f);
/* Free a (its kept frames unreferenced, its token wiped). */
void ssession_away_free(struct staff_away *a);
/* The console from of rs went away: keep rs for the reconnect grace. */
void ssession_dropped(struct hub *h, struct router_staff *rs, const struct hub_conn *from, uint64_t now);
/* Remove the staff whose reconnect grace ran out. */
void ssession_expire_away(struct hub *h, uint64_t now);
/* Bring c's console up to account a (borrowed) as stored now. */
void ssession_apply_account(struct hub *h, struct hub_conn *c, const struct staff_account *a);
/* Whether c's staff session is still valid (touch: as activity); closes
 * c 4002 when it is not. */
bool ssession_alive(struct hub_conn *c, uint64_t now, bool touch);
int ssession_on_login(struct hub_conn *c, struct proto_in *in, uint64_t now);
int ssession_on_logout(struct hub_conn *c, struct proto_in *in, uint64_t now);

/* ---- staff_chat.c ---- */

int staff_chat_on_status(struct hub_conn *c, struct proto_in *in, uint64_t now);
int staff_chat_on_accept(struct hub_conn *c, struct proto_in *in, uint64_t now);
int staff_chat_on_decline(struct hub_conn *c, struct proto_in *in, uint64_t now);
int staff_chat_on_msg(struct hub_conn *c, struct proto_in *in, uint64_t now);
int staff_chat_on_typing(struct hub_conn *c, struct proto_in *in, uint64_t now);
int staff_chat_on_transfer(struct hub_conn *c, struct proto_in *in, uint64_t now);
int staff_chat_on_invite(struct hub_conn *c, struct proto_in *in, uint64_t now);
int staff_chat_on_end(struct hub_conn *c, struct proto_in *in, uint64_t now);
int staff_chat_on_block(struct hub_conn *c, struct proto_in *in, uint64_t now);

/* ---- handover.c ---- */

/* The `handover` message with every note (caller owns it). */
json_t *handover_json(const struct hub *h);
/* Wipe note n and free its text. */
void handover_wipe(struct handover *n);
int handover_on_set(struct hub_conn *c, struct proto_in *in, uint64_t now);

/* ---- coord_dashboard.c ---- */

/* When lang next opens according to the roster: 0 with *at_ms, or -1. */
int coord_next_open(struct hub *h, int lang, int64_t *at_ms);
/* Read who is on shift again if the cached answer is old. */
void coord_refresh_on_shift(struct hub *h, uint64_t now);
/* Rostered staff near the end of their shift get no new offers. */
void coord_apply_shift_quiet(struct hub *h);
/* Push the dashboard to coordinators if it changed. */
void coord_push_dashboard(struct hub *h, uint64_t now);
int coord_ical_feed(struct hub_conn *c, struct proto_in *in, uint64_t now);

#endif
