"""The Verifier and `shipdeck verify` on this machine: LocalTransport, real `tail` on log files,
a stand-in `pm2` script that prints a real jlist captured from the rig, and a local HTTP server."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tui.core.config import load_config
from tui.core.health import Verifier, any_failed
from tui.core.pm2 import parse_jlist
from tui.core.transport import LocalTransport
from tui.core.verify_checks import (
    FAIL,
    INFO,
    PASS,
    WARNING,
    CheckResult,
    LogTail,
    judge_errors,
    judge_processes,
    memory_usage,
    parse_heaps,
    restart_counts,
)

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
RIG_JLIST = (FIXTURES / "jlist-rig.json").read_text()


def test_lines_in_the_seed_shape() -> None:
    assert CheckResult("Health Check", PASS).line == "Health Check: PASS"
    assert (
        CheckResult("Error Check", WARNING, "7 errors detected").line
        == "Error Check: WARNING (7 errors detected)"
    )
    assert CheckResult("Memory Usage", INFO, "demo#0 48.2MB").line == "Memory Usage: demo#0 48.2MB"
    assert any_failed([CheckResult("a", PASS), CheckResult("b", FAIL)])
    assert not any_failed([CheckResult("a", WARNING), CheckResult("b", INFO)])


# ------------------------------------------------------------------------- error logs


def tails(*counts: tuple[int, int]) -> list[LogTail]:
    """(error lines, other lines) per file."""
    out = []
    for i, (errors, other) in enumerate(counts):
        lines = ["2026-11-26T10:00:00Z ERROR boom"] * errors + ["INFO GET /health 200"] * other
        out.append(LogTail(f"/logs/{i}.log", tuple(lines)))
    return out


@pytest.mark.parametrize(
    ("counts", "line"),
    [
        (((0, 10),), "Error Check: PASS (0 errors)"),
        (((1, 10),), "Error Check: PASS (1 error)"),
        (((2, 10), (2, 0)), "Error Check: PASS (4 errors)"),
        (((3, 10), (2, 0)), "Error Check: WARNING (5 errors detected)"),
        (((7, 93),), "Error Check: WARNING (7 errors detected)"),
    ],
)
def test_error_threshold(counts: tuple[tuple[int, int], ...], line: str) -> None:
    assert judge_errors(tails(*counts), "ERROR|Error|error").line == line


def test_error_check_names_unreadable_files_but_is_never_a_failure() -> None:
    broken = LogTail("/logs/x.log", error="tail: cannot open '/logs/x.log': Permission denied")
    only = judge_errors([broken], "ERROR")
    assert only.status == WARNING and "Permission denied" in only.detail
    mixed = judge_errors([*tails((1, 0)), broken], "ERROR")
    assert mixed.line == "Error Check: PASS (1 error; 1 log file(s) unreadable)"
    assert mixed.data["files"]["/logs/x.log"] == {"error": broken.error}
    assert judge_errors([], "ERROR").status == WARNING


# -------------------------------------------------------------------- processes + memory


def rig_processes(changes: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The rig's jlist, with pm2_env fields changed per pm_id."""
    raw = json.loads(RIG_JLIST)
    for proc in raw:
        for key, value in (changes or {}).get(proc["pm_id"], {}).items():
            proc["pm2_env"][key] = value
    return raw


def test_processes_all_online() -> None:
    procs = parse_jlist(RIG_JLIST)
    result = judge_processes(procs, "demo", restart_counts(procs, "demo"))
    assert result.line == "Processes: PASS (2 online)"


def test_processes_name_the_ones_down_and_restarted() -> None:
    raw = rig_processes({0: {"status": "stopped"}, 1: {"restart_time": 4}})
    procs = parse_jlist(json.dumps(raw))
    result = judge_processes(procs, "demo", {0: 0, 1: 1})
    assert result.line == "Processes: FAIL (demo#0 stopped, demo#1 restarted 3x since deploy)"
    # Without a baseline, restarts are not judged.
    assert judge_processes(procs, "demo").line == "Processes: FAIL (demo#0 stopped)"
    assert judge_processes(procs, "other").line == "Processes: FAIL (no pm2 process named 'other')"


