#ifndef CONNECTOR_SQLITE_SHIM_H
#define CONNECTOR_SQLITE_SHIM_H

/// Calls SQLite's variadic sqlite3_db_config (which Swift cannot call) to keep a closing
/// connection from checkpointing the WAL. Returns SQLite's status code.
int mlc_sqlite_disable_checkpoint_on_close(void *db);

#endif
