#!/usr/bin/env python3
"""Turn the raw results of bench/suites/scale.sh into a markdown table and a JSON report.

Reads <results>/{machine,config}.json and <n>.<run>.{json,time,rc}: `mlc bench-orders --backlog-only`'s
JSON (the connector's drain of n pending orders: seconds, posted, process CPU seconds during the drain,
RSS at its start and the peak) and the /usr/bin/time line of that process. Per size: medians and
min–max over the runs; per order: drain time, CPU, and the marginal RSS between sizes. Stdlib only.
"""
import argparse
import datetime
import json
import os
import statistics

import report_common

# A per-order cost at the largest backlog more than this many times the one at the middle backlog
# counts as growing faster than linearly (the smallest backlog is dominated by fixed costs).
SUPERLINEAR_FACTOR = 1.5


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def fmt(v, digits=2, suffix=""):
    return "n/a" if v is None else f"{v:,.{digits}f}{suffix}"


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return {}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    args = ap.parse_args()
    res = args.results
    machine = load(os.path.join(res, "machine.json"), {})
    config = load(os.path.join(res, "config.json"), {})
    sizes = config.get("sizes") or []
    rows = []
    for n in sizes:
        runs = []
        for run in range(1, int(config.get("runs") or 0) + 1):
            j = load(os.path.join(res, f"{n}.{run}.json"))
            t = []
            try:
                with open(os.path.join(res, f"{n}.{run}.time")) as f:
                    t = f.read().split()
            except OSError:
                pass
            if not j or "connector" not in j:
                continue
            c = j["connector"]
            runs.append({"run": run, "orders": c.get("orders"), "posted": c.get("posted"), "seconds": c.get("seconds"),
                         "orders_per_minute": c.get("orders_per_minute"), "cpu_s": c.get("process_cpu_seconds"),
                         "emulators_cpu_s": (c["fo_emulator_cpu_seconds"] + c.get("woo_emulator_cpu_seconds", 0))
                         if c.get("fo_emulator_cpu_seconds") is not None else None,
                         "rss_kib_at_drain_start": c.get("rss_kib_at_start"), "peak_rss_kib": c.get("peak_rss_kib"),
                         "process_peak_rss_kib": int(t[-3]) if len(t) >= 4 and t[-3].isdigit() else None,
                         "process_wall_s": float(t[-4]) if len(t) >= 4 else None,
                         "fo_requests": c.get("fo_requests"), "problems": j.get("problems", [])})
        row = {"backlog": n, "runs": runs,
               "orders_per_minute": spread([r["orders_per_minute"] for r in runs]),
               "seconds": spread([r["seconds"] for r in runs]),
               "ms_per_order": spread([r["seconds"] * 1000 / n for r in runs if r["seconds"] is not None]),
               "cpu_ms_per_order": spread([r["cpu_s"] * 1000 / n for r in runs if r["cpu_s"] is not None]),
               # The process less what the emulators spent answering requests (bench-orders measures
               # their routing under their locks; their HTTP servers stay in): the connector's share.
               "connector_cpu_ms_per_order": spread([(r["cpu_s"] - r["emulators_cpu_s"]) * 1000 / n for r in runs
                                                     if r["cpu_s"] is not None and r["emulators_cpu_s"] is not None]),
               "peak_rss_mib": spread([r["process_peak_rss_kib"] / 1024 for r in runs if r["process_peak_rss_kib"]]),
               "posted_all": all(r["posted"] == r["orders"] for r in runs) and bool(runs)}
        rows.append(row)
    # Marginal RSS per order between consecutive sizes (medians).
    for prev, cur in zip(rows, rows[1:]):
        a, b = prev["peak_rss_mib"].get("median"), cur["peak_rss_mib"].get("median")
        if a is not None and b is not None:
            cur["marginal_rss_kib_per_order"] = (b - a) * 1024 / (cur["backlog"] - prev["backlog"])
    verdicts = {}
    if len(rows) >= 3:
        mid, big = rows[-2], rows[-1]
        for key, label in [("ms_per_order", "drain time per order"), ("cpu_ms_per_order", "CPU per order"),
                           ("connector_cpu_ms_per_order", "CPU per order without the emulators' request handling")]:
            a, b = mid[key].get("median"), big[key].get("median")
            if a and b is not None:
                verdicts[key] = {"what": label, "middle": a, "largest": b, "ratio": b / a, "superlinear": b / a > SUPERLINEAR_FACTOR}
        a, b = mid.get("marginal_rss_kib_per_order"), big.get("marginal_rss_kib_per_order")
        if a is not None and b is not None and a > 0:
            verdicts["marginal_rss_kib_per_order"] = {"what": "RSS added per order", "middle": a, "largest": b, "ratio": b / a,
                                                      "superlinear": b / a > SUPERLINEAR_FACTOR and b > 1}
    report = {"suite": "scale", "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine, "config": config, "sizes": rows, "growth": verdicts,
              "grows_faster_than_linearly": any(v["superlinear"] for v in verdicts.values()) if verdicts else None}
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    md = [f"## scale — how cost grows with the backlog ({'quick' if config.get('quick') else 'full'} run, {report['generated_at']})", ""]
    md.append(f"The connector's drain (`OrderPosterFunction.drain`, concurrency {config.get('concurrency')}) of N pending orders against the F&O emulator "
              f"({fmt(config.get('latency_ms'), 0)} ms per call, rate limit {'off' if not config.get('rate_limit_per_second') else str(config.get('rate_limit_per_second')) + ' requests/s'}); "
              f"one `mlc bench-orders --backlog-only` process per size and run ({config.get('runs')} run(s) each; median, min–max). "
              "CPU and RSS are the whole process: connector, both emulators holding the orders, and the SQLite store; "
              "\"without emulators\" takes out the CPU the two emulators spent answering requests (measured around their routing; their HTTP servers stay in).")
    if config.get("status") != "ok":
        md += ["", f"**{config.get('status')}:** {config.get('reason')}"]
    md += ["", "| backlog | orders/min | drain s | ms per order | CPU ms per order | CPU ms per order without emulators | peak RSS MiB | RSS added per order (vs previous size) | all posted |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        o, s, m, c, p = r["orders_per_minute"], r["seconds"], r["ms_per_order"], r["cpu_ms_per_order"], r["peak_rss_mib"]
        k = r["connector_cpu_ms_per_order"]
        md.append(f"| {r['backlog']:,} | {fmt(o.get('median'), 0)} ({fmt(o.get('min'), 0)}–{fmt(o.get('max'), 0)}) | {fmt(s.get('median'), 1)} | "
                  f"{fmt(m.get('median'), 1)} ({fmt(m.get('min'), 1)}–{fmt(m.get('max'), 1)}) | {fmt(c.get('median'), 1)} | {fmt(k.get('median'), 1)} | "
                  f"{fmt(p.get('median'), 1)} ({fmt(p.get('min'), 1)}–{fmt(p.get('max'), 1)}) | "
                  f"{fmt(r.get('marginal_rss_kib_per_order'), 1, ' KiB')} | {'yes' if r['posted_all'] else 'NO'} |")
    md.append("")
    if verdicts:
        parts = [f"{v['what']} ×{fmt(v['ratio'])} from {rows[-2]['backlog']:,} to {rows[-1]['backlog']:,} ({'FASTER than linear' if v['superlinear'] else 'linear or better'})"
                 for v in verdicts.values()]
        md.append("Growth (per-order cost at the largest backlog ÷ at the middle one; above "
                  f"{SUPERLINEAR_FACTOR}× counts as faster than linear): " + "; ".join(parts) + ".")
    md += report_common.machine_lines(machine)
    return report_common.finish(md, args.markdown)


if __name__ == "__main__":
    raise SystemExit(main())
