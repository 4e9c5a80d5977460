/* The libwebsockets edge (lws 4.1 on its libev loop): HTTPS and WSS only,
 * security headers, handshake checks (path, subprotocol, Origin), frame
 * assembly with a size cap, a per-socket outbound queue, timers, signals
 * and graceful shutdown. Everything else happens in the hub. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "api.h"
#include "brug-build.h"
#include "config.h"
#include "hub.h"
#include "proto.h"
#include "server.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"
#include "util/token.h"

_Static_assert(FRAME_PRE >= LWS_PRE, "frames must leave room for the WebSocket header");

#define VISITOR_PROTOCOL "brug-visitor.v1"
#define STAFF_PROTOCOL "brug-staff.v1"
#define VISITOR_PATH "/ws/visitor"
#define STAFF_PATH "/ws/staff"
#define TICK_US (250 * LWS_US_PER_MS)
#define SHUTDOWN_GRACE_MS 2000
/* A slow reader may not make the daemon hold unbounded memory for it. */
#define OUTQ_MAX_FRAMES 512
#define OUTQ_MAX_BYTES (2u * 1024 * 1024)
/* Keepalive: how often the silent connections are looked at, how long a
 * connection closed for silence may take to say goodbye before lws drops it,
 * and what our pings carry (see keepalive_off for why it is not empty). */
#define KA_TICK_US LWS_US_PER_SEC
#define KA_CLOSE_GRACE_S 10
#define KA_PING_PAYLOAD "brug"
/* Mozilla's "intermediate" TLS 1.2 suites; TLS 1.3 uses OpenSSL's defaults. */
#define TLS12_CIPHERS                                                                   \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                    \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                    \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                    \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:prime256v1:secp384r1"

struct outq_item {
	struct list link;
	struct frame *f;       /* one reference */
};

/* Per-connection state, zeroed and freed by lws (only pointers to our heap). */
struct pss {
	struct lws *wsi;
	struct hub_conn *conn;
	uint64_t no;
	bool established;
	bool closing;
	int close_code;
	char close_reason[64];
	struct list outq;
	unsigned outq_len;
	size_t outq_bytes;
	unsigned char *rx;     /* max_frame bytes while a message comes in pieces; wiped */
	size_t rx_len;
	struct list ka_link;   /* on g.ka_quiet or g.ka_pinged while established */
	uint64_t ka_heard_ms;  /* when the peer last sent a frame or a pong */
	bool ka_ping_due;      /* send a ping at the next WRITEABLE */
};

/* Per-connection state of an HTTP request to one of the JSON documents. */
struct http_pss {
	const char *body;      /* borrowed from the api, or owned below */
	char *owned;           /* a document made for this request; freed after */
	size_t len;
};

