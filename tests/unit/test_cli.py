"""The command line as scripts see it: exit codes and one-line errors, never a traceback."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui import __version__

ROOT = Path(__file__).resolve().parents[2]

#: The subcommands README's command table promises: scripts and muscle memory depend on them.
CONTRACT = ("tui", "demo", "config", "deploy", "rollback", "verify", "check", "status",
            "history", "unlock")  # fmt: skip

GOOD = """
[app]
name = "api"
root = "/srv/api"

[[hosts]]
name = "web1"
address = "10.0.0.1"

[[hosts]]
name = "web2"
address = "10.0.0.2"
"""


def shipdeck(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment without SHIPDECK_* and with a home and XDG dirs of the test's own, so
    no config of the user's (or of CI's) is found."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPDECK_")}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
               XDG_STATE_HOME=str(tmp_path / "xdg-state"), COLUMNS="200", **extra)  # fmt: skip
    return env


def test_version_and_help() -> None:
    assert shipdeck("--version").stdout.strip() == f"shipdeck {__version__}"
    out = shipdeck("--help").stdout
    for command in ("tui", "demo", "config"):
        assert command in out


def test_config_check_ok(tmp_path: Path) -> None:
    path = tmp_path / "shipdeck.toml"
    path.write_text(GOOD)
    result = shipdeck("config", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: 2 hosts, app api"


def test_config_check_uses_the_discovered_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text(GOOD)
    result = shipdeck("config", "check", "--config", str(path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[app\nname='x'", ":1: "),
        (GOOD.replace('address = "10.0.0.1"', 'address = "10.0.0.1"\nport = 70000'), ".port:"),
        (GOOD + "\n[surprise]\nx = 1\n", "surprise"),
    ],
)
def test_config_check_problems_exit_2_one_line_each(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = shipdeck("config", "check", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith(f"{path}:") for line in lines)
    assert fragment in result.stderr


def test_console_with_a_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    result = shipdeck("--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nope.toml" in result.stderr


def test_unwritable_journal_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "shipdeck.toml"
    path.write_text(GOOD)
    blocker = tmp_path / "afile"
    blocker.write_text("")
    result = shipdeck("--config", str(path), "--journal", str(blocker / "j.sqlite3"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def readme_commands() -> set[str]:
    """The subcommands in README's command-line table (`shipdeck [options] NAME ...`)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## The command line", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        for usage in re.findall(r"`shipdeck((?: [^`]*)?)`", row.split(" | ")[0]):
            found = re.match(r"(?: \[[^\]]*\])* \[?([a-z]+)\]?", usage)
            if found:
                names.add(found.group(1))
    return names


def test_readme_table_lists_the_contract_subcommands() -> None:
    assert readme_commands() == set(CONTRACT)


