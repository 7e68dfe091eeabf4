/* kb_test.c: indexing, incremental re-index, ranking, incident memory, WAL reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "eval.h"
#include "expand.h"
#include "kb.h"

static char dir[] = "/tmp/opsbot-kb-test.XXXXXX";
static char kdir[200], dbpath[200];

static void put(const char *name, const char *text)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", kdir, name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm(const char *name)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", kdir, name);
	assert_int_equal(unlink(path), 0);
}

/* Bump a file's mtime without changing it. */
static void touch_later(const char *name)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", kdir, name);
	struct timespec ts[2] = {{.tv_sec = time(NULL) + 100}, {.tv_sec = time(NULL) + 100}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

#define RB(title, symptoms, body)                                                                  \
	"---\ntitle: " title "\nsymptoms: " symptoms "\nactions: restart_service\n---\n" body

static const char *const fixtures[][2] = {
    {"runbooks/disk.md",
     RB("Disk full", "no space left on device, ENOSPC",
        "A filesystem is full.\n## Checks\nRun df -h and du.\n## Fix\nRotate logs, free space.\n")},
    {"runbooks/latency.md",
     RB("High latency", "p99 latency high, timeouts",
        "Requests are slow.\n## Checks\nLook at saturation and recent deploys.\n## Fix\nScale out "
        "or roll back.\n")},
    {"runbooks/certs.md", RB("Certificate expiry", "x509 certificate has expired",
                             "TLS certificates expire.\n## Checks\nopenssl s_client shows the "
                             "dates.\n## Fix\nRotate the "
                             "certificate.\n")},
    {"runbooks/notes.md",
     RB("Operator notes", "misc", "General notes. Sometimes the disk word appears in a body.\n")},
};

static int reports;
static char last_report[512];
static void on_report(const char *msg, void *arg)
{
	(void)arg;
	reports++;
	snprintf(last_report, sizeof(last_report), "%s", msg);
}

static struct kb *fresh_kb(void)
{
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s-wal' '%s-shm' && mkdir -p '%s'", kdir,
	         dbpath, dbpath, dbpath, kdir);
	assert_int_equal(system(cmd), 0);
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		put(fixtures[i][0], fixtures[i][1]);
	struct kb *kb;
	char err[512];
	if (kb_open(dbpath, &kb, err, sizeof(err)) < 0)
		fail_msg("kb_open: %s", err);
	return kb;
}

static void index_ok(struct kb *kb, struct kb_index_stats *st, int want_rc)
{
	char err[512] = "";
	reports = 0;
	int rc = kb_index_dir(kb, kdir, NULL, NULL, st, on_report, NULL, err, sizeof(err));
	if (rc != want_rc)
		fail_msg("kb_index_dir: got rc=%d err=%s, want rc=%d", rc, err, want_rc);
}

/* "source#section" of the top hit, or "-". */
static void top(struct kb *kb, const char *query, int flags, const struct expand *e, char *out,
                size_t outlen)
{
	struct kb_result r;
	char err[256];
	if (kb_search(kb, query, flags, e, NULL, 5, &r, err, sizeof(err)) < 0)
		fail_msg("search %s: %s", query, err);
	if (r.n)
		snprintf(out, outlen, "%s#%s", r.hits[0].source, r.hits[0].section);
	else
		snprintf(out, outlen, "-");
	kb_result_free(&r);
}

