/*
 * migrate.h: numbered schema migrations of the queue database (migrate.c).
 */
#ifndef OPSBOT_QUEUE_MIGRATE_H
#define OPSBOT_QUEUE_MIGRATE_H

#include <stddef.h>

#include <sqlite3.h>

/* Apply every migration newer than the database's user_version; 0 or -1 with err. */
int migrate_apply(sqlite3 *db, char *err, size_t errlen);
/* The version this build brings a database to. */
int migrate_latest(void);

#endif
