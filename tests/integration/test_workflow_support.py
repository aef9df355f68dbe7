"""Helpers for the workflow's rig tests: the headless CLI as a subprocess, a bounded load loop,
config variants, and git branches made in the rig's origin (each test owns what it makes)."""

from __future__ import annotations

import json
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.gate import OPEN_GATE_TOML
from tests.rigenv import REPO, RigEnv, wait_until
from tui.core.journal import Journal


def _argv(args: tuple[str, ...], config: Path, journal: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tui.cli",
        *args,
        "--config",
        str(config),
        "--journal",
        str(journal),
    ]


def shipdeck(
    *args: str, config: Path, journal: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _argv(args, config, journal),
        cwd=REPO, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _default_sigint() -> None:
    # A test suite started in the background (`.ci/run &`, nohup) inherits SIGINT ignored, and
    # so would shipdeck: a test that sends Ctrl-C must give the child the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn_shipdeck(*args: str, config: Path, journal: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _argv(args, config, journal),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL, preexec_fn=_default_sigint,
    )  # fmt: skip


def ssh(rig: RigEnv, *argv: str, check: bool = True, timeout: float = 60) -> str:
    proc = subprocess.run(
        rig.ssh_command(*argv), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert proc.returncode == 0, f"{argv} exited {proc.returncode}: {proc.stderr.strip()}"
    return proc.stdout


def ssh_sh(rig: RigEnv, script: str, *args: str, timeout: float = 120) -> str:
    """A fixed script run by sh as the deploy user, arguments passed positionally (quoted)."""
    return ssh(rig, "sh", "-euc", script, "sh", *args, timeout=timeout)


def served_version(url: str) -> str:
    with httpx.Client(timeout=5) as client:
        return str(client.get(url, headers={"Connection": "close"}).json().get("version"))


def config_variant(rig: RigEnv, tmp: Path, extra: str = "", replace: dict[str, str] | None = None):
    """The rig's shipdeck.toml with text replaced and TOML appended (new tables only)."""
    text = rig.config.read_text()
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} not in the rig config"
        text = text.replace(old, new)
    path = tmp / "shipdeck.toml"
    path.write_text(text + "\n" + extra)
    return path


def slow_build(seconds: float) -> str:
    # A build that takes a while, so a test can act while the deploy is in BUILD.
    return f'[steps.build]\nbuild = ["sh", "-c", "sleep {seconds} && npm run build"]\n'


def make_branch(rig: RigEnv, branch: str, edit: str) -> None:
    """Push branch ``branch`` (from main) to the rig's origin with ``edit`` (a sh snippet run in
    a temporary clone) committed on it."""
    script = (
        "tmp=$(mktemp -d); trap 'rm -rf \"$tmp\"' EXIT; "
        'git clone -q "$1" "$tmp/w"; cd "$tmp/w"; '
        f"{edit}; "
        'git -c user.name=t -c user.email=t@t.invalid commit -qam "$2"; '
        'git push -q origin "HEAD:refs/heads/$2"'
    )
    ssh_sh(rig, script, str(rig.origin), branch)


def delete_branch(rig: RigEnv, branch: str) -> None:
    ssh(rig, "git", "--git-dir", str(rig.origin), "branch", "-D", branch, check=False)


def lock_exists(rig: RigEnv, root: str, layout: str = "releases") -> bool:
    path = f"{root}/.shipdeck-lock" if layout == "releases" else f"{root}.shipdeck-lock"
    return bool(ssh(rig, "sh", "-c", 'test -e "$1" && echo yes || true', "sh", path).strip())


def releases(rig: RigEnv, root: str) -> dict[str, str]:
    """release id -> "good" | "failed" | "unknown" on the rig."""
    out = ssh_sh(
        rig,
        'cd "$1/releases"; for d in *; do s=unknown; [ -e "$d/.shipdeck-good" ] && s=good;'
        ' [ -e "$d/.shipdeck-failed" ] && s=failed; echo "$d $s"; done',
        root,
    )
    return dict(line.split() for line in out.splitlines() if line.strip())


def live_release(rig: RigEnv, root: str) -> str:
    return ssh(rig, "readlink", f"{root}/current").strip().rsplit("/", 1)[-1]


def journal_events(path: Path, **kw: Any) -> list[Any]:
    j = Journal(path)
    try:
        return j.events(**kw)
    finally:
        j.close()


def journal_deployments(path: Path, app: str) -> list[Any]:
    """The app's deployments in the journal at path, newest first."""
    j = Journal(path)
    try:
        return j.deployments(app)
    finally:
        j.close()


def wait_for_event(path: Path, kind: str, step: str, timeout: float = 60) -> None:
    def seen() -> bool:
        if not path.exists():
            return False
        return any(e.step == step for e in journal_events(path, kinds=[kind]))

    wait_until(seen, timeout, interval=0.1, what=f"{kind} {step} in the journal")


@dataclass
class LoadResult:
    requests: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)


