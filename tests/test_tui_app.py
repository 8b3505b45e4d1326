"""Pilot tests of alsate-tui's flows over the bundled demo logs (real engine, store, findings)."""

from __future__ import annotations

import re
import threading
import time

from alsate.engine.records import Record
from alsate.engine.store import Query
from alsate.tui.app import Filters, main, prepare
from alsate.tui.chat_pane import ChatPane
from alsate.tui.detail_screen import DetailScreen
from alsate.tui.findings_panel import FindingsPanel
from alsate.tui.help_screen import HelpScreen
from test_tui_helpers import ScriptedModel, loaded, make_app, run_async, screen_text, wait_for

SIZE = (100, 28)


def records_shown(app) -> list[Record]:
    return list(app.view.page(0, len(app.view)))


async def type_text(pilot, text: str) -> None:
    """Type into the focused input (inserted at once: pressing each key is slow and tests nothing more)."""
    from textual.widgets import Input

    focused = pilot.app.focused
    if isinstance(focused, Input):
        focused.insert_text_at_cursor(text)
        await pilot.pause()
        return
    for char in text:
        await pilot.press(char if char != " " else "space")


async def search(pilot, text: str) -> None:
    """``/``, the pattern (replacing the last one), Enter."""
    await pilot.press("slash")
    pilot.app.focused.value = ""
    await type_text(pilot, text)
    await pilot.press("enter")


@run_async
async def test_startup_shows_history_findings_and_status() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert len(app.store) > 6000
        # default policy: priorities 0-4 (effective)
        assert all(r.effective <= 4 for r in records_shown(app))
        assert any(r.effective != r.priority for r in records_shown(app))  # raised stdout lines are shown
        titles = [row.finding.title for row in app.findings_panel.rows]
        assert any("SSH brute force from 203.0.113.45" in t for t in titles)
        assert any("Scanner probing" in t for t in titles)
        info = app.status_info()
        assert info.held == len(app.store) and info.shown == len(app.view)
        assert "DEMO" in info.sources and info.filter.startswith("p0-4")
        assert app.log_pane.follow is True
        # follow: the cursor is on the newest line
        assert app.log_pane.cursor == len(app.view) - 1
        # the effective-priority mark is on screen for raised lines
        assert re.search(r" [EACRW]<I ", screen_text(app)) or any(
            r.effective != r.priority for r in app.view.page(-30, 30))


