"""The console's house rules (DESIGN.md), checked on the code: import contracts (no screen
imports another, widgets never import screens, the core never imports Textual), screens' styles
in tui/app.tcss, the context reached through one typed helper, modules under 600 lines."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

from textual.screen import Screen

import screens

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_MODULES = [*(ROOT / "screens").glob("*.py"), *(ROOT / "widgets").glob("*.py"),
                   ROOT / "tui" / "app.py", ROOT / "tui" / "context.py"]  # fmt: skip


def test_import_contracts_hold() -> None:
    # pyproject.toml's [tool.importlinter] contracts, as `lint-imports` checks them.
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


def test_screens_take_their_styles_from_app_tcss() -> None:
    for info in pkgutil.iter_modules(screens.__path__):
        module = importlib.import_module(f"screens.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__:
                assert "DEFAULT_CSS" not in vars(cls), f"{cls.__name__}: styles go in app.tcss"


def test_the_context_is_reached_through_context_of() -> None:
    for path in CONSOLE_MODULES:
        text = path.read_text()
        for needle in ("app.ctx", 'getattr(self.app, "ctx"', ".extra[", "ignore[attr-defined]"):
            assert needle not in text, f"{path.relative_to(ROOT)}: {needle}"


def test_console_modules_stay_under_600_lines() -> None:
    for path in CONSOLE_MODULES:
        lines = len(path.read_text().splitlines())
        assert lines <= 600, f"{path.relative_to(ROOT)} has {lines} lines"
