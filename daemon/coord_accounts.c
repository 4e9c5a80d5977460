/* Staff accounts from the coordinator's console: list, create (with a reset
 * code and a TOTP enrolment QR code), update, password reset code, TOTP
 * reset, and the audit trail. Fields are checked strictly: an unknown or
 * wrong field is bad_field and nothing changes. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <sodium.h>
#include "common.h"
#include "config.h"
#include "coord.h"
#include "util/clock.h"
#include "hub_internal.h"
#include "proto.h"
#include "qr.h"
#include "staff.h"

#define AUDIT_LIMIT_DEFAULT 100

/* The fields each message may carry besides type and id. */
static const char *const list_fields[] = { NULL };
static const char *const create_fields[] = { "user", "alias", "roles", "langs", "topics",
					     "max_chats", NULL };
static const char *const update_fields[] = { "user", "alias", "roles", "langs", "topics",
					     "max_chats", "disabled", NULL };
static const char *const user_fields[] = { "user", NULL };
static const char *const audit_fields[] = { "limit", NULL };

/* A string field: absent (NULL, 0 if !required) or a string. */
static int get_string(json_t *root, const char *name, bool required, const char **out)
{
	json_t *v = json_object_get(root, name);

	*out = NULL;
	if (v == NULL)
		return required ? BRUG_E_BAD_FIELD : 0;
	if (!json_is_string(v))
		return BRUG_E_BAD_FIELD;
	*out = json_string_value(v);
	return 0;
}

/*
 * A list field: an array of distinct strings, each accepted by known(),
 * joined with commas into out (size bytes). Absent: *present false. An
 * empty array only if allow_empty.
 */
static int get_list(json_t *root, const char *name, bool required, bool allow_empty,
		    bool (*known)(const struct config *cfg, const char *item), const struct config *cfg,
		    char *out, size_t size, bool *present)
{
	json_t *v = json_object_get(root, name), *item;
	size_t used = 0, i;

	*present = false;
	out[0] = '\0';
	if (v == NULL)
		return required ? BRUG_E_BAD_FIELD : 0;
	if (!json_is_array(v) || (json_array_size(v) == 0 && !allow_empty))
		return BRUG_E_BAD_FIELD;
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);

		if (s == NULL || !known(cfg, s))
			return BRUG_E_BAD_FIELD;
		for (size_t j = 0; j < i; j++)
			if (strcmp(json_string_value(json_array_get(v, j)), s) == 0)
				return BRUG_E_BAD_FIELD;
		if (used + strlen(s) + 2 > size)
			return BRUG_E_BAD_FIELD;
		used += (size_t)snprintf(out + used, size - used, "%s%s", i > 0 ? "," : "", s);
	}
	*present = true;
	return 0;
}

static bool lang_known(const struct config *cfg, const char *s)
{
	return config_lang_index(cfg, s) >= 0;
}

static bool topic_known(const struct config *cfg, const char *s)
{
	return config_topic_index(cfg, s) >= 0;
}

/* Roles: an array of distinct known role names into bits. */
static int get_roles(json_t *root, bool required, uint32_t *roles, bool *present)
{
	json_t *v = json_object_get(root, "roles"), *item;
	size_t i;

	*present = false;
	*roles = 0;
	if (v == NULL)
		return required ? BRUG_E_BAD_FIELD : 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return BRUG_E_BAD_FIELD;
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);
		uint32_t bit = s != NULL ? brug_role_parse(s) : 0;

		if (bit == 0 || (*roles & bit))
			return BRUG_E_BAD_FIELD;
		*roles |= bit;
	}
	*present = true;
	return 0;
}

static int get_max_chats(json_t *root, unsigned *out, bool *present)
{
	json_t *v = json_object_get(root, "max_chats");
	json_int_t n;

	*present = false;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return BRUG_E_BAD_FIELD;
	n = json_integer_value(v);
	if (n < 1 || n > STAFF_MAX_CHATS_MAX)
		return BRUG_E_BAD_FIELD;
	*out = (unsigned)n;
	*present = true;
	return 0;
}

