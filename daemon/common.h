/* Definitions every daemon module shares: refusal codes and staff roles. */
#ifndef BRUG_COMMON_H
#define BRUG_COMMON_H

#include <stdint.h>

/*
 * Functions return int: 0 on success, a negative errno for system failures
 * (passed up unchanged), or one of these positive codes for a documented
 * refusal. The WebSocket layer maps each to the protocol's error `code`
 * (protocol doc, "Errors").
 */
enum brug_error {
	BRUG_OK = 0,
	BRUG_E_BAD_JSON,     /* frame is not a JSON object */
	BRUG_E_BAD_TYPE,     /* `type` missing, not a string, or unknown */
	BRUG_E_BAD_FIELD,    /* a field is missing, of the wrong type or value */
	BRUG_E_TOO_LONG,     /* a text is over its limit */
	BRUG_E_RATE_LIMITED, /* too many messages or attempts, slow down */
	BRUG_E_UNAUTHORIZED, /* not logged in, or wrong credentials */
	BRUG_E_FORBIDDEN,    /* the role or chat membership does not allow it */
	BRUG_E_NOT_FOUND,    /* no such chat, offer, staff member or target */
	BRUG_E_CONFLICT,     /* not possible in the current state */
	BRUG_E_CLOSED,       /* nobody can take a chat in that language now */
	BRUG_E_INTERNAL,     /* our fault: out of memory, a broken database */
	BRUG_E_UNAVAILABLE,  /* the database is busy or cannot be written now; try again */
	BRUG_E_BUSY,         /* too many at once from one source; try again later */
	BRUG_E_NOT_AVAILABLE,/* a visitor socket refused; neutral on purpose (blocked source) */
	BRUG_E__COUNT
};

/* The protocol's error code string for e ("bad_json", ...); "internal" for
 * anything unknown. Static storage. */
const char *brug_error_code(int e);

/* Staff roles, a bit each; an account may hold several. */
enum brug_role {
	BRUG_ROLE_VOLUNTEER = 1u << 0,
	BRUG_ROLE_KEYPERSON = 1u << 1,
	BRUG_ROLE_PROFESSIONAL = 1u << 2,
	BRUG_ROLE_COORDINATOR = 1u << 3,
};
#define BRUG_ROLE_ALL 0xFu

/* Name of a single role bit ("volunteer", ...), or NULL. Static storage. */
const char *brug_role_name(uint32_t role);
/* Parse one role name; 0 if unknown. */
uint32_t brug_role_parse(const char *name);
/* The role shown to a visitor for a set of roles: the most specific one
 * (professional, then keyperson, then volunteer, then coordinator). */
uint32_t brug_role_primary(uint32_t roles);

#endif
