/* What cluster.c (the NATS link) and cluster_relay.c (the sockets and
 * consoles of other nodes) share: their structs and internal calls. */
#ifndef BRUG_CLUSTER_PRIVATE_H
#define BRUG_CLUSTER_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sodium.h>

#include "cluster.h"
#include "config.h"
#include "members.h"
#include "util/list.h"

#if BRUG_HAVE_NATS
#include <nats/nats.h>
#endif

/* Subjects (docs/cluster.md, section 9). */
#define SUBJ_HB "brug.v1.hb"
#define SUBJ_NODE "brug.v1.node."   /* + node name */
#define SUBJ_RESUME "brug.v1.resume"
#define SUBJ_STAFF "brug.v1.staff"
#define ID_BASE_MASK (~((1ull << 40) - 1))
/* How long a resume with a token this node does not know waits for the
 * node that holds it before it is served here as a new start. */
#define RESUME_WAIT_MS 1000
#define HELD_MAX 8
/* Per-boot numbers of the sockets of other nodes served here, in the logs
 * ("c1000000001"), apart from the edge's own. */
#define REMOTE_CONN_BASE 1000000000ull
/* What the inbox holds at most: a loop that stalls this long drops the
 * rest (heartbeats come again every second) rather than grow without end. */
#define INBOX_MAX 10000
/* A message from NATS larger than this is dropped: a `msg` frame of
 * CHAT_MSG_MAX_BYTES, escaped once in the frame and again as a string of
 * the cluster's message, fits (nats-server's max_payload is 1 MiB). */
#define MSG_MAX_BYTES (512 * 1024)
/* libnats closes a connection for good on some failures (a certificate it
 * cannot verify, a refused login) even when told to retry forever; a node
 * then starts over this long after, so it rejoins once the fault is fixed. */
#define RESTART_MS 5000

/* Every payload is sealed (cluster_publish): nonce, ciphertext, tag. */
#define SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES

/* Connection changes seen on libnats' threads, for the loop to log. */
#define EV_CONNECTED 1u
#define EV_DISCONNECTED 2u
#define EV_CLOSED 4u
#define EV_ERROR 8u

enum in_kind { IN_HB, IN_NODE, IN_RESUME, IN_STAFF };

struct inmsg {
	struct list link;
	enum in_kind kind;    /* which subscription it came on */
	size_t len;
	char data[];          /* len bytes and a NUL */
};

/* On the home: a visitor socket here whose session another node serves. */
struct cluster_fwd {
	struct list link;          /* in cluster.fwds */
	struct cluster *cl;        /* NULL once the cluster is gone */
	struct hub_conn *conn;     /* borrowed from the hub */
	uint64_t id;               /* per boot, names it in the messages */
	bool lost;                 /* the owner left: input goes nowhere */
	bool pending;              /* asking who holds its resume token; owner "" */
	uint64_t deadline_ms;      /* while pending: serve it here after this */
	char hash[65];             /* while pending: the token hash asked for; wiped */
	char src[65];              /* the socket's hashed source, "" if unknown */
	struct list held;          /* while pending: its frames, struct inmsg */
	unsigned n_held;
	char owner[MEMBERS_NAME_MAX + 1];
};

/* On the owner: a visitor socket on another node, served by our hub. */
struct remote {
	struct list link;          /* in cluster.remotes */
	struct cluster *cl;
	struct hub_conn *conn;     /* owned by the hub until hub_closed */
	uint64_t id;               /* the home's id */
	bool closing;              /* our hub closed it: hub_closed at the next poll */
	uint64_t opened_ms;
	char home[MEMBERS_NAME_MAX + 1];
};

/* On an owner: a console logged in on another node, as staff of our hub. */
struct sproxy {
	struct list link;          /* in cluster.sproxies */
	struct cluster *cl;
	struct hub_conn *conn;     /* owned by the hub until hub_closed */
	bool seen;                 /* in the home's last presence list */
	unsigned home_open;        /* chats its home's router has with it */
	bool closing;              /* our hub asked to close it: hub_closed at the next poll */
	char home[MEMBERS_NAME_MAX + 1];
	char user[65];
};

/* A staff session of another node, by the hash of its token, from that
 * node's presence list: a console whose home is lost can resume it here
 * (section 8). Kept while listed, and after its home is lost for the
 * reconnect grace. */
#define SSESS_MAX 1024
struct ssess {
	char user[65];
	char hash[65];             /* wiped */
	char home[MEMBERS_NAME_MAX + 1];
	int64_t until_wall_ms;     /* the session's end as its home said, or the grace */
	bool seen;
};

/* A node's router has n chats with user of home (from that node's presence
 * list): capacity across owners (section 3). */
#define HOSTED_MAX 1024
struct hosted {
	char reporter[MEMBERS_NAME_MAX + 1];
	char home[MEMBERS_NAME_MAX + 1];
	char user[65];
	unsigned n;
};

/* Which node's router holds a chat now, as its frames to our consoles
 * say: a chat restored on another node keeps the id its first host gave
 * it (section 6), so the id's base no longer names its node. */
