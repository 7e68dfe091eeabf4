/*
 * alert.c: webhook payload parsing (see alert.h).
 */
#include "alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "json.h"
#include "mem.h"
#include "severity.h"
#include "timeutil.h"
#include "utf8.h"

/* The entrance rule, then the JSON parse. */
static int alert_parse_body(const char *body, size_t len, cJSON **root, char *err, size_t errlen)
{
	char *clean;
	size_t n;
	if (utf8_clean_json(body, len, &clean, &n, err, errlen) < 0)
		return -1;
	int rc = json_parse_object(clean, n, root, err, errlen);
	free(clean);
	return rc;
}

void alert_req_free(struct alert_req *r)
{
	cJSON_Delete(r->spec);
	memset(r, 0, sizeof *r);
}

const char *alert_severity(const char *label)
{
	static const struct {
		const char *in, *out;
	} map[] = {{"critical", "critical"}, {"page", "critical"}, {"fatal", "critical"},
	           {"high", "high"},         {"error", "high"},    {"major", "high"},
	           {"warning", "medium"},    {"warn", "medium"},   {"medium", "medium"},
	           {"low", "low"},           {"minor", "low"},     {"info", "info"},
	           {"none", "info"}};
	for (size_t i = 0; label && i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(label, map[i].in) == 0)
			return map[i].out;
	return "medium";
}

/* First 32 hex digits of SHA-256(s). */
static void alert_hash(const char *s, size_t n, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* An object whose values are all strings (labels, annotations). */
static int alert_string_map(const cJSON *o, const char *name, int required, char *err,
                            size_t errlen)
{
	if (!o) {
		if (required)
			snprintf(err, errlen, "field '%s' is missing", name);
		return required ? -1 : 0;
	}
	if (!cJSON_IsObject(o)) {
		snprintf(err, errlen, "field '%s' must be an object", name);
		return -1;
	}
	const cJSON *v;
	cJSON_ArrayForEach(v, o)
	{
		if (!cJSON_IsString(v)) {
			snprintf(err, errlen, "field '%s.%s' must be a string", name, v->string);
			return -1;
		}
	}
	return 0;
}

static void alert_copy_labels(cJSON *dst, const cJSON *src)
{
	const cJSON *v;
	int n = 0;
	cJSON_ArrayForEach(v, src)
	{
		if (n++ >= 64)
			break;
		char val[256];
		utf8_copy(val, sizeof val, v->valuestring);
		json_add_str(dst, v->string, val);
	}
}

/*
 * The incident's summary: the group's description (or a line saying what
 * fired), the counts, then the first ALERT_SHOWN alerts in full (labels
 * that differ from the common ones, startsAt, summary).  Bounded: 4,000
 * bytes, cut on a character boundary.
 */
#define ALERT_SUMMARY_MAX 4000

static char *alert_summary(const cJSON *ann, const cJSON *common, const cJSON *alerts,
                           const char *name, int firing, int n)
{
	struct buf b = {.max = 64 * 1024};
	const char *desc = json_str(ann, "description");
	if (desc)
		buf_appendf(&b, "%s\n", desc);
	buf_appendf(&b, "Alertmanager group %s: %d of %d alerts firing.", name, firing, n);
	if (n > ALERT_SHOWN)
		buf_appendf(&b, " The first %d:", ALERT_SHOWN);
	const cJSON *a;
	int i = 0;
	cJSON_ArrayForEach(a, alerts)
	{
		if (i++ >= ALERT_SHOWN)
			break;
		buf_appendf(&b, "\n- %s since %s", json_str(a, "status"), json_str(a, "startsAt"));
		const cJSON *l;
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(a, "labels"))
		{
			const char *c = json_str(common, l->string);
			if (!c || strcmp(c, l->valuestring) != 0)
				buf_appendf(&b, " %s=%s", l->string, l->valuestring);
		}
		const char *s =
		    json_str(cJSON_GetObjectItemCaseSensitive(a, "annotations"), "summary");
		if (s)
			buf_appendf(&b, ": %s", s);
	}
	if (n > ALERT_SHOWN)
		buf_appendf(&b, "\n(and %d more)", n - ALERT_SHOWN);
	char *text = xmalloc(ALERT_SUMMARY_MAX + 1);
	utf8_copy(text, ALERT_SUMMARY_MAX + 1, b.data ? b.data : "");
	buf_free(&b);
	return text;
}