@run_async
async def test_priority_keys_levels_picker_and_syslog_switch() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        at4 = len(app.view)
        await pilot.press("3")
        assert app.filters.levels == frozenset(range(4))
        assert all(r.effective <= 3 for r in records_shown(app)) and len(app.view) < at4
        await pilot.press("7")
        assert len(app.view) == len(app.store)
        await pilot.press("4")
        await pilot.press("s")  # syslog priority: the raised stdout lines drop out
        assert app.filters.effective is False
        assert all(r.priority <= 4 for r in records_shown(app))
        assert len(app.view) < at4
        assert "syslog" in app.status_info().filter
        await pilot.press("s")
        # single levels: only err (3)
        await pilot.press("p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "LevelsScreen")
        for key in ("0", "1", "2", "4"):
            await pilot.press(key)
        await pilot.press("enter")
        assert app.filters.levels == frozenset({3})
        assert {r.effective for r in records_shown(app)} == {3}
        assert "p3" in app.status_info().filter


@run_async
async def test_search_highlights_and_n_N_move_between_matches() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("7")
        await search(pilot, "Accepted password")
        record = app.log_pane.cursor_record()
        assert record is not None and "Accepted password" in record.message
        assert app.log_pane.follow is False
        assert "search /Accepted password/" in app.crumbs()
        await search(pilot, "failed password for root")
        first = app.log_pane.cursor_seq()
        assert re.search("failed password for root", app.log_pane.cursor_record().message, re.I)
        await pilot.press("N")  # the search started at the newest match: N goes to older ones
        second = app.log_pane.cursor_seq()
        assert second < first and "Failed password for root" in app.log_pane.cursor_record().message
        await pilot.press("n")
        assert app.log_pane.cursor_seq() == first
        await pilot.press("n")  # past the last match: wraps to the first
        assert app.log_pane.cursor_seq() < second
        # the match is highlighted in the rendered line
        line = app.log_pane._text_for(app.log_pane.cursor_record(), first)  # what the strip is made of
        match_style = app.log_pane._style("match")
        assert any(span.style == match_style for span in line.spans)
        await pilot.press("escape")  # clears the search
        assert app.search is None and app.log_pane.highlight is None


@run_async
async def test_scrolling_up_pauses_follow_and_end_or_F_resumes() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("up")
        assert app.log_pane.follow is False
        await pilot.pause(0.15)
        assert "paused" in str(app.log_pane.border_title).lower()
        assert app.status_info().follow is False
        # new records do not move a paused cursor
        seq = app.log_pane.cursor_seq()
        app.ingest([app.store.get(app.store.end_seq - 1)._replace(pos="new1", effective=3)])
        await pilot.pause(0.25)
        assert app.log_pane.cursor_seq() == seq
        await pilot.press("end")
        assert app.log_pane.follow is True
        assert app.log_pane.cursor == len(app.view) - 1
        await pilot.press("pageup")
        assert app.log_pane.follow is False
        await pilot.press("F")
        assert app.log_pane.follow is True
        app.ingest([app.store.get(app.store.end_seq - 1)._replace(pos="new2", effective=3)])
        await pilot.pause(0.25)
        assert app.log_pane.cursor_record().pos == "new2"


@run_async
async def test_enter_on_finding_shows_its_evidence_and_escape_steps_back() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        before = len(app.view)
        panel = app.findings_panel
        await pilot.press("f")
        assert app.focused is panel
        index = next(i for i, row in enumerate(panel.rows) if row.finding.title.startswith("SSH brute force"))
        panel.highlighted = index
        finding = panel.rows[index].finding
        await pilot.press("enter")
        assert app.filters.finding_id == finding.id
        shown = {r.id for r in records_shown(app)}
        assert shown == set(finding.evidence) and len(shown) == finding.count
        assert app.crumbs()[-1].startswith("finding: SSH brute force")
        assert app.focused is app.log_pane
        await pilot.press("escape")
        assert app.filters.finding_id is None and len(app.view) == before
        assert app.crumbs() == ["live log"]


@run_async
async def test_keys_read_together_go_where_the_keys_before_them_sent_the_focus() -> None:
    """Keys in one terminal read (a fast typist, a busy app, tmux send-keys): each goes where the keys
    before it put the focus, not to the pane focused at the first."""
    from textual import events

    def typed(*keys: str) -> None:
        for key in keys:
            char = key if len(key) == 1 else {"enter": "\r", "slash": "/", "escape": "\x1b"}[key]
            app.post_message(events.Key(key, char))

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.focused is app.log_pane
        typed("f", "enter")  # Enter opens the finding, not the log line
        await wait_for(pilot, lambda: app.filters.finding_id is not None)
        assert not isinstance(app.screen, DetailScreen)
        assert app.filters.finding_id == app.findings_panel.rows[0].finding.id
        typed("c", "x")  # x is typed in the chat, not Clear in the log pane
        await wait_for(pilot, lambda: app.chat.input.value == "x")
        assert app.focused is app.chat.input and app.filters.finding_id is not None
        typed("escape", "slash", "s", "s", "h", "d", "enter")  # the pattern goes into the search prompt
        await wait_for(pilot, lambda: app.search is not None)
        assert app.search.pattern == "sshd" and app.filters.finding_id is not None
        typed("c")
        app.post_message(events.Paste("why?"))  # a paste right after: into the chat too
        await wait_for(pilot, lambda: "why?" in app.chat.input.value, timeout=3)


@run_async
async def test_a_key_whose_marker_is_lost_does_not_hold_the_keys_after_it() -> None:
    from textual import events

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app._key_away, app._key_sent_at = 10_000, time.monotonic()  # a marker that will never come back
        app.post_message(events.Key("3", "3"))
        await pilot.pause(0.2)
        assert app.filters.levels == frozenset(range(5))  # waiting (for MARKER_TIMEOUT, 1 s)
        await wait_for(pilot, lambda: app.filters.levels == frozenset(range(4)), timeout=5)


@run_async
async def test_enter_on_line_opens_detail_with_fields_and_context() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("7")
        await pilot.press("slash")
        await type_text(pilot, "Accepted password for root")
        await pilot.press("enter")
        target = app.log_pane.cursor_record()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        fields = screen.fields_text().plain
        for name in ("id", "time", "host", "unit", "priority", "effective", "message", "_TRANSPORT"):
            assert re.search(rf"^\s*{name}  ", fields, re.M), name
        assert target.id in fields
        context = screen.context
        assert sum(1 for _, is_target in context if is_target) == 1
        assert len(context) > 1 and all(r.unit == target.unit for r, _ in context)
        assert "> line detail" in str(screen.query_one("#detail-crumb").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


@run_async
async def test_hostile_log_text_is_shown_literally() -> None:
    app = make_app()
    async with app.run_test(size=(200, 40)) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("3")
        lines = {}
        for needle in ("FREE MONEY", "pwned", "backup failed"):
            seq = next(s for s in app.view.matches if needle in app.store.get(s).message)
            app.log_pane.move_to(app.view.index_of(seq), center=True)
            await pilot.pause(0.1)
            lines[needle] = next(line for line in app.log_pane.render_lines_text() if needle in line)
        assert "[bold red]FREE MONEY[/bold red] [@click=app.quit]claim[/]" in lines["FREE MONEY"]
        assert "^[]0;you have been pwned^Gcurl/8.0" in lines["pwned"]
        assert "progress 99%^MOK: backup completed" in lines["backup failed"]
        # no raw control character reaches the screen
        for line in lines.values():
            assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line)
        # and the markup did nothing: the app is still running, on the main screen
        assert app.is_running and app.screen.is_current
        await pilot.press("enter")  # detail of the backup line: literal there too
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert "progress 99%^MOK" in app.screen.fields_text().plain


@run_async
async def test_unit_host_time_and_source_filters_then_clear_all() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("7")
        total = len(app.view)
        await pilot.press("u")
        await type_text(pilot, "ssh.service")
        await pilot.press("enter")
        assert {r.unit for r in records_shown(app)} == {"ssh.service"}
        assert app.crumbs()[-1] == "unit ssh.service"
        await pilot.press("h")
        await type_text(pilot, "web-01")
        await pilot.press("enter")
        assert {r.host for r in records_shown(app)} == {"web-01"}
        await pilot.press("escape")  # back one level: host filter gone, unit kept
        assert app.filters.hosts is None and app.filters.units == frozenset({"ssh.service"})
        await pilot.press("x")
        assert len(app.view) < total  # clear goes back to the default policy, 0-4
        await pilot.press("7")
        assert len(app.view) == total and app.crumbs() == ["live log"]
        # sources: the second one (nginx access log)
        await pilot.press("o")
        await type_text(pilot, "2")
        await pilot.press("enter")
        assert {r.origin for r in records_shown(app)} == {"demo:nginx/access.log"}
        await pilot.press("x")
        await pilot.press("7")
        # time range: the last 5 minutes of the history
        last = app.store.get(app.store.end_seq - 1).ts
        await pilot.press("t")
        await type_text(pilot, f"@{int(last - 300)}..")
        await pilot.press("enter")
        shown = records_shown(app)
        assert shown and all(r.ts >= last - 300 for r in shown) and len(shown) < total
        # bad input in a prompt: a notification, the filter unchanged
        await pilot.press("t")
        await type_text(pilot, "yesterdayish")
        await pilot.press("enter")
        assert len(records_shown(app)) == len(shown)


@run_async
async def test_explain_line_streams_into_chat() -> None:
    gate = threading.Event()
    model = ScriptedModel(answer="Cause: " + " ".join(f"w{n}" for n in range(60)), delay=0.02, gate=gate)
    app = make_app(model=model)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await wait_for(pilot, lambda: app.analyst is not None)
        target = app.log_pane.cursor_record()
        await pilot.press("e")
        chat = app.query_one(ChatPane)
        await wait_for(pilot, lambda: app.generating and chat.entries and chat.entries[-1].answer)
        partial, states = [], []
        await wait_for(pilot, lambda: partial.append(chat.entries[-1].answer) or states.append(
            app.status_info().model) or len(partial) > 5)
        gate.set()  # let the rest of the answer stream
        await wait_for(pilot, lambda: partial.append(chat.entries[-1].answer) or states.append(
            app.status_info().model) or not app.generating)
        assert any(0 < len(p) < len(model.answer) for p in partial)  # arrived in pieces
        assert any(re.search(r"generating \d+ tok/s", s) for s in states), states
        entry = chat.entries[-1]
        assert entry.answer == model.answer and entry.state == "done"
        assert entry.title.startswith("explain: ")
        assert target.message[:40] in model.requests[-1].messages[-1].content
        assert "ready" in app.model_state


@run_async
async def test_explain_finding_and_cancel_with_escape() -> None:
    model = ScriptedModel(answer=" ".join(["word"] * 400), delay=0.02)
    app = make_app(model=model)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.analyst is not None)
        await pilot.press("f")
        finding = app.findings_panel.selected
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.chat.entries) == 1 and len(app.chat.entries[0].answer) > 10)
        assert app.chat.entries[0].title == f"explain finding: {finding.title}"
        assert finding.title in model.requests[-1].messages[-1].content
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.generating)
        entry = app.chat.entries[0]
        assert entry.state == "cancelled" and len(entry.answer) < len(model.answer)
        # ctrl+c cancels as well
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.chat.entries) == 2 and app.chat.entries[1].answer)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.generating)
        assert app.chat.entries[1].state == "cancelled"


