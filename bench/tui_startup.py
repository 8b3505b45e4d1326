"""alsate-tui start-up as a user sees it: launch it in a real terminal (tmux) and time the first screen.

    .venv/bin/python bench/tui_startup.py              # 5 runs of each case, 100x30
    .venv/bin/python bench/tui_startup.py --runs 10 --records 1000000

Each case is launched with ``exec`` in a fresh detached tmux pane (its own
server) and the pane is read with ``capture-pane`` every ``--poll`` seconds:

- ``first screen``: the app's frame is drawn (the log pane's border and the
  status bar): the app answers keys from here on;
- ``first line``: a log line is on screen (the history, read in the background,
  has started to show);
- ``cpu``: user + system CPU seconds the process had used when the first
  screen was seen (from /proc; less sensitive to other load than wall time);
- ``model ready``: (``--demo`` with the embedded model) the status bar says the
  model is ready.

Cases: ``alsate-tui --demo`` (with the model, loaded in the background),
``alsate-tui --demo --no-model``, ``alsate-tui FILE --no-model`` over an nginx
access log of ``--records`` lines, and, as the peer, ``lnav FILE`` (first line
only: lnav draws nothing before it has indexed the file).

Python compiles modules it has no bytecode for; a user's install has it after
the first start. The runs use a bytecode cache of their own
(``PYTHONPYCACHEPREFIX``), filled by one start that is not counted, so that a
``PYTHONDONTWRITEBYTECODE`` in the environment does not make every start
compile the app. The import time of ``alsate.tui.app`` (``python -X importtime``,
warm) is printed as well.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SCRIPT = Path(sys.executable).parent / "alsate-tui"
STATUS = re.compile(r"[\d,]+/[\d,]+ shown \|")
LOG_LINE = re.compile(r"HTTP/1\.[01]|sshd|kernel|nginx|systemd")


def tmux(socket: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=10)


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_screen(screen: str) -> bool:
    return "╭─ Log" in screen and STATUS.search(screen) is not None


def first_line(screen: str, lnav: bool) -> bool:
    if lnav:
        return "HTTP/1." in screen
    lines = screen.splitlines()
    body = [line for line in lines[2:-3] if line.startswith("│")]
    return any(LOG_LINE.search(line) for line in body)


def one_run(command: str, env: dict[str, str], *, lnav: bool = False, model: bool = False, width: int = 100,
            height: int = 30, poll: float = 0.02, timeout: float = 30.0) -> dict:
    socket = f"alsate-startup-{os.getpid()}"
    result: dict = {}
    env_words = " ".join(f"{k}={v}" for k, v in env.items())
    started = time.perf_counter()
    tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "bench", "-x", str(width), "-y", str(height),
         f"exec env -u PYTHONDONTWRITEBYTECODE {env_words} {command}")
    try:
        pid = int(tmux(socket, "display-message", "-p", "-t", "bench", "#{pane_pid}").stdout.strip() or 0)
        while time.perf_counter() - started < timeout:
            screen = tmux(socket, "capture-pane", "-p", "-t", "bench").stdout
            now = time.perf_counter() - started
            if not lnav and "first_screen_s" not in result and first_screen(screen):
                result["first_screen_s"] = now
                result["cpu_s"] = cpu_seconds(pid)
            if "first_line_s" not in result and first_line(screen, lnav):
                result["first_line_s"] = now
                if lnav:
                    result["cpu_s"] = cpu_seconds(pid)
            done = "first_line_s" in result and (lnav or "first_screen_s" in result)
            if model and done and "model_ready_s" not in result and re.search(r": ready \|", screen):
                result["model_ready_s"] = now
            if done and (not model or "model_ready_s" in result or "failed" in screen or "none (" in screen):
                break
            time.sleep(poll)
    finally:
        socket_path = tmux(socket, "display-message", "-p", "#{socket_path}").stdout.strip()
        tmux(socket, "kill-server")
        if socket_path and os.path.exists(socket_path):
            os.unlink(socket_path)
    return result


def import_time(env: dict[str, str]) -> float:
    """Seconds ``import alsate.tui.app`` takes (cumulative, from -X importtime)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import alsate.tui.app"], env=env,
                          capture_output=True, text=True)
    for line in reversed(proc.stderr.splitlines()):
        if line.rstrip().endswith("| alsate.tui.app"):
            return int(line.split("|")[1]) / 1e6
    return float("nan")


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return (f"median {statistics.median(values):.3f}  min {min(values):.3f}  max {max(values):.3f}"
            f"  (n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted starts per case (default 5)")
    parser.add_argument("--records", type=int, default=200_000, help="lines of the access log case")
    parser.add_argument("--poll", type=float, default=0.02, help="capture-pane interval (s)")
    parser.add_argument("--no-model-case", action="store_true", help="skip the case that loads the model")
    args = parser.parse_args()
    if shutil.which("tmux") is None or not SCRIPT.exists():
        print("needs tmux and the installed alsate-tui (.venv/bin/alsate-tui)", file=sys.stderr)
        return 2
    log = OUT / f"access-{args.records}.log"
    if not log.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_access_log.py"), str(log), "--lines",
                        str(args.records)], check=True)
    scratch = Path(tempfile.mkdtemp(prefix="alsate-startup-"))
    env = {"TERM": "xterm-256color", "LANG": "C.UTF-8", "PYTHONPYCACHEPREFIX": str(scratch / "pyc"),
           "ALSATE_CONFIG_DIR": str(scratch / "config"), "ALSATE_CACHE_DIR": str(scratch / "cache"),
           "ALSATE_STATE_DIR": str(scratch / "state"), "HOME": str(scratch / "home")}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    cases = [("alsate-tui --demo", f"{SCRIPT} --demo", False, True),
             ("alsate-tui --demo --no-model", f"{SCRIPT} --demo --no-model", False, False),
             (f"alsate-tui {log.name} --no-model", f"{SCRIPT} {log} --no-model", False, False)]
    if args.no_model_case:
        cases = cases[1:]
    if shutil.which("lnav"):
        cases.append((f"lnav {log.name} (peer)", f"{shutil.which('lnav')} {log}", True, False))
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs; seconds from launch:")
    try:
        one_run(f"{SCRIPT} --demo --no-model", env)  # fills the bytecode cache; not counted
        child_env = {**os.environ, **env}
        child_env.pop("PYTHONDONTWRITEBYTECODE", None)
        imports = [import_time(child_env) for _ in range(3)]
        print(f"{'import alsate.tui.app':>52}: {summary(imports)}")
        for name, command, lnav, model in cases:
            runs = [one_run(command, env, lnav=lnav, model=model, poll=args.poll) for _ in range(args.runs)]
            for key in ("first_screen_s", "first_line_s", "cpu_s", "model_ready_s"):
                values = [r[key] for r in runs if r.get(key) is not None]
                if values:
                    print(f"{name + ' ' + key.removesuffix('_s').replace('_', ' '):>52}: {summary(values)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