static struct {
	const struct config *cfg;
	struct api *api;
	struct lws_context *ctx;
	struct hub *hub;
	struct lws_vhost *vhost;
	int port;
	char own_origin[300];
	char csp[2048];
	unsigned live_wsi;
	unsigned max_conns;
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
	bool shutting_down;
	bool destroyed;
} g;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_ms(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- hub edge operations ---- */

static void edge_send(void *edge, struct frame *f)
{
	struct pss *p = edge;
	struct outq_item *it;

	if (p->closing)
		return;
	if (p->outq_len >= OUTQ_MAX_FRAMES || p->outq_bytes + f->len > OUTQ_MAX_BYTES) {
		/* The reader does not keep up: cut it off rather than buffer forever. */
		log_warn("c%llu outbound queue full, closing", (unsigned long long)p->no);
		p->closing = true;
		p->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		snprintf(p->close_reason, sizeof p->close_reason, "too slow");
		lws_callback_on_writable(p->wsi);
		return;
	}
	it = malloc(sizeof *it);
	if (it == NULL)
		return;
	it->f = frame_ref(f);
	list_add_tail(&p->outq, &it->link);
	p->outq_len++;
	p->outq_bytes += f->len;
	lws_callback_on_writable(p->wsi);
}

static void edge_close(void *edge, int code, const char *reason)
{
	struct pss *p = edge;

	if (p->closing)
		return;
	p->closing = true;
	p->close_code = code;
	snprintf(p->close_reason, sizeof p->close_reason, "%s", reason ? reason : "");
	lws_callback_on_writable(p->wsi);
}

/* From the hub's worker thread: lws_cancel_service() is the one lws call
 * that is safe there; the loop then sees EVENT_WAIT_CANCELLED. */
static void edge_wake(void *ctx)
{
	if (g.ctx != NULL)
		lws_cancel_service(g.ctx);
}

static const struct hub_edge_ops edge_ops = {
	.send = edge_send,
	.close = edge_close,
	.wall_ms = wall_ms,
	.wake = edge_wake,
};

static void outq_drain(struct pss *p)
{
	struct list *it, *tmp;

	if (p->outq.next == NULL)
		return;
	list_for_each_safe(it, tmp, &p->outq) {
		struct outq_item *q = list_entry(it, struct outq_item, link);
		list_remove(it);
		frame_unref(q->f);
		free(q);
	}
	p->outq_len = 0;
	p->outq_bytes = 0;
}

/* ---- keepalive ---- */

/*
 * Our own keepalive, in place of lws' (see keepalive_off): a socket silent
 * for ping_seconds gets a ping, which keeps NAT and proxy mappings open, and
 * one silent for idle_timeout_seconds, answer to the ping included, is closed
 * with 1001. Any frame or pong from the peer counts as a sign of life (pings
 * from the peer are answered inside lws and never reach us; browsers send
 * none). Both lists stay in order of ka_heard_ms because a socket only ever
 * moves to the tail of ka_quiet (heard from now) or from the head of
 * ka_quiet to the tail of ka_pinged; so marking one costs O(1) and a tick
 * looks only at the sockets that are due.
 */
static void ka_heard(struct pss *p, uint64_t now)
{
	p->ka_heard_ms = now;
	list_remove(&p->ka_link);
	list_add_tail(&g.ka_quiet, &p->ka_link);
}

/* A sign of life on an open socket. One that is closing is left where it is,
 * so that it is still dropped in time if its close never gets out. */
static void ka_alive(struct pss *p)
{
	if (p != NULL && p->established && !p->closing)
		ka_heard(p, mono_ms());
}

static void ka_tick_cb(lws_sorted_usec_list_t *sul)
{
	uint64_t now = mono_ms();

	while (!list_empty(&g.ka_quiet)) {
		struct pss *p = list_entry(g.ka_quiet.next, struct pss, ka_link);
		if (now - p->ka_heard_ms < g.ka_ping_ms)
			break;
		list_remove(&p->ka_link);
		list_add_tail(&g.ka_pinged, &p->ka_link);
		if (!p->closing) {
			p->ka_ping_due = true;
			lws_callback_on_writable(p->wsi);
		}
	}
	while (!list_empty(&g.ka_pinged)) {
		struct pss *p = list_entry(g.ka_pinged.next, struct pss, ka_link);
		if (now - p->ka_heard_ms < g.ka_idle_ms)
			break;
		list_remove(&p->ka_link);
		log_info("c%llu silent for %llu s, closing", (unsigned long long)p->no,
			 (unsigned long long)((now - p->ka_heard_ms) / 1000));
		edge_close(p, LWS_CLOSE_STATUS_GOINGAWAY, "idle");
		/* A dead peer may never make the socket writeable again (its
		 * buffers full), so the Close frame may never go out: then lws
		 * drops the socket, and CLOSED still runs. */
		lws_set_timeout(p->wsi, PENDING_TIMEOUT_USER_OK, KA_CLOSE_GRACE_S);
	}
	lws_sul_schedule(g.ctx, 0, &g.ka_sul, ka_tick_cb, KA_TICK_US);
}

/* In WRITEABLE, before the queue: 1 if a ping went out (or failed, *rc = -1). */
static int ka_write_ping(struct lws *wsi, struct pss *p, int *rc)
{
	unsigned char buf[LWS_PRE + sizeof KA_PING_PAYLOAD];

	if (!p->ka_ping_due)
		return 0;
	p->ka_ping_due = false;
	if (p->closing)
		return 0;
	memcpy(buf + LWS_PRE, KA_PING_PAYLOAD, sizeof KA_PING_PAYLOAD - 1);
	if (lws_write(wsi, buf + LWS_PRE, sizeof KA_PING_PAYLOAD - 1, LWS_WRITE_PING) < 0) {
		*rc = -1;
		return 1;
	}
	if (!list_empty(&p->outq))
		lws_callback_on_writable(wsi);
	*rc = 0;
	return 1;
}

/* ---- timers and shutdown ---- */

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	hub_tick(g.hub, mono_ms());
	lws_sul_schedule(g.ctx, 0, &g.tick_sul, tick_cb, TICK_US);
}

