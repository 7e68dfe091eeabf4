/*
 * report.c: incident summaries and digests as facts and PDFs (report.h).
 */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "mem.h"

void report_duration(int64_t ms, char *out, size_t len)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(out, len, "%lld ms", (long long)ms);
	else if (ms < 60000)
		snprintf(out, len, "%.1f s", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, len, "%lld min %lld s", (long long)(ms / 60000),
		         (long long)(ms / 1000 % 60));
	else if (ms < 86400000)
		snprintf(out, len, "%lld h %lld min", (long long)(ms / 3600000),
		         (long long)(ms / 60000 % 60));
	else
		snprintf(out, len, "%lld d %lld h", (long long)(ms / 86400000),
		         (long long)(ms / 3600000 % 24));
}

/* fmt is one of this file's literals */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void fmt_utc(int64_t ms, const char *fmt, char *out, size_t len)
{
	if (ms <= 0) {
		if (len)
			out[0] = '\0';
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, len, fmt, &tm);
}
#pragma GCC diagnostic pop

void report_time(int64_t ms, char *out, size_t len)
{
	fmt_utc(ms, "%Y-%m-%d %H:%M:%S UTC", out, len);
}

/* ---- reading the input ---- */

struct rin {
	const cJSON *inc, *timeline, *metrics;
	cJSON *results; /* owned: stage -> result */
	int64_t opened, detected, approved, resolved, now;
	int64_t exec_at; /* execute job.finished time */
	const char *approved_by, *approved_via;
	const char *resolved_by, *resolved_note;
	const char *stage_reason[8]; /* last stage-change reason into resolved/failed etc. */
	const char *end_reason;
	int64_t ended; /* when it entered its final state */
	int open;
};

static const char *str_or(const cJSON *o, const char *k, const char *def)
{
	const char *s = json_str(o, k);
	return s && *s ? s : def;
}

static void rin_load(struct rin *r, const cJSON *in, int64_t now)
{
	memset(r, 0, sizeof(*r));
	r->now = now;
	r->inc = cJSON_GetObjectItemCaseSensitive(in, "incident");
	r->timeline = cJSON_GetObjectItemCaseSensitive(in, "timeline");
	r->metrics = cJSON_GetObjectItemCaseSensitive(in, "metrics");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(r->inc, "results");
	r->results = cJSON_IsObject(res) ? json_dup(res) : json_new_object();
	r->opened = json_int(r->inc, "created_ms", 0);
	const char *state = str_or(r->inc, "state", "unknown");
	r->open = strcmp(state, "resolved") && strcmp(state, "rejected") &&
	          strcmp(state, "expired") && strcmp(state, "failed");
	const cJSON *e;
	cJSON_ArrayForEach(e, r->timeline)
	{
		const char *name = str_or(e, "name", "");
		int64_t at = json_int(e, "at_ms", 0);
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
		if (!strcmp(name, "job.finished")) {
			const char *kind = str_or(data, "kind", "");
			const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
			if (*kind && result && !cJSON_GetObjectItemCaseSensitive(r->results, kind))
				json_add(r->results, kind, json_dup(result));
			if (!strcmp(kind, "detect") && !r->detected)
				r->detected = at;
			if (!strcmp(kind, "execute"))
				r->exec_at = at;
		} else if (!strcmp(name, "approval.recorded")) {
			if (!strcmp(str_or(data, "decision", ""), "approve")) {
				r->approved = at;
				r->approved_by = json_str(data, "user");
				r->approved_via = json_str(data, "surface");
			}
		} else if (!strcmp(name, "incident.resolved")) {
			r->resolved = at;
			r->resolved_by = json_str(data, "by");
			r->resolved_note = json_str(data, "note");
		} else if (!strcmp(name, "incident.stage")) {
			const char *to = str_or(data, "to", "");
			if (!strcmp(to, "resolved") || !strcmp(to, "failed") ||
			    !strcmp(to, "rejected") || !strcmp(to, "expired")) {
				r->end_reason = json_str(data, "reason");
				r->ended = at;
			}
		}
		if (!r->opened && !strcmp(name, "incident.opened"))
			r->opened = at;
	}
}

static const cJSON *res_of(const struct rin *r, const char *kind)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->results, kind);
	return cJSON_IsObject(v) ? v : NULL;
}

/* A compact one-line JSON of params, e.g. "service=checkout replicas=6". */
static char *params_text(const cJSON *params)
{
	struct buf b = {0};
	const cJSON *p;
	cJSON_ArrayForEach(p, params)
	{
		if (b.len)
			buf_append(&b, " ", 1);
		if (cJSON_IsString(p))
			buf_appendf(&b, "%s=%s", p->string, p->valuestring);
		else {
			char *t = cJSON_PrintUnformatted(p);
			buf_appendf(&b, "%s=%s", p->string, t ? t : "?");
			free(t);
		}
	}
	if (!b.len)
		return xstrdup("(no parameters)");
	return b.data;
}

