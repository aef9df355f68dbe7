"""The built-in feature-flags item: a file (JSON or KEY=VALUE) or an HTTP answer compared with
[checklist.feature_flags]. Local host here; the rig's sshd in tests/integration."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.local_app import in_place_config
from tui.core.checklist import ItemState
from tui.core.checklist_checks import flag_value, parse_flags
from tui.core.checklist_runner import ChecklistRunner
from tui.core.config import Config, check_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.redact import Redactor


async def run_flags(config: Config, journal: Journal):
    pool = HostPool(config, journal)
    try:
        return (await ChecklistRunner(config, journal, pool).run(["feature_flags"]))[
            "feature_flags"
        ]
    finally:
        await pool.close()


FLAGS = """
[checklist]
feature_flags_source = "config/flags.json"

[checklist.feature_flags]
new_checkout = true
"checkout.max_items" = 50
payments.provider = "stripe"
"legacy.search" = "off"
"""


def test_parse_flags_json_and_dotenv() -> None:
    doc = parse_flags('  {"a": {"b": [1, {"c": false}]}, "x.y": "lit"}')
    assert flag_value(doc, "a.b.1.c") is False
    assert flag_value(doc, "x.y") == "lit"  # a key with a dot wins over the path
    env = parse_flags(
        "# flags\nexport NEW_CHECKOUT=true\nPROVIDER = 'stripe'\nMAX=50 # items\nEMPTY=\nnoise\n"
    )
    assert env == {"NEW_CHECKOUT": "true", "PROVIDER": "stripe", "MAX": "50", "EMPTY": ""}
    with pytest.raises(ValueError):
        parse_flags("{not json")


def test_flag_values_load_as_text(tmp_path: Path) -> None:
    cfg = in_place_config(tmp_path, FLAGS)
    assert dict(cfg.checklist.feature_flags) == {
        "new_checkout": "true",
        "checkout.max_items": "50",
        "payments.provider": "stripe",  # a dotted key: a nested table, flattened
        "legacy.search": "off",
    }


async def test_json_file_all_match_then_mismatches_listed(tmp_path: Path, journal: Journal) -> None:
    (tmp_path / "config").mkdir()
    flags = tmp_path / "config" / "flags.json"
    doc = {"new_checkout": True, "checkout": {"max_items": 50}, "payments": {"provider": "stripe"},
           "legacy.search": "off", "unrelated": "not read into the result"}  # fmt: skip
    flags.write_text(json.dumps(doc))
    cfg = in_place_config(tmp_path, FLAGS)
    result = await run_flags(cfg, journal)
    assert (result.state, result.summary) == (ItemState.PASS, "4 flag(s) as expected")
    assert f"read from: local:{flags}" in result.detail
    assert "unrelated" not in result.detail

    doc.update(new_checkout=False, payments={"provider": "adyen"})
    del doc["legacy.search"]
    flags.write_text(json.dumps(doc))
    result = await run_flags(cfg, journal)
    assert result.state == ItemState.FAIL
    assert result.summary == (
        "new_checkout: expected true, got false; payments.provider: expected stripe, got adyen; "
        "legacy.search: missing"
    )
    assert "checkout.max_items = 50: ok" in result.detail
    # Journaled like every check: a restarted console shows the same.
    again = ChecklistRunner(cfg, journal)
    assert again.results["feature_flags"].summary == result.summary


async def test_dotenv_file_absolute_path(tmp_path: Path, journal: Journal) -> None:
    env = tmp_path / "flags.env"
    env.write_text("NEW_CHECKOUT=true\nexport PROVIDER=stripe\n")
    cfg = in_place_config(
        tmp_path,
        f"""
[checklist]
feature_flags_source = "{env}"

[checklist.feature_flags]
NEW_CHECKOUT = "true"
PROVIDER = "braintree"
""",
    )
    result = await run_flags(cfg, journal)
    assert (result.state, result.summary) == (
        ItemState.FAIL,
        "PROVIDER: expected braintree, got stripe",
    )


async def test_unreadable_and_broken_sources_are_one_line(tmp_path: Path, journal: Journal) -> None:
    cfg = in_place_config(tmp_path, FLAGS)
    result = await run_flags(cfg, journal)
    assert result.state == ItemState.FAIL
    where = f"local:{tmp_path}/config/flags.json"
    assert result.summary.startswith(f"cannot read {where}: ")
    assert "No such file" in result.summary
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "flags.json").write_text('{"new_checkout": tru')
    result = await run_flags(cfg, journal)
    assert result.state == ItemState.FAIL
    assert result.summary.startswith(f"{where}: not valid JSON (")
    assert "\n" not in result.summary


async def test_flag_values_go_through_the_redactor(tmp_path: Path) -> None:
    (tmp_path / "flags.json").write_text('{"stripe": {"api_key": "sk_live_SECRET1"}}')
    cfg = in_place_config(
        tmp_path,
        """
