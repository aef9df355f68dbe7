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

    python bench/monitor.py [--config RIG_CONFIG] [--seconds 60]
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
    print(f"console session spawned: {summarize(spawned)}", file=sys.stderr)
    return percent(t1 - t0, elapsed), round(100.0 * (c1 - c0) / elapsed, 3)


def watch_children(root: int, seconds: float) -> dict[int, str]:
    """Sleep ``seconds`` while noting every process that appears under ``root`` (pid -> argv)."""
    seen: dict[int, str] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stack = _children(root)
        while stack:
            pid = stack.pop()
            if pid not in seen:
                try:
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                    seen[pid] = " ".join(raw.decode(errors="replace").split("\0"))[:60]
                except OSError:
                    seen[pid] = "?"
            stack.extend(_children(pid))
        time.sleep(0.1)
    return seen


def summarize(spawned: dict[int, str]) -> str:
    counts: dict[str, int] = {}
    for argv in spawned.values():
        word = next((w for w in argv.split() if w in ("jlist", "df") or "sampler" in w), "")
        key = word or argv.split(" ", 1)[0].rsplit("/", 1)[-1] or "?"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "nothing"


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


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.environ.get("SHIPDECK_RIG_CONFIG", ""))
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if not args.config:
        from tests.rigenv import load_rig_env

        args.config = str(load_rig_env().config)
    target, console = measure_console(args.config, args.seconds)
    poll = asyncio.run(measure_jlist_poll(args.config, args.seconds))
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
