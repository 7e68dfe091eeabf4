/* runbook_test.c: front matter, section splitting, and file:line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runbook.h"

#define FM "---\ntitle: T\nsymptoms: s\nactions: restart_service\n---\n"

static const char *const catalog[] = {"restart_service", "scale_service", NULL};

static void test_sections(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		size_t nsections;
		const char *names; /* "|"-joined */
		const char *lines; /* "|"-joined */
		const char *first; /* text of the first section */
	} cases[] = {
	    {FM "intro\n## A\na\n## B\nb\n", 3, "Overview|A|B|", "6|7|9|", "intro"},
	    {FM "## A\na\n", 1, "A|", "6|", "a"},
	    {FM "", 1, "Overview|", "6|", ""},
	    {FM "x\n```\n## not a heading\n```\n## Real\ny\n", 2, "Overview|Real|", "6|10|",
	     "x\n```\n## not a heading\n```"},
	    {FM "###  deeper heading stays\n## H2 \n", 2, "Overview|H2|", "6|7|",
	     "###  deeper heading stays"},
	    {"---\r\ntitle: T\r\nsymptoms: s\r\nactions: restart_service\r\n---\r\n## W\r\nw\r\n",
	     1, "W|", "6|", "w"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct runbook rb;
		char err[256] = "", names[256] = "", lines[256] = "";
		int rc = runbook_parse("k/x.md", cases[i].text, strlen(cases[i].text), catalog, &rb,
		                       err, sizeof(err));
		if (rc != 0)
			fail_msg("case %zu: got rc=%d err=%s, want success", i, rc, err);
		for (size_t s = 0; s < rb.nsections; s++) {
			char l[16];
			snprintf(l, sizeof(l), "%d|", rb.sections[s].line);
			strncat(names, rb.sections[s].name, sizeof(names) - strlen(names) - 2);
			strncat(names, "|", sizeof(names) - strlen(names) - 1);
			strncat(lines, l, sizeof(lines) - strlen(lines) - 1);
		}
		if (rb.nsections != cases[i].nsections || strcmp(names, cases[i].names) != 0 ||
		    strcmp(lines, cases[i].lines) != 0 ||
		    strcmp(rb.sections[0].text, cases[i].first) != 0)
			fail_msg("case %zu: got %zu sections names=%s lines=%s first=%s; want %zu "
			         "names=%s lines=%s first=%s",
			         i, rb.nsections, names, lines, rb.sections[0].text,
			         cases[i].nsections, cases[i].names, cases[i].lines,
			         cases[i].first);
		runbook_free(&rb);
	}
}

static void test_front_matter(void **state)
{
	(void)state;
	const char *text = "---\n# a comment\ntitle:  High latency \nservices: api, web\n"
	                   "symptoms: slow, p99\nactions: restart_service, scale_service\n---\nx\n";
	struct runbook rb;
	char err[256];
	assert_int_equal(runbook_parse("x.md", text, strlen(text), catalog, &rb, err, sizeof(err)),
	                 0);
	assert_string_equal(rb.title, "High latency");
	assert_string_equal(rb.services, "api, web");
	assert_string_equal(rb.symptoms, "slow, p99");
	assert_int_equal(rb.nactions, 2);
	assert_string_equal(rb.actions[0], "restart_service");
	assert_string_equal(rb.actions[1], "scale_service");
	runbook_free(&rb);
	/* services defaults to "any"; without a catalog only spelling is checked. */
	const char *t2 = "---\ntitle: T\nsymptoms: s\nactions: made_up_action\n---\n";
	assert_int_equal(runbook_parse("y.md", t2, strlen(t2), NULL, &rb, err, sizeof(err)), 0);
	assert_string_equal(rb.services, "any");
	runbook_free(&rb);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want; /* substring of the error */
	} cases[] = {
	    {"title: T\n", "k/bad.md:1: a runbook must start with a front matter block"},
	    {"---\ntitle: T\nsymptoms: s\nactions: restart_service\n",
	     "k/bad.md:1: front matter opened here is never closed"},
	    {"---\ntitle: T\ntitel: U\n---\n", "k/bad.md:3: unknown key 'titel'"},
	    {"---\ntitle: T\ntitle: U\n---\n", "k/bad.md:3: key 'title' appears twice"},
	    {"---\ntitle: T\nsymptoms:\n---\n", "k/bad.md:3: key 'symptoms' has no value"},
	    {"---\ntitle: T\njust words\n---\n", "k/bad.md:3: expected 'key: value'"},
	    {"---\ntitle: T\nsymptoms: s\nactions: Restart-Service\n---\n",
	     "k/bad.md:4: action 'Restart-Service' is not a catalog name"},
	    {"---\ntitle: T\nsymptoms: s\nactions: restart_service, reboot_world\n---\n",
	     "k/bad.md:4: action 'reboot_world' is not in the action catalog"},
	    {"---\ntitle: T\nactions: restart_service\n---\n",
	     "k/bad.md:1: front matter lacks required key 'symptoms'"},
	    {"---\nsymptoms: s\nactions: restart_service\n---\n",
	     "k/bad.md:1: front matter lacks required key 'title'"},
	    {FM "x\n```\ncode\n", "k/bad.md:7: code fence ``` opened here is never closed"},
	    {FM "##    \n", "k/bad.md:6: section heading is empty"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct runbook rb;
		char err[256] = "";
		int rc = runbook_parse("k/bad.md", cases[i].text, strlen(cases[i].text), catalog,
		                       &rb, err, sizeof(err));
		if (rc != -1 || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got rc=%d err=%s, want error containing %s", i, rc, err,
			         cases[i].want);
	}
	/* A NUL byte is not text. */
	struct runbook rb;
	char err[256] = "";
	const char nul[] = "---\ntitle: T\0\n";
	if (runbook_parse("k/nul.md", nul, sizeof(nul) - 1, catalog, &rb, err, sizeof(err)) != -1 ||
	    !strstr(err, "k/nul.md:1: file contains a NUL byte"))
		fail_msg("NUL: got err=%s, want 'k/nul.md:1: file contains a NUL byte'", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_front_matter),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
