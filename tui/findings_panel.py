"""The findings panel: active findings by severity then recency, with count, rate sparkline, category."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alsate.engine.records import PRIORITY_LETTERS
from alsate.tui.format import component_style, safe, sparkline
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

if TYPE_CHECKING:  # the feed lives in the engine, imported only once findings start
    from alsate.engine.findings.feed import FindingRow, FindingsSnapshot

#: Minutes of rate shown per finding.
SPARK_WIDTH = 6
CATEGORY_SHORT = {"security": "sec", "availability": "ava", "performance": "prf", "resource": "res",
                  "hardware": "hw ", "configuration": "cfg", "application": "app"}


def _count(count: int) -> str:
    """A count in 4 cells: 118, 9999, 12k, 3.4M."""
    if count < 10_000:
        return f"{count:>4}"
    if count < 1_000_000:
        return f"{count // 1000:>3}k"
    return f"{count / 1_000_000:>3.1f}M" if count < 10_000_000 else f"{count // 1_000_000:>3}M"


class FindingsPanel(OptionList):
    """One line per finding; Enter shows its evidence in the log pane."""

    BINDINGS = [
        Binding("enter", "select", "Evidence", tooltip="Filter the log pane to this finding's evidence"),
    ]

    COMPONENT_CLASSES = {
        "findings-panel--inactive", "findings-panel--count", "findings-panel--spark", "findings-panel--category",
        *(f"findings-panel--s{n}" for n in range(8)),
    }

    class FindingChosen(Message):
        def __init__(self, finding) -> None:
            super().__init__()
            self.finding = finding

    class FindingFocused(Message):
        def __init__(self, finding) -> None:
            super().__init__()
            self.finding = finding

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[FindingRow] = []
        self._texts: list[Text] = []
        self.border_title = "Findings"
        self._styles: dict[str, Style] = {}

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = component_style(self, f"findings-panel--{name}")
        return style

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()
        if self.rows:
            self._rebuild()

    @property
    def selected(self):
        index = self.highlighted
        if index is None or not (0 <= index < len(self.rows)):
            return None
        return self.rows[index].finding

    def row_text(self, row: FindingRow) -> Text:
        finding = row.finding
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        dim = Style() if finding.active else self._style("inactive")
        text.append(PRIORITY_LETTERS[finding.severity], self._style(f"s{finding.severity}") + dim)
        text.append(" ")
        text.append(_count(finding.count), self._style("count") + dim)
        text.append(" ")
        text.append(sparkline(row.rate[-SPARK_WIDTH:]), self._style("spark") + dim)
        text.append(" ")
        text.append(CATEGORY_SHORT.get(finding.category, finding.category[:3]), self._style("category") + dim)
        text.append(" ")
        text.append(safe(finding.title, 300), dim)
        return text

    def update_snapshot(self, snapshot: FindingsSnapshot) -> None:
        """Show new findings, keeping the highlighted one (by id); unchanged rows are not redrawn."""
        old_ids = [row.finding.id for row in self.rows]
        old_texts = self._texts
        self.rows = list(snapshot.rows)
        active = sum(1 for row in self.rows if row.finding.active)
        title = f"Findings {active} active / {len(self.rows)}"
        if self.border_title != title:
            self.border_title = title
        if [row.finding.id for row in self.rows] != old_ids:
            self._rebuild()
            return
        texts = [self.row_text(row) for row in self.rows]
        for index, (old, new) in enumerate(zip(old_texts, texts, strict=False)):
            if old.plain != new.plain or old.spans != new.spans:
                self.replace_option_prompt_at_index(index, new)
        self._texts = texts

    def _rebuild(self) -> None:
        keep = self.selected.id if self.highlighted is not None and self.option_count else None
        scroll = self.scroll_y
        self._texts = [self.row_text(row) for row in self.rows]
        with self.prevent(OptionList.OptionHighlighted):
            self.clear_options()
            self.add_options([Option(text, id=row.finding.id) for text, row in zip(self._texts, self.rows,
                                                                                   strict=True)])
            if self.rows:
                index = next((i for i, row in enumerate(self.rows) if row.finding.id == keep), 0)
                self.highlighted = index
        self.scroll_to(y=scroll, animate=False, immediate=True)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.rows):
            self.post_message(self.FindingChosen(self.rows[event.option_index].finding))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.rows):
            self.post_message(self.FindingFocused(self.rows[event.option_index].finding))
