/*
 * llm.h: the language-model planner over any OpenAI-compatible
 * /v1/chat/completions endpoint (Ollama, llama.cpp server, vLLM, OpenAI,
 * Gemini's compatible endpoint).
 *
 * One proposal is at most two calls: the first asks for JSON matching a
 * schema (response_format json_schema; a server that refuses it with 400 is
 * asked again without it and then read as JSON inside text, and the
 * planner remembers that for later jobs); when the answer is not a usable
 * plan (unparseable, the wrong shape, or steps the check refuses), one
 * repair call shows the model its answer and the reasons.  429 and
 * 5xx are retried (lib/http.h: Retry-After, backoff).  Whatever fails, the
 * caller gets -1 and a reason, and falls back to the playbook.
 *
 * The prompt marks alert text, logs, timeline notes and retrieved passages
 * as untrusted data inside <untrusted> tags, and keeps under a token budget
 * (bytes / 4): older timeline entries are compacted to one line of counts
 * first, then passages are shortened, then dropped.  The answer is still
 * untrusted: it goes through the critic like any plan.
 *
 * Ownership: llm_propose's outputs belong to the caller (cJSON_Delete).
 */
#ifndef OPSBOT_PLAN_LLM_H
#define OPSBOT_PLAN_LLM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "planctx.h"

struct llm_conf {
	char url[600]; /* base_url + "/chat/completions" */
	char model[128];
	const char *key; /* from OPSBOT_LLM_API_KEY; may be NULL for local servers */
	int64_t timeout_ms;
	int max_attempts;
	int64_t max_retry_wait_ms;
	int token_budget;                                  /* prompt tokens (estimated) */
	int max_tokens;                                    /* completion tokens asked for */
	double prompt_cost_per_1k, completion_cost_per_1k; /* USD, for the estimate */
	int json_schema;                                   /* ask for response_format json_schema */
};

struct llm;

/* A planner for conf (copied); never fails (allocation failure exits). */
struct llm *llm_new(const struct llm_conf *conf);
void llm_free(struct llm *l);

/*
 * A check of a parsed proposal against the catalog and policy: 0 when every
 * step would pass, -1 with the reasons (one line) in why.  A failed check
 * earns the model the one repair round, like unparseable output does.
 */
typedef int (*llm_check_fn)(void *arg, const cJSON *steps, char *why, size_t whylen);

/*
 * Ask for a plan.  Returns 0 with *steps (the raw proposal, for the critic)
 * and *model_notes (strings the model added), or -1 with the reason in err.
 * *usage is always set: {model, calls, prompt_tokens, completion_tokens,
 * latency_ms, cost_usd, repaired, schema, compaction{...}, call_log[...]}.
 */
int llm_propose(struct llm *l, const struct plan_ctx *ctx, const cJSON *input, llm_check_fn check,
                void *check_arg, cJSON **steps, cJSON **model_notes, cJSON **usage, char *err,
                size_t errlen);

/* Parts exposed for tests. */

/*
 * The user message for input, kept under budget tokens; what was compacted
 * is recorded in compaction (an object).  Caller frees the string.
 */
char *llm_user_prompt(const cJSON *input, int budget_tokens, cJSON *compaction);
/* The system message listing the catalog; caller frees. */
char *llm_system_prompt(const struct catalog *cat, int max_steps);
/*
 * Find the plan object in a model's answer: the whole text, a ```json fence,
 * or the outermost {...}.  Checks its shape (steps: array of objects with a
 * string action; params an object when present).  0 with *plan (caller
 * owns), or -1 with the reason in err.
 */
int llm_extract_plan(const char *content, cJSON **plan, char *err, size_t errlen);

#endif
