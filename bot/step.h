/*
 * step.h: what people see in chat, once for every surface.
 *
 * A queue event becomes a step: a surface-neutral description of one
 * thread message (kind, who, the fields the event carries, buttons), and
 * an incident's snapshot becomes its parent message.  Both are cJSON
 * objects that the surfaces hand to their own templates
 * (templates/slack/, templates/discord/): every word and all layout live
 * there, none in C.  Surfaces differ only in how they send.
 *
 * A step object (the template context):
 *   id, event, kind ("opened" "stage" "command" "resolved" "findings" "plan"
 *   "approval" "dead" "retry" "updated" "unknown" "decided" "other"),
 *   is_<kind}:true,
 *   who (a user id), text (the body, clamped), and per kind:
 *     opened   source, severity, service, title
 *     stage    from, to, st_<bucket>:true for `to` (see step_state_bucket)
 *     command  action, act_<action>:true (ack resolve pause resume retry
 *              note; else act_other), surface
 *     findings job, job_cap (Job), job_<kind>:true
 *     plan     steps:[{n, action, params (JSON text), risk, high_risk,
 *              rationale, approval, required, citations:[{source, section,
 *              more}], more}], needs_approval, hash, high_risk,
 *              need:{count, groups:[{name, more}], not_requester}, approved_by:
 *              [{user, surface, more}], tally, closed
 *     approval decision, approved, surface
 *     dead     job, attempts, job_id
 *     retry    job, attempt
 *     updated  fields:[{name, value, more}]
 *     unknown  step, action, step_key, question (text), and buttons
 *              step_retry/step_skip/step_abort (arg: step_key)
 *     decided  step, action, decision, dec_<decision>:true, who, person,
 *              surface
 *     other    name
 *   Buttons: has_buttons, rows:[{buttons:[{action, b_<action>:true, arg,
 *   id, confirm, s_<style>:true, more}], more}] (at most 5 per row).
 *   `more` is set on every array item but the last, so a JSON template
 *   can put commas between items.
 *
 * The parent object: id, title, service, severity, sev_<severity>:true,
 * state, st_<bucket>:true, source, summary, acked_by, resolved_by, note,
 * open, final, paused, rev, and the parent's buttons (rows as above).
 *
 * Ownership: every function returning cJSON * gives the caller a new tree.
 */
#ifndef OPSBOT_BOT_STEP_H
#define OPSBOT_BOT_STEP_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Button actions, shared by renderers (templates) and click handlers. */
#define STEP_ACT_ACK     "ack"
#define STEP_ACT_PAUSE   "pause"
#define STEP_ACT_RESUME  "resume"
#define STEP_ACT_RESOLVE "resolve"
#define STEP_ACT_APPROVE "approve"
#define STEP_ACT_REJECT  "reject"
#define STEP_ACT_DRYRUN  "dryrun"
#define STEP_ACT_RETRY   "retry"
/* The answer to "step N may or may not have run" (action.unknown); arg is
 * the ledger step_key.  The click becomes a ledger decide request. */
#define STEP_ACT_STEP_RETRY "step_retry"
#define STEP_ACT_STEP_SKIP  "step_skip"
#define STEP_ACT_STEP_ABORT "step_abort"

/*
 * The thread step for one queue event.  snap is the surface's snapshot of
 * the incident (may be NULL); text_max clamps the body.  NULL when the
 * event is not one a thread shows (no name, no incident).
 */
cJSON *step_event(const cJSON *event, const cJSON *snap, size_t text_max);

/*
 * The plan step from a plan.proposed event's data, with the approvals
 * recorded so far (array of {user, surface, decision}; may be NULL) and
 * whether the decision is still open (buttons shown).
 */
cJSON *step_plan(int64_t incident, const cJSON *data, const cJSON *approvals, int open,
                 size_t text_max);

/*
 * The "step N may or may not have run" question (action.unknown) once it is
 * answered, redrawn without its buttons (answered, answer_<decision>,
 * answered_by); *seq is the seq of the event that posted it.  NULL when
 * the snapshot holds no answered question.
 */
cJSON *step_ask(int64_t incident, const cJSON *snap, size_t text_max, int64_t *seq);

/* The parent message for an incident snapshot; rev is a changing number. */
cJSON *step_parent(int64_t incident, const cJSON *snap, int64_t rev, size_t title_max,
                   size_t summary_max);

/*
 * Fold an event into an incident snapshot (state, acked_by, resolved_by,
 * note, updated fields, the pending plan and its approvals).  Returns a
 * bit set: STEP_REDRAW_PARENT when the parent message changed,
 * STEP_REDRAW_PLAN when the plan message changed (tally, decided),
 * STEP_CHANGED whenever the snapshot changed at all.
 */
#define STEP_REDRAW_PARENT 1
#define STEP_REDRAW_PLAN   2
#define STEP_CHANGED       4 /* the snapshot changed (save it) */
#define STEP_REDRAW_ASK    8 /* the open "may or may not have run" question was answered */
int step_snapshot_apply(cJSON *snap, const cJSON *event);

/* "resolved", "awaiting", "paused", "closed" (rejected, expired, failed), "active" or "unknown". */
const char *step_state_bucket(const char *state);
/* Whether an incident in this state is finished. */
int step_state_final(const char *state);

/*
 * Load a surface's templates from dir and check that every name in need
 * (n of them) is there.  0, or -1 with err naming the folder and template.
 */
struct template_set;
int step_templates_load(const char *dir, const char *const *need, size_t n,
                        struct template_set **out, char *err, size_t errlen);

/* s cut to at most max characters on a UTF-8 boundary, with an ellipsis
 * counted in max; NULL gives "".  Caller frees. */
char *step_clamp(const char *s, size_t max);

#endif
