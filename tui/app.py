"""alsate-tui: the keyboard-driven terminal app over the engine.

The app holds the engine's objects and wires the widgets to them:

- a :class:`~alsate.engine.collect.SourceSet` read in a thread worker (history,
  then live follow); the reading thread turns each batch into the store's
  columns (``Store.prepare``) and hands it over with ``call_from_thread``; the
  event loop appends it to the :class:`~alsate.engine.store.Store`
  (``Store.commit``), the only place the store is written after loading;
- a :class:`~alsate.engine.store.View` for the current filters, extended on a
  timer (10 per second, with a budget) so repaints are batched;
- a findings engine in its own thread (:mod:`alsate.engine.findings.feed`); it
  and the follower threads wait while the event loop handles a key or paints
  (``_ui_idle``), so a key does not queue for the GIL behind them;
- an :class:`~alsate.engine.llm.analyst.Analyst` opened in the background
  (the app is usable while the model loads), answers streamed into the chat.

Start-up paints the first screen before anything heavy is imported or started:
sources, findings and the model are started after that first frame.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from alsate.engine.errors import UserError
from alsate.engine.records import DEFAULT_MAX_PRIORITY, Record, SourceKind
from alsate.engine.store import Prepared, Query, Store, View
from alsate.tui import heap
from alsate.tui.chat_pane import ChatPane
from alsate.tui.commands import AlsateCommands
from alsate.tui.findings_panel import FindingsPanel
from alsate.tui.format import priorities_label, safe
from alsate.tui.frame_rate import quicken_frames
from alsate.tui.key_order import KeyOrder
from alsate.tui.log_pane import LogPane
from alsate.tui.status_bar import Breadcrumb, StatusBar, StatusInfo
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer

if TYPE_CHECKING:
    from alsate.engine.findings.feed import FindingsFeed, FindingsSnapshot

#: How often the view is extended and the log pane repainted (seconds).
TICK = 0.1
#: Live lines per second from which a following log pane is repainted every FAST_FOLLOW_PERIOD seconds, not
#: every tick: every line on screen is new at each repaint then (nobody reads them as they pass), and the
#: frames were most of what a key waited for under load (bench/soak.py --sample-slow-keys).
FAST_FOLLOW_RATE = 1_000
FAST_FOLLOW_PERIOD = 0.2
#: Records examined per call when a filtered view is extended, and the time the event loop spends
#: extending views per tick or key: a regex or unit filter over 1M records is built over several ticks
#: (priority-only views are built at once by the store in milliseconds).
VIEW_SLICE = 20_000
VIEW_TIME = 0.02
#: Live records handed to the event loop at most this often (seconds).
BATCH_SECONDS = 0.05
#: Context lines shown around a record in its detail.
DETAIL_CONTEXT = 5
#: Store records around a record searched for its neighbours (same unit / client).
NEIGHBOUR_WINDOW = 400
#: Seconds a thread may hold the GIL before the event loop gets it (CPython's default is 0.005).
SWITCH_INTERVAL = 0.002
#: Seconds a SIGTERM/SIGHUP exit may take before the process ends without finishing it.
EXIT_GRACE = 3.0
#: Allocations between young-generation collections Python starts itself (CPython's default is 700): a
#: backstop, for when the tick cannot pace them (a key held down, a loop blocked).
GC_THRESHOLD = 50_000
#: The tick collects the young generation once this many objects wait in it, after its frame is painted: a
#: pause of a few ms at a moment of the app's choosing, instead of Python's 50k-object collection (15-200 ms,
#: in whichever thread allocates, holding the GIL) falling at random, under a key (measured with
#: bench/soak.py and bench/tui_latency.py --time-loop; typing does not put it off: a collection put off
#: while keys came grew to Python's own).
GC_YOUNG_STEP = 5_000
#: Paced young collections between two collections of the middle generation.
GC_MIDDLE_EVERY = 10
#: Findings panel refresh (seconds).
FINDINGS_INTERVAL = 1.0
#: Inactive findings the panel keeps (the most recent); older ones are let go so days of scanners do not pile up.
MAX_INACTIVE_FINDINGS = 2000
#: Longest the findings thread waits for the event loop to finish a key or a frame (seconds).
UI_YIELD = 0.25
#: Terminal heights below which the findings and chat panes, then the footer, are left out (the log
#: pane keeps at least its 5 rows; they come back when the terminal grows).
SHORT_HEIGHT = 18
TINY_HEIGHT = 12
#: Seconds after the last resize before the whole screen is painted again (see ``on_resize``).
RESIZE_SETTLE = 0.25
THEMES = ("textual-dark", "ansi-dark", "textual-light", "ansi-light", "nord", "gruvbox")
#: The theme for terminals of 16 colours (TERM without 256color, no COLORTERM=truecolor): the
#: terminal's own palette, nothing approximated from RGB.
THEME_16_COLOURS = "ansi-dark"
#: Exit status after a signal or a lost terminal: 128 + the signal's number, as a shell reports it.
EXIT_SIGHUP = 128 + signal.SIGHUP


@dataclass(frozen=True)
class Filters:
    """What the log pane shows; one level of the breadcrumb."""

    levels: frozenset[int] = frozenset(range(DEFAULT_MAX_PRIORITY + 1))
    effective: bool = True
    origins: frozenset[str] | None = None
    units: frozenset[str] | None = None
    hosts: frozenset[str] | None = None
    since: float | None = None
    until: float | None = None
    pattern: re.Pattern[str] | None = None
    finding_id: str | None = None
    finding_title: str = ""
    evidence: frozenset[str] | None = field(default=None, hash=False)
    label: str = "live log"

    def query(self) -> Query:
        levels = None if self.levels >= frozenset(range(8)) else self.levels
        return Query(priorities=levels, effective=self.effective, origins=self.origins, units=self.units,
                     hosts=self.hosts, since=self.since, until=self.until, pattern=self.pattern, ids=self.evidence)

    def describe(self) -> str:
        parts = [f"p{priorities_label(self.levels)}" + ("" if self.effective else " syslog")]
        if self.finding_id:
            parts.append(f"finding {self.finding_title}")
        if self.units:
            parts.append("unit " + ",".join(sorted(self.units)))
        if self.hosts:
            parts.append("host " + ",".join(sorted(self.hosts)))
        if self.origins:
            parts.append("sources " + ",".join(sorted(os.path.basename(o) for o in self.origins)))
        if self.since is not None or self.until is not None:
            parts.append("time " + _time_range(self.since, self.until))
        if self.pattern is not None:
            parts.append(f"grep /{self.pattern.pattern}/")
        return " ".join(parts)


def _time_range(since: float | None, until: float | None) -> str:
    def stamp(ts: float | None) -> str:
        return "" if ts is None else time.strftime("%m-%d %H:%M", time.localtime(ts))

    return f"{stamp(since)}..{stamp(until)}"


@dataclass
class LLMSettings:
    model: str | None = None
    remote: str | None = None
    config_model: str | None = None
    enabled: bool = True


class AlsateApp(KeyOrder, App[int]):
    """Live log pane, findings panel, chat pane, status bar."""

    CSS_PATH = "app.tcss"
    TITLE = "alsate"
    #: Classes for the screen by terminal height, set by Textual once the screen has the new size
    #: (app.tcss: a short terminal drops the findings and chat panes, a tiny one the footer too).
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (TINY_HEIGHT, "-short"), (SHORT_HEIGHT, "-tall")]
    COMMANDS = App.COMMANDS | {AlsateCommands}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", tooltip="Show every key"),
        Binding("q,ctrl+q", "quit", "Quit", tooltip="Quit alsate"),
        *(Binding(str(n), f"max_priority({n})", f"Priority 0-{n}", show=False,
                  tooltip=f"Show priorities 0 to {n}") for n in range(8)),
        Binding("p", "pick_levels", "Levels", tooltip="Toggle single priority levels"),
        Binding("s", "toggle_effective", "Syslog/eff.", tooltip="Switch between syslog and effective priority"),
        Binding("slash", "search", "Search", tooltip="Regex search with highlight (n/N: next/previous)"),
        Binding("n", "search_next(1)", "Next match", show=False, tooltip="Next search match"),
        Binding("N", "search_next(-1)", "Prev match", show=False, tooltip="Previous search match"),
        Binding("u", "filter_unit", "Unit", show=False, tooltip="Filter by unit"),
        Binding("h", "filter_host", "Host", show=False, tooltip="Filter by host"),
        Binding("t", "filter_time", "Time", show=False, tooltip="Filter by time range"),
        Binding("o", "filter_sources", "Sources", show=False, tooltip="Filter by source"),
        Binding("x", "clear_filters", "Clear", tooltip="Clear all filters and the search"),
        Binding("e", "explain", "Explain", tooltip="Explain the selected line or finding (chat)"),
        Binding("S", "preset('summarize')", "Summarize", show=False,
                tooltip="Summarize the marked lines, else the visible lines"),
        Binding("R", "preset('root_cause')", "Root cause", show=False, tooltip="Root cause of the lines shown"),
        Binding("P", "preset('patterns')", "Patterns", show=False, tooltip="Find patterns in the lines shown"),
        Binding("y", "copy_answer", "Copy answer", show=False, tooltip="Copy the last answer to the clipboard"),
        Binding("escape", "back", "Back", tooltip="Cancel generation, else step back one level"),
        Binding("ctrl+c", "interrupt", "Cancel", show=False, tooltip="Cancel the answer being generated"),
        Binding("l", "focus_pane('log')", "Log", show=False, tooltip="Focus the log pane"),
        Binding("f", "focus_pane('findings')", "Findings", show=False, tooltip="Focus the findings panel"),
        Binding("c", "focus_pane('chat')", "Chat", show=False, tooltip="Type a question in the chat"),
        Binding("z", "zoom", "Zoom", show=False, tooltip="Maximize or restore the focused pane"),
        Binding("T", "next_theme", "Theme", show=False, tooltip="Next colour theme"),
    ]

    def __init__(self, sources: Sequence | None = None, *, source_names: str = "", filters: Filters | None = None,
                 capacity: int = 1_000_000, llm: LLMSettings | None = None,
                 analyst_factory: Callable[[Callable], object] | None = None,
                 findings_factory: Callable[[], object] | None = None, notice: str = "",
                 source_set_factory: Callable | None = None, findings: bool = True,
                 theme: str | None = None) -> None:
        super().__init__()
        quicken_frames()  # before the first screen's update timer is made (tui/frame_rate.py)
        self._key_order_init()
        self._trimmer = heap.Trimmer()
        #: The theme to start with; None: :meth:`default_theme`.
        self.start_theme = theme
        self.sources = list(sources or [])
        self.source_names = source_names
        self.filters = filters or Filters()
        self.store = Store(capacity=capacity)
        self.view: View = self.store.view(self.filters.query())
        self.back_stack: list[Filters] = []
        self.search: re.Pattern[str] | None = None
        self.search_view: View | None = None
        #: An n/N waiting for the search view to reach the next match: (direction, from_start).
        self._search_pending: tuple[int, bool] | None = None
        self.llm = llm or LLMSettings()
        self.analyst_factory = analyst_factory
        self.findings_factory = findings_factory
        self.source_set_factory = source_set_factory
        self.findings_enabled = findings
        #: Problems met opening the sources (a journal you may not read): shown in the status bar.
        self.startup_warnings: list[str] = []
        self.notice = notice
        self.source_set = None
        self.findings_feed: FindingsFeed | None = None
        self.findings_selected = None
        self.analyst = None
        self.model_state = "model: starting" if self.llm.enabled else "model: off"
        self.generating = False
        self.session = None
        self._session_subject: object = None
        self._stream = None
        self._gen_started = 0.0
        self._gen_first = 0.0
        self._gen_tokens = 0
        self._dirty = False
        self._loading = "loading history..."
        #: (time, records ingested) at the last ticks: the live rate is taken over the last second.
        self._rate_marks: deque[tuple[float, int]] = deque(maxlen=int(1 / TICK) + 1)
        self._rate = 0.0
        self._follow_painted = 0.0  # when a following log pane was last given the new lines
        self._checked_at = time.monotonic()
        self._warning = ""
        self._stopping = threading.Event()
        #: Cleared while the event loop handles a key or paints: the findings thread waits for it.
        self._ui_idle = threading.Event()
        self._ui_idle.set()
        self._ui_hold = False
        self._resize_repaint: Timer | None = None
        #: The terminal the app draws on (None when it has none, e.g. under tests): checked each second,
        #: so that the app ends when the terminal is gone (SSH dropped) even without a SIGHUP.
        self._tty_fd: int | None = None
        self.ingested = 0
        self._focus_before_chat = "log"
        self._started = False

    # -- layout ------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # The widgets are kept: a DOM query costs about a millisecond, and the tick and every key need them.
        self._crumbs = Breadcrumb(id="crumbs")
        self._log_pane = LogPane(self.view, id="log")
        self._findings_panel = FindingsPanel(id="findings")
        self._chat = ChatPane(id="chat")
        self._status = StatusBar(id="status")
        yield self._crumbs
        with Vertical(id="main"):
            yield self._log_pane
            with Horizontal(id="bottom"):
                yield self._findings_panel
                yield self._chat
        yield self._status
        yield Footer()

    @property
    def log_pane(self) -> LogPane:
        return self._log_pane

    @property
    def findings_panel(self) -> FindingsPanel:
        return self._findings_panel

    @property
    def chat(self) -> ChatPane:
        return self._chat

    def on_mount(self) -> None:
        # The event loop shares the GIL with the follow, ingest and findings threads: a short switch
        # interval bounds how long a keypress waits for it (measured by bench/tui_latency.py).
        self._saved_runtime = (sys.getswitchinterval(), gc.get_threshold())
        sys.setswitchinterval(SWITCH_INTERVAL)
        gc.set_threshold(GC_THRESHOLD, 20, 20)
        heap.limit_arenas()  # before the source and findings threads start (tui/heap.py)
        self._trimmer.start()
        self.theme = self.default_theme()
        log = self.log_pane
        log.border_title = "Log"
        log.effective = self.filters.effective
        log.empty_message = "loading..."
        self.chat.border_title = "Chat"
        log.focus()
        self._update_crumbs()
        self._update_status()
        self._tty_fd = None if self.is_headless else _terminal_fd()
        # The first screen is painted before sources, findings and the model start (they import and
        # read a lot, and share the GIL with the event loop).
        self.call_after_refresh(self._start_background)

    def _start_background(self) -> None:
        if self._started or self._stopping.is_set():
            return
        self._started = True
        self.set_interval(TICK, self._tick)
        self._start_sources()
        if self.llm.enabled:
            self._open_model()

    def on_resize(self, _event: events.Resize) -> None:
        """Paint the whole screen again once the terminal has settled.

        Between the terminal's resize and the screen's layout at the new size, a live update can still
        be painted at the old size; a terminal that applies the resize late (tmux, a slow SSH link)
        keeps that frame's debris, and a quiet log would leave it there. A full repaint clears it."""
        if self._resize_repaint is not None:
            self._resize_repaint.stop()
        self._resize_repaint = self.set_timer(RESIZE_SETTLE, self._repaint_after_resize)

    def _repaint_after_resize(self) -> None:
        self._resize_repaint = None
        if self.screen_stack:  # not when the app is closing (a resize just before a quit)
            self.screen.refresh(repaint=True)

    def default_theme(self) -> str:
        """``$ALSATE_THEME`` if it names a theme; the ANSI theme on a 16-colour terminal; else the first."""
        if self.start_theme in THEMES:
            return self.start_theme
        wanted = os.environ.get("ALSATE_THEME", "")
        if wanted in THEMES:
            return wanted
        if self.console.color_system in ("standard", "windows"):
            return THEME_16_COLOURS
        return THEMES[0]

    # -- the event loop first ------------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._hold_background()
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            await self.ordered_key(event)  # after the keys before it (tui/key_order.py)
            return
        await super().on_event(event)

    async def hand_on_key(self, event: events.Key | events.Paste) -> None:
        await super().on_event(event)

    def _hold_background(self) -> None:
        """Keep the findings thread off the GIL until the next frame is painted."""
        if not self._ui_hold:
            self._ui_hold = True
            self._ui_idle.clear()
            self.call_after_refresh(self._release_background)

    def _release_background(self) -> None:
        self._ui_hold = False
        self._ui_idle.set()

    # -- ingestion -----------------------------------------------------------------------------------

    def _start_sources(self) -> None:
        from alsate.engine.collect import SourceSet

        factory = self.source_set_factory or (lambda sources: SourceSet(sources))
        self.source_set = factory(self.sources)
        # The follower threads, like the findings thread, stay off the GIL while a key is handled.
        self.source_set.may_run = self._ui_idle
        self.source_set.yield_limit = UI_YIELD
        self.source_set.warnings.extend(self.startup_warnings)
        for warning in self.source_set.warnings:
            self._warning = warning
        self._read_sources()

    def _make_findings_feed(self) -> FindingsFeed:
        """The findings engine and its thread (called in the sources thread: both take a while to import)."""
        from alsate.engine.findings.feed import FindingsFeed

        if self.findings_factory is not None:
            engine = self.findings_factory()
        else:
            from alsate.engine.findings import FindingsEngine

            engine = FindingsEngine(persist_templates=False, max_inactive=MAX_INACTIVE_FINDINGS)

        def publish(snapshot: FindingsSnapshot) -> None:
            if not self._stopping.is_set():
                self.post_message(FindingsUpdated(snapshot))

        return FindingsFeed(engine, publish, store=self.store, interval=FINDINGS_INTERVAL,
                            on_history_done=_freeze_heap, may_run=self._ui_idle, yield_limit=UI_YIELD)

    @work(thread=True, exclusive=True, group="sources", exit_on_error=False)
    def _read_sources(self) -> None:
        source_set = self.source_set
        assert source_set is not None
        try:
            total = source_set.load(self.store, on_batch=lambda n: self._from_thread(self._loading_progress, n))
        except UserError as exc:
            self._from_thread(self._set_warning, str(exc))
            total = len(self.store)
        except Exception as exc:  # a source that cannot be read is shown, never fatal
            self._from_thread(self._set_warning, f"{type(exc).__name__}: {exc}")
            total = len(self.store)
        # The history is on screen before the findings engine is imported and fed.
        self._from_thread(self._loaded, total)
        feed = self._make_findings_feed() if self.findings_enabled else None
        if self._stopping.is_set():
            return
        if feed is not None:
            self.findings_feed = feed
            feed.start()
            feed.feed_history(self.store.first_seq, self.store.end_seq)
        source_set.start_follow()
        batch: list[Record] = []
        flushed = time.monotonic()
        while not self._stopping.is_set() and not source_set.stopped:
            batch.extend(source_set.poll_live(BATCH_SECONDS))
            now = time.monotonic()
            if batch and now - flushed >= BATCH_SECONDS:
                if not self._ui_idle.is_set():  # a key is being handled: its frame first, then this batch
                    self._ui_idle.wait(UI_YIELD)
                if not self._from_thread(self._ingest, batch, self.store.prepare(batch)):
                    break
                batch = []
                flushed = now
            if source_set.warnings:
                self._from_thread(self._set_warning, source_set.warnings[-1])
                source_set.warnings.clear()
            for notice in source_set.take_notices():
                self._from_thread(self._source_notice, notice)

    def _from_thread(self, callback, *args) -> bool:
        if self._stopping.is_set():
            return False
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:  # the app is shutting down
            return False
        return True

    def _loading_progress(self, count: int) -> None:
        self._loading = f"loading {count:,} records..."
        self._dirty = True

    def _loaded(self, total: int) -> None:
        _freeze_heap()
        if not self._alive():
            return
        self._loading = ""
        self.log_pane.empty_message = "no records match the filters (0-7: priority, x: clear filters)"
        self._dirty = True
        self._tick()

    def _source_notice(self, notice: str) -> None:
        """A followed file was deleted, recreated or cannot be reopened: a toast, and the status bar."""
        self.notify(notice, severity="warning", timeout=6)
        self._set_warning(notice)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Textual's notify for untrusted text: markup off by default and control characters made visible
        (messages carry search patterns, paths and error text)."""
        super().notify(safe(message, 300), title=title, severity=severity, timeout=timeout, markup=markup)

    def _set_warning(self, warning: str) -> None:
        self._warning = warning
        self._update_status()

    def _ingest(self, records: list[Record], prepared: Prepared) -> None:
        """Live records, on the event loop: into the store (made ready in the reading thread) and the
        findings feed."""
        self._hold_background()
        self.store.commit(prepared)
        if self.findings_feed is not None and self.findings_enabled:
            self.findings_feed.feed(records)
        self.ingested += len(records)
        self._dirty = True

    def ingest(self, records: list[Record]) -> None:
        """Public for tests and benchmarks: hand records to the app as the live thread does."""
        self._ingest(records, self.store.prepare(records))

    def _alive(self) -> bool:
        """False once the app is shutting down (its widgets may be gone)."""
        return not self._stopping.is_set() and self._log_pane.is_attached and self._status.is_attached

    def _tick(self) -> None:
        if not self._alive():
            return
        now = time.monotonic()
        if self.key_lost(now):
            self.call_later(self.release_lost_key)
        marks = self._rate_marks
        marks.append((now, self.ingested))
        first_at, first_count = marks[0]
        self._rate = (self.ingested - first_count) / (now - first_at) if now > first_at else 0.0
        if now - self._checked_at >= 1.0:
            self._checked_at = now
            if self._tty_fd is not None and not os.isatty(self._tty_fd):
                self.terminal_lost()
                return
        if self._dirty:
            self._hold_background()
            self._dirty = False
            log = self.log_pane
            keep = log.cursor_seq()
            self._extend_views()
            if not self.view.complete or (self.search_view is not None and not self.search_view.complete):
                self._dirty = True
            hosts = len(self.store.hosts())
            if (hosts > 1) != bool(log.host_width):
                log.host_width = 10 if hosts > 1 else 0
                log.refresh()  # the lines are rendered again with the host column
            if (log.follow and self._rate >= FAST_FOLLOW_RATE
                    and now - self._follow_painted < FAST_FOLLOW_PERIOD - TICK / 2):
                self._dirty = True  # the tail is painted at the next tick that may
            else:
                self._follow_painted = now
                log.records_changed(keep)
        if self._search_pending:
            self.action_search_next(*self._search_pending)
        if self.generating:
            self._update_model_rate()
        self._update_status()
        if gc.get_count()[0] >= GC_YOUNG_STEP:
            self.call_after_refresh(_pace_gc)  # once this tick's frame is painted

    def _extend_views(self, limit: float = VIEW_TIME) -> None:
        """Extend the log view, then the search view, slice by slice for at most ``limit`` seconds."""
        deadline = time.perf_counter() + limit
        for view in (self.view, self.search_view):
            while view is not None and not view.complete:
                view.refresh(budget=VIEW_SLICE)
                if time.perf_counter() >= deadline:
                    return

    # -- status and breadcrumb -----------------------------------------------------------------------

    def status_info(self) -> StatusInfo:
        sources = self.source_names or f"{len(self.sources)} sources"
        if self.notice:
            sources = f"{self.notice}; {sources}"
        loading = self._loading
        feed = self.findings_feed
        if feed is not None and feed.pending > 1000:
            loading = (loading + " " if loading else "") + f"findings: {feed.pending:,} to read"
        if feed is not None and feed.skipped:
            loading = (loading + " " if loading else "") + f"findings: {feed.skipped:,} lines skipped (behind)"
        return StatusInfo(
            sources=sources, rate=self._rate, filter=self.filters.describe(), shown=len(self.view),
            held=len(self.store), model=self.model_state, dropped=self.store.dropped,
            follow=self.log_pane.follow, loading=loading,
            warning=self._warning or (self.findings_feed.error if self.findings_feed and
                                      self.findings_feed.error else ""))

    def _update_status(self) -> None:
        if self._alive():  # not while shutting down
            self._status.show(self.status_info())

    def crumbs(self) -> list[str]:
        return [level.label for level in self.back_stack] + [self.filters.label] + \
            ([f"search /{self.search.pattern}/"] if self.search is not None else [])

    def _update_crumbs(self) -> None:
        if self._crumbs.is_attached:
            self._crumbs.show(self.crumbs())

    # -- filters ---------------------------------------------------------------------------------------

    def apply_filters(self, filters: Filters, push: bool = False) -> None:
        """Show ``filters`` (pushing the current ones on the breadcrumb when ``push``)."""
        if push:
            self.back_stack.append(self.filters)
        self.filters = filters
        log = self.log_pane
        keep = log.cursor_seq()
        self.view = self.store.view(filters.query())
        self._extend_views()
        if not self.view.complete:
            self._dirty = True
        if log.effective != filters.effective:
            log.effective = filters.effective
            log.invalidate()  # the priority marks change
        log.set_view(self.view, keep)
        if self.search is not None:
            self._build_search_view()
        self._update_crumbs()
        self._update_status()

    def action_max_priority(self, level: int) -> None:
        self.apply_filters(replace(self.filters, levels=frozenset(range(level + 1))))

    def action_pick_levels(self) -> None:
        from alsate.tui.prompts import LevelsScreen

        def done(levels: frozenset | None) -> None:
            if levels is not None:
                self.apply_filters(replace(self.filters, levels=levels))

        self.push_screen(LevelsScreen(self.filters.levels), done)

    def action_toggle_effective(self) -> None:
        self.apply_filters(replace(self.filters, effective=not self.filters.effective))
        self.notify("filtering on " + ("effective" if self.filters.effective else "syslog") + " priority",
                    timeout=2)

    def _prompt(self, title: str, help_text: str, value: str, then: Callable[[str], None]) -> None:
        from alsate.tui.prompts import PromptScreen

        def done(answer: str | None) -> None:
            if answer is not None:
                try:
                    then(answer.strip())
                except UserError as exc:
                    self.notify(str(exc), severity="error", timeout=4)

        self.push_screen(PromptScreen(title, help_text, value), done)

    def _names(self, text: str) -> frozenset[str] | None:
        names = frozenset(part.strip() for part in text.split(",") if part.strip())
        return names or None

    def action_filter_unit(self) -> None:
        units = sorted(u for u in self.store.units() if u)[:12]
        current = ",".join(sorted(self.filters.units or ()))
        self._prompt("Unit (comma-separated, empty for all)", "seen: " + ", ".join(units), current,
                     lambda text: self.apply_filters(replace(self.filters, units=self._names(text),
                                                             label=f"unit {text}" if text else "all units"),
                                                     push=True))

    def action_filter_host(self) -> None:
        hosts = sorted(h for h in self.store.hosts() if h)[:12]
        current = ",".join(sorted(self.filters.hosts or ()))
        self._prompt("Host (comma-separated, empty for all)", "seen: " + ", ".join(hosts), current,
                     lambda text: self.apply_filters(replace(self.filters, hosts=self._names(text),
                                                             label=f"host {text}" if text else "all hosts"),
                                                     push=True))

    def action_filter_sources(self) -> None:
        origins = self.store.origins()
        listing = ", ".join(f"{n + 1}={os.path.basename(o) or o}" for n, o in enumerate(origins))

        def apply(text: str) -> None:
            chosen = set()
            for part in text.replace(" ", ",").split(","):
                if not part:
                    continue
                if not part.isdigit() or not 1 <= int(part) <= len(origins):
                    raise UserError(f"no source {part!r}: type numbers from the list")
                chosen.add(origins[int(part) - 1])
            label = "sources " + ",".join(sorted(os.path.basename(o) for o in chosen)) if chosen else "all sources"
            self.apply_filters(replace(self.filters, origins=frozenset(chosen) or None, label=label), push=True)

        self._prompt("Sources to show (numbers, comma-separated; empty for all)", listing, "", apply)

    def action_filter_time(self) -> None:
        from alsate.engine.timespec import parse_time

        def apply(text: str) -> None:
            if not text:
                self.apply_filters(replace(self.filters, since=None, until=None, label="any time"), push=True)
                return
            start, _, end = text.partition("..")
            since = parse_time(start) if start.strip() else None
            until = parse_time(end) if end.strip() else None
            if since is not None and until is not None and since > until:
                raise UserError("the start of the range is after its end")
            self.apply_filters(replace(self.filters, since=since, until=until,
                                       label="time " + _time_range(since, until)), push=True)

        self._prompt("Time range: SINCE..UNTIL (e.g. -10m.., -2h..-1h, 2024-05-01 10:00..; empty for any)",
                     "forms: -1h, '2h ago', 2024-05-01, '2024-05-01 10:00', @EPOCH, today, yesterday, now", "", apply)

    def action_clear_filters(self) -> None:
        base = Filters(levels=frozenset(range(DEFAULT_MAX_PRIORITY + 1)), effective=self.filters.effective)
        self.back_stack.clear()
        self.search = None
        self.search_view = None
        self._search_pending = None
        self.log_pane.highlight = None
        self.log_pane.marked.clear()
        self.apply_filters(base)
        self.log_pane.invalidate()

    # -- search ----------------------------------------------------------------------------------------

    def action_search(self) -> None:
        def apply(text: str) -> None:
            if not text:
                self.set_search(None)
                return
            try:
                pattern = re.compile(text, 0 if any(c.isupper() for c in text) else re.IGNORECASE)
            except re.error as exc:
                raise UserError(f"bad regex {text!r}: {exc}") from None
            self.set_search(pattern)
            self.action_search_next(1, from_start=True)

        self._prompt("Search (regex; case-insensitive unless it has capitals)", "n / N: next / previous match",
                     self.search.pattern if self.search else "", apply)

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        self.search = pattern
        log = self.log_pane
        log.highlight = pattern
        log.invalidate()
        self._build_search_view()
        self._update_crumbs()

    def _build_search_view(self) -> None:
        self._search_pending = None
        if self.search is None:
            self.search_view = None
            return
        self.search_view = self.store.view(replace(self.filters.query(), pattern=self.search))
        self._dirty = True  # built on the ticks

    def action_search_next(self, direction: int, from_start: bool = False) -> None:
        if self.search_view is None:
            self.notify("no search: press / to search", timeout=2)
            return
        sview = self.search_view
        log = self.log_pane
        current = log.cursor_seq()
        if current is not None and not sview.complete:
            self._extend_views()
        matches = sview.matches
        # The search view is built oldest first, a slice per tick: the next match is known once one
        # after the cursor is found; a previous one (or a wrap) once the view is past the cursor.
        forward = direction > 0 and not from_start
        known = sview.complete or (len(matches) and matches[-1] > current) if current is not None else True
        if not known or (forward and not sview.complete and sview.index_of(current + 1) >= len(matches)):
            if self._search_pending is None:
                self.notify(f"searching /{self.search.pattern}/ ...", timeout=1)
            self._search_pending = (direction, from_start)
            self._dirty = True
            return
        self._search_pending = None
        if current is None or not len(sview):
            self.notify(f"no match for /{self.search.pattern}/", severity="warning", timeout=2)
            return
        if from_start:
            pos = max(0, sview.index_of(current + 1) - 1)
        elif direction > 0:
            pos = sview.index_of(current + 1)
            if pos >= len(matches):
                pos = 0
                self.notify("search wrapped to the top", timeout=1)
        else:
            pos = sview.index_of(current) - 1
            if pos < 0:
                pos = len(matches) - 1
                self.notify("search wrapped to the bottom", timeout=1)
        target = matches[pos]
        index = self.view.index_of(target)
        if index < len(self.view) and self.view.matches[index] == target:
            log.follow = False
            log.move_to(index, center=True)

    # -- findings --------------------------------------------------------------------------------------

    def on_findings_updated(self, message: FindingsUpdated) -> None:
        self.findings_panel.update_snapshot(message.snapshot)
        if self.findings_selected is None and self.findings_panel.selected is not None:
            self.findings_selected = self.findings_panel.selected

    def on_findings_panel_finding_focused(self, message: FindingsPanel.FindingFocused) -> None:
        self.findings_selected = message.finding

    def on_findings_panel_finding_chosen(self, message: FindingsPanel.FindingChosen) -> None:
        self.show_evidence(message.finding)

    def show_evidence(self, finding) -> None:
        """Filter the log pane to a finding's evidence (all priorities), pushing a breadcrumb level."""
        # Another finding replaces the one shown, it does not nest.
        base = self.back_stack.pop() if self.filters.finding_id and self.back_stack else self.filters
        self.back_stack.append(base)
        filters = Filters(levels=frozenset(range(8)), effective=base.effective, finding_id=finding.id,
                          finding_title=finding.title, evidence=frozenset(finding.evidence),
                          label=f"finding: {finding.title}")
        self.log_pane.follow = False
        self.apply_filters(filters)
        self.log_pane.move_to(0)
        self.focus_now(self.log_pane)

    # -- detail ------------------------------------------------------------------------------------------

    def on_log_pane_line_chosen(self, message: LogPane.LineChosen) -> None:
        self.open_detail(message.seq)

    def neighbours(self, seq: int, window: int = NEIGHBOUR_WINDOW) -> list[tuple[int, Record]]:
        """Records stored near ``seq`` from the same host and unit (and client, for web logs)."""
        store = self.store
        try:
            target = store.get(seq)
        except IndexError:
            return []
        client = _client_of(target)
        out = []
        for other in range(max(store.first_seq, seq - window), min(store.end_seq, seq + window + 1)):
            if other == seq:
                continue
            record = store.get(other)
            if record.host != target.host or record.unit != target.unit:
                if not (client and _client_of(record) == client):
                    continue
            elif client and _client_of(record) not in (client, None):
                continue
            out.append((other, record))
        return out

    def detail_context(self, seq: int) -> list[tuple[Record, bool]]:
        near = self.neighbours(seq)
        before = [r for s, r in near if s < seq][-DETAIL_CONTEXT:]
        after = [r for s, r in near if s > seq][:DETAIL_CONTEXT]
        return [(r, False) for r in before] + [(self.store.get(seq), True)] + [(r, False) for r in after]

    def open_detail(self, seq: int) -> None:
        from alsate.tui.detail_screen import DetailScreen

        try:
            record = self.store.get(seq)
        except IndexError:
            self.notify("that line was dropped from the store", severity="warning")
            return
        crumb = " > ".join(self.crumbs())

        def done(result: str | None) -> None:
            if result == "explain":
                self.explain_record(seq)

        self.push_screen(DetailScreen(record, self.detail_context(seq), crumb), done)

    # -- LLM ---------------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="model", exit_on_error=False)
    def _open_model(self) -> None:
        def progress(p) -> None:
            self._from_thread(self._model_progress, p.phase, p.fraction, p.message)

        try:
            if self.analyst_factory is not None:
                analyst = self.analyst_factory(progress)
            else:
                from alsate.engine.llm.factory import LLMOptions, open_analyst

                options = LLMOptions(model=self.llm.model, remote=self.llm.remote, config_model=self.llm.config_model)
                analyst = open_analyst(options, on_progress=progress)
        except Exception as exc:  # no model: the rest of the app works; the chat says why
            self._from_thread(self._model_failed, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return
        self._from_thread(self._model_opened, analyst)

    def _model_opened(self, analyst) -> None:
        self.analyst = analyst
        backend = analyst.backend
        ready = getattr(backend, "ready", True)
        name = _model_name(analyst)
        if ready and not self.model_state.startswith("model: failed"):
            self.model_state = f"{name}: ready"
        elif not self.model_state.startswith("model: failed"):
            self.model_state = f"{name}: loading"
        self._update_status()

    def _model_progress(self, phase: str, fraction: float, message: str) -> None:
        name = _model_name(self.analyst) if self.analyst is not None else "model"
        if phase == "ready":
            self.model_state = f"{name}: ready"
        elif phase == "failed":
            self.model_state = f"model: failed ({message})"
        else:
            self.model_state = f"{name}: loading {int(fraction * 100)}%"
        self._update_status()

    def _model_failed(self, reason: str) -> None:
        self.model_state = f"model: none ({reason})"
        self._update_status()

    def _update_model_rate(self) -> None:
        name = _model_name(self.analyst)
        if self._gen_tokens < 2:  # nothing yet, or only the prefill the answer starts with
            waited = time.monotonic() - self._gen_started
            self.model_state = f"{name}: reading the prompt ({waited:.0f} s)"
            return
        elapsed = time.monotonic() - self._gen_first
        rate = (self._gen_tokens - 1) / elapsed if elapsed > 0 else 0.0
        self.model_state = f"{name}: generating {rate:.0f} tok/s"

    def selection(self) -> tuple[str, object]:
        """What ``e`` and follow-up questions are about: ('finding', f), ('line', seq) or ('none', None)."""
        focused = self.focused
        if isinstance(focused, FindingsPanel) and focused.selected is not None:
            return "finding", focused.selected
        seq = self.log_pane.cursor_seq()
        if seq is not None:
            return "line", seq
        if self.findings_panel.selected is not None:
            return "finding", self.findings_panel.selected
        return "none", None

    def _need_model(self) -> bool:
        if self.analyst is None:
            self.chat.begin("model")
            self.chat.fail(f"the model is not available yet ({self.model_state}); the log and findings work "
                           "without it")
            return False
        if self.generating:
            self.notify("an answer is being generated: Esc cancels it", timeout=2)
            return False
        return True

    def action_explain(self) -> None:
        kind, what = self.selection()
        if kind == "finding":
            self.explain_finding(what)
        elif kind == "line":
            self.explain_record(what)  # type: ignore[arg-type]
        else:
            self.notify("nothing selected to explain", timeout=2)

    def _pool(self, seq: int) -> list[Record]:
        return [r for _, r in self.neighbours(seq)]

    def explain_record(self, seq: int) -> None:
        if not self._need_model():
            return
        if seq not in self.store:
            self.notify("that line was dropped from the store", severity="warning", timeout=2)
            return
        record = self.store.get(seq)
        pool = self._pool(seq)
        title = f"explain: {record.message[:120]}"
        self._run_llm(title, ("line", seq), lambda a: a.explain([record], pool=pool))

    def evidence_records(self, finding, limit: int = 20) -> list[Record]:
        """Up to ``limit`` of a finding's evidence records still held (the first and the last ones)."""
        wanted = list(finding.evidence)
        wanted = wanted[: limit // 2] + wanted[-(limit // 2):]
        found = self.store.lookup(wanted)
        return sorted(found.values(), key=lambda r: r.ts)

    def explain_finding(self, finding) -> None:
        if not self._need_model():
            return
        records = self.evidence_records(finding)
        self._run_llm(f"explain finding: {finding.title}", ("finding", finding.id),
                      lambda a: a.explain(records, finding=finding))

    def action_preset(self, task: str) -> None:
        if not self._need_model():
            return
        log = self.log_pane
        if task == "summarize" and log.marked:
            seqs = sorted(s for s in log.marked if s in self.store)
            what = f"{len(seqs)} marked lines"
        elif task == "summarize":
            seqs = log.visible_seqs()
            what = f"{len(seqs)} visible lines"
        else:
            seqs = list(self.view.matches[-2000:])
            what = f"the last {len(seqs)} lines shown"
        records = [self.store.get(s) for s in seqs]
        if not records:
            self.notify("no lines to analyse: the filters match nothing", severity="warning", timeout=3)
            return
        ranked = sorted(records, key=lambda r: (r.effective, -r.ts))[:400]
        names = {"summarize": "summarize", "root_cause": "root cause", "patterns": "find patterns"}
        self._run_llm(f"{names[task]}: {what}", ("lines", tuple(seqs[-5:])), lambda a: a.analyse(task, ranked))

    def on_chat_pane_asked(self, message: ChatPane.Asked) -> None:
        question = message.question
        if not self._need_model():
            return
        # Typed in the input: the selection is what was selected before focus moved there.
        kind, what = self._last_selection() if self.focused is self.chat.input else self.selection()
        subject = (kind, getattr(what, "id", what))
        records: list[Record] = []
        if kind == "line" and what in self.store:
            records = [self.store.get(what)]  # type: ignore[arg-type]
        elif kind == "finding":
            records = self.evidence_records(what)
        session = self.session
        if session is not None and subject == self._session_subject:
            self._run_llm(question, subject, lambda a: _Started(session, session.ask(question)))
        elif session is not None and records:
            self._run_llm(question, subject, lambda a: _Started(
                session, session.ask(question, context=a.context("followup_data", records=records))))
        else:
            self._run_llm(question, subject, lambda a: a.question(question, records))

    def _last_selection(self) -> tuple[str, object]:
        """The selection before focus moved to the chat input (the findings panel or the log line)."""
        if self._focus_before_chat == "findings" and self.findings_panel.selected is not None:
            return "finding", self.findings_panel.selected
        seq = self.log_pane.cursor_seq()
        return ("line", seq) if seq is not None else ("none", None)

    def _run_llm(self, title: str, subject: object, start: Callable) -> None:
        self.generating = True
        self._gen_tokens = 0
        self._gen_started = time.monotonic()
        self.chat.begin(title)
        self.model_state = f"{_model_name(self.analyst)}: generating"
        self._update_status()
        self._llm_worker(start, subject)

    @work(thread=True, exclusive=True, group="llm", exit_on_error=False)
    def _llm_worker(self, start: Callable, subject: object) -> None:
        try:
            started = start(self.analyst)
        except Exception as exc:
            self._from_thread(self._llm_done, None, f"error: {exc}", subject)
            return
        self._stream = started.stream
        self._from_thread(self._set_session, started.session, subject)
        try:
            for piece in started.stream:
                if not self._from_thread(self._llm_piece, piece):
                    started.stream.cancel()
                    return
        except Exception as exc:
            self._from_thread(self._llm_done, None, f"error: {exc}", subject)
            return
        self._from_thread(self._llm_done, started.stream.result, "", subject)

    def _set_session(self, session, subject) -> None:
        self.session = session
        self._session_subject = subject

    def _llm_piece(self, piece: str) -> None:
        from alsate.engine.llm.guard import terminal_safe

        self._gen_tokens += 1
        if self._gen_tokens == 1:
            self._gen_first = time.monotonic()
        self.chat.append(terminal_safe(piece))

    def _llm_done(self, result, error: str, subject) -> None:
        self.generating = False
        self._stream = None
        name = _model_name(self.analyst)
        if error:
            self.chat.fail(error)
        elif result is None:
            self.chat.end("cancelled", state="cancelled")
        else:
            stats = result.stats
            notes = []
            if stats.finish_reason == "cancelled":
                notes.append("cancelled")
            elif stats.finish_reason == "cached":
                notes.append("from the analysis cache")
            if stats.tokens_per_s:
                notes.append(f"{stats.completion_tokens} tokens, {stats.tokens_per_s:.0f} tok/s")
            for flag in result.guard.flags:
                notes.append(f"WARNING: {flag.kind} ({flag.rule}): do not run it")
            if stats.context_truncated:
                notes.append("left out: " + "; ".join(stats.omitted))
            self.chat.end("; ".join(notes), state="cancelled" if stats.finish_reason == "cancelled" else "done")
        self.model_state = f"{name}: ready"
        self._update_status()

    def action_cancel_generation(self) -> bool:
        stream = self._stream
        if self.generating and stream is not None:
            stream.cancel()
            self.notify("generation cancelled", timeout=1)
            return True
        if self.generating:
            self.workers.cancel_group(self, "llm")
            self._llm_done(None, "", None)
            return True
        return False

    def action_interrupt(self) -> None:
        if not self.action_cancel_generation():
            self.notify("nothing to cancel; q quits", timeout=2)

    def get_key_display(self, binding: Binding) -> str:
        """Key names in plain ASCII (the footer's default uses symbols some fonts lack)."""
        if binding.key_display:
            return binding.key_display
        first = binding.key.split(",")[0].strip()
        names = {"enter": "Enter", "escape": "Esc", "space": "Space", "question_mark": "?", "slash": "/",
                 "end": "End", "home": "Home", "pageup": "PgUp", "pagedown": "PgDn", "up": "Up", "down": "Down",
                 "tab": "Tab", "delete": "Del", "backspace": "BkSp"}
        if first in names:
            return names[first]
        if first.startswith("ctrl+"):
            return "^" + first[5:]
        return super().get_key_display(binding)

    def action_copy_answer(self) -> None:
        text = self.chat.last_answer
        if not text:
            self.notify("no answer to copy yet", timeout=2)
            return
        self.copy_to_clipboard(text)
        self.notify(f"answer copied ({len(text)} characters, via the terminal's clipboard)", timeout=2)

    # -- navigation ----------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.action_cancel_generation():
            return
        if self.focused is self.chat.input:
            self.focus_now(self.log_pane)
            return
        if self.screen.maximized is not None:
            self.screen.minimize()
            return
        if self.search is not None:
            self.set_search(None)
            return
        if self.back_stack:
            self.apply_filters(self.back_stack.pop())
            return
        if self.log_pane.marked:
            self.log_pane.marked.clear()
            self.log_pane.refresh()

    def focus_now(self, widget: Widget) -> None:
        """Focus ``widget`` before the next key is handled (``Widget.focus`` defers it, so a key typed
        right after ``f`` went to the pane focused before). On the widget's own screen, as Textual does: a
        screen pushed over it keeps its focus."""
        widget.screen.set_focus(widget)

    def action_focus_pane(self, which: str) -> None:
        if which == "chat":
            self._focus_before_chat = "findings" if self.focused is self.findings_panel else "log"
            self.focus_now(self.chat.input)
        elif which == "findings":
            self.focus_now(self.findings_panel)
        else:
            self.focus_now(self.log_pane)

    def action_zoom(self) -> None:
        if self.screen.maximized is not None:
            self.screen.minimize()
        elif self.focused is not None:
            target = self.chat if self.focused is self.chat.input else self.focused
            self.screen.maximize(target)

    def action_help(self) -> None:
        from alsate.tui.help_screen import HelpScreen

        self.push_screen(HelpScreen())

    def action_next_theme(self) -> None:
        current = self.theme if self.theme in THEMES else THEMES[0]
        self.theme = THEMES[(THEMES.index(current) + 1) % len(THEMES)]
        self.notify(f"theme: {self.theme}", timeout=1)

    def on_log_pane_follow_changed(self, message: LogPane.FollowChanged) -> None:
        if not self._alive():
            return
        self.log_pane.border_title = "Log" if message.follow else "Log (paused: End/F follows)"
        self._update_status()

    # -- shutdown ------------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.shutdown()
        self.exit(0)

    def exit_on_signal(self, status: int) -> None:
        """End the app from a signal handler or when the terminal is gone; the terminal is restored
        if it is still there. If that cannot finish (writes block) the process ends after
        :data:`EXIT_GRACE` seconds anyway."""
        watchdog = threading.Timer(EXIT_GRACE, os._exit, args=(status,))
        watchdog.daemon = True
        watchdog.start()
        self.shutdown()
        self.exit(status)

    def terminal_lost(self) -> None:
        """The terminal hung up (SSH dropped) and no SIGHUP came: exit as on a SIGHUP."""
        self.exit_on_signal(EXIT_SIGHUP)

    def shutdown(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._trimmer.stop()
        if self._stream is not None:
            self._stream.cancel()
        if self.source_set is not None:
            threading.Thread(target=self.source_set.stop, daemon=True).start()
        if self.findings_feed is not None:
            threading.Thread(target=self.findings_feed.stop, daemon=True).start()
        analyst = self.analyst
        if analyst is not None:
            threading.Thread(target=analyst.backend.close, daemon=True).start()

    def on_unmount(self) -> None:
        self.shutdown()
        saved = getattr(self, "_saved_runtime", None)
        if saved is not None:  # the interpreter outlives the app (tests, embedding): put it back
            sys.setswitchinterval(saved[0])
            gc.set_threshold(*saved[1])
            gc.unfreeze()
            self._saved_runtime = None


class FindingsUpdated(Message):
    """A findings snapshot from the findings thread."""

    def __init__(self, snapshot: FindingsSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


@dataclass(frozen=True)
class _Started:
    session: object
    stream: object


def _terminal_fd() -> int | None:
    """The file descriptor of the terminal the app runs in (Textual reads stdin), or None."""
    try:
        fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
    except (OSError, ValueError):
        return None
    return fd if fd >= 0 and os.isatty(fd) else None


def _pace_gc() -> None:
    """A small collection now, if enough young objects wait (see :data:`GC_YOUNG_STEP`)."""
    young, middle, _ = gc.get_count()
    if young >= GC_YOUNG_STEP and gc.isenabled():
        gc.collect(1 if middle >= GC_MIDDLE_EVERY else 0)


def _freeze_heap() -> None:
    """Move what is alive now (the loaded records, the findings built from the history) out of the
    cyclic GC's reach: otherwise every full collection walks them, a pause of 50-200 ms while
    following 1M records (measured with bench/tui_latency.py). Cyclic garbage created before the
    call is not reclaimed; the store and the findings hold acyclic data."""
    gc.freeze()


def _client_of(record: Record) -> str | None:
    if record.kind not in (SourceKind.NGINX_ACCESS, SourceKind.NGINX_ERROR):
        return None
    extra = record.extra or {}
    return extra.get("remote_addr") or extra.get("client")


def _model_name(analyst) -> str:
    if analyst is None:
        return "model"
    backend = analyst.backend
    spec = getattr(backend, "spec", None)
    if spec is not None:
        return re.sub(r"[.-](?:Q\d\w*|F16|F32|BF16|IQ\d\w*)$", "", str(getattr(spec, "name", "model")),
                      flags=re.IGNORECASE)
    return str(getattr(backend, "model_id", "model")).split(":")[0]


# -- command line ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from alsate.engine.cli.scan import add_source_arguments

    parser = argparse.ArgumentParser(
        prog="alsate-tui",
        description="Terminal log explorer: live journal + nginx logs, findings, and a local model to question. "
                    "With no source it reads this machine's logs; with none there, or with --demo, it replays "
                    "bundled demo logs.")
    add_source_arguments(parser)
    parser.add_argument("--demo", action="store_true", help="replay the bundled demo logs live (journal + nginx)")
    parser.add_argument("--demo-speed", type=float, default=None, metavar="X",
                        help="demo replay speed (default 3: three recorded seconds per second)")
    parser.add_argument("--model", metavar="GGUF", help="GGUF model file (default: $ALSATE_MODEL, the config's "
                        "model, then the embedded SmolLM2)")
    parser.add_argument("--remote", metavar="URL", help="OpenAI-compatible server instead of a local model")
    parser.add_argument("--no-model", action="store_true", help="do not load a model (no chat)")
    parser.add_argument("--no-findings", action="store_true", help="do not run the findings engine")
    parser.add_argument("--config", metavar="FILE", help="config file (default: ~/.config/alsate/config.toml)")
    return parser


def prepare(argv: Sequence[str] | None = None) -> AlsateApp:
    """Parse the arguments and open the sources (UserError on bad input); the app, not yet running."""
    from alsate.engine.cli.scan import DETECTOR_JOURNAL_MATCHES, config_from, query_from
    from alsate.engine.priorities import parse_priorities
    from alsate.engine.sources import FileOptions, JournalFilter, open_sources, statuses_from

    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from(args)
    query = query_from(args, config)
    levels = parse_priorities(args.priority) if args.priority else frozenset(range(config.max_priority + 1))
    if args.demo_speed is not None and not 0.1 <= args.demo_speed <= 1000:
        raise UserError("--demo-speed must be between 0.1 and 1000")
    notice = ""
    problems: list[str] = []
    if args.demo:
        sources, names = _demo(args), "demo: journal + nginx access/error (web-01)"
        notice = "DEMO"
    else:
        # The journal is read at every priority (0-7 can be switched on in the app) unless -p narrows
        # it; then the lines the detectors need (sshd, sudo, kernel ... at info) are read as well.
        journal_filter = JournalFilter(
            priorities=frozenset(levels) if args.priority else None, units=tuple(args.unit),
            hosts=tuple(args.host), since=query.since, until=query.until, include_stdout=True,
            cursor=getattr(args, "cursor", None) or None,
            also=DETECTOR_JOURNAL_MATCHES if args.priority and not args.no_findings else ())
        options = FileOptions(kind=args.format, log_format=config.nginx_log_format, statuses=statuses_from(config))
        sources = open_sources(args.sources, config, journal_filter, options, with_rotated=args.with_rotated,
                               journal_directories=args.journal_dir, problems=problems)
        if sources:
            names = ", ".join(_source_name(s) for s in sources)
        else:
            sources, names = _demo(args), "demo: journal + nginx access/error (web-01)"
            notice = "no logs found on this machine: showing the DEMO"
    filters = Filters(levels=levels, effective=not args.syslog_priority,
                      units=query.units, hosts=query.hosts, since=query.since, until=query.until,
                      pattern=query.pattern)
    llm = LLMSettings(model=args.model, remote=args.remote, config_model=config.model, enabled=not args.no_model)
    app = AlsateApp(sources, source_names=names, filters=filters, capacity=config.store_capacity, llm=llm,
                    notice=notice, findings=not args.no_findings)
    app.startup_warnings = problems
    return app


def _demo(args) -> list:
    from alsate.engine.sources.demo import DEFAULT_SPEED, demo_sources

    return demo_sources(speed=args.demo_speed or DEFAULT_SPEED)


def _source_name(source) -> str:
    origin = getattr(source, "origin", "?")
    return os.path.basename(origin) if origin.startswith("/") and not os.path.isdir(origin) else origin


def main(argv: Sequence[str] | None = None) -> int:
    try:
        app = prepare(argv)
    except UserError as exc:
        print(f"alsate-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    if not sys.stdout.isatty() and not os.environ.get("ALSATE_FORCE_TUI"):
        print("alsate-tui: needs a terminal (stdout is not a tty); for a pipe use `alsate scan`", file=sys.stderr)
        return 2
    # Textual sizes the screen with shutil.get_terminal_size(), which believes COLUMNS and LINES when
    # they are in the environment: exported, they describe the terminal as it was, and resizes would
    # never be seen. The terminal itself is asked instead.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    # A kill (SIGTERM, or SIGINT: in the app Ctrl+C is a key, so a SIGINT comes from kill) or a closed
    # SSH session (SIGHUP) exits through the app, which restores the terminal.
    def on_signal(number: int, _frame) -> None:
        app.exit_on_signal(128 + number)

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)
    try:
        result = app.run()
    finally:
        app.shutdown()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
