/*
 * NAME
 *	opsbotctl - look at and steer a running opsbot from the shell
 *
 * SYNOPSIS
 *	opsbotctl [-c FILE] [--json] COMMAND [ARGS]
 *
 *	status                        master's processes, queue depth, leases,
 *	                              dead letters
 *	incidents [--state S]         list incidents
 *	show ID                       one incident: state and timeline
 *	submit --service S --title T [--severity X] [--summary TEXT] [--key K]
 *	submit --file incident.json   open an incident (source "cli")
 *	dead-letters                  jobs that ran out of attempts
 *	retry JOB                     run a dead-lettered job again
 *	approve ID --plan HASH [--as SURFACE:ID]
 *	reject ID --plan HASH [--reason TEXT] [--as SURFACE:ID]
 *	identity                      who the queue says you are, and as whom
 *	                              the approval policy knows you
 *	resolve ID [NOTE]             close an incident by hand
 *	pause ID / resume ID
 *	events [--since N] [--limit N] [--follow]
 *	                              the event log; --follow keeps printing
 *	                              new events until ^C
 *	kb ARGS...                    runs "opsbot-retrieve kb ARGS" (same bin dir)
 *	dryrun ID                     the exact argv each step of the plan would
 *	                              run (opsbot-exec checks it; nothing runs)
 *	ledger [ID]                   the action ledger: every step run, its argv,
 *	                              state, exit code (--json: with output)
 *	step ID N retry|skip|abort    answer "step N may or may not have run"
 *	report ID --pdf FILE [--paper a4|letter]
 *	                              the incident's summary PDF, open or closed
 *	                              (runs "opsbot-report pdf", same bin dir)
 *
 * DESCRIPTION
 *	Every command but status's process table and kb is one request to
 *	opsbot-queue over [queue] listen.  Output is for people; --json prints
 *	the queue's reply as it came.  Exit codes: 0 done, 1 the queue refused
 *	(the message says why), 2 bad usage, 3 the queue is not answering.
 *
 * SECURITY
 *	The queue reads who you are from the ipc:// socket (the local account
 *	of this process, SO_PEERCRED), never from the command line: approve,
 *	reject and commands are recorded under that account, and approve and
 *	reject are judged by config/policy.conf, where a [person] lists it as
 *	"unix = ACCOUNT".  --as slack:U0ALICE (or discord:ID) acts for a chat
 *	user; the queue accepts it only from the account opsbot runs as, which
 *	is trusted to speak for chat users anyway (opsbot-bot runs as it).
 *	submit, approve, reject and commands carry an idempotency key, so a
 *	resend after a queue restart never acts twice.  Reads the master's
 *	status file.
 *
 * CONFIG
 *	[queue] listen and events, [master] run_dir (both read, never checked: this is a
 *	client and must not refuse to run over a key it does not know).
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "defaults.h"
#include "severity.h"
#include "submit.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rpc.h"
#include "timeutil.h"
#include "utf8.h"
#include "wire.h"
#include "sim/eval.h"

#define CTL_DEFAULT_CONFIG "config/opsbot.conf"
#define CTL_DEFAULT_QUEUE  DEF_QUEUE_URL
#define CTL_DEFAULT_EVENTS DEF_EVENTS_URL
#define CTL_TIMEOUT_MS     DEF_CTL_TIMEOUT_MS
#define CTL_FILE_MAX       (1 << 20)

enum { CTL_OK = 0, CTL_REFUSED = 1, CTL_USAGE = 2, CTL_DOWN = 3 };

struct ctl {
	const char *config_path;
	int json;
	char url[512];
	char events_url[512];
	char run_dir[PATH_MAX];
	struct rpc *rpc;
	char user[64]; /* this process's local account: a label; the queue reads the socket */
};

static int ctl_usage(void)
{
	fprintf(stderr,
	        "usage: opsbotctl [-c FILE] [--json] COMMAND\n"
	        "  status | incidents [--state S] | show ID | events [--since N]\n"
	        "  submit --service S --title T [--severity X] [--summary TEXT] [--key K]\n"
	        "  submit --file incident.json | dead-letters | retry JOB\n"
	        "  approve ID --plan HASH [--user U] | reject ID --plan HASH [--user U]\n"
	        "  resolve ID [NOTE] | pause ID | resume ID | kb ARGS...\n"
	        "  dryrun ID | ledger [ID] | step ID N retry|skip|abort\n"
	        "  report ID --pdf FILE [--paper a4|letter]\n"
	        "  eval --episodes N --seed S --out results.csv (see opsbotctl eval --help)\n");
	return CTL_USAGE;
}

static int ctl_id(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno || v <= 0)
		return -1;
	*out = v;
	return 0;
}

static void ctl_print_json(const cJSON *j)
{
	char *t = cJSON_Print(j);
	if (t) {
		puts(t);
		free(t);
	}
}

/* One request; reply is the caller's on 0.  Errors are printed here. */
static int ctl_call(struct ctl *c, cJSON *req, cJSON **reply)
{
	char err[512];
	*reply = NULL;
	if (!c->rpc && rpc_open(&c->rpc, c->url, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbotctl: cannot reach the queue at %s: %s\n", c->url, err);
		cJSON_Delete(req);
		return CTL_DOWN;
	}
	/* An ipc:// socket file that does not exist cannot answer: say so now
	 * instead of after the timeout. */
	int rc = -1;
	/* Requests that change something are keyed (rpc.c), so resending them is safe. */
	const char *type = json_str(req, "type");
	int retries = type && strcmp(type, "query") != 0 ? 2 : 0;
	snprintf(err, sizeof(err), "its socket file is missing");
	if (strncmp(c->url, "ipc://", 6) != 0 || access(c->url + 6, F_OK) == 0)
		rc = rpc_call(c->rpc, req, reply, CTL_TIMEOUT_MS, retries, err, sizeof(err));
	cJSON_Delete(req);
	if (rc == -1) {
		fprintf(stderr,
		        "opsbotctl: the queue is not answering at %s (%s); is opsbot running? "
		        "start it with: opsbot -c %s\n",
		        c->url, err, c->config_path);
		return CTL_DOWN;
	}
	if (rc == -2) {
		if (c->json) {
			ctl_print_json(*reply);
		} else {
			const char *msg = json_str(*reply, "message");
			fprintf(stderr, "opsbotctl: %s\n", msg && *msg ? msg : err);
		}
		cJSON_Delete(*reply);
		*reply = NULL;
		return CTL_REFUSED;
	}
	return CTL_OK;
}

static cJSON *ctl_query(const char *what, int64_t incident)
{
	cJSON *req = wire_new(WIRE_QUERY, incident);
	json_add_str(req, "what", what);
	return req;
}

static const char *ctl_when(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0)
		return "-";
	return time_fmt_iso(ms, buf, len);
}

