/* The audit trail of account changes: appending, listing and pruning. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <sqlite3.h>
#include "common.h"
#include "log.h"
#include "seal.h"
#include "secmem.h"
#include "store.h"
#include "token.h"
#include "totp.h"
#include "staff.h"
#include "staff_private.h"

/* ---- audit trail -------------------------------------------------------- */

/* Append one entry; inside the caller's transaction when there is one. The
 * detail never holds a password, a code or a secret. */
int staff_audit(struct staff *st, const char *actor, const char *action, const char *target,
		 const char *detail)
{
	sqlite3_stmt *stmt;
	int r;

	r = staff_prepare(st, "INSERT INTO audit(ts, actor, action, target, detail) VALUES(?, ?, ?, ?, ?)",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int64(stmt, 1, staff_wall_ms());
	sqlite3_bind_text(stmt, 2, actor != NULL ? actor : STAFF_ACTOR_CLI, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, detail != NULL ? detail : "", -1, SQLITE_STATIC);
	r = sqlite3_step(stmt) == SQLITE_DONE ? 0 : staff_db_fail(st, "writing the audit trail");
	sqlite3_finalize(stmt);
	return r;
}

/* "volunteer,coordinator" for role bits into out. */
void staff_roles_text(uint32_t roles, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	for (uint32_t bit = 1; bit <= BRUG_ROLE_ALL; bit <<= 1) {
		const char *name = brug_role_name(bit);

		if ((roles & bit) && name != NULL && used < size)
			used += (size_t)snprintf(out + used, size - used, "%s%s", used > 0 ? "," : "",
						 name);
	}
}

void staff_describe_account(const struct staff_account *a, char *out, size_t size)
{
	char roles[96];

	staff_roles_text(a->roles, roles, sizeof roles);
	snprintf(out, size, "roles=%s langs=%s topics=%s max_chats=%u", roles, a->langs,
		 a->topics != NULL ? a->topics : "", a->max_chats);
}

int staff_audit_list(struct staff *st, unsigned limit,
		     int (*fn)(const struct staff_audit_entry *e, void *ctx), void *ctx)
{
	struct staff_audit_entry e;
	sqlite3_stmt *stmt;
	int r, rc;

	if (fn == NULL || limit == 0 || limit > STAFF_AUDIT_LIMIT_MAX)
		return BRUG_E_BAD_FIELD;
	r = staff_prepare(st, "SELECT ts, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT ?",
		    &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int(stmt, 1, (int)limit);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		e.ts = sqlite3_column_int64(stmt, 0);
		e.actor = (const char *)sqlite3_column_text(stmt, 1);
		e.action = (const char *)sqlite3_column_text(stmt, 2);
		e.target = (const char *)sqlite3_column_text(stmt, 3);
		e.detail = (const char *)sqlite3_column_text(stmt, 4);
		if (e.actor == NULL || e.action == NULL || e.target == NULL || e.detail == NULL) {
			r = -ENOMEM;
			goto finalize;
		}
		r = fn(&e, ctx);
		if (r != 0)
			goto finalize;
	}
	if (rc != SQLITE_DONE)
		r = staff_db_fail(st, "reading the audit trail");
finalize:
	sqlite3_finalize(stmt);
	return r;
}

int staff_audit_prune(struct staff *st, int64_t now_ms, unsigned *deleted)
{
	sqlite3_stmt *stmt;
	int r;

	if (deleted != NULL)
		*deleted = 0;
	r = staff_prepare(st, "DELETE FROM audit WHERE ts < ?", &stmt);
	if (r != 0)
		return r;
	sqlite3_bind_int64(stmt, 1, now_ms - st->limits.audit_retention_ms);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		r = store_error(st->db);
		/* Busy is expected now and then: the caller tries again. */
		if (r != BRUG_E_UNAVAILABLE)
			staff_db_fail(st, "pruning the audit trail");
	} else if (deleted != NULL) {
		*deleted = (unsigned)sqlite3_changes(st->db);
	}
	sqlite3_finalize(stmt);
	return r;
}

int staff_audit_maintain(struct staff *st, int64_t now_ms)
{
	unsigned n;
	int r;

	if (st == NULL || now_ms < st->audit_prune_at)
		return 0;
	r = staff_audit_prune(st, now_ms, &n);
	if (r == BRUG_E_UNAVAILABLE) {
		log_debug("staff: database busy; pruning the audit trail again later");
		st->audit_prune_at = now_ms + STAFF_AUDIT_RETRY_MS;
		return r;
	}
	/* Another failure is logged; trying it every tick would not help. */
	st->audit_prune_at = now_ms + (r == 0 ? STAFF_AUDIT_PRUNE_EVERY_MS : STAFF_AUDIT_RETRY_MS);
	if (r == 0 && n > 0)
		log_info("staff: pruned %u audit entr%s older than %lld days", n, n == 1 ? "y" : "ies",
			 (long long)(st->limits.audit_retention_ms / STAFF_DAY_MS));
	return r;
}

