/* What a logged-in staff member does with chats: availability, offers,
 * messages and typing, transfer, invite and end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocklist.h"
#include "cluster.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "hub_internal.h"
#include "hub_private.h"
#include "i18n.h"
#include "proto.h"
#include "router.h"
#include "staff.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"

int staff_chat_on_status(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	/* End-of-shift quiet applies from the first moment of availability,
	 * with the roster as it is now (the read is cached between changes). */
	coord_refresh_on_shift(c->hub, now);
	coord_apply_shift_quiet(c->hub);
	router_staff_set_available(c->hub->router, c->rs, in->available, now);
	hub_send_json(c, json_pack("{s:s, s:b}", "type", "status", "available", c->rs->available), in->id);
	c->hub->colleagues_dirty = true;
	return 0;
}

int staff_chat_on_accept(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	return router_offer_accept(c->hub->router, c->rs, in->offer, now);
}

int staff_chat_on_decline(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	return router_offer_decline(c->hub->router, c->rs, in->offer, now);
}

/* The chat a staff message names, checked for membership. */
static int staff_chat(struct hub_conn *c, uint64_t id, struct router_chat **out)
{
	struct router_chat *chat = router_chat_find(c->hub->router, id);

	if (chat == NULL)
		return BRUG_E_NOT_FOUND;
	if (!router_chat_has_staff(chat, c->rs))
		return BRUG_E_FORBIDDEN;
	*out = chat;
	return 0;
}

int staff_chat_on_msg(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_chat *chat;
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = staff_chat(c, in->chat, &chat);
	if (rc != 0)
		return rc;
	rc = hub_staff_chat_rate(c, chat->id, false, now);
	if (rc != 0)
		return rc;
	rc = hub_take_text(c->hub, in, &text, &len);
	if (rc != 0)
		return rc;
	rc = hub_relay_msg(c->hub, chat, c->rs, text, len, c, in->id);
	secmem_free(text, len);
	return rc;
}

int staff_chat_on_typing(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_chat *chat;
	int rc = staff_chat(c, in->chat, &chat);

	if (rc == 0)
		rc = hub_staff_chat_rate(c, chat->id, true, now);
	if (rc != 0)
		return rc;
	hub_send_json(hub_visitor_conn(chat->visitor), json_pack("{s:s, s:b}", "type", "typing", "on", in->on), NULL);
	for (unsigned i = 0; i < chat->n_staff; i++)
		if (chat->staff[i] != c->rs)
			hub_send_json(hub_staff_conn(chat->staff[i]), json_pack("{s:s, s:o, s:s, s:s, s:b}", "type",
				  "typing", "chat", hub_id_json(chat->id), "from", "staff", "alias", c->rs->alias,
				  "on", in->on), NULL);
	return 0;
}

static int target_of(const struct proto_in *in, struct router_target *t)
{
	memset(t, 0, sizeof *t);
	if (in->to_user != NULL) {
		t->user = in->to_user;
		return 0;
	}
	t->roles = brug_role_parse(in->to_role);
	return t->roles != 0 ? 0 : BRUG_E_BAD_FIELD;
}

/* A colleague asked for by name must have a console open right now (one
 * in its reconnect grace cannot answer an offer). */
static bool named_colleague_online(struct hub *h, const char *name)
{
	struct list *it;

	list_for_each(it, &h->staff_conns) {
		struct hub_conn *o = list_entry(it, struct hub_conn, link);
		if (!o->dead && o->rs != NULL &&
		    (strcmp(o->rs->username, name) == 0 || strcmp(o->rs->alias, name) == 0))
			return true;
	}
	return false;
}

/* The answer when the named colleague is not online: the same as the
 * router's for the chat itself first (no such chat, not yours), else
 * not_found for the person. */
static int offline_target_error(struct hub_conn *c, uint64_t chat_id)
{
	struct router_chat *chat;
	int rc = staff_chat(c, chat_id, &chat);

	return rc != 0 ? rc : BRUG_E_NOT_FOUND;
}

int staff_chat_on_transfer(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_target t;
	int rc = target_of(in, &t);

	if (rc == 0 && t.user != NULL && !named_colleague_online(c->hub, t.user))
		rc = offline_target_error(c, in->chat);
	return rc != 0 ? rc : router_transfer(c->hub->router, c->rs, in->chat, &t, now);
}

