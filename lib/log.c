/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "kuasar-c";
static int log_fd = STDERR_FILENO;
static enum kc_log_level log_level = KC_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void kc_log_init(const char *ident, int fd)
{
	log_ident = ident;
	log_fd = fd;
}

void kc_log_set_level(enum kc_log_level lvl)
{
	log_level = lvl;
}

enum kc_log_level kc_log_get_level(void)
{
	return log_level;
}

int kc_log_parse_level(const char *s)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(s, level_names[i]))
			return (int)i;
	if (!strcmp(s, "warning"))
		return KC_LOG_WARN;
	if (!strcmp(s, "trace"))
		return KC_LOG_DEBUG;
	return -1;
}

void kc_log(enum kc_log_level lvl, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	va_list ap;
	int n, m;

	if (lvl > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%lld.%03ld %s[%d]: %s: ", (long long)ts.tv_sec,
		     ts.tv_nsec / 1000000, log_ident, getpid(), level_names[lvl]);
	if (n < 0)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so concurrent writers do not interleave. */
	(void)!write(log_fd, line, (size_t)n);
}
