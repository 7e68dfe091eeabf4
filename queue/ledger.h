/*
 * ledger.h: the action ledger request (lib/wire.h "ledger"), handled in
 * queue/ledger.c inside the batch's transaction like every other request.
 *
 * Also declares the few handle.c helpers the ledger shares, so a ledger
 * change moves an incident exactly the way every other request does.
 */
#ifndef OPSBOT_QUEUE_LEDGER_H
#define OPSBOT_QUEUE_LEDGER_H

#include <cjson/cJSON.h>

#include "handle.h"
#include "state.h"
#include "store.h"
#include "wire.h"

/* One ledger request; *reply belongs to the caller. */
enum handle_rc ledger_handle(struct queue *q, const struct wire_msg *m, cJSON **reply);

/*
 * A new round (verifying -> planning): approvals given in earlier rounds no
 * longer count, even when the planner proposes the same plan (hash) again;
 * they stay in the approvals table as "approve (earlier round)".  0 or -1.
 */
int ledger_new_round(struct queue *q, int64_t incident);

/* handle.c: store an event and publish it after COMMIT (takes data). */
int q_event(struct queue *q, int64_t incident, const char *name, cJSON *data);
/* handle.c: one checked transition with its incident.stage event (in is not saved). */
int inc_move(struct queue *q, struct store_incident *in, enum state_id to, const char *reason);
/* handle.c: save in (checks invariants 4 and 5). */
int inc_save(struct queue *q, struct store_incident *in);

#endif
