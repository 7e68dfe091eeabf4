/*
 * alert_test.c: webhook payloads, good and bad, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alert.h"
#include "json.h"

#define AM_ALERT(fp, st)                                                                           \
	"{\"status\":\"" st "\",\"labels\":{\"alertname\":\"HighLatency\",\"service\":"            \
	"\"checkout\"},\"annotations\":{},\"startsAt\":\"2026-11-21T04:50:00Z\",\"endsAt\":"       \
	"\"0001-01-01T00:00:00Z\",\"generatorURL\":\"http://prom/graph\",\"fingerprint\":\"" fp    \
	"\"}"
#define AM(status, alerts)                                                                         \
	"{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"HighLatency\\\"}\",\"status\":"       \
	"\"" status "\",\"receiver\":\"opsbot\",\"groupLabels\":{\"alertname\":\"HighLatency\"},"  \
	"\"commonLabels\":{\"alertname\":\"HighLatency\",\"service\":\"checkout\",\"severity\":"   \
	"\"warning\"},\"commonAnnotations\":{\"summary\":\"Checkout p99 above 1s\"},"              \
	"\"externalURL\":\"http://am\",\"truncatedAlerts\":0,\"alerts\":[" alerts "]}"

static void test_alertmanager(void **state)
{
	(void)state;
	const struct {
		const char *name, *body, *err_has;
	} cases[] = {
	    {"firing", AM("firing", AM_ALERT("a1", "firing")), NULL},
	    {"resolved", AM("resolved", AM_ALERT("a1", "resolved")), NULL},
	    {"not json", "{\"version\":", "JSON"},
	    {"array", "[]", "object"},
	    {"version 3",
	     "{\"version\":\"3\",\"groupKey\":\"g\",\"status\":\"firing\",\"alerts\":[]}",
	     "version"},
	    {"no groupKey", "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}", "groupKey"},
	    {"bad status", AM("burning", AM_ALERT("a1", "firing")), "status"},
	    {"no alerts", AM("firing", ""), "alerts"},
	    {"alert without fingerprint",
	     AM("firing",
	        "{\"status\":\"firing\",\"labels\":{},\"startsAt\":\"2026-11-21T04:50:00Z\"}"),
	     "alerts[0]: field 'fingerprint'"},
	    {"bad startsAt",
	     AM("firing", "{\"status\":\"firing\",\"labels\":{},\"startsAt\":\"yesterday\","
	                  "\"fingerprint\":\"x\"}"),
	     "startsAt"},
	    {"label not a string",
	     AM("firing", "{\"status\":\"firing\",\"labels\":{\"a\":1},\"startsAt\":"
	                  "\"2026-11-21T04:50:00Z\",\"fingerprint\":\"x\"}"),
	     "labels.a"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct alert_req r;
		char err[300] = "";
		int rc = alert_parse_alertmanager(cases[i].body, strlen(cases[i].body), &r, err,
		                                  sizeof err);
		if (cases[i].err_has) {
			if (rc == 0 || !strstr(err, cases[i].err_has))
				fail_msg("%s: got rc %d err '%s' want an error with '%s'",
				         cases[i].name, rc, err, cases[i].err_has);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: got error '%s' want success", cases[i].name, err);
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(r.spec, "labels");
		const struct {
			const char *got, *want;
		} f[] = {
		    {json_str(r.spec, "title"), "Checkout p99 above 1s"},
		    {json_str(r.spec, "service"), "checkout"},
		    {json_str(r.spec, "severity"), "medium"},
		    {json_str(r.spec, "source"), "alertmanager"},
		    {json_str(labels, "at"), "2026-11-21T04:50:00.000Z"},
		    {json_str(labels, "severity"), "warning"},
		};
		for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
			if (!f[k].got || strcmp(f[k].got, f[k].want) != 0)
				fail_msg("%s: field %zu got '%s' want '%s'", cases[i].name, k,
				         f[k].got ? f[k].got : "(null)", f[k].want);
		if (strncmp(r.key, "am:", 3) != 0 || strlen(r.key) != 35)
			fail_msg("%s: key got '%s' want am: and 32 hex digits", cases[i].name,
			         r.key);
		if (r.resolved != (strcmp(cases[i].name, "resolved") == 0))
			fail_msg("%s: resolved got %d", cases[i].name, r.resolved);
		alert_req_free(&r);
	}
}

/* One group, one key; a different notification, a different note key. */
static void test_keys(void **state)
{
	(void)state;
	const char *a = AM("firing", AM_ALERT("a1", "firing"));
	const char *b = AM("firing", AM_ALERT("a1", "firing") "," AM_ALERT("a2", "firing"));
	struct alert_req ra, rb, ra2;
	char err[200];
	assert_int_equal(alert_parse_alertmanager(a, strlen(a), &ra, err, sizeof err), 0);
	assert_int_equal(alert_parse_alertmanager(b, strlen(b), &rb, err, sizeof err), 0);
	assert_int_equal(alert_parse_alertmanager(a, strlen(a), &ra2, err, sizeof err), 0);
	if (strcmp(ra.key, rb.key) != 0)
		fail_msg("same group: keys got %s and %s want equal", ra.key, rb.key);
	if (strcmp(ra.note_key, rb.note_key) == 0)
		fail_msg("different alerts: note keys got equal (%s)", ra.note_key);
	if (strcmp(ra.note_key, ra2.note_key) != 0)
		fail_msg("a repeat: note keys got %s and %s want equal", ra.note_key, ra2.note_key);
	alert_req_free(&ra);
	alert_req_free(&rb);
	alert_req_free(&ra2);
}

