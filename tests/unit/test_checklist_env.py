"""Env var names from a .env file on the target: names only, values never reach the console."""

from __future__ import annotations

from pathlib import Path

from tui.core.checklist import ItemState
from tui.core.checklist_runner import ChecklistRunner
from tui.core.config import load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal


async def test_dotenv_names_checked_without_reading_values(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# comment\nDATABASE_URL=postgres://u:hunter2@db/shop\nexport API_KEY = s3cr3t-value\n"
        "not a line\n"
    )
    path = tmp_path / "shipdeck.toml"
    path.write_text(f"""
[app]
name = "shop"
root = "{tmp_path}"
layout = "in-place"
pm2_bin = "/nonexistent/pm2"

[[hosts]]
name = "local"
transport = "local"

[checklist]
env_vars = ["DATABASE_URL", "API_KEY", "REDIS_URL"]
""")
    config = load_config(path)
    journal = Journal(tmp_path / "j.sqlite3")
    runner = ChecklistRunner(config, journal, HostPool(config, journal))
    result = (await runner.run(["env_vars"]))["env_vars"]
    assert result.state == ItemState.FAIL
    assert result.summary == "missing: REDIS_URL"
    assert "DATABASE_URL: present" in result.detail and f"{tmp_path}/.env" in result.detail
    seen = result.detail + " ".join(e.message + e.output_tail for e in journal.events())
    assert "hunter2" not in seen and "s3cr3t" not in seen
    journal.close()
