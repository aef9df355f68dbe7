"""The pre-deploy checklist: the seed's five sections and their items.

Each item is automated (a machine can tell) or signed off (only a person can). The checks and the
gate land with the checklist issue; this catalogue is what every pane and command agrees on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    section: str
    label: str
    kind: ItemKind


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
    ChecklistItem("team_notified", "Communication", "Team notified of deployment", _A),
    ChecklistItem("stakeholders", "Communication", "Stakeholders informed (if major)", _S),
    ChecklistItem("support", "Communication", "Support team aware", _S),
    ChecklistItem("rollback_plan", "Safety", "Rollback plan documented", _S),
    ChecklistItem("db_backup", "Safety", "Database backup completed", _A),
    ChecklistItem("version_noted", "Safety", "Current version noted", _A),
    ChecklistItem("monitoring", "Safety", "Monitoring dashboard open", _A),
)
