/* daemons_test.c: command-line splitting and the [daemons] table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemons.h"

static void test_split(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc;
		size_t argc;
		const char *want[4];
	} cases[] = {
	    {"opsbot-queue", 0, 1, {"opsbot-queue"}},
	    {"  opsbot-detect   --watch ", 0, 2, {"opsbot-detect", "--watch"}},
	    {"w \"two words\" x", 0, 3, {"w", "two words", "x"}},
	    {"w a\"b c\"d", 0, 2, {"w", "ab cd"}},
	    {"w \"\"", 0, 2, {"w", ""}},
	    {"", -1, 0, {NULL}},
	    {"   ", -1, 0, {NULL}},
	    {"w \"open", -1, 0, {NULL}},
	    {"a b c d e", -1, 0, {NULL}}, /* more than max (4) */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *w[4];
		size_t n = 0;
		char err[128] = "";
		int rc = daemons_split(cases[i].in, w, 4, &n, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc got %d want %d (%s)", i, cases[i].in, rc,
			         cases[i].rc, err);
		if (rc < 0) {
			if (!err[0])
				fail_msg("case %zu: no error message", i);
			continue;
		}
		if (n != cases[i].argc)
			fail_msg("case %zu: argc got %zu want %zu", i, n, cases[i].argc);
		for (size_t k = 0; k < n; k++) {
			if (strcmp(w[k], cases[i].want[k]) != 0)
				fail_msg("case %zu word %zu: got '%s' want '%s'", i, k, w[k],
				         cases[i].want[k]);
			free(w[k]);
		}
	}
}

static void test_load(void **state)
{
	(void)state;
	static const char text[] = "[queue]\nlisten = ipc://x\n"
	                           "[daemons]\n"
	                           "queue = opsbot-queue\n"
	                           "detect = opsbot-detect --watch\n"
	                           "tool = /opt/x/tool \"a b\"\n";
	struct config *cfg;
	char err[256];
	assert_int_equal(config_parse("t.conf", text, &cfg, err, sizeof(err)), 0);
	struct daemon_spec *d;
	size_t n;
	daemons_load(cfg, "/bin/dir", "/etc/o.conf", &d, &n);
	config_str(cfg, "queue", "listen", NULL);
	if (config_check(cfg, (const char *const[]){"daemons", NULL}, err, sizeof(err)) < 0)
		fail_msg("check: got error %s want none", err);
	assert_int_equal(n, 3);
	static const char *const want[3][6] = {
	    {"/bin/dir/opsbot-queue", "-c", "/etc/o.conf", NULL},
	    {"/bin/dir/opsbot-detect", "-c", "/etc/o.conf", "--watch", NULL},
	    {"/opt/x/tool", "-c", "/etc/o.conf", "a b", NULL},
	};
	static const char *const names[3] = {"queue", "detect", "tool"};
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(d[i].name, names[i]) != 0)
			fail_msg("entry %zu: name got %s want %s", i, d[i].name, names[i]);
		for (size_t k = 0; want[i][k]; k++)
			if (!d[i].argv[k] || strcmp(d[i].argv[k], want[i][k]) != 0)
				fail_msg("entry %zu argv[%zu]: got %s want %s", i, k,
				         d[i].argv[k] ? d[i].argv[k] : "(null)", want[i][k]);
	}
	assert_int_equal(d[1].line, 5);
	daemons_free(d, n);
	config_free(cfg);
}

static void test_load_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want; /* substring of the config_check error */
	} cases[] = {
	    {"[daemons]\nq = a\nq = b\n", "t.conf:3: q: listed twice"},
	    {"[daemons]\nBad.Name = a\n", "t.conf:2: Bad.Name: a daemon name"},
	    {"[daemons]\nx = \"open\n", "unterminated"}, /* the config parser's own error */
	    {"[daemons]\nx = a \"b\n", "t.conf:2: x: unclosed double quote"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *cfg;
		char err[256] = "";
		if (config_parse("t.conf", cases[i].text, &cfg, err, sizeof(err)) < 0) {
			if (!strstr(err, cases[i].want))
				fail_msg("case %zu: parse error got '%s' want '%s'", i, err,
				         cases[i].want);
			continue;
		}
		struct daemon_spec *d;
		size_t n;
		daemons_load(cfg, "/b", "/c", &d, &n);
		int rc =
		    config_check(cfg, (const char *const[]){"daemons", NULL}, err, sizeof(err));
		if (rc != -1 || !strstr(err, cases[i].want))
			fail_msg("case %zu: got rc=%d err='%s' want -1 with '%s'", i, rc, err,
			         cases[i].want);
		daemons_free(d, n);
		config_free(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_load_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
