"""Keys 1-5 and R: the workflow's bindings, shared by the dashboard and the deploy screen.

Kept apart from screens/deploy.py so the dashboard can show them without importing the
workflow engine, the watch and httpx before the first frame.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType


def step_bindings() -> list[BindingType]:
    """Keys 1-5 and R: shared by the dashboard (which opens this screen) and this screen."""
    return [
        Binding("1", "step('backup')", "Backup", id="workflow.backup",
                tooltip="1 BACKUP: take the lock, note the live version, keep it, dump the DB"),
        Binding("2", "step('build')", "Build", id="workflow.build",
                tooltip="2 BUILD: fetch the ref into a new release, install, build, migrate"),
        Binding("3", "step('deploy')", "Deploy", id="workflow.deploy",
                tooltip="3 DEPLOY: switch current to the new release, reload, prove it serves"),
        Binding("4", "step('verify')", "Verify", id="workflow.verify",
                tooltip="4 VERIFY: health, API status, error logs, processes and memory"),
        Binding("5", "step('confirm')", "Confirm", id="workflow.confirm",
                tooltip="5 CONFIRM: mark the release good and write the changelog line"),
        Binding("R", "rollback", "Rollback", id="workflow.rollback",
                tooltip="Roll back to the previous good release (asks for confirmation)"),
    ]  # fmt: skip
