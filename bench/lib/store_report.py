#!/usr/bin/env python3
"""Turn the raw results of bench/suites/store.sh into a markdown table and a JSON report.

Reads <results>/{machine,config,postgres}.json and <backend>.<operation>.json (the line printed by
`mlc store-bench`, plus a status). Writes --json and --markdown, and prints the markdown. Stdlib only.
"""
import argparse
import datetime
import json
import os

BACKENDS = [("sqlite", "SQLite"), ("postgres", "PostgreSQL")]
WHAT = {
    "insert": "insertIfAbsent of a new key, 512-byte value (one durable write)",
    "lease": "acquireLease + releaseLease on one of 16 keys per client: insert-if-absent, a read, a delete "
             "with expected version (two durable writes and a read)",
    "get": "get of one of 1,000 pre-seeded 512-byte values (read only)",
}


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def fmt_ms(v):
    return fmt(v, 3 if v < 0.1 else 2)


def fmt(v, digits=1, suffix=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{suffix}"
    return f"{v:,}{suffix}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    args = ap.parse_args()
    res = args.results

    machine = load(os.path.join(res, "machine.json"), {})
    config = load(os.path.join(res, "config.json"), {})
    postgres = load(os.path.join(res, "postgres.json"))
    ops = config.get("operations") or list(WHAT)
    results = {b: {op: load(os.path.join(res, f"{b}.{op}.json"), {"status": "not run"}) for op in ops}
               for b, _ in BACKENDS}

    def per_second(b, op):
        r = results[b][op]
        return r.get("per_second") if r.get("status") == "ok" else None

    ratios = {}
    for op in ops:
        s, p = per_second("sqlite", op), per_second("postgres", op)
        ratios[f"{op}_postgres_over_sqlite"] = p / s if s and p is not None else None

    report = {
        "suite": "store",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "config": config,
        "postgres": postgres,
        "results": results,
        "ratios": ratios,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    md = []
    md.append(f"## store benchmark — {'quick' if config.get('quick') else 'full'} run, {report['generated_at']}")
    md.append("")
    md.append(f"Machine: nproc={machine.get('nproc')}, CPU {machine.get('cpu')}, kernel {machine.get('kernel')}, "
              f"temp dir on {machine.get('tmp_fs')}; 1-minute load average {machine.get('loadavg_1m_at_start')} at the start, "
              f"{machine.get('loadavg_1m_at_end')} at the end (this run itself adds up to about 2).")
    load_avg = machine.get("loadavg_1m_at_start")
    if load_avg is not None and load_avg > 0.5:
        md.append("")
        md.append(f"**Warning:** the 1-minute load average was {load_avg} when the run started: other work on "
                  "the machine skews these numbers.")
    if not config.get("mlc_available"):
        md.append("")
        md.append(f"**Swift not measured:** {config.get('swift_note')}")
    md.append("")
    warm = config.get("warmup_seconds") or 0
    md.append(f"`mlc store-bench`: {config.get('clients')} concurrent clients in one process, "
              f"{fmt(config.get('seconds'), 0)} s per cell"
              + (f" after a {fmt(warm, 0)} s warm-up on the same store" if warm else "")
              + "; a fresh store per cell (SQLite file / PostgreSQL schema). p50/p99 over every operation of every client.")
    if postgres:
        md.append(f"PostgreSQL {str(postgres.get('server_version', '?')).split(' ')[0]}: throwaway cluster on this machine "
                  f"(same cores and disk), fsync={postgres.get('fsync')}, synchronous_commit={postgres.get('synchronous_commit')}, "
                  f"full_page_writes={postgres.get('full_page_writes')}, wal_sync_method={postgres.get('wal_sync_method')}.")
    md.append("")
    md.append("| operation | SQLite ops/s | p50 ms | p99 ms | PostgreSQL ops/s | p50 ms | p99 ms | PostgreSQL ÷ SQLite ops/s |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    notes = {}  # (status, reason) -> cells
    for op in ops:
        cells = []
        for b, label in BACKENDS:
            r = results[b][op]
            if r.get("status") == "ok":
                cells += [fmt(float(r["per_second"]), 0), fmt_ms(float(r["p50_ms"])), fmt_ms(float(r["p99_ms"]))]
            else:
                cells += [r.get("status", "?"), "", ""]
                notes.setdefault((r.get("status"), r.get("reason", "")), []).append(f"{label} `{op}`")
        cells.append(fmt(ratios[f"{op}_postgres_over_sqlite"], 2, "×"))
        md.append(f"| `{op}` | " + " | ".join(cells) + " |")
    md.append("")
    for op in ops:
        if op in WHAT:
            md.append(f"- `{op}`: {WHAT[op]}.")
    for (status, reason), where in notes.items():
        if config.get("mlc_available") or status != "skipped":
            md.append(f"- {', '.join(where)}: {status}: {reason}")
    text = "\n".join(md) + "\n"
    with open(args.markdown, "w") as f:
        f.write(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
