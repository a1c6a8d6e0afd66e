#include "ConnectorSQLiteShim.h"

/* The SQLite that sqlite-nio bundles prefixes its symbols; its header is not visible to other
 * packages' C targets, so the two names used here are declared directly (values from sqlite3.h). */
int sqlite_nio_sqlite3_db_config(void *db, int op, ...);
#define MLC_SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE 1006

int mlc_sqlite_disable_checkpoint_on_close(void *db) {
    return sqlite_nio_sqlite3_db_config(db, MLC_SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}
