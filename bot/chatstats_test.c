/*
 * chatstats_test.c: chat API counters: which counter a status bumps, route
 * normalisation, the bounded row table, and the exposition text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chatstats.h"
#include "mem.h"

static void test_status_table(void **s)
{
	static const struct {
		long status;
		unsigned long long calls, r429, r5xx, transport; /* after this call, cumulative */
	} cases[] = {
	    {200, 1, 0, 0, 0}, {429, 2, 1, 0, 0}, {500, 3, 1, 1, 0}, {503, 4, 1, 2, 0},
	    {0, 5, 1, 2, 1},   {404, 6, 1, 2, 1}, {429, 7, 2, 2, 1},
	};
	(void)s;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		chatstats_count("slack", "chat.postMessage", cases[i].status);
		unsigned long long got[4],
		    want[4] = {cases[i].calls, cases[i].r429, cases[i].r5xx, cases[i].transport};
		for (int k = 0; k < 4; k++) {
			got[k] = chatstats_get("slack", "chat.postMessage", k);
			if (got[k] != want[k])
				fail_msg("case %zu (status %ld) counter %d: got %llu, want %llu", i,
				         cases[i].status, k, got[k], want[k]);
		}
	}
}

static void test_discord_ids(void **s)
{
	(void)s;
	chatstats_count("discord", "POST /channels/112233445566778899/messages", 200);
	chatstats_count("discord", "POST /channels/998877665544332211/messages", 429);
	unsigned long long got = chatstats_get("discord", "POST /channels/:id/messages", 0);
	if (got != 2)
		fail_msg("calls on the normalised route: got %llu, want 2", got);
	got = chatstats_get("discord", "POST /channels/:id/messages", 1);
	if (got != 1)
		fail_msg("429s on the normalised route: got %llu, want 1", got);
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"PATCH "
	     "/webhooks/123456789012/aW50ZXJhY3Rpb246MTIzNDU2Nzg5OnNlY3JldA/messages/@original",
	     "PATCH /webhooks/:id/:token/messages/@original"},
	    {"POST /interactions/1122334455/aW50ZXJhY3Rpb246c2VjcmV0dG9rZW4xMjM0NQ/callback",
	     "POST /interactions/:id/:token/callback"},
	    {"GET /guilds/1234/channels?limit=5", "GET /guilds/1234/channels"},
	    {"chat.postMessage", "chat.postMessage"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		chatstats_count("norm", cases[i].in, 200);
		if (chatstats_get("norm", cases[i].want, 0) != 1)
			fail_msg("route %s: want it counted as %s", cases[i].in, cases[i].want);
	}
}

static void test_bounded(void **s)
{
	char route[32];
	(void)s;
	for (int i = 0; i < CHATSTATS_MAX * 2; i++) {
		snprintf(route, sizeof route, "m%d", i);
		chatstats_count("bound", route, 200);
	}
	unsigned long long other = chatstats_get("bound", "other", 0);
	if (other == 0)
		fail_msg("calls past the row limit: got none under route \"other\", want some");
	struct buf o = {.max = 1 << 20};
	chatstats_write(&o);
	int rows = 0;
	for (const char *p = o.data; (p = strstr(p, "opsbot_chat_api_calls_total{")); p++)
		rows++;
	if (rows > CHATSTATS_MAX)
		fail_msg("calls rows: got %d, want at most %d", rows, CHATSTATS_MAX);
	buf_free(&o);
}

static void test_exposition(void **s)
{
	struct buf o = {.max = 1 << 20};
	(void)s;
	chatstats_count("slack", "chat.update", 200);
	chatstats_write(&o);
	static const char *want[] = {
	    "# TYPE opsbot_chat_api_calls_total counter\n",
	    "# TYPE opsbot_chat_api_ratelimited_total counter\n",
	    "# TYPE opsbot_chat_api_server_errors_total counter\n",
	    "opsbot_chat_api_calls_total{surface=\"slack\",route=\"chat.update\"} 1\n",
	    "opsbot_chat_api_ratelimited_total{surface=\"slack\",route=\"chat.postMessage\"} 2\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!o.data || !strstr(o.data, want[i]))
			fail_msg("exposition: want line %s in:\n%s", want[i], o.data ? o.data : "");
	buf_free(&o);
}

int main(void)
{
	/* order matters: the counters are process-wide and cumulative */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_table),
	    cmocka_unit_test(test_discord_ids),
	    cmocka_unit_test(test_exposition),
	    cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
