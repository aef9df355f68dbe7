"""Infrastructure-as-code plans: what `terraform plan` / `tofu plan` would add, change, destroy.

Three output formats are understood, as documented by Terraform (OpenTofu keeps them):
- the human text of ``plan`` (``Plan: 1 to add, 2 to change, 1 to destroy.`` and the
  ``# addr will be destroyed`` / ``must be replaced`` headers), with or without colour;
- the machine-readable UI of ``plan -json``: one JSON object per line, ``planned_change``
  messages and a closing ``change_summary``;
- the plan representation of ``show -json PLANFILE``: one document with ``resource_changes``.
A plan that destroys anything fails the item unless destroying was allowed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SUMMARY = re.compile(
    r"Plan:\s+(?:(\d+) to import,\s+)?(\d+) to add,\s+(\d+) to change,\s+(\d+) to destroy"
)
_NO_CHANGES = re.compile(r"^\s*No changes\.", re.M)
_HEADER = re.compile(
    r"^\s*#\s+(?P<addr>\S+)\s+(?:will be (?P<will>destroyed)|(?:is tainted, so )?must be "
    r"(?P<must>replaced))",
    re.M,
)


@dataclass(frozen=True)
class Plan:
    add: int
    change: int
    destroy: int
    destroyed: tuple[str, ...] = ()  # addresses deleted outright
    replaced: tuple[str, ...] = ()  # addresses destroyed and re-created
    format: str = "text"  # "text" | "json-lines" | "json"

    @property
    def no_changes(self) -> bool:
        return self.add == self.change == self.destroy == 0

    @property
    def to_destroy(self) -> tuple[str, ...]:
        return self.destroyed + self.replaced

    def to_json(self) -> dict[str, Any]:
        return {
            "add": self.add, "change": self.change, "destroy": self.destroy,
            "destroyed": list(self.destroyed), "replaced": list(self.replaced),
            "format": self.format,
        }  # fmt: skip


def parse_plan(output: str) -> Plan | None:
    """The plan in ``output`` (any of the three formats), or None when there is none."""
    text = _ANSI.sub("", output)
    stripped = text.strip()
    if stripped.startswith("{"):
        doc = _json_document(stripped)
        if doc is not None and "resource_changes" in doc:
            return _from_show_json(doc)
        plan = _from_json_lines(stripped)
        if plan is not None:
            return plan
    return _from_text(text)


def _json_document(text: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _from_text(text: str) -> Plan | None:
    destroyed, replaced = [], []
    for m in _HEADER.finditer(text):
        (destroyed if m.group("will") else replaced).append(m.group("addr"))
    found = _SUMMARY.findall(text)
    if found:
        _, add, change, destroy = found[-1]
        return Plan(int(add), int(change), int(destroy), tuple(destroyed), tuple(replaced))
    if _NO_CHANGES.search(text):
        return Plan(0, 0, 0)
    return None


def _from_json_lines(text: str) -> Plan | None:
    destroyed: list[str] = []
    replaced: list[str] = []
    summary: dict[str, Any] | None = None
    for line in text.splitlines():
        msg = _json_document(line.strip()) if line.strip().startswith("{") else None
        if msg is None:
            continue
        kind = msg.get("type")
        if kind == "planned_change":
            change = msg.get("change") or {}
            addr = str((change.get("resource") or {}).get("addr") or "")
            action = change.get("action")
            if action == "delete":
                destroyed.append(addr)
            elif action == "replace":
                replaced.append(addr)
        elif kind == "change_summary":
            changes = msg.get("changes") or {}
            if changes.get("operation", "plan") == "plan":
                summary = changes
    if summary is None:
        return None
    return Plan(
        int(summary.get("add", 0)), int(summary.get("change", 0)), int(summary.get("remove", 0)),
        tuple(destroyed), tuple(replaced), format="json-lines",
    )  # fmt: skip


def _from_show_json(doc: dict[str, Any]) -> Plan:
    add = change = destroy = 0
    destroyed: list[str] = []
    replaced: list[str] = []
    for rc in doc.get("resource_changes") or []:
        actions = list((rc.get("change") or {}).get("actions") or [])
        addr = str(rc.get("address") or "")
        if "create" in actions:
            add += 1
        if "update" in actions:
            change += 1
        if "delete" in actions:
            destroy += 1
            (replaced if "create" in actions else destroyed).append(addr)
    return Plan(add, change, destroy, tuple(destroyed), tuple(replaced), format="json")


def judge_plan(plan: Plan, *, allow_destroy: bool = False) -> tuple[bool, str]:
    """(passes, one-line summary): fails when anything would be destroyed, unless allowed."""
    counts = f"{plan.add} to add, {plan.change} to change, {plan.destroy} to destroy"
    if plan.no_changes:
        return True, "no changes"
    if plan.destroy == 0:
        return True, counts
    names = ", ".join(plan.to_destroy[:8]) or "?"
    more = f" and {len(plan.to_destroy) - 8} more" if len(plan.to_destroy) > 8 else ""
    if allow_destroy:
        return True, f"{counts} (destroy allowed: {names}{more})"
    return False, f"{counts}: {names}{more}"
