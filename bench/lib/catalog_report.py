#!/usr/bin/env python3
"""Turn the raw results of bench/suites/catalog.sh into a markdown table and a JSON report.

Reads <results>/{machine,config}.json, inproc.{out,time} (`mlc bench-catalog`'s table and its
/usr/bin/time line) and sep.<round>.<run>.{time,out,rc} (catalog-push once mode against `mlc sandbox`).
Writes --json and --markdown and prints the markdown. Stdlib only.
"""
import argparse
import datetime
import json
import os
import statistics

import report_common

RUNS = [("first", "first push"), ("unchanged", "unchanged run"), ("changed", "1 % changed")]
RSS_MIB_MAX = 100.0


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def fmt(v, digits=2, suffix=""):
    return "n/a" if v is None else f"{v:,.{digits}f}{suffix}"


def spread(values):
    if not values:
        return {}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def inproc_rows(text):
    """The rows of `mlc bench-catalog`'s table."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 9 or cells[0] in ("run", "") or cells[0].startswith("---"):
            continue
        try:
            nums = [float(c) for c in cells[1:]]
        except ValueError:
            continue
        rows.append({"run": cells[0], "seconds": nums[0], "created": int(nums[1]), "updated": int(nums[2]),
                     "unchanged": int(nums[3]), "failed": int(nums[4]), "woo_requests": int(nums[5]),
                     "woo_writes": int(nums[6]), "fo_requests": int(nums[7])})
    return rows


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

    inproc = {"status": config.get("inproc_status"), "reason": config.get("inproc_reason") or None,
              "rows": inproc_rows(read(os.path.join(res, "inproc.out")))}
    t = read(os.path.join(res, "inproc.time")).split()
    if len(t) >= 2 and t[-1].isdigit():
        inproc["process_wall_s"], inproc["process_peak_rss_kib"] = float(t[-2]), int(t[-1])

    separate = {"status": config.get("separate_status"), "reason": config.get("separate_reason") or None, "runs": {}}
    for key, _ in RUNS:
        per_round = []
        for rnd in range(1, int(config.get("rounds") or 0) + 1):
            fields = read(os.path.join(res, f"sep.{rnd}.{key}.time")).split()
            rc = read(os.path.join(res, f"sep.{rnd}.{key}.rc")).strip()
            out = [l for l in read(os.path.join(res, f"sep.{rnd}.{key}.out")).splitlines() if l.strip()]
            answer = {}
            if out:
                try:
                    answer = json.loads(out[-1])
                except ValueError:
                    answer = {"raw": out[-1][:300]}
            if len(fields) >= 4 and fields[-3].isdigit():
                wall, rss, user, sys_ = float(fields[-4]), int(fields[-3]), float(fields[-2]), float(fields[-1])
                per_round.append({"round": rnd, "exit": int(rc or -1), "wall_s": wall, "peak_rss_kib": rss,
                                  "cpu_s": user + sys_, "answer": answer})
        ok = [r for r in per_round if r["exit"] == 0]
        separate["runs"][key] = {"rounds": per_round,
                                 "wall_s": spread([r["wall_s"] for r in ok]),
                                 "cpu_s": spread([r["cpu_s"] for r in ok]),
                                 "peak_rss_mib": spread([r["peak_rss_kib"] / 1024 for r in ok]),
                                 "failed_rounds": len(per_round) - len(ok)}
    peaks = [r["peak_rss_kib"] / 1024 for k in separate["runs"].values() for r in k["rounds"] if r["exit"] == 0]
    worst = max(peaks) if peaks else None
    targets = [{"name": "catalog-push peak RSS ≤ 100 MiB at the full size (the connector alone; every run, worst)",
                "measured": worst, "unit": "MiB", "pass": None if worst is None else worst <= RSS_MIB_MAX}]
    report = {"suite": "catalog", "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine, "config": config, "in_process": inproc, "separate_process": separate, "targets": targets,
              "all_targets_pass": all(t["pass"] for t in targets)}
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    size = f"{config.get('items'):,} simple items + {config.get('masters')} masters × {config.get('variants')} variants = {config.get('skus'):,} SKUs"
    md = [f"## catalog — catalog push at {size} ({'quick' if config.get('quick') else 'full'} run, {report['generated_at']})", ""]
    if config.get("swift_note"):
        md += [f"**Swift note:** {config['swift_note']}", ""]
    md += [f"### a. `mlc bench-catalog` — push and both emulators in one process; change = on hand of {config.get('changed')} items", ""]
    if inproc["rows"]:
        md += ["| run | seconds | created | updated | unchanged | failed | WooCommerce requests | WooCommerce writes | F&O requests |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in inproc["rows"]:
            md.append(f"| {r['run']} | {fmt(r['seconds'])} | {r['created']:,} | {r['updated']:,} | {r['unchanged']:,} | {r['failed']:,} | "
                      f"{r['woo_requests']:,} | {r['woo_writes']:,} | {r['fo_requests']:,} |")
        if "process_peak_rss_kib" in inproc:
            md += ["", f"Whole process (push + both emulators holding the catalog): peak RSS {fmt(inproc['process_peak_rss_kib'] / 1024, 1)} MiB, "
                       f"{fmt(inproc.get('process_wall_s'), 1)} s including seeding."]
    else:
        md.append(f"{inproc['status']}: {inproc['reason'] or 'no table in the output'}")
    md += ["", f"### b. the connector alone — `catalog-push --event-file ping.json` (once mode) against `mlc sandbox --seed-catalog` in another process; "
               f"change = sales price of {config.get('changed')} items (PATCH through F&O's OData); {config.get('rounds')} round(s), a fresh sandbox and store each", ""]
    if separate["status"] != "ok":
        md.append(f"{separate['status']}: {separate['reason']}")
    md += ["| run | wall s median (min–max) | CPU s median | peak RSS MiB median (min–max) | answer (last round) |", "|---|---:|---:|---:|---|"]
    for key, label in RUNS:
        r = separate["runs"].get(key, {})
        w, c, m = r.get("wall_s", {}), r.get("cpu_s", {}), r.get("peak_rss_mib", {})
        last = (r.get("rounds") or [{}])[-1].get("answer", {})
        last = last.get("response", last) if isinstance(last.get("response"), dict) else last
        answer = ", ".join(f"{k} {v}" for k, v in last.items() if k in ("status", "created", "updated", "unchanged", "failed")) or "n/a"
        fails = f" ({r.get('failed_rounds')} failed)" if r.get("failed_rounds") else ""
        md.append(f"| {label}{fails} | {fmt(w.get('median'))} ({fmt(w.get('min'))}–{fmt(w.get('max'))}) | {fmt(c.get('median'))} | "
                  f"{fmt(m.get('median'), 1)} ({fmt(m.get('min'), 1)}–{fmt(m.get('max'), 1)}) | {answer} |")
    t0 = targets[0]
    md += ["", f"Target: {t0['name']}: {fmt(t0['measured'], 1, ' MiB')} — {'n/a' if t0['pass'] is None else ('PASS' if t0['pass'] else 'FAIL')}"
               + (" (quick size: not the target's size)" if config.get("quick") else ""),
           ]
    md += report_common.machine_lines(machine)
    return report_common.finish(md, args.markdown, args.strict, report["all_targets_pass"])


if __name__ == "__main__":
    raise SystemExit(main())
