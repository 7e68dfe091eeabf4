/* planner.c: the plan job: planner choice, critic, approvals, id and hash (see planner.h). */
#include "planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "critic.h"
#include "json.h"
#include "llm.h"
#include "log.h"
#include "mem.h"
#include "playbook.h"
#include "timeutil.h"

enum planner_kind { PLANNER_AUTO, PLANNER_PLAYBOOK, PLANNER_LLM };

struct planner {
	struct catalog *cat;
	struct policy *pol;
	struct outcomes *mem;
	struct llm *llm; /* NULL: playbook only */
	char db[512];
	int max_steps;
	double ucb_c;
	char fallback[64];
	int learn;
	int64_t learn_interval_ms;
	double last_overhead_ms;
	struct plan_edge edges[PLAN_MAX_EDGES]; /* [services] */
	int nedges;
};

int planner_new(struct planner **out, struct config *cfg, char *err, size_t errlen)
{
	struct planner *p = xcalloc(1, sizeof(*p));
	const char *catalog = config_str(cfg, "plan", "catalog", "config/actions.conf");
	const char *policy = config_str(cfg, "plan", "policy", "config/policy.conf");
	const char *db = config_str(cfg, "plan", "db", "var/plan.db");
	static const char *const kinds[] = {"auto", "playbook", "llm", NULL};
	int kind = config_enum(cfg, "plan", "planner", kinds, PLANNER_AUTO);
	p->max_steps = (int)config_int(cfg, "plan", "max_steps", 3, 1, PLAN_MAX_STEPS);
	p->ucb_c = config_double(cfg, "plan", "ucb_c", 0.5, 0, 10);
	const char *fb = config_str(cfg, "plan", "fallback", "page_oncall");
	p->learn = config_bool(cfg, "plan", "learn", 1);
	p->learn_interval_ms = config_duration_ms(cfg, "plan", "learn_interval", 2000);
	str_copy(p->db, sizeof(p->db), db);
	str_copy(p->fallback, sizeof(p->fallback), strcmp(fb, "none") == 0 ? "" : fb);

	const char *base = config_str(cfg, "llm", "base_url", NULL);
	struct llm_conf lc = {0};
	const char *model = config_str(cfg, "llm", "model", NULL);
	lc.timeout_ms = config_duration_ms(cfg, "llm", "timeout", 30000);
	lc.max_attempts = (int)config_int(cfg, "llm", "max_attempts", 3, 1, 10);
	lc.max_retry_wait_ms = config_duration_ms(cfg, "llm", "max_retry_wait", 20000);
	lc.token_budget = (int)config_int(cfg, "llm", "token_budget", 6000, 500, 1000000);
	lc.max_tokens = (int)config_int(cfg, "llm", "max_tokens", 800, 50, 100000);
	lc.json_schema = config_bool(cfg, "llm", "json_schema", 1);
	lc.prompt_cost_per_1k = config_double(cfg, "llm", "prompt_cost_per_1k", 0, 0, 1000);
	lc.completion_cost_per_1k = config_double(cfg, "llm", "completion_cost_per_1k", 0, 0, 1000);
	if (base && strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
		config_error(cfg, "llm", "base_url", "must start with http:// or https://");
	if (base && (!model || !*model))
		config_error(cfg, "llm", "base_url", "needs a model too ([llm] model = ...)");
	if (kind == PLANNER_LLM && !base)
		config_error(cfg, "plan", "planner", "llm needs [llm] base_url");
	if (p->learn_interval_ms < 100)
		config_error(cfg, "plan", "learn_interval", "must be at least 100ms");
	if (catalog_load(catalog, &p->cat, err, errlen) < 0)
		goto fail;
	/* [services]: NAME = the services it calls (also read by detect and the queue) */
	size_t ne = 0;
	const struct config_entry *ent = config_entries(cfg, &ne);
	for (size_t i = 0; i < ne; i++) {
		if (strcmp(ent[i].section, "services") != 0)
			continue;
		char deps[1024];
		str_copy(deps, sizeof(deps), config_str(cfg, "services", ent[i].key, ""));
		char *save = NULL;
		for (char *t = strtok_r(deps, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
			if (p->nedges < PLAN_MAX_EDGES && strlen(t) < 64 &&
			    strlen(ent[i].key) < 64) {
				str_copy(p->edges[p->nedges].caller, 64, ent[i].key);
				str_copy(p->edges[p->nedges].callee, 64, t);
				p->nedges++;
			}
	}
	if (policy_load(policy, p->cat, &p->pol, err, errlen) < 0)
		goto fail;
	if (p->fallback[0] && !catalog_find(p->cat, p->fallback)) {
		snprintf(err, errlen, "%s:%d: fallback %s is not in the catalog %s",
		         config_file(cfg), config_line(cfg, "plan", "fallback"), p->fallback,
		         catalog);
		goto fail;
	}
	if (outcomes_open(&p->mem, db, err, errlen) < 0)
		goto fail;
	if (base && kind != PLANNER_PLAYBOOK) {
		size_t bl = strlen(base);
		while (bl > 0 && base[bl - 1] == '/')
			bl--;
		snprintf(lc.url, sizeof(lc.url), "%.*s/chat/completions", (int)bl, base);
		str_copy(lc.model, sizeof(lc.model), model ? model : "");
		lc.key = config_secret("OPSBOT_LLM_API_KEY");
		p->llm = llm_new(&lc);
		log_info("event=llm_planner url=%s model=%s key=%s", log_q(lc.url), log_q(lc.model),
		         lc.key ? "set" : "none");
	}
	*out = p;
	return 0;
fail:
	planner_free(p);
	return -1;
}

void planner_free(struct planner *p)
{
	if (!p)
		return;
	llm_free(p->llm);
	outcomes_close(p->mem);
	policy_free(p->pol);
	catalog_free(p->cat);
	free(p);
}

const char *planner_db_path(const struct planner *p)
{
	return p->db;
}

int planner_learns(const struct planner *p)
{
	return p->learn;
}

int planner_uses_llm(const struct planner *p)
{
	return p->llm != NULL;
}

int64_t planner_learn_interval_ms(const struct planner *p)
{
	return p->learn_interval_ms;
}

double planner_last_overhead_ms(const struct planner *p)
{
	return p->last_overhead_ms;
}

/* sha256 over the canonical plan text, as hex, cut to outlen - 1. */
static void planner_hash(const char *text, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (unsigned int i = 0; i < mdlen && o + 2 < outlen; i++) {
		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 15];
	}
	out[o] = '\0';
}

static void planner_summary(const char *planner, const cJSON *steps, int needs, char *out,
                            size_t outlen)
{
	int n = cJSON_GetArraySize(steps);
	if (n == 0) {
		snprintf(out, outlen,
		         "No safe step to propose (%s planner); see the notes. A person should "
		         "look at this incident.",
		         planner);
		return;
	}
	size_t o = (size_t)snprintf(out, outlen, "Plan (%s): ", planner);
	int i = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, steps)
	{
		if (o >= outlen)
			break;
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(s, "params");
		/* the target: the first text parameter (service, node, domain, queue...) */
		const char *target = NULL;
		const cJSON *pv;
		cJSON_ArrayForEach(pv, params)
		{
			if (!target && cJSON_IsString(pv))
				target = pv->valuestring;
		}
		o += (size_t)snprintf(out + o, outlen - o, "%s%d. %s%s%s (%s, %s)", i ? "; " : "",
		                      i + 1, json_str(s, "action"), target ? " " : "",
		                      target ? target : "", json_str(s, "risk"),
		                      strcmp(json_str(s, "approval"), "auto") == 0
		                          ? "runs on its own"
		                          : "needs approval");
		i++;
	}
	if (o < outlen)
		snprintf(out + o, outlen - o, needs ? ". Waiting for approval." : ". Runs now.");
}

struct planner_check {
	const struct plan_ctx *ctx;
	const cJSON *passages;
};

/* The critic's verdict on a proposal, as the reason for a repair round. */
static int planner_check_steps(void *arg, const cJSON *steps, char *why, size_t whylen)
{
	struct planner_check *pc = arg;
	cJSON *notes = json_new_array();
	cJSON *kept = critic_check(pc->ctx, steps, pc->passages, notes);
	size_t o = 0;
	int bad = 0;
	why[0] = '\0';
	const cJSON *n;
	cJSON_ArrayForEach(n, notes)
	{
		if (!strstr(n->valuestring, "removed"))
			continue;
		bad++;
		if (o + 3 < whylen)
			o += (size_t)snprintf(why + o, whylen - o, "%s%s", o ? "; " : "",
			                      n->valuestring);
	}
	cJSON_Delete(kept);
	cJSON_Delete(notes);
	return bad ? -1 : 0;
}

/* Verification covers the services the incident touches (playbook_watch_steps),
 * beyond max_steps: these steps change nothing. */
static void planner_watch(const struct plan_ctx *ctx, const cJSON *input, const cJSON *passages,
                          cJSON *steps, cJSON *notes)
{
	int have = cJSON_GetArraySize(steps);
	if (have == 0 || have >= PLAN_MAX_STEPS)
		return;
	cJSON *raw = playbook_watch_steps(ctx, input, steps);
	if (cJSON_GetArraySize(raw) > 0) {
		struct plan_ctx c2 = *ctx;
		c2.max_steps = PLAN_MAX_STEPS - have;
		cJSON *ok = critic_check(&c2, raw, passages, notes);
		cJSON *st;
		while ((st = cJSON_DetachItemFromArray(ok, 0)) != NULL)
			cJSON_AddItemToArray(steps, st);
		cJSON_Delete(ok);
	}
	cJSON_Delete(raw);
}

/* What planner_run gathers on its way to a plan. */
struct planner_draft {
	const char *planner;  /* "llm" or "playbook" */
	char sig[160];        /* the incident's playbook signature */
	cJSON *notes;         /* lines for a person reading the plan */
	cJSON *usage;         /* the model's token use and latency, or NULL */
	char llm_failed[200]; /* why the model's plan was not used, "" when it was */
	double model_ms;
};

/* The model's proposal (raw steps), or NULL with the reason in the notes
 * when it failed or is not configured. */
static cJSON *planner_try_llm(struct planner *p, struct plan_ctx *ctx, const cJSON *input,
                              struct planner_draft *d)
{
	cJSON *raw = NULL, *model_notes = NULL;
	char why[512];
	if (!p->llm)
		return NULL;
	struct planner_check pc = {
	    ctx, cJSON_GetObjectItemCaseSensitive(
	             cJSON_GetObjectItemCaseSensitive(input, "retrieve"), "passages")};
	if (llm_propose(p->llm, ctx, input, planner_check_steps, &pc, &raw, &model_notes, &d->usage,
	                why, sizeof(why)) == 0) {
		d->planner = "llm";
		const cJSON *n;
		cJSON_ArrayForEach(n, model_notes)
		{
			char line[300], clean[240];
			critic_clean_line(n->valuestring, clean, sizeof(clean));
			snprintf(line, sizeof(line), "model note: %s", clean);
			cJSON_AddItemToArray(d->notes, cJSON_CreateString(line));
		}
		cJSON_Delete(model_notes);
	} else {
		char line[700];
		snprintf(line, sizeof(line),
		         "The LLM planner failed (%s); this plan is from the playbook.", why);
		critic_clean_line(why, d->llm_failed, sizeof(d->llm_failed));
		cJSON_AddItemToArray(d->notes, cJSON_CreateString(line));
		log_warn("event=llm_fallback reason=%s", log_q(why));
	}
	d->model_ms = json_num(d->usage, "latency_ms", 0);
	return raw;
}

/* The checked steps: the model's when it proposed some that pass, else the
 * playbook's (consumes raw). */
static cJSON *planner_steps(struct plan_ctx *ctx, const cJSON *input, cJSON *raw,
                            struct planner_draft *d)
{
	if (!raw)
		raw = playbook_propose(ctx, input, d->sig, d->notes);
	const cJSON *passages = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(input, "retrieve"), "passages");
	cJSON *steps = critic_check(ctx, raw, passages, d->notes);
	cJSON_Delete(raw);
	planner_watch(ctx, input, passages, steps, d->notes);
	if (strcmp(d->planner, "llm") == 0 && cJSON_GetArraySize(steps) == 0) {
		/* nothing the model proposed passed: the playbook plans instead */
		str_copy(d->llm_failed, sizeof(d->llm_failed),
		         "it proposed no step that passed the checks");
		cJSON_AddItemToArray(d->notes,
		                     cJSON_CreateString("The LLM planner proposed no step that "
		                                        "passed the checks; this plan is "
		                                        "from the playbook."));
		cJSON_Delete(steps);
		d->planner = "playbook";
		raw = playbook_propose(ctx, input, d->sig, d->notes);
		steps = critic_check(ctx, raw, passages, d->notes);
		cJSON_Delete(raw);
		planner_watch(ctx, input, passages, steps, d->notes);
	}
	return steps;
}

