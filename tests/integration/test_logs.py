"""Streaming logs from the real rig: pm2's out/err files of the demo app over the rig's sshd.

The demo app logs one INFO line per request on stdout and an ERROR line on stderr for /boom.
Every request here carries a unique path so the test finds exactly its own lines, whatever else
runs against the rig at the same time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.helpers import until
from tests.rigenv import RigEnv
from tui.core.config import Config, load_config
from tui.core.log_buffer import ERROR, HOST, LEVEL, MARK, PROCESS, STREAM, TEXT
from tui.core.logs import HostFollower, LogHub, LogSource, LogStore
from tui.core.transport import make_transport


@pytest.fixture
def rig_config(rig: RigEnv) -> Config:
    return load_config(rig.config)


@pytest.fixture
async def hub(rig_config: Config) -> AsyncIterator[LogHub]:
    transports = [make_transport(h) for h in rig_config.hosts]
    hub = LogHub(rig_config, transports)
    task = asyncio.create_task(hub.run())
    follower = hub.followers["rig"]
    try:
        await until(lambda: follower.state == "following" and follower.files, 30,
                    "the follower is following")
        yield hub
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for t in transports:
            await t.close()


async def get(client: httpx.AsyncClient, rig: RigEnv, path: str) -> int:
    return (await client.get(rig.app_url + path)).status_code


def mine(store: LogStore, tag: str) -> list[tuple]:
    return [ln for ln in store.buffer if tag in ln[TEXT]]


async def test_requests_and_errors_arrive_with_host_and_stream(rig: RigEnv, hub: LogHub) -> None:
    store = hub.store
    tag = f"/logs-it-{uuid.uuid4().hex[:8]}"
    start = store.buffer.last_seq
    errors_before = store.rates.totals.get("rig", 0)
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(5):
            assert await get(client, rig, f"{tag}/{i}") == 404
        for _ in range(3):
            assert await get(client, rig, "/boom") == 500
    await until(lambda: len(mine(store, tag)) == 5, what="the 5 request lines")
    lines = mine(store, tag)
    assert {ln[HOST] for ln in lines} == {"rig"}
    assert {ln[STREAM] for ln in lines} == {"out"}
    # "demo/<id>", or just "demo" when pm2 has the workers share one log file (it does after
    # some restarts on the shared rig): the follower cannot tell which worker wrote a line.
    assert all(ln[PROCESS] == "demo" or ln[PROCESS].startswith("demo/") for ln in lines), {
        ln[PROCESS] for ln in lines
    }
    assert all(ln[LEVEL] == 20 for ln in lines)

    def booms() -> list[tuple]:
        return [ln for ln in store.buffer.since(start) if "boom: simulated failure" in ln[TEXT]]

    await until(lambda: len(booms()) >= 3, what="three /boom error lines")
    assert all(ln[STREAM] == "err" and ln[LEVEL] == ERROR for ln in booms())
    assert store.rates.totals["rig"] - errors_before >= 3
    assert store.rates.per_minute("rig", store.clock()) >= 3


async def test_truncate_mid_follow_loses_no_following_line(
    rig: RigEnv, rig_config: Config, hub: LogHub
) -> None:
    store = hub.store
    follower = hub.followers["rig"]
    outs = [f.source.path for f in follower.files.values() if f.source.stream == "out"]
    assert outs, "the app has out logs"
    tag = f"/trunc-{uuid.uuid4().hex[:8]}"
    truncator = make_transport(rig_config.hosts[0])
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for i in range(10):
                await get(client, rig, f"{tag}/{i}")
            await until(lambda: len(mine(store, tag)) == 10, what="lines before the truncate")
            # Like `pm2 flush`: the files are emptied while the app keeps appending.
            await truncator.run(["truncate", "-s", "0", *outs], check=True, timeout=30)
            for i in range(10, 40):
                await get(client, rig, f"{tag}/{i}")
    finally:
        await truncator.close()
    await until(lambda: len(mine(store, tag)) >= 40, what="all 40 request lines")
    numbers = sorted(int(ln[TEXT].split(tag + "/")[1].split()[0]) for ln in mine(store, tag))
    assert numbers == list(range(40)), "every line exactly once"
    assert any("truncated" in ln[TEXT] for ln in store.buffer if ln[STREAM] == MARK)


async def test_link_drop_resumes_from_byte_offsets(rig: RigEnv, hub: LogHub) -> None:
    store = hub.store
    follower = hub.followers["rig"]
    tag = f"/drop-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(5):
            await get(client, rig, f"{tag}/{i}")
        await until(lambda: len(mine(store, tag)) == 5, what="lines before the drop")
        # The SSH connection goes away under the running follower.
        await follower.transport.close()
        await until(lambda: follower.state == "interrupted", what="the follower noticed")
        for i in range(5, 25):  # written while nobody is following
            await get(client, rig, f"{tag}/{i}")
    await until(lambda: len(mine(store, tag)) >= 25, 30, "all 25 lines after the resume")
    numbers = sorted(int(ln[TEXT].split(tag + "/")[1].split()[0]) for ln in mine(store, tag))
    assert numbers == list(range(25)), "nothing lost, nothing twice"
    marks = [ln[TEXT] for ln in store.buffer if ln[STREAM] == MARK]
    assert any(m.startswith("log follow interrupted") for m in marks)
    assert any(m.startswith("── gap ") for m in marks)


WRITER_JS = r"""
const fs = require('fs');
const [path, rate, seconds] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const fd = fs.openSync(path, 'a');
const pad = 'x'.repeat(60);
const start = Date.now();
let n = 0;
function tick() {
  const target = Math.min(rate * seconds, Math.floor((Date.now() - start) / 1000 * rate));
  let out = '';
  while (n < target) { out += `${new Date().toISOString()} INFO line ${n} ${pad}\n`; n++; }
  if (out) fs.writeSync(fd, out);
  if (n < rate * seconds) setTimeout(tick, 5); else { fs.closeSync(fd); console.log(n); }
}
tick();
"""


async def test_5000_lines_per_second_through_sshd_every_line_counted(
    rig: RigEnv, rig_config: Config
) -> None:
    rate, seconds = 5000, 5
    path = f"{rig.dir}/tmp/logs-it-{uuid.uuid4().hex[:8]}.log"
    host = rig_config.hosts[0]
    follow_t, write_t = make_transport(host), make_transport(host)
    store = LogStore(rate * seconds * 2)

    async def discover() -> list[LogSource]:
        return [LogSource(path, "writer/0", "out")]

    follower = HostFollower(follow_t, store, discover, initial_lines=0)
    task = asyncio.create_task(follower.run())
    try:
        await write_t.run(["touch", path], check=True, timeout=30)
        await until(lambda: follower.state == "following" and path in follower.files and
                    follower.files[path].ino != "", 30, "following the new file")
        result = await write_t.run(["node", "-e", WRITER_JS, path, str(rate), str(seconds)],
                                   check=True, timeout=seconds + 60)
        assert int(result.stdout) == rate * seconds
        await until(lambda: store.buffer.total >= rate * seconds, 30, "every line")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await write_t.run(["rm", "-f", path], timeout=30)
        await follow_t.close()
        await write_t.close()
    numbers = [int(ln[TEXT].split(" ")[3]) for ln in store.buffer if ln[STREAM] != MARK]
    assert numbers == list(range(rate * seconds))
    assert store.buffer.dropped == 0


async def test_pm2_flush_mid_follow_loses_no_following_line(
    rig: RigEnv, rig_config: Config, hub: LogHub
) -> None:
    store = hub.store
    app = rig_config.app
    tag = f"/flush-{uuid.uuid4().hex[:8]}"
    flusher = make_transport(rig_config.hosts[0])
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for i in range(5):
                await get(client, rig, f"{tag}/{i}")
            await until(lambda: len(mine(store, tag)) == 5, what="lines before the flush")
            result = await flusher.run([app.pm2_bin, "flush", app.name], timeout=60,
                                       env={"PM2_HOME": app.pm2_home})
            assert result.ok, result.stderr
            for i in range(5, 25):
                await get(client, rig, f"{tag}/{i}")
    finally:
        await flusher.close()
    await until(lambda: len(mine(store, tag)) >= 25, what="all 25 request lines")
    numbers = sorted(int(ln[TEXT].split(tag + "/")[1].split()[0]) for ln in mine(store, tag))
    assert numbers == list(range(25))
