"""The behaviour every Transport must have, written once and run against each of them.

Subclass ``TransportContract`` in a test module and provide a ``transport`` fixture (a fresh,
not yet connected Transport). Everything on the target is done through the transport itself, so
the same tests run on this machine (LocalTransport) and through the rig's real sshd.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from tui.core.transport import (
    CommandFailed,
    CommandTimeout,
    ConnState,
    quote_command,
)

# Strings that would do something if they ever reached a shell unquoted.
NASTY = (
    "; echo INJECTED",
    "$(echo INJECTED)",
    "`echo INJECTED`",
    "&& echo INJECTED",
    "|| echo INJECTED",
    "| cat",
    "'",
    '"',
    "'\"'\"'",
    "a\nb",
    "line\n; echo INJECTED",
    "*",
    "/*",
    "?",
    "[a-z]*",
    "~",
    "~root",
    "$HOME",
    "${IFS}",
    "$((1+1))",
    "\\",
    "\\n",
    "-n",
    "--",
    "a=b",
    "!",
    "#",
    "%s",
    "   ",
    "",
    "tab\there",
    "ünïcødé ✓",
    "> /tmp/shipdeck-redirect",
    "< /etc/passwd",
    "& echo INJECTED",
    "$'\\x41'",
    "\r",
)


async def proc_state(transport: Any, pid: int) -> str:
    """The /proc state letter of ``pid`` on the target, or "" when there is no such process."""
    r = await transport.run(["cat", f"/proc/{pid}/stat"])
    if not r.ok or ")" not in r.stdout:
        return ""
    return r.stdout.rsplit(")", 1)[1].split()[0]


async def wait_gone(transport: Any, pid: int, deadline_s: float = 10.0) -> bool:
    """True once ``pid`` is gone or a zombie (PID 1 here reaps late, see RIG-NOTES)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if await proc_state(transport, pid) in ("", "Z", "X"):
            return True
        await asyncio.sleep(0.05)
    return False


async def wait_file_text(transport: Any, path: str, deadline_s: float = 10.0) -> str:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        r = await transport.run(["cat", path])
        if r.ok and r.stdout.strip():
            return r.stdout.strip()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never got content")


def nul_joined(args: list[str] | tuple[str, ...]) -> str:
    return "".join(a + "\0" for a in args)


