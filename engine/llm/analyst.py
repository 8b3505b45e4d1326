"""The one entry point the UI and the headless verbs use.

An :class:`Analyst` owns a backend, the model's profile and the analysis
cache. Each task returns a :class:`ChatSession` already streaming its first
answer (``session.results`` and the stream's ``result`` fill in when done);
follow-ups go through :meth:`ChatSession.ask`. Explanations come from the
cache when the same (model, template, prompt version) was explained before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alsate.engine.llm.analysis_cache import AnalysisCache, template_of
from alsate.engine.llm.backend import Backend, GenerationStats, LLMError, TokenStream
from alsate.engine.llm.context import AssembledContext, FindingFacts, assemble, neighbours_of
from alsate.engine.llm.guard import new_boundary
from alsate.engine.llm.profiles import Profile
from alsate.engine.llm.prompts import TASKS, prompt_version, render_task, system_prompt
from alsate.engine.llm.session import AnswerResult, AnswerStream, ChatSession, finish_from_text
from alsate.engine.records import Record

log = logging.getLogger(__name__)

#: Part of the context kept free for follow-up questions and their answers.
FOLLOWUP_SHARE = 0.2
NEIGHBOURS = 6


@dataclass(frozen=True)
class Started:
    """A session and the stream of its first answer."""

    session: ChatSession
    stream: AnswerStream


class Analyst:
    def __init__(self, backend: Backend, profile: Profile, *, cache: AnalysisCache | None = None,
                 max_tokens: int | None = None, temperature: float | None = None) -> None:
        self.backend = backend
        self.profile = profile
        self.cache = cache
        self.max_tokens = max_tokens or profile.max_tokens
        self.temperature = temperature

    # -- context ----------------------------------------------------------------
    def _budget(self, template: str, question: str = "") -> int:
        boundary = new_boundary()
        overhead = self.backend.count_tokens(system_prompt(self.profile, boundary))
        overhead += self.backend.count_tokens(
            render_task(template, body="x", boundary=boundary, notes="Note: " + "x " * 30, question=question)
        )
        reserve = int(self.backend.n_ctx * FOLLOWUP_SHARE)
        budget = self.backend.n_ctx - self.max_tokens - overhead - reserve - 48
        if budget < 64:
            raise LLMError(
                f"the model's context ({self.backend.n_ctx} tokens) leaves no room for log data; "
                "lower --max-tokens or use a model with a longer context"
            )
        return budget

    def context(self, template: str, *, records: Sequence[Record] = (), pool: Iterable[Record] = (),
                finding: Any = None, question: str = "", neighbours: int = NEIGHBOURS) -> AssembledContext:
        facts = FindingFacts.of(finding) if finding is not None else None
        near = neighbours_of(records, pool, neighbours) if neighbours else []
        return assemble(self.backend.count_tokens, self._budget(template, question),
                        selected=records, neighbours=near, finding=facts)

    def _session(self, task: str, template: str, context: AssembledContext, question: str = "") -> ChatSession:
        return ChatSession(self.backend, self.profile, task=task, template=template, context=context,
                           question=question, max_tokens=self.max_tokens, temperature=self.temperature)

    # -- tasks ---------------------------------------------------------------------
    def explain(self, records: Sequence[Record] = (), *, finding: Any = None, pool: Iterable[Record] = (),
                use_cache: bool = True) -> Started:
        """Explain one record (the first of ``records``) or a finding (with ``records`` as samples)."""
        if finding is None and not records:
            raise LLMError("nothing to explain: no record matches")
        template = "explain_finding" if finding is not None else "explain"
        selected = list(records) if finding is not None else list(records[:1])
        context = self.context(template, records=selected, pool=pool, finding=finding)
        session = self._session("explain", template, context)
        if finding is not None:
            facts = FindingFacts.of(finding)
            subject = facts.template or f"{facts.title} ({facts.id})"
        else:
            subject = template_of(selected[0].message)
        return self._cached_or_generated(session, "explain", template, subject, use_cache)

    def analyse(self, task: str, records: Sequence[Record], *, pool: Iterable[Record] = ()) -> Started:
        """summarize, root_cause or patterns over ``records`` (most important first)."""
        if task not in ("summarize", "root_cause", "patterns"):
            raise LLMError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
        if not records:
            raise LLMError("no records to analyse: the filters match nothing")
        context = self.context(task, records=records, pool=pool, neighbours=0)
        session = self._session(task, task, context)
        return Started(session, session.start())

    def question(self, question: str, records: Sequence[Record], *, pool: Iterable[Record] = ()) -> Started:
        """A free question about ``records``; follow-ups via ``started.session.ask``."""
        if not question.strip():
            raise LLMError("empty question")
        context = self.context("question", records=records, pool=pool, question=question, neighbours=0)
        session = self._session("question", "question", context, question=question)
        return Started(session, session.start())

    # -- cache ------------------------------------------------------------------------
    def _cached_or_generated(self, session: ChatSession, task: str, template: str, subject: str,
                             use_cache: bool) -> Started:
        version = prompt_version(self.profile, template, task)
        model = self.backend.model_id
        if use_cache and self.cache is not None:
            hit = self.cache.get(model, task, subject, version)
            # Rows without the log texts they were answered from (older ones) are not replayed.
            if hit is not None and isinstance(hit.stats.get("log_texts"), list):
                origin = [t for t in hit.stats["log_texts"] if isinstance(t, str)]
                stream = _replay(session, task, hit.answer, model, origin)
                return Started(session, stream)
        stream = session.start()
        if self.cache is not None:
            cache = self.cache

            def store(result: AnswerResult) -> None:
                if (result.stats.finish_reason != "cancelled" and result.answer.complete
                        and not result.guard.flagged):
                    try:
                        cache.put(model, task, subject, version, result.text,
                                  {**result.stats.to_json(), "log_texts": _guard_texts(session.log_texts)})
                    except Exception as exc:  # the cache only saves time
                        log.warning("analysis cache not written: %s", exc)

            stream.on_result(store)
        return Started(session, stream)


#: Log text kept with a cached answer, for the guard to read when it is replayed (characters in all).
GUARD_TEXT_LIMIT = 16_000


def _guard_texts(texts: Sequence[str]) -> list[str]:
    """The log texts an answer was given for, as much of them as :data:`GUARD_TEXT_LIMIT` allows."""
    kept, room = [], GUARD_TEXT_LIMIT
    for text in texts:
        if room <= 0:
            break
        kept.append(text[:room])
        room -= len(kept[-1])
    return kept


def _replay(session: ChatSession, task: str, text: str, model: str, origin_texts: Sequence[str]) -> AnswerStream:
    """A stream that yields a cached answer at once and records it in the session.

    The cache is keyed by template: the answer may have been given for another line of it, whose
    variable parts (a URL, a command an attacker wrote) this line lacks. The guard reads the answer
    against both lines' texts, so what it would have flagged then it flags now."""
    tokens = TokenStream()
    tokens.emit(text)
    stats = GenerationStats(backend="cache", model=model, prompt_tokens=None, cached_tokens=None,
                            completion_tokens=0, ttft_s=0.0, tokens_per_s=None, total_s=0.0,
                            finish_reason="cached")
    tokens.finish(stats)

    def finish(answer_text: str, answer_stats: GenerationStats):
        result = finish_from_text(session, task, answer_text, answer_stats, also_log_texts=origin_texts)
        session.add_answer(result)
        return result

    return AnswerStream(tokens, "", finish)

