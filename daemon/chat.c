/* A chat's in-memory transcript: append, iterate, drop the oldest past the
 * caps, and wipe everything when the chat ends (design promise 2). */
#include <stdlib.h>
#include <string.h>
#include "chat.h"
#include "util/secmem.h"

/* Bytes a message counts against CHAT_LOG_MAX_BYTES. */
static size_t msg_size(const struct chat_msg *m)
{
	return m->text_len + (m->alias != NULL ? strlen(m->alias) : 0);
}

/* Wipe and free one message that is no longer linked. */
static void msg_free(struct chat_msg *m)
{
	if (m == NULL)
		return;
	if (m->text != NULL)
		secmem_free(m->text, m->text_len + 1);
	secmem_free_str(m->alias);
	secmem_free(m, sizeof *m);
}

static void drop_oldest(struct chat_log *log)
{
	struct chat_msg *m = list_entry(log->msgs.next, struct chat_msg, link);

	list_remove(&m->link);
	log->count--;
	log->bytes -= msg_size(m);
	msg_free(m);
}

void chat_log_init(struct chat_log *log)
{
	list_init(&log->msgs);
	log->next_seq = 1;
	log->count = 0;
	log->bytes = 0;
}

const struct chat_msg *chat_log_append(struct chat_log *log, bool from_visitor, const char *alias,
				       const char *text, size_t len, uint64_t ts_ms)
{
	struct chat_msg *m;

	if (log == NULL || (text == NULL && len > 0))
		return NULL;
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->text = secmem_strndup(text != NULL ? text : "", len);
	if (m->text == NULL)
		goto fail_msg;
	if (alias != NULL) {
		m->alias = secmem_strdup(alias);
		if (m->alias == NULL)
			goto fail_text;
	}
	m->text_len = len;
	m->from_visitor = from_visitor;
	m->ts_ms = ts_ms;
	m->seq = log->next_seq++;
	list_add_tail(&log->msgs, &m->link);
	log->count++;
	log->bytes += msg_size(m);

	/* The newest message always stays, even if it alone is over the byte
	 * cap, so the caller's pointer to it is valid. */
	while (log->count > 1 && (log->count > CHAT_LOG_MAX_MSGS || log->bytes > CHAT_LOG_MAX_BYTES))
		drop_oldest(log);
	return m;

fail_text:
	secmem_free(m->text, len + 1);
fail_msg:
	free(m);
	return NULL;
}

void chat_log_wipe(struct chat_log *log)
{
	if (log == NULL)
		return;
	while (!list_empty(&log->msgs))
		drop_oldest(log);
	chat_log_init(log);
}
