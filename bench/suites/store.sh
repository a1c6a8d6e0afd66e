#!/usr/bin/env bash
# Suite: store — state-store operations per second from concurrent clients, SQLite and PostgreSQL.
# Run it as `bench/run store` (or `bench/run --quick store`); see bench/README.md.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"}
BENCH_REPO=${BENCH_REPO:-"$(cd "$BENCH_DIR/.." && pwd)"}
# shellcheck source=../lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=../lib/postgres.sh
source "$BENCH_DIR/lib/postgres.sh"

SUITE=store
[[ ${BENCH_QUICK:-0} == 1 ]] && QUICK=1 || QUICK=0

# ---- sizes (full / quick); each can be overridden by its env variable ----------------------------
if ((QUICK)); then d_secs=2 d_warm=0; else d_secs=10 d_warm=2; fi
STORE_S=${BENCH_STORE_SECONDS:-$d_secs}        # measured seconds per operation and backend
STORE_WARM_S=${BENCH_STORE_WARMUP_S:-$d_warm}  # unreported warm-up on the same store first (0 = none)
CLIENTS=${BENCH_STORE_CLIENTS:-8}              # concurrent clients (tasks in one mlc process)
read -r -a OPERATIONS <<<"${BENCH_STORE_OPERATIONS:-insert lease get}"
OUT_DIR=${BENCH_OUT_DIR:-$BENCH_DIR/out}

ensure_tools python3 getconf

suite_start

# ---- the mlc binary (hidden `mlc store-bench`) ----------------------------------------------------------
swift_binaries "$TMP/build.log" mlc
MLC=$BIN_DIR/mlc
MLC_OK=0
if [[ ! -x $MLC ]]; then
  swift_note="${swift_note:+$swift_note; }$MLC missing. Build: scripts/build-release --product mlc (or set BENCH_BIN_DIR)"
elif ! timeout 30 "$MLC" store-bench --help 2>&1 | grep -q -- --operation; then
  swift_note="${swift_note:+$swift_note; }$MLC has no store-bench command (built before it was added); rebuild: scripts/build-release --product mlc"
else
  MLC_OK=1
fi
((MLC_OK)) || log "WARNING: $swift_note"

# ---- PostgreSQL ----------------------------------------------------------------------------------------
PG_OK=0
if ((MLC_OK)); then
  if pg_start; then
    PG_OK=1
    pg_settings_json >"$RES/postgres.json"
  else
    log "PostgreSQL skipped: $PG_SKIP_REASON"
  fi
fi

# err_line FILE — the first line of FILE that mentions an error, else its last line.
err_line() { grep -i -m 1 error "$1" 2>/dev/null || tail -n 1 "$1" 2>/dev/null || true; }

# status_line FILE STATUS REASON
status_line() { printf '{"status":"%s","reason":%s}\n' "$2" "$(json_str "$3")" >"$1"; }

# store_bench BACKEND OPERATION URL — a warm-up, then the measured run, on one fresh store; the
# result (mlc's JSON line plus status) goes to $RES/BACKEND.OPERATION.json.
store_bench() {
  local backend=$1 op=$2 url=$3
  local dir=$TMP/$backend-$op out=$RES/$backend.$op.json
  mkdir -p "$dir"
  settle "$TMP"
  if [[ $STORE_WARM_S != 0 ]]; then
    if ! timeout $((${STORE_WARM_S%.*} + 180)) "$MLC" store-bench --store "$url" --operation "$op" \
         --clients "$CLIENTS" --seconds "$STORE_WARM_S" >"$dir/warmup.out" 2>"$dir/warmup.err"; then
      log "$backend $op: warm-up failed:"; tail -n 5 "$dir/warmup.err" >&2
      status_line "$out" failed "warm-up exited non-zero: $(err_line "$dir/warmup.err")"
      return 0
    fi
  fi
  log "store: $op on $backend ($CLIENTS clients, ${STORE_S}s)"
  if ! timeout $((${STORE_S%.*} + 180)) "$MLC" store-bench --store "$url" --operation "$op" \
       --clients "$CLIENTS" --seconds "$STORE_S" >"$dir/run.out" 2>"$dir/run.err"; then
    log "$backend $op: store-bench failed:"; tail -n 5 "$dir/run.err" >&2
    status_line "$out" failed "store-bench exited non-zero: $(err_line "$dir/run.err")"
    return 0
  fi
  python3 - "$dir/run.out" "$dir/warmup.out" "$op" "$url" >"$out" <<'EOF' || status_line "$out" failed "store-bench printed no JSON result line"
import json, os, sys
run, warm, op, url = sys.argv[1:]
def last_json(path):
    if not os.path.exists(path):
        return None
    lines = [l for l in open(path).read().splitlines() if l.strip()]
    return json.loads(lines[-1]) if lines else None
r = last_json(run)
if not r or r.get("operation") != op:
    raise SystemExit(1)
r = {"status": "ok", **r, "store_url": url}
w = last_json(warm)
if w:
    r["warmup"] = w
print(json.dumps(r))
EOF
}

for op in "${OPERATIONS[@]}"; do
  if ((MLC_OK)); then
    store_bench sqlite "$op" "sqlite:$TMP/sqlite-$op/state.sqlite"
  else
    status_line "$RES/sqlite.$op.json" skipped "$swift_note"
  fi
  if ((PG_OK)); then
    store_bench postgres "$op" "$(pg_url "bench_store_${op}_$(date +%s)_$RANDOM")"
  elif ((MLC_OK)); then
    status_line "$RES/postgres.$op.json" skipped "$PG_SKIP_REASON"
  else
    status_line "$RES/postgres.$op.json" skipped "$swift_note"
  fi
done
pg_stop

# ---- report ----------------------------------------------------------------------------------------------
machine_json "$TMP" "$LOAD_AT_START" >"$RES/machine.json"
python3 - "$QUICK" "$STORE_S" "$STORE_WARM_S" "$CLIENTS" "${OPERATIONS[*]}" "$BIN_DIR" "$MLC_OK" "$swift_note" \
  >"$RES/config.json" <<'EOF'
import json, sys
quick, secs, warm, clients, ops, bin_dir, ok, note = sys.argv[1:]
print(json.dumps({"quick": quick == "1", "seconds": float(secs), "warmup_seconds": float(warm),
                  "clients": int(clients), "operations": ops.split(), "swift_bin_dir": bin_dir,
                  "mlc_available": ok == "1", "swift_note": note}))
EOF
python3 "$BENCH_DIR/lib/store_report.py" --results "$RES" --json "$OUT_DIR/$SUITE.json" --markdown "$OUT_DIR/$SUITE.md"
log "wrote $OUT_DIR/$SUITE.json and $OUT_DIR/$SUITE.md"
