/* The libwebsockets edge (lws 4.1 on its libev loop): HTTPS and WSS only, frame
 * assembly with a size cap, a per-socket outbound queue, keepalive, timers, signals,
 * reload (SIGHUP) and graceful shutdown; plain HTTP is in server_http.c. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "api.h"
#include "brug-build.h"
#include "certs.h"
#include "cluster.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "http_path.h"
#include "notify.h"
#include "proto.h"
#include "reload.h"
#include "server.h"
#include "server_private.h"
#include "source_limit.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"

_Static_assert(FRAME_PRE >= LWS_PRE, "frames must leave room for the WebSocket header");
#define TICK_US (250 * LWS_US_PER_MS)
#define SHUTDOWN_GRACE_MS 2000
/* A slow reader may not make the daemon hold unbounded memory for it; the
 * hub paces transcripts to these limits (hub.h). */
#define OUTQ_MAX_FRAMES HUB_OUTQ_MAX_FRAMES
#define OUTQ_MAX_BYTES HUB_OUTQ_MAX_BYTES
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
/* Refused connections are logged at most this often, as a count. */
#define REFUSAL_LOG_MS 10000

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
	struct list ka_link;   /* on server_g.ka_quiet or .ka_pinged while established */
	uint64_t ka_heard_ms;  /* when the peer last sent a frame or a pong */
	bool ka_ping_due;      /* send a ping at the next WRITEABLE */
};

/* The one edge (server_private.h). */
struct server_state server_g;

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

/* ---- client sources ---- */

/*
 * The client's source as an opaque key: a keyed BLAKE2b hash (hex) of its
 * IPv4 address, or of the /64 of an IPv6 one (one household, phone or
 * server is handed a whole /64). The key is random per boot and never
 * leaves memory, so a key says nothing about the address and nothing
 * outlives a restart; the address itself is wiped at once and never
 * logged. Used for the per-source caps and for staff login back-off.
 */
static bool source_key(struct lws *wsi, char out[SOURCE_KEY_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	unsigned char in[1 + 8], h[16];
	size_t n = 0;
	int fd = lws_get_socket_fd(wsi);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	if (ss.ss_family == AF_INET) {
		in[0] = 4;
		memcpy(in + 1, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
		n = 5;
	} else if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			in[0] = 4;
			memcpy(in + 1, a->s6_addr + 12, 4);
			n = 5;
		} else {
			in[0] = 6;
			memcpy(in + 1, a->s6_addr, 8);
			n = 9;
		}
	}
	if (n > 0) {
		crypto_generichash(h, sizeof h, in, n, server_g.source_secret, sizeof server_g.source_secret);
		sodium_bin2hex(out, SOURCE_KEY_MAX, h, sizeof h);
	}
	secmem_wipe(&ss, sizeof ss);
	secmem_wipe(in, sizeof in);
	secmem_wipe(h, sizeof h);
	return n > 0;
}

/* The source key the connection of wsi holds a count for, or NULL. */
static const char *source_key_of(struct lws *wsi)
{
	const struct source_entry *e = lws_get_opaque_user_data(wsi);

	return e != NULL ? e->key : NULL;
}

/* A refused connection, logged without any address and at most once per
 * REFUSAL_LOG_MS, so a flood cannot flood the log too. */
static void log_refusal(const char *why)
{
	uint64_t now = mono_ms();

	server_g.refusals_unlogged++;
	if (server_g.refusal_log_ms != 0 && now - server_g.refusal_log_ms < REFUSAL_LOG_MS)
		return;
	log_warn("refusing connections: %s (%u since the last such line)", why, server_g.refusals_unlogged);
	server_g.refusal_log_ms = now;
	server_g.refusals_unlogged = 0;
}

/* A new connection: count it against its source, or refuse it (1) when
 * the source already has [server] max_connections_per_source. Refused
 * before TLS: only a flood gets here, and this is the cheapest answer. */
static int source_hold(struct lws *wsi)
{
	char key[SOURCE_KEY_MAX];
	struct source_entry *e = NULL;
	int rc;

	if (!source_key(wsi, key))
		return 0;
	rc = source_limit_take(server_g.sources, key, 1, server_g.cfg->max_conns_per_source, &e);
	secmem_wipe(key, sizeof key);
	if (rc == BRUG_E_RATE_LIMITED) {
		log_refusal("too many from one source");
		return 1;
	}
	if (rc == 0)
		lws_set_opaque_user_data(wsi, e);
	return 0;
}

