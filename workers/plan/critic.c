/* critic.c: catalog, policy and history checks on proposed steps (see critic.h). */
#include "critic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "mem.h"

static void critic_note(cJSON *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void critic_note(cJSON *notes, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cJSON_AddItemToArray(notes, cJSON_CreateString(line));
}

void critic_clean_line(const char *s, char *out, size_t max)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o + 1 < max; p++)
		out[o++] = (*p < 0x20 || *p == 0x7f) ? ' ' : (char)*p;
	/* do not leave half a UTF-8 sequence at the cut */
	if (s && strlen(s) >= max)
		while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
	if (o > 0 && s && strlen(s) >= max && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
		o--;
	out[o] = '\0';
	log_redact(out);
}

void critic_passage_ref(const cJSON *passage, char *out, size_t outlen)
{
	const char *src = json_str(passage, "source");
	const char *sec = json_str(passage, "section");
	if (src && sec && *sec)
		snprintf(out, outlen, "%s#%s", src, sec);
	else
		snprintf(out, outlen, "%s", src ? src : "passage");
}

/* A short printable form of a value for notes. */
static void critic_show(const cJSON *v, char *out, size_t outlen)
{
	char *s = v ? json_print(v) : xstrdup("null");
	critic_clean_line(s, out, outlen > 60 ? 60 : outlen);
	free(s);
}

static cJSON *critic_citations(const cJSON *raw, const cJSON *passages)
{
	cJSON *out = json_new_array();
	const cJSON *c;
	int n = cJSON_GetArraySize(passages);
	cJSON_ArrayForEach(c, (cJSON_IsArray(raw) ? raw : NULL))
	{
		if (!cJSON_IsString(c) || cJSON_GetArraySize(out) >= 8)
			continue;
		char ref[300] = "";
		const char *s = c->valuestring;
		if ((s[0] == 'P' || s[0] == 'p') && s[1] >= '1' && s[1] <= '9') {
			char *end;
			long i = strtol(s + 1, &end, 10);
			if (*end == '\0' && i >= 1 && i <= n)
				critic_passage_ref(cJSON_GetArrayItem(passages, (int)i - 1), ref,
				                   sizeof(ref));
		} else {
			for (int i = 0; i < n && !ref[0]; i++) {
				char r[300];
				critic_passage_ref(cJSON_GetArrayItem(passages, i), r, sizeof(r));
				if (strcmp(r, s) == 0)
					str_copy(ref, sizeof(ref), r);
			}
		}
		if (!ref[0])
			continue;
		int dup = 0;
		const cJSON *o;
		cJSON_ArrayForEach(o, out)
		{
			if (strcmp(o->valuestring, ref) == 0)
				dup = 1;
		}
		if (!dup)
			cJSON_AddItemToArray(out, cJSON_CreateString(ref));
	}
	return out;
}

/*
 * Check one step's params against the action; returns the clean params
 * (caller owns) or NULL with the reason in why.
 */
static cJSON *critic_params(const struct plan_ctx *ctx, const struct catalog_action *a,
                            const cJSON *raw, int idx, cJSON *notes, char *why, size_t whylen)
{
	if (raw && !cJSON_IsObject(raw) && !cJSON_IsNull(raw)) {
		snprintf(why, whylen, "its params are not an object");
		return NULL;
	}
	const cJSON *p;
	cJSON_ArrayForEach(p, (cJSON_IsObject(raw) ? raw : NULL))
	{
		if (!catalog_param(a, p->string)) {
			char name[64];
			critic_clean_line(p->string, name, sizeof(name));
			critic_note(notes,
			            "step %d (%s): removed parameter %s, which %s does not take",
			            idx, a->name, name, a->name);
		}
	}
	cJSON *out = json_new_object();
	for (size_t i = 0; i < a->nparams; i++) {
		const struct catalog_param *cp = &a->params[i];
		const cJSON *v =
		    cJSON_IsObject(raw) ? cJSON_GetObjectItemCaseSensitive(raw, cp->name) : NULL;
		if (!v || cJSON_IsNull(v)) {
			if (cp->def) {
				json_add(out, cp->name, catalog_value_json(cp, cp->def));
				continue;
			}
			if (cp->optional)
				continue;
			snprintf(why, whylen, "it lacks the required parameter %s", cp->name);
			cJSON_Delete(out);
			return NULL;
		}
		char err[300];
		if (catalog_check_value(cp, v, err, sizeof(err)) < 0) {
			char shown[64];
			critic_show(v, shown, sizeof(shown));
			snprintf(why, whylen, "%s (got %s)", err, shown);
			cJSON_Delete(out);
			return NULL;
		}
		json_add(out, cp->name, json_dup(v));
	}
	(void)ctx;
	return out;
}

