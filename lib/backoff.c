/* backoff.c: doubling delays with a floor and a cap. */
#include "backoff.h"

void backoff_init(struct backoff *b, int64_t min_ms, int64_t max_ms)
{
	if (min_ms < 1)
		min_ms = 1;
	if (max_ms < min_ms)
		max_ms = min_ms;
	b->min_ms = min_ms;
	b->max_ms = max_ms;
	b->next_ms = min_ms;
}

int64_t backoff_next(struct backoff *b)
{
	int64_t d = b->next_ms;
	b->next_ms = d > b->max_ms / 2 ? b->max_ms : d * 2;
	return d;
}

void backoff_reset(struct backoff *b)
{
	b->next_ms = b->min_ms;
}
