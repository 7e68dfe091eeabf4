/* policy_test.c: policy loading (every error path), approvals, freezes and replica limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog.h"
#include "policy.h"
#include "timeutil.h"

static const char *const cat_text =
    "[action low1]\ndescription = d\nrun = scripts/actions/x.sh\nrisk = low\nidempotent = yes\n"
    "[action med1]\ndescription = d\nrun = scripts/actions/x.sh\nrisk = medium\nidempotent = yes\n"
    "[action high1]\ndescription = d\nrun = scripts/actions/x.sh\nrisk = high\nidempotent = no\n"
    "[action db1]\ndescription = d\nrun = scripts/actions/x.sh\nrisk = high\nidempotent = no\n";

#define PEOPLE                                                                                     \
	"[person al]\nslack = UAL\ndiscord = 100001\n[person bo]\nslack = UBO\n"                   \
	"[person cy]\ndiscord = 100003\n[group ops]\nmembers = al, bo, cy\n"

static struct catalog *cat_get(void)
{
	struct catalog *c = NULL;
	char err[512];
	if (catalog_parse("a.conf", cat_text, &c, err, sizeof(err)) < 0)
		fail_msg("catalog fixture: %s", err);
	return c;
}

static void test_shipped_policy(void **state)
{
	(void)state;
	struct catalog *c = NULL;
	struct policy *p = NULL;
	char err[512];
	if (catalog_load("config/actions.conf", &c, err, sizeof(err)) < 0)
		fail_msg("catalog: %s", err);
	if (policy_load("config/policy.conf", c, &p, err, sizeof(err)) < 0)
		fail_msg("config/policy.conf: got %s want ok", err);
	struct policy_approval ap;
	policy_approval_for(p, catalog_find(c, "failover_database"), &ap);
	if (!ap.required || ap.distinct != 2 || ap.requester_may_approve)
		fail_msg("failover_database: got required=%d distinct=%d requester=%d want 1 2 0",
		         ap.required, ap.distinct, ap.requester_may_approve);
	policy_approval_for(p, catalog_find(c, "clear_cache"), &ap);
	if (ap.required)
		fail_msg("clear_cache (low): got required want auto");
	policy_free(p);
	catalog_free(c);
}

static void test_errors_name_line(void **state)
{
	(void)state;
	static const struct {
		const char *name, *text, *want;
	} cases[] = {
	    {"syntax", "[policy\n", "p.conf:1: section header"},
	    {"unknown section", "[polcy]\nauto = low1\n", "p.conf:2: unknown section [polcy]"},
	    {"unknown key", PEOPLE "[policy]\napprovers = ops\ncolour = red\n",
	     "p.conf:12: unknown key \"colour\" in [policy]"},
	    {"auto unknown", PEOPLE "[policy]\napprovers = ops\nauto = low1, nuke\n",
	     "p.conf:12: unknown action \"nuke\""},
	    {"auto_risk", PEOPLE "[policy]\napprovers = ops\nauto_risk = tiny\n",
	     "p.conf:12: auto_risk must be none, low, medium or high"},
	    {"no approvers", "[policy]\nauto_risk = low\n",
	     "action med1 needs approval but no approvers are set"},
	    {"approver unknown", PEOPLE "[policy]\napprovers = ops, zed\n",
	     "p.conf:11: approver \"zed\" is neither"},
	    {"person no id", "[person al]\n[policy]\napprovers = al\n", "p.conf: [person al]"},
	    {"person empty ids", "[person al]\nemail = a@b\n", "needs a slack or discord user id"},
	    {"unix account", "[person al]\nunix = -rf\n", "p.conf:2: unix must be a local account"},
	    {"dup unix", "[person al]\nunix = al\n[person bo]\nunix = al\n",
	     "p.conf:4: unix account al already belongs to al"},
	    {"slack id", "[person al]\nslack = u-al\n", "p.conf:2: slack user id must be"},
	    {"discord id", "[person al]\ndiscord = abc\n", "p.conf:2: discord user id must be"},
	    {"dup slack", "[person al]\nslack = UX\n[person bo]\nslack = UX\n",
	     "p.conf:4: slack id UX already belongs to al"},
	    {"group member", PEOPLE "[group g2]\nmembers = al, zed\n",
	     "p.conf:11: member \"zed\" is not a [person]"},
	    {"group empty", PEOPLE "[group g2]\nmembers =\n", "a group needs members"},
	    {"group is person", PEOPLE "[group al]\nmembers = bo\n",
	     "al is both a person and a group"},
	    {"distinct range", PEOPLE "[policy]\napprovers = ops\ndistinct_approvers = 0\n",
	     "p.conf:12: distinct_approvers"},
	    {"distinct too many", PEOPLE "[policy]\napprovers = al\ndistinct_approvers = 2\n",
	     "p.conf:12: distinct_approvers is 2 but only 1 people can approve"},
	    {"expiry", PEOPLE "[policy]\napprovers = ops\napproval_expiry = 30d\n",
	     "p.conf:12: approval_expiry must be"},
	    {"requester", PEOPLE "[policy]\napprovers = ops\nrequester_may_approve = perhaps\n",
	     "p.conf:12:"},
	    {"timezone", PEOPLE "[policy]\napprovers = ops\ntimezone = Mars/Olympus\n",
	     "p.conf:12: unknown time zone"},
	    {"approval target",
	     PEOPLE "[policy]\napprovers = ops\n[approval nuke]\napprovers = al\n",
	     "p.conf:13: [approval nuke]: not a risk"},
	    {"freeze days", PEOPLE "[policy]\napprovers = ops\n[freeze f]\ndays = funday\n",
	     "p.conf:13: days must be"},
	    {"freeze no days",
	     PEOPLE "[policy]\napprovers = ops\n[freeze f]\nhours = 10:00-12:00\n",
	     "[freeze f]: a freeze needs days"},
	    {"freeze hours",
	     PEOPLE "[policy]\napprovers = ops\n[freeze f]\ndays = *\nhours = 9-5\n",
	     "p.conf:14: hours must be HH:MM-HH:MM"},
	    {"freeze hours 25",
	     PEOPLE "[policy]\napprovers = ops\n[freeze f]\ndays = *\n"
	            "hours = 10:00-25:00\n",
	     "p.conf:14: hours must be"},
	    {"freeze tz",
	     PEOPLE "[policy]\napprovers = ops\n[freeze f]\ndays = *\ntimezone = ../etc\n",
	     "p.conf:14: unknown time zone"},
	    {"freeze risk",
	     PEOPLE "[policy]\napprovers = ops\n[freeze f]\ndays = *\nmin_risk = big\n",
	     "p.conf:14: min_risk must be"},
	    {"freeze action",
	     PEOPLE "[policy]\napprovers = ops\n[freeze f]\ndays = *\nactions = nuke\n",
	     "p.conf:14: unknown action \"nuke\""},
	    {"freeze except",
	     PEOPLE "[policy]\napprovers = ops\n[freeze f]\ndays = *\nexcept = nuke\n",
	     "p.conf:14: unknown action \"nuke\""},
	    {"freeze key", PEOPLE "[policy]\napprovers = ops\n[freeze f]\ndays = *\nwhen = now\n",
	     "p.conf:14: unknown key \"when\" in [freeze f]"},
	    {"replicas", PEOPLE "[policy]\napprovers = ops\n[replicas]\ndefault = 5..2\n",
	     "p.conf:13: replica limit must be MIN..MAX"},
	    {"replicas words", PEOPLE "[policy]\napprovers = ops\n[replicas]\napi = a..b\n",
	     "p.conf:13: replica limit"},
	    {"secret", "[policy]\nslack_token = xoxb-1\n",
	     "p.conf:2: slack_token looks like a secret"},
	};
	struct catalog *c = cat_get();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy *p = NULL;
		char err[512] = "";
		if (policy_parse("p.conf", cases[i].text, c, &p, err, sizeof(err)) == 0) {
			policy_free(p);
			fail_msg("case %s: got ok want error containing %s", cases[i].name,
			         cases[i].want);
		}
		if (!strstr(err, cases[i].want))
			fail_msg("case %s: got '%s' want it to contain '%s'", cases[i].name, err,
			         cases[i].want);
	}
	catalog_free(c);
}

static void test_approvals(void **state)
{
	(void)state;
	struct catalog *c = cat_get();
	struct policy *p = NULL;
	char err[512];
	const char *text = PEOPLE "[group leads]\nmembers = al, cy\n"
	                          "[policy]\napprovers = ops\nauto = med1\nauto_risk = low\n"
	                          "requester_may_approve = yes\n"
	                          "[approval high]\napprovers = leads\ndistinct_approvers = 2\n"
	                          "requester_may_approve = no\napproval_expiry = 5m\n"
	                          "[approval db1]\napprovers = bo\ndistinct_approvers = 1\n";
	if (policy_parse("p.conf", text, c, &p, err, sizeof(err)) < 0)
		fail_msg("policy: %s", err);
	static const struct {
		const char *action;
		int required, distinct, requester;
		int64_t expiry;
	} want[] = {
	    {"low1", 0, 1, 1, 1800000},
	    {"med1", 0, 1, 1, 1800000},
	    {"high1", 1, 2, 0, 300000},
	    {"db1", 1, 1, 0, 300000}, /* inherits the high rule's expiry and requester */
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct policy_approval ap;
		policy_approval_for(p, catalog_find(c, want[i].action), &ap);
		if (ap.required != want[i].required || ap.distinct != want[i].distinct ||
		    ap.requester_may_approve != want[i].requester || ap.expiry_ms != want[i].expiry)
			fail_msg("%s: got required=%d distinct=%d requester=%d expiry=%lld want "
			         "%d %d %d %lld",
			         want[i].action, ap.required, ap.distinct, ap.requester_may_approve,
			         (long long)ap.expiry_ms, want[i].required, want[i].distinct,
			         want[i].requester, (long long)want[i].expiry);
	}
	static const struct {
		const char *action, *surface, *user, *requester;
		int may;
	} who[] = {
	    {"high1", "slack", "UAL", NULL, 1},
	    {"high1", "discord", "100003", NULL, 1},
	    {"high1", "slack", "UBO", NULL, 0},
	    {"high1", "slack", "UAL", "UAL", 0},
	    {"high1", "slack", "UNOBODY", NULL, 0},
	    {"db1", "slack", "UBO", NULL, 1},
	    {"db1", "discord", "100001", NULL, 0},
	    {"med1", "slack", "UBO", "UBO", 1},
	    {"high1", "discord", "UAL", NULL, 0},
	    /* ids of different surfaces never match here: the queue compares persons */
	    {"high1", "discord", "100001", "UAL", 1},
	};
	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		char why[256] = "";
		int may = policy_may_approve(p, catalog_find(c, who[i].action), who[i].surface,
		                             who[i].user, who[i].requester, why, sizeof(why));
		if (may != who[i].may)
			fail_msg("may_approve %s %s:%s: got %d (%s) want %d", who[i].action,
			         who[i].surface, who[i].user, may, why, who[i].may);
	}
	/* Persons: a local account maps like a chat id; the requester rule is per person. */
	const char *al = policy_person_of(p, "discord", "100001");
	assert_string_equal(al, "al");
	assert_null(policy_person_of(p, "unix", "al"));
	assert_null(policy_person_of(p, "irc", "UAL"));
	struct policy_approval ap;
	char why[256];
	policy_approval_for(p, catalog_find(c, "high1"), &ap);
	assert_int_equal(policy_person_may_approve(p, &ap, "high1", "al", "al", why, sizeof(why)),
	                 0);
	assert_non_null(strstr(why, "opened this incident"));
	assert_int_equal(policy_person_may_approve(p, &ap, "high1", "al", "cy", why, sizeof(why)),
	                 1);
	assert_int_equal(policy_person_may_approve(p, &ap, "high1", "bo", NULL, why, sizeof(why)),
	                 0);
	assert_non_null(strstr(why, "bo is not an approver for high1 (rule approval high)"));
	policy_default_approval(p, &ap);
	assert_int_equal(ap.distinct, 1);
	assert_int_equal(policy_person_may_approve(p, &ap, "x", "bo", "bo", why, sizeof(why)), 1);
	policy_free(p);
	catalog_free(c);

	/* unix = names a local account */
	c = cat_get();
	if (policy_parse("p.conf",
	                 "[person al]\nunix = alice\nslack = UAL\n[policy]\napprovers = al\n", c,
	                 &p, err, sizeof(err)) < 0)
		fail_msg("unix policy: %s", err);
	assert_string_equal(policy_person_of(p, "unix", "alice"), "al");
	assert_null(policy_person_of(p, "unix", "UAL"));
	policy_free(p);
	catalog_free(c);
}