class TransportContract:
    """Tests shared by every transport. Needs a ``transport`` fixture."""

    @pytest.fixture
    async def scratch(self, transport: Any) -> Any:
        r = await transport.run(["mktemp", "-d", "/tmp/shipdeck-contract.XXXXXX"], check=True)
        path = r.stdout.strip()
        yield path
        await transport.run(["rm", "-rf", "--", path])

    async def test_run_ok(self, transport: Any) -> None:
        r = await transport.run(["printf", "%s", "hello"])
        assert r.ok and r.exit_status == 0
        assert r.stdout == "hello" and r.stderr == ""
        assert r.argv == ("printf", "%s", "hello")
        assert r.duration > 0
        assert transport.state == ConnState.CONNECTED and transport.last_error == ""

    async def test_nonzero_exit_and_stderr(self, transport: Any) -> None:
        r = await transport.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert (r.exit_status, r.stdout, r.stderr) == (3, "out\n", "err\n")
        assert not r.ok

    async def test_check_raises_one_line(self, transport: Any) -> None:
        with pytest.raises(CommandFailed) as info:
            await transport.run(
                ["sh", "-c", "echo first >&2; echo 'it broke' >&2; exit 5"], check=True
            )
        assert info.value.result.exit_status == 5
        assert "\n" not in str(info.value) and "it broke" in str(info.value)

    async def test_killed_by_signal_is_negative(self, transport: Any) -> None:
        r = await transport.run(["sh", "-c", "kill -TERM $$"])
        assert r.exit_status == -15

    async def test_command_not_found(self, transport: Any) -> None:
        r = await transport.run(["shipdeck-no-such-command-x"])
        assert r.exit_status == 127 and "shipdeck-no-such-command-x" in r.stderr

    async def test_missing_cwd_fails(self, transport: Any) -> None:
        r = await transport.run(["true"], cwd="/nonexistent/shipdeck-dir")
        assert not r.ok and "/nonexistent/shipdeck-dir" in r.stderr

    async def test_env_and_cwd_applied(self, transport: Any, scratch: str) -> None:
        value = "a b;$(echo INJECTED)'\"\n`x`"
        r = await transport.run(
            ["sh", "-c", 'printf "%s\\0%s\\0" "$SHIPDECK_T" "$(pwd -P)"'],
            env={"SHIPDECK_T": value},
            cwd=scratch,
        )
        assert r.ok, r.stderr
        real = (await transport.run(["sh", "-c", 'cd "$1" && pwd -P', "sh", scratch])).stdout
        assert r.stdout == nul_joined([value, real.strip()])

    async def test_stdin_passed(self, transport: Any) -> None:
        r = await transport.run(["cat"], stdin="line 1\nline 2 ✓\n")
        assert r.stdout == "line 1\nline 2 ✓\n"
        big = "x" * 999_999 + "\n"
        r = await transport.run(["wc", "-c"], stdin=big)
        assert r.stdout.strip() == "1000000"

    async def test_no_stdin_means_eof(self, transport: Any) -> None:
        r = await transport.run(["sh", "-c", "read x; echo got-eof"], timeout=10)
        assert r.stdout == "got-eof\n"

    async def test_arguments_arrive_exactly(self, transport: Any) -> None:
        args = list(NASTY)
        r = await transport.run(["printf", "%s\\0", *args])
        assert r.ok and r.stdout == nul_joined(args)

    async def test_quoted_command_through_sh(self, transport: Any, scratch: str) -> None:
        canary = f"{scratch}/canary-{uuid.uuid4().hex}"
        args = [*NASTY, f"$(touch {canary})", f"`touch {canary}`", f"; touch {canary}"]
        line = quote_command(["printf", "%s\\0", *args], env={"X": f"$(touch {canary})"})
        r = await transport.run(["sh", "-c", line])
        assert r.ok and r.stdout == nul_joined(args)
        assert not (await transport.run(["test", "-e", canary])).ok

    async def test_large_output(self, transport: Any) -> None:
        r = await transport.run(["seq", "1", "200000"])
        assert r.stdout.splitlines() == [str(i) for i in range(1, 200001)]

    async def test_stream_lines_arrive_before_the_end(self, transport: Any, scratch: str) -> None:
        marker = f"{scratch}/go"
        script = 'echo $$; while [ ! -e "$1" ]; do sleep 0.02; done; echo second; echo third >&2'
        async with transport.stream(["sh", "-c", script, "sh", marker]) as lines:
            kind, first = await asyncio.wait_for(anext(lines), 10)
            assert kind == "stdout"
            # The command waits for a marker we have not created: it is still running.
            assert await proc_state(transport, int(first)) not in ("", "Z", "X")
            await transport.run(["touch", marker], check=True)
            rest = [item async for item in lines]
        assert sorted(rest) == [("stderr", "third"), ("stdout", "second")]
        assert lines.exit_status == 0 and lines.ok

    async def test_stream_exit_status_and_last_partial_line(self, transport: Any) -> None:
        lines = transport.stream(["sh", "-c", "printf 'a\\nb\\r\\n\\nlast'; exit 4"])
        got = [item async for item in lines]
        assert got == [("stdout", "a"), ("stdout", "b"), ("stdout", ""), ("stdout", "last")]
        assert lines.exit_status == 4

    async def test_stream_many_lines(self, transport: Any) -> None:
        count = 0
        async for kind, line in transport.stream(["seq", "1", "100000"]):
            count += 1
            assert kind == "stdout" and line == str(count)
        assert count == 100000

    async def test_stream_chunks_are_bytes(self, transport: Any) -> None:
        chunks = [c async for c in transport.stream_chunks(["printf", "%s", "abc\ndéf"])]
        assert b"".join(data for _, data in chunks) == "abc\ndéf".encode()
        assert all(kind == "stdout" and isinstance(data, bytes) for kind, data in chunks)

    async def test_timeout_ends_the_process(self, transport: Any) -> None:
        with pytest.raises(CommandTimeout) as info:
            await transport.run(
                ["sh", "-c", "echo $$; echo started >&2; exec sleep 300"], timeout=1
            )
        err = info.value
        assert "\n" not in str(err) and "timed out after 1s" in str(err)
        assert err.partial.stderr == "started\n"
        assert await wait_gone(transport, int(err.partial.stdout))

    async def test_stream_timeout_ends_the_process(self, transport: Any) -> None:
        got = []
        with pytest.raises(CommandTimeout):
            async for item in transport.stream(["sh", "-c", "echo $$; exec sleep 300"], timeout=1):
                got.append(item)
        assert await wait_gone(transport, int(got[0][1]))

    async def test_closing_a_stream_ends_the_process(self, transport: Any) -> None:
        lines = transport.stream(["sh", "-c", "echo $$; exec sleep 300"])
        _, pid = await asyncio.wait_for(anext(lines), 10)
        await lines.aclose()
        assert await wait_gone(transport, int(pid))

    async def test_cancelling_a_stream_consumer_ends_the_process(self, transport: Any) -> None:
        first: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def consume() -> None:
            async for _, line in transport.stream(["sh", "-c", "echo $$; exec sleep 300"]):
                first.set_result(line)

        task = asyncio.create_task(consume())
        pid = int(await asyncio.wait_for(first, 10))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_gone(transport, pid)

    async def test_cancelling_run_ends_the_process(self, transport: Any, scratch: str) -> None:
        pidfile = f"{scratch}/pid"
        task = asyncio.create_task(
            transport.run(["sh", "-c", 'echo $$ > "$1"; exec sleep 300', "sh", pidfile])
        )
        pid = int(await wait_file_text(transport, pidfile))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_gone(transport, pid)

    async def test_concurrent_commands(self, transport: Any) -> None:
        results = await asyncio.gather(
            *(transport.run(["sh", "-c", f"sleep 0.2; echo {i}"]) for i in range(20))
        )
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(20)]

    async def test_state_listener_and_close(self, transport: Any) -> None:
        seen: list[str] = []
        transport.add_state_listener(lambda t: seen.append(t.state))
        await transport.run(["true"])
        assert seen[-1] == ConnState.CONNECTED
        await transport.close()
        assert transport.state == ConnState.IDLE and seen[-1] == ConnState.IDLE
        assert (await transport.run(["true"])).ok  # usable again after close

    async def test_bad_argv_is_rejected_before_running(self, transport: Any) -> None:
        for bad in ([], "ls -l", ["ls", 3], ["ls", "a\0b"]):
            with pytest.raises(ValueError):
                await transport.run(bad)
        with pytest.raises(ValueError):
            transport.stream([])
