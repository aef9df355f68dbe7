"""LocalTransport: commands on this machine as asyncio subprocesses, no shell involved.

Each command leads its own process group, so a timeout or cancellation ends its children too.
The driver (timeouts, streams, results) is transport_driver's, shared with SshTransport.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from tui.core.shellquote import check_argv, check_env
from tui.core.transport_driver import (
    CHUNK,
    TERM_GRACE_S,
    CommandStream,
    ProcHandle,
    StreamMethods,
    collect_result,
)
from tui.core.transport_errors import ConnState, Result, StateMixin

# The driver's names are re-exported: transport.py imports CommandStream from here.
__all__ = [
    "CHUNK",
    "TERM_GRACE_S",
    "CommandStream",
    "LocalTransport",
    "ProcHandle",
    "StreamMethods",
    "collect_result",
    "spawn_local",
]


class _LocalProc:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    async def read(self, kind: str) -> bytes:
        stream = self._proc.stdout if kind == "stdout" else self._proc.stderr
        assert stream is not None
        return await stream.read(CHUNK)

    async def feed(self, data: bytes | None) -> None:
        pipe = self._proc.stdin
        if pipe is None:
            return
        try:
            if data:
                pipe.write(data)
                await pipe.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it stopped reading; its exit status tells the story
        finally:
            pipe.close()

    async def wait(self) -> int:
        return await self._proc.wait()

    def _killpg(self, sig: int) -> None:
        # The process leads its own session/group, so this also reaches its children.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    async def terminate(self) -> None:
        self._killpg(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._proc.wait(), TERM_GRACE_S)
        except TimeoutError:
            self._killpg(signal.SIGKILL)
            # Past this, only a descendant that left the group can still hold our pipes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), TERM_GRACE_S)

    def release(self) -> None:
        pass


class _NotStarted:
    """A command that could not be exec'd, reported the way a shell would (127/126/2)."""

    def __init__(self, status: int, message: str) -> None:
        self._status = status
        self._stderr = (message + "\n").encode()

    @property
    def returncode(self) -> int:
        return self._status

    async def read(self, kind: str) -> bytes:
        data, self._stderr = (self._stderr, b"") if kind == "stderr" else (b"", self._stderr)
        return data

    async def feed(self, data: bytes | None) -> None:
        pass

    async def wait(self) -> int:
        return self._status

    async def terminate(self) -> None:
        pass

    def release(self) -> None:
        pass


async def spawn_local(
    argv: tuple[str, ...], env: Mapping[str, str], cwd: str | None, with_stdin: bool
) -> ProcHandle:
    if cwd is not None and not os.path.isdir(cwd):
        return _NotStarted(2, f"cd: {cwd}: No such file or directory")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if with_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **env} if env else None,
            cwd=cwd,
            start_new_session=True,  # own process group: a timeout kills its children too
        )
    except FileNotFoundError:
        return _NotStarted(127, f"{argv[0]}: command not found")
    except PermissionError:
        return _NotStarted(126, f"{argv[0]}: permission denied")
    except OSError as exc:
        return _NotStarted(126, f"{argv[0]}: {exc.strerror or exc}")
    return _LocalProc(proc)


class LocalTransport(StreamMethods, StateMixin):
    """Commands on this machine (the jump host itself, and the demo). No shell is involved."""

    def __init__(self, host: Any = None) -> None:
        self.host = host if host is not None else SimpleNamespace(name="local", transport="local")
        self._init_state()

    @property
    def name(self) -> str:
        return str(getattr(self.host, "name", "local"))

    async def connect(self) -> None:
        self._set_state(ConnState.CONNECTED)

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | None = None,
        check: bool = False,
    ) -> Result:
        args, env_ = check_argv(argv), check_env(env)
        await self.connect()
        t0 = time.monotonic()
        proc = await spawn_local(args, env_, cwd, stdin is not None)
        return await collect_result(
            self.name, args, proc, t0, timeout=timeout, stdin=stdin, check=check
        )

    def _stream(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
        timeout: float | None,
        *,
        lines: bool,
    ) -> CommandStream:
        args, env_ = check_argv(argv), check_env(env)

        async def start() -> ProcHandle:
            await self.connect()
            return await spawn_local(args, env_, cwd, False)

        return CommandStream(args, start, host=self.name, lines=lines, timeout=timeout)

    async def forward_local_port(self, remote_host: str, remote_port: int) -> int:
        return remote_port  # already local

    async def close(self) -> None:
        self._set_state(ConnState.IDLE)
