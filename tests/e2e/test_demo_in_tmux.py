"""The first README command as a person runs it, in a terminal (tmux 120x40, keys only): a new
user (empty home) runs `shipdeck demo`, reads the hint, presses d then 1 2 3 4, waits for the
watch, presses 5 and has deployed v1.1.0; quits, runs `shipdeck demo --ref v1.2.0`, deploys the
release whose health check fails, sees VERIFY fail, presses R, confirms, answers the data
question with Escape (code only) and 1.1.0 serves again; and loses the terminal in a third
run, during the watch. After each step the test reads what a person would read
(`capture-pane`). Quitting (q), and losing the terminal, leave no demo process running.

Every wait is on a screen condition with a deadline; the watch is made short with the demo's
own `--watch-minutes`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
WATCH_MINUTES = 0.5

# Two live workers, each with its CPU and memory (the monitor pane's first columns).
WORKER = re.compile(r"demo\s+\d+\s+online\s+\d+\s+\d+%\s+\d+(?:\.\d)?[KMG]B")


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False
    ).stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


class Terminal:
    """One tmux session running one command, driven with send-keys, read with capture-pane."""

    def __init__(self, home: Path, port: int, steps: list[tuple[str, float]]) -> None:
        self.home = home
        self.port = port
        self.state = home / ".local" / "state"
        self.session = f"shipdeck-e2e-{uuid.uuid4().hex[:8]}"
        self.steps = steps  # (what, seconds waited): the report, and where a failure stopped

    def run_demo(self, *args: str) -> None:
        home = shlex.quote(str(self.home))
        # In the command itself: a running tmux server gives new sessions its own environment.
        # COLUMNS/LINES from a test harness would pin the console to 80x24 inside the pane.
        command = (
            f"env -u COLUMNS -u LINES -u SHIPDECK_CONFIG HOME={home} "
            f"XDG_STATE_HOME={home}/.local/state XDG_CACHE_HOME={home}/.cache "
            f"XDG_CONFIG_HOME={home}/.config "
            f"{shlex.quote(sys.executable)} -m tui.cli demo --port {self.port} "
            f"--watch-minutes {WATCH_MINUTES} {' '.join(map(shlex.quote, args))}; "
            "echo SHIPDECK-EXIT=$?; sleep 120"
        )
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.session, "-x", "120", "-y", "40", command],
            cwd=ROOT, check=True,
        )  # fmt: skip

    def keys(self, *keys: str) -> None:
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.session, key], check=True)

    def wait(self, what: str, cond: Callable[[str], bool], timeout: float) -> str:
        start = time.monotonic()
        deadline = start + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = capture(self.session)
            if cond(screen):
                self.steps.append((what, round(time.monotonic() - start, 1)))
                return screen
            time.sleep(0.2)
        done = ", ".join(f"{w} {s}s" for w, s in self.steps)
        raise AssertionError(
            f"waited {timeout:.0f}s for: {what}\n(done: {done})\nlast screen:\n{screen}"
        )

    def shows(self, what: str, *texts: str, timeout: float = 30) -> str:
        return self.wait(what, lambda s: all(t in s for t in texts), timeout)

    def quit_clean(self) -> None:
        self.keys("q")
        screen = self.shows("the console exits", "SHIPDECK-EXIT=", timeout=60)
        assert "SHIPDECK-EXIT=0" in screen and "Traceback" not in screen, screen
        deadline = time.monotonic() + 30
        while demo_daemons(self.state) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not demo_daemons(self.state), "quitting must leave no demo process running"
        self.close()

    def console_pids(self) -> list[int]:
        """The processes the pane's shell runs (the console), by /proc."""
        pane = subprocess.run(
            ["tmux", "list-panes", "-t", self.session, "-F", "#{pane_pid}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        pids: list[int] = []
        for task in Path(f"/proc/{pane[0]}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    def hang_up(self) -> None:
        """The terminal goes away (a lost SSH link to the jump host): the console ends and its
        pm2 with it."""
        consoles = self.console_pids()
        assert consoles, "the console should be running"
        subprocess.run(["tmux", "kill-session", "-t", self.session], check=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            demo_daemons(self.state) or any(Path(f"/proc/{p}").exists() for p in consoles)
        ):
            time.sleep(0.2)
        assert not demo_daemons(self.state), "a lost terminal must not leave the demo's pm2"
        left = [p for p in consoles if Path(f"/proc/{p}").exists()]
        assert not left, f"a lost terminal must not leave the console running: {left}"

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.session], check=False,
                       capture_output=True)  # fmt: skip
        # After a failed step the console goes with tmux's hangup and stops its pm2; should
        # the daemon outlive it, end it here (ours: the pid its private PM2_HOME recorded), so
        # a failed run leaves nothing behind.
        deadline = time.monotonic() + 15
        while demo_daemons(self.state) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in demo_daemons(self.state):
            os.kill(pid, signal.SIGTERM)


def step_bar(screen: str) -> str:
    """The deploy screen's step line (✔ 1 BACKUP ...) and the headline under it."""
    lines = screen.splitlines()
    return "\n".join(lines[2:4]) if len(lines) > 4 else screen


def workers_at(version: str) -> Callable[[str], bool]:
    """The monitor screen lists two online workers serving ``version``."""
    row = re.compile(rf"demo\s+\d+\s+online\s+\d+\s+\d+%\s+\S+\s+{re.escape(version)}\s")
    return lambda screen: len(row.findall(screen)) >= 2


@pytest.fixture
def home() -> Iterator[Path]:
    """An empty home, as a new user's: the demo installs pm2 into its cache dir when it finds
    none on PATH (the rig's pm2 is not on PATH), and picks nothing up from the real home.

    Short (not pytest's tmp_path): pm2's unix sockets live in the demo's PM2_HOME, and a
    socket path longer than 107 bytes is refused by the demo (the kernel would cut it)."""
    top = Path(tempfile.mkdtemp(prefix="sd-e2e-"))
    yield top / "home"
    shutil.rmtree(top, ignore_errors=True)


def test_a_new_user_deploys_v1_1_0_then_rolls_back_a_failing_v1_2_0(home: Path) -> None:
    started = time.monotonic()
    steps: list[tuple[str, float]] = []
    term = Terminal(home, free_port(), steps)
    try:
        term.run_demo()
        # pm2 may be installed with npm on the first run: allow for it.
        screen = term.wait("two workers online", lambda s: len(WORKER.findall(s)) >= 2, 180)
        assert "shipdeck demo" in screen and "Checklist" in screen and "Timeline" in screen
        assert demo_daemons(term.state), "the demo's pm2 daemon should be running"
        assert ("First deploy: press d, then 1-5 (BACKUP, BUILD, DEPLOY, VERIFY, CONFIRM) to "
                "deploy v1.1.0  ·  ? lists every key") in screen  # fmt: skip
        assert "gate: open" in screen  # the demo's checklist does not hold a first deploy
        # The Logs pane shows the app's lines, not just a count of them.
        term.shows("log lines in the Logs pane", "local demo/0 out │", "● following")

        term.keys("d")
        term.shows("the deploy screen", "no deployment open: press 1 to start with BACKUP")
        term.keys("1")
        screen = term.shows("BACKUP done", "✔ 1 BACKUP", "BACKUP done", timeout=60)
        assert "deployment #1  ref v1.1.0  1.0.0 → ?" in step_bar(screen)
        term.keys("2")
        screen = term.shows("BUILD done", "✔ 2 BUILD", "BUILD done", timeout=120)
        assert "1.0.0 → 1.1.0" in step_bar(screen)
        term.keys("3")
        screen = term.shows("DEPLOY done", "✔ 3 DEPLOY", "DEPLOY done", "Post-deploy watch",
                            timeout=120)  # fmt: skip
        term.keys("4")
        screen = term.shows("VERIFY done", "✔ 4 VERIFY", "VERIFY done", timeout=120)
        assert re.search(r"Health Check\s+PASS", screen), screen
        assert re.search(r"API Status\s+PASS\s+version 1\.1\.0", screen), screen
        term.wait("the watch holding CONFIRM", lambda s: "CONFIRM locked until the watch "
                  "completes" in s or "CONFIRM unlocked" in s, 15)  # fmt: skip
        screen = term.shows("the watch completes clean", "WATCH complete", "CONFIRM unlocked",
                            timeout=WATCH_MINUTES * 60 + 60)  # fmt: skip
        term.keys("5")
        screen = term.shows("CONFIRM done", "✔ 5 CONFIRM", "[succeeded]", timeout=60)
        assert "deployment #1  ref v1.1.0  1.0.0 → 1.1.0  [succeeded]" in step_bar(screen)
        term.shows("this deployment's timeline ends", "deploy.end")
        term.keys("Escape")
        screen = term.shows("the dashboard's timeline", "Timeline", "deploy.end")
        term.keys("m")
        term.wait("1.1.0 on both workers (monitor)", workers_at("1.1.0"), 30)
        term.quit_clean()

        # The same home again: the demo goes on where it ended, and this time deploys the
        # release that fails its health check.
        term = Terminal(home, term.port, steps)
        term.run_demo("--ref", "v1.2.0")
        screen = term.shows("the demo again, v1.2.0 to deploy", "to deploy v1.2.0", timeout=120)
        term.keys("m")
        term.wait("1.1.0 still live (monitor)", workers_at("1.1.0"), 60)
        # One key at a time: Escape and a key sent together read as Alt+key.
        term.keys("Escape")
        term.shows("the dashboard", "Checklist", "Timeline")
        term.keys("d")
        term.shows("the deploy screen", "deployment #1  ref v1.1.0")
        term.keys("1")
        term.shows("BACKUP done", "deployment #2  ref v1.2.0  1.1.0 → ?", "BACKUP done",
                   timeout=60)  # fmt: skip
        term.keys("2")
        term.shows("BUILD done", "1.1.0 → 1.2.0", "BUILD done", timeout=120)
        term.keys("3")
        term.shows("DEPLOY done", "✔ 3 DEPLOY", "DEPLOY done", timeout=120)
        term.keys("4")
        screen = term.shows("VERIFY fails", "✖ 4 VERIFY", timeout=120)
        assert re.search(r"Health Check\s+FAIL\s+HTTP 500", screen), screen
        assert re.search(r"API Status\s+PASS\s+version 1\.2\.0", screen), screen
        term.keys("R")
        term.shows("the rollback confirm", "ROLLBACK", "Roll back", "Cancel")
        term.keys("Tab", "Enter")  # Cancel has the focus: Tab to "Roll back"
        term.shows("the data question", "ROLLBACK: the data too?", "Code only")
        term.keys("Escape")  # code only
        screen = term.shows("rolled back", "↩ ROLLED BACK", "[rolled_back]", "(version 1.1.0)",
                            timeout=120)  # fmt: skip
        assert "deployment #2  ref v1.2.0  1.1.0 → 1.2.0  [rolled_back]" in step_bar(screen)
        term.keys("Escape")
        term.shows("the dashboard", "Checklist", "Timeline")
        term.keys("m")
        term.wait("1.1.0 served again (monitor)", workers_at("1.1.0"), 30)
        term.quit_clean()

        # Once more, and the terminal goes away while the post-deploy watch runs (the watch
        # worker once kept the console alive and Textual hung in its shutdown: console and pm2
        # stayed, with no terminal).
        term = Terminal(home, term.port, steps)
        term.run_demo()
        term.shows("the demo a third time", "to deploy v1.1.0", timeout=120)
        term.keys("d")
        term.shows("the deploy screen", "deployment #2  ref v1.2.0")
        term.keys("1")
        term.shows("BACKUP done", "deployment #3  ref v1.1.0", "BACKUP done", timeout=60)
        term.keys("2")
        term.shows("BUILD done", "BUILD done", timeout=120)
        term.keys("3")
        term.shows("the watch running", "DEPLOY done", "WATCH", "left", timeout=120)
        term.hang_up()
    finally:
        term.close()
    took = time.monotonic() - started
    print(f"\nwalkthrough: {took:.0f}s; " + ", ".join(f"{w} {s}s" for w, s in steps))