static json_t *csv_array(const char *list)
{
	json_t *a = json_array();
	const char *p = list;

	while (a != NULL && p != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");

		if (n > 0)
			json_array_append_new(a, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	return a;
}

static json_t *roles_array(uint32_t roles)
{
	json_t *a = json_array();

	for (uint32_t bit = 1; bit <= BRUG_ROLE_ALL && a != NULL; bit <<= 1)
		if ((roles & bit) && brug_role_name(bit) != NULL)
			json_array_append_new(a, json_string(brug_role_name(bit)));
	return a;
}

static int list_one(const struct staff_account *a, void *ctx)
{
	json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:i, s:b, s:b}", "user", a->username, "alias",
			      a->alias, "roles", roles_array(a->roles), "langs", csv_array(a->langs),
			      "topics", csv_array(a->topics), "max_chats", (json_int_t)a->max_chats,
			      "disabled", a->disabled, "totp", a->totp);

	if (o == NULL || json_array_append_new(ctx, o) != 0)
		return BRUG_E_INTERNAL;
	return 0;
}

/* Answer with the whole staff list. */
static int reply_list(struct hub_conn *c, const char *id)
{
	json_t *arr = json_array();
	int r;

	if (arr == NULL)
		return BRUG_E_INTERNAL;
	r = staff_list(hub_services(c)->staff, list_one, arr);
	if (r != 0) {
		json_decref(arr);
		return r > 0 ? r : BRUG_E_INTERNAL;
	}
	hub_reply(c, json_pack("{s:s, s:o}", "type", "staff_list", "staff", arr), id);
	return 0;
}

/* Map a staff_* failure to a refusal the hub sends. */
static int refusal(int r)
{
	return r > 0 ? r : BRUG_E_INTERNAL;
}

int coord_staff_list(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	(void)now;
	if (!proto_only_fields(in->root, list_fields))
		return BRUG_E_BAD_FIELD;
	return reply_list(c, in->id);
}

/* otpauth URI and its QR code for user into *uri and *svg (caller frees;
 * both hold the secret). */
static int enrolment(struct staff *st, const char *user, char **uri, char **svg)
{
	int r;

	*svg = NULL;
	r = staff_totp_uri(st, user, uri);
	if (r != 0)
		return refusal(r);
	*svg = qr_svg(*uri);
	if (*svg == NULL) {
		sodium_memzero(*uri, strlen(*uri));
		free(*uri);
		*uri = NULL;
		return BRUG_E_INTERNAL;
	}
	return 0;
}

static void free_secret(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

int coord_staff_create(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	const struct hub_services *svc = hub_services(c);
	char langs[STAFF_LIST_MAX + 1], topics[STAFF_LIST_MAX + 1];
	char code[STAFF_RESET_CODE_LEN + 1], *uri = NULL, *svg = NULL;
	struct staff_account a = { .max_chats = STAFF_MAX_CHATS_DEFAULT };
	const char *user, *alias;
	bool have;
	int r;

	(void)now;
	if (!proto_only_fields(in->root, create_fields) ||
	    get_string(in->root, "user", true, &user) != 0 ||
	    get_string(in->root, "alias", true, &alias) != 0 ||
	    get_roles(in->root, true, &a.roles, &have) != 0 ||
	    get_list(in->root, "langs", true, false, lang_known, svc->cfg, langs, sizeof langs, &have) != 0 ||
	    get_list(in->root, "topics", false, true, topic_known, svc->cfg, topics, sizeof topics, &have) != 0 ||
	    get_max_chats(in->root, &a.max_chats, &have) != 0)
		return BRUG_E_BAD_FIELD;
	a.username = (char *)user;
	a.alias = (char *)alias;
	a.langs = langs;
	a.topics = topics;
	r = staff_add(svc->staff, &a, NULL, hub_conn_username(c), NULL);
	if (r != 0)
		return refusal(r);
	r = staff_reset_code(svc->staff, user, hub_conn_username(c), clock_wall_ms(), code);
	if (r == 0)
		r = enrolment(svc->staff, user, &uri, &svg);
	if (r != 0)
		return refusal(r);
	hub_reply(c, json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "staff_created", "user", user,
			       "reset_code", code, "otpauth", uri, "qr_svg", svg), in->id);
	sodium_memzero(code, sizeof code);
	free_secret(uri);
	free_secret(svg);
	return 0;
}

