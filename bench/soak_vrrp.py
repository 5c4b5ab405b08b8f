"""Soak: a seeded random sequence of faults on a 3-router pykad cluster, checked after each.

The cluster of ``tests/netns/test_vrrp_faults.py`` (A 150, B 100, C 50 on one
bridge; VRRPv3, 100 ms adverts, one VIP). Each step picks a fault and a node at
random (seeded), injects it, waits for the state the protocol predicts, heals it
and waits for A to be the only master again:

- ``kill``: kill -9 of the node's daemon (its VIP stays on the dead node), then a
  restart (pykad removes the stale VIP at start-up);
- ``link``: ``ip link set eth0 down``, then up;
- ``oneway``: nftables drops VRRP on the node's input or its output;
- ``partition``: both ways;
- ``loss``: 20 % random loss (``numgen random mod 100 < 20``) on the node's input
  or output for 3 s; transitions during the window are legitimate (three lost
  adverts in a row exceed a backup's master-down interval) and are counted; with
  loss on A's output a capture on the bridge checks each gap against the rule;
- ``burst``: deterministic loss on A's output, the first 2 or 3 of every 10 adverts
  (``numgen inc mod 10 < N``) for 3 s: 2 in a row must never move the master, 3 in
  a row must every time (checked on the wire as for ``loss``);
- ``ifdel`` (off with ``--no-ifdel``): delete the node's veth, re-create it and
  plug it back into the bridge (a new ifindex: pykad moves its sockets onto it).

The predicted state is the protocol's steady state: taking the live routers in
decreasing priority, a router is master unless it hears a higher-priority
master. "Converged" means exactly the predicted routers log MASTER and the VIP
is on them only (``ip -j addr``), within the new master's master-down interval
plus the test file's ``SLACK`` (a router yielding: one advert interval plus
``SLACK``; a restart: ``STARTUP`` more), and it holds for 0.5 s.
A miss is recorded with the logs, the cluster is rebuilt, and the soak goes on.

    sudo .venv/bin/python bench/soak_vrrp.py [--duration 600] [--seed N] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from netns.test_vrrp_faults import (  # noqa: E402
    ADVERT_INT,
    NODES,
    SLACK,
    STARTUP,
    Cluster,
    adverts,
    capture_adverts,
    check_master_down_rule,
    nft_drop,
    nft_heal,
)
from sidebyside import machine, update_markdown  # noqa: E402

from lab.keepalived import KeepalivedLab  # noqa: E402
from lab.netns import LabCommandError, Topology  # noqa: E402

SECTION = "vrrp_soak"
FAULTS = ("kill", "link", "oneway", "partition", "loss", "burst")
LOSS_WINDOW = 3.0
ADDRS = {n: a.split("/")[0] for n, (a, _) in NODES.items()}
PRIORITIES = {n: p for n, (_, p) in NODES.items()}


def predicted_masters(alive: set[str], blocked: set[tuple[str, str]]) -> set[str]:
    """The protocol's steady state: highest priority first, a router is master unless it
    hears (``(src, dst)`` not in ``blocked``) a higher-priority master."""
    masters: set[str] = set()
    for x in sorted(alive, key=lambda n: -PRIORITIES[n]):
        if not any((y, x) not in blocked for y in masters):
            masters.add(x)
    return masters


def blocked_by(node: str, hooks: Sequence[str]) -> set[tuple[str, str]]:
    pairs = set()
    for other in NODES:
        if other == node:
            continue
        if "in" in hooks:
            pairs.add((other, node))
        if "out" in hooks:
            pairs.add((node, other))
    return pairs


@dataclass
class Phase:
    """One convergence: the time it took and its bound (or the failure)."""

    fault: str
    phase: str
    took: float | None
    bound: float
    detail: str = ""


@dataclass
class Soak:
    seed: int
    duration: float
    ifdel: bool
    workdir: Path
    phases: list[Phase] = field(default_factory=list)
    steps: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    loss_windows: int = 0
    loss_transitions: int = 0
    loss_gaps_checked: int = 0
    loss_takeovers_required: int = 0
    loss_takeovers_seen: int = 0
    rebuilds: int = 0
    master_transitions: int = 0

    # ---- the cluster

    @contextmanager
    def cluster(self, n: int) -> Iterator[Cluster]:
        with (
            Topology(self.workdir / f"netns{n}") as topo,
            KeepalivedLab(self.workdir / f"k{n}") as lab,
        ):
            topo.lan({node: addr for node, (addr, _) in NODES.items()})
            c = Cluster(topo, lab, dict(PRIORITIES))
            for node in NODES:
                c.start(node)
            c.converge("A", STARTUP)
            try:
                yield c
            finally:
                self.master_transitions += sum(
                    d.log_text().count("Entering MASTER STATE") for d in lab
                )

    def converge(
        self, c: Cluster, fault: str, phase: str, want: set[str], bound: float, t0: float
    ) -> None:
        try:
            took = c.converge(want, bound, since=t0)
        except AssertionError as exc:
            self.phases.append(Phase(fault, phase, None, bound, str(exc)))
            raise
        self.phases.append(Phase(fault, phase, took, bound))

    def bound_for(self, c: Cluster, before: set[str], after: set[str]) -> float:
        new = after - before
        return (max(c.mdi(n) for n in new) if new else ADVERT_INT) + SLACK

    # ---- one step

    def step(self, c: Cluster, rng: random.Random) -> None:
        kinds = FAULTS + (("ifdel",) if self.ifdel else ())
        fault = rng.choice(kinds)
        node = rng.choice(sorted(NODES))
        topo = c.topo
        alive = set(NODES)
        steady = {"A"}
        role = "master" if node == "A" else "backup"
        label = f"{fault} {role}"
        if fault == "kill":
            t0 = time.monotonic()
            c.kill(node)
            want = predicted_masters(alive - {node}, set())
            self.converge(c, label, "fault", want, self.bound_for(c, steady, want), t0)
            t0 = time.monotonic()
            c.start(node)
            bound = STARTUP + self.bound_for(c, want, steady)
            self.converge(c, label, "heal", steady, bound + c.mdi("A"), t0)
        elif fault == "link":
            t0 = time.monotonic()
            topo.link_set(node, "eth0", up=False)
            want = predicted_masters(alive - {node}, set())
            self.converge(c, label, "fault", want, self.bound_for(c, steady, want), t0)
            t0 = time.monotonic()
            topo.link_set(node, "eth0", up=True)
            self.converge(c, label, "heal", steady, c.mdi(node) + SLACK, t0)
        elif fault in ("oneway", "partition"):
            hooks = ["in", "out"] if fault == "partition" else [rng.choice(["in", "out"])]
            label = f"{fault} {role} {'+'.join(hooks)}"
            t0 = time.monotonic()
            nft_drop(topo, node, hooks)
            want = predicted_masters(alive, blocked_by(node, hooks))
            self.converge(c, label, "fault", want, self.bound_for(c, steady, want), t0)
            t0 = time.monotonic()
            nft_heal(topo, node)
            self.converge(c, label, "heal", steady, self.bound_for(c, want, steady), t0)
        elif fault == "loss":
            hook = rng.choice(["in", "out"])
            label = f"loss {role} {hook}"
            self.loss(c, node, hook, label)
        elif fault == "burst":
            n = rng.choice([2, 3])
            label = f"burst of {n} lost, master out"
            self.loss(c, "A", "out", label, f"numgen inc mod 10 < {n}")
        else:  # ifdel
            t0 = time.monotonic()
            topo.ip(node, "link", "del", "eth0")
            want = predicted_masters(alive - {node}, set())
            self.converge(c, label, "fault", want, self.bound_for(c, steady, want), t0)
            t0 = time.monotonic()
            topo.connect(node, "sw", addrs=[NODES[node][0]])
            self.converge(c, label, "heal", steady, c.mdi("A") + SLACK, t0)
        self.steps[label] += 1

    def loss(
        self,
        c: Cluster,
        node: str,
        hook: str,
        label: str,
        match: str = "numgen random mod 100 < 20",
    ) -> None:
        topo = c.topo
        capture = node == "A" and hook == "out"
        cap = capture_adverts(c) if capture else None
        marks = {n: d.log_mark() for n, d in c.daemons.items()}
        nft_drop(topo, node, [hook], match)
        time.sleep(LOSS_WINDOW)
        t0 = time.monotonic()
        nft_heal(topo, node)
        self.loss_windows += 1
        self.loss_transitions += sum(
            d.log_text()[marks[n] :].count("Entering MASTER STATE") for n, d in c.daemons.items()
        )
        # A transition may be under way at the heal: A's next advert ends it.
        self.converge(c, label, "heal", {"A"}, c.mdi("A") + ADVERT_INT + SLACK, t0)
        if cap is not None:
            frames = cap.packets()
            cap.stop()
            verdict = check_master_down_rule(adverts(frames), PRIORITIES, ADDRS, ADVERT_INT, 0.025)
            self.loss_gaps_checked += verdict.gaps
            self.loss_takeovers_required += verdict.must_take_over
            self.loss_takeovers_seen += verdict.took_over
            for v in verdict.violations:
                self.failures.append(f"{label}: master-down rule: {v}")

    # ---- the loop

    def run(self) -> None:
        rng = random.Random(self.seed)
        end = time.monotonic() + self.duration
        n = 0
        while time.monotonic() < end:
            n += 1
            try:
                with self.cluster(n) as c:
                    while time.monotonic() < end:
                        self.step(c, rng)
                        print(f"\r{sum(self.steps.values())} steps", end="", flush=True)
            except (AssertionError, LabCommandError) as exc:
                self.failures.append(f"step {sum(self.steps.values()) + 1}: {exc}")
                print(f"\nFAILURE (rebuilding the cluster): {str(exc)[:4000]}", flush=True)
                self.rebuilds += 1
        print()

    # ---- the report

    def rows(self) -> list[tuple[str, int, str, str, str, int]]:
        by: dict[tuple[str, str], list[Phase]] = defaultdict(list)
        for p in self.phases:
            by[(p.fault, p.phase)].append(p)
        out = []
        for fault, phase in sorted(by):
            ps = by[(fault, phase)]
            ok = [p.took for p in ps if p.took is not None]
            bounds = [p.bound for p in ps]
            took = f"{statistics.median(ok):.3f} ({min(ok):.3f}-{max(ok):.3f})" if ok else "-"
            bound = f"{min(bounds):.3f}-{max(bounds):.3f}"
            late = f"{max(p.took / p.bound for p in ps if p.took is not None):.2f}" if ok else "-"
            out.append((f"{fault}: {phase}", len(ps), took, bound, late, len(ps) - len(ok)))
        return out

    def summary(self) -> str:
        lines = [
            f"seed {self.seed}, {self.duration:g} s, {sum(self.steps.values())} steps, "
            f"{len(self.failures)} failures, {self.rebuilds} cluster rebuilds",
            f"{'convergence':34} {'n':>4} {'took s median (min-max)':>26} {'bound s':>12} "
            f"{'max took/bound':>14} {'missed':>6}",
        ]
        for name, n, took, bound, late, missed in self.rows():
            lines.append(f"{name:34} {n:4} {took:>26} {bound:>12} {late:>14} {missed:6}")
        lines.append(self.loss_text())
        lines.append(f"MASTER transitions logged in total: {self.master_transitions}")
        lines += [f"FAILURE: {f[:2000]}" for f in self.failures]
        return "\n".join(lines)

    def loss_text(self) -> str:
        return (
            f"Loss windows (20 % random on any node's input or output, or bursts of 2 or 3 "
            f"of every 10 of A's adverts): {self.loss_windows} of {LOSS_WINDOW:g} s, "
            f"{self.loss_transitions} MASTER transitions in them (legitimate after 3 adverts "
            f"lost in a row). On A's output, {self.loss_gaps_checked} advert gaps were "
            f"checked on the wire against the master-down interval: {self.loss_takeovers_required} "
            f"required a takeover, {self.loss_takeovers_seen} happened, none too early."
            if not any("master-down rule" in f for f in self.failures)
            else f"{self.loss_windows} loss windows: master-down rule violated, see failures."
        )

    def section(self) -> str:
        when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        total = sum(self.steps.values())
        lines = [
            f"<!-- bench:{SECTION} -->",
            "## VRRP soak: random faults on a 3-router pykad cluster",
            "",
            f"Measured {when} on {machine()}: `bench/soak_vrrp.py --duration "
            f"{self.duration:g} --seed {self.seed}`. {total} faults "
            f"({', '.join(f'{k} {v}' for k, v in sorted(self.steps.items()))}), "
            f"{len(self.failures)} failures, {self.rebuilds} cluster rebuilds.",
            "",
            "| convergence | n | took s, median (min-max) | bound s | max took / bound | missed |",
            "|---|---|---|---|---|---|",
            *(
                f"| {name} | {n} | {took} | {bound} | {late} | {missed} |"
                for name, n, took, bound, late, missed in self.rows()
            ),
            "",
            "pykad only (VRRPv3, 100 ms adverts; A 150, B 100, C 50 on one bridge, one VIP). "
            "After each fault and each heal the soak waits for the protocol's steady state "
            "(exactly the predicted routers MASTER, the VIP on them only, held 0.5 s); the "
            "bound is the new master's master-down interval (+ start-up for a restart) + "
            f"{SLACK:g} s. 'took' is from the fault command to the check seeing the state "
            "(the checker polls every 20 ms).",
            self.loss_text(),
            "Interface deletion and re-creation is among the faults"
            + ("." if self.ifdel else " only without `--no-ifdel`; this run left it out."),
        ]
        lines += [f"- failure: {f.splitlines()[0][:300]}" for f in self.failures]
        lines.append(f"<!-- /bench:{SECTION} -->")
        return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument(
        "--no-ifdel", dest="ifdel", action="store_false", help="no interface deletion faults"
    )
    parser.add_argument("--write", action="store_true", help=f"write the {SECTION} section")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed {seed}", flush=True)
    with tempfile.TemporaryDirectory(prefix="pykad-soak-") as tmp:
        soak = Soak(seed, args.duration, args.ifdel, Path(tmp))
        with suppress(KeyboardInterrupt):
            soak.run()
        print(soak.summary())
        if args.write:
            update_markdown(SECTION, soak.section(), args.output)
    return 1 if soak.failures else 0


if __name__ == "__main__":
    sys.exit(main())
