/*
 * NAME
 *   opsbot-report - incident summaries (PDF), email through a durable outbox, digests
 *
 * SYNOPSIS
 *   opsbot-report [-c FILE]                         the worker (report, email, digest jobs)
 *   opsbot-report [-c FILE] pdf ID --out F [--paper a4|letter]
 *                                                   summary of incident ID (open or not)
 *   opsbot-report [-c FILE] render IN.json --out F [--paper P] [--now ISO]
 *                                                   summary from a file (report.h input)
 *   opsbot-report [-c FILE] digest hourly|daily [--out F] [--at ISO]
 *                                                   the digest PDF of the period before --at
 *   opsbot-report [-c FILE] bench N IN.json LONG.json [--smtp HOST:PORT]
 *                                                   one JSON line of timings
 *
 * DESCRIPTION
 *   report job (the pipeline's, after every ending: resolved, failed,
 *   rejected, expired; the summary and mail say which and why): renders the summary to
 *   [report] dir/incident-ID.pdf, and for every [email] route that wants
 *   resolutions of this service and severity queues one outbox job (kind
 *   "email", incident 0) holding the whole composed message, with an
 *   idempotency key made of the Message-ID, so a report job that runs
 *   twice queues each mail once.
 *
 *   email job: the outbox.  Sends the stored message to [email] smtp.  A
 *   relay that is down or answers 4xx fails the job as retryable: the
 *   queue retries it with backoff (queue/outbox.c gives email jobs more
 *   attempts than other kinds); 5xx is final (dead letter, visible in
 *   opsbotctl dead-letters).  After the relay's 250 the Message-ID is
 *   recorded in [report] db before the job completes; a redelivered job
 *   finds it and completes without sending (see sent.h for the window).
 *
 *   digest job: a thread submits one per configured period (hourly,
 *   daily) once it has ended, with key "digest:PERIOD:FROM_MS": the
 *   queue's idempotency table makes that once per period across restarts,
 *   and report.db remembers the next period due, so periods that ended
 *   while the worker was down are submitted when it is back (up to 48).
 *   The job reads incidents and events from the queue, renders the digest
 *   PDF and queues email to the routes that want that digest.
 *
 * TRUST
 *   Everything in job inputs and queue replies is untrusted text: PDFs set
 *   it as plain text (pango, never markup), email escapes it for HTML and
 *   puts it into headers only after removing CR/LF.  OPSBOT_SMTP_PASSWORD
 *   is read from the environment and never logged.
 *
 * CONFIG
 *   [report] dir, paper, templates, db, digests, digest_check,
 *   hourly_length, daily_length (+ lease, claim_wait, stop_grace);
 *   [email] smtp, from, starttls, ca_file, user, helo, timeout, route
 *   (repeatable).  See config/opsbot.conf.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "defaults.h"
#include "json.h"
#include "log.h"
#include "mail.h"
#include "mem.h"
#include "report.h"
#include "rpc.h"
#include "sent.h"
#include "workers/detect/source.h"
#include "template.h"
#include "timeutil.h"
#include "wire.h"
#include "worker.h"

#define WIRE_JOB_EMAIL  "email"
#define WIRE_JOB_DIGEST "digest"
#define ROUTES_MAX      32
#define RCPT_MAX        16
#define CALL_MS         5000
#define PDF_MAX         (2 << 20) /* default [email] attach_max */
#define SUBJECT_MAX     200       /* bytes of a subject before it is cut */

enum { WHEN_RESOLVED = 1, WHEN_HOURLY = 2, WHEN_DAILY = 4 };

struct route {
	char *to[RCPT_MAX];
	size_t nto;
	char services[512]; /* ",a,b," or "" for all */
	char severities[128];
	unsigned when;
	char key[17]; /* hex hash of the line: part of Message-IDs */
};

