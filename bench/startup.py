"""Time to the first frame of `shipdeck` vs a bare Textual app, in the same run.

Each app runs in a fresh interpreter (imports count: they are most of a cold start) under
`headless=True`; the child prints the time of Textual's Ready event (DOM ready, first frame
displayed) measured from the child's own process start. Prints one JSON object.
"""

from __future__ import annotations

import json
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
def _report(app):
    print("FIRST_FRAME_MS", (time.time() - _start) * 1000, flush=True)
    app.exit()
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


def first_frame_ms(code: str, *args: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    for line in out.splitlines():
        if line.startswith("FIRST_FRAME_MS"):
            return float(line.split()[1])
    raise RuntimeError(f"no first frame reported: {out!r}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "shipdeck.toml"
        config.write_text(CONFIG)
        journal = str(Path(tmp) / "journal.sqlite3")
        bare, ours = [], []
        # Interleaved so that machine noise hits both alike.
        for _ in range(RUNS):
            bare.append(first_frame_ms(BARE))
            ours.append(first_frame_ms(SHIPDECK, str(config), journal))
    bare_ms, ours_ms = statistics.median(bare), statistics.median(ours)
    print(json.dumps({
        "shipdeck_first_frame_ms": round(ours_ms, 1),
        "bare_textual_ms": round(bare_ms, 1),
        "ratio": round(ours_ms / bare_ms, 2),
        "runs": RUNS,
    }))


if __name__ == "__main__":
    main()
