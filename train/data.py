"""The training data: load and check the curated dataset, split it by template, format it.

Every example becomes the conversation alsate has with the model at inference
time, built with the engine's own pieces (:mod:`alsate.engine.llm`): the log
text is parsed into records by the engine's parsers, laid out by
``context.assemble`` (the ``Selected entries:`` block), wrapped in a data
boundary, placed in the task prompt by ``prompts.render_task``, and preceded by
the profile's system prompt. The conversation is rendered with the base
model's own chat template (the tokenizer's), the answer is the assistant turn,
and only the assistant turn's tokens (the answer and the end-of-turn token)
carry loss. No token is added to the vocabulary.

Non-log inputs (task ``refuse``) are shown to the model as the engine would
show them: one line through the ``explain`` prompt, several lines through one
of the excerpt prompts (chosen per example, deterministically), answered with
the refusal sentence.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from alsate.engine.llm.not_a_log import not_a_log
from alsate.train.errors import TrainError
from alsate.train.formats import ENGINE_TASK, FORMATS, TASKS

KEYS = ("id", "task", "source", "template", "input", "output", "synthetic")
SPLITS = ("train", "validation", "test")
#: Profile whose system prompt and prompts the embedded model is trained with.
DEFAULT_PROFILE = "smollm2"
#: Fixed clock for lines with no year (RFC 3164) or no time at all, so prompts are reproducible.
_FIXED_YEAR = 2024
_FIXED_MONTH = 12
_HOSTS = ("web-01", "web-02", "app-01", "db-01", "srv1", "node-3", "edge-01", "mail-01")


@dataclass(frozen=True)
class Example:
    id: str
    task: str
    source: str
    template: str
    input: str
    output: str
    synthetic: bool
    file: str = field(default="", compare=False)  # the dataset file it came from (not a key of the row)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k in KEYS}


# --- loading -----------------------------------------------------------------


def dataset_files(path: str | Path) -> list[Path]:
    """The ``*.jsonl`` files of a dataset directory, or the one file named."""
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise TrainError(f"no *.jsonl files in dataset directory {path}")
        return files
    if path.is_file():
        return [path]
    raise TrainError(f"dataset not found: {path}")


def default_dataset_dir() -> Path:
    from importlib import resources

    return Path(str(resources.files("alsate.assets").joinpath("dataset")))


def _check(row: Any, where: str) -> Example:
    if not isinstance(row, dict):
        raise TrainError(f"{where}: not a JSON object")
    missing = [k for k in KEYS if k not in row]
    extra = sorted(set(row) - set(KEYS))
    if missing or extra:
        raise TrainError(f"{where}: keys must be {', '.join(KEYS)}"
                         + (f"; missing {', '.join(missing)}" if missing else "")
                         + (f"; unknown {', '.join(extra)}" if extra else ""))
    for key in KEYS[:-1]:
        if not isinstance(row[key], str) or not row[key].strip():
            raise TrainError(f"{where}: {key!r} must be a non-empty string")
    if not isinstance(row["synthetic"], bool):
        raise TrainError(f"{where}: 'synthetic' must be true or false")
    if row["task"] not in TASKS:
        raise TrainError(f"{where}: unknown task {row['task']!r} (known: {', '.join(TASKS)})")
    if not FORMATS[row["task"]].match(row["output"]):
        raise TrainError(f"{where}: output of {row['id']!r} does not follow docs/answer-format.md "
                         f"for task {row['task']}")
    return Example(**{k: row[k] for k in KEYS})


def load_examples(path: str | Path | None = None) -> list[Example]:
    """Read and check every example; raise :class:`TrainError` (one line) on the first problem."""
    examples: list[Example] = []
    seen: set[str] = set()
    for file in dataset_files(path or default_dataset_dir()):
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainError(f"cannot read dataset file {file}: {exc}") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{file.name}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainError(f"{where}: not valid JSON ({exc.msg})") from None
            example = replace(_check(row, where), file=file.name)
            if example.id in seen:
                raise TrainError(f"{where}: duplicate id {example.id!r}")
            seen.add(example.id)
            examples.append(example)
    if not examples:
        raise TrainError(f"the dataset {path or default_dataset_dir()} has no examples")
    return examples


# --- splitting -------------------------------------------------------------------


def _rank(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}\0{text}".encode()).hexdigest()


#: A dataset directory's frozen split: templates that keep their split as the dataset grows.
SPLIT_FILE = "splits.json"


@dataclass(frozen=True)
class FrozenSplit:
    """Which split each known template is in, and the splits new templates may not join.

    Stored as ``splits.json`` next to the dataset files; written by
    ``alsate-train data --freeze-split``. With it, adding examples never moves a
    template between splits, so a model trained before the addition is never
    evaluated on what it trained on, and the test split stays the benchmark
    every build is compared on (``closed``: new templates go to the other splits).
    """

    pinned: dict[tuple[str, str], str]
    closed: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        by_split: dict[str, list[list[str]]] = {name: [] for name in SPLITS}
        for (task, template), name in sorted(self.pinned.items()):
            by_split[name].append([task, template])
        return {"closed": sorted(self.closed), "templates": by_split}

    @classmethod
    def of(cls, splits: dict[str, list[Example]], closed: Iterable[str] = ("test",)) -> FrozenSplit:
        pinned = {(e.task, e.template): name for name in SPLITS for e in splits.get(name, [])}
        return cls(pinned, frozenset(closed))


def read_frozen_split(path: Path) -> FrozenSplit:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainError(f"cannot read frozen split {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise TrainError(f"frozen split {path} is not valid JSON ({exc.msg})") from None
    templates = data.get("templates") if isinstance(data, dict) else None
    closed = data.get("closed", []) if isinstance(data, dict) else None
    if not isinstance(templates, dict) or not isinstance(closed, list) or not set(templates) <= set(SPLITS) \
            or not set(closed) <= set(SPLITS) or "train" in closed:
        raise TrainError(f"frozen split {path} must hold \"templates\" (train / validation / test: lists of "
                         "[task, template]) and \"closed\" (splits new templates may not join, never train)")
    pinned: dict[tuple[str, str], str] = {}
    for name, pairs in templates.items():
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
                raise TrainError(f"frozen split {path}: {name} holds {pair!r}, not a [task, template] pair")
            if pinned.setdefault((pair[0], pair[1]), name) != name:
                raise TrainError(f"frozen split {path}: template {pair[1]!r} is in two splits")
    return FrozenSplit(pinned, frozenset(closed))


def write_frozen_split(path: Path, frozen: FrozenSplit) -> None:
    path.write_text(json.dumps(frozen.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def split_by_template(examples: Sequence[Example], *, seed: int = 42,
                      fractions: Sequence[float] = (0.8, 0.1, 0.1),
                      frozen: FrozenSplit | None = None) -> dict[str, list[Example]]:
    """Train / validation / test such that no template is in two splits.

    Per task, templates are visited in a seeded pseudo-random order and each
    goes (with all its examples) to the split furthest below its share of that
    task's examples, so every split keeps the task proportions. The result
    depends only on the examples and the seed, not on their order. With
    ``frozen``, its templates go to the split it names first, and the others
    fill the splits it has not closed.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not sum(fractions):
        raise TrainError("split fractions must be three non-negative numbers (train, validation, test)")
    total = float(sum(fractions))
    shares = [f / total for f in fractions]
    pinned = frozen.pinned if frozen else {}
    open_ = [bool(shares[i]) and not (frozen and SPLITS[i] in frozen.closed) for i in range(3)]
    by_task: dict[str, dict[str, list[Example]]] = defaultdict(lambda: defaultdict(list))
    for example in examples:
        by_task[example.task][example.template].append(example)
    out: dict[str, list[Example]] = {name: [] for name in SPLITS}
    for task in sorted(by_task):
        groups = by_task[task]
        size = sum(len(g) for g in groups.values())
        counts = [0, 0, 0]
        for template in sorted(t for t in groups if (task, t) in pinned):
            i = SPLITS.index(pinned[(task, template)])
            counts[i] += len(groups[template])
            out[SPLITS[i]].extend(groups[template])
        # Large templates first keeps the greedy fill close to the target shares.
        order = sorted((t for t in groups if (task, t) not in pinned),
                       key=lambda t: (-min(len(groups[t]), 4), _rank(seed, f"{task}\0{t}")))
        for template in order:
            group = sorted(groups[template], key=lambda e: e.id)
            deficits = [shares[i] * size - counts[i] for i in range(3)]
            pick = max(range(3), key=lambda i: (deficits[i] if open_[i] else float("-inf"), -i))
            counts[pick] += len(group)
            out[SPLITS[pick]].extend(group)
    for name in SPLITS:
        out[name].sort(key=lambda e: _rank(seed, e.id))
    return out


