"""The answer grammars (engine/llm/grammar.py), checked by llama.cpp's own grammar sampler.

Every reference answer in the dataset is walked through its task's grammar token by token (the
embedded model's vocabulary): each token must be allowed, and the end of the turn only after the
threat level. Broken answers must be stopped where they go wrong. Then the real model answers with
the grammar on, through the engine.
"""

from __future__ import annotations

import ctypes
import json
import math
from pathlib import Path

import pytest
from alsate.engine.llm.grammar import MAX_ITEMS, answer_grammar
from alsate.engine.llm.models import resolve_model
from alsate.train.formats import ENGINE_TASK, REFUSAL, complies

DATASET = Path(__file__).resolve().parents[1] / "assets" / "dataset"


@pytest.fixture(scope="module")
def vocab():
    import llama_cpp

    llm = llama_cpp.Llama(str(resolve_model(lora="none").path), vocab_only=True, verbose=False)
    yield llm
    llm.close()


class Walk:
    """One grammar sampler of llama.cpp, fed one candidate token at a time."""

    def __init__(self, llm, gbnf: str) -> None:
        import llama_cpp

        self.lib = llama_cpp
        self.llm = llm
        self.sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, gbnf.encode(), b"root")
        assert self.sampler, "llama.cpp could not parse the grammar"

    def allows(self, token: int) -> bool:
        lib = self.lib
        data = (lib.llama_token_data * 1)(lib.llama_token_data(token, 0.0, 0.0))
        array = lib.llama_token_data_array(data, 1, -1, False)
        lib.llama_sampler_apply(self.sampler, ctypes.byref(array))
        return not math.isinf(data[0].logit)

    def feed(self, text: str) -> str | None:
        """Accept ``text``'s tokens; the text up to the first token the grammar refuses, or None."""
        tokens = self.llm.tokenize(text.encode(), add_bos=False, special=False)
        done = b""
        for token in tokens:
            if not self.allows(token):
                return done.decode(errors="replace")
            self.lib.llama_sampler_accept(self.sampler, token)
            done += self.llm.detokenize([token])
        return None

    def may_end(self) -> bool:
        return self.allows(self.llm.token_eos())

    def close(self) -> None:
        self.lib.llama_sampler_free(self.sampler)


def walk(vocab, task: str, text: str, prefill: str = "") -> tuple[str | None, bool]:
    """(where the grammar refused ``text``, or None; whether the turn may end after it)."""
    gbnf = answer_grammar(task, prefill)
    assert gbnf is not None
    w = Walk(vocab, gbnf)
    try:
        stopped = w.feed(text)
        return stopped, stopped is None and w.may_end()
    finally:
        w.close()


def dataset() -> list[dict]:
    return [json.loads(line) for path in sorted(DATASET.glob("*.jsonl")) for line in path.open()]


def test_every_reference_answer_is_allowed_to_the_end(vocab):
    examples = dataset()
    assert len(examples) > 1000
    for example in examples:
        task = ENGINE_TASK.get(example["task"], "explain")  # a refusal is allowed under every task
        stopped, ends = walk(vocab, task, example["output"])
        assert stopped is None, f"{example['id']}: refused after {stopped[-80:]!r}"
        assert ends, f"{example['id']}: the turn may not end after the answer"


def test_a_prefilled_answer_goes_on_from_the_prefill(vocab):
    example = next(e for e in dataset() if e["task"] == "explain")
    assert walk(vocab, "explain", example["output"][len("Cause -"):], "Cause -") == (None, True)
    # after a prefill the refusal is not an answer any more
    assert walk(vocab, "explain", REFUSAL, "Cause -")[0] is not None
    assert answer_grammar("explain", "Summary -") is None  # not how the explain answer begins


def test_broken_answers_are_stopped_where_they_go_wrong(vocab):
    good = "Cause - The disk is full.\nRemediation -\n1. Run `df -h`.\n2. Free space.\nThreat level - high"
    assert walk(vocab, "explain", good) == (None, True)
    # no threat level: the turn may not end
    assert walk(vocab, "explain", good.rsplit("\n", 1)[0] + "\n") == (None, False)
    # a level that is not one of the five
    assert walk(vocab, "explain", good.replace("high", "severe"))[0] is not None
    # steps out of order
    stopped, _ = walk(vocab, "explain", good.replace("2. Free", "3. Free"))
    assert stopped is not None and stopped.endswith("`df -h`.\n")
    # one step too many
    steps = "".join(f"{n}. Step {n}.\n" for n in range(1, MAX_ITEMS + 2))
    stopped, _ = walk(vocab, "explain", f"Cause - x.\nRemediation -\n{steps}Threat level - low")
    assert stopped is not None and stopped.endswith(f"{MAX_ITEMS}. Step {MAX_ITEMS}.\n")
    # a step that never ends
    stopped, _ = walk(vocab, "explain", "Cause - x.\nRemediation -\n1. " + "again " * 100)
    assert stopped is not None and len(stopped) < 60 + 6 * 100
    # the labels of another task, and text before the answer
    assert walk(vocab, "explain", "Summary - x.")[0] is not None
    assert walk(vocab, "summarize", "Sure! Summary - x.")[0] == ""
    # a pattern needs "what: how often"
    assert walk(vocab, "patterns", "Patterns -\n1. Failed logins from 203.0.113.7\nThreat")[0] is not None
    assert walk(vocab, "patterns", "Patterns -\n1. Failed logins: 40 from 203.0.113.7\nThreat level - medium") \
        == (None, True)


def test_free_questions_have_no_grammar():
    assert answer_grammar("question") is None


