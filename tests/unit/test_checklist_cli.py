"""`shipdeck check`: one line per item, the gate, exit 0 open / 1 closed / 2 config error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.local_app import LOCAL_APP_TOML
from tui.cli import main

AUTOMATED = ["tests", "lint", "typescript", "console_log", "build", "bundle_size",
             "build_warnings", "env_vars", "secrets", "migrations", "monitoring"]  # fmt: skip


def write_config(tmp_path: Path, optional: list[str]) -> Path:
    path = tmp_path / "shipdeck.toml"
    path.write_text(f"""{LOCAL_APP_TOML}
[checklist]
optional = {json.dumps(optional)}

[policy]
no_deploy_days = []
no_deploy_after = ""
""")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    src = tmp_path / "proj" / "src"
    src.mkdir(parents=True)
    (src / "a.js").write_text("const x = 1;\nconsole.log(x);\n")
    (src / "b.js").write_text("// fine\n")
    (tmp_path / "proj" / "package.json").write_text('{"name": "p", "scripts": {}}')
    return tmp_path / "proj"


def run(tmp_path: Path, *args: str) -> int:
    return main([*args, "--journal", str(tmp_path / "journal.sqlite3")])


def test_closed_gate_prints_lines_and_exits_1(tmp_path, project, capsys) -> None:
    cfg = write_config(tmp_path, optional=[])
    code = run(tmp_path, "check", "--config", str(cfg), "--workdir", str(project))
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert "[Code Quality] No console.log statements: FAIL (src/a.js:2)" in out
    assert "[Code Quality] Code reviewed and approved: pending" in out
    assert any(line.startswith("[Code Quality] All tests passing (unit, integration, e2e): FAIL "
                               "(package.json has no 'test' script") for line in out)  # fmt: skip
    assert out[-1].startswith("Gate: CLOSED (DEPLOY refused:")


def test_open_gate_after_sign_offs_exits_0_and_json(tmp_path, project, capsys) -> None:
    cfg = write_config(tmp_path, optional=AUTOMATED)
    signs = [a for i in ("review", "stakeholders", "support", "rollback_plan", "team_notified")
             for a in ("--sign", i)]  # fmt: skip
    code = run(tmp_path, "check", "--config", str(cfg), "--workdir", str(project), "--json",
               *signs, "--note", "checked with the team")  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert code == 0, doc["blocking"]
    assert doc["open"] is True and doc["deployment_id"] is None
    review = next(i for i in doc["items"] if i["id"] == "review")
    assert review["state"] == "signed" and review["who"]
    # No [checklist.feature_flags]: nothing to compare, skipped with the reason (not a sign-off).
    flags = next(i for i in doc["items"] if i["id"] == "feature_flags")
    assert (flags["state"], flags["summary"]) == (
        "skipped",
        "no [checklist.feature_flags] configured",
    )
    assert any(
        w.startswith("[Code Quality] No console.log statements: FAIL") for w in doc["warnings"]
    )
    # The state is in the journal: a second run without --sign and without running agrees.
    assert run(tmp_path, "check", "--config", str(cfg), "--no-run") == 0


def test_config_error_and_unknown_item_exit_2(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[app]\nname = 'x'\n")
    assert run(tmp_path, "check", "--config", str(bad)) == 2
    cfg = write_config(tmp_path, optional=[])
    assert run(tmp_path, "check", "--config", str(cfg), "--no-run", "--sign", "nope") == 2
    assert run(tmp_path, "check", "--config", str(cfg), "--no-run", "--sign", "lint") == 2
    err = capsys.readouterr().err
    assert "--sign lint: lint is checked automatically" in err