/* An Alertmanager notification's top level, checked (alert_parse_alertmanager). */
struct am_head {
	const char *status, *group_key;
	cJSON *alerts;
	int n;
	const cJSON *common, *group, *ann;
};

/* Step 1: version 4, the group's key and status, the label maps. */
static int am_check_head(cJSON *root, struct am_head *h, char *err, size_t errlen)
{
	const char *version;
	if (json_get_str(root, "version", &version, err, errlen) < 0 ||
	    json_get_str(root, "groupKey", &h->group_key, err, errlen) < 0 ||
	    json_get_str(root, "status", &h->status, err, errlen) < 0 ||
	    json_get_arr(root, "alerts", &h->alerts, err, errlen) < 0)
		return -1;
	if (strcmp(version, "4") != 0) {
		snprintf(err, errlen, "field 'version' is \"%.20s\"; opsbot reads version \"4\"",
		         version);
		return -1;
	}
	if (!*h->group_key || strlen(h->group_key) > 8192) {
		snprintf(err, errlen, "field 'groupKey' must be 1..8192 characters");
		return -1;
	}
	if (strcmp(h->status, "firing") != 0 && strcmp(h->status, "resolved") != 0) {
		snprintf(err, errlen, "field 'status' must be \"firing\" or \"resolved\"");
		return -1;
	}
	h->n = cJSON_GetArraySize(h->alerts);
	if (h->n < 1) {
		snprintf(err, errlen, "field 'alerts' must hold at least one alert");
		return -1;
	}
	h->common = cJSON_GetObjectItemCaseSensitive(root, "commonLabels");
	h->group = cJSON_GetObjectItemCaseSensitive(root, "groupLabels");
	h->ann = cJSON_GetObjectItemCaseSensitive(root, "commonAnnotations");
	if (alert_string_map(h->common, "commonLabels", 1, err, errlen) < 0 ||
	    alert_string_map(h->group, "groupLabels", 0, err, errlen) < 0 ||
	    alert_string_map(h->ann, "commonAnnotations", 0, err, errlen) < 0)
		return -1;
	return 0;
}

/* One alert of the list: its fields, start time and status. */
static int am_check_alert(const cJSON *a, int i, const char **status, const char **fp,
                          int64_t *starts_ms, char *err, size_t errlen)
{
	char field[64], e2[200];
	const char *starts;
	snprintf(field, sizeof field, "alerts[%d]", i);
	if (!cJSON_IsObject(a)) {
		snprintf(err, errlen, "field '%s' must be an object", field);
		return -1;
	}
	if (json_get_str(a, "status", status, e2, sizeof e2) < 0 ||
	    json_get_str(a, "startsAt", &starts, e2, sizeof e2) < 0 ||
	    json_get_str(a, "fingerprint", fp, e2, sizeof e2) < 0 ||
	    alert_string_map(cJSON_GetObjectItemCaseSensitive(a, "labels"), "labels", 1, e2,
	                     sizeof e2) < 0 ||
	    alert_string_map(cJSON_GetObjectItemCaseSensitive(a, "annotations"), "annotations", 0,
	                     e2, sizeof e2) < 0) {
		snprintf(err, errlen, "%s: %s", field, e2);
		return -1;
	}
	if (time_parse_iso(starts, starts_ms) < 0) {
		snprintf(err, errlen, "field '%s.startsAt' is not an RFC 3339 time", field);
		return -1;
	}
	if (strcmp(*status, "firing") != 0 && strcmp(*status, "resolved") != 0) {
		snprintf(err, errlen, "field '%s.status' must be \"firing\" or \"resolved\"",
		         field);
		return -1;
	}
	return 0;
}

/*
 * Step 2: every alert, checked before anything is built; counts the firing
 * ones, finds the earliest start and hashes the notification's signature
 * (group status, then fingerprint=status of each alert) into sh.
 */
