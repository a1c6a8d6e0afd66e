#!/usr/bin/env python3
"""Turn the raw results of bench/suites/webhook-receiver.sh into a markdown table and a JSON report.

Reads <results>/{machine,config,gen,postgres}.json, cold/<program>.{status,hyperfine.json,rss} and
http/<server>.{status,warmup.json,peak.json,paced.json}, http/stored.json.
Writes --json (the report) and --markdown, and prints the markdown. Stdlib only.
"""
import argparse
import datetime
import json
import os
import statistics

COLD = [
    ("swift", "Swift `webhook-receiver --event-file`"),
    ("python", "Python peer (sqlite3 WAL, synchronous=FULL)"),
    ("node", "Node.js peer (append + fsync)"),
    ("python-bare", "`python3 -c pass` (reference)"),
    ("node-bare", "`node -e 0` (reference)"),
]
HTTP = [
    ("swift", "Swift `webhook-receiver` (SQLite)"),
    ("swift-pg", "Swift `webhook-receiver` (PostgreSQL)"),
    ("python", "Python peer (ThreadingHTTPServer + sqlite3)"),
    ("node", "Node.js peer (node:http + append/fsync)"),
]
# Targets from the issue text; they are for the SQLite store ("swift"), the PostgreSQL row is extra.
COLD_MEDIAN_MS_MAX = 10.0
COLD_RSS_MIB_MAX = 20.0
HTTP_VS_PYTHON_MIN = 5.0
HTTP_VS_NODE_MIN = 1.0
P99_MS_MAX = 10.0


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def cold_result(res, name):
    status = load(os.path.join(res, "cold", f"{name}.status"))
    if status is None:
        return {"status": "not run"}
    out = dict(status)
    hf = load(os.path.join(res, "cold", f"{name}.hyperfine.json"))
    if hf and hf.get("results"):
        r = hf["results"][0]
        times = r.get("times") or []
        out.update({
            "runs": len(times),
            "median_ms": r["median"] * 1e3,
            "mean_ms": r["mean"] * 1e3,
            "stddev_ms": (r.get("stddev") or 0.0) * 1e3,
            "min_ms": r["min"] * 1e3,
            "max_ms": r["max"] * 1e3,
            "user_ms_mean": r.get("user", 0.0) * 1e3,
            "system_ms_mean": r.get("system", 0.0) * 1e3,
        })
    try:
        with open(os.path.join(res, "cold", f"{name}.rss")) as f:
            rss = [int(x) for x in f.read().split() if x.isdigit()]
    except OSError:
        rss = []
    if rss:
        out.update({"rss_runs": len(rss), "peak_rss_kib_median": statistics.median(rss),
                    "peak_rss_kib_min": min(rss), "peak_rss_kib_max": max(rss),
                    "peak_rss_mib_median": statistics.median(rss) / 1024})
    return out