/* Output trimmed to REPORT_OUTPUT_LINES lines / _BYTES bytes, saying how much was left out. */
static char *output_trim(const char *s)
{
	if (!s || !*s)
		return xstrdup("(no output)");
	size_t n = strlen(s), cut = 0, lines = 0;
	while (cut < n && cut < REPORT_OUTPUT_BYTES && lines < REPORT_OUTPUT_LINES) {
		if (s[cut] == '\n')
			lines++;
		cut++;
	}
	while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	while (cut > 0 && s[cut - 1] == '\n')
		cut--;
	if (cut >= n)
		return xstrdup(s);
	size_t rest_lines = 0;
	for (size_t i = cut; i < n; i++)
		rest_lines += s[i] == '\n';
	return xasprintf("%.*s\n… %zu more byte(s), %zu more line(s) not shown", (int)cut, s,
	                 n - cut, rest_lines);
}

/* ---- facts ---- */

static void add_time(cJSON *f, const char *key, int64_t ms)
{
	char t[64];
	report_time(ms, t, sizeof(t));
	json_add_str(f, key, t);
}

static const char *no_actions_reason(const struct rin *r)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, r->timeline)
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "data");
		const char *reason = json_str(d, "reason");
		if (!strcmp(str_or(e, "name", ""), "incident.stage") &&
		    !strcmp(str_or(d, "to", ""), "executing") && reason &&
		    strstr(reason, "skipped"))
			return "the execute stage is not enabled in this setup, so no action ran";
	}
	if (r->open)
		return "no action has run yet";
	return "no action ran for this incident";
}

cJSON *report_facts(const cJSON *in, int64_t now_ms)
{
	struct rin r;
	rin_load(&r, in, now_ms);
	cJSON *f = json_new_object();
	json_add_int(f, "id", json_int(r.inc, "id", 0));
	json_add_str(f, "title", str_or(r.inc, "title", "(untitled incident)"));
	json_add_str(f, "service", str_or(r.inc, "service", "unknown"));
	json_add_str(f, "severity", str_or(r.inc, "severity", "unknown"));
	json_add_str(f, "state", str_or(r.inc, "state", "unknown"));
	json_add_bool(f, "open", r.open);
	json_add_str(f, "source", str_or(r.inc, "source", "unknown"));
	json_add_str(f, "summary", str_or(r.inc, "summary", ""));
	add_time(f, "opened", r.opened);
	add_time(f, "detected", r.detected);
	add_time(f, "approved", r.approved);
	json_add_str(f, "approved_by", r.approved_by ? r.approved_by : "");
	add_time(f, "resolved", r.resolved);
	add_time(f, "generated", now_ms);
	char d[64] = "";
	if (r.detected && r.opened)
		report_duration(r.detected - r.opened, d, sizeof(d));
	json_add_str(f, "time_to_detect", d);
	d[0] = '\0';
	if (r.resolved && r.opened)
		report_duration(r.resolved - r.opened, d, sizeof(d));
	json_add_str(f, "time_to_resolve", d);
	json_add_str(f, "end_reason", r.end_reason ? r.end_reason : "");
	const char *stn = str_or(r.inc, "state", "unknown");
	if (!r.open) {
		/* which ending, why, and what it means for people */
		static const struct {
			const char *state, *label, *next;
		} ends[] = {
		    {"resolved", "Resolved", ""},
		    {"failed", "Failed",
		     " opsbot stopped working on it: check the service by hand; the actions "
		     "that ran are listed below."},
		    {"rejected", "Rejected", " The plan did not run; nothing more runs."},
		    {"expired", "Expired",
		     " Nobody decided before the approval deadline, so the plan did not run."},
		};
		for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
			if (!strcmp(stn, ends[i].state)) {
				char e[900], why[600];
				snprintf(why, sizeof(why), "%s",
				         r.end_reason ? r.end_reason : "no reason recorded");
				size_t wn = strlen(why);
				while (wn && (why[wn - 1] == '.' || why[wn - 1] == ' '))
					why[--wn] = '\0';
				snprintf(e, sizeof(e), "%s: %s.%s", ends[i].label, why,
				         ends[i].next);
				json_add_str(f, "ending", ends[i].label);
				json_add_str(f, "ending_text", e);
			}
		add_time(f, "ended", r.ended);
	}

	const cJSON *det = res_of(&r, "detect");
	const cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(det, "ranking"), 0);
	json_add_str(f, "cause", top ? str_or(top, "service", "") : "");
	char conf[16] = "";
	if (top)
		snprintf(conf, sizeof(conf), "%.0f%%", json_num(top, "confidence", 0) * 100.0);
	json_add_str(f, "cause_confidence", conf);
	json_add_str(f, "cause_why", top ? str_or(top, "rationale", "") : "");

	cJSON *acts = json_new_array();
	const cJSON *ex = res_of(&r, "execute");
	const cJSON *st;
	int n = 0;
	cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(ex, "steps"))
	{
		cJSON *a = json_new_object();
		json_add_int(a, "n", ++n);
		json_add_str(a, "action", str_or(st, "action", "?"));
		char *p = params_text(cJSON_GetObjectItemCaseSensitive(st, "params"));
		json_add_str(a, "params", p);
		free(p);
		int ok = json_bool(st, "ok", 0);
		json_add_bool(a, "ok", ok);
		json_add_str(a, "result", ok ? "ok" : "failed");
		cJSON_AddItemToArray(acts, a);
	}
	json_add(f, "actions", acts);
	json_add_str(f, "actions_none", n ? "" : no_actions_reason(&r));
	const cJSON *ver = res_of(&r, "verify");
	char vt[600];
	if (ver)
		snprintf(vt, sizeof(vt), "%s%s%s",
		         json_bool(ver, "ok", 0) ? "verified" : "not verified",
		         json_str(ver, "summary") ? ": " : "", str_or(ver, "summary", ""));
	else if (r.end_reason && strstr(r.end_reason, "not verified"))
		snprintf(vt, sizeof(vt), "not verified: %s", r.end_reason);
	else
		snprintf(vt, sizeof(vt), "%s", r.open ? "not verified yet" : "not verified");
	json_add_str(f, "verified", vt);
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(res_of(&r, "plan"), "plan");
	json_add_int(f, "plan_steps",
	             cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(plan, "steps")));
	cJSON *rb = json_new_array();
	const cJSON *ps;
	int k = 0;
	cJSON_ArrayForEach(ps, cJSON_GetObjectItemCaseSensitive(res_of(&r, "retrieve"), "passages"))
	{
		if (k++ >= 5)
			break;
		cJSON *o = json_new_object();
		json_add_str(o, "source", str_or(ps, "source", "?"));
		json_add_str(o, "section", str_or(ps, "section", ""));
		json_add_str(o, "title", str_or(ps, "title", ""));
		cJSON_AddItemToArray(rb, o);
	}
	json_add_bool(f, "has_runbooks", k > 0);
	json_add(f, "runbooks", rb);
	const cJSON *llm = cJSON_GetObjectItemCaseSensitive(res_of(&r, "plan"), "llm");
	char lt[300] = "";
	if (cJSON_IsObject(llm))
		snprintf(lt, sizeof(lt), "%lld call(s), %lld prompt + %lld completion tokens",
		         (long long)json_int(llm, "calls", 0),
		         (long long)json_int(llm, "prompt_tokens", 0),
		         (long long)json_int(llm, "completion_tokens", 0));
	json_add_str(f, "llm", lt);
	cJSON_Delete(r.results);
	return f;
}

