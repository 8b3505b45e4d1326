"""Helpers for the alsate-tui tests (no tests here): demo sources, a scripted model backend, waits."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Sequence

from alsate.engine.collect import SourceSet
from alsate.engine.llm.analyst import Analyst
from alsate.engine.llm.backend import GenerationRequest, GenerationStats, StatsClock, TokenStream
from alsate.engine.llm.profiles import load_profile
from alsate.engine.sources.demo import demo_sources
from alsate.tui.app import AlsateApp, Filters, LLMSettings

#: A fixed demo clock, so screens are the same on every run (with TZ=UTC).
ANCHOR = 1_800_000_000.0


class HistoryOnly(SourceSet):
    """A SourceSet that reads the history and then nothing live (deterministic screens)."""

    def start_follow(self) -> None:
        self._buffer = None

    def poll_live(self, timeout: float = 0.1) -> list:
        self._stop.wait(timeout)
        return []


class ScriptedModel:
    """A model backend that streams a fixed answer word by word (for fast chat-flow tests).

    The real model is exercised by the LLM engine's tests and the end-to-end run.
    """

    name = "scripted"
    supports_prefill = False

    def __init__(self, answer: str = "Cause: a test cause.\nRemediation:\n1. do a thing\nThreat level: low",
                 delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.answer = answer
        self.delay = delay
        #: When given, the stream pauses after its first ten words until the gate is set
        #: (so a test sees the answer mid-stream however fast or slow the machine is).
        self.gate = gate
        self.requests: list[GenerationRequest] = []
        self.ready = True

    @property
    def model_id(self) -> str:
        return "scripted-model:1"

    @property
    def n_ctx(self) -> int:
        return 8192

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + text.count("\n")

    def prompt_tokens(self, request: GenerationRequest) -> int:
        return sum(self.count_tokens(m.content) + 4 for m in request.messages)

    def stream(self, request: GenerationRequest) -> TokenStream:
        self.requests.append(request)
        stream = TokenStream()
        clock = StatsClock()

        def produce() -> None:
            reason = "stop"
            for i, word in enumerate(self.answer.split(" ")):
                if stream.cancelled.is_set():
                    reason = "cancelled"
                    break
                if self.delay:
                    time.sleep(self.delay)
                if i == 10 and self.gate is not None:
                    self.gate.wait(30)
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


def analyst_factory(model: ScriptedModel) -> Callable:
    def make(progress):
        return Analyst(model, load_profile("generic"), cache=None)

    return make


def make_app(*, live: bool = False, model: ScriptedModel | None = None, speed: float = 3.0,
             anchor: float | None = ANCHOR, filters: Filters | None = None,
             analyst: Callable | None = None, sources: Sequence | None = None, **kwargs) -> AlsateApp:
    """The app over the demo logs; history only unless ``live``."""
    if sources is None:
        sources = demo_sources(speed=speed, anchor=None if live else anchor)
    factory = None if live else HistoryOnly
    llm = LLMSettings(enabled=model is not None or analyst is not None)
    # One theme whatever the terminal running the tests (a 16-colour one would pick the ANSI theme).
    kwargs.setdefault("theme", "textual-dark")
    return AlsateApp(sources, source_names="demo", filters=filters, llm=llm,
                     analyst_factory=analyst or (analyst_factory(model) if model is not None else None),
                     source_set_factory=factory, notice="DEMO", **kwargs)


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> None:
    """Let the app run until ``condition()`` holds (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(step)
    await asyncio.sleep(0)


async def loaded(pilot, findings: bool = True) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: not app._loading and len(app.view) > 0)
    if findings:
        await wait_for(pilot, lambda: bool(app.findings_panel.rows))
    await pilot.pause(0.15)


def screen_text(app) -> str:
    """The log pane's lines as plain text."""
    return "\n".join(app.log_pane.render_lines_text())


def run_async(test):
    """Run an ``async def`` test with asyncio.run (no pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper
