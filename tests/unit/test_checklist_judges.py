"""Custom items judged by a regex over the output or a number against a budget, on every host."""

from __future__ import annotations

from pathlib import Path

from tui.core.checklist import ItemState
from tui.core.checklist_runner import ChecklistRunner
from tui.core.config import Config, check_config, load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal


def site_config(tmp_path: Path, items: str, hosts: tuple[str, ...] = ("local",)) -> Config:
    """An in-place app whose root is tmp_path (custom commands run there) on local hosts."""
    path = tmp_path / "site.toml"
    blocks = "".join(f'\n[[hosts]]\nname = "{h}"\ntransport = "local"\n' for h in hosts)
    path.write_text(
        f'[app]\nname = "shop"\nroot = "{tmp_path}"\nlayout = "in-place"\n' + blocks + items
    )
    return load_config(path)


def item(judge: str, command: str, **keys: object) -> str:
    extra = "".join(
        f"{k} = {v!r}\n".replace("'", '"') if isinstance(v, str) else f"{k} = {v}\n"
        for k, v in keys.items()
    )
    return (
        f'\n[[checklist.items]]\nid = "it"\nlabel = "It"\njudge = "{judge}"\n'
        f"command = ['sh', '-c', '{command}']\n" + extra
    )


async def run_item(tmp_path: Path, journal: Journal, items: str, hosts=("local",)):
    cfg = site_config(tmp_path, items, hosts)
    pool = HostPool(cfg, journal)
    try:
        return (await ChecklistRunner(cfg, journal, pool).run(["it"]))["it"]
    finally:
        await pool.close()


async def test_regex_pattern_must_match_the_output(tmp_path: Path, journal: Journal) -> None:
    ok = await run_item(tmp_path, journal, item(
        "regex", "echo audited 120 packages; echo found 0 vulnerabilities; exit 1",
        pattern="^found 0 vulnerabilities$",
    ))  # fmt: skip
    # The output decides, not the exit status.
    assert (ok.state, ok.summary) == (ItemState.PASS, "local: matched: found 0 vulnerabilities")
    bad = await run_item(tmp_path, journal, item(
        "regex", "echo found 3 vulnerabilities", pattern="found 0 vulnerabilities"
    ))  # fmt: skip
    assert bad.state == ItemState.FAIL
    assert bad.summary == 'local: no match for pattern "found 0 vulnerabilities"'
    assert "found 3 vulnerabilities" in bad.detail


async def test_regex_fail_pattern_fails_the_item(tmp_path: Path, journal: Journal) -> None:
    items = item("regex", "echo checking; echo >&2 \"CRITICAL: lodash 4.17.20\"",
                 fail_pattern="(?i)critical", pattern="checking")  # fmt: skip
    res = await run_item(tmp_path, journal, items)
    assert (res.state, res.summary) == (
        ItemState.FAIL,
        "local: fail_pattern matched: CRITICAL: lodash 4.17.20",
    )
    ok = await run_item(tmp_path, journal, item("regex", "echo all clear", fail_pattern="CRITICAL"))
    assert (ok.state, ok.summary) == (ItemState.PASS, "local: fail_pattern not matched")
    # A command that cannot run is a failure even when only fail_pattern is set.
    missing = await run_item(
        tmp_path, journal, item("regex", "no-such-tool-xyz", fail_pattern="CRITICAL")
    )
    assert missing.state == ItemState.FAIL and missing.summary.startswith("local: exit 127")


async def test_budget_takes_the_last_number_and_compares(tmp_path: Path, journal: Journal) -> None:
    cmd = "echo chunk a: 3 warnings; echo total: 1,250 warnings"
    over = await run_item(
        tmp_path, journal, item("budget", cmd, pattern=r"([\d,]+) warnings", budget=1000)
    )
    assert (over.state, over.summary) == (ItemState.FAIL, "local: 1250 > 1000 budget")
    assert over.data["values"] == {"local": 1250.0} and over.data["budget"] == 1000.0
    within = await run_item(
        tmp_path, journal, item("budget", cmd, pattern=r"([\d,]+) warnings", budget=1250)
    )
    assert (within.state, within.summary) == (ItemState.PASS, "local: 1250 of 1250 budget")
    none = await run_item(
        tmp_path, journal, item("budget", "echo done", pattern=r"(\d+) warnings", budget=5)
    )
    assert none.state == ItemState.FAIL
    assert none.summary == r'local: no number: no match for pattern "(\d+) warnings"'
    word = await run_item(
        tmp_path, journal, item("budget", "echo size: big", pattern=r"size: (\w+)", budget=5.5)
    )
    assert word.state == ItemState.FAIL
    assert word.summary == r'local: "big" (pattern "size: (\w+)") is not a number'


async def test_budget_judged_on_every_host(tmp_path: Path, journal: Journal) -> None:
    # Two hosts (both local, so both read the same file): each is judged, each is named.
    (tmp_path / "n").write_text("7\n")
    items = item("budget", "echo queue: $(cat n)", pattern=r"queue: (\d+)", budget=5)
    res = await run_item(tmp_path, journal, items, hosts=("web1", "web2"))
    assert res.state == ItemState.FAIL
    assert res.summary == "web1: 7 > 5 budget; web2: 7 > 5 budget"
    (tmp_path / "n").write_text("4\n")
    res = await run_item(tmp_path, journal, items, hosts=("web1", "web2"))
    assert (res.state, res.summary) == (
        ItemState.PASS,
        "web1: 4 of 5 budget; web2: 4 of 5 budget",
    )


def test_judges_load_from_config(tmp_path: Path) -> None:
    cfg = site_config(tmp_path, item("budget", "true", pattern=r"(\d+)", budget=10))
    [custom] = cfg.checklist.items
    assert (custom.judge, custom.pattern, custom.budget) == ("budget", r"(\d+)", 10.0)
    # A pattern that is not a regex: one line, at config load.
    path = tmp_path / "bad.toml"
    path.write_text(cfg.source.read_text().replace(r"(\\d+)", r"(\\d+"))
    _, problems = check_config(path)
    assert [p.key for p in problems] == ["checklist.items[1].pattern"]
    assert "invalid regular expression" in problems[0].message