/* ---- the incident PDF ---- */

struct icompose {
	struct rin r;
	cJSON *facts;
	const cJSON *in;
};

static const double *sev_rgb(const char *sev)
{
	static const double crit[3] = {0.72, 0.1, 0.1}, high[3] = {0.85, 0.35, 0.05},
	                    med[3] = {0.75, 0.55, 0.0}, low[3] = {0.15, 0.4, 0.7},
	                    other[3] = {0.45, 0.45, 0.45};
	return !strcmp(sev, "critical") ? crit
	       : !strcmp(sev, "high")   ? high
	       : !strcmp(sev, "medium") ? med
	       : !strcmp(sev, "low")    ? low
	                                : other;
}

static void event_text(const cJSON *e, char *what, size_t wl, struct buf *detail)
{
	const char *name = str_or(e, "name", "?");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "data");
	if (!strcmp(name, "incident.opened")) {
		snprintf(what, wl, "opened");
		buf_appendf(detail, "from %s: %s", str_or(d, "source", "?"),
		            str_or(d, "title", ""));
	} else if (!strcmp(name, "incident.stage")) {
		snprintf(what, wl, "%s → %s", str_or(d, "from", "?"), str_or(d, "to", "?"));
		buf_appendf(detail, "%s", str_or(d, "reason", ""));
	} else if (!strcmp(name, "job.finished")) {
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(d, "result");
		snprintf(what, wl, "%s finished", str_or(d, "kind", "job"));
		buf_appendf(detail, "%s", str_or(res, "summary", ""));
	} else if (!strcmp(name, "plan.proposed")) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(d, "plan");
		snprintf(what, wl, "plan proposed");
		buf_appendf(detail, "%d step(s), %s",
		            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "steps")),
		            json_bool(d, "needs_approval", 0) ? "approval needed"
		                                              : "no approval needed");
	} else if (!strcmp(name, "approval.recorded")) {
		snprintf(what, wl, "%s",
		         !strcmp(str_or(d, "decision", ""), "approve") ? "approved" : "rejected");
		buf_appendf(detail, "by %s via %s", str_or(d, "user", "?"),
		            str_or(d, "surface", "?"));
	} else if (!strcmp(name, "approval.refused")) {
		if (json_str(d, "step_key"))
			snprintf(what, wl, "answer refused");
		else
			snprintf(what, wl, "%s refused", str_or(d, "decision", "decision"));
		buf_appendf(detail, "%s by %s: %s", str_or(d, "decision", "?"),
		            str_or(d, "identity", str_or(d, "user", "?")), str_or(d, "reason", ""));
	} else if (!strcmp(name, "command.recorded")) {
		snprintf(what, wl, "%s", str_or(d, "action", "command"));
		buf_appendf(
		    detail, "by %s via %s%s%s", str_or(d, "user", "?"), str_or(d, "surface", "?"),
		    json_str(d, "note") && *json_str(d, "note") ? ": " : "", str_or(d, "note", ""));
	} else if (!strcmp(name, "job.retry")) {
		snprintf(what, wl, "%s retry", str_or(d, "kind", "job"));
		buf_appendf(detail, "attempt %lld failed: %s", (long long)json_int(d, "attempt", 0),
		            str_or(d, "error", ""));
	} else if (!strcmp(name, "job.dead")) {
		snprintf(what, wl, "%s gave up", str_or(d, "kind", "job"));
		buf_appendf(detail, "after %lld attempt(s): %s",
		            (long long)json_int(d, "attempts", 0), str_or(d, "error", ""));
	} else if (!strcmp(name, "incident.resolved")) {
		snprintf(what, wl, "resolved");
		buf_appendf(detail, "by %s%s%s", str_or(d, "by", "?"),
		            json_str(d, "note") ? ": " : "", str_or(d, "note", ""));
	} else {
		snprintf(what, wl, "%s", name);
		const char *s = json_str(d, "summary");
		if (s)
			buf_appendf(detail, "%s", s);
		else if (d) {
			char *t = cJSON_PrintUnformatted(d);
			buf_appendf(detail, "%s", t ? t : "");
			free(t);
		}
	}
}

