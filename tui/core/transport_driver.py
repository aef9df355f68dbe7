"""The process driver both transports share: a transport starts a command and hands over a
``ProcHandle`` (read stdout/stderr chunks, feed stdin, wait, terminate); the driver runs it to
its end (``collect_result``) or as a stream (``CommandStream``), with timeouts, cancellation and
early-exit cleanup.

Rule: whatever way the driver stops waiting (timeout, cancellation, an error, a dropped stream),
the process is terminated first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tui.core.shellquote import LineSplitter
from tui.core.transport_errors import CommandTimeout, Result, command_failed, describe_argv

CHUNK = 64 * 1024  # bytes per read of a command's stdout or stderr
# How long a terminated process gets to exit on TERM before it gets KILL.
TERM_GRACE_S = 2.0


class ProcHandle(Protocol):
    """One started command, whatever runs it."""

    @property
    def returncode(self) -> int | None: ...
    async def read(self, kind: str) -> bytes: ...  # b"" at end of stream
    async def feed(self, data: bytes | None) -> None: ...  # write stdin (if any), then EOF
    async def wait(self) -> int: ...
    async def terminate(self) -> None: ...  # TERM, then KILL; a no-op once it ended
    def release(self) -> None: ...  # always called once the driver is done with it


Sink = Callable[[str, bytes], Awaitable[None] | None]


async def _all(*coros: Awaitable[Any]) -> None:
    """Await all; the first exception cancels the rest and propagates unwrapped."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        for fut in asyncio.as_completed(tasks):
            await fut
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def execute(
    proc: ProcHandle, sink: Sink, *, timeout: float | None, stdin: bytes | None
) -> int:
    """Pump output into ``sink`` until the command ends; return its exit status.

    On timeout (TimeoutError), cancellation or any error the process is terminated first.
    """

    async def pump(kind: str) -> None:
        while chunk := await proc.read(kind):
            pending = sink(kind, chunk)
            if pending is not None:
                await pending

    try:
        async with asyncio.timeout(timeout):
            await _all(proc.feed(stdin), pump("stdout"), pump("stderr"))
            return await proc.wait()
    except BaseException:
        await proc.terminate()
        raise
    finally:
        proc.release()


@dataclass
class _End:
    exit_status: int | None
    duration: float
    exc: BaseException | None = None


_BACKGROUND: set[asyncio.Task[None]] = set()


async def _produce(
    queue: asyncio.Queue[Any],
    start: Callable[[], Awaitable[ProcHandle]],
    argv: tuple[str, ...],
    host: str,
    lines: bool,
    timeout: float | None,
) -> None:
    # Deliberately holds no reference to the CommandStream, so a dropped stream is collected
    # and its __del__ can cancel this task (which terminates the process).
    t0 = time.monotonic()
    splitters = {"stdout": LineSplitter(), "stderr": LineSplitter()}

    async def sink(kind: str, chunk: bytes) -> None:
        if not lines:
            await queue.put((kind, chunk))
        elif batch := splitters[kind].feed(chunk):
            await queue.put((kind, batch))

    async def flush() -> None:
        for kind, splitter in splitters.items():
            if lines and (rest := splitter.flush()):
                await queue.put((kind, rest))

    proc: ProcHandle | None = None
    try:
        proc = await start()
        status = await execute(proc, sink, timeout=timeout, stdin=None)
    except TimeoutError:
        await flush()
        assert timeout is not None
        partial = Result(argv, _partial_status(proc), "", "", time.monotonic() - t0)
        await queue.put(_End(None, partial.duration, timeout_error(host, argv, timeout, partial)))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await flush()
        await queue.put(_End(None, time.monotonic() - t0, exc))
    else:
        await flush()
        await queue.put(_End(status, time.monotonic() - t0))


def _partial_status(proc: ProcHandle | None) -> int:
    code = proc.returncode if proc is not None else None
    return -1 if code is None else code


