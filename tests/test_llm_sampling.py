"""DRY in the local backend's sampler chain, with the real embedded model (no adapter: the base model loops)."""

from __future__ import annotations

import pytest
from alsate.engine.llm.backend import GenerationRequest, Message
from alsate.engine.llm.backend_local import LocalBackend
from alsate.engine.llm.models import resolve_model
from alsate.engine.llm.profiles import load_profile
from alsate.engine.llm.sampling import Dry, llama_class

pytestmark = pytest.mark.slow

#: Questions the untuned model, greedy on one thread, answers with a long sentence said again and again.
LOOPS = (
    "Explain: nginx: upstream timed out (110: Connection timed out) while reading response header from upstream",
    "Explain this log line: sshd[812]: Failed password for invalid user admin from 203.0.113.7 port 4122 ssh2",
)


@pytest.fixture(scope="module")
def base():
    local = LocalBackend(resolve_model(lora="none"), n_ctx=1024, n_threads=1)
    assert local.wait_ready(60)
    yield local
    local.close()


def longest_repeat(tokens: list[int]) -> int:
    """The length of the longest token sequence that occurs twice (overlaps allowed)."""
    length = 0
    while True:
        size = length + 1
        seen: set[tuple[int, ...]] = set()
        for i in range(len(tokens) - size + 1):
            window = tuple(tokens[i:i + size])
            if window in seen:
                break
            seen.add(window)
        else:
            return length
        length = size


def answer(backend: LocalBackend, question: str, dry: Dry, repeat_penalty: float = 1.0) -> tuple[str, list[int]]:
    request = GenerationRequest(messages=(Message("user", question),), max_tokens=160, temperature=0.0,
                                repeat_penalty=repeat_penalty, dry=dry)
    text = backend.stream(request).text()
    return text, backend.llama.tokenize(text.encode(), add_bos=False)


def test_longest_repeat_counts_the_longest_sequence_seen_twice():
    assert longest_repeat([1, 2, 3, 4]) == 0
    assert longest_repeat([1, 2, 3, 9, 1, 2, 3]) == 3
    assert longest_repeat([5, 5, 5, 5]) == 3


@pytest.mark.parametrize("question", LOOPS)
def test_dry_breaks_the_loop_the_plain_chain_falls_into(base, question):
    plain, plain_tokens = answer(base, question, Dry())
    dry, dry_tokens = answer(base, question, Dry(0.8))
    assert longest_repeat(plain_tokens) >= 24, plain  # the same long sentence again and again
    assert longest_repeat(dry_tokens) <= 12, dry
    assert len(dry_tokens) >= 60  # it goes on writing, not stopping


def test_the_chain_without_dry_is_the_librarys_own(base):
    """DRY off: the subclass hands sampling to llama-cpp-python's own chain (same greedy tokens as a plain
    ``Llama``); a repeat penalty still applies there."""
    from llama_cpp import Llama

    stock = Llama(model_path=str(resolve_model(lora="none").path), n_ctx=1024, n_threads=1, verbose=False, seed=1234)
    prompt = f"<|im_start|>user\n{LOOPS[0]}<|im_end|>\n<|im_start|>assistant\n"
    try:
        for penalty in (1.0, 1.15):
            expected = stock.create_completion(prompt, max_tokens=60, temperature=0.0, repeat_penalty=penalty)
            ours = llama_class()(model_path=str(resolve_model(lora="none").path), n_ctx=1024, n_threads=1,
                                 verbose=False, seed=1234)
            try:
                got = ours.create_completion(prompt, max_tokens=60, temperature=0.0, repeat_penalty=penalty)
            finally:
                ours.close()
            assert got["choices"][0]["text"] == expected["choices"][0]["text"]
    finally:
        stock.close()
    assert answer(base, LOOPS[0], Dry(), repeat_penalty=1.15)[0] != answer(base, LOOPS[0], Dry())[0]


def test_profiles_read_dry_and_the_shipped_one_turns_it_on():
    smollm2 = load_profile("smollm2")
    assert smollm2.dry.on and smollm2.dry.multiplier > 0 and smollm2.dry.allowed_length >= 1
    assert not load_profile("generic").dry.on
