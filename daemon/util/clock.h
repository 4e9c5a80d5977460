/* Wall-clock time for what people read: timestamps and ISO 8601 strings. */
#ifndef BRUG_UTIL_CLOCK_H
#define BRUG_UTIL_CLOCK_H

#include <stdint.h>

#define CLOCK_ISO8601_LEN 32

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t clock_wall_ms(void);
/* ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into out. */
void clock_iso8601(int64_t ms, char out[CLOCK_ISO8601_LEN]);

#endif
