"""Chat sessions: the conversation about one piece of log data, and its answers.

A session starts with the system prompt and one user message holding the task
and the log data (inside the session's random boundary); every follow-up adds
a question and, once streamed, the answer. Because the conversation only grows
at the end, the rendered prompt of a follow-up starts with the previous one,
and the local backend reuses the KV cache for that shared prefix. When the
context fills, the oldest question/answer pairs after the data message are
dropped, and the stats say how many.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass

from alsate.engine.llm.answer import REFUSAL, Answer, parse_answer
from alsate.engine.llm.backend import (
    Backend,
    GenerationRequest,
    GenerationStats,
    LLMError,
    Message,
    TokenStream,
)
from alsate.engine.llm.context import AssembledContext
from alsate.engine.llm.grammar import AnswerGrammar
from alsate.engine.llm.guard import GuardReport, check_output, new_boundary
from alsate.engine.llm.profiles import Profile
from alsate.engine.llm.prompts import render_task, system_prompt

#: Keep this many tokens free beyond the answer (template tokens, estimates).
SAFETY_MARGIN = 16


@dataclass(frozen=True)
class AnswerResult:
    """A finished answer: the text, its parsed fields, the guard's verdict, the stats."""

    text: str
    answer: Answer
    guard: GuardReport
    stats: GenerationStats
    cached: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "answer": self.answer.to_json(),
            "guard": self.guard.to_json(),
            "stats": self.stats.to_json(),
            "cached": self.cached,
        }


class AnswerStream:
    """The text of one answer as it streams (``for``/``async for``), then :attr:`result`.

    The first piece is the prefill the model was given, if any, so the reader
    sees the whole answer. :attr:`result` is set when iteration ends normally
    or by cancel; an error from the backend is raised from the iteration.
    """

    def __init__(self, tokens: TokenStream, prefill: str, finish: Callable[[str, GenerationStats], AnswerResult],
                 on_abort: Callable[[], None] | None = None) -> None:
        self._tokens = tokens
        self._prefill = prefill
        self._finish = finish
        self._on_abort = on_abort
        self._parts: list[str] = []
        self._listeners: list[Callable[[AnswerResult], None]] = []
        self.result: AnswerResult | None = None

    def on_result(self, listener: Callable[[AnswerResult], None]) -> None:
        """Call ``listener`` with the result once the answer is complete (the cache uses this)."""
        self._listeners.append(listener)

    def cancel(self) -> None:
        self._tokens.cancel()

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def _begin(self) -> str | None:
        if self._prefill:
            self._parts.append(self._prefill)
            return self._prefill
        return None

    def _end(self) -> None:
        stats = self._tokens.stats
        if stats is None:  # failed or abandoned
            if self._on_abort:
                self._on_abort()
            return
        self.result = self._finish(self.text, stats)
        for listener in self._listeners:
            listener(self.result)

    def __iter__(self) -> Iterator[str]:
        first = self._begin()
        if first:
            yield first
        try:
            for piece in self._tokens:
                self._parts.append(piece)
                yield piece
        except BaseException:
            if self._on_abort:
                self._on_abort()
            raise
        self._tokens.wait()
        self._end()

    async def _aiter(self) -> AsyncIterator[str]:
        first = self._begin()
        if first:
            yield first
        try:
            async for piece in self._tokens:
                self._parts.append(piece)
                yield piece
        except BaseException:
            if self._on_abort:
                self._on_abort()
            raise
        self._end()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._aiter()

    def collect(self) -> AnswerResult:
        """Consume the stream (blocking) and return the result."""
        for _ in self:
            pass
        if self.result is None:
            raise LLMError("the answer stopped without a result")
        return self.result


#: Tasks whose answers have the fixed format of docs/answer-format.md (a free question has none).
STRUCTURED_TASKS = ("explain", "summarize", "root_cause", "patterns")


def refusal_stream(backend: Backend) -> TokenStream:
    """The refusal sentence as a finished stream, for data that is not logs (no model call)."""
    stream = TokenStream()
    stream.emit(REFUSAL)
    stream.finish(GenerationStats(backend=backend.name, model="not a log (alsate.engine.llm.not_a_log)",
                                  prompt_tokens=0, cached_tokens=0, completion_tokens=0, ttft_s=0.0,
                                  tokens_per_s=None, total_s=0.0, finish_reason="stop"))
    return stream


