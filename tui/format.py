"""Engine objects as Rich ``Text`` for the widgets: never markup, control characters made visible.

Every string that came from a log or a model goes through :func:`safe` and
into ``Text(...)`` (plain text, no markup parsing); styles come from the
widgets' component classes (``.tcss`` files), passed in as ``Style`` objects.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence

from alsate.engine.records import PRIORITY_LETTERS, PRIORITY_NAMES, Record, SourceKind
from alsate.engine.render import DISPLAY_LIMIT, source_label
from alsate.engine.textio import visible
from rich.style import Style
from rich.text import Text

UNICODE_BLOCKS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
ASCII_BLOCKS = "_.-=+*#@"


def ascii_only() -> bool:
    """Whether to avoid block characters (Linux console, or a non-UTF-8 locale, or ALSATE_ASCII=1)."""
    if os.environ.get("ALSATE_ASCII", "") in ("1", "true", "yes"):
        return True
    if os.environ.get("TERM") == "linux":
        return True
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE") or os.environ.get("LANG") or ""
    return bool(locale) and "utf" not in locale.lower().replace("-", "")


def safe(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """Untrusted text for one screen line: shortened, tabs as spaces, control characters visible."""
    if len(text) > limit:
        text = text[:limit] + f" [... {len(text) - limit} more characters]"
    return visible(text.replace("\t", "    ").replace("\n", "^J"))


def safe_block(text: str) -> str:
    """Untrusted multi-line text (model output, detail fields): newlines kept, the rest made visible."""
    return "\n".join(visible(line.replace("\t", "    ")) for line in text.replace("\r\n", "\n").split("\n"))


def sparkline(values: Sequence[int], ascii_chars: bool | None = None) -> str:
    """One character per value, scaled to the largest; a space for zero."""
    blocks = ASCII_BLOCKS if (ascii_only() if ascii_chars is None else ascii_chars) else UNICODE_BLOCKS
    top = max(values, default=0)
    if top <= 0:
        return " " * len(values)
    out = []
    for value in values:
        if value <= 0:
            out.append(" ")
        else:
            out.append(blocks[min(len(blocks) - 1, (value * len(blocks) - 1) // top)])
    return "".join(out)


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def fit(text: str, width: int) -> str:
    """``text`` padded or cut to ``width`` cells (ASCII-ish text; one cell per character)."""
    if len(text) > width:
        return text[: max(0, width - 1)] + "~"
    return text.ljust(width)


def priority_mark(record: Record, effective: bool = True) -> str:
    """``E``; ``E<I`` when the content raised the level (``I>E`` when filtering on syslog priority)."""
    if record.effective == record.priority:
        return PRIORITY_LETTERS[record.priority]
    if effective:
        return PRIORITY_LETTERS[record.effective] + "<" + PRIORITY_LETTERS[record.priority]
    return PRIORITY_LETTERS[record.priority] + ">" + PRIORITY_LETTERS[record.effective]


StyleFor = Callable[[str], Style]


def component_style(widget, name: str) -> Style:
    """A widget's component-class style (``.tcss``) to apply over text: only what the rule sets, with
    its colours made solid. A colour with alpha (``$text-muted``, ``$accent 40%``) is blended over the
    widget's background, as Textual does for a widget's own colours: the partial style alone drops the
    alpha (muted text would be drawn at full brightness).
    """
    partial = widget.get_component_rich_style(name, partial=True)
    if partial.color is None and partial.bgcolor is None:
        return partial
    full = widget.get_component_rich_style(name, partial=False)
    return partial + Style(color=full.color if partial.color is not None else None,
                           bgcolor=full.bgcolor if partial.bgcolor is not None else None)


def display_message(record: Record) -> str:
    """The message column: an access-log line without what other columns show (its time, the ``- -``).

    Only fields the parser already extracted are used; anything unusual shows the message as it is.
    """
    extra = record.extra
    if record.kind == SourceKind.NGINX_ACCESS and extra and "request" in extra and "status" in extra:
        parts = [str(extra.get("remote_addr", "-")), f'"{extra["request"]}"', str(extra["status"]),
                 str(extra.get("body_bytes_sent", "-"))]
        if extra.get("http_user_agent"):
            parts.append(f'"{extra["http_user_agent"]}"')
        return " ".join(parts)
    return record.message


def record_line(record: Record, style_for: StyleFor, *, effective: bool = True,
                highlight: re.Pattern[str] | None = None, host_width: int = 8, unit_width: int = 16) -> Text:
    """One record as one line: time, host, unit[pid] (each unless its width is 0), priority mark, message."""
    level = record.effective if effective else record.priority
    line = Text(no_wrap=True, end="")
    line.append(clock(record.ts), style_for("time"))
    line.append(" ")
    if host_width:
        line.append(fit(safe(record.host or "-", 64), host_width), style_for("host"))
        line.append(" ")
    if unit_width:
        line.append(fit(safe(source_label(record), 80), unit_width), style_for("unit"))
        line.append(" ")
    mark = priority_mark(record, effective)
    line.append(mark.ljust(3), style_for(f"p{level}") + (style_for("raised") if len(mark) > 1 else Style()))
    line.append(" ")
    start = len(line)
    message = safe(display_message(record))
    line.append(message, style_for(f"m{level}"))
    if highlight is not None:
        for match in highlight.finditer(message):
            if match.end() > match.start():
                line.stylize(style_for("match"), start + match.start(), start + match.end())
    return line


def priority_name(level: int) -> str:
    return PRIORITY_NAMES[level] if 0 <= level < 8 else str(level)


def priorities_label(levels: frozenset[int] | None) -> str:
    """``0-4``, ``3``, ``0,3,4`` or ``0-7`` (all)."""
    if levels is None:
        levels = frozenset(range(8))
    ordered = sorted(levels)
    if not ordered:
        return "none"
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]}-{ordered[-1]}"
    return ",".join(map(str, ordered))
