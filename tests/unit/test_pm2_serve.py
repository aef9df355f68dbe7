"""Pm2Backend.serve's decisions, against a scripted host: reload through the wrapper, a pinned
app restarted once (announced), and the last resort (delete + start) never silent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.local_app import local_config
from tui.core.backend import Release
from tui.core.config import load_config
from tui.core.pm2 import Pm2Backend
from tui.core.transport import Result

ROOT = "/srv/shop"
NEW = f"{ROOT}/releases/r2"
OLD = f"{ROOT}/releases/r1"


def proc(name: str, pm_id: int, pid: int, cwd: str, status: str = "online") -> dict[str, Any]:
    return {"name": name, "pm_id": pm_id, "pid": pid,
            "pm2_env": {"status": status, "pm_cwd": cwd, "pm_exec_path": f"{cwd}/server.js",
                        "exec_mode": "cluster_mode", "env": {"SHIPDECK_APP": "shop"}}}  # fmt: skip


class Host:
    """Answers the commands serve() runs; ``real_cwd`` is what /proc says per pid."""

    def __init__(self, procs: list[dict[str, Any]], real_cwd: dict[int, str]) -> None:
        self.procs, self.real_cwd = procs, real_cwd
        self.ran: list[tuple[str, ...]] = []
        self.stdin = ""
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.transport = type("T", (), {"host": type("H", (), {"name": "web1", "user": ""})()})()
        self.journal = None
        self.host = "web1"

    async def run(self, argv: Sequence[str], **kw: Any) -> Result:
        args = tuple(argv)
        self.ran.append(args)
        if kw.get("stdin") is not None:
            self.stdin = str(kw["stdin"])
        out = ""
        if args[:2] == ("node", "-e"):
            out = json.dumps(["shop"])
        elif args[-1:] == ("jlist",):
            out = json.dumps(self.procs)
        elif args[:2] == ("sh", "-c") and "readlink" in args[2]:
            pids = [int(p) for p in args[5:]]
            out = args[4] + "\n" + "".join(f"{p} {self.real_cwd.get(p, '')}\n" for p in pids)
        elif "delete" in args:
            self.procs = [p for p in self.procs if p["name"] not in args[-1].split(",")]
        elif "start" in args:
            self.procs = [proc("shop", 7, 700, f"{ROOT}/current"),
                          proc("shop", 8, 800, f"{ROOT}/current")]  # fmt: skip
            self.real_cwd = {700: NEW, 800: NEW}
        return Result(args, 0, out, "", 0.01)

    def note(self, step: str, message: str, data: Any = None) -> None:
        self.events.append(("note", message, dict(data or {})))

    def record(self, kind: str, step: str, message: str, **extra: Any) -> None:
        self.events.append((kind, message, dict(extra.get("data") or {})))


def backend(tmp_path: Path, host: Host) -> Pm2Backend:
    config = local_config(tmp_path)
    return Pm2Backend.for_workflow(config, host, f"{ROOT}/current/ecosystem.config.js")  # type: ignore[arg-type]


def release() -> Release:
    return Release(NEW, "", {"ecosystem": "x", "app": "shop", "release": NEW, "ref": "main"})


async def test_a_reload_through_the_link_is_all_it_takes(tmp_path: Path) -> None:
    linked = [proc("shop", 1, 100, f"{ROOT}/current"), proc("shop", 2, 200, f"{ROOT}/current")]
    host = Host(linked, {100: NEW, 200: NEW})
    facts = await backend(tmp_path, host).serve(release(), "deploy")
    assert facts == {"apps": ["shop"]}
    reloads = [a for a in host.ran if "reload" in a]
    assert reloads == [("pm2", "reload", f"{ROOT}/.shipdeck-ecosystem.config.js", "--update-env")]
    assert not any("delete" in a for a in host.ran)
    assert not [e for e in host.events if e[0] == "downtime"]
    wrote = next(a for a in host.ran if a[:2] == ("sh", "-c") and "cat >" in a[2])
    assert wrote[-1] == f"{ROOT}/.shipdeck-ecosystem.config.js"  # through a temp name


async def test_a_reload_that_did_not_take_is_a_warned_and_measured_stop(tmp_path: Path) -> None:
    linked = [proc("shop", 1, 100, f"{ROOT}/current"), proc("shop", 2, 200, f"{ROOT}/current")]
    host = Host(linked, {100: OLD, 200: NEW})  # one worker still runs the old release
    facts = await backend(tmp_path, host).serve(release(), "deploy")
    assert facts["fallback_restart"] is True
    notes = [m for kind, m, _ in host.events if kind == "note"]
    assert any(m.startswith("warning: reload did not take") for m in notes), notes
    downtime = [d for kind, _, d in host.events if kind == "downtime"]
    assert len(downtime) == 1 and downtime[0]["seconds"] >= 0 and downtime[0]["apps"] == ["shop"]


async def test_an_app_pinned_to_a_release_restarts_once_announced(tmp_path: Path) -> None:
    pinned = [proc("shop", 1, 100, OLD), proc("shop", 2, 200, OLD)]
    host = Host(pinned, {100: OLD, 200: OLD})
    facts = await backend(tmp_path, host).serve(release(), "deploy")
    assert facts["wrapper_restart"] == ["shop"] and "fallback_restart" not in facts
    assert not any("reload" in a for a in host.ran)
    starts = [a for a in host.ran if "start" in a]
    assert starts == [("pm2", "start", f"{ROOT}/.shipdeck-ecosystem.config.js", "--only", "shop")]
    assert [kind for kind, _, _ in host.events].count("downtime") == 1


async def test_pm2_apps_narrows_the_release_apps(tmp_path: Path) -> None:
    class Several(Host):
        async def run(self, argv: Sequence[str], **kw: Any) -> Result:
            if tuple(argv[:2]) == ("node", "-e"):
                return Result(tuple(argv), 0, json.dumps(["shop", "shop-worker", "cron"]), "", 0)
            return await super().run(argv, **kw)

    local_config(tmp_path, "", name="narrow.toml")
    text = (tmp_path / "narrow.toml").read_text().replace(
        'root = "/srv/shop"', 'root = "/srv/shop"\npm2_apps = ["shop", "shop-worker"]'
    )
    (tmp_path / "narrow.toml").write_text(text)
    narrowed = load_config(tmp_path / "narrow.toml")
    host = Several([], {})
    pm2 = Pm2Backend.for_workflow(narrowed, host, f"{ROOT}/current/ecosystem.config.js")  # type: ignore[arg-type]
    assert await pm2.release_apps("deploy", NEW) == ["shop", "shop-worker"]
    await pm2.write_wrapper("deploy")
    wrapper = next(a for a in host.ran if a[:2] == ("sh", "-c") and "cat >" in a[2])
    assert wrapper[-1] == f"{ROOT}/.shipdeck-ecosystem.config.js"
    assert 'const ONLY = ["shop", "shop-worker"];' in host.stdin
    assert 'const CURRENT = "/srv/shop/current";' in host.stdin
    assert 'const TAG = "shop";' in host.stdin