/* How long ago, e.g. "3m12s". */
static const char *ctl_ago(int64_t ms, char *buf, size_t len)
{
	int64_t s = (time_now_ms() - ms) / 1000;
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)s / 60, (long long)s % 60);
	else
		snprintf(buf, len, "%lldh%02lldm", (long long)s / 3600, (long long)(s / 60) % 60);
	return buf;
}

/* A scalar as text for a table cell (numbers, strings, bools). */
static const char *ctl_scalar(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble == (double)(long long)v->valuedouble)
			snprintf(buf, len, "%lld", (long long)v->valuedouble);
		else
			snprintf(buf, len, "%.3g", v->valuedouble);
		return buf;
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "yes" : "no";
	if (cJSON_IsNull(v) || !v)
		return "-";
	char *t = cJSON_PrintUnformatted(v);
	snprintf(buf, len, "%s", t ? t : "?");
	free(t);
	return buf;
}

static int64_t ctl_int(const cJSON *o, const char *a, const char *b)
{
	int64_t v = json_int(o, a, 0);
	return v || !b ? v : json_int(o, b, 0);
}

static const char *ctl_str(const cJSON *o, const char *a, const char *b)
{
	const char *v = json_str(o, a);
	if (!v && b)
		v = json_str(o, b);
	return v ? v : "-";
}

/* ---- status ---- */

/*
 * The master's status file: 0 and *out (caller frees), or -1 with a line for
 * a person in why (no file, unreadable).
 */
static int ctl_master_read(const struct ctl *c, cJSON **out, char *why, size_t whylen)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/opsbot-master.json", c->run_dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(why, whylen, "not running (no %s)", path);
		return -1;
	}
	struct buf b = {.max = CTL_FILE_MAX};
	char chunk[4096];
	size_t n;
	int over = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			over = 1;
	fclose(f);
	char err[256];
	int rc = 0;
	if (over || !b.data || json_parse_object(b.data, b.len, out, err, sizeof(err)) < 0) {
		snprintf(why, whylen, "status file %s is unreadable", path);
		rc = -1;
	}
	buf_free(&b);
	return rc;
}

static int ctl_master_alive(const cJSON *st)
{
	int64_t pid = json_int(st, "pid", 0);
	return pid > 0 && kill((pid_t)pid, 0) == 0;
}

static int ctl_master_status(struct ctl *c)
{
	cJSON *st;
	char why[PATH_MAX + 64];
	if (ctl_master_read(c, &st, why, sizeof(why)) < 0) {
		printf("master: %s\n", why);
		return 0;
	}
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/opsbot-master.json", c->run_dir);
	int64_t pid = json_int(st, "pid", 0);
	int alive = ctl_master_alive(st);
	char ago[32];
	if (!alive) {
		printf("master: not running (pid %lld in %s is gone; it did not stop cleanly)\n",
		       (long long)pid, path);
	} else {
		printf("master: pid %lld, %s, up %s, config %s\n", (long long)pid,
		       ctl_str(st, "state", NULL), ctl_ago(json_int(st, "started_ms", 0), ago, 32),
		       ctl_str(st, "config", NULL));
	}
	const cJSON *ds = cJSON_GetObjectItemCaseSensitive(st, "daemons");
	const cJSON *d;
	printf("  %-12s %-9s %-8s %-8s %-10s %s\n", "DAEMON", "STATE", "PID", "RESTARTS", "SINCE",
	       "LAST EXIT");
	cJSON_ArrayForEach(d, ds)
	{
		const char *state = ctl_str(d, "state", NULL);
		char pidb[24] = "-";
		if (json_int(d, "pid", 0) > 0)
			snprintf(pidb, sizeof(pidb), "%lld", (long long)json_int(d, "pid", 0));
		const char *last = ctl_str(d, "last_exit", NULL);
		printf("  %-12s %-9s %-8s %-8lld %-10s %s\n", ctl_str(d, "name", NULL),
		       alive ? state : "stale", pidb, (long long)json_int(d, "restarts", 0),
		       ctl_ago(json_int(d, "since_ms", 0), ago, 32), *last ? last : "-");
		if (strcmp(state, "missing") == 0)
			printf("  %-12s   %s not found: this stage is not built yet\n", "",
			       ctl_str(d, "path", NULL));
	}
	cJSON_Delete(st);
	return 0;
}

/* Queue depth per kind, incidents per state, leases, dead letters. */
static void ctl_print_stats(const struct ctl *c, const cJSON *st)
{
	char ago[32];
	printf("queue: %s answering, up %s\n", c->url,
	       ctl_ago(time_now_ms() - json_int(st, "uptime_ms", 0), ago, sizeof(ago)));
	static const char *const js[] = {"ready", "leased", "held", "done", "dead"};
	const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(st, "jobs");
	if (cJSON_GetArraySize(jobs) == 0) {
		printf("  no jobs yet\n");
	} else {
		printf("  %-12s", "JOB KIND");
		for (size_t i = 0; i < sizeof(js) / sizeof(js[0]); i++)
			printf(" %7s", js[i]);
		printf("\n");
		const cJSON *k;
		cJSON_ArrayForEach(k, jobs)
		{
			printf("  %-12s", k->string);
			for (size_t i = 0; i < sizeof(js) / sizeof(js[0]); i++)
				printf(" %7lld", (long long)json_int(k, js[i], 0));
			printf("\n");
		}
	}
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(st, "incidents");
	printf("  incidents:");
	if (cJSON_GetArraySize(inc) == 0)
		printf(" none");
	const cJSON *it;
	cJSON_ArrayForEach(it, inc)
	{
		char b[32];
		printf(" %s %s", it->string, ctl_scalar(it, b, sizeof(b)));
		if (it->next)
			printf(",");
	}
	printf("\n  leases: %lld held   dead_letters: %lld%s\n",
	       (long long)json_int(st, "leases", 0), (long long)json_int(st, "dead_letters", 0),
	       json_int(st, "dead_letters", 0) > 0 ? " (see: opsbotctl dead-letters)" : "");
}