/* The plan's hash (32 hex digits) and id ("plan-<incident>-<12 digits>"),
 * over a canonical text: incident id, then each step. */
static void planner_name(const cJSON *inc, const cJSON *steps, char hash[65], char *id,
                         size_t idlen)
{
	const cJSON *s;
	struct buf canon = {.max = 1 << 20};
	buf_appendf(&canon, "incident=%lld", (long long)json_int(inc, "id", 0));
	cJSON_ArrayForEach(s, steps)
	{
		char *ps = json_print(cJSON_GetObjectItemCaseSensitive(s, "params"));
		buf_appendf(&canon, "\n%s %s %s", json_str(s, "action"), ps,
		            json_str(s, "approval"));
		free(ps);
	}
	planner_hash(canon.data, hash, 65);
	buf_free(&canon);
	snprintf(id, idlen, "plan-%lld-%.12s", (long long)json_int(inc, "id", 0), hash);
	hash[32] = '\0';
}

/* The job's result: the plan (takes steps and the draft's notes and usage),
 * whether it needs approval, and a summary for a person. */
static cJSON *planner_result(const cJSON *inc, cJSON *steps, struct planner_draft *d)
{
	int needs = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, steps)
	{
		if (strcmp(json_str(s, "approval"), "auto") != 0)
			needs = 1;
	}
	char hash[65], id[96];
	planner_name(inc, steps, hash, id, sizeof(id));
	cJSON *plan = json_new_object();
	json_add_str(plan, "id", id);
	json_add_str(plan, "hash", hash);
	json_add_str(plan, "planner", d->planner);
	json_add_str(plan, "signature", d->sig);
	json_add(plan, "steps", steps);
	json_add(plan, "notes", d->notes);
	cJSON *res = json_new_object();
	json_add(res, "plan", plan);
	json_add_bool(res, "needs_approval", needs);
	char summary[1024];
	planner_summary(d->planner, steps, needs, summary, sizeof(summary));
	if (d->llm_failed[0]) {
		size_t sl = strlen(summary);
		snprintf(summary + sl, sizeof(summary) - sl, " (The LLM planner was not used: %s.)",
		         d->llm_failed);
	}
	json_add_str(res, "summary", summary);
	if (d->usage)
		json_add(res, "llm", d->usage);
	return res;
}