static int am_check_alerts(const struct am_head *h, int *firing, int64_t *earliest, char sh[33],
                           char *err, size_t errlen)
{
	EVP_MD_CTX *sig = EVP_MD_CTX_new();
	const cJSON *a;
	int i = 0, rc = 0;

	*firing = 0;
	*earliest = 0;
	EVP_DigestInit_ex(sig, EVP_sha256(), NULL);
	EVP_DigestUpdate(sig, h->status, strlen(h->status));
	EVP_DigestUpdate(sig, "|", 1);
	cJSON_ArrayForEach(a, h->alerts)
	{
		const char *ast, *fp;
		int64_t ms;
		if (am_check_alert(a, i, &ast, &fp, &ms, err, errlen) < 0) {
			rc = -1;
			break;
		}
		*firing += strcmp(ast, "firing") == 0;
		if (!*earliest || ms < *earliest)
			*earliest = ms;
		EVP_DigestUpdate(sig, fp, strlen(fp));
		EVP_DigestUpdate(sig, "=", 1);
		EVP_DigestUpdate(sig, ast, strlen(ast));
		EVP_DigestUpdate(sig, ",", 1);
		i++;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_DigestFinal_ex(sig, md, &mdlen);
	EVP_MD_CTX_free(sig);
	for (int k = 0; k < 16; k++)
		snprintf(sh + 2 * k, 3, "%02x", md[k]);
	return rc;
}

/* Step 3: the incident's keys: one per group, a note and a resolve per signature. */
static void am_keys(struct alert_req *out, const struct am_head *h, const char sh[33], int firing)
{
	char gh[33];
	alert_hash(h->group_key, strlen(h->group_key), gh);
	memcpy(out->group_hash, gh, sizeof gh);
	memcpy(out->sig_hash, sh, 33);
	out->nalerts = h->n;
	out->nfiring = firing;
	snprintf(out->key, sizeof out->key, "am:%s", gh);
	snprintf(out->note_key, sizeof out->note_key, "am:%s:note:%s", gh, sh);
	snprintf(out->resolve_key, sizeof out->resolve_key, "am:%s:resolve:%s", gh, sh);
	out->update = 1;
	out->resolved = strcmp(h->status, "resolved") == 0;
	snprintf(out->note, sizeof out->note, "Alertmanager: group %s, %d of %d alerts firing.",
	         h->status, firing, h->n);
}

/* Step 4: the incident spec: title, service, severity, summary and labels. */
static cJSON *am_spec(const struct am_head *h, const char *group_hash, int firing, int64_t earliest)
{
	const cJSON *first_labels =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(h->alerts, 0), "labels");
	const char *alertname = json_str(h->common, "alertname");
	if (!alertname)
		alertname = json_str(h->group, "alertname");
	if (!alertname)
		alertname = json_str(first_labels, "alertname");
	const char *service = json_str(h->common, "service");
	if (!service)
		service = json_str(h->group, "service");
	if (!service)
		service = json_str(h->common, "job");
	if (!service)
		service = json_str(first_labels, "service");
	const char *summary = json_str(h->ann, "summary");
	char title[200], svc[100], name[150];
	utf8_copy(name, sizeof name, alertname ? alertname : "Alertmanager alert");
	if (summary)
		utf8_copy(title, sizeof title, summary);
	else if (h->n > 1)
		snprintf(title, sizeof title, "%s (%d alerts)", name, h->n);
	else
		utf8_copy(title, sizeof title, name);
	utf8_copy(svc, sizeof svc, service ? service : "unknown");
	char *text = alert_summary(h->ann, h->common, h->alerts, name, firing, h->n);

	cJSON *spec = json_new_object();
	json_add_str(spec, "title", title);
	json_add_str(spec, "service", svc);
	json_add_str(spec, "severity", alert_severity(json_str(h->common, "severity")));
	json_add_str(spec, "source", "alertmanager");
	json_add_str(spec, "summary", text);
	free(text);
	cJSON *labels = json_new_object();
	alert_copy_labels(labels, h->common);
	char at[40], gk[256];
	time_fmt_iso(earliest, at, sizeof at);
	json_add_str(labels, "at", at);
	utf8_copy(gk, sizeof gk, h->group_key);
	json_add_str(labels, "group_key", gk);
	json_add_str(labels, "am_group", group_hash);
	json_add(spec, "labels", labels);
	return spec;
}