def timeout_error(
    host: str, argv: Sequence[str], timeout: float, partial: Result
) -> CommandTimeout:
    return CommandTimeout(
        f"{host}: {describe_argv(argv)} timed out after {timeout:g}s; the process was terminated",
        host=host,
        partial=partial,
        timeout=timeout,
    )


class CommandStream:
    """Async iterator over a running command's output, as it arrives.

    Yields ``(kind, line)`` (kind "stdout"|"stderr", line without newline) or, for chunk streams,
    ``(kind, bytes)``. After the end, ``exit_status`` and ``duration`` are set. Leaving early —
    ``aclose()``, ``async with``, cancelling the consuming task, or dropping the stream — ends the
    command. Errors (timeout, lost connection) are raised from the iteration.
    """

    def __init__(
        self,
        argv: tuple[str, ...],
        start: Callable[[], Awaitable[ProcHandle]],
        *,
        host: str,
        lines: bool = True,
        timeout: float | None = None,
        queue_size: int = 64,
    ) -> None:
        self.argv = argv
        self.exit_status: int | None = None
        self.duration: float | None = None
        self._args = (start, argv, host, lines, timeout)
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=queue_size)
        self._pending: deque[tuple[str, Any]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._finished = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def __aiter__(self) -> CommandStream:
        return self

    async def __anext__(self) -> tuple[str, Any]:
        while not self._pending:
            if self._finished:
                raise StopAsyncIteration
            if self._task is None:
                self._task = asyncio.create_task(_produce(self._queue, *self._args))
                _BACKGROUND.add(self._task)
                self._task.add_done_callback(_BACKGROUND.discard)
            try:
                item = await self._queue.get()
            except asyncio.CancelledError:
                self._stop()
                raise
            if isinstance(item, _End):
                self._finished = True
                self.exit_status, self.duration = item.exit_status, item.duration
                if item.exc is not None:
                    raise item.exc
                raise StopAsyncIteration
            kind, payload = item
            if isinstance(payload, list):
                self._pending.extend((kind, line) for line in payload)
            else:
                self._pending.append((kind, payload))
        return self._pending.popleft()

    def _stop(self) -> None:
        self._finished = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def aclose(self) -> None:
        """End the command now (if still running) and wait until it is gone."""
        self._stop()
        if self._task is not None:
            await asyncio.wait({self._task})

    async def __aenter__(self) -> CommandStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                task.cancel()


async def collect_result(
    name: str,
    args: tuple[str, ...],
    proc: ProcHandle,
    t0: float,
    *,
    timeout: float | None,
    stdin: str | None,
    check: bool,
) -> Result:
    """Drive a started command to its end and make its Result: the one ``run`` body of both
    transports (a timeout keeps the output so far in the error; ``check`` raises on failure)."""
    out, err = bytearray(), bytearray()

    def sink(kind: str, chunk: bytes) -> None:
        (out if kind == "stdout" else err).extend(chunk)

    data = stdin.encode() if stdin is not None else None
    try:
        status = await execute(proc, sink, timeout=timeout, stdin=data)
    except TimeoutError:
        assert timeout is not None
        partial = make_result(args, _partial_status(proc), out, err, t0)
        raise timeout_error(name, args, timeout, partial) from None
    result = make_result(args, status, out, err, t0)
    if check and not result.ok:
        raise command_failed(name, result)
    return result


class StreamMethods:
    """``stream`` and ``stream_chunks`` for a transport that implements ``_stream``."""

    def _stream(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
        timeout: float | None,
        *,
        lines: bool,
    ) -> CommandStream:
        raise NotImplementedError

    def stream(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> CommandStream:
        return self._stream(argv, env, cwd, timeout, lines=True)

    def stream_chunks(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> CommandStream:
        """Like ``stream`` but yields raw ``(kind, bytes)`` chunks (byte offsets stay exact)."""
        return self._stream(argv, env, cwd, timeout, lines=False)


def make_result(argv: tuple[str, ...], status: int, out: bytes, err: bytes, t0: float) -> Result:
    return Result(
        argv,
        status,
        out.decode("utf-8", errors="replace"),
        err.decode("utf-8", errors="replace"),
        time.monotonic() - t0,
    )
