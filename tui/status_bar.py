"""The status bar: sources, lines/s, filter, records shown / held, model state, dropped lines."""

from __future__ import annotations

from dataclasses import dataclass

from alsate.tui.format import component_style, safe
from rich.text import Text
from textual.widget import Widget


@dataclass(frozen=True)
class StatusInfo:
    sources: str = ""
    rate: float = 0.0
    filter: str = ""
    shown: int = 0
    held: int = 0
    model: str = ""
    dropped: int = 0
    follow: bool = True
    loading: str = ""
    warning: str = ""


class StatusBar(Widget):
    """One line at the bottom of the screen (repainted without a layout pass)."""

    COMPONENT_CLASSES = {"status-bar--paused", "status-bar--warning", "status-bar--key"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.info: StatusInfo | None = None
        self._text = Text("")

    def render(self) -> Text:
        return self._text

    def show(self, info: StatusInfo) -> None:
        if info == self.info:
            return
        self.info = info
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        if not info.follow:
            text.append(" PAUSED ", component_style(self, "status-bar--paused"))
            text.append(" ")
        if info.loading:
            text.append(safe(info.loading, 60) + " | ")
        text.append(f"{info.shown:,}/{info.held:,} shown | {info.rate:,.0f} lines/s | ")
        text.append(safe(info.filter, 80) + " | ")
        text.append(safe(info.model, 60) + " | ")
        text.append(safe(info.sources, 80))
        if info.dropped:
            text.append(f" | dropped {info.dropped:,}", component_style(self, "status-bar--warning"))
        if info.warning:
            text.append(" | " + safe(info.warning, 120), component_style(self, "status-bar--warning"))
        self._text = text
        self.refresh()


class Breadcrumb(Widget):
    """Where you are: live log > finding ... > search; repainted without a layout pass."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._text = Text("")

    def render(self) -> Text:
        return self._text

    def show(self, parts: list[str]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(" alsate > ")
        text.append(safe(" > ".join(parts), 400))
        if text.plain != self._text.plain:
            self._text = text
            self.refresh()
