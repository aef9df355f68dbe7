"""Log ingest benchmark: 1,000,000 lines through the path the app uses, headless.

The lines (~120 characters, 5% errors) arrive as the follower program's framed output, in 64 KiB
chunks, and go through HostFollower (frame parser, line cutter), the LogStore (classification,
ring buffer, error rate) and a LogsPane in a headless Textual app (batched renders into Log).
A 10 ms timer measures the event loop's worst delay meanwhile. Then, separately, a pass of
``--template-lines`` fresh lines (already split into time, level and message, as the watch
hands them over) through the log-template miner (core/log_templates.py). Prints one JSON object:

    {"lines_per_s": .., "max_lag_ms": .., "rss_start_mb": .., "rss_end_mb": ..,
     "templates_lines_per_s": ..}

``--rig`` instead runs a remote writer on the rig (5,000 lines/s for 30 s by default) and follows
it through the rig's sshd into the pane, counting every line; prints one JSON object with the
counts. Goal for the main run: >= 200,000 lines/s, max lag <= 50 ms, flat RSS; for the
template miner: >= 100,000 lines/s (the watch needs 2,000).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.app import App, ComposeResult  # noqa: E402

from tui.core.log_buffer import MARK, STREAM, TEXT  # noqa: E402
from tui.core.logs import HostFollower, LogSource, LogStore  # noqa: E402
from widgets.logs_pane import LogsPane  # noqa: E402

CHUNK = 64 * 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def make_lines(count: int) -> list[bytes]:
    """A pool of realistic lines (~120 chars); every 20th is an error."""
    out = []
    for i in range(count):
        stamp = f"2026-11-26T12:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
        tail = f"pid=4242 req={i:08x}"
        if i % 20 == 19:
            text = f"{stamp} ERROR upstream timeout after 3000ms on GET /api/orders/{i} {tail}"
        else:
            text = f"{stamp} INFO GET /api/items/{i}?page=2&sort=desc 200 3.{i % 10}ms {tail}"
        out.append((text.ljust(120, " ") + "\n").encode())
    return out


def make_chunks(pool: list[bytes]) -> list[bytes]:
    """Payloads of whole lines, about CHUNK bytes each (the follower sends what it read)."""
    chunks, current, size = [], [], 0
    for line in pool:
        current.append(line)
        size += len(line)
        if size >= CHUNK:
            chunks.append(b"".join(current))
            current, size = [], 0
    if current:
        chunks.append(b"".join(current))
    return chunks


class FramedFeed:
    """Stands in for the remote program's stdout: the same frames it writes, from memory."""

    def __init__(self, chunks: list[bytes], total_lines: int) -> None:
        self.chunks = chunks
        self.total = total_lines
        self.exit_status: int | None = None

    async def _gen(self) -> AsyncIterator[tuple[str, bytes]]:
        yield "stdout", b"O 0 1 0\n"
        offset, sent, i = 0, 0, 0
        while sent < self.total:
            payload = self.chunks[i % len(self.chunks)]
            i += 1
            lines = payload.count(b"\n")
            if sent + lines > self.total:
                cut = 0
                for _ in range(self.total - sent):
                    cut = payload.index(b"\n", cut) + 1
                payload, lines = payload[:cut], self.total - sent
            yield "stdout", f"D 0 {offset} {len(payload)}\n".encode() + payload
            offset += len(payload)
            sent += lines
            await asyncio.sleep(0)  # data arrives from the network: the loop runs in between
        await asyncio.Event().wait()  # the real program keeps following

    def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        return self._gen()

    async def aclose(self) -> None:
        pass


class FeedTransport:
    def __init__(self, feed: FramedFeed) -> None:
        self.host = SimpleNamespace(name="bench", transport="local")
        self.feed = feed

    def stream_chunks(self, argv: Any, **_: Any) -> FramedFeed:
        return self.feed


class BenchApp(App[None]):
    def __init__(self, store: LogStore, max_lines: int) -> None:
        super().__init__()
        self.store = store
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield LogsPane(max_lines=self.max_lines, store=self.store, hosts=["bench"])


