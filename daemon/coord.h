/* Handlers of the staff socket's extension messages: accounts, roster and
 * statistics for coordinators, a member's own shifts. Each takes a decoded
 * message (fields still to be checked from in->root: bad ones are
 * BRUG_E_BAD_FIELD and change nothing) and answers through hub_reply().
 * Returns 0 or a BRUG_E_* refusal (sent as an error by the hub). The hub
 * has already checked that the sender is logged in and holds the role. */
#ifndef BRUG_COORD_H
#define BRUG_COORD_H

#include <stdint.h>

struct hub_conn;
struct proto_in;

/* coord_accounts.c: staff accounts with the second factor, audit trail. */
int coord_staff_list(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_staff_create(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_staff_update(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_staff_reset(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_totp_reset(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_audit_list(struct hub_conn *c, struct proto_in *in, uint64_t now);

/* coord_roster.c: the shift roster and coverage; a member's own shifts. */
int coord_roster_get(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_pattern_add(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_pattern_update(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_pattern_delete(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_exception_add(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_exception_delete(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_closure_add(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_closure_delete(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_my_shifts(struct hub_conn *c, struct proto_in *in, uint64_t now);

/* coord_stats.c: anonymous statistics. */
int coord_stats_get(struct hub_conn *c, struct proto_in *in, uint64_t now);
int coord_stats_csv(struct hub_conn *c, struct proto_in *in, uint64_t now);

#endif
