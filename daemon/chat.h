/* A chat's in-memory transcript: the messages of one conversation, numbered
 * from 1, held only in memory and wiped when the chat ends (promise 2). */
#ifndef BRUG_CHAT_H
#define BRUG_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/list.h"

/* Oldest messages are dropped (and wiped) past either cap, so a long chat
 * cannot grow without bound; the chat goes on, and a resumed or newly
 * joined client sees its first `seq` above 1 (docs/protocol.md, 4.3). */
#define CHAT_LOG_MAX_MSGS 1000
#define CHAT_LOG_MAX_BYTES (1024 * 1024)
/* Longest message text in bytes of UTF-8 (after intake), whatever
 * max_text_graphemes allows: longer is refused as too_long. Keeps every
 * message frame within a socket's outbound queue (hub_private.h). */
#define CHAT_MSG_MAX_BYTES (64 * 1024)

struct chat_msg {
	struct list link;     /* in chat_log.msgs, oldest first */
	uint32_t seq;         /* 1, 2, ... per chat (protocol "seq") */
	uint64_t ts_ms;       /* wall-clock milliseconds (protocol "ts") */
	bool from_visitor;    /* else from a staff member */
	char *alias;          /* staff alias, NULL for the visitor; owned */
	char *text;           /* normalized UTF-8 text, NUL-terminated; owned, wiped */
	size_t text_len;
};

struct chat_log {
	struct list msgs;     /* struct chat_msg, oldest first */
	uint32_t next_seq;    /* seq of the next message */
	unsigned count;
	size_t bytes;         /* sum of text_len + alias length */
};

/* Prepare an empty log. */
void chat_log_init(struct chat_log *log);
/* Append a copy of text (len bytes, valid UTF-8) and of alias (may be NULL
 * for the visitor). Returns the new message, owned by the log, or NULL on
 * no memory (the log is unchanged). Drops the oldest messages past the caps. */
const struct chat_msg *chat_log_append(struct chat_log *log, bool from_visitor, const char *alias,
				       const char *text, size_t len, uint64_t ts_ms);
/* Wipe every message's text and alias and free them; the log is empty
 * and may be reused. */
void chat_log_wipe(struct chat_log *log);

/* Iterate the messages with seq > after_seq, oldest first. */
#define chat_log_for_each_since(m, log, after_seq)                                   \
	for (struct list *m##_it_ = (log)->msgs.next; m##_it_ != &(log)->msgs;      \
	     m##_it_ = m##_it_->next)                                                 \
		if (((m) = list_entry(m##_it_, struct chat_msg, link))->seq > (after_seq))

#endif
