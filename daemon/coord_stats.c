/* Anonymous statistics for the console (being written). */
#include "common.h"
#include "coord.h"

int coord_stats_get(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
int coord_stats_csv(struct hub_conn *c, struct proto_in *in, uint64_t now) { return BRUG_E_INTERNAL; }
