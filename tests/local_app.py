"""Config for the app `shop` on the local host (transport = "local"), written into a test's
tmp_path and loaded: for tests that run checklist items, notifications or the watch here,
without the rig."""

from pathlib import Path

from tui.core.config import Config, load_config

LOCAL_APP_TOML = """
[app]
name = "shop"
root = "/srv/shop"

[[hosts]]
name = "local"
transport = "local"
"""


def local_config(tmp_path: Path, extra: str = "", name: str = "shipdeck.toml") -> Config:
    """LOCAL_APP_TOML and then `extra`, written as tmp_path/name."""
    return _load(tmp_path / name, LOCAL_APP_TOML + extra)


def in_place_config(
    tmp_path: Path, extra: str = "", name: str = "shipdeck.toml", root: Path | None = None
) -> Config:
    """An in-place app whose root is `root` (default tmp_path; checks run there), and then
    `extra`; the file goes into tmp_path."""
    app = f'[app]\nname = "shop"\nroot = "{root or tmp_path}"\nlayout = "in-place"\n'
    return _load(
        tmp_path / name, app + '\n[[hosts]]\nname = "local"\ntransport = "local"\n' + extra
    )


def _load(path: Path, text: str) -> Config:
    path.write_text(text)
    return load_config(path)
