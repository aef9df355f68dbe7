"""No third-party warning reaches the operator's terminal.

A new upstream release (cryptography 51 deprecating DSA, imported by asyncssh) once put five
warning lines in front of every command's output. These tests run with every warning shown
(`-W always`), so the next one fails here instead of reaching an operator.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import screens
import tui
import widgets

ROOT = Path(__file__).resolve().parents[2]
SUBCOMMANDS = ["tui", "demo", "config", "deploy", "rollback", "verify", "check", "status",
               "history", "unlock"]


def every_module() -> list[str]:
    names = []
    for pkg in (tui, screens, widgets):
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    # Imported as the program imports it (through transport_ssh), not first on its own: the
    # filter it installs would otherwise hide what transport_ssh's own import prints.
    return sorted(names, key=lambda name: name == "tui.core.ssh_lib")


def loud_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPDECK_")}
    env.update(PYTHONWARNINGS="always", HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    return env


def test_importing_every_module_prints_nothing(tmp_path: Path) -> None:
    modules = every_module()
    assert "tui.core.transport_ssh" in modules  # the one that imports asyncssh
    code = f"import importlib\nfor m in {modules!r}:\n    importlib.import_module(m)"
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=loud_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("sub", [None, *SUBCOMMANDS])
def test_help_prints_no_warning(tmp_path: Path, sub: str | None) -> None:
    args = [sub, "--help"] if sub else ["--help"]
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=loud_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_an_ssh_command_that_fails_prints_exactly_its_reason(tmp_path: Path) -> None:
    """asyncssh is imported and used: the failure is told, and no warning comes with it."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    config = tmp_path / "shipdeck.toml"
    config.write_text(
        '[app]\nname = "api"\nroot = "/srv/api"\n\n'
        '[[hosts]]\nname = "web1"\naddress = "127.0.0.1"\nport = 1\nuser = "deploy"\n'
        f'known_hosts = "{known}"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "status", "--config", str(config),
         "--journal", str(tmp_path / "j.sqlite")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=loud_env(tmp_path),
    )
    assert result.returncode != 0
    assert "Warning" not in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) <= 1, result.stderr
    assert "cannot reach deploy@127.0.0.1:1" in result.stdout + result.stderr