static int ctl_status(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return ctl_usage();
	cJSON *reply;
	if (!c->json)
		ctl_master_status(c);
	int rc = ctl_call(c, ctl_query("stats", 0), &reply);
	if (c->json) {
		/* {"master": status file + "alive", or null; "queue": stats reply or null} */
		cJSON *all = json_new_object(), *st;
		char why[PATH_MAX + 64];
		if (ctl_master_read(c, &st, why, sizeof(why)) == 0) {
			json_add_bool(st, "alive", ctl_master_alive(st));
			json_add(all, "master", st);
		} else {
			json_add(all, "master", cJSON_CreateNull());
		}
		json_add(all, "queue", rc == CTL_OK ? reply : cJSON_CreateNull());
		ctl_print_json(all);
		cJSON_Delete(all);
		return rc;
	}
	if (rc != CTL_OK)
		return rc;
	{
		const cJSON *stats = cJSON_GetObjectItemCaseSensitive(reply, "stats");
		ctl_print_stats(c, stats);
	}
	cJSON_Delete(reply);
	return CTL_OK;
}

/* ---- incidents, show, events, dead letters ---- */

static void ctl_incident_row(const cJSON *it)
{
	char when[40];
	printf("%-6lld %-18s %-9s %-16s %-20s %s\n", (long long)ctl_int(it, "id", "incident"),
	       ctl_str(it, "state", NULL), ctl_str(it, "severity", NULL),
	       ctl_str(it, "service", NULL),
	       ctl_when(ctl_int(it, "opened_ms", "created_ms"), when, sizeof(when)),
	       ctl_str(it, "title", NULL));
}

static int ctl_incidents(struct ctl *c, int argc, char **argv)
{
	cJSON *req = ctl_query("incidents", 0);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			json_add_str(req, "state", argv[++i]);
		} else {
			cJSON_Delete(req);
			return ctl_usage();
		}
	}
	cJSON *reply;
	int rc = ctl_call(c, req, &reply);
	if (rc != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(reply);
	} else {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(reply, "items");
		if (cJSON_GetArraySize(items) == 0) {
			printf("no incidents\n");
		} else {
			printf("%-6s %-18s %-9s %-16s %-20s %s\n", "ID", "STATE", "SEVERITY",
			       "SERVICE", "OPENED", "TITLE");
			const cJSON *it;
			cJSON_ArrayForEach(it, items) ctl_incident_row(it);
		}
	}
	cJSON_Delete(reply);
	return CTL_OK;
}

/* ---- one timeline or event line: the words for each kind of event ---- */

static void ctl_ev_stage(struct buf *line, const cJSON *data)
{
	buf_appendf(line, "%s -> %s", ctl_str(data, "from", NULL), ctl_str(data, "to", NULL));
	const char *why = json_str(data, "reason");
	if (why && *why)
		buf_appendf(line, " (%s)", why);
}

static void ctl_ev_plan(struct buf *line, const cJSON *data)
{
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(data, "plan");
	buf_appendf(line, "plan %s: %d step(s), %s", ctl_str(plan, "hash", NULL),
	            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(plan, "steps")),
	            json_bool(data, "needs_approval", 0) ? "needs approval"
	                                                 : "runs without approval");
	const cJSON *ap = cJSON_GetObjectItemCaseSensitive(data, "approval");
	if (json_str(ap, "text"))
		buf_appendf(line, ": %s", json_str(ap, "text"));
}

static void ctl_ev_approval(struct buf *line, const cJSON *data)
{
	const char *d = ctl_str(data, "decision", NULL);
	const char *who = json_str(data, "person");
	buf_appendf(line, "%s %s plan %s (from %s", who ? who : ctl_str(data, "user", NULL),
	            strcmp(d, "approve") == 0 ? "approved" : "rejected",
	            ctl_str(data, "plan", NULL), ctl_str(data, "surface", NULL));
	if (json_str(data, "identity"))
		buf_appendf(line, ": %s", json_str(data, "identity"));
	buf_appendf(line, ")");
	if (cJSON_GetObjectItemCaseSensitive(data, "need") && strcmp(d, "approve") == 0)
		buf_appendf(line, ", %lld of %lld (%s)", (long long)json_int(data, "have", 0),
		            (long long)json_int(data, "need", 0), ctl_str(data, "rule", NULL));
	if (json_str(data, "reason"))
		buf_appendf(line, ": %s", json_str(data, "reason"));
}

static void ctl_ev_refused(struct buf *line, const cJSON *data)
{
	if (json_str(data, "step_key")) {
		/* an answer to "step N may or may not have run" (queue/ledger.c) */
		buf_appendf(line, "%s for step %lld (%s) by %s refused (%s): %s",
		            ctl_str(data, "decision", NULL), (long long)json_int(data, "step", 0),
		            ctl_str(data, "action", NULL), ctl_str(data, "identity", NULL),
		            ctl_str(data, "error", NULL), ctl_str(data, "reason", NULL));
		return;
	}
	buf_appendf(line, "%s by %s on plan %s refused (%s): %s", ctl_str(data, "decision", NULL),
	            ctl_str(data, "identity", NULL), ctl_str(data, "plan", NULL),
	            ctl_str(data, "error", NULL), ctl_str(data, "reason", NULL));
}

/* command and resolved: who, what, and the note when there is one. */
static void ctl_ev_person(struct buf *line, const char *name, const cJSON *data)
{
	const char *note = json_str(data, "note");
	const char *sep = note && *note ? ": " : "", *text = note && *note ? note : "";
	if (strcmp(name, WIRE_EV_COMMAND) == 0)
		buf_appendf(line, "%s: %s (from %s)%s%s", ctl_str(data, "user", NULL),
		            ctl_str(data, "action", NULL), ctl_str(data, "surface", NULL), sep,
		            text);
	else
		buf_appendf(line, "by %s%s%s", ctl_str(data, "by", NULL), sep, text);
}

/* A job that gave up (dead) or will be tried again (retry). */
static void ctl_ev_job(struct buf *line, const char *name, const cJSON *data)
{
	if (strcmp(name, WIRE_EV_DEAD) == 0)
		buf_appendf(line, "%s job %lld gave up after %lld attempt(s): %s",
		            ctl_str(data, "kind", NULL), (long long)json_int(data, "job", 0),
		            (long long)json_int(data, "attempts", 0), ctl_str(data, "error", NULL));
	else
		buf_appendf(line, "%s job %lld attempt %lld failed, will retry: %s",
		            ctl_str(data, "kind", NULL), (long long)json_int(data, "job", 0),
		            (long long)json_int(data, "attempt", 0), ctl_str(data, "error", NULL));
}

