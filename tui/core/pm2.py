"""pm2 process-manager backend: the process list, parsed defensively.

`pm2 jlist` may print a banner and daemon spawn messages before its JSON when the daemon was not
running (RIG-NOTES), so the JSON array is located rather than assumed to be the whole output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tui.core.transport import Transport


class Pm2Error(Exception):
    """pm2 is missing, its daemon is down, or its output could not be read."""


@dataclass(frozen=True)
class Pm2Process:
    name: str
    pm_id: int
    pid: int
    status: str
    exec_mode: str
    restarts: int
    unstable_restarts: int
    uptime_since_ms: int
    cpu_percent: float
    memory_bytes: int
    version: str
    cwd: str
    exec_path: str
    out_log: str
    err_log: str
    env_names: tuple[str, ...] = field(default=())

    @property
    def mode(self) -> str:
        return "cluster" if self.exec_mode.startswith("cluster") else "fork"


def _find_json_array(text: str) -> Any:
    decoder = json.JSONDecoder()
    # Try each line that opens an array: the banner never starts a line with '['.
    start = 0
    while True:
        index = text.find("[", start)
        if index < 0:
            raise Pm2Error("no JSON process list in pm2 output")
        if index == 0 or text[index - 1] == "\n":
            try:
                value, _ = decoder.raw_decode(text, index)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, list):
                return value
        start = index + 1


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_jlist(text: str) -> list[Pm2Process]:
    processes = []
    for raw in _find_json_array(text):
        if not isinstance(raw, dict):
            continue
        env = raw.get("pm2_env") or {}
        monit = raw.get("monit") or {}
        process_env = env.get("env") if isinstance(env.get("env"), dict) else {}
        processes.append(
            Pm2Process(
                name=str(raw.get("name", "")),
                pm_id=_int(raw.get("pm_id"), -1),
                pid=_int(raw.get("pid")),
                status=str(env.get("status", "unknown")),
                exec_mode=str(env.get("exec_mode", "")),
                restarts=_int(env.get("restart_time")),
                unstable_restarts=_int(env.get("unstable_restarts")),
                uptime_since_ms=_int(env.get("pm_uptime")),
                cpu_percent=float(monit.get("cpu") or 0.0),
                memory_bytes=_int(monit.get("memory")),
                version=str(env.get("version") or ""),
                cwd=str(env.get("pm_cwd") or ""),
                exec_path=str(env.get("pm_exec_path") or ""),
                out_log=str(env.get("pm_out_log_path") or ""),
                err_log=str(env.get("pm_err_log_path") or ""),
                # Names only: values may be secrets and never leave this function.
                env_names=tuple(sorted(str(k) for k in process_env)),
            )
        )
    return processes


class Pm2Backend:
    def __init__(self, transport: Transport, pm2_bin: str = "pm2", pm2_home: str = "") -> None:
        self.transport = transport
        self.pm2_bin = pm2_bin
        self.pm2_home = pm2_home

    @property
    def env(self) -> dict[str, str] | None:
        return {"PM2_HOME": self.pm2_home} if self.pm2_home else None

    async def jlist(self, timeout: float = 30.0) -> list[Pm2Process]:
        result = await self.transport.run([self.pm2_bin, "jlist"], timeout=timeout, env=self.env)
        if result.exit_status == 127:
            raise Pm2Error("pm2 not installed")
        if result.exit_status != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise Pm2Error(f"pm2 jlist failed ({result.exit_status}): {tail[0]}")
        return parse_jlist(result.stdout)
