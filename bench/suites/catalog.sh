#!/usr/bin/env bash
# Suite: catalog — the catalog push (SPEC §12) at 10,000 SKUs: first push, unchanged run, 1 % changed.
#   a. `mlc bench-catalog`: both emulators and the push in one process (seconds, WooCommerce calls
#      and writes, F&O reads);
#   b. the connector alone: `mlc sandbox --seed-catalog …` in its own process and the `catalog-push`
#      binary in once mode against it under /usr/bin/time (wall, CPU, peak RSS of the connector).
# Run it as `bench/run catalog` (or `bench/run --quick catalog`); see bench/README.md.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"}
BENCH_REPO=${BENCH_REPO:-"$(cd "$BENCH_DIR/.." && pwd)"}
# shellcheck source=../lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=../lib/sandbox.sh
source "$BENCH_DIR/lib/sandbox.sh"

SUITE=catalog
[[ ${BENCH_QUICK:-0} == 1 ]] && QUICK=1 || QUICK=0
# 9,000 simple items + 100 masters × 10 variants = 10,000 SKUs (quick: 900 + 10 × 10 = 1,000).
if ((QUICK)); then d_items=900 d_masters=10 d_variants=10 d_rounds=1; else d_items=9000 d_masters=100 d_variants=10 d_rounds=2; fi
ITEMS=${BENCH_CATALOG_ITEMS:-$d_items}
MASTERS=${BENCH_CATALOG_MASTERS:-$d_masters}
VARIANTS=${BENCH_CATALOG_VARIANTS:-$d_variants}
SKUS=$((ITEMS + MASTERS * VARIANTS))
CHANGED=${BENCH_CATALOG_CHANGED:-$(( (SKUS + 99) / 100 ))}  # 1 % of the SKUs
ROUNDS=${BENCH_CATALOG_ROUNDS:-$d_rounds}                  # repetitions of the separate-process sequence
RUN_LIMIT_S=${BENCH_CATALOG_RUN_LIMIT_S:-1800}
IN_PROCESS=${BENCH_CATALOG_IN_PROCESS:-1}                  # 0 = only the connector-alone runs (b)
# Seeding 10,000 SKUs into the F&O emulator takes minutes (its inserts check keys row by row).
export BENCH_SANDBOX_READY_S=${BENCH_SANDBOX_READY_S:-$RUN_LIMIT_S}
OUT_DIR=${BENCH_OUT_DIR:-$BENCH_DIR/out}

ensure_tools python3 /usr/bin/time curl

suite_start ": $ITEMS items + $MASTERS × $VARIANTS variants, $CHANGED changed"

swift_binaries "$TMP/build.log" catalog-push mlc
MLC=$BIN_DIR/mlc
PUSH=$BIN_DIR/catalog-push
MLC_OK=0
if [[ ! -x $MLC ]]; then
  swift_note="${swift_note:+$swift_note; }$MLC missing. Build: scripts/build-release --product mlc (or set BENCH_BIN_DIR)"
elif ! timeout 30 "$MLC" sandbox --help 2>&1 | grep -q -- --seed-catalog; then
  swift_note="${swift_note:+$swift_note; }$MLC has no \`sandbox --seed-catalog\` (built before it was added); rebuild it"
else
  MLC_OK=1
fi
[[ -z $swift_note ]] || log "WARNING: $swift_note"

# ---- a. in one process: mlc bench-catalog -----------------------------------------------------------------
inproc_status=skipped inproc_reason=$swift_note
((IN_PROCESS)) || inproc_reason="not run (BENCH_CATALOG_IN_PROCESS=0)"
if ((MLC_OK && IN_PROCESS)); then
  log "mlc bench-catalog --items $ITEMS --masters $MASTERS --variants $VARIANTS --changed $CHANGED"
  settle "$TMP"
  rc=0
  timeout --kill-after=10 "$RUN_LIMIT_S" /usr/bin/time -f '%e %M' -o "$RES/inproc.time" \
    "$MLC" bench-catalog --items "$ITEMS" --masters "$MASTERS" --variants "$VARIANTS" --changed "$CHANGED" \
    >"$RES/inproc.out" 2>"$RES/inproc.err" || rc=$?
  if ((rc == 0)); then inproc_status=ok inproc_reason=""
  else inproc_status=failed inproc_reason="mlc bench-catalog exited $rc: $(tail -n 1 "$RES/inproc.err")"; log "$inproc_reason"; fi
