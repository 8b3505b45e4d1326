"""End to end: the installed ``alsate-tui --demo`` in a real terminal (tmux), driven by keys, read by capture-pane.

Also the terminal's faults: a 20x10 terminal, SIGINT/SIGTERM/SIGHUP sent with kill, the terminal
closing under the app (an SSH session dropping), and 16- and 256-colour terminals.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from alsate.engine.records import PRIORITY_LETTERS

TMUX = shutil.which("tmux")
SCRIPT = Path(sys.executable).parent / "alsate-tui"
#: A tmux server of our own (its own socket): other tmux users on the machine cannot resize our window.
SOCKET = f"alsate-e2e-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run([TMUX, "-L", SOCKET, *args], capture_output=True, text=True, timeout=10,
                          check=True).stdout


class Terminal:
    def __init__(self, name: str) -> None:
        self.name = name

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen after {timeout}s:\n{screen}")

    def escape(self) -> None:
        """Esc alone: a key sent right after it would read as Alt+key."""
        self.keys("Escape")
        time.sleep(0.4)

    def pane(self, fmt: str) -> str:
        return tmux("display-message", "-p", "-t", self.name, fmt).strip()

    def app_pid(self) -> int:
        """The alsate-tui process (a child of the pane's shell)."""
        shell = int(self.pane("#{pane_pid}"))
        children = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True).stdout.split()
        return next(int(pid) for pid in children
                    if "alsate-tui" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))

    def resize(self, width: int, height: int) -> None:
        tmux("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))

    def assert_restored(self, screen: str) -> None:
        """The app has given the terminal back: main screen, no mouse reporting, cursor shown, no debris."""
        assert self.pane("#{alternate_on}") == "0"
        assert self.pane("#{mouse_any_flag}") == "0" and self.pane("#{mouse_sgr_flag}") == "0"
        assert self.pane("#{cursor_flag}") == "1"
        assert "Traceback" not in screen and "Error" not in screen
        assert "\x1b" not in screen and "[?" not in screen and "^[" not in screen


def launch(tmp_path: Path, *, term: str = "xterm-256color", after: str = "echo ALSATE-EXITED rc=$?; sleep 60",
           before: str = "", env: dict[str, str] | None = None) -> Terminal:
    """Start ``alsate-tui --demo`` in a 100x30 tmux pane; the shell runs ``after`` once it exits."""
    if TMUX is None:
        pytest.fail("tmux is not installed (apt-get install tmux)")
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is not installed (pip install -e .)")
    name = f"alsate-e2e-{uuid.uuid4().hex[:8]}"
    variables = {"ALSATE_CONFIG_DIR": tmp_path / "config", "ALSATE_CACHE_DIR": tmp_path / "cache",
                 "ALSATE_STATE_DIR": tmp_path / "state", "TERM": term, "LANG": "C.UTF-8", **(env or {})}
    words = " ".join(f"{k}={v}" for k, v in variables.items())
    # After the app exits the shell runs ``after`` (by default: prints a marker and waits, so the pane
    # can be read). tmux sizes a new detached window just after starting its command: wait for that,
    # so the app starts in the 100x30 terminal the test reads. COLORTERM (truecolor) is not passed on.
    command = (f"sleep 0.5; {before} env -u COLORTERM {words} {SCRIPT} --demo --no-model --demo-speed 20; "
               f"{after}")
    tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "100", "-y", "30", command)
    return Terminal(name)