/* A unit from a metric name's suffix. */
static const char *unit_of(const char *name)
{
	static const struct {
		const char *suffix, *unit;
	} u[] = {{"_ms", "ms"},         {"_milliseconds", "ms"},
	         {"_seconds", "s"},     {"_bytes", "bytes"},
	         {"_percent", "%"},     {"_ratio", "ratio"},
	         {"_total", "count"},   {"_rps", "req/s"},
	         {"_qps", "queries/s"}, {"latency", "ms"},
	         {"cpu", "%"},          {"errors", "errors/s"}};
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		size_t k = strlen(u[i].suffix);
		if (n >= k && !strcmp(name + n - k, u[i].suffix))
			return u[i].unit;
	}
	/* names like checkout_latency_p99: latency in ms, the common convention */
	if (strstr(name, "latency") || strstr(name, "duration"))
		return strstr(name, "seconds") ? "s" : "ms";
	if (strstr(name, "cpu"))
		return "%";
	return "value";
}

static void section_chart(struct doc *d, struct icompose *c)
{
	struct rin *r = &c->r;
	const cJSON *det = res_of(r, "detect");
	const cJSON *anoms = cJSON_GetObjectItemCaseSensitive(det, "anomalies");
	size_t nsp = (size_t)cJSON_GetArraySize(anoms);
	struct doc_span *spans = xcalloc(nsp + 1, sizeof(*spans));
	int64_t t0 = r->opened ? r->opened : r->now, t1 = r->resolved ? r->resolved : r->now;
	if (r->exec_at > t1)
		t1 = r->exec_at;
	size_t k = 0;
	const cJSON *a;
	cJSON_ArrayForEach(a, anoms)
	{
		int64_t s = json_int(a, "start_ms", 0), e = json_int(a, "end_ms", 0);
		if (s <= 0 || e < s)
			continue;
		spans[k].from_ms = s;
		spans[k].to_ms = e;
		k++;
	}
	nsp = k;
	/* the key series: the metrics given, at most two, with points */
	struct doc_series ser[2];
	int64_t *ts[2] = {0};
	double *vs[2] = {0};
	size_t ns = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, r->metrics)
	{
		if (ns >= 2)
			break;
		const cJSON *pts = cJSON_GetObjectItemCaseSensitive(m, "points");
		int np = cJSON_GetArraySize(pts);
		if (np < 2)
			continue;
		ts[ns] = xcalloc((size_t)np, sizeof(int64_t));
		vs[ns] = xcalloc((size_t)np, sizeof(double));
		size_t j = 0;
		const cJSON *p;
		cJSON_ArrayForEach(p, pts)
		{
			const cJSON *pt = cJSON_GetArrayItem(p, 0), *pv = cJSON_GetArrayItem(p, 1);
			if (!cJSON_IsNumber(pt))
				continue;
			ts[ns][j] = (int64_t)pt->valuedouble;
			vs[ns][j] = cJSON_IsNumber(pv) ? pv->valuedouble : NAN;
			j++;
		}
		ser[ns].name = str_or(m, "name", "metric");
		ser[ns].unit = str_or(m, "unit", unit_of(ser[ns].name));
		ser[ns].n = j;
		ser[ns].t_ms = ts[ns];
		ser[ns].v = vs[ns];
		ns++;
	}
	for (size_t i = 0; i < nsp; i++) {
		if (spans[i].from_ms < t0)
			t0 = spans[i].from_ms;
		if (spans[i].to_ms > t1)
			t1 = spans[i].to_ms;
	}
	for (size_t i = 0; i < ns; i++)
		if (ser[i].n) {
			if (ser[i].t_ms[0] < t0)
				t0 = ser[i].t_ms[0];
			if (ser[i].t_ms[ser[i].n - 1] > t1)
				t1 = ser[i].t_ms[ser[i].n - 1];
		}
	int64_t pad = (t1 - t0) / 20 + 30000;
	if (!ns) {
		t0 -= pad;
		t1 += pad;
	}
	/* marks: actions, then opened / approved / resolved */
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(res_of(r, "execute"), "steps");
	size_t nm_max = (size_t)cJSON_GetArraySize(steps) + 3;
	struct doc_mark *marks = xcalloc(nm_max, sizeof(*marks));
	char(*labels)[12] = xcalloc(nm_max, 12);
	size_t nm = 0;
	int i = 0;
	const cJSON *st;
	cJSON_ArrayForEach(st, steps)
	{
		i++;
		int64_t at = json_int(st, "started_ms", json_int(st, "at_ms", r->exec_at));
		if (at <= 0)
			continue;
		snprintf(labels[nm], 12, "%d", i);
		marks[nm].at_ms = at;
		marks[nm].label = labels[nm];
		marks[nm].kind = 0;
		nm++;
	}
	if (r->opened)
		marks[nm++] = (struct doc_mark){r->opened, "opened", 1};
	if (r->approved)
		marks[nm++] = (struct doc_mark){r->approved, "approved", 1};
	if (r->resolved)
		marks[nm++] = (struct doc_mark){r->resolved, "resolved", 1};
	char cap[400];
	for (size_t j = 0; j < ns; j++) {
		snprintf(cap, sizeof(cap), "%s (%s)", ser[j].name, ser[j].unit);
		doc_chart(d, cap, t0, t1, &ser[j], 1, spans, nsp, marks, nm);
	}
	if (!ns)
		doc_chart(d, "When things happened", t0, t1, NULL, 0, spans, nsp, marks, nm);
	if (!ns) {
		const char *why = json_str(c->in, "metrics_note");
		char note[600];
		snprintf(note, sizeof(note),
		         "No metric samples are stored with this incident%s%s, so the chart shows "
		         "only when anomalies (shaded) and events happened.",
		         why ? ": " : "", why ? why : "");
		doc_note(d, note);
	}
	if (!nsp)
		doc_note(d, det ? "Detection found no anomaly span to shade."
		                : "Detection has not reported for this incident, so nothing is "
		                  "shaded.");
	for (size_t j = 0; j < 2; j++) {
		free(ts[j]);
		free(vs[j]);
	}
	free(spans);
	free(marks);
	free(labels);
}

