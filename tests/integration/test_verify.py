"""`shipdeck verify` and the Verifier against the real rig over SSH: the demo app under pm2,
its real log files, and HTTP through the transport's SSH port forward."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.rigenv import REPO, RigEnv, wait_until
from tui.core.config import load_config
from tui.core.health import Verifier, any_failed
from tui.core.transport import make_transport
from tui.core.verify_checks import FAIL, PASS, WARNING

BOOM_PATTERN = "ERROR .*boom"


def variant(
    rig: RigEnv, tmp_path: Path, *, base: str = "", health: str = "", logs: str = ""
) -> Path:
    """The rig's config with its [health] table replaced (short timeouts; URLs under ``base``,
    the app by default; ``health`` adds keys) and a [logs] table added."""
    text = rig.config.read_text()
    text = re.sub(r"(?ms)^\[health\]\n.*?(?=^\[|\Z)", "", text)
    base = base or rig.app_url
    text += (
        f'\n[health]\ntimeout_s = 2.0\nretries = 1\nurl = "{base}/health"\n'
        f'status_url = "{base}/api/status"\n{health}\n'
    )
    if logs:
        text += f"\n[logs]\n{logs}\n"
    path = tmp_path / "shipdeck.toml"
    path.write_text(text)
    return path


def shipdeck_verify(config: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tui.cli", "verify", "--config", str(config)]
    argv += ["--journal", str(tmp_path / "journal.sqlite3"), *extra]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def app_healthy(rig: RigEnv) -> bool:
    try:
        return http_status(f"{rig.app_url}/health") == 200
    except OSError:
        return False


def pm2_on_rig(rig: RigEnv, *args: str) -> None:
    subprocess.run(rig.ssh_command("pm2", *args), capture_output=True, timeout=60, check=True)


def test_all_pass_against_the_demo_app(rig: RigEnv, tmp_path: Path) -> None:
    wait_until(lambda: app_healthy(rig), 30, what="the demo app to answer /health")
    result = shipdeck_verify(rig.config, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Health Check: PASS"
    assert re.fullmatch(r"API Status: PASS \(version \d+\.\d+\.\d+\)", lines[1]), lines[1]
    # Other tests' /boom errors may sit in the logs: either verdict is "not failed".
    assert re.fullmatch(r"Error Check: (PASS \(\d+ errors?\)|WARNING \(\d+ errors detected\))",
                        lines[2]), lines[2]  # fmt: skip
    assert re.fullmatch(r"Processes: PASS \(\d+ online\)", lines[3]), lines[3]
    assert re.fullmatch(
        r"Memory Usage: demo#\d+ [\d.]+MB \(heap [\d.]+/[\d.]+MB\)(, .*)?", lines[4]
    )


def test_stopped_app_fails_health(rig: RigEnv, tmp_path: Path) -> None:
    config = variant(rig, tmp_path)
    wait_until(lambda: app_healthy(rig), 30, what="the demo app to answer /health")
    try:
        # The rig is shared: another test's deploy or rig/up may start the app again while we
        # look. Then the processes are back online and the run says nothing; try again.
        for _ in range(3):
            pm2_on_rig(rig, "stop", rig.app_name)
            wait_until(lambda: not app_healthy(rig), 20, what="the demo app to stop answering")
            result = shipdeck_verify(config, tmp_path)
            if "Processes: PASS" not in result.stdout:
                break
    finally:
        pm2_on_rig(rig, "restart", rig.app_name)
        wait_until(lambda: app_healthy(rig), 30, what="the demo app to come back")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Health Check: FAIL ("), lines[0]
    assert "after 2 attempts" in lines[0]
    assert lines[1].startswith("API Status: FAIL (")
    assert re.fullmatch(r"Processes: FAIL \(demo#\d+ stopped(, demo#\d+ stopped)*\)", lines[3])
    assert "Traceback" not in result.stderr


def test_wrong_api_status_fails(rig: RigEnv, tmp_path: Path) -> None:
    config = variant(rig, tmp_path, health='status_expected = "maintenance"')
    result = shipdeck_verify(config, tmp_path, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "API Status: FAIL (status is 'ok', expected 'maintenance')" in result.stdout


async def test_seven_boom_errors_warn_but_do_not_fail(rig: RigEnv, tmp_path: Path) -> None:
    config_path = variant(rig, tmp_path, logs=f'error_pattern = "{BOOM_PATTERN}"')
    config = load_config(config_path)
    transport = make_transport(config.primary_host)
    verifier = Verifier(config, transport)
    try:
        before = (await verifier.check_error_logs()).data["errors"]
        for _ in range(7):
            assert await asyncio.to_thread(http_status, f"{rig.app_url}/boom") == 500
        # pm2 writes the log lines asynchronously: wait for them rather than sleep.
        deadline = time.monotonic() + 15
        while True:
            after = await verifier.check_error_logs()
            saturated = any(
                f.get("lines", 0) >= verifier.log_lines for f in after.data["files"].values()
            )
            if after.data["errors"] >= before + 7 or (saturated and after.data["errors"] >= 7):
                break
            assert time.monotonic() < deadline, f"7 boom lines never showed: {after.line}"
            await asyncio.sleep(0.1)
    finally:
        await transport.close()
    assert after.status == WARNING and after.line.endswith("errors detected)")

    result = await asyncio.to_thread(shipdeck_verify, config_path, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    line = result.stdout.splitlines()[2]
    count = int(re.fullmatch(r"Error Check: WARNING \((\d+) errors detected\)", line)[1])  # type: ignore[index]
    assert count >= 7


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server on 127.0.0.1 that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    srv = await asyncio.start_server(accept, "127.0.0.1", 0)
    async with srv:
        yield srv.sockets[0].getsockname()[1]
        for writer in held:
            writer.close()


async def test_silent_endpoint_fails_within_the_timeout(
    rig: RigEnv, tmp_path: Path, silent_port: int
) -> None:
    config = load_config(variant(rig, tmp_path, base=f"http://127.0.0.1:{silent_port}"))
    transport = make_transport(config.primary_host)
    try:
        await transport.connect()
        t0 = time.monotonic()
        results = await Verifier(config, transport).run_all()
        elapsed = time.monotonic() - t0
    finally:
        await transport.close()
    health, status = results[0], results[1]
    assert health.status == FAIL and status.status == FAIL
    assert f"no answer from 127.0.0.1:{silent_port} within 2s" in health.detail
    # Two attempts of 2 s plus one 0.5 s pause, concurrently for both URLs; never a hang.
    assert elapsed < 2 * 2.0 + 0.5 + 3.0, elapsed
    assert results[3].status == PASS  # the app itself is fine
    assert any_failed(results)
