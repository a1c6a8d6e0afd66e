"""What every suite report ends with: the machine line, a load warning, and writing the table."""


def machine_lines(machine):
    """The machine a suite ran on, and a warning when the machine was busy at the start."""
    lines = [f"Machine: {machine.get('nproc')} CPUs ({machine.get('cpu')}), "
             f"load {machine.get('loadavg_1m_at_start')} → {machine.get('loadavg_1m_at_end')}."]
    if (machine.get("loadavg_1m_at_start") or 0) > 0.5:
        lines.append(f"**Warning:** load average {machine.get('loadavg_1m_at_start')} at the start: "
                     "other work on the machine skews these numbers.")
    return lines


def finish(md, markdown_path, strict=False, all_pass=True):
    """Writes the markdown table, prints it, and returns the exit code (1 only for a strict run
    whose targets did not all pass)."""
    text = "\n".join(md) + "\n"
    with open(markdown_path, "w") as f:
        f.write(text)
    print(text, end="")
    if strict and not all_pass:
        print("BENCH_STRICT: not every target passed")
        return 1
    return 0
