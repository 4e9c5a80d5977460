/* Wall-clock time and its ISO 8601 form. */
#include <time.h>
#include "clock.h"

int64_t clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_iso8601(int64_t ms, char out[CLOCK_ISO8601_LEN])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, CLOCK_ISO8601_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
