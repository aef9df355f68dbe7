"""Failed requests during DEPLOY under a steady, bounded load, in pm2 cluster and fork mode.

For each mode: an app of its own on the rig (v1.0.0, own pm2 name and port), then a headless
`shipdeck deploy` of main (1.1.0) while a loop sends ~50 requests/s on fresh connections to
/api/status. Needs the rig (rig/up). Prints a JSON list:
`[{"mode": "cluster", "requests": N, "failed": F, ...}, {"mode": "fork", ...}]`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.test_workflow_support import (  # noqa: E402
    LoadLoop,
    make_own_app,
    remove_own_app,
    served_version,
    shipdeck,
)
from tests.rigenv import ensure_rig_up  # noqa: E402

RATE = 50


def one(mode: str) -> dict[str, object]:
    rig = ensure_rig_up()
    with tempfile.TemporaryDirectory(prefix="shipdeck-bench-") as tmp:
        env = {"SHIPDECK_EXEC_MODE": "fork"} if mode == "fork" else {}
        app = make_own_app(rig, Path(tmp), env=env)
        try:
            t0 = time.monotonic()
            with LoadLoop(app.status_url, rate=RATE, max_requests=5000, max_s=120) as load:
                done = shipdeck(
                    "deploy", "--headless", "--yes",
                    config=app.config, journal=Path(tmp) / "j.sqlite3",
                )  # fmt: skip
            took = time.monotonic() - t0
            errors = sorted(set(load.result.errors))[:3]
            return {
                "mode": mode,
                "requests": load.result.requests,
                "failed": load.result.failed,
                "deploy_exit": done.returncode,
                "deploy_s": round(took, 2),
                "served_after": served_version(app.status_url),
                "errors": errors,
            }
        finally:
            remove_own_app(app)


def main() -> None:
    print(json.dumps([one("cluster"), one("fork")]))


if __name__ == "__main__":
    main()