/* opsbot-exec's ledger (queue/ledger.c): a step started, finished, unknown, decided. */
static void ctl_ev_action(struct buf *line, const char *name, const cJSON *ev, const cJSON *data)
{
	int rb = json_str(data, "kind") && !strcmp(json_str(data, "kind"), "rollback");
	buf_appendf(line, "step %lld %s%s", (long long)json_int(data, "step", 0),
	            json_str(data, "action"), rb ? " (rollback)" : "");
	if (!strcmp(name, WIRE_EV_ACTION_STARTED)) {
		const cJSON *a;
		buf_appendf(line, ":");
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(data, "argv"))
		{
			if (cJSON_IsString(a))
				buf_appendf(line, " %s", a->valuestring);
		}
		if (json_int(data, "attempts", 1) > 1)
			buf_appendf(line, " (attempt %lld)",
			            (long long)json_int(data, "attempts", 1));
	} else if (!strcmp(name, WIRE_EV_ACTION_FINISHED)) {
		const cJSON *ex = cJSON_GetObjectItemCaseSensitive(data, "exit");
		buf_appendf(line, " %s", ctl_str(data, "state", NULL));
		if (cJSON_IsNumber(ex))
			buf_appendf(line, " (exit %d)", ex->valueint);
		char first[160];
		str_copy(first, sizeof(first), ctl_str(data, "output", NULL));
		first[strcspn(first, "\n")] = '\0';
		if (first[0])
			buf_appendf(line, ": %s", first);
	} else if (!strcmp(name, WIRE_EV_ACTION_UNKNOWN)) {
		buf_appendf(line, ": %s; answer with: opsbotctl step %lld %lld retry|skip|abort",
		            ctl_str(data, "question", NULL), (long long)json_int(ev, "incident", 0),
		            (long long)json_int(data, "step", 0));
	} else if (!strcmp(name, WIRE_EV_ACTION_DECIDED)) {
		buf_appendf(line, ": %s chose %s (from %s)", ctl_str(data, "user", NULL),
		            ctl_str(data, "decision", NULL), ctl_str(data, "surface", NULL));
	}
}

/* Any other event: its summary, its result's summary, or its first scalars. */
static void ctl_ev_other(struct buf *line, const cJSON *data)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(data, "result");
	char b[256];
	if (json_str(data, "summary")) {
		buf_appendf(line, "%s", json_str(data, "summary"));
	} else if (cJSON_IsObject(r) && json_str(r, "summary")) {
		buf_appendf(line, "%s: %s", ctl_str(data, "kind", NULL), json_str(r, "summary"));
	} else if (data && cJSON_IsObject(data)) {
		const cJSON *it;
		int k = 0;
		cJSON_ArrayForEach(it, data)
		{
			if (cJSON_IsObject(it) || cJSON_IsArray(it) || k++ >= 5)
				continue;
			buf_appendf(line, "%s%s=%s", k > 1 ? " " : "", it->string,
			            ctl_scalar(it, b, sizeof(b)));
		}
	}
}

/* What a person wants from an event's data, by its name. */
static void ctl_event_text(struct buf *line, const char *name, const cJSON *ev)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
	if (strcmp(name, WIRE_EV_STAGE) == 0)
		ctl_ev_stage(line, data);
	else if (strcmp(name, WIRE_EV_OPENED) == 0)
		buf_appendf(line, "%s [%s, %s, from %s]", ctl_str(data, "title", NULL),
		            ctl_str(data, "service", NULL), ctl_str(data, "severity", NULL),
		            ctl_str(data, "source", NULL));
	else if (strcmp(name, WIRE_EV_PLAN) == 0)
		ctl_ev_plan(line, data);
	else if (strcmp(name, WIRE_EV_APPROVAL) == 0)
		ctl_ev_approval(line, data);
	else if (strcmp(name, WIRE_EV_APPROVAL_REFUSED) == 0)
		ctl_ev_refused(line, data);
	else if (strcmp(name, WIRE_EV_COMMAND) == 0 || strcmp(name, WIRE_EV_RESOLVED) == 0)
		ctl_ev_person(line, name, data);
	else if (strcmp(name, WIRE_EV_DEAD) == 0 || strcmp(name, WIRE_EV_RETRY) == 0)
		ctl_ev_job(line, name, data);
	else if (strncmp(name, "action.", 7) == 0 && json_str(data, "action"))
		ctl_ev_action(line, name, ev, data);
	else if (strcmp(name, WIRE_EV_UPDATED) == 0 && json_str(data, "stage"))
		buf_appendf(line, "%s: %s", json_str(data, "stage"), ctl_str(data, "reason", NULL));
	else
		ctl_ev_other(line, data);
}

/* One timeline or event line: time, name, and what a person wants from data. */
static void ctl_event_line(const cJSON *ev, int with_incident)
{
	char when[40];
	const char *name = ctl_str(ev, "name", "event");
	struct buf line = {.max = 4096};
	ctl_event_text(&line, name, ev);
	int64_t at = ctl_int(ev, "at_ms", "ts_ms");
	char tbuf[16] = "-";
	if (at > 0) {
		time_fmt_iso(at, when, sizeof(when));
		snprintf(tbuf, sizeof(tbuf), "%.8s", when + 11); /* HH:MM:SS */
	}
	if (with_incident)
		printf("%6lld  %s  #%-4lld %-20s %s\n", (long long)json_int(ev, "seq", 0), tbuf,
		       (long long)json_int(ev, "incident", 0), name, line.data ? line.data : "");
	else
		printf("  %s  %-20s %s\n", tbuf, name, line.data ? line.data : "");
	buf_free(&line);
}

