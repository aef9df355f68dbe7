"""The pm2 backend (a ``Backend``, tui/core/backend.py): the process list, the operator's
actions, and the deploy's reload with its proof.

`pm2 jlist` may print a banner and daemon spawn messages before its JSON when the daemon was not
running (RIG-NOTES), so the JSON array is located rather than assumed to be the whole output.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui.core.backend import Release, app_processes
from tui.core.journal import Journal
from tui.core.lines import last_line
from tui.core.pm2_ecosystem import TAG_VAR, WRAPPER_NAME, names_argv, parse_names, wrapper_source
from tui.core.transport import Result, Transport, TransportError
from tui.core.transport_errors import describe_argv
from tui.core.workflow_steps import Commander, WorkflowError, substitute

if TYPE_CHECKING:
    from tui.core.config import Config


class Pm2Error(Exception):
    """pm2 is missing, its daemon is down, or its output could not be read."""


class Pm2NotRunning(Pm2Error):
    """The daemon is not running; shipdeck does not start one just to look."""


@dataclass(frozen=True)
class Pm2Process:
    name: str
    pm_id: int
    pid: int
    status: str
    exec_mode: str
    restarts: int
    unstable_restarts: int
    uptime_since_ms: int
    cpu_percent: float
    memory_bytes: int
    version: str
    cwd: str
    exec_path: str
    out_log: str
    err_log: str
    env_names: tuple[str, ...] = field(default=())
    node_version: str = ""
    created_at_ms: int = 0
    interpreter: str = ""
    # pm2's `versioning` (repo, branch, revision...) as text pairs; empty unless pm2 parsed git.
    versioning: tuple[tuple[str, str], ...] = ()
    # The shipdeck app that started it through its wrapper (pm2_ecosystem.TAG_VAR), else "".
    shipdeck_app: str = ""

    @property
    def mode(self) -> str:
        return "cluster" if self.exec_mode.startswith("cluster") else "fork"


def _find_json_array(text: str) -> Any:
    decoder = json.JSONDecoder()
    # Try each line that opens an array: the banner never starts a line with '['.
    start = 0
    while True:
        index = text.find("[", start)
        if index < 0:
            raise Pm2Error("no JSON process list in pm2 output")
        if index == 0 or text[index - 1] == "\n":
            try:
                value, _ = decoder.raw_decode(text, index)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, list):
                return value
        start = index + 1


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _versioning(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    keys = ("type", "url", "branch", "revision", "comment", "update_time")
    return tuple((k, str(value[k]).strip()) for k in keys if value.get(k) not in (None, ""))


def parse_jlist(text: str) -> list[Pm2Process]:
    processes = []
    for raw in _find_json_array(text):
        if not isinstance(raw, dict):
            continue
        env = raw.get("pm2_env") or {}
        monit = raw.get("monit") or {}
        process_env = env.get("env") if isinstance(env.get("env"), dict) else {}
        processes.append(
            Pm2Process(
                name=str(raw.get("name", "")),
                pm_id=_int(raw.get("pm_id"), -1),
                pid=_int(raw.get("pid")),
                status=str(env.get("status", "unknown")),
                exec_mode=str(env.get("exec_mode", "")),
                restarts=_int(env.get("restart_time")),
                unstable_restarts=_int(env.get("unstable_restarts")),
                uptime_since_ms=_int(env.get("pm_uptime")),
                cpu_percent=float(monit.get("cpu") or 0.0),
                memory_bytes=_int(monit.get("memory")),
                version=str(env.get("version") or ""),
                cwd=str(env.get("pm_cwd") or ""),
                exec_path=str(env.get("pm_exec_path") or ""),
                out_log=str(env.get("pm_out_log_path") or ""),
                err_log=str(env.get("pm_err_log_path") or ""),
                # Names only: values may be secrets and never leave this function.
                env_names=tuple(sorted(str(k) for k in process_env)),
                node_version=str(env.get("node_version") or ""),
                created_at_ms=_int(env.get("created_at")),
                interpreter=str(env.get("exec_interpreter") or ""),
                versioning=_versioning(env.get("versioning")),
                shipdeck_app=str(process_env.get(TAG_VAR) or env.get(TAG_VAR) or ""),
            )
        )
    return processes


# Any pm2 command starts a daemon if none runs (RIG-NOTES); a monitor must not do that to a
# production host. So check the daemon's pid file first, with shell builtins only. $0 is pm2.
_IF_RUNNING = (
    'command -v "$0" >/dev/null 2>&1 || { echo "pm2 not installed: $0" >&2; exit 127; }; '
    'h=${PM2_HOME:-$HOME/.pm2}; p=; { read -r p < "$h/pm2.pid"; } 2>/dev/null; '
    'if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then exec "$0" "$@"; fi; '
    'echo "pm2 not running (no live daemon for $h)" >&2; exit 3'
)
NOT_RUNNING_STATUS = 3

ACTIONS = ("restart", "reload", "stop", "start", "delete", "scale", "save")
#: Actions the confirm modal must guard (scale only when it goes to 0; restart when it is all).
DESTRUCTIVE = frozenset({"stop", "delete"})

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Pm2Backend:
    """pm2 on one host. Made by the monitor (transport + journal: the operator's actions) or by
    a workflow (``for_workflow``: the deploy side too, its commands journaled by the step)."""

    name = "pm2"

    def __init__(
        self,
        transport: Transport,
        pm2_bin: str = "pm2",
        pm2_home: str = "",
        journal: Journal | None = None,
        deployment_id: int | None = None,
    ) -> None:
        self.transport = transport
        self.pm2_bin = pm2_bin
        self.pm2_home = pm2_home
        self.journal = journal
        self.deployment_id = deployment_id
        # The deploy side (for_workflow): the app's config, the step's commander, the live
        # ecosystem file.
        self.config: Config | None = None
        self.cmd: Commander | None = None
        self.ecosystem = ""
        # The apps of the release being served (its ecosystem file's, narrowed by pm2_apps).
        self.app_names: tuple[str, ...] = ()

    @property
    def host_name(self) -> str:
        return str(getattr(self.transport.host, "name", ""))

    @property
    def env(self) -> dict[str, str] | None:
        return {"PM2_HOME": self.pm2_home} if self.pm2_home else None

    async def jlist(self, timeout: float = 30.0) -> list[Pm2Process]:
        result = await self.transport.run([self.pm2_bin, "jlist"], timeout=timeout, env=self.env)
        if result.exit_status == 127:
            raise Pm2Error("pm2 not installed")
        if result.exit_status != 0:
            raise Pm2Error(f"pm2 jlist failed ({result.exit_status}): {last_line(result)}")
        return parse_jlist(result.stdout)

    async def jlist_if_running(self, timeout: float = 30.0) -> list[Pm2Process]:
        """Like ``jlist`` but never starts a daemon: raises Pm2NotRunning instead."""
        argv = ["sh", "-c", _IF_RUNNING, self.pm2_bin, "jlist"]
        result = await self.transport.run(argv, timeout=timeout, env=self.env)
        if result.exit_status == NOT_RUNNING_STATUS:
            raise Pm2NotRunning("pm2 not running")
        if result.exit_status == 127:
            raise Pm2Error("pm2 not installed")
        if result.exit_status != 0:
            raise Pm2Error(f"pm2 jlist failed ({result.exit_status}): {last_line(result)}")
        return parse_jlist(result.stdout)

    # ------------------------------------------------------------------ actions

    async def restart(self, target: str | int) -> Result:
        return await self._action("restart", [str(target)], target)

    async def reload(self, target: Release | str | int, step: str = "deploy") -> Any:
        """Given a ``Release``: serve it (the Backend's reload, see ``serve``). Given a process
        name or id: `pm2 reload` it (the operator's action; returns its Result)."""
        if isinstance(target, Release):
            return await self.serve(target, step)
        return await self._action("reload", [str(target)], target)

    async def stop(self, target: str | int) -> Result:
        return await self._action("stop", [str(target)], target)

    async def start(self, target: str | int, ecosystem: str = "") -> Result:
        """Start a stopped process by name/id, or (``ecosystem`` given) start the app from it."""
        if ecosystem:
            return await self._action("start", [ecosystem, "--only", str(target)], target)
        return await self._action("start", [str(target)], target)

    async def delete(self, target: str | int) -> Result:
        return await self._action("delete", [str(target)], target)

    async def scale(self, app: str, count: int | str) -> Result:
        """``count`` is an absolute number or a relative "+N"/"-N" as pm2 understands it."""
        text = str(count)
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"scale: {text!r} is not a number or +N/-N")
        return await self._action("scale", [app, text], app)

    async def save(self) -> Result:
        return await self._action("save", [], "")

    async def startup_command(self) -> str:
        """The command an admin runs as root so pm2 comes back after a reboot.

        Built here rather than by running `pm2 startup`: run as root that command installs the
        service instead of printing it, and the operator must see it before anything changes.
        """
        probe = await self.transport.run(
            ["sh", "-c", 'id -un; printf "%s\\n" "$HOME"; command -v node || true'], timeout=15
        )
        lines = [*probe.stdout.splitlines(), "", "", ""]
        user, home, node = lines[0].strip(), lines[1].strip(), lines[2].strip()
        node_dir = node.rsplit("/", 1)[0] if "/" in node else "/usr/bin"
        env = f"PATH=$PATH:{node_dir}"
        if self.pm2_home:
            env += f" PM2_HOME={self.pm2_home}"
        return (
            f"sudo env {env} {self.pm2_bin} startup systemd -u {user or '$USER'}"
            f" --hp {home or '$HOME'}"
        )

    async def _action(self, action: str, args: list[str], target: str | int) -> Result:
        argv = [self.pm2_bin, action, *args]
        label = f"pm2 {action} {target}".strip()
        try:
            result = await self.transport.run(argv, timeout=300, env=self.env)
        except TransportError as err:
            self._record(label, argv, action, target, "unknown", str(err))
            raise
        outcome = "ok" if result.ok else "failed"
        tail = _ANSI.sub("", (result.stderr or result.stdout)).strip()
        last = tail.splitlines()[-1] if tail and not result.ok else ""
        self._record(label, argv, action, target, outcome, last, result)
        return result

    def _record(
        self,
        label: str,
        argv: list[str],
        action: str,
        target: str | int,
        outcome: str,
        detail: str = "",
        result: Result | None = None,
    ) -> None:
        if self.journal is None:
            return
        message = f"{label}: {outcome}" + (f" ({detail})" if detail else "")
        self.journal.record(
            host=self.host_name,
            step="pm2",
            kind="action",
            message=message,
            deployment_id=self.deployment_id,
            argv=tuple(argv),
            exit_status=result.exit_status if result else None,
            duration=result.duration if result else None,
            output_tail=_ANSI.sub("", (result.stdout + result.stderr))[-4096:] if result else "",
            data={"action": action, "target": str(target), "outcome": outcome},
        )


    # ------------------------------------------------------------------ the deploy (Backend)

    @classmethod
    def for_workflow(cls, config: Config, cmd: Commander, ecosystem: str) -> Pm2Backend:
        """pm2 on ``cmd``'s host for a workflow: its commands are the step's (``command``
        events); ``ecosystem`` is the live ecosystem file's path (the layout's)."""
        app = config.app
        backend = cls(cmd.transport, app.pm2_bin, app.pm2_home, cmd.journal)
        backend.config, backend.cmd, backend.ecosystem = config, cmd, ecosystem
        return backend

    def _deploying(self) -> tuple[Config, Commander]:
        if self.config is None or self.cmd is None:
            raise TypeError("the deploy side of Pm2Backend needs Pm2Backend.for_workflow(...)")
        return self.config, self.cmd

    @property
    def root(self) -> str:
        config, _ = self._deploying()
        return config.app.root.rstrip("/") or "/"

    @property
    def link(self) -> str:
        """What the processes run from as pm2 stores it: the `current` link (releases), the
        root itself (in place: a rollback swaps the directory under that path)."""
        config, _ = self._deploying()
        root = self.root
        return f"{root.rstrip('/')}/current" if config.app.layout == "releases" else root

    @property
    def wrapper_path(self) -> str:
        """Releases: in the root, beside `current`. In place the root is the operator's git
        checkout, which a rollback swaps away: a sibling, as the deploy lock is."""
        config, _ = self._deploying()
        root = self.root.rstrip("/")
        return f"{root}/{WRAPPER_NAME}" if config.app.layout == "releases" else root + WRAPPER_NAME

    def argv(self, argv: Iterable[str]) -> tuple[str, ...]:
        """A configured command naming plain `pm2` runs the configured pm2 binary (also after
        an `env K=V` prefix: the pm2 word is the first one that is not an assignment)."""
        args = list(argv)
        start = 1 if args and args[0] == "env" else 0
        while start < len(args) and "=" in args[start] and start > 0:
            start += 1
        if start < len(args) and args[start] == "pm2":
            args[start] = self.pm2_bin
        return tuple(args)

    def _prefix(self, reload: Sequence[str]) -> list[str]:
        """What the configured reload puts before pm2 (e.g. `env PORT=...`): kept for every
        command that loads the ecosystem file (its values may come from the environment)."""
        return list(reload[: next((i for i, a in enumerate(reload) if a == self.pm2_bin), 0)])

    async def processes(self, step: str) -> list[Pm2Process]:
        """The deployment's pm2 processes, in pm_id order (one journaled `pm2 jlist`): the
        apps of the release's ecosystem file and any shipdeck started for this app."""
        config, _ = self._deploying()
        return app_processes(await self._jlist(step), config.app.name, self.app_names)

    async def _jlist(self, step: str) -> list[Pm2Process]:
        _, cmd = self._deploying()
        # keep_output=False: the process list carries every env value of the app (secrets).
        result = await cmd.run(
            [self.pm2_bin, "jlist"], step=step, env=self.env, timeout=60, quiet=True,
            keep_output=False,
        )  # fmt: skip
        return parse_jlist(result.stdout)

    async def versions(self, step: str) -> list[dict[str, Any]]:
        return [{"name": p.name, "pm_id": p.pm_id, "status": p.status, "version": p.version}
                for p in await self.processes(step)]  # fmt: skip

    async def log_files(self, step: str) -> list[str]:
        seen: dict[str, None] = {}  # merged logs share a file: each once, in pm_id order
        for p in await self.processes(step):
            for path in (p.out_log, p.err_log):
                if path and path != "/dev/null":
                    seen.setdefault(path, None)
        return list(seen)

    # -- the release's apps and shipdeck's ecosystem wrapper -----------------------------------

    async def release_apps(
        self, step: str, directory: str, prefix: Sequence[str] = ()
    ) -> list[str]:
        """The apps of the ecosystem file in ``directory`` (read by node on the host, with the
        reload's environment), narrowed by ``[app] pm2_apps``."""
        config, cmd = self._deploying()
        eco = config.app.ecosystem
        path = eco if eco.startswith("/") else f"{directory.rstrip('/')}/{eco}"
        result = await cmd.run([*prefix, *names_argv("node", path)], step=step, cwd=directory,
                               env=self.env, check=False, quiet=True, timeout=60)  # fmt: skip
        try:
            if not result.ok:
                raise ValueError(last_line(result))
            names = parse_names(result.stdout)
        except ValueError as err:
            cmd.note(step, f"warning: cannot read the apps of {path} ({err}): serving "
                     f"{config.app.name} alone", data={"level": "warning"})  # fmt: skip
            names = [config.app.name]
        wanted = tuple(getattr(config.app, "pm2_apps", ()) or ())
        if wanted:
            absent = [n for n in wanted if n not in names]
            if absent:
                raise WorkflowError(f"[app] pm2_apps names {', '.join(absent)}, not in {path}")
            names = [n for n in names if n in wanted]
        if not names:
            raise WorkflowError(f"{path} defines no app")
        return names

    async def write_wrapper(self, step: str) -> str:
        """Write shipdeck's ecosystem wrapper into the root (a temp name, then one rename)."""
        config, cmd = self._deploying()
        app = config.app
        source = wrapper_source(self.link, app.ecosystem,
                                tuple(getattr(app, "pm2_apps", ()) or ()), app.name)  # fmt: skip
        final = self.wrapper_path
        tmp = f"{final}.tmp"
        await cmd.run(["sh", "-c", 'cat > "$1" && mv -f -- "$1" "$2"', "sh", tmp, final],
                      step=step, stdin=source, quiet=True)  # fmt: skip
        return final

    def _pinned(self, p: Pm2Process) -> bool:
        """pm2 stored a path inside one release (not through the link): a reload keeps it."""
        root, link = self.root, self.link
        return any(_inside(path, root) and not _inside(path, link) for path in (p.cwd, p.exec_path))

    async def _pm2(
        self, step: str, prefix: Sequence[str], *args: str, check: bool = True
    ) -> Result:
        config, cmd = self._deploying()
        return await cmd.run([*prefix, self.pm2_bin, *args], step=step, env=self.env,
                             check=check, timeout=config.steps.deploy.timeout_s)  # fmt: skip

    def _downtime(self, step: str, seconds: float, apps: Sequence[str], why: str) -> None:
        _, cmd = self._deploying()
        cmd.record("downtime", step,
                   f"downtime {seconds:.1f}s: pm2 delete + start of {', '.join(apps)} ({why})",
                   duration=round(seconds, 3),
                   data={"seconds": round(seconds, 3), "apps": list(apps), "why": why})  # fmt: skip

    # -- the deploy ------------------------------------------------------------------------------

    async def serve(self, release: Release, step: str) -> Mapping[str, Any]:
        """Make pm2 run exactly the release's apps, through shipdeck's wrapper (every cwd and
        path is the link, so `[steps.deploy] reload` with {ecosystem} = the wrapper serves what
        the link points at), then prove it. Apps pm2 runs from a release's own path (started by
        hand from another ecosystem) restart once, announced; apps shipdeck started that the
        release no longer has are deleted. When the reload did not take: pm2 delete + start, a
        last resort, with a warning and a ``downtime`` event."""
        config, cmd = self._deploying()
        app = config.app.name
        values = {**release.values, "ecosystem": self.wrapper_path}
        reload = self.argv(substitute(config.steps.deploy.reload, values))
        prefix = self._prefix(reload)
        names = await self.release_apps(step, release.directory, prefix)
        self.app_names = tuple(names)
        await self.write_wrapper(step)
        procs = await self._jlist(step)
        ours = app_processes(procs, app, names)
        pinned = sorted({p.name for p in ours if p.name in names and self._pinned(p)})
        extra = sorted({p.name for p in ours if p.name not in names and p.shipdeck_app == app})
        facts: dict[str, Any] = {"apps": names}
        # An app none of whose processes runs steadily (crash-looping, errored, stopped) serves
        # nothing: it starts afresh rather than reloads, so it gets exactly this release's env
        # (a reload's --update-env only adds: a variable of a bad release would stay).
        broken = sorted(
            {p.name for p in ours if p.name in names and p.name not in pinned}
            - {p.name for p in ours if _steady(p, time.time())}
        )
        if broken:
            cmd.note(step, f"{', '.join(broken)}: not running steadily: started afresh",
                     data={"apps": broken})  # fmt: skip
            await self._pm2(step, prefix, "delete", ",".join(broken), check=False)
        down_since = None
        if pinned:
            where = sorted({p.cwd for p in ours if p.name in pinned})
            cmd.note(step, f"warning: {', '.join(pinned)} run from {', '.join(where)}, not "
                     f"through {self.link}: restarted once through shipdeck's ecosystem "
                     "(pm2 delete + start, a short stop); later reloads serve the link",
                     data={"level": "warning", "apps": pinned})  # fmt: skip
            down_since = time.monotonic()
            await self._pm2(step, prefix, "delete", ",".join(pinned), check=False)
        if any(p.name in names and p.name not in pinned + broken for p in ours):
            await self.reload_command(step, reload, release.directory)
        running = {p.name for p in await self._jlist(step)}
        missing = [n for n in names if n not in running]
        if missing:
            await self._pm2(step, prefix, "start", self.wrapper_path, "--only", ",".join(missing))
        if extra:
            cmd.note(step, f"{', '.join(extra)}: not in this release's ecosystem file: stopped "
                     "and deleted", data={"apps": extra})  # fmt: skip
            await self._pm2(step, prefix, "delete", ",".join(extra), check=False)
        await self.settle(step)
        problem = await self.prove_serving(release, step)
        if down_since is not None:
            self._downtime(step, time.monotonic() - down_since, pinned,
                           "first start through shipdeck's ecosystem")  # fmt: skip
            facts["wrapper_restart"] = pinned
        if problem is None:
            return facts
        cmd.note(step, f"warning: reload did not take ({problem}): pm2 delete + start of "
                 f"{', '.join(names)}, a full stop", data={"level": "warning"})  # fmt: skip
        t0 = time.monotonic()
        await self._pm2(step, prefix, "delete", ",".join(names), check=False)
        await self._pm2(step, prefix, "start", self.wrapper_path, "--only", ",".join(names))
        await self.settle(step)
        problem = await self.prove_serving(release, step)
        self._downtime(step, time.monotonic() - t0, names, "the reload did not take")
        if problem is not None:
            raise WorkflowError(f"pm2 does not serve the new release: {problem}")
        return {**facts, "fallback_restart": True}

    async def settle(self, step: str, timeout_s: float = 30.0) -> None:
        """Wait (bounded) until no process of the app is still launching: a cluster worker
        starts in / and changes to its cwd as it boots, and deleting a launching worker can
        leave it running outside pm2."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not any(p.status == "launching" for p in await self.processes(step)):
                return
            await asyncio.sleep(0.5)

    async def reload_command(self, step: str, reload: Sequence[str], cwd: str) -> None:
        """Run the reload; while pm2 says another reload holds its lock (one left running by a
        console killed mid-DEPLOY; pm2's lock lasts up to 30 s), retry within the step's time."""
        config, cmd = self._deploying()
        deadline = time.monotonic() + config.steps.deploy.timeout_s
        told = False
        while True:
            left = max(1.0, deadline - time.monotonic())
            result = await cmd.run(reload, step=step, env=self.env, cwd=cwd, timeout=left,
                                   check=False)  # fmt: skip
            busy = "already in progress" in result.stdout + result.stderr
            if result.ok or not busy or time.monotonic() >= deadline:
                break
            if not told:
                cmd.note(step, "pm2: another reload is in progress; retrying")
                told = True
            await asyncio.sleep(1.0)
        if not result.ok:
            raise WorkflowError(
                f"{cmd.host}: {describe_argv(reload)} exited {result.exit_status}: "
                f"{last_line(result)}"
            )

    async def prove_serving(self, release: Release, step: str) -> str | None:
        """What each process runs is read from the kernel: the real cwd of every worker
        (`/proc/<pid>/cwd`) must be inside the release (pm2's stored path is the link and always
        resolves to the new release); then the status URL, asked over fresh connections, must
        report the release's version. A process that is not online is left to VERIFY."""
        config, cmd = self._deploying()
        ok, detail = await self._prove_paths(step, release.directory)
        cmd.record("check", step, f"process paths: {detail}",
                   data={"status": "PASS" if ok else "FAIL"})  # fmt: skip
        if not ok:
            return detail
        if not release.version:
            cmd.record("check", step, "served version: unknown (no package.json version)",
                       data={"status": "WARNING"})  # fmt: skip
            return None
        from tui.core.workflow_prove import wait_for_version  # httpx loads at the first proof

        ok, detail = await wait_for_version(cmd.transport, config, release.version)
        status = "PASS" if ok else "FAIL"
        cmd.record("check", step, f"served version: {detail}",
                   data={"status": status, "version": release.version})  # fmt: skip
        return None if ok else detail

    async def _prove_paths(self, step: str, release_dir: str) -> tuple[bool, str]:
        config, cmd = self._deploying()
        procs = await self.processes(step)
        if not procs:
            return False, f"pm2 runs no process of {config.app.name}"
        absent = [n for n in self.app_names if n not in {p.name for p in procs}]
        if absent:
            return False, f"not running: {', '.join(absent)}"
        live = [p for p in procs if p.pid > 0 and p.status == "online"]
        result = await cmd.run(
            ["sh", "-c", _REAL_CWDS, "sh", release_dir, *(str(p.pid) for p in live)],
            step=step, check=False, quiet=True,
        )  # fmt: skip
        lines = result.stdout.splitlines()
        real = (lines[0].strip() if lines else "") or release_dir
        cwds = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
        stale = sorted(f"{p.name}#{p.pm_id} pid {p.pid} runs in {cwds.get(str(p.pid)) or '?'}"
                       for p in live if not _inside(cwds.get(str(p.pid), ""), real)
                       and str(p.pid) in cwds)  # fmt: skip
        if stale:
            return False, "serving another release: " + "; ".join(stale)
        down = [f"{p.name}#{p.pm_id} {p.status}" for p in procs if p.status != "online"]
        note = f"; not online: {', '.join(down)} (VERIFY judges it)" if down else ""
        return True, f"{len(procs) - len(down)} process(es) online in {real}{note}"

    async def wait_idle(self, step: str, timeout_s: float = 120.0) -> None:
        """A console killed mid-DEPLOY leaves its reload running on the host (no PTY, so the
        process outlives the SSH session). Taking the deployment up on top of it makes two
        reloads race and VERIFY see workers restart after the proof: wait for it (bounded)."""
        _, cmd = self._deploying()
        # The reload names shipdeck's wrapper (or, from an older shipdeck, the ecosystem file).
        files = [self.wrapper_path, *([self.ecosystem] if self.ecosystem else [])]
        pattern = "reload .*(" + "|".join(f.replace(".", "[.]") for f in files) + ")"
        user = getattr(cmd.transport.host, "user", "")
        who = ["-u", user] if user else []
        deadline = time.monotonic() + timeout_s
        waited = False
        while time.monotonic() < deadline:
            res = await cmd.run(["pgrep", *who, "-f", "--", pattern], step=step, check=False,
                                quiet=True)  # fmt: skip
            if res.exit_status != 0:
                return
            if not waited:
                cmd.note(step, "a reload from the interrupted console is still running on the "
                         "host: waiting for it to end")  # fmt: skip
                waited = True
            await asyncio.sleep(1.0)


# $1: the release directory (resolved first), then pids: "<pid> <real cwd>" each. A pid that is
# gone by now prints nothing (pm2 restarted it; VERIFY judges restarts).
_REAL_CWDS = (
    'readlink -f -- "$1"; shift; for p; do c=$(readlink "/proc/$p/cwd" 2>/dev/null) && '
    'printf "%s %s\\n" "$p" "$c"; done; exit 0'
)


#: A process up for less than this after unstable restarts is crash-looping (pm2's own
#: min_uptime is 1 s; a restart loop with a delay stays under a few seconds).
CRASH_LOOP_UPTIME_S = 5.0


def _steady(p: Pm2Process, now: float) -> bool:
    """Online and not in a restart loop (restarted unstably and up only a moment)."""
    if p.status != "online":
        return False
    up_s = now - p.uptime_since_ms / 1000 if p.uptime_since_ms else float("inf")
    return not (p.unstable_restarts and up_s < CRASH_LOOP_UPTIME_S)


def _inside(path: str, root: str) -> bool:
    root = root.rstrip("/")
    return bool(path) and (path == root or path.startswith(root + "/"))


def describe_action(action: str, target: str | int, count: int | str | None = None) -> str:
    """What an action will do, in words the confirm modal shows."""
    what = {
        "restart": "hard-restart (kill and start) {t}: requests in flight are dropped",
        "reload": "zero-downtime reload {t} (cluster workers one at a time)",
        "stop": "stop {t}: it stops serving until started again",
        "start": "start {t}",
        "delete": "delete {t} from pm2: stopped and forgotten (start needs the ecosystem file)",
        "scale": "scale {t} to {n} instance(s)",
        "save": "save the current process list (pm2 resurrect restores it after a reboot)",
    }[action]
    return what.format(t=target, n=count)


__all__ = [
    "ACTIONS",
    "DESTRUCTIVE",
    "Pm2Backend",
    "Pm2Error",
    "Pm2NotRunning",
    "Pm2Process",
    "describe_action",
    "describe_argv",
    "parse_jlist",
]
