"""The automated checks of the checklist, by item id: the one registry (``CHECKS``) the runner
looks a check up in. Each check takes a ``CheckContext`` and returns a ``Verdict``
(checklist_context); they live by section in checklist_checks_code, _build, _env, _pm2 and _journal
(Communication and Safety), and the config's own items in checklist_checks_custom.

Rule: a default item with no entry here has no automated check: the runner offers it for
sign-off.
"""

from __future__ import annotations

from tui.core.checklist_checks_build import (
    check_build,
    check_build_warnings,
    check_bundle_size,
    count_warnings,
)
from tui.core.checklist_checks_code import (
    check_console_log,
    check_lint,
    check_tests,
    check_typescript,
)
from tui.core.checklist_checks_custom import check_custom, check_iac_plan, judge_output
from tui.core.checklist_checks_env import (
    check_env_vars,
    check_feature_flags,
    check_migrations,
    check_secrets,
    env_names_on_target,
    flag_value,
    npm_script,
    parse_flags,
)
from tui.core.checklist_checks_journal import (
    check_db_backup,
    check_monitoring,
    check_team_notified,
    check_version_noted,
)
from tui.core.checklist_checks_pm2 import check_pm2_cluster_ready
from tui.core.checklist_context import CheckAbort, CheckContext, CheckFn, Site, Verdict

__all__ = [
    "CHECKS",
    "CheckAbort",
    "CheckContext",
    "CheckFn",
    "Site",
    "Verdict",
    "check_custom",
    "check_iac_plan",
    "check_team_notified",
    "count_warnings",
    "env_names_on_target",
    "flag_value",
    "judge_output",
    "npm_script",
    "parse_flags",
]

CHECKS: dict[str, CheckFn] = {
    # Code Quality
    "tests": check_tests,
    "lint": check_lint,
    "typescript": check_typescript,
    "console_log": check_console_log,
    # Build
    "build": check_build,
    "bundle_size": check_bundle_size,
    "build_warnings": check_build_warnings,
    # Environment
    "env_vars": check_env_vars,
    "secrets": check_secrets,
    "migrations": check_migrations,
    "feature_flags": check_feature_flags,
    "pm2_cluster_ready": check_pm2_cluster_ready,
    # Communication and Safety, read from the journal
    "team_notified": check_team_notified,
    "db_backup": check_db_backup,
    "version_noted": check_version_noted,
    "monitoring": check_monitoring,
}