static int ctl_show(struct ctl *c, int argc, char **argv)
{
	int64_t id;
	if (argc != 2 || ctl_id(argv[1], &id) < 0)
		return ctl_usage();
	cJSON *inc, *tl;
	int rc = ctl_call(c, ctl_query("incident", id), &inc);
	if (rc != CTL_OK)
		return rc;
	rc = ctl_call(c, ctl_query("timeline", id), &tl);
	if (rc != CTL_OK) {
		cJSON_Delete(inc);
		return rc;
	}
	if (c->json) {
		cJSON *both = json_new_object();
		json_add(both, "incident",
		         json_dup(cJSON_GetObjectItemCaseSensitive(inc, "incident")));
		json_add(both, "timeline", json_dup(cJSON_GetObjectItemCaseSensitive(tl, "items")));
		ctl_print_json(both);
		cJSON_Delete(both);
	} else {
		const cJSON *i = cJSON_GetObjectItemCaseSensitive(inc, "incident");
		char when[40];
		printf("incident %lld: %s\n", (long long)id, ctl_str(i, "title", NULL));
		printf("  state:    %s\n", ctl_str(i, "state", NULL));
		printf("  service:  %s   severity: %s   source: %s\n", ctl_str(i, "service", NULL),
		       ctl_str(i, "severity", NULL), ctl_str(i, "source", NULL));
		printf("  opened:   %s\n",
		       ctl_when(ctl_int(i, "opened_ms", "created_ms"), when, sizeof(when)));
		const char *sum = json_str(i, "summary");
		if (sum && *sum)
			printf("  summary:  %s\n", sum);
		printf("timeline:\n");
		const cJSON *ev;
		cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(tl, "items"))
		    ctl_event_line(ev, 0);
	}
	cJSON_Delete(inc);
	cJSON_Delete(tl);
	return CTL_OK;
}

static volatile sig_atomic_t ctl_interrupted;

static void ctl_on_signal(int sig)
{
	(void)sig;
	ctl_interrupted = 1;
}

static void ctl_print_event(const struct ctl *c, const cJSON *ev)
{
	if (c->json) {
		char *t = json_print(ev);
		puts(t);
		free(t);
	} else {
		ctl_event_line(ev, 1);
	}
	fflush(stdout);
}

/*
 * events [--since N] [--limit N] [--follow]: stored events after N; with
 * --follow, then every new one from the PUB socket until ^C.  The
 * subscription opens before the query so nothing falls between the two;
 * events already printed (by seq) are skipped.
 */
static int ctl_events(struct ctl *c, int argc, char **argv)
{
	cJSON *req = ctl_query("events", 0);
	int follow = 0;
	json_add_int(req, "since", 0);
	for (int i = 1; i < argc; i++) {
		int64_t v;
		if ((strcmp(argv[i], "--since") == 0 || strcmp(argv[i], "--limit") == 0) &&
		    i + 1 < argc &&
		    (ctl_id(argv[i + 1], &v) == 0 || strcmp(argv[i + 1], "0") == 0)) {
			if (strcmp(argv[i + 1], "0") == 0)
				v = 0;
			cJSON_DeleteItemFromObject(req, argv[i] + 2);
			json_add_int(req, argv[i] + 2, v);
			i++;
		} else if (strcmp(argv[i], "--follow") == 0 || strcmp(argv[i], "-f") == 0) {
			follow = 1;
		} else {
			cJSON_Delete(req);
			return ctl_usage();
		}
	}
	struct rpc_sub *sub = NULL;
	char err[256];
	if (follow && rpc_sub_open(&sub, c->events_url, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbotctl: cannot subscribe to %s: %s\n", c->events_url, err);
		cJSON_Delete(req);
		return CTL_DOWN;
	}
	cJSON *reply;
	int rc = ctl_call(c, req, &reply);
	if (rc != CTL_OK) {
		rpc_sub_close(sub);
		return rc;
	}
	int64_t last = 0;
	if (c->json && !follow) {
		ctl_print_json(reply);
	} else {
		const cJSON *ev;
		cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(reply, "items"))
		{
			ctl_print_event(c, ev);
			last = json_int(ev, "seq", last);
		}
	}
	cJSON_Delete(reply);
	if (!follow)
		return CTL_OK;
	struct sigaction sa = {0};
	sa.sa_handler = ctl_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!ctl_interrupted) {
		cJSON *ev = NULL;
		if (rpc_sub_recv(sub, &ev, 500) < 0)
			continue;
		if (json_int(ev, "seq", 0) > last) {
			ctl_print_event(c, ev);
			last = json_int(ev, "seq", last);
		}
		cJSON_Delete(ev);
	}
	rpc_sub_close(sub);
	return CTL_OK;
}

static int ctl_dead_letters(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return ctl_usage();
	cJSON *reply;
	int rc = ctl_call(c, ctl_query("dead_letters", 0), &reply);
	if (rc != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(reply);
	} else {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(reply, "items");
		if (cJSON_GetArraySize(items) == 0) {
			printf("no dead letters\n");
		} else {
			printf("%-6s %-9s %-8s %-8s %s\n", "JOB", "KIND", "INCIDENT", "ATTEMPTS",
			       "LAST ERROR");
			const cJSON *it;
			cJSON_ArrayForEach(it, items)
			{
				printf("%-6lld %-9s %-8lld %-8lld %s\n",
				       (long long)ctl_int(it, "id", "job"),
				       ctl_str(it, "kind", NULL),
				       (long long)json_int(it, "incident", 0),
				       (long long)ctl_int(it, "attempts", "attempt"),
				       ctl_str(it, "error", "last_error"));
			}
			printf("run one again with: opsbotctl retry JOB\n");
		}
	}
	cJSON_Delete(reply);
	return CTL_OK;
}

/* ---- changes ---- */

static int ctl_print_state(struct ctl *c, cJSON *reply, const char *what, int64_t id)
{
	if (c->json)
		ctl_print_json(reply);
	else
		printf("%s: incident %lld is now %s\n", what, (long long)id,
		       ctl_str(reply, "state", NULL));
	cJSON_Delete(reply);
	return CTL_OK;
}

