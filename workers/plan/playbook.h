/*
 * playbook.h: the offline, deterministic planner.
 *
 * Candidates come from two places: an action's catalog `match` words found
 * in the findings and alert text (whole words, any case), and catalog
 * action names cited by retrieved runbook passages (earlier passages weigh
 * more).  Each candidate's prior is 1 - exp(-(0.5 * words + runbook
 * weight)); the bandit (bandit.h) then ranks candidates by the recorded
 * outcomes of this incident's signature.  Parameters are filled from the
 * incident (the suspected service, labels such as node or cluster) and the
 * catalog defaults; a candidate whose required parameter cannot be filled
 * is dropped with a note.  Alert text can nominate catalog actions but can
 * never choose values outside the catalog's types (the critic checks).
 *
 * The signature is "<suspected service>/<signal>", the signal being the
 * first class (latency, errors, saturation, memory, disk, queue,
 * certificate, database, traffic, deploy) whose words appear in the
 * findings, else "other".
 */
#ifndef OPSBOT_PLAN_PLAYBOOK_H
#define OPSBOT_PLAN_PLAYBOOK_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "planctx.h"

void playbook_signature(const cJSON *input, char *out, size_t outlen);

/*
 * Propose raw steps for input ({incident, detect?, retrieve?}); returns an
 * array the caller owns (it still goes through the critic).  Notes go to
 * notes.
 */
cJSON *playbook_propose(const struct plan_ctx *ctx, const cJSON *input, const char *signature,
                        cJSON *notes);

/*
 * Steps that make verification cover the services the incident touches:
 * for each such service (the suspected one, the services that call it in
 * [services], the alerts grouped into the incident) that no step with a
 * verify check acts on, a `watch_service` step (it changes nothing; its
 * verify checks the service) when the catalog has that action.  Returns an
 * array the caller owns (it still goes through the critic); empty when
 * nothing is missing.
 */
cJSON *playbook_watch_steps(const struct plan_ctx *ctx, const cJSON *input, const cJSON *steps);

#endif
