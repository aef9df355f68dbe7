"""Soak: a real deploy on the rig under steady load, watched to the end, recorded for the corpus.

For one case: an app of its own on the rig (v1.0.0, own pm2 daemon, name and port) under a
steady load (``--rate`` requests/s on fresh connections to ``/``) for ``--warm`` seconds, so the
old release's logs cover the 2 minutes the drift baseline needs; then BACKUP (the watch's
baseline: logs, memory, 30 health probes), BUILD and DEPLOY of main (1.1.0) with the case's
demo-app switches (``DEMO_FAIL_RATE``, ...) written into the new release's ecosystem env by
BUILD (pm2 gives the app the ecosystem's env, not the reload command's), and the
post-deploy watch for ``--minutes`` (a sample every ``--interval`` s) with auto-rollback off,
the load still on. Needs the rig (rig/up).

Prints one JSON object: the alarms (rule and seconds after the release went live), the drift
findings, the samples and the load's figures. With ``--record PATH`` the watch's baseline and
recorded series are written as a corpus case (``"synthetic": false``; see
tests/fixtures/watch/README.md), with the expectation of the case:

    python3 bench/soak.py healthy --record tests/fixtures/watch/real_healthy_under_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.test_watch import own_app_under_own_pm2  # noqa: E402
from tests.integration.test_watch_releases import build_with_env  # noqa: E402
from tests.integration.test_workflow_support import LoadLoop, write_own_config  # noqa: E402
from tests.rigenv import ensure_rig_up  # noqa: E402
from tui.core.config import load_config  # noqa: E402
from tui.core.hosts import HostPool  # noqa: E402
from tui.core.journal import Journal  # noqa: E402
from tui.core.watch import baseline_for_workflow, watch_for_workflow  # noqa: E402
from tui.core.workflow import Workflow  # noqa: E402

# case -> (the new release's environment, what it is, what the watch must say)
CASES: dict[str, tuple[dict[str, str], str, dict[str, Any]]] = {
    "healthy": (
        {}, "the same code with a new version string (1.1.0)", {"alarm": None},
    ),
    "error_burst": (
        {"DEMO_FAIL_RATE": "0.1"}, "10% of requests answer 500 with an ERROR line",
        {"alarm": "error_rate", "onset_s": 0, "within_s": 60},
    ),
    "slow_release": (
        {"DEMO_EXTRA_LATENCY_MS": "150"}, "every request (health probes too) 150 ms slower",
        # the warm-up (60 s), then 20 probes: 100 s at a sample every 5 s; a round of slack
        {"alarm": "latency", "onset_s": 0, "within_s": 180},
    ),
    "leak": (
        {"DEMO_LEAK_KB_PER_REQ": "20"}, "20 KB kept forever per request (a leak)",
        # the warm-up (60 s) and the 300 s window must pass first
        {"alarm": "memory", "onset_s": 0, "within_s": 420},
    ),
    "silent_failure": (
        {"DEMO_SILENT_FAILURE": "1"}, "answers 200 but logs a WARN per request",
        {"alarm": None},  # the series rules see nothing: that is log drift's case
    ),
}  # fmt: skip


async def soak(case: str, args: argparse.Namespace) -> dict[str, Any]:
    env, what, expect = CASES[case]
    rig = ensure_rig_up()
    with tempfile.TemporaryDirectory(prefix="shipdeck-soak-") as tmp, \
            own_app_under_own_pm2(rig, Path(tmp)) as app:  # fmt: skip
        home = next(line.split('"')[1] for line in app.config.read_text().splitlines()
                    if line.startswith("pm2_home"))  # fmt: skip
        # The case's switches go into the new release's ecosystem at BUILD.
        policy = f"watch_minutes = {args.minutes}\nwatch_interval_s = {args.interval}\n"
        write_own_config(app, home, build_with_env(env) if env else "", policy=policy)
        config = load_config(app.config)
        journal = Journal(Path(tmp) / "j.sqlite3")
        pool = HostPool(config, journal)
        load = LoadLoop(app.url + "/", rate=args.rate, max_requests=10**7, max_s=3600)
        try:
            with load:
                await asyncio.sleep(args.warm)  # the old release's logs under load
                wf = Workflow(config, journal, pool)
                await wf.backup()
                baseline = await baseline_for_workflow(wf)
                await wf.build()
                await wf.deploy()
                live = time.monotonic()
                watch = watch_for_workflow(wf, auto_rollback=False)
                t0 = time.monotonic()
                result = await watch.run()
            out: dict[str, Any] = {
                "case": case,
                "result": result.state,
                "alarms": [{"rule": a.rule, "sample": a.sample_index,
                            "at_s": round(watch.samples[a.sample_index - 1].elapsed_s, 1),
                            "cause": a.cause} for a in result.alarms],
                "findings": [f.line() for f in watch.findings],
                "samples": len(watch.samples),
                "watch_started_s_after_live": round(t0 - live, 1),
                "requests": load.result.requests,
                "failed": load.result.failed,
                "baseline": baseline.line(),
            }  # fmt: skip
            if args.record:
                base = baseline.to_json()
                base.pop("templates", None)  # the series rules do not read them
                record = {
                    "name": Path(args.record).stem,
                    "synthetic": False,
                    "description": f"REAL, recorded on the rig: {what}",
                    "recorded": {
                        "how": f"python3 bench/soak.py {case} --minutes {args.minutes}"
                               f" --interval {args.interval} --rate {args.rate}"
                               f" --warm {args.warm}",
                        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "app": "examples/demo-app (rig origin: v1.0.0 -> main 1.1.0), pm2"
                               " cluster of 2, own daemon",
                        "env": env,
                        "load": f"{args.rate} req/s on fresh connections to /",
                        "watch_alarms": out["alarms"],
                    },
                    "interval_s": args.interval,
                    "duration_s": args.minutes * 60,
                    "expect": expect,
                    "baseline": base,
                    "series": watch.recorder.series().to_json(),
                }  # fmt: skip
                Path(args.record).write_text(json.dumps(record, indent=1) + "\n")
                out["record"] = args.record
            return out
        finally:
            await pool.close()
            journal.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--minutes", type=float, default=6.0, help="watch window (6)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds per sample (5)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (20)")
    parser.add_argument("--warm", type=float, default=150.0, help="seconds of load before (150)")
    parser.add_argument("--record", help="write the corpus case here")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(soak(args.case, args))))


if __name__ == "__main__":
    main()