struct rstate {
	char url[512];
	struct rpc *rpc;
	char dir[512];
	enum doc_paper paper;
	struct template_set *tpl;
	struct sent *sent;
	struct mail_relay relay;
	char from[320], from_addr[320], domain[200];
	char db[512]; /* [report] db: opened by the worker only, not by the commands */
	size_t attach_max;
	struct route routes[ROUTES_MAX];
	size_t nroutes;
	unsigned digests;
	int64_t digest_check_ms, hourly_ms, daily_ms;
	struct source_set *src; /* [source NAME] sections: samples for the charts */
	int64_t step_ms;
	pthread_t sched;
	int sched_on;
	volatile int stop;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* ---- config ---- */

static int parse_route(const char *line, struct route *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->when = WHEN_RESOLVED;
	snprintf(r->key, sizeof(r->key), "%016llx", (unsigned long long)fnv(line));
	char *copy = xstrdup(line), *save = NULL;
	int rc = 0;
	for (char *w = strtok_r(copy, " \t", &save); w && rc == 0;
	     w = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(w, '=');
		if (!eq) {
			char *s2 = NULL;
			for (char *a = strtok_r(w, ",", &s2); a; a = strtok_r(NULL, ",", &s2)) {
				char addr[320];
				if (mail_addr(a, addr, sizeof(addr)) < 0 || r->nto >= RCPT_MAX) {
					snprintf(
					    err, errlen,
					    "\"%s\" is not an e-mail address (or more than %d)", a,
					    RCPT_MAX);
					rc = -1;
					break;
				}
				r->to[r->nto++] = xstrdup(addr);
			}
			continue;
		}
		*eq = '\0';
		const char *v = eq + 1;
		if (!strcmp(w, "service"))
			snprintf(r->services, sizeof(r->services), ",%s,", strcmp(v, "*") ? v : "");
		else if (!strcmp(w, "severity"))
			snprintf(r->severities, sizeof(r->severities), ",%s,",
			         strcmp(v, "*") ? v : "");
		else if (!strcmp(w, "when")) {
			r->when = 0;
			char *s2 = NULL, *vv = xstrdup(v);
			for (char *a = strtok_r(vv, ",", &s2); a; a = strtok_r(NULL, ",", &s2)) {
				if (!strcmp(a, "resolved"))
					r->when |= WHEN_RESOLVED;
				else if (!strcmp(a, "hourly"))
					r->when |= WHEN_HOURLY;
				else if (!strcmp(a, "daily"))
					r->when |= WHEN_DAILY;
				else {
					snprintf(err, errlen,
					         "when=%s: use resolved, hourly or daily", a);
					rc = -1;
				}
			}
			free(vv);
		} else {
			snprintf(err, errlen,
			         "unknown route option %s= (use service=, severity=, when=)", w);
			rc = -1;
		}
	}
	free(copy);
	if (rc == 0 && !r->nto) {
		snprintf(err, errlen, "the route names no address");
		rc = -1;
	}
	if (!strcmp(r->services, ",,"))
		r->services[0] = '\0';
	if (!strcmp(r->severities, ",,"))
		r->severities[0] = '\0';
	return rc;
}

static int in_list(const char *list, const char *v)
{
	if (!list[0])
		return 1;
	char pat[200];
	snprintf(pat, sizeof(pat), ",%s,", v);
	return strstr(list, pat) != NULL;
}

static void routes_free(struct rstate *s)
{
	for (size_t i = 0; i < s->nroutes; i++)
		for (size_t k = 0; k < s->routes[i].nto; k++)
			free(s->routes[i].to[k]);
	s->nroutes = 0;
}

static int load_config(struct rstate *s, struct config *cfg, char *err, size_t errlen)
{
	str_copy(s->url, sizeof(s->url), config_str(cfg, "queue", "listen", DEF_QUEUE_URL));
	str_copy(s->dir, sizeof(s->dir), config_str(cfg, "report", "dir", "var/reports"));
	static const char *const papers[] = {"a4", "letter", NULL};
	s->paper = config_enum(cfg, "report", "paper", papers, 0) == 1 ? DOC_LETTER : DOC_A4;
	const char *tdir = config_str(cfg, "report", "templates", "templates/email");
	const char *db = config_str(cfg, "report", "db", "var/report.db");
	s->digest_check_ms = config_duration_ms(cfg, "report", "digest_check", 30000);
	s->hourly_ms = config_duration_ms(cfg, "report", "hourly_length", 3600000);
	s->daily_ms = config_duration_ms(cfg, "report", "daily_length", 86400000);
	const char *dg = config_str(cfg, "report", "digests", "");
	s->digests = 0;
	char *dcopy = xstrdup(dg), *save = NULL;
	for (char *w = strtok_r(dcopy, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
		if (!strcmp(w, "hourly"))
			s->digests |= WHEN_HOURLY;
		else if (!strcmp(w, "daily"))
			s->digests |= WHEN_DAILY;
		else
			config_error(cfg, "report", "digests",
			             "unknown digest \"%s\" (hourly, daily)", w);
	}
	free(dcopy);

	struct mail_relay *r = &s->relay;
	memset(r, 0, sizeof(*r));
	str_copy(r->server, sizeof(r->server), config_str(cfg, "email", "smtp", "127.0.0.1:25"));
	static const char *const tls[] = {"no", "yes", "required", NULL};
	r->tls = (enum mail_tls)config_enum(cfg, "email", "starttls", tls, 0);
	str_copy(r->ca_file, sizeof(r->ca_file), config_str(cfg, "email", "ca_file", ""));
	str_copy(r->user, sizeof(r->user), config_str(cfg, "email", "user", ""));
	str_copy(r->helo, sizeof(r->helo), config_str(cfg, "email", "helo", ""));
	r->timeout_ms = (int)config_duration_ms(cfg, "email", "timeout", 30000);
	s->attach_max = (size_t)config_int(cfg, "email", "attach_max", PDF_MAX, 1024, 16 << 20);
	r->password = config_secret("OPSBOT_SMTP_PASSWORD");
	str_copy(s->from, sizeof(s->from),
	         config_str(cfg, "email", "from", "opsbot <opsbot@localhost>"));
	if (mail_addr(s->from, s->from_addr, sizeof(s->from_addr)) < 0)
		config_error(cfg, "email", "from", "not an e-mail address: %s", s->from);
	else
		str_copy(s->domain, sizeof(s->domain), strchr(s->from_addr, '@') + 1);
	const char *routes[ROUTES_MAX + 1];
	size_t nr = config_all(cfg, "email", "route", routes, ROUTES_MAX + 1);
	if (nr > ROUTES_MAX)
		config_error(cfg, "email", "route", "at most %d routes", ROUTES_MAX);
	routes_free(s);
	for (size_t i = 0; i < nr && i < ROUTES_MAX; i++) {
		char e[300];
		if (parse_route(routes[i], &s->routes[s->nroutes], e, sizeof(e)) < 0) {
			config_error(cfg, "email", "route", "%s", e);
			for (size_t k = 0; k < s->routes[s->nroutes].nto; k++)
				free(s->routes[s->nroutes].to[k]);
		} else {
			s->nroutes++;
		}
	}
	if (r->user[0] && !r->password)
		log_warn("event=smtp_no_password user=%s reason=\"[email] user is set but "
		         "OPSBOT_SMTP_PASSWORD is not; AUTH will fail\"",
		         log_q(r->user));
	s->step_ms = config_duration_ms(cfg, "detect", "step", 15000);
	config_bool(cfg, "report", "chat_upload", 1); /* read by opsbot-bot (bot/upload.c) */
	if (source_set_load(cfg, &s->src, err, errlen) < 0)
		return -1;
	if (config_check(cfg, (const char *const[]){"report", "email", NULL}, err, errlen) < 0)
		return -1;
	/* the default folder, relative to where opsbot runs; else next to the build
	 * (bin/../../templates/email), so a run from another folder still finds it */
	char alt[PATH_MAX];
	struct stat sb;
	if (!config_line(cfg, "report", "templates") && stat(tdir, &sb) < 0) {
		ssize_t n = readlink("/proc/self/exe", alt, sizeof(alt) - 40);
		if (n > 0) {
			alt[n] = '\0';
			char *slash = strrchr(alt, '/');
			if (slash) {
				snprintf(slash, sizeof(alt) - (size_t)(slash - alt),
				         "/../../templates/email");
				if (stat(alt, &sb) == 0)
					tdir = alt;
			}
		}
	}
	if (template_set_load(tdir, &s->tpl, err, errlen) < 0)
		return -1;
	str_copy(s->db, sizeof(s->db), db);
	return 0;
}

/* ---- queue calls ---- */

static cJSON *q_call(struct rstate *s, cJSON *req, char *err, size_t errlen)
{
	if (!s->rpc && rpc_open(&s->rpc, s->url, err, errlen) < 0) {
		cJSON_Delete(req);
		return NULL;
	}
	cJSON *reply = NULL;
	int rc = rpc_call(s->rpc, req, &reply, CALL_MS, 2, err, errlen);
	cJSON_Delete(req);
	if (rc < 0) {
		cJSON_Delete(reply);
		return NULL;
	}
	return reply;
}

/* incident + timeline as report.h wants them, from the queue. */
static cJSON *fetch_incident(struct rstate *s, int64_t id, char *err, size_t errlen)
{
	cJSON *req = wire_new(WIRE_QUERY, id);
	json_add_str(req, "what", "incident");
	cJSON *r1 = q_call(s, req, err, errlen);
	if (!r1)
		return NULL;
	req = wire_new(WIRE_QUERY, id);
	json_add_str(req, "what", "timeline");
	cJSON *r2 = q_call(s, req, err, errlen);
	if (!r2) {
		cJSON_Delete(r1);
		return NULL;
	}
	cJSON *in = json_new_object();
	cJSON *inc = cJSON_DetachItemFromObjectCaseSensitive(r1, "incident");
	json_add(in, "incident", inc ? inc : json_new_object());
	cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(r2, "items");
	json_add(in, "timeline", items ? items : json_new_array());
	cJSON_Delete(r1);
	cJSON_Delete(r2);
	return in;
}

static int mkdir_p(const char *dir)
{
	char *p = xstrdup(dir);
	for (char *c = p + 1;; c++) {
		if (*c == '/' || !*c) {
			char save = *c;
			*c = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST) {
				free(p);
				return -1;
			}
			if (!save)
				break;
			*c = save;
		}
	}
	free(p);
	return 0;
}

/* ---- outbox ---- */

/* Compose one message and queue it as an email job keyed by its Message-ID. */
static int queue_mail(struct rstate *s, const struct route *rt, const char *mid_base,
                      const char *tname, const cJSON *ctx, const char *pdf_path,
                      const char *pdf_name, int64_t incident, cJSON *out, char *err, size_t errlen)
{
	char name[64], mid[300];
	struct buf subj = {0}, text = {0}, html = {0}, pdf = {.max = s->attach_max}, raw = {0};
	int rc = -1;
	snprintf(mid, sizeof(mid), "%s.%s@%s", mid_base, rt->key, s->domain);
	snprintf(name, sizeof(name), "%s_subject", tname);
	if (template_render(s->tpl, name, ctx, TEMPLATE_ESC_NONE, &subj, err, errlen) < 0)
		goto out;
	snprintf(name, sizeof(name), "%s_text", tname);
	if (template_render(s->tpl, name, ctx, TEMPLATE_ESC_NONE, &text, err, errlen) < 0)
		goto out;
	snprintf(name, sizeof(name), "%s_html", tname);
	if (template_render(s->tpl, name, ctx, TEMPLATE_ESC_HTML, &html, err, errlen) < 0)
		goto out;
	while (subj.len && (subj.data[subj.len - 1] == '\n' || subj.data[subj.len - 1] == '\r'))
		subj.data[--subj.len] = '\0';
	if (subj.len > SUBJECT_MAX) { /* a subject is read in a list: cut on a character */
		size_t cut = SUBJECT_MAX;
		while (cut > 0 && ((unsigned char)subj.data[cut] & 0xC0) == 0x80)
			cut--;
		subj.len = cut;
		subj.data[cut] = '\0';
		buf_appendf(&subj, "…");
	}
	struct mail_part part = {.name = pdf_name, .ctype = "application/pdf"};
	int have_pdf = pdf_path && buf_read_file(&pdf, pdf_path, err, errlen) == 0;
	if (have_pdf) {
		part.data = pdf.data;
		part.len = pdf.len;
	} else if (pdf_path) {
		log_warn("event=attachment_missing path=%s error=%s", log_q(pdf_path), log_q(err));
		/* say so in the mail instead of promising an attachment that is not there */
		buf_appendf(&text,
		            "\nThe PDF could not be attached (%s); it is %s on the opsbot host.\n",
		            err, pdf_path);
		struct buf esc = {0}, note = {0};
		template_escape(err, TEMPLATE_ESC_HTML, &esc);
		buf_appendf(&note, "<p>The PDF could not be attached (%s); it is ",
		            esc.data ? esc.data : "");
		buf_reset(&esc);
		template_escape(pdf_path, TEMPLATE_ESC_HTML, &esc);
		buf_appendf(&note, "%s on the opsbot host.</p>", esc.data ? esc.data : "");
		char *body_end = html.data ? strstr(html.data, "</body>") : NULL;
		size_t at = body_end ? (size_t)(body_end - html.data) : html.len;
		struct buf h2 = {0};
		buf_append(&h2, html.data ? html.data : "", at);
		buf_append(&h2, note.data, note.len);
		buf_append(&h2, html.data ? html.data + at : "", html.len - at);
		buf_free(&html);
		html = h2;
		buf_free(&esc);
		buf_free(&note);
		err[0] = '\0';
	}
	struct mail_msg m = {.from = s->from,
	                     .to = (const char *const *)rt->to,
	                     .nto = rt->nto,
	                     .subject = subj.data ? subj.data : "",
	                     .text = text.data,
	                     .html = html.data,
	                     .attach = have_pdf ? &part : NULL,
	                     .date_ms = time_now_ms(),
	                     .message_id = mid};
	char extra[64] = "";
	if (incident)
		snprintf(extra, sizeof(extra), "X-Opsbot-Incident: %lld\r\n", (long long)incident);
	m.extra = extra;
	if (mail_compose(&m, &raw, err, errlen) < 0)
		goto out;
	cJSON *req = wire_new(WIRE_SUBMIT, 0);
	json_add_str(req, "what", "job");
	char key[340];
	snprintf(key, sizeof(key), "email:%s", mid);
	json_add_str(req, "key", key);
	cJSON *job = json_new_object();
	json_add_str(job, "kind", WIRE_JOB_EMAIL);
	cJSON *input = json_new_object();
	json_add_str(input, "message_id", mid);
	json_add_str(input, "from", s->from_addr);
	cJSON *to = json_new_array();
	for (size_t i = 0; i < rt->nto; i++)
		cJSON_AddItemToArray(to, cJSON_CreateString(rt->to[i]));
	json_add(input, "to", to);
	json_add_int(input, "incident", incident);
	json_add_str(input, "raw", raw.data);
	json_add(job, "input", input);
	json_add(req, "job", job);
	cJSON *reply = q_call(s, req, err, errlen);
	if (!reply)
		goto out;
	if (!json_bool(reply, "ok", 0)) {
		snprintf(err, errlen, "the queue refused the email job: %s",
		         str_or_empty(json_str(reply, "message")));
		cJSON_Delete(reply);
		goto out;
	}
	cJSON *o = json_new_object();
	cJSON *to2 = json_new_array(); /* `to` went with the request */
	for (size_t i = 0; i < rt->nto; i++)
		cJSON_AddItemToArray(to2, cJSON_CreateString(rt->to[i]));
	json_add(o, "to", to2);
	json_add_int(o, "job", json_int(reply, "job", 0));
	json_add_bool(o, "created", json_bool(reply, "created", 0));
	cJSON_AddItemToArray(out, o);
	log_info("event=mail_queued job=%lld message_id=%s to=%zu created=%d",
	         (long long)json_int(reply, "job", 0), log_q(mid), rt->nto,
	         json_bool(reply, "created", 0));
	cJSON_Delete(reply);
	rc = 0;
out:
	buf_free(&subj);
	buf_free(&text);
	buf_free(&html);
	buf_free(&pdf);
	buf_free(&raw);
	return rc;
}

/* ---- metric samples for the charts ---- */

#define CHART_POINTS 600 /* points per series in a chart; more are averaged down */

static int64_t first_time(const cJSON *timeline, const char *name)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, timeline) if (!strcmp(json_str(e, "name") ? json_str(e, "name") : "",
	                                            name)) return json_int(e, "at_ms", 0);
	return 0;
}

