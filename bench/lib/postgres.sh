# shellcheck shell=bash
# Throwaway PostgreSQL 15 cluster for bench suites (sourced after common.sh, bash).
#
#   pg_start        start a fresh cluster on 127.0.0.1:<free port>; sets PG_URL (no schema),
#                   PG_PORT, PG_DIR. Returns 1 and sets PG_SKIP_REASON when PostgreSQL is
#                   unavailable: the caller reports PostgreSQL as "skipped: <reason>" and goes on.
#   pg_url SCHEMA   PG_URL with ?schema=SCHEMA (the store creates the schema on first use).
#   pg_settings_json  version and durability settings of the running cluster, as JSON.
#   pg_cpu_ticks    utime+stime of the postmaster and its children, plus the children it reaped.
#   pg_stop         stop the cluster (pg_ctl -m fast) and delete its directory; idempotent. Call it
#                   from the suite's EXIT trap too.
#
# Same recipe as scripts/test: Debian's postgresql-15 (installed with apt-get when missing and
# running as root, unless BENCH_PG_INSTALL=0), `initdb -A trust -U mlc -E UTF8 --no-sync` (--no-sync only skips initdb's own
# fsyncs), loopback only, max_connections=300. The server keeps PostgreSQL's durability defaults
# (fsync=on, synchronous_commit=on, full_page_writes=on): nothing here relaxes them.
# As root, initdb and pg_ctl run as the postgres user (initdb refuses root), so the cluster gets
# its own directory (mode 755, owned by postgres) outside the suite's private temp dir.

PG_BIN=${BENCH_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=""
PG_PORT=""
PG_URL=""
PG_SKIP_REASON=""
PG_RUN_AS=()

pg_start() {
  PG_SKIP_REASON=""
  if [[ ! -x $PG_BIN/initdb && $(id -u) -eq 0 && ${BENCH_PG_INSTALL:-1} == 1 ]] && command -v apt-get >/dev/null; then
    log "installing PostgreSQL 15 (Debian package postgresql-15)"
    timeout 600 apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq postgresql-15 >/dev/null 2>&1 \
      || log "apt-get install postgresql-15 failed"
  fi
  if [[ ! -x $PG_BIN/initdb || ! -x $PG_BIN/pg_ctl ]]; then
    PG_SKIP_REASON="PostgreSQL 15 not installed ($PG_BIN/initdb missing; apt-get install -y postgresql-15)"
    return 1
  fi
  PG_RUN_AS=()
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mlc-bench-pg.XXXXXX")
  chmod 755 "$PG_DIR"
  if [[ $(id -u) -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
      PG_SKIP_REASON="running as root and there is no postgres user to run initdb as"
      rm -rf "$PG_DIR"; PG_DIR=""
      return 1
    fi
    chown postgres:postgres "$PG_DIR"
    PG_RUN_AS=(runuser -u postgres --)
  fi
  PG_PORT=$(free_port)
  if ! timeout 120 "${PG_RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U mlc -E UTF8 --no-sync \
       >"$PG_DIR/initdb.log" 2>&1; then
    PG_SKIP_REASON="initdb failed: $(tail -n 1 "$PG_DIR/initdb.log")"
    tail -n 20 "$PG_DIR/initdb.log" >&2
    rm -rf "$PG_DIR"; PG_DIR=""
    return 1
  fi
  if ! timeout 90 "${PG_RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
       -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=300" start >/dev/null 2>&1; then
    PG_SKIP_REASON="pg_ctl start failed: $(tail -n 1 "$PG_DIR/server.log" 2>/dev/null)"
    tail -n 20 "$PG_DIR/server.log" >&2 || true
    pg_stop
    return 1
  fi
  PG_URL="postgres://mlc@127.0.0.1:$PG_PORT/postgres"
  log "PostgreSQL $(pg_psql 'SHOW server_version' || echo '?') on 127.0.0.1:$PG_PORT (throwaway cluster in $PG_DIR)"
}

pg_url() { printf '%s?schema=%s' "$PG_URL" "$1"; }

# pg_psql SQL — one value, unaligned; bounded.
pg_psql() {
  timeout 20 "$PG_BIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U mlc -d postgres -c "$1" 2>/dev/null
}

pg_settings_json() {
  local names=(server_version fsync synchronous_commit full_page_writes wal_sync_method wal_level
               shared_buffers max_connections) n v json="{"
  for n in "${names[@]}"; do
    v=$(pg_psql "SHOW $n") || v=""
    json+="\"$n\":\"${v//\"/}\","
  done
  printf '%s"port":%s}\n' "$json" "${PG_PORT:-null}"
}

# postmaster PID of the running cluster (first line of postmaster.pid).
pg_postmaster_pid() {
  [[ -n $PG_DIR && -r $PG_DIR/data/postmaster.pid ]] || return 1
  head -n 1 "$PG_DIR/data/postmaster.pid"
}

pg_cpu_ticks() {
  local pm
  pm=$(pg_postmaster_pid) || return 1
  # /proc/<pid>/stat after "(comm) ": field 1 state, 2 ppid, 12 utime, 13 stime, 14 cutime, 15 cstime.
  local total=0 f stat rest fields
  for f in /proc/[0-9]*/stat; do
    stat=$(<"$f") 2>/dev/null || continue
    rest=${stat##*) }
    read -r -a fields <<<"$rest"
    if [[ ${f//[^0-9]/} == "$pm" ]]; then
      total=$((total + fields[11] + fields[12] + fields[13] + fields[14]))
    elif [[ ${fields[1]} == "$pm" ]]; then
      total=$((total + fields[11] + fields[12]))
    fi
  done
  echo "$total"
}

pg_stop() {
  [[ -n $PG_DIR ]] || return 0
  if [[ -d $PG_DIR/data ]]; then
    local pm=""
    pm=$(pg_postmaster_pid 2>/dev/null) || pm=""
    local stopped=0
    timeout 60 "${PG_RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 && stopped=1
    # pg_ctl failed or timed out: stop this cluster's postmaster by its PID (not a zombie), bounded.
    if ((!stopped)) && [[ -n $pm ]] && grep -q postgres "/proc/$pm/comm" 2>/dev/null \
       && [[ $(awk '{ print $3 }' "/proc/$pm/stat" 2>/dev/null) != Z ]]; then
      log "pg_ctl stop did not stop postmaster $pm; sending SIGQUIT"
      kill -QUIT "$pm" 2>/dev/null || true
      local i
      for ((i = 0; i < 100; i++)); do kill -0 "$pm" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -rf "$PG_DIR"
  PG_DIR=""
  PG_URL=""
}
