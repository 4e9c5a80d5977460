/* Anonymous statistics for the coordinators' console: the aggregate report
 * the charts are drawn from and its CSV export (daemon/stats.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "common.h"
#include "coord.h"
#include "hub_internal.h"
#include "proto.h"
#include "stats.h"

/* Check a request of exactly {type, from, to, id?}: both dates real and in
 * order (stats.c checks the range). Borrowed pointers into in->root. */
static int range_fields(struct proto_in *in, const char **from, const char **to)
{
	json_t *jf = json_object_get(in->root, "from"), *jt = json_object_get(in->root, "to");

	if (!json_is_string(jf) || !json_is_string(jt) ||
	    json_object_size(in->root) != (in->id[0] != '\0' ? 4u : 3u))
		return BRUG_E_BAD_FIELD;
	*from = json_string_value(jf);
	*to = json_string_value(jt);
	if (!stats_valid_day(*from) || !stats_valid_day(*to))
		return BRUG_E_BAD_FIELD;
	return 0;
}

int coord_stats_get(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct stats *st = hub_services(c)->stats;
	const char *from, *to;
	json_t *report;
	int rc;

	(void)now;
	rc = range_fields(in, &from, &to);
	if (rc != 0)
		return rc;
	if (st == NULL)
		return BRUG_E_INTERNAL;
	rc = stats_report(st, from, to, &report);
	if (rc != 0)
		return rc;
	if (json_object_set_new(report, "type", json_string("stats")) != 0) {
		json_decref(report);
		return BRUG_E_INTERNAL;
	}
	hub_reply(c, report, in->id);
	return 0;
}

int coord_stats_csv(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct stats *st = hub_services(c)->stats;
	const char *from, *to;
	char filename[64];
	char *csv;
	size_t len;
	json_t *msg;
	int rc;

	(void)now;
	rc = range_fields(in, &from, &to);
	if (rc != 0)
		return rc;
	if (st == NULL)
		return BRUG_E_INTERNAL;
	rc = stats_csv(st, from, to, &csv, &len);
	if (rc != 0)
		return rc;
	snprintf(filename, sizeof filename, "brug-stats-%s-%s.csv", from, to);
	msg = json_pack("{s:s, s:s, s:s%}", "type", "stats_csv", "filename", filename,
			"csv", csv, len);
	free(csv);
	if (msg == NULL)
		return BRUG_E_INTERNAL;
	hub_reply(c, msg, in->id);
	return 0;
}
