"""LocalTransport: the shared contract, plus what only a local process group can show."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest

from tests.transport_contract import TransportContract, wait_gone
from tui.core.transport import CommandTimeout, LocalTransport, Transport, make_transport


@pytest.fixture
async def transport() -> Any:
    t = LocalTransport(SimpleNamespace(name="jump", transport="local"))
    yield t
    await t.close()


class TestLocalContract(TransportContract):
    pass


def test_make_transport_picks_local() -> None:
    t = make_transport(SimpleNamespace(name="demo", transport="local"))
    assert isinstance(t, LocalTransport) and isinstance(t, Transport)


async def test_timeout_kills_the_whole_process_group(transport: LocalTransport) -> None:
    script = "sleep 300 & echo $!; wait"
    with pytest.raises(CommandTimeout) as info:
        await transport.run(["sh", "-c", script], timeout=0.5)
    assert info.value.host == "jump" and str(info.value).startswith("jump: ")
    assert await wait_gone(transport, int(info.value.partial.stdout))


async def test_env_is_added_to_the_inherited_environment(transport: LocalTransport) -> None:
    r = await transport.run(
        ["sh", "-c", 'printf "%s|%s" "$PATH" "$SHIPDECK_X"'], env={"SHIPDECK_X": "1"}
    )
    assert r.stdout == f"{os.environ['PATH']}|1"


async def test_not_executable_is_126(transport: LocalTransport, tmp_path: Any) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    r = await transport.run([str(script)])
    assert r.exit_status == 126


async def test_forward_local_port_is_identity(transport: LocalTransport) -> None:
    assert await transport.forward_local_port("127.0.0.1", 3000) == 3000
