/*
 * route_test.c: routes pick the first matching channel by service pattern
 * and severity; bad lines are refused with a reason; the config's route
 * lines load in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "route.h"

static void test_pick(void **state)
{
	(void)state;
	struct route_table *t = route_new();
	char err[200];
	assert_int_equal(route_add(t, "C0SEV1 * severity>=critical", err, sizeof err), 0);
	assert_int_equal(route_add(t, "C0PAY  payments-* checkout", err, sizeof err), 0);
	assert_int_equal(route_add(t, "C0DATA db-? kafka-*", err, sizeof err), 0);
	assert_int_equal(route_count(t), 3);
	assert_string_equal(route_pick(t, "payments-api", "high"), "C0PAY");
	assert_string_equal(route_pick(t, "checkout", "medium"), "C0PAY");
	assert_null(route_pick(t, "checkout-web", "medium"));
	assert_string_equal(route_pick(t, "db-1", "low"), "C0DATA");
	assert_null(route_pick(t, "db-12", "low"));
	/* the first match wins: a critical incident goes to the sev1 channel */
	assert_string_equal(route_pick(t, "payments-api", "critical"), "C0SEV1");
	assert_string_equal(route_pick(t, "payments-api", "CRITICAL"), "C0SEV1");
	/* no service, or an unknown severity, only matches what does not need it */
	assert_null(route_pick(t, NULL, "high"));
	assert_string_equal(route_pick(t, NULL, "critical"), "C0SEV1");
	assert_string_equal(route_pick(t, "payments-api", "bogus"), "C0PAY");
	assert_null(route_pick(NULL, "payments-api", "high"));
	route_free(t);
}

static void test_bad(void **state)
{
	(void)state;
	struct route_table *t = route_new();
	char err[200];
	assert_int_equal(route_add(t, "C0ONLY", err, sizeof err), -1);
	assert_non_null(strstr(err, "route = CHANNEL"));
	assert_int_equal(route_add(t, "", err, sizeof err), -1);
	assert_int_equal(route_add(t, "C0X svc severity>=urgent", err, sizeof err), -1);
	assert_non_null(strstr(err, "critical, high"));
	assert_int_equal(route_count(t), 0);
	route_free(t);
}

static void test_config(void **state)
{
	(void)state;
	struct config *cfg;
	char err[256];
	assert_int_equal(config_parse("t.conf",
	                              "[slack]\n"
	                              "route = C0A a-*\n"
	                              "route = C0B b-* severity>=nope\n"
	                              "route = C0C *\n",
	                              &cfg, err, sizeof err),
	                 0);
	struct route_table *t = route_load(cfg, "slack");
	assert_int_equal(route_count(t), 2);
	assert_string_equal(route_pick(t, "a-1", NULL), "C0A");
	assert_string_equal(route_pick(t, "b-1", NULL), "C0C");
	assert_int_equal(config_check(cfg, (const char *[]){"slack", NULL}, err, sizeof err), -1);
	assert_non_null(strstr(err, "severity>=nope"));
	route_free(t);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pick),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
