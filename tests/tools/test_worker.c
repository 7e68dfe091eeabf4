/*
 * NAME
 *	test-worker - a worker for integration tests only (never deployed)
 *
 * SYNOPSIS
 *	test-worker [--kind K]... [--sleep-ms N] [--fail-times K] [--permanent]
 *	            [--result JSON | --result-file FILE] [--log FILE] [-c FILE]
 *
 * DESCRIPTION
 *	Built on worker_main like every real worker, so tests exercise the real
 *	claim / heartbeat / complete loop.  For each job it appends
 *	"start job=ID incident=I kind=K attempt=A pid=P" to the log file, sleeps
 *	N ms, then fails the first K attempts (retryable, or permanent with
 *	--permanent), or completes with the given result (default: a summary
 *	saying a test worker did it) and appends "done job=... pid=P".
 *
 *	It stands in for detect/retrieve/plan in pipeline tests; its results
 *	say "test worker" so nobody mistakes them for real findings.
 *
 * CONFIG
 *	The runtime keys of worker.h in section [test-worker].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "mem.h"
#include "timeutil.h"
#include "worker.h"

#define TW_KINDS_MAX 8

static const char *tw_kinds[TW_KINDS_MAX + 1];
static int64_t tw_sleep_ms;
static int64_t tw_fail_times;
static int tw_permanent;
static const char *tw_result;
static const char *tw_log;

static void tw_append(const char *what, const struct worker_job *job)
{
	if (!tw_log)
		return;
	FILE *f = fopen(tw_log, "a");
	if (!f)
		return;
	fprintf(f, "%s job=%lld incident=%lld kind=%s attempt=%d pid=%d\n", what,
	        (long long)job->id, (long long)job->incident, job->kind, job->attempt,
	        (int)getpid());
	fclose(f);
}

static int tw_handle(void *state, const struct worker_job *job, cJSON **result, char *err,
                     size_t errlen)
{
	(void)state;
	tw_append("start", job);
	time_sleep_ms(tw_sleep_ms, NULL);
	if (job->attempt <= tw_fail_times) {
		snprintf(err, errlen, "test worker failing attempt %d of %lld on purpose",
		         job->attempt, (long long)tw_fail_times);
		tw_append("fail", job);
		return tw_permanent ? WORKER_PERMANENT : WORKER_RETRY;
	}
	if (tw_result) {
		*result = cJSON_Parse(tw_result);
	} else {
		*result = json_new_object();
		char s[128];
		snprintf(s, sizeof(s), "test worker finished %s job %lld", job->kind,
		         (long long)job->id);
		json_add_str(*result, "summary", s);
	}
	tw_append("done", job);
	return WORKER_OK;
}

static int tw_int(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* The whole (small) file as a string; kept until exit. */
static int tw_slurp(const char *path, const char **out)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	struct buf b = {.max = 1 << 20};
	char chunk[4096];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			rc = -1;
	fclose(f);
	*out = b.data;
	return rc < 0 || !b.data ? -1 : 0;
}

int main(int argc, char **argv)
{
	char **rest = xcalloc((size_t)argc + 1, sizeof(char *));
	int nrest = 0, nk = 0;
	rest[nrest++] = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;
		if (strcmp(a, "--kind") == 0 && v && nk < TW_KINDS_MAX)
			tw_kinds[nk++] = argv[++i];
		else if (strcmp(a, "--sleep-ms") == 0 && v)
			bad = tw_int(argv[++i], &tw_sleep_ms);
		else if (strcmp(a, "--fail-times") == 0 && v)
			bad = tw_int(argv[++i], &tw_fail_times);
		else if (strcmp(a, "--permanent") == 0)
			tw_permanent = 1;
		else if (strcmp(a, "--result") == 0 && v)
			tw_result = argv[++i];
		else if (strcmp(a, "--result-file") == 0 && v)
			bad = tw_slurp(argv[++i], &tw_result);
		else if (strcmp(a, "--log") == 0 && v)
			tw_log = argv[++i];
		else
			rest[nrest++] = argv[i];
		if (bad) {
			fprintf(stderr, "test-worker: bad value for %s\n", a);
			return 2;
		}
	}
	if (tw_result) {
		cJSON *r = cJSON_Parse(tw_result);
		if (!cJSON_IsObject(r)) {
			fprintf(stderr, "test-worker: --result must be a JSON object\n");
			return 2;
		}
		cJSON_Delete(r);
	}
	if (nk == 0)
		tw_kinds[nk++] = "detect";
	static const struct worker_spec spec = {
	    .name = "test-worker",
	    .section = "test-worker",
	    .kinds = tw_kinds,
	    .handle = tw_handle,
	};
	int rc = worker_main(nrest, rest, &spec);
	free(rest);
	return rc;
}