@pytest.fixture
def tmux_server():
    yield
    socket_path = subprocess.run([TMUX, "-L", SOCKET, "display-message", "-p", "#{socket_path}"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
    subprocess.run([TMUX, "-L", SOCKET, "kill-server"], capture_output=True, timeout=10)
    if socket_path and os.path.exists(socket_path):
        os.unlink(socket_path)


@pytest.fixture
def terminal(tmp_path, tmux_server):
    return launch(tmp_path)


@pytest.fixture
def terminal_with_size_exported(tmp_path, tmux_server):
    """COLUMNS and LINES exported (some shells and scripts do): they must not freeze the app's size."""
    return launch(tmp_path, env={"COLUMNS": "100", "LINES": "30"})


def test_demo_in_a_real_terminal(terminal: Terminal) -> None:
    started = time.monotonic()
    terminal.wait_for("Findings")
    terminal.wait_for("SSH brute force")
    first_screen = time.monotonic() - started
    screen = terminal.wait_for("DEMO")  # the status bar may be painted after the panels
    assert "alsate > live log" in screen
    assert terminal.pane("#{alternate_on}") == "1"  # the app owns the screen
    assert terminal.pane("#{window_width}x#{window_height}") == "100x30"
    assert max(len(line) for line in screen.splitlines()) == 100
    # the status bar: shown/held, filter, model state
    assert "p0-4" in screen and "model: off" in screen
    # priority 7: everything shown; 3: err and worse
    terminal.keys("3")
    terminal.wait_for("p0-3")
    terminal.keys("7")
    terminal.wait_for("p0-7")
    # search
    terminal.keys("/")
    terminal.wait_for("Search (regex")
    terminal.keys("Accepted password for root", "Enter")
    screen = terminal.wait_for("search /Accepted password for root/")
    assert "Accepted password for root from 203.0.113.45" in screen
    terminal.wait_for("PAUSED")  # search moved the cursor away from the newest line
    terminal.wait_for("Log (paused: End/F follows)")
    terminal.keys("End")
    terminal.wait_for("╭─ Log ─")
    terminal.escape()  # one level back: the search goes (the breadcrumb's last part)
    deadline = time.monotonic() + 5
    while "search /" in terminal.screen() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "search /" not in terminal.screen()
    # drill into a finding, then back
    terminal.keys("f")
    terminal.keys("Enter")
    screen = terminal.wait_for("> finding: ")
    terminal.escape()
    deadline = time.monotonic() + 5
    while "> finding: " in terminal.screen() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "> finding: " not in terminal.screen()
    # detail of a line, then back
    terminal.keys("l", "Enter")
    screen = terminal.wait_for("line detail")
    assert "effective" in screen and "Context" in screen
    terminal.escape()
    terminal.wait_for("Findings")
    # help
    terminal.keys("?")
    screen = terminal.wait_for("alsate - keys")
    assert "Regex search" in screen
    terminal.escape()
    terminal.wait_for("Findings")
    # hostile text from the demo logs is on screen literally
    terminal.keys("/")
    terminal.wait_for("Search (regex")
    terminal.keys("FREE MONEY", "Enter")
    terminal.wait_for("search /FREE MONEY/")
    screen = terminal.wait_for('body="[bold red]FREE MONEY[/bold re')
    terminal.escape()
    # quit: the terminal is given back clean
    terminal.keys("q")
    screen = terminal.wait_for("ALSATE-EXITED rc=0")
    terminal.assert_restored(screen)
    assert first_screen < 10  # generous: the 1 s start-up target is measured by bench/tui_startup.py
    if os.environ.get("ALSATE_E2E_VERBOSE"):
        print(screen)


def log_rows(screen: str) -> list[str]:
    """The log pane's lines (between its borders) as shown."""
    lines = screen.splitlines()
    top = next((i for i, line in enumerate(lines) if line.startswith("╭─ Log")), None)
    bottom = next((i for i in range(top + 1, len(lines)) if lines[i].startswith("╰")), None) if top is not None \
        else None
    return [] if bottom is None else [line.strip("│") for line in lines[top + 1:bottom]]


def test_a_20x10_terminal_stays_readable(terminal_with_size_exported: Terminal) -> None:
    terminal = terminal_with_size_exported
    terminal.wait_for("SSH brute force")
    terminal.keys("3")  # err and worse: the lines to read on a small screen
    terminal.wait_for("p0-3")
    terminal.resize(20, 10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screen = terminal.screen()
        rows = [row for row in log_rows(screen) if row.strip()]
        if rows and all(re.match(r"\d\d:\d\d:\d\d [ACER][<> ]", row) for row in rows):
            break
        time.sleep(0.1)
    # time and priority letter first (the unit column makes way), cut to the 20 columns
    assert terminal.pane("#{window_width}x#{window_height}") == "20x10"
    assert rows and all(re.match(r"\d\d:\d\d:\d\d [ACER][<> ]", row) for row in rows), screen
    assert max(len(line) for line in screen.splitlines()) <= 20
    terminal.keys("7")  # keys still work at this size
    terminal.keys("q")
    terminal.resize(100, 30)
    screen = terminal.wait_for("ALSATE-EXITED rc=0")
    terminal.assert_restored(screen)


def test_a_20x10_terminal_grows_back(terminal_with_size_exported: Terminal) -> None:
    terminal = terminal_with_size_exported
    terminal.wait_for("SSH brute force")
    terminal.resize(20, 10)
    def small_layout(screen: str) -> bool:
        return "Findings" not in screen and screen.startswith(" alsate > ") and "╭─ Log" in screen

    # Until the whole small layout is on screen: a capture can catch the terminal drawing after the resize.
    deadline = time.monotonic() + 10
    while not small_layout(terminal.screen()) and time.monotonic() < deadline:
        time.sleep(0.1)
    screen = terminal.screen()
    assert small_layout(screen), screen
    terminal.resize(100, 30)
    screen = terminal.wait_for("SSH brute force")  # the findings panel is back
    screen = terminal.wait_for("DEMO")
    assert max(len(line) for line in screen.splitlines()) == 100
    assert re.search(r"\d\d:\d\d:\d\d \S+ +[EACRWNID][<> ]", screen)  # the unit column is back


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_ends_the_app_cleanly(terminal: Terminal, signum: signal.Signals) -> None:
    """kill -INT/-TERM/-HUP: exit status 128+n, the terminal restored, no traceback (Ctrl+C in the
    app is a key, bound to cancel: a SIGINT comes from kill)."""
    terminal.wait_for("Findings")
    os.kill(terminal.app_pid(), signum)
    screen = terminal.wait_for(f"ALSATE-EXITED rc={128 + signum}")
    terminal.assert_restored(screen)


def test_the_terminal_closing_ends_the_app(tmp_path, tmux_server) -> None:
    """An SSH session dropping: the pty goes away under the app. The shell in the pane ignores SIGHUP
    (as a shell that does not pass it on): the app must notice the terminal is gone by itself."""
    rc_file = tmp_path / "rc"
    terminal = launch(tmp_path, before="trap '' HUP;", after=f"echo $? > {rc_file}")
    terminal.wait_for("Findings")
    pid = terminal.app_pid()
    tmux("kill-pane", "-t", terminal.name)
    deadline = time.monotonic() + 15
    while not rc_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not rc_file.exists():
        os.kill(pid, signal.SIGKILL)  # not left behind by a failing run
        pytest.fail("alsate-tui kept running after its terminal closed")
    assert rc_file.read_text().strip() == str(128 + signal.SIGHUP)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


SGR = re.compile(r"\x1b\[([0-9;]*)m")


def styled_cells(line: str) -> list[tuple[str, tuple]]:
    """``capture-pane -e`` output as (character, (fg, bg, attributes)) per cell."""
    cells: list[tuple[str, tuple]] = []
    fg = bg = None
    attrs: set[int] = set()
    pos = 0
    for match in SGR.finditer(line + "\x1b[m"):
        cells.extend((ch, (fg, bg, frozenset(attrs))) for ch in line[pos:match.start()])
        pos = match.end()
        codes = [int(c or 0) for c in match.group(1).split(";")] if match.group(1) else [0]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 0:
                fg = bg = None
                attrs = set()
            elif code in (1, 2, 3, 4, 5, 7, 9):
                attrs.add(code)
            elif code == 22:
                attrs -= {1, 2}
            elif code in (23, 24, 25, 27, 29):
                attrs.discard(code - 20)
            elif 30 <= code <= 37 or 90 <= code <= 97:
                fg = str(code)
            elif code == 39:
                fg = None
            elif 40 <= code <= 47 or 100 <= code <= 107:
                bg = str(code)
            elif code == 49:
                bg = None
            elif code in (38, 48):
                width = 2 if codes[i + 1] == 5 else 4
                value = ";".join(map(str, codes[i + 1:i + 1 + width]))
                fg, bg = (value, bg) if code == 38 else (fg, value)
                i += width
            i += 1
    return cells


@pytest.mark.parametrize("term", ["xterm-16color", "xterm-256color"])
def test_priorities_are_distinct_without_truecolor(tmp_path, tmux_server, term: str) -> None:
    """No truecolor assumed: with 16 colours only the 16 SGR colours are sent, with 256 no RGB; each
    priority on screen has its letter and a colour (or attribute) of its own. The demo's lines are
    crit, err, warning and info (tests/test_tui_app.py checks all eight levels' styles)."""
    terminal = launch(tmp_path, term=term)
    terminal.wait_for("SSH brute force")
    styles: dict[str, Counter] = {}
    raw = ""

    def read_screen() -> None:
        nonlocal raw
        capture = tmux("capture-pane", "-e", "-p", "-t", terminal.name)
        raw += capture
        for line in capture.splitlines():
            cells = styled_cells(line)
            text = "".join(ch for ch, _ in cells)
            match = re.match(r"│\d\d:\d\d:\d\d .{14} ([EACRWNID])[<> ]", text)
            if match:
                style = cells[match.start(1)][1]
                if style[1] is None or match.group(1) in "EA":  # not the cursor's (or a marked) line
                    styles.setdefault(match.group(1), Counter())[style] += 1

    terminal.keys("4", "Home")  # crit, err, warning: from the start of the history
    terminal.wait_for("p0-4")
    for _ in range(15):
        time.sleep(0.3)
        read_screen()
        if {"C", "R", "W"} <= set(styles):
            break
        terminal.keys("PageDown")
    terminal.keys("7", "Home")  # and info
    terminal.wait_for("p0-7")
    time.sleep(0.5)
    read_screen()
    terminal.keys("q")
    assert "38;2;" not in raw and "48;2;" not in raw  # no RGB colours
    if term == "xterm-16color":
        assert "38;5;" not in raw and "48;5;" not in raw  # no 256-colour palette either
    assert {"C", "R", "W", "I"} <= set(styles), styles
    chosen = {letter: counts.most_common(1)[0][0] for letter, counts in styles.items()}
    for letter, style in chosen.items():
        alike = [other for other in chosen if other != letter and chosen[other] == style]
        assert not alike, f"{letter} and {alike} look alike with TERM={term}: {chosen}"
    assert set(chosen) <= set(PRIORITY_LETTERS)
    terminal.wait_for("ALSATE-EXITED rc=0")