@run_async
async def test_follow_up_question_history_and_copy() -> None:
    model = ScriptedModel(answer="Cause: it is fine.\nRemediation:\n1. nothing\nThreat level: none")
    app = make_app(model=model)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await wait_for(pilot, lambda: app.analyst is not None)
        await pilot.press("e")
        await wait_for(pilot, lambda: app.chat.entries and app.chat.entries[-1].state == "done")
        first_requests = len(model.requests)
        await pilot.press("c")
        assert app.focused is app.chat.input
        await type_text(pilot, "is this dangerous?")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.chat.entries) == 2 and app.chat.entries[-1].state == "done")
        follow_up = model.requests[first_requests]
        # a follow-up in the same session: the first exchange is in the conversation
        assert len(follow_up.messages) >= 4 and "is this dangerous?" in follow_up.messages[-1].content
        await pilot.press("up")
        assert app.chat.input.value == "is this dangerous?"
        await pilot.press("down")
        assert app.chat.input.value == ""
        await pilot.press("escape")  # leaves the input
        assert app.focused is app.log_pane
        await pilot.press("y")
        assert app.clipboard == model.answer


@run_async
async def test_presets_summarize_marked_or_visible_root_cause_and_patterns() -> None:
    model = ScriptedModel(answer="Summary: ok\nKey events:\n- one\nThreat level: low")
    app = make_app(model=model)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await wait_for(pilot, lambda: app.analyst is not None)
        await pilot.press("S")
        await wait_for(pilot, lambda: app.chat.entries and app.chat.entries[-1].state == "done")
        assert re.match(r"summarize: \d+ visible lines", app.chat.entries[-1].title)
        await pilot.press("up", "space", "up", "space")
        assert len(app.log_pane.marked) == 2
        await pilot.press("S")
        await wait_for(pilot, lambda: len(app.chat.entries) == 2 and app.chat.entries[-1].state == "done")
        assert app.chat.entries[-1].title == "summarize: 2 marked lines"
        marked = [app.store.get(s).message[:30] for s in app.log_pane.marked]
        assert all(m in model.requests[-1].messages[-1].content for m in marked)
        for key, name in (("R", "root cause"), ("P", "find patterns")):
            await pilot.press(key)
            await wait_for(pilot, lambda: app.chat.entries[-1].state == "done" and not app.generating)
            assert app.chat.entries[-1].title.startswith(name)


