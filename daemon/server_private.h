/* The lws edge's private state and the helpers its files share; only
 * server.c and server_http.c include it. The interface is server.h. */
#ifndef BRUG_SERVER_PRIVATE_H
#define BRUG_SERVER_PRIVATE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "util/list.h"

#define VISITOR_PROTOCOL "brug-visitor.v1"
#define STAFF_PROTOCOL "brug-staff.v1"
#define VISITOR_PATH "/ws/visitor"
#define STAFF_PATH "/ws/staff"
/* A refusal for load (staff reserve) asks the client to come back after this. */
#define RETRY_AFTER_S "30"

/* Per-connection state of an HTTP request to one of the JSON documents. */
struct http_pss {
	const char *body;      /* borrowed from the api, or owned below */
	char *owned;           /* a document made for this request; freed after */
	size_t len;
};

/* The edge's state: one per process, as lws has one context. */
struct server_state {
	struct config *cfg;    /* reloaded in place (reload_commit) */
	const char *config_path, *state_dir_override; /* for the reload */
	SSL_CTX *ssl_ctx;      /* the vhost's, made by lws; a reload puts a new certificate in */
	struct api *api;
	struct lws_context *ctx;
	struct hub *hub;
	struct cluster *cluster;   /* NULL without [cluster] */
	struct lws_vhost *vhost;
	int port;
	char own_origin[300];
	char csp[2048];        /* pages that may be framed (frame_ancestors) */
	char csp_staff[2048];  /* the staff pages: never framed */
	unsigned live_wsi;
	unsigned max_conns;
	unsigned staff_reserve;/* the last connections under max_conns are for staff */
	/* Connections per client source, keyed by a keyed hash of its address
	 * (source_key); each accepted wsi holds one count, as its opaque data. */
	struct source_limit *sources;
	unsigned char source_secret[crypto_generichash_KEYBYTES]; /* random per boot, never written */
	uint64_t refusal_log_ms;
	unsigned refusals_unlogged;
	uint64_t next_conn_no;
	lws_sorted_usec_list_t tick_sul;
	lws_sorted_usec_list_t stop_sul;
	/* Established sockets by ka_heard_ms, oldest first: not yet pinged
	 * since last heard from, and pinged without an answer so far. */
	struct list ka_quiet;
	struct list ka_pinged;
	lws_sorted_usec_list_t ka_sul;
	uint64_t ka_ping_ms;
	uint64_t ka_idle_ms;
	uint64_t stop_deadline_ms;
	volatile sig_atomic_t signal_seen;
	volatile sig_atomic_t reload_seen;
	bool shutting_down;
	bool destroyed;
};

extern struct server_state server_g;

/* server_http.c */
int server_header(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t size);
int server_request_path(struct lws *wsi, char *buf, size_t size, bool *head);
bool server_is_staff_page(const char *path);
const char *server_csp_for(const char *path);
int server_add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end);
int server_http_short(struct lws *wsi, unsigned status, const char *path, bool head);
bool server_upgrade_allowed(struct lws *wsi, bool *visitor_out);
bool server_is_document_path(const char *path);
int server_http_document(struct lws *wsi, struct http_pss *hp, const char *path, bool head);
int server_http_document_body(struct lws *wsi, struct http_pss *hp);
int server_make_csp(char *csp, const char *frame_ancestors);
extern const struct lws_protocol_vhost_options server_mime_map;
extern const struct lws_protocol_vhost_options server_hdr_hsts;

#endif