def test_processes_on_two_versions_fail_with_each_workers_version() -> None:
    raw = rig_processes({1: {"version": "1.1.0"}})
    procs = parse_jlist(json.dumps(raw))
    version0 = procs[0].version
    assert version0 and version0 != "1.1.0"
    result = judge_processes(procs, "demo")
    assert result.line == f"Processes: FAIL (mixed versions: demo#0 {version0}, demo#1 1.1.0)"


def test_memory_with_heap_from_the_real_jlist() -> None:
    procs = parse_jlist(RIG_JLIST)
    heaps = parse_heaps(RIG_JLIST)
    assert set(heaps) == {0, 1} and heaps[0].total_mib == pytest.approx(9.98)
    result = memory_usage(procs, "demo", heaps)
    assert result.status == INFO
    assert result.line.startswith("Memory Usage: demo#0 ")
    assert "(heap " in result.line and ", demo#1 " in result.line
    no_heap = memory_usage(procs, "demo", {})
    assert "heap" not in no_heap.line


def test_heaps_survive_a_banner_and_odd_values() -> None:
    raw = rig_processes()
    raw[0]["pm2_env"]["axm_monitor"] = {"Heap Size": {"value": "n/a"}}
    del raw[1]["pm2_env"]["axm_monitor"]
    assert parse_heaps("[PM2] Spawning PM2 daemon\n" + json.dumps(raw)) == {}


# ----------------------------------------------------------------- the Verifier, locally

BODY = b'{"status":"ok","version":"1.0.0"}'
HEALTHY = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (
    len(BODY),
    BODY,
)


@pytest.fixture
async def app_port() -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(HEALTHY)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with srv:
        yield srv.sockets[0].getsockname()[1]


def write_target(tmp_path: Path, port: int, *, errors: int, status: str = "online") -> Path:
    """A config for a local host whose `pm2` prints the rig's jlist pointed at tmp log files."""
    raw = rig_processes({1: {"status": status}})
    for proc in raw:
        n = proc["pm_id"]
        out, err = tmp_path / f"demo-out-{n}.log", tmp_path / f"demo-error-{n}.log"
        out.write_text("INFO GET /health 200\n" * 150)
        err.write_text("ERROR boom\n" * (errors if n == 0 else 0))
        proc["pm2_env"]["pm_out_log_path"], proc["pm2_env"]["pm_err_log_path"] = str(out), str(err)
    (tmp_path / "jlist.json").write_text(json.dumps(raw))
    pm2 = tmp_path / "pm2"
    # Like the real one when its daemon was not running: a banner before the JSON.
    pm2.write_text(f"#!/bin/sh\necho '[PM2] Spawning PM2 daemon'\ncat {tmp_path / 'jlist.json'}\n")
    pm2.chmod(pm2.stat().st_mode | stat.S_IXUSR)
    # The Verifier never starts a daemon: it wants a live pid in PM2_HOME/pm2.pid (ours will do).
    (tmp_path / "pm2.pid").write_text(str(os.getpid()))
    config = tmp_path / "shipdeck.toml"
    config.write_text(
        f"""
[app]
name = "demo"
root = "/srv/demo"
pm2_bin = "{pm2}"
pm2_home = "{tmp_path}"

[[hosts]]
name = "local"
transport = "local"

[health]
url = "http://127.0.0.1:{port}/health"
status_url = "http://127.0.0.1:{port}/api/status"
timeout_s = 1.0
retries = 0
"""
    )
    return config


async def test_verifier_all_pass(tmp_path: Path, app_port: int) -> None:
    config = load_config(write_target(tmp_path, app_port, errors=4))
    verifier = Verifier(config, LocalTransport(config.primary_host))
    baseline = await verifier.restart_baseline()
    results = await verifier.run_all(restarts_baseline=baseline)
    assert [r.line.split(" (")[0] for r in results][:4] == [
        "Health Check: PASS",
        "API Status: PASS",
        "Error Check: PASS",
        "Processes: PASS",
    ]
    assert results[2].line == "Error Check: PASS (4 errors)"  # last 100 lines of each file
    assert results[4].name == "Memory Usage" and "heap" in results[4].detail
    assert not any_failed(results)