@run_async
async def test_without_a_model_the_app_works_and_chat_says_why() -> None:
    from alsate.engine.errors import UserError

    def no_model(progress):
        raise UserError("no GGUF model at /nowhere.gguf")

    app = make_app(analyst=no_model)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await wait_for(pilot, lambda: "none" in app.model_state)
        assert "/nowhere.gguf" in app.model_state
        await pilot.press("e")
        assert app.chat.entries[-1].state == "failed"
        assert "not available" in app.chat.entries[-1].note
        await pilot.press("3")  # the rest still works
        assert app.filters.levels == frozenset(range(4))


@run_async
async def test_help_screen_and_command_palette_list_every_action() -> None:
    from alsate.tui.commands import palette_actions

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_text = str(app.screen.query_one("#help-text").render())
        described = [b for b in type(app).BINDINGS if b.description]
        for binding in described:
            if binding.action.startswith("max_priority("):
                continue
            assert (binding.tooltip or binding.description) in help_text, binding.action
        assert "Show priorities 0 to N" in help_text
        for needle in ("Resume following", "Filter the log pane to this finding", "Previous question"):
            assert needle in help_text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        actions = {action for _, _, action, _ in palette_actions(app)}
        assert {b.action for b in described} <= actions
        assert {"follow", "open", "select"} <= actions
        # run one from the palette: "Priority 0-2"
        await pilot.press("ctrl+p")
        await type_text(pilot, "Priority 0-2")
        await pilot.pause(0.4)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.filters.levels == frozenset(range(3)))


