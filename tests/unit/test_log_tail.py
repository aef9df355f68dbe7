"""Following files: the line cutter, the frame parser, and the follower program run locally
(LocalTransport + node) through truncation, rotation, a missing file and a dropped link."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import until
from tui.core.log_buffer import LEVEL, MARK, PROCESS, STREAM, TEXT
from tui.core.log_tail import MAX_LINE, Frame, FrameParser, LineCutter, ProtocolError, clean_line
from tui.core.logs import HostFollower, LogSource, LogStore
from tui.core.transport import ConnectionLostError, LocalTransport

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


# ----------------------------------------------------------------- cutting and cleaning


def test_cutter_keeps_partial_lines_across_chunks() -> None:
    c = LineCutter()
    assert c.feed(b"one\ntw") == ["one"]
    assert c.feed(b"o\r\nthr") == ["two"]
    assert c.feed("ee é\n".encode()[:5]) == []
    assert c.feed("ee é\n".encode()[5:]) == ["three é"]
    assert c.feed(b"tail") == [] and c.flush() == ["tail"] and c.flush() == []


def test_cutter_cuts_a_1mb_line_without_buffering_it() -> None:
    c = LineCutter()
    out: list[str] = []
    big = b"x" * (1 << 20)
    for i in range(0, len(big), 65536):
        out += c.feed(big[i : i + 65536])
        assert len(c._buf) <= MAX_LINE + 65536  # never holds the whole line
    out += c.feed(b"\nnext\n")
    assert len(out) == 2
    assert out[0].startswith("x" * 100) and out[0].endswith("[line cut: more than 16,384 bytes]")
    assert out[1] == "next"


def test_cutter_cuts_a_long_line_that_arrives_whole() -> None:
    out = LineCutter().feed(b"y" * 50_000 + b"\n")
    assert out == ["y" * MAX_LINE + " … [line cut: 50,000 chars]"]


def test_cutter_shows_binary_junk_as_one_marker() -> None:
    junk = bytes(range(256)) * 4
    out = LineCutter().feed(b"before\n" + junk + b"\nafter\n")
    assert out[0] == "before" and out[-1] == "after"
    assert len(out) == 3 and out[1].startswith("[binary data: ")


def test_clean_line_strips_colours_and_controls() -> None:
    assert clean_line("\x1b[31mred\x1b[0m text") == "red text"
    assert clean_line("a\tb") == "a    b"
    assert clean_line("bell\x07 in a long enough line") == "bell\ufffd in a long enough line"
    assert clean_line("\x00\x01\x02\x03") is None


# ----------------------------------------------------------------- frames


def test_frame_parser_any_chunking() -> None:
    stream = b"O 0 42 10\nD 0 10 5\nab\ncdM 1 ENOENT no file\nH\nD 1 0 3\nxyzT 0\nG 1 rotated\n"
    expected = None
    for size in range(1, len(stream) + 1):
        p = FrameParser()
        items: list[Frame | tuple[int, bytes]] = []
        for i in range(0, len(stream), size):
            items += p.feed(stream[i : i + size])
        data: dict[int, bytes] = {}
        frames = []
        for item in items:
            if isinstance(item, tuple):
                data[item[0]] = data.get(item[0], b"") + item[1]
            else:
                frames.append(item)
        got = (data, frames)
        if expected is None:
            expected = got
        assert got == expected
    assert expected is not None
    assert expected[0] == {0: b"ab\ncd", 1: b"xyz"}
    assert [f.kind for f in expected[1]] == ["O", "M", "H", "T", "G"]
    assert expected[1][1].args == ("ENOENT no file",)


def test_frame_parser_rejects_foreign_output() -> None:
    with pytest.raises(ProtocolError):
        FrameParser().feed(b"Welcome to the host!\n")


# ----------------------------------------------------------------- the follower, for real


class DroppableTransport(LocalTransport):
    """A local host whose 'link' can be dropped: the running stream fails like a lost SSH
    connection would, and the next stream works again."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = asyncio.Event()

    def stream_chunks(self, argv, *, env=None, cwd=None, timeout=None):  # type: ignore[override]
        inner = super().stream_chunks(argv, env=env, cwd=cwd, timeout=timeout)
        drop = self.drop

        class Dropping:
            exit_status = None

            def __aiter__(self):
                return self

            async def __anext__(self):
                nxt = asyncio.ensure_future(inner.__anext__())
                dropped = asyncio.ensure_future(drop.wait())
                done, _ = await asyncio.wait({nxt, dropped}, return_when=asyncio.FIRST_COMPLETED)
                if dropped in done:
                    nxt.cancel()
                    drop.clear()
                    raise ConnectionLostError("local: connection lost (test)", host="local")
                dropped.cancel()
                return nxt.result()

            async def aclose(self):
                await inner.aclose()

        return Dropping()


def texts(store: LogStore, stream: str | None = None, process: str | None = None) -> list[str]:
    return [
        ln[TEXT]
        for ln in store.buffer
        if (stream is None or ln[STREAM] == stream) and (process is None or ln[PROCESS] == process)
    ]


