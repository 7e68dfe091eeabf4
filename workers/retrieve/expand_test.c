/* expand_test.c: query words, stop words, synonym rules from data files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "expand.h"

static char dir[] = "/tmp/opsbot-expand-test.XXXXXX";

static void write_file(const char *name, const char *text, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* "a b c" from a list of words. */
static void join(char *const *w, size_t n, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(out, " ", outlen - strlen(out) - 1);
		strncat(out, w[i], outlen - strlen(out) - 1);
	}
}

static void test_expand(void **state)
{
	(void)state;
	char syn[512], stop[512], err[256];
	write_file("syn.tsv",
	           "# comment\n"
	           "slow\tlatency\n"
	           "out of memory\tmemory oom\n"
	           "5xx\terrors\n"
	           "OOM\tmemory\n"
	           "db\tdatabase postgres\n",
	           syn, sizeof(syn));
	write_file("stop.txt", "# stop\nthe is of\nmy\n", stop, sizeof(stop));
	struct expand *e;
	if (expand_load(syn, stop, &e, err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
	assert_int_equal(expand_rule_count(e), 5);
	static const struct {
		const char *query;
		int rules;
		const char *terms, *extra, *via0;
	} cases[] = {
	    {"The checkout is SLOW", 1, "checkout slow", "latency", "slow"},
	    {"The checkout is SLOW", 0, "checkout slow", "", NULL},
	    {"worker ran out of memory", 1, "worker ran out memory", "oom", "out of memory"},
	    {"out memory", 1, "out memory", "", NULL}, /* phrase needs its words in a row */
	    {"lots of 5xx, 5xx again!", 1, "lots 5xx again", "errors", "5xx"},
	    {"my db is slow", 1, "db slow", "latency database postgres", "slow"}, /* rule order */
	    {"a", 1, "", "", NULL}, /* one-letter words are dropped */
	    {"", 1, "", "", NULL},
	    {"OOMKilled pod-7 x509", 1, "oomkilled oom killed pod x509", "memory", "OOM"},
	    /* Alert names in camel case give their parts. */
	    {"HighErrorRate on cart", 1, "higherrorrate high error rate on cart", "", NULL},
	    {"CPUThrottlingHigh", 0, "cputhrottlinghigh cpu throttling high", "", NULL},
	    {"TargetDown p99Latency", 0, "targetdown target down p99latency p99 latency", "", NULL},
	    {"lowercase UPPER", 0, "lowercase upper", "", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct expand_query q;
		char terms[256], extra[256];
		expand_query(e, cases[i].query, cases[i].rules, &q);
		join(q.terms, q.nterms, terms, sizeof(terms));
		join(q.extra, q.nextra, extra, sizeof(extra));
		const char *via0 = q.nextra ? q.via[0] : NULL;
		if (strcmp(terms, cases[i].terms) != 0 || strcmp(extra, cases[i].extra) != 0 ||
		    (cases[i].via0 && (!via0 || strcmp(via0, cases[i].via0) != 0)))
			fail_msg(
			    "case %zu (%s): got terms='%s' extra='%s' via0=%s; want terms='%s' "
			    "extra='%s' via0=%s",
			    i, cases[i].query, terms, extra, via0 ? via0 : "-", cases[i].terms,
			    cases[i].extra, cases[i].via0 ? cases[i].via0 : "-");
		expand_query_free(&q);
	}
	/* The match expression quotes every word and joins with OR. */
	struct expand_query q;
	struct buf b = {0};
	expand_query(e, "my db is slow", 1, &q);
	assert_int_equal(expand_match(&q, 0, &b), 0);
	assert_string_equal(b.data, "\"db\" OR \"slow\"");
	buf_reset(&b);
	assert_int_equal(expand_match(&q, 1, &b), 0);
	assert_string_equal(b.data,
	                    "\"db\" OR \"slow\" OR \"latency\" OR \"database\" OR \"postgres\"");
	expand_query_free(&q);
	buf_reset(&b);
	expand_query(e, "the", 1, &q);
	assert_int_equal(expand_match(&q, 1, &b), -1); /* nothing to search for */
	expand_query_free(&q);
	buf_free(&b);
	expand_free(e);
}

static void test_load_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"slow\tlatency\nno tab here\n", "syn.tsv:2: expected 'typed words<TAB>index words'"},
	    {"# c\n\nslow\t  \n", "syn.tsv:3: both sides of the tab need at least one word"},
	    {"\t latency\n", "syn.tsv:1: both sides of the tab need at least one word"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char syn[512], err[256] = "";
		struct expand *e = NULL;
		write_file("syn.tsv", cases[i].text, syn, sizeof(syn));
		int rc = expand_load(syn, NULL, &e, err, sizeof(err));
		if (rc != -1 || !strstr(err, cases[i].want))
			fail_msg("case %zu: got rc=%d err=%s, want %s", i, rc, err, cases[i].want);
	}
	char err[256] = "";
	struct expand *e;
	if (expand_load("/nonexistent/syn.tsv", NULL, &e, err, sizeof(err)) != -1 ||
	    !strstr(err, "/nonexistent/syn.tsv: cannot open"))
		fail_msg("missing file: got err=%s", err);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_load_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