# --- the real model, through the engine ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("lora", ["none", None], ids=["base-prefilled", "adapter"])
def test_the_model_answers_in_format_with_the_grammar(lora):
    """The questions the untuned model loops on (tests/test_llm_sampling.py) end in the exact format."""
    from alsate.engine.llm.backend_local import LocalBackend
    from alsate.engine.llm.context import assemble
    from alsate.engine.llm.profiles import load_profile
    from alsate.engine.llm.session import ChatSession
    from alsate.engine.parse import parse_lines

    profile = load_profile("smollm2")
    assert profile.answer_grammar
    backend = LocalBackend(resolve_model(lora=lora), n_ctx=2048, n_threads=1)
    try:
        assert backend.wait_ready(60)
        lines = (("nginx-error", '2024/10/10 14:30:00 [error] 1234#1234: *5 upstream timed out (110: Connection '
                                 'timed out) while reading response header from upstream, client: 203.0.113.9'),
                 ("syslog", "Oct 10 14:30:00 web-01 sshd[812]: Failed password for invalid user admin from "
                            "203.0.113.7 port 4122 ssh2"))
        for kind, line in lines:
            context = assemble(backend.count_tokens, 1024, selected=parse_lines(kind, [line]))
            session = ChatSession(backend, profile, task="explain", context=context, boundary="b0")
            result = session.start().collect()
            assert complies("explain", result.text), result.text
            assert result.answer.threat_level is not None and result.stats.finish_reason == "stop"
    finally:
        backend.close()


# --- closing an answer that ran to its budget ----------------------------------------------------------

def test_closing_grammars_finish_the_line_then_each_missing_field():
    from alsate.engine.llm.grammar import closing_grammar

    threat = ' | '.join(f'"Threat level - {level}"' for level in ("none", "low", "medium", "high", "critical"))
    assert closing_grammar("explain", "Cause - x\nRemediation -\n1. do\n") == f"root ::= ({threat})\n"
    assert closing_grammar("explain", "Cause - x\nRemediation -\n1. do\nThreat level - h") == 'root ::= ("igh")\n'
    assert closing_grammar("explain", "Cause - x\nRemediation -\n1. do\nThreat level - low") is None  # whole
    assert closing_grammar("explain", "This is not a log") == (
        'root ::= " entry, so there is nothing to analyse. Paste a log line or select one in alsate."\n')
    mid_cause = closing_grammar("explain", "Cause - The disk")
    assert mid_cause.startswith('root ::= [^\\n]{0,60} "\\n" "Remediation -\\n1. " [^\\n ] [^\\n]{0,59} "\\n"')
    assert mid_cause.endswith('"Threat level - critical")\n')
    # tokens left for the literals ("Remediation -\n1. ", 17; the longest level, 23), 3 a line, and 40 more:
    # the two lines get 20 characters each
    short = closing_grammar("explain", "Cause - The disk", 40 + 17 + 23 + 6)
    assert '[^\\n]{0,40} "\\n"' not in short and "{0,20}" in short and "{0,19}" in short
    mid_evidence = closing_grammar("root_cause", "Root cause - x\nEvidence -\n1. a\n2. b ")
    assert '"Remediation -\\n1. "' in mid_evidence and "Evidence" not in mid_evidence
    assert '": "' in closing_grammar("patterns", "Patterns -\n1. Failed login")  # a pattern needs its count
    for broken in ("Sure! Cause - x", "Cause - x\nSummary - y\n", "Cause - x\nRemediation -\nnot a step\n"):
        assert closing_grammar("explain", broken) is None, broken
    assert closing_grammar("question", "anything") is None


def test_every_closing_grammar_of_a_cut_reference_parses(vocab):
    """Cut each reference answer of every task at many points: the closing grammar is there and llama.cpp
    reads it."""
    from alsate.engine.llm.grammar import closing_grammar

    picked: dict[str, list[dict]] = {}
    for example in dataset():
        task = ENGINE_TASK.get(example["task"])
        if task is not None and len(picked.setdefault(task, [])) < 3:
            picked[task].append(example)
    assert set(picked) == set(ENGINE_TASK.values())
    for task, examples in picked.items():
        for example in examples:
            text = example["output"]
            for cut in range(0, len(text), 5):
                gbnf = closing_grammar(task, text[:cut])
                assert gbnf is not None, (task, text[:cut])
                Walk(vocab, gbnf).close()


@pytest.mark.slow
@pytest.mark.parametrize("task", ["explain", "root_cause"])
def test_an_answer_out_of_budget_is_finished_in_format(task):
    """A budget too small for any whole answer: the model's answer is closed, not cut."""
    from alsate.engine.llm.backend import GenerationRequest, Message
    from alsate.engine.llm.backend_local import LocalBackend
    from alsate.engine.llm.grammar import AnswerGrammar
    from alsate.engine.llm.profiles import load_profile
    from alsate.engine.llm.prompts import render_task, system_prompt
    from alsate.engine.llm.sampling import CLOSING_TOKENS

    profile = load_profile("smollm2")
    backend = LocalBackend(resolve_model(), n_ctx=2048, n_threads=1)
    try:
        assert backend.wait_ready(60)
        body = "\n".join(f"Oct 10 14:30:{n:02} web-01 sshd[812]: Failed password for root from 203.0.113.{n} "
                         "port 4122 ssh2" for n in range(12))
        messages = (Message("system", system_prompt(profile, "b0")),
                    Message("user", render_task(task, body=body, boundary="b0")))
        request = GenerationRequest(messages=messages, max_tokens=CLOSING_TOKENS + 30, temperature=0.0,
                                    repeat_penalty=profile.repeat_penalty, dry=profile.dry,
                                    grammar=AnswerGrammar(task))
        stream = backend.stream(request)
        text = stream.text()
        assert complies(task, text), text
        assert stream.stats.finish_reason == "stop" and stream.stats.completion_tokens > 30
    finally:
        backend.close()
