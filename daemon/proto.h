/* The wire protocol (docs/protocol.md): decoding and validating one inbound
 * JSON frame with jansson, and turning outbound JSON into reference-counted
 * frames ready for the socket. No sockets and no state here. */
#ifndef BRUG_PROTO_H
#define BRUG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Which socket a frame arrived on; each has its own set of types. */
enum proto_side {
	PROTO_SIDE_VISITOR,
	PROTO_SIDE_STAFF,
};

/* Inbound message types (protocol doc, "Visitor socket" and "Staff socket"). */
enum proto_type {
	PROTO_HELLO,    /* visitor */
	PROTO_MSG,      /* both */
	PROTO_TYPING,   /* both */
	PROTO_END,      /* both */
	PROTO_LOGIN,    /* staff */
	PROTO_STATUS,   /* staff */
	PROTO_ACCEPT,   /* staff */
	PROTO_DECLINE,  /* staff */
	PROTO_TRANSFER, /* staff */
	PROTO_INVITE,   /* staff */
	PROTO_LOGOUT,   /* staff */
	/* Staff extensions whose fields the handler reads and checks itself
	 * from `root` (daemon/coord.h): accounts, roster, statistics,
	 * handover notes. Only the id and type are checked here. */
	PROTO_STAFF_LIST,      /* coordinator */
	PROTO_STAFF_CREATE,    /* coordinator */
	PROTO_STAFF_UPDATE,    /* coordinator */
	PROTO_STAFF_RESET,     /* coordinator: one-time password code */
	PROTO_TOTP_RESET,      /* coordinator: new second-factor secret */
	PROTO_AUDIT_LIST,      /* coordinator */
	PROTO_ROSTER_GET,      /* coordinator */
	PROTO_PATTERN_ADD,     /* coordinator */
	PROTO_PATTERN_UPDATE,  /* coordinator */
	PROTO_PATTERN_DELETE,  /* coordinator */
	PROTO_EXCEPTION_ADD,   /* coordinator */
	PROTO_EXCEPTION_DELETE,/* coordinator */
	PROTO_CLOSURE_ADD,     /* coordinator */
	PROTO_CLOSURE_DELETE,  /* coordinator */
	PROTO_STATS_GET,       /* coordinator */
	PROTO_STATS_CSV,       /* coordinator */
	PROTO_MY_SHIFTS,       /* any staff */
	PROTO_HANDOVER_SET,    /* any staff */
	PROTO_ICAL_FEED,       /* any staff: a new iCalendar feed URL */
	PROTO_BLOCK,           /* staff in the chat: end it and block its visitor's source */
	PROTO__COUNT
};

#define PROTO_ID_MAX 64      /* client `id`: at most 64 characters */
#define PROTO_MAX_TAGS 8     /* `end.tags` */

/*
 * A decoded, validated inbound message. String pointers are borrowed from
 * `root`, which the struct owns: release with proto_in_fini(). Fields that
 * do not belong to `type` are zero/NULL.
 */
struct proto_in {
	enum proto_type type;
	char id[PROTO_ID_MAX + 1];  /* "" when the client gave none */
	json_t *root;               /* owned */

	/* hello; login (extension: the console's language) */
	const char *lang;           /* NULL if absent */
	const char *topic;          /* NULL if absent */
	const char *resume;         /* NULL if absent */
	int64_t last_seq;           /* extension: last seq the client saw, 0 if absent */
	/* msg (text also for nothing else) */
	const char *text;
	size_t text_len;            /* bytes */
	/* typing */
	bool on;
	/* end (visitor) */
	bool quick_exit;
	/* staff: chat, offer ids are decimal strings on the wire */
	uint64_t chat;              /* msg, typing, transfer, invite, end */
	uint64_t offer;             /* accept, decline */
	/* login (reset_code: extension, sets `password` as the new one) */
	const char *user, *password, *totp, *token, *reset_code;
	/* status */
	bool available;
	/* transfer, invite: exactly one of to_user / to_role is set */
	const char *to_user;
	const char *to_role;
	/* end (staff) */
	const char *tags[PROTO_MAX_TAGS];
	unsigned n_tags;
};

/*
 * Decode one text frame of len bytes (need not be NUL-terminated) that
 * arrived on `side`. On success returns 0 and fills *out (caller calls
 * proto_in_fini). On failure returns a BRUG_E_* code, copies the client's
 * `id` into out->id when it could be read (so the error can carry it),
 * and leaves nothing to free (proto_in_fini is still safe to call):
 *   BRUG_E_BAD_JSON   not valid JSON, duplicate keys, or not an object
 *   BRUG_E_BAD_TYPE   `type` missing, not a string, or unknown on both sockets
 *   BRUG_E_FORBIDDEN  a type that belongs to the other socket
 *   BRUG_E_BAD_FIELD  a field missing, of the wrong JSON type, an unknown
 *                     field, an `id` over 64 chars, a malformed chat/offer id
 */
int proto_decode(const char *buf, size_t len, enum proto_side side, struct proto_in *out);
/* Release what proto_decode filled in. Safe on a zeroed or failed struct. */
void proto_in_fini(struct proto_in *in);
/* Name of a type ("hello", ...). Static storage. */
const char *proto_type_name(enum proto_type t);

/* Bytes reserved in front of every frame's payload for the WebSocket
 * header; server.c checks that it covers LWS_PRE. */
#define FRAME_PRE 16

/* An outbound frame: serialized once, shared by every socket it goes to
 * (reference-counted), wiped when the last reference goes because it may
 * hold visitor text. */
struct frame {
	unsigned refs;
	size_t len;                      /* payload bytes at data + FRAME_PRE */
	unsigned char data[];
};

/* Serialize msg compactly into a new frame with one reference (caller
 * owns it). If id is non-empty it is added as "id". msg is borrowed.
 * NULL on no memory. */
struct frame *proto_frame(json_t *msg, const char *id);
/* Like proto_frame, then json_decref(msg) (takes ownership of msg). */
struct frame *proto_frame_take(json_t *msg, const char *id);
/* Take another reference. Returns f. */
struct frame *frame_ref(struct frame *f);
/* Drop a reference; the last one wipes and frees. Accepts NULL. */
void frame_unref(struct frame *f);

/* The error frame {"type":"error","code":...,"message":...,"id"?}.
 * message is borrowed (already localized). Caller owns the result. */
struct frame *proto_error_frame(int brug_error, const char *message, const char *id);

/* Whether every member of the object root is `type`, `id` or one of
 * allowed (a NULL-ended list): the strict check of the extension messages
 * whose handlers read their own fields. */
bool proto_only_fields(json_t *root, const char *const *allowed);

/* Format a chat or offer id for the wire into buf (at least 21 bytes). */
void proto_id_str(uint64_t id, char buf[21]);

#endif