static void test_generic(void **state)
{
	(void)state;
	const struct {
		const char *body, *err_has, *key;
	} cases[] = {
	    {"{\"title\":\"Disk full\",\"service\":\"db\"}", NULL, ""},
	    {"{\"title\":\"Disk full\",\"service\":\"db\",\"severity\":\"high\",\"labels\":"
	     "{\"team\":\"x\"},\"text\":\"92%\",\"key\":\"k1\"}",
	     NULL, "generic:k1"},
	    {"{\"service\":\"db\"}", "title", NULL},
	    {"{\"title\":\"\",\"service\":\"db\"}", "title", NULL},
	    {"{\"title\":\"x\",\"service\":\"db\",\"severity\":\"urgent\"}", "severity", NULL},
	    {"{\"title\":\"x\",\"service\":\"db\",\"extra\":1}", "unknown field 'extra'", NULL},
	    {"{\"title\":\"x\",\"service\":\"db\",\"labels\":{\"a\":[1]}}", "labels.a", NULL},
	    {"{\"title\":\"x\",\"service\":7}", "service", NULL},
	    {"not json", "JSON", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct alert_req r;
		char err[300] = "";
		int rc =
		    alert_parse_generic(cases[i].body, strlen(cases[i].body), &r, err, sizeof err);
		if (cases[i].err_has) {
			if (rc == 0 || !strstr(err, cases[i].err_has))
				fail_msg("case %zu: got rc %d err '%s' want error with '%s'", i, rc,
				         err, cases[i].err_has);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu: got error '%s' want success", i, err);
		if (strcmp(r.key, cases[i].key) != 0)
			fail_msg("case %zu: key got '%s' want '%s'", i, r.key, cases[i].key);
		if (strcmp(json_str(r.spec, "source"), "generic") != 0 || r.update)
			fail_msg("case %zu: source/update wrong", i);
		alert_req_free(&r);
	}
}

static void test_severity(void **state)
{
	(void)state;
	const char *cases[][2] = {{"critical", "critical"}, {"warning", "medium"},
	                          {"ERROR", "high"},        {"info", "info"},
	                          {NULL, "medium"},         {"odd", "medium"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (strcmp(alert_severity(cases[i][0]), cases[i][1]) != 0)
			fail_msg("severity(%s): got %s want %s", cases[i][0] ? cases[i][0] : "NULL",
			         alert_severity(cases[i][0]), cases[i][1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alertmanager),
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_generic),
	    cmocka_unit_test(test_severity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
