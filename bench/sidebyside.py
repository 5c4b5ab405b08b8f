"""Side-by-side benchmarks: pykad and keepalived measured in the same run.

    sudo .venv/bin/python bench/sidebyside.py [ENTRY ...] [--quick]

Each entry measures pykad and, where it has a counterpart, keepalived on this
machine now, and rewrites its own section of BENCHMARKS.md (between
``<!-- bench:NAME -->`` markers) with the machine, the date, medians, min-max
and the ratios. Sections of entries that were not run are kept as they are.
Goals are written next to the numbers; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the labs: import lab.netns, lab.keepalived
sys.path.insert(0, str(ROOT / "bench"))

BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


@dataclass(frozen=True)
class Sample:
    """Repeated measurements of one quantity."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, fmt: str = "{:,.0f}") -> str:
        lo, hi = min(self.values), max(self.values)
        return f"{fmt.format(self.median)} ({fmt.format(lo)}-{fmt.format(hi)})"


@dataclass(frozen=True)
class Row:
    """One line of a section's table."""

    metric: str
    pykad: str
    keepalived: str
    ratio: str
    goal: str = ""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} x {cpu}, Linux {platform.release()}, Python {platform.python_version()}"
    )


def render(name: str, title: str, rows: Sequence[Row], notes: Sequence[str]) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- bench:{name} -->",
        f"## {title}",
        "",
        f"Measured {when} on {machine()}. Median (min-max) of the repeats.",
        "",
        "| metric | pykad | keepalived | pykad / keepalived | goal |",
        "|---|---|---|---|---|",
        *(f"| {r.metric} | {r.pykad} | {r.keepalived} | {r.ratio} | {r.goal} |" for r in rows),
        "",
        *notes,
        f"<!-- /bench:{name} -->",
    ]
    return "\n".join(lines)


def update_markdown(name: str, section: str, path: Path = BENCHMARKS_MD) -> None:
    text = path.read_text() if path.exists() else "# pykad benchmarks\n"
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


Entry = Callable[[bool], tuple[str, list[Row], list[str]]]


def entries() -> dict[str, Entry]:
    from bench_bfd import bfd_detection, bfd_failover, bfd_scale
    from bench_checkers import checker_load
    from bench_config_test import config_test
    from bench_failover import failover
    from bench_ipvs import ipvs_program
    from bench_reload import reload
    from bench_vrrp_codec import vrrp_codec
    from bench_vrrp_scale import vrrp_scale

    return {
        "vrrp_codec": vrrp_codec,
        "config_test": config_test,
        "vrrp_scale": vrrp_scale,
        "failover": failover,
        "bfd_detection": bfd_detection,
        "bfd_failover": bfd_failover,
        "bfd_scale": bfd_scale,
        "ipvs_program": ipvs_program,
        "checker_load": checker_load,
        "reload": reload,
    }


def main(argv: Sequence[str] | None = None) -> int:
    known = entries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entry", nargs="*", help=f"one of {', '.join(known)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD)
    args = parser.parse_args(argv)
    unknown = set(args.entry) - set(known)
    if unknown:
        parser.error(f"unknown entries: {', '.join(sorted(unknown))}")
    for name in args.entry or list(known):
        print(f"== {name}", flush=True)
        title, rows, notes = known[name](args.quick)
        section = render(name, title, rows, notes)
        print(section, flush=True)
        update_markdown(name, section, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
