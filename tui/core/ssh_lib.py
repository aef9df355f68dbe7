"""asyncssh, imported once for the whole program with its import-time warnings silenced.

cryptography 46+ deprecates DSA and warns (CryptographyDeprecationWarning, a UserWarning) each
time asyncssh's modules name a DSA type at import: five lines on stderr before any output of
ours, on every command. shipdeck never offers DSA keys, so that warning says nothing to an
operator. The filter is narrow: that category, raised from asyncssh's own modules only; any
other warning still shows, and tests/unit/test_quiet_stderr.py fails on it.
"""

from __future__ import annotations

import warnings

try:
    from cryptography.utils import CryptographyDeprecationWarning
except ImportError:  # pragma: no cover - cryptography is a dependency of asyncssh
    CryptographyDeprecationWarning = DeprecationWarning  # type: ignore[misc,assignment]

warnings.filterwarnings(
    "ignore", category=CryptographyDeprecationWarning, module=r"asyncssh(\..*)?$"
)

import asyncssh  # noqa: E402  (the filter must be in place before the import)

__all__ = ["asyncssh"]