#define CHAT_ROUTES_MAX 512
struct chat_route {
	uint64_t chat;
	char node[MEMBERS_NAME_MAX + 1];
};

/* Another node's queues and chats per language, from its presence list. */
struct node_stats {
	char node[MEMBERS_NAME_MAX + 1];
	unsigned n;
	struct { unsigned waiting, chats, offers; uint64_t oldest_wall_ms; } lang[CONFIG_MAX_LANGS];
};

/* Which node's router makes the ids above a base (from heartbeats). */
struct id_base {
	char node[MEMBERS_NAME_MAX + 1];
	uint64_t base;
};

struct cluster {
	const struct config *cfg;
	struct hub *hub;
	struct list sproxies;      /* struct sproxy */
	struct id_base bases[MEMBERS_MAX];
	unsigned n_bases;
	struct list fwds;          /* struct cluster_fwd */
	struct list remotes;       /* struct remote */
	uint64_t next_fwd_id, next_remote_no;
	uint64_t now_ms;           /* of the last poll or tick */
	char node_subject[sizeof SUBJ_NODE + MEMBERS_NAME_MAX];
	void (*wake)(void *ctx);
	void *wake_ctx;
	struct members *members;
	uint64_t boot;             /* random per start (section 2) */
	uint64_t hb_seq;
	uint64_t hb_due_ms;
	char langs[CONFIG_MAX_LANGS * 4];
	bool connected;            /* as last seen on the loop */
	bool stopped;              /* loop side: cluster_stop ran */
	uint64_t restart_ms;       /* != 0: the connection closed; start over then */
	unsigned dropped_logged, unopened_logged;
	unsigned char key[32];     /* seals every payload; wiped */
	struct replica_store *replicas; /* other nodes' sessions (section 6) */
	struct ssess *ssess;       /* SSESS_MAX slots; user "" = free */
	struct hosted *hosted;     /* HOSTED_MAX slots */
	struct chat_route routes[CHAT_ROUTES_MAX];
	struct node_stats nstats[MEMBERS_MAX];
	unsigned n_nstats;
	unsigned n_routes;
	unsigned n_hosted;
	unsigned n_ssess;          /* slots in use at the front */
	bool rep_resync;           /* the members changed: send our replicas anew */

	pthread_mutex_t lock;      /* guards the fields below */
	pthread_cond_t done;       /* signalled when a subscription or the connection is through */
	unsigned subs_made, subs_done; /* subscriptions, and those whose last callback returned */
	bool closed_seen;          /* the connection's closed callback ran */
	struct list inbox;         /* struct inmsg, oldest first */
	unsigned n_inbox;
	unsigned dropped;          /* messages the full inbox refused */
	unsigned unopened;         /* messages whose seal did not open */
	unsigned events;           /* EV_* bits */
	bool wake_off;             /* cluster_stop ran: never call wake again */

#if BRUG_HAVE_NATS
	natsOptions *opts;
	natsConnection *nc;
	natsSubscription *hb_sub;
	natsSubscription *node_sub;
	natsSubscription *resume_sub;
	natsSubscription *staff_sub;
#endif
};

#if BRUG_HAVE_NATS

/* cluster.c */
/* Frees m (wiping it); NULL is fine. */
void cluster_inmsg_free(struct inmsg *m);
/* Seal and publish len bytes of text (borrowed) on subject. */
void cluster_publish(struct cluster *cl, const char *subject, const char *text, size_t len);
/* Publish msg (takes ownership) to node's subject (borrowed). */
void cluster_send_to(struct cluster *cl, const char *node, json_t *msg);

/* cluster_relay.c; every pointer borrowed. */
/* The remote edge r is freed and reported closed to our hub. */
void cluster_remote_free(struct remote *r, uint64_t now);
/* The proxy p is freed and reported closed to our hub. */
void cluster_sproxy_free(struct sproxy *p, uint64_t now);
void cluster_publish_presence(struct cluster *cl);
/* text is len bytes of a message from libnats, still owned by the caller. */
void cluster_handle_presence(struct cluster *cl, const char *text, size_t len, uint64_t now);
void cluster_handle_node_msg(struct cluster *cl, const char *text, size_t len, uint64_t now);
void cluster_handle_resume_question(struct cluster *cl, const char *text, size_t len);
void cluster_node_lost(struct cluster *cl, const char *name, uint64_t now);
/* Tell our router how many chats each member has on other routers. */
void cluster_count_elsewhere(struct cluster *cl, uint64_t now);
void cluster_expire_pending(struct cluster *cl, uint64_t now);

/* cluster_replica.c; j and strings borrowed. */
void cluster_handle_replica(struct cluster *cl, const char *t, const char *from, json_t *j);
/* node is lost: restore its sessions we hold replicas of. */
void cluster_restore_lost(struct cluster *cl, const char *node, uint64_t now);
/* After a membership change: our replicas to their new targets. */
void cluster_rep_resync(struct cluster *cl);

#endif

#endif