static int ctl_submit(struct ctl *c, int argc, char **argv)
{
	const char *service = NULL, *title = NULL, *severity = SEVERITY_DEFAULT, *summary = NULL;
	const char *file = NULL, *key = NULL;
	char *key_owned = NULL; /* a key read from the file; freed below */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return ctl_usage();
		if (strcmp(a, "--service") == 0)
			service = v;
		else if (strcmp(a, "--title") == 0)
			title = v;
		else if (strcmp(a, "--severity") == 0)
			severity = v;
		else if (strcmp(a, "--summary") == 0)
			summary = v;
		else if (strcmp(a, "--file") == 0)
			file = v;
		else if (strcmp(a, "--key") == 0)
			key = v;
		else
			return ctl_usage();
	}
	cJSON *spec = NULL;
	if (file) {
		struct buf b = {.max = CTL_FILE_MAX};
		char err[256];
		if (buf_read_file(&b, file, err, sizeof(err)) < 0) {
			fprintf(stderr, "opsbotctl: %s\n", err);
			buf_free(&b);
			return CTL_USAGE;
		}
		if (utf8_parse_json(b.data, b.len, &spec, err, sizeof(err)) < 0) {
			fprintf(stderr, "opsbotctl: %s: %s\n", file, err);
			buf_free(&b);
			return CTL_USAGE;
		}
		buf_free(&b);
		/* Accept the spec itself or {"spec": {...}, "key": "..."}. */
		cJSON *inner = cJSON_DetachItemFromObjectCaseSensitive(spec, "spec");
		if (inner) {
			const char *k = json_str(spec, "key");
			if (k && !key)
				key = key_owned = xstrdup(k);
			cJSON_Delete(spec);
			spec = inner;
		}
		if (!json_str(spec, "source"))
			json_add_str(spec, "source", "cli");
	} else {
		if (!service || !title) {
			fprintf(stderr,
			        "opsbotctl: submit needs --service and --title (or --file)\n");
			return CTL_USAGE;
		}
		struct submit_incident si = {.title = title,
		                             .service = service,
		                             .severity = severity,
		                             .source = "cli",
		                             .summary = summary};
		spec = submit_spec_new(&si);
	}
	utf8_repair_json(spec); /* the one UTF-8 rule (lib/utf8.h) for argv text too */
	cJSON *req = wire_new(WIRE_SUBMIT, 0);
	json_add_str(req, "what", "incident");
	if (key)
		json_add_str(req, "key", key);
	json_add(req, "spec", spec);
	cJSON *reply;
	int rc = ctl_call(c, req, &reply);
	free(key_owned);
	if (rc != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(reply);
	} else {
		int64_t id = json_int(reply, "incident", 0);
		/* Without --key the key is this request's own id: a hit is our resend. */
		if (json_bool(reply, "created", 1) || !key)
			printf("incident %lld opened; follow it with: opsbotctl show %lld\n",
			       (long long)id, (long long)id);
		else
			printf("incident %lld already exists for this key; nothing new was "
			       "created\n",
			       (long long)id);
	}
	cJSON_Delete(reply);
	return CTL_OK;
}

static int ctl_command(struct ctl *c, const char *action, int64_t incident, const char *note,
                       int64_t job, cJSON **reply)
{
	cJSON *req = wire_new(WIRE_COMMAND, incident);
	json_add_str(req, "action", action);
	json_add_str(req, "user", c->user);
	json_add_str(req, "surface", "cli");
	if (note)
		json_add_str(req, "note", note);
	if (job)
		json_add_int(req, "job", job);
	return ctl_call(c, req, reply);
}

static int ctl_simple(struct ctl *c, int argc, char **argv)
{
	int64_t id;
	const char *action = argv[0];
	int with_note = strcmp(action, "resolve") == 0;
	if (argc < 2 || argc > (with_note ? 3 : 2) || ctl_id(argv[1], &id) < 0)
		return ctl_usage();
	cJSON *reply;
	int rc = ctl_command(c, action, id, argc == 3 ? argv[2] : NULL, 0, &reply);
	if (rc != CTL_OK)
		return rc;
	return ctl_print_state(c, reply, action, id);
}

static int ctl_retry(struct ctl *c, int argc, char **argv)
{
	int64_t job;
	if (argc != 2 || ctl_id(argv[1], &job) < 0)
		return ctl_usage();
	cJSON *reply;
	int rc = ctl_command(c, "retry", 0, NULL, job, &reply);
	if (rc != CTL_OK)
		return rc;
	if (c->json)
		ctl_print_json(reply);
	else
		printf("job %lld queued again (incident now %s)\n", (long long)job,
		       ctl_str(reply, "state", NULL));
	cJSON_Delete(reply);
	return CTL_OK;
}

static int ctl_approve(struct ctl *c, int argc, char **argv)
{
	int64_t id;
	const char *plan = NULL, *as = NULL, *reason = NULL;
	int approve = strcmp(argv[0], "approve") == 0;
	if (argc < 2 || ctl_id(argv[1], &id) < 0)
		return ctl_usage();
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--plan") == 0 && i + 1 < argc) {
			plan = argv[++i];
		} else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc) {
			as = argv[++i];
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc && !approve) {
			reason = argv[++i];
		} else if (strcmp(argv[i], "--user") == 0) {
			fprintf(stderr,
			        "opsbotctl: --user is gone: the queue reads who you are from the "
			        "socket (you are %s); list that account as \"unix = %s\" in a "
			        "[person] of policy.conf\n",
			        c->user, c->user);
			return CTL_USAGE;
		} else {
			return ctl_usage();
		}
	}
	if (!plan) {
		fprintf(stderr, "opsbotctl: %s needs --plan HASH (shown by: opsbotctl show %lld)\n",
		        argv[0], (long long)id);
		return CTL_USAGE;
	}
	char surface[16] = "cli";
	const char *user = c->user;
	if (as) {
		const char *colon = strchr(as, ':');
		if (!colon || !colon[1] ||
		    !((colon - as == 5 && !strncmp(as, "slack", 5)) ||
		      (colon - as == 7 && !strncmp(as, "discord", 7)))) {
			fprintf(stderr,
			        "opsbotctl: --as wants slack:USER_ID or discord:USER_ID, not %s\n",
			        as);
			return CTL_USAGE;
		}
		snprintf(surface, sizeof(surface), "%.*s", (int)(colon - as), as);
		user = colon + 1;
	}
	cJSON *req = wire_new(WIRE_APPROVE, id);
	json_add_str(req, "plan", plan);
	json_add_str(req, "user", user);
	json_add_str(req, "surface", surface);
	json_add_str(req, "decision", approve ? "approve" : "reject");
	if (reason)
		json_add_str(req, "reason", reason);
	cJSON *reply;
	int rc = ctl_call(c, req, &reply);
	if (rc != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(reply);
	} else if (approve && json_int(reply, "have", 0) < json_int(reply, "need", 0)) {
		struct buf who = {.max = 4096};
		const cJSON *p;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(reply, "approvers"))
		{
			if (cJSON_IsString(p))
				buf_appendf(&who, "%s%s", who.len ? ", " : "", p->valuestring);
		}
		printf("approved: %lld of %lld approvals so far (%s); incident %lld is still %s\n",
		       (long long)json_int(reply, "have", 0), (long long)json_int(reply, "need", 0),
		       who.data ? who.data : "", (long long)id, ctl_str(reply, "state", NULL));
		buf_free(&who);
	} else {
		printf("%s: incident %lld is now %s\n", approve ? "approved" : "rejected",
		       (long long)id, ctl_str(reply, "state", NULL));
	}
	cJSON_Delete(reply);
	return CTL_OK;
}

