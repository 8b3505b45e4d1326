"""Parse a model answer into the fields of ``docs/answer-format.md``.

The parser is lenient about decoration small models add (``**Cause**:``,
``### Remediation``, ``1)`` or ``-`` for steps) and strict about nothing: what
it cannot place stays in :attr:`Answer.raw`, and :attr:`Answer.missing` names
the fields the task's format expects but the text lacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

THREAT_LEVELS = ("none", "low", "medium", "high", "critical")
REFUSAL = "This is not a log entry, so there is nothing to analyse. Paste a log line or select one in alsate."
#: Refusals other models were trained to give (the ALSATE Llama-3.2-3B fine-tunes).
OTHER_REFUSALS = ("Input does not appear to be a valid system log. Unable to assist.",)
#: "1. do this 2. do that" on one line, as the ALSATE fine-tunes write remediation.
_INLINE_STEPS = re.compile(r"\s+(?=\d{1,2}\.\s)")

#: Task name -> the labels its format requires, in order.
TASK_FIELDS: dict[str, tuple[str, ...]] = {
    "explain": ("cause", "remediation", "threat_level"),
    "summarize": ("summary", "key_events", "threat_level"),
    "root_cause": ("root_cause", "evidence", "remediation", "threat_level"),
    "patterns": ("patterns", "threat_level"),
    "question": (),
}
_LIST_FIELDS = {"remediation", "key_events", "evidence", "patterns"}
_LABELS = {
    "cause": "cause",
    "root cause": "root_cause",
    "remediation": "remediation",
    "remediation steps": "remediation",
    "threat level": "threat_level",
    "threat": "threat_level",
    "summary": "summary",
    "key events": "key_events",
    "evidence": "evidence",
    "patterns": "patterns",
}
_LABEL_LINE = re.compile(
    r"^\s*(?:#{1,6}\s*)?[*_]{0,2}\s*(?P<label>"
    + "|".join(sorted((re.escape(k) for k in _LABELS), key=len, reverse=True))
    + r")\s*[*_]{0,2}\s*(?:-|:|\u2013|\u2014)\s*[*_]{0,2}\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_STEP = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*\u2022])\s+(?P<text>.+)$")


@dataclass(frozen=True)
class Answer:
    """One parsed answer. Text fields are ``""`` and lists empty when absent."""

    task: str
    raw: str
    cause: str = ""
    summary: str = ""
    root_cause: str = ""
    remediation: tuple[str, ...] = ()
    key_events: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    threat_level: str | None = None
    refusal: bool = False
    missing: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        """True when every field the task's format requires was found."""
        return self.refusal or not self.missing

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "cause": self.cause,
            "summary": self.summary,
            "root_cause": self.root_cause,
            "remediation": list(self.remediation),
            "key_events": list(self.key_events),
            "evidence": list(self.evidence),
            "patterns": list(self.patterns),
            "threat_level": self.threat_level,
            "refusal": self.refusal,
            "complete": self.complete,
            "missing": list(self.missing),
            "raw": self.raw,
        }


def _threat(text: str) -> str | None:
    words = re.findall(r"[a-z]+", text.lower())
    for word in words:
        if word in THREAT_LEVELS:
            return word
    return None


def parse_answer(text: str, task: str = "explain") -> Answer:
    """Split ``text`` into fields; ``task`` says which fields are expected."""
    if task not in TASK_FIELDS:
        raise ValueError(f"unknown task {task!r}")
    raw = text.strip()
    folded = " ".join(raw.lower().split())
    sentences = [s.lower().rstrip(".") for s in (REFUSAL, *OTHER_REFUSALS)]
    if any(s in folded for s in sentences) and (
            any(folded.startswith(s) for s in sentences)
            or not any(_LABEL_LINE.match(line) for line in raw.splitlines())):
        # a refusal; an answer in the format that quotes the sentence in a step is not one
        return Answer(task=task, raw=raw, refusal=True)

    texts: dict[str, list[str]] = {}
    lists: dict[str, list[str]] = {}
    current: str | None = None
    for line in raw.splitlines():
        match = _LABEL_LINE.match(line)
        if match:
            current = _LABELS[match.group("label").lower()]
            rest = match.group("rest").strip().strip("*_").strip()
            texts.setdefault(current, [])
            lists.setdefault(current, [])
            if rest:
                step = _STEP.match(rest)
                if current in _LIST_FIELDS and step:
                    for piece in _INLINE_STEPS.split(rest):
                        inline = _STEP.match(piece)
                        lists[current].append((inline.group("text") if inline else piece).strip())
                else:
                    texts[current].append(rest)
            continue
        if current is None or not line.strip():
            continue
        step = _STEP.match(line)
        if current in _LIST_FIELDS and step:
            lists[current].append(step.group("text").strip())
        elif current in _LIST_FIELDS and lists[current]:
            lists[current][-1] += " " + line.strip()  # wrapped step
        else:
            texts[current].append(line.strip())

    def text_of(name: str) -> str:
        return " ".join(texts.get(name, [])).strip()

    def list_of(name: str) -> tuple[str, ...]:
        items = lists.get(name, [])
        if not items and texts.get(name):
            items = [text_of(name)]  # a one-line list given as prose
        return tuple(i for i in items if i)

    threat = _threat(text_of("threat_level")) if "threat_level" in texts else None
    values: dict[str, Any] = {
        "cause": text_of("cause"),
        "summary": text_of("summary"),
        "root_cause": text_of("root_cause"),
        "remediation": list_of("remediation"),
        "key_events": list_of("key_events"),
        "evidence": list_of("evidence"),
        "patterns": list_of("patterns"),
        "threat_level": threat,
    }
    missing = tuple(name for name in TASK_FIELDS[task] if not values[name])
    return Answer(task=task, raw=raw, missing=missing, **values)
