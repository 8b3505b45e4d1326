"""What ``alsate ask`` and ``alsate explain`` share: LLM flags, record loading, output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from alsate.engine.errors import UserError
from alsate.engine.llm.analyst import Started
from alsate.engine.llm.factory import LLMOptions
from alsate.engine.llm.guard import terminal_safe
from alsate.engine.llm.session import AnswerResult
from alsate.engine.records import Record
from alsate.engine.textio import json_safe, visible

#: How far (in stored records) to look for a record's neighbours from the same unit.
NEIGHBOUR_WINDOW = 300
#: Whole-excerpt tasks look at this many of the most recent matching records.
RECENT = 2000


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", metavar="GGUF", help="GGUF model file (default: $ALSATE_MODEL, then the "
                       "embedded SmolLM2-135M-Instruct)")
    group.add_argument("--lora", metavar="GGUF", help="LoRA adapter to load on top of the model "
                       "('none': the embedded model without alsate's adapter)")
    group.add_argument("--remote", metavar="URL", help="OpenAI-compatible server instead of a local model, "
                       "e.g. http://gpu-box:8080/v1 (default: $ALSATE_REMOTE)")
    group.add_argument("--remote-model", metavar="NAME", help="model name on the server (default: its first)")
    group.add_argument("--profile", metavar="NAME", help="model profile from alsate's assets (default: by model name)")
    group.add_argument("--ctx", dest="n_ctx", type=_positive, metavar="TOKENS", help="context size")
    group.add_argument("--max-tokens", type=_positive, metavar="N", help="longest answer, in tokens")
    group.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (0: greedy)")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the analysis cache")
    parser.add_argument("--json", action="store_true", help="print the parsed answer and the stats as JSON")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def options_from_args(args: argparse.Namespace) -> LLMOptions:
    from alsate.engine.cli.scan import config_from

    config_model = config_from(args).model
    return LLMOptions(
        config_model=config_model,
        model=getattr(args, "model", None),
        lora=getattr(args, "lora", None),
        remote=getattr(args, "remote", None),
        remote_model=getattr(args, "remote_model", None),
        profile=getattr(args, "profile", None),
        n_ctx=getattr(args, "n_ctx", None),
        max_tokens=getattr(args, "max_tokens", None),
        temperature=getattr(args, "temperature", None),
        use_cache=not getattr(args, "no_cache", False),
    )


def add_sources(parser: argparse.ArgumentParser) -> None:
    """The SOURCE and filter arguments of ``alsate scan``."""
    from alsate.engine.cli.scan import add_source_arguments

    add_source_arguments(parser)


@dataclass
class Selection:
    """What the SOURCE and filter arguments select: the store and the matching sequence numbers."""

    store: Any
    matches: list[int]

    def records(self, last: int | None = None) -> list[Record]:
        seqs = self.matches if last is None else self.matches[-last:]
        return [self.store.get(seq) for seq in seqs]

    def find(self, record_id: str) -> int | None:
        """Sequence number of ``record_id``: among the matches first, then anywhere in the store."""
        for seq in self.matches:
            if self.store.id_of(seq) == record_id:
                return seq
        for seq in range(self.store.first_seq, self.store.end_seq):
            if self.store.id_of(seq) == record_id:
                return seq
        return None

    def around(self, seq: int, window: int = NEIGHBOUR_WINDOW) -> list[Record]:
        """Records stored near ``seq`` (any priority): where its neighbours in the same unit are."""
        start = max(self.store.first_seq, seq - window)
        end = min(self.store.end_seq, seq + window + 1)
        return [self.store.get(s) for s in range(start, end) if s != seq]


def load_selection(args: argparse.Namespace, consumer: Callable[[Record], None] | None = None) -> Selection:
    """Read the sources and apply the filters, as ``alsate scan`` does; ``consumer`` sees every record read."""
    from alsate.engine.cli.scan import load_store

    store, query, _sources = load_store(args, consumer) if consumer is not None else load_store(args)
    view = store.view(query)
    view.refresh()
    return Selection(store, list(view.matches))


def stream_answer(started: Started, *, as_json: bool, out: TextIO | None = None,
                  extra: dict[str, Any] | None = None) -> int:
    """Print the answer as it streams (or JSON at the end); flags go to stderr."""
    out = out or sys.stdout
    stream = started.stream
    try:
        for piece in stream:
            if not as_json:
                out.write(visible(terminal_safe(piece)))  # visible: what the guard lets through (U+2028)
                out.flush()
    except KeyboardInterrupt:
        stream.cancel()
        raise
    result = stream.result
    if result is None:
        raise UserError("the model stopped without an answer")
    if as_json:
        payload = result.to_json()
        payload["context"] = _context_json(started)
        if extra:
            payload.update(extra)
        out.write(json_safe(json.dumps(payload, indent=2, ensure_ascii=False)))
        out.write("\n")
    else:
        if not result.text.endswith("\n"):
            out.write("\n")
        _warn(result)
    return 0


def _context_json(started: Started) -> dict[str, Any]:
    info = started.session.context.info
    return {
        "tokens": info.tokens,
        "budget": info.budget,
        "selected": info.selected_included,
        "selected_total": info.selected_total,
        "neighbours": info.neighbours_included,
        "neighbours_total": info.neighbours_total,
        "truncated": info.truncated,
    }


def _warn(result: AnswerResult) -> None:
    for flag in result.guard.flags:
        what = "dangerous command" if flag.kind == "dangerous-command" else "text copied from the log"
        print(f"alsate: warning: the answer contains a {what} ({flag.rule}): {terminal_safe(flag.excerpt)!r}; "
              "do not run it", file=sys.stderr)
    if result.stats.context_truncated:
        print("alsate: note: left out to fit the context: " + "; ".join(result.stats.omitted), file=sys.stderr)


def pick_records(records: Sequence[Record], limit: int = 400) -> list[Record]:
    """For whole-excerpt tasks: the most severe first, then the most recent."""
    ranked = sorted(records, key=lambda r: (r.effective, -r.ts))
    return ranked[:limit]
