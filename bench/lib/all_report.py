#!/usr/bin/env python3
"""The combined report of `bench/run all`: one markdown table of every suite's headline figures,
side by side with the peers, and bench/out/all.json (the machine, the build, each suite's report).

Reads <out>/<suite>.json and <out>/<suite>.md as the suites wrote them in this invocation. A suite
that wrote nothing is shown as `not run`. Stdlib only.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def dig(obj, *path):
    for key in path:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


def fmt(v, digits=2, suffix=""):
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)):
        return f"{v:,.{digits}f}{suffix}"
    return str(v)


def verdict(p):
    return "n/a" if p is None else ("PASS" if p else "FAIL")


def ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(load_at_start, repo):
    mem_kib = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    swift = run(["swift", "--version"]).splitlines()
    end_load = None
    try:
        with open("/proc/loadavg") as f:
            end_load = float(f.read().split()[0])
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None, "cpu": cpu,
            "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
            "os": run(["sh", "-c", ". /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\""]),
            "swift": next((l for l in swift if "Swift version" in l), swift[0] if swift else "swift not found"),
            "loadavg_1m_at_start": load_at_start, "loadavg_1m_at_end": end_load,
            "git_commit": run(["git", "-C", repo, "rev-parse", "--short", "HEAD"]),
            "git_dirty": bool(run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"]))}


def rows(r):
    """(area, measure, swift, python, node, comparison, target, verdict) rows."""
    out = []
    cs, wr, st, od, ca, sc = (r.get(k) or {} for k in ("cold-start", "webhook-receiver", "store", "orders", "catalog", "scale"))

    # Cold start: every function; webhook-receiver beside its peers.
    subj = cs.get("subjects") or {}
    w = subj.get("webhook-receiver") or {}
    py, nd = subj.get("python") or {}, subj.get("node") or {}
    if subj:
        out.append(("cold start", "webhook-receiver: median ms (p25–p75) per delivery",
                    f"{fmt(w.get('median_ms'))} ({fmt(w.get('p25_ms'))}–{fmt(w.get('p75_ms'))})",
                    fmt(py.get("median_ms")), fmt(nd.get("median_ms")),
                    f"Python {fmt(ratio(py.get('median_ms'), w.get('median_ms')), 2, '×')}, Node {fmt(ratio(nd.get('median_ms'), w.get('median_ms')), 2, '×')} slower",
                    "≤ 10 ms", verdict(None if w.get("median_ms") is None else w["median_ms"] <= 10)))
        out.append(("cold start", "webhook-receiver: peak RSS MiB (median)", fmt(w.get("peak_rss_mib_median"), 1),
                    fmt(py.get("peak_rss_mib_median"), 1), fmt(nd.get("peak_rss_mib_median"), 1),
                    f"Python {fmt(ratio(py.get('peak_rss_kib_median'), w.get('peak_rss_kib_median')), 2, '×')}, Node {fmt(ratio(nd.get('peak_rss_kib_median'), w.get('peak_rss_kib_median')), 2, '×')}",
                    "≤ 20 MiB", verdict(None if w.get("peak_rss_mib_median") is None else w["peak_rss_mib_median"] <= 20)))
        for name in ("order-poster", "catalog-push", "backfill-poll"):
            s = subj.get(name) or {}
            if s.get("status") != "ok":
                out.append(("cold start", f"{name}", f"{s.get('status', 'not run')}: {s.get('reason', '')}", "", "", "", "≤ 10 ms, ≤ 20 MiB", "n/a"))
                continue
            ok = s.get("median_ms") is not None and s["median_ms"] <= 10 and (s.get("peak_rss_mib_median") or 1e9) <= 20
            out.append(("cold start", f"{name}: median ms / peak RSS MiB ({s.get('what', '')})",
                        f"{fmt(s.get('median_ms'))} / {fmt(s.get('peak_rss_mib_median'), 1)}", "—", "—", "no peer", "≤ 10 ms, ≤ 20 MiB", verdict(ok)))
        m = subj.get("mlc") or {}
        out.append(("cold start", "mlc connection list: median ms / peak RSS MiB", f"{fmt(m.get('median_ms'))} / {fmt(m.get('peak_rss_mib_median'), 1)}",
                    f"`python3 -c pass` {fmt((subj.get('python-bare') or {}).get('median_ms'))}", f"`node -e 0` {fmt((subj.get('node-bare') or {}).get('median_ms'))}",
                    "interpreter start alone for reference", "(none)", ""))
    else:
        out.append(("cold start", "every function", "not run", "", "", "", "≤ 10 ms, ≤ 20 MiB", "n/a"))

    # HTTP throughput.
    http = wr.get("http") or {}
    if http:
        # Medians over the suite's rounds where it ran several (`peak_median`), else the one peak run.
        def rps(k):
            median = dig(http, k, "peak_median", "requests_per_s")
            return median if median is not None else dig(http, k, "peak", "requests_per_s")
        def cpu(k):
            median = dig(http, k, "peak_median", "cpu_us_per_request")
            return median if median is not None else dig(http, k, "cpu_us_per_request")
        rounds = dig(http, "swift", "peak_median", "rounds") or 1
        of_rounds = f" — median of {rounds} rounds" if rounds > 1 else ""
        def p99(k):
            return dig(http, k, "paced", "latency_ms", "p99")
        s_rps = rps("swift")
        out.append(("webhook HTTP", f"requests/s, durable write per request (SQLite){of_rounds}", fmt(s_rps, 0), fmt(rps("python"), 0), fmt(rps("node"), 0),
                    f"{fmt(ratio(s_rps, rps('python')), 2, '×')} Python, {fmt(ratio(s_rps, rps('node')), 2, '×')} Node",
                    "≥ 5× Python, ≥ 1× Node",
                    verdict(None if ratio(s_rps, rps("python")) is None or ratio(s_rps, rps("node")) is None
                            else ratio(s_rps, rps("python")) >= 5 and ratio(s_rps, rps("node")) >= 1)))
        out.append(("webhook HTTP", "requests/s on PostgreSQL", fmt(rps("swift-pg"), 0), "—", "—",
                    f"{fmt(ratio(rps('swift-pg'), s_rps), 2, '×')} of SQLite", "(none)", ""))
        out.append(("webhook HTTP", f"CPU µs per request{of_rounds}", fmt(cpu("swift"), 0), fmt(cpu("python"), 0),
                    fmt(cpu("node"), 0), "", "(none)", ""))
        out.append(("webhook HTTP", "p99 ms at half the peak rate", fmt(p99("swift")), fmt(p99("python")), fmt(p99("node")), "", "< 10 ms",
                    verdict(None if p99("swift") is None else p99("swift") < 10)))
    else:
        out.append(("webhook HTTP", "requests/s", "not run", "", "", "", "≥ 5× Python, ≥ 1× Node", "n/a"))

    # Store.
    res = st.get("results") or {}
    for op in ("insert", "lease", "get"):
        s, p = dig(res, "sqlite", op), dig(res, "postgres", op)
        if s is None and p is None:
            continue
        sv = s.get("per_second") if (s or {}).get("status") == "ok" else None
        pv = p.get("per_second") if (p or {}).get("status") == "ok" else None
        out.append(("store", f"{op} ops/s, 8 clients: SQLite / PostgreSQL", f"{fmt(sv, 0)} / {fmt(pv, 0)}", "—", "—",
                    f"PostgreSQL {fmt(ratio(pv, sv), 2, '×')} of SQLite", "(none)", ""))
    if not res:
        out.append(("store", "ops/s", "not run", "", "", "", "(none)", ""))

    # Orders.
    targets = od.get("targets") or {}
    if od:
        for t in od.get("round_trips") or []:
            name = "round_trips_supplied_number" if t.get("supplied_sales_order_number") else "round_trips_numbered_by_fo"
            tt = targets.get(name) or {}
            out.append(("orders", f"F&O round trips per order ({'SalesOrderNumber supplied' if t.get('supplied_sales_order_number') else 'numbered by F&O'}): mean / max",
                        f"{fmt(t.get('mean'))} / {t.get('max')}", "—", "—", "", tt.get("target", ""), verdict(tt.get("pass"))))
        c, n = od.get("connector") or {}, od.get("naive") or {}
        tt = targets.get("throughput_vs_naive") or {}
        out.append(("orders", "orders/min at 50 ms per F&O call + rate limit: connector / naive poster",
                    f"{fmt(c.get('orders_per_minute'), 0)}", "—", "—", f"naive {fmt(n.get('orders_per_minute'), 0)}: {fmt(tt.get('measured'), 2, '×')}",
                    tt.get("target", "≥ 5×"), verdict(tt.get("pass"))))
        wh = od.get("webhook") or {}
        tt = targets.get("webhook_p95_seconds") or {}
        out.append(("orders", "order placed → sales order via webhook: p50 / p95 ms", f"{fmt(wh.get('p50_ms'), 0)} / {fmt(wh.get('p95_ms'), 0)}",
                    "—", "—", "", "p95 ≤ 2 s", verdict(tt.get("pass"))))
    else:
        out.append(("orders", "round trips, orders/min, webhook latency", "not run", "", "", "", "", "n/a"))

    # Catalog.
    if ca:
        cfg = ca.get("config") or {}
        size = f"{fmt(cfg.get('skus'), 0)} SKUs"
        # `mlc bench-catalog` prints its three runs in this order: first push, unchanged, the changes.
        rows_in = dig(ca, "in_process", "rows") or []
        for index, (key, label) in enumerate((("first", "first push"), ("unchanged", "unchanged run"), ("changed", "1 % changed"))):
            sep = dig(ca, "separate_process", "runs", key) or {}
            inrow = rows_in[index] if index < len(rows_in) else {}
            out.append(("catalog", f"{label}, {size}: s (connector alone) / peak RSS MiB; in-process Woo calls, writes, F&O reads",
                        f"{fmt(dig(sep, 'wall_s', 'median'))} s / {fmt(dig(sep, 'peak_rss_mib', 'median'), 1)} MiB; "
                        f"{fmt(inrow.get('woo_requests'), 0)}, {fmt(inrow.get('woo_writes'), 0)}, {fmt(inrow.get('fo_requests'), 0)}",
                        "—", "—", "", "≤ 100 MiB" if key == "first" else "", verdict(dig(ca, "targets", 0, "pass")) if key == "first" else ""))
    else:
        out.append(("catalog", "push at 10,000 SKUs", "not run", "", "", "", "≤ 100 MiB", "n/a"))

    # Scale.
    if sc.get("sizes"):
        for row in sc["sizes"]:
            out.append(("scale", f"backlog {row['backlog']:,}: orders/min, ms per order, peak RSS MiB",
                        f"{fmt(dig(row, 'orders_per_minute', 'median'), 0)}, {fmt(dig(row, 'ms_per_order', 'median'), 1)}, {fmt(dig(row, 'peak_rss_mib', 'median'), 1)}",
                        "—", "—", "", "", ""))
        g = sc.get("grows_faster_than_linearly")
        out.append(("scale", "anything growing faster than linearly (time, CPU, RSS per order; largest ÷ middle backlog)",
                     "; ".join(f"{v['what']} ×{fmt(v['ratio'])}" for v in (sc.get("growth") or {}).values()) or "n/a",
                     "—", "—", "", "linear", verdict(None if g is None else not g)))
    else:
        out.append(("scale", "backlog 1×, 10×, 100×", "not run", "", "", "", "linear", "n/a"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--suites", required=True)
    ap.add_argument("--bin-dir", default="")
    ap.add_argument("--load-at-start", type=float)
    ap.add_argument("--started", type=int)
    ap.add_argument("--build-note", default="")
    ap.add_argument("--durations", default="")
    args = ap.parse_args()
    suites = args.suites.split()
    reports = {s: load(os.path.join(args.out, f"{s}.json")) for s in suites}
    durations = {}
    try:
        with open(args.durations) as f:
            for line in f:
                name, secs = line.split()
                durations[name] = int(secs)
    except (OSError, ValueError):
        pass
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    m = machine(args.load_at_start, repo)
    quick = any((r or {}).get("quick") or dig(r, "config", "quick") for r in reports.values())
    now = datetime.datetime.now(datetime.timezone.utc)
    table = rows(reports)
    report = {"suite": "all", "generated_at": now.isoformat(timespec="seconds"), "quick": bool(quick), "machine": m,
              "build": {"bin_dir": args.bin_dir, "release": True, "static_swift_stdlib": True, "note": args.build_note or None},
              "seconds_total": int(now.timestamp()) - args.started if args.started else None, "suite_seconds": durations,
              "table": [dict(zip(["area", "measure", "swift", "python", "node", "comparison", "target", "verdict"], r)) for r in table],
              "suites": reports}
    with open(os.path.join(args.out, "all.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    md = [f"# ml-connector benchmarks — `bench/run {'--quick ' if quick else ''}all`, {report['generated_at']}", ""]
    md.append(f"Machine: {m['nproc']} CPUs ({m['cpu']}), {fmt(m['memory_gib'], 1)} GiB RAM, {m['kernel']}, {m['os']}; {m['swift']}. "
              f"Build: `scripts/build-release` (release, static Swift standard library, function sections linked in cold-start order), commit {m['git_commit']}{' (uncommitted changes)' if m['git_dirty'] else ''}, binaries from `{args.bin_dir}`.")
    md.append(f"1-minute load average {fmt(m['loadavg_1m_at_start'])} at the start, {fmt(m['loadavg_1m_at_end'])} at the end; "
              f"{report['seconds_total']} s in all ({', '.join(f'{k} {v} s' for k, v in durations.items())}).")
    if (m["loadavg_1m_at_start"] or 0) > 0.5:
        md.append(f"**Warning:** the machine was busy (load {fmt(m['loadavg_1m_at_start'])} on {m['nproc']} CPUs) when the run started: these numbers are skewed.")
    if args.build_note:
        md.append(f"**Build note:** {args.build_note}")
    md += ["", "| area | measure | Swift connector | Python peer | Node.js peer | comparison | target | verdict |",
           "|---|---|---:|---:|---:|---|---|---|"]
    for r in table:
        md.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    md += ["", "Each suite's own table follows; the numbers behind every cell are in bench/out/all.json (`suites`)."]
    for s in suites:
        try:
            with open(os.path.join(args.out, f"{s}.md")) as f:
                md += ["", f.read().rstrip()]
        except OSError:
            md += ["", f"## {s}", "", "not run (no report written)"]
    text = "\n".join(md) + "\n"
    with open(os.path.join(args.out, "all.md"), "w") as f:
        f.write(text)
    # The per-suite tables were printed as each suite ran; print the combined table (not the copies).
    print("\n".join(md[: md.index("Each suite's own table follows; the numbers behind every cell are in bench/out/all.json (`suites`).") + 1]))
    print(f"\nwrote {os.path.join(args.out, 'all.json')} and {os.path.join(args.out, 'all.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
