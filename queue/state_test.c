/* state_test.c: every allowed and every refused transition, and the stage paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state.h"

/* The machine of DESIGN.md written out by hand: every pair not here is refused. */
static const char *const allowed_pairs[] = {
    "open>detecting",
    "open>paused",
    "open>resolved",
    "open>failed",
    "detecting>retrieving",
    "detecting>paused",
    "detecting>resolved",
    "detecting>failed",
    "retrieving>planning",
    "retrieving>paused",
    "retrieving>resolved",
    "retrieving>failed",
    "planning>awaiting_approval",
    "planning>executing",
    "planning>paused",
    "planning>resolved",
    "planning>failed",
    "awaiting_approval>executing",
    "awaiting_approval>rejected",
    "awaiting_approval>expired",
    "awaiting_approval>paused",
    "awaiting_approval>resolved",
    "awaiting_approval>failed",
    "executing>verifying",
    "executing>paused",
    "executing>resolved",
    "executing>failed",
    "verifying>resolved",
    "verifying>failed",
    "verifying>planning",
    "verifying>paused",
    "paused>open",
    "paused>detecting",
    "paused>retrieving",
    "paused>planning",
    "paused>awaiting_approval",
    "paused>executing",
    "paused>verifying",
    "paused>resolved",
    "paused>failed",
    "failed>detecting",
    "failed>retrieving",
    "failed>planning",
    "failed>executing",
    "failed>verifying",
    "failed>resolved",
};

static int listed(const char *from, const char *to)
{
	char pair[64];
	snprintf(pair, sizeof(pair), "%s>%s", from, to);
	for (size_t i = 0; i < sizeof(allowed_pairs) / sizeof(allowed_pairs[0]); i++)
		if (!strcmp(allowed_pairs[i], pair))
			return 1;
	return 0;
}

static void test_every_transition(void **state)
{
	(void)state;
	int allowed = 0;
	for (int f = 0; f < ST_COUNT; f++) {
		for (int t = 0; t < ST_COUNT; t++) {
			const char *from = state_name((enum state_id)f),
			           *to = state_name((enum state_id)t);
			int want = listed(from, to);
			int got = state_allowed((enum state_id)f, (enum state_id)t);
			if (got != want)
				fail_msg("%s -> %s: got allowed=%d, want %d", from, to, got, want);
			allowed += got;
		}
	}
	if (allowed != (int)(sizeof(allowed_pairs) / sizeof(allowed_pairs[0])))
		fail_msg("allowed pairs: got %d, want %zu (a name in the list is misspelt)",
		         allowed, sizeof(allowed_pairs) / sizeof(allowed_pairs[0]));
	assert_int_equal(state_allowed((enum state_id) - 1, ST_OPEN), 0);
	assert_int_equal(state_allowed(ST_OPEN, ST_COUNT), 0);
}

/* Invariant 2: terminal states have no way out; every other state has one. */
static void test_terminal(void **state)
{
	(void)state;
	for (int f = 0; f < ST_COUNT; f++) {
		int exits = 0;
		for (int t = 0; t < ST_COUNT; t++)
			exits += state_allowed((enum state_id)f, (enum state_id)t);
		int term = state_terminal((enum state_id)f);
		if (term != (exits == 0))
			fail_msg("%s: got terminal=%d with %d exits, want terminal iff no exit",
			         state_name((enum state_id)f), term, exits);
	}
}

static void test_names_and_stages(void **state)
{
	(void)state;
	for (int i = 0; i < ST_COUNT; i++) {
		enum state_id s;
		if (state_parse(state_name((enum state_id)i), &s) != 0 || (int)s != i)
			fail_msg("state %d: got no round trip, want %s", i,
			         state_name((enum state_id)i));
	}
	for (int i = 0; i < STAGE_COUNT; i++) {
		enum stage_id g;
		if (state_stage_parse(state_stage_name((enum stage_id)i), &g) != 0 || (int)g != i)
			fail_msg("stage %d: got no round trip", i);
		int st = state_of_stage((enum stage_id)i);
		if (st >= 0 && state_stage_of((enum state_id)st) != i)
			fail_msg("stage %s: got state %s whose stage is %d, want %d",
			         state_stage_name((enum stage_id)i), state_name((enum state_id)st),
			         state_stage_of((enum state_id)st), i);
	}
	enum state_id s;
	assert_int_equal(state_parse("nope", &s), -1);
	assert_int_equal(state_of_stage(STAGE_REPORT), -1);
	assert_int_equal(state_working(ST_AWAITING), 0);
	assert_int_equal(state_working(ST_VERIFYING), 1);
}

#define ALL   STAGE_ALL
#define NO(g) (STAGE_ALL & ~(1u << (g)))

static void test_advance(void **state)
{
	(void)state;
	static const struct {
		enum state_id from;
		unsigned enabled;
		int needs_approval;
		const char *want; /* steps, "*" marks a skipped one */
	} cases[] = {
	    {ST_OPEN, ALL, 0, "detecting"},
	    {ST_DETECTING, ALL, 0, "retrieving"},
	    {ST_RETRIEVING, ALL, 0, "planning"},
	    {ST_PLANNING, ALL, 0, "executing"},
	    {ST_PLANNING, ALL, 1, "awaiting_approval"},
	    {ST_AWAITING, ALL, 0, "executing"},
	    {ST_EXECUTING, ALL, 0, "verifying"},
	    {ST_VERIFYING, ALL, 0, "resolved"},
	    {ST_OPEN, NO(STAGE_DETECT), 0, "*detecting retrieving"},
	    {ST_OPEN, NO(STAGE_DETECT) & NO(STAGE_RETRIEVE), 0, "*detecting *retrieving planning"},
	    {ST_RETRIEVING, NO(STAGE_PLAN), 0, "*planning executing"},
	    {ST_PLANNING, NO(STAGE_EXECUTE), 0, "*executing verifying"},
	    {ST_AWAITING, NO(STAGE_EXECUTE) & NO(STAGE_VERIFY), 0,
	     "*executing *verifying resolved"},
	    {ST_DETECTING, (1u << STAGE_DETECT) | (1u << STAGE_RETRIEVE) | (1u << STAGE_PLAN), 0,
	     "retrieving"},
	    {ST_PLANNING, (1u << STAGE_DETECT) | (1u << STAGE_RETRIEVE) | (1u << STAGE_PLAN), 0,
	     "*executing *verifying resolved"},
	    {ST_OPEN, 0, 0, "*detecting *retrieving *planning *executing *verifying resolved"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct state_path p;
		state_advance(cases[i].from, cases[i].enabled, cases[i].needs_approval, &p);
		char got[256] = "";
		size_t n = 0;
		enum state_id at = cases[i].from;
		for (int k = 0; k < p.n; k++) {
			n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s%s", k ? " " : "",
			                      p.skipped[k] ? "*" : "", state_name(p.steps[k]));
			/* Invariant 1: a path is made of allowed transitions only. */
			if (!state_allowed(at, p.steps[k]))
				fail_msg("case %zu: step %s -> %s is not allowed", i,
				         state_name(at), state_name(p.steps[k]));
			at = p.steps[k];
		}
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu from %s: got \"%s\", want \"%s\"", i,
			         state_name(cases[i].from), got, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_transition),
	    cmocka_unit_test(test_terminal),
	    cmocka_unit_test(test_names_and_stages),
	    cmocka_unit_test(test_advance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