int planner_run(struct planner *p, const cJSON *input, int64_t now_ms, cJSON **result, char *err,
                size_t errlen)
{
	int64_t t0 = time_mono_us();
	const cJSON *inc = cJSON_GetObjectItemCaseSensitive(input, "incident");
	if (!cJSON_IsObject(inc)) {
		snprintf(err, errlen, "field 'incident' must be the incident record (an object)");
		return -1;
	}
	struct plan_ctx ctx = {
	    .cat = p->cat,
	    .pol = p->pol,
	    .mem = p->mem,
	    .now_ms = now_ms,
	    .max_steps = p->max_steps,
	    .ucb_c = p->ucb_c,
	    .fallback_action = p->fallback[0] ? p->fallback : NULL,
	    .edges = p->edges,
	    .nedges = p->nedges,
	};
	struct planner_draft d = {.planner = "playbook", .notes = json_new_array()};
	playbook_signature(input, d.sig, sizeof(d.sig));
	cJSON *raw = planner_try_llm(p, &ctx, input, &d);
	cJSON *steps = planner_steps(&ctx, input, raw, &d);
	*result = planner_result(inc, steps, &d);
	p->last_overhead_ms = (double)(time_mono_us() - t0) / 1000.0 - d.model_ms;
	return 0;
}
