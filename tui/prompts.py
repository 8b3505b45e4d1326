"""Small modal dialogs: a one-line prompt (search, unit, host, time range, sources), the level picker."""

from __future__ import annotations

from alsate.engine.records import PRIORITY_NAMES
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; Enter gives it, Esc cancels (None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, help_text: str = "", value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.help_text = help_text
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(Text(self.title_text, style="bold"), id="prompt-title")
            if self.help_text:
                yield Static(Text(self.help_text), id="prompt-help")
            yield Input(value=self.value, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LevelsScreen(ModalScreen[frozenset | None]):
    """Toggle single priorities with 0-7; Enter applies, Esc cancels."""

    BINDINGS = [
        *(Binding(str(n), f"toggle({n})", f"Toggle {PRIORITY_NAMES[n]}", show=False) for n in range(8)),
        Binding("a", "all", "All levels", show=False),
        Binding("enter", "apply", "Apply"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, levels: frozenset[int]) -> None:
        super().__init__()
        self.levels = set(levels)

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(Text("Levels shown: press 0-7 to toggle one, a for all, Enter to apply", style="bold"),
                         id="prompt-title")
            yield Static(self._text(), id="levels")

    def _text(self) -> Text:
        text = Text(end="")
        for n, name in enumerate(PRIORITY_NAMES):
            text.append(f"[{'x' if n in self.levels else ' '}] {n} {name}\n")
        return text

    def action_toggle(self, level: int) -> None:
        self.levels ^= {level}
        self.query_one("#levels", Static).update(self._text())

    def action_all(self) -> None:
        self.levels = set(range(8))
        self.query_one("#levels", Static).update(self._text())

    def action_apply(self) -> None:
        self.dismiss(frozenset(self.levels))

    def action_cancel(self) -> None:
        self.dismiss(None)