/* Hold a replicas parameter inside the policy's limits. */
static void critic_replicas(const struct plan_ctx *ctx, const struct catalog_action *a,
                            cJSON *params, int idx, cJSON *notes)
{
	cJSON *r = cJSON_GetObjectItemCaseSensitive(params, "replicas");
	if (!cJSON_IsNumber(r) || !ctx->pol)
		return;
	const char *svc = json_str(params, "service");
	int64_t lo, hi;
	if (policy_replicas(ctx->pol, svc, &lo, &hi) < 0)
		return;
	int64_t v = (int64_t)r->valuedouble;
	int64_t want = v < lo ? lo : v > hi ? hi : v;
	if (want == v)
		return;
	/* the catalog's own range still holds after clamping */
	const struct catalog_param *cp = catalog_param(a, "replicas");
	if (cp && cp->type == CATALOG_INT && (want < cp->min || want > cp->max))
		return;
	cJSON_SetNumberValue(r, (double)want);
	critic_note(notes,
	            "step %d (%s): replicas %lld is outside the policy limit %lld..%lld for %s; "
	            "set to %lld",
	            idx, a->name, (long long)v, (long long)lo, (long long)hi,
	            svc ? svc : "any service", (long long)want);
}

/* Cooldown and rate limit from the planner's memory; 0 allowed, -1 with why. */
static int critic_history(const struct plan_ctx *ctx, const struct catalog_action *a,
                          const cJSON *params, char *why, size_t whylen)
{
	if (!ctx->mem)
		return 0;
	if (a->cooldown_ms > 0) {
		char *target = outcomes_target(params);
		int64_t last = 0;
		int rc = outcomes_last_run(ctx->mem, a->name, target, &last);
		if (rc == 0 && last > 0 && ctx->now_ms - last < a->cooldown_ms) {
			snprintf(why, whylen, "%s ran on %s %lld s ago; its cooldown is %lld s",
			         a->name, *target ? target : "this target",
			         (long long)((ctx->now_ms - last) / 1000),
			         (long long)(a->cooldown_ms / 1000));
			free(target);
			return -1;
		}
		free(target);
	}
	if (a->rate_count > 0) {
		int64_t n = 0;
		if (outcomes_runs_since(ctx->mem, a->name, ctx->now_ms - a->rate_window_ms, &n) ==
		        0 &&
		    n >= a->rate_count) {
			snprintf(why, whylen,
			         "%s already ran %lld times in the last %lld s (limit %d)", a->name,
			         (long long)n, (long long)(a->rate_window_ms / 1000),
			         a->rate_count);
			return -1;
		}
	}
	return 0;
}

static void critic_approval(const struct plan_ctx *ctx, const struct catalog_action *a, cJSON *step)
{
	if (!ctx->pol) {
		json_add_str(step, "approval", "required");
		return;
	}
	struct policy_approval ap;
	policy_approval_for(ctx->pol, a, &ap);
	json_add_str(step, "approval", ap.required ? "required" : "auto");
	if (!ap.required)
		return;
	cJSON *who = json_new_array();
	for (size_t i = 0; ap.approvers && ap.approvers[i]; i++)
		cJSON_AddItemToArray(who, cJSON_CreateString(ap.approvers[i]));
	json_add(step, "approvers", who);
	json_add_int(step, "distinct_approvers", ap.distinct);
	json_add_bool(step, "requester_may_approve", ap.requester_may_approve);
	json_add_int(step, "approval_expiry_ms", ap.expiry_ms);
}

