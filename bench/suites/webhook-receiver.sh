#!/usr/bin/env bash
# Suite: webhook-receiver — cold start (once mode) and HTTP mode, Swift beside Python and Node peers.
# Run it as `bench/run webhook-receiver` (or `bench/run --quick webhook-receiver`); see bench/README.md.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"}
BENCH_REPO=${BENCH_REPO:-"$(cd "$BENCH_DIR/.." && pwd)"}
# shellcheck source=../lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=../lib/postgres.sh
source "$BENCH_DIR/lib/postgres.sh"

SUITE=webhook-receiver
SECRET=wcpeer-webhook-secret-1
WEBHOOK_PATH=/webhooks/woocommerce/bench
[[ ${BENCH_QUICK:-0} == 1 ]] && QUICK=1 || QUICK=0

# ---- sizes (full / quick); each can be overridden by its env variable ----------------------------
if ((QUICK)); then d_runs=10 d_warm=1 d_rss=5 d_wwarm=1 d_wpeak=3 d_wpaced=3 d_rounds=2
else d_runs=30 d_warm=3 d_rss=20 d_wwarm=2 d_wpeak=10 d_wpaced=10 d_rounds=3; fi
COLD_RUNS=${BENCH_COLD_RUNS:-$d_runs}        # hyperfine timed runs per program
COLD_WARMUP=${BENCH_COLD_WARMUP:-$d_warm}    # hyperfine warm-up runs (page cache)
RSS_RUNS=${BENCH_RSS_RUNS:-$d_rss}           # /usr/bin/time runs for peak RSS
WRK_WARM_S=${BENCH_WRK_WARMUP_S:-$d_wwarm}   # closed-loop warm-up before the peak run
WRK_PEAK_S=${BENCH_WRK_DURATION_S:-$d_wpeak} # closed-loop peak run (req/s, CPU/req)
WRK_PACED_S=${BENCH_WRK_PACED_S:-$d_wpaced}  # run paced at half the peak (p99)
# Peak runs come in rounds: every server (Swift on SQLite, Python, Node) once per round, in turn,
# each on a fresh server and store, so a change in the machine's speed meets all of them alike; the
# report takes each one's median and spread. PostgreSQL and the paced run are in round 1 only.
WRK_ROUNDS=${BENCH_WRK_ROUNDS:-$d_rounds}
ROUND_SUFFIX=""   # "" in round 1, ".rN" in round N: the result files' suffix
WRK_THREADS=${BENCH_WRK_THREADS:-1}          # 1 wrk thread leaves the other core to the server
WRK_CONNS=${BENCH_WRK_CONNS:-32}
MAX_RPS=${BENCH_MAX_RPS:-40000}              # distinct bodies are generated for up to this rate
SERVER_READY_S=${BENCH_SERVER_READY_S:-30}
OUT_DIR=${BENCH_OUT_DIR:-$BENCH_DIR/out}

ensure_tools python3 curl wrk hyperfine /usr/bin/time getconf node

