/*
 * source.c: metric sources (see source.h).
 *
 * Invariants:
 *   1. A source_list never holds more than SOURCE_MAX_SERIES series, nor a
 *      series more than SOURCE_MAX_POINTS points; what does not fit is
 *      dropped (oldest points first for scrape history) and logged.
 *   2. Nothing here keeps a pointer into the config: strings are copied, so
 *      a reload can free the old config.
 */
#include "source.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "csv.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "rca.h"

#define SOURCE_MAX_QUERIES 16
#define SOURCE_MAX         64

struct source {
	char name[64];
	enum source_type type;
	char *url, *path;
	char *query[SOURCE_MAX_QUERIES];
	size_t nq;
	char service[128];
	char service_label[64];
	int symptom;
	struct source_list hist; /* scrape: samples gathered so far */
};

struct source_set {
	struct source *src;
	size_t n;
	struct http_client *http;
};

static const char *const source_types[] = {"prometheus", "scrape", "csv", "jsonl", NULL};

int source_set_load(struct config *cfg, struct source_set **out, char *err, size_t errlen)
{
	const char *names[SOURCE_MAX];
	size_t n = config_sections_of(cfg, "source", names, SOURCE_MAX);
	if (n > SOURCE_MAX) {
		snprintf(err, errlen, "%s: more than %d [source] sections", config_file(cfg),
		         SOURCE_MAX);
		return -1;
	}
	struct source_set *set = xcalloc(1, sizeof *set);
	set->src = xcalloc(n + 1, sizeof *set->src);
	for (size_t i = 0; i < n; i++) {
		char sec[128];
		snprintf(sec, sizeof sec, "source %s", names[i]);
		struct source *s = &set->src[set->n++];
		str_copy(s->name, sizeof s->name, names[i]);
		s->type = (enum source_type)config_enum(cfg, sec, "type", source_types, -1);
		const char *url = config_str(cfg, sec, "url", NULL);
		const char *path = config_str(cfg, sec, "path", NULL);
		s->url = url ? xstrdup(url) : NULL;
		s->path = path ? xstrdup(path) : NULL;
		const char *q[SOURCE_MAX_QUERIES + 1];
		size_t nq = config_all(cfg, sec, "query", q, SOURCE_MAX_QUERIES + 1);
		if (nq > SOURCE_MAX_QUERIES) {
			config_error(cfg, sec, "query", "at most %d queries per source",
			             SOURCE_MAX_QUERIES);
			nq = SOURCE_MAX_QUERIES;
		}
		for (size_t k = 0; k < nq; k++)
			s->query[s->nq++] = xstrdup(q[k]);
		str_copy(s->service, sizeof s->service, config_str(cfg, sec, "service", ""));
		str_copy(s->service_label, sizeof s->service_label,
		         config_str(cfg, sec, "service_label", "service"));
		s->symptom = config_bool(cfg, sec, "symptom", 0);
		if ((int)s->type < 0) {
			config_error(cfg, sec, "type", "want prometheus, scrape, csv or jsonl");
		} else if ((s->type == SOURCE_PROMETHEUS || s->type == SOURCE_SCRAPE) && !s->url) {
			config_error(cfg, sec, "type", "a %s source needs url",
			             source_types[s->type]);
		} else if (s->type == SOURCE_PROMETHEUS && s->nq == 0) {
			config_error(cfg, sec, "type",
			             "a prometheus source needs at least one query");
		} else if ((s->type == SOURCE_CSV || s->type == SOURCE_JSONL) && !s->path) {
			config_error(cfg, sec, "type", "a %s source needs path",
			             source_types[s->type]);
		}
	}
	set->http = http_client_new();
	*out = set;
	(void)err;
	(void)errlen;
	return 0;
}

void source_list_free(struct source_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->s[i].ts_ms);
		free(l->s[i].v);
	}
	free(l->s);
	memset(l, 0, sizeof *l);
}

void source_set_free(struct source_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		struct source *s = &set->src[i];
		free(s->url);
		free(s->path);
		for (size_t k = 0; k < s->nq; k++)
			free(s->query[k]);
		source_list_free(&s->hist);
	}
	free(set->src);
	http_client_free(set->http);
	free(set);
}

size_t source_set_count(const struct source_set *set)
{
	return set->n;
}

/* The series called name, added when new; NULL when the list is full. */
static struct source_series *source_series_get(struct source_list *l, const char *name,
                                               const char *service, int symptom)
{
	for (size_t i = l->n; i > 0; i--)
		if (strcmp(l->s[i - 1].name, name) == 0)
			return &l->s[i - 1];
	if (l->n == SOURCE_MAX_SERIES)
		return NULL;
	if ((l->n & (l->n - 1)) == 0) /* grow at powers of two */
		l->s = xrealloc(l->s, (l->n ? l->n * 2 : 8) * sizeof *l->s);
	struct source_series *s = &l->s[l->n++];
	memset(s, 0, sizeof *s);
	str_copy(s->name, sizeof s->name, name);
	str_copy(s->service, sizeof s->service, service);
	s->symptom = symptom;
	return s;
}

