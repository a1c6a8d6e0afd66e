# shellcheck shell=bash
# Shared helpers for bench suites (sourced, bash). Loopback only; only PIDs we started are killed.

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ensure_tools CMD... — install the Debian packages that provide missing commands (as root only).
ensure_tools() {
  local -A pkg_of=([wrk]=wrk [hyperfine]=hyperfine [/usr/bin/time]=time [curl]=curl
                   [node]=nodejs [python3]=python3 [getconf]=libc-bin)
  local missing=() cmd
  for cmd in "$@"; do
    if [[ "$cmd" == /* ]]; then [[ -x "$cmd" ]] && continue; else command -v "$cmd" >/dev/null && continue; fi
    missing+=("${pkg_of[$cmd]:-$cmd}")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing: ${missing[*]}"
    timeout 600 apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  else
    die "missing tools (${missing[*]}); install them: apt-get install -y ${missing[*]}"
  fi
}

# free_port — a TCP port on 127.0.0.1 that is free right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready URL PID SECONDS — poll URL until 200, while PID lives; bounded.
wait_ready() {
  local url=$1 pid=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    curl -sf -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  return 1
}

# cpu_ticks PID — utime+stime of the whole process (all threads), in clock ticks.
cpu_ticks() {
  # Fields after "(comm)": state is field 3, utime 14, stime 15 counting from pid=1.
  local stat
  stat=$(<"/proc/$1/stat") || return 1
  stat=${stat##*) }
  awk '{ print $12 + $13 }' <<<"$stat"
}

# Started PIDs, stopped on exit.
BENCH_PIDS=()
track_pid() { BENCH_PIDS+=("$1"); }

# stop_pid PID — SIGTERM, wait up to 10 s, then SIGKILL. Returns the exit status (or 137).
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "PID $pid ignored SIGTERM for 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

cleanup_pids() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then stop_pid "$pid" || true; fi
  done
}

# settle DIR — write back dirty pages of DIR's file system, so that the next subject's fsyncs do not
# pay for earlier writes (ext4 data=ordered flushes pending data on the journal commit).
settle() { sync -f "$1" 2>/dev/null || sync; }


# machine_json TMPDIR LOADAVG — nproc, CPU model, kernel, file system of TMPDIR, CLK_TCK, the 1-minute
# load average at the start (LOADAVG) and now (call it at the end of the run).
machine_json() {
  local cpu fs
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  fs=$(df -PT "$1" 2>/dev/null | awk 'NR == 2 { print $2 }')
  python3 - "$(nproc)" "${cpu:-unknown}" "$(uname -srm)" "${fs:-unknown}" "$(getconf CLK_TCK)" "$2" \
    "$(cut -d' ' -f1 /proc/loadavg)" <<'EOF'
import json, sys
nproc, cpu, kernel, fs, tck, load, load_end = sys.argv[1:]
print(json.dumps({"nproc": int(nproc), "cpu": cpu, "kernel": kernel, "tmp_fs": fs, "clk_tck": int(tck),
                  "loadavg_1m_at_start": float(load), "loadavg_1m_at_end": float(load_end)}))
EOF
}

# swift_binaries BUILD_LOG PRODUCT... — the release binaries the suite runs. Unless BENCH_BIN_DIR is
# set or BENCH_NO_BUILD=1, builds each PRODUCT with `scripts/build-release`
# (at most BENCH_BUILD_TIMEOUT_S each; output to BUILD_LOG). Sets BIN_DIR (BENCH_BIN_DIR, default
# .build/release) and swift_note (why a build failed or was not attempted; empty when all is well).
# The caller checks that the binaries it needs are in BIN_DIR.
swift_binaries() {
  local build_log=$1 product; shift
  BIN_DIR=${BENCH_BIN_DIR:-$BENCH_REPO/.build/release}
  swift_note=""
  [[ -z ${BENCH_BIN_DIR:-} && ${BENCH_NO_BUILD:-0} != 1 ]] || return 0
  if ! command -v swift >/dev/null; then
    swift_note="swift toolchain not found; not building"
    return 0
  fi
  log "scripts/build-release ($*); log: $build_log"
  for product in "$@"; do
    if ! (cd "$BENCH_REPO" && timeout "${BENCH_BUILD_TIMEOUT_S:-2400}" scripts/build-release \
          --product "$product") >>"$build_log" 2>&1; then
      swift_note="swift build of $product failed (tail of log below)"
      log "$swift_note"; tail -n 30 "$build_log" >&2
      return 0
    fi
  done
}

# suite_start DETAIL — the suite's work dir (TMP, results in RES), cleanup on exit (the processes it
# started, a throwaway PostgreSQL when one runs, the work dir unless BENCH_KEEP_TMP=1), the start
# line, and LOAD_AT_START with a warning when the machine is already busy.
suite_start() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/mlc-bench-$SUITE.XXXXXX")
  RES=$TMP/results
  mkdir -p "$RES" "$OUT_DIR"
  trap suite_exit EXIT
  trap 'exit 130' INT TERM
  log "suite $SUITE ($([[ $QUICK == 1 ]] && echo quick || echo full))${1:+$1}; work dir $TMP"
  LOAD_AT_START=$(cut -d' ' -f1 /proc/loadavg)
  if awk -v l="$LOAD_AT_START" 'BEGIN { exit !(l > 0.5) }'; then
    log "WARNING: load average is $LOAD_AT_START before the run; other work on the machine skews the numbers"
  fi
}
suite_exit() {
  cleanup_pids
  if declare -F pg_stop >/dev/null; then pg_stop; fi
  if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}

# stage_binaries DIR NAME... — copies of BIN_DIR's NAMEs in DIR, dropped from the page cache, for
# the cold-start measurements: a container starts a binary from its image, while the linker
# writes its output through large page-cache folios that a start then maps whole (webhook-receiver:
# 23 MiB peak RSS straight from .build, 18 MiB from a copy — same bytes, same code path). The
# first run reads the copy from disk; the warm-up runs cover that.
stage_binaries() {
  local dir=$1 name; shift
  mkdir -p "$dir"
  for name in "$@"; do
    [[ -x $BIN_DIR/$name ]] || continue
    cp "$BIN_DIR/$name" "$dir/$name"
    python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$dir/$name"
  done
}

# json_str TEXT — TEXT as a JSON string literal.
json_str() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
