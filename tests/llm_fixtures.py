"""Helpers for the LLM tests: records, a scripted backend for session logic, the real model."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from alsate.engine.llm.backend import GenerationRequest, GenerationStats, Message, StatsClock, TokenStream
from alsate.engine.records import Record

T0 = 1_790_000_000.0


def record(message: str, *, unit: str = "nginx.service", ts: float = T0, priority: int = 3, pos: int = 0,
           host: str = "web1", origin: str = "/var/log/test.log") -> Record:
    return Record(ts=ts, host=host, kind="syslog", unit=unit, pid=1234, priority=priority, effective=priority,
                  message=message, raw=message, extra=None, origin=origin, pos=pos)


def records(messages: Sequence[str], **kwargs) -> list[Record]:
    return [record(m, ts=T0 + i, pos=i * 100, **kwargs) for i, m in enumerate(messages)]


def word_count(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word (and one per newline)."""
    return len(text.split()) + text.count("\n")


class ScriptedBackend:
    """A backend that streams a fixed answer word by word; records every request.

    For fast tests of session and prompt logic only; the real model is tested
    in test_llm_local.py and test_llm_remote.py.
    """

    name = "scripted"
    supports_prefill = True

    def __init__(self, answers: Sequence[str], *, n_ctx: int = 2048, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.requests: list[GenerationRequest] = []
        self._n_ctx = n_ctx
        self.delay = delay

    @property
    def model_id(self) -> str:
        return "scripted:1"

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        return word_count(text)

    def prompt_tokens(self, request: GenerationRequest) -> int:
        return sum(word_count(m.content) + 4 for m in request.messages) + word_count(request.prefill)

    def stream(self, request: GenerationRequest) -> TokenStream:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else "Cause - nothing left to say"
        stream = TokenStream()
        clock = StatsClock()

        def produce() -> None:
            words = answer.split(" ")
            reason = "stop"
            for i, word in enumerate(words):
                if stream.cancelled.is_set():
                    reason = "cancelled"
                    break
                if self.delay:
                    time.sleep(self.delay)
                clock.token()
                stream.emit(word if i == 0 else " " + word)
            stream.finish(GenerationStats(
                backend=self.name, model="scripted", prompt_tokens=self.prompt_tokens(request), cached_tokens=0,
                completion_tokens=clock.count, ttft_s=clock.ttft(), tokens_per_s=clock.rate(),
                total_s=clock.total(), finish_reason=reason))

        threading.Thread(target=produce, daemon=True).start()
        return stream

    def close(self) -> None:
        pass


def cancel_mid_stream_within_100ms(backend) -> TokenStream:
    """Start a long answer, cancel after its first piece, check it stops within 100 ms; the stream."""
    request = GenerationRequest(messages=(Message("user", "Write a very long story about log files."),),
                                max_tokens=1000, temperature=0.8)
    stream = backend.stream(request)
    iterator = iter(stream)
    next(iterator)
    started = time.perf_counter()
    stream.cancel()
    assert stream.wait(1.0)
    assert time.perf_counter() - started < 0.1
    list(iterator)
    assert stream.stats.finish_reason == "cancelled" and stream.stats.completion_tokens < 1000
    return stream