/*
 * Add "metrics" (the key series: the anomalous ones of the incident's own
 * service first, then the top-ranked cause's metric) or "metrics_note" to in,
 * read from the same [source NAME] sections detection reads.
 */
static void add_metrics(struct rstate *s, cJSON *in, int64_t now)
{
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(in, "incident");
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(in, "timeline");
	if (cJSON_GetObjectItemCaseSensitive(in, "metrics"))
		return;
	if (!s->src || source_set_count(s->src) == 0) {
		json_add_str(in, "metrics_note", "no [source NAME] section is configured");
		return;
	}
	/* the detect result, from the timeline */
	const cJSON *det = NULL, *e;
	cJSON_ArrayForEach(e, tl)
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "data");
		if (!strcmp(json_str(e, "name") ? json_str(e, "name") : "", "job.finished") &&
		    !strcmp(json_str(d, "kind") ? json_str(d, "kind") : "", "detect"))
			det = cJSON_GetObjectItemCaseSensitive(d, "result");
	}
	const char *want[3] = {0};
	size_t nw = 0;
	const char *svc = json_str(inc, "service");
	const cJSON *a;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(det, "anomalies"))
	{
		if (nw < 1 && svc && json_str(a, "service") && !strcmp(json_str(a, "service"), svc))
			want[nw++] = json_str(a, "series");
	}
	const cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(det, "ranking"), 0);
	if (json_str(top, "metric") && (!nw || strcmp(want[0], json_str(top, "metric"))))
		want[nw++] = json_str(top, "metric");
	if (!nw) {
		a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(det, "anomalies"), 0);
		if (json_str(a, "series"))
			want[nw++] = json_str(a, "series");
	}
	int64_t opened = json_int(inc, "created_ms", now);
	int64_t end = first_time(tl, "incident.resolved");
	if (!end)
		end = now;
	int64_t from = opened - 20 * 60000, to = end + 5 * 60000;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(det, "anomalies"))
	{
		int64_t st = json_int(a, "start_ms", from);
		if (st > 0 && st - 5 * 60000 < from)
			from = st - 5 * 60000;
	}
	if (to - from > 2 * 86400000LL)
		from = to - 2 * 86400000LL;
	struct source_list l = {0};
	int failed = 0;
	char err[300];
	if (source_fetch(s->src, from, to, s->step_ms, &l, &failed, err, sizeof(err)) < 0) {
		char note[400];
		snprintf(note, sizeof(note), "the metric sources did not answer (%s)", err);
		json_add_str(in, "metrics_note", note);
		source_list_free(&l);
		return;
	}
	/* with nothing named by detection, the incident service's first series */
	if (!nw)
		for (size_t i = 0; i < l.n && !nw; i++)
			if (svc && !strcmp(l.s[i].service, svc))
				want[nw++] = l.s[i].name;
	cJSON *ms = json_new_array();
	for (size_t w = 0; w < nw; w++)
		for (size_t i = 0; i < l.n; i++) {
			struct source_series *x = &l.s[i];
			if (strcmp(x->name, want[w]) || x->n < 2)
				continue;
			cJSON *m = json_new_object();
			json_add_str(m, "name", x->name);
			cJSON *pts = json_new_array();
			size_t per = x->n / CHART_POINTS + 1;
			for (size_t k = 0; k < x->n; k += per) {
				double sum = 0;
				size_t c = 0;
				for (size_t j = k; j < k + per && j < x->n; j++)
					if (isfinite(x->v[j])) {
						sum += x->v[j];
						c++;
					}
				cJSON *p = json_new_array();
				cJSON_AddItemToArray(p, cJSON_CreateNumber((double)x->ts_ms[k]));
				cJSON_AddItemToArray(p, c ? cJSON_CreateNumber(sum / (double)c)
				                          : cJSON_CreateNull());
				cJSON_AddItemToArray(pts, p);
			}
			json_add(m, "points", pts);
			cJSON_AddItemToArray(ms, m);
			break;
		}
	if (cJSON_GetArraySize(ms))
		json_add(in, "metrics", ms);
	else {
		cJSON_Delete(ms);
		json_add_str(
		    in, "metrics_note",
		    nw ? "the sources had no samples of the anomalous series in this window"
		       : "detection named no series and the sources have none for this "
		         "service");
	}
	source_list_free(&l);
}