static void compose_incident(struct doc *d, void *arg)
{
	struct icompose *c = arg;
	struct rin *r = &c->r;
	cJSON *f = c->facts;
	char title[600], sub[400], t[128], t2[128];
	snprintf(title, sizeof(title), "Incident %lld: %s", (long long)json_int(f, "id", 0),
	         json_str(f, "title"));
	snprintf(sub, sizeof(sub), "Service %s · report generated %s", json_str(f, "service"),
	         json_str(f, "generated"));
	doc_title(d, title, sub);
	const char *sev = json_str(f, "severity");
	char chip1[64], chip2[64];
	snprintf(chip1, sizeof(chip1), "severity: %s", sev);
	snprintf(chip2, sizeof(chip2), "state: %s", json_str(f, "state"));
	const double sev_c[2][3] = {{sev_rgb(sev)[0], sev_rgb(sev)[1], sev_rgb(sev)[2]},
	                            {0.3, 0.35, 0.42}};
	doc_chips(d, 2, (const char *const[]){chip1, chip2}, sev_c);
	if (r->open) {
		snprintf(sub, sizeof(sub),
		         "This incident is still open (state %s). This is a hand-over report as of "
		         "%s; sections below say what has not happened yet.",
		         json_str(f, "state"), json_str(f, "generated"));
		doc_note(d, sub);
	}

	doc_heading(d, "Summary");
	doc_kv(d, "Service", json_str(f, "service"));
	doc_kv(d, "Severity", sev);
	doc_kv(d, "Source", json_str(f, "source"));
	if (*json_str(f, "summary"))
		doc_kv(d, "Description", json_str(f, "summary"));
	doc_kv(d, "Opened", *json_str(f, "opened") ? json_str(f, "opened") : "unknown");
	if (*json_str(f, "detected"))
		snprintf(t, sizeof(t), "%s (time to detect %s)", json_str(f, "detected"),
		         json_str(f, "time_to_detect"));
	else
		snprintf(t, sizeof(t), "%s", r->open ? "not yet" : "detection did not run");
	doc_kv(d, "Detected", t);
	if (r->approved)
		snprintf(t, sizeof(t), "%s by %s via %s", json_str(f, "approved"),
		         r->approved_by ? r->approved_by : "?",
		         r->approved_via ? r->approved_via : "?");
	else
		snprintf(t, sizeof(t), "no approval recorded");
	doc_kv(d, "Approved", t);
	if (r->resolved)
		snprintf(t2, sizeof(t2), "%s (time to resolve %s)", json_str(f, "resolved"),
		         json_str(f, "time_to_resolve"));
	else
		snprintf(t2, sizeof(t2), "%s", r->open ? "not yet" : "not resolved");
	doc_kv(d, "Resolved", t2);
	if (r->resolved_by)
		doc_kv(d, "Closed by", r->resolved_by);
	if (json_str(f, "ending_text")) {
		char e[1000];
		snprintf(e, sizeof(e), "%s%s%s", json_str(f, "ending_text"),
		         *json_str(f, "ended") ? " Ended " : "", json_str(f, "ended"));
		doc_kv(d, "Ending", e);
	}
	if (*json_str(f, "cause")) {
		char cz[700];
		snprintf(cz, sizeof(cz), "%s (%s confidence)", json_str(f, "cause"),
		         json_str(f, "cause_confidence"));
		doc_kv(d, "Likely cause", cz);
	}

	doc_heading(d, "Metrics");
	section_chart(d, c);

	doc_heading(d, "Root-cause ranking");
	const cJSON *det = res_of(r, "detect");
	const cJSON *ranking = cJSON_GetObjectItemCaseSensitive(det, "ranking");
	if (!det)
		doc_note(d, r->open ? "Detection has not finished yet." : "Detection did not run.");
	else if (!cJSON_GetArraySize(ranking))
		doc_note(d, "Detection ranked no service.");
	else {
		static const double w[4] = {0.06, 0.2, 0.17, 0.57};
		doc_row(d, 4, w, (const char *const[]){"#", "service", "confidence", "why"}, 1);
		const cJSON *it;
		int n = 0;
		cJSON_ArrayForEach(it, ranking)
		{
			if (n >= 8)
				break;
			char num[12], conf[16];
			snprintf(num, sizeof(num), "%d", ++n);
			snprintf(conf, sizeof(conf), "%.0f%%",
			         json_num(it, "confidence", 0) * 100.0);
			doc_row(d, 4, w,
			        (const char *const[]){num, str_or(it, "service", "?"), conf,
			                              str_or(it, "rationale", "")},
			        0);
		}
	}
	if (det && json_str(det, "summary")) {
		doc_space(d, 4);
		doc_para(d, json_str(det, "summary"));
	}

	doc_heading(d, "Runbooks cited");
	const cJSON *ret = res_of(r, "retrieve");
	const cJSON *passages = cJSON_GetObjectItemCaseSensitive(ret, "passages");
	if (!ret)
		doc_note(d, r->open ? "Retrieval has not finished yet." : "Retrieval did not run.");
	else if (!cJSON_GetArraySize(passages))
		doc_note(d, "No runbook or past incident matched.");
	else {
		static const double w[3] = {0.42, 0.43, 0.15};
		doc_row(d, 3, w, (const char *const[]){"source", "section", "score"}, 1);
		const cJSON *p;
		int n = 0;
		cJSON_ArrayForEach(p, passages)
		{
			if (n++ >= 8)
				break;
			char sc[16], sec[400];
			snprintf(sc, sizeof(sc), "%.2f", json_num(p, "score", 0));
			snprintf(sec, sizeof(sec), "%s%s%s", str_or(p, "title", ""),
			         json_str(p, "section") ? " › " : "", str_or(p, "section", ""));
			doc_row(d, 3, w, (const char *const[]){str_or(p, "source", "?"), sec, sc},
			        0);
		}
	}

	doc_heading(d, "Plan and approval");
	const cJSON *pr = res_of(r, "plan");
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(pr, "plan");
	if (!plan)
		doc_note(d, r->open ? "No plan has been proposed yet." : "No plan was proposed.");
	else {
		snprintf(t, sizeof(t), "%s (planner %s, hash %.12s)", str_or(plan, "id", "?"),
		         str_or(plan, "planner", "?"), str_or(plan, "hash", "?"));
		doc_kv(d, "Plan", t);
		if (r->approved) {
			snprintf(t, sizeof(t), "approved by %s via %s at %s",
			         r->approved_by ? r->approved_by : "?",
			         r->approved_via ? r->approved_via : "?", json_str(f, "approved"));
			doc_kv(d, "Approval", t);
		} else {
			doc_kv(d, "Approval",
			       json_bool(pr, "needs_approval", 0)
			           ? (r->open ? "needed; nobody has approved yet"
			                      : "needed; never approved")
			           : "not needed (every step runs automatically under the policy)");
		}
		static const double w[5] = {0.05, 0.23, 0.26, 0.15, 0.31};
		doc_row(d, 5, w, (const char *const[]){"#", "action", "parameters", "risk", "why"},
		        1);
		const cJSON *s;
		int n = 0;
		cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(plan, "steps"))
		{
			char num[12], ra[120];
			snprintf(num, sizeof(num), "%d", ++n);
			snprintf(ra, sizeof(ra), "%s; %s", str_or(s, "risk", "?"),
			         !strcmp(str_or(s, "approval", ""), "auto") ? "automatic"
			                                                    : "needs approval");
			char *p = params_text(cJSON_GetObjectItemCaseSensitive(s, "params"));
			doc_row(d, 5, w,
			        (const char *const[]){num, str_or(s, "action", "?"), p, ra,
			                              str_or(s, "rationale", "")},
			        0);
			free(p);
		}
		if (!n)
			doc_note(d, "The plan has no steps.");
	}

	doc_heading(d, "Actions");
	const cJSON *ex = res_of(r, "execute");
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(ex, "steps");
	if (!cJSON_GetArraySize(steps)) {
		char why[300];
		snprintf(why, sizeof(why), "No action output: %s.", json_str(f, "actions_none"));
		doc_note(d, why);
	} else {
		const cJSON *s;
		int n = 0;
		cJSON_ArrayForEach(s, steps)
		{
			char *p = params_text(cJSON_GetObjectItemCaseSensitive(s, "params"));
			char head[700], dur[48] = "";
			int64_t s0 = json_int(s, "started_ms", 0),
			        s1 = json_int(s, "finished_ms", 0);
			if (s0 && s1 >= s0) {
				char dd[32];
				report_duration(s1 - s0, dd, sizeof(dd));
				snprintf(dur, sizeof(dur), ", took %s", dd);
			}
			snprintf(head, sizeof(head), "%d. %s  %s  →  %s%s", ++n,
			         str_or(s, "action", "?"), p,
			         json_bool(s, "ok", 0) ? "ok" : "FAILED", dur);
			free(p);
			doc_para(d, head);
			char *o = output_trim(json_str(s, "output"));
			doc_mono(d, o);
			free(o);
		}
	}

	doc_heading(d, "Verification");
	doc_para(d, json_str(f, "verified"));

	const cJSON *llm = cJSON_GetObjectItemCaseSensitive(pr, "llm");
	if (cJSON_IsObject(llm)) {
		doc_heading(d, "LLM usage");
		const cJSON *it;
		cJSON_ArrayForEach(it, llm)
		{
			char key[64], v[200];
			snprintf(key, sizeof(key), "%s", it->string ? it->string : "?");
			for (char *q = key; *q; q++)
				if (*q == '_')
					*q = ' ';
			const char *unit = "";
			size_t kl = strlen(key);
			if (kl > 3 && !strcmp(key + kl - 3, " ms")) {
				key[kl - 3] = '\0';
				unit = " ms";
			} else if (kl > 4 && !strcmp(key + kl - 4, " usd")) {
				key[kl - 4] = '\0';
				unit = " USD";
			}
			if (cJSON_IsNumber(it)) {
				if (it->valuedouble == floor(it->valuedouble) &&
				    fabs(it->valuedouble) < 1e15)
					snprintf(v, sizeof(v), "%.0f%s", it->valuedouble, unit);
				else
					snprintf(v, sizeof(v), "%.4g%s", it->valuedouble, unit);
				doc_kv(d, key, v);
			} else if (cJSON_IsString(it)) {
				doc_kv(d, key, it->valuestring);
			} else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) &&
			           cJSON_IsNumber(cJSON_GetArrayItem(it, 0))) {
				struct buf b = {0};
				const cJSON *x;
				int cnt = 0;
				cJSON_ArrayForEach(x, it)
				{
					if (cnt++ == 20) {
						buf_appendf(&b, ", …");
						break;
					}
					buf_appendf(&b, "%s%g%s", b.len ? ", " : "", x->valuedouble,
					            unit);
				}
				doc_kv(d, key, b.data);
				buf_free(&b);
			}
		}
	}

	doc_heading(d, "Timeline");
	int total = cJSON_GetArraySize(r->timeline);
	if (!total)
		doc_note(d, "The queue returned no timeline events.");
	else {
		static const double w[3] = {0.13, 0.27, 0.60};
		char hdr[64] = "time (UTC)";
		doc_row(d, 3, w, (const char *const[]){hdr, "event", "detail"}, 1);
		int skip = total > REPORT_TIMELINE_MAX ? total - REPORT_TIMELINE_MAX : 0, n = 0;
		if (skip) {
			snprintf(t, sizeof(t), "%d older event(s) are not shown.", skip);
			doc_note(d, t);
		}
		const cJSON *e;
		int64_t day0 = r->opened / 86400000;
		cJSON_ArrayForEach(e, r->timeline)
		{
			if (n++ < skip)
				continue;
			char when[32], what[200];
			int64_t at = json_int(e, "at_ms", 0);
			fmt_utc(at, at / 86400000 == day0 ? "%H:%M:%S" : "%m-%d %H:%M:%S", when,
			        sizeof(when));
			struct buf det_b = {0};
			event_text(e, what, sizeof(what), &det_b);
			doc_row(d, 3, w,
			        (const char *const[]){when, what, det_b.data ? det_b.data : ""}, 0);
			buf_free(&det_b);
		}
	}
}