@needs_node
async def test_follow_rotation_truncation_missing_and_drop(tmp_path: Path) -> None:
    out, err, late = tmp_path / "out.log", tmp_path / "err.log", tmp_path / "late.log"
    out.write_text("".join(f"old {i}\n" for i in range(50)))
    err.write_text("".join(f"old error {i}\n" for i in range(10)))
    store = LogStore(10_000)
    transport = DroppableTransport()

    async def discover() -> list[LogSource]:
        return [LogSource(str(out), "demo/0", "out"), LogSource(str(err), "demo/0", "err"),
                LogSource(str(late), "demo/1", "out")]

    follower = HostFollower(transport, store, discover, initial_lines=3, retry_delays=(0.2,))
    task = asyncio.create_task(follower.run())

    def append(path: Path, text: str) -> None:
        with path.open("a") as f:
            f.write(text)

    try:
        # The last N lines on start, then the missing file is reported once.
        await until(
            lambda: "old 49" in texts(store) and any("late.log" in t for t in texts(store, MARK))
        )
        assert texts(store, "out") == ["old 47", "old 48", "old 49"]
        await until(lambda: "old error 9" in texts(store))
        # The backlog shown on start is history: its errors do not count as a rate now.
        assert store.rates.totals.get("local", 0) == 0

        errors_before = store.rates.totals.get("local", 0)
        append(err, "crash!\n")
        await until(lambda: "crash!" in texts(store))
        assert [ln[LEVEL] for ln in store.buffer if ln[TEXT] == "crash!"] == [40]
        assert store.rates.totals.get("local", 0) == errors_before + 1

        # Truncated mid-follow: every following line arrives.
        os.truncate(out, 0)
        await until(lambda: any("truncated" in t for t in texts(store, MARK)))
        append(out, "".join(f"after-truncate {i}\n" for i in range(20)))
        await until(lambda: "after-truncate 19" in texts(store))

        # Truncated and rewritten past the old offset before the next poll: still noticed.
        with out.open("r+") as f:
            f.truncate(0)
            f.write("".join(f"rewritten {i:04d}\n" for i in range(100)))
        await until(lambda: "rewritten 0099" in texts(store))
        assert "rewritten 0000" in texts(store)

        # Rotated by rename: the old file is drained, then the new one followed from its start.
        out.rename(tmp_path / "out.log.1")
        append(tmp_path / "out.log.1", "last words of the old file\n")
        append(out, "first of the new file\n")
        await until(lambda: "first of the new file" in texts(store))
        assert "last words of the old file" in texts(store)

        # A 1 MB line and binary junk are cut and marked; the next line still arrives.
        append(out, "y" * (1 << 20) + "\n")
        with out.open("ab") as f:
            f.write(bytes(range(256)) * 64 + b"\nafter junk\n")
        await until(lambda: "after junk" in texts(store))
        cut = [t for t in texts(store) if t.startswith("yyyy")]
        assert len(cut) == 1 and "[line cut:" in cut[0] and len(cut[0]) < 20_000
        assert any(t.startswith("[binary data:") for t in texts(store))

        # A file that appears later is followed from its first byte.
        append(late, "late 1\n")
        await until(lambda: "late 1" in texts(store))

        # The link drops; lines written meanwhile arrive exactly once after the resume.
        append(out, "partial li")
        size = out.stat().st_size
        await until(lambda: follower.files[str(out)].offset == size)
        transport.drop.set()
        await until(lambda: follower.state == "interrupted")
        append(out, "ne\n" + "".join(f"while-down {i}\n" for i in range(100)))
        await until(lambda: "while-down 99" in texts(store))
        assert any(t.startswith("── gap ") for t in texts(store, MARK))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    shown = texts(store, "out", "demo/0")
    after = shown[shown.index("first of the new file"):]
    down = [f"while-down {i}" for i in range(100)]
    after = [t for t in after if not t.startswith(("yyyy", "[binary data:", "after junk"))]
    assert shown.count("rewritten 0050") == 1
    assert after == ["first of the new file", "partial line", *down]
    assert shown.count("after-truncate 0") == 1
    assert store.buffer.dropped == 0


@needs_node
async def test_node_candidates_are_tried_in_turn(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("hello\n")
    store = LogStore(100)

    async def discover() -> list[LogSource]:
        return [LogSource(str(log), "demo/0", "out")]

    node = shutil.which("node")
    assert node is not None
    follower = HostFollower(LocalTransport(), store, discover,
                            node=(str(tmp_path / "no-such-node"), node), retry_delays=(0.1,))
    task = asyncio.create_task(follower.run())
    try:
        await until(lambda: "hello" in texts(store))
        assert follower.node == node
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_no_node_at_all_is_one_readable_note(tmp_path: Path) -> None:
    store = LogStore(100)

    async def discover() -> list[LogSource]:
        return [LogSource(str(tmp_path / "x.log"), "demo/0", "out")]

    follower = HostFollower(LocalTransport(), store, discover,
                            node=("/nonexistent/node", "/also/missing/node"), retry_delays=(5,))
    task = asyncio.create_task(follower.run())
    try:
        await until(lambda: follower.state == "interrupted")
        assert follower.note == (
            "cannot follow logs: '/nonexistent/node' or '/also/missing/node' not found on the host"
        )
        assert texts(store) == []  # never followed: a state, not a gap line
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_node_candidates() -> None:
    from tui.core.logs import node_candidates

    assert node_candidates("pm2") == ("node",)
    assert node_candidates("/home/d/.nvm/versions/node/v20/bin/pm2") == (
        "node", "/home/d/.nvm/versions/node/v20/bin/node"
    )