/* ---- report job ---- */

static int do_report(struct rstate *s, const struct worker_job *job, cJSON **result, char *err,
                     size_t errlen)
{
	const cJSON *in = job->input;
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(in, "incident");
	int64_t id = json_int(inc, "id", job->incident);
	if (!cJSON_IsObject(inc) || id <= 0) {
		snprintf(err, errlen, "the report job has no incident record");
		return WORKER_PERMANENT;
	}
	cJSON *fresh = NULL;
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(in, "timeline"))) {
		fresh = fetch_incident(s, id, err, errlen);
		if (!fresh)
			return WORKER_RETRY;
	} else {
		fresh = json_dup(in);
	}
	in = fresh;
	add_metrics(s, fresh, time_now_ms());
	if (mkdir_p(s->dir) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", s->dir, strerror(errno));
		cJSON_Delete(fresh);
		return WORKER_RETRY;
	}
	char path[700], tmp[720], name[64];
	snprintf(name, sizeof(name), "incident-%lld.pdf", (long long)id);
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int pages = 0;
	int64_t now = time_now_ms(), t0 = time_mono_ms();
	if (report_incident_pdf(in, s->paper, tmp, now, &pages, err, errlen) < 0 ||
	    rename(tmp, path) < 0) {
		if (!*err)
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		cJSON_Delete(fresh);
		return WORKER_RETRY;
	}
	char abs[PATH_MAX];
	if (realpath(path, abs))
		str_copy(path, sizeof(path),
		         abs); /* people and opsbot-bot open it from elsewhere */
	log_info("event=pdf_written incident=%lld path=%s pages=%d ms=%lld", (long long)id,
	         log_q(path), pages, (long long)(time_mono_ms() - t0));
	cJSON *facts = report_facts(in, now);
	const char *service = json_str(facts, "service"), *sev = json_str(facts, "severity");
	cJSON *mails = json_new_array();
	char mid_base[200];
	const char *state =
	    str_or_empty(json_str(cJSON_GetObjectItemCaseSensitive(in, "incident"), "state"));
	int64_t created =
	    json_int(cJSON_GetObjectItemCaseSensitive(in, "incident"), "created_ms", 0);
	/* An incident can fail, be retried and end again: each ending other than
	 * resolved (which is final) gets its own Message-ID, by this job. */
	if (!strcmp(state, "failed") || !strcmp(state, "rejected") || !strcmp(state, "expired"))
		snprintf(mid_base, sizeof(mid_base), "opsbot.incident-%lld-%lld.%s-%lld.report",
		         (long long)id, (long long)created, state, (long long)job->id);
	else
		snprintf(mid_base, sizeof(mid_base), "opsbot.incident-%lld-%lld.report",
		         (long long)id, (long long)created);
	int rc = WORKER_OK;
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct route *rt = &s->routes[i];
		if (!(rt->when & WHEN_RESOLVED) || !in_list(rt->services, service) ||
		    !in_list(rt->severities, sev))
			continue;
		if (queue_mail(s, rt, mid_base, "incident", facts, path, name, id, mails, err,
		               errlen) < 0) {
			rc = WORKER_RETRY; /* the keys make the mails already queued harmless */
			break;
		}
	}
	if (rc == WORKER_OK) {
		cJSON *r = json_new_object();
		json_add_str(r, "pdf", path);
		json_add_int(r, "pages", pages);
		json_add_str(r, "state", state);
		if (json_str(facts, "ending_text"))
			json_add_str(r, "ending", json_str(facts, "ending_text"));
		int n = cJSON_GetArraySize(mails);
		json_add(r, "email", mails);
		char summary[900];
		size_t nrcpt = 0;
		const cJSON *m;
		cJSON_ArrayForEach(m, mails) nrcpt +=
		    (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "to"));
		if (n)
			snprintf(
			    summary, sizeof(summary),
			    "Summary PDF ready (%d page%s): %s. Email queued for %zu recipient%s.",
			    pages, pages == 1 ? "" : "s", path, nrcpt, nrcpt == 1 ? "" : "s");
		else
			snprintf(summary, sizeof(summary),
			         "Summary PDF ready (%d page%s): %s. No email route matches %s/%s, "
			         "so no "
			         "mail was sent.",
			         pages, pages == 1 ? "" : "s", path, service, sev);
		json_add_str(r, "summary", summary);
		*result = r;
	} else {
		cJSON_Delete(mails);
	}
	cJSON_Delete(facts);
	cJSON_Delete(fresh);
	return rc;
}

/* ---- email job (the outbox) ---- */

