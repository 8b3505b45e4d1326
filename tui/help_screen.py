"""The help screen (? or F1): every key, generated from the bindings."""

from __future__ import annotations

from alsate.tui.commands import binding_rows
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss_help", "Close help")]

    def compose(self) -> ComposeResult:
        text = Text(end="")
        text.append("alsate - keys\n\n", "bold")
        for group, rows in binding_rows(self.app):
            text.append(group + "\n", "bold underline")
            for keys, description in rows:
                text.append(f"  {keys:<16} ", "bold")
                text.append(description + "\n")
            text.append("\n")
        text.append("Ctrl+P opens the command palette with every action. Esc steps back one level "
                    "(detail > finding evidence > filters), and cancels a generating answer.\n")
        with VerticalScroll(id="help-body"):
            yield Static(text, id="help-text")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