@run_async
async def test_themes_and_zoom() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        first = app.theme
        await pilot.press("T")
        assert app.theme != first
        await pilot.press("z")
        assert app.screen.maximized is app.log_pane
        await pilot.press("escape")
        assert app.screen.maximized is None


@run_async
async def test_mouse_click_on_a_finding_and_on_a_line() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.click(FindingsPanel, offset=(8, 2))  # border row, first, second finding
        finding = app.findings_panel.rows[1].finding
        assert app.filters.finding_id == finding.id  # a click selects, as Enter does
        await pilot.click("#log", offset=(10, 3))
        assert app.focused is app.log_pane and app.log_pane.follow is False
        assert app.log_pane.cursor == int(app.log_pane.scroll_y) + 2  # border row, then lines


@run_async
async def test_live_follow_of_the_demo_replay() -> None:
    app = make_app(live=True, speed=60.0)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        held = len(app.store)
        await wait_for(pilot, lambda: len(app.store) > held + 50, timeout=10)
        await pilot.pause(0.3)
        assert app.log_pane.cursor == len(app.view) - 1  # still following
        assert app.status_info().rate > 0
        # live records are ones the replay stamped with the current time
        newest = app.store.get(app.store.end_seq - 1)
        assert abs(newest.ts - time.time()) < 60


@run_async
async def test_ingesting_a_burst_is_batched_and_the_view_follows() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        template = app.store.get(app.view.matches[-1])
        burst = [template._replace(pos=f"burst{n}", message=f"burst line {n}", ts=template.ts + n / 1000)
                 for n in range(20_000)]
        app.ingest(burst)
        await pilot.pause(0.3)
        assert app.log_pane.cursor_record().message == "burst line 19999"
        assert app.status_info().held == len(app.store)


