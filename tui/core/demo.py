"""`shipdeck demo`: a complete sandbox on this machine, no SSH and no root.

Everything lives in the user state dir (``<state>/shipdeck/demo``):

- ``origin.git``: a bare repository made from examples/demo-app, as rig/lib/app.sh makes the
  rig's: tags v1.0.0 and v1.1.0 differ only in package.json's version; v1.2.0 is a release whose
  health check fails (its server.js sets DEMO_HEALTH_FAIL=1), so VERIFY fails and R rolls back.
- ``app/``: the releases layout (``releases/<id>`` and the ``current`` link), 1.0.0 live.
- ``pm2-home/``: the demo's private pm2 daemon, running the app on 127.0.0.1.
- ``shipdeck.toml`` and ``journal.sqlite3``: the console's config (``[app] repo`` is the origin,
  ``ref`` v1.1.0, a short watch, no deploy windows, the checklist informing rather than
  blocking) and journal.

`stop()` kills only the pm2 daemon this demo started (its private PM2_HOME), which takes its apps
with it; the state stays, so the next `shipdeck demo` goes on where this one ended. `reset()`
wipes it (the pm2 installed into the user cache dir is kept), and the next start has 1.0.0 live.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import platformdirs

from tui.core.checklist import DEFAULT_ITEMS
from tui.core.release_paths import switch_symlink

DEMO_APP_SOURCE = Path(__file__).resolve().parents[2] / "examples" / "demo-app"
PM2_VERSION = "pm2@7"

LIVE_TAG = "v1.0.0"  # live after the first start and after a reset
DEFAULT_REF = "v1.1.0"  # what `d` then 1-5 deploys
FAILING_TAG = "v1.2.0"  # fails its health check: VERIFY fails, R rolls back
#: Bumped when the origin's history is made differently: a demo made before is re-made.
ORIGIN_LAYOUT = "2"
#: How server.js reads the switch that makes /health answer 500; 1.2.0 sets it (_break_health).
HEALTH_SWITCH = "process.env.DEMO_HEALTH_FAIL === '1'"
DEFAULT_WATCH_MINUTES = 2.0
SOCKET_PATH_MAX = 107  # a unix socket's path (sun_path: 108 bytes with the final NUL)
INSTALL = ("npm", "ci", "--omit=dev", "--no-audit", "--no-fund")
BUILD = ("npm", "run", "build")

#: The checklist items the demo's gate waits for: those its own steps satisfy (BACKUP notes the
#: version and backs up; the console is the monitoring). Every other item, default ones added
#: later too, is optional in the demo: shown, run with c or signed with space, but the console
#: does not run missing checks before DEPLOY, so a required one would hold `d` then 1-5.
REQUIRED_ITEMS = ("db_backup", "version_noted", "monitoring")
OPTIONAL_ITEMS = tuple(i.id for i in DEFAULT_ITEMS if i.id not in REQUIRED_ITEMS)


class DemoError(Exception):
    """A one-line reason the demo could not start."""


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _http_ok(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return json.loads(response.read() or b"{}")
    except (OSError, ValueError):
        return None
    return None


def _toml_str(value: str | Path) -> str:
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _toml_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    return ((result.stderr or result.stdout).strip().splitlines() or ["no output"])[-1]


def _source_files(source: Path) -> list[Path]:
    """The files the origin is made from (what rig/lib/app.sh copies), sorted."""
    skip = {"node_modules", "dist"}
    return sorted(
        p for p in source.rglob("*")
        if p.is_file() and not skip & set(p.relative_to(source).parts)
        and not p.name.startswith(".shipdeck-")
    )  # fmt: skip


def source_fingerprint(source: Path = DEMO_APP_SOURCE) -> str:
    """One hash of the demo app's files and of how the origin is made from them."""
    digest = hashlib.sha256(f"origin layout {ORIGIN_LAYOUT}\n".encode())
    for path in _source_files(source):
        digest.update(f"{path.relative_to(source)}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def set_version(package_json: Path, version: str) -> None:
    """Set the package's own "version" (the first one), as rig/lib/app.sh's set_demo_version."""
    text = package_json.read_text()
    new, count = re.subn(r'"version":\s*"[^"]*"', f'"version": "{version}"', text, count=1)
    if not count:
        raise DemoError(f"no version in {package_json}")
    package_json.write_text(new)


def _break_health(tree: Path) -> None:
    """1.2.0's bug: server.js sets DEMO_HEALTH_FAIL=1 for itself, so /health answers 500.

    In the code, not in the ecosystem's env: pm2 keeps env vars a later reload no longer sets,
    so after a rollback to 1.1.0 the switch would still be on."""
    server = tree / "server.js"
    text = server.read_text()
    if HEALTH_SWITCH not in text or "'use strict';\n" not in text:
        raise DemoError(f"{server} no longer reads DEMO_HEALTH_FAIL as the demo expects")
    line = "process.env.DEMO_HEALTH_FAIL = '1'; // 1.2.0's bug: /health answers 500\n"
    server.write_text(text.replace("'use strict';\n", "'use strict';\n" + line, 1))


#: The origin's history: tag, version, commit message, change to the tree (besides the version).
RELEASES: tuple[tuple[str, str, str, Callable[[Path], None] | None], ...] = (
    ("v1.0.0", "1.0.0", "demo app 1.0.0", None),
    ("v1.1.0", "1.1.0", "demo app 1.1.0", None),
    ("v1.2.0", "1.2.0", "demo app 1.2.0: /health answers 500 (fails VERIFY)", _break_health),
)


class LocalDemo:
    def __init__(
        self,
        port: int = 3100,
        state_dir: Path | None = None,
        cache_dir: Path | None = None,
        progress: Callable[[str], None] = lambda line: None,
        watch_minutes: float = DEFAULT_WATCH_MINUTES,
        ref: str = DEFAULT_REF,
    ) -> None:
        self.port = port
        self.state_dir = state_dir or Path(platformdirs.user_state_dir("shipdeck")) / "demo"
        self.cache_dir = cache_dir or Path(platformdirs.user_cache_dir("shipdeck"))
        self.progress = progress
        self.watch_minutes = watch_minutes
        self.ref = ref
        self.pm2_home = self.state_dir / "pm2-home"
        self.root = self.state_dir / "app"
        self.origin = self.state_dir / "origin.git"
        self.config_path = self.state_dir / "shipdeck.toml"
        self.journal_path = self.state_dir / "journal.sqlite3"
        self.pm2_bin: str | None = None
        self._started = False

    # -- pm2 -------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        # A clean environment: the pm2 daemon copies its own env into every process it starts,
        # so anything from this shell would leak into the demo app's pm2_env.
        node_dir = str(Path(shutil.which("node") or "/usr/bin/node").parent)
        return {
            "PATH": f"{node_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(Path.home()),
            "PM2_HOME": str(self.pm2_home),
            "PORT": str(self.port),
            # Zero-downtime cluster reloads need this in the daemon's env (RIG-NOTES).
            "NODE_CLUSTER_SCHED_POLICY": "none",
        }

    def find_pm2(self) -> str:
        if not shutil.which("node") or not shutil.which("npm"):
            raise DemoError(
                "node and npm are needed for the demo: install Node.js 20"
                " (apt-get install nodejs npm)"
            )
        found = shutil.which("pm2")
        if found:
            return found
        local = self.cache_dir / "pm2" / "node_modules" / ".bin" / "pm2"
        if local.exists():
            return str(local)
        self.progress(f"pm2 not found: installing {PM2_VERSION} into {local.parents[2]} ...")
        local.parents[2].mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(local.parents[2]),
             PM2_VERSION],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0 or not local.exists():
            raise DemoError(f"could not install pm2 with npm: {_last_line(result)}")
        return str(local)

    def _pm2(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self.pm2_bin is not None
        result = subprocess.run(
            [self.pm2_bin, *args], env=self._env(), capture_output=True, text=True, check=False,
            cwd=self.state_dir,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise DemoError(f"pm2 {' '.join(args)} failed: {_last_line(result)}")
        return result

    # -- the origin repository -------------------------------------------------------------------
    def _run(
        self, argv: list[str], cwd: Path, *, env: dict[str, str] | None = None, what: str = ""
    ) -> None:
        result = subprocess.run(
            argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise DemoError(f"{what or ' '.join(argv)} failed: {_last_line(result)}")

    def _git(self, cwd: Path, *args: str, when: str = "2026-01-01T10:00:00Z") -> None:
        # Fixed identity, dates and no user config: the same commit ids every time, whatever
        # the user's git config says (hooks, signing, templates).
        env = {
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "shipdeck demo", "GIT_AUTHOR_EMAIL": "demo@shipdeck.invalid",
            "GIT_COMMITTER_NAME": "shipdeck demo", "GIT_COMMITTER_EMAIL": "demo@shipdeck.invalid",
            "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
        }  # fmt: skip
        self._run(["git", "-c", "advice.detachedHead=false", *args], cwd, env=env,
                  what=f"git {args[0]}")  # fmt: skip

    def origin_current(self) -> bool:
        stamp = self.origin / "shipdeck-demo-src"
        return stamp.is_file() and stamp.read_text().strip() == source_fingerprint()

    def ensure_origin(self) -> None:
        """The bare origin with v1.0.0, v1.1.0 and v1.2.0, made afresh when examples/demo-app
        changed since it was made."""
        if self.origin_current():
            return
        if not shutil.which("git"):
            raise DemoError("git is needed for the demo: install git (apt-get install git)")
        if not (DEMO_APP_SOURCE / "package.json").exists():
            raise DemoError(f"demo app source not found at {DEMO_APP_SOURCE}")
        self.progress(f"making the demo's git origin ({', '.join(r[0] for r in RELEASES)}) "
                      f"in {self.origin} ...")  # fmt: skip
        tree = self.state_dir / "origin-src.tmp"
        bare = self.state_dir / "origin.git.tmp"
        for stale in (tree, bare):
            shutil.rmtree(stale, ignore_errors=True)
        shutil.copytree(
            DEMO_APP_SOURCE, tree,
            ignore=shutil.ignore_patterns("node_modules", "dist", ".shipdeck-*"),
        )  # fmt: skip
        self._git(tree, "init", "-q", "-b", "main", ".")
        for day, (tag, version, message, change) in enumerate(RELEASES, start=1):
            when = f"2026-01-{day:02d}T10:00:00Z"
            set_version(tree / "package.json", version)
            if change is not None:
                change(tree)
            self._git(tree, "add", "-A", when=when)
            self._git(tree, "commit", "-q", "--no-verify", "-m", message, when=when)
            self._git(tree, "tag", "-a", tag, "-m", tag, when=when)
        self._git(self.state_dir, "init", "-q", "--bare", "-b", "main", str(bare))
        self._git(tree, "push", "-q", str(bare), "main", *(r[0] for r in RELEASES))
        (bare / "shipdeck-demo-src").write_text(source_fingerprint() + "\n")
        shutil.rmtree(self.origin, ignore_errors=True)
        bare.rename(self.origin)
        shutil.rmtree(tree, ignore_errors=True)

    # -- the live release ------------------------------------------------------------------------
    def live_release(self) -> Path | None:
        current = self.root / "current"
        return current.resolve() if current.is_symlink() and current.resolve().is_dir() else None

    def ensure_release(self) -> Path:
        """The live release: the one `current` points at (a deploy of an earlier session), else
        v1.0.0 cloned from the origin, installed and built like a deploy's BUILD does."""
        live = self.live_release()
        if live is not None:
            return live
        rid = datetime.now().strftime("%Y%m%d-%H%M%S") + "-0"  # sorts before later deploys
        release = self.root / "releases" / rid
        self.progress(f"installing {LIVE_TAG} as the live release in {release} ...")
        release.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(release, ignore_errors=True)
        self._git(self.state_dir, "clone", "-q", "--branch", LIVE_TAG, str(self.origin),
                  str(release))  # fmt: skip
        for argv in (INSTALL, BUILD):
            self._run(list(argv), release, what=" ".join(argv[:3]))
        (release / ".shipdeck-good").touch()
        switch_symlink(self.root / "current", Path("releases") / rid)
        return release

    # -- lifecycle -----------------------------------------------------------------------------
    def _kill_leftover_daemon(self) -> None:
        """A demo whose console was killed (SIGKILL, lost terminal) may have left its daemon.

        It runs under our private PM2_HOME, so it is ours to end, by the pid pm2 recorded.
        """
        pid_file = self.pm2_home / "pm2.pid"
        if pid_file.exists():
            self.progress("a previous demo's pm2 daemon is still running: stopping it ...")
            self._pm2("kill", check=False)

    def reset(self) -> str:
        """Stop what a previous demo left running and wipe the demo's state (the pm2 installed
        into the user cache dir stays). Returns the one line that says so."""
        stopped = ""
        if (self.pm2_home / "pm2.pid").exists():
            self.pm2_bin = self.pm2_bin or self.find_pm2()
            self._pm2("kill", check=False)
            stopped = "stopped its pm2, "
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return (
            f"demo reset: {stopped}wiped {self.state_dir} (the pm2 install is kept); "
            f"starting over with {LIVE_TAG.lstrip('v')} live"
        )

    def _check_socket_path(self) -> None:
        """pm2 talks to its daemon over unix sockets in PM2_HOME; a longer path is cut short by
        the kernel (108 bytes), which works once and then leaves the next daemon spinning on
        the stale, cut-short socket."""
        longest = len(os.fsencode(self.pm2_home / "rpc.sock"))
        if longest > SOCKET_PATH_MAX:
            raise DemoError(
                f"the demo's pm2 home {self.pm2_home} is too long for pm2's sockets "
                f"({longest} > {SOCKET_PATH_MAX} bytes): point XDG_STATE_HOME at a shorter "
                "directory"
            )

    def start(self, timeout: float = 60.0) -> Path:
        self._check_socket_path()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.pm2_bin = self.find_pm2()
        self._kill_leftover_daemon()
        url = f"http://127.0.0.1:{self.port}"
        if not _port_free(self.port):
            raise DemoError(f"port {self.port} on 127.0.0.1 is in use: pass --port to pick another")
        self.ensure_origin()
        self.ensure_release()
        self.progress(f"starting the demo app under pm2 (PM2_HOME={self.pm2_home}) on {url} ...")
        self._started = True
        self._pm2("start", str(self.root / "current" / "ecosystem.config.js"))
        deadline = time.monotonic() + timeout
        while _http_ok(f"{url}/health") is None:
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the demo app did not answer {url}/health within {timeout:.0f}s "
                    "(shipdeck demo --reset puts 1.0.0 back)"
                )
            time.sleep(0.2)
        self.write_config()
        return self.config_path

    def config_text(self) -> str:
        assert self.pm2_bin is not None
        port = self.port
        reload = ("env", f"PORT={port}", "pm2", "reload", "{ecosystem}", "--update-env")
        return (
            "# Written by `shipdeck demo` at each start: the demo app under a private local pm2.\n"
            "[app]\n"
            'name = "demo"\n'
            f"root = {_toml_str(self.root)}\n"
            'environment = "demo"\n'
            f"repo = {_toml_str(self.origin)}\n"
            f"# What `d` then 1-5 deploys (shipdeck demo --ref); the origin has "
            f"{', '.join(r[0] for r in RELEASES)},\n"
            f"# and {FAILING_TAG} fails VERIFY (its /health answers 500): R rolls it back.\n"
            f"ref = {_toml_str(self.ref)}\n"
            f"pm2_bin = {_toml_str(self.pm2_bin)}\n"
            f"pm2_home = {_toml_str(self.pm2_home)}\n"
            f"backup_dir = {_toml_str(self.state_dir / 'backup')}\n"
            "\n[[hosts]]\n"
            'name = "local"\n'
            'address = "127.0.0.1"\n'
            'transport = "local"\n'
            "\n[steps.build]\n"
            f"install = {_toml_list(INSTALL)}\n"
            f"build = {_toml_list(BUILD)}\n"
            "\n[steps.deploy]\n"
            "# The app listens on the demo's port: pm2 reads PORT when it loads the ecosystem.\n"
            f"reload = {_toml_list(reload)}\n"
            "\n[health]\n"
            f'url = "http://127.0.0.1:{port}/health"\n'
            f'status_url = "http://127.0.0.1:{port}/api/status"\n'
            "\n[monitor]\n"
            "jlist_interval_s = 5.0\n"
            "\n[checklist]\n"
            "# The demo's checklist informs and never blocks: c runs the checks, space signs.\n"
            f"optional = {_toml_list(OPTIONAL_ITEMS)}\n"
            "# The demo app's code is at the top of the release, not in src/.\n"
            'source_dirs = ["."]\n'
            "\n[policy]\n"
            f"watch_minutes = {self.watch_minutes:g}\n"
            "watch_interval_s = 5.0\n"
            "# No deploy windows: the demo works on a Friday evening too.\n"
            "no_deploy_days = []\n"
            'no_deploy_after = ""\n'
        )

    def write_config(self) -> None:
        self.config_path.write_text(self.config_text())

    def stop(self) -> None:
        if not self._started or self.pm2_bin is None:
            return
        # `pm2 kill` with our private PM2_HOME ends our daemon and the apps it runs, nothing else.
        self._pm2("kill", check=False)
        self._started = False
