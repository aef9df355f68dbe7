"""The post-deploy watch on the real rig: real sshd, pm2, the demo app's HTTP and log files.

Each test runs an app of its own (own pm2 name, port and root; see test_workflow_support), so
the rig's `demo` app and other tests never show up in the numbers. Windows are short (~20 s,
a sample every 2 s) to keep the suite lean.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.test_workflow_support import (
    _SETUP,
    FIRST_RELEASE,
    OwnApp,
    _answers,
    free_port,
    served_version,
    ssh,
    write_own_config,
)
from tests.rigenv import RigEnv, wait_until
from tui.core.config import load_config
from tui.core.health import Verifier
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.watch import (
    ALARMED,
    CLEAN,
    AlarmRules,
    Watch,
    baseline_for_workflow,
    sample_baseline,
    watch_for_workflow,
    watch_outcome,
)
from tui.core.workflow import Workflow


@pytest.fixture
def app(rig: RigEnv, tmp_path: Path) -> Iterator[OwnApp]:
    """An app of the test's own under a pm2 daemon of its own: other tests' `rig/reset-app`
    runs `pm2 delete all` on the rig's daemon, which would take a shared-daemon app away
    mid-watch (seen when several suites run at once)."""
    with own_app_under_own_pm2(rig, tmp_path) as own:
        yield own


@contextmanager
def own_app_under_own_pm2(rig: RigEnv, tmp: Path) -> Iterator[OwnApp]:
    """make_own_app_with_home with a fresh PM2_HOME; the daemon, app and home removed after."""
    home = f"{rig.dir}/tmp/watch-pm2-{secrets.token_hex(3)}"
    own = make_own_app_with_home(rig, tmp, home)
    try:
        yield own
    finally:
        ssh(rig, "env", f"PM2_HOME={home}", "pm2", "kill", check=False)
        ssh(rig, "rm", "-rf", own.root, own.backup_dir, home, check=False)


def make_own_app_with_home(rig: RigEnv, tmp: Path, home: str) -> OwnApp:
    name = f"watch-{secrets.token_hex(3)}"
    root = f"{rig.dir}/tmp/wf/{name}"
    port = free_port()
    app = OwnApp(rig, name, root, port, "releases", tmp / "shipdeck.toml", f"{root}-backups")
    # The daemon starts with this command's environment: keep it small, and with the cluster
    # scheduling that lets reloads lose no connection (RIG-NOTES).
    ssh(rig, "env", f"PM2_HOME={home}", "NODE_CLUSTER_SCHED_POLICY=none", "sh", "-euc", _SETUP,
        "sh", root, str(rig.origin), "releases", name, str(port), FIRST_RELEASE,
        timeout=180)  # fmt: skip
    write_own_config(app, home)
    wait_until(lambda: _answers(app), 30, interval=0.2, what=f"{name} on port {port}")
    return app


async def wait_for(cond, timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def boom(url: str, count: int) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(count):
            await client.get(f"{url}/boom")


async def test_a_healthy_app_completes_clean(app: OwnApp, tmp_path: Path) -> None:
    config = load_config(app.config)
    journal = Journal(tmp_path / "j.sqlite3")
    pool = HostPool(config, journal)
    try:
        verifier = Verifier(config, pool.primary)
        dep = journal.start_deployment(app.name, "main")
        baseline = await sample_baseline(verifier, journal=journal, deployment_id=dep.id)
        assert baseline.source == "timestamps", baseline  # the demo app stamps its lines
        assert len(baseline.memory_bytes) == 2 and len(baseline.restarts) == 2
        watch = Watch(config, verifier, journal, deployment_id=dep.id, baseline=baseline,
                      duration_s=16, interval_s=2)  # fmt: skip
        async with asyncio.timeout(90):
            result = await watch.run()
        assert result.state == CLEAN, result.message
        assert watch.confirm_unlocked and watch_outcome(journal, dep.id) == CLEAN
        assert len(watch.samples) >= 5
        last = watch.samples[-1]
        assert last.healthy and last.errors_per_minute == 0.0 and last.new_restarts == 0
        assert last.latency_p50_ms is not None and last.latency_p95_ms >= last.latency_p50_ms
        assert last.memory_change is not None and abs(last.memory_change) < 0.5
        checks = [e for e in journal.events(deployment_id=dep.id, kinds=["check"])
                  if e.step == "watch"]  # fmt: skip
        assert len(checks) == len(watch.samples)
        assert checks[-1].data["latency_p95_ms"] == pytest.approx(last.latency_p95_ms, abs=1e-3)
    finally:
        await pool.close()
        journal.close()


async def test_an_app_failing_mid_watch_raises_the_alarm(app: OwnApp, tmp_path: Path) -> None:
    config = load_config(app.config)
    journal = Journal(tmp_path / "j.sqlite3")
    pool = HostPool(config, journal)
    alarms = []
    task: asyncio.Task | None = None
    try:
        verifier = Verifier(config, pool.primary, backoff_s=0.1)
        dep = journal.start_deployment(app.name, "main")
        baseline = await sample_baseline(verifier)
        watch = Watch(config, verifier, journal, deployment_id=dep.id, baseline=baseline,
                      duration_s=40, interval_s=2, on_alarm=alarms.append)  # fmt: skip
        task = asyncio.create_task(watch.run())
        await wait_for(lambda: len(watch.samples) >= 2, 30, "two samples")
        assert all(s.healthy for s in watch.samples)
        # The "deploy" breaks the app mid-watch.
        await asyncio.to_thread(
            ssh, app.rig, "env", f"PM2_HOME={config.app.pm2_home}", "pm2", "stop", app.name
        )
        await wait_for(lambda: bool(alarms), 40, "the alarm")
        assert watch.state != CLEAN and not watch.confirm_unlocked
        assert alarms[0].rule == "health", alarms
        assert "Health Check" in alarms[0].cause
        watch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (event,) = journal.events(deployment_id=dep.id, kinds=["alarm"])
        assert event.step == "watch" and event.data["rule"] == "health"
    finally:
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        ssh(
            app.rig,
            "env",
            f"PM2_HOME={config.app.pm2_home}",
            "pm2",
            "restart",
            app.name,
            check=False,
        )
        await pool.close()
        journal.close()


async def test_auto_rollback_returns_to_the_previous_version(app: OwnApp, tmp_path: Path) -> None:
    config = load_config(app.config)
    journal = Journal(tmp_path / "j.sqlite3")
    pool = HostPool(config, journal)
    try:
        wf = Workflow(config, journal, pool)
        await wf.backup()
        dep_id = wf.deployment_id
        baseline = await baseline_for_workflow(wf)  # during BACKUP: v1.0.0 is live
        await wf.build()
        await wf.deploy()
        assert served_version(app.status_url) == "1.1.0"
        # Only the error-rate rule here: a fresh release's memory is not what this test is about.
        rules = AlarmRules(memory_growth=10.0)
        watch = watch_for_workflow(wf, duration_s=60, interval_s=2, auto_rollback=True,
                                   rules=rules)  # fmt: skip
        assert watch.baseline == baseline and watch.rollback == wf.rollback
        assert watch.restarts_baseline == {
            int(k): int(v) for k, v in wf.data["restarts_baseline"].items()
        }
        task = asyncio.create_task(watch.run())
        await wait_for(lambda: len(watch.samples) >= 1, 30, "the first sample")
        await boom(app.url, 30)  # the new release starts failing requests
        async with asyncio.timeout(120):
            result = await task
        assert result.state == ALARMED and result.rolled_back, result.message
        assert result.alarms[0].rule == "error_rate", result.alarms
        assert served_version(app.status_url) == "1.0.0"
        dep = journal.deployment(dep_id)
        assert dep is not None and dep.state == "rolled_back"
        actions = [e for e in journal.events(deployment_id=dep_id, kinds=["action"])
                   if e.step == "watch"]  # fmt: skip
        assert actions and "error rate" in actions[0].message
    finally:
        await pool.close()
        journal.close()
