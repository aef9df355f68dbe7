"""shipdeck's wrapper ecosystem, loaded by real node: every path pm2 stores is the link."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tui.core.pm2_ecosystem import WRAPPER_NAME, names_argv, parse_names, wrapper_source

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

# Shaped like operators' files: no cwd, a worker whose script is built from __dirname, a log
# path inside the release, and an app elsewhere on the host.
ECOSYSTEM = """
const path = require('path');
module.exports = {
  apps: [
    { name: 'orders', script: 'server.js', exec_mode: 'cluster', instances: 2 },
    { name: 'orders-worker', script: path.join(__dirname, 'worker.js'),
      out_file: path.join(__dirname, 'logs', 'worker.log') },
    { name: 'cron', script: '/opt/tools/cron.js', cwd: '/opt/tools' },
  ],
};
"""


def release(root: Path, rid: str) -> Path:
    path = root / "releases" / rid
    path.mkdir(parents=True)
    (path / "ecosystem.config.js").write_text(ECOSYSTEM)
    return path


def switch(root: Path, rid: str) -> None:
    tmp = root / "current.tmp"
    tmp.symlink_to(f"releases/{rid}")
    tmp.rename(root / "current")


def load(wrapper: Path) -> list[dict[str, object]]:
    code = f"process.stdout.write(JSON.stringify(require({json.dumps(str(wrapper))}).apps))"
    out = subprocess.run(["node", "-e", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_every_path_into_the_release_becomes_the_current_link(tmp_path: Path) -> None:
    root = tmp_path / "app"
    release(root, "r1")
    switch(root, "r1")
    wrapper = root / WRAPPER_NAME
    wrapper.write_text(wrapper_source(str(root / "current"), "ecosystem.config.js"))
    apps = {app["name"]: app for app in load(wrapper)}
    current = str(root / "current")
    assert apps["orders"]["cwd"] == current and apps["orders"]["script"] == "server.js"
    assert apps["orders"]["instances"] == 2  # everything else is the operator's, untouched
    assert apps["orders-worker"]["script"] == f"{current}/worker.js"
    assert apps["orders-worker"]["out_file"] == f"{current}/logs/worker.log"
    assert apps["orders-worker"]["cwd"] == current
    assert apps["cron"]["cwd"] == "/opt/tools" and apps["cron"]["script"] == "/opt/tools/cron.js"
    # After a switch the same wrapper yields the same link paths: pm2's stored paths stay true.
    release(root, "r2")
    switch(root, "r2")
    assert {a["name"]: a["cwd"] for a in load(wrapper)}["orders"] == current


def test_only_narrows_the_apps(tmp_path: Path) -> None:
    root = tmp_path / "app"
    release(root, "r1")
    switch(root, "r1")
    wrapper = root / WRAPPER_NAME
    wrapper.write_text(wrapper_source(str(root / "current"), "ecosystem.config.js", ["orders"]))
    assert [a["name"] for a in load(wrapper)] == ["orders"]


def test_app_names_of_a_release(tmp_path: Path) -> None:
    path = release(tmp_path, "r1")
    out = subprocess.run(names_argv("node", str(path / "ecosystem.config.js")),
                         capture_output=True, text=True, check=True)
    assert parse_names(out.stdout) == ["orders", "orders-worker", "cron"]
    with pytest.raises(ValueError):
        parse_names("{}")
