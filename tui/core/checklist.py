"""The pre-deploy checklist: the seed's five sections, their items, and what state each is in.

Each item is automated (a machine can tell) or signed off (only a person can). Results of
automated checks are journaled as ``check`` events (step "checklist"), sign-offs as sign_offs
rows, so the state of a deployment's checklist is rebuilt from the journal after a restart
(``load_results``). The checks live in checklist_checks.py, the concurrent runner in
checklist_runner.py, the gate in checklist_gate.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from tui.core.config import Config


class ItemKind(StrEnum):
    AUTOMATED = "automated"
    SIGNED = "signed"


class ItemState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASS = "pass"
    FAIL = "fail"
    WARNING = "warning"
    SIGNED = "signed"
    SKIPPED = "skipped"


#: States that let the gate through for a required item. A WARNING passed with a caveat
#: (as in `shipdeck verify`); SKIPPED always carries the reason why the item does not apply.
SATISFIED = frozenset({ItemState.PASS, ItemState.WARNING, ItemState.SIGNED, ItemState.SKIPPED})

CHECK_STEP = "checklist"  # the journal step of check events and checklist notes


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    section: str
    label: str
    kind: ItemKind
    optional: bool = False
    # Satisfied by the deployment's own steps (BACKUP, the deploy-started notification): before
    # a deployment exists these are "pending" without blocking a pre-flight `shipdeck check`.
    by_deployment: bool = False
    command: tuple[str, ...] = ()  # custom items: run on every host, judged by `judge`
    custom: bool = False
    judge: str = "exit0"  # custom items: "exit0" | "regex" | "budget" (see config_models)
    pattern: str = ""
    fail_pattern: str = ""
    budget: float = 0.0


@dataclass(frozen=True)
class ItemResult:
    """The state of one item, with a one-line summary and the output behind it."""

    item_id: str
    state: ItemState
    summary: str = ""
    detail: str = ""  # the check's output (redacted), what `enter` shows
    ts: float | None = None
    duration: float | None = None
    who: str = ""  # sign-offs and overrides: local user @ jump host
    note: str = ""
    link: str = ""
    signable: bool = False  # an automated item nothing can check here: a person may sign it
    data: Mapping[str, Any] = field(default_factory=dict)


SECTIONS = ("Code Quality", "Build", "Environment", "Communication", "Safety")

_A, _S = ItemKind.AUTOMATED, ItemKind.SIGNED

DEFAULT_ITEMS: tuple[ChecklistItem, ...] = (
    ChecklistItem("tests", "Code Quality", "All tests passing (unit, integration, e2e)", _A),
    ChecklistItem("review", "Code Quality", "Code reviewed and approved", _S),
    ChecklistItem("lint", "Code Quality", "No linting errors", _A),
    ChecklistItem("typescript", "Code Quality", "No TypeScript errors", _A),
    ChecklistItem("console_log", "Code Quality", "No console.log statements", _A),
    ChecklistItem("build", "Build", "Production build successful", _A),
    ChecklistItem("bundle_size", "Build", "Bundle size acceptable", _A),
    ChecklistItem("build_warnings", "Build", "No build warnings", _A),
    ChecklistItem("env_vars", "Environment", "All environment variables configured", _A),
    ChecklistItem("secrets", "Environment", "Secrets up to date", _A),
    ChecklistItem("migrations", "Environment", "Database migrations ready", _A),
    ChecklistItem("feature_flags", "Environment", "Feature flags set correctly", _A),
    ChecklistItem(
        "pm2_cluster_ready", "Environment", "pm2 ready for zero-downtime reloads", _A
    ),
    ChecklistItem(
        "team_notified", "Communication", "Team notified of deployment", _A, by_deployment=True
    ),
    ChecklistItem("stakeholders", "Communication", "Stakeholders informed (if major)", _S),
    ChecklistItem("support", "Communication", "Support team aware", _S),
    ChecklistItem("rollback_plan", "Safety", "Rollback plan documented", _S),
    ChecklistItem("db_backup", "Safety", "Database backup completed", _A, by_deployment=True),
    ChecklistItem("version_noted", "Safety", "Current version noted", _A, by_deployment=True),
    ChecklistItem("monitoring", "Safety", "Monitoring dashboard open", _A),
)

#: Items whose state is read from the journal each time (cheap), not run as a command.
JOURNAL_ITEMS = frozenset({"team_notified", "db_backup", "version_noted", "monitoring"})

#: The optional infrastructure-as-code item (issue 7): enabled by a custom item with this id.
IAC_ITEM_ID = "iac_plan"


def build_items(config: Config) -> tuple[ChecklistItem, ...]:
    """The default items plus the config's custom ones. A custom item with a default item's id
    replaces that item's check with its own command (e.g. a real feature-flag check)."""
    cfg = config.checklist
    optional = set(cfg.optional)
    items = {i.id: i for i in DEFAULT_ITEMS}
    for custom in cfg.items:
        base = items.get(custom.id)
        kind = ItemKind.SIGNED if custom.judge == "manual" else ItemKind.AUTOMATED
        section = _section(custom.section) if base is None else base.section
        items[custom.id] = ChecklistItem(
            id=custom.id,
            section=section,
            label=custom.label,
            kind=kind,
            command=tuple(custom.command),
            custom=True,
            judge=custom.judge,
            pattern=custom.pattern,
            fail_pattern=custom.fail_pattern,
            budget=custom.budget,
            optional=custom.id == IAC_ITEM_ID and base is None,
        )
    return tuple(replace(i, optional=i.optional or i.id in optional) for i in items.values())


def _section(name: str) -> str:
    """Config sections are matched case- and space-insensitively to the five; others stay."""
    key = name.replace("_", " ").replace("-", " ").strip().lower()
    for section in SECTIONS:
        if section.lower() == key:
            return section
    return name.strip().title() if name.strip().lower() == "custom" else name.strip()


def sections_of(items: Iterable[ChecklistItem]) -> tuple[str, ...]:
    """The five sections in order, then any custom ones in the order they appear."""
    extra = [i.section for i in items if i.section not in SECTIONS]
    return SECTIONS + tuple(dict.fromkeys(extra))


def state_word(state: ItemState) -> str:
    return {
        ItemState.PASS: "PASS",
        ItemState.FAIL: "FAIL",
        ItemState.WARNING: "WARNING",
        ItemState.SIGNED: "signed",
        ItemState.SKIPPED: "skipped",
        ItemState.RUNNING: "running",
        ItemState.PENDING: "pending",
    }[state]


def item_line(item: ChecklistItem, result: ItemResult | None) -> str:
    """`[Code Quality] No console.log statements: FAIL (src/a.js:12, src/b.js:40)`."""
    state = result.state if result is not None else ItemState.PENDING
    line = f"[{item.section}] {item.label}: {state_word(state)}"
    why = ""
    if result is not None:
        why = result.summary
        if state == ItemState.SIGNED and result.who:
            why = f"by {result.who}" + (f": {result.note}" if result.note else "")
    if why:
        line += f" ({why})"
    if item.optional and state not in SATISFIED:
        line += " [optional]"
    return line