class LagProbe:
    """A 10 ms timer; records its worst lateness."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.max_lag = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        expected = loop.time() + self.interval

        def tick() -> None:
            nonlocal expected
            now = loop.time()
            self.max_lag = max(self.max_lag, now - expected)
            expected = now + self.interval
            self._handle = loop.call_later(self.interval, tick)

        self._handle = loop.call_later(self.interval, tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


async def until(cond: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish in time")
        await asyncio.sleep(0.01)


class GcPauses:
    """The longest garbage-collector pause (they show up as event-loop lag)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._t = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.worst = max(self.worst, time.perf_counter() - self._t)


async def bare_log_baseline(lines: list[str], batches: int) -> tuple[float, float]:
    """Textual's Log fed with write_lines in batches of len(lines): the issue's reference."""
    from textual.widgets import Log

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Log(max_lines=100_000)

    app = Bare()
    async with app.run_test(headless=True, size=(120, 40)) as pilot:
        log = app.query_one(Log)
        probe = LagProbe()
        probe.start()
        t0 = time.perf_counter()
        for _ in range(batches):
            log.write_lines(lines)
            await asyncio.sleep(0)
        await pilot.pause()
        elapsed = time.perf_counter() - t0
        probe.stop()
    return len(lines) * batches / elapsed, probe.max_lag * 1000


async def bench_ingest(total: int, buffer_lines: int) -> dict[str, float]:
    chunks = make_chunks(make_lines(5000))
    store = LogStore(buffer_lines)
    feed = FramedFeed(chunks, total)

    async def discover() -> list[LogSource]:
        return [LogSource("/var/log/app.log", "app/0", "out")]

    app = BenchApp(store, max_lines=buffer_lines)
    async with app.run_test(headless=True, size=(120, 40)) as pilot:
        pane = app.query_one(LogsPane)
        await pilot.pause()
        rss_start = rss_mb()
        follower = HostFollower(FeedTransport(feed), store, discover)  # type: ignore[arg-type]
        probe = LagProbe()
        probe.start()
        gc_pauses = GcPauses()
        gc.callbacks.append(gc_pauses)
        t0 = time.perf_counter()
        task = asyncio.create_task(follower.run())
        await until(lambda: store.buffer.total >= buffer_lines, 600)
        rss_full = rss_mb()
        await until(lambda: pane.written >= total and pane._seen_seq == store.buffer.last_seq,
                    600)
        elapsed = time.perf_counter() - t0
        probe.stop()
        gc.callbacks.remove(gc_pauses)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        rss_end = rss_mb()
    lines = store.buffer.total - sum(1 for ln in store.buffer if ln[STREAM] == MARK)
    print(
        f"ingested {lines:,} lines in {elapsed:.2f}s; buffer {len(store.buffer):,}"
        f" (dropped {store.buffer.dropped:,}); RSS at buffer full {rss_full} MB;"
        f" worst GC pause {gc_pauses.worst * 1000:.1f} ms; load average {os.getloadavg()[0]:.2f}"
        f" on {os.cpu_count()} CPUs",
        file=sys.stderr,
    )
    return {
        "lines_per_s": round(total / elapsed),
        "max_lag_ms": round(probe.max_lag * 1000, 1),
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
    }


def bench_templates(count: int) -> dict[str, float]:
    """``count`` lines the miner has never seen (every id and request id fresh) through
    TemplateMiner.add; splitting them (time, level, message) is timed apart, to stderr."""
    from tui.core.log_filter import Classifier
    from tui.core.log_templates import TemplateMiner, split_lines

    texts = [line.decode().rstrip() for line in make_lines(count)]
    t0 = time.perf_counter()
    records = [(ts or 0.0, level, message)
               for ts, level, message in split_lines(texts, Classifier())]  # fmt: skip
    split_s = time.perf_counter() - t0
    miner = TemplateMiner()
    add = miner.add
    t0 = time.perf_counter()
    for ts, level, message in records:
        add(ts, level, message)
    elapsed = time.perf_counter() - t0
    print(
        f"templates: {count:,} lines in {elapsed:.2f}s -> {len(miner)} templates"
        f" ({', '.join(repr(t.text) for t in miner.templates()[:3])});"
        f" splitting them took {split_s:.2f}s ({count / split_s:,.0f} lines/s)",
        file=sys.stderr,
    )
    return {"templates_lines_per_s": round(count / elapsed)}


# --------------------------------------------------------------------------- through the rig

