"""Findings as a plain-text table, as JSON, and as a Markdown report for a ticket.

Log text is untrusted: in the table it is shown as plain characters with control
characters replaced; in Markdown, evidence lines go inside code fences longer
than any backtick run they contain, and every other field is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from alsate.engine.findings.model import Finding
from alsate.engine.records import Record

Lookup = Callable[[str], Record | None]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def plain(text: str) -> str:
    """One line of untrusted text, safe to print: control characters become ``?``."""
    return _CONTROL.sub("?", text.replace("\t", " ").replace("\n", " ").replace("\r", " "))


def md_escape(text: str) -> str:
    """Untrusted text for a Markdown paragraph or table cell: every markup character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", plain(text))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _keys_text(keys: Mapping[str, Sequence[str]], title: str = "", limit: int = 3) -> str:
    parts = []
    for kind, values in keys.items():
        if kind == "host" or not values or (len(values) == 1 and values[0] in title):
            continue
        shown = ",".join(values[:limit])
        more = f"+{len(values) - limit}" if len(values) > limit else ""
        parts.append(f"{kind}={shown}{more}")
    return " ".join(parts)


def findings_json(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """``alsate scan --json``'s ``findings``: a list of ``Finding.to_json()``."""
    return [f.to_json() for f in findings]


def findings_table(findings: Sequence[Finding], width: int = 110) -> str:
    """A fixed-width table: state, severity, category, count, last seen, title, keys."""
    if not findings:
        return "no findings"
    head = f"{'':1} {'SEV':7} {'CATEGORY':13} {'COUNT':>7} {'LAST SEEN (UTC)':19}  FINDING"
    lines = [head]
    fixed = len(head) - len("FINDING")
    room = max(20, width - fixed)
    for f in findings:
        state = "*" if f.active else " "
        text = plain(f.title)
        keys = plain(_keys_text(f.keys, f.title))
        if keys:
            text = f"{text} [{keys}]"
        if len(text) > room:
            text = text[: room - 1] + "…"
        lines.append(f"{state:1} {f.severity_name:7} {f.category:13} {f.count:7d} {_when(f.last_seen):19}  {text}")
    active = sum(1 for f in findings if f.active)
    lines.append(f"{len(findings)} findings, {active} active (*)")
    return "\n".join(lines)


def evidence_lookup(records: Iterable[Record], findings: Sequence[Finding], per_finding: int = 5) -> dict[str, Record]:
    """One pass over ``records`` keeping just the records a report will quote."""
    wanted: set[str] = set()
    for f in findings:
        wanted.update(f.evidence[:per_finding])
        wanted.update(f.evidence[-1:])
    out: dict[str, Record] = {}
    for r in records:
        rid = r.id
        if rid in wanted:
            out[rid] = r
            if len(out) == len(wanted):
                break
    return out


def _fence(lines: Sequence[str]) -> tuple[str, str]:
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return fence + "text", fence


def markdown_report(findings: Sequence[Finding], *, lookup: Lookup | Mapping[str, Record] | None = None,
                    title: str = "alsate findings", counts: Mapping[str, int] | None = None,
                    sources: Sequence[str] = (), per_finding: int = 5, generated: float | None = None) -> str:
    """A Markdown report a person can attach to a ticket."""
    get: Lookup | None
    if lookup is None:
        get = None
    elif isinstance(lookup, Mapping):
        get = lookup.get
    else:
        get = lookup
    now = datetime.now(timezone.utc).timestamp() if generated is None else generated
    out = [f"# {md_escape(title)}", "", f"Generated {_when(now)} UTC."]
    if sources:
        out.append("Sources: " + ", ".join(f"`{plain(s).replace('`', '')}`" for s in sources) + ".")
    if counts:
        out += ["", "| priority | records |", "| --- | ---: |"]
        out += [f"| {md_escape(k)} | {v} |" for k, v in counts.items()]
    active = [f for f in findings if f.active]
    out += ["", f"## Summary: {len(findings)} findings, {len(active)} active", ""]
    if findings:
        out += ["| | severity | category | count | first seen | last seen | finding |",
                "| --- | --- | --- | ---: | --- | --- | --- |"]
        for f in findings:
            out.append(f"| {'active' if f.active else ''} | {f.severity_name} | {f.category} | {f.count} | "
                       f"{_when(f.first_seen)} | {_when(f.last_seen)} | {md_escape(f.title)} |")
    for n, f in enumerate(findings, 1):
        out += ["", f"## {n}. {md_escape(f.title)}", ""]
        out.append(f"- id: `{plain(f.id).replace('`', '')}`")
        out.append(f"- severity: {f.severity} ({f.severity_name}); category: {f.category}; "
                   f"{'active' if f.active else 'no longer active'}")
        total = len(f.evidence) + f.evidence_dropped
        out.append(f"- {f.count} events, {_when(f.first_seen)} to {_when(f.last_seen)} UTC, "
                   f"{total} evidence records" + (f" ({len(f.evidence)} kept: the first and the latest)"
                                                   if f.evidence_dropped else ""))
        for kind, values in f.keys.items():
            if values:
                out.append(f"- {md_escape(kind)}: " + ", ".join(md_escape(v) for v in values[:20])
                           + (f" (+{len(values) - 20} more)" if len(values) > 20 else ""))
        if f.template:
            out.append(f"- template: {md_escape(f.template)}")
        if f.detail:
            out.append(f"- {md_escape(f.detail)}")
        ids = list(f.evidence[:per_finding])
        if len(f.evidence) > per_finding:
            ids.append(f.evidence[-1])
        lines = []
        for rid in ids:
            record = get(rid) if get is not None else None
            lines.append(plain(record.raw) if record is not None else plain(rid))
        if lines:
            label = "Evidence" if get is not None else "Evidence record ids"
            more = f" (first {per_finding} and the last of {total})" if len(f.evidence) > per_finding else ""
            start, end = _fence(lines)
            out += ["", f"{label}{more}:", "", start, *lines, end]
    out.append("")
    return "\n".join(out)


def write_report(path: str | Path, findings: Sequence[Finding], **kwargs: Any) -> Path:
    """Write :func:`markdown_report` to ``path`` (UTF-8); returns the path."""
    target = Path(path)
    target.write_text(markdown_report(findings, **kwargs), encoding="utf-8")
    return target


__all__ = ["evidence_lookup", "findings_json", "findings_table", "markdown_report", "md_escape",
           "plain", "write_report"]