static void stop_cb(lws_sorted_usec_list_t *sul)
{
	/* Leave once every socket is gone or the grace time is over. */
	if (g.live_wsi > 0 && mono_ms() < g.stop_deadline_ms) {
		lws_sul_schedule(g.ctx, 0, &g.stop_sul, stop_cb, 50 * LWS_US_PER_MS);
		return;
	}
	lws_sul_cancel(&g.tick_sul);
	lws_sul_cancel(&g.ka_sul);
	g.destroyed = true;
	lws_context_destroy(g.ctx);
}

static void begin_shutdown(void)
{
	if (g.shutting_down)
		return;
	g.shutting_down = true;
	log_notice("shutting down");
	hub_shutdown(g.hub, mono_ms());
	g.stop_deadline_ms = mono_ms() + SHUTDOWN_GRACE_MS;
	lws_sul_schedule(g.ctx, 0, &g.stop_sul, stop_cb, 50 * LWS_US_PER_MS);
}

static void on_signal(int sig)
{
	g.signal_seen = sig;
	if (g.ctx != NULL)
		lws_cancel_service(g.ctx);
}

/* lws' own signal watcher on the libev loop (SIGINT). */
static void lws_signal_cb(void *handle, int signum)
{
	g.signal_seen = signum;
	begin_shutdown();
}

/* ---- handshake checks ---- */

/* Copy header tok into buf; -1 if absent or too long. */
static int header(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t size)
{
	int len = lws_hdr_total_length(wsi, tok);

	if (len <= 0 || (size_t)len >= size)
		return -1;
	return lws_hdr_copy(wsi, buf, (int)size, tok) < 0 ? -1 : len;
}

static bool origin_allowed(const char *origin, bool visitor)
{
	if (strcmp(origin, g.own_origin) == 0)
		return true;
	if (!visitor)
		return false;
	for (unsigned i = 0; i < g.cfg->n_origins; i++)
		if (strcmp(origin, g.cfg->origins[i]) == 0)
			return true;
	return false;
}

/* Protocol "Transport": the path decides the subprotocol, which must be
 * named exactly, and the Origin must be our own (or a partner's, for the
 * visitor socket). Anything else is refused with 403 before the upgrade. */
static bool upgrade_allowed(struct lws *wsi)
{
	char path[64], proto[64], origin[300];
	bool visitor;

	if (header(wsi, WSI_TOKEN_GET_URI, path, sizeof path) < 0)
		return false;
	if (strcmp(path, VISITOR_PATH) == 0)
		visitor = true;
	else if (strcmp(path, STAFF_PATH) == 0)
		visitor = false;
	else
		return false;
	if (header(wsi, WSI_TOKEN_PROTOCOL, proto, sizeof proto) < 0 ||
	    strcmp(proto, visitor ? VISITOR_PROTOCOL : STAFF_PROTOCOL) != 0)
		return false;
	if (header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) < 0 || !origin_allowed(origin, visitor))
		return false;
	return true;
}

/* ---- JSON documents (/i18n, /api) ---- */

static bool is_document_path(struct lws *wsi)
{
	char path[128];

	if (header(wsi, WSI_TOKEN_GET_URI, path, sizeof path) < 0)
		return false;
	return strncmp(path, "/i18n/", 6) == 0 || strncmp(path, "/api/", 5) == 0;
}