int report_incident_pdf(const cJSON *in, enum doc_paper paper, const char *path, int64_t now_ms,
                        int *pages, char *err, size_t errlen)
{
	struct icompose c;
	rin_load(&c.r, in, now_ms);
	c.facts = report_facts(in, now_ms);
	c.in = in;
	char title[600], foot[700];
	snprintf(title, sizeof(title), "Incident %lld: %s", (long long)json_int(c.facts, "id", 0),
	         json_str(c.facts, "title"));
	snprintf(foot, sizeof(foot), "opsbot · incident %lld · %s · %s",
	         (long long)json_int(c.facts, "id", 0), json_str(c.facts, "service"),
	         json_str(c.facts, "title"));
	int rc = doc_render(path, paper, title, foot, compose_incident, &c, pages, err, errlen);
	cJSON_Delete(c.facts);
	cJSON_Delete(c.r.results);
	return rc;
}

/* ---- the digest PDF ---- */

static void incident_rows(struct doc *d, const cJSON *list, const char *none, int with_ttr)
{
	if (!cJSON_GetArraySize(list)) {
		doc_note(d, none);
		return;
	}
	static const double w[5] = {0.07, 0.4, 0.17, 0.14, 0.22};
	doc_row(d, 5, w,
	        (const char *const[]){"#", "title", "service", "severity",
	                              with_ttr ? "time to resolve" : "state"},
	        1);
	const cJSON *it;
	cJSON_ArrayForEach(it, list)
	{
		char id[24], ttr[48] = "";
		snprintf(id, sizeof(id), "%lld", (long long)json_int(it, "id", 0));
		if (with_ttr && json_int(it, "ttr_ms", -1) >= 0)
			report_duration(json_int(it, "ttr_ms", 0), ttr, sizeof(ttr));
		doc_row(d, 5, w,
		        (const char *const[]){
		            id, str_or(it, "title", ""), str_or(it, "service", "?"),
		            str_or(it, "severity", "?"), with_ttr ? ttr : str_or(it, "state", "?")},
		        0);
	}
}

