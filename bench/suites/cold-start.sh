#!/usr/bin/env bash
# Suite: cold-start — every function binary (and mlc) in once mode, one process per event, the way a
# function host runs it: median wall time (hyperfine -N) and peak RSS (/usr/bin/time -f %M), beside
# the Python and Node.js peers of webhook-receiver. Run it as `bench/run cold-start` (or
# `bench/run --quick cold-start`); see bench/README.md.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"}
BENCH_REPO=${BENCH_REPO:-"$(cd "$BENCH_DIR/.." && pwd)"}
# shellcheck source=../lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=../lib/sandbox.sh
source "$BENCH_DIR/lib/sandbox.sh"

SUITE=cold-start
SECRET=wcpeer-webhook-secret-1
WEBHOOK_PATH=/webhooks/woocommerce/bench
[[ ${BENCH_QUICK:-0} == 1 ]] && QUICK=1 || QUICK=0
if ((QUICK)); then d_runs=10 d_warm=1 d_rss=5; else d_runs=30 d_warm=3 d_rss=20; fi
COLD_RUNS=${BENCH_COLD_RUNS:-$d_runs}
COLD_WARMUP=${BENCH_COLD_WARMUP:-$d_warm}
RSS_RUNS=${BENCH_RSS_RUNS:-$d_rss}
OUT_DIR=${BENCH_OUT_DIR:-$BENCH_DIR/out}
# BENCH_COLD_PROFILE=DIR: instead of timing, run each Swift subject's cold start once under
# callgrind and write the functions it executed to DIR/NAME.functions (scripts/cold-start-order
# turns them into the link order of the release build). No peers, no report.
PROFILE_DIR=${BENCH_COLD_PROFILE:-}

