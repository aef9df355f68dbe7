"""The pm2 daemon item's judgement: the daemon's scheduling policy, pm2's age, pm2 startup."""

from __future__ import annotations

from tui.core.checklist import ItemState
from tui.core.checklist_checks_pm2 import judge_pm2_daemon, parse_probe

READY = "pid=42\nalive=1\nenviron=1\npolicy=none\nversion=7.0.4\nstartup=pm2-deploy.service\n"


def probe(text: str = READY, **changes: str | None) -> dict[str, str]:
    out = parse_probe(text)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def test_ready_daemon_passes() -> None:
    verdict = judge_pm2_daemon(probe(), cluster=True)
    assert verdict.state == ItemState.PASS, verdict
    assert "pm2 7.0.4" in verdict.detail and "pm2-deploy.service" in verdict.detail


def test_round_robin_fails_for_cluster_apps_with_its_cost_and_fix() -> None:
    for policy in (None, "rr"):
        verdict = judge_pm2_daemon(probe(policy=policy), cluster=True)
        assert verdict.state == ItemState.FAIL, verdict
        assert "drops connections" in verdict.summary
        assert "NODE_CLUSTER_SCHED_POLICY=none" in verdict.summary  # the fix
    unknown = judge_pm2_daemon(probe(policy=None), cluster=None)  # nothing runs yet: judged
    assert unknown.state == ItemState.FAIL
    fork = judge_pm2_daemon(probe(policy=None), cluster=False)
    assert fork.state == ItemState.PASS and "fork mode" in fork.summary


def test_old_pm2_and_no_startup_warn() -> None:
    old = judge_pm2_daemon(probe(version="4.5.6"), cluster=True)
    assert old.state == ItemState.WARNING and "older than 5" in old.summary
    no_startup = judge_pm2_daemon(probe(startup=""), cluster=True)
    assert no_startup.state == ItemState.WARNING and "pm2 startup" in no_startup.summary


def test_no_daemon_or_unreadable_environ_warns() -> None:
    assert judge_pm2_daemon(probe(alive=None), cluster=True).state == ItemState.WARNING
    assert judge_pm2_daemon(probe(environ=None), cluster=True).state == ItemState.WARNING
