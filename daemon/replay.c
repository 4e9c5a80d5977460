/* Transcripts paced to a socket's outbound queue: a chat's kept messages go
 * out as the queue has room, in `seq` order with the live ones. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

json_t *replay_msg_json(const struct router_chat *chat, const struct chat_msg *m, bool for_staff)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "type", "msg",
			      "from", m->from_visitor ? "visitor" : "staff", "text", m->text,
			      "ts", (json_int_t)m->ts_ms, "seq", (json_int_t)m->seq);

	if (j == NULL)
		return NULL;
	if (!m->from_visitor)
		json_object_set_new(j, "alias", json_string(m->alias ? m->alias : ""));
	if (for_staff)
		json_object_set_new(j, "chat", hub_id_json(chat->id));
	return j;
}

static struct replay *replay_find(struct hub_conn *c, uint64_t chat_id)
{
	struct list *it;

	list_for_each(it, &c->replays) {
		struct replay *r = list_entry(it, struct replay, link);
		if (r->chat_id == chat_id)
			return r;
	}
	return NULL;
}

static void replay_free(struct replay *r)
{
	list_remove(&r->link);
	secmem_free(r, sizeof *r);
}

void replay_free_all(struct hub_conn *c)
{
	while (!list_empty(&c->replays))
		replay_free(list_entry(c->replays.next, struct replay, link));
	list_remove(&c->replay_link);
}

/* Whether a frame of len bytes may go out to c now (see struct replay). */
static bool conn_has_room(const struct hub_conn *c, size_t len)
{
	return c->ops->room == NULL || c->ops->room(c->edge, len);
}

/* Whether c is (still) in chat: a staff member who handed it on, or a
 * visitor who ended it, gets nothing more of it. */
static bool replay_member(const struct hub_conn *c, const struct router_chat *chat)
{
	if (c->side == PROTO_SIDE_STAFF)
		return c->rs != NULL && router_chat_has_staff(chat, c->rs);
	return c->vs != NULL && c->vs->rv != NULL && c->vs->rv->chat == chat;
}

/* Send as much of c's transcripts as its queue has room for, one chat
 * after the other; a finished one is dropped, and so is one whose chat
 * has ended (its `ended` went out already) or that c has left. */
void replay_pump(struct hub_conn *c)
{
	struct hub *h = c->hub;

	while (!list_empty(&c->replays)) {
		struct replay *r = list_entry(c->replays.next, struct replay, link);
		struct router_chat *chat = c->dead ? NULL : router_chat_find(h->router, r->chat_id);
		struct chat_msg *m;
		bool blocked = false;

		if (chat != NULL && replay_member(c, chat)) {
			chat_log_for_each_since(m, &chat->log, r->sent_seq) {
				struct frame *f = proto_frame_take(replay_msg_json(chat, m, r->for_staff),
								   m->seq == r->echo_seq ? r->echo_id : NULL);
				/* No memory is like no room: try again later. */
				if (f == NULL || !conn_has_room(c, f->len)) {
					frame_unref(f);
					blocked = true;
					break;
				}
				hub_send_frame(c, f);
				frame_unref(f);
				r->sent_seq = m->seq;
			}
		}
		if (blocked)
			return;
		replay_free(r);
	}
	list_remove(&c->replay_link);
}

/* Send the chat's kept messages with seq > after to a visitor or staff
 * conn: what fits now, the rest as its queue drains (struct replay). */
void replay_send_transcript(struct hub_conn *c, const struct router_chat *chat, uint64_t after, bool for_staff)
{
	struct replay *r;

	if (c == NULL || c->dead)
		return;
	if (replay_find(c, chat->id) != NULL)
		return;   /* one under way already sends every message still to come */
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return;
	r->chat_id = chat->id;
	r->sent_seq = after > UINT32_MAX ? UINT32_MAX : (uint32_t)after;
	r->for_staff = for_staff;
	list_add_tail(&c->replays, &r->link);
	if (!list_linked(&c->replay_link))
		list_add_tail(&c->hub->replaying, &c->replay_link);
	replay_pump(c);
}

/* A new message m of chat for c: true if a transcript of chat is still
 * going out to c, which then sends m in its turn (with the request id if
 * c sent it; an earlier message of c's still waiting then goes without). */
bool replay_takes(struct hub_conn *c, const struct router_chat *chat, const struct chat_msg *m,
			 const char *id)
{
	struct replay *r = c != NULL ? replay_find(c, chat->id) : NULL;

	if (r == NULL)
		return false;
	if (id != NULL && id[0] != '\0') {
		r->echo_seq = m->seq;
		snprintf(r->echo_id, sizeof r->echo_id, "%s", id);
	}
	replay_pump(c);
	return true;
}