static int do_email(struct rstate *s, const struct worker_job *job, cJSON **result, char *err,
                    size_t errlen)
{
	const char *mid = json_str(job->input, "message_id");
	const char *from = json_str(job->input, "from");
	const char *raw = json_str(job->input, "raw");
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(job->input, "to");
	int nto = cJSON_GetArraySize(to);
	if (!mid || !from || !raw || nto < 1 || nto > RCPT_MAX) {
		snprintf(err, errlen, "the email job lacks message_id, from, to or raw");
		return WORKER_PERMANENT;
	}
	const char *rcpt[RCPT_MAX];
	struct buf all = {0};
	for (int i = 0; i < nto; i++) {
		rcpt[i] = cJSON_GetStringValue(cJSON_GetArrayItem(to, i));
		if (!rcpt[i]) {
			snprintf(err, errlen, "the email job's to[%d] is not a string", i);
			buf_free(&all);
			return WORKER_PERMANENT;
		}
		buf_appendf(&all, "%s%s", i ? "," : "", rcpt[i]);
	}
	int64_t at = 0;
	int seen = sent_get(s->sent, mid, &at);
	if (seen < 0) {
		snprintf(err, errlen, "cannot read the sent-mail record");
		buf_free(&all);
		return WORKER_RETRY;
	}
	cJSON *r = json_new_object();
	json_add_str(r, "message_id", mid);
	if (seen == 1) {
		log_info("event=mail_already_sent job=%lld message_id=%s", (long long)job->id,
		         log_q(mid));
		json_add_bool(r, "sent", 1);
		json_add_bool(r, "resent", 0);
		json_add_int(r, "sent_ms", at);
		json_add_str(r, "summary", "already sent before a restart; not sent again");
		*result = r;
		buf_free(&all);
		return WORKER_OK;
	}
	int64_t t0 = time_mono_ms();
	char why[600];
	int rc = mail_send(&s->relay, from, rcpt, (size_t)nto, raw, strlen(raw), why, sizeof(why));
	if (rc != MAIL_SENT) {
		log_warn("event=mail_not_sent job=%lld attempt=%d message_id=%s final=%s error=%s",
		         (long long)job->id, job->attempt, log_q(mid),
		         rc == MAIL_PERMANENT ? "yes" : "no", log_q(why));
		snprintf(err, errlen, "%s", why);
		cJSON_Delete(r);
		buf_free(&all);
		return rc == MAIL_PERMANENT ? WORKER_PERMANENT : WORKER_RETRY;
	}
	int64_t now = time_now_ms();
	if (sent_put(s->sent, mid, job->id, all.data, now) < 0)
		log_error(
		    "event=sent_record_failed message_id=%s reason=\"a redelivery of this job "
		    "would send it again\"",
		    log_q(mid));
	log_info("event=mail_sent job=%lld attempt=%d message_id=%s to=%s ms=%lld reply=%s",
	         (long long)job->id, job->attempt, log_q(mid), log_q(all.data),
	         (long long)(time_mono_ms() - t0), log_q(why));
	json_add_bool(r, "sent", 1);
	json_add_int(r, "sent_ms", now);
	char summary[700];
	snprintf(summary, sizeof(summary), "mail sent to %s", all.data);
	json_add_str(r, "summary", summary);
	*result = r;
	buf_free(&all);
	return WORKER_OK;
}

/* ---- digests ---- */

static const char *period_name(unsigned p)
{
	return p == WHEN_HOURLY ? "hourly" : "daily";
}

struct count {
	char name[200];
	int64_t n;
};

static void count_add(struct count *c, size_t *n, size_t max, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(c[i].name, name)) {
			c[i].n++;
			return;
		}
	if (*n < max) {
		str_copy(c[*n].name, sizeof(c[*n].name), name);
		c[*n].n = 1;
		(*n)++;
	}
}

static int count_cmp(const void *a, const void *b)
{
	const struct count *x = a, *y = b;
	return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->name, y->name);
}

static cJSON *count_json(struct count *c, size_t n, size_t top)
{
	qsort(c, n, sizeof(*c), count_cmp);
	cJSON *a = json_new_array();
	for (size_t i = 0; i < n && i < top; i++) {
		cJSON *o = json_new_object();
		json_add_str(o, "name", c[i].name);
		json_add_int(o, "count", c[i].n);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int is_alert_surface(const char *s)
{
	return s && (!strcmp(s, "alertmanager") || !strcmp(s, "generic") || !strcmp(s, "watch"));
}

static cJSON *inc_brief(const cJSON *inc)
{
	cJSON *o = json_new_object();
	json_add_int(o, "id", json_int(inc, "id", 0));
	json_add_str(o, "title", str_or_empty(json_str(inc, "title")));
	json_add_str(o, "service", str_or_empty(json_str(inc, "service")));
	json_add_str(o, "severity", str_or_empty(json_str(inc, "severity")));
	json_add_str(o, "state", str_or_empty(json_str(inc, "state")));
	return o;
}

/* The digest of [from, to) from the queue's incidents and event log. */
/* What a digest counts over its window [from, to). */
struct digest {
	int64_t from, to;
	const cJSON *items; /* the incidents (borrowed) */
	cJSON *opened, *resolved, *open, *appr;
	struct count svc[64], rep_src[16], noisy[256];
	size_t nsvc, nsrc, nnoisy;
	int64_t *ttr; /* one per resolution in the window */
	size_t nttr;
	int64_t repeats, auto_res, filtered;
};

/* The incidents: opened in the window (and their services), still open at
 * its end, awaiting approval now. */
static void digest_incidents(struct digest *g)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, g->items)
	{
		const char *st = str_or_empty(json_str(it, "state"));
		int64_t c = json_int(it, "created_ms", 0);
		if (c >= g->from && c < g->to) {
			cJSON_AddItemToArray(g->opened, inc_brief(it));
			count_add(g->svc, &g->nsvc, 64, str_or_empty(json_str(it, "service")));
		}
		if (strcmp(st, "resolved") && strcmp(st, "rejected") && strcmp(st, "expired") &&
		    strcmp(st, "failed") && c < g->to)
			cJSON_AddItemToArray(g->open, inc_brief(it));
		if (!strcmp(st, "awaiting_approval"))
			cJSON_AddItemToArray(g->appr, inc_brief(it));
	}
}

/* One event of the window: a resolution (time to resolve, by the alert
 * source?), an alert repeat (a note from an alert surface), or an alert
 * filtered at the door.  An alert surface's resolve command is counted
 * through its incident.resolved. */
static void digest_event(struct digest *g, const cJSON *it, int64_t at)
{
	const char *name = str_or_empty(json_str(it, "name"));
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "data");
	int64_t incid = json_int(it, "incident", 0);
	const cJSON *inc = NULL, *x;
	cJSON_ArrayForEach(x, g->items) if (json_int(x, "id", 0) == incid) inc = x;
	if (!strcmp(name, "incident.resolved") && inc) {
		cJSON *b = inc_brief(inc);
		int64_t t = at - json_int(inc, "created_ms", at);
		json_add_int(b, "ttr_ms", t);
		cJSON_AddItemToArray(g->resolved, b);
		g->ttr[g->nttr++] = t;
		if (is_alert_surface(json_str(d, "by")))
			g->auto_res++;
	} else if (!strcmp(name, "command.recorded") && is_alert_surface(json_str(d, "surface")) &&
	           !strcmp(str_or_empty(json_str(d, "action")), "note")) {
		g->repeats++;
		count_add(g->rep_src, &g->nsrc, 16, json_str(d, "surface"));
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(inc, "labels");
		const char *an = json_str(labels, "alertname");
		count_add(g->noisy, &g->nnoisy, 256,
		          an    ? an
		          : inc ? str_or_empty(json_str(inc, "title"))
		                : "?");
	} else if (!strcmp(name, "alert.filtered")) {
		/* below [hooks] min_severity or ignored: no incident (bot/intake.c) */
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "alert");
		g->filtered++;
		count_add(g->rep_src, &g->nsrc, 16, str_or_empty(json_str(d, "surface")));
		count_add(g->noisy, &g->nnoisy, 256,
		          json_str(a, "name") ? json_str(a, "name") : "?");
	}
}

/* The event log, 1000 at a time: every event in the window.  -1 with err
 * when the queue did not answer. */
static int digest_events(struct rstate *s, struct digest *g, char *err, size_t errlen)
{
	int64_t since = 0;
	for (int pages = 0; pages < 1000; pages++) {
		cJSON *req = wire_new(WIRE_QUERY, 0);
		json_add_str(req, "what", "events");
		json_add_int(req, "since", since);
		json_add_int(req, "limit", 1000);
		cJSON *ev = q_call(s, req, err, errlen);
		if (!ev)
			return -1;
		const cJSON *evs = cJSON_GetObjectItemCaseSensitive(ev, "items"), *it;
		int n = cJSON_GetArraySize(evs);
		cJSON_ArrayForEach(it, evs)
		{
			since = json_int(it, "seq", since);
			int64_t at = json_int(it, "at_ms", 0);
			if (at >= g->from && at < g->to)
				digest_event(g, it, at);
		}
		cJSON_Delete(ev);
		if (n < 1000)
			break;
	}
	return 0;
}

