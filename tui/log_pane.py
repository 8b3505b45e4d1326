"""The log pane: a virtual list over a store :class:`~alsate.engine.store.View` (Textual's Line API).

Only the lines on screen are fetched (``view.page``) and rendered; a million
held records cost nothing here. The cursor is a position in the view and is
kept on the same record (by sequence number) when the view changes. Follow
mode keeps the cursor on the newest line; moving up pauses it.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict

from alsate.engine.records import Record
from alsate.engine.store import View
from alsate.tui.format import component_style, record_line
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

#: Rendered lines kept (per view) so repaints during follow do not re-render everything. Each strip holds
#: Textual's caches (16 objects the cyclic GC walks): a few screens' worth, no more (was 2,000:
#: the GC's middle generation took 60 ms at 5k lines/s, 42 ms with 500; bench/soak.py --time-loop).
LINE_CACHE = 500
#: Pane widths (cells) below which the unit column narrows, and below which unit and host are left out.
NARROW_WIDTH = 70
TINY_WIDTH = 44
UNIT_WIDTH = 14
#: While following, the virtual size (a layout pass) is updated at most this often (seconds).
SIZE_INTERVAL = 1.0
MAX_WIDTH = 4000


class LogPane(ScrollView, can_focus=True):
    """The merged stream, one line per record."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "first", "First line", show=False),
        Binding("end,F", "follow", "Follow", tooltip="Resume following the newest lines"),
        Binding("enter", "open", "Detail", tooltip="Open the line's detail: all fields and context"),
        Binding("space", "mark", "Mark", tooltip="Mark or unmark the line (summarize uses marked lines)"),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
    ]

    COMPONENT_CLASSES = {
        "log-pane--time", "log-pane--host", "log-pane--unit", "log-pane--raised", "log-pane--match",
        "log-pane--cursor", "log-pane--marked", "log-pane--empty",
        *(f"log-pane--p{n}" for n in range(8)), *(f"log-pane--m{n}" for n in range(8)),
    }

    follow: reactive[bool] = reactive(True)
    cursor: reactive[int] = reactive(0, always_update=True)

    class LineChosen(Message):
        """Enter on a line: open its detail."""

        def __init__(self, seq: int) -> None:
            super().__init__()
            self.seq = seq

    class FollowChanged(Message):
        def __init__(self, follow: bool) -> None:
            super().__init__()
            self.follow = follow

    def __init__(self, view: View | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view
        self.effective = True
        self.highlight: re.Pattern[str] | None = None
        #: Width of the host column; 0 hides it (one host only).
        self.host_width = 0
        #: The (host, unit) column widths the cached lines were rendered with.
        self._columns = (0, UNIT_WIDTH)
        self.marked: set[int] = set()
        self.empty_message = "no records match the filters"
        self._lines: OrderedDict[int, Strip] = OrderedDict()
        self._page_start = -1
        self._page: list[Record] = []
        self._widest = 0
        self._styles: dict[str, Style] = {}
        self._sized_at = 0.0
        self._painted: tuple = ()  # _window() at the last frame
        self._fitted = (0, 0)  # the (scroll x, width) the kept lines were cut for

    # -- styles -----------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = component_style(self, f"log-pane--{name}")
        return style

    def notify_style_update(self) -> None:
        self._styles.clear()
        self._lines.clear()
        super().notify_style_update()

    # -- the view ---------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.view) if self.view is not None else 0

    def cursor_seq(self) -> int | None:
        if self.view is None or not self.count:
            return None
        index = min(self.cursor, self.count - 1)
        return self.view.matches[index]

    def cursor_record(self) -> Record | None:
        seq = self.cursor_seq()
        if seq is None:
            return None
        try:
            return self.view.store.get(seq)  # type: ignore[union-attr]
        except IndexError:
            return None

    def set_view(self, view: View, keep_seq: int | None = None) -> None:
        """Show ``view`` (a new filter); keep the cursor on ``keep_seq`` or the nearest record before it.

        Rendered lines are kept: a line looks the same whatever filter shows it."""
        self.view = view
        self._page_start = -1
        self._page = []
        self.refresh()
        self._sync_size()
        if self.follow or keep_seq is None:
            self._to_end()
        else:
            self.cursor = view.nearest(keep_seq) if self.count else 0
            self.scroll_to_cursor(center=True)

    def invalidate(self) -> None:
        """Forget rendered lines (after a style, search or priority-mode change)."""
        self._lines.clear()
        self._page_start = -1
        self._page = []
        self.refresh()

    def records_changed(self, keep_seq: int | None = None) -> None:
        """The view grew (or lost evicted records): keep the cursor, follow.

        While following, the pane draws the tail of the view whatever the scroll
        position, and the virtual size (which costs a layout pass of the whole
        screen) is updated at most every :data:`SIZE_INTERVAL` seconds.
        """
        self._page_start = -1
        if self.follow:
            if time.monotonic() - self._sized_at >= SIZE_INTERVAL or self.count <= self._height:
                self._sync_size()
            if self.count:
                self.cursor = self.count - 1
            self.refresh()
        else:
            row = self.cursor - self.top  # the cursor's screen row, kept when old records are evicted
            self._sync_size()
            if keep_seq is not None and self.view is not None and self.count:
                cursor = self.view.nearest(keep_seq)
                if cursor != self.cursor:
                    self.cursor = cursor
                    self.scroll_to(y=max(0, cursor - row), animate=False, immediate=True)
            if self._window() != self._painted:
                self.refresh()  # paused, the lines on screen change only when they reach the end or are evicted

    def _window(self) -> tuple:
        """What the pane shows: its first and last records and the cursor (the view's sequence numbers
        only grow, so the same ends and length are the same lines)."""
        top, count = self.top, self.count
        end = min(top + self._height, count)
        if self.view is None or top >= end:
            return (top, end, self.cursor)
        matches = self.view.matches
        return (matches[top], matches[end - 1], end - top, self.cursor)

    @property
    def _height(self) -> int:
        return max(1, self._region.height)

    @property
    def top(self) -> int:
        """Index of the first line on screen."""
        if self.follow:
            return max(0, self.count - self._height)
        return int(self.scroll_y)

    def _sync_size(self) -> None:
        self._sized_at = time.monotonic()
        width = max(self._widest, self.scrollable_content_region.width)
        size = Size(min(width, MAX_WIDTH), self.count)
        old = self.virtual_size
        if size != old:
            height = self._height
            if size.width == old.width and old.height > height and size.height > height:
                # Only the length changed and the scrollbar stays: update it without the
                # whole-screen layout pass that assigning the reactive would cost.
                self.set_reactive(LogPane.virtual_size, size)
                self._scroll_update(size)
            else:
                self.virtual_size = size
        if self.follow:
            self.scroll_to(y=max(0, self.count - self._height), animate=False, immediate=True)

    def _to_end(self) -> None:
        if self.count:
            self.cursor = self.count - 1
        self._sync_size()
        self.refresh()

    # -- rendering --------------------------------------------------------------------------

    def _record_at(self, index: int) -> Record | None:
        height = max(1, self._region.height)
        if not (self._page_start <= index < self._page_start + len(self._page)):
            start = max(0, index - height // 2) if index < self._page_start else index
            start = min(start, max(0, index))
            assert self.view is not None
            try:
                self._page = self.view.page(start, height * 2)
            except IndexError:  # evicted under us: re-read next frame
                self._page = []
                self._page_start = -1
                return None
            self._page_start = start
        offset = index - self._page_start
        return self._page[offset] if 0 <= offset < len(self._page) else None

    def columns(self) -> tuple[int, int]:
        """Widths of the host and unit columns for the pane's width: a narrow terminal keeps the time,
        the priority and the message readable."""
        width = self._region.width
        if width >= NARROW_WIDTH:
            return self.host_width, UNIT_WIDTH
        if width >= TINY_WIDTH:
            return min(self.host_width, 8), 8
        return 0, 0

    def _text_for(self, record: Record, seq: int) -> Text:
        host_width, unit_width = self._columns
        return record_line(record, self._style, effective=self.effective, highlight=self.highlight,
                           host_width=host_width, unit_width=unit_width)

    def _strip_for(self, record: Record, seq: int, start: int, width: int, *, cursor: bool = False,
                   marked: bool = False) -> Strip:
        """The line as the pane shows it: cells ``start`` to ``start + width``, the base style applied (and the
        cursor's or a mark's under the line's own styles). One strip is kept, without the strips it was
        derived from: each Textual strip carries 7 caches (16 objects the cyclic GC walks), and a line kept
        with its crop and styled copies cost four of them."""
        text = self._text_for(record, seq)
        if text.cell_len > self._widest:
            self._widest = min(text.cell_len, MAX_WIDTH)
            self.call_after_refresh(self._sync_size)
        strip = Strip(text.render(self.app.console), text.cell_len).crop_extend(start, start + width, None)
        if marked:
            strip = strip.apply_style(self._style("marked"))
        if cursor:
            strip = strip.apply_style(self._style("cursor"))
        return Strip(strip.apply_style(self._base_style)._segments, width)

    @property
    def _base_style(self) -> Style:
        base = self._styles.get("")
        if base is None:
            base = self._styles[""] = self.rich_style
        return base

    def _fit_lines(self) -> None:
        """Forget the kept lines when they no longer fit: resized across a width step or the host column came
        or went (other columns), or another width or horizontal scroll (they are cut for one of each)."""
        columns = self.columns()
        if columns != self._columns:
            self._columns = columns
            self._lines.clear()
            self._widest = 0
        fitted = (int(self.scroll_x), self._region.width)
        if fitted != self._fitted:
            self._fitted = fitted
            self._lines.clear()

    def render_lines(self, crop):
        self._frame_region = self.scrollable_content_region
        self._fit_lines()
        try:
            return super().render_lines(crop)
        finally:
            self._painted = self._window()
            self._frame_region = None

    @property
    def _region(self):
        return getattr(self, "_frame_region", None) or self.scrollable_content_region

    def render_line(self, y: int) -> Strip:
        scroll_x = int(self.scroll_x)
        index = self.top + y
        width = self._region.width
        base = self._base_style
        if self.view is None or index >= self.count:
            if index == 0 and self.view is not None and not self.count:
                text = Text(self.empty_message, style=self._style("empty"), no_wrap=True, end="")
                return Strip(text.render(self.app.console), text.cell_len).crop_extend(0, width, base)
            return Strip.blank(width, base)
        seq = self.view.matches[index]
        cursor, marked = index == self.cursor, seq in self.marked
        lines = self._lines  # cut for this scroll position and width (_fit_lines)
        strip = None if cursor or marked else lines.get(seq)
        if strip is None:  # not rendered yet: fetch (and parse) the page of records around it
            record = self._record_at(index)
            if record is None:
                return Strip.blank(width, base)
            strip = self._strip_for(record, seq, scroll_x, width, cursor=cursor, marked=marked)
            if not (cursor or marked):
                lines[seq] = strip
                if len(lines) > LINE_CACHE:
                    lines.popitem(last=False)
        return strip

    # -- cursor and follow ---------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.follow and new < self.max_scroll_y - 1:
            self.follow = False  # the user moved the scrollbar (or the wheel) away from the tail

    def watch_follow(self, old: bool, follow: bool) -> None:
        if old and not follow:
            # Leaving the tail: make the real scroll position match what is on screen.
            tail = max(0, self.count - self._height)
            self._sync_size()
            self.scroll_to(y=tail, animate=False, immediate=True)
        self.post_message(self.FollowChanged(follow))

    def scroll_to_cursor(self, center: bool = False) -> None:
        height = self._height
        top = self.top
        if center:
            self.scroll_to(y=max(0, self.cursor - height // 2), animate=False, immediate=True)
        elif self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def move_to(self, index: int, center: bool = False) -> None:
        if not self.count:
            return
        index = max(0, min(index, self.count - 1))
        self.follow = False if index < self.count - 1 else self.follow
        self.cursor = index
        self.scroll_to_cursor(center=center)

    def action_cursor(self, delta: int) -> None:
        if not self.count:
            return
        target = max(0, min(self.cursor + delta, self.count - 1))
        if delta < 0:
            self.follow = False
        self.cursor = target
        self.scroll_to_cursor()

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.follow = False
        self.move_to(0)

    def action_follow(self) -> None:
        self.follow = True
        self._to_end()

    def action_open(self) -> None:
        seq = self.cursor_seq()
        if seq is not None:
            self.post_message(self.LineChosen(seq))

    def action_mark(self) -> None:
        seq = self.cursor_seq()
        if seq is None:
            return
        if seq in self.marked:
            self.marked.discard(seq)
        else:
            self.marked.add(seq)
        self.refresh()

    def visible_seqs(self) -> list[int]:
        """Sequence numbers of the lines on screen."""
        if self.view is None:
            return []
        top = self.top
        return list(self.view.matches[top:top + self._height])

    # -- mouse ----------------------------------------------------------------------------------

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow = False

    async def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.top + offset.y
        if 0 <= index < self.count:
            if index < self.count - 1:
                self.follow = False
            self.cursor = index
            if event.chain == 2:
                self.action_open()

    def render_lines_text(self) -> list[str]:
        """Plain text of the lines on screen (tests and the help screen use it)."""
        self._fit_lines()
        return ["".join(segment.text for segment in self.render_line(y)._segments)
                for y in range(self.scrollable_content_region.height)]

