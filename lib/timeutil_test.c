/* timeutil_test.c: RFC 3339 parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timeutil.h"

static void test_parse_iso(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		int64_t want;
	} cases[] = {
	    {"1970-01-01T00:00:00Z", 0, 0},
	    {"2026-11-21T04:50:00.123Z", 0, 1795236600123},
	    {"2026-11-21T05:50:00.123+01:00", 0, 1795236600123},
	    {"2026-11-21T04:50:00.123456789Z", 0, 1795236600123},
	    {"2014-02-19 10:50:00", 0, 1392807000000},
	    {"2026-13-01T00:00:00Z", -1, 0},
	    {"yesterday", -1, 0},
	    {"2026-11-21T04:50:00Zjunk", -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = 0;
		int rc = time_parse_iso(cases[i].in, &got);
		if (rc != cases[i].rc || (rc == 0 && got != cases[i].want))
			fail_msg("%s: got rc=%d ms=%lld, want rc=%d ms=%lld", cases[i].in, rc,
			         (long long)got, cases[i].rc, (long long)cases[i].want);
	}
}

static void test_fmt_roundtrip(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(time_fmt_iso(1795236600123, buf, sizeof(buf)),
	                    "2026-11-21T04:50:00.123Z");
	int64_t back;
	assert_int_equal(time_parse_iso(buf, &back), 0);
	assert_int_equal(back, 1795236600123);
}

static void test_deadline(void **state)
{
	(void)state;
	int64_t before = time_now_ms();
	for (int64_t ms = 0; ms < 5000; ms += 333) {
		struct timespec ts = time_deadline(ms);
		assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
		int64_t at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		assert_true(at >= before + ms);
		assert_true(at <= time_now_ms() + ms);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_iso),
	    cmocka_unit_test(test_fmt_roundtrip),
	    cmocka_unit_test(test_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