/* The alerts part: repeats, resolved by the source, filtered, and where. */
static cJSON *digest_alerts(struct digest *g)
{
	cJSON *al = json_new_object();
	json_add_int(al, "repeats", g->repeats);
	json_add_int(al, "auto_resolved", g->auto_res);
	json_add_int(al, "filtered", g->filtered);
	json_add(al, "by_source", count_json(g->rep_src, g->nsrc, 8));
	json_add(al, "noisiest", count_json(g->noisy, g->nnoisy, 8));
	json_add_str(
	    al, "not_recorded",
	    "Counted from the queue's event log: repeats are notifications for an alert "
	    "group that already has an incident (recorded as notes); filtered are firing "
	    "notifications below [hooks] min_severity or named in [hooks] ignore, which "
	    "open no incident; resolved by the alert source are incidents the alert's own "
	    "resolve closed. Sources and noisiest names count repeats and filtered alerts. A "
	    "generic alert sent again with the same key is not counted again.");
	return al;
}

static cJSON *build_digest(struct rstate *s, unsigned period, int64_t from, int64_t to, char *err,
                           size_t errlen)
{
	cJSON *req = wire_new(WIRE_QUERY, 0);
	json_add_str(req, "what", "incidents");
	json_add_int(req, "limit", WIRE_QUERY_LIMIT_MAX);
	cJSON *list = q_call(s, req, err, errlen);
	if (!list)
		return NULL;
	struct digest *g = xcalloc(1, sizeof *g);
	g->from = from;
	g->to = to;
	g->items = cJSON_GetObjectItemCaseSensitive(list, "items");
	g->opened = json_new_array();
	g->resolved = json_new_array();
	g->open = json_new_array();
	g->appr = json_new_array();
	g->ttr = xcalloc((size_t)cJSON_GetArraySize(g->items) + 1, sizeof(int64_t));
	digest_incidents(g);
	cJSON *out = NULL;
	if (digest_events(s, g, err, errlen) == 0) {
		out = json_new_object();
		json_add_str(out, "period", period_name(period));
		json_add_int(out, "from_ms", from);
		json_add_int(out, "to_ms", to);
		qsort(g->ttr, g->nttr, sizeof(int64_t), i64_cmp);
		json_add_int(out, "ttr_p50_ms", g->nttr ? g->ttr[g->nttr / 2] : -1);
		json_add_int(out, "ttr_max_ms", g->nttr ? g->ttr[g->nttr - 1] : -1);
		json_add(out, "opened", g->opened);
		json_add(out, "resolved", g->resolved);
		json_add(out, "open", g->open);
		json_add(out, "approvals", g->appr);
		json_add(out, "top_services", count_json(g->svc, g->nsvc, 8));
		json_add(out, "alerts", digest_alerts(g));
	} else {
		cJSON_Delete(g->opened);
		cJSON_Delete(g->resolved);
		cJSON_Delete(g->open);
		cJSON_Delete(g->appr);
	}
	free(g->ttr);
	free(g);
	cJSON_Delete(list);
	return out;
}

/* Template context for the digest mail. */
static cJSON *digest_ctx(const cJSON *g)
{
	cJSON *c = json_dup(g);
	char a[64], b[64];
	report_time(json_int(g, "from_ms", 0), a, sizeof(a));
	report_time(json_int(g, "to_ms", 0), b, sizeof(b));
	json_add_str(c, "from", a);
	json_add_str(c, "to", b);
	static const char *const lists[] = {"opened", "resolved", "open", "approvals"};
	for (size_t i = 0; i < 4; i++) {
		char k[32];
		snprintf(k, sizeof(k), "%s_n", lists[i]);
		json_add_int(c, k,
		             cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, lists[i])));
	}
	json_add_bool(c, "has_approvals",
	              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "approvals")) > 0);
	json_add_bool(c, "has_top_services",
	              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "top_services")) > 0);
	const cJSON *al = cJSON_GetObjectItemCaseSensitive(g, "alerts");
	json_add_bool(c, "has_noisiest",
	              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(al, "noisiest")) > 0);
	if (json_int(g, "ttr_p50_ms", -1) >= 0) {
		char m[32], x[32], t[100];
		report_duration(json_int(g, "ttr_p50_ms", 0), m, sizeof(m));
		report_duration(json_int(g, "ttr_max_ms", 0), x, sizeof(x));
		snprintf(t, sizeof(t), "median %s, longest %s", m, x);
		json_add_str(c, "ttr", t);
	}
	return c;
}

static int do_digest(struct rstate *s, const struct worker_job *job, cJSON **result, char *err,
                     size_t errlen)
{
	const char *pn = json_str(job->input, "period");
	int64_t from = json_int(job->input, "from_ms", -1), to = json_int(job->input, "to_ms", -1);
	if (!pn || (strcmp(pn, "hourly") && strcmp(pn, "daily")) || from < 0 || to <= from) {
		snprintf(err, errlen,
		         "the digest job needs period (hourly|daily), from_ms < to_ms");
		return WORKER_PERMANENT;
	}
	unsigned period = !strcmp(pn, "hourly") ? WHEN_HOURLY : WHEN_DAILY;
	cJSON *g = build_digest(s, period, from, to, err, errlen);
	if (!g)
		return WORKER_RETRY;
	if (mkdir_p(s->dir) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", s->dir, strerror(errno));
		cJSON_Delete(g);
		return WORKER_RETRY;
	}
	char path[700], tmp[720], name[96], stamp[32];
	time_t tt = (time_t)(from / 1000);
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(name, sizeof(name), "digest-%s-%s.pdf", pn, stamp);
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int pages = 0;
	if (report_digest_pdf(g, s->paper, tmp, &pages, err, errlen) < 0 || rename(tmp, path) < 0) {
		cJSON_Delete(g);
		return WORKER_RETRY;
	}
	cJSON *ctx = digest_ctx(g);
	cJSON *mails = json_new_array();
	char mid_base[200];
	snprintf(mid_base, sizeof(mid_base), "opsbot.digest-%s-%lld", pn, (long long)from);
	int rc = WORKER_OK;
	for (size_t i = 0; i < s->nroutes; i++)
		if ((s->routes[i].when & period) &&
		    queue_mail(s, &s->routes[i], mid_base, "digest", ctx, path, name, 0, mails, err,
		               errlen) < 0) {
			rc = WORKER_RETRY;
			break;
		}
	if (rc == WORKER_OK) {
		cJSON *r = json_new_object();
		json_add_str(r, "pdf", path);
		json_add_int(r, "pages", pages);
		json_add(r, "email", mails);
		char summary[300];
		snprintf(summary, sizeof(summary),
		         "%s digest: %d opened, %d resolved; %d mail(s) queued", pn,
		         (int)json_int(ctx, "opened_n", 0), (int)json_int(ctx, "resolved_n", 0),
		         cJSON_GetArraySize(mails));
		json_add_str(r, "summary", summary);
		*result = r;
	} else {
		cJSON_Delete(mails);
	}
	cJSON_Delete(ctx);
	cJSON_Delete(g);
	return rc;
}

/*
 * The schedule: after each period ends, submit its digest job once (idempotency
 * key digest:PERIOD:FROM).  report.db remembers the next period to queue, so
 * periods that ended while the worker was down (at most DIGEST_CATCHUP of
 * them) are queued when it is back; on the very first start only the period
 * that ended last is.
 */
#define DIGEST_CATCHUP 48

