"""Keys for the help screen and the command palette, generated from the widgets' BINDINGS."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (group title, class name of the widget whose BINDINGS it lists)
GROUPS = (
    ("Everywhere", "AlsateApp"),
    ("Log pane", "LogPane"),
    ("Findings panel", "FindingsPanel"),
    ("Chat input", "QuestionInput"),
)


def _key_label(keys: str) -> str:
    names = {"question_mark": "?", "slash": "/", "escape": "Esc", "enter": "Enter", "space": "Space",
             "pageup": "PgUp", "pagedown": "PgDn", "home": "Home", "end": "End", "up": "Up", "down": "Down",
             "left": "Left", "right": "Right", "f1": "F1", "ctrl+c": "Ctrl+C", "ctrl+q": "Ctrl+Q",
             "ctrl+p": "Ctrl+P", "tab": "Tab", "shift+tab": "Shift+Tab"}
    return "/".join(names.get(key.strip(), key.strip()) for key in keys.split(","))


def _bindings_of(cls) -> list[Binding]:
    """A class's bindings, its own (and its alsate bases') first; a subclass's binding for an action wins."""
    by_action: dict[str, Binding] = {}
    for klass in reversed(cls.__mro__):
        for item in klass.__dict__.get("BINDINGS", []):
            binding = item if isinstance(item, Binding) else Binding(*item)
            if binding.action in by_action and not klass.__module__.startswith("alsate."):
                continue
            by_action.pop(binding.action, None)
            by_action[binding.action] = binding
    own = [b for b in by_action.values() if b.action in _own_actions(cls)]
    return own + [b for b in by_action.values() if b.action not in _own_actions(cls)]


def _own_actions(cls) -> set[str]:
    actions = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("alsate."):
            for item in klass.__dict__.get("BINDINGS", []):
                actions.add(item.action if isinstance(item, Binding) else item[1])
    return actions


def _classes(app) -> dict[str, type]:
    from alsate.tui.chat_pane import QuestionInput
    from alsate.tui.findings_panel import FindingsPanel
    from alsate.tui.log_pane import LogPane

    return {"AlsateApp": type(app), "LogPane": LogPane, "FindingsPanel": FindingsPanel,
            "QuestionInput": QuestionInput}


def binding_rows(app) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group, [(keys, description)]) for every binding with a description."""
    classes = _classes(app)
    groups = []
    for title, name in GROUPS:
        rows: list[tuple[str, str]] = []
        seen: set[str] = set()
        for binding in _bindings_of(classes[name]):
            description = binding.tooltip or binding.description
            if not description or binding.action in seen or binding.key.startswith("ctrl+") and name != "AlsateApp" \
                    and binding.action.startswith("cursor"):
                continue
            if name not in ("AlsateApp", "LogPane", "FindingsPanel", "QuestionInput"):
                continue
            if name == "QuestionInput" and not binding.action.startswith("history"):
                continue
            seen.add(binding.action)
            if binding.action.startswith("max_priority("):
                if binding.action == "max_priority(0)":
                    rows.append(("0-7", "Show priorities 0 to N (default 4, the ALSATE policy)"))
                continue
            rows.append((_key_label(binding.key), description))
        groups.append((title, rows))
    return groups


def palette_actions(app) -> Iterable[tuple[str, str, str, str]]:
    """(title, help, action, target) for every described app and log-pane binding."""
    classes = _classes(app)
    seen: set[str] = set()
    for target, name in (("app", "AlsateApp"), ("log", "LogPane"), ("findings", "FindingsPanel")):
        for binding in _bindings_of(classes[name]):
            if not binding.description or (target, binding.action) in seen:
                continue
            if binding.action in ("cursor(-1)", "cursor(1)", "page(-1)", "page(1)", "scroll_left", "scroll_right"):
                continue
            seen.add((target, binding.action))
            title = binding.description
            if target != "app":
                title = f"{title} ({'log pane' if target == 'log' else 'findings'})"
            yield title, f"{binding.tooltip or binding.description} - key {_key_label(binding.key)}", \
                binding.action, target


class AlsateCommands(Provider):
    """Every action of the app in the command palette."""

    async def _run(self, action: str, target: str) -> None:
        app = self.app
        if target == "app":
            await app.run_action(action)
            return
        widget = app.query_one("#log" if target == "log" else "#findings")
        await app.run_action(action, widget)

    async def discover(self) -> Hits:
        for title, help_text, action, target in palette_actions(self.app):
            yield DiscoveryHit(title, partial(self._run, action, target), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action, target in palette_actions(self.app):
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action, target), help=help_text)
