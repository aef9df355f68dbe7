"""Environment items over the rig's sshd: env var names of the live pm2 app, secret file age.

Read-only on the rig (the app is not touched); the secret files live in a temporary directory
on the host that the test removes again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.rigenv import RigEnv
from tui.core.checklist import ItemResult, ItemState
from tui.core.checklist_runner import ChecklistRunner
from tui.core.config import Config, load_config
from tui.core.hosts import HostPool
from tui.core.journal import Event, Journal


def rig_config(rig: RigEnv, tmp_path: Path, checklist: str, tables: str = ""):
    path = tmp_path / "shipdeck.toml"
    # The rig's config has a [checklist] table already: add the keys to it (and tables after).
    text = rig.config.read_text().replace("[checklist]\n", "[checklist]\n" + checklist)
    path.write_text(text + tables)
    return load_config(path)


async def run_once(config: Config, tmp_path: Path, item: str) -> tuple[ItemResult, list[Event]]:
    """One run of one item over the rig, and what the journal holds after the pool closed."""
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        pool = HostPool(config, journal)
        try:
            result = (await ChecklistRunner(config, journal, pool).run([item]))[item]
        finally:
            await pool.close()
        return result, journal.events()
    finally:
        journal.close()


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
    result, events = await run_once(config, tmp_path, "env_vars")
    assert result.state == ItemState.FAIL, result
    assert result.summary == "missing: SHOP_API_KEY"
    assert "PORT: present" in result.detail and "pm2 env of 2 demo process(es)" in result.detail
    # Only names crossed the link: the port value (the app's env) is nowhere.
    port = str(rig.app_port)
    everything = " ".join(e.message + e.output_tail + str(e.data) for e in events)
    assert port not in result.detail and port not in everything


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


async def test_feature_flags_from_a_file_on_the_host(
    rig: RigEnv, tmp_path: Path, remote_dir: str
) -> None:
    flags = f"{remote_dir}/flags.json"
    expected = '\n[checklist.feature_flags]\nnew_checkout = true\n"payments.provider" = "stripe"\n'
    config = rig_config(rig, tmp_path, f'feature_flags_source = "{flags}"\n', expected)
    journal = Journal(tmp_path / "j.sqlite3")
    pool = HostPool(config, journal)
    doc = '{"new_checkout": true, "payments": {"provider": "adyen"}}'
    try:
        runner = ChecklistRunner(config, journal, pool)
        result = (await runner.run(["feature_flags"]))["feature_flags"]
        assert result.state == ItemState.FAIL
        assert result.summary.startswith(f"cannot read rig:{flags}: ")
        # Written on the host over SSH: the check reads what the host has, not a local copy.
        await pool.primary.run(["sh", "-c", f"printf '%s' '{doc}' > {flags}"], check=True)
        result = (await runner.run(["feature_flags"]))["feature_flags"]
        assert (result.state, result.summary) == (
            ItemState.FAIL,
            "payments.provider: expected stripe, got adyen",
        )
        assert f"read from: rig:{flags}" in result.detail
        fixed = doc.replace("adyen", "stripe")
        await pool.primary.run(["sh", "-c", f"printf '%s' '{fixed}' > {flags}"], check=True)
        result = (await runner.run(["feature_flags"]))["feature_flags"]
        assert (result.state, result.summary) == (ItemState.PASS, "2 flag(s) as expected")
    finally:
        await pool.close()
        journal.close()


async def test_feature_flags_from_the_apps_endpoint_through_ssh(
    rig: RigEnv, tmp_path: Path
) -> None:
    # The demo app's /api/status as its host sees it (the config's URL), through a forward.
    source = f'feature_flags_source = "{rig.app_url}/api/status"\n'
    expected = '\n[checklist.feature_flags]\nstatus = "ok"\nbeta = "on"\n'
    config = rig_config(rig, tmp_path, source, expected)
    result, _ = await run_once(config, tmp_path, "feature_flags")
    assert (result.state, result.summary) == (ItemState.FAIL, "beta: missing")
    assert "status = ok: ok" in result.detail
    assert f"read from: {rig.app_url}/api/status" in result.detail
