"""The headless commands as scripts see them: exit codes and one-line errors, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tui.core.journal import Event
from tui.headless import format_event

ROOT = Path(__file__).resolve().parents[2]


def shipdeck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def local_config(tmp_path: Path) -> Path:
    path = tmp_path / "shipdeck.toml"
    path.write_text(f"""
[app]
name = "x"
root = "{tmp_path / "app"}"

[[hosts]]
name = "here"
transport = "local"
""")
    return path


def test_destructive_commands_need_yes_without_a_tty(tmp_path: Path) -> None:
    cfg, j = str(local_config(tmp_path)), str(tmp_path / "j.sqlite3")
    for argv in (["deploy", "--headless"], ["rollback", "--headless"]):
        result = shipdeck(*argv, "--config", cfg, "--journal", j)
        assert result.returncode == 2, result.stderr
        assert "needs --yes" in result.stderr and "Traceback" not in result.stderr


def test_the_data_ways_of_rollback_are_refused_with_one_line(tmp_path: Path) -> None:
    cfg, j = str(local_config(tmp_path)), str(tmp_path / "j.sqlite3")
    common = ["rollback", "--headless", "--config", cfg, "--journal", j]
    cases = {
        ("--migrate-down",): "--migrate-down changes the database schema: it needs --yes",
        ("--yes", "--migrate-down", "--restore-db"): "restoring the pre-deploy dump already",
        ("--yes", "--restore-db"): "[database] is not enabled",
    }
    for flags, says in cases.items():
        result = shipdeck(*common, *flags)
        assert result.returncode == 2, (flags, result.stderr)
        assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1, flags
    Path(cfg).write_text(Path(cfg).read_text() + "\n[steps.rollback]\nmigrate_down = []\n")
    empty = shipdeck(*common, "--yes", "--migrate-down")
    assert empty.returncode == 2 and "migrate_down is empty" in empty.stderr, empty.stderr
    history = shipdeck("history", "--json", "--config", cfg, "--journal", j)
    assert history.returncode == 0 and history.stdout == ""  # refused before anything ran
    helped = shipdeck("rollback", "--help")
    assert "--migrate-down" in helped.stdout and "migrate_down" in helped.stdout


def test_deploy_without_headless_is_a_usage_error(tmp_path: Path) -> None:
    result = shipdeck("deploy", "--yes", "--config", str(local_config(tmp_path)))
    assert result.returncode == 2 and "--headless" in result.stderr


def test_status_history_unlock_on_an_empty_site(tmp_path: Path) -> None:
    cfg, j = str(local_config(tmp_path)), str(tmp_path / "j.sqlite3")
    status = shipdeck("status", "--config", cfg, "--journal", j)
    assert status.returncode == 0, status.stderr
    assert "lock: free" in status.stdout
    history = shipdeck("history", "--json", "--config", cfg, "--journal", j)
    assert history.returncode == 0 and history.stdout == ""
    unlock = shipdeck("unlock", "--config", cfg, "--journal", j)
    assert unlock.returncode == 0 and "no deploy lock" in unlock.stdout


def test_unlock_breaks_a_stale_lock_only_with_yes(tmp_path: Path) -> None:
    cfg, j = str(local_config(tmp_path)), str(tmp_path / "j.sqlite3")
    lock = tmp_path / "app" / ".shipdeck-lock"
    lock.mkdir(parents=True)
    (lock / "owner.json").write_text(
        '{"local_user": "ann", "jump_host": "elsewhere", "pid": 1, "started_at": 1}'
    )
    refused = shipdeck("unlock", "--config", cfg, "--journal", j)
    assert refused.returncode == 2 and "needs --yes" in refused.stderr
    assert "locked by ann@elsewhere" in refused.stdout and "(stale)" in refused.stdout
    done = shipdeck("unlock", "--yes", "--config", cfg, "--journal", j)
    assert done.returncode == 0 and not lock.exists()


def test_a_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    result = shipdeck("status", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_format_event_line() -> None:
    ev = Event(id=1, ts=0.0, deployment_id=1, host="web1", step="build", kind="command",
               message="npm ci (ok)", exit_status=0, duration=1.234)  # fmt: skip
    assert format_event(ev).endswith("web1 build command npm ci (ok) [exit 0, 1.23s]")
