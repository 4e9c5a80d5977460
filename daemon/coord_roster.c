/* The shift roster from the console (being written). */
#include "common.h"
#include "coord.h"

int coord_roster_get(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_pattern_add(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_pattern_update(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_pattern_delete(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_exception_add(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_exception_delete(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_closure_add(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_closure_delete(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_my_shifts(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