static void source_release(struct lws *wsi)
{
	struct source_entry *e = lws_get_opaque_user_data(wsi);

	if (e == NULL)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	source_limit_put(server_g.sources, e, 1);
}

/* Whether the connections in use (the asking one included) reach into the
 * staff reserve: then only staff paths are served. */
static bool in_staff_reserve(void)
{
	return server_g.staff_reserve > 0 && server_g.live_wsi + server_g.staff_reserve > server_g.max_conns;
}

/* What the staff console needs: its socket, its pages, and the few files
 * and documents it shares with the widget. */
static bool is_staff_path(const char *path)
{
	static const char *const shared[] = { "/ws/staff", "/brug.css", "/labels.js", "/socket.js", "/api/config.json" };

	if (strcmp(path, "/staff") == 0 || strncmp(path, "/staff/", 7) == 0 || strncmp(path, "/i18n/", 6) == 0)
		return true;
	for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
		if (strcmp(path, shared[i]) == 0)
			return true;
	return false;
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

static bool edge_room(void *edge, size_t len)
{
	struct pss *p = edge;

	if (p->closing)
		return false;
	return p->outq_len == 0 ||
	       (p->outq_len < HUB_OUTQ_REPLAY_FRAMES && p->outq_bytes + len <= HUB_OUTQ_REPLAY_BYTES);
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
	if (server_g.ctx != NULL)
		lws_cancel_service(server_g.ctx);
}

static const struct hub_edge_ops edge_ops = {
	.send = edge_send,
	.close = edge_close,
	.wall_ms = wall_ms,
	.wake = edge_wake,
	.room = edge_room,
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
	list_add_tail(&server_g.ka_quiet, &p->ka_link);
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

	while (!list_empty(&server_g.ka_quiet)) {
		struct pss *p = list_entry(server_g.ka_quiet.next, struct pss, ka_link);
		if (now - p->ka_heard_ms < server_g.ka_ping_ms)
			break;
		list_remove(&p->ka_link);
		list_add_tail(&server_g.ka_pinged, &p->ka_link);
		if (!p->closing) {
			p->ka_ping_due = true;
			lws_callback_on_writable(p->wsi);
		}
	}
	while (!list_empty(&server_g.ka_pinged)) {
		struct pss *p = list_entry(server_g.ka_pinged.next, struct pss, ka_link);
		if (now - p->ka_heard_ms < server_g.ka_idle_ms)
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
	lws_sul_schedule(server_g.ctx, 0, &server_g.ka_sul, ka_tick_cb, KA_TICK_US);
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
	hub_tick(server_g.hub, mono_ms());
	cluster_tick(server_g.cluster, mono_ms());
	lws_sul_schedule(server_g.ctx, 0, &server_g.tick_sul, tick_cb, TICK_US);
}

static void stop_cb(lws_sorted_usec_list_t *sul)
{
	/* Leave once every socket is gone or the grace time is over. */
	if (server_g.live_wsi > 0 && mono_ms() < server_g.stop_deadline_ms) {
		lws_sul_schedule(server_g.ctx, 0, &server_g.stop_sul, stop_cb, 50 * LWS_US_PER_MS);
		return;
	}
	lws_sul_cancel(&server_g.tick_sul);
	lws_sul_cancel(&server_g.ka_sul);
	server_g.destroyed = true;
	lws_context_destroy(server_g.ctx);
}

static void begin_shutdown(void)
{
	if (server_g.shutting_down)
		return;
	server_g.shutting_down = true;
	log_notice("shutting down");
	notify_send("STOPPING=1");
	hub_shutdown(server_g.hub, mono_ms());
	server_g.stop_deadline_ms = mono_ms() + SHUTDOWN_GRACE_MS;
	lws_sul_schedule(server_g.ctx, 0, &server_g.stop_sul, stop_cb, 50 * LWS_US_PER_MS);
}

static void on_signal(int sig)
{
	server_g.signal_seen = sig;
	if (server_g.ctx != NULL)
		lws_cancel_service(server_g.ctx);
}

static void on_hup(int sig)
{
	server_g.reload_seen = 1;
	if (server_g.ctx != NULL)
		lws_cancel_service(server_g.ctx);
}

/* lws' own signal watcher on the libev loop (SIGINT). */
static void lws_signal_cb(void *handle, int signum)
{
	server_g.signal_seen = signum;
	begin_shutdown();
}

/*
 * Runs on the loop between callbacks, so no handler is half-way through
 * the config. The new file and certificate are read and checked in full
 * first; only then does the certificate go into the vhost's SSL_CTX (new
 * handshakes get it, open connections keep theirs) and the config's values
 * into the struct every holder borrows, after which the holders that
 * copied values take them up. Connections, chats, queues and staff
 * sessions are not touched.
 */
static void reload_now(void)
{
	struct config next;
	struct certs *certs = NULL;
	char err[1024], desc[192], csp[sizeof server_g.csp];
	unsigned changed;

	notify_send("RELOADING=1");
	log_notice("reloading %s", server_g.config_path);
	if (reload_load(&next, server_g.config_path, server_g.state_dir_override, err, sizeof err) != 0) {
		log_err("reload refused, nothing changed: %s", err);
		goto done;
	}
	if (server_make_csp(csp, next.frame_ancestors) != 0) {
		log_err("reload refused, nothing changed: %s: frame_ancestors is too long", server_g.config_path);
		config_fini(&next);
		goto done;
	}
	certs = certs_load(next.cert, next.key, err, sizeof err);
	if (certs == NULL || (server_g.ssl_ctx != NULL && certs_install(server_g.ssl_ctx, certs, err, sizeof err) != 0)) {
		log_err("reload refused, nothing changed: %s", err);
		config_fini(&next);
		goto done;
	}
	certs_describe(certs, desc, sizeof desc);
	changed = reload_merge(&next, server_g.cfg);
	reload_commit(server_g.cfg, &next);
	log_set_level(log_level_of(server_g.cfg->log_level));
	server_g.ka_ping_ms = (uint64_t)server_g.cfg->ping_s * 1000;
	server_g.ka_idle_ms = (uint64_t)server_g.cfg->idle_timeout_s * 1000;
	memcpy(server_g.csp, csp, sizeof server_g.csp);
	hub_config_changed(server_g.hub);
	log_notice("reloaded: %u setting%s applied; certificate %s", changed, changed == 1 ? "" : "s", desc);
done:
	certs_free(certs);
	notify_send("READY=1");
}

/* ---- protocols[0]: HTTP, handshake, TLS set-up, connection cap ---- */

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: {
		SSL_CTX *ssl = user;
		server_g.ssl_ctx = ssl;   /* lives as long as the vhost */
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
		if (server_g.shutting_down || server_g.live_wsi >= server_g.max_conns) {
			log_refusal(server_g.shutting_down ? "shutting down" : "connection cap");
			return 1;
		}
		return 0;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		/* The accepted socket is known here (not yet at FILTER_NETWORK_
		 * CONNECTION, whose wsi is the listener). */
		return source_hold(wsi);
	case LWS_CALLBACK_WSI_CREATE:
		server_g.live_wsi++;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		source_release(wsi);
		if (server_g.live_wsi > 0)
			server_g.live_wsi--;
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		bool visitor = false;
		if (server_g.shutting_down || !server_upgrade_allowed(wsi, &visitor)) {
			lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
			return 1;
		}
		if (visitor && in_staff_reserve()) {
			/* Protocol "Transport": HTTP 503 with Retry-After. */
			log_refusal("only the staff reserve is left");
			return server_http_short(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL, false) < 0 ? -1 : 1;
		}
		return 0;
	}
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
		/* Every plain request (not the upgrades, see CONFIRM_UPGRADE);
		 * in is the path. It is checked before a mount maps it onto
		 * web_root: traversal and encoding tricks get a plain 404. */
		if (!http_path_acceptable(in, len)) {
			char path[256];
			bool head = false;
			const char *pp = server_request_path(wsi, path, sizeof path, &head) >= 0 ? path : NULL;
			server_http_short(wsi, HTTP_STATUS_NOT_FOUND, pp, head);
			return 1;
		}
		if (in_staff_reserve() && in != NULL && !is_staff_path(in)) {
			char path[256];
			bool head = false;
			const char *pp = server_request_path(wsi, path, sizeof path, &head) >= 0 ? path : NULL;
			log_refusal("only the staff reserve is left");
			server_http_short(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, pp, head);
			return 1;
		}
		return 0;
	case LWS_CALLBACK_ADD_HEADERS: {
		/* For the files of the "/" mount; the staff pages may not be framed
		 * at all, not even by our own origin. */
		struct lws_process_html_args *args = in;
		unsigned char **p = (unsigned char **)&args->p, *end = (unsigned char *)args->p + args->max_len;
		char path[256];
		bool head = false;
		const char *pp = server_request_path(wsi, path, sizeof path, &head) >= 0 ? path : NULL;
		if (server_add_header(wsi, "content-security-policy:", server_csp_for(pp), p, end) ||
		    (server_is_staff_page(pp) && server_add_header(wsi, "x-frame-options:", "DENY", p, end)))
			return 1;
		return 0;
	}
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (server_g.hub != NULL)
			hub_poll(server_g.hub, mono_ms());
		cluster_poll(server_g.cluster, mono_ms());
		if (server_g.signal_seen && !server_g.shutting_down)
			begin_shutdown();
		if (server_g.reload_seen && !server_g.shutting_down) {
			server_g.reload_seen = 0;
			reload_now();
		}
		return 0;
	case LWS_CALLBACK_HTTP: {
		/* The callback mounts (/i18n, /api), and files missing from the
		 * "/" mount, which get our own 404 (with CSP and no-store). */
		char path[256];
		bool head = false;
		if (server_request_path(wsi, path, sizeof path, &head) < 0) {
			lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
			return -1;
		}
		if (user != NULL && server_is_document_path(path))
			return server_http_document(wsi, user, path, head);
		if (server_http_short(wsi, HTTP_STATUS_NOT_FOUND, path, head) < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
		if (user != NULL) {
			free(((struct http_pss *)user)->owned);
			((struct http_pss *)user)->owned = NULL;
		}
		break;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return server_http_document_body(wsi, user);
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
	p->no = ++server_g.next_conn_no;
	list_init(&p->outq);
	p->established = true;
	if (visitor) {
		char lang[256];
		p->conn = hub_visitor_open(server_g.hub, p, server_header(wsi, WSI_TOKEN_HTTP_ACCEPT_LANGUAGE, lang, sizeof lang) > 0
					   ? lang : NULL, source_key_of(wsi), p->no);
	} else {
		/* Only the keyed hash of the staff member's address is passed on,
		 * for login back-off. */
		p->conn = hub_staff_open(server_g.hub, p, source_key_of(wsi), p->no);
	}
	if (p->conn == NULL)
		edge_close(p, 1013, "try again later");
}

static int receive(struct lws *wsi, struct pss *p, void *in, size_t len)
{
	size_t max = server_g.cfg->max_frame;

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
		/* Room again for a transcript under way (hub.h). */
		if (p->conn != NULL && !p->closing && p->outq_len <= OUTQ_MAX_FRAMES / 2 &&
		    p->outq_bytes <= OUTQ_MAX_BYTES / 2)
			hub_writable(p->conn, mono_ms());
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
			secmem_free(p->rx, server_g.cfg->max_frame);
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
	server_g.max_conns = rl.rlim_cur > (rlim_t)want + 64 ? want : (unsigned)(rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64);
	server_g.staff_reserve = server_g.cfg->staff_reserve < server_g.max_conns / 2 ? server_g.cfg->staff_reserve : server_g.max_conns / 2;
	log_notice("file limit %llu, connection cap %u (%u for staff only)", (unsigned long long)rl.rlim_cur,
		   server_g.max_conns, server_g.staff_reserve);
}

int server_run(struct config *cfg, const char *config_path, const char *state_dir_override, struct i18n *t,
	       struct staff *st, struct roster *roster, struct stats *stats, int port_override)
{
	struct lws_context_creation_info info;
	struct lws_http_mount mount, i18n_mount, api_mount;
	struct sigaction sa;
	int status = 0;

	memset(&server_g, 0, sizeof server_g);
	server_g.cfg = cfg;
	server_g.config_path = config_path;
	server_g.state_dir_override = state_dir_override;
	list_init(&server_g.ka_quiet);
	list_init(&server_g.ka_pinged);
	server_g.ka_ping_ms = (uint64_t)cfg->ping_s * 1000;
	server_g.ka_idle_ms = (uint64_t)cfg->idle_timeout_s * 1000;
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
	mount.extra_mimetypes = &server_mime_map;
	mount.origin_protocol = LWSMPRO_FILE;   /* no cache_* fields: Cache-Control no-store */

	memset(&info, 0, sizeof info);
	info.port = port_override >= 0 ? port_override : cfg->port;
	info.iface = cfg->bind;
	info.protocols = protocols;
	info.mounts = &mount;
	info.headers = &server_hdr_hsts;
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

	randombytes_buf(server_g.source_secret, sizeof server_g.source_secret);
	server_g.sources = source_limit_new();
	server_g.api = api_new(cfg, t);
	server_g.hub = hub_new(cfg, t, st, &edge_ops, NULL);
	if (server_g.hub != NULL) {
		hub_set_roster(server_g.hub, roster);
		hub_set_stats(server_g.hub, stats);
	}
	if (server_g.hub == NULL || server_g.api == NULL || server_g.sources == NULL) {
		log_err("out of memory");
		status = 1;
		goto free_core;
	}
	server_g.ctx = lws_create_context(&info);
	if (server_g.ctx == NULL) {
		log_err("could not start the server (port %d in use, or certificate %s / key %s unreadable, "
			"or the libev plugin libwebsockets-evlib-ev missing)", info.port, cfg->cert, cfg->key);
		status = 1;
		goto free_core;
	}
	server_g.vhost = lws_get_vhost_by_name(server_g.ctx, cfg->hostname);
	server_g.port = server_g.vhost != NULL ? lws_get_vhost_listen_port(server_g.vhost) : info.port;
	if (server_g.port == 443)
		snprintf(server_g.own_origin, sizeof server_g.own_origin, "https://%s", cfg->hostname);
	else
		snprintf(server_g.own_origin, sizeof server_g.own_origin, "https://%s:%d", cfg->hostname, server_g.port);
	if (server_make_csp(server_g.csp_staff, "'none'") != 0 || server_make_csp(server_g.csp, cfg->frame_ancestors) != 0) {
		status = 1;
		goto out;
	}

	/* SIGTERM (and SIGINT where the loop does not watch it) wake the loop. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* SIGHUP: re-read the config and the certificate (reload_now). */
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);

	printf("listening on port %d\n", server_g.port);
	fflush(stdout);
	log_notice("brugd %s serving port %d", BRUG_VERSION, server_g.port);
	{
		char state[64];
		snprintf(state, sizeof state, "READY=1\nSTATUS=serving port %d", server_g.port);
		notify_send(state);
	}

	if (cfg->cluster) {
		/* The loop exists now, so the cluster's wake has a target. */
		server_g.cluster = cluster_new(cfg, edge_wake, NULL, mono_ms());
		if (server_g.cluster == NULL || cluster_start(server_g.cluster, mono_ms()) < 0) {
			log_err("could not start the cluster link");
			status = 1;
			goto out;
		}
		cluster_set_hub(server_g.cluster, server_g.hub);
		hub_set_cluster(server_g.hub, server_g.cluster);
	}
	lws_sul_schedule(server_g.ctx, 0, &server_g.tick_sul, tick_cb, TICK_US);
	lws_sul_schedule(server_g.ctx, 0, &server_g.ka_sul, ka_tick_cb, KA_TICK_US);
	while (!server_g.destroyed && lws_service(server_g.ctx, 0) >= 0)
		;
out:
	hub_stop_worker(server_g.hub, mono_ms());
	/* Say goodbye to the other nodes and stop libnats' wakes before the
	 * context goes. */
	hub_set_cluster(server_g.hub, NULL);
	cluster_free(server_g.cluster);
	server_g.cluster = NULL;
	/* With an event library the destroy in stop_cb is staged: this second
	 * call completes it once the loop has returned (lws' own pattern). */
	lws_context_destroy(server_g.ctx);
	server_g.ctx = NULL;
	log_notice("stopped");
free_core:
	hub_free(server_g.hub, mono_ms());
	server_g.hub = NULL;
	api_free(server_g.api);
	server_g.api = NULL;
	/* After the context: every connection gave its count back. */
	source_limit_free(server_g.sources);
	server_g.sources = NULL;
	secmem_wipe(server_g.source_secret, sizeof server_g.source_secret);
	return status;
}
