/* wsq_test.c: order, counts, ping flags, headroom and clearing of the queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libwebsockets.h>

#include "wsq.h"

static void test_fifo(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int ping;
	} in[] = {{"first", 0}, {"ping", 1}, {"", 0}, {"{\"type\":\"ack\"}", 0}};
	const size_t n = sizeof in / sizeof in[0];
	struct wsq q = {0};

	for (size_t i = 0; i < n; i++) {
		wsq_push(&q, in[i].text, strlen(in[i].text), in[i].ping);
		if (q.n != i + 1)
			fail_msg("after push %zu: n got %zu want %zu", i, q.n, i + 1);
	}
	for (size_t i = 0; i < n; i++) {
		struct wsq_msg *m = wsq_pop(&q);
		if (!m)
			fail_msg("pop %zu: got NULL want \"%s\"", i, in[i].text);
		if (m->len != strlen(in[i].text) || memcmp(wsq_payload(m), in[i].text, m->len) != 0)
			fail_msg("pop %zu: got \"%.*s\" want \"%s\"", i, (int)m->len,
			         (const char *)wsq_payload(m), in[i].text);
		if (m->ping != in[i].ping)
			fail_msg("pop %zu: ping got %d want %d", i, m->ping, in[i].ping);
		if (wsq_payload(m) != m->data + LWS_PRE)
			fail_msg("pop %zu: payload at +%td want +%d", i, wsq_payload(m) - m->data,
			         LWS_PRE);
		if (m->next)
			fail_msg("pop %zu: entry still linked", i);
		free(m);
		if (q.n != n - i - 1)
			fail_msg("after pop %zu: n got %zu want %zu", i, q.n, n - i - 1);
	}
	if (wsq_pop(&q) || q.head || q.tail)
		fail_msg("empty queue: got an entry or a dangling head/tail");
}

/* Pushing after the queue ran dry starts a fresh list (tail reset). */
static void test_refill(void **state)
{
	(void)state;
	struct wsq q = {0};
	wsq_push(&q, "a", 1, 0);
	free(wsq_pop(&q));
	wsq_push(&q, "b", 1, 0);
	wsq_push(&q, "c", 1, 0);
	struct wsq_msg *m = wsq_pop(&q);
	if (!m || wsq_payload(m)[0] != 'b')
		fail_msg("refill: got %c want b", m ? wsq_payload(m)[0] : '?');
	free(m);
	m = wsq_pop(&q);
	if (!m || wsq_payload(m)[0] != 'c')
		fail_msg("refill: got %c want c", m ? wsq_payload(m)[0] : '?');
	free(m);
}

/* Clear frees everything (ASan's leak check) and leaves a usable queue. */
static void test_clear(void **state)
{
	(void)state;
	struct wsq q = {0};
	for (int i = 0; i < 100; i++)
		wsq_push(&q, "0123456789", 10, i % 7 == 0);
	wsq_clear(&q);
	if (q.n || q.head || q.tail)
		fail_msg("clear: n got %zu want 0", q.n);
	wsq_clear(&q);
	wsq_push(&q, "x", 1, 0);
	if (q.n != 1)
		fail_msg("push after clear: n got %zu want 1", q.n);
	wsq_clear(&q);
}

/* An empty queue writes nothing and never touches the socket. */
static void test_write_empty(void **state)
{
	(void)state;
	struct wsq q = {0};
	int got = wsq_write_next(&q, NULL, 0);
	if (got != 0)
		fail_msg("write_next on empty: got %d want 0", got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo),
	    cmocka_unit_test(test_refill),
	    cmocka_unit_test(test_clear),
	    cmocka_unit_test(test_write_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