WRITER_JS = r"""
const fs = require('fs');
const [path, rate, seconds] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const fd = fs.openSync(path, 'a');
const pad = 'x'.repeat(60);
const start = Date.now();
let n = 0;
function tick() {
  const elapsed = (Date.now() - start) / 1000;
  const target = Math.min(rate * seconds, Math.floor(elapsed * rate));
  let out = '';
  while (n < target) { out += `${new Date().toISOString()} INFO line ${n} ${pad}\n`; n++; }
  if (out) fs.writeSync(fd, out);
  if (n < rate * seconds) setTimeout(tick, 5); else { fs.closeSync(fd); console.log(n); }
}
tick();
"""


async def bench_rig(seconds: float, rate: int) -> dict[str, Any]:
    from tests.rigenv import load_rig_env
    from tui.core.config import load_config
    from tui.core.transport import make_transport

    rig = load_rig_env()
    config = load_config(rig.config)
    host = config.hosts[0]
    path = f"{rig.dir}/tmp/bench-logs-{int(time.time())}.log"
    follow_t, write_t = make_transport(host), make_transport(host)
    await write_t.run(["touch", path], check=True, timeout=30)
    store = LogStore(config.logs.buffer_lines)
    seen = {"count": 0, "next": 0, "bad": 0, "last": 0}

    def check() -> None:
        for ln in store.buffer.since(seen["last"]):
            if ln[STREAM] == MARK:
                continue
            parts = ln[TEXT].split(" ")
            number = int(parts[3]) if len(parts) > 3 and parts[2] == "line" else -1
            if number != seen["next"]:
                seen["bad"] += 1
            seen["next"] = number + 1
            seen["count"] += 1
        seen["last"] = store.buffer.last_seq

    store.add_listener(check)

    async def discover() -> list[LogSource]:
        return [LogSource(path, "writer/0", "out")]

    app = BenchApp(store, max_lines=config.logs.buffer_lines)
    total = int(rate * seconds)
    async with app.run_test(headless=True, size=(120, 40)) as pilot:
        pane = app.query_one(LogsPane)
        await pilot.pause()
        follower = HostFollower(follow_t, store, discover, initial_lines=0)
        task = asyncio.create_task(follower.run())
        await until(lambda: follower.state == "following", 30)
        await write_t.connect()  # the SSH handshake is not what we measure
        probe = LagProbe()
        probe.start()
        gc_pauses = GcPauses()
        gc.callbacks.append(gc_pauses)
        t0 = time.perf_counter()
        result = await write_t.run(
            ["node", "-e", WRITER_JS, path, str(rate), str(seconds)], timeout=seconds + 60
        )
        written = int(result.stdout.strip() or 0)
        with contextlib.suppress(TimeoutError):
            await until(lambda: seen["count"] >= written and pane.written >= written, 60)
        elapsed = time.perf_counter() - t0
        probe.stop()
        gc.callbacks.remove(gc_pauses)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    print(f"worst GC pause {gc_pauses.worst * 1000:.1f} ms; load average"
          f" {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", file=sys.stderr)
    await write_t.run(["rm", "-f", path], timeout=30)
    await follow_t.close()
    await write_t.close()
    return {
        "rig_seconds": seconds,
        "rig_rate": rate,
        "rig_lines_written": written,
        "rig_lines_seen": seen["count"],
        "rig_lines_shown": pane.written,
        "rig_out_of_order_or_missing": seen["bad"],
        "rig_expected": total,
        "rig_elapsed_s": round(elapsed, 1),
        "rig_max_lag_ms": round(probe.max_lag * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--buffer", type=int, default=100_000)
    parser.add_argument("--rig", action="store_true", help="follow a remote writer on the rig")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--template-lines", type=int, default=200_000,
                        help="lines for the template miner's pass")
    parser.add_argument("--baseline", action="store_true",
                        help="also time a bare Textual Log (to stderr), for this machine's speed")
    args = parser.parse_args()
    if args.rig:
        print(json.dumps(asyncio.run(bench_rig(args.seconds, args.rate))))
    else:
        result: dict[str, Any] = asyncio.run(bench_ingest(args.lines, args.buffer))
        gc.collect()
        result.update(bench_templates(args.template_lines))
        print(json.dumps(result), flush=True)
    if args.baseline:
        # After the measured run: its leftovers would otherwise slow the measured run's GC.
        lines = [ln.decode().rstrip() for ln in make_lines(1000)]
        rate, lag = asyncio.run(bare_log_baseline(lines, args.lines // 1000))
        print(f"bare Textual Log, write_lines x1000: {rate:,.0f} lines/s, max lag {lag:.1f} ms",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
