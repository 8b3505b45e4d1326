"""The training data: loading and checking, the split by template, the engine's prompt, the loss mask."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import pytest
from alsate.train.data import (
    SPLIT_FILE,
    Example,
    FrozenSplit,
    chat_messages,
    engine_template,
    load_examples,
    read_frozen_split,
    split_by_template,
    write_frozen_split,
)
from alsate.train.errors import TrainError
from alsate.train.formats import REFUSAL

ROOT = Path(__file__).resolve().parent.parent
TRAIN_CACHE = ROOT / ".pytest_cache" / "alsate-train-base"


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return load_examples()


# --- loading -----------------------------------------------------------------------


def test_loads_the_committed_dataset(examples):
    assert len(examples) >= 800
    assert {e.task for e in examples} == {"explain", "summarize", "root_cause", "find_patterns", "refuse"}
    assert len({e.id for e in examples}) == len(examples)


def _write(tmp_path: Path, rows: list[object]) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


GOOD = {"id": "x-1", "task": "refuse", "source": "none", "template": "refuse:x", "input": "hello there",
        "output": REFUSAL, "synthetic": True}


@pytest.mark.parametrize("rows, message", [
    ([], "has no examples"),
    (["{not json"], "not valid JSON"),
    ([{**GOOD, "extra": 1}], "unknown extra"),
    ([{k: v for k, v in GOOD.items() if k != "output"}], "missing output"),
    ([{**GOOD, "task": "poem"}], "unknown task 'poem'"),
    ([{**GOOD, "task": "explain"}], "does not follow docs/answer-format.md"),
    ([{**GOOD, "input": "  "}], "'input' must be a non-empty string"),
    ([GOOD, GOOD], "duplicate id"),
])
def test_bad_dataset_is_one_clear_error(tmp_path, rows, message):
    with pytest.raises(TrainError, match=re.escape(message)):
        load_examples(_write(tmp_path, rows))


def test_missing_dataset(tmp_path):
    with pytest.raises(TrainError, match="dataset not found"):
        load_examples(tmp_path / "nope")
    with pytest.raises(TrainError, match=r"no \*\.jsonl files"):
        load_examples(tmp_path)


# --- split ---------------------------------------------------------------------------


def test_split_is_by_template(examples):
    splits = split_by_template(examples, seed=42)
    templates = {name: {e.template for e in rows} for name, rows in splits.items()}
    assert not templates["train"] & templates["validation"]
    assert not templates["train"] & templates["test"]
    assert not templates["validation"] & templates["test"]
    ids = [e.id for rows in splits.values() for e in rows]
    assert sorted(ids) == sorted(e.id for e in examples)  # every example exactly once
    assert all(splits[name] for name in splits)


def test_split_is_deterministic_and_seeded(examples):
    a = split_by_template(examples, seed=7)
    shuffled = list(examples)
    random.Random(1).shuffle(shuffled)
    b = split_by_template(shuffled, seed=7)
    assert {k: [e.id for e in v] for k, v in a.items()} == {k: [e.id for e in v] for k, v in b.items()}
    c = split_by_template(examples, seed=8)
    assert {e.id for e in a["test"]} != {e.id for e in c["test"]}


def test_split_keeps_task_proportions(examples):
    splits = split_by_template(examples, seed=42, fractions=(0.8, 0.1, 0.1))
    total = Counter(e.task for e in examples)
    for name, share in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
        counts = Counter(e.task for e in splits[name])
        for task, n in total.items():
            assert counts[task] >= 1, (name, task)
            assert abs(counts[task] / n - share) <= 0.06, (name, task, counts[task], n)


# --- the frozen split ----------------------------------------------------------------------

#: The dataset files of session 8's build; session 10 added files with new templates only.
V1_FILES = {"chunks.jsonl", "journal.jsonl", "loghub_apache.jsonl", "loghub_linux.jsonl", "loghub_openssh.jsonl",
            "nginx.jsonl", "refusals.jsonl", "services.jsonl"}


def _where(splits) -> dict[str, str]:
    return {e.id: name for name, rows in splits.items() for e in rows}


def test_frozen_split_keeps_every_template_where_it_was_as_the_dataset_grows(examples):
    v1 = [e for e in examples if e.file in V1_FILES]
    assert len(v1) < len(examples)
    before = _where(split_by_template(v1, seed=42))
    frozen = FrozenSplit.of(split_by_template(v1, seed=42))
    # Without the frozen split, adding examples moves old templates between splits: a model trained
    # on the old train split would then be tested on some of what it trained on.
    unfrozen = _where(split_by_template(examples, seed=42))
    assert any(unfrozen[i] != before[i] for i in before)
    grown = split_by_template(examples, seed=42, frozen=frozen)
    after = _where(grown)
    assert {i: after[i] for i in before} == before
    assert all(e.file in V1_FILES for e in grown["test"])  # test is closed to new templates
    new = [e for e in examples if e.file not in V1_FILES]
    assert {after[e.id] for e in new} == {"train", "validation"}
    templates = {name: {e.template for e in rows} for name, rows in grown.items()}
    assert not templates["train"] & templates["validation"] and not templates["validation"] & templates["test"]


def test_the_shipped_frozen_split_is_the_one_the_dataset_uses(examples):
    from alsate.train.data import default_dataset_dir

    frozen = read_frozen_split(default_dataset_dir() / SPLIT_FILE)
    assert frozen.closed == {"test"}
    grown = split_by_template(examples, seed=42, frozen=frozen)
    for name, rows in grown.items():
        for e in rows:
            assert frozen.pinned.get((e.task, e.template), name) == name, (e.id, name)
    test_templates = {(e.task, e.template) for e in grown["test"]}
    assert test_templates == {k for k, v in frozen.pinned.items() if v == "test"}


def test_frozen_split_file_round_trip_and_errors(examples, tmp_path):
    frozen = FrozenSplit.of(split_by_template(examples[:200], seed=3), closed=("test", "validation"))
    path = tmp_path / SPLIT_FILE
    write_frozen_split(path, frozen)
    assert read_frozen_split(path) == frozen
    data = json.loads(path.read_text())
    for text, message in (
        ("{", "is not valid JSON"),
        (json.dumps({**data, "closed": ["train"]}), "never train"),
        (json.dumps({**data, "templates": {"train": [["explain", "x"]], "test": [["explain", "x"]]}}),
         "is in two splits"),
        (json.dumps({**data, "templates": {"train": ["explain"]}}), "not a \\[task, template\\] pair"),
    ):
        path.write_text(text)
        with pytest.raises(TrainError, match=message):
            read_frozen_split(path)


# --- the engine's prompt ----------------------------------------------------------------


def _one(examples, task, multiline=None):
    for e in examples:
        if e.task == task and (multiline is None or (("\n" in e.input.strip()) == multiline)):
            return e
    raise AssertionError(task)


def test_messages_are_the_engines(examples):
    from alsate.engine.llm.guard import wrap_data
    from alsate.engine.llm.profiles import load_profile
    from alsate.engine.llm.prompts import render_task, system_prompt

    example = _one(examples, "explain")
    system, user = chat_messages(example, seed=3)
    boundary = re.search(r"ALSATE-LOG-DATA ([0-9a-f]{24}) BEGIN", user["content"]).group(1)
    assert system == {"role": "system", "content": system_prompt(load_profile("smollm2"), boundary)}
    body = user["content"].split("BEGIN>>>\n", 1)[1].split("\n<<<", 1)[0]
    assert body.startswith("Selected entries:\n")
    assert user["content"] == render_task("explain", body=body, boundary=boundary)
    assert wrap_data(body, boundary) in user["content"]
    # the log's own message is in the data block, with the record's unit and priority as the engine shows them
    message = example.input.split(": ", 1)[1] if ": " in example.input else example.input
    assert message[:40] in body
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \S+ <\w+> ", body.splitlines()[1])
    # deterministic per (example, seed); a new seed gives a new boundary
    assert chat_messages(example, seed=3) == [system, user]
    assert boundary not in chat_messages(example, seed=4)[1]["content"]


def test_tasks_use_their_engine_prompts(examples):
    assert "Summarize these log entries." in chat_messages(_one(examples, "summarize"))[1]["content"]
    assert "Find the root cause" in chat_messages(_one(examples, "root_cause"))[1]["content"]
    assert "recurring patterns" in chat_messages(_one(examples, "find_patterns"))[1]["content"]
    single = _one(examples, "refuse", multiline=False)
    assert engine_template(single) == "explain"
    multi = [e for e in examples if e.task == "refuse" and "\n" in e.input.strip()]
    assert {engine_template(e) for e in multi} <= {"explain", "summarize", "root_cause", "patterns"}
    assert len({engine_template(e) for e in multi}) > 1


# --- with the base model's tokenizer ------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers")
    mp = pytest.MonkeyPatch()
    mp.setenv("ALSATE_TRAIN_CACHE", str(TRAIN_CACHE))
    try:
        from alsate.train.base import load_tokenizer, resolve_base

        yield load_tokenizer(resolve_base(""))
    finally:
        mp.undo()


def test_formatting_matches_the_chat_template(examples, tokenizer):
    from alsate.engine.llm.backend import Message
    from alsate.engine.llm.chat_template import render_chat
    from alsate.engine.llm.profiles import load_profile

    example = _one(examples, "root_cause")
    messages = chat_messages(example)
    ours = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    engine = render_chat(load_profile("smollm2").chat_template, [Message(m["role"], m["content"]) for m in messages])
    assert ours == engine  # what we train on is what the engine sends
    assert ours.startswith("<|im_start|>system\nYou are alsate")
    assert ours.endswith("<|im_end|>\n<|im_start|>assistant\n")


def test_loss_mask_is_the_assistant_turn(examples, tokenizer):
    from alsate.train.data import tokenize_example

    vocab = len(tokenizer)
    for example in (_one(examples, "explain"), _one(examples, "refuse")):
        messages = chat_messages(example)
        tok = tokenize_example(tokenizer, messages, example.output)
        full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": example.output}],
                                             tokenize=False)
        assert tokenizer.decode(tok.input_ids) == full
        trained = [t for t, label in zip(tok.input_ids, tok.labels, strict=True) if label != -100]
        assert tokenizer.decode(trained) == example.output + "<|im_end|>"
        first = next(i for i, label in enumerate(tok.labels) if label != -100)
        # everything before the answer (system, user, the assistant header) carries no loss
        assert tokenizer.decode(tok.input_ids[:first]).endswith("<|im_start|>assistant\n")
        assert all(label == -100 for label in tok.labels[:first])
        assert tok.labels[-1] == -100  # the newline after <|im_end|>
        assert max(tok.input_ids) < vocab  # no new tokens
    assert len(tokenizer) == 49152


def test_long_excerpts_are_cut_like_the_engine_cuts_context(examples, tokenizer):
    from alsate.train.data import prepare

    long_chunks = [e for e in examples if e.task == "summarize"][:3]
    prepared = prepare(long_chunks, tokenizer, max_seq=900, fractions=(1, 0, 0))
    rows = prepared.rows["train"]
    assert rows and all(r["length"] <= 900 for r in rows)
    assert any("Note: to fit the context" in r["messages"][1]["content"] for r in rows)
