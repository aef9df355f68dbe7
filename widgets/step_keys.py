"""Keys 1-5 and R: the workflow's bindings, shared by the dashboard and the deploy screen.

Here, not in screens/deploy.py: the dashboard shows them without importing the workflow engine,
the watch and httpx before the first frame, and a screen never imports another screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from textual.binding import Binding, BindingType

#: The five step keys, by binding id (remappable from [keymap]).
STEP_KEYS: tuple[tuple[str, str], ...] = (
    ("workflow.backup", "1"),
    ("workflow.build", "2"),
    ("workflow.deploy", "3"),
    ("workflow.verify", "4"),
    ("workflow.confirm", "5"),
)

#: The description of the one Footer entry that stands for all five step keys (the dashboard's).
STEPS_SUMMARY = "Steps"


def step_bindings(*, summary: bool = False) -> list[BindingType]:
    """Keys 1-5 and R: shared by the dashboard (which opens the deploy screen) and that screen.

    With ``summary`` (the dashboard) the Footer shows the five step keys as ONE entry,
    "1-5 Steps" (see `steps_key_display`), and leaves R out; every key still works and the keys
    panel (``?``) lists each one with its tooltip.
    """
    steps = [
        Binding("1", "step('backup')", "Backup", id="workflow.backup",
                tooltip="1 BACKUP: take the lock, note the live version, keep it, dump the DB"),
        Binding("2", "step('build')", "Build", id="workflow.build", show=not summary,
                tooltip="2 BUILD: fetch the ref into a new release, install, build, migrate"),
        Binding("3", "step('deploy')", "Deploy", id="workflow.deploy", show=not summary,
                tooltip="3 DEPLOY: switch current to the new release, reload, prove it serves"),
        Binding("4", "step('verify')", "Verify", id="workflow.verify", show=not summary,
                tooltip="4 VERIFY: health, API status, error logs, processes and memory"),
        Binding("5", "step('confirm')", "Confirm", id="workflow.confirm", show=not summary,
                tooltip="5 CONFIRM: mark the release good and write the changelog line"),
        Binding("R", "rollback", "Rollback", id="workflow.rollback", show=not summary,
                tooltip="Roll back to the previous good release (asks for confirmation)"),
    ]  # fmt: skip
    if summary:
        steps[0] = Binding(
            "1", "step('backup')", STEPS_SUMMARY, id="workflow.backup",
            tooltip="Open the deploy screen and run a step: 1 Backup, 2 Build, 3 Deploy, "
                    "4 Verify, 5 Confirm",
        )  # fmt: skip
    return steps


def is_steps_summary(binding: Binding) -> bool:
    return binding.id == STEP_KEYS[0][0] and binding.description == STEPS_SUMMARY


def steps_key_display(keymap: Mapping[str, str], display: Callable[[str], str]) -> str:
    """The keys of the five steps as the Footer shows them in one entry: "1-5" while they are
    1..5, else each step's (first) key from [keymap], in step order ("b 2 3 4 5")."""
    keys = [keymap.get(step_id, key).split(",")[0].strip() for step_id, key in STEP_KEYS]
    if keys == [default for _, default in STEP_KEYS]:
        return "1-5"
    return " ".join(display(key) for key in keys)