/* identity: how the queue sees this process. */
static int ctl_identity(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return ctl_usage();
	cJSON *reply;
	int rc = ctl_call(c, ctl_query("identity", 0), &reply);
	if (rc != CTL_OK)
		return rc;
	const cJSON *who = cJSON_GetObjectItemCaseSensitive(reply, "identity");
	if (c->json) {
		ctl_print_json(reply);
	} else {
		const char *person = json_str(who, "person");
		printf("account: %s (via %s)\nperson:  %s\nrole:    %s\n",
		       ctl_str(who, "account", NULL), ctl_str(who, "via", NULL),
		       person ? person
		              : "none: not in the approval policy, so approve and reject "
		                "are refused",
		       ctl_str(who, "role", NULL));
	}
	cJSON_Delete(reply);
	return CTL_OK;
}

/* kb ...: hand over to opsbot-retrieve from our own bin directory. */
static int ctl_kb(struct ctl *c, int argc, char **argv)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "opsbotctl: cannot find my own directory: %s\n", strerror(errno));
		return CTL_USAGE;
	}
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	char *path = xasprintf("%s/opsbot-retrieve", exe);
	char **av = xcalloc((size_t)argc + 4, sizeof(char *));
	av[0] = path;
	av[1] = (char *)"-c";
	av[2] = (char *)c->config_path;
	for (int i = 0; i < argc; i++)
		av[3 + i] = argv[i];
	execv(path, av);
	fprintf(stderr, "opsbotctl: cannot run %s: %s%s\n", path, strerror(errno),
	        errno == ENOENT ? " (the retrieval worker is not built yet)" : "");
	free(path);
	free(av);
	return CTL_USAGE;
}

/* ---- actions (opsbot-exec's ledger) ---- */

static cJSON *ctl_ledger_list(int64_t id)
{
	cJSON *req = wire_new(WIRE_LEDGER, id);
	json_add_str(req, "op", "list");
	json_add_int(req, "limit", 500);
	return req;
}

static int ctl_ledger(struct ctl *c, int argc, char **argv)
{
	int64_t id = 0;
	if (argc > 2 || (argc == 2 && ctl_id(argv[1], &id) < 0))
		return ctl_usage();
	cJSON *reply;
	int rc = ctl_call(c, ctl_ledger_list(id), &reply);
	if (rc != CTL_OK)
		return rc;
	if (c->json) {
		ctl_print_json(reply);
		cJSON_Delete(reply);
		return CTL_OK;
	}
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(reply, "items");
	if (cJSON_GetArraySize(items) == 0)
		printf("no actions recorded%s\n", id ? " for this incident" : "");
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
	{
		char ex[16] = "-", name[80];
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "exit");
		if (cJSON_IsNumber(e))
			snprintf(ex, sizeof(ex), "%d", e->valueint);
		const char *kind = ctl_str(it, "kind", NULL);
		snprintf(name, sizeof(name), "%s%s", ctl_str(it, "action", NULL),
		         strcmp(kind, "rollback") ? "" : " (rollback)");
		if (!id)
			printf("#%-4lld ", (long long)json_int(it, "incident", 0));
		printf("%4lld  %-24s %-9s exit %-4s", (long long)json_int(it, "step", 0), name,
		       ctl_str(it, "state", NULL), ex);
		const cJSON *a;
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(it, "argv"))
		{
			if (cJSON_IsString(a))
				printf(" %s", a->valuestring);
		}
		printf("\n");
		const char *st = ctl_str(it, "state", NULL);
		const char *dec = json_str(it, "decision");
		if (!strcmp(st, "unknown") && !dec)
			printf(
			    "      may or may not have run; answer with: opsbotctl step %lld %lld "
			    "retry|skip|abort\n",
			    (long long)json_int(it, "incident", 0),
			    (long long)json_int(it, "step", 0));
		else if (dec)
			printf("      %s by %s\n", dec, ctl_str(it, "decided_by", NULL));
		else if (!strcmp(st, "refused") || !strcmp(st, "failed")) {
			char line[200];
			str_copy(line, sizeof(line), ctl_str(it, "output", NULL));
			line[strcspn(line, "\n")] = '\0';
			printf("      %s\n", line);
		}
	}
	cJSON_Delete(reply);
	return CTL_OK;
}

static int ctl_step(struct ctl *c, int argc, char **argv)
{
	int64_t id, n;
	if (argc != 4 || ctl_id(argv[1], &id) < 0 || ctl_id(argv[2], &n) < 0 ||
	    (strcmp(argv[3], "retry") && strcmp(argv[3], "skip") && strcmp(argv[3], "abort")))
		return ctl_usage();
	cJSON *reply;
	int rc = ctl_call(c, ctl_ledger_list(id), &reply);
	if (rc != CTL_OK)
		return rc;
	char key[WIRE_KEY_MAX + 1] = "";
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(reply, "items"))
	{
		if (json_int(it, "step", 0) == n && !strcmp(ctl_str(it, "state", NULL), "unknown"))
			str_copy(key, sizeof(key), ctl_str(it, "step_key", NULL));
	}
	cJSON_Delete(reply);
	if (!key[0]) {
		fprintf(stderr,
		        "opsbotctl: incident %lld has no step %lld waiting for an answer "
		        "(see: opsbotctl ledger %lld)\n",
		        (long long)id, (long long)n, (long long)id);
		return CTL_REFUSED;
	}
	cJSON *req = wire_new(WIRE_LEDGER, id);
	json_add_str(req, "op", "decide");
	json_add_str(req, "step_key", key);
	json_add_str(req, "decision", argv[3]);
	json_add_str(req, "user", c->user);
	json_add_str(req, "surface", "cli");
	rc = ctl_call(c, req, &reply);
	if (rc != CTL_OK)
		return rc;
	if (c->json)
		ctl_print_json(reply);
	else
		printf("step %lld: %s recorded; incident %lld is now %s\n", (long long)n, argv[3],
		       (long long)id, ctl_str(reply, "state", NULL));
	cJSON_Delete(reply);
	return CTL_OK;
}