class LoadLoop:
    """~rate req/s on fresh connections until stopped; hard caps on count and time."""

    def __init__(self, url: str, rate: float = 50, max_requests: int = 3000, max_s: float = 90):
        self.url, self.rate, self.max_requests, self.max_s = url, rate, max_requests, max_s
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        end = time.monotonic() + self.max_s
        gap = 1.0 / self.rate
        with httpx.Client(timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            while not self._stop.is_set() and time.monotonic() < end:
                if self.result.requests >= self.max_requests:
                    break
                t0 = time.monotonic()
                self.result.requests += 1
                try:
                    resp = client.get(self.url)
                    if resp.status_code != 200:
                        self.result.failed += 1
                        self.result.errors.append(f"HTTP {resp.status_code}")
                    else:
                        self.result.versions.add(str(json.loads(resp.text).get("version")))
                except httpx.HTTPError as err:
                    self.result.failed += 1
                    self.result.errors.append(f"{type(err).__name__}: {err}")
                self._stop.wait(max(0.0, gap - (time.monotonic() - t0)))


def q(*argv: str) -> str:
    return shlex.join(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class OwnApp:
    """A demo app of the test's own on the rig host: own root, pm2 name and port, so other
    tests' restarts of the rig's `demo` never land in this test's load loop."""

    rig: RigEnv
    name: str
    root: str
    port: int
    layout: str
    config: Path
    backup_dir: str
    extra_env: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def status_url(self) -> str:
        return self.url + "/api/status"

    def env_argv(self) -> list[str]:
        extra = [f"{k}={v}" for k, v in self.extra_env]
        return ["env", f"SHIPDECK_APP_NAME={self.name}", f"PORT={self.port}", *extra]


FIRST_RELEASE = "20260101-000000-0"

# Headless deploys hold CONFIRM for the post-deploy watch ([policy] watch_minutes, 15 by
# default): tests about other things turn it off; the watch's own tests set a short one.
NO_WATCH = "watch_minutes = 0\n"


def with_policy(text: str, policy: str) -> str:
    """Config text with ``policy`` lines put at the top of its [policy] table."""
    assert "[policy]\n" in text, "the config has no [policy] table"
    return text.replace("[policy]\n", "[policy]\n" + policy, 1)


_SETUP = r"""
root=$1; origin=$2; layout=$3; name=$4; port=$5; rel=$6; shift 6
rm -rf "$root" "$root".shipdeck-lock "$root".shipdeck-changelog.log
if [ "$layout" = releases ]; then
  mkdir -p "$root/releases"; dir=$root/releases/$rel
else
  mkdir -p "$(dirname "$root")"; dir=$root
fi
git -c advice.detachedHead=false clone -q --branch v1.0.0 "$origin" "$dir"
cd "$dir"; npm ci --production >/dev/null 2>&1; npm run build >/dev/null
if [ "$layout" = releases ]; then
  touch "$dir/.shipdeck-good"; ln -sfn "releases/$rel" "$root/current"; eco=$root/current
else
  eco=$root
fi
pm2 delete "$name" >/dev/null 2>&1 || true
env SHIPDECK_APP_NAME="$name" PORT="$port" "$@" pm2 start "$eco/ecosystem.config.js" >/dev/null
"""


def make_own_app(
    rig: RigEnv,
    tmp: Path,
    layout: str = "releases",
    extra: str = "",
    env: dict[str, str] | None = None,
    policy: str = NO_WATCH,
) -> OwnApp:
    name = f"wf-{layout[:2]}-{secrets.token_hex(3)}"
    root = f"{rig.dir}/tmp/wf/{name}"
    backup_dir = f"{rig.dir}/tmp/wf/{name}-backups"
    port = free_port()
    extra_env = tuple((env or {}).items())
    app = OwnApp(rig, name, root, port, layout, tmp / "shipdeck.toml", backup_dir, extra_env)
    assigns = [f"{k}={v}" for k, v in extra_env]
    ssh_sh(rig, _SETUP, root, str(rig.origin), layout, name, str(port), FIRST_RELEASE, *assigns)
    write_own_config(app, rig.pm2_home, extra, policy)
    wait_until(lambda: _answers(app), 30, interval=0.2, what=f"{name} on port {port}")
    return app


def write_own_config(app: OwnApp, pm2_home: str, extra: str = "", policy: str = NO_WATCH) -> None:
    """The shipdeck config of an app of the test's own (gate open; `extra` appends tables,
    `policy` adds [policy] keys: no post-deploy watch unless a test asks for one)."""
    rig = app.rig
    reload = json.dumps([*app.env_argv(), "pm2", "reload", "{ecosystem}", "--update-env"])
    app.config.write_text(
        f"""
[app]
name = "{app.name}"
layout = "{app.layout}"
root = "{app.root}"
repo = "{rig.origin}"
ref = "main"
backup_dir = "{app.backup_dir}"
pm2_bin = "{rig.pm2}"
pm2_home = "{pm2_home}"

[[hosts]]
name = "rig"
address = "127.0.0.1"
port = {rig.ssh_port}
user = "{rig.user}"
identity_file = "{rig.ssh_key}"
known_hosts = "{rig.known_hosts}"

[health]
url = "{app.url}/health"
status_url = "{app.status_url}"
{with_policy(OPEN_GATE_TOML, policy)}
[steps.deploy]
reload = {reload}
"""
        + extra
    )


def _answers(app: OwnApp) -> bool:
    try:
        return served_version(app.status_url) == "1.0.0"
    except (httpx.HTTPError, ValueError):
        return False


def remove_own_app(app: OwnApp) -> None:
    ssh(app.rig, "pm2", "delete", app.name, check=False)
    ssh(app.rig, "rm", "-rf", app.root, app.backup_dir, app.root + ".shipdeck-lock",
        app.root + ".shipdeck-changelog.log", check=False)  # fmt: skip
