/* SPDX-License-Identifier: ISC */
/* What the bundled behaviours share beyond libbotkit. See script.h. */
#include "config.h"

#include "script.h"

#include <stdio.h>

/* "1d 2h", "2h 5m", "5m 3s" or "42s". */
char *script_duration(char *buf, size_t size, int64_t seconds)
{
	static const struct { const char *unit; int64_t secs; } units[] = {
		{ "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 },
	};
	size_t i = 0;

	if (seconds < 0)
		seconds = 0;
	while (i < 3 && seconds < units[i].secs)
		i++;
	if (i == 3 || seconds % units[i].secs / units[i + 1].secs == 0)
		snprintf(buf, size, "%lld%s", (long long)(seconds / units[i].secs), units[i].unit);
	else
		snprintf(buf, size, "%lld%s %lld%s", (long long)(seconds / units[i].secs), units[i].unit,
			 (long long)(seconds % units[i].secs / units[i + 1].secs), units[i + 1].unit);
	return buf;
}