class ChatSession:
    """One conversation: a task over some log data, then free follow-up questions."""

    def __init__(self, backend: Backend, profile: Profile, *, task: str, context: AssembledContext,
                 template: str | None = None, question: str = "", max_tokens: int | None = None,
                 temperature: float | None = None, boundary: str | None = None) -> None:
        self.backend = backend
        self.profile = profile
        self.task = task
        self.boundary = boundary or new_boundary()
        self.max_tokens = max_tokens or profile.max_tokens
        self.temperature = profile.temperature if temperature is None else temperature
        self.context = context
        self.log_texts: list[str] = list(context.log_texts)
        self.system = Message("system", system_prompt(profile, self.boundary))
        first = render_task(template or task, body=context.body, boundary=self.boundary,
                            notes=context.notes, question=question)
        self.history: list[Message] = [Message("user", first)]
        self.results: list[AnswerResult] = []
        self.trimmed = 0
        self._active: AnswerStream | None = None

    @property
    def messages(self) -> tuple[Message, ...]:
        return (self.system, *self.history)

    def _request(self, prefill: str, grammar_task: str | None = None) -> GenerationRequest:
        prefill = prefill if self.backend.supports_prefill else ""
        grammar = AnswerGrammar.of(grammar_task, prefill) if grammar_task and self.profile.answer_grammar else None
        return GenerationRequest(
            messages=self.messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            repeat_penalty=self.profile.repeat_penalty,
            dry=self.profile.dry,
            prefill=prefill,
            grammar=grammar,
        )

    def _fit(self, prefill: str, grammar_task: str | None = None) -> GenerationRequest:
        """Drop the oldest follow-up pairs until prompt + answer fit the context."""
        limit = self.backend.n_ctx - self.max_tokens - SAFETY_MARGIN
        request = self._request(prefill, grammar_task)
        while self.backend.prompt_tokens(request) > limit:
            if len(self.history) <= 2:
                raise LLMError(
                    f"the question and log data do not fit the model's context of {self.backend.n_ctx} tokens; "
                    "select fewer lines or lower --max-tokens"
                )
            del self.history[1:3]
            self.trimmed += 1
            request = self._request(prefill, grammar_task)
        return request

    def start(self, task_for_answer: str | None = None) -> AnswerStream:
        """Stream the answer to the pending user message (the task, or the last question)."""
        if not self.history or self.history[-1].role != "user":
            raise LLMError("nothing to answer: ask a question first")
        if self._active is not None and self._active.result is None:
            self._active.cancel()
        task = task_for_answer or (self.task if len(self.history) == 1 else "question")
        adapter = bool(getattr(getattr(self.backend, "spec", None), "lora_path", None))
        first = len(self.history) == 1
        prefill = self.profile.prefill_for(task, adapter=adapter) if first else ""
        if first and self.context.not_logs and task in STRUCTURED_TASKS:
            tokens, prefill = refusal_stream(self.backend), ""  # no log data: refused without the model
        else:
            request = self._fit(prefill, task if first else None)
            tokens, prefill = self.backend.stream(request), request.prefill
        self._active = AnswerStream(
            tokens,
            prefill,
            lambda text, stats: self._finished(task, text, stats),
            on_abort=self._aborted,
        )
        return self._active

    def ask(self, question: str, *, context: AssembledContext | None = None) -> AnswerStream:
        """A follow-up question, optionally with more log data (inside the same boundary)."""
        if not question.strip():
            raise LLMError("empty question")
        if context is not None and context.body:
            content = render_task("followup_data", body=context.body, boundary=self.boundary,
                                  notes=context.notes, question=question)
            self.log_texts.extend(context.log_texts)
        else:
            content = render_task("followup", body="", boundary=self.boundary, question=question)
        if self.history[-1].role == "user":
            self.history.pop()  # an unanswered question (cancelled or failed) is replaced
        self.history.append(Message("user", content))
        return self.start()

    def add_answer(self, result: AnswerResult) -> None:
        """Record an answer obtained elsewhere (the analysis cache) as the reply to the pending message."""
        if self.history[-1].role == "user":
            self.history.append(Message("assistant", result.text))
        self.results.append(result)

    def _finished(self, task: str, text: str, stats: GenerationStats) -> AnswerResult:
        info = self.context.info
        stats = dataclasses.replace(
            stats,
            context_truncated=info.truncated,
            omitted=info.omitted(),
            history_trimmed=self.trimmed,
        )
        result = AnswerResult(
            text=text,
            answer=parse_answer(text, task if task in STRUCTURED_TASKS else "question"),
            guard=check_output(text, self.log_texts),
            stats=stats,
        )
        if stats.finish_reason != "cancelled" and text.strip():
            self.history.append(Message("assistant", text))
        elif self.history[-1].role == "user" and len(self.history) > 1:
            self.history.pop()  # a cancelled follow-up leaves no trace
        self.results.append(result)
        return result

    def _aborted(self) -> None:
        if self.history[-1].role == "user" and len(self.history) > 1:
            self.history.pop()


def finish_from_text(session: ChatSession, task: str, text: str, stats: GenerationStats, *,
                     also_log_texts: Sequence[str] = ()) -> AnswerResult:
    """Build the result for ``text`` as if the session had generated it (used for cached answers);
    the guard also reads it against ``also_log_texts`` (what it was first answered for)."""
    return AnswerResult(
        text=text,
        answer=parse_answer(text, task),
        guard=check_output(text, [*session.log_texts, *also_log_texts]),
        stats=stats,
        cached=True,
    )

