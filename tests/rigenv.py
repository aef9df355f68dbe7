"""The real test rig as tests see it: its ports and paths, and a way to make sure it is up.

`rig/up` writes them to rig/.run/env.sh (shell `export` lines); this module parses that file
into a frozen RigEnv. `ensure_rig_up()` runs rig/up once per process (a warm run takes well
under a second) and is safe to call from several threads; rig/up itself takes a file lock, so
parallel test processes do not race either.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
RIG_DIR = REPO / "rig"
DEFAULT_ENV_FILE = RIG_DIR / ".run" / "env.sh"
# Set to the path of an env.sh to use a rig someone else keeps up (rig/up is then not run).
ENV_OVERRIDE = "SHIPDECK_RIG_ENV"

T = TypeVar("T")


class RigError(RuntimeError):
    """The rig could not be brought up or described; str() is one readable line."""


@dataclass(frozen=True)
class RigEnv:
    dir: Path
    user: str
    ssh_port: int
    ssh_key: Path
    known_hosts: Path
    app_name: str
    app_port: int
    app_url: str
    app_root: Path
    origin: Path
    pm2: Path
    pm2_home: Path
    nginx_url: str
    pg_port: int
    pg_sockdir: Path
    config: Path
    raw: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def ssh_argv(self) -> tuple[str, ...]:
        """`ssh ... deploy@127.0.0.1`: append one remote command string (see ssh_command)."""
        return (
            "ssh",
            "-F", "/dev/null",
            "-i", str(self.ssh_key),
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "ConnectTimeout=10",
            "-p", str(self.ssh_port),
            f"{self.user}@127.0.0.1",
        )  # fmt: skip

    def ssh_command(self, *argv: str) -> list[str]:
        """Local argv that runs `argv` on the rig host as the deploy user, each word quoted."""
        return [*self.ssh_argv, "--", shlex.join(argv)]

    def get(self, key: str, default: str = "") -> str:
        """Any SHIPDECK_RIG_* value of env.sh, e.g. get("SHIPDECK_RIG_NGINX_PIDFILE")."""
        return self.raw.get(key, default)


_REQUIRED = {
    "dir": ("SHIPDECK_RIG_DIR", Path),
    "user": ("SHIPDECK_RIG_USER", str),
    "ssh_port": ("SHIPDECK_RIG_SSH_PORT", int),
    "ssh_key": ("SHIPDECK_RIG_SSH_KEY", Path),
    "known_hosts": ("SHIPDECK_RIG_KNOWN_HOSTS", Path),
    "app_name": ("SHIPDECK_RIG_APP_NAME", str),
    "app_port": ("SHIPDECK_RIG_APP_PORT", int),
    "app_url": ("SHIPDECK_RIG_APP_URL", str),
    "app_root": ("SHIPDECK_RIG_APP_ROOT", Path),
    "origin": ("SHIPDECK_RIG_ORIGIN", Path),
    "pm2": ("SHIPDECK_RIG_PM2", Path),
    "pm2_home": ("SHIPDECK_RIG_PM2_HOME", Path),
    "nginx_url": ("SHIPDECK_RIG_NGINX_URL", str),
    "pg_port": ("SHIPDECK_RIG_PG_PORT", int),
    "pg_sockdir": ("SHIPDECK_RIG_PG_SOCKDIR", Path),
    "config": ("SHIPDECK_RIG_CONFIG", Path),
}


def parse_env_sh(text: str, source: str = "env.sh") -> dict[str, str]:
    """`export KEY=VALUE` lines (values shell-quoted) -> dict; comments and blanks skipped."""
    values: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            words = shlex.split(stripped)
        except ValueError as err:
            raise RigError(f"{source}:{lineno}: cannot parse: {err}") from None
        if len(words) != 2 or words[0] != "export" or "=" not in words[1]:
            raise RigError(f"{source}:{lineno}: expected `export KEY=VALUE`, got {stripped!r}")
        key, value = words[1].split("=", 1)
        values[key] = value
    return values


def load_rig_env(path: str | Path = DEFAULT_ENV_FILE) -> RigEnv:
    """Read env.sh (a relative path is taken from the repository root)."""
    env_file = Path(path)
    if not env_file.is_absolute():
        env_file = REPO / env_file
    try:
        text = env_file.read_text(encoding="utf-8")
    except OSError as err:
        raise RigError(f"cannot read {env_file}: {err.strerror} (run rig/up first)") from None
    values = parse_env_sh(text, str(env_file))
    kwargs: dict[str, object] = {}
    for name, (key, kind) in _REQUIRED.items():
        if key not in values:
            raise RigError(f"{env_file}: {key} is missing (re-run rig/up)")
        try:
            kwargs[name] = kind(values[key])
        except ValueError:
            bad = f"{key}={values[key]!r}"
            raise RigError(f"{env_file}: {bad} is not a valid {kind.__name__}") from None
    return RigEnv(**kwargs, raw=dict(values))  # type: ignore[arg-type]


_lock = threading.Lock()
_cached: RigEnv | None = None


def run_rig_script(name: str, *args: str, timeout: float = 900) -> str:
    """Run rig/<name>; return its stdout, or raise RigError with its one-line failure."""
    script = RIG_DIR / name
    try:
        proc = subprocess.run(
            [str(script), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        late = f"rig/{name} did not finish in {timeout:.0f}s"
        raise RigError(f"{late} (see rig/.run/up.log)") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise RigError(lines[-1] if lines else f"rig/{name} exited {proc.returncode}")
    return proc.stdout


def ensure_rig_up() -> RigEnv:
    """Bring the rig up (once per process) and describe it."""
    global _cached
    with _lock:
        if _cached is None:
            override = os.environ.get(ENV_OVERRIDE)
            if override:
                _cached = load_rig_env(override)
            else:
                run_rig_script("up")
                _cached = load_rig_env()
        return _cached


def wait_until(
    cond: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.05,
    what: str = "",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `cond` until it returns something truthy and return that; TimeoutError at the
    deadline. Exceptions of the `ignore` types count as "not yet" (the last one is reported)."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = cond()
        except ignore as err:
            last_error = err
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            label = what or getattr(cond, "__name__", "a condition")
            detail = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {label}{detail}")
        time.sleep(interval)
