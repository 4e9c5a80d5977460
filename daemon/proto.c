/* The wire protocol's codec (docs/protocol.md): strict decoding and validation
 * of one inbound frame into struct proto_in, and serializing outbound JSON
 * once into a reference-counted frame that is wiped when it is freed. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "proto.h"
#include "secmem.h"

/* How a field's JSON value is checked and where its result goes. */
enum field_kind {
	FIELD_STRING, /* any string; stored as a borrowed const char * */
	FIELD_TEXT,   /* a string whose byte length also goes to text_len */
	FIELD_BOOL,   /* true or false; stored as bool */
	FIELD_SEQ,    /* an integer >= 0; stored as int64_t (hello.last_seq) */
	FIELD_ID,     /* a chat or offer id, a decimal string; stored as uint64_t */
	FIELD_TARGET, /* {"user":..} or {"role":..}; fills to_user or to_role */
	FIELD_TAGS,   /* an array of at most PROTO_MAX_TAGS strings; fills tags */
};

struct field {
	const char *name;   /* NULL ends a list */
	enum field_kind kind;
	bool required;
	size_t offset;      /* member of struct proto_in; unused for TARGET, TAGS */
};

#define FIELD(name, kind, required, member) \
	{ name, kind, required, offsetof(struct proto_in, member) }
#define FIELD_NONE(name, kind, required) { name, kind, required, 0 }
#define FIELDS_END { NULL, FIELD_STRING, false, 0 }

/* One row per (type, socket): a type that is valid on both sockets, such as
 * msg, has a row for each because its fields differ (protocol doc, "Visitor
 * socket" and "Staff socket"). */
struct type_entry {
	const char *name;
	enum proto_type type;
	enum proto_side side;
	const struct field *fields;
	int (*check)(const struct proto_in *in); /* rules across fields, or NULL */
};

/* Visitor: hello may carry a language, a topic, a resume token and, as our
 * extension, the last seq the client saw before it dropped. */
static const struct field hello_fields[] = {
	FIELD("lang", FIELD_STRING, false, lang),
	FIELD("topic", FIELD_STRING, false, topic),
	FIELD("resume", FIELD_STRING, false, resume),
	FIELD("last_seq", FIELD_SEQ, false, last_seq),
	FIELDS_END,
};
static const struct field visitor_msg_fields[] = {
	FIELD("text", FIELD_TEXT, true, text),
	FIELDS_END,
};
static const struct field visitor_typing_fields[] = {
	FIELD("on", FIELD_BOOL, true, on),
	FIELDS_END,
};
static const struct field visitor_end_fields[] = {
	FIELD("quick_exit", FIELD_BOOL, false, quick_exit),
	FIELDS_END,
};

/* Staff: login has two forms, told apart by check_login(); either may name
 * the console's language (extension) for the daemon's texts to it. */
static const struct field login_fields[] = {
	FIELD("lang", FIELD_STRING, false, lang),
	FIELD("user", FIELD_STRING, false, user),
	FIELD("password", FIELD_STRING, false, password),
	FIELD("totp", FIELD_STRING, false, totp),
	FIELD("token", FIELD_STRING, false, token),
	FIELD("reset_code", FIELD_STRING, false, reset_code),
	FIELDS_END,
};
static const struct field status_fields[] = {
	FIELD("available", FIELD_BOOL, true, available),
	FIELDS_END,
};
static const struct field offer_fields[] = {
	FIELD("offer", FIELD_ID, true, offer),
	FIELDS_END,
};
static const struct field staff_msg_fields[] = {
	FIELD("chat", FIELD_ID, true, chat),
	FIELD("text", FIELD_TEXT, true, text),
	FIELDS_END,
};
static const struct field staff_typing_fields[] = {
	FIELD("chat", FIELD_ID, true, chat),
	FIELD("on", FIELD_BOOL, true, on),
	FIELDS_END,
};
static const struct field target_fields[] = {
	FIELD("chat", FIELD_ID, true, chat),
	FIELD_NONE("to", FIELD_TARGET, true),
	FIELDS_END,
};
static const struct field staff_end_fields[] = {
	FIELD("chat", FIELD_ID, true, chat),
	FIELD_NONE("tags", FIELD_TAGS, false),
	FIELDS_END,
};
static const struct field block_fields[] = {
	FIELD("chat", FIELD_ID, true, chat),
	FIELDS_END,
};
static const struct field no_fields[] = {
	FIELDS_END,
};