static int ctl_dryrun(struct ctl *c, int argc, char **argv)
{
	int64_t id;
	if (argc != 2 || ctl_id(argv[1], &id) < 0)
		return ctl_usage();
	cJSON *req = wire_new(WIRE_SUBMIT, id);
	json_add_str(req, "what", "job");
	cJSON *job = json_new_object();
	json_add_str(job, "kind", WIRE_JOB_DRYRUN);
	json_add(job, "input", json_new_object());
	json_add(req, "job", job);
	cJSON *reply;
	int rc = ctl_call(c, req, &reply);
	if (rc != CTL_OK)
		return rc;
	int64_t jid = json_int(reply, "job", 0);
	cJSON_Delete(reply);
	/* opsbot-exec answers in the incident's results; wait for this job's answer. */
	int64_t until = time_mono_ms() + 15000;
	for (;;) {
		rc = ctl_call(c, ctl_query("incident", id), &reply);
		if (rc != CTL_OK)
			return rc;
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(reply, "incident");
		const cJSON *dr = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(in, "results"), WIRE_JOB_DRYRUN);
		if (dr && json_int(dr, "job", 0) == jid)
			break;
		cJSON_Delete(reply);
		reply = NULL;
		if (time_mono_ms() > until) {
			fprintf(
			    stderr,
			    "opsbotctl: no dry run within 15s (job %lld); is opsbot-exec running? "
			    "see: opsbotctl dead-letters\n",
			    (long long)jid);
			return CTL_REFUSED;
		}
		time_sleep_ms(50, NULL);
	}
	const cJSON *dr = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(reply, "incident"),
	                                     "results"),
	    WIRE_JOB_DRYRUN);
	if (c->json) {
		ctl_print_json(dr);
	} else {
		printf("dry run of plan %s for incident %lld (nothing was run):\n",
		       ctl_str(dr, "plan", NULL), (long long)id);
		const cJSON *it;
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(dr, "steps"))
		{
			printf("  step %lld %s:", (long long)json_int(it, "step", 0),
			       ctl_str(it, "action", NULL));
			if (json_str(it, "error")) {
				printf(" refused: %s\n", json_str(it, "error"));
				continue;
			}
			const cJSON *a;
			cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(it, "argv"))
			{
				if (cJSON_IsString(a))
					printf(" %s", a->valuestring);
			}
			printf("\n");
		}
	}
	int ok = json_bool(dr, "ok", 0);
	cJSON_Delete(reply);
	return ok ? CTL_OK : CTL_REFUSED;
}

/* report ID --pdf FILE [--paper a4|letter]: opsbot-report renders it (same bin dir). */
static int ctl_report(struct ctl *c, int argc, char **argv)
{
	const char *out = NULL, *paper = NULL;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--pdf") == 0)
			out = argv[i + 1];
		else if (strcmp(argv[i], "--paper") == 0)
			paper = argv[i + 1];
	}
	if (argc < 4 || !out || argc % 2)
		return ctl_usage();
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "opsbotctl: cannot find my own directory: %s\n", strerror(errno));
		return CTL_USAGE;
	}
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	char *path = xasprintf("%s/opsbot-report", exe);
	char *av[] = {path,
	              (char *)"-c",
	              (char *)c->config_path,
	              (char *)"pdf",
	              argv[1],
	              (char *)"--out",
	              (char *)out,
	              paper ? (char *)"--paper" : NULL,
	              (char *)paper,
	              NULL};
	execv(path, av);
	fprintf(stderr, "opsbotctl: cannot run %s: %s%s\n", path, strerror(errno),
	        errno == ENOENT ? " (the report worker is not built)" : "");
	free(path);
	return CTL_USAGE;
}

struct ctl_cmd {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
};

static const struct ctl_cmd ctl_cmds[] = {
    {"status", ctl_status},
    {"incidents", ctl_incidents},
    {"show", ctl_show},
    {"submit", ctl_submit},
    {"dead-letters", ctl_dead_letters},
    {"retry", ctl_retry},
    {"approve", ctl_approve},
    {"identity", ctl_identity},
    {"reject", ctl_approve},
    {"resolve", ctl_simple},
    {"pause", ctl_simple},
    {"resume", ctl_simple},
    {"events", ctl_events},
    {"kb", ctl_kb},
    {"dryrun", ctl_dryrun},
    {"ledger", ctl_ledger},
    {"step", ctl_step},
    {"report", ctl_report},
};

int main(int argc, char **argv)
{
	log_init("opsbotctl");
	if (!getenv("OPSBOT_LOG_LEVEL"))
		log_set_level(LOG_WARN);
	struct ctl c = {.config_path = CTL_DEFAULT_CONFIG};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			c.config_path = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			c.json = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			ctl_usage();
			return 0;
		} else
			return ctl_usage();
	}
	if (i >= argc)
		return ctl_usage();
	if (strcmp(argv[i], "eval") == 0) /* runs its own stack (sim/eval.c) */
		return eval_main(argc - i, argv + i);
	{
		struct passwd pw, *res = NULL;
		char pwbuf[1024];
		if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
			str_copy(c.user, sizeof(c.user), res->pw_name);
		else
			snprintf(c.user, sizeof(c.user), "uid:%u", (unsigned)geteuid());
	}

	struct config *cfg;
	char err[512];
	if (config_load(c.config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbotctl: %s\n", err);
		return CTL_USAGE;
	}
	str_copy(c.url, sizeof(c.url), config_str(cfg, "queue", "listen", CTL_DEFAULT_QUEUE));
	str_copy(c.events_url, sizeof(c.events_url),
	         config_str(cfg, "queue", "events", CTL_DEFAULT_EVENTS));
	str_copy(c.run_dir, sizeof(c.run_dir), config_str(cfg, "master", "run_dir", "var/run"));
	rpc_tls_from_config(cfg); /* a tls+tcp:// queue: this host's client certificate */
	config_free(cfg);

	/* Accept the command anywhere after the global options, so
	 * "opsbotctl show 3 --json" works too. */
	int rc = -1;
	int n = argc - i;
	char **av = argv + i;
	for (int k = 1; k < n; k++) {
		if (strcmp(av[k], "--json") == 0 && strcmp(av[0], "kb") != 0) {
			c.json = 1;
			memmove(&av[k], &av[k + 1], (size_t)(n - k - 1) * sizeof(char *));
			n--;
			k--;
		}
	}
	for (size_t k = 0; k < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); k++)
		if (strcmp(av[0], ctl_cmds[k].name) == 0)
			rc = ctl_cmds[k].fn(&c, n, av);
	if (rc < 0) {
		fprintf(stderr, "opsbotctl: unknown command %s\n", av[0]);
		rc = ctl_usage();
	}
	if (c.rpc)
		rpc_close(c.rpc);
	return rc;
}