fi

# ---- b. the connector alone: catalog-push (once mode) against mlc sandbox in another process -------------
# push_once LABEL — one catalog-push run on the sandbox connection under /usr/bin/time.
push_once() {
  local label=$1 rc=0
  settle "$TMP"
  env "${SWIFT_ENV[@]}" timeout --kill-after=10 "$RUN_LIMIT_S" /usr/bin/time -f '%e %M %U %S' -o "$RES/sep.$ROUND.$label.time" \
    "$PUSH" --event-file "$TMP/ping.json" >"$RES/sep.$ROUND.$label.out" 2>"$RES/sep.$ROUND.$label.err" || rc=$?
  echo "$rc" >"$RES/sep.$ROUND.$label.rc"
  log "round $ROUND, $label: exit $rc, $(tail -n 1 "$RES/sep.$ROUND.$label.time") (wall s, peak KiB, user s, sys s); $(tail -n 1 "$RES/sep.$ROUND.$label.out" | cut -c1-200)"
}

sep_status=skipped sep_reason=$swift_note
if ((MLC_OK)) && [[ -x $PUSH ]]; then
  sep_status=ok sep_reason=""
  cloud_event "$TMP/ping.json" dev.knative.sources.ping catalog   # functions/catalog-push/events/ping.json
  for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    # A new sandbox and store each round: the first push creates every SKU again.
    STORE_DIR=$TMP/store-$ROUND; mkdir -p "$STORE_DIR"
    SWIFT_ENV=("MLC_STORE_URL=sqlite:$STORE_DIR/state.sqlite" "MLC_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)")
    if ! sandbox_start "$TMP/sandbox-$ROUND" catalog --seed-catalog "$ITEMS" --seed-masters "$MASTERS" --seed-variants "$VARIANTS"; then
      sep_status=failed sep_reason="mlc sandbox --seed-catalog did not start: $(tail -n 1 "$TMP/sandbox-$ROUND/sandbox.err")"; break
    fi
    if ! env "${SWIFT_ENV[@]}" timeout 60 "$MLC" connection add --file "$SANDBOX_CONNECTION" >"$STORE_DIR/add.log" 2>&1; then
      sep_status=failed sep_reason="mlc connection add: $(tail -n 1 "$STORE_DIR/add.log")"; sandbox_stop; break
    fi
    push_once first
    push_once unchanged
    # 1 %: new sales prices for the first CHANGED simple items, written through F&O's OData API.
    if ! timeout 300 python3 "$BENCH_DIR/lib/fo_change.py" --connection "$SANDBOX_CONNECTION" --count "$CHANGED" \
         >"$RES/sep.$ROUND.change.json" 2>"$RES/sep.$ROUND.change.err"; then
      sep_status=failed sep_reason="changing $CHANGED prices in the F&O sandbox failed: $(tail -n 1 "$RES/sep.$ROUND.change.err")"; sandbox_stop; break
    fi
    push_once changed
    sandbox_stop
  done
elif ((MLC_OK)); then
  sep_reason="$PUSH missing. Build: scripts/build-release --product catalog-push"
fi

# ---- report ----------------------------------------------------------------------------------------------
machine_json "$TMP" "$LOAD_AT_START" >"$RES/machine.json"
python3 - >"$RES/config.json" <<EOF
import json
print(json.dumps({"quick": bool($QUICK), "items": $ITEMS, "masters": $MASTERS, "variants": $VARIANTS, "skus": $SKUS,
  "changed": $CHANGED, "rounds": $ROUNDS, "swift_bin_dir": "$BIN_DIR", "swift_note": $(json_str "$swift_note"),
  "inproc_status": "$inproc_status", "inproc_reason": $(json_str "$inproc_reason"),
  "separate_status": "$sep_status", "separate_reason": $(json_str "$sep_reason")}))
EOF
strict=(); [[ ${BENCH_STRICT:-0} == 1 ]] && strict=(--strict)
python3 "$BENCH_DIR/lib/catalog_report.py" --results "$RES" --json "$OUT_DIR/$SUITE.json" --markdown "$OUT_DIR/$SUITE.md" "${strict[@]}"
log "wrote $OUT_DIR/$SUITE.json and $OUT_DIR/$SUITE.md"
