"""The pm2 daemon item over the rig's sshd: the rig's daemon runs with
NODE_CLUSTER_SCHED_POLICY=none (rig/up starts it so), so the item passes (with a caveat: the rig
never ran `pm2 startup`). Read-only: no pm2 command runs, no app is touched."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_checklist_rig import rig_config, run_once
from tests.rigenv import RigEnv
from tui.core.checklist import ItemState


async def test_the_rigs_pm2_daemon_is_ready_for_cluster_reloads(
    rig: RigEnv, tmp_path: Path
) -> None:
    config = rig_config(rig, tmp_path, "")
    result, _ = await run_once(config, tmp_path, "pm2_cluster_ready")
    assert result.state in (ItemState.PASS, ItemState.WARNING), result
    assert result.summary.startswith("NODE_CLUSTER_SCHED_POLICY=none"), result.summary
    assert "NODE_CLUSTER_SCHED_POLICY=none" in result.detail and "pm2 7." in result.detail
    if result.state == ItemState.WARNING:
        assert "pm2 startup" in result.summary
