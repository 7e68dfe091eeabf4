/* sig_test.c: the stop signals reach the handler; SIGPIPE does not kill. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sig.h"

static volatile sig_atomic_t got;

static void on_stop(int sig)
{
	got = sig;
}

static void test_stop_signals(void **state)
{
	(void)state;
	sig_on_stop(on_stop, 0);
	got = 0;
	raise(SIGTERM);
	assert_int_equal(got, SIGTERM);
	got = 0;
	raise(SIGINT);
	assert_int_equal(got, SIGINT);
	got = 0;
	raise(SIGPIPE); /* ignored: the test goes on */
	assert_int_equal(got, 0);
}

static void test_hup(void **state)
{
	(void)state;
	signal(SIGHUP, SIG_IGN);
	sig_on_stop(on_stop, 0);
	got = 0;
	raise(SIGHUP); /* left as it was */
	assert_int_equal(got, 0);
	sig_on_stop(on_stop, 1);
	raise(SIGHUP);
	assert_int_equal(got, SIGHUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stop_signals),
	    cmocka_unit_test(test_hup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
