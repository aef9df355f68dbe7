import json
from pathlib import Path

import pytest

from tui.core.pm2 import Pm2Error, parse_jlist

FIXTURES = Path(__file__).parent / "fixtures"


def _proc(name: str, pm_id: int, status: str = "online") -> dict:
    return {
        "name": name,
        "pm_id": pm_id,
        "pid": 4000 + pm_id,
        "monit": {"cpu": 1.5, "memory": 52_428_800},
        "pm2_env": {
            "status": status,
            "exec_mode": "cluster_mode",
            "restart_time": 3,
            "unstable_restarts": 0,
            "pm_uptime": 1_764_000_000_000,
            "version": "1.0.0",
            "pm_cwd": "/srv/demo/releases/1",
            "pm_exec_path": "/srv/demo/releases/1/server.js",
            "pm_out_log_path": "/home/deploy/.pm2/logs/demo-out.log",
            "pm_err_log_path": "/home/deploy/.pm2/logs/demo-error.log",
            "env": {"PORT": "3000", "DB_PASSWORD": "hunter2"},
        },
    }


def test_parses_fields_and_keeps_env_names_only() -> None:
    procs = parse_jlist(json.dumps([_proc("demo", 0), _proc("demo", 2, "stopped")]))
    assert [(p.name, p.pm_id, p.status, p.mode) for p in procs] == [
        ("demo", 0, "online", "cluster"),
        ("demo", 2, "stopped", "cluster"),
    ]
    first = procs[0]
    assert first.pid == 4000 and first.restarts == 3 and first.memory_bytes == 52_428_800
    assert first.env_names == ("DB_PASSWORD", "PORT")
    assert "hunter2" not in repr(first)


def test_banner_and_spawn_messages_before_the_json() -> None:
    banner = (
        "\n                        -------------\n"
        "__/\\\\\\\\\\\\\\\\\\\\\\\\\\____/\\\\\\\\____________/\\\\\\\\____/\\\\\\\\\\\\\\\\\\_____\n"
        "[PM2] Spawning PM2 daemon with pm2_home=/tmp/x\n"
        "[PM2] PM2 Successfully daemonized\n"
    )
    procs = parse_jlist(banner + json.dumps([_proc("demo", 1)]) + "\n")
    assert [p.pm_id for p in procs] == [1]


def test_empty_list_and_garbage() -> None:
    assert parse_jlist("[]") == []
    with pytest.raises(Pm2Error):
        parse_jlist("[PM2] Spawning PM2 daemon\nnot json at all")


def test_real_captured_jlist() -> None:
    procs = parse_jlist((FIXTURES / "jlist-rig.json").read_text())
    assert len(procs) >= 2
    assert all(p.name == "demo" and p.mode == "cluster" and p.pid > 0 for p in procs)
    assert all(p.out_log.endswith(".log") for p in procs)
