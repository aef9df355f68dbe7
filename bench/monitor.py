"""What live monitoring at 1 Hz costs: the target host and the console, against the real rig.

Three numbers, each in percent of one core over the same window (default 60 s):

- ``console_cpu_percent``: the shipdeck console (a child process running the app headless at
  120x40 with the monitor screen open: table, host line, 3 charts) — its user+system CPU.
- ``target_cpu_percent``: everything shipdeck runs on the target: the deploy user's SSH session
  process of the console's connection (``sshd: deploy@notty``) and all it spawned (the /proc loop,
  the slow-cadence jlist, df), read from /proc: utime+stime of the live tree plus cutime+cstime
  (what reaped children used). The session is identified by its pid, which the child learns
  with ``echo $PPID`` over its own connection, so other users of the rig don't count.
- ``jlist_poll_target_cpu_percent``: the same measure for a naive poller that runs `pm2 jlist`
  once a second over one reused connection.

Not counted in either target figure: the pm2 daemon's own work to answer jlist (it serves the
list over its socket), which only makes the jlist poller look cheaper than it is.

The rig's own pm2 daemon is shared with every other test (deploys, reloads, kills), and the
monitor rightly reacts to each change with a jlist; to measure the idle cost, the bench starts
its own pm2 daemon on the rig (as the deploy user, private PM2_HOME under /tmp) running the demo
app in 8 cluster workers — the issue's "table of 8 processes" — and kills it afterwards.

    python bench/monitor.py [--seconds 60] [--shared-daemon]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WARMUP_S = 8.0


# --------------------------------------------------------------------------- /proc accounting


def _ticks_per_s() -> int:
    return os.sysconf("SC_CLK_TCK")


def _stat_ticks(pid: int) -> tuple[int, int]:
    """(own utime+stime, reaped children's cutime+cstime) in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text()
    rest = text[text.rfind(")") + 1 :].split()
    own = int(rest[11]) + int(rest[12])
    reaped = int(rest[13]) + int(rest[14])
    return own, reaped


def _children(pid: int) -> list[int]:
    out: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            text = (task / "children").read_text()
            out.extend(int(x) for x in text.split())
    except OSError:
        pass
    return out


def tree_ticks(root: int) -> int:
    """CPU ticks used so far by ``root`` and everything under it, living or reaped."""
    total = 0
    stack = [root]
    seen: set[int] = set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            own, reaped = _stat_ticks(pid)
        except (OSError, IndexError, ValueError):
            continue  # it ended between listing and reading: its parent's cutime has it
        total += own + reaped
        stack.extend(_children(pid))
    return total


def percent(ticks: int, seconds: float) -> float:
    return round(100.0 * ticks / _ticks_per_s() / seconds, 3)


# --------------------------------------------------------------------------- the console child


def child_main(config: str, journal: str) -> None:
    """Run the console headless with the monitor screen open; print the sshd session pid."""
    from screens.monitor import MonitorScreen
    from tui.app import ShipdeckApp
    from tui.context import open_context

    ctx = open_context(config, journal)

    class Bench(ShipdeckApp):
        CSS_PATH = str(ROOT / "tui" / "app.tcss")  # relative paths resolve against this file

        def on_ready(self) -> None:
            self.push_screen(MonitorScreen(self.dashboard._service()))
            self.run_worker(self._report_session(), exit_on_error=False)

        async def _report_session(self) -> None:
            result = await ctx.pool.primary.run(["sh", "-c", "echo $PPID"], timeout=30)
            print(f"SSHD_PID {result.stdout.strip()}", flush=True)

    Bench(ctx).run(headless=True, size=(120, 40))


# --------------------------------------------------------------------------- the measurements


def measure_console(config: str, seconds: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", config, str(Path(tmp) / "journal.sqlite3")],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            sshd_pid = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    raise SystemExit("the console child ended before reporting its SSH session")
                if line.startswith("SSHD_PID "):
                    sshd_pid = int(line.split()[1])
                    break
            if not sshd_pid:
                raise SystemExit("the console child did not report its SSH session in 60 s")
            time.sleep(WARMUP_S)  # connect, first jlist, first samples, charts sized
            console = psutil.Process(proc.pid)
            c0 = sum(console.cpu_times()[:2])
            t0 = tree_ticks(sshd_pid)
            start = time.monotonic()
            spawned = watch_children(sshd_pid, seconds)
            elapsed = time.monotonic() - start
            c1 = sum(console.cpu_times()[:2])
            t1 = tree_ticks(sshd_pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    # What the console ran on the target during the window (stderr: the JSON stays clean).
    print(f"console session spawned: {summarize(spawned, elapsed)}", file=sys.stderr)
    return percent(t1 - t0, elapsed), round(100.0 * (c1 - c0) / elapsed, 3)


def _label(argv: str) -> str:
    word = next((w for w in argv.split() if w in ("jlist", "df") or "sampler" in w), "")
    return word or argv.split(" ", 1)[0].rsplit("/", 1)[-1] or "?"


def watch_children(root: int, seconds: float) -> dict[int, tuple[str, int, int]]:
    """Sleep ``seconds`` noting every process under ``root``: pid -> (label, first, last ticks)."""
    seen: dict[int, tuple[str, int, int]] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stack = _children(root)
        while stack:
            pid = stack.pop()
            try:
                own, _ = _stat_ticks(pid)
            except (OSError, IndexError, ValueError):
                continue
            if pid not in seen:
                try:
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                    argv = " ".join(raw.decode(errors="replace").split("\0"))[:80]
                except OSError:
                    argv = "?"
                seen[pid] = (_label(argv), own, own)
            else:
                label, first, _ = seen[pid]
                seen[pid] = (label, first, own)
            stack.extend(_children(pid))
        time.sleep(0.1)
    return seen


def summarize(spawned: dict[int, tuple[str, int, int]], seconds: float = 60.0) -> str:
    """Count per kind, and the CPU of the long-lived ones seen over the window."""
    counts: dict[str, int] = {}
    cpu: dict[str, int] = {}
    for label, first, last in spawned.values():
        counts[label] = counts.get(label, 0) + 1
        cpu[label] = cpu.get(label, 0) + last - first
    parts = [
        f"{k} x{v}" + (f" ({percent(cpu[k], seconds):.3f}%)" if v == 1 and cpu[k] else "")
        for k, v in sorted(counts.items())
    ]
    return ", ".join(parts) or "nothing"


async def measure_jlist_poll(config_path: str, seconds: float) -> float:
    from tui.core.config import load_config
    from tui.core.hosts import HostPool

    config = load_config(config_path)
    pool = HostPool(config)
    transport = pool.primary
    env = {"PM2_HOME": config.app.pm2_home} if config.app.pm2_home else None
    try:
        probe = await transport.run(["sh", "-c", "echo $PPID"], timeout=30)
        sshd_pid = int(probe.stdout.strip())
        await transport.run([config.app.pm2_bin, "jlist"], timeout=60, env=env)
        t0 = tree_ticks(sshd_pid)
        start = time.monotonic()
        next_at = start
        while time.monotonic() - start < seconds:
            await transport.run([config.app.pm2_bin, "jlist"], timeout=60, env=env)
            next_at += 1.0
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        elapsed = time.monotonic() - start
        t1 = tree_ticks(sshd_pid)
    finally:
        await pool.close()
    return percent(t1 - t0, elapsed)


# Runs on the rig as the deploy user: a private pm2 daemon with the demo app in 8 workers.
_START_APP = r"""
set -e
d=$1 src=$2 port=$3 pm2=$4
mkdir -p "$d/app" "$d/pm2"
cp "$src/server.js" "$src/package.json" "$d/app/"
cd "$d/app"
env -i PATH="$PATH" HOME="$HOME" PM2_HOME="$d/pm2" PORT="$port" NODE_CLUSTER_SCHED_POLICY=none \
  "$pm2" start server.js -i 8 --name demo --wait-ready --listen-timeout 10000 >/dev/null
"""
_STOP_APP = r"""
d=$1 pm2=$2
[ -d "$d/pm2" ] && PM2_HOME="$d/pm2" "$pm2" kill >/dev/null 2>&1
rm -rf "$d"
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BenchApp:
    """The demo app in 8 workers under a private pm2 daemon on the rig, and a config for it."""

    def __init__(self, rig: object, config_path: str) -> None:
        self.rig = rig
        self.remote_dir = f"/tmp/shipdeck-bench-monitor-{os.getpid()}"
        self.local = tempfile.TemporaryDirectory()
        text = Path(config_path).read_text()
        lines = [
            f'pm2_home = "{self.remote_dir}/pm2"' if ln.startswith("pm2_home") else ln
            for ln in text.splitlines()
        ]
        self.config = str(Path(self.local.name) / "shipdeck.toml")
        Path(self.config).write_text("\n".join(lines) + "\n")

    def _ssh(self, script: str, *args: str) -> str:
        rig: Any = self.rig
        argv = rig.ssh_command("bash", "-c", script, "bench", *args)
        return subprocess.run(argv, check=True, timeout=120, capture_output=True, text=True).stdout

    def __enter__(self) -> BenchApp:
        from tui.core.pm2 import parse_jlist

        rig: Any = self.rig
        src = str(rig.app_root / "current")
        self._ssh(_START_APP, self.remote_dir, src, str(_free_port()), str(rig.pm2))
        # Measure a settled app: all 8 online (a launching one makes the monitor look again).
        deadline = time.monotonic() + 60
        jlist = 'PM2_HOME="$1/pm2" exec "$2" jlist'
        while True:
            procs = parse_jlist(self._ssh(jlist, self.remote_dir, str(rig.pm2)))
            if len(procs) == 8 and all(p.status == "online" for p in procs):
                return self
            if time.monotonic() > deadline:
                raise SystemExit(f"the bench app did not come up: {[p.status for p in procs]}")
            time.sleep(0.5)

    def __exit__(self, *exc: object) -> None:
        rig: Any = self.rig
        self._ssh(_STOP_APP, self.remote_dir, str(rig.pm2))
        self.local.cleanup()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--shared-daemon",
        action="store_true",
        help="watch the rig's own (busy) pm2 daemon instead of a private 8-worker one",
    )
    args = parser.parse_args()
    from tests.rigenv import load_rig_env

    rig = load_rig_env(os.environ.get("SHIPDECK_RIG_ENV") or "rig/.run/env.sh")
    if args.shared_daemon:
        target, console = measure_console(str(rig.config), args.seconds)
        poll = asyncio.run(measure_jlist_poll(str(rig.config), args.seconds))
    else:
        with BenchApp(rig, str(rig.config)) as app:
            target, console = measure_console(app.config, args.seconds)
            poll = asyncio.run(measure_jlist_poll(app.config, args.seconds))
    print(
        json.dumps(
            {
                "target_cpu_percent": target,
                "console_cpu_percent": console,
                "jlist_poll_target_cpu_percent": poll,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