def split_stats(splits: dict[str, list[Example]]) -> dict[str, dict[str, int]]:
    stats: dict[str, dict[str, int]] = {}
    for name, rows in splits.items():
        counts = Counter(e.task for e in rows)
        stats[name] = {"examples": len(rows), "templates": len({e.template for e in rows}), **dict(counts)}
    return stats


# --- the conversation the engine would have --------------------------------------


@contextlib.contextmanager
def _utc() -> Iterator[None]:
    """Format timestamps in UTC whatever the machine's zone (the engine prints local time)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def _records(text: str, rng: random.Random) -> list[Any]:
    """The engine's records for the lines of ``text``, with machine-dependent parts fixed."""
    from alsate.engine.formats import parser_for, sniff
    from alsate.engine.formats.base import local_hostname
    from alsate.engine.records import SourceKind

    here = local_hostname()
    host = rng.choice(_HOSTS)
    fixed_ts = time.mktime((_FIXED_YEAR, _FIXED_MONTH, 1 + rng.randrange(27), rng.randrange(24),
                            rng.randrange(60), rng.randrange(60), 0, 0, 0))
    parsers: dict[str, Any] = {}
    records = []
    last_ts = fixed_ts
    for pos, line in enumerate(x for x in text.splitlines() if x.strip()):
        kind = sniff([line])
        parser = parsers.get(kind)
        if parser is None:
            options = {"year": _FIXED_YEAR, "month": _FIXED_MONTH} if kind == SourceKind.SYSLOG else {}
            parser = parsers[kind] = parser_for(kind, "<dataset>", host=host, **options)
            parser.last_ts = last_ts
        record = parser.parse(line, pos)
        if record.host == here:
            record = record._replace(host=host)
        last_ts = record.ts
        records.append(record)
    return records


