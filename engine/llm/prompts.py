"""Task prompts: explain, summarize, root cause, find patterns, free questions.

Templates are text files in ``alsate.assets/prompts/`` with ``$data``,
``$notes`` and ``$question`` slots, filled with :class:`string.Template` so
nothing in a value is ever interpreted. ``$data`` receives log text already
sanitised and wrapped in a random boundary (:mod:`.guard`).
"""

from __future__ import annotations

import hashlib
from string import Template

from alsate.engine.llm.grammar import answer_grammar
from alsate.engine.llm.guard import sanitize, wrap_data
from alsate.engine.llm.profiles import Profile, read_asset

#: Bump when the meaning of prompts changes without their text changing.
PROMPT_SCHEMA = "1"
TASKS = ("explain", "summarize", "root_cause", "patterns", "question")
_TASK_FILES = {
    "explain": "explain.txt",
    "explain_finding": "explain_finding.txt",
    "summarize": "summarize.txt",
    "root_cause": "root_cause.txt",
    "patterns": "patterns.txt",
    "question": "question.txt",
    "followup": "followup.txt",
    "followup_data": "followup_data.txt",
}


def template_text(name: str) -> str:
    return read_asset("prompts", _TASK_FILES[name])


def prompt_version(profile: Profile, template: str, task: str | None = None) -> str:
    """A short hash of everything that shapes an answer: system prompt, task template, prefill, sampling
    and the answer grammar."""
    task = task or template
    grammar = (answer_grammar(task, profile.prefill_for(task)) or "") if profile.answer_grammar else ""
    sampling = f"{profile.temperature} {profile.repeat_penalty} {profile.dry}"
    digest = hashlib.sha256()
    for part in (PROMPT_SCHEMA, profile.system_prompt, template_text(template), profile.prefill_for(task),
                 sampling, grammar):
        digest.update(part.encode())
        digest.update(b"\0")
    return f"{PROMPT_SCHEMA}-{digest.hexdigest()[:12]}"


def system_prompt(profile: Profile, boundary: str) -> str:
    """The profile's system prompt with the session's boundary token filled in."""
    return Template(profile.system_prompt).safe_substitute(boundary=boundary)


def render_task(template: str, *, body: str, boundary: str, notes: str = "", question: str = "") -> str:
    """Fill a task template: ``body`` (sanitised log text) goes inside the boundary."""
    text = Template(template_text(template)).substitute(
        data=wrap_data(body, boundary) if body else "",
        notes=notes,
        question=sanitize(question, keep_newlines=True),
    )
    # Empty slots leave blank lines; keep the prompt compact and stable.
    lines = [line.rstrip() for line in text.splitlines()]
    compact: list[str] = []
    for line in lines:
        if line or (compact and compact[-1]):
            compact.append(line)
    return "\n".join(compact).strip()
