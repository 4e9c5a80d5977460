/* Plain HTTP on the lws edge: the security headers and CSPs, the handshake
 * checks (Origin, path, subprotocol), short answers and the JSON documents. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "api.h"
#include "cluster.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "server.h"
#include "server_private.h"
#include "util/log.h"
#include "util/secmem.h"


/* ---- handshake checks ---- */

/* Copy header tok into buf; -1 if absent or too long. */
int server_header(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t size)
{
	int len = lws_hdr_total_length(wsi, tok);

	if (len <= 0 || (size_t)len >= size)
		return -1;
	return lws_hdr_copy(wsi, buf, (int)size, tok) < 0 ? -1 : len;
}

/* The path of a GET or HEAD request into buf; -1 if neither (or too long).
 * *head says which. */
int server_request_path(struct lws *wsi, char *buf, size_t size, bool *head)
{
	int n = server_header(wsi, WSI_TOKEN_GET_URI, buf, size);

	*head = false;
	if (n < 0 && (n = server_header(wsi, WSI_TOKEN_HEAD_URI, buf, size)) >= 0)
		*head = true;
	return n;
}

/* The staff pages may not be framed by anyone; the rest (the widget) by
 * [server] frame_ancestors. A path we could not read (NULL) gets the
 * stricter rules. */
bool server_is_staff_page(const char *path)
{
	return path == NULL || strcmp(path, "/staff") == 0 || strncmp(path, "/staff/", 7) == 0;
}

const char *server_csp_for(const char *path)
{
	return server_is_staff_page(path) ? server_g.csp_staff : server_g.csp;
}

int server_add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
					   (int)strlen(value), p, end);
}

/* An answer of our own with a short text (404, 503): the vhost's security
 * headers, our CSP, no-store, and Retry-After on a 503. One write, headers
 * and body together, as lws_return_http_status() does; no body for HEAD.
 * 0, or -1 if it could not be written. */
int server_http_short(struct lws *wsi, unsigned status, const char *path, bool head)
{
	unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
	const char *body = status == HTTP_STATUS_NOT_FOUND ? "Not found.\n" : "Busy, please try again later.\n";
	size_t len = strlen(body);

	if (lws_add_http_common_headers(wsi, status, "text/plain; charset=utf-8", len, &p, end) ||
	    server_add_header(wsi, "cache-control:", "no-store", &p, end) ||
	    server_add_header(wsi, "content-security-policy:", server_csp_for(path), &p, end) ||
	    (server_is_staff_page(path) && server_add_header(wsi, "x-frame-options:", "DENY", &p, end)) ||
	    (status == HTTP_STATUS_SERVICE_UNAVAILABLE && server_add_header(wsi, "retry-after:", RETRY_AFTER_S, &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (!head) {
		if ((size_t)(end - p) < len)
			return -1;
		memcpy(p, body, len);
		p += len;
	}
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
		return -1;
	return 0;
}

static bool origin_allowed(const char *origin, bool visitor)
{
	if (strcmp(origin, server_g.own_origin) == 0)
		return true;
	if (!visitor)
		return false;
	for (unsigned i = 0; i < server_g.cfg->n_origins; i++)
		if (strcmp(origin, server_g.cfg->origins[i]) == 0)
			return true;
	return false;
}

/* Protocol "Transport": the path decides the subprotocol, which must be
 * named exactly, and the Origin must be our own (or a partner's, for the
 * visitor socket). Anything else is refused with 403 before the upgrade. */
bool server_upgrade_allowed(struct lws *wsi, bool *visitor_out)
{
	char path[64], proto[64], origin[300];
	bool visitor;

	if (server_header(wsi, WSI_TOKEN_GET_URI, path, sizeof path) < 0)
		return false;
	if (strcmp(path, VISITOR_PATH) == 0)
		visitor = true;
	else if (strcmp(path, STAFF_PATH) == 0)
		visitor = false;
	else
		return false;
	if (server_header(wsi, WSI_TOKEN_PROTOCOL, proto, sizeof proto) < 0 ||
	    strcmp(proto, visitor ? VISITOR_PROTOCOL : STAFF_PROTOCOL) != 0)
		return false;
	if (server_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin) < 0 || !origin_allowed(origin, visitor))
		return false;
	*visitor_out = visitor;
	return true;
}

/* ---- JSON documents (/i18n, /api) ---- */

bool server_is_document_path(const char *path)
{
	return strncmp(path, "/i18n/", 6) == 0 || strncmp(path, "/api/", 5) == 0;
}

/* Headers now, body on the next WRITEABLE (lws writes once per callback). */
/* HEAD gets the same headers as GET (Content-Length included), no body. */
int server_http_document(struct lws *wsi, struct http_pss *hp, const char *path, bool head)
{
	unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
	const char *body, *type;
	size_t len;
	int status;

	status = api_get(server_g.api, path, &body, &len, &type);
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
			idx = config_lang_index(server_g.cfg, lang);
		}
		if (idx >= 0 && (hp->owned = hub_status_json(server_g.hub, idx)) != NULL) {
			status = 200;
			body = hp->owned;
			len = strlen(body);
		}
	} else if (strcmp(path, "/api/health") == 0) {
		/* For the load balancer (docs/operations.md): 503 while a
		 * cluster node has no link to NATS. */
		int st;
		if ((hp->owned = cluster_health_json(server_g.cluster, server_g.cfg, &st)) != NULL) {
			status = st;
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
			hp->owned = hub_ical_feed(server_g.hub, token);
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
	    server_add_header(wsi, "cache-control:", "no-store", &p, end) ||
	    server_add_header(wsi, "content-security-policy:", server_g.csp, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	if (head) {
		free(hp->owned);
		hp->owned = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	hp->body = body;
	hp->len = len;
	lws_callback_on_writable(wsi);
	return 0;
}

int server_http_document_body(struct lws *wsi, struct http_pss *hp)
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

/* ---- reload (SIGHUP) ---- */

/* A CSP (into csp, sizeof g.csp bytes) naming our own origin and who may
 * frame the page: the widget's configured ancestors, or 'none' for the
 * staff pages. */
int server_make_csp(char *csp, const char *frame_ancestors)
{
	if (snprintf(csp, sizeof server_g.csp,
		     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
		     "font-src 'self'; connect-src 'self' wss://%s; base-uri 'none'; form-action 'none'; "
		     "frame-ancestors %s", server_g.own_origin + strlen("https://"), frame_ancestors) >=
	    (int)sizeof server_g.csp) {
		log_err("frame_ancestors is too long");
		return -1;
	}
	return 0;
}

/* ---- set-up ---- */

static const struct lws_protocol_vhost_options mime_webmanifest = {
	NULL, NULL, ".webmanifest", "application/manifest+json" };
static const struct lws_protocol_vhost_options mime_mjs = { &mime_webmanifest, NULL, ".mjs", "text/javascript" };
const struct lws_protocol_vhost_options server_mime_map = { &mime_mjs, NULL, ".map", "application/json" };

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
/* Without includeSubDomains on purpose (docs/operations.md, "Certificates"):
 * it would add nothing on a host of its own, and on a helpline's main
 * domain it would lock its other, plain-HTTP hosts away for a year. */
const struct lws_protocol_vhost_options server_hdr_hsts = {
	&hdr_referrer, NULL, "strict-transport-security:", "max-age=31536000" };
