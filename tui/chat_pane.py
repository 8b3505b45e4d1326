"""The chat pane: answers streaming in as plain text, the questions asked, an input line with history."""

from __future__ import annotations

from alsate.tui.format import safe, safe_block
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

#: Repaint a streaming answer at most this often (seconds): tokens are batched, no flicker.
STREAM_REPAINT = 0.05


class QuestionInput(Input):
    """The input line; up/down walk the questions asked before."""

    BINDINGS = [
        Binding("up", "history(-1)", "Previous question", show=False),
        Binding("down", "history(1)", "Next question", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._at = 0

    def remember(self, question: str) -> None:
        if question and (not self.history or self.history[-1] != question):
            self.history.append(question)
        self._at = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._at = max(0, min(len(self.history), self._at + step))
        self.value = self.history[self._at] if self._at < len(self.history) else ""
        self.cursor_position = len(self.value)


class ChatEntry(Static):
    """One question (or preset) and its answer."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.answer = ""
        self.note = ""
        self.state = "waiting"

    def text(self) -> Text:
        out = Text(end="")
        out.append("> " + safe(self.title, 500), "bold")
        out.append("\n")
        if self.answer:
            out.append(safe_block(self.answer))
        elif self.state == "waiting":
            out.append("...", "dim")
        if self.note:
            out.append("\n" + safe(self.note, 500), "italic dim")
        return out

    def repaint(self) -> None:
        self.update(self.text())


class ChatPane(Vertical):
    """Question history, streaming answers, and the input line."""

    BORDER_TITLE = "Chat"

    class Asked(Message):
        """The user typed a question."""

        def __init__(self, question: str) -> None:
            super().__init__()
            self.question = question

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entries: list[ChatEntry] = []
        self._current: ChatEntry | None = None
        self._dirty = False
        self._timer = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="chat-log"):
            yield Static(Text("Press e to explain the selected line or finding, S/R/P for summary, root cause, "
                              "patterns, or type a question below.", style="dim"), id="chat-hint")
        yield QuestionInput(placeholder="ask about the selection (Enter); Esc cancels", id="chat-input")

    @property
    def input(self) -> QuestionInput:
        return self.query_one(QuestionInput)

    @property
    def generating(self) -> bool:
        return self._current is not None and self._current.state == "streaming"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        question = event.value.strip()
        if not question:
            return
        self.input.remember(question)
        self.input.value = ""
        self.post_message(self.Asked(question))

    # -- streaming, called by the app ----------------------------------------------------------

    def begin(self, title: str) -> ChatEntry:
        entry = ChatEntry(title, classes="chat-entry")
        entry.state = "streaming"
        self.entries.append(entry)
        self._current = entry
        log = self.query_one("#chat-log", VerticalScroll)
        log.mount(entry)
        entry.repaint()
        log.scroll_end(animate=False)
        return entry

    def append(self, piece: str) -> None:
        if self._current is None:
            return
        self._current.answer += piece
        self._dirty = True
        if self._timer is None:
            self._timer = self.set_timer(STREAM_REPAINT, self._flush)

    def _flush(self) -> None:
        self._timer = None
        if self._dirty and self._current is not None:
            self._dirty = False
            self._current.repaint()
            self.query_one("#chat-log", VerticalScroll).scroll_end(animate=False)

    def end(self, note: str = "", state: str = "done") -> None:
        entry = self._current
        if entry is None:
            return
        entry.state = state
        entry.note = note
        entry.repaint()
        self._current = None
        self._dirty = False
        self.query_one("#chat-log", VerticalScroll).scroll_end(animate=False)

    def fail(self, message: str) -> None:
        if self._current is None:
            self.begin("error")
        self.end(message, state="failed")

    @property
    def last_answer(self) -> str:
        for entry in reversed(self.entries):
            if entry.answer:
                return entry.answer
        return ""
