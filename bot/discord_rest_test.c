/* discord_rest_test.c: route keys for rate-limit buckets and gateway URL joining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "discord_gw.h"
#include "discord_rest.h"

static void test_route_keys(void **state)
{
	(void)state;
	struct {
		const char *method, *path, *want;
	} cases[] = {
	    {"POST", "/channels/123/messages", "POST /channels/123/messages"},
	    {"PATCH", "/channels/123/messages/456", "PATCH /channels/123/messages/:id"},
	    {"POST", "/channels/123/messages/456/threads",
	     "POST /channels/123/messages/:id/threads"},
	    {"PUT", "/applications/11/guilds/22/commands",
	     "PUT /applications/:id/guilds/:id/commands"},
	    {"GET", "/gateway/bot", "GET /gateway/bot"},
	    {"POST", "/interactions/99/tok_en/callback", "POST /interactions/:id/:id/callback"},
	    {"PATCH", "/webhooks/11/tok/messages/@original",
	     "PATCH /webhooks/11/tok/messages/@original"},
	    {"PATCH", "/webhooks/11/tok/messages/77", "PATCH /webhooks/11/tok/messages/:id"},
	    {"GET", "/guilds/5/channels", "GET /guilds/5/channels"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char got[200];
		discord_rest_route(cases[i].method, cases[i].path, got, sizeof got);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s %s: got %s want %s", cases[i].method, cases[i].path, got,
			         cases[i].want);
	}
}

static void test_join_url(void **state)
{
	(void)state;
	struct {
		const char *in, *want;
	} cases[] = {
	    {"wss://gateway.discord.gg/", "wss://gateway.discord.gg/?v=10&encoding=json"},
	    {"wss://gateway-us-east1-c.discord.gg",
	     "wss://gateway-us-east1-c.discord.gg/?v=10&encoding=json"},
	    {"ws://127.0.0.1:5/gateway-resume",
	     "ws://127.0.0.1:5/gateway-resume?v=10&encoding=json"},
	    {"wss://g.example/?v=9&encoding=etf", "wss://g.example/?v=10&encoding=json"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char got[300];
		discord_gw_join_url(cases[i].in, got, sizeof got);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got %s want %s", cases[i].in, got, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_route_keys),
	                                   cmocka_unit_test(test_join_url)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