[checklist]
feature_flags_source = "flags.json"

[checklist.feature_flags]
"stripe.api_key" = "sk_test_SECRET2"
""",
    )
    journal = Journal(tmp_path / "j.sqlite3", redactor=Redactor.from_config(cfg))
    result = await run_flags(cfg, journal)
    assert result.state == ItemState.FAIL
    shown = result.summary + result.detail
    journaled = " ".join(e.message + e.output_tail + str(e.data) for e in journal.events())
    for secret in ("SECRET1", "SECRET2"):
        assert secret not in shown and secret not in journaled
    # Not "stripe.api_key: expected ***, got ***": the journal masks whatever follows a
    # secret's name and a colon, which read "stripe.api_key: *** ***, got ***" there.
    assert result.summary == "stripe.api_key differs from the expected value (values masked)"
    assert result.summary in journaled
    assert "stripe.api_key MISMATCH" in result.detail
    (tmp_path / "flags.json").write_text('{"stripe": {}}')
    missing = await run_flags(cfg, journal)
    assert missing.summary == "stripe.api_key is missing"
    assert missing.summary in " ".join(e.message for e in journal.events())
    journal.close()


async def test_not_configured_is_skipped_with_the_reason(tmp_path: Path, journal: Journal) -> None:
    result = await run_flags(in_place_config(tmp_path, ""), journal)
    assert (result.state, result.summary) == (
        ItemState.SKIPPED,
        "no [checklist.feature_flags] configured",
    )


@pytest.fixture
def flags_server() -> Iterator[tuple[dict[str, object], str]]:
    state: dict[str, object] = {"status": 200, "body": b"{}"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state["body"]
            assert isinstance(body, bytes)
            self.send_response(int(state["status"]))  # type: ignore[arg-type]
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/api/flags"
    server.shutdown()
    server.server_close()


async def test_http_endpoint(tmp_path: Path, journal: Journal, flags_server) -> None:
    state, url = flags_server
    cfg = in_place_config(
        tmp_path,
        f"""
[health]
timeout_s = 2.0
retries = 0

[checklist]
feature_flags_source = "{url}"

[checklist.feature_flags]
"flags.beta" = "on"
""",
    )
    state["body"] = b'{"flags": {"beta": "on"}}'
    result = await run_flags(cfg, journal)
    assert (result.state, result.summary) == (ItemState.PASS, "1 flag(s) as expected")
    assert f"read from: {url}" in result.detail
    state["body"] = b'{"flags": {"beta": "off"}}'
    result = await run_flags(cfg, journal)
    assert result.summary == "flags.beta: expected on, got off"
    state["status"] = 503
    result = await run_flags(cfg, journal)
    assert (result.state, result.summary) == (ItemState.FAIL, f"HTTP 503 from {url}")


def test_config_problems_are_one_line_each(tmp_path: Path) -> None:
    base = '[app]\nname = "shop"\nroot = "/srv/shop"\n\n[[hosts]]\nname = "web1"\naddress = "h"\n'
    cases = {
        "\n[checklist.feature_flags]\nbeta = true\n": (
            "checklist.feature_flags_source",
            "required when [checklist.feature_flags] lists flags",
        ),
        '\n[checklist]\nfeature_flags_source = "flags.json"\n': (
            "checklist.feature_flags_source",
            "set, but no flags to compare",
        ),
        '\n[checklist]\nfeature_flags_source = "ftp://x"\n[checklist.feature_flags]\na = 1\n': (
            "checklist.feature_flags_source",
            'not an http(s) URL: "ftp://x"',
        ),
        '\n[checklist]\nfeature_flags_source = "f.json"\n[checklist.feature_flags]\nbeta = [1]\n': (
            "checklist.feature_flags.beta",
            "expected a string, true/false or a finite number, got an array",
        ),
        "\n[checklist]\nfeature_flags = 3\n": (
            "checklist.feature_flags",
            "expected a table, got an integer 3",
        ),
    }
    for extra, (key, message) in cases.items():
        path = tmp_path / "c.toml"
        path.write_text(base + extra)
        _, problems = check_config(path)
        assert [(p.key, p.message) for p in problems] == [(key, message)], extra
