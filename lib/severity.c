/* severity.c: the one table of incident severities (see severity.h). */
#include "severity.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

const char *const severity_names[] = {"critical", "high", "medium", "low", "info", NULL};

const char *severity_canon(const char *s)
{
	for (int i = 0; s && severity_names[i]; i++)
		if (!strcasecmp(s, severity_names[i]))
			return severity_names[i];
	return NULL;
}

int severity_rank(const char *s)
{
	for (int i = 0; s && severity_names[i]; i++)
		if (!strcmp(s, severity_names[i]))
			return i;
	return -1;
}

const char *severity_list(void)
{
	return "critical, high, medium, low, info";
}
