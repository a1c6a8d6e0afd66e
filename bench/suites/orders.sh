#!/usr/bin/env bash
# Suite: orders — order posting against the sandboxes: F&O round trips per order in steady state,
# orders per minute beside a naive poster against an F&O with latency and a rate limit, and the
# webhook path's latency from order placed to sales order. Everything runs inside one
# `mlc bench-orders` process on loopback. Run it as `bench/run orders` (or `bench/run --quick
# orders`); see bench/README.md.
set -euo pipefail

BENCH_DIR=${BENCH_DIR:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"}
BENCH_REPO=${BENCH_REPO:-"$(cd "$BENCH_DIR/.." && pwd)"}
# shellcheck source=../lib/common.sh
source "$BENCH_DIR/lib/common.sh"

SUITE=orders
[[ ${BENCH_QUICK:-0} == 1 ]] && QUICK=1 || QUICK=0

# ---- sizes (full / quick); each can be overridden by its env variable ----------------------------
if ((QUICK)); then d_orders=40 d_steady=10 d_webhook=15; else d_orders=200 d_steady=20 d_webhook=50; fi
ORDERS=${BENCH_ORDERS_N:-$d_orders}                  # orders each poster posts in the throughput run
STEADY=${BENCH_ORDERS_STEADY:-$d_steady}             # orders counted per mode for round trips
WEBHOOK=${BENCH_ORDERS_WEBHOOK:-$d_webhook}          # orders placed one after another through the webhook path
LATENCY_MS=${BENCH_ORDERS_LATENCY_MS:-50}            # F&O emulator latency per /data call
RATE_LIMIT=${BENCH_ORDERS_RATE_LIMIT:-40}            # F&O emulator rate-limit bucket, requests/s
RATE_BURST=${BENCH_ORDERS_RATE_BURST:-10}            # ... and its burst
CONCURRENCY=${BENCH_ORDERS_CONCURRENCY:-4}           # the connector's drain width
REFERENCE=${BENCH_ORDERS_REFERENCE:-1}               # also run the pair with the rate limit off
OUT_DIR=${BENCH_OUT_DIR:-$BENCH_DIR/out}

ensure_tools python3

suite_start
mkdir -p "$OUT_DIR"

# ---- the mlc binary (hidden `mlc bench-orders`) -----------------------------------------------------
swift_binaries "$TMP/build.log" mlc
MLC=$BIN_DIR/mlc
MLC_OK=0
if [[ ! -x $MLC ]]; then
  swift_note="${swift_note:+$swift_note; }$MLC missing. Build: scripts/build-release --product mlc (or set BENCH_BIN_DIR)"
elif ! timeout 30 "$MLC" bench-orders --help 2>&1 | grep -q -- --rate-limit; then
  swift_note="${swift_note:+$swift_note; }$MLC has no bench-orders command (built before it was added); rebuild: scripts/build-release --product mlc"
else
  MLC_OK=1
fi
((MLC_OK)) || log "WARNING: $swift_note"

# ---- the run -----------------------------------------------------------------------------------------
status=skipped
reason=$swift_note
if ((MLC_OK)); then
  args=(bench-orders --orders "$ORDERS" --steady-orders "$STEADY" --webhook-orders "$WEBHOOK" --latency-ms "$LATENCY_MS"
        --rate-limit "$RATE_LIMIT" --rate-burst "$RATE_BURST" --concurrency "$CONCURRENCY" --json "$TMP/result.json")
  [[ $REFERENCE == 1 ]] || args+=(--no-reference-run)
  log "mlc ${args[*]}"
  settle "$TMP"
  # Bounded: the naive poster alone takes about ORDERS × 0.45 s (twice with the reference run).
  limit=$((300 + ORDERS * 3 + WEBHOOK * 3))
  rc=0
  TMPDIR=$TMP timeout --kill-after=10 "$limit" "$MLC" "${args[@]}" >"$TMP/run.out" 2>"$TMP/run.err" || rc=$?
  if [[ -s $TMP/result.json ]]; then
    status=ok; reason=""
    ((rc == 0)) || { status=failed; reason="mlc bench-orders exited $rc: $(grep -m 1 PROBLEM "$TMP/run.out" || tail -n 1 "$TMP/run.err")"; }
  else
    status=failed
    reason="mlc bench-orders exited $rc without results: $(grep -i -m 1 error "$TMP/run.err" || tail -n 1 "$TMP/run.err" || true)"
    log "$reason"; tail -n 20 "$TMP/run.err" >&2 || true
  fi
fi

# ---- report ----------------------------------------------------------------------------------------------
machine_json "$TMP" "$LOAD_AT_START" >"$TMP/machine.json"
python3 - "$TMP" "$OUT_DIR/$SUITE.json" "$OUT_DIR/$SUITE.md" "$QUICK" "$status" "$reason" "$BIN_DIR" <<'EOF'
import json, os, sys
tmp, out_json, out_md, quick, status, reason, bin_dir = sys.argv[1:]
machine = json.load(open(os.path.join(tmp, "machine.json")))
result = {}
path = os.path.join(tmp, "result.json")
if os.path.exists(path) and os.path.getsize(path) > 0:
    result = json.load(open(path))
markdown = result.pop("markdown", None)
report = {"suite": "orders", "quick": quick == "1", "status": status, "reason": reason or None,
          "swift_bin_dir": bin_dir, "machine": machine, **result}
if markdown is None:
    markdown = "## orders — order posting against the sandboxes\n\n| measure | result | target | verdict |\n|---|---:|---|---|\n"
    for name, target in [("F&O round trips per order, SalesOrderNumber supplied", "max ≤ 2"),
                         ("F&O round trips per order, numbered by F&O", "max ≤ 3"),
                         ("connector ÷ naive orders/min", "≥ 5×"), ("order placed → sales order p95", "≤ 2 s")]:
        markdown += f"| {name} | {status} | {target} | n/a |\n"
    markdown += f"\nSwift: {status}: {reason}\n"
elif status != "ok":
    markdown += f"\nrun status: {status}: {reason}\n"
markdown += (f"\nMachine: {machine['nproc']} CPUs ({machine['cpu']}), load {machine['loadavg_1m_at_start']} → "
             f"{machine['loadavg_1m_at_end']}; {'quick' if quick == '1' else 'full'} sizes.\n")
json.dump(report, open(out_json, "w"), indent=2, sort_keys=True)
open(out_md, "w").write(markdown)
print(markdown)
EOF
log "wrote $OUT_DIR/$SUITE.json and $OUT_DIR/$SUITE.md"

if [[ ${BENCH_STRICT:-0} == 1 ]]; then
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r.get("status") == "ok" and r.get("all_targets_pass") else 1)' \
    "$OUT_DIR/$SUITE.json" || { log "BENCH_STRICT=1: a target was missed or the run failed"; exit 1; }
fi
exit 0
