"""Config text that opens the pre-deploy gate for tests about something else.

Deploy policy windows are cleared (CI runs at any hour, any day) and every checklist item is
optional except the two that BACKUP itself satisfies; the gate's own tests leave it closed.
"""

from tui.core.checklist import DEFAULT_ITEMS

REQUIRED_BY_BACKUP = ("db_backup", "version_noted")

OPEN_GATE_TOML = (
    "\n[policy]\n"
    "no_deploy_days = []\n"
    'no_deploy_after = ""\n'
    "\n[checklist]\n"
    "optional = ["
    + ", ".join(f'"{i.id}"' for i in DEFAULT_ITEMS if i.id not in REQUIRED_BY_BACKUP)
    + "]\n"
)