def test_bad_input_is_one_line_and_nonzero(capsys) -> None:
    assert main(["--since", "not a time"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alsate-tui: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["/nonexistent/file.log"]) == 1
    err = capsys.readouterr().err
    assert "no such file" in err and err.count("\n") == 1
    assert main(["--demo", "-p", "bogus"]) == 2
    assert main(["--demo", "--grep", "("]) == 2


def test_no_logs_on_the_machine_falls_back_to_the_demo(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'journal = false\nnginx_glob = "{tmp_path}/none/*.log"\n')
    app = prepare(["--config", str(config), "--no-model"])
    assert "no logs found" in app.notice and "DEMO" in app.notice
    assert [s.origin for s in app.sources] == ["demo:journal.json", "demo:nginx/access.log", "demo:nginx/error.log"]
    app = prepare(["--demo", "-p", "err", "-u", "ssh.service", "--no-model"])
    assert app.filters.levels == frozenset(range(4)) and app.filters.units == frozenset({"ssh.service"})


def test_filters_query_and_description() -> None:
    filters = Filters(levels=frozenset({0, 3, 4}), effective=False, units=frozenset({"a"}))
    query = filters.query()
    assert query == Query(priorities=frozenset({0, 3, 4}), effective=False, units=frozenset({"a"}))
    assert filters.describe() == "p0,3,4 syslog unit a"
    assert Filters(levels=frozenset(range(8))).query().priorities is None


@run_async
async def test_a_full_store_drops_the_oldest_and_says_so() -> None:
    app = make_app(capacity=2000)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await pilot.pause(0.2)
        assert len(app.store) <= 2000 and app.store.dropped > 4000
        info = app.status_info()
        assert info.dropped == app.store.dropped
        assert f"dropped {app.store.dropped:,}" in str(app.query_one("StatusBar").render())


@run_async
async def test_a_paused_pane_stays_on_its_line_when_old_records_are_evicted() -> None:
    app = make_app(capacity=7000)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("7")
        await pilot.press("pageup", "pageup")
        seq = app.log_pane.cursor_seq()
        row = app.log_pane.cursor - app.log_pane.top
        template = app.store.get(app.store.end_seq - 1)
        app.ingest([template._replace(pos=f"evict{n}", ts=template.ts + n) for n in range(1500)])
        await pilot.pause(0.3)
        assert app.store.dropped > 0
        assert app.log_pane.cursor_seq() == seq  # same record under the cursor
        assert app.log_pane.cursor - app.log_pane.top == row  # on the same screen row


def test_the_theme_follows_the_terminals_colours(monkeypatch) -> None:
    """16 colours (no 256color in TERM, no COLORTERM=truecolor): the ANSI theme, the terminal's own palette."""
    cases = [("xterm-16color", None, "ansi-dark"), ("xterm", None, "ansi-dark"), ("screen", None, "ansi-dark"),
             ("xterm-256color", None, "textual-dark"), ("xterm", "truecolor", "textual-dark")]
    for term, colorterm, theme in cases:
        monkeypatch.setenv("TERM", term)
        if colorterm is None:
            monkeypatch.delenv("COLORTERM", raising=False)
        else:
            monkeypatch.setenv("COLORTERM", colorterm)
        monkeypatch.delenv("ALSATE_THEME", raising=False)
        assert make_app(theme=None).default_theme() == theme, (term, colorterm)
    monkeypatch.setenv("ALSATE_THEME", "nord")  # asked for by name: always
    assert make_app(theme=None).default_theme() == "nord"


@run_async
async def test_each_priority_has_a_style_of_its_own_in_16_and_more_colours() -> None:
    """Emerg and alert share one (red background); the others differ from each other, and muted
    levels are drawn muted: a colour with alpha (info, debug, the time) is blended, not drawn white."""
    for theme in ("ansi-dark", "textual-dark"):
        app = make_app(theme=theme, findings=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.1)
            log = app.log_pane
            styles = [log._style(f"p{n}") for n in range(8)]
            assert styles[0] == styles[1] and styles[0].bgcolor is not None
            for a in range(1, 8):
                for b in range(a + 1, 8):
                    assert styles[a] != styles[b], (theme, a, b, styles[a])
            panel = app.findings_panel
            severities = [panel._style(f"s{n}") for n in range(1, 8)]
            assert len(set(severities)) == 7, (theme, severities)
            if theme == "textual-dark":
                text = log.rich_style.color.triplet
                for name in ("p6", "p7", "time"):
                    muted = log._style(name).color.triplet
                    assert sum(muted) < sum(text), (name, muted, text)  # dimmer than the text around it


@run_async
async def test_the_first_screen_is_painted_before_the_sources_start() -> None:
    app = make_app()
    seen: list[tuple] = []
    original = app._display

    def display(screen, renderable) -> None:
        original(screen, renderable)
        if renderable is not None and not seen:
            seen.append((app.source_set, app.findings_feed, app.log_pane.empty_message))

    app._display = display
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert seen and seen[0][0] is None and seen[0][1] is None  # nothing started before the first frame
        assert seen[0][2] == "loading..."
        assert app.findings_panel.rows  # and then everything ran


@run_async
async def test_a_short_terminal_keeps_the_log_and_status_and_restores_the_rest() -> None:
    app = make_app(findings=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("3")
        await pilot.resize_terminal(20, 10)
        await pilot.pause(0.3)
        assert app.findings_panel.region.height == 0 and app.chat.region.height == 0
        assert app.log_pane.region.height >= 5 and app.query_one("StatusBar").region.height == 1
        lines = [line for line in app.log_pane.render_lines_text() if line.strip()]
        # time and priority letter first: the unit column makes way
        assert lines and all(re.match(r"\d\d:\d\d:\d\d [ACER][<> ]", line) for line in lines), lines
        await pilot.resize_terminal(*SIZE)
        await pilot.pause(0.3)
        assert app.findings_panel.region.height > 3 and app.chat.region.height > 3
        assert re.match(r"\d\d:\d\d:\d\d \S+ +[ACER][<> ]", app.log_pane.render_lines_text()[0])


@run_async
async def test_notifications_show_search_text_literally() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        await search(pilot, "[bold]nowhere[/bold] \x1b\\[31m")
        await wait_for(pilot, lambda: any("no match" in n.message for n in app._notifications))
        message = next(n.message for n in app._notifications if "no match" in n.message)
        assert message == "no match for /[bold]nowhere[/bold] ^[\\[31m/"
        await search(pilot, "[red]x[")
        await wait_for(pilot, lambda: any("bad regex" in n.message for n in app._notifications))
        message = next(n.message for n in app._notifications if "bad regex" in n.message)
        assert message.startswith("bad regex '[red]x[': unterminated character set")
        assert app.is_running and app.screen.is_current


@run_async
async def test_a_followed_file_deleted_and_recreated_is_told(tmp_path) -> None:
    from alsate.engine.sources import FileSource

    log = tmp_path / "app.log"
    log.write_text("2024-03-02T14:01:33+00:00 web1 app[1]: error: first line\n")
    app = make_app(live=True, sources=[FileSource(str(log))], filters=Filters(levels=frozenset(range(8))))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: not app._loading and len(app.view) == 1)
        await pilot.pause(0.5)  # following
        log.unlink()
        # Told once the file has stayed away past the follower's grace: a toast and the status bar.
        await wait_for(pilot, lambda: any(f"{log} was deleted" in n.message for n in app._notifications), timeout=20)
        assert f"{log} was deleted" in app.status_info().warning
        log.write_text("2024-03-02T14:02:00+00:00 web1 app[1]: error: after the new file\n")
        await wait_for(pilot, lambda: len(app.view) == 2, timeout=20)
        await wait_for(pilot, lambda: f"following the new {log}" in app.status_info().warning)
        assert "after the new file" in app.store.get(app.view.matches[-1]).message


@run_async
async def test_young_objects_are_collected_after_the_ticks_frame() -> None:
    """The tick collects the young generation once GC_YOUNG_STEP objects wait, after its frame is painted
    (not in the tick itself; and small, instead of Python's own 50k-object collections at random)."""
    import gc

    from alsate.tui.app import GC_YOUNG_STEP

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.pause(0.3)
        keep = [{"n": [n]} for n in range(GC_YOUNG_STEP)]
        app._tick()
        assert gc.get_count()[0] >= GC_YOUNG_STEP  # not yet: after the frame
        await pilot.pause()
        await pilot.pause()
        assert gc.get_count()[0] < GC_YOUNG_STEP
        assert len(keep) == GC_YOUNG_STEP


@run_async
async def test_status_bar_says_when_the_findings_engine_skipped_lines() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: app.findings_feed is not None)
        assert "skipped" not in app.status_info().loading
        app.findings_feed.max_pending = 0  # as if 500k records were waiting
        app.ingest(records_shown(app)[:7])
        assert app.findings_feed.skipped == 7
        assert "findings: 7 lines skipped (behind)" in app.status_info().loading


