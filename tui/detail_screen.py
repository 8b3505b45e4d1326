"""The detail of one record: every field, and the lines around it from the same unit or client."""

from __future__ import annotations

from collections.abc import Sequence

from alsate.engine.records import PRIORITY_NAMES, Record
from alsate.engine.render import format_time
from alsate.tui.format import priority_mark, record_line, safe, safe_block
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static


def record_fields(record: Record) -> list[tuple[str, str]]:
    """(name, value) pairs of a record, for display."""
    pairs = [
        ("message", record.message),
        ("id", record.id),
        ("time", format_time(record.ts)),
        ("host", record.host),
        ("source", f"{record.kind} {record.origin}"),
        ("unit", record.unit),
        ("pid", "" if record.pid is None else str(record.pid)),
        ("priority", f"{record.priority} {PRIORITY_NAMES[record.priority]} (syslog)"),
        ("effective", f"{record.effective} {PRIORITY_NAMES[record.effective]}"
                      + (" (raised by the content)" if record.effective != record.priority else "")),
    ]
    if record.raw != record.message:
        pairs.append(("raw", record.raw))
    for key, value in sorted((record.extra or {}).items()):
        pairs.append((str(key), str(value)))
    return pairs


class DetailScreen(Screen[str | None]):
    """All fields of a record, and context lines; Esc goes back, e explains it."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("e", "explain", "Explain", tooltip="Explain this line in the chat pane"),
        Binding("q", "back", "Back", show=False),
    ]

    def __init__(self, record: Record, context: Sequence[tuple[Record, bool]], crumb: str = "") -> None:
        super().__init__()
        self.record = record
        self.context = list(context)
        self.crumb = crumb

    def compose(self) -> ComposeResult:
        yield Static(Text(safe(self.crumb + " > line detail", 300), no_wrap=True), id="detail-crumb")
        with VerticalScroll(id="detail-body"):
            yield Static(self.fields_text(), id="detail-fields")
            yield Static(Text("Context (same unit / client, nearest in time):", style="bold"), id="detail-ctx-title")
            yield Static(self.context_text(), id="detail-context")
        yield Footer()

    def fields_text(self) -> Text:
        text = Text(end="")
        width = max(len(name) for name, _ in record_fields(self.record))
        for name, value in record_fields(self.record):
            text.append(name.rjust(width) + "  ", "bold")
            text.append(safe_block(value))
            text.append("\n")
        text.append("mark".rjust(width) + "  ", "bold")
        text.append(priority_mark(self.record))
        return text

    def context_text(self) -> Text:
        text = Text(end="")
        if not self.context:
            text.append("(no other lines from this unit nearby)", "dim")
            return text
        for n, (record, is_target) in enumerate(self.context):
            if n:
                text.append("\n")
            line = record_line(record, lambda _name: _plain(), unit_width=16)
            text.append(">> " if is_target else "   ", "bold" if is_target else "")
            if is_target:
                line.stylize("reverse")
            text.append_text(line)
        return text

    def action_back(self) -> None:
        self.dismiss(None)

    def action_explain(self) -> None:
        self.dismiss("explain")


def _plain():
    from rich.style import Style

    return Style()