static int submit_digest(struct rpc *rpc, unsigned p, int64_t from, int64_t len, char *err,
                         size_t errlen)
{
	cJSON *req = wire_new(WIRE_SUBMIT, 0);
	json_add_str(req, "what", "job");
	char key[96];
	snprintf(key, sizeof(key), "digest:%s:%lld", period_name(p), (long long)from);
	json_add_str(req, "key", key);
	cJSON *job = json_new_object();
	json_add_str(job, "kind", WIRE_JOB_DIGEST);
	cJSON *input = json_new_object();
	json_add_str(input, "period", period_name(p));
	json_add_int(input, "from_ms", from);
	json_add_int(input, "to_ms", from + len);
	json_add(job, "input", input);
	json_add(req, "job", job);
	cJSON *reply = NULL;
	int rc = rpc_call(rpc, req, &reply, CALL_MS, 0, err, errlen);
	cJSON_Delete(req);
	if (rc == 0 && json_bool(reply, "created", 0))
		log_info("event=digest_scheduled period=%s from_ms=%lld job=%lld", period_name(p),
		         (long long)from, (long long)json_int(reply, "job", 0));
	cJSON_Delete(reply);
	return rc;
}

static void *sched_main(void *arg)
{
	struct rstate *s = arg;
	struct rpc *rpc = NULL;
	struct sent *db = NULL;
	char err[300];
	if (sent_open(&db, s->db, err, sizeof(err)) < 0) {
		log_error("event=digest_schedule_off error=%s", log_q(err));
		return NULL;
	}
	while (!s->stop) {
		int64_t now = time_now_ms();
		for (unsigned p = WHEN_HOURLY; p <= WHEN_DAILY; p <<= 1) {
			if (!(s->digests & p))
				continue;
			int64_t len = p == WHEN_HOURLY ? s->hourly_ms : s->daily_ms;
			int64_t last = now / len * len - len; /* the period that ended last */
			int64_t next = 0;
			if (sent_sched_get(db, period_name(p), &next) < 0) {
				log_warn(
				    "event=digest_schedule_failed period=%s error=\"cannot read "
				    "the schedule in %s\"",
				    period_name(p), log_q(s->db));
				break;
			}
			next = next / len * len;
			if (next <= 0)
				next = last;
			if (next < last - (DIGEST_CATCHUP - 1) * len)
				next = last - (DIGEST_CATCHUP - 1) * len;
			if (!rpc && rpc_open(&rpc, s->url, err, sizeof(err)) < 0) {
				log_warn("event=digest_schedule_failed error=%s", log_q(err));
				break;
			}
			for (int64_t from = next; from <= last && !s->stop; from += len) {
				if (submit_digest(rpc, p, from, len, err, sizeof(err)) < 0) {
					log_warn("event=digest_schedule_failed period=%s error=%s",
					         period_name(p), log_q(err));
					break;
				}
				sent_sched_put(db, period_name(p), from + len);
			}
		}
		time_sleep_ms(s->digest_check_ms, &s->stop);
	}
	if (rpc)
		rpc_close(rpc);
	sent_close(db);
	return NULL;
}

/* ---- worker ---- */

static void rstate_free(struct rstate *s)
{
	if (!s)
		return;
	if (s->sched_on) {
		s->stop = 1;
		pthread_join(s->sched, NULL);
	}
	routes_free(s);
	source_set_free(s->src);
	template_set_free(s->tpl);
	sent_close(s->sent);
	if (s->rpc)
		rpc_close(s->rpc);
	free(s);
}

static int r_init(struct config *cfg, void **state, char *err, size_t errlen)
{
	struct rstate *s = xcalloc(1, sizeof(*s));
	if (load_config(s, cfg, err, errlen) < 0 || sent_open(&s->sent, s->db, err, errlen) < 0) {
		rstate_free(s);
		return -1;
	}
	if (s->digests) {
		if (pthread_create(&s->sched, NULL, sched_main, s) != 0) {
			snprintf(err, errlen, "cannot start the digest schedule thread");
			rstate_free(s);
			return -1;
		}
		s->sched_on = 1;
	}
	log_info("event=report_ready dir=%s routes=%zu digests=%s%s smtp=%s starttls=%d auth=%s",
	         log_q(s->dir), s->nroutes, s->digests & WHEN_HOURLY ? "hourly " : "",
	         s->digests & WHEN_DAILY ? "daily" : "", log_q(s->relay.server), (int)s->relay.tls,
	         s->relay.user[0] ? "yes" : "no");
	*state = s;
	return 0;
}

static int r_handle(void *state, const struct worker_job *job, cJSON **result, char *err,
                    size_t errlen)
{
	struct rstate *s = state;
	if (!job->input) {
		snprintf(err, errlen, "the %s job has no input", job->kind);
		return WORKER_PERMANENT;
	}
	if (!strcmp(job->kind, WIRE_JOB_REPORT))
		return do_report(s, job, result, err, errlen);
	if (!strcmp(job->kind, WIRE_JOB_EMAIL))
		return do_email(s, job, result, err, errlen);
	if (!strcmp(job->kind, WIRE_JOB_DIGEST))
		return do_digest(s, job, result, err, errlen);
	snprintf(err, errlen, "opsbot-report does not handle %s jobs", job->kind);
	return WORKER_PERMANENT;
}

static void r_fini(void *state)
{
	rstate_free(state);
}

/* ---- command-line modes ---- */