cJSON *critic_check(const struct plan_ctx *ctx, const cJSON *raw, const cJSON *passages,
                    cJSON *notes)
{
	cJSON *kept = json_new_array();
	int idx = 0, ignored_fields = 0;
	int max = ctx->max_steps > 0 && ctx->max_steps <= PLAN_MAX_STEPS ? ctx->max_steps
	                                                                 : PLAN_MAX_STEPS;
	const cJSON *s;
	cJSON_ArrayForEach(s, (cJSON_IsArray(raw) ? raw : NULL))
	{
		idx++;
		if (idx > 64) {
			critic_note(notes, "only the first 64 proposed steps were read");
			break;
		}
		if (!cJSON_IsObject(s)) {
			critic_note(notes, "step %d removed: it is not an object", idx);
			continue;
		}
		const char *name = json_str(s, "action");
		if (!name) {
			critic_note(notes, "step %d removed: it names no action", idx);
			continue;
		}
		const struct catalog_action *a = catalog_find(ctx->cat, name);
		if (!a) {
			char shown[64];
			critic_clean_line(name, shown, sizeof(shown));
			critic_note(notes, "step %d removed: %s is not an action in the catalog",
			            idx, shown);
			continue;
		}
		const cJSON *f;
		cJSON_ArrayForEach(f, s)
		{
			if (strcmp(f->string, "action") && strcmp(f->string, "params") &&
			    strcmp(f->string, "rationale") && strcmp(f->string, "citations"))
				ignored_fields++;
		}
		char why[400];
		cJSON *params = critic_params(ctx, a, cJSON_GetObjectItemCaseSensitive(s, "params"),
		                              idx, notes, why, sizeof(why));
		if (!params) {
			critic_note(notes, "step %d (%s) removed: %s", idx, a->name, why);
			continue;
		}
		critic_replicas(ctx, a, params, idx, notes);
		int dup = 0;
		const cJSON *k;
		cJSON_ArrayForEach(k, kept)
		{
			if (strcmp(json_str(k, "action"), a->name) == 0 &&
			    cJSON_Compare(cJSON_GetObjectItemCaseSensitive(k, "params"), params, 1))
				dup = 1;
		}
		if (dup) {
			critic_note(notes, "step %d (%s) removed: it repeats an earlier step", idx,
			            a->name);
			cJSON_Delete(params);
			continue;
		}
		struct policy_freeze_hit hit;
		if (ctx->pol && policy_frozen(ctx->pol, a, ctx->now_ms, &hit)) {
			critic_note(notes, "step %d (%s) removed: change freeze %s: %s", idx,
			            a->name, hit.name, hit.reason);
			cJSON_Delete(params);
			continue;
		}
		if (critic_history(ctx, a, params, why, sizeof(why)) < 0) {
			critic_note(notes, "step %d (%s) removed: %s", idx, a->name, why);
			cJSON_Delete(params);
			continue;
		}
		if (cJSON_GetArraySize(kept) >= max) {
			critic_note(notes, "step %d (%s) removed: a plan has at most %d steps", idx,
			            a->name, max);
			cJSON_Delete(params);
			continue;
		}
		cJSON *step = json_new_object();
		json_add_str(step, "action", a->name);
		json_add(step, "params", params);
		json_add_str(step, "risk", catalog_risk_name(a->risk));
		char rat[CRITIC_RATIONALE_MAX + 1];
		critic_clean_line(json_str(s, "rationale"), rat, sizeof(rat));
		json_add_str(step, "rationale", rat[0] ? rat : a->description);
		json_add(
		    step, "citations",
		    critic_citations(cJSON_GetObjectItemCaseSensitive(s, "citations"), passages));
		critic_approval(ctx, a, step);
		cJSON_AddItemToArray(kept, step);
	}
	if (ignored_fields)
		critic_note(notes,
		            "ignored %d field(s) the proposal set beyond action, params, rationale "
		            "and citations: risk comes from the catalog, approval from the policy",
		            ignored_fields);
	return kept;
}