static int64_t at(const char *iso)
{
	int64_t ms = 0;
	if (time_parse_iso(iso, &ms) < 0)
		fail_msg("fixture time %s does not parse", iso);
	return ms;
}

static void test_freeze_and_replicas(void **state)
{
	(void)state;
	struct catalog *c = cat_get();
	struct policy *p = NULL;
	char err[512];
	const char *text =
	    PEOPLE "[policy]\napprovers = ops\n"
	           "[freeze fri]\ndays = fri\nhours = 15:00-24:00\n"
	           "timezone = Europe/Berlin\nmin_risk = medium\nexcept = db1\n"
	           "[freeze night]\ndays = sat-sun\nhours = 22:00-06:00\nactions = low1\n"
	           "[freeze weekend]\ndays = sat-sun\nactions = db1\n"
	           "[replicas]\ndefault = 1..20\ncheckout = 2..30\n";
	if (policy_parse("p.conf", text, c, &p, err, sizeof(err)) < 0)
		fail_msg("policy: %s", err);
	/* 2026-11-20 is a Friday; Berlin is UTC+1 in November */
	/* ends: when the window that covers `when` ends (following days that continue it) */
	static const struct {
		const char *action, *when;
		int frozen;
		const char *ends;
	} cases[] = {
	    {"med1", "2026-11-20T13:59:00Z", 0, NULL},
	    {"med1", "2026-11-20T14:00:00Z", 1, "2026-11-20T23:00:00Z"},
	    {"high1", "2026-11-20T22:59:30Z", 1, "2026-11-20T23:00:00Z"},
	    {"high1", "2026-11-20T23:00:00Z", 0, NULL},
	    {"low1", "2026-11-20T15:00:00Z", 0, NULL},
	    {"db1", "2026-11-20T15:00:00Z", 0, NULL},
	    {"med1", "2026-11-19T15:00:00Z", 0, NULL},
	    {"low1", "2026-11-21T23:00:00Z", 1, "2026-11-22T06:00:00Z"},
	    {"low1", "2026-11-22T05:59:00Z", 1, "2026-11-22T06:00:00Z"},
	    {"low1", "2026-11-23T05:00:00Z", 1, "2026-11-23T06:00:00Z"},
	    {"low1", "2026-11-23T06:00:00Z", 0, NULL},
	    {"low1", "2026-11-21T05:00:00Z", 0, NULL},
	    {"db1", "2026-11-21T10:00:00Z", 1, "2026-11-23T00:00:00Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_freeze_hit hit = {0};
		int f = policy_frozen(p, catalog_find(c, cases[i].action), at(cases[i].when), &hit);
		if (f != cases[i].frozen)
			fail_msg("freeze %s at %s: got %d (%s) want %d", cases[i].action,
			         cases[i].when, f, hit.name ? hit.name : "-", cases[i].frozen);
		if (f && hit.ends_ms != at(cases[i].ends))
			fail_msg("freeze %s at %s: ends %lld, want %s (%lld)", cases[i].action,
			         cases[i].when, (long long)hit.ends_ms, cases[i].ends,
			         (long long)at(cases[i].ends));
	}
	int64_t lo, hi;
	if (policy_replicas(p, "checkout", &lo, &hi) < 0 || lo != 2 || hi != 30)
		fail_msg("replicas checkout: got %lld..%lld want 2..30", (long long)lo,
		         (long long)hi);
	if (policy_replicas(p, "api", &lo, &hi) < 0 || lo != 1 || hi != 20)
		fail_msg("replicas api: got %lld..%lld want 1..20", (long long)lo, (long long)hi);
	policy_free(p);
	catalog_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_policy),
	    cmocka_unit_test(test_errors_name_line),
	    cmocka_unit_test(test_approvals),
	    cmocka_unit_test(test_freeze_and_replicas),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
