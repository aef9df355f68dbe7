"""/proc sample parsing, jiffy deltas, downsampling, and the real loop run locally."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from tui.core.metrics import DeltaComputer, History, LocalSampler, downsample
from tui.core.metrics_remote import (
    Header,
    SampleParseError,
    SampleParser,
    parse_cpu,
    parse_df,
    parse_proc,
    sampler_argv,
)
from tui.core.transport import LocalTransport

STAT = (
    "4211 (node /srv/a (x)) S 4200 4200 4200 0 -1 4194560 9000 0 0 0 {u} {s} 0 0 20 0 11 0 {st} 1 2"
)


def block(
    uptime: float, cpu: tuple[int, ...], pid_ticks: tuple[int, int], start: int = 500
) -> list[str]:
    u, s = pid_ticks
    return [
        f"T {uptime} 100.0",
        "C cpu " + " ".join(str(x) for x in cpu),
        "M MemTotal:1000000 MemAvailable:250000 SwapTotal:2000 SwapFree:1500",
        "L 0.50 0.40 0.30 2/300 9999",
        "K 2894 7810 7827 ",
        f"P 4211 30000 12800 900 5 0 6000 0|{STAT.format(u=u, s=s, st=start)}",
        "X 4300",
        "D<",
        "Filesystem 1024-blocks Used Available Capacity Mounted on",
        "/dev/vda 1000 600 400 60% /",
        "/dev/vdb 2000 500 1500 25% /srv/my backups",
        "/dev/vda 1000 600 400 60% /",
        "D>",
        "E",
    ]


def feed_all(parser: SampleParser, lines: list[str]):
    out = [s for s in (parser.feed(line) for line in lines) if s is not None]
    assert len(out) == 1
    return out[0]


def test_parse_a_sample_block() -> None:
    parser = SampleParser()
    assert parser.feed("H 4096 4 100") is None
    assert parser.header == Header(4096, 4, 100)
    raw = feed_all(parser, block(100.0, (100, 0, 50, 800, 50, 0, 0, 0, 0, 0), (300, 100)))
    assert raw.uptime == 100.0
    assert raw.cpu.total == 1000 and raw.cpu.idle == 850
    assert raw.memory.total_kb == 1_000_000 and raw.memory.available_kb == 250_000
    assert raw.load == (0.5, 0.4, 0.3)
    proc = raw.procs[4211]
    # comm with spaces and parentheses does not shift the fields
    assert (proc.state, proc.ticks, proc.rss_pages, proc.start_ticks) == ("S", 400, 12800, 500)
    assert raw.gone == (4300,)
    assert raw.daemon == (2894, 7810, 7827)
    assert [(d.mount, d.percent) for d in raw.disks] == [("/", 60.0), ("/srv/my backups", 25.0)]


def test_deltas_give_cpu_percent_from_jiffies() -> None:
    parser, deltas = SampleParser(), DeltaComputer()
    parser.feed("H 4096 2 100")
    def step(*args, **kw):  # type: ignore[no-untyped-def]
        return deltas(feed_all(parser, block(*args, **kw)), parser.header)

    first = step(100.0, (100, 0, 0, 900, 0, 0, 0, 0), (100, 0))
    assert first.host.cpu_percent == 0.0 and first.procs[4211].cpu_percent == 0.0
    # 1 s later: 200 jiffies passed on 2 cpus, 50 busy; the process used 25 ticks (25% of a core).
    second = step(101.0, (130, 0, 20, 1050, 0, 0, 0, 0), (120, 5))
    assert second.host.cpu_percent == pytest.approx(25.0)
    assert second.procs[4211].cpu_percent == pytest.approx(25.0)
    assert second.procs[4211].rss_bytes == 12800 * 4096
    assert second.host.mem_used == 750_000 * 1024 and second.host.mem_percent == pytest.approx(75.0)
    assert second.host.swap_used == 500 * 1024
    # A reused pid (other start time) is a new process: no delta across it.
    third = step(102.0, (160, 0, 40, 1200, 0, 0, 0, 0), (5, 0), start=999)
    assert third.procs[4211].cpu_percent == 0.0


def test_zombie_counts_as_gone_and_bad_lines() -> None:
    parser = SampleParser()
    lines = block(1.0, (1, 0, 0, 1, 0, 0, 0, 0), (1, 1))
    lines[5] = lines[5].replace(") S ", ") Z ")
    raw = feed_all(parser, lines)
    assert raw.procs == {} and set(raw.gone) == {4211, 4300}
    with pytest.raises(SampleParseError):
        parser.feed("E")
    with pytest.raises(SampleParseError):
        parse_cpu("intr 1 2 3")
    with pytest.raises(SampleParseError):
        parse_proc(1, "1 2", "no parens here")
    assert parse_df(["garbage", "a b c d e"]) == ()
    assert parser.feed("bash: some stray warning") is None
    # No pm2 daemon: "K" with nothing after it.
    lines = block(2.0, (1, 0, 0, 1, 0, 0, 0, 0), (1, 1))
    lines[4] = "K  "
    assert feed_all(parser, lines).daemon == ()


def test_downsample_keeps_spikes_and_history_is_bounded() -> None:
    values = [0.0] * 900
    values[451] = 99.0
    small = downsample(values, 60)
    assert len(small) == 60 and max(small) == 99.0
    assert downsample([1.0, 2.0], 60) == [1.0, 2.0]
    history = History(minutes=1, interval_s=1.0)
    assert history.points.maxlen == 60


async def test_the_loop_runs_for_real_and_samples_our_own_pid(tmp_path: Path) -> None:
    """The same bash loop the SSH hosts run, here through LocalTransport: real /proc, real df.

    This test process plays the pm2 daemon (its pid in pm2.pid, written without a newline as
    pm2 does) with one child, which the loop must find and sample without being told its pid.
    """
    (tmp_path / "pm2.pid").write_text(str(os.getpid()))
    child = subprocess.Popen(["sleep", "30"])
    try:
        parser, deltas = SampleParser(), DeltaComputer()
        argv = sampler_argv((os.getpid(), 2**22 + 7), 0.2, 2, ("/",), str(tmp_path))
        samples = []
        async with asyncio.timeout(15):
            async with LocalTransport().stream(argv) as lines:
                async for kind, line in lines:
                    assert kind == "stdout", line
                    raw = parser.feed(line)
                    if raw is not None:
                        samples.append(deltas(raw, parser.header))
                        if len(samples) == 3:
                            break
    finally:
        child.kill()
        child.wait()
    assert parser.header.ncpu >= 1 and parser.header.clk_tck > 0
    last = samples[-1]
    assert os.getpid() in last.procs and last.procs[os.getpid()].rss_bytes > 1_000_000
    # Other children of this test process (left by earlier tests) may come and go too.
    assert 2**22 + 7 in last.gone and child.pid not in last.gone
    assert last.daemon is not None and last.daemon[0] == os.getpid()
    assert child.pid in last.daemon[1:] and child.pid in last.procs
    assert last.host.mem_total > 0 and last.host.disks and last.host.disks[0].size_kb > 0


def test_local_sampler_uses_psutil(tmp_path: Path) -> None:
    sampler = LocalSampler(("/",), str(tmp_path))
    sample = sampler.sample([os.getpid(), 2**22 + 9])
    assert sample.host.mem_total > 0 and sample.host.ncpu >= 1
    assert os.getpid() in sample.procs and sample.gone == (2**22 + 9,)
    assert sample.host.disks and sample.host.disks[0].mount == "/"
    assert sample.daemon == ()  # no pm2 daemon there
    # This process as the "daemon": its children are watched and sampled, like the remote loop.
    (tmp_path / "pm2.pid").write_text(str(os.getpid()))
    child = subprocess.Popen(["sleep", "30"])
    try:
        sample = sampler.sample([os.getpid()])
    finally:
        child.kill()
        child.wait()
    # The daemon first, then its children: ours, and any other child the test runner has at
    # that moment (a subprocess of an earlier test still being reaped), so not an exact tuple.
    assert sample.daemon[0] == os.getpid() and child.pid in sample.daemon[1:]
    assert child.pid in sample.procs
