"""Time to the first frame of `shipdeck` vs a bare Textual app, in the same run.

Each app runs in a fresh interpreter (imports count: they are most of a cold start) under
`headless=True`; the child prints the time of Textual's Ready event (DOM ready, first frame
displayed) measured from the child's own process start. Prints one JSON object.

Both apps run from cached bytecode, as an installed shipdeck does (pip compiles on install;
Textual's own .pyc come from its install): the children get a private PYTHONPYCACHEPREFIX that
one untimed run of each fills first. Without this, an environment with PYTHONDONTWRITEBYTECODE
set (as CI and sandboxes often are) recompiles every shipdeck module on every start while
Textual's stay compiled, and the ratio measures the compiler.

Also reported: when the Footer has its keys (`*_footer_ms`; Textual fills them one refresh
after the first frame, in both apps) and resident memory then (`*_rss_mb`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7

_PRELUDE = """
import os, time, psutil
_start = psutil.Process(os.getpid()).create_time()
_ms = lambda: (time.time() - _start) * 1000
# Textual's Footer fills in its keys one refresh after the first frame (in both apps); the time
# it has them is reported too, so that nothing can move out of the first frame unnoticed.
from textual.widgets import Footer as _Footer
_recompose = _Footer.recompose
_seen = {}
async def _timed_recompose(self):
    await _recompose(self)
    if self.children and "ready" in _seen and "settled" not in _seen:
        _seen["settled"] = _ms()
        _done(self.app)
_Footer.recompose = _timed_recompose
def _done(app):
    rss = psutil.Process().memory_info().rss / 2**20
    print("FIRST_FRAME_MS", _seen["ready"], rss, _seen["settled"], flush=True)
    app.exit()
def _report(app):
    _seen["ready"] = _ms()
    if app.screen.query(_Footer).first().children:  # the keys came before the first frame
        _seen["settled"] = _seen["ready"]
        _done(app)
"""

BARE = _PRELUDE + """
from textual.app import App
from textual.widgets import Footer, Static
class Bare(App):
    def compose(self):
        yield Static("hello")
        yield Footer()
    def on_ready(self):
        _report(self)
Bare().run(headless=True, size=(120, 40))
"""

SHIPDECK = _PRELUDE + """
import sys
from tui.context import open_context
from tui.app import ShipdeckApp
ctx = open_context(sys.argv[1], sys.argv[2])
class Timed(ShipdeckApp):
    def on_ready(self):
        _report(self)
Timed(ctx, connect_on_start=False, poll_processes=False).run(headless=True, size=(120, 40))
"""

CONFIG = """
[app]
name = "bench"
root = "/srv/bench"
[[hosts]]
name = "local"
address = "127.0.0.1"
transport = "local"
"""


def first_frame(code: str, *args: str, env: dict[str, str]) -> tuple[float, float, float]:
    """(ms to the first frame, RSS in MB, ms to the footer's keys) of one fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120, env=env,
    ).stdout
    for line in out.splitlines():
        if line.startswith("FIRST_FRAME_MS"):
            _, ms, rss, settled = line.split()
            return float(ms), float(rss), float(settled)
    raise RuntimeError(f"no first frame reported: {out!r}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "shipdeck.toml"
        config.write_text(CONFIG)
        journal = str(Path(tmp) / "journal.sqlite3")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        # Untimed: compiles both apps' modules into the private cache.
        first_frame(BARE, env=env)
        first_frame(SHIPDECK, str(config), journal, env=env)
        bare, ours = [], []
        # Interleaved so that machine noise hits both alike.
        for _ in range(RUNS):
            bare.append(first_frame(BARE, env=env))
            ours.append(first_frame(SHIPDECK, str(config), journal, env=env))
    bare_ms = statistics.median(ms for ms, _, _ in bare)
    ours_ms = statistics.median(ms for ms, _, _ in ours)
    bare_settled = statistics.median(s for _, _, s in bare)
    ours_settled = statistics.median(s for _, _, s in ours)
    print(json.dumps({
        "shipdeck_first_frame_ms": round(ours_ms, 1),
        "bare_textual_ms": round(bare_ms, 1),
        "ratio": round(ours_ms / bare_ms, 2),
        "runs": RUNS,
        "bytecode": "cached",
        "shipdeck_footer_ms": round(ours_settled, 1),
        "bare_textual_footer_ms": round(bare_settled, 1),
        "footer_ratio": round(ours_settled / bare_settled, 2),
        "shipdeck_rss_mb": round(statistics.median(rss for _, rss, _ in ours), 1),
        "bare_textual_rss_mb": round(statistics.median(rss for _, rss, _ in bare), 1),
    }))


if __name__ == "__main__":
    main()
