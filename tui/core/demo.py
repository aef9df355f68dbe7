"""`shipdeck demo`: the demo Node app under a private local pm2, so the console has something real
to show without SSH. Everything lives in the user state dir; `stop()` kills only the pm2 daemon
this demo started (its private PM2_HOME), which takes its apps with it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import platformdirs

from tui.core.release_paths import switch_symlink

DEMO_APP_SOURCE = Path(__file__).resolve().parents[2] / "examples" / "demo-app"
PM2_VERSION = "pm2@7"


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


class LocalDemo:
    def __init__(
        self,
        port: int = 3100,
        state_dir: Path | None = None,
        cache_dir: Path | None = None,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.port = port
        self.state_dir = state_dir or Path(platformdirs.user_state_dir("shipdeck")) / "demo"
        self.cache_dir = cache_dir or Path(platformdirs.user_cache_dir("shipdeck"))
        self.progress = progress
        self.pm2_home = self.state_dir / "pm2-home"
        self.root = self.state_dir / "app"
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
        )
        if result.returncode != 0 or not local.exists():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise DemoError(f"could not install pm2 with npm: {last}")
        return str(local)

    def _pm2(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self.pm2_bin is not None
        result = subprocess.run(
            [self.pm2_bin, *args], env=self._env(), capture_output=True, text=True, check=False,
            cwd=self.state_dir,
        )
        if check and result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise DemoError(f"pm2 {' '.join(args)} failed: {last}")
        return result

    # -- lifecycle -----------------------------------------------------------------------------
    def _install_release(self) -> Path:
        if not (DEMO_APP_SOURCE / "package.json").exists():
            raise DemoError(f"demo app source not found at {DEMO_APP_SOURCE}")
        version = json.loads((DEMO_APP_SOURCE / "package.json").read_text())["version"]
        release = self.root / "releases" / f"demo-{version}"
        if not release.exists():
            tmp = release.with_name(release.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(DEMO_APP_SOURCE, tmp, ignore=shutil.ignore_patterns("node_modules"))
            tmp.rename(release)
            (release / ".shipdeck-good").touch()
        switch_symlink(self.root / "current", release)
        return release

    def _kill_leftover_daemon(self) -> None:
        """A demo whose console was killed (SIGKILL, lost terminal) may have left its daemon.

        It runs under our private PM2_HOME, so it is ours to end, by the pid pm2 recorded.
        """
        pid_file = self.pm2_home / "pm2.pid"
        if pid_file.exists():
            self.progress("a previous demo's pm2 daemon is still running: stopping it ...")
            self._pm2("kill", check=False)

    def start(self, timeout: float = 60.0) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.pm2_bin = self.find_pm2()
        self._kill_leftover_daemon()
        url = f"http://127.0.0.1:{self.port}"
        if not _port_free(self.port):
            raise DemoError(f"port {self.port} on 127.0.0.1 is in use: pass --port to pick another")
        self._install_release()
        self.progress(f"starting the demo app under pm2 (PM2_HOME={self.pm2_home}) on {url} ...")
        self._started = True
        self._pm2("start", str(self.root / "current" / "ecosystem.config.js"))
        deadline = time.monotonic() + timeout
        while _http_ok(f"{url}/health") is None:
            if time.monotonic() > deadline:
                raise DemoError(f"the demo app did not answer {url}/health within {timeout:.0f}s")
            time.sleep(0.2)
        self.write_config()
        return self.config_path

    def write_config(self) -> None:
        assert self.pm2_bin is not None
        self.config_path.write_text(
            "# Written by `shipdeck demo`: the demo app under a private local pm2.\n"
            "[app]\n"
            'name = "demo"\n'
            f"root = {_toml_str(self.root)}\n"
            'environment = "demo"\n'
            f"pm2_bin = {_toml_str(self.pm2_bin)}\n"
            f"pm2_home = {_toml_str(self.pm2_home)}\n"
            f"backup_dir = {_toml_str(self.state_dir / 'backup')}\n"
            "\n[[hosts]]\n"
            'name = "local"\n'
            'address = "127.0.0.1"\n'
            'transport = "local"\n'
            "\n[health]\n"
            f'url = "http://127.0.0.1:{self.port}/health"\n'
            f'status_url = "http://127.0.0.1:{self.port}/api/status"\n'
            "\n[monitor]\n"
            "jlist_interval_s = 5.0\n"
        )

    def stop(self) -> None:
        if not self._started or self.pm2_bin is None:
            return
        # `pm2 kill` with our private PM2_HOME ends our daemon and the apps it runs, nothing else.
        self._pm2("kill", check=False)
        self._started = False
