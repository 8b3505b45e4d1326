"""What goes into a prompt, within a token budget counted by the model's tokenizer.

The data block holds, in this order of importance: the finding (title,
template, count, severity, keys), the selected records, then their neighbours
from the same host and unit, nearest in time first. Lines are added while they
fit; whatever is left out is named in a note the model reads and in
:class:`ContextInfo`, which ends up in the answer's stats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from alsate.engine.llm.guard import sanitize
from alsate.engine.llm.not_a_log import not_a_log
from alsate.engine.records import PRIORITY_NAMES, Record

MAX_MESSAGE_CHARS = 600


class FindingLike(Protocol):
    """What the context needs from a finding (``alsate.engine.findings.Finding`` has it)."""

    title: str
    template: str
    count: int


@dataclass(frozen=True)
class FindingFacts:
    """A finding reduced to what a prompt shows; built from any finding-like object."""

    id: str
    title: str
    template: str
    count: int
    severity: str
    category: str
    keys: tuple[str, ...]

    @classmethod
    def of(cls, finding: Any) -> FindingFacts:
        severity = getattr(finding, "severity", "")
        if isinstance(severity, int) and 0 <= severity < len(PRIORITY_NAMES):
            severity = PRIORITY_NAMES[severity]
        keys = getattr(finding, "keys", ()) or ()
        if isinstance(keys, Mapping):
            keys = tuple(
                f"{k}=" + (", ".join(map(str, v[:10])) if isinstance(v, (tuple, list)) else str(v))
                for k, v in keys.items()
            )
        return cls(
            id=str(getattr(finding, "id", "")),
            title=str(getattr(finding, "title", "")),
            template=str(getattr(finding, "template", "")),
            count=int(getattr(finding, "count", 0) or 0),
            severity=str(getattr(severity, "name", severity) or ""),
            category=str(getattr(finding, "category", "") or ""),
            keys=tuple(str(k) for k in keys),
        )


@dataclass(frozen=True)
class ContextInfo:
    tokens: int
    budget: int
    selected_total: int
    selected_included: int
    neighbours_total: int
    neighbours_included: int
    finding: bool

    @property
    def truncated(self) -> bool:
        return self.selected_included < self.selected_total or self.neighbours_included < self.neighbours_total

    def omitted(self) -> tuple[str, ...]:
        parts = []
        if self.selected_included < self.selected_total:
            parts.append(f"{self.selected_total - self.selected_included} of {self.selected_total} selected entries")
        if self.neighbours_included < self.neighbours_total:
            parts.append(f"{self.neighbours_total - self.neighbours_included} of {self.neighbours_total} nearby entries")
        return tuple(parts)


@dataclass(frozen=True)
class AssembledContext:
    body: str  # sanitised; goes inside the data boundary
    notes: str  # trusted notes for the model (what was cut)
    info: ContextInfo
    log_texts: tuple[str, ...]  # the raw texts included, for the output guard
    #: No finding, and nothing selected is log data (alsate.engine.llm.not_a_log): refused, not asked.
    not_logs: bool = False


def format_record(record: Record) -> str:
    """One record as one prompt line, sanitised."""
    stamp = record.time.strftime("%Y-%m-%d %H:%M:%S")
    pid = f"[{record.pid}]" if record.pid is not None else ""
    unit = sanitize(record.unit or record.kind, max_chars=80)
    host = sanitize(record.host or "-", max_chars=64)
    message = sanitize(record.message, max_chars=MAX_MESSAGE_CHARS)
    return f"{stamp} {host} {unit}{pid} <{record.priority_name}> {message}"


def neighbours_of(selected: Sequence[Record], pool: Iterable[Record], limit: int) -> list[Record]:
    """Up to ``limit`` records of ``pool`` from the selected records' host and unit, nearest in time."""
    if not selected or limit <= 0:
        return []
    chosen = {r.id for r in selected}
    places = {(r.host, r.unit) for r in selected}
    times = [r.ts for r in selected]
    candidates = [r for r in pool if (r.host, r.unit) in places and r.id not in chosen]
    candidates.sort(key=lambda r: min(abs(r.ts - t) for t in times))
    return candidates[:limit]


def assemble(
    count_tokens: Callable[[str], int],
    budget: int,
    *,
    selected: Sequence[Record] = (),
    neighbours: Sequence[Record] = (),
    finding: FindingFacts | None = None,
) -> AssembledContext:
    """Fill ``budget`` tokens: finding header, then ``selected`` (in priority order), then ``neighbours``.

    Included records are shown in time order within their section.
    """
    used = 0
    lines: list[str] = []

    def fits(text: str) -> bool:
        nonlocal used
        cost = count_tokens(text + "\n")
        if used + cost > budget:
            return False
        used += cost
        return True

    if finding is not None:
        header = [
            f"Finding: {sanitize(finding.title, max_chars=200)}",
            f"Template: {sanitize(finding.template, max_chars=MAX_MESSAGE_CHARS)}",
            f"Count: {finding.count} entries",
        ]
        if finding.severity:
            header.append(f"Severity: {sanitize(finding.severity, max_chars=40)}")
        if finding.category:
            header.append(f"Category: {sanitize(finding.category, max_chars=60)}")
        if finding.keys:
            header.append("Keys: " + sanitize(", ".join(finding.keys[:20]), max_chars=400))
        for line in header:
            if not fits(line):
                line = line[: max(20, len(line) // 3)] + " ...[cut]"
                if not fits(line):
                    break
            lines.append(line)

    def section(title: str, records: Sequence[Record]) -> list[Record]:
        kept: list[Record] = []
        if not records or not fits(title):
            return kept
        for record in records:
            if not fits(format_record(record)):
                break
            kept.append(record)
        if kept:
            lines.append(title)
            lines.extend(format_record(r) for r in sorted(kept, key=lambda r: r.ts))
        return kept

    label = "Sample entries:" if finding is not None else "Selected entries:"
    kept_selected = section(label, selected)
    kept_neighbours = section("Nearby entries from the same unit:", neighbours)
    info = ContextInfo(
        tokens=used,
        budget=budget,
        selected_total=len(selected),
        selected_included=len(kept_selected),
        neighbours_total=len(neighbours),
        neighbours_included=len(kept_neighbours),
        finding=finding is not None,
    )
    notes = ""
    if info.truncated:
        notes = "Note: to fit the context, " + " and ".join(info.omitted()) + " were left out."
    texts = tuple(r.message for r in (*kept_selected, *kept_neighbours))
    if finding is not None:
        texts = (finding.template, finding.title, *finding.keys, *texts)
    return AssembledContext(body="\n".join(lines), notes=notes, info=info, log_texts=texts,
                            not_logs=finding is None and not_a_log((*selected, *neighbours)))
