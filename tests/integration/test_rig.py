"""The rig itself: what rig/up promises (see issue 2, "Real test rig" and "Contract")."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.rigenv import RigEnv, load_rig_env, run_rig_script, wait_until


def ssh(rig: RigEnv, *argv: str, timeout: float = 30) -> str:
    proc = subprocess.run(
        rig.ssh_command(*argv), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{argv} over ssh exited {proc.returncode}: {proc.stderr.strip()}"
    return proc.stdout


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def parse_jlist(text: str) -> list[dict[str, Any]]:
    # pm2 prints a banner and spawn messages before the JSON when it had to start a daemon.
    for line in reversed(text.splitlines()):
        if line.startswith("["):
            data = json.loads(line)
            assert isinstance(data, list), f"pm2 jlist gave {type(data).__name__}, not a list"
            return data
    raise AssertionError(f"no JSON list in pm2 jlist output: {text[:200]!r}")


def demo_processes(rig: RigEnv) -> list[dict[str, Any]]:
    return [p for p in parse_jlist(ssh(rig, "pm2", "jlist")) if p.get("name") == rig.app_name]


def pid_from(path: str | Path) -> int:
    return int(Path(path).read_text().split()[0])


def rig_pids(rig: RigEnv) -> dict[str, object]:
    return {
        "sshd": pid_from(rig.get("SHIPDECK_RIG_SSHD_PIDFILE")),
        "pm2": pid_from(rig.get("SHIPDECK_RIG_PM2_PIDFILE")),
        "nginx": pid_from(rig.get("SHIPDECK_RIG_NGINX_PIDFILE")),
        "postgres": pid_from(Path(rig.get("SHIPDECK_RIG_PG_DATA")) / "postmaster.pid"),
        "app": sorted(p["pid"] for p in demo_processes(rig)),
    }


def test_ssh_login_as_deploy_gets_the_rig_environment(rig: RigEnv) -> None:
    out = ssh(rig, "sh", "-c", 'id -un; echo "$PM2_HOME"; command -v pm2; command -v node')
    user, pm2_home, pm2, node = out.splitlines()
    assert user == "deploy" == rig.user
    assert pm2_home == str(rig.pm2_home)
    assert pm2 == str(rig.pm2)
    assert node


def test_pm2_runs_the_demo_app_twice_in_cluster_mode(rig: RigEnv) -> None:
    procs = demo_processes(rig)
    assert len(procs) == 2, f"expected 2 demo processes, got {len(procs)}"
    for proc in procs:
        env = proc["pm2_env"]
        assert env["status"] == "online"
        assert env["exec_mode"] == "cluster_mode"
        # The daemon's environment reaches the processes; without this reloads drop requests.
        assert env.get("NODE_CLUSTER_SCHED_POLICY") == "none"


def test_app_serves_the_version_of_the_live_release(rig: RigEnv) -> None:
    status, body = http_get(f"{rig.app_url}/api/status")
    assert status == 200
    data = json.loads(body)
    assert data["status"] == "ok"
    live = json.loads(ssh(rig, "cat", f"{rig.app_root}/current/package.json"))
    assert data["version"] == live["version"]


def test_fresh_app_is_v1_0_0_alone_and_marked_good(fresh_app: RigEnv) -> None:
    rig = fresh_app
    status, body = http_get(f"{rig.app_url}/api/status")
    assert (status, json.loads(body)["version"]) == (200, "1.0.0")
    releases = ssh(rig, "ls", "-A", f"{rig.app_root}/releases").split()
    assert len(releases) == 1
    assert ssh(rig, "readlink", f"{rig.app_root}/current").strip() == f"releases/{releases[0]}"
    assert sorted(ssh(rig, "ls", "-A", str(rig.app_root)).split()) == ["current", "releases"]
    ssh(rig, "test", "-f", f"{rig.app_root}/releases/{releases[0]}/.shipdeck-good")
    ssh(rig, "test", "-f", f"{rig.app_root}/releases/{releases[0]}/dist/build-info.json")
    assert len(demo_processes(rig)) == 2


def test_health_and_boom(rig: RigEnv) -> None:
    assert http_get(f"{rig.app_url}/health") == (200, '{"status":"ok"}')
    status, _ = http_get(f"{rig.app_url}/boom")
    assert status == 500
    err_logs = [p["pm2_env"]["pm_err_log_path"] for p in demo_processes(rig)]

    def error_logged() -> bool:
        text = ssh(rig, "tail", "-q", "-n", "20", *err_logs)
        return " ERROR boom:" in text

    wait_until(error_logged, 10, interval=0.2, what="the ERROR line of /boom in pm2's error log")


def test_nginx_proxies_to_the_app(rig: RigEnv) -> None:
    assert http_get(f"{rig.nginx_url}/health") == (200, '{"status":"ok"}')
    status, body = http_get(f"{rig.nginx_url}/api/status")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_postgres_has_the_demo_items(rig: RigEnv) -> None:
    psql = Path(rig.get("SHIPDECK_RIG_PG_BIN")) / "psql"
    query = "SELECT id, name FROM items ORDER BY id"
    proc = subprocess.run(
        [str(psql), "-X", "-h", "127.0.0.1", "-p", str(rig.pg_port), "-U", rig.user,
         "-d", rig.get("SHIPDECK_RIG_PG_DB"), "-At", "-c", query],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("|") for line in proc.stdout.splitlines()]
    assert rows, "items is empty"
    assert all(len(row) == 2 and row[0].isdigit() and row[1] for row in rows)


def test_origin_has_two_tags_differing_in_version_only(rig: RigEnv) -> None:
    git = ("git", "-C", str(rig.origin))
    assert {"v1.0.0", "v1.1.0"} <= set(ssh(rig, *git, "tag", "--list").split())
    versions = {
        tag: json.loads(ssh(rig, *git, "show", f"{tag}:package.json"))["version"]
        for tag in ("v1.0.0", "v1.1.0")
    }
    assert versions == {"v1.0.0": "1.0.0", "v1.1.0": "1.1.0"}
    assert ssh(rig, *git, "diff", "--name-only", "v1.0.0", "v1.1.0").split() == ["package.json"]
    main, tagged = ssh(rig, *git, "rev-parse", "main", "v1.1.0^{commit}").split()
    assert main == tagged


def test_origin_carries_the_demo_app_as_it_is_now(rig: RigEnv) -> None:
    """v1.0.0, v1.1.0 and main are examples/demo-app as checked out (rig/up moves them when the
    demo app changes), e.g. with its migrations and their npm scripts."""
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo-app"
    files = subprocess.run(
        ["git", "-C", str(demo), "ls-files", "--cached", "--others", "--exclude-standard", "."],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()  # fmt: skip
    assert "scripts/migrate.js" in files and "migrations/002_notes_pinned.down.sql" in files
    git = ("git", "-C", str(rig.origin))
    for ref in ("v1.0.0", "main"):
        listed = set(ssh(rig, *git, "ls-tree", "-r", "--name-only", ref).split())
        assert listed == set(files), ref
        for name in files:
            if name != "package.json":
                assert ssh(rig, *git, "show", f"{ref}:{name}") == (demo / name).read_text(), name
        scripts = json.loads(ssh(rig, *git, "show", f"{ref}:package.json"))["scripts"]
        assert scripts == json.loads((demo / "package.json").read_text())["scripts"]


def test_generated_config_points_at_the_rig(rig: RigEnv) -> None:
    from tui.core.config import load_config

    cfg = load_config(rig.config)
    assert cfg.app.name == "demo"
    assert cfg.app.layout == "releases"
    assert cfg.app.root == str(rig.app_root)
    assert cfg.app.repo == str(rig.origin)
    host = cfg.primary_host
    assert (host.address, host.port, host.user) == ("127.0.0.1", rig.ssh_port, "deploy")
    assert cfg.database.enabled
    assert cfg.database.port == rig.pg_port


def test_second_rig_up_changes_nothing(rig: RigEnv) -> None:
    before = rig_pids(rig)
    run_rig_script("up")
    assert rig_pids(rig) == before
    assert load_rig_env() == rig