/* Headers now, body on the next WRITEABLE (lws writes once per callback). */
static int http_document(struct lws *wsi, struct http_pss *hp)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
	const char *body, *type;
	char path[128];
	size_t len;
	int status;

	if (header(wsi, WSI_TOKEN_GET_URI, path, sizeof path) < 0) {
		lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
		return -1;
	}
	status = api_get(g.api, path, &body, &len, &type);
	free(hp->owned);   /* a keep-alive connection's earlier document */
	hp->owned = NULL;
	if (strncmp(path, "/api/status/", 12) == 0) {
		/* Live: who can take a chat now, per language. */
		char lang[8];
		const char *dot = strstr(path + 12, ".json");
		int idx = -1;
		if (dot != NULL && dot[5] == '\0' && (size_t)(dot - path - 12) < sizeof lang) {
			memcpy(lang, path + 12, (size_t)(dot - path - 12));
			lang[dot - path - 12] = '\0';
			idx = config_lang_index(g.cfg, lang);
		}
		if (idx >= 0 && (hp->owned = hub_status_json(g.hub, idx)) != NULL) {
			status = 200;
			body = hp->owned;
			len = strlen(body);
		}
	} else if (strncmp(path, "/api/ical/", 10) == 0) {
		/* A member's shifts for calendar apps, by the feed token alone. */
		char token[64];
		const char *dot = strstr(path + 10, ".ics");
		if (dot != NULL && dot[4] == '\0' && (size_t)(dot - path - 10) < sizeof token) {
			memcpy(token, path + 10, (size_t)(dot - path - 10));
			token[dot - path - 10] = '\0';
			hp->owned = hub_ical_feed(g.hub, token);
			secmem_wipe(token, sizeof token);
		}
		if (hp->owned != NULL) {
			status = 200;
			body = hp->owned;
			len = strlen(body);
			type = "text/calendar; charset=utf-8";
		}
	}
	if (lws_add_http_common_headers(wsi, (unsigned)status, type, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
					(const unsigned char *)g.csp, (int)strlen(g.csp), &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	hp->body = body;
	hp->len = len;
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_document_body(struct lws *wsi, struct http_pss *hp)
{
	unsigned char *buf;
	int n;

	if (hp == NULL || hp->body == NULL)
		return 0;
	buf = malloc(LWS_PRE + hp->len);
	if (buf == NULL)
		return -1;
	memcpy(buf + LWS_PRE, hp->body, hp->len);
	n = lws_write(wsi, buf + LWS_PRE, hp->len, LWS_WRITE_HTTP_FINAL);
	free(buf);
	hp->body = NULL;
	free(hp->owned);
	hp->owned = NULL;
	if (n < 0)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- protocols[0]: HTTP, handshake, TLS set-up, connection cap ---- */

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: {
		SSL_CTX *ssl = user;
		SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
		/* CLEANSE_PLAINTEXT: OpenSSL wipes decrypted records once read, so
		 * no visitor text lingers in its buffers. */
		SSL_CTX_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CLEANSE_PLAINTEXT);
		if (SSL_CTX_set1_groups_list(ssl, TLS_GROUPS) != 1)
			log_warn("could not restrict TLS groups to %s", TLS_GROUPS);
		return 0;
	}
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		if (g.shutting_down || g.live_wsi >= g.max_conns) {
			log_warn("refusing a connection: %s", g.shutting_down ? "shutting down" : "connection cap");
			return 1;
		}
		return 0;
	case LWS_CALLBACK_WSI_CREATE:
		g.live_wsi++;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (g.live_wsi > 0)
			g.live_wsi--;
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (g.shutting_down || !upgrade_allowed(wsi)) {
			lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
			return 1;
		}
		return 0;
	case LWS_CALLBACK_ADD_HEADERS: {
		struct lws_process_html_args *args = in;
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
						(const unsigned char *)g.csp, (int)strlen(g.csp),
						(unsigned char **)&args->p,
						(unsigned char *)args->p + args->max_len))
			return 1;
		return 0;
	}
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (g.hub != NULL)
			hub_poll(g.hub, mono_ms());
		if (g.signal_seen && !g.shutting_down)
			begin_shutdown();
		return 0;
	case LWS_CALLBACK_HTTP:
		/* Only the callback mounts (/i18n, /api) reach here with a path;
		 * missing files fall through to the default 404. */
		if (user != NULL && is_document_path(wsi))
			return http_document(wsi, user);
		break;
	case LWS_CALLBACK_CLOSED_HTTP:
		if (user != NULL) {
			free(((struct http_pss *)user)->owned);
			((struct http_pss *)user)->owned = NULL;
		}
		break;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_document_body(wsi, user);
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- the two WebSocket protocols ---- */

