"""baseline_before_deploy: the one call after BACKUP for the console and the headless deploy.
It samples only when the watch is on, and a failure is a journal note, never an exception."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tui.core import watch_baseline
from tui.core.config import Config, load_config
from tui.core.journal import Journal
from tui.core.transport import TransportError
from tui.core.watch_rules import WatchBaseline

CONFIG = """
[app]
name = "demo"
root = "/srv/demo"

[[hosts]]
name = "local"
transport = "local"

[policy]
watch_minutes = {minutes}
"""


def config_with(tmp_path: Path, minutes: int) -> Config:
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG.format(minutes=minutes))
    return load_config(path)


def workflow(config: Config, journal: Journal) -> Any:
    dep = journal.start_deployment("demo", "main")
    return SimpleNamespace(config=config, journal=journal, transport=None, deployment_id=dep.id)


def notes(journal: Journal, dep_id: int) -> list[str]:
    return [e.message for e in journal.events(deployment_id=dep_id, kinds=["note"])]


async def test_sampled_and_kept_when_the_watch_is_on(tmp_path, journal, monkeypatch) -> None:
    wf = workflow(config_with(tmp_path, 5), journal)
    taken = WatchBaseline(1.5, {0: 2}, {}, "timestamps", "")

    async def fake_sample(verifier: Any, **kwargs: Any) -> WatchBaseline:
        return taken

    monkeypatch.setattr(watch_baseline, "sample_baseline", fake_sample)
    assert await watch_baseline.baseline_before_deploy(wf) == taken
    dep = journal.deployment(wf.deployment_id)
    assert dep is not None and dep.data["watch_baseline"] == taken.to_json()


async def test_not_sampled_when_the_watch_is_off(tmp_path, journal, monkeypatch) -> None:
    wf = workflow(config_with(tmp_path, 0), journal)

    async def never(verifier: Any, **kwargs: Any) -> WatchBaseline:
        raise AssertionError("sampled with watch_minutes = 0")

    monkeypatch.setattr(watch_baseline, "sample_baseline", never)
    assert await watch_baseline.baseline_before_deploy(wf) is None
    assert notes(journal, wf.deployment_id) == []


@pytest.mark.parametrize("error", [TransportError("web1: connection lost"), OSError("disk full")])
async def test_a_failure_is_a_note_not_an_exception(
    tmp_path, journal, monkeypatch, error: Exception
) -> None:
    wf = workflow(config_with(tmp_path, 5), journal)

    async def broken(verifier: Any, **kwargs: Any) -> WatchBaseline:
        raise error

    monkeypatch.setattr(watch_baseline, "sample_baseline", broken)
    assert await watch_baseline.baseline_before_deploy(wf) is None
    assert notes(journal, wf.deployment_id) == [f"watch baseline not sampled: {error}"]
    events = journal.events(deployment_id=wf.deployment_id, kinds=["note"])
    assert [e.step for e in events] == ["watch"]