static void test_incremental(void **state)
{
	(void)state;
	struct kb *kb = fresh_kb();
	struct kb_index_stats st;
	char got[256];
	static const struct {
		const char *step;
		int scanned, changed, unchanged, removed, failed;
	} want[] = {
	    {"first", 4, 4, 0, 0, 0}, {"again", 4, 0, 4, 0, 0},  {"edit", 4, 1, 3, 0, 0},
	    {"touch", 4, 0, 4, 0, 0}, {"delete", 3, 0, 3, 1, 0}, {"break", 3, 0, 2, 0, 1},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *s = want[i].step;
		int rc = 0;
		if (strcmp(s, "edit") == 0)
			put("runbooks/disk.md", RB("Disk full", "no space left on device, ENOSPC",
			                           "## Checks\nRun df -i for inodes too.\n"));
		else if (strcmp(s, "touch") == 0)
			touch_later("runbooks/latency.md");
		else if (strcmp(s, "delete") == 0)
			rm("runbooks/notes.md");
		else if (strcmp(s, "break") == 0) {
			put("runbooks/certs.md", "---\ntitle: Broken\nsymptom: typo\n---\n");
			rc = -1;
		}
		index_ok(kb, &st, rc);
		if (st.scanned != want[i].scanned || st.changed != want[i].changed ||
		    st.unchanged != want[i].unchanged || st.removed != want[i].removed ||
		    st.failed != want[i].failed)
			fail_msg("step %s: got scanned=%d changed=%d unchanged=%d removed=%d "
			         "failed=%d; want %d %d %d %d %d",
			         s, st.scanned, st.changed, st.unchanged, st.removed, st.failed,
			         want[i].scanned, want[i].changed, want[i].unchanged,
			         want[i].removed, want[i].failed);
	}
	/* The broken file was reported with file and line, and its old version stays. */
	if (reports != 1 || !strstr(last_report, "runbooks/certs.md:3: unknown key 'symptom'"))
		fail_msg("report: got %d reports, last=%s; want one naming certs.md:3", reports,
		         last_report);
	top(kb, "x509 certificate expired", 0, NULL, got, sizeof(got));
	if (strncmp(got, "runbooks/certs.md#", 18) != 0)
		fail_msg("old version of a broken file: got %s, want runbooks/certs.md", got);
	/* The edit is visible, the deleted file is gone. */
	top(kb, "inodes", 0, NULL, got, sizeof(got));
	assert_string_equal(got, "runbooks/disk.md#Checks");
	top(kb, "operator notes", 0, NULL, got, sizeof(got));
	assert_string_equal(got, "-");
	int64_t docs, secs, incs;
	assert_int_equal(kb_counts(kb, &docs, &secs, &incs), 0);
	assert_int_equal(docs, 3);
	kb_close(kb);
}