int coord_staff_update(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	const struct hub_services *svc = hub_services(c);
	char langs[STAFF_LIST_MAX + 1], topics[STAFF_LIST_MAX + 1];
	struct staff_changes ch = { 0 };
	const char *user, *self = hub_conn_username(c);
	bool have_langs, have_topics;
	json_t *dis;
	int r;

	(void)now;
	if (!proto_only_fields(in->root, update_fields) ||
	    get_string(in->root, "user", true, &user) != 0 ||
	    get_string(in->root, "alias", false, &ch.alias) != 0 ||
	    get_roles(in->root, false, &ch.roles, &ch.set_roles) != 0 ||
	    get_list(in->root, "langs", false, false, lang_known, svc->cfg, langs, sizeof langs,
		     &have_langs) != 0 ||
	    get_list(in->root, "topics", false, true, topic_known, svc->cfg, topics, sizeof topics,
		     &have_topics) != 0 ||
	    get_max_chats(in->root, &ch.max_chats, &ch.set_max_chats) != 0)
		return BRUG_E_BAD_FIELD;
	dis = json_object_get(in->root, "disabled");
	if (dis != NULL) {
		if (!json_is_boolean(dis))
			return BRUG_E_BAD_FIELD;
		ch.set_disabled = true;
		ch.disabled = json_is_true(dis);
	}
	ch.langs = have_langs ? langs : NULL;
	ch.topics = have_topics ? topics : NULL;
	/* A coordinator cannot lock themselves out: someone must be left to
	 * manage the accounts. */
	if (self != NULL && strcmp(user, self) == 0 &&
	    ((ch.set_disabled && ch.disabled) || (ch.set_roles && !(ch.roles & BRUG_ROLE_COORDINATOR))))
		return BRUG_E_CONFLICT;
	r = staff_update(svc->staff, user, &ch, self, NULL);
	if (r != 0)
		return refusal(r);
	/* A disabled account's open consoles close now (4002), not at the
	 * next session check. */
	if (ch.set_disabled && ch.disabled)
		hub_end_sessions_of(hub_of(c), user);
	else
		hub_staff_changed(hub_of(c), user);
	return reply_list(c, in->id);
}

int coord_staff_reset(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	char code[STAFF_RESET_CODE_LEN + 1];
	const char *user;
	int r;

	(void)now;
	if (!proto_only_fields(in->root, user_fields) || get_string(in->root, "user", true, &user) != 0)
		return BRUG_E_BAD_FIELD;
	r = staff_reset_code(hub_services(c)->staff, user, hub_conn_username(c), clock_wall_ms(), code);
	if (r != 0)
		return refusal(r);
	hub_reply(c, json_pack("{s:s, s:s, s:s}", "type", "staff_reset", "user", user, "reset_code", code),
		  in->id);
	sodium_memzero(code, sizeof code);
	return 0;
}

int coord_totp_reset(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct staff *st = hub_services(c)->staff;
	char *uri = NULL, *svg;
	const char *user;
	int r;

	(void)now;
	if (!proto_only_fields(in->root, user_fields) || get_string(in->root, "user", true, &user) != 0)
		return BRUG_E_BAD_FIELD;
	r = staff_totp_reset(st, user, hub_conn_username(c), &uri);
	if (r != 0)
		return refusal(r);
	svg = qr_svg(uri);
	if (svg == NULL) {
		free_secret(uri);
		return BRUG_E_INTERNAL;
	}
	hub_reply(c, json_pack("{s:s, s:s, s:s, s:s}", "type", "totp_reset", "user", user, "otpauth", uri,
			       "qr_svg", svg), in->id);
	free_secret(uri);
	free_secret(svg);
	return 0;
}

static int audit_one(const struct staff_audit_entry *e, void *ctx)
{
	char when[32];
	json_t *o;

	clock_iso8601(e->ts, when);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ts", when, "actor", e->actor, "action", e->action,
		      "target", e->target, "detail", e->detail);
	if (o == NULL || json_array_append_new(ctx, o) != 0)
		return BRUG_E_INTERNAL;
	return 0;
}

int coord_audit_list(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	json_t *lim, *arr;
	json_int_t limit = AUDIT_LIMIT_DEFAULT;
	int r;

	(void)now;
	if (!proto_only_fields(in->root, audit_fields))
		return BRUG_E_BAD_FIELD;
	lim = json_object_get(in->root, "limit");
	if (lim != NULL) {
		if (!json_is_integer(lim))
			return BRUG_E_BAD_FIELD;
		limit = json_integer_value(lim);
		if (limit < 1 || limit > STAFF_AUDIT_LIMIT_MAX)
			return BRUG_E_BAD_FIELD;
	}
	arr = json_array();
	if (arr == NULL)
		return BRUG_E_INTERNAL;
	r = staff_audit_list(hub_services(c)->staff, (unsigned)limit, audit_one, arr);
	if (r != 0) {
		json_decref(arr);
		return refusal(r);
	}
	hub_reply(c, json_pack("{s:s, s:o}", "type", "audit", "entries", arr), in->id);
	return 0;
}