/* Append a point; when full, drop the oldest half (invariant 1). */
static void source_series_add(struct source_series *s, int64_t ts, double v)
{
	if (s->n == SOURCE_MAX_POINTS) {
		size_t keep = s->n / 2;
		memmove(s->ts_ms, s->ts_ms + (s->n - keep), keep * sizeof *s->ts_ms);
		memmove(s->v, s->v + (s->n - keep), keep * sizeof *s->v);
		s->n = keep;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->ts_ms = xrealloc(s->ts_ms, s->cap * sizeof *s->ts_ms);
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->ts_ms[s->n] = ts;
	s->v[s->n] = v;
	s->n++;
}

/* Value of label `key` in a "{a=\"x\",b=\"y\"}" text, into buf; -1 when absent. */
static int source_label(const char *labels, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	for (const char *p = labels; p && *p; p++) {
		if ((p == labels || p[-1] == '{' || p[-1] == ',') && strncmp(p, key, kl) == 0 &&
		    p[kl] == '=' && p[kl + 1] == '"') {
			const char *v = p + kl + 2, *e = strchr(v, '"');
			if (!e)
				return -1;
			size_t n = (size_t)(e - v) < len - 1 ? (size_t)(e - v) : len - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return 0;
		}
	}
	return -1;
}

static void source_pick_service(const char *name, const char *labels, const char *label,
                                const char *fixed, char *buf, size_t len)
{
	if (fixed && *fixed) {
		str_copy(buf, len, fixed);
		return;
	}
	if (labels && (source_label(labels, label, buf, len) == 0 ||
	               source_label(labels, "job", buf, len) == 0))
		return;
	rca_service_of(name, buf, len);
}

int source_parse_prometheus(const char *body, size_t len, const char *service_label,
                            const char *service, int symptom, struct source_list *out, char *err,
                            size_t errlen)
{
	cJSON *root;
	if (json_parse_object(body, len, &root, err, errlen) < 0)
		return -1;
	int rc = -1;
	const char *status = json_str(root, "status");
	cJSON *data, *result;
	if (!status || strcmp(status, "success") != 0) {
		snprintf(err, errlen, "prometheus: status %s: %s", status ? status : "missing",
		         json_str(root, "error") ? json_str(root, "error") : "no error text");
		goto out;
	}
	if (json_get_obj(root, "data", &data, err, errlen) < 0 ||
	    json_get_arr(data, "result", &result, err, errlen) < 0)
		goto out;
	const cJSON *r;
	cJSON_ArrayForEach(r, result)
	{
		const cJSON *metric = cJSON_GetObjectItemCaseSensitive(r, "metric");
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(r, "values");
		if (!cJSON_IsObject(metric) || !cJSON_IsArray(values)) {
			snprintf(err, errlen, "prometheus: a result lacks metric or values");
			goto out;
		}
		struct buf name = {.max = SOURCE_NAME_MAX - 1};
		const char *mn = json_str(metric, "__name__");
		buf_appendf(&name, "%s{", mn ? mn : "");
		const cJSON *l;
		int first = 1;
		cJSON_ArrayForEach(l, metric)
		{
			if (strcmp(l->string, "__name__") == 0 || !cJSON_IsString(l))
				continue;
			buf_appendf(&name, "%s%s=\"%s\"", first ? "" : ",", l->string,
			            l->valuestring);
			first = 0;
		}
		buf_append(&name, "}", 1);
		char svc[128] = "";
		const char *lv = json_str(metric, service_label);
		if (service && *service)
			str_copy(svc, sizeof svc, service);
		else if (lv)
			str_copy(svc, sizeof svc, lv);
		else if (json_str(metric, "job"))
			str_copy(svc, sizeof svc, json_str(metric, "job"));
		else
			rca_service_of(mn ? mn : "unknown", svc, sizeof svc);
		struct source_series *s =
		    source_series_get(out, name.data ? name.data : "{}", svc, symptom);
		buf_free(&name);
		if (!s) {
			log_warn("event=source_truncated reason=\"too many series\"");
			break;
		}
		const cJSON *pt;
		cJSON_ArrayForEach(pt, values)
		{
			const cJSON *t = cJSON_GetArrayItem(pt, 0), *v = cJSON_GetArrayItem(pt, 1);
			if (!cJSON_IsNumber(t) || !cJSON_IsString(v)) {
				snprintf(err, errlen,
				         "prometheus: a value is not [time, \"number\"]");
				goto out;
			}
			source_series_add(s, (int64_t)llround(t->valuedouble * 1000.0),
			                  strtod(v->valuestring, NULL));
		}
	}
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int source_parse_exposition(const char *body, int64_t now_ms, const char *service_label,
                            const char *service, int symptom, struct source_list *out, char *err,
                            size_t errlen)
{
	size_t lineno = 0;
	for (const char *p = body; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		char line[4096];
		if (len >= sizeof line) {
			snprintf(err, errlen, "exposition line %zu longer than %zu bytes", lineno,
			         sizeof line - 1);
			return -1;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		char *brace = strchr(s, '{'), *sp = strchr(s, ' ');
		char *end;
		if (brace && (!sp || brace < sp)) {
			char *close = strchr(brace, '}');
			if (!close) {
				snprintf(err, errlen, "exposition line %zu: unclosed {", lineno);
				return -1;
			}
			end = close + 1;
		} else {
			end = sp;
		}
		if (!end || (*end != ' ' && *end != '\t')) {
			snprintf(err, errlen, "exposition line %zu: no value", lineno);
			return -1;
		}
		*end = '\0';
		char *vend;
		double v = strtod(end + 1, &vend);
		if (vend == end + 1) {
			snprintf(err, errlen, "exposition line %zu: bad value", lineno);
			return -1;
		}
		char svc[128], base[SOURCE_NAME_MAX];
		str_copy(base, sizeof base, s);
		base[strcspn(base, "{")] = '\0';
		source_pick_service(base, brace ? strchr(s, '{') : NULL, service_label, service,
		                    svc, sizeof svc);
		struct source_series *ser = source_series_get(out, s, svc, symptom);
		if (!ser) {
			log_warn("event=source_truncated reason=\"too many series\"");
			return 0;
		}
		source_series_add(ser, now_ms, v);
	}
	return 0;
}

static int source_time_of(const cJSON *o, int64_t *ms)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time");
	if (!t)
		t = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
	if (cJSON_IsNumber(t)) {
		*ms = t->valuedouble > 1e11 ? (int64_t)t->valuedouble
		                            : (int64_t)llround(t->valuedouble * 1000.0);
		return 0;
	}
	if (cJSON_IsString(t))
		return csv_parse_time(t->valuestring, ms);
	return -1;
}

int source_parse_jsonl(const char *body, size_t len, const char *service, int symptom,
                       struct source_list *out, char *err, size_t errlen)
{
	size_t lineno = 0;
	for (size_t off = 0; off < len;) {
		const char *p = body + off, *nl = memchr(p, '\n', len - off);
		size_t n = nl ? (size_t)(nl - p) : len - off;
		off += n + 1;
		lineno++;
		size_t k = 0;
		while (k < n && isspace((unsigned char)p[k]))
			k++;
		if (k == n)
			continue;
		cJSON *o;
		char e[256];
		if (json_parse_object(p, n, &o, e, sizeof e) < 0) {
			snprintf(err, errlen, "line %zu: %s", lineno, e);
			return -1;
		}
		int64_t ms;
		if (source_time_of(o, &ms) < 0) {
			snprintf(err, errlen, "line %zu: no \"time\" or \"timestamp\"", lineno);
			cJSON_Delete(o);
			return -1;
		}
		const cJSON *f;
		cJSON_ArrayForEach(f, o)
		{
			if (!cJSON_IsNumber(f) || strcmp(f->string, "time") == 0 ||
			    strcmp(f->string, "timestamp") == 0)
				continue;
			char svc[128];
			source_pick_service(f->string, NULL, "", service, svc, sizeof svc);
			struct source_series *s = source_series_get(out, f->string, svc, symptom);
			if (s)
				source_series_add(s, ms, f->valuedouble);
		}
		cJSON_Delete(o);
	}
	return 0;
}

/* Copy the points of src within [from, to] into out (to == 0: all). */
static void source_copy_range(const struct source_series *src, int64_t from, int64_t to,
                              struct source_list *out)
{
	struct source_series *d = NULL;
	for (size_t i = 0; i < src->n; i++) {
		if (to && (src->ts_ms[i] < from || src->ts_ms[i] > to))
			continue;
		if (!d && !(d = source_series_get(out, src->name, src->service, src->symptom)))
			return;
		source_series_add(d, src->ts_ms[i], src->v[i]);
	}
}

/* GET url; once only for scrapes (the next poll is the retry), with retries
 * for range queries (a job waits for its data). */
static int source_get(struct source_set *set, const char *url, int once, struct http_response *resp,
                      char *err, size_t errlen)
{
	struct http_request req = {.method = "GET", .url = url, .timeout_ms = once ? 2000 : 10000};
	memset(resp, 0, sizeof *resp);
	if ((once ? http_do(set->http, &req, resp, err, errlen)
	          : http_do_retry(set->http, &req, &HTTP_RETRY_DEFAULT, resp, err, errlen)) < 0)
		return -1;
	if (resp->status != 200) {
		snprintf(err, errlen, "GET %s: HTTP %ld", url, resp->status);
		return -1;
	}
	return 0;
}

static int source_fetch_one(struct source_set *set, struct source *s, int64_t from, int64_t to,
                            int64_t step, struct source_list *out, char *err, size_t errlen)
{
	struct source_list tmp = {0};
	int rc = -1;
	if (s->type == SOURCE_PROMETHEUS) {
		for (size_t q = 0; q < s->nq; q++) {
			struct buf url = {.max = 16384};
			buf_appendf(&url, "%s/api/v1/query_range?query=", s->url);
			http_urlencode(s->query[q], &url);
			if (buf_appendf(&url, "&start=%.3f&end=%.3f&step=%.3f",
			                (double)from / 1000.0, (double)to / 1000.0,
			                (double)(step > 0 ? step : 15000) / 1000.0) < 0) {
				snprintf(err, errlen, "query too long");
				buf_free(&url);
				goto out;
			}
			struct http_response resp;
			int r = source_get(set, url.data, 0, &resp, err, errlen);
			buf_free(&url);
			if (r == 0)
				r = source_parse_prometheus(resp.body.data, resp.body.len,
				                            s->service_label, s->service,
				                            s->symptom, &tmp, err, errlen);
			http_response_free(&resp);
			if (r < 0)
				goto out;
		}
	} else if (s->type == SOURCE_SCRAPE) {
		for (size_t i = 0; i < s->hist.n; i++)
			source_copy_range(&s->hist.s[i], from, to, &tmp);
	} else if (s->type == SOURCE_CSV) {
		struct csv_table t;
		if (csv_read_table(s->path, &t, err, errlen) < 0)
			goto out;
		for (size_t c = 0; c < t.cols; c++) {
			char svc[128];
			source_pick_service(t.names[c], NULL, "", s->service, svc, sizeof svc);
			struct source_series *d =
			    source_series_get(&tmp, t.names[c], svc, s->symptom);
			for (size_t r = 0; d && r < t.rows; r++)
				source_series_add(d, t.ts_ms[r], t.v[r * t.cols + c]);
		}
		csv_table_free(&t);
	} else {
		FILE *fp = fopen(s->path, "r");
		if (!fp) {
			snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
			goto out;
		}
		struct buf b = {.max = 64u << 20};
		char chunk[65536];
		size_t n;
		int over = 0;
		while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
			if (buf_append(&b, chunk, n) < 0) {
				over = 1;
				break;
			}
		fclose(fp);
		int r = over ? -1
		             : source_parse_jsonl(b.data ? b.data : "", b.len, s->service,
		                                  s->symptom, &tmp, err, errlen);
		if (over)
			snprintf(err, errlen, "%s: larger than 64 MiB", s->path);
		buf_free(&b);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < tmp.n; i++)
		source_copy_range(&tmp.s[i], from, to, out);
	rc = 0;
out:
	source_list_free(&tmp);
	return rc;
}

int source_fetch(struct source_set *set, int64_t from_ms, int64_t to_ms, int64_t step_ms,
                 struct source_list *out, int *failed, char *err, size_t errlen)
{
	*failed = 0;
	char first[640] = "";
	for (size_t i = 0; i < set->n; i++) {
		char e[512];
		if (source_fetch_one(set, &set->src[i], from_ms, to_ms, step_ms, out, e, sizeof e) <
		    0) {
			log_warn("event=source_failed source=%s error=%s", set->src[i].name,
			         log_q(e));
			if (!*failed)
				snprintf(first, sizeof first, "source %s: %s", set->src[i].name, e);
			(*failed)++;
		}
	}
	if (set->n && *failed == (int)set->n) {
		snprintf(err, errlen, "%s", first);
		return -1;
	}
	return 0;
}

int source_scrape(struct source_set *set, int64_t now_ms, char *err, size_t errlen)
{
	int rc = 0;
	for (size_t i = 0; i < set->n; i++) {
		struct source *s = &set->src[i];
		if (s->type != SOURCE_SCRAPE)
			continue;
		struct http_response resp;
		char e[512];
		if (source_get(set, s->url, 1, &resp, e, sizeof e) < 0 ||
		    source_parse_exposition(resp.body.data, now_ms, s->service_label, s->service,
		                            s->symptom, &s->hist, e, sizeof e) < 0) {
			log_warn("event=scrape_failed source=%s error=%s", s->name, log_q(e));
			snprintf(err, errlen, "source %s: %s", s->name, e);
			rc = -1;
		}
		http_response_free(&resp);
	}
	return rc;
}
