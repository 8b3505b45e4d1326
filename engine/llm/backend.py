"""The one streaming interface every backend implements, and its stats.

A backend turns a :class:`GenerationRequest` (chat messages, limits) into a
:class:`TokenStream`: text pieces produced by a worker thread, consumed with
``async for`` (the UI: the event loop never blocks) or a plain ``for`` (the
headless verbs). ``cancel()`` asks the worker to stop; :attr:`TokenStream.stats`
is set once the stream ends, cancelled or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from alsate.engine.errors import UserError
from alsate.engine.llm.grammar import AnswerGrammar
from alsate.engine.llm.sampling import Dry


class LLMError(UserError):
    """The model or the server cannot answer: one line for the user."""

    exit_code = 3


@dataclass(frozen=True)
class Message:
    role: str  # "system", "user" or "assistant"
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationRequest:
    messages: tuple[Message, ...]
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    #: DRY against loops (local backend and llama.cpp servers; off by default).
    dry: Dry = field(default_factory=Dry)
    seed: int = 1234
    #: Text the answer must start with (the local backend writes it after the
    #: assistant header so the model continues it; it is not streamed back).
    prefill: str = ""
    stop: tuple[str, ...] = ()
    #: The format the answer is held to (after the prefill), or None (alsate.engine.llm.grammar).
    grammar: AnswerGrammar | None = None


@dataclass(frozen=True)
class GenerationStats:
    backend: str
    model: str
    prompt_tokens: int | None  # None when the server does not say
    cached_tokens: int | None  # prompt tokens reused from the KV cache
    completion_tokens: int
    ttft_s: float | None  # request start to first token
    tokens_per_s: float | None  # decode speed, first token to last
    total_s: float
    finish_reason: str  # "stop", "length", "cancelled" or "error"
    #: Filled in by the session: what the context assembly had to leave out.
    context_truncated: bool = False
    omitted: tuple[str, ...] = field(default=())
    history_trimmed: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "completion_tokens": self.completion_tokens,
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 4),
            "tokens_per_s": None if self.tokens_per_s is None else round(self.tokens_per_s, 2),
            "total_s": round(self.total_s, 4),
            "finish_reason": self.finish_reason,
            "context_truncated": self.context_truncated,
            "omitted": list(self.omitted),
            "history_trimmed": self.history_trimmed,
        }


class StatsClock:
    """Times one generation: start, first token, last token."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.count = 0

    def token(self) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.count += 1

    def ttft(self) -> float | None:
        return None if self.first is None else self.first - self.start

    def rate(self) -> float | None:
        if self.first is None or self.last is None or self.count < 2 or self.last <= self.first:
            return None
        return (self.count - 1) / (self.last - self.first)

    def total(self) -> float:
        return time.perf_counter() - self.start


_TOKEN, _END, _ERROR = 0, 1, 2


class TokenStream:
    """Text pieces from a producer thread; iterate with ``async for`` or ``for``.

    The producer calls :meth:`emit`, then :meth:`finish` or :meth:`fail`; it
    polls :attr:`cancelled` between tokens. One consumer per stream.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async: asyncio.Queue[tuple[int, object]] | None = None
        self._done = threading.Event()
        self._consumed = False
        self.cancelled = threading.Event()
        self.stats: GenerationStats | None = None
        self.error: BaseException | None = None
        self._cancel_hooks: list[Callable[[], None]] = []

    # -- producer side ---------------------------------------------------------
    def _put(self, item: tuple[int, object]) -> None:
        with self._lock:
            if self._loop is None:
                self._sync.put(item)
                return
            try:
                self._loop.call_soon_threadsafe(self._async.put_nowait, item)  # type: ignore[union-attr]
            except RuntimeError:  # the consumer's loop is gone: nobody listens
                self.cancelled.set()

    def emit(self, piece: str) -> None:
        if piece:
            self._put((_TOKEN, piece))

    def finish(self, stats: GenerationStats) -> None:
        self.stats = stats
        self._done.set()
        self._put((_END, stats))

    def fail(self, exc: BaseException) -> None:
        self.error = exc
        self._done.set()
        self._put((_ERROR, exc))

    # -- consumer side ---------------------------------------------------------
    def cancel(self) -> None:
        """Ask the producer to stop; returns at once (see :meth:`wait`)."""
        if self.cancelled.is_set():
            return
        self.cancelled.set()
        for hook in list(self._cancel_hooks):
            with contextlib.suppress(Exception):
                hook()

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Producer side: run ``hook`` when the consumer cancels (e.g. close a socket)."""
        self._cancel_hooks.append(hook)
        if self.cancelled.is_set():
            hook()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the producer has finished (True) or ``timeout`` passed."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def __iter__(self) -> Iterator[str]:
        self._claim()
        try:
            while True:
                kind, value = self._sync.get()
                if kind == _TOKEN:
                    yield value  # type: ignore[misc]
                elif kind == _ERROR:
                    raise value  # type: ignore[misc]
                else:
                    return
        finally:
            if not self._done.is_set():
                self.cancel()  # the consumer stopped early

    async def _aiter(self) -> AsyncIterator[str]:
        self._claim()
        loop = asyncio.get_running_loop()
        aqueue: asyncio.Queue[tuple[int, object]] = asyncio.Queue()
        with self._lock:
            while True:  # move what was produced before we attached
                try:
                    aqueue.put_nowait(self._sync.get_nowait())
                except queue.Empty:
                    break
            self._async = aqueue
            self._loop = loop
        try:
            while True:
                kind, value = await aqueue.get()
                if kind == _TOKEN:
                    yield value  # type: ignore[misc]
                elif kind == _ERROR:
                    raise value  # type: ignore[misc]
                else:
                    return
        finally:
            if not self._done.is_set():
                self.cancel()  # the consumer stopped early (task cancelled, break)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._aiter()

    def _claim(self) -> None:
        with self._lock:
            if self._consumed:
                raise RuntimeError("a TokenStream can be consumed once")
            self._consumed = True

    def text(self) -> str:
        """Consume the whole stream (blocking) and return the text."""
        return "".join(self)


class Backend(Protocol):
    """What the session needs from a model, local or remote."""

    name: str
    #: Whether :attr:`GenerationRequest.prefill` is honoured (chat APIs cannot).
    supports_prefill: bool

    @property
    def model_id(self) -> str: ...

    @property
    def n_ctx(self) -> int: ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer (blocks until loaded)."""
        ...

    def prompt_tokens(self, request: GenerationRequest) -> int:
        """Tokens of the whole rendered prompt of ``request``."""
        ...

    def stream(self, request: GenerationRequest) -> TokenStream:
        """Start generating in the background and return the stream at once."""
        ...

    def close(self) -> None: ...