static void test_ranking(void **state)
{
	(void)state;
	struct kb *kb = fresh_kb();
	struct kb_index_stats st;
	index_ok(kb, &st, 0);
	char syn[1200], err[256];
	snprintf(syn, sizeof(syn), "%s/syn.tsv", dir);
	FILE *f = fopen(syn, "w");
	assert_non_null(f);
	fputs("sluggish\tlatency\ncert\tcertificate\n", f);
	fclose(f);
	struct expand *e;
	if (expand_load(syn, NULL, &e, err, sizeof(err)) < 0)
		fail_msg("expand_load: %s", err);
	static const struct {
		const char *query;
		int flags;
		const char *want;
	} cases[] = {
	    /* Title and symptoms outweigh a body mention (notes.md says "disk" too). */
	    {"disk", 0, "runbooks/disk.md#"},
	    {"ENOSPC", 0, "runbooks/disk.md#"},
	    /* The section whose own text matches wins within a runbook. */
	    {"openssl s_client dates", 0, "runbooks/certs.md#Checks"},
	    {"rotate the certificate", 0, "runbooks/certs.md#Fix"},
	    {"roll back scale out latency", 0, "runbooks/latency.md#Fix"},
	    /* Expansion: a typed word the runbooks never use. */
	    {"sluggish checkout", 0, "-"},
	    {"sluggish checkout", KB_EXPAND, "runbooks/latency.md#"},
	    {"cert expired", KB_EXPAND, "runbooks/certs.md#"},
	    /* Nothing to search for is zero hits, not an error. */
	    {"!!! ???", 0, "-"},
	    {"\"zzz\" NEAR(qqq) * - ^", 0, "-"}, /* FTS5 syntax is just words */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[256];
		top(kb, cases[i].query, cases[i].flags, e, got, sizeof(got));
		if (strncmp(got, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu (%s): got %s, want %s...", i, cases[i].query, got,
			         cases[i].want);
	}
	/* Why: the typed word and the expansion are both named. */
	struct kb_result r;
	assert_int_equal(kb_search(kb, "sluggish p99", KB_EXPAND, e, NULL, 3, &r, err, sizeof(err)),
	                 0);
	assert_true(r.n > 0);
	if (!strstr(r.hits[0].why, "matched p99") || !strstr(r.hits[0].why, "sluggish -> latency"))
		fail_msg("why: got '%s', want 'matched p99' and 'sluggish -> latency'",
		         r.hits[0].why);
	kb_result_free(&r);
	/* Column weights: with title weight 0, a body-only mention can win. */
	struct kb_weights w = {0, 0, 1, 0};
	kb_set_weights(kb, &w);
	char got[256];
	top(kb, "sometimes disk word", 0, NULL, got, sizeof(got));
	if (strncmp(got, "runbooks/notes.md#", 18) != 0)
		fail_msg("body-only weights: got %s, want runbooks/notes.md", got);
	expand_free(e);
	kb_close(kb);
}

static void test_expand_weight(void **state)
{
	(void)state;
	struct kb *kb = fresh_kb();
	/* A long body: its one typed word is diluted by the section's length. */
	char body[2048] = "The build felt sluggish once.";
	for (int i = 0; i < 100; i++)
		strncat(body, " filler", sizeof(body) - strlen(body) - 1);
	char text[2300];
	snprintf(text, sizeof(text), RB("Pipeline notes", "misc", "%s\n"), body);
	put("runbooks/typed.md", text);
	struct kb_index_stats st;
	index_ok(kb, &st, 0);
	char syn[1200], err[256], got[256];
	snprintf(syn, sizeof(syn), "%s/syn2.tsv", dir);
	FILE *f = fopen(syn, "w");
	assert_non_null(f);
	fputs("sluggish\tlatency\n", f);
	fclose(f);
	struct expand *e;
	assert_int_equal(expand_load(syn, NULL, &e, err, sizeof(err)), 0);
	/* Typed word in a body vs expansion word in a title: the weight decides. */
	static const struct {
		double weight;
		const char *want;
	} cases[] = {{0.01, "runbooks/typed.md#"}, {1.0, "runbooks/latency.md#"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kb_set_expand_weight(kb, cases[i].weight);
		top(kb, "sluggish", KB_EXPAND, e, got, sizeof(got));
		if (strncmp(got, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("expand_weight %.2f: got %s, want %s...", cases[i].weight, got,
			         cases[i].want);
	}
	expand_free(e);
	kb_close(kb);
}

static void test_diversity(void **state)
{
	(void)state;
	struct kb *kb = fresh_kb();
	put("runbooks/many.md",
	    RB("Widget", "widget", "widget\n## A\nwidget\n## B\nwidget\n## C\nwidget\n"));
	put("runbooks/other.md", RB("Gadget", "gadget", "a widget once\n"));
	struct kb_index_stats st;
	index_ok(kb, &st, 0);
	struct kb_result r;
	char err[256];
	assert_int_equal(kb_search(kb, "widget", 0, NULL, NULL, 5, &r, err, sizeof(err)), 0);
	int many = 0, other = 0;
	for (size_t i = 0; i < r.n; i++) {
		many += strcmp(r.hits[i].source, "runbooks/many.md") == 0;
		other += strcmp(r.hits[i].source, "runbooks/other.md") == 0;
	}
	if (many != KB_PER_SOURCE || other != 1)
		fail_msg("diversity: got many=%d other=%d of %zu; want many=%d other=1", many,
		         other, r.n, KB_PER_SOURCE);
	kb_result_free(&r);
	kb_close(kb);
}

static void test_signature(void **state)
{
	(void)state;
	static const struct {
		const char *service, *alert, *want;
	} cases[] = {
	    {"Checkout", "HighLatency", "checkout/highlatency"},
	    {"checkout", "p99 latency over 2s for 10m", "checkout/p latency over s for m"},
	    {"checkout", "p99 latency over 5s for 30m!!", "checkout/p latency over s for m"},
	    {"", "Disk 93% full on /var", "/disk full on var"},
	    {NULL, NULL, "/"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got[256];
		kb_signature(cases[i].service, cases[i].alert, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
	}
}

static void test_incident_memory(void **state)
{
	(void)state;
	struct kb *kb = fresh_kb();
	char err[256], sig[128], other[128];
	kb_signature("payments", "HighLatency", sig, sizeof(sig));
	kb_signature("search", "HighLatency", other, sizeof(other));
	/* The failed one matches the query better (more of its words); it must
	 * still come after the one that worked, because they share a signature. */
	const struct kb_incident incs[] = {
	    {.id = 11,
	     .service = "payments",
	     .title = "payments latency spike latency p99",
	     .signature = sig,
	     .summary = "payments latency spike, p99 latency 3s",
	     .root_cause = "latency from a slow payments dependency",
	     .actions = "restart_service (ran)",
	     .worked = 0},
	    {.id = 12,
	     .service = "payments",
	     .title = "payments latency",
	     .signature = sig,
	     .summary = "payments slow",
	     .root_cause = "pods saturated",
	     .actions = "scale_service (ran)",
	     .worked = 1},
	    {.id = 13,
	     .service = "payments",
	     .title = "payments latency spike",
	     .signature = sig,
	     .summary = "payments latency spike again",
	     .root_cause = "unknown",
	     .actions = "",
	     .worked = -1},
	    {.id = 14,
	     .service = "search",
	     .title = "search latency spike latency",
	     .signature = other,
	     .summary = "search latency spike",
	     .root_cause = "gc pauses",
	     .actions = "restart_service (failed)",
	     .worked = 0},
	};
	for (size_t i = 0; i < sizeof(incs) / sizeof(incs[0]); i++)
		if (kb_put_incident(kb, &incs[i], err, sizeof(err)) < 0)
			fail_msg("put %zu: %s", i, err);
	/* Replacing an incident does not duplicate it. */
	assert_int_equal(kb_put_incident(kb, &incs[1], err, sizeof(err)), 0);
	int64_t docs, secs, n;
	assert_int_equal(kb_counts(kb, &docs, &secs, &n), 0);
	assert_int_equal(n, 4);

	struct kb_result r;
	assert_int_equal(
	    kb_search(kb, "payments latency spike p99", 0, NULL, NULL, 10, &r, err, sizeof(err)),
	    0);
	/* Order of the payments incidents among the hits: 12 (worked), 13, 11 (failed). */
	char order[64] = "";
	for (size_t i = 0; i < r.n; i++)
		if (r.hits[i].incident && r.hits[i].signature &&
		    strcmp(r.hits[i].signature, sig) == 0) {
			char id[16];
			snprintf(id, sizeof(id), "%lld ", (long long)r.hits[i].incident);
			strncat(order, id, sizeof(order) - strlen(order) - 1);
		}
	if (strcmp(order, "12 13 11 ") != 0)
		fail_msg("same-signature order: got '%s', want '12 13 11 '", order);
	/* Hits carry source and section for citation. */
	for (size_t i = 0; i < r.n; i++)
		if (r.hits[i].incident == 12 && (strcmp(r.hits[i].source, "incident:12") != 0 ||
		                                 strcmp(r.hits[i].section, "Incident") != 0 ||
		                                 !strstr(r.hits[i].text, "worked")))
			fail_msg("incident hit: got source=%s section=%s text=%s", r.hits[i].source,
			         r.hits[i].section, r.hits[i].text);
	kb_result_free(&r);

	/* Two incidents with the same words: the incident's service decides. */
	char s1[128], s2[128];
	kb_signature("billing", "QueueLag", s1, sizeof(s1));
	kb_signature("mailer", "QueueLag", s2, sizeof(s2));
	const struct kb_incident twins[] = {
	    {.id = 21,
	     .service = "billing",
	     .title = "consumer lag on invoices",
	     .signature = s1,
	     .summary = "consumer lag on invoices",
	     .worked = 1},
	    {.id = 22,
	     .service = "mailer",
	     .title = "consumer lag on invoices",
	     .signature = s2,
	     .summary = "consumer lag on invoices",
	     .worked = 1},
	};
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(kb_put_incident(kb, &twins[i], err, sizeof(err)), 0);
	static const struct {
		const char *service;
		int64_t want;
	} svc[] = {{"billing", 21}, {"mailer", 22}, {"Mailer!", 22}};
	for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
		assert_int_equal(kb_search_for(kb, "consumer lag invoices", svc[i].service, 0, NULL,
		                               NULL, 3, &r, err, sizeof(err)),
		                 0);
		int64_t got = r.n ? r.hits[0].incident : 0;
		if (got != svc[i].want)
			fail_msg("service %s: got incident %lld first, want %lld", svc[i].service,
			         (long long)got, (long long)svc[i].want);
		kb_result_free(&r);
	}
	kb_close(kb);
}

static void test_reads_during_write(void **state)
{
	(void)state;
	struct kb *writer = fresh_kb(), *reader;
	struct kb_index_stats st;
	char err[256], got[256];
	index_ok(writer, &st, 0);
	assert_int_equal(kb_open(dbpath, &reader, err, sizeof(err)), 0);
	kb_set_busy_timeout(reader, 0); /* a reader that had to wait would fail here */
	rm("runbooks/certs.md");
	put("runbooks/new.md", RB("Brand new", "zebra", "zebra\n"));
	/* The writer's transaction is open while the reader searches. */
	assert_int_equal(kb_begin(writer, err, sizeof(err)), 0);
	struct runbook rb = {.title = "Brand new", .symptoms = "zebra", .services = "any"};
	struct runbook_section sec = {.name = "Overview", .text = "zebra", .line = 6};
	rb.sections = &sec;
	rb.nsections = 1;
	assert_int_equal(kb_put_runbook(writer, "runbooks/new.md", &rb, 0, 0, 1, err, sizeof(err)),
	                 0);
	top(reader, "zebra", 0, NULL, got, sizeof(got));
	assert_string_equal(got, "-"); /* not committed yet: the reader's snapshot */
	top(reader, "x509 certificate", 0, NULL, got, sizeof(got));
	assert_true(strncmp(got, "runbooks/certs.md#", 18) == 0);
	assert_int_equal(kb_commit(writer, err, sizeof(err)), 0);
	top(reader, "zebra", 0, NULL, got, sizeof(got));
	assert_string_equal(got, "runbooks/new.md#Overview");
	/* A full incremental pass from the writer; the reader sees its result. */
	index_ok(writer, &st, 0);
	assert_int_equal(st.removed, 1);
	top(reader, "x509 certificate", 0, NULL, got, sizeof(got));
	assert_string_equal(got, "-");
	kb_close(reader);
	kb_close(writer);
}

/* Scores of the top hits of a query, "source#section=score;..." */
static void scores(struct kb *kb, const char *query, char *out, size_t outlen)
{
	struct kb_result r;
	char err[256];
	out[0] = '\0';
	if (kb_search(kb, query, 0, NULL, NULL, 10, &r, err, sizeof(err)) < 0)
		fail_msg("search %s: %s", query, err);
	for (size_t i = 0; i < r.n; i++) {
		char one[300];
		snprintf(one, sizeof(one), "%s#%s=%.17g;", r.hits[i].source, r.hits[i].section,
		         r.hits[i].score);
		strncat(out, one, outlen - strlen(out) - 1);
	}
	kb_result_free(&r);
}

static void test_size_cache(void **state)
{
	(void)state;
	struct kb *writer = fresh_kb(), *reader;
	struct kb_index_stats st;
	char err[256];
	index_ok(writer, &st, 0);
	assert_int_equal(kb_open(dbpath, &reader, err, sizeof(err)), 0);
	static const char *const queries[] = {"disk", "certificate expired dates",
	                                      "latency timeouts deploys", "inodes zebra"};
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			/* Another connection changes rows: the cache must follow. */
			put("runbooks/disk.md",
			    RB("Disk full", "no space left on device",
			       "## Checks\nRun df -i for inodes, and df -h, and du, "
			       "and look again.\n"));
			put("runbooks/zebra.md", RB("Zebra", "zebra", "zebra zebra\n"));
			index_ok(writer, &st, 0);
		}
		for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
			char on[2048], off[2048];
			kb_set_size_cache(reader, 1);
			scores(reader, queries[i], on, sizeof(on));
			kb_set_size_cache(reader, 0);
			scores(reader, queries[i], off, sizeof(off));
			int may_be_empty = round == 0 && i == 3; /* no zebra yet */
			if (strcmp(on, off) != 0 || (!on[0] && !may_be_empty))
				fail_msg("round %d query '%s': cached lengths give '%s', FTS5's "
				         "give '%s'",
				         round, queries[i], on, off);
		}
	}
	kb_close(reader);
	kb_close(writer);
}

static void test_eval_answers(void **state)
{
	(void)state;
	struct eval_query q = {
	    .query = "q", .answers = {"disk-full", "high-latency#Checks"}, .nanswers = 2};
	static const struct {
		const char *source, *section;
		int want;
	} cases[] = {
	    {"runbooks/disk-full.md", "Fix", 1},       {"runbooks/disk-full.md", "Overview", 1},
	    {"runbooks/high-latency.md", "Checks", 1}, {"runbooks/high-latency.md", "Fix", 0},
	    {"runbooks/disk-fullness.md", "Fix", 0},   {"incident:4", "Incident", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kb_hit h = {.source = (char *)cases[i].source,
		                   .section = (char *)cases[i].section};
		int got = eval_hit_answers(&q, &h);
		if (got != cases[i].want)
			fail_msg("case %zu (%s#%s): got %d, want %d", i, cases[i].source,
			         cases[i].section, got, cases[i].want);
	}
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(kdir, sizeof(kdir), "%s/knowledge", dir);
	snprintf(dbpath, sizeof(dbpath), "%s/knowledge.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_incremental),     cmocka_unit_test(test_ranking),
	    cmocka_unit_test(test_diversity),       cmocka_unit_test(test_signature),
	    cmocka_unit_test(test_expand_weight),   cmocka_unit_test(test_size_cache),
	    cmocka_unit_test(test_incident_memory), cmocka_unit_test(test_reads_during_write),
	    cmocka_unit_test(test_eval_answers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