# Real interpreters, not wrappers: a version-manager shim, or a site-packages .pth hook, adds its own
# start-up to every run. Debian's /usr/bin/python3 by default; BENCH_PYTHON overrides.
if [[ -n ${BENCH_PYTHON:-} ]]; then PYTHON=$BENCH_PYTHON
elif [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3
else PYTHON=$(python3 -c 'import sys; print(sys.executable)'); fi
NODE=$(command -v node)
export WC_WEBHOOK_SECRET=$SECRET

suite_start
mkdir -p "$RES/cold" "$RES/http" "$OUT_DIR"

# ---- Swift binaries ----------------------------------------------------------------------------
swift_binaries "$TMP/build.log" webhook-receiver mlc
RECEIVER=$BIN_DIR/webhook-receiver
MLC=$BIN_DIR/mlc
SWIFT_OK=0
if [[ -x $RECEIVER && -x $MLC ]]; then
  SWIFT_OK=1
else
  missing_bins=""; [[ -x $RECEIVER ]] || missing_bins+=" $RECEIVER"; [[ -x $MLC ]] || missing_bins+=" $MLC"
  swift_note="${swift_note:+$swift_note; }Swift binaries missing:$missing_bins — benchmarking the peers only. Build: scripts/build-release --product webhook-receiver && scripts/build-release --product mlc (or set BENCH_BIN_DIR)"
  log "WARNING: $swift_note"
  for f in cold/swift http/swift http/swift-pg; do
    echo '{"status":"skipped","reason":"Swift binaries missing (see note above)"}' >"$RES/$f.status"
  done
fi

# swift_store DIR [STORE_URL] — fresh state store (default: SQLite file in DIR) with the bench
# connection registered; a new master key each time. Sets SWIFT_ENV=(MLC_STORE_URL=… MLC_MASTER_KEY=…).
# On failure, SWIFT_STORE_ERROR holds the last line of mlc's output.
swift_store() {
  local dir=$1 url=${2:-}
  mkdir -p "$dir"
  [[ -n $url ]] || url="sqlite:$dir/state.sqlite"
  SWIFT_ENV=("MLC_STORE_URL=$url" "MLC_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)")
  SWIFT_STORE_ERROR=""
  if ! env "${SWIFT_ENV[@]}" timeout 60 "$MLC" connection add --file "$BENCH_DIR/fixtures/connection.json" \
       >"$dir/connection-add.log" 2>&1; then
    SWIFT_STORE_ERROR=$(grep -v '^[[:space:]]*$' "$dir/connection-add.log" | tail -n 1)
    log "mlc connection add ($url) failed:"; tail -n 20 "$dir/connection-add.log" >&2
    return 1
  fi
}
# store_failed FILE — status line for a subject whose store could not be prepared.
store_failed() {
  printf '{"status":"failed","reason":%s}\n' "$(json_str "mlc connection add failed: ${SWIFT_STORE_ERROR:0:300}")" >"$1"
}

# ---- distinct signed deliveries ------------------------------------------------------------------
GEN=$TMP/gen
EVENTS_PER_PROGRAM=$((1 + COLD_WARMUP + COLD_RUNS + RSS_RUNS))
SLICE_WARM=$((MAX_RPS * WRK_WARM_S))
SLICE_PEAK=$((MAX_RPS * WRK_PEAK_S))
SLICE_PACED=$((MAX_RPS * WRK_PACED_S / 2 + 1000))
REQUESTS=$((SLICE_WARM + SLICE_PEAK + SLICE_PACED))
log "generating $EVENTS_PER_PROGRAM event files and $REQUESTS distinct signed requests"
timeout 600 "$PYTHON" "$BENCH_DIR/lib/wr_gen.py" --fixtures "$BENCH_DIR/fixtures" --out "$GEN" \
  --secret "$SECRET" --path "$WEBHOOK_PATH" --events "$EVENTS_PER_PROGRAM" --requests "$REQUESTS" \
  >"$RES/gen.json"

# ---- 1. cold start (once mode) ---------------------------------------------------------------------
# cold_start NAME USES_EVENTS CMD... — hyperfine (wall) + /usr/bin/time (peak RSS). CMD gets
# `--event-file <fresh event>` appended when USES_EVENTS=1; every run uses an unused event.
cold_start() {
  local name=$1 uses_events=$2; shift 2
  local dir=$TMP/cold/$name cmd=("$@") i
  mkdir -p "$dir"; echo 0 >"$dir/next"
  local evargs=() prepare=()
  settle "$TMP"
  if ((uses_events)); then
    evargs=(--event-file "$dir/current.json")
    prepare=(--prepare "$(printf '%q ' bash "$BENCH_DIR/lib/next-event" "$GEN/events" "$dir")")
    # Smoke run: must exit 0 and print a JSON line, else the program is reported as failed.
    "$BENCH_DIR/lib/next-event" "$GEN/events" "$dir"
    if ! timeout 30 "${cmd[@]}" "${evargs[@]}" >"$dir/smoke.out" 2>"$dir/smoke.err"; then
      log "$name: smoke run failed (exit != 0):"; tail -n 5 "$dir/smoke.err" "$dir/smoke.out" >&2 || true
      "$PYTHON" -c 'import json,sys; print(json.dumps({"status": "failed", "reason": "smoke run exited non-zero: " + sys.argv[1][-200:]}))' \
        "$(tail -n 1 "$dir/smoke.err")" >"$RES/cold/$name.status"
      return 0
    fi
    if ! tail -n 1 "$dir/smoke.out" | "$PYTHON" -c 'import json,sys; json.loads(sys.stdin.read())' 2>/dev/null; then
      log "$name: smoke run printed no JSON line on stdout (continuing)"
    fi
  fi
  log "cold start: $name (${COLD_RUNS} runs + ${COLD_WARMUP} warm-up)"
  if ! timeout 600 hyperfine -N --style none --warmup "$COLD_WARMUP" --runs "$COLD_RUNS" "${prepare[@]}" \
       --export-json "$RES/cold/$name.hyperfine.json" \
       "$(printf '%q ' "${cmd[@]}" "${evargs[@]}")" >"$dir/hyperfine.log" 2>&1; then
    log "$name: hyperfine failed:"; tail -n 10 "$dir/hyperfine.log" >&2
    echo '{"status":"failed","reason":"hyperfine failed (non-zero exit in a run)"}' >"$RES/cold/$name.status"
    return 0
  fi
  : >"$RES/cold/$name.rss"
  for ((i = 0; i < RSS_RUNS; i++)); do
    ((uses_events)) && "$BENCH_DIR/lib/next-event" "$GEN/events" "$dir"
    timeout 30 /usr/bin/time -f %M -o "$dir/rss.one" "${cmd[@]}" "${evargs[@]}" >/dev/null 2>>"$dir/rss.err" || true
    tail -n 1 "$dir/rss.one" >>"$RES/cold/$name.rss"
  done
  echo '{"status":"ok"}' >"$RES/cold/$name.status"
}

if ((SWIFT_OK)) && swift_store "$TMP/cold/swift-store"; then
  SWIFT_COLD_ENV=("${SWIFT_ENV[@]}")
  # Once mode runs a copy, as the cold-start suite does (stage_binaries in lib/common.sh says why).
  stage_binaries "$TMP/bin" webhook-receiver
  (export "${SWIFT_COLD_ENV[@]}"; cold_start swift 1 "$TMP/bin/webhook-receiver")
elif ((SWIFT_OK)); then
  store_failed "$RES/cold/swift.status"
fi
mkdir -p "$TMP/cold/python" "$TMP/cold/node"
cold_start python 1 "$PYTHON" "$BENCH_DIR/peers/webhook_once.py" --store "$TMP/cold/python/store.sqlite"
cold_start node 1 "$NODE" "$BENCH_DIR/peers/webhook_once.js" --store "$TMP/cold/node/store.jsonl"
cold_start python-bare 0 "$PYTHON" -c pass
cold_start node-bare 0 "$NODE" -e 0

# ---- 2. HTTP mode under wrk ---------------------------------------------------------------------------
# run_wrk NAME PHASE PORT FIRST COUNT SECONDS RATE — one wrk run; its WRKJSON line goes to
# $RES/http/NAME.PHASE.json (NAME.PHASE.rN.json in round N > 1). RATE 0 = closed loop.
run_wrk() {
  local name=$1 phase=$2 port=$3 first=$4 count=$5 secs=$6 rate=$7
  local wrk_log=$TMP/http/$name/wrk-$phase$ROUND_SUFFIX.log
  # /usr/bin/time: wrk's own CPU — it shares the two cores with the server it measures.
  timeout $((secs + 120)) /usr/bin/time -f "%U %S" -o "$RES/http/$name.$phase$ROUND_SUFFIX.wrkcpu" \
    wrk -t "$WRK_THREADS" -c "$WRK_CONNS" -d "${secs}s" --timeout 5s \
    -s "$BENCH_DIR/lib/wrk-webhook.lua" "http://127.0.0.1:$port$WEBHOOK_PATH" \
    -- "$GEN" "$first" "$count" "$WRK_THREADS" "$WRK_CONNS" "$rate" >"$wrk_log" 2>&1 || {
      log "$name: wrk $phase failed:"; tail -n 5 "$wrk_log" >&2; return 1; }
  grep "^WRKJSON " "$wrk_log" | sed 's/^WRKJSON //' >"$RES/http/$name.$phase$ROUND_SUFFIX.json"
}

# http_mode NAME ENV... -- CMD... — start the server on a free port, wait for /health/ready, warm
# up, measure peak (+ CPU ticks), then a run paced at half the peak; stop it. When DB_TICKS names a
# command (pg_cpu_ticks), the database's CPU ticks around the peak run are recorded too.
http_mode() {
  local name=$1; shift
  local envs=() cmd=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done; shift
  cmd=("$@")
  local dir=$TMP/http/$name port pid
  mkdir -p "$dir"
  settle "$TMP"
  port=$(free_port)
  log "http: $name on 127.0.0.1:$port"
  env "${envs[@]}" PORT="$port" "${cmd[@]//@PORT@/$port}" >"$dir/server.log" 2>&1 &
  pid=$!
  track_pid "$pid"
  if ! wait_ready "http://127.0.0.1:$port/health/ready" "$pid" "$SERVER_READY_S"; then
    log "$name: not ready within ${SERVER_READY_S}s:"; tail -n 20 "$dir/server.log" >&2
    stop_pid "$pid" || true
    printf '{"status":"failed","reason":"GET /health/ready did not answer 200 within %ss"}\n' "$SERVER_READY_S" \
      >"$RES/http/$name.status$ROUND_SUFFIX"
    return 0
  fi
  local ok=1 t0 t1 d0="" d1=""
  run_wrk "$name" warmup "$port" 0 "$SLICE_WARM" "$WRK_WARM_S" 0 || ok=0
  t0=$(cpu_ticks "$pid") || ok=0
  [[ -n ${DB_TICKS:-} ]] && { d0=$($DB_TICKS) || d0=""; }
  ((ok)) && { run_wrk "$name" peak "$port" "$SLICE_WARM" "$SLICE_PEAK" "$WRK_PEAK_S" 0 || ok=0; }
  t1=$(cpu_ticks "$pid") || ok=0
  [[ -n ${DB_TICKS:-} ]] && { d1=$($DB_TICKS) || d1=""; }
  if ((ok)) && [[ -z $ROUND_SUFFIX ]]; then
    local half
    half=$("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(max(1, round(d["requests"] / (d["active_us"] / 1e6) / 2)))' \
           "$RES/http/$name.peak.json")
    log "$name: pacing at $half req/s (half the peak)"
    run_wrk "$name" paced "$port" $((SLICE_WARM + SLICE_PEAK)) "$SLICE_PACED" "$WRK_PACED_S" "$half" || ok=0
  fi
  local rc=0
  stop_pid "$pid" || rc=$?
  printf '{"status":"%s","port":%s,"cpu_ticks_before":%s,"cpu_ticks_after":%s,"db_cpu_ticks_before":%s,"db_cpu_ticks_after":%s,"server_exit":%s}\n' \
    "$( ((ok)) && echo ok || echo failed)" "$port" "${t0:-null}" "${t1:-null}" "${d0:-null}" "${d1:-null}" "$rc" \
    >"$RES/http/$name.status$ROUND_SUFFIX"
}

for ((round = 1; round <= WRK_ROUNDS; round++)); do
  if ((round == 1)); then ROUND_SUFFIX=""; else ROUND_SUFFIX=".r$round"; fi
  ((WRK_ROUNDS > 1)) && log "http: round $round of $WRK_ROUNDS"
  if ((SWIFT_OK)) && swift_store "$TMP/http/swift-store$ROUND_SUFFIX"; then
    http_mode swift "${SWIFT_ENV[@]}" MLC_MODE=http -- "$RECEIVER"
  elif ((SWIFT_OK)); then
    store_failed "$RES/http/swift.status$ROUND_SUFFIX"
  fi
  # The same server on the PostgreSQL store (round 1): a throwaway cluster on this machine
  # (durability defaults), a fresh schema, same wrk settings. Stopped right after, so it does not
  # run beside the peers.
  if ((SWIFT_OK && round == 1)); then
    if pg_start; then
      pg_settings_json >"$RES/postgres.json"
      if swift_store "$TMP/http/swift-pg-store" "$(pg_url "bench_http_$(date +%s)_$RANDOM")"; then
        DB_TICKS=pg_cpu_ticks http_mode swift-pg "${SWIFT_ENV[@]}" MLC_MODE=http -- "$RECEIVER"
      else
        store_failed "$RES/http/swift-pg.status"
      fi
      pg_stop
    else
      log "PostgreSQL skipped: $PG_SKIP_REASON"
      printf '{"status":"skipped","reason":%s}\n' "$(json_str "$PG_SKIP_REASON")" >"$RES/http/swift-pg.status"
    fi
  fi
  mkdir -p "$TMP/http/python" "$TMP/http/node"
  http_mode python -- "$PYTHON" "$BENCH_DIR/peers/webhook_http.py" --port @PORT@ --store "$TMP/http/python/store$ROUND_SUFFIX.sqlite"
  http_mode node -- "$NODE" "$BENCH_DIR/peers/webhook_http.js" --port @PORT@ --store "$TMP/http/node/store$ROUND_SUFFIX.jsonl"
done
ROUND_SUFFIX=""

# Stored records vs accepted requests (peers only: their store format is known here).
"$PYTHON" - "$TMP/http/python/store.sqlite" "$TMP/http/node/store.jsonl" >"$RES/http/stored.json" <<'EOF'
import json, os, sqlite3, sys
py, nd = sys.argv[1:]
out = {}
if os.path.exists(py):
    out["python"] = sqlite3.connect(py).execute("select count(*) from deliveries").fetchone()[0]
if os.path.exists(nd):
    with open(nd, "rb") as f:
        out["node"] = sum(1 for _ in f)
print(json.dumps(out))
EOF

# ---- report ----------------------------------------------------------------------------------------------
machine_json "$TMP" "$LOAD_AT_START" >"$RES/machine.json"
"$PYTHON" - >"$RES/config.json" <<EOF
import json
print(json.dumps({
  "quick": bool($QUICK), "cold_runs": $COLD_RUNS, "cold_warmup": $COLD_WARMUP, "rss_runs": $RSS_RUNS,
  "wrk_warmup_s": $WRK_WARM_S, "wrk_peak_s": $WRK_PEAK_S, "wrk_paced_s": $WRK_PACED_S, "wrk_rounds": $WRK_ROUNDS,
  "wrk_threads": $WRK_THREADS, "wrk_connections": $WRK_CONNS, "distinct_requests": $REQUESTS,
  "slices": {"warmup": $SLICE_WARM, "peak": $SLICE_PEAK, "paced": $SLICE_PACED},
  "swift_bin_dir": "$BIN_DIR", "swift_available": bool($SWIFT_OK), "swift_note": $("$PYTHON" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$swift_note"),
  "python_executable": "$PYTHON", "node_executable": "$NODE",
  "python": "$("$PYTHON" -c 'import platform; print(platform.python_version())')", "python_sqlite": "$("$PYTHON" -c 'import sqlite3; print(sqlite3.sqlite_version)')",
  "node": "$("$NODE" --version)", "wrk": "$(wrk --version 2>&1 | head -n 1 | cut -d' ' -f2)", "hyperfine": "$(hyperfine --version | cut -d' ' -f2)",
}))
EOF
strict=(); [[ ${BENCH_STRICT:-0} == 1 ]] && strict=(--strict)
"$PYTHON" "$BENCH_DIR/lib/wr_report.py" --results "$RES" --json "$OUT_DIR/$SUITE.json" --markdown "$OUT_DIR/$SUITE.md" "${strict[@]}"
log "wrote $OUT_DIR/$SUITE.json and $OUT_DIR/$SUITE.md"