/* A login is either user + password (+ totp) or a token alone; a mix of the
 * two forms is refused rather than guessed at (protocol doc, "Staff socket" 1). */
static int check_login(const struct proto_in *in)
{
	if (in->token != NULL) {
		if (in->user != NULL || in->password != NULL || in->totp != NULL || in->reset_code != NULL)
			return BRUG_E_BAD_FIELD;
		return 0;
	}
	if (in->user == NULL || in->password == NULL)
		return BRUG_E_BAD_FIELD;
	return 0;
}

static const struct type_entry types[] = {
	{ "hello", PROTO_HELLO, PROTO_SIDE_VISITOR, hello_fields, NULL },
	{ "msg", PROTO_MSG, PROTO_SIDE_VISITOR, visitor_msg_fields, NULL },
	{ "typing", PROTO_TYPING, PROTO_SIDE_VISITOR, visitor_typing_fields, NULL },
	{ "end", PROTO_END, PROTO_SIDE_VISITOR, visitor_end_fields, NULL },
	{ "login", PROTO_LOGIN, PROTO_SIDE_STAFF, login_fields, check_login },
	{ "status", PROTO_STATUS, PROTO_SIDE_STAFF, status_fields, NULL },
	{ "accept", PROTO_ACCEPT, PROTO_SIDE_STAFF, offer_fields, NULL },
	{ "decline", PROTO_DECLINE, PROTO_SIDE_STAFF, offer_fields, NULL },
	{ "msg", PROTO_MSG, PROTO_SIDE_STAFF, staff_msg_fields, NULL },
	{ "typing", PROTO_TYPING, PROTO_SIDE_STAFF, staff_typing_fields, NULL },
	{ "transfer", PROTO_TRANSFER, PROTO_SIDE_STAFF, target_fields, NULL },
	{ "invite", PROTO_INVITE, PROTO_SIDE_STAFF, target_fields, NULL },
	{ "end", PROTO_END, PROTO_SIDE_STAFF, staff_end_fields, NULL },
	{ "logout", PROTO_LOGOUT, PROTO_SIDE_STAFF, no_fields, NULL },
	/* fields NULL: the handler in daemon/coord_*.c checks them. */
	{ "staff_list", PROTO_STAFF_LIST, PROTO_SIDE_STAFF, NULL, NULL },
	{ "staff_create", PROTO_STAFF_CREATE, PROTO_SIDE_STAFF, NULL, NULL },
	{ "staff_update", PROTO_STAFF_UPDATE, PROTO_SIDE_STAFF, NULL, NULL },
	{ "staff_reset", PROTO_STAFF_RESET, PROTO_SIDE_STAFF, NULL, NULL },
	{ "totp_reset", PROTO_TOTP_RESET, PROTO_SIDE_STAFF, NULL, NULL },
	{ "audit_list", PROTO_AUDIT_LIST, PROTO_SIDE_STAFF, NULL, NULL },
	{ "roster_get", PROTO_ROSTER_GET, PROTO_SIDE_STAFF, NULL, NULL },
	{ "pattern_add", PROTO_PATTERN_ADD, PROTO_SIDE_STAFF, NULL, NULL },
	{ "pattern_update", PROTO_PATTERN_UPDATE, PROTO_SIDE_STAFF, NULL, NULL },
	{ "pattern_delete", PROTO_PATTERN_DELETE, PROTO_SIDE_STAFF, NULL, NULL },
	{ "exception_add", PROTO_EXCEPTION_ADD, PROTO_SIDE_STAFF, NULL, NULL },
	{ "exception_delete", PROTO_EXCEPTION_DELETE, PROTO_SIDE_STAFF, NULL, NULL },
	{ "closure_add", PROTO_CLOSURE_ADD, PROTO_SIDE_STAFF, NULL, NULL },
	{ "closure_delete", PROTO_CLOSURE_DELETE, PROTO_SIDE_STAFF, NULL, NULL },
	{ "stats_get", PROTO_STATS_GET, PROTO_SIDE_STAFF, NULL, NULL },
	{ "stats_csv", PROTO_STATS_CSV, PROTO_SIDE_STAFF, NULL, NULL },
	{ "my_shifts", PROTO_MY_SHIFTS, PROTO_SIDE_STAFF, NULL, NULL },
	{ "handover_set", PROTO_HANDOVER_SET, PROTO_SIDE_STAFF, NULL, NULL },
	{ "ical_feed", PROTO_ICAL_FEED, PROTO_SIDE_STAFF, no_fields, NULL },
	{ "block", PROTO_BLOCK, PROTO_SIDE_STAFF, block_fields, NULL },
};