int alert_parse_alertmanager(const char *body, size_t len, struct alert_req *out, char *err,
                             size_t errlen)
{
	cJSON *root;
	struct am_head h;
	int firing, rc = -1;
	int64_t earliest;
	char sh[33];

	memset(out, 0, sizeof *out);
	if (alert_parse_body(body, len, &root, err, errlen) < 0)
		return -1;
	if (am_check_head(root, &h, err, errlen) == 0 &&
	    am_check_alerts(&h, &firing, &earliest, sh, err, errlen) == 0) {
		am_keys(out, &h, sh, firing);
		out->spec = am_spec(&h, out->group_hash, firing, earliest);
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

int alert_parse_generic(const char *body, size_t len, struct alert_req *out, char *err,
                        size_t errlen)
{
	cJSON *root;
	memset(out, 0, sizeof *out);
	if (alert_parse_body(body, len, &root, err, errlen) < 0)
		return -1;
	int rc = -1;
	static const char *const known[] = {"title", "service", "severity", "labels",
	                                    "text",  "key",     NULL};
	const cJSON *f;
	cJSON_ArrayForEach(f, root)
	{
		size_t k = 0;
		while (known[k] && strcmp(known[k], f->string) != 0)
			k++;
		if (!known[k]) {
			snprintf(err, errlen, "unknown field '%.60s' (see the documented shape)",
			         f->string);
			goto out;
		}
	}
	const char *title, *service;
	if (json_get_str(root, "title", &title, err, errlen) < 0 ||
	    json_get_str(root, "service", &service, err, errlen) < 0)
		goto out;
	const struct {
		const char *name, *val;
		size_t min, max;
	} lim[] = {{"title", title, 1, 200},
	           {"service", service, 1, 100},
	           {"severity", json_str(root, "severity"), 1, 20},
	           {"text", json_str(root, "text"), 0, 4000},
	           {"key", json_str(root, "key"), 1, 100}};
	for (size_t k = 0; k < sizeof lim / sizeof lim[0]; k++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, lim[k].name);
		if (it && !cJSON_IsString(it)) {
			snprintf(err, errlen, "field '%s' must be a string", lim[k].name);
			goto out;
		}
		if (lim[k].val &&
		    (strlen(lim[k].val) < lim[k].min || strlen(lim[k].val) > lim[k].max)) {
			snprintf(err, errlen, "field '%s' must be %zu..%zu characters", lim[k].name,
			         lim[k].min, lim[k].max);
			goto out;
		}
	}
	const char *sev = json_str(root, "severity");
	const char *const *sevs = severity_names; /* lib/severity.h */
	if (sev) {
		size_t k = 0;
		while (sevs[k] && strcmp(sevs[k], sev) != 0)
			k++;
		if (!sevs[k]) {
			snprintf(err, errlen,
			         "field 'severity' must be critical, high, medium, low or info");
			goto out;
		}
	}
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
	if (alert_string_map(labels, "labels", 0, err, errlen) < 0)
		goto out;
	if (labels && cJSON_GetArraySize(labels) > 64) {
		snprintf(err, errlen, "field 'labels' holds more than 64 labels");
		goto out;
	}
	cJSON *spec = json_new_object();
	json_add_str(spec, "title", title);
	json_add_str(spec, "service", service);
	json_add_str(spec, "severity", sev ? sev : "medium");
	json_add_str(spec, "source", "generic");
	if (json_str(root, "text"))
		json_add_str(spec, "summary", json_str(root, "text"));
	if (labels) {
		cJSON *l = json_new_object();
		alert_copy_labels(l, labels);
		json_add(spec, "labels", l);
	}
	out->spec = spec;
	if (json_str(root, "key"))
		snprintf(out->key, sizeof out->key, "generic:%s", json_str(root, "key"));
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}
