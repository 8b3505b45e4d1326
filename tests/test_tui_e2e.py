"""End to end: the installed ``alsate-tui --demo`` in a real terminal (tmux), driven by keys, read by capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

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


@pytest.fixture
def terminal(tmp_path):
    if TMUX is None:
        pytest.fail("tmux is not installed (apt-get install tmux)")
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is not installed (pip install -e .)")
    name = f"alsate-e2e-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={v}" for k, v in (
        ("ALSATE_CONFIG_DIR", tmp_path / "config"), ("ALSATE_CACHE_DIR", tmp_path / "cache"),
        ("ALSATE_STATE_DIR", tmp_path / "state"), ("TERM", "xterm-256color"), ("LANG", "C.UTF-8")))
    # After the app exits the shell prints a marker and waits, so the pane can be read.
    # tmux sizes a new detached window just after starting its command: wait for that, so the app
    # starts in the 100x30 terminal the test reads.
    command = f"sleep 0.5; env {env} {SCRIPT} --demo --no-model --demo-speed 20; echo ALSATE-EXITED rc=$?; sleep 60"
    tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "100", "-y", "30", command)
    socket_path = tmux("display-message", "-p", "#{socket_path}").strip()
    try:
        yield Terminal(name)
    finally:
        subprocess.run([TMUX, "-L", SOCKET, "kill-server"], capture_output=True, timeout=10)
        if socket_path and os.path.exists(socket_path):
            os.unlink(socket_path)


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
    assert terminal.pane("#{alternate_on}") == "0"
    assert terminal.pane("#{mouse_any_flag}") == "0" and terminal.pane("#{mouse_sgr_flag}") == "0"
    assert terminal.pane("#{cursor_flag}") == "1"
    assert "\x1b" not in screen and "[?" not in screen and "^[" not in screen
    assert first_screen < 10  # generous: the 1 s start-up target is measured by bench/tui_latency.py
    if os.environ.get("ALSATE_E2E_VERBOSE"):
        print(screen)


def test_sigterm_and_sighup_restore_the_terminal(terminal: Terminal) -> None:
    import signal

    terminal.wait_for("Findings")
    shell = int(terminal.pane("#{pane_pid}"))
    children = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True).stdout.split()
    app_pid = next(int(pid) for pid in children
                   if "alsate-tui" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
    os.kill(app_pid, signal.SIGTERM)
    screen = terminal.wait_for("ALSATE-EXITED rc=143")
    assert terminal.pane("#{alternate_on}") == "0" and terminal.pane("#{mouse_any_flag}") == "0"
    assert terminal.pane("#{cursor_flag}") == "1"
    assert "Traceback" not in screen and "\x1b" not in screen
