/* Reference for tests/bench/compare.sh: the least a libwebsockets 4.1 server
 * on brugd's loop and TLS settings must do to carry loadgen's visitor/staff
 * subset (README.md, "The references"). Chat messages are spliced, not parsed. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>

/* The same as daemon/server.c, so that both pay for the same TLS. */
#define TLS12_CIPHERS                                                                   \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                    \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                    \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                    \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS "X25519:prime256v1:secp384r1"
#define MAX_CHATS 20               /* per staff member, as loadgen's accounts */
#define MAX_RX 16384
/* A string literal as pointer and length. */
#define LIT(s) s, sizeof(s) - 1

enum side { SIDE_VISITOR, SIDE_STAFF };

struct out {
	struct out *next;
	size_t len;
	unsigned char buf[];       /* LWS_PRE bytes of headroom, then the frame */
};

/* Per connection; lws zeroes and frees it. */
struct conn {
	struct lws *wsi;
	enum side side;
	bool established;
	struct out *oq_head, *oq_tail;
	unsigned char *rx;         /* a frame in pieces; NULL when it came whole */
	size_t rx_len;
	/* visitor: its number is its offer and chat id */
	unsigned no;
	bool waiting;
	struct conn *wait_prev, *wait_next;
	struct conn *offered_to, *staff;
	/* staff */
	bool logged_in, available;
	unsigned offers, chats;
	struct conn *staff_next;
};

static struct {
	struct lws_context *ctx;
	struct conn **visitors;    /* by number; NULL once gone */
	unsigned n_visitors, cap_visitors;
	struct conn *wait_head, *wait_tail;
	unsigned n_waiting;
	struct conn *staff;
	volatile sig_atomic_t stop;
} g;

/* ---- output ---- */

static void send_raw(struct conn *c, const char *a, size_t alen, const char *b, size_t blen)
{
	struct out *o = malloc(sizeof *o + LWS_PRE + alen + blen);

	if (o == NULL)
		return;
	memcpy(o->buf + LWS_PRE, a, alen);
	if (blen > 0)
		memcpy(o->buf + LWS_PRE + alen, b, blen);
	o->len = alen + blen;
	o->next = NULL;
	if (c->oq_tail != NULL)
		c->oq_tail->next = o;
	else
		c->oq_head = o;
	c->oq_tail = o;
	lws_callback_on_writable(c->wsi);
}

/* Sends j (takes the reference). */
static void send_json(struct conn *c, json_t *j)
{
	char *s;

	if (j == NULL)
		return;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s == NULL)
		return;
	send_raw(c, s, strlen(s), NULL, 0);
	free(s);
}

