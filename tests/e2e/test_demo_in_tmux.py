"""The first README command as a person runs it: `shipdeck demo` in a terminal (tmux), the
console shows the demo app's processes, `q` quits and leaves no demo process running."""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    ).stdout


def wait_screen(session: str, cond, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if cond(screen):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"screen never matched; last screen:\n{screen}")


def demo_daemons(state: Path) -> list[int]:
    """The demo's pm2 daemon, by the pid file in its private PM2_HOME, if it is alive.

    (Its process title is cut to the length of its original argv, so ps can't be matched on
    the long PM2_HOME path.)"""
    pid_file = state / "shipdeck" / "demo" / "pm2-home" / "pm2.pid"
    try:
        pid = int(pid_file.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return []
    # A zombie is already dead (PID 1 reaps late here).
    return [] if stat.rsplit(")", 1)[1].split()[0] == "Z" else [pid]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_runs_in_a_terminal_and_quits_clean(tmp_path: Path) -> None:
    session = f"shipdeck-e2e-{uuid.uuid4().hex[:8]}"
    # An empty home, as a new user's: the demo installs pm2 into its cache dir when it finds
    # none on PATH (the rig's pm2 is not on PATH), and picks nothing up from the real home.
    home = tmp_path / "home"
    state, cache, config = home / ".local" / "state", home / ".cache", home / ".config"
    # In the command itself: a running tmux server gives new sessions its own environment.
    command = (
        # COLUMNS/LINES from a test harness would pin the console to 80x24 inside a 120x40 pane.
        f"env -u COLUMNS -u LINES -u SHIPDECK_CONFIG HOME={shlex.quote(str(home))} "
        f"XDG_STATE_HOME={shlex.quote(str(state))} XDG_CACHE_HOME={shlex.quote(str(cache))} "
        f"XDG_CONFIG_HOME={shlex.quote(str(config))} "
        f"{shlex.quote(sys.executable)} -m tui.cli demo --port {free_port()}; "
        "echo SHIPDECK-EXIT=$?; sleep 60"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command],
        cwd=ROOT, check=True,
    )

    try:
        # pm2 may be installed with npm on the first run: allow for it.
        # Two live workers, each with its CPU and memory (the monitor pane's first columns).
        worker = re.compile(r"demo\s+\d+\s+online\s+\d+\s+\d+%\s+\d+(?:\.\d)?[KMG]B")
        screen = wait_screen(session, lambda s: len(worker.findall(s)) >= 2, timeout=180)
        assert "shipdeck demo" in screen and "Checklist" in screen and "Timeline" in screen
        assert demo_daemons(state), "the demo's pm2 daemon should be running"
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        screen = wait_screen(session, lambda s: "SHIPDECK-EXIT=" in s, timeout=60)
        assert "SHIPDECK-EXIT=0" in screen and "Traceback" not in screen
        deadline = time.monotonic() + 30
        while demo_daemons(state) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not demo_daemons(state), "quitting must leave no demo process running"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
