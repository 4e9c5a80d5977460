/* Refusal code names and role names shared by all modules. */
#include <string.h>
#include "common.h"

static const char *const error_codes[BRUG_E__COUNT] = {
	[BRUG_OK] = "ok",
	[BRUG_E_BAD_JSON] = "bad_json",
	[BRUG_E_BAD_TYPE] = "bad_type",
	[BRUG_E_BAD_FIELD] = "bad_field",
	[BRUG_E_TOO_LONG] = "too_long",
	[BRUG_E_RATE_LIMITED] = "rate_limited",
	[BRUG_E_UNAUTHORIZED] = "unauthorized",
	[BRUG_E_FORBIDDEN] = "forbidden",
	[BRUG_E_NOT_FOUND] = "not_found",
	[BRUG_E_CONFLICT] = "conflict",
	[BRUG_E_CLOSED] = "closed",
	[BRUG_E_INTERNAL] = "internal",
	[BRUG_E_UNAVAILABLE] = "unavailable",
	[BRUG_E_BUSY] = "busy",
	[BRUG_E_NOT_AVAILABLE] = "not_available",
};

const char *brug_error_code(int e)
{
	if (e <= 0 || e >= BRUG_E__COUNT)
		return "internal";
	return error_codes[e];
}

static const struct {
	uint32_t bit;
	const char *name;
} roles[] = {
	{ BRUG_ROLE_VOLUNTEER, "volunteer" },
	{ BRUG_ROLE_KEYPERSON, "keyperson" },
	{ BRUG_ROLE_PROFESSIONAL, "professional" },
	{ BRUG_ROLE_COORDINATOR, "coordinator" },
};

const char *brug_role_name(uint32_t role)
{
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (roles[i].bit == role)
			return roles[i].name;
	return NULL;
}

uint32_t brug_role_parse(const char *name)
{
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (strcmp(roles[i].name, name) == 0)
			return roles[i].bit;
	return 0;
}

uint32_t brug_role_primary(uint32_t r)
{
	static const uint32_t order[] = { BRUG_ROLE_PROFESSIONAL, BRUG_ROLE_KEYPERSON,
					  BRUG_ROLE_VOLUNTEER, BRUG_ROLE_COORDINATOR };
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (r & order[i])
			return order[i];
	return BRUG_ROLE_VOLUNTEER;
}
