/* config_test.c: config parsing, typed getters and line-numbered errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want; /* substring of the error */
	} cases[] = {
	    {"key = 1\n", "t.conf:1: key \"key\" is outside any [section]"},
	    {"[a]\n\n[b\nx=1\n", "t.conf:3: section header needs a closing ']'"},
	    {"[a]\njust words\n", "t.conf:2: expected 'key = value'"},
	    {"[a]\n = 3\n", "t.conf:2: missing key"},
	    {"[a]\nx = \"open\n", "t.conf:2: unterminated quoted value"},
	    {"[slack]\nbot_token = xoxb-123\n", "t.conf:2: bot_token looks like a secret"},
	    {"[a]\nbad key = 1\n", "t.conf:2: key \"bad key\" may hold only"},
	    {"[]\n", "t.conf:1: empty section name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = NULL;
		char err[512] = "";
		int rc = config_parse("t.conf", cases[i].text, &c, err, sizeof(err));
		if (rc != -1 || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got rc=%d err=%s, want error containing %s", i, rc, err,
			         cases[i].want);
	}
}

/* A typo'd section, a key set twice: errors with file:line, not defaults. */
static void test_unknown_section_duplicate_key(void **state)
{
	(void)state;
	struct config *c = NULL;
	char err[512] = "";
	assert_int_equal(config_parse("t.conf", "[queue]\nlisten = a\n\n[slak]\nenabled = yes\n",
	                              &c, err, sizeof(err)),
	                 0);
	config_str(c, "queue", "listen", NULL);
	assert_int_equal(config_check(c, (const char *const[]){"queue", NULL}, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:4: unknown section [slak]"));
	config_free(c);

	/* a section the caller owns is known even when not in the global list */
	assert_int_equal(config_parse("t.conf", "[newworker]\nx = 1\n", &c, err, sizeof(err)), 0);
	config_str(c, "newworker", "x", NULL);
	assert_int_equal(
	    config_check(c, (const char *const[]){"newworker", NULL}, err, sizeof(err)), 0);
	config_free(c);

	assert_int_equal(config_parse("t.conf",
	                              "[http]\nlisten = a:1\nmax_body = 10\nlisten = b:2\n", &c,
	                              err, sizeof(err)),
	                 0);
	assert_string_equal(config_str(c, "http", "listen", NULL), "a:1");
	assert_int_equal(config_check(c, (const char *const[]){"http", NULL}, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "t.conf:4: listen is set twice in [http] (first at line 2)"));
	config_free(c);

	assert_int_equal(
	    config_parse("t.conf", "[queue]\nx = 1\n[bot]\n[queue]\ny = 2\n", &c, err, sizeof(err)),
	    0);
	config_str(c, "queue", "x", NULL);
	config_str(c, "queue", "y", NULL);
	assert_int_equal(
	    config_check(c, (const char *const[]){"queue", "bot", NULL}, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.conf:4: section [queue] appears again (first at line 1)"));
	config_free(c);
}

static void test_typed_getters(void **state)
{
	(void)state;
	const char *text = "# opsbot\n"
	                   "[queue]\n"
	                   "listen = ipc:///tmp/q.ipc   # comment after value\n"
	                   "lease = 30s\n"
	                   "attempts = 5\n"
	                   "sync = yes\n"
	                   "name = \"a # not a comment\"\n"
	                   "[daemons]\n"
	                   "queue = opsbot-queue\n"
	                   "detect = opsbot-detect -v\n"
	                   "[source prom]\n"
	                   "url = http://x\n"
	                   "[source files]\n"
	                   "path = a.csv\n";
	struct config *c;
	char err[256];
	assert_int_equal(config_parse("t.conf", text, &c, err, sizeof(err)), 0);
	assert_string_equal(config_str(c, "queue", "listen", NULL), "ipc:///tmp/q.ipc");
	assert_int_equal(config_duration_ms(c, "queue", "lease", 0), 30000);
	assert_int_equal(config_int(c, "queue", "attempts", 0, 1, 10), 5);
	assert_int_equal(config_bool(c, "queue", "sync", 0), 1);
	assert_string_equal(config_str(c, "queue", "name", NULL), "a # not a comment");
	assert_int_equal(config_int(c, "queue", "missing", 7, 0, 10), 7);
	const char *names[4];
	assert_int_equal(config_sections_of(c, "source", names, 4), 2);
	assert_string_equal(names[0], "prom");
	assert_string_equal(names[1], "files");
	size_t n;
	const struct config_entry *e = config_entries(c, &n);
	int daemons = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].section, "daemons") == 0)
			daemons++;
	assert_int_equal(daemons, 2);
	assert_int_equal(config_check(c, (const char *[]){"queue", NULL}, err, sizeof(err)), 0);
	config_free(c);
}

static void test_bad_values_name_line(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"[q]\n\nattempts = many\n", "t.conf:3: attempts: \"many\" is not a whole number"},
	    {"[q]\nattempts = 500\n", "t.conf:2: attempts: 500 is outside 1..10"},
	    {"[q]\nlease = soon\n", "t.conf:2: lease: \"soon\" is not a duration"},
	    {"[q]\nsync = maybe\n", "t.conf:2: sync: \"maybe\" is not yes or no"},
	    {"[q]\nmode = fast\n", "t.conf:2: mode: \"fast\" is not one of: full, normal"},
	    {"[q]\nattempts = 3\ntypo = 1\n", "t.conf:3: unknown key \"typo\" in [q]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c;
		char err[512] = "";
		assert_int_equal(config_parse("t.conf", cases[i].text, &c, err, sizeof(err)), 0);
		config_int(c, "q", "attempts", 1, 1, 10);
		config_duration_ms(c, "q", "lease", 1);
		config_bool(c, "q", "sync", 1);
		config_enum(c, "q", "mode", (const char *const[]){"full", "normal", NULL}, 0);
		int rc = config_check(c, (const char *[]){"q", NULL}, err, sizeof(err));
		if (rc != -1 || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got rc=%d err=%s, want %s", i, rc, err, cases[i].want);
		config_free(c);
	}
}

static void test_secret_from_env(void **state)
{
	(void)state;
	setenv("OPSBOT_TEST_SECRET", "s3cr3t-value", 1);
	assert_string_equal(config_secret("OPSBOT_TEST_SECRET"), "s3cr3t-value");
	unsetenv("OPSBOT_TEST_SECRET");
	assert_null(config_secret("OPSBOT_TEST_SECRET"));
	/* An empty secret key in the file is allowed (it documents the variable). */
	struct config *c;
	char err[256];
	assert_int_equal(config_parse("t.conf", "[slack]\nbot_token =\n", &c, err, sizeof(err)), 0);
	config_free(c);
	/* Keys that only mention a secret word are ordinary settings. */
	static const struct {
		const char *text;
		int rc;
	} names[] = {
	    {"[llm]\ntoken_budget = 4000\n", 0}, {"[x]\nsecret_file = /etc/x\n", 0},
	    {"[x]\napi_key = k\n", -1},          {"[x]\nsmtp_password = p\n", -1},
	    {"[x]\nsigning-secret = s\n", -1},   {"[x]\nTOKEN = t\n", -1},
	    {"[x]\nmax_tokens = 10\n", 0},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		c = NULL;
		int rc = config_parse("t.conf", names[i].text, &c, err, sizeof(err));
		if (rc != names[i].rc)
			fail_msg("%s: got rc=%d want %d (%s)", names[i].text, rc, names[i].rc, err);
		config_free(c);
	}
}

static void test_durations(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t want;
	} ok[] = {{"250ms", 250},   {"30s", 30000}, {"5m", 300000}, {"2h", 7200000},
	          {"1d", 86400000}, {"1.5s", 1500}, {"10", 10000}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t got = -1;
		if (config_parse_duration_ms(ok[i].in, &got) != 0 || got != ok[i].want)
			fail_msg("%s: got %lld want %lld", ok[i].in, (long long)got,
			         (long long)ok[i].want);
	}
	int64_t x;
	assert_int_equal(config_parse_duration_ms("5 minutes", &x), -1);
	assert_int_equal(config_parse_duration_ms("-1s", &x), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_typed_getters),
	    cmocka_unit_test(test_unknown_section_duplicate_key),
	    cmocka_unit_test(test_bad_values_name_line),
	    cmocka_unit_test(test_secret_from_env),
	    cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
