# shellcheck shell=bash
# `mlc sandbox` in its own process (sourced after common.sh): both emulators on free loopback
# ports and a connection file for them, so a function binary can be measured against it alone.

# sandbox_start DIR ID [SANDBOX OPTIONS...] — start `$MLC sandbox` writing DIR/connection.json
# (connection id ID); waits (bounded, 120 s: seeding a large catalog takes a while) until the
# file exists. Sets SANDBOX_PID and SANDBOX_CONNECTION. Returns 1 (with the log's tail) on failure.
sandbox_start() {
  local dir=$1 id=$2; shift 2
  mkdir -p "$dir"
  rm -f "$dir/connection.json"
  "$MLC" sandbox --write-connection "$dir/connection.json" --connection-id "$id" "$@" >"$dir/sandbox.out" 2>"$dir/sandbox.err" &
  SANDBOX_PID=$!
  track_pid "$SANDBOX_PID"
  SANDBOX_CONNECTION=$dir/connection.json
  local deadline=$((SECONDS + ${BENCH_SANDBOX_READY_S:-120}))
  while ((SECONDS < deadline)); do
    if [[ -s $dir/connection.json ]] && grep -q 'Serving until' "$dir/sandbox.out" 2>/dev/null; then return 0; fi
    kill -0 "$SANDBOX_PID" 2>/dev/null || break
    sleep 0.2
  done
  log "mlc sandbox did not come up:"; tail -n 5 "$dir/sandbox.err" "$dir/sandbox.out" >&2 || true
  return 1
}

# sandbox_stop — stop the sandbox started by sandbox_start (by its PID).
sandbox_stop() {
  [[ -n ${SANDBOX_PID:-} ]] || return 0
  stop_pid "$SANDBOX_PID" || true
  SANDBOX_PID=""
}

# cloud_event FILE TYPE CONNECTION [EXTRA_DATA_JSON] — a structured-mode CloudEvent file like
# functions/<name>/events/*.json, for connection CONNECTION.
cloud_event() {
  python3 - "$@" <<'EOF'
import json, sys, uuid
path, kind, connection = sys.argv[1:4]
data = {"connection": connection}
if len(sys.argv) > 4:
    data.update(json.loads(sys.argv[4]))
event = {"specversion": "1.0", "id": "bench-" + uuid.uuid4().hex[:12], "source": "/ml-connector/bench",
         "type": kind, "datacontenttype": "application/json", "data": data}
open(path, "w").write(json.dumps(event))
EOF
}