def _boundary(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def engine_template(example: Example, seed: int = 42) -> str:
    """The engine prompt template the example is shown through."""
    if example.task in ENGINE_TASK:
        return ENGINE_TASK[example.task]
    lines = [line for line in example.input.splitlines() if line.strip()]
    if len(lines) <= 1:
        return "explain"
    choices = ("summarize", "root_cause", "patterns", "explain")
    return choices[int(_rank(seed, example.id)[:8], 16) % len(choices)]


def chat_messages(example: Example, *, profile: str = DEFAULT_PROFILE, seed: int = 42,
                  count_tokens: Any = None, budget: int | None = None) -> list[dict[str, str]]:
    """``[system, user]`` exactly as :class:`alsate.engine.llm.session.ChatSession` builds them.

    With ``count_tokens`` and ``budget`` the log lines are laid out within that
    many tokens, as the engine does for a model with a short context: lines that
    do not fit are left out and a note in the prompt says how many.
    """
    from alsate.engine.llm.context import assemble
    from alsate.engine.llm.profiles import load_profile
    from alsate.engine.llm.prompts import render_task, system_prompt

    prof = load_profile(profile)
    rng = random.Random(_rank(seed, example.id))
    boundary = _boundary(rng)
    with _utc():
        records = _records(example.input, rng)
        if budget is None or count_tokens is None:
            context = assemble(lambda text: 0, 1 << 30, selected=records)
        else:
            context = assemble(count_tokens, budget, selected=records)
    template = engine_template(example, seed)
    user = render_task(template, body=context.body, boundary=boundary, notes=context.notes)
    return [
        {"role": "system", "content": system_prompt(prof, boundary)},
        {"role": "user", "content": user},
    ]


# --- tokenising -------------------------------------------------------------------


@dataclass(frozen=True)
class Tokenized:
    input_ids: list[int]
    labels: list[int]  # -100 where no loss

    @property
    def n_loss(self) -> int:
        return sum(1 for x in self.labels if x != -100)


def tokenize_example(tokenizer: Any, messages: list[dict[str, str]], answer: str) -> Tokenized:
    """Render ``messages`` + the answer with the tokenizer's chat template; loss on the answer only.

    The prompt is the template with ``add_generation_prompt``; the rest of the
    full conversation (the answer and the template's end-of-turn text) is the
    completion. Tokens of the completion up to and including the end-of-turn
    token carry loss; what the template writes after it (a newline) does not.
    """
    prompt_text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full_text = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": answer}], tokenize=False, add_generation_prompt=False
    )
    if not full_text.startswith(prompt_text):
        raise TrainError("the chat template does not render the prompt as a prefix of the conversation")
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    completion = full_text[len(prompt_text):]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    eos_id = tokenizer.convert_tokens_to_ids(_end_of_turn(tokenizer))
    labels = list(completion_ids)
    if eos_id in completion_ids:
        cut = len(completion_ids) - completion_ids[::-1].index(eos_id)
        labels = completion_ids[:cut] + [-100] * (len(completion_ids) - cut)
    return Tokenized(prompt_ids + completion_ids, [-100] * len(prompt_ids) + labels)