static int read_json(const char *path, cJSON **out)
{
	struct buf b = {.max = WIRE_MAX_BYTES * 4};
	char err[300];
	if (buf_read_file(&b, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-report: %s\n", err);
		return -1;
	}
	int rc = json_parse_object(b.data ? b.data : "", b.len, out, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "opsbot-report: %s: %s\n", path, err);
	buf_free(&b);
	return rc;
}

static const char *opt(int argc, char **argv, const char *name)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

static int paper_opt(int argc, char **argv, enum doc_paper def, enum doc_paper *p)
{
	const char *v = opt(argc, argv, "--paper");
	*p = def;
	if (v && doc_paper_parse(v, p) < 0) {
		fprintf(stderr, "opsbot-report: --paper %s: use a4 or letter\n", v);
		return -1;
	}
	return 0;
}

static int open_state(struct rstate **out, struct config **cfg)
{
	char err[600];
	if (config_load(worker_config_path(), cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-report: %s\n", err);
		return -1;
	}
	config_duration_ms(*cfg, "report", "lease", 0);
	config_duration_ms(*cfg, "report", "claim_wait", 0);
	config_duration_ms(*cfg, "report", "stop_grace", 0);
	struct rstate *s = xcalloc(1, sizeof(*s));
	if (load_config(s, *cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-report: %s\n", err);
		rstate_free(s);
		config_free(*cfg);
		return -1;
	}
	*out = s;
	return 0;
}

static int cmd_render(int argc, char **argv, int from_queue)
{
	const char *out = opt(argc, argv, "--out");
	if (argc < 2 || !out) {
		fprintf(stderr, "usage: opsbot-report %s --out FILE.pdf [--paper a4|letter]\n",
		        from_queue ? "pdf ID" : "render IN.json");
		return 2;
	}
	struct rstate *s = NULL;
	struct config *cfg = NULL;
	cJSON *in = NULL;
	enum doc_paper paper = DOC_A4;
	int64_t now = time_now_ms();
	const char *at = opt(argc, argv, "--now");
	if (at && time_parse_iso(at, &now) < 0) {
		fprintf(stderr, "opsbot-report: --now %s: not an RFC 3339 time\n", at);
		return 2;
	}
	if (from_queue) {
		char *end;
		long long id = strtoll(argv[1], &end, 10);
		if (*end || id <= 0) {
			fprintf(stderr, "opsbot-report: %s is not an incident number\n", argv[1]);
			return 2;
		}
		if (open_state(&s, &cfg) < 0)
			return 1;
		paper = s->paper;
		char err[600] = "";
		in = fetch_incident(s, id, err, sizeof(err));
		if (in)
			add_metrics(s, in, now);
		if (!in) {
			fprintf(stderr, "opsbot-report: incident %lld: %s\n", id, err);
			rstate_free(s);
			config_free(cfg);
			return strstr(err, "not_found") || strstr(err, "no incident") ? 1 : 3;
		}
	} else if (read_json(argv[1], &in) < 0) {
		return 1;
	}
	int rc = 0;
	if (paper_opt(argc, argv, paper, &paper) < 0)
		rc = 2;
	int pages = 0;
	char err[600] = "";
	if (rc == 0 && report_incident_pdf(in, paper, out, now, &pages, err, sizeof(err)) < 0) {
		fprintf(stderr, "opsbot-report: %s\n", err);
		rc = 1;
	}
	if (rc == 0)
		printf("%s: %d page%s (%s)\n", out, pages, pages == 1 ? "" : "s",
		       paper == DOC_A4 ? "A4" : "US Letter");
	cJSON_Delete(in);
	rstate_free(s);
	config_free(cfg);
	return rc;
}

static int cmd_digest(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "hourly") && strcmp(argv[1], "daily"))) {
		fprintf(stderr, "usage: opsbot-report digest hourly|daily [--out F] [--at ISO]\n");
		return 2;
	}
	struct rstate *s;
	struct config *cfg;
	if (open_state(&s, &cfg) < 0)
		return 1;
	unsigned p = !strcmp(argv[1], "hourly") ? WHEN_HOURLY : WHEN_DAILY;
	int64_t now = time_now_ms(), len = p == WHEN_HOURLY ? s->hourly_ms : s->daily_ms;
	const char *at = opt(argc, argv, "--at");
	if (at && time_parse_iso(at, &now) < 0) {
		fprintf(stderr, "opsbot-report: --at %s: not an RFC 3339 time\n", at);
		rstate_free(s);
		config_free(cfg);
		return 2;
	}
	int64_t to = now / len * len, from = to - len;
	char err[600] = "";
	cJSON *g = build_digest(s, p, from, to, err, sizeof(err));
	int rc = 0;
	if (!g) {
		fprintf(stderr, "opsbot-report: %s\n", err);
		rc = 3;
	} else {
		const char *out = opt(argc, argv, "--out");
		int pages = 0;
		if (out && report_digest_pdf(g, s->paper, out, &pages, err, sizeof(err)) < 0) {
			fprintf(stderr, "opsbot-report: %s\n", err);
			rc = 1;
		}
		char *t = cJSON_Print(g);
		printf("%s\n", t);
		free(t);
		cJSON_Delete(g);
	}
	rstate_free(s);
	config_free(cfg);
	return rc;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(double), dcmp);
	int k = (int)ceil(p * n) - 1;
	return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* bench N TYPICAL.json LONG.json [--smtp HOST:PORT]: one JSON line. */
static int cmd_bench(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
		        "usage: opsbot-report bench N TYPICAL.json LONG.json [--smtp H:P]\n");
		return 2;
	}
	int n = (int)strtol(argv[1], NULL, 10);
	if (n < 1 || n > 10000)
		n = 20;
	cJSON *typ, *lng;
	if (read_json(argv[2], &typ) < 0)
		return 1;
	if (read_json(argv[3], &lng) < 0) {
		cJSON_Delete(typ);
		return 1;
	}
	char dir[] = "/tmp/opsbot-report-bench.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[128], err[600];
	snprintf(path, sizeof(path), "%s/b.pdf", dir);
	double *t = xcalloc((size_t)n, sizeof(double)), *tl = xcalloc((size_t)n, sizeof(double));
	double *te = xcalloc((size_t)n, sizeof(double));
	int rc = 0, ne = 0, pages_long = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		int64_t a = time_mono_us();
		if (report_incident_pdf(typ, DOC_A4, path, time_now_ms(), NULL, err, sizeof(err)) <
		    0)
			rc = 1;
		t[i] = (double)(time_mono_us() - a) / 1000.0;
		a = time_mono_us();
		if (rc == 0 && report_incident_pdf(lng, DOC_A4, path, time_now_ms(), &pages_long,
		                                   err, sizeof(err)) < 0)
			rc = 1;
		tl[i] = (double)(time_mono_us() - a) / 1000.0;
	}
	const char *smtp = opt(argc, argv, "--smtp");
	if (rc == 0 && smtp) {
		struct buf pdf = {0}, raw = {0};
		buf_read_file(&pdf, path, err, sizeof(err));
		struct mail_part part = {"incident.pdf", "application/pdf", pdf.data, pdf.len};
		const char *to[] = {"bench@example.com"};
		struct mail_msg m = {.from = "opsbot <opsbot@localhost>",
		                     .to = to,
		                     .nto = 1,
		                     .subject = "[opsbot] bench",
		                     .text = "bench",
		                     .html = "<p>bench</p>",
		                     .attach = &part,
		                     .date_ms = time_now_ms(),
		                     .message_id = "bench@localhost"};
		mail_compose(&m, &raw, err, sizeof(err));
		struct mail_relay r = {.tls = MAIL_TLS_OFF, .timeout_ms = 10000};
		str_copy(r.server, sizeof(r.server), smtp);
		for (int i = 0; i < n && rc == 0; i++) {
			int64_t a = time_mono_us();
			if (mail_send(&r, "opsbot@localhost", to, 1, raw.data, raw.len, err,
			              sizeof(err)) != MAIL_SENT) {
				fprintf(stderr, "opsbot-report: bench mail: %s\n", err);
				rc = 1;
			}
			te[ne++] = (double)(time_mono_us() - a) / 1000.0;
		}
		buf_free(&pdf);
		buf_free(&raw);
	}
	if (rc == 0) {
		printf("{\"bench\":\"report\",\"pdf_p50_ms\":%.1f,\"pdf_p99_ms\":%.1f,"
		       "\"pdf_long_p50_ms\":%.1f,\"email_p50_ms\":%s%.1f%s,\"runs\":%d,"
		       "\"long_events\":%d,\"long_pages\":%d}\n",
		       pct(t, n, 0.5), pct(t, n, 0.99), pct(tl, n, 0.5), ne ? "" : "null",
		       ne ? pct(te, ne, 0.5) : 0.0, "", n,
		       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lng, "timeline")),
		       pages_long);
	} else {
		fprintf(stderr, "opsbot-report: %s\n", err);
	}
	unlink(path);
	rmdir(dir);
	free(t);
	free(tl);
	free(te);
	cJSON_Delete(typ);
	cJSON_Delete(lng);
	return rc;
}

static int r_command(int argc, char **argv)
{
	if (!strcmp(argv[0], "render"))
		return cmd_render(argc, argv, 0);
	if (!strcmp(argv[0], "pdf"))
		return cmd_render(argc, argv, 1);
	if (!strcmp(argv[0], "digest"))
		return cmd_digest(argc, argv);
	if (!strcmp(argv[0], "bench"))
		return cmd_bench(argc, argv);
	fprintf(stderr, "opsbot-report: unknown command %s (render, pdf, digest, bench)\n",
	        argv[0]);
	return 2;
}

static const struct worker_spec spec = {
    .name = "opsbot-report",
    .section = "report",
    .kinds = (const char *const[]){WIRE_JOB_REPORT, WIRE_JOB_EMAIL, WIRE_JOB_DIGEST, NULL},
    .init = r_init,
    .handle = r_handle,
    .fini = r_fini,
    .command = r_command,
};

int main(int argc, char **argv)
{
	return worker_main(argc, argv, &spec);
}
