"""Snapshots of alsate-tui's main screens (pytest-textual-snapshot), over the demo history at a fixed clock.

Update after a reviewed change: ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import time

import pytest
from test_tui_helpers import loaded, make_app


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("LANG", "C.UTF-8")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _ready(pilot) -> None:
    await loaded(pilot)
    await pilot.pause(0.2)


def test_main_screen(snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=_ready)


def test_main_screen_80x24(snap_compare) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_ready)


def test_main_screen_16_colours_80x24(snap_compare, monkeypatch) -> None:
    """A 16-colour terminal (TERM without 256color, no COLORTERM): the app picks the ANSI theme."""
    monkeypatch.setenv("TERM", "xterm-16color")
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.delenv("ALSATE_THEME", raising=False)

    async def run_before(pilot) -> None:
        assert pilot.app.console.color_system == "standard" and pilot.app.theme == "ansi-dark"
        await _ready(pilot)

    assert snap_compare(make_app(theme=None), terminal_size=(80, 24), run_before=run_before)


def test_finding_evidence(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        await pilot.press("f", "down", "down", "enter")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=run_before)


def test_line_detail(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        await pilot.press("3", "up", "up", "enter")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=run_before)


def test_help_screen(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=run_before)


def test_hostile_lines_search(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _ready(pilot)
        app = pilot.app
        await pilot.press("3")
        seq = next(s for s in app.view.matches if "FREE MONEY" in app.store.get(s).message)
        app.log_pane.move_to(app.view.index_of(seq), center=True)
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=(160, 30), run_before=run_before)
