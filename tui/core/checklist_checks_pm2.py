"""The pm2 daemon check, run on the target: is pm2 there ready for zero-downtime cluster reloads?

- ``NODE_CLUSTER_SCHED_POLICY`` must be ``none`` in the pm2 DAEMON's environment (read from
  ``/proc/<daemon pid>/environ``; the pid is in ``$PM2_HOME/pm2.pid``): with Node's default
  round-robin scheduling the master accepts connections and hands them to workers, and a
  connection handed to a worker that is being replaced is dropped (RIG-NOTES: 6 of 9 cluster
  reloads under load lost one; with ``none``, 14 of 14 lost none). FAIL for cluster-mode apps.
- pm2 older than 5: WARNING (the reload and ecosystem handling shipdeck relies on is pm2 5+).
- `pm2 startup` never run (no systemd or init unit for pm2): WARNING (after a reboot nothing
  brings the apps back).

One shell command with builtins, `tr` and `sed`: no pm2 command (any would start a daemon), no
Node start. Only the one variable's value leaves the host, never the rest of the environment.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui.core.checklist import ChecklistItem, ItemState
from tui.core.checklist_context import CheckContext, Verdict, run_command, time_limit
from tui.core.pm2 import Pm2Backend, Pm2Error
from tui.core.transport import TransportError
from tui.core.verify_checks import app_processes

# $0 is the pm2 binary. Prints key=value lines: pid, alive, policy (only when set), version,
# startup (the unit files found, space-separated).
_PROBE = r"""
h=${PM2_HOME:-$HOME/.pm2}
p=; { read -r p < "$h/pm2.pid"; } 2>/dev/null
echo "pid=$p"
if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
  echo "alive=1"
  if [ -r "/proc/$p/environ" ]; then
    echo "environ=1"
    tr '\0' '\n' < "/proc/$p/environ" | sed -n 's/^NODE_CLUSTER_SCHED_POLICY=/policy=/p'
  fi
fi
b=$(command -v "$0" 2>/dev/null) && b=$(readlink -f "$b") &&
  sed -n 's/^  "version": "\([^"]*\)".*/version=\1/p' "${b%/bin/*}/package.json" 2>/dev/null
u=$(whoami 2>/dev/null)
f=
for x in /etc/systemd/system/pm2-*.service /lib/systemd/system/pm2-*.service \
         /usr/lib/systemd/system/pm2-*.service /etc/init.d/pm2-* /etc/rc.d/pm2-*; do
  [ -e "$x" ] && f="$f ${x##*/}"
done
echo "startup=${f# }"
echo "user=$u"
exit 0
"""

POLICY_FIX = (
    "start the pm2 daemon with NODE_CLUSTER_SCHED_POLICY=none in its environment (e.g. "
    "Environment=NODE_CLUSTER_SCHED_POLICY=none in its systemd unit, or `pm2 kill` then "
    "`NODE_CLUSTER_SCHED_POLICY=none pm2 resurrect`)"
)
POLICY_COST = "every cluster reload drops connections (round-robin hands some to dying workers)"


def parse_probe(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and key not in out:
            out[key.strip()] = value.strip()
    return out


def major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def judge_pm2_daemon(probe: Mapping[str, str], cluster: bool | None) -> Verdict:
    """``probe``: ``parse_probe``'s; ``cluster``: the app runs cluster-mode processes (None:
    unknown, nothing of it runs yet: judged as if it did)."""
    problems: list[str] = []
    lines: list[str] = []
    data: dict[str, object] = {"cluster": cluster}
    if probe.get("alive") != "1":
        # A first deploy starts one with the deploy session's environment: say what it needs.
        return Verdict(
            ItemState.WARNING,
            "pm2 daemon not running: its environment is unknown; start it with "
            "NODE_CLUSTER_SCHED_POLICY=none (cluster reloads drop connections without it)",
            f"no live pm2 daemon (pid file says {probe.get('pid') or 'nothing'})",
            data=data,
        )
    if probe.get("environ") != "1":
        lines.append(f"cannot read /proc/{probe.get('pid')}/environ")
        state, summary = ItemState.WARNING, "cannot read the pm2 daemon's environment"
    else:
        policy = probe.get("policy")
        data["policy"] = policy
        lines.append(f"daemon pid {probe.get('pid')}: NODE_CLUSTER_SCHED_POLICY="
                     f"{policy if policy is not None else '(unset)'}")  # fmt: skip
        if policy == "none" or cluster is False:
            state, summary = ItemState.PASS, (
                "NODE_CLUSTER_SCHED_POLICY=none" if policy == "none"
                else "fork mode only: the scheduling policy does not matter"
            )  # fmt: skip
        else:
            what = f"is {policy!r}" if policy is not None else "is unset (round-robin)"
            return Verdict(
                ItemState.FAIL,
                f"pm2 daemon's NODE_CLUSTER_SCHED_POLICY {what}: {POLICY_COST}; fix: "
                f"{POLICY_FIX}",
                "\n".join(lines),
                data=data,
            )
    version = probe.get("version", "")
    data["version"] = version
    lines.append(f"pm2 {version or '(version unknown)'}")
    if (m := major(version)) is not None and m < 5:
        problems.append(f"pm2 {version} is older than 5: upgrade it (npm i -g pm2@latest, "
                        "then pm2 update)")  # fmt: skip
    startup = probe.get("startup", "")
    data["startup"] = startup
    lines.append(f"startup unit: {startup or 'none'}")
    if not startup:
        problems.append("`pm2 startup` was never run: after a reboot nothing starts pm2 or the "
                        "apps (run it, then pm2 save)")  # fmt: skip
    if problems and state == ItemState.PASS:
        state = ItemState.WARNING
    if problems:
        summary = f"{summary}; " + "; ".join(problems)
    return Verdict(state, summary, "\n".join(lines), data=data)


async def check_pm2_cluster_ready(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    target = ctx.target
    if target is None:
        return Verdict(ItemState.FAIL, "no target host")
    app = ctx.config.app
    if app.backend != "pm2":
        return Verdict(ItemState.SKIPPED, f"backend {app.backend}: no pm2 daemon")
    env = {"PM2_HOME": app.pm2_home} if app.pm2_home else None
    res = await run_command(target, ["sh", "-c", _PROBE, app.pm2_bin], cwd=None, env=env,
                            timeout=time_limit(ctx, 30))  # fmt: skip
    probe = parse_probe(res.stdout)
    cluster: bool | None = None
    if probe.get("alive") == "1":
        try:
            procs = await Pm2Backend(target, app.pm2_bin, app.pm2_home).jlist_if_running(
                timeout=time_limit(ctx, 60)
            )
            mine = app_processes(procs, app.name)
            cluster = any(p.mode == "cluster" for p in mine) if mine else None
        except (Pm2Error, TransportError):
            cluster = None
    return judge_pm2_daemon(probe, cluster)
