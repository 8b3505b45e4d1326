"""The answer format of ``docs/answer-format.md`` as regexes, one per dataset task.

Used to validate the dataset before training and to score format compliance in
the evaluation. The dataset's task names (``find_patterns``, ``refuse``) map
onto the engine's prompt templates in :data:`ENGINE_TASK`.
"""

from __future__ import annotations

import re

TASKS = ("explain", "summarize", "root_cause", "find_patterns", "refuse")
#: Dataset task -> the engine's prompt template (``assets/prompts/<name>.txt``).
ENGINE_TASK = {
    "explain": "explain",
    "summarize": "summarize",
    "root_cause": "root_cause",
    "find_patterns": "patterns",
}
REFUSAL = "This is not a log entry, so there is nothing to analyse. Paste a log line or select one in alsate."

_THREAT = r"Threat level - (?:none|low|medium|high|critical)"
_ITEM = r"\d+\. \S[^\n]*\n"

FORMATS: dict[str, re.Pattern[str]] = {
    "explain": re.compile(r"\ACause - \S[^\n]*\nRemediation -\n(?:" + _ITEM + r")+" + _THREAT + r"\Z"),
    "summarize": re.compile(r"\ASummary - \S[^\n]*\nKey events -\n(?:" + _ITEM + r")+" + _THREAT + r"\Z"),
    "root_cause": re.compile(
        r"\ARoot cause - \S[^\n]*\nEvidence -\n(?:" + _ITEM + r")+"
        r"Remediation -\n(?:" + _ITEM + r")+" + _THREAT + r"\Z"
    ),
    "find_patterns": re.compile(r"\APatterns -\n(?:\d+\. [^\n]*?\S: \S[^\n]*\n)+" + _THREAT + r"\Z"),
    "refuse": re.compile(r"\A" + re.escape(REFUSAL) + r"\Z"),
}


def complies(task: str, text: str) -> bool:
    """Whether ``text`` is in the exact format ``docs/answer-format.md`` sets for ``task``."""
    return bool(FORMATS[task].match(text.strip()))


def is_refusal(text: str) -> bool:
    """Whether the answer is the refusal sentence (surrounding whitespace ignored)."""
    return text.strip() == REFUSAL
