/*
 * report.h: what an incident summary says, as facts (for email templates)
 * and as a PDF (doc.h).
 *
 * Input (untrusted, from the queue): {"incident":{id, title, service,
 * severity, state, source, summary?, surface?, created_ms, updated_ms,
 * results?{detect, retrieve, plan, execute, verify}}, "timeline":[events as
 * query what:"timeline" returns them], "metrics"?:[{name, unit?, points:
 * [[t_ms, value], ...]}], "metrics_note"?: "why there are none"}.
 * Stage results are taken from incident.results and, when missing there,
 * from the timeline's job.finished events (the report job's input carries
 * only the incident record and its timeline).  Every field may be missing;
 * the report then says what is missing instead of guessing.
 *
 * Digest input: see report_digest_pdf.
 */
#ifndef OPSBOT_REPORT_REPORT_H
#define OPSBOT_REPORT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "doc.h"

#define REPORT_OUTPUT_LINES 24   /* lines of one action's output shown */
#define REPORT_OUTPUT_BYTES 2400 /* bytes of one action's output shown */
#define REPORT_TIMELINE_MAX 400  /* timeline rows shown; older ones are counted */

/*
 * Facts a person reads first, for email templates and the chat message:
 * {id, title, service, severity, state, open:bool, source, summary,
 *  opened, detected, approved, approved_by, resolved (ISO or ""),
 *  time_to_detect, time_to_resolve ("4 min 10 s" or ""), cause, cause_confidence,
 *  actions:[{n, action, params, ok, result}], actions_none (why none),
 *  verified (text), plan_steps, runbooks:[{source, section, title}],
 *  llm (text or ""), generated}.  Caller owns it.
 */
cJSON *report_facts(const cJSON *in, int64_t now_ms);

/* The incident summary PDF.  0, or -1 with err. */
int report_incident_pdf(const cJSON *in, enum doc_paper paper, const char *path, int64_t now_ms,
                        int *pages, char *err, size_t errlen);

/*
 * The digest PDF.  digest: {period:"hourly"|"daily", from_ms, to_ms,
 * opened:[incident], resolved:[incident], open:[incident], approvals:[incident],
 * top_services:[{service, count}], ttr_p50_ms, ttr_max_ms,
 * alerts:{repeats, repeats_by_source:[{name,count}], noisiest:[{name,count}],
 *         auto_resolved, not_recorded:"..."}}.
 */
int report_digest_pdf(const cJSON *digest, enum doc_paper paper, const char *path, int *pages,
                      char *err, size_t errlen);

/* "4 min 10 s", "850 ms", "2 h 5 min" into out. */
void report_duration(int64_t ms, char *out, size_t len);
/* "2026-12-03 09:12:03 UTC" (or "" for 0). */
void report_time(int64_t ms, char *out, size_t len);

#endif
