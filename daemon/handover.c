/* Handover notes for the next shift: staff only, in memory only, wiped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "hub.h"
#include "hub_internal.h"
#include "hub_private.h"
#include "i18n.h"
#include "proto.h"
#include "router.h"
#include "staff.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "util/secmem.h"

/* ---- handover notes: in memory, for staff only ---- */

json_t *handover_json(const struct hub *h)
{
	json_t *arr = json_array();

	for (unsigned i = 0; i < h->n_notes && arr != NULL; i++) {
		char when[32];
		clock_iso8601((int64_t)h->notes[i].ts_ms, when);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "alias", h->notes[i].alias, "ts", when,
						     "text", h->notes[i].text));
	}
	return json_pack("{s:s, s:o}", "type", "handover", "notes", arr);
}

void handover_wipe(struct handover *n)
{
	secmem_free_str(n->text);
	secmem_wipe(n, sizeof *n);
}

/* {"type":"handover_set","text":...}: a note for the next shift, shown to
 * every console now and at each login; the oldest go past HANDOVER_MAX.
 * An empty text removes the sender's notes. */
int handover_on_set(struct hub_conn *c, struct proto_in *in, uint64_t now)
{
	struct hub *h = c->hub;
	json_t *jt = json_object_get(in->root, "text");
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!json_is_string(jt) || json_object_size(in->root) > (in->id[0] ? 3u : 2u))
		return BRUG_E_BAD_FIELD;
	if (json_string_length(jt) == 0) {
		unsigned kept = 0;
		for (unsigned i = 0; i < h->n_notes; i++) {
			if (strcmp(h->notes[i].alias, c->rs->alias) == 0)
				handover_wipe(&h->notes[i]);
			else
				h->notes[kept++] = h->notes[i];
		}
		h->n_notes = kept;
	} else {
		rc = i18n_intake(json_string_value(jt), json_string_length(jt), HANDOVER_TEXT_MAX, &text, &len);
		if (rc != 0)
			return rc;
		if (h->n_notes == HANDOVER_MAX) {
			handover_wipe(&h->notes[0]);
			memmove(&h->notes[0], &h->notes[1], (HANDOVER_MAX - 1) * sizeof h->notes[0]);
			h->n_notes--;
		}
		snprintf(h->notes[h->n_notes].alias, sizeof h->notes[0].alias, "%s", c->rs->alias);
		h->notes[h->n_notes].ts_ms = hub_wall_now(h);
		h->notes[h->n_notes].text = text;
		h->n_notes++;
	}
	hub_broadcast(h, handover_json(h), 0);
	return 0;
}