def test_help_lists_every_subcommand_and_each_has_help(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    helped = shipdeck("--help", env=env)
    assert helped.returncode == 0, helped.stderr
    # argparse lists each subcommand indented by four under "positional arguments".
    listed = set(re.findall(r"(?m)^    ([a-z]+)(?:\s|$)", helped.stdout))
    missing = (set(CONTRACT) | readme_commands()) - listed
    assert not missing, f"--help does not list {sorted(missing)}:\n{helped.stdout}"
    for sub in CONTRACT:
        result = shipdeck(sub, "--help", env=env)
        assert result.returncode == 0, (sub, result.stderr)
        assert result.stdout.startswith(f"usage: shipdeck {sub}"), (sub, result.stdout)
        assert result.stderr == "", (sub, result.stderr)


def test_demo_refuses_a_watch_that_is_no_number_of_minutes(tmp_path: Path) -> None:
    # Refused by the parser: nothing of the demo is started or written.
    for bad in ("soon", "-1"):
        result = shipdeck("demo", "--watch-minutes", bad, env=isolated_env(tmp_path))
        assert result.returncode == 2, result.stderr
        assert "--watch-minutes" in result.stderr.splitlines()[-1]
    assert not (tmp_path / "xdg-state").exists()


def test_a_lost_terminal_stops_the_demo_then_the_console_which_has_a_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SIGHUP while the demo's console runs: the demo's pm2 stops at once, the console is asked
    # to exit (not a SystemExit raised into whatever runs: a worker may keep it), and should
    # the console hang in its shutdown with no terminal, the process ends itself.
    import asyncio
    import signal

    from tui import cli

    calls: list[tuple[object, ...]] = []

    class Console:
        def exit(self, result: object = None, return_code: int = 0) -> None:
            calls.append(("exit", return_code))

    monkeypatch.setattr(cli, "HANGUP_GRACE_S", 0.05)
    monkeypatch.setattr(cli.os, "_exit", lambda code: calls.append(("_exit", code)))
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        async def console_running() -> None:
            cli._exit_on_hangup([Console()], lambda: calls.append(("stop demo",)))
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(0.3)

        asyncio.run(console_running())
        assert calls == [("stop demo",), ("exit", 129), ("_exit", 129)]
        # Before the console runs (the demo starting): SystemExit, so `finally` stops it.
        calls.clear()
        cli._exit_on_hangup([], lambda: calls.append(("stop demo",)))
        with pytest.raises(SystemExit) as exited:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
        assert exited.value.code == 143 and calls == []
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


ONE_HOST = GOOD.split("[[hosts]]")[0].replace('"api"', '"solo"') + (
    '[[hosts]]\nname = "only"\naddress = "10.0.0.9"\n'
)


def test_config_check_without_a_file_uses_shipdeck_config_then_the_cwd(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "shipdeck.toml").write_text(GOOD)
    found = shipdeck("config", "check", env=isolated_env(tmp_path), cwd=cwd)
    assert (found.returncode, found.stdout, found.stderr) == (0, "ok: 2 hosts, app api\n", "")

    chosen = tmp_path / "chosen.toml"
    chosen.write_text(ONE_HOST)
    env = isolated_env(tmp_path, SHIPDECK_CONFIG=str(chosen))
    first = shipdeck("config", "check", env=env, cwd=cwd)  # $SHIPDECK_CONFIG before ./
    assert (first.returncode, first.stdout, first.stderr) == (0, "ok: 1 host, app solo\n", "")

    chosen.write_text(ONE_HOST + "\n[surprise]\nx = 1\n")  # unknown tables are refused
    bad = shipdeck("config", "check", env=env, cwd=cwd)
    assert bad.returncode == 2 and bad.stdout == ""
    assert [line.split(":", 1)[0] for line in bad.stderr.splitlines()] == [str(chosen)]


def test_verify_an_unknown_host_is_exit_2_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "shipdeck.toml"
    path.write_text(GOOD)
    common = ["--config", str(path), "--journal", str(tmp_path / "j.sqlite3")]
    result = shipdeck("verify", "--host", "web3", *common, env=isolated_env(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "shipdeck: unknown host 'web3' (hosts in the config: web1, web2)"
    ]


def test_a_failing_status_says_why_in_one_line_on_stderr(tmp_path: Path) -> None:
    """An SSH host nobody answers on: exit 1 and the reason, once, on stderr (it used to be
    the header line and exit 1, the why only in the report on stdout)."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    path = tmp_path / "shipdeck.toml"
    path.write_text(
        '[app]\nname = "demo"\nroot = "/srv/demo"\n\n'
        '[[hosts]]\nname = "app1"\naddress = "127.0.0.1"\nport = 1\nuser = "deploy"\n'
        f'known_hosts = "{known}"\n'
    )
    why = "shipdeck: status failed: app1: cannot reach deploy@127.0.0.1:1: connection refused"
    common = ["--config", str(path), "--journal", str(tmp_path / "j.sqlite3")]
    text = shipdeck("status", *common, env=isolated_env(tmp_path))
    assert text.returncode == 1
    assert text.stderr.splitlines() == [why]
    assert text.stdout.splitlines() == ["app demo on app1 (releases layout)"]
    as_json = shipdeck("status", "--json", *common, env=isolated_env(tmp_path))
    assert as_json.returncode == 1
    assert as_json.stderr.splitlines() == [why]
    report = json.loads(as_json.stdout)
    assert report["error"] == why.removeprefix("shipdeck: status failed: ")
