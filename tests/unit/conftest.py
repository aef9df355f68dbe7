"""Fixtures shared by the unit tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.core.journal import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """A fresh journal in tmp_path, closed afterwards (a module may define its own)."""
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()
