#!/usr/bin/env python3
"""Turn the raw results of bench/suites/cold-start.sh into a markdown table and a JSON report.

Reads <results>/{machine,config,gen}.json and, per subject, <name>.status, <name>.hyperfine.json,
<name>.rss (one %M per line) and <name>.smoke.out. Writes --json and --markdown and prints the
markdown. Stdlib only.
"""
import argparse
import datetime
import json
import os
import statistics

import report_common

# (name, label, what one run does, peer group)
SUBJECTS = [
    ("webhook-receiver", "`webhook-receiver`",
     "a fresh signed 3.8 KB WooCommerce delivery: verify, parse, durable SQLite write (dedupe + hand-on)", "webhook"),
    ("order-poster", "`order-poster`",
     "`com.mlconnector.orders.drain` for a connection with nothing pending: open the store, list pending work, answer",
     None),
    ("catalog-push", "`catalog-push`",
     "`dev.knative.sources.ping` for a connection whose catalog is off: open the store, unseal the connection, answer skipped",
     None),
    ("backfill-poll", "`backfill-poll`",
     "`com.mlconnector.backfill.tick`: one poll against `mlc sandbox`'s WooCommerce on loopback (webhook check, empty order list, cursor write)",
     None),
    ("mlc", "`mlc connection list`", "the CLI: open the store, list the connections", None),
    ("python", "Python peer `webhook_once.py`", "the same delivery: verify, parse, sqlite3 WAL synchronous=FULL insert", "webhook"),
    ("node", "Node.js peer `webhook_once.js`", "the same delivery: verify, parse, append + fsync", "webhook"),
    ("python-bare", "`python3 -c pass`", "interpreter start alone (reference)", None),
    ("node-bare", "`node -e 0`", "interpreter start alone (reference)", None),
]
SWIFT = {"webhook-receiver", "order-poster", "catalog-push", "backfill-poll", "mlc"}
MEDIAN_MS_MAX = 10.0
RSS_MIB_MAX = 20.0


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def quantile(values, q):
    s = sorted(values)
    if not s:
        return None
    pos = (len(s) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def fmt(v, digits=2, suffix=""):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}{suffix}"


def subject(res, name):
    st = load(os.path.join(res, f"{name}.status"), {"status": "missing", "reason": "not run"})
    out = dict(st)
    if st.get("status") != "ok":
        return out
    hf = load(os.path.join(res, f"{name}.hyperfine.json"), {})
    times = [t * 1000 for t in (hf.get("results") or [{}])[0].get("times", [])]
    r = (hf.get("results") or [{}])[0]
    if times:
        out.update({"runs": len(times), "median_ms": statistics.median(times), "p25_ms": quantile(times, 0.25),
                    "p75_ms": quantile(times, 0.75), "min_ms": min(times), "max_ms": max(times),
                    "mean_ms": statistics.fmean(times), "user_ms_mean": (r.get("user") or 0) * 1000,
                    "system_ms_mean": (r.get("system") or 0) * 1000})
    try:
        with open(os.path.join(res, f"{name}.rss")) as f:
            rss = [int(x) for x in f.read().split() if x.isdigit()]
    except OSError:
        rss = []
    if rss:
        out.update({"rss_runs": len(rss), "peak_rss_kib_median": statistics.median(rss), "peak_rss_kib_min": min(rss),
                    "peak_rss_kib_max": max(rss), "peak_rss_mib_median": statistics.median(rss) / 1024})
    try:
        with open(os.path.join(res, f"{name}.smoke.out")) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        out["answer"] = lines[-1][:300] if lines else ""
    except OSError:
        pass
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    res = args.results
    machine = load(os.path.join(res, "machine.json"), {})
    config = load(os.path.join(res, "config.json"), {})
    subjects = {name: subject(res, name) for name, *_ in SUBJECTS}
    for name, label, what, _ in SUBJECTS:
        subjects[name]["what"] = what
    wr = subjects["webhook-receiver"]
    ratios = {
        "median_python_over_webhook_receiver": ratio(subjects["python"].get("median_ms"), wr.get("median_ms")),
        "median_node_over_webhook_receiver": ratio(subjects["node"].get("median_ms"), wr.get("median_ms")),
        "rss_python_over_webhook_receiver": ratio(subjects["python"].get("peak_rss_kib_median"), wr.get("peak_rss_kib_median")),
        "rss_node_over_webhook_receiver": ratio(subjects["node"].get("peak_rss_kib_median"), wr.get("peak_rss_kib_median")),
    }
    targets = []
    for name in ["webhook-receiver", "order-poster", "catalog-push", "backfill-poll"]:
        s = subjects[name]
        m, r = s.get("median_ms"), s.get("peak_rss_mib_median")
        targets.append({"name": f"{name} cold start median ≤ 10 ms", "measured": m, "unit": "ms",
                        "pass": None if m is None else m <= MEDIAN_MS_MAX})
        targets.append({"name": f"{name} peak RSS ≤ 20 MiB", "measured": r, "unit": "MiB",
                        "pass": None if r is None else r <= RSS_MIB_MAX})
    report = {"suite": "cold-start", "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine, "config": config, "subjects": subjects, "ratios": ratios, "targets": targets,
              "all_targets_pass": all(t["pass"] for t in targets)}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    md = [f"## cold-start — once mode, one process per event ({'quick' if config.get('quick') else 'full'} run, {report['generated_at']})", ""]
    md.append(f"hyperfine -N, {config.get('cold_runs')} runs after {config.get('cold_warmup')} warm-up; peak RSS = median of "
              f"{config.get('rss_runs')} runs of `/usr/bin/time -f %M`. Swift: release, static stdlib, from `{config.get('swift_bin_dir')}`; "
              f"Python {config.get('python')}, Node {config.get('node')}.")
    if config.get("swift_note"):
        md += ["", f"**Swift note:** {config['swift_note']}"]
    md += ["", "| program | one run does | median ms | p25–p75 ms | min–max ms | peak RSS MiB | vs targets (≤ 10 ms, ≤ 20 MiB) | median ÷ webhook-receiver |",
           "|---|---|---:|---:|---:|---:|---|---:|"]
    for name, label, what, group in SUBJECTS:
        s = subjects[name]
        if s.get("status") != "ok":
            md.append(f"| {label} | {what} | {s.get('status')}: {s.get('reason', '')} | | | | | |")
            continue
        verdict = ""
        if name in SWIFT and name != "mlc":
            ok_t = s.get("median_ms") is not None and s["median_ms"] <= MEDIAN_MS_MAX
            ok_r = s.get("peak_rss_mib_median") is not None and s["peak_rss_mib_median"] <= RSS_MIB_MAX
            verdict = f"{'PASS' if ok_t else 'FAIL'} / {'PASS' if ok_r else 'FAIL'}"
        vs = ratio(s.get("median_ms"), wr.get("median_ms")) if group == "webhook" and name != "webhook-receiver" else None
        md.append(f"| {label} | {what} | {fmt(s.get('median_ms'))} | {fmt(s.get('p25_ms'))}–{fmt(s.get('p75_ms'))} | "
                  f"{fmt(s.get('min_ms'))}–{fmt(s.get('max_ms'))} | {fmt(s.get('peak_rss_mib_median'), 1)} | {verdict} | {fmt(vs, 2, '×')} |")
    md += ["", "Only webhook-receiver has peers (same decode + verify + durable write); the other functions are shown as absolute numbers.",
           ]
    md += report_common.machine_lines(machine)
    return report_common.finish(md, args.markdown, args.strict, report["all_targets_pass"])


if __name__ == "__main__":
    raise SystemExit(main())
