/* fifo_test.c: FIFO_PUSH and FIFO_PUSH_FRONT keep order and head/tail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fifo.h"

struct item {
	char name;
	struct item *next;
};

/* The queue as a string of names, checking that tail is the last item. */
static void order(struct item *head, struct item *tail, char *out, size_t len)
{
	size_t n = 0;
	struct item *last = NULL;
	for (struct item *i = head; i && n + 1 < len; i = i->next) {
		out[n++] = i->name;
		last = i;
	}
	out[n] = '\0';
	if (last != tail)
		fail_msg("tail: got %c want %c", tail ? tail->name : '-', last ? last->name : '-');
}

static void test_push(void **state)
{
	(void)state;
	struct item it[5] = {{'a', NULL}, {'b', NULL}, {'c', NULL}, {'d', NULL}, {'e', &it[0]}};
	struct item *head = NULL, *tail = NULL;
	char got[8];
	static const struct {
		int front; /* FIFO_PUSH_FRONT instead of FIFO_PUSH */
		int item;
		const char *want;
	} steps[] = {
	    {1, 0, "a"}, /* front on an empty queue sets the tail too */
	    {0, 1, "ab"},   {0, 2, "abc"},
	    {1, 3, "dabc"}, {0, 4, "dabce"}, /* a stale next pointer is cleared */
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct item *x = &it[steps[i].item];
		if (steps[i].front)
			FIFO_PUSH_FRONT(head, tail, x);
		else
			FIFO_PUSH(head, tail, x);
		order(head, tail, got, sizeof got);
		if (strcmp(got, steps[i].want) != 0)
			fail_msg("step %zu: got %s want %s", i, got, steps[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_push),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
