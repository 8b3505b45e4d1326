"""Harvest candidate training lines from this machine: priority 0-4, one per template.

``alsate-train data --from-file PATH`` / ``--from-journal`` read the sources
through the engine exactly as ``alsate scan`` does (same parsers, same
effective-priority filter, 0-4 by default), mask each message into its
template with the engine's masks, and keep the first line of every template.
The result is a JSONL file in the dataset's shape with an empty ``output``: a
list for a person to label. With ``--teacher MODEL.gguf`` a bigger local model
labels them through the engine (``Analyst.explain``); answers that do not
follow ``docs/answer-format.md`` are dropped, the rest are marked
``"synthetic": true`` and can be added to the dataset after review.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alsate.train.errors import TrainError
from alsate.train.formats import complies


def harvest_records(sources: Sequence[str], *, priority: str = "0..4", limit: int = 0) -> list[Any]:
    """Records from ``sources`` (paths, or ``journal``) at ``priority``, first of each template."""
    from alsate.engine.cli.scan import add_source_arguments
    from alsate.engine.errors import UserError
    from alsate.engine.llm.cli_support import load_selection
    from alsate.engine.templates.masking import mask

    parser = argparse.ArgumentParser(add_help=False)
    add_source_arguments(parser)
    args = parser.parse_args([*sources, "-p", priority])
    try:
        selection = load_selection(args)
    except UserError as exc:
        raise TrainError(f"cannot read {', '.join(sources)}: {exc}") from None
    seen: set[str] = set()
    picked = []
    for record in selection.records():
        template = mask(record.message)
        if template in seen:
            continue
        seen.add(template)
        picked.append((template, record))
        if limit and len(picked) >= limit:
            break
    return picked


def _row(template: str, record: Any, output: str, synthetic: bool) -> dict[str, Any]:
    digest = hashlib.sha256(template.encode()).hexdigest()[:12]
    return {"id": f"harvest-{digest}", "task": "explain", "source": record.kind, "template": template,
            "input": record.raw, "output": output, "synthetic": synthetic}


def harvest(sources: Sequence[str], out: Path, *, teacher: str | None = None, limit: int = 0,
            priority: str = "0..4") -> dict[str, int]:
    """Write the harvested lines (labelled by ``teacher`` when given) to ``out``; returns counts."""
    picked = harvest_records(sources, priority=priority, limit=limit)
    if not picked:
        raise TrainError(f"no priority {priority} lines in {', '.join(sources)}")
    rows: list[dict[str, Any]] = []
    rejected = 0
    if teacher is None:
        rows = [_row(t, r, "", False) for t, r in picked]
    else:
        from alsate.engine.llm.factory import LLMOptions, open_analyst

        path = Path(teacher).expanduser()
        if not path.is_file():
            raise TrainError(f"teacher model not found: {path}")
        analyst = open_analyst(LLMOptions(model=str(path), use_cache=False, temperature=0.0))
        try:
            for template, record in picked:
                text = analyst.explain([record], use_cache=False).stream.collect().text.strip()
                if complies("explain", text):
                    rows.append(_row(template, record, text, True))
                else:
                    rejected += 1
        finally:
            analyst.backend.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {"templates": len(picked), "written": len(rows), "rejected_by_format": rejected}