async def test_verifier_warns_and_fails(tmp_path: Path, app_port: int) -> None:
    config = load_config(write_target(tmp_path, app_port, errors=7, status="errored"))
    results = await Verifier(config, LocalTransport(config.primary_host)).run_all()
    by_name = {r.name: r for r in results}
    assert by_name["Error Check"].line == "Error Check: WARNING (7 errors detected)"
    assert by_name["Processes"].line == "Processes: FAIL (demo#1 errored)"
    assert any_failed(results)


async def test_verifier_when_pm2_is_missing_or_not_running(tmp_path: Path, app_port: int) -> None:
    config = load_config(write_target(tmp_path, app_port, errors=0))
    verifier = Verifier(config, LocalTransport(config.primary_host))
    (tmp_path / "pm2.pid").unlink()
    results = await verifier.run_all()
    assert [r.status for r in results] == [PASS, PASS, WARNING, FAIL, INFO]
    assert results[3].line.startswith("Processes: FAIL (pm2 not running")
    (tmp_path / "pm2").unlink()
    (tmp_path / "pm2.pid").write_text(str(os.getpid()))
    results = await verifier.run_all()
    assert "pm2 not installed" in results[3].detail


# --------------------------------------------------------------------- shipdeck verify


async def shipdeck(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui.cli", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_exit_codes_and_json(tmp_path: Path, app_port: int) -> None:
    journal = str(tmp_path / "journal.sqlite3")
    config = str(write_target(tmp_path, app_port, errors=7))
    code, out, err = await shipdeck("verify", "--config", config, "--journal", journal)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:4] == [
        "Health Check: PASS",
        "API Status: PASS (version 1.0.0)",
        "Error Check: WARNING (7 errors detected)",
        "Processes: PASS (2 online)",
    ]
    assert lines[4].startswith("Memory Usage: demo#0 ")

    write_target(tmp_path, app_port, errors=0, status="stopped")
    code, out, err = await shipdeck("verify", "--config", config, "--journal", journal, "--json")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["ok"] is False
    assert [r["status"] for r in doc["results"]] == [PASS, PASS, PASS, FAIL, INFO]
    assert doc["results"][3]["line"] == "Processes: FAIL (demo#1 stopped)"


async def test_cli_config_error_and_unknown_host(tmp_path: Path, app_port: int) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[app]\nname = 'x'\n")
    code, _, err = await shipdeck("verify", "--config", str(bad))
    assert code == 2 and "Traceback" not in err and err.strip()
    config = str(write_target(tmp_path, app_port, errors=0))
    code, _, err = await shipdeck(
        "verify", "--config", config, "--journal", str(tmp_path / "j"), "--host", "nope"
    )
    assert code == 2 and "unknown host 'nope'" in err


async def test_cli_unreachable_host_is_one_line(tmp_path: Path) -> None:
    # Nothing listens on this port: connect fails fast with a typed TransportError.
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    known = tmp_path / "known_hosts"
    known.write_text("")
    config = tmp_path / "remote.toml"
    config.write_text(
        f'[app]\nname = "demo"\nroot = "/srv/demo"\n\n[[hosts]]\nname = "web1"\n'
        f'address = "127.0.0.1"\nport = {port}\nknown_hosts = "{known}"\n'
    )
    code, out, err = await shipdeck(
        "verify", "--config", str(config), "--journal", str(tmp_path / "j")
    )
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "web1" in err and "Traceback" not in err


def test_rig_jlist_fixture_is_what_the_heap_parser_expects() -> None:
    raw = copy.deepcopy(json.loads(RIG_JLIST))
    assert all("Used Heap Size" in p["pm2_env"]["axm_monitor"] for p in raw)
