"""The command line as scripts see it: exit codes and one-line errors, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from tui import __version__

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[app]
name = "api"
root = "/srv/api"

[[hosts]]
name = "web1"
address = "10.0.0.1"

[[hosts]]
name = "web2"
address = "10.0.0.2"
"""


def shipdeck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )


def test_version_and_help() -> None:
    assert shipdeck("--version").stdout.strip() == f"shipdeck {__version__}"
    out = shipdeck("--help").stdout
    for command in ("tui", "demo", "config"):
        assert command in out


def test_config_check_ok(tmp_path: Path) -> None:
    path = tmp_path / "shipdeck.toml"
    path.write_text(GOOD)
    result = shipdeck("config", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: 2 hosts, app api"


def test_config_check_uses_the_discovered_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text(GOOD)
    result = shipdeck("config", "check", "--config", str(path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[app\nname='x'", ":1: "),
        (GOOD.replace('address = "10.0.0.1"', 'address = "10.0.0.1"\nport = 70000'), ".port:"),
        (GOOD + "\n[surprise]\nx = 1\n", "surprise"),
    ],
)
def test_config_check_problems_exit_2_one_line_each(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = shipdeck("config", "check", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith(f"{path}:") for line in lines)
    assert fragment in result.stderr


def test_console_with_a_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    result = shipdeck("--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nope.toml" in result.stderr


def test_unwritable_journal_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "shipdeck.toml"
    path.write_text(GOOD)
    blocker = tmp_path / "afile"
    blocker.write_text("")
    result = shipdeck("--config", str(path), "--journal", str(blocker / "j.sqlite3"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
