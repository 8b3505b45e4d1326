"""Detector precision and recall on the labelled incident set (tests/incidents/).

Each incident log is parsed with the engine's parser for its ``kind`` (origin =
the file's stem), fed to a fresh ``FindingsEngine`` one record at a time, and
its findings compared with the labels:

* a label ``{"id": X}`` is found by the finding whose id is X (``{origin}`` in X
  stands for the origin); ``{"detector": D, "template": S}`` by a finding of
  detector D whose template contains S;
* true positives = labels found; false negatives = labels not found; false
  positives = findings that match no label (in the normal-traffic incidents,
  every finding is one).

A second, independent check runs on real data: in the Loghub OpenSSH sample,
the addresses that a brute-force rule computed from the ground-truth
``EventTemplate`` column (10 failure events from one address within 10
minutes) flags, against the addresses the engine's ``ssh.bruteforce`` reports.

    .venv/bin/python bench/detector_eval.py [--dir tests/incidents] [-v]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

from alsate.engine.findings import Finding, FindingsEngine
from alsate.engine.parse import parse_lines

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "tests" / "incidents"
LOGHUB = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "loghub"
#: Ground-truth OpenSSH event templates that are one failed authentication each.
FAILURE_TEMPLATES = (
    "Failed password for <*> from <*> port <*> ssh2",
    "Failed password for invalid user <*> from <*> port <*> ssh2",
    "Failed none for invalid user <*> from <*> port <*> ssh2",
    "Invalid user <*> from <*>",
    "pam_unix(sshd:auth): authentication failure; logname= uid=<*> euid=<*> tty=ssh ruser= rhost=<*>",
    "pam_unix(sshd:auth): authentication failure; logname= uid=<*> euid=<*> tty=ssh ruser= rhost=<*> user=<*>",
)
_REPEAT = "message repeated <*> times: [ Failed password for root from <*> port <*>]"
_IP = re.compile(r"(\d{1,3}(?:\.\d{1,3}){3})")
TARGET = 0.9


@dataclass
class IncidentResult:
    name: str
    expected: int
    found: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def _matches(label: dict, finding: Finding, origin: str) -> bool:
    if "id" in label:
        return finding.id == label["id"].replace("{origin}", origin)
    return finding.detector == label["detector"] and label["template"] in finding.template


def run_incident(label_path: Path) -> IncidentResult:
    label = json.loads(label_path.read_text(encoding="utf-8"))
    stem = label_path.stem
    log_path = next(p for p in label_path.parent.glob(stem + ".*") if p.suffix in (".log", ".jsonl"))
    with open(log_path, encoding="utf-8") as fh:
        records = parse_lines(label["kind"], fh, origin=stem)
    engine = FindingsEngine(persist_templates=False)
    for record in records:
        engine.feed(record)
    findings = engine.findings()
    result = IncidentResult(stem, len(label["expect"]))
    unused = list(findings)
    for want in label["expect"]:
        hit = next((f for f in unused if _matches(want, f, stem)), None)
        text = want.get("id") or f"{want['detector']}~{want['template']}"
        if hit is None:
            result.missed.append(text)
        else:
            unused.remove(hit)
            result.found.append(hit.id)
    result.extra = [f.id for f in unused]
    return result


def evaluate(directory: Path = DEFAULT_DIR) -> list[IncidentResult]:
    return [run_incident(p) for p in sorted(directory.glob("[0-9][0-9]-*.json"))]


def totals(results: list[IncidentResult]) -> tuple[float, float, int, int, int]:
    tp = sum(len(r.found) for r in results)
    fn = sum(len(r.missed) for r in results)
    fp = sum(len(r.extra) for r in results)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, tp, fp, fn


def loghub_bruteforce(loghub: Path = LOGHUB, threshold: int = 10, window: float = 600.0) -> tuple[set, set]:
    """(addresses flagged from ground-truth templates, addresses the engine flags) on OpenSSH_2k."""
    truth: set[str] = set()
    events: dict[str, deque] = defaultdict(deque)
    with open(loghub / "OpenSSH_2k.log_structured.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            template = row["EventTemplate"]
            weight = 1
            if template == _REPEAT:
                weight = int(re.search(r"repeated (\d+) times", row["Content"]).group(1))
            elif template not in FAILURE_TEMPLATES:
                continue
            m = _IP.search(row["Content"])
            if m is None:
                continue
            h, mi, se = (int(x) for x in row["Time"].split(":"))
            ts = int(row["Day"]) * 86400 + h * 3600 + mi * 60 + se
            q = events[m.group(1)]
            q.extend([ts] * weight)
            while q and q[0] < ts - window:
                q.popleft()
            if len(q) >= threshold:
                truth.add(m.group(1))
    engine = FindingsEngine(persist_templates=False)
    with open(loghub / "OpenSSH_2k.log", encoding="utf-8", errors="replace") as fh:
        for record in parse_lines("syslog", fh, origin="OpenSSH_2k.log"):
            engine.feed(record)
    found = {f.id.split(":", 1)[1] for f in engine.findings() if f.detector == "ssh.bruteforce"}
    return truth, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    results = evaluate(args.dir)
    for r in results:
        ok = not r.missed and not r.extra
        if args.verbose or not ok:
            print(f"{'ok  ' if ok else 'FAIL'} {r.name}: found {r.found} missed {r.missed} extra {r.extra}")
    precision, recall, tp, fp, fn = totals(results)
    positives = [r for r in results if r.expected]
    negatives = [r for r in results if not r.expected]
    detected = sum(1 for r in positives if r.found)
    clean = sum(1 for r in negatives if not r.extra)
    print(f"incidents: {len(results)} ({len(positives)} with findings expected, {len(negatives)} normal traffic)")
    print(f"labels: {tp + fn}; true positives {tp}, false positives {fp}, false negatives {fn}")
    print(f"precision {precision:.3f}  recall {recall:.3f}  (target >= {TARGET})")
    print(f"incidents detected (at least one expected finding): {detected}/{len(positives)}; "
          f"normal-traffic logs with no finding: {clean}/{len(negatives)}")
    if (LOGHUB / "OpenSSH_2k.log_structured.csv").exists():
        truth, found = loghub_bruteforce()
        both = truth & found
        print(f"Loghub OpenSSH brute force vs a rule on the ground-truth templates: {len(truth)} addresses expected, "
              f"{len(found)} reported, precision {len(both) / max(1, len(found)):.3f}, "
              f"recall {len(both) / max(1, len(truth)):.3f}")
        if args.verbose:
            print(f"  expected only: {sorted(truth - found)}; reported only: {sorted(found - truth)}")
    return 0 if precision >= TARGET and recall >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
