"""The answer format of ``docs/answer-format.md`` as a llama.cpp grammar (GBNF), one per task.

With a grammar the sampler can only pick tokens that keep the answer in its format: the labels in
order, steps numbered 1, 2, 3..., a threat level from the five, then the end of the turn. A small
model that would have looped on one step until the token limit is made to finish its line, stop the
list and give its threat level. The bounds are above anything in the training set (its longest
sentence field is 530 characters, its longest item 194, its longest list 5 items), so they only cut
what has gone wrong. The refusal sentence is the one other answer allowed, unless the answer was prefilled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from alsate.engine.llm.answer import REFUSAL, THREAT_LEVELS

#: Characters in a one-line field (``Cause``, ``Summary``, ``Root cause``) at most.
MAX_SENTENCE = 560
#: Characters in one list item at most.
MAX_ITEM = 240
#: Items in one list at most.
MAX_ITEMS = 6


@dataclass(frozen=True)
class _Field:
    label: str
    list_rule: str | None = None  # None: a one-line field


#: Task (the engine's prompt name) -> its fields, in order; the threat level always ends the answer.
TASK_FIELDS: dict[str, tuple[_Field, ...]] = {
    "explain": (_Field("Cause"), _Field("Remediation", "item")),
    "summarize": (_Field("Summary"), _Field("Key events", "item")),
    "root_cause": (_Field("Root cause"), _Field("Evidence", "item"), _Field("Remediation", "item")),
    "patterns": (_Field("Patterns", "pattern"),),
}
_THREATS = tuple(f"Threat level - {level}" for level in THREAT_LEVELS)

_RULES = (
    f'sentence ::= [^\\n ] [^\\n]{{0,{MAX_SENTENCE - 1}}}',
    f'item ::= [^\\n ] [^\\n]{{0,{MAX_ITEM - 1}}}',
    # "<pattern>: <how often / who>": the pattern has no colon (none in the training set does)
    f'pattern ::= [^\\n: ] [^\\n:]{{0,{MAX_ITEM // 2}}} ": " [^\\n ] [^\\n]{{0,{MAX_ITEM - 1}}}',
    "threat ::= " + " | ".join(f'"{threat}"' for threat in _THREATS),
)


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _numbered(rule: str, name: str) -> str:
    """``1. x\\n`` then optionally ``2. x\\n``... up to :data:`MAX_ITEMS`: the numbers come in order."""
    tail = ""
    for n in range(MAX_ITEMS, 1, -1):
        tail = f' ("{n}. " {rule} "\\n"{tail})?'
    return f'{name} ::= "1. " {rule} "\\n"{tail}'


@cache
def answer_grammar(task: str, prefill: str = "") -> str | None:
    """The GBNF of ``task``'s answer, or None for a task with no fixed format (a follow-up question).

    ``prefill`` is the start of the answer already written for the model: the grammar covers the rest,
    and the refusal is no longer an option. None too when the prefill is not how the format begins."""
    fields = TASK_FIELDS.get(task)
    if fields is None:
        return None
    pieces: list[str] = []
    lists: list[str] = []
    for index, field in enumerate(fields):
        if field.list_rule is None:
            head = f"{field.label} - "
            pieces += [_literal(head), "sentence", r'"\n"']
        else:
            name = f"list{index}"
            lists.append(_numbered(field.list_rule, name))
            head = f"{field.label} -\n"
            pieces += [_literal(head), name]
        if index == 0:
            first = head
    pieces.append("threat")
    if prefill:
        if not first.startswith(prefill):
            return None
        rest = first[len(prefill):]
        pieces = ([_literal(rest)] if rest else []) + pieces[1:]
        root = "root ::= answer"
    else:
        root = f"root ::= answer | {_literal(REFUSAL)}"
    return "\n".join((root, "answer ::= " + " ".join(pieces), *lists, *_RULES)) + "\n"


#: Characters a closing line may take at most (see :func:`closing_grammar`).
CLOSING_LINE = 60


def _slot(done: str, rule: str, cap: int) -> str:
    """GBNF for the rest of a line's content (``rule``: ``item`` or ``pattern``) of which ``done`` is
    written, at most ``cap`` characters, then the newline."""
    first = f"[^\\n ] [^\\n]{{0,{cap - 1}}}" if cap > 1 else "[^\\n ]"
    if rule == "pattern" and ": " not in done:
        if done.endswith(":"):
            return f'" " {first} "\\n"'
        half = max(1, cap // 2)
        label = "" if done else "[^\\n: ] "
        return label + f'[^\\n:]{{0,{half}}} ": " [^\\n ] [^\\n]{{0,{half}}} "\\n"'
    if done.strip() and not (rule == "pattern" and done.endswith(": ")):
        return f'[^\\n]{{0,{cap}}} "\\n"'
    return f'{first} "\\n"'


def _closing_pieces(fields: tuple[_Field, ...], done: list[str], partial: str) -> list[str | tuple[str, str]] | None:
    """What is left to write, in order: literals, and content slots ``(written, rule)``; None when the
    text is not the start of an answer in the format."""
    k, items = 0, -1  # the field the lines are in; items: -1 before its label line, else items seen
    for line in done:
        while True:
            if k >= len(fields):
                return None  # lines after the last field, before the threat level
            field = fields[k]
            if field.list_rule is None:
                if not line.startswith(f"{field.label} - "):
                    return None
                k += 1
            elif items < 0:
                if line != f"{field.label} -":
                    return None
                items = 0
            elif re.match(r"\d+\. ", line):
                items += 1
            elif items > 0:
                k, items = k + 1, -1
                continue  # the line starts the next field
            else:
                return None
            break
    if k < len(fields) and fields[k].list_rule is not None and items > 0 and not partial[:1].isdigit():
        k, items = k + 1, -1  # a list with items: the partial line starts what follows it
    if k >= len(fields):
        return [] if any(t.startswith(partial) for t in _THREATS) else None
    pieces: list[str | tuple[str, str]] = []
    field = fields[k]
    rule = field.list_rule or "item"
    if field.list_rule is None:
        head = f"{field.label} - "
        if partial.startswith(head):
            pieces.append((partial[len(head):], rule))
        elif head.startswith(partial):
            pieces += [head[len(partial):], ("", rule)]
        else:
            return None
    elif items < 0:
        head = f"{field.label} -\n1. "
        if not head.startswith(partial):
            return None
        pieces += [head[len(partial):], ("", rule)]
    elif partial or items == 0:
        number = re.match(r"(\d+)(\.?)( ?)", partial)
        if not partial:
            pieces += ["1. ", ("", rule)]
        elif number is None:
            return None
        elif not number.group(3):
            pieces += [". "[len(number.group(2)):], ("", rule)]
        else:
            pieces.append((partial[number.end():], rule))
    for later in fields[k + 1:]:
        pieces += [f"{later.label} - " if later.list_rule is None else f"{later.label} -\n1. ",
                   ("", later.list_rule or "item")]
    return pieces


def closing_grammar(task: str, text: str, tokens: int = 0) -> str | None:
    """GBNF for a short way to finish ``text``, an answer to ``task`` cut short inside its format: the
    line it is in ended, each field still missing given one short line, then the threat level. With
    ``tokens`` (the tokens left), lines are kept short enough to fit them (a token is at least one
    character). None when ``text`` is not the start of an answer in the format, or is whole.

    The local backend samples the last tokens of an answer with it when the answer has run to its
    budget: a small model's answer that would have been cut before its threat level is finished."""
    fields = TASK_FIELDS.get(task)
    if fields is None:
        return None
    if text and REFUSAL.startswith(text):
        return f"root ::= {_literal(REFUSAL[len(text):])}\n" if text != REFUSAL else None
    *done, partial = text.split("\n")
    pieces = _closing_pieces(fields, done, partial)
    if pieces is None:
        return None
    slots = [p for p in pieces if isinstance(p, tuple)]
    at_threat = not pieces and any(t.startswith(partial) for t in _THREATS)
    threats = [t[len(partial):] for t in _THREATS if t.startswith(partial)] if at_threat else list(_THREATS)
    if not all(threats):
        return None  # the threat level is written
    fixed = sum(len(p) for p in pieces if isinstance(p, str)) + max(len(t) for t in threats) + 3 * len(slots)
    cap = CLOSING_LINE
    if tokens and slots:
        cap = max(1, min(CLOSING_LINE, (tokens - fixed) // len(slots)))
    body = [_literal(p) if isinstance(p, str) else _slot(p[0], p[1], cap) for p in pieces]
    body.append("(" + " | ".join(_literal(t) for t in threats) + ")")
    return f"root ::= {' '.join(body)}\n"


@dataclass(frozen=True)
class AnswerGrammar:
    """The grammar of one answer: its task and the prefill written before it."""

    task: str
    prefill: str = ""

    @property
    def text(self) -> str:
        gbnf = answer_grammar(self.task, self.prefill)
        if gbnf is None:
            raise ValueError(f"no answer grammar for {self.task!r} after {self.prefill!r}")
        return gbnf

    def closing(self, answer: str, tokens: int = 0) -> str | None:
        """The grammar that finishes ``answer`` (what was sampled after the prefill) in format, within
        ``tokens`` if given."""
        return closing_grammar(self.task, self.prefill + answer, tokens)

    @classmethod
    def of(cls, task: str, prefill: str = "") -> AnswerGrammar | None:
        """The grammar for ``task`` after ``prefill``, or None where there is none."""
        return cls(task, prefill) if answer_grammar(task, prefill) is not None else None


def parsed_grammar(gbnf: str | None) -> Any:
    """``gbnf`` as llama-cpp-python's ``LlamaGrammar`` (llama.cpp parses it when the sampler is made)."""
    if not gbnf:
        return None
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(gbnf, verbose=False)


__all__ = ["CLOSING_LINE", "MAX_ITEM", "MAX_ITEMS", "MAX_SENTENCE", "TASK_FIELDS", "AnswerGrammar", "answer_grammar",
           "closing_grammar", "parsed_grammar"]
