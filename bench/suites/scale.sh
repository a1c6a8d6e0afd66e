#!/usr/bin/env bash
# Suite: scale — how cost grows: a backlog of 1×, 10×, 100× pending orders drained by the connector
# (`mlc bench-orders --backlog-only`, one process per size and run) against the F&O emulator: orders
# per minute, time and CPU per order, peak RSS and RSS per order at each size; does anything grow
# faster than linearly? Run it as `bench/run scale` (or `bench/run --quick scale`); see bench/README.md.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"}
BENCH_REPO=${BENCH_REPO:-"$(cd "$BENCH_DIR/.." && pwd)"}
# shellcheck source=../lib/common.sh
source "$BENCH_DIR/lib/common.sh"

SUITE=scale
[[ ${BENCH_QUICK:-0} == 1 ]] && QUICK=1 || QUICK=0
if ((QUICK)); then d_sizes="10 100 1000" d_runs=1; else d_sizes="20 200 2000" d_runs=3; fi
SIZES=${BENCH_SCALE_SIZES:-$d_sizes}              # backlogs, 1× 10× 100×
RUNS=${BENCH_SCALE_RUNS:-$d_runs}                 # processes per size (median and spread)
LATENCY_MS=${BENCH_SCALE_LATENCY_MS:-50}          # F&O emulator latency per /data call
RATE_LIMIT=${BENCH_SCALE_RATE_LIMIT:-0}           # F&O emulator bucket, requests/s (0 = off: the connector, not the bucket, sets the pace)
CONCURRENCY=${BENCH_SCALE_CONCURRENCY:-4}
OUT_DIR=${BENCH_OUT_DIR:-$BENCH_DIR/out}

ensure_tools python3 /usr/bin/time

suite_start ": backlogs $SIZES, $RUNS run(s) each"

swift_binaries "$TMP/build.log" mlc
MLC=$BIN_DIR/mlc
MLC_OK=0
if [[ ! -x $MLC ]]; then
  swift_note="${swift_note:+$swift_note; }$MLC missing. Build: scripts/build-release --product mlc (or set BENCH_BIN_DIR)"
elif ! timeout 30 "$MLC" bench-orders --help 2>&1 | grep -q -- --backlog-only; then
  swift_note="${swift_note:+$swift_note; }$MLC has no \`bench-orders --backlog-only\` (built before it was added); rebuild it"
else
  MLC_OK=1
fi
[[ -z $swift_note ]] || log "WARNING: $swift_note"

status=skipped reason=$swift_note
if ((MLC_OK)); then
  status=ok reason=""
  for ((run = 1; run <= RUNS; run++)); do
    for n in $SIZES; do
      settle "$TMP"
      log "run $run: backlog of $n orders"
      rc=0
      # Bounded: placing and draining take well under 0.5 s per order here.
      TMPDIR=$TMP timeout --kill-after=10 $((300 + n)) /usr/bin/time -f '%e %M %U %S' -o "$RES/$n.$run.time" \
        "$MLC" bench-orders --backlog-only --orders "$n" --latency-ms "$LATENCY_MS" --rate-limit "$RATE_LIMIT" \
        --concurrency "$CONCURRENCY" --json "$RES/$n.$run.json" >"$RES/$n.$run.out" 2>"$RES/$n.$run.err" || rc=$?
      echo "$rc" >"$RES/$n.$run.rc"
      if ((rc != 0)); then
        status=failed reason="backlog $n, run $run: mlc bench-orders exited $rc: $(grep -m 1 PROBLEM "$RES/$n.$run.out" || tail -n 1 "$RES/$n.$run.err")"
        log "$reason"
      fi
    done
  done
fi

machine_json "$TMP" "$LOAD_AT_START" >"$RES/machine.json"
python3 - >"$RES/config.json" <<EOF
import json
print(json.dumps({"quick": bool($QUICK), "sizes": [int(x) for x in "$SIZES".split()], "runs": $RUNS, "latency_ms": $LATENCY_MS,
  "rate_limit_per_second": $RATE_LIMIT, "concurrency": $CONCURRENCY, "swift_bin_dir": "$BIN_DIR",
  "swift_note": $(json_str "$swift_note"), "status": "$status", "reason": $(json_str "$reason")}))
EOF
python3 "$BENCH_DIR/lib/scale_report.py" --results "$RES" --json "$OUT_DIR/$SUITE.json" --markdown "$OUT_DIR/$SUITE.md"
log "wrote $OUT_DIR/$SUITE.json and $OUT_DIR/$SUITE.md"
