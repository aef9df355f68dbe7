"""Local filesystem helpers for release directories.

The atomic switch is a new symlink renamed over the old one: rename(2) replaces `current` in one
step, so a reader sees either the old target or the new one, never a missing link.
"""

from __future__ import annotations

import os
from pathlib import Path


def switch_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)