def http_result(res, name, clk_tck, stored):
    status = load(os.path.join(res, "http", f"{name}.status"))
    if status is None:
        return {"status": "not run"}
    out = dict(status)
    for phase in ("warmup", "peak", "paced"):
        d = load(os.path.join(res, "http", f"{name}.{phase}.json"))
        if not d:
            continue
        secs = d["active_us"] / 1e6
        errors = d["errors"]
        ph = {
            "requests": d["requests"],
            "seconds": round(secs, 3),
            "requests_per_s": d["requests"] / secs if secs > 0 else None,
            "latency_ms": {k: v / 1e3 for k, v in d["latency_us"].items()},
            "errors": errors,
            "error_count": sum(errors.values()),
            "ran_out_of_distinct_bodies": d["exhausted_threads"] > 0,
        }
        out[phase] = ph
    peak = out.get("peak")
    wrk_cpu = os.path.join(res, "http", f"{name}.peak.wrkcpu")
    if peak and peak["requests"] and os.path.exists(wrk_cpu):
        try:
            user, system = (float(x) for x in open(wrk_cpu).read().split()[-2:])
            out["wrk_cpu_us_per_request"] = (user + system) * 1e6 / peak["requests"]
        except ValueError:
            pass
    if peak and out.get("cpu_ticks_after") is not None and out.get("cpu_ticks_before") is not None:
        ticks = out["cpu_ticks_after"] - out["cpu_ticks_before"]
        out["cpu_seconds_during_peak"] = ticks / clk_tck
        out["cpu_us_per_request"] = ticks / clk_tck * 1e6 / peak["requests"] if peak["requests"] else None
    if peak and out.get("db_cpu_ticks_after") is not None and out.get("db_cpu_ticks_before") is not None:
        ticks = out["db_cpu_ticks_after"] - out["db_cpu_ticks_before"]
        out["db_cpu_seconds_during_peak"] = ticks / clk_tck
        out["db_cpu_us_per_request"] = ticks / clk_tck * 1e6 / peak["requests"] if peak["requests"] else None
    for key in ("db_cpu_ticks_before", "db_cpu_ticks_after"):
        if out.get(key) is None:
            out.pop(key, None)
    if name in stored:
        out["stored_records"] = stored[name]
    # Peak runs of later rounds (NAME.peak.rN.json with NAME.status.rN): each server's median and
    # spread over the rounds, round 1 included.
    rounds = []
    if out.get("status") == "ok" and peak and out.get("cpu_us_per_request") is not None:
        rounds.append({"round": 1, "requests_per_s": peak["requests_per_s"], "cpu_us_per_request": out["cpu_us_per_request"],
                       "wrk_cpu_us_per_request": out.get("wrk_cpu_us_per_request"), "error_count": peak["error_count"]})
    n = 2
    while True:
        st = load(os.path.join(res, "http", f"{name}.status.r{n}"))
        if st is None:
            break
        d = load(os.path.join(res, "http", f"{name}.peak.r{n}.json"))
        if st.get("status") == "ok" and d and d["requests"] and st.get("cpu_ticks_after") is not None and st.get("cpu_ticks_before") is not None:
            secs = d["active_us"] / 1e6
            one = {"round": n, "requests_per_s": d["requests"] / secs if secs > 0 else None,
                   "cpu_us_per_request": (st["cpu_ticks_after"] - st["cpu_ticks_before"]) / clk_tck * 1e6 / d["requests"],
                   "error_count": sum(d["errors"].values())}
            wrk_cpu = os.path.join(res, "http", f"{name}.peak.r{n}.wrkcpu")
            if os.path.exists(wrk_cpu):
                try:
                    user, system = (float(x) for x in open(wrk_cpu).read().split()[-2:])
                    one["wrk_cpu_us_per_request"] = (user + system) * 1e6 / d["requests"]
                except ValueError:
                    pass
            rounds.append(one)
        n += 1
    if rounds:
        out["peak_rounds"] = rounds
        summary = {"rounds": len(rounds)}
        for key in ("requests_per_s", "cpu_us_per_request", "wrk_cpu_us_per_request"):
            values = [r[key] for r in rounds if r.get(key) is not None]
            if values:
                summary[key] = statistics.median(values)
                summary[key + "_min"], summary[key + "_max"] = min(values), max(values)
        out["peak_median"] = summary
    return out


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, digits=1, suffix=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{suffix}"
    return f"{v:,}{suffix}"


def verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--strict", action="store_true", help="exit 1 unless every target passes")
    args = ap.parse_args()
    res = args.results

    machine = load(os.path.join(res, "machine.json"), {})
    config = load(os.path.join(res, "config.json"), {})
    gen = load(os.path.join(res, "gen.json"), {})
    stored = load(os.path.join(res, "http", "stored.json"), {})
    postgres = load(os.path.join(res, "postgres.json"))
    if postgres:
        config["postgres"] = postgres
    cold = {name: cold_result(res, name) for name, _ in COLD}
    http = {name: http_result(res, name, machine.get("clk_tck", 100), stored) for name, _ in HTTP}

    def peak_rps(n):
        # The median over the rounds where there are several, else the one peak run; nothing for
        # a server whose first round failed (its row says why).
        if http[n].get("status") != "ok":
            return None
        return (http[n].get("peak_median") or http[n].get("peak") or {}).get("requests_per_s")

    def cpu_us(n):
        if http[n].get("status") != "ok":
            return None
        return (http[n].get("peak_median") or {}).get("cpu_us_per_request", http[n].get("cpu_us_per_request"))

    def p99(n):
        return ((http[n].get("paced") or {}).get("latency_ms") or {}).get("p99")

    s_cold = cold["swift"]
    s_rps = peak_rps("swift")
    ratios = {
        "http_rps_swift_over_python": ratio(s_rps, peak_rps("python")),
        "http_rps_swift_over_node": ratio(s_rps, peak_rps("node")),
        "cold_median_python_over_swift": ratio(cold["python"].get("median_ms"), s_cold.get("median_ms")),
        "cold_median_node_over_swift": ratio(cold["node"].get("median_ms"), s_cold.get("median_ms")),
        "cold_rss_python_over_swift": ratio(cold["python"].get("peak_rss_kib_median"), s_cold.get("peak_rss_kib_median")),
        "cold_rss_node_over_swift": ratio(cold["node"].get("peak_rss_kib_median"), s_cold.get("peak_rss_kib_median")),
        "cpu_per_request_python_over_swift": ratio(cpu_us("python"), cpu_us("swift")),
        "cpu_per_request_node_over_swift": ratio(cpu_us("node"), cpu_us("swift")),
        "http_rps_swift_postgres_over_sqlite": ratio(peak_rps("swift-pg"), s_rps),
        "http_p99_swift_postgres_over_sqlite": ratio(p99("swift-pg"), p99("swift")),
    }

    def check(value, ok):
        return {"measured": value, "pass": None if value is None else ok(value)}

    targets = [
        dict(name="cold start median ≤ 10 ms", target=COLD_MEDIAN_MS_MAX, unit="ms",
             **check(s_cold.get("median_ms"), lambda v: v <= COLD_MEDIAN_MS_MAX)),
        dict(name="cold start peak RSS ≤ 20 MiB (median)", target=COLD_RSS_MIB_MAX, unit="MiB",
             **check(s_cold.get("peak_rss_mib_median"), lambda v: v <= COLD_RSS_MIB_MAX)),
        dict(name="HTTP req/s ≥ 5× Python peer", target=HTTP_VS_PYTHON_MIN, unit="×",
             **check(ratios["http_rps_swift_over_python"], lambda v: v >= HTTP_VS_PYTHON_MIN)),
        dict(name="HTTP req/s ≥ Node peer", target=HTTP_VS_NODE_MIN, unit="×",
             **check(ratios["http_rps_swift_over_node"], lambda v: v >= HTTP_VS_NODE_MIN)),
        dict(name="p99 < 10 ms at half the peak rate", target=P99_MS_MAX, unit="ms",
             **check(p99("swift"), lambda v: v < P99_MS_MAX)),
    ]

    report = {
        "suite": "webhook-receiver",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "config": config,
        "workload": gen,
        "cold_start": cold,
        "http": http,
        "ratios": ratios,
        "targets": targets,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    md = []
    md.append(f"## webhook-receiver benchmark — {'quick' if config.get('quick') else 'full'} run, {report['generated_at']}")
    md.append("")
    md.append(f"Machine: nproc={machine.get('nproc')}, CPU {machine.get('cpu')}, kernel {machine.get('kernel')}, "
              f"temp dir on {machine.get('tmp_fs')}; Python {config.get('python')} (SQLite {config.get('python_sqlite')}), "
              f"Node {config.get('node')}, wrk {config.get('wrk')}, hyperfine {config.get('hyperfine')}.")
    load_start, load_end = machine.get("loadavg_1m_at_start"), machine.get("loadavg_1m_at_end")
    md.append(f"1-minute load average: {load_start} at the start, {load_end} at the end (this run itself adds up to about 2).")
    if load_start is not None and load_start > 0.5:
        md.append("")
        md.append(f"**Warning:** the 1-minute load average was {load_start} when the run started: other work on "
                  "the machine skews these numbers.")
    if not config.get("swift_available"):
        md.append("")
        md.append(f"**Swift not measured:** {config.get('swift_note')}")
    md.append("")
    md.append(f"### Cold start, once mode — {config.get('cold_runs')} runs (hyperfine -N, {config.get('cold_warmup')} warm-up), "
              f"peak RSS median of {config.get('rss_runs')} runs; a fresh signed ~{gen.get('sample_body_bytes', 0) / 1024:.1f} KB delivery per run")
    md.append("")
    md.append("| program | median ms | min ms | max ms | peak RSS MiB | median ÷ Swift median |")
    md.append("|---|---:|---:|---:|---:|---:|")
    for name, label in COLD:
        c = cold[name]
        if c.get("status") != "ok":
            md.append(f"| {label} | {c.get('status')}: {c.get('reason', '')} | | | | |")
            continue
        vs = ratio(c.get("median_ms"), s_cold.get("median_ms")) if name != "swift" else 1.0
        md.append(f"| {label} | {fmt(c.get('median_ms'), 2)} | {fmt(c.get('min_ms'), 2)} | {fmt(c.get('max_ms'), 2)} | "
                  f"{fmt(c.get('peak_rss_mib_median'), 1)} | {fmt(vs, 2, '×')} |")
    md.append("")
    md.append(f"### HTTP mode — wrk {config.get('wrk_threads')} thread(s), {config.get('wrk_connections')} connections, "
              f"every request a distinct signed body; peak: {config.get('wrk_peak_s')} s closed loop; "
              f"p99: {config.get('wrk_paced_s')} s paced at half the peak (Lua delay() schedule)")
    md.append("")
    rounds = config.get("wrk_rounds") or 1
    if rounds > 1:
        md.append(f"Peak: the median of {rounds} rounds, each server once per round in turn on a fresh server and store "
                  "(min–max beside it); the paced run and PostgreSQL in round 1.")
        md.append("")
    md.append("| server | peak req/s | CPU µs/req | wrk's CPU µs/req | paced req/s | p50 ms | p99 ms | errors | Swift req/s ÷ this |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def spread(h, key, digits=0):
        m = h.get("peak_median") or {}
        if m.get(key) is None:
            return fmt(h.get(key) if key != "requests_per_s" else (h.get("peak") or {}).get(key), digits)
        if m.get("rounds", 1) < 2:
            return fmt(m[key], digits)
        # A server whose rounds did not all succeed says how many it has: its median is then
        # not over the same minutes as the others'.
        short = f"; {m['rounds']} of {rounds} rounds" if m["rounds"] < rounds and key == "requests_per_s" else ""
        return f"{fmt(m[key], digits)} ({fmt(m[key + '_min'], digits)}–{fmt(m[key + '_max'], digits)}{short})"

    for name, label in HTTP:
        h = http[name]
        if h.get("status") != "ok":
            md.append(f"| {label} | {h.get('status')}: {h.get('reason', '')} | | | | | | | |")
            continue
        peak, paced = h.get("peak") or {}, h.get("paced") or {}
        errs = peak.get("error_count", 0) + paced.get("error_count", 0)
        note = " (ran out of distinct bodies; rate over active time)" if peak.get("ran_out_of_distinct_bodies") else ""
        vs = ratio(s_rps, peak_rps(name)) if name != "swift" else 1.0
        cpu = spread(h, "cpu_us_per_request")
        if h.get("db_cpu_us_per_request") is not None:
            cpu += f" + {fmt(h['db_cpu_us_per_request'], 0)} in PostgreSQL"
        errs += sum(r.get("error_count", 0) for r in h.get("peak_rounds", []) if r.get("round", 1) > 1)
        md.append(f"| {label} | {spread(h, 'requests_per_s')}{note} | {cpu} | {spread(h, 'wrk_cpu_us_per_request')} | "
                  f"{fmt(paced.get('requests_per_s'), 0)} | {fmt((paced.get('latency_ms') or {}).get('p50'), 2)} | "
                  f"{fmt((paced.get('latency_ms') or {}).get('p99'), 2)} | {errs} | {fmt(vs, 2, '×')} |")
    pg_row = http["swift-pg"]
    md.append("")
    wrk_us = (http["swift"].get("peak_median") or {}).get("wrk_cpu_us_per_request", http["swift"].get("wrk_cpu_us_per_request"))
    py_rps = peak_rps("python")
    cores = machine.get("nproc") if isinstance(machine, dict) else None
    if wrk_us and py_rps and cores:
        budget = cores * 1e6 / (5 * py_rps) - wrk_us
        md.append(f"wrk runs on the same {cores} cores as the server. At 5× the Python peer ({fmt(5 * py_rps, 0)} req/s) the "
                  f"{cores} cores give {fmt(cores * 1e6 / (5 * py_rps), 0)} µs per request to server and wrk together; wrk alone "
                  f"took {fmt(wrk_us, 0)} µs per request against the Swift server, which leaves a server {fmt(budget, 0)} µs "
                  f"(the Node.js peer, appending to a file, used {fmt(cpu_us('node'), 0)}).")
    if pg_row.get("status") == "ok":
        md.append(f"PostgreSQL ÷ SQLite store (Swift server): peak req/s {fmt(ratios['http_rps_swift_postgres_over_sqlite'], 2, '×')}, "
                  f"p99 at half of each one's own peak {fmt(ratios['http_p99_swift_postgres_over_sqlite'], 2, '×')}.")
    else:
        md.append(f"PostgreSQL store: {pg_row.get('status')}: {pg_row.get('reason', '')}")
    if postgres:
        md.append(f"PostgreSQL {postgres.get('server_version', '?').split(' ')[0]}: throwaway cluster on this machine (same cores and disk), "
                  f"fsync={postgres.get('fsync')}, synchronous_commit={postgres.get('synchronous_commit')}, "
                  f"full_page_writes={postgres.get('full_page_writes')}, wal_sync_method={postgres.get('wal_sync_method')}; "
                  "a fresh schema; stopped before the peers run.")
    md.append("")
    md.append("### Targets (issue text; Swift on the SQLite store)")
    md.append("")
    md.append("| target | measured | result |")
    md.append("|---|---:|---|")
    for t in targets:
        md.append(f"| {t['name']} | {fmt(t['measured'], 2, ' ' + t['unit'] if t['unit'] != '×' else '×')} | {verdict(t['pass'])} |")
    md.append("")
    md.append("Ratios: " + ", ".join(f"{k} = {fmt(v, 2)}" for k, v in ratios.items()))
    text = "\n".join(md) + "\n"
    with open(args.markdown, "w") as f:
        f.write(text)
    print(text, end="")
    if args.strict and not all(t["pass"] for t in targets):
        print("BENCH_STRICT: not every target passed")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
