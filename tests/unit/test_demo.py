"""`shipdeck demo`'s sandbox without pm2: the origin repository it makes (three tagged releases,
the last one failing its health check), the first release, the config it writes and its reset.

The whole walkthrough (pm2, the console, deploy and rollback) is tests/e2e/test_demo_in_tmux.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from tui.core.checklist import build_items
from tui.core.config import load_config
from tui.core.demo import (
    DEFAULT_REF,
    FAILING_TAG,
    LIVE_TAG,
    DemoError,
    LocalDemo,
    source_fingerprint,
)
from tui.core.policy import window_violations

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm not installed"
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def demo_in(tmp_path: Path, **kw: object) -> LocalDemo:
    return LocalDemo(state_dir=tmp_path / "state" / "demo", cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


@needs_git
def test_origin_holds_three_releases_the_last_failing_its_health_check(tmp_path: Path) -> None:
    demo = demo_in(tmp_path)
    demo.state_dir.mkdir(parents=True)
    demo.ensure_origin()
    origin = demo.origin
    assert git(origin, "tag").split() == ["v1.0.0", "v1.1.0", "v1.2.0"]
    for tag in ("v1.0.0", "v1.1.0", "v1.2.0"):
        package = json.loads(git(origin, "show", f"{tag}:package.json"))
        assert package["version"] == tag.removeprefix("v")
    # As the rig's origin: 1.0.0 -> 1.1.0 changes the version only.
    assert git(origin, "diff", "--name-only", "v1.0.0", "v1.1.0") == "package.json"
    assert git(origin, "diff", "--name-only", "v1.1.0", "v1.2.0").split() == [
        "package.json", "server.js",
    ]  # fmt: skip
    server = git(origin, "show", f"{FAILING_TAG}:server.js")
    assert "process.env.DEMO_HEALTH_FAIL = '1';" in server.splitlines()[1]
    assert git(origin, "rev-parse", "main") == git(origin, "rev-parse", f"{FAILING_TAG}^{{}}")
    # The same commits every time (fixed identity and dates), and made once per source.
    first = git(origin, "rev-parse", "v1.1.0^{}")
    stamp = (origin / "shipdeck-demo-src").read_text().strip()
    assert stamp == source_fingerprint()
    before = (origin / "HEAD").stat().st_mtime_ns
    demo.ensure_origin()
    assert (origin / "HEAD").stat().st_mtime_ns == before
    shutil.rmtree(origin)
    demo.ensure_origin()
    assert git(origin, "rev-parse", "v1.1.0^{}") == first
    assert not list(demo.state_dir.glob("*.tmp"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@needs_git
@needs_node
def test_the_failing_release_really_answers_500_on_health(tmp_path: Path) -> None:
    demo = demo_in(tmp_path)
    demo.state_dir.mkdir(parents=True)
    demo.ensure_origin()
    tree = tmp_path / "v1.2.0"
    subprocess.run(["git", "clone", "-q", "--branch", FAILING_TAG, str(demo.origin), str(tree)],
                   check=True, capture_output=True)  # fmt: skip
    port = _free_port()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "PORT": str(port)}
    app = subprocess.Popen(["node", "server.js"], cwd=tree, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                code = _status(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "the app never listened"
                time.sleep(0.1)
        assert code == 500
        assert _status(f"http://127.0.0.1:{port}/api/status") == 200
    finally:
        app.terminate()
        app.wait(timeout=10)


@needs_git
@needs_node
def test_first_release_is_v1_0_0_cloned_built_and_marked_good(tmp_path: Path) -> None:
    demo = demo_in(tmp_path)
    demo.state_dir.mkdir(parents=True)
    demo.ensure_origin()
    release = demo.ensure_release()
    current = demo.root / "current"
    assert current.is_symlink() and str(current.readlink()).startswith("releases/")
    assert current.resolve() == release
    assert json.loads((release / "package.json").read_text())["version"] == "1.0.0"
    assert (release / ".shipdeck-good").exists() and (release / "dist" / "build-info.json").exists()
    assert git(release, "describe", "--tags") == LIVE_TAG  # BACKUP's `git log` has git to read
    # A later start keeps what is live (a deploy of an earlier session).
    assert demo.ensure_release() == release


def test_config_deploys_v1_1_0_from_the_origin_at_any_hour(tmp_path: Path) -> None:
    demo = demo_in(tmp_path, port=3456)
    demo.pm2_bin = "/opt/pm2/bin/pm2"
    demo.state_dir.mkdir(parents=True)
    demo.write_config()
    config = load_config(demo.config_path)
    assert config.app.repo == str(demo.origin)
    assert config.app.ref == DEFAULT_REF == "v1.1.0"
    assert config.app.root == str(demo.root) and config.app.environment == "demo"
    assert config.policy.watch_minutes == 2
    assert config.steps.deploy.reload[:2] == ("env", "PORT=3456")
    assert config.checklist.source_dirs == (".",)  # the console.log check has code to read
    assert config.health.url == "http://127.0.0.1:3456/health"
    # A Friday evening: no deploy window stands in the way.
    friday_evening = datetime(2026, 12, 4, 19, 30).timestamp()
    assert window_violations(config.policy, lambda: friday_evening) == []
    # Only what the deployment's own steps (and the open console) satisfy is required; the
    # rest is shown, can be run or signed, and does not hold DEPLOY.
    required = {i.id for i in build_items(config) if not i.optional}
    assert required == {"db_backup", "version_noted", "monitoring"}  # whatever items exist
    assert {"review", "stakeholders", "support", "rollback_plan"} <= {
        i.id for i in build_items(config) if i.optional
    }


def test_config_takes_the_ref_and_watch_given(tmp_path: Path) -> None:
    demo = demo_in(tmp_path, watch_minutes=0.5, ref=FAILING_TAG)
    demo.pm2_bin = "pm2"
    demo.state_dir.mkdir(parents=True)
    demo.write_config()
    config = load_config(demo.config_path)
    assert config.policy.watch_minutes == 0.5 and config.app.ref == "v1.2.0"


def test_reset_wipes_the_state_but_keeps_the_pm2_install(tmp_path: Path) -> None:
    demo = demo_in(tmp_path)
    (demo.root / "releases" / "x").mkdir(parents=True)
    demo.journal_path.write_text("journal")
    pm2 = demo.cache_dir / "pm2" / "node_modules" / ".bin" / "pm2"
    pm2.parent.mkdir(parents=True)
    pm2.write_text("#!/bin/sh\n")
    line = demo.reset()
    assert "\n" not in line and line.startswith("demo reset: wiped ")
    assert line.endswith("(the pm2 install is kept); starting over with 1.0.0 live")
    assert not demo.state_dir.exists()
    assert pm2.exists()


def test_a_pm2_home_too_long_for_unix_sockets_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    # The kernel cuts a socket path at 108 bytes: pm2 works once with the cut-short names,
    # then the next daemon spins on the stale socket. Say so instead.
    deep = tmp_path / ("d" * 120)
    demo = LocalDemo(state_dir=deep / "demo", cache_dir=tmp_path / "cache")
    with pytest.raises(DemoError, match="too long for pm2's sockets"):
        demo.start()
    assert not deep.exists()