def _end_of_turn(tokenizer: Any) -> str:
    for candidate in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>"):
        if candidate in tokenizer.get_vocab():
            return candidate
    return tokenizer.eos_token


@dataclass
class Prepared:
    splits: dict[str, list[Example]]
    rows: dict[str, list[dict[str, Any]]]
    dropped: dict[str, list[str]]  # ids too long for max_seq


def prepare(examples: Sequence[Example], tokenizer: Any, *, seed: int = 42, max_seq: int = 512,
            fractions: Sequence[float] = (0.8, 0.1, 0.1), profile: str = DEFAULT_PROFILE,
            frozen: FrozenSplit | None = None) -> Prepared:
    """Split, render and tokenise. Examples longer than ``max_seq`` are left out of train/validation
    (a cut answer would teach the model to stop mid-format) and named in ``dropped``."""
    splits = split_by_template(examples, seed=seed, fractions=fractions, frozen=frozen)
    rows: dict[str, list[dict[str, Any]]] = {}
    dropped: dict[str, list[str]] = {}
    for name, items in splits.items():
        rows[name] = []
        dropped[name] = []
        for example in items:
            messages = chat_messages(example, profile=profile, seed=seed)
            tok = tokenize_example(tokenizer, messages, example.output)
            if len(tok.input_ids) > max_seq and example.task in ENGINE_TASK and example.task != "explain":
                messages, tok = _fit_excerpt(example, tokenizer, messages, tok, max_seq, profile, seed)
            row = {"id": example.id, "task": example.task, "template": example.template, "file": example.file,
                   "prompt": engine_template(example, seed), "messages": messages,
                   "not_a_log": not_a_log(_records(example.input, random.Random(seed))), "answer": example.output,
                   "input_ids": tok.input_ids, "labels": tok.labels, "length": len(tok.input_ids)}
            if len(tok.input_ids) > max_seq and name != "test":
                dropped[name].append(example.id)
                continue
            rows[name].append(row)
    return Prepared(splits, rows, dropped)


def _fit_excerpt(example: Example, tokenizer: Any, messages: list[dict[str, str]], tok: Tokenized,
                 max_seq: int, profile: str, seed: int) -> tuple[list[dict[str, str]], Tokenized]:
    """Re-lay a long excerpt within ``max_seq`` the way the engine cuts context (fewer lines, a note)."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    body_tokens = count(messages[1]["content"])
    budget = body_tokens - (len(tok.input_ids) - max_seq) - 48
    for _ in range(4):
        if budget < 64:
            break
        messages = chat_messages(example, profile=profile, seed=seed, count_tokens=count, budget=budget)
        tok = tokenize_example(tokenizer, messages, example.output)
        if len(tok.input_ids) <= max_seq:
            break
        budget -= len(tok.input_ids) - max_seq + 16
    return messages, tok


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise TrainError(f"missing {path}; run `alsate-train data` first")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
