"""The gate in a real deploy on the rig: refused with a failing item, let through by an override
whose reason is journaled; the team is notified through a webhook on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.test_workflow_support import (
    OwnApp,
    )
from tui.core.checklist import ItemState
from tui.core.checklist_gate import changelog_overrides, override_gate
from tui.core.checklist_runner import ChecklistRunner, gate_for_deploy
from tui.core.config import load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.notify import NotifyBridge
from tui.core.redact import Redactor
from tui.core.workflow import Workflow

THURSDAY_10AM = datetime(2026, 11, 26, 10, 0).timestamp()


@pytest.fixture
def webhook() -> Iterator[tuple[list[dict], str]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}/hooks/T0/SECRET"
    server.shutdown()
    server.server_close()


async def test_gate_refuses_then_override_lets_the_deploy_through(
    app: OwnApp, tmp_path: Path, webhook
) -> None:
    received, url = webhook
    path = app.config.with_name("gate.toml")
    # The rig's config makes most items optional for other tests; this one wants them all.
    text = re.sub(r"(?m)^optional = \[.*\]$", "", app.config.read_text())
    path.write_text(text + f'\n[notify]\nwebhooks = ["{url}"]\n')
    config = load_config(path)
    journal = Journal(tmp_path / "j.sqlite3", redactor=Redactor.from_config(config))
    pool = HostPool(config, journal)
    bridge = NotifyBridge.attach(config, journal)
    wf = Workflow(config, journal, pool)
    try:
        await wf.backup()
        await wf.build()
        dep_id = wf.deployment_id
        assert dep_id is not None
        await bridge.drain(10)  # the deploy-started notification
        clock = lambda: THURSDAY_10AM  # noqa: E731
        refused = await gate_for_deploy(config, journal, dep_id, clock=clock, pool=pool,
                                        run_missing=True)  # fmt: skip
        assert not refused.open
        # The checks ran in the release BUILD made on the target; the demo app has no tests.
        assert any(line.startswith("[Code Quality] All tests passing (unit, integration, e2e): "
                                   "FAIL (package.json has no 'test' script") for line in
                   refused.blocking)  # fmt: skip
        runner = ChecklistRunner(config, journal, pool, deployment_id=dep_id)
        await runner.refresh_journal_items()
        for item in ("db_backup", "version_noted", "team_notified"):
            assert runner.results[item].state == ItemState.PASS, runner.line(item)

        reason = "demo app has no test suite yet; smoke-tested by hand"
        override_gate(journal, dep_id, "checklist", reason, blocking=refused.blocking)
        passed = await gate_for_deploy(config, journal, dep_id, clock=clock, pool=pool)
        assert passed.open and passed.overridden == {"checklist": reason}

        await wf.deploy()
        await wf.verify()
        await wf.confirm()
    finally:
        await wf.close()
        await bridge.drain(10)
        bridge.detach()
        await pool.close()
    assert changelog_overrides(journal, dep_id) == [f"checklist: {reason}"]
    notes = [e.message for e in journal.events(deployment_id=dep_id, kinds=["note"])]
    assert any("checklist gate overridden by" in m and reason in m for m in notes)
    texts = [body["text"] for body in received]
    assert any("deploy started" in t for t in texts) and any("deploy confirmed" in t for t in texts)
    assert all("SECRET" not in e.message for e in journal.events())
    journal.close()