static int close_now(struct lws *wsi, int code, const char *reason)
{
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
	return -1;
}

static void established(struct lws *wsi, struct pss *p, bool visitor)
{
	p->wsi = wsi;
	p->no = ++g.next_conn_no;
	list_init(&p->outq);
	p->established = true;
	if (visitor) {
		char lang[256];
		p->conn = hub_visitor_open(g.hub, p, header(wsi, WSI_TOKEN_HTTP_ACCEPT_LANGUAGE, lang, sizeof lang) > 0
					   ? lang : NULL, p->no);
	} else {
		/* Only a hash of the staff member's address is kept, for login back-off. */
		char addr[128], key[65];
		const char *peer = lws_get_peer_simple(wsi, addr, sizeof addr);
		if (peer != NULL)
			token_hash_hex(strncmp(addr, "::ffff:", 7) == 0 ? addr + 7 : addr, key);
		secmem_wipe(addr, sizeof addr);
		p->conn = hub_staff_open(g.hub, p, peer != NULL ? key : NULL, p->no);
	}
	if (p->conn == NULL)
		edge_close(p, 1013, "try again later");
}

static int receive(struct lws *wsi, struct pss *p, void *in, size_t len)
{
	size_t max = g.cfg->max_frame;

	if (p->conn == NULL || p->closing) {
		secmem_wipe(in, len);
		return 0;
	}
	if (lws_frame_is_binary(wsi)) {
		secmem_wipe(in, len);
		return close_now(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "text frames only");
	}
	if (lws_is_first_fragment(wsi))
		p->rx_len = 0;
	if (p->rx_len + len + lws_remaining_packet_payload(wsi) > max) {
		secmem_wipe(in, len);
		return close_now(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame too large");
	}
	/* A message that arrives whole, as nearly all do, is read where lws
	 * put it: no copy, and an idle connection holds no buffer of its own
	 * (it held max_frame bytes for its life: tests/bench/README.md). */
	if (p->rx_len == 0 && lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
		hub_input(p->conn, (const char *)in, len, mono_ms());
		secmem_wipe(in, len);
		return 0;
	}
	if (p->rx == NULL && (p->rx = malloc(max)) == NULL)
		return close_now(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "no memory");
	memcpy(p->rx + p->rx_len, in, len);
	/* lws keeps the unmasked payload in its per-connection buffer until a
	 * later frame overwrites it; wipe it now so no text outlives its chat. */
	secmem_wipe(in, len);
	p->rx_len += len;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return 0;
	hub_input(p->conn, (const char *)p->rx, p->rx_len, mono_ms());
	secmem_free(p->rx, max);
	p->rx = NULL;
	p->rx_len = 0;
	return 0;
}

static int writeable(struct lws *wsi, struct pss *p)
{
	int rc;

	if (ka_write_ping(wsi, p, &rc))
		return rc;
	if (p->outq.next != NULL && !list_empty(&p->outq)) {
		struct outq_item *q = list_entry(p->outq.next, struct outq_item, link);
		int n;
		list_remove(&q->link);
		p->outq_len--;
		p->outq_bytes -= q->f->len;
		n = lws_write(wsi, q->f->data + FRAME_PRE, q->f->len, LWS_WRITE_TEXT);
		frame_unref(q->f);
		free(q);
		if (n < 0)
			return -1;
		if (!list_empty(&p->outq) || p->closing)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (p->closing)
		return close_now(wsi, p->close_code, p->close_reason);
	return 0;
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len,
		       bool visitor)
{
	struct pss *p = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		established(wsi, p, visitor);
		ka_heard(p, mono_ms());
		return 0;
	case LWS_CALLBACK_RECEIVE:
		ka_alive(p);
		return receive(wsi, p, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		ka_alive(p);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return p != NULL && p->established ? writeable(wsi, p) : 0;
	case LWS_CALLBACK_CLOSED:
		/* Also called for handshakes refused before ESTABLISHED. */
		if (p == NULL || !p->established)
			return 0;
		p->established = false;
		list_remove(&p->ka_link);
		p->ka_ping_due = false;
		if (p->conn != NULL)
			hub_closed(p->conn, mono_ms());
		p->conn = NULL;
		outq_drain(p);
		if (p->rx != NULL)
			secmem_free(p->rx, g.cfg->max_frame);
		p->rx = NULL;
		return 0;
	default:
		return 0;
	}
}

static int callback_visitor(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	return callback_ws(wsi, reason, user, in, len, true);
}

static int callback_staff(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	return callback_ws(wsi, reason, user, in, len, false);
}

static const struct lws_protocols protocols[] = {
	{ .name = "http", .callback = callback_http, .per_session_data_size = sizeof(struct http_pss) },
	{ .name = VISITOR_PROTOCOL, .callback = callback_visitor, .per_session_data_size = sizeof(struct pss),
	  .rx_buffer_size = 4096, .tx_packet_size = 16384 },
	{ .name = STAFF_PROTOCOL, .callback = callback_staff, .per_session_data_size = sizeof(struct pss),
	  .rx_buffer_size = 4096, .tx_packet_size = 16384 },
	{ 0 }
};

/* ---- set-up ---- */

static const struct lws_protocol_vhost_options mime_webmanifest = {
	NULL, NULL, ".webmanifest", "application/manifest+json" };
static const struct lws_protocol_vhost_options mime_mjs = { &mime_webmanifest, NULL, ".mjs", "text/javascript" };
static const struct lws_protocol_vhost_options mime_map = { &mime_mjs, NULL, ".map", "application/json" };

/* Headers on every response; the CSP is added per file in ADD_HEADERS
 * because it names our port, which is known only after binding. */
static const struct lws_protocol_vhost_options hdr_permissions = {
	NULL, NULL, "permissions-policy:", "camera=(), microphone=(), geolocation=(), payment=(), usb=()" };
static const struct lws_protocol_vhost_options hdr_coop = {
	&hdr_permissions, NULL, "cross-origin-opener-policy:", "same-origin" };
static const struct lws_protocol_vhost_options hdr_nosniff = {
	&hdr_coop, NULL, "x-content-type-options:", "nosniff" };
static const struct lws_protocol_vhost_options hdr_referrer = {
	&hdr_nosniff, NULL, "referrer-policy:", "no-referrer" };
static const struct lws_protocol_vhost_options hdr_hsts = {
	&hdr_referrer, NULL, "strict-transport-security:", "max-age=31536000" };

/*
 * lws' own keepalive is switched off; ours is above ("keepalive"). What
 * lws 4.1.6 does with this policy (lib/core-net/wsi-timeout.c, vhost.c,
 * lib/core/context.c, lib/roles/ws/ops-ws.c):
 * - Each ws connection gets a "validity" timer at ESTABLISHED, re-armed at
 *   every PONG and run out into a ping, then a hang-up. lws keeps all timers
 *   in one sorted linked list and re-arming inserts from its head, so each
 *   re-arm walks all N connections: O(N^2) per ping period (with 10,000 idle
 *   visitors, 20% of a core, 90% of it in lws_dll2_add_sorted).
 * - The vhost takes info.retry_and_idle_policy as given, and re-arming
 *   returns at once when secs_since_valid_hangup is 0: no validity timer is
 *   ever scheduled, so lws never pings and never hangs up by itself.
 * - NULL would not do: the vhost would fall back to the context default
 *   (ping at 300 s, hang-up at 310 s). The context copies the policy's times
 *   into that default only when secs_since_valid_ping is non-zero, so zeros
 *   leave it alone; it is used only by lws client connections, as is the
 *   retry table. HTTP/1 connections have no validity timer, and lws still
 *   answers the peer's pings itself.
 * - lws reports a pong (LWS_CALLBACK_RECEIVE_PONG) only if it has a payload,
 *   and checks a pong's payload as UTF-8 when the last data frame was text:
 *   hence our pings carry KA_PING_PAYLOAD, a few ASCII bytes.
 */
static const lws_retry_bo_t keepalive_off = {
	.secs_since_valid_ping = 0,
	.secs_since_valid_hangup = 0,
};

/* lws' own log lines, kept to err|warn; any address in them is
 * masked so that no client address reaches the log. */
static void lws_log_emit(int level, const char *line)
{
	char buf[512];
	size_t o = 0;

	/* The libev plugin reports every watcher change at notice level. */
	if (strstr(line, "elops_io_ev") != NULL || strstr(line, "elops_accept_ev") != NULL)
		return;

	for (const char *s = line; *s != '\0' && o + 8 < sizeof buf; s++) {
		if ((*s >= '0' && *s <= '9') || (*s == ':' && s[1] == ':')) {
			/* Mask runs that look like IPv4 or IPv6 addresses. */
			const char *e = s;
			unsigned dots = 0, colons = 0;
			while ((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'f') || *e == '.' || *e == ':') {
				dots += *e == '.';
				colons += *e == ':';
				e++;
			}
			if (dots >= 3 || colons >= 2) {
				memcpy(buf + o, "[addr]", 6);
				o += 6;
				s = e - 1;
				continue;
			}
		}
		if (*s != '\n')
			buf[o++] = *s;
	}
	buf[o] = '\0';
	log_msg(level & LLL_ERR ? LOG_LEVEL_ERR : level & LLL_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_NOTICE,
		"lws: %s", buf);
}

/* lws sizes its tables from the fd limit: raise it to what the connection
 * cap needs (never above the hard limit) and say what we got. */
static void raise_fd_limit(unsigned want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t target = (rlim_t)want + 256;
	if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
		target = rl.rlim_max;
	if (target > rl.rlim_cur) {
		rl.rlim_cur = target;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("could not raise the file limit: %s", strerror(errno));
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	/* Keep headroom for our own files (database, static files, log) so
	 * accept() never meets EMFILE (lws would spin on it). */
	g.max_conns = rl.rlim_cur > (rlim_t)want + 64 ? want : (unsigned)(rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64);
	log_notice("file limit %llu, connection cap %u", (unsigned long long)rl.rlim_cur, g.max_conns);
}

int server_run(const struct config *cfg, struct i18n *t, struct staff *st, struct roster *roster,
	       struct stats *stats, int port_override)
{
	struct lws_context_creation_info info;
	struct lws_http_mount mount, i18n_mount, api_mount;
	struct sigaction sa;
	int status = 0;

	memset(&g, 0, sizeof g);
	g.cfg = cfg;
	list_init(&g.ka_quiet);
	list_init(&g.ka_pinged);
	g.ka_ping_ms = (uint64_t)cfg->ping_s * 1000;
	g.ka_idle_ms = (uint64_t)cfg->idle_timeout_s * 1000;
	raise_fd_limit(cfg->max_connections);
	/* Not LLL_NOTICE: lws formats a line before it calls lws_log_emit,
	 * and the libev plugin's notices (several per message relayed) cost
	 * about a tenth of brugd's instructions per message
	 * (tests/bench/README.md). */
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

	/* The JSON documents come from callback_http; files from web_root. */
	memset(&api_mount, 0, sizeof api_mount);
	api_mount.mountpoint = "/api";
	api_mount.mountpoint_len = 4;
	api_mount.origin = "http";
	api_mount.origin_protocol = LWSMPRO_CALLBACK;
	memset(&i18n_mount, 0, sizeof i18n_mount);
	i18n_mount.mount_next = &api_mount;
	i18n_mount.mountpoint = "/i18n";
	i18n_mount.mountpoint_len = 5;
	i18n_mount.origin = "http";
	i18n_mount.origin_protocol = LWSMPRO_CALLBACK;

	memset(&mount, 0, sizeof mount);
	mount.mount_next = &i18n_mount;
	mount.mountpoint = "/";
	mount.mountpoint_len = 1;
	mount.origin = cfg->web_root;
	mount.def = "index.html";
	mount.protocol = "http";      /* so ADD_HEADERS reaches callback_http */
	mount.extra_mimetypes = &mime_map;
	mount.origin_protocol = LWSMPRO_FILE;   /* no cache_* fields: Cache-Control no-store */

	memset(&info, 0, sizeof info);
	info.port = port_override >= 0 ? port_override : cfg->port;
	info.iface = cfg->bind;
	info.protocols = protocols;
	info.mounts = &mount;
	info.headers = &hdr_hsts;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_VALIDATE_UTF8 |
		       LWS_SERVER_OPTION_LIBEV;
	info.ssl_cert_filepath = cfg->cert;
	info.ssl_private_key_filepath = cfg->key;
	info.ssl_cipher_list = TLS12_CIPHERS;
	info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_CIPHER_SERVER_PREFERENCE;
	info.alpn = "http/1.1";
	info.vhost_name = cfg->hostname;
	info.timeout_secs = 15;
	info.retry_and_idle_policy = &keepalive_off;
	info.pt_serv_buf_size = 16384;
	info.signal_cb = lws_signal_cb;

	g.api = api_new(cfg, t);
	g.hub = hub_new(cfg, t, st, &edge_ops, NULL);
	if (g.hub != NULL) {
		hub_set_roster(g.hub, roster);
		hub_set_stats(g.hub, stats);
	}
	if (g.hub == NULL || g.api == NULL) {
		log_err("out of memory");
		hub_free(g.hub, mono_ms());
		api_free(g.api);
		return 1;
	}
	g.ctx = lws_create_context(&info);
	if (g.ctx == NULL) {
		log_err("could not start the server (port %d in use, or certificate %s / key %s unreadable, "
			"or the libev plugin libwebsockets-evlib-ev missing)", info.port, cfg->cert, cfg->key);
		hub_free(g.hub, mono_ms());
		api_free(g.api);
		return 1;
	}
	g.vhost = lws_get_vhost_by_name(g.ctx, cfg->hostname);
	g.port = g.vhost != NULL ? lws_get_vhost_listen_port(g.vhost) : info.port;
	if (g.port == 443)
		snprintf(g.own_origin, sizeof g.own_origin, "https://%s", cfg->hostname);
	else
		snprintf(g.own_origin, sizeof g.own_origin, "https://%s:%d", cfg->hostname, g.port);
	if (snprintf(g.csp, sizeof g.csp,
		     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
		     "font-src 'self'; connect-src 'self' wss://%s; base-uri 'none'; form-action 'none'; "
		     "frame-ancestors %s", g.own_origin + strlen("https://"), cfg->frame_ancestors) >=
	    (int)sizeof g.csp) {
		log_err("frame_ancestors is too long");
		status = 1;
		goto out;
	}

	/* SIGTERM (and SIGINT where the loop does not watch it) wake the loop. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	printf("listening on port %d\n", g.port);
	fflush(stdout);
	log_notice("brugd %s serving port %d", BRUG_VERSION, g.port);

	lws_sul_schedule(g.ctx, 0, &g.tick_sul, tick_cb, TICK_US);
	lws_sul_schedule(g.ctx, 0, &g.ka_sul, ka_tick_cb, KA_TICK_US);
	while (!g.destroyed && lws_service(g.ctx, 0) >= 0)
		;
out:
	hub_stop_worker(g.hub, mono_ms());
	/* With an event library the destroy in stop_cb is staged: this second
	 * call completes it once the loop has returned (lws' own pattern). */
	lws_context_destroy(g.ctx);
	g.ctx = NULL;
	hub_free(g.hub, mono_ms());
	g.hub = NULL;
	api_free(g.api);
	g.api = NULL;
	log_notice("stopped");
	return status;
}
