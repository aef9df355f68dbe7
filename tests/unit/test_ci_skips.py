"""Under CI a skipped test fails with its reason (tests/conftest.py); elsewhere it is a skip."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = '''
import pytest

def test_in_body():
    pytest.skip("npm is not installed")

@pytest.mark.skipif(True, reason="tmux is not installed")
def test_by_mark():
    pass

@pytest.fixture
def prerequisite():
    pytest.skip("cannot mount a tmpfs here")

def test_by_fixture(prerequisite):
    pass
'''


def run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {"PATH": "/usr/bin:/bin", **({"CI": ci} if ci else {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )


def test_under_ci_every_skip_fails_naming_what_is_missing(tmp_path: Path) -> None:
    result = run(tmp_path, "true")
    assert result.returncode == 1
    for reason in ("npm is not installed", "tmux is not installed", "cannot mount a tmpfs here"):
        assert f"CI must run this test, but it was skipped: {reason}" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_outside_ci_a_skip_is_a_skip(tmp_path: Path) -> None:
    result = run(tmp_path, None)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1].startswith("3 skipped")