if [[ -z $PROFILE_DIR ]]; then ensure_tools python3 hyperfine /usr/bin/time node; else ensure_tools python3 valgrind strip; fi
if [[ -n ${BENCH_PYTHON:-} ]]; then PYTHON=$BENCH_PYTHON
elif [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3
else PYTHON=$(python3 -c 'import sys; print(sys.executable)'); fi
NODE=$(command -v node || true)   # not needed in profile mode
export WC_WEBHOOK_SECRET=$SECRET

suite_start

FUNCTIONS=(webhook-receiver order-poster catalog-push backfill-poll)
swift_binaries "$TMP/build.log" "${FUNCTIONS[@]}" mlc
MLC=$BIN_DIR/mlc
missing=""
for b in "${FUNCTIONS[@]}" mlc; do [[ -x $BIN_DIR/$b ]] || missing+=" $b"; done
[[ -z $missing ]] || swift_note="${swift_note:+$swift_note; }missing in $BIN_DIR:$missing. Build: scripts/build-release (or set BENCH_BIN_DIR)"
[[ -z $swift_note ]] || log "WARNING: $swift_note"

STAGED=$TMP/bin
stage_binaries "$STAGED" "${FUNCTIONS[@]}" mlc

# status NAME JSON — the subject's status line.
status() { printf '%s\n' "$2" >"$RES/$1.status"; }
fail_status() { status "$1" "$(printf '{"status":"%s","reason":%s}' "$2" "$(json_str "${3:0:300}")")"; }

# ---- a store per Swift subject (so the receiver's hand-ons never reach the drain's pending list), each
# with the bench connection; sets SWIFT_ENV and STORE_OK.
new_store() {
  local dir=$TMP/store-$1
  mkdir -p "$dir"
  SWIFT_ENV=("MLC_STORE_URL=sqlite:$dir/state.sqlite" "MLC_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)")
  STORE_OK=0
  [[ -x $MLC ]] || { store_error="$MLC missing"; return 0; }
  if env "${SWIFT_ENV[@]}" timeout 60 "$MLC" connection add --file "$BENCH_DIR/fixtures/connection.json" >"$dir/add.log" 2>&1; then
    STORE_OK=1
  else
    store_error=$(grep -v '^[[:space:]]*$' "$dir/add.log" | tail -n 1)
    log "mlc connection add failed: $store_error"
  fi
}

# ---- events ------------------------------------------------------------------------------------------
EVENTS_PER_PROGRAM=$((1 + COLD_WARMUP + COLD_RUNS + RSS_RUNS))
GEN=$TMP/gen
timeout 600 "$PYTHON" "$BENCH_DIR/lib/wr_gen.py" --fixtures "$BENCH_DIR/fixtures" --out "$GEN" \
  --secret "$SECRET" --path "$WEBHOOK_PATH" --events "$EVENTS_PER_PROGRAM" --requests 1 >"$RES/gen.json"
EV=$TMP/events
mkdir -p "$EV"
cloud_event "$EV/orders-drain.json" com.mlconnector.orders.drain bench   # functions/order-poster/events/orders-drain.json
cloud_event "$EV/catalog-ping.json" dev.knative.sources.ping bench       # functions/catalog-push/events/ping.json
cloud_event "$EV/backfill-tick.json" com.mlconnector.backfill.tick sandbox # functions/backfill-poll/events/backfill-tick.json

# cold_start NAME MODE CMD... — hyperfine (wall, -N: no shell) + /usr/bin/time (peak RSS).
#   MODE fresh: CMD gets `--event-file <an event never used before>` (webhook deliveries; the
#               untimed --prepare step copies the next one into place);
#   MODE none:  CMD is run as it is.
# A smoke run first must exit 0, else the subject is reported as failed with its error.
cold_start() {
  local name=$1 mode=$2; shift 2
  local dir=$TMP/cold/$name cmd=("$@") i
  mkdir -p "$dir"; echo 0 >"$dir/next"
  local evargs=() prepare=()
  if [[ $mode == fresh ]]; then
    evargs=(--event-file "$dir/current.json")
    prepare=(--prepare "$(printf '%q ' bash "$BENCH_DIR/lib/next-event" "$GEN/events" "$dir")")
    "$BENCH_DIR/lib/next-event" "$GEN/events" "$dir"
  fi
  settle "$TMP"
  if ! timeout 60 "${cmd[@]}" "${evargs[@]}" >"$dir/smoke.out" 2>"$dir/smoke.err"; then
    log "$name: smoke run failed:"; tail -n 5 "$dir/smoke.err" "$dir/smoke.out" >&2 || true
    fail_status "$name" failed "smoke run exited non-zero: $(tail -n 1 "$dir/smoke.err") $(tail -n 1 "$dir/smoke.out")"
    return 0
  fi
  if [[ -n $PROFILE_DIR ]]; then profile_cold_start "$name" "$mode" "$dir" "${cmd[@]}" "${evargs[@]}"; return 0; fi
  log "cold start: $name (${COLD_RUNS} runs + ${COLD_WARMUP} warm-up)"
  if ! timeout 900 hyperfine -N --style none --warmup "$COLD_WARMUP" --runs "$COLD_RUNS" "${prepare[@]}" \
       --export-json "$RES/$name.hyperfine.json" \
       "$(printf '%q ' "${cmd[@]}" "${evargs[@]}")" >"$dir/hyperfine.log" 2>&1; then
    log "$name: hyperfine failed:"; tail -n 10 "$dir/hyperfine.log" >&2
    fail_status "$name" failed "hyperfine failed (a run exited non-zero): $(tail -n 1 "$dir/hyperfine.log")"
    return 0
  fi
  : >"$RES/$name.rss"
  for ((i = 0; i < RSS_RUNS; i++)); do
    [[ $mode == fresh ]] && "$BENCH_DIR/lib/next-event" "$GEN/events" "$dir"
    timeout 60 /usr/bin/time -f %M -o "$dir/rss.one" "${cmd[@]}" "${evargs[@]}" >/dev/null 2>>"$dir/rss.err" || true
    tail -n 1 "$dir/rss.one" >>"$RES/$name.rss"
  done
  cp "$dir/smoke.out" "$RES/$name.smoke.out"
  status "$name" '{"status":"ok"}'
}

# profile_cold_start NAME MODE DIR CMD... — one cold start under callgrind (on a copy without
# debug info, which valgrind cannot read), its executed functions' symbols to PROFILE_DIR/NAME.functions.
profile_cold_start() {
  local name=$1 mode=$2 dir=$3; shift 3
  local cmd=("$@")
  mkdir -p "$TMP/profile-bin" "$PROFILE_DIR"
  strip --strip-debug -o "$TMP/profile-bin/$name" "${cmd[0]}"
  cmd[0]=$TMP/profile-bin/$name
  [[ $mode == fresh ]] && "$BENCH_DIR/lib/next-event" "$GEN/events" "$dir"
  log "profile: $name under callgrind"
  if ! timeout 300 valgrind --tool=callgrind --demangle=no --callgrind-out-file="$dir/callgrind.out" "${cmd[@]}" \
       >"$dir/profile.out" 2>"$dir/profile.err"; then
    log "$name: the profiled run failed:"; tail -n 5 "$dir/profile.err" >&2
    fail_status "$name" failed "callgrind run failed: $(tail -n 1 "$dir/profile.err")"
    return 0
  fi
  # Each function is named once per file as fn=(id) NAME or cfn=(id) NAME; later mentions carry the id only.
  sed -n -E "s/^c?fn=\([0-9]+\) (.+)$/\1/p" "$dir/callgrind.out" | sed -E "s/'[0-9]+$//" | sort -u >"$PROFILE_DIR/$name.functions"
  log "profile: $name ran $(wc -l <"$PROFILE_DIR/$name.functions") functions"
  status "$name" '{"status":"ok"}'
}

# swift_subject NAME BINARY MODE ARGS... — a Swift subject on its own fresh store (skipped when
# unavailable). With KEEP_STORE=1 it uses the store made just before (new_store) instead.
swift_subject() {
  local name=$1 bin=$2 mode=$3; shift 3
  [[ ${KEEP_STORE:-0} == 1 ]] || new_store "$name"
  if [[ ! -x $bin ]]; then fail_status "$name" skipped "$bin missing (see the note)"; return 0; fi
  if ((!STORE_OK)); then fail_status "$name" failed "mlc connection add failed: ${store_error:-mlc missing}"; return 0; fi
  (export "${SWIFT_ENV[@]}"; cold_start "$name" "$mode" "$bin" "$@")
}

swift_subject webhook-receiver "$STAGED/webhook-receiver" fresh
swift_subject order-poster "$STAGED/order-poster" none --event-file "$EV/orders-drain.json"
swift_subject catalog-push "$STAGED/catalog-push" none --event-file "$EV/catalog-ping.json"
# backfill-poll always asks WooCommerce: a tick against `mlc sandbox`'s WooCommerce on loopback.
new_store backfill-poll
if [[ -x $MLC ]] && ((STORE_OK)); then
  if sandbox_start "$TMP/sandbox" sandbox; then
    if env "${SWIFT_ENV[@]}" timeout 60 "$MLC" connection add --file "$SANDBOX_CONNECTION" >"$TMP/sandbox/add.log" 2>&1; then
      KEEP_STORE=1 swift_subject backfill-poll "$STAGED/backfill-poll" none --event-file "$EV/backfill-tick.json"
    else
      fail_status backfill-poll failed "mlc connection add (sandbox): $(tail -n 1 "$TMP/sandbox/add.log")"
    fi
    sandbox_stop
  else
    fail_status backfill-poll failed "mlc sandbox did not start: $(tail -n 1 "$TMP/sandbox/sandbox.err")"
  fi
else
  fail_status backfill-poll skipped "mlc or the store is unavailable"
fi
swift_subject mlc "$STAGED/mlc" none connection list
if [[ -n $PROFILE_DIR ]]; then
  notok=$(grep -L '"ok"' "$RES"/*.status 2>/dev/null || true)
  [[ -z $notok ]] || { log "profile: subjects not profiled: $notok"; cat $notok >&2; exit 1; }
  log "profiles in $PROFILE_DIR"
  exit 0
fi

mkdir -p "$TMP/peer-python" "$TMP/peer-node"
cold_start python fresh "$PYTHON" "$BENCH_DIR/peers/webhook_once.py" --store "$TMP/peer-python/store.sqlite"
cold_start node fresh "$NODE" "$BENCH_DIR/peers/webhook_once.js" --store "$TMP/peer-node/store.jsonl"
cold_start python-bare none "$PYTHON" -c pass
cold_start node-bare none "$NODE" -e 0

# ---- report ----------------------------------------------------------------------------------------------
machine_json "$TMP" "$LOAD_AT_START" >"$RES/machine.json"
"$PYTHON" - >"$RES/config.json" <<EOF
import json
print(json.dumps({"quick": bool($QUICK), "cold_runs": $COLD_RUNS, "cold_warmup": $COLD_WARMUP, "rss_runs": $RSS_RUNS,
  "swift_bin_dir": "$BIN_DIR", "swift_note": $(json_str "$swift_note"),
  "python": "$("$PYTHON" -c 'import platform; print(platform.python_version())')", "node": "$("$NODE" --version)",
  "hyperfine": "$(hyperfine --version | cut -d' ' -f2)"}))
EOF
strict=(); [[ ${BENCH_STRICT:-0} == 1 ]] && strict=(--strict)
"$PYTHON" "$BENCH_DIR/lib/cold_report.py" --results "$RES" --json "$OUT_DIR/$SUITE.json" --markdown "$OUT_DIR/$SUITE.md" "${strict[@]}"
log "wrote $OUT_DIR/$SUITE.json and $OUT_DIR/$SUITE.md"
