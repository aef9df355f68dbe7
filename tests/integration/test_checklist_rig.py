"""Environment items over the rig's sshd: env var names of the live pm2 app, secret file age.

Read-only on the rig (the app is not touched); the secret files live in a temporary directory
on the host that the test removes again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.rigenv import RigEnv
from tui.core.checklist import ItemState
from tui.core.checklist_runner import ChecklistRunner
from tui.core.config import load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal


def rig_config(rig: RigEnv, tmp_path: Path, checklist: str):
    path = tmp_path / "shipdeck.toml"
    # The rig's config has a [checklist] table already: add the keys to it.
    path.write_text(rig.config.read_text().replace("[checklist]\n", "[checklist]\n" + checklist))
    return load_config(path)


@pytest.fixture
async def remote_dir(rig: RigEnv, tmp_path: Path):
    config = rig_config(rig, tmp_path, "")
    pool = HostPool(config)
    made = await pool.primary.run(["mktemp", "-d"], check=True)
    path = made.stdout.strip()
    yield path
    await pool.primary.run(["rm", "-rf", "--", path])
    await pool.close()


async def test_env_var_names_on_the_target_values_never_read(rig: RigEnv, tmp_path: Path) -> None:
    config = rig_config(rig, tmp_path, 'env_vars = ["PORT", "NODE_ENV", "SHOP_API_KEY"]\n')
    journal = Journal(tmp_path / "j.sqlite3")
    pool = HostPool(config, journal)
    try:
        runner = ChecklistRunner(config, journal, pool)
        result = (await runner.run(["env_vars"]))["env_vars"]
    finally:
        await pool.close()
    assert result.state == ItemState.FAIL, result
    assert result.summary == "missing: SHOP_API_KEY"
    assert "PORT: present" in result.detail and "pm2 env of 2 demo process(es)" in result.detail
    # Only names crossed the link: the port value (the app's env) is nowhere.
    port = str(rig.app_port)
    everything = " ".join(e.message + e.output_tail + str(e.data) for e in journal.events())
    assert port not in result.detail and port not in everything
    journal.close()


async def test_secret_file_age_over_ssh(rig: RigEnv, tmp_path: Path, remote_dir: str) -> None:
    fresh, old = f"{remote_dir}/fresh.env", f"{remote_dir}/old.env"
    checklist = f'secret_files = ["{fresh}", "{old}"]\nsecret_max_age_days = 90\n'
    config = rig_config(rig, tmp_path, checklist)
    journal = Journal(tmp_path / "j.sqlite3")
    pool = HostPool(config, journal)
    try:
        await pool.primary.run(["touch", fresh], check=True)
        await pool.primary.run(["touch", "-d", "120 days ago", old], check=True)
        runner = ChecklistRunner(config, journal, pool, clock=time.time)
        result = (await runner.run(["secrets"]))["secrets"]
        assert result.state == ItemState.FAIL
        assert result.summary == f"{old} is 120 days old (max 90 days)"
        await pool.primary.run(["rm", "-f", old], check=True)
        result = (await runner.run(["secrets"]))["secrets"]
        assert result.summary == f"{old} missing (max 90 days)"
        await pool.primary.run(["touch", old], check=True)
        result = (await runner.run(["secrets"]))["secrets"]
        assert result.state == ItemState.PASS
        assert result.summary == "2 file(s) younger than 90 days"
    finally:
        await pool.close()
        journal.close()
