"""Template grouping accuracy (GA) on the Loghub 2k samples, and templating speed.

GA as in the Loghub benchmarks: a line counts as correct when the set of lines
its mined template groups together is exactly the set of lines sharing its
ground-truth ``EventTemplate``. Input is the ``Content`` column (the message
after the header), fed in file order, one line at a time, to the same
``TemplateMiner`` the engine uses (masking + Drain3), without persistence.

    .venv/bin/python bench/template_accuracy.py [--data ../shared/data/loghub] [--sweep]

Throughput: the three samples' messages repeated to ``--lines`` messages (each
copy's numbers shifted by the copy number, so numbers, ports, pids are new values) through a
fresh miner; prints lines/s.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

from alsate.engine.templates.miner import MinerConfig, TemplateMiner

DATASETS = ("Linux", "OpenSSH", "Apache")
TARGETS = {"Linux": 0.90, "OpenSSH": 0.95, "Apache": 0.95}
_NUMBER = re.compile(r"\d{1,9}")
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub"


def grouping_accuracy(truth: list[str], predicted: list[object]) -> float:
    """Fraction of lines whose predicted group equals their true group exactly."""
    true_groups: dict[str, set[int]] = defaultdict(set)
    pred_groups: dict[object, set[int]] = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, predicted, strict=True)):
        true_groups[t].add(i)
        pred_groups[p].add(i)
    correct = 0
    for lines in true_groups.values():
        first = next(iter(lines))
        if pred_groups[predicted[first]] == lines:
            correct += len(lines)
    return correct / len(truth) if truth else 0.0


def load(data: Path, name: str) -> tuple[list[str], list[str]]:
    with open(data / f"{name}_2k.log_structured.csv", newline="", encoding="utf-8", errors="replace") as fh:
        rows = list(csv.DictReader(fh))
    return [r["Content"] for r in rows], [r["EventTemplate"] for r in rows]


def ga_for(contents: list[str], truth: list[str], config: MinerConfig) -> tuple[float, int]:
    miner = TemplateMiner("bench", config, persist=False)
    predicted = [miner.add(c).cluster_id for c in contents]
    return grouping_accuracy(truth, predicted), len(miner.clusters())


def throughput(contents: list[str], lines: int) -> float:
    miner = TemplateMiner("bench", MinerConfig(), persist=False)
    batch: list[str] = []
    copy = 0
    while len(batch) < lines:
        def shifted(m: re.Match[str], shift: int = copy) -> str:
            return str(int(m.group()) + shift)

        batch.extend(_NUMBER.sub(shifted, c) for c in contents)
        copy += 1
    batch = batch[:lines]
    start = time.perf_counter()
    for message in batch:
        miner.add(message)
    return len(batch) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sweep", action="store_true", help="also print GA over a grid of sim_th and depth")
    ap.add_argument("--ablation", action="store_true",
                    help="also print GA of plain drain3 defaults, masking alone, tuning alone")
    ap.add_argument("--lines", type=int, default=300_000, help="messages for the throughput figure")
    args = ap.parse_args(argv)
    loaded = {name: load(args.data, name) for name in DATASETS}
    config = MinerConfig()
    print(f"template grouping accuracy (masking + Drain3 sim_th={config.sim_th} depth={config.depth})")
    print(f"{'dataset':10} {'GA':>6} {'target':>7} {'templates':>10} {'truth':>6}")
    failed = False
    for name, (contents, truth) in loaded.items():
        ga, n = ga_for(contents, truth, config)
        ok = ga >= TARGETS[name]
        failed |= not ok
        print(f"{name:10} {ga:6.4f} {TARGETS[name]:7.2f} {n:10d} {len(set(truth)):6d}  {'ok' if ok else 'BELOW'}")
    if args.sweep:
        print("\nsweep (GA Linux / OpenSSH / Apache):")
        for sim in (0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85):
            for depth in (4, 5, 6):
                cfg = MinerConfig(sim_th=sim, depth=depth)
                row = [ga_for(c, t, cfg)[0] for c, t in loaded.values()]
                print(f"  sim_th={sim:<5} depth={depth}  " + "  ".join(f"{g:.4f}" for g in row))
    if args.ablation:
        print("\nablation (GA Linux / OpenSSH / Apache):")
        rows = {
            "drain3 defaults (sim_th 0.4, depth 4), no masking": (MinerConfig(sim_th=0.4, depth=4), ()),
            "our masking, drain3 default parameters": (MinerConfig(sim_th=0.4, depth=4), None),
            "tuned parameters, no masking": (MinerConfig(), ()),
            "tuned parameters + masking (shipped)": (MinerConfig(), None),
        }
        for label, (cfg, masks) in rows.items():
            row = []
            for contents, truth in loaded.values():
                miner = TemplateMiner("bench", cfg, persist=False, **({} if masks is None else {"masks": masks}))
                row.append(grouping_accuracy(truth, [miner.add(c).cluster_id for c in contents]))
            print(f"  {label:52} " + "  ".join(f"{g:.4f}" for g in row))
    every = [c for contents, _ in loaded.values() for c in contents]
    rate = throughput(every, args.lines)
    print(f"\ntemplating throughput: {rate:,.0f} lines/s over {args.lines:,} messages (target >= 50,000)")
    return 1 if failed or rate < 50_000 else 0


if __name__ == "__main__":
    sys.exit(main())