@run_async
async def test_screens_paint_on_the_quick_frame_grid() -> None:
    """A change waits at most FRAME_PERIOD for its frame (Textual's 60 fps grid added up to 16.7 ms to keys)."""
    from alsate.tui.frame_rate import FRAME_PERIOD

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert app.screen._update_timer._interval == FRAME_PERIOD
        app.action_help()
        await pilot.pause()
        assert app.screen is not app.screen_stack[0]
        assert app.screen._update_timer._interval == FRAME_PERIOD


def test_a_frame_rate_the_user_set_is_kept(monkeypatch) -> None:
    import textual.screen
    from alsate.tui.frame_rate import FRAME_PERIOD, quicken_frames

    monkeypatch.setattr(textual.screen, "UPDATE_PERIOD", 1 / 30)
    monkeypatch.setenv("TEXTUAL_FPS", "30")
    assert quicken_frames() == 1 / 30
    monkeypatch.delenv("TEXTUAL_FPS")
    assert quicken_frames() == FRAME_PERIOD


@run_async
async def test_a_fast_following_pane_is_repainted_five_times_a_second(monkeypatch) -> None:
    """Above FAST_FOLLOW_RATE a following pane gets the new lines every FAST_FOLLOW_PERIOD, not every tick
    (the view itself grows at every tick); below it, at every tick."""
    import alsate.tui.app as app_module

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        log = app.log_pane
        last = app.store.get(app.store.end_seq - 1)._replace(effective=3)
        monkeypatch.setattr(app_module, "FAST_FOLLOW_RATE", 0)  # every rate is fast
        app.ingest([last._replace(pos="fast1")])
        app._tick()
        app._follow_painted = time.monotonic()  # as if just painted
        app.ingest([last._replace(pos="fast2")])
        app._tick()
        assert app.view.store.get(app.view.matches[-1]).pos == "fast2"  # the view has it
        assert log.cursor < len(app.view) - 1 and app._dirty  # the pane not yet
        await pilot.pause(app_module.FAST_FOLLOW_PERIOD + 0.1)
        assert log.cursor_record().pos == "fast2"

        monkeypatch.setattr(app_module, "FAST_FOLLOW_RATE", float("inf"))  # no rate is
        app._follow_painted = time.monotonic()
        app.ingest([last._replace(pos="slow1")])
        app._tick()
        assert log.cursor_record().pos == "slow1"


