"""How the local backend picks tokens: llama.cpp's sampler chain, with DRY against loops.

A small model that decodes (near-)greedily falls into loops: the same item,
path or line again until the answer is cut at ``max_tokens``, without its
threat level. llama.cpp's repeat penalty, the usual cure, lowers every token
of the last 64 written, the newline and ``-`` of the answer's own layout
included: at 1.15 the embedded model ended answers early instead, before the
``Threat level`` line (docs/training.md has the measurements). DRY ("don't
repeat yourself", llama.cpp's ``llama_sampler_init_dry``) lowers only the
token that would extend a sequence already written, more for a longer one,
and a sequence ends at a breaker (newline, colon, quote, asterisk), so the
layout is not penalised.

llama-cpp-python's ``Llama`` builds its chain without DRY; :func:`llama_class`
gives a subclass whose chain is the library's, in the library's order, with
DRY after the penalties when :attr:`Dry.multiplier` is above 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alsate.engine.llm.grammar import AnswerGrammar

#: Where a repeated sequence ends for DRY (llama.cpp's default breakers).
DRY_BREAKERS = ("\n", ":", '"', "*")
#: How far back DRY looks for a repeat, in tokens (llama.cpp reads 0 or less as "off").
DRY_WINDOW = 1024


@dataclass(frozen=True)
class Dry:
    """DRY's settings; ``multiplier`` 0 turns it off."""

    multiplier: float = 0.0
    base: float = 1.75
    allowed_length: int = 2
    #: Where a repeated sequence ends (see :data:`DRY_BREAKERS`).
    breakers: tuple[str, ...] = DRY_BREAKERS

    @property
    def on(self) -> bool:
        return self.multiplier > 0


@cache
def llama_class() -> type:
    """``llama_cpp.Llama`` with DRY in its sampler chain (set the instance's ``dry``)."""
    from llama_cpp import Llama
    from llama_cpp import _internals as internals

    class SampledLlama(Llama):  # type: ignore[misc, valid-type]
        dry: Dry = Dry()

        def _init_sampler(self, **kw: Any) -> Any:
            """The chain ``Llama.generate`` samples with: the library's own unless DRY is on (and for the
            options alsate does not use: a logits processor, mirostat). A grammar (the answer format,
            :mod:`alsate.engine.llm.grammar`) comes after DRY, where the library puts it after the
            penalties."""
            if not self.dry.on or kw.get("logits_processor") or kw.get("mirostat_mode"):
                return super()._init_sampler(**kw)
            chain = internals.LlamaSampler()
            chain.add_penalties(n_vocab=self._n_vocab, penalty_last_n=self.last_n_tokens_size,
                                penalty_repeat=kw.get("repeat_penalty", 1.0),
                                penalty_freq=kw.get("frequency_penalty", 0.0),
                                penalty_present=kw.get("presence_penalty", 0.0))
            chain.add_dry(self._model, self.dry.multiplier, self.dry.base, self.dry.allowed_length, DRY_WINDOW,
                          list(self.dry.breakers))
            if kw.get("grammar") is not None:
                chain.add_grammar(self._model, kw["grammar"])
            temp = kw.get("temp", 0.8)
            if temp < 0.0:
                chain.add_dist(self._seed)
            elif temp == 0.0:
                chain.add_greedy()
            else:
                chain.add_top_k(kw.get("top_k", 40))
                chain.add_typical(kw.get("typical_p", 1.0), 1)
                chain.add_top_p(kw.get("top_p", 0.95), 1)
                chain.add_min_p(kw.get("min_p", 0.05), 1)
                chain.add_temp(temp)
                chain.add_dist(self._seed)
            return chain

    return SampledLlama


#: Tokens at the end of an answer's budget kept to finish it in format (see :func:`sample_answer`).
CLOSING_TOKENS = 64


def sample_answer(llm: Any, tokens: list[int], *, max_tokens: int, grammar: AnswerGrammar | None = None,
                  **sampling: Any) -> Iterator[int]:
    """The token ids ``llm.generate`` samples after the prompt ``tokens`` (the caller stops at the end of
    the turn), at most ``max_tokens``.

    With a ``grammar`` the answer is held to its format, and one that is still going when only
    :data:`CLOSING_TOKENS` of the budget are left is finished under its closing grammar (the line it
    is in ended, each missing field one short line, the threat level): it is not cut before its
    threat level."""
    from alsate.engine.llm.grammar import parsed_grammar

    budget = max_tokens - CLOSING_TOKENS if grammar is not None and max_tokens > CLOSING_TOKENS else max_tokens
    answer: list[int] = []
    for token in llm.generate(tokens, reset=True, grammar=parsed_grammar(grammar and grammar.text), **sampling):
        yield token
        answer.append(token)
        if len(answer) >= budget:
            break
    else:
        return
    if grammar is None or len(answer) >= max_tokens:
        return
    closing = grammar.closing(llm.detokenize(answer).decode("utf-8", "replace"), max_tokens - len(answer))
    if closing is None:
        return
    for token in llm.generate(tokens + answer, reset=True, grammar=parsed_grammar(closing), **sampling):
        yield token
        answer.append(token)
        if len(answer) >= max_tokens:
            return


__all__ = ["CLOSING_TOKENS", "DRY_BREAKERS", "DRY_WINDOW", "Dry", "llama_class", "sample_answer"]