static const char *const type_names[PROTO__COUNT] = {
	[PROTO_HELLO] = "hello",
	[PROTO_MSG] = "msg",
	[PROTO_TYPING] = "typing",
	[PROTO_END] = "end",
	[PROTO_LOGIN] = "login",
	[PROTO_STATUS] = "status",
	[PROTO_ACCEPT] = "accept",
	[PROTO_DECLINE] = "decline",
	[PROTO_TRANSFER] = "transfer",
	[PROTO_INVITE] = "invite",
	[PROTO_LOGOUT] = "logout",
	[PROTO_STAFF_LIST] = "staff_list",
	[PROTO_STAFF_CREATE] = "staff_create",
	[PROTO_STAFF_UPDATE] = "staff_update",
	[PROTO_STAFF_RESET] = "staff_reset",
	[PROTO_TOTP_RESET] = "totp_reset",
	[PROTO_AUDIT_LIST] = "audit_list",
	[PROTO_ROSTER_GET] = "roster_get",
	[PROTO_PATTERN_ADD] = "pattern_add",
	[PROTO_PATTERN_UPDATE] = "pattern_update",
	[PROTO_PATTERN_DELETE] = "pattern_delete",
	[PROTO_EXCEPTION_ADD] = "exception_add",
	[PROTO_EXCEPTION_DELETE] = "exception_delete",
	[PROTO_CLOSURE_ADD] = "closure_add",
	[PROTO_CLOSURE_DELETE] = "closure_delete",
	[PROTO_STATS_GET] = "stats_get",
	[PROTO_STATS_CSV] = "stats_csv",
	[PROTO_MY_SHIFTS] = "my_shifts",
	[PROTO_HANDOVER_SET] = "handover_set",
	[PROTO_ICAL_FEED] = "ical_feed",
};

const char *proto_type_name(enum proto_type t)
{
	if ((unsigned)t >= PROTO__COUNT)
		return "unknown";
	return type_names[t];
}

/*
 * jansson frees its strings, its parser's scratch buffers and our outbound
 * objects without clearing them, and those hold visitor text (design promise
 * 2). So its free function is replaced by one that wipes the whole block
 * first. Allocation stays plain malloc, which makes the switch safe at any
 * moment: a block allocated before it is still freed correctly after it.
 * The daemon is single-threaded, so a plain flag guards the one-time setup.
 */
static void wiping_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void use_wiping_allocator(void)
{
	static bool done;

	if (done)
		return;
	json_set_alloc_funcs(malloc, wiping_free);
	done = true;
}

/* Why json_loadb refused the buffer, as our code. A number too large for
 * jansson is well-formed JSON with a value out of range, so it is a field
 * error; everything else (syntax, invalid Unicode, duplicate keys, a
 * top level that is not an object or array) is bad_json. */
static int load_error(const json_error_t *jerr)
{
	switch (json_error_code(jerr)) {
	case json_error_out_of_memory:
		return -ENOMEM;
	case json_error_numeric_overflow:
		return BRUG_E_BAD_FIELD;
	default:
		return BRUG_E_BAD_JSON;
	}
}

/* Copy the client's `id` so that even a later refusal can echo it
 * (protocol doc, "Transport": every reply carries the same id). The buffer
 * holds PROTO_ID_MAX bytes, so the limit is applied to the UTF-8 bytes. */
static int read_client_id(const json_t *root, struct proto_in *out)
{
	const json_t *v = json_object_get(root, "id");
	size_t n;

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return BRUG_E_BAD_FIELD;
	n = json_string_length(v);
	if (n > PROTO_ID_MAX)
		return BRUG_E_BAD_FIELD;
	memcpy(out->id, json_string_value(v), n);
	out->id[n] = '\0';
	return 0;
}

/* Find the row for `type` on this socket. A type that exists only on the
 * other socket is forbidden rather than unknown (protocol doc, end of
 * "Staff socket": a visitor sending a staff type gets `forbidden`). */