static int on_writable(struct conn *c)
{
	struct out *o = c->oq_head;

	if (o == NULL)
		return 0;
	if (lws_write(c->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
		return -1;
	c->oq_head = o->next;
	if (c->oq_head == NULL)
		c->oq_tail = NULL;
	free(o);
	if (c->oq_head != NULL)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---- queue and offers ---- */

static void wait_remove(struct conn *v)
{
	if (!v->waiting)
		return;
	if (v->wait_prev != NULL)
		v->wait_prev->wait_next = v->wait_next;
	else
		g.wait_head = v->wait_next;
	if (v->wait_next != NULL)
		v->wait_next->wait_prev = v->wait_prev;
	else
		g.wait_tail = v->wait_prev;
	v->wait_prev = v->wait_next = NULL;
	v->waiting = false;
	g.n_waiting--;
	if (v->offered_to != NULL) {
		v->offered_to->offers--;
		v->offered_to = NULL;
	}
}

static struct conn *staff_with_room(void)
{
	for (struct conn *s = g.staff; s != NULL; s = s->staff_next)
		if (s->available && s->offers + s->chats < MAX_CHATS)
			return s;
	return NULL;
}

/* Offers waiting visitors, oldest first, to staff with room. */
static void dispatch(void)
{
	struct conn *s = staff_with_room();
	char offer[16];

	for (struct conn *v = g.wait_head; v != NULL && s != NULL; v = v->wait_next) {
		if (v->offered_to != NULL)
			continue;
		snprintf(offer, sizeof offer, "%u", v->no);
		send_json(s, json_pack("{s:s, s:s, s:s, s:s}", "type", "offer", "offer", offer, "kind", "chat",
				       "lang", "nl"));
		v->offered_to = s;
		s->offers++;
		if (s->offers + s->chats >= MAX_CHATS)
			s = staff_with_room();
	}
}

/* s is no longer available (or gone): its offers go back to the others. */
static void withdraw(struct conn *s, bool tell)
{
	char offer[16];

	for (struct conn *v = g.wait_head; v != NULL; v = v->wait_next) {
		if (v->offered_to != s)
			continue;
		if (tell) {
			snprintf(offer, sizeof offer, "%u", v->no);
			send_json(s, json_pack("{s:s, s:s, s:s}", "type", "offer_gone", "offer", offer, "reason",
					       "withdrawn"));
		}
		v->offered_to = NULL;
		s->offers--;
	}
	dispatch();
}

static struct conn *visitor_by_id(const char *s, size_t len)
{
	unsigned long n = 0;

	if (len == 0 || len > 9)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NULL;
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	return n < g.n_visitors ? g.visitors[n] : NULL;
}

/* ---- messages ---- */

/* The fast path: {"type":"msg","text":...} from a visitor and
 * {"type":"msg","chat":"N","text":...} from staff are relayed by splicing
 * the new members in front of "text"; true if done that way. */
static bool relay_msg(struct conn *c, const char *in, size_t len)
{
	static const char vis[] = "{\"type\":\"msg\",\"text\":";
	static const char stf[] = "{\"type\":\"msg\",\"chat\":\"";
	char head[96];
	int n;

	if (c->side == SIDE_VISITOR && len > sizeof vis && memcmp(in, vis, sizeof vis - 1) == 0) {
		const char *rest = in + sizeof vis - 1;
		size_t rlen = len - (sizeof vis - 1);

		if (c->staff == NULL) {
			send_json(c, json_pack("{s:s, s:s}", "type", "error", "code", "conflict"));
			return true;
		}
		n = snprintf(head, sizeof head, "{\"type\":\"msg\",\"chat\":\"%u\",\"from\":\"visitor\",\"text\":", c->no);
		send_raw(c->staff, head, (size_t)n, rest, rlen);
		send_raw(c, LIT("{\"type\":\"msg\",\"from\":\"visitor\",\"text\":"), rest, rlen);
		return true;
	}
	if (c->side == SIDE_STAFF && len > sizeof stf && memcmp(in, stf, sizeof stf - 1) == 0) {
		const char *id = in + sizeof stf - 1, *q = memchr(id, '"', len - (sizeof stf - 1));
		static const char text[] = "\",\"text\":";
		struct conn *v;

		if (q == NULL || (size_t)(in + len - q) <= sizeof text || memcmp(q, text, sizeof text - 1) != 0)
			return false;
		v = visitor_by_id(id, (size_t)(q - id));
		if (v == NULL || v->staff != c) {
			send_json(c, json_pack("{s:s, s:s}", "type", "error", "code", "not_found"));
			return true;
		}
		q += sizeof text - 1;
		send_raw(v, LIT("{\"type\":\"msg\",\"from\":\"staff\",\"alias\":\"Bench\",\"text\":"), q,
			 (size_t)(in + len - q));
		n = snprintf(head, sizeof head, "{\"type\":\"msg\",\"chat\":\"%u\",\"from\":\"staff\",\"alias\":\"Bench\",\"text\":",
			     v->no);
		send_raw(c, head, (size_t)n, q, (size_t)(in + len - q));
		return true;
	}
	return false;
}

static void chat_end(struct conn *v, const char *by)
{
	char chat[16];

	if (v->staff == NULL)
		return;
	snprintf(chat, sizeof chat, "%u", v->no);
	send_json(v->staff, json_pack("{s:s, s:s, s:s}", "type", "ended", "chat", chat, "by", by));
	if (v->established)
		send_json(v, json_pack("{s:s, s:s}", "type", "ended", "by", by));
	v->staff->chats--;
	v->staff = NULL;
	dispatch();
}

static void visitor_input(struct conn *c, const char *type, json_t *j)
{
	if (strcmp(type, "hello") == 0 && !c->waiting && c->staff == NULL) {
		const char *lang = json_string_value(json_object_get(j, "lang"));

		send_json(c, json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "welcome", "session", "x", "lang",
				       lang != NULL ? lang : "nl", "dir", "ltr", "open", 1));
		c->waiting = true;
		c->wait_prev = g.wait_tail;
		if (g.wait_tail != NULL)
			g.wait_tail->wait_next = c;
		else
			g.wait_head = c;
		g.wait_tail = c;
		g.n_waiting++;
		send_json(c, json_pack("{s:s, s:I, s:n}", "type", "queue", "position", (json_int_t)g.n_waiting,
				       "wait_s"));
		dispatch();
	} else if (strcmp(type, "end") == 0) {
		chat_end(c, "visitor");
	} else {
		send_json(c, json_pack("{s:s, s:s}", "type", "error", "code", "conflict"));
	}
}

static void staff_input(struct conn *c, const char *type, json_t *j)
{
	json_t *id = json_object_get(j, "id");

	if (strcmp(type, "login") == 0) {
		c->logged_in = true;
		send_json(c, json_pack("{s:s, s:s, s:{s:s, s:[s], s:i}, s:O?}", "type", "session", "token", "x", "user",
				       "alias", "Bench", "roles", "volunteer", "max_chats", MAX_CHATS, "id", id));
	} else if (!c->logged_in) {
		send_json(c, json_pack("{s:s, s:s}", "type", "error", "code", "unauthorized"));
	} else if (strcmp(type, "status") == 0) {
		c->available = json_is_true(json_object_get(j, "available"));
		send_json(c, json_pack("{s:s, s:b, s:O?}", "type", "status", "available", c->available, "id", id));
		if (c->available)
			dispatch();
		else
			withdraw(c, true);
	} else if (strcmp(type, "accept") == 0) {
		const char *o = json_string_value(json_object_get(j, "offer"));
		struct conn *v = o != NULL ? visitor_by_id(o, strlen(o)) : NULL;
		char chat[16], label[32];

		if (v == NULL || v->offered_to != c || !v->waiting) {
			send_json(c, json_pack("{s:s, s:s, s:O?}", "type", "error", "code", "not_found", "id", id));
			return;
		}
		wait_remove(v);
		v->staff = c;
		c->chats++;
		snprintf(chat, sizeof chat, "%u", v->no);
		snprintf(label, sizeof label, "Visitor %u", v->no);
		send_json(c, json_pack("{s:s, s:s, s:s, s:s, s:O?}", "type", "chat", "chat", chat, "lang", "nl", "visitor",
				       label, "id", id));
		send_json(v, json_pack("{s:s, s:s, s:{s:s, s:s}}", "type", "joined", "chat", chat, "staff", "alias",
				       "Bench", "role", "volunteer"));
	} else if (strcmp(type, "end") == 0) {
		const char *ch = json_string_value(json_object_get(j, "chat"));
		struct conn *v = ch != NULL ? visitor_by_id(ch, strlen(ch)) : NULL;

		if (v != NULL && v->staff == c)
			chat_end(v, "staff");
	} else {
		send_json(c, json_pack("{s:s, s:s, s:O?}", "type", "error", "code", "bad_type", "id", id));
	}
}

static void on_frame(struct conn *c, const char *in, size_t len)
{
	json_error_t err;
	json_t *j;
	const char *type;

	if (relay_msg(c, in, len))
		return;
	j = json_loadb(in, len, 0, &err);
	type = json_string_value(json_object_get(j, "type"));
	if (type == NULL)
		send_json(c, json_pack("{s:s, s:s}", "type", "error", "code", "bad_json"));
	else if (c->side == SIDE_VISITOR)
		visitor_input(c, type, j);
	else
		staff_input(c, type, j);
	json_decref(j);
}

static int on_receive(struct conn *c, struct lws *wsi, const char *in, size_t len)
{
	bool last = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
	unsigned char *p;

	if (last && c->rx == NULL) {
		on_frame(c, in, len);
		return 0;
	}
	if (c->rx_len + len > MAX_RX)
		return -1;
	p = realloc(c->rx, c->rx_len + len);
	if (p == NULL)
		return -1;
	c->rx = p;
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (last) {
		on_frame(c, (const char *)c->rx, c->rx_len);
		free(c->rx);
		c->rx = NULL;
		c->rx_len = 0;
	}
	return 0;
}

static void on_closed(struct conn *c)
{
	if (!c->established)
		return;
	while (c->oq_head != NULL) {
		struct out *o = c->oq_head;

		c->oq_head = o->next;
		free(o);
	}
	free(c->rx);
	if (c->side == SIDE_VISITOR) {
		wait_remove(c);
		c->established = false;
		chat_end(c, "timeout");
		g.visitors[c->no] = NULL;
		dispatch();
		return;
	}
	for (struct conn **p = &g.staff; *p != NULL; p = &(*p)->staff_next) {
		if (*p == c) {
			*p = c->staff_next;
			break;
		}
	}
	c->available = false;
	withdraw(c, false);
	for (unsigned i = 1; i < g.n_visitors; i++) {
		struct conn *v = g.visitors[i];

		if (v != NULL && v->staff == c) {
			v->staff = NULL;
			send_json(v, json_pack("{s:s, s:s}", "type", "ended", "by", "staff"));
		}
	}
}

static int on_established(struct conn *c, struct lws *wsi, enum side side)
{
	memset(c, 0, sizeof *c);
	c->wsi = wsi;
	c->side = side;
	c->established = true;
	if (side == SIDE_STAFF) {
		c->staff_next = g.staff;
		g.staff = c;
		return 0;
	}
	if (g.n_visitors == g.cap_visitors) {
		unsigned cap = g.cap_visitors ? g.cap_visitors * 2 : 4096;
		struct conn **v = realloc(g.visitors, cap * sizeof *v);

		if (v == NULL)
			return -1;
		g.visitors = v;
		g.cap_visitors = cap;
	}
	if (g.n_visitors == 0)
		g.visitors[g.n_visitors++] = NULL;  /* numbers start at 1 */
	c->no = g.n_visitors;
	g.visitors[g.n_visitors++] = c;
	return 0;
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len,
		       enum side side)
{
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		return on_established(c, wsi, side);
	case LWS_CALLBACK_RECEIVE:
		return on_receive(c, wsi, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->established ? on_writable(c) : 0;
	case LWS_CALLBACK_CLOSED:
		on_closed(c);
		break;
	default:
		break;
	}
	return 0;
}

static int callback_visitor(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	return callback_ws(wsi, reason, user, in, len, SIDE_VISITOR);
}

static int callback_staff(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	return callback_ws(wsi, reason, user, in, len, SIDE_STAFF);
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS) {
		SSL_CTX *ssl = user;

		SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
		SSL_CTX_set_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CLEANSE_PLAINTEXT);
		if (SSL_CTX_set1_groups_list(ssl, TLS_GROUPS) != 1)
			fprintf(stderr, "echo-server: could not set the TLS groups\n");
		return 0;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{ .name = "http", .callback = callback_http },
	{ .name = "brug-visitor.v1", .callback = callback_visitor, .per_session_data_size = sizeof(struct conn),
	  .rx_buffer_size = 4096, .tx_packet_size = 16384 },
	{ .name = "brug-staff.v1", .callback = callback_staff, .per_session_data_size = sizeof(struct conn),
	  .rx_buffer_size = 4096, .tx_packet_size = 16384 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* As brugd: no lws keepalive (it walks one sorted timer list per re-arm). */
static const lws_retry_bo_t keepalive_off = { .secs_since_valid_ping = 0, .secs_since_valid_hangup = 0 };

static void on_signal(int sig)
{
	(void)sig;
	g.stop = 1;
	if (g.ctx != NULL)
		lws_cancel_service(g.ctx);
}

static void stop_check(lws_sorted_usec_list_t *sul)
{
	if (g.stop)
		lws_context_destroy(g.ctx);
	else
		lws_sul_schedule(g.ctx, 0, sul, stop_check, 200 * LWS_US_PER_MS);
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	lws_sorted_usec_list_t stop_sul;
	struct rlimit rl;
	struct sigaction sa;
	struct lws_vhost *vh;

	if (argc != 4) {
		fprintf(stderr, "usage: echo-server PORT CERT KEY   (PORT 0: a free one, printed)\n");
		return 2;
	}
	/* lws sizes its fd table from the limit at context creation. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.port = atoi(argv[1]);
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_VALIDATE_UTF8 |
		       LWS_SERVER_OPTION_LIBEV;
	info.ssl_cert_filepath = argv[2];
	info.ssl_private_key_filepath = argv[3];
	info.ssl_cipher_list = TLS12_CIPHERS;
	info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_CIPHER_SERVER_PREFERENCE;
	info.alpn = "http/1.1";
	info.vhost_name = "localhost";
	info.timeout_secs = 15;
	info.retry_and_idle_policy = &keepalive_off;
	info.pt_serv_buf_size = 16384;
	g.ctx = lws_create_context(&info);
	if (g.ctx == NULL) {
		fprintf(stderr, "echo-server: could not create the context\n");
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	vh = lws_get_vhost_by_name(g.ctx, "localhost");
	printf("listening on port %d\n", vh != NULL ? lws_get_vhost_listen_port(vh) : info.port);
	fflush(stdout);
	memset(&stop_sul, 0, sizeof stop_sul);
	lws_sul_schedule(g.ctx, 0, &stop_sul, stop_check, 200 * LWS_US_PER_MS);
	while (lws_service(g.ctx, 0) >= 0 && !g.stop)
		;
	lws_context_destroy(g.ctx);
	free(g.visitors);
	return 0;
}