@run_async
async def test_a_paused_pane_is_repainted_only_when_its_lines_change() -> None:
    """Paused away from the end, new lines change nothing on screen: no repaint at each tick. Paused with
    the end on screen, a new line is drawn."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        log = app.log_pane
        await pilot.press("pageup", "pageup")
        await pilot.pause(0.25)
        refreshes = []
        original = log.refresh
        log.refresh = lambda *a, **k: (refreshes.append(a), original(*a, **k))[1]
        last = app.store.get(app.store.end_seq - 1)._replace(effective=3)
        app.ingest([last._replace(pos="late1")])
        app._tick()
        assert app.view.store.get(app.view.matches[-1]).pos == "late1"
        assert refreshes == []

        # A view shorter than the pane: its end is on screen, and a new line is drawn below it.
        app.ingest([last._replace(pos=f"few{n}", unit="few.service") for n in range(3)])
        app.apply_filters(Filters(units=frozenset({"few.service"})))
        await pilot.pause(0.25)
        await pilot.press("up")
        assert log.follow is False and log.count == 3
        await pilot.pause(0.25)
        refreshes.clear()
        app.ingest([last._replace(pos="few3", unit="few.service")])
        app._tick()
        assert refreshes and log.count == 4
        await pilot.pause(0.1)
        assert log._painted[1] == app.store.end_seq - 1  # the last frame drew it


@run_async
async def test_a_kept_line_is_one_strip_not_the_strips_it_was_cut_from() -> None:
    """The log pane keeps each rendered line as its final strip only (every Textual strip carries 7 caches
    the GC walks; keeping the crop and the styled copies too cost 4.4 strips a line, now about 2: the one
    kept and what Textual derives from it for the screen)."""
    import gc

    from textual.strip import Strip

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, findings=False)
        await pilot.press("7")
        for _ in range(25):
            await pilot.press("pageup")
        await pilot.pause(0.3)
        gc.collect()
        kept = len(app.log_pane._lines)
        strips = sum(1 for o in gc.get_objects() if type(o) is Strip)
        assert kept > 400
        assert strips < 3 * kept, (strips, kept)
        # What is kept is what the screen shows: the pane's width, the base style applied.
        line = next(reversed(app.log_pane._lines.values()))
        assert line.cell_length == app.log_pane.scrollable_content_region.width


@run_async
async def test_a_short_terminal_drops_panes_and_repaints_once_settled() -> None:
    """By height: the findings and chat panes go below SHORT_HEIGHT, the footer below TINY_HEIGHT, and they
    come back; a burst of resizes ends in one full repaint, RESIZE_SETTLE after the last of them."""
    from alsate.tui import app as app_module
    from textual.widgets import Footer

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, findings=False)
        bottom, footer = app.query_one("#bottom"), app.query_one(Footer)
        assert bottom.display and footer.display
        repaints = []
        screen_refresh = app.screen.refresh

        def counting_refresh(*regions, **kwargs):
            if kwargs.get("repaint") and not regions:
                repaints.append(time.monotonic())
            return screen_refresh(*regions, **kwargs)

        app.screen.refresh = counting_refresh
        first = time.monotonic()
        await pilot.resize_terminal(60, app_module.SHORT_HEIGHT - 1)
        await pilot.pause(0.05)
        assert not bottom.display and footer.display
        last = time.monotonic()
        await pilot.resize_terminal(20, 10)
        await pilot.pause(0.05)
        assert not bottom.display and not footer.display
        assert app.log_pane.region.height >= 5 and app.screen.size == (20, 10)
        await pilot.pause(app_module.RESIZE_SETTLE + 0.2)
        # Textual repaints at each resize; then one more, once, after the burst (two without the debounce)
        settled = [t for t in repaints if t - first >= app_module.RESIZE_SETTLE]
        assert len(settled) == 1 and settled[0] - last >= app_module.RESIZE_SETTLE, repaints
        await pilot.resize_terminal(*SIZE)
        await pilot.pause(0.05)
        assert bottom.display and footer.display