int staff_chat_on_invite(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct router_target t;
	int rc = target_of(in, &t);

	if (rc == 0 && t.user != NULL && !named_colleague_online(c->hub, t.user))
		rc = offline_target_error(c, in->chat);
	return rc != 0 ? rc : router_invite(c->hub->router, c->rs, in->chat, &t, now);
}

int staff_chat_on_end(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	for (unsigned i = 0; i < in->n_tags; i++)
		if (config_topic_index(c->hub->cfg, in->tags[i]) < 0)
			return BRUG_E_BAD_FIELD;
	/* Tags feed only the anonymous aggregate statistics (ev_ended). */
	int rc;

	c->hub->end_tags = in->tags;
	c->hub->n_end_tags = in->n_tags;
	rc = router_chat_end(c->hub->router, c->rs, in->chat, now);
	c->hub->end_tags = NULL;
	c->hub->n_end_tags = 0;
	return rc;
}

/* {"type":"block","chat":CHAT}: a member in the chat ends it because its
 * visitor abuses the line, and that visitor's client source (the edge's
 * keyed hash of its address, never the address) gets no new visitor
 * socket for [chat] block_hours (docs/privacy.md). Everyone in the chat
 * sees it end as after a staff `end`; the member also gets `blocked`. */
int staff_chat_on_block(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	struct router_chat *chat;
	struct vsession *vs;
	const char *key = NULL;
	bool kept = false;
	int rc = staff_chat(c, in->chat, &chat);

	if (rc != 0)
		return rc;
	vs = chat->visitor != NULL ? chat->visitor->owner : NULL;
	if (vs != NULL)
		key = vs->src != NULL ? vs->src->key : vs->conn != NULL ? vs->conn->src_key : NULL;
	if (key != NULL && key[0] != '\0') {
		if (blocklist_add(h->blocks, key, now + (uint64_t)h->cfg->block_hours * 3600000) != 0)
			return BRUG_E_INTERNAL;
		kept = true;
	}
	rc = router_chat_end(h->router, c->rs, in->chat, now);
	if (rc != 0)
		return rc;
	log_notice("c%llu ended a chat and blocked its visitor%s (%u blocks)", (unsigned long long)c->no,
		   kept ? "" : " (source unknown: nothing kept)", blocklist_count(h->blocks));
	hub_send_json(c, json_pack("{s:s, s:o}", "type", "blocked", "chat", hub_id_json(in->chat)), in->id);
	return 0;
}

bool staff_chat_route_remote(struct hub_conn *c, const struct proto_in *in, const char *buf, size_t len)
{
	struct hub *h = c->hub;
	uint64_t id;

	if (h->cluster == NULL || c->side != PROTO_SIDE_STAFF || c->rs == NULL || c->ops != &h->ops)
		return false;
	switch (in->type) {
	case PROTO_ACCEPT:
	case PROTO_DECLINE: {
		struct list *it;
		list_for_each(it, &c->rs->offers)
			if (list_entry(it, struct router_offer, staff_link)->id == in->offer)
				return false;
		id = in->offer;
		/* Another owner's offer, made before it heard of this member's
		 * newest chats: the home counts them all (docs/cluster.md,
		 * section 3) and turns the accept into a decline. */
		if (in->type == PROTO_ACCEPT && c->rs->open_chats + c->rs->elsewhere >= c->rs->max_chats) {
			char decline[96];
			int n = snprintf(decline, sizeof decline, "{\"type\":\"decline\",\"offer\":\"%llu\"}",
					 (unsigned long long)id);
			if (cluster_staff_route(h->cluster, c->username, id, decline, (size_t)n))
				hub_reply_error(c, BRUG_E_CONFLICT, in->id, h->now_ms);
			else
				hub_reply_error(c, BRUG_E_NOT_FOUND, in->id, h->now_ms);
			return true;
		}
		break;
	}
	case PROTO_MSG:
	case PROTO_TYPING:
	case PROTO_TRANSFER:
	case PROTO_INVITE:
	case PROTO_END:
		if (router_chat_find(h->router, in->chat) != NULL)
			return false;
		id = in->chat;
		break;
	default:
		return false;
	}
	return cluster_staff_route(h->cluster, c->username, id, buf, len);
}