static int find_type(const json_t *root, enum proto_side side, const struct type_entry **found)
{
	const json_t *v = json_object_get(root, "type");
	const char *name;
	bool elsewhere = false;

	if (!json_is_string(v))
		return BRUG_E_BAD_TYPE;
	name = json_string_value(v);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (strcmp(types[i].name, name) != 0)
			continue;
		if (types[i].side == side) {
			*found = &types[i];
			return 0;
		}
		elsewhere = true;
	}
	return elsewhere ? BRUG_E_FORBIDDEN : BRUG_E_BAD_TYPE;
}

/* A chat or offer id on the wire: the decimal form of 1..UINT64_MAX with no
 * sign, spaces or leading zeros, so each number has exactly one spelling. */
static bool parse_wire_id(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* transfer.to / invite.to: exactly one of {"user":..} or {"role":..}. */
static int read_target(const json_t *v, struct proto_in *out)
{
	const json_t *user, *role;

	if (!json_is_object(v) || json_object_size(v) != 1)
		return BRUG_E_BAD_FIELD;
	user = json_object_get(v, "user");
	role = json_object_get(v, "role");
	if (json_is_string(user))
		out->to_user = json_string_value(user);
	else if (json_is_string(role))
		out->to_role = json_string_value(role);
	else
		return BRUG_E_BAD_FIELD;
	return 0;
}

/* staff end.tags: only strings, and few of them; which tags exist is the
 * statistics module's business. */
static int read_tags(const json_t *v, struct proto_in *out)
{
	size_t i;
	const json_t *tag;

	if (!json_is_array(v) || json_array_size(v) > PROTO_MAX_TAGS)
		return BRUG_E_BAD_FIELD;
	json_array_foreach(v, i, tag) {
		if (!json_is_string(tag))
			return BRUG_E_BAD_FIELD;
		out->tags[i] = json_string_value(tag);
	}
	out->n_tags = (unsigned)json_array_size(v);
	return 0;
}

static int read_field(const struct field *f, const json_t *v, struct proto_in *out)
{
	void *dst = (char *)out + f->offset;

	switch (f->kind) {
	case FIELD_STRING:
	case FIELD_TEXT:
		if (!json_is_string(v))
			return BRUG_E_BAD_FIELD;
		*(const char **)dst = json_string_value(v);
		if (f->kind == FIELD_TEXT)
			out->text_len = json_string_length(v);
		return 0;
	case FIELD_BOOL:
		if (!json_is_boolean(v))
			return BRUG_E_BAD_FIELD;
		*(bool *)dst = json_is_true(v);
		return 0;
	case FIELD_SEQ:
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return BRUG_E_BAD_FIELD;
		*(int64_t *)dst = (int64_t)json_integer_value(v);
		return 0;
	case FIELD_ID:
		if (!json_is_string(v) ||
		    !parse_wire_id(json_string_value(v), json_string_length(v), (uint64_t *)dst))
			return BRUG_E_BAD_FIELD;
		return 0;
	case FIELD_TARGET:
		return read_target(v, out);
	case FIELD_TAGS:
		return read_tags(v, out);
	}
	return BRUG_E_BAD_FIELD;
}

static const struct field *find_field(const struct field *fields, const char *name)
{
	for (const struct field *f = fields; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* Every member must be known for the type (a typo must not be silently
 * ignored), every required one present, and each of the right JSON type. */
static int read_fields(json_t *root, const struct field *fields, struct proto_in *out)
{
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach(root, key, v) {
		if (strcmp(key, "type") == 0 || strcmp(key, "id") == 0)
			continue;
		if (find_field(fields, key) == NULL)
			return BRUG_E_BAD_FIELD;
	}
	for (const struct field *f = fields; f->name != NULL; f++) {
		v = json_object_get(root, f->name);
		if (v == NULL) {
			if (f->required)
				return BRUG_E_BAD_FIELD;
			continue;
		}
		rc = read_field(f, v, out);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int proto_decode(const char *buf, size_t len, enum proto_side side, struct proto_in *out)
{
	const struct type_entry *entry = NULL;
	char id[PROTO_ID_MAX + 1];
	json_error_t jerr;
	json_t *root;
	int rc;

	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	if (buf == NULL)
		return BRUG_E_BAD_JSON;
	use_wiping_allocator();

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		rc = load_error(&jerr);
		/* The error text quotes the input near the fault. */
		secmem_wipe(&jerr, sizeof jerr);
		return rc;
	}
	secmem_wipe(&jerr, sizeof jerr);
	if (!json_is_object(root)) {
		rc = BRUG_E_BAD_JSON;
		goto cleanup;
	}
	rc = read_client_id(root, out);
	if (rc != 0)
		goto cleanup;
	rc = find_type(root, side, &entry);
	if (rc != 0)
		goto cleanup;
	out->type = entry->type;
	rc = entry->fields != NULL ? read_fields(root, entry->fields, out) : 0;
	if (rc == 0 && entry->check != NULL)
		rc = entry->check(out);
	if (rc != 0)
		goto cleanup;
	out->root = root;
	return 0;

cleanup:
	/* Nothing may point into the freed tree; only the id survives. */
	memcpy(id, out->id, sizeof id);
	secmem_wipe(out, sizeof *out);
	memcpy(out->id, id, sizeof id);
	secmem_wipe(id, sizeof id);
	json_decref(root);
	return rc;
}

void proto_in_fini(struct proto_in *in)
{
	if (in == NULL)
		return;
	json_decref(in->root);
	secmem_wipe(in, sizeof *in);
}

struct frame *proto_frame(json_t *msg, const char *id)
{
	json_t *with_id = NULL;
	json_t *obj = msg;
	struct frame *f = NULL;
	char small[2048];
	size_t n = 0;

	if (!json_is_object(msg))
		return NULL;
	use_wiping_allocator();
	if (id != NULL && id[0] != '\0') {
		/* A shallow copy gets the id, so the caller's object, which it
		 * may send elsewhere without an id, stays as it was. */
		with_id = json_copy(msg);
		if (with_id == NULL || json_object_set_new(with_id, "id", json_string(id)) != 0)
			goto cleanup;
		obj = with_id;
	}
	/* Most frames fit the stack buffer, so they are serialized once, not
	 * once to measure and again to write; it may hold chat text, so it is
	 * wiped before it goes out of scope. */
	n = json_dumpb(obj, small, sizeof small, JSON_COMPACT);
	if (n == 0)
		goto cleanup;
	/* One spare byte keeps the payload NUL-terminated for debugging and
	 * tests; it is not part of len and never sent. */
	f = malloc(sizeof *f + FRAME_PRE + n + 1);
	if (f == NULL)
		goto cleanup;
	memset(f->data, 0, FRAME_PRE);
	if (n <= sizeof small)
		memcpy(f->data + FRAME_PRE, small, n);
	else if (json_dumpb(obj, (char *)f->data + FRAME_PRE, n, JSON_COMPACT) != n) {
		secmem_free(f, sizeof *f + FRAME_PRE + n + 1);
		f = NULL;
		goto cleanup;
	}
	f->data[FRAME_PRE + n] = '\0';
	f->len = n;
	f->refs = 1;

cleanup:
	secmem_wipe(small, n < sizeof small ? n : sizeof small);
	json_decref(with_id);
	return f;
}

struct frame *proto_frame_take(json_t *msg, const char *id)
{
	struct frame *f = proto_frame(msg, id);

	json_decref(msg);
	return f;
}

struct frame *frame_ref(struct frame *f)
{
	if (f == NULL)
		return NULL;
	assert(f->refs > 0);
	f->refs++;
	return f;
}

void frame_unref(struct frame *f)
{
	if (f == NULL)
		return;
	assert(f->refs > 0);
	if (--f->refs > 0)
		return;
	/* The payload may be visitor text (design promise 2). */
	secmem_free(f, sizeof *f + FRAME_PRE + f->len + 1);
}

struct frame *proto_error_frame(int brug_error, const char *message, const char *id)
{
	json_t *msg = json_pack("{s:s, s:s, s:s}",
				"type", "error",
				"code", brug_error_code(brug_error),
				"message", message != NULL ? message : "");

	return proto_frame_take(msg, id);
}

void proto_id_str(uint64_t id, char buf[21])
{
	snprintf(buf, 21, "%" PRIu64, id);
}

bool proto_only_fields(json_t *root, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v) {
		bool ok = strcmp(key, "type") == 0 || strcmp(key, "id") == 0;

		for (const char *const *a = allowed; !ok && *a != NULL; a++)
			ok = strcmp(key, *a) == 0;
		if (!ok)
			return false;
	}
	return true;
}
