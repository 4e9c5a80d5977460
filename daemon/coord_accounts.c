/* Staff accounts from the console (being written). */
#include "common.h"
#include "coord.h"

int coord_staff_list(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_staff_create(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_staff_update(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_staff_reset(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_totp_reset(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_audit_list(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
