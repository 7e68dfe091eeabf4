/*
 * alert.c: webhook payload parsing (see alert.h).
 */
#include "alert.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "json.h"
#include "mem.h"
#include "severity.h"
#include "timeutil.h"

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
		str_copy(val, sizeof val, v->valuestring);
		json_add_str(dst, v->string, val);
	}
}

int alert_parse_alertmanager(const char *body, size_t len, struct alert_req *out, char *err,
                             size_t errlen)
{
	cJSON *root;
	memset(out, 0, sizeof *out);
	if (json_parse_object(body, len, &root, err, errlen) < 0)
		return -1;
	int rc = -1;
	const char *version, *group_key, *status;
	cJSON *alerts;
	if (json_get_str(root, "version", &version, err, errlen) < 0 ||
	    json_get_str(root, "groupKey", &group_key, err, errlen) < 0 ||
	    json_get_str(root, "status", &status, err, errlen) < 0 ||
	    json_get_arr(root, "alerts", &alerts, err, errlen) < 0)
		goto out;
	if (strcmp(version, "4") != 0) {
		snprintf(err, errlen, "field 'version' is \"%.20s\"; opsbot reads version \"4\"",
		         version);
		goto out;
	}
	if (!*group_key || strlen(group_key) > 8192) {
		snprintf(err, errlen, "field 'groupKey' must be 1..8192 characters");
		goto out;
	}
	if (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0) {
		snprintf(err, errlen, "field 'status' must be \"firing\" or \"resolved\"");
		goto out;
	}
	int n = cJSON_GetArraySize(alerts);
	if (n < 1 || n > ALERT_MAX_ALERTS) {
		snprintf(err, errlen, "field 'alerts' must hold 1..%d alerts", ALERT_MAX_ALERTS);
		goto out;
	}
	const cJSON *common = cJSON_GetObjectItemCaseSensitive(root, "commonLabels");
	const cJSON *group = cJSON_GetObjectItemCaseSensitive(root, "groupLabels");
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(root, "commonAnnotations");
	if (alert_string_map(common, "commonLabels", 1, err, errlen) < 0 ||
	    alert_string_map(group, "groupLabels", 0, err, errlen) < 0 ||
	    alert_string_map(ann, "commonAnnotations", 0, err, errlen) < 0)
		goto out;
	/* Every alert, checked before anything is built. */
	int64_t earliest = 0;
	int firing = 0;
	struct buf sig = {.max = 1 << 20};
	buf_appendf(&sig, "%s|", status);
	const cJSON *a;
	int i = 0;
	cJSON_ArrayForEach(a, alerts)
	{
		char field[64];
		const char *ast, *starts, *fp;
		snprintf(field, sizeof field, "alerts[%d]", i);
		if (!cJSON_IsObject(a)) {
			snprintf(err, errlen, "field '%s' must be an object", field);
			buf_free(&sig);
			goto out;
		}
		char e2[200];
		if (json_get_str(a, "status", &ast, e2, sizeof e2) < 0 ||
		    json_get_str(a, "startsAt", &starts, e2, sizeof e2) < 0 ||
		    json_get_str(a, "fingerprint", &fp, e2, sizeof e2) < 0 ||
		    alert_string_map(cJSON_GetObjectItemCaseSensitive(a, "labels"), "labels", 1, e2,
		                     sizeof e2) < 0 ||
		    alert_string_map(cJSON_GetObjectItemCaseSensitive(a, "annotations"),
		                     "annotations", 0, e2, sizeof e2) < 0) {
			snprintf(err, errlen, "%s: %s", field, e2);
			buf_free(&sig);
			goto out;
		}
		int64_t ms;
		if (time_parse_iso(starts, &ms) < 0) {
			snprintf(err, errlen, "field '%s.startsAt' is not an RFC 3339 time", field);
			buf_free(&sig);
			goto out;
		}
		if (strcmp(ast, "firing") != 0 && strcmp(ast, "resolved") != 0) {
			snprintf(err, errlen,
			         "field '%s.status' must be \"firing\" or \"resolved\"", field);
			buf_free(&sig);
			goto out;
		}
		firing += strcmp(ast, "firing") == 0;
		if (!earliest || ms < earliest)
			earliest = ms;
		buf_appendf(&sig, "%s=%s,", fp, ast);
		i++;
	}
	char gh[33], sh[33];
	alert_hash(group_key, strlen(group_key), gh);
	alert_hash(sig.data, sig.len, sh);
	buf_free(&sig);
	snprintf(out->key, sizeof out->key, "am:%s", gh);
	snprintf(out->note_key, sizeof out->note_key, "am:%s:note:%s", gh, sh);
	snprintf(out->resolve_key, sizeof out->resolve_key, "am:%s:resolve:%s", gh, sh);
	out->update = 1;
	out->resolved = strcmp(status, "resolved") == 0;

	const cJSON *first_labels =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(alerts, 0), "labels");
	const char *alertname = json_str(common, "alertname");
	if (!alertname)
		alertname = json_str(group, "alertname");
	if (!alertname)
		alertname = json_str(first_labels, "alertname");
	const char *service = json_str(common, "service");
	if (!service)
		service = json_str(group, "service");
	if (!service)
		service = json_str(common, "job");
	if (!service)
		service = json_str(first_labels, "service");
	const char *summary = json_str(ann, "summary");
	char title[200], svc[100], text[600];
	if (summary)
		str_copy(title, sizeof title, summary);
	else
		snprintf(title, sizeof title, "%.150s%s",
		         alertname ? alertname : "Alertmanager alert",
		         n > 1 ? " (several alerts)" : "");
	str_copy(svc, sizeof svc, service ? service : "unknown");
	const char *desc = json_str(ann, "description");
	if (desc)
		str_copy(text, sizeof text, desc);
	else
		snprintf(text, sizeof text, "Alertmanager group %.100s: %d of %d alerts firing.",
		         alertname ? alertname : "(unnamed)", firing, n);
	snprintf(out->note, sizeof out->note, "Alertmanager: group %s, %d of %d alerts firing.",
	         status, firing, n);

	cJSON *spec = json_new_object();
	json_add_str(spec, "title", title);
	json_add_str(spec, "service", svc);
	json_add_str(spec, "severity", alert_severity(json_str(common, "severity")));
	json_add_str(spec, "source", "alertmanager");
	json_add_str(spec, "summary", text);
	cJSON *labels = json_new_object();
	alert_copy_labels(labels, common);
	char at[40], gk[256];
	time_fmt_iso(earliest, at, sizeof at);
	json_add_str(labels, "at", at);
	str_copy(gk, sizeof gk, group_key);
	json_add_str(labels, "group_key", gk);
	json_add(spec, "labels", labels);
	out->spec = spec;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

int alert_parse_generic(const char *body, size_t len, struct alert_req *out, char *err,
                        size_t errlen)
{
	cJSON *root;
	memset(out, 0, sizeof *out);
	if (json_parse_object(body, len, &root, err, errlen) < 0)
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