static void count_rows(struct doc *d, const cJSON *list, const char *h1, const char *none)
{
	if (!cJSON_GetArraySize(list)) {
		doc_note(d, none);
		return;
	}
	static const double w[2] = {0.7, 0.3};
	doc_row(d, 2, w, (const char *const[]){h1, "count"}, 1);
	const cJSON *it;
	cJSON_ArrayForEach(it, list)
	{
		char n[24];
		snprintf(n, sizeof(n), "%lld", (long long)json_int(it, "count", 0));
		doc_row(d, 2, w, (const char *const[]){str_or(it, "name", "?"), n}, 0);
	}
}

static void compose_digest(struct doc *d, void *arg)
{
	const cJSON *g = arg;
	char from[64], to[64], sub[200], t[128];
	report_time(json_int(g, "from_ms", 0), from, sizeof(from));
	report_time(json_int(g, "to_ms", 0), to, sizeof(to));
	snprintf(sub, sizeof(sub), "%s to %s", from, to);
	snprintf(t, sizeof(t), "opsbot %s digest", str_or(g, "period", ""));
	doc_title(d, t, sub);
	doc_kv_key_width(d, 0.4);
	doc_heading(d, "At a glance");
	snprintf(t, sizeof(t), "%d",
	         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "opened")));
	doc_kv(d, "Opened", t);
	snprintf(t, sizeof(t), "%d",
	         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "resolved")));
	doc_kv(d, "Resolved", t);
	snprintf(t, sizeof(t), "%d",
	         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "open")));
	doc_kv(d, "Still open", t);
	snprintf(t, sizeof(t), "%d",
	         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "approvals")));
	doc_kv(d, "Waiting for approval", t);
	if (json_int(g, "ttr_p50_ms", -1) >= 0) {
		char a[32], b[32];
		report_duration(json_int(g, "ttr_p50_ms", 0), a, sizeof(a));
		report_duration(json_int(g, "ttr_max_ms", 0), b, sizeof(b));
		snprintf(t, sizeof(t), "median %s, longest %s", a, b);
		doc_kv(d, "Time to resolve", t);
	}
	doc_heading(d, "Top services");
	count_rows(d, cJSON_GetObjectItemCaseSensitive(g, "top_services"), "service",
	           "No incident in this period.");
	doc_heading(d, "Opened");
	incident_rows(d, cJSON_GetObjectItemCaseSensitive(g, "opened"), "No incident was opened.",
	              0);
	doc_heading(d, "Resolved");
	incident_rows(d, cJSON_GetObjectItemCaseSensitive(g, "resolved"),
	              "No incident was resolved.", 1);
	doc_heading(d, "Waiting for approval");
	incident_rows(d, cJSON_GetObjectItemCaseSensitive(g, "approvals"),
	              "Nothing is waiting for approval.", 0);
	doc_heading(d, "Alerts that opened no incident");
	const cJSON *al = cJSON_GetObjectItemCaseSensitive(g, "alerts");
	snprintf(t, sizeof(t), "%lld", (long long)json_int(al, "repeats", 0));
	doc_kv(d, "Repeats of a known alert", t);
	snprintf(t, sizeof(t), "%lld (below [hooks] min_severity or in [hooks] ignore)",
	         (long long)json_int(al, "filtered", 0));
	doc_kv(d, "Filtered", t);
	snprintf(t, sizeof(t), "%lld", (long long)json_int(al, "auto_resolved", 0));
	doc_kv(d, "Resolved by the alert source", t);
	count_rows(d, cJSON_GetObjectItemCaseSensitive(al, "by_source"), "source",
	           "No repeated or filtered alert in this period.");
	doc_space(d, 6);
	count_rows(d, cJSON_GetObjectItemCaseSensitive(al, "noisiest"), "noisiest alerts",
	           "No alert repeated or was filtered.");
	if (json_str(al, "not_recorded"))
		doc_note(d, json_str(al, "not_recorded"));
}

int report_digest_pdf(const cJSON *digest, enum doc_paper paper, const char *path, int *pages,
                      char *err, size_t errlen)
{
	char foot[200];
	snprintf(foot, sizeof(foot), "opsbot · %s digest", str_or(digest, "period", ""));
	return doc_render(path, paper, foot, foot, compose_digest, (void *)digest, pages, err,
	                  errlen);
}
