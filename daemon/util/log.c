/* Log lines to stderr with a UTC timestamp and level. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "log.h"

static enum log_level current_level = LOG_LEVEL_NOTICE;
static const char *const level_names[] = { "err", "warn", "notice", "info", "debug" };

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return current_level; }

enum log_level log_level_of(const char *s)
{
	for (int i = 0; s != NULL && i < 5; i++)
		if (strcmp(s, level_names[i]) == 0)
			return (enum log_level)i;
	return LOG_LEVEL_NOTICE;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > current_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ brugd %s: ", stamp, ts.tv_nsec / 1000000, level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
