/*
 * episode_test.c: hysteresis and dedupe on scripted score sequences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "episode.h"

static void test_sequences(void **state)
{
	(void)state;
	const struct {
		const char *name;
		const char *scores; /* one char per point: 'h' 0.95, 'm' 0.7, 'l' 0.1 */
		const char *want;   /* one char per point: '.' none, 'O' open, 'C' close */
	} cases[] = {
	    {"one high point does not open", "lhlllll", "......."},
	    {"two in a row open once", "lhhhhhl", "..O...."},
	    {"middle scores keep it open", "hhmmmmmmhh", ".O........"},
	    {"three lows close", "hhlllhh", ".O..C.O"},
	    {"a blip inside does not close", "hhllhllhlll", ".O........C"},
	    {"flapping at the line never re-opens", "hhlmlmlm", ".O......"},
	};
	const struct episode_cfg cfg = {
	    .open_at = 0.9, .close_at = 0.5, .open_points = 2, .close_points = 3};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct episode_state e;
		episode_init(&e, &cfg);
		char got[32] = "";
		size_t n = strlen(cases[c].scores);
		for (size_t i = 0; i < n; i++) {
			char ch = cases[c].scores[i];
			double s = ch == 'h' ? 0.95 : ch == 'm' ? 0.7 : 0.1;
			int64_t start = -1;
			enum episode_event ev =
			    episode_observe(&e, "checkout", (int64_t)i * 1000, s, "lat", &start);
			got[i] = ev == EPISODE_OPEN ? 'O' : ev == EPISODE_CLOSE ? 'C' : '.';
		}
		got[n] = '\0';
		if (strcmp(got, cases[c].want) != 0)
			fail_msg("%s: got %s want %s", cases[c].name, got, cases[c].want);
	}
}

static void test_key_and_services(void **state)
{
	(void)state;
	const struct episode_cfg cfg = {
	    .open_at = 0.9, .close_at = 0.5, .open_points = 2, .close_points = 2};
	struct episode_state e;
	episode_init(&e, &cfg);
	int64_t a = 0, b = 0;
	/* Two services: independent episodes, keys carry the first high point. */
	episode_observe(&e, "a", 1000, 0.95, "x", &a);
	episode_observe(&e, "b", 1000, 0.2, "y", &b);
	assert_int_equal(episode_observe(&e, "a", 2000, 0.95, "x", &a), EPISODE_OPEN);
	assert_int_equal(episode_observe(&e, "b", 2000, 0.95, "y", &b), EPISODE_NONE);
	assert_int_equal(episode_observe(&e, "b", 3000, 0.95, "y", &b), EPISODE_OPEN);
	if (a != 1000 || b != 2000)
		fail_msg("episode starts got a=%lld b=%lld want 1000 and 2000", (long long)a,
		         (long long)b);
	char key[64];
	episode_key("a", a, key, sizeof key);
	if (strcmp(key, "watch:a:1000") != 0)
		fail_msg("key got %s want watch:a:1000", key);
	if (strcmp(e.svc[1].series, "y") != 0)
		fail_msg("peak series got '%s' want y", e.svc[1].series);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sequences),
	    cmocka_unit_test(test_key_and_services),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
