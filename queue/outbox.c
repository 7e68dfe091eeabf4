/*
 * outbox.c: attempts for outbox jobs (outbox.h).
 */
#include "outbox.h"

#include <string.h>

int outbox_max_attempts(const char *kind, int def)
{
	if (kind && strcmp(kind, OUTBOX_KIND_EMAIL) == 0)
		return def > OUTBOX_MAX_ATTEMPTS ? def : OUTBOX_MAX_ATTEMPTS;
	return def;
}
